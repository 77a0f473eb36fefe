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
        let mut s = Screen::new(h.tty(&["apply", "--env", "test", "--yes"]));
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
        // Type only after each prompt, as a person would: typing ahead of the password prompt
        // would echo the secret before echo is off.
        s.wait_for("When done: path of the downloaded client JSON");
        if paste {
            s.type_text(&format!("{id}\n"));
            s.wait_for("Client secret: ");
            s.type_text(&format!("{secret}\n"));
        } else {
            s.type_text(&format!("{}\n", file.display()));
        }
        let (code, screen) = s.finish_with_code();
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

/// What a terminal shows, read as it comes, so a test types only after each prompt.
struct Screen {
    child: std::process::Child,
    text: std::sync::Arc<std::sync::Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Screen {
    fn new(mut child: std::process::Child) -> Screen {
        let text = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let mut out = child.stdout.take().unwrap();
        let reader = {
            let text = text.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = std::io::Read::read(&mut out, &mut buf) {
                    if n == 0 {
                        break;
                    }
                    text.lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            })
        };
        Screen {
            child,
            text,
            reader: Some(reader),
        }
    }

    fn wait_for(&self, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.text.lock().unwrap().contains(what) {
            assert!(
                Instant::now() < deadline,
                "never saw {what:?}: {}",
                self.text.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn type_text(&mut self, text: &str) {
        let stdin = self.child.stdin.as_mut().unwrap();
        stdin.write_all(text.as_bytes()).unwrap();
        stdin.flush().unwrap();
    }

    /// Like [`Screen::finish`], with the exit code.
    fn finish_with_code(mut self) -> (i32, String) {
        let code = self.wait_exit();
        (code, self.screen())
    }

    /// Ends the session (the terminal stays open: Ctrl-C, not end of input, must end mailreg)
    /// and returns the whole screen. A process still alive after the deadline is a failure.
    fn finish(mut self) -> String {
        self.wait_exit();
        self.screen()
    }

    fn screen(&mut self) -> String {
        drop(self.child.stdin.take());
        self.reader.take().unwrap().join().unwrap();
        self.text.lock().unwrap().replace('\r', "")
    }

    fn wait_exit(&mut self) -> i32 {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code().unwrap_or(-1);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("still running: {}", self.text.lock().unwrap());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

const CTRL_C: &str = "\x03";

/// After mailreg: its exit code, and whether the terminal echoes again (`stty -a` shows
/// `-echo` when echo is off). The shell traps SIGINT so that it outlives Ctrl-C and reports.
fn then_report(args: &[&str]) -> String {
    format!(
        "trap 'true' INT; {}; echo \"[exit=$?]\"; stty -a | tr ' ' '\\n' | grep -x -- '-\\?echo'",
        mailreg_line(args)
    )
}

#[test]
fn ctrl_c_at_the_confirmation_prompt_exits_130() {
    let h = Harness::new(SPEC);
    let mut s = Screen::new(h.tty_shell(&then_report(&["apply", "--env", "test"])));
    s.wait_for("Only 'yes' will be accepted:");
    s.type_text(CTRL_C);
    let screen = s.finish();
    assert!(screen.contains("[exit=130]"), "{screen}");
    assert!(screen.contains("error: interrupted"), "{screen}");
    assert!(screen.ends_with("\necho\n"), "echo on again: {screen}");
    assert!(h.api_requests().iter().all(|r| !r.is_write()));
}

#[test]
fn ctrl_c_at_init_s_questions_exits_130_and_writes_nothing() {
    let h = Harness::new(SPEC);
    let mut s = Screen::new(h.tty_shell(&then_report(&["init", "-f", "new.toml"])));
    s.wait_for("Name of this spec");
    std::thread::sleep(Duration::from_millis(200));
    s.type_text(CTRL_C);
    let screen = s.finish();
    assert!(screen.contains("[exit=130]"), "{screen}");
    assert!(screen.ends_with("\necho\n"), "echo on again: {screen}");
    assert!(!h.dir.path().join("new.toml").exists());
}

/// The console step's prompts: `~` is expanded, a missing path is "no such file", a client ID
/// is checked before the secret is asked for (naming no flag), and Ctrl-C at the path prompt or
/// at the secret prompt (echo off) ends the run with 130 and echo back on.
#[test]
fn the_console_step_prompts_check_early_and_end_on_ctrl_c() {
    for at_secret in [false, true] {
        let h = Harness::new(GOOGLE_SPEC);
        let mut s = Screen::new(h.tty_shell(&then_report(&["apply", "--env", "test", "--yes"])));
        let prompt = "When done: path of the downloaded client JSON";
        s.wait_for(prompt);
        s.type_text("~/Downloads/client_secret_1.json\n");
        let home = h.dir.path().display().to_string();
        s.wait_for(&format!(
            "{home}/Downloads/client_secret_1.json: no such file"
        ));
        s.type_text("12345-abc.example.com\n");
        s.wait_for("\"12345-abc.example.com\" does not end with .apps.googleusercontent.com: give the downloaded JSON file's path, or the client ID");
        if at_secret {
            s.type_text("12345-abc.apps.googleusercontent.com\n");
            s.wait_for("Client secret: ");
        }
        // Let the prompt start reading before the key arrives.
        std::thread::sleep(Duration::from_millis(200));
        s.type_text(CTRL_C);
        let screen = s.finish();
        assert!(
            screen.contains("[exit=130]"),
            "at_secret={at_secret}: {screen}"
        );
        assert!(screen.ends_with("\necho\n"), "echo on again: {screen}");
        assert!(!screen.contains("--client-id"), "{screen}");
        assert_eq!(
            screen.matches("Client secret: ").count(),
            usize::from(at_secret),
            "the secret is asked for only after a client ID: {screen}"
        );
    }
}

#[test]
fn ctrl_c_at_the_verify_paste_prompt_ends_at_once() {
    let h = Harness::new(SPEC);
    std::fs::create_dir_all(h.state_dir()).unwrap();
    std::fs::write(
        h.store_file("test"),
        serde_json::json!({"version":1,"name":"agileapps-mail","env":"test","microsoft":{
        "tenant":"contoso.onmicrosoft.com","object_id":"o","client_id":"c","audience":"AzureADMyOrg",
        "authorize_url":"https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/authorize",
        "token_url":"https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token",
        "scopes":[],"redirect_uris":["https://agileapps.example.com/oauth/callback"],"secret":null}})
        .to_string(),
    )
    .unwrap();
    let mut s = Screen::new(h.tty_shell(&then_report(&[
        "verify",
        "--env",
        "test",
        "--user",
        "a@example.com",
        "--no-browser",
        "--imap-server",
        "imap.example.com:993",
    ])));
    s.wait_for("paste the full URL the browser was sent to");
    std::thread::sleep(Duration::from_millis(200));
    s.type_text(CTRL_C);
    let screen = s.finish();
    assert!(screen.contains("[exit=130]"), "{screen}");
    assert!(screen.contains("error: interrupted"), "{screen}");
}

/// Ctrl-C is how `mailreg emulator` is meant to stop: exit 0, no error.
#[test]
fn the_emulator_stops_cleanly_on_ctrl_c() {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_mailreg"))
        .args(["emulator", "--port", "0"])
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    std::io::BufRead::read_line(&mut out, &mut first).unwrap();
    assert!(
        first.starts_with("mailreg emulator listening on http://127.0.0.1:"),
        "{first}"
    );
    // SAFETY: signalling our own child by its pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let done = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert_eq!(done.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("interrupted"), "{stderr}");
}

/// A long Retry-After is announced on a terminal (what, how long) and not in a pipe.
#[test]
fn long_waits_are_announced_on_a_terminal_only() {
    let h = Harness::new(SPEC);
    let throttle = || {
        h.emu
            .inject(Fault::new(FaultKind::Throttle(Some(60))).on("GET", "/v1.0/applications"))
    };
    throttle();
    let (code, screen) = finish(h.tty(&["plan", "--env", "test"]), "");
    assert_eq!(code, 0, "{screen}");
    let screen = normalise(&screen, h.dir.path());
    assert!(
        screen.contains("waiting 1m: the server asked to retry later (HTTP 429) (GET 127.0.0.1:[PORT]/v1.0/applications)"),
        "{screen}"
    );
    throttle();
    let piped = h.run(&["plan", "--env", "test"]);
    assert_eq!(piped.code, 0, "{}", piped.stderr);
    assert!(!piped.stderr.contains("waiting"), "{}", piped.stderr);
}
