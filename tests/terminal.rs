//! What a person at a terminal sees and types: confirmation, init's questions, and the Google
//! console step's wait. Runs mailreg on a pseudo-terminal through util-linux `script`.

mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use common::*;

use common::finish_tty as finish;

#[test]
fn apply_asks_before_changing_anything() {
    let h = Harness::new(SPEC);
    let (code, screen) = finish(h.tty(&["apply", "--env", "test"]), "no\n");
    assert_eq!(code, 7, "{screen}");
    assert!(
        screen.contains("Do you want to perform these actions?\n  Only 'yes' will be accepted:"),
        "{screen}"
    );
    assert!(
        h.api_requests().iter().all(|r| !r.is_write()),
        "declined: nothing written"
    );
    let (code, screen) = finish(h.tty(&["apply", "--env", "test"]), "yes\n");
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("Apply complete: 2 added"), "{screen}");
}

#[test]
fn init_asks_its_questions_with_defaults() {
    let h = Harness::new(SPEC);
    let (code, screen) = finish(
        h.tty(&["init", "-f", "new.toml"]),
        "shop-mail\nboth\nmailbox@shop.example.com\ncontoso.onmicrosoft.com\nhttps://shop.example.com/cb\n\nops@example.com\n\n",
    );
    assert_eq!(code, 0, "{screen}");
    assert!(
        screen
            .contains("Google project ID ({env} is replaced per environment) [shop-mail-{env}]: "),
        "{screen}"
    );
    let text = std::fs::read_to_string(h.dir.path().join("new.toml")).unwrap();
    assert!(
        text.contains("project_id = \"shop-mail-{env}\"")
            && text.contains("support_email = \"ops@example.com\""),
        "{text}"
    );
    // The mailbox address is asked for, and is the default test user and the outputs' email.
    assert!(
        screen.contains("Mailbox address that will sign in (e.g. mailbox@example.com): "),
        "{screen}"
    );
    assert!(
        screen.contains("Google test users, comma-separated (only they can sign in while the app is in Testing) [mailbox@shop.example.com]: "),
        "{screen}"
    );
    assert!(
        text.contains("test_users = [\"mailbox@shop.example.com\"]")
            && text
                .matches("vars = { email = \"mailbox@shop.example.com\" }")
                .count()
                == 2,
        "{text}"
    );
}

/// On a terminal, apply shows the console steps and waits; the person gives the downloaded
/// file's path (or pastes the ID and secret) and apply finishes in the same run.
#[test]
fn the_google_console_step_waits_on_a_terminal() {
    for paste in [false, true] {
        let h = Harness::new(GOOGLE_SPEC);
        let mut child = h.tty(&["apply", "--env", "test", "--yes"]);
        // The person works in the console once the project is ready.
        let deadline = Instant::now() + Duration::from_secs(20);
        while h
            .emu
            .with_state(|s| s.google.enabled_services("agileapps-mail-test"))
            .is_empty()
        {
            assert!(Instant::now() < deadline, "the project never became ready");
            std::thread::sleep(Duration::from_millis(20));
        }
        let file = default_client(&h);
        let client: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let (id, secret) = (
            client["web"]["client_id"].as_str().unwrap().to_owned(),
            client["web"]["client_secret"].as_str().unwrap().to_owned(),
        );
        // Read the screen as it comes, to type only after each prompt (as a person would:
        // typing ahead of the password prompt would echo the secret before echo is off).
        let screen = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let mut out = child.stdout.take().unwrap();
        let reader = {
            let screen = screen.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = std::io::Read::read(&mut out, &mut buf) {
                    if n == 0 {
                        break;
                    }
                    screen
                        .lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            })
        };
        let wait_for = |text: &str| {
            let deadline = Instant::now() + Duration::from_secs(20);
            while !screen.lock().unwrap().contains(text) {
                assert!(
                    Instant::now() < deadline,
                    "never saw {text:?}: {}",
                    screen.lock().unwrap()
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        };
        wait_for("When done: path of the downloaded client JSON");
        let stdin = child.stdin.as_mut().unwrap();
        if paste {
            stdin.write_all(format!("{id}\n").as_bytes()).unwrap();
            wait_for("Client secret: ");
            stdin.write_all(format!("{secret}\n").as_bytes()).unwrap();
        } else {
            stdin
                .write_all(format!("{}\n", file.display()).as_bytes())
                .unwrap();
        }
        drop(child.stdin.take());
        let code = child.wait().unwrap().code().unwrap_or(-1);
        reader.join().unwrap();
        let screen = screen.lock().unwrap().replace('\r', "");
        assert_eq!(code, 0, "paste={paste}\n{screen}");
        assert!(
            screen.contains(
                "When done: path of the downloaded client JSON, or the client ID to paste"
            ),
            "{screen}"
        );
        assert!(
            screen.contains("Client stored.") && screen.contains("Apply complete: 3 added"),
            "{screen}"
        );
        if paste {
            assert!(screen.contains("Client secret: "), "{screen}");
            assert!(!screen.contains(&secret), "the pasted secret is not echoed");
        }
        assert_eq!(
            h.record("test")["google"]["client"]["client_secret"],
            serde_json::json!(secret)
        );
    }
}
