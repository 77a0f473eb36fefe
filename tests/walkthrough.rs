//! A new user's first minutes: the README's offline walkthrough, run exactly as written.
//!
//! The code block is read from README.md (the one after the `tests/walkthrough.rs` marker), so
//! changing the README changes what runs here; a walkthrough that stops working fails CI.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const MARKER: &str = "<!-- tests/walkthrough.rs runs the next code block exactly as written -->";

/// The lines of the first fenced block after the marker.
fn walkthrough() -> Vec<String> {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let after = readme
        .split_once(MARKER)
        .expect("the README marks its walkthrough")
        .1;
    let body = after
        .split_once("```sh\n")
        .expect("a ```sh block follows the marker")
        .1;
    let block = body.split_once("\n```").expect("the block is closed").0;
    block.lines().map(str::to_owned).collect()
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") Z "))
}

#[test]
fn the_readme_offline_walkthrough_works_as_written() {
    let lines = walkthrough();
    assert_eq!(lines.len(), 6, "six lines: {lines:#?}");
    let steps: Vec<&str> = lines
        .iter()
        .map(|l| {
            let first_two = l.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
            match first_two.as_str() {
                _ if l.contains("mailreg emulator") => "emulator",
                "mailreg init" => "init",
                "mailreg plan" => "plan",
                "mailreg apply" => "apply",
                "mailreg output" => "output",
                s if s.starts_with("kill") => "kill",
                _ => "other",
            }
        })
        .collect();
    assert_eq!(
        steps,
        ["emulator", "init", "plan", "apply", "output", "kill"],
        "{lines:#?}"
    );

    let dir = tempfile::tempdir().unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_mailreg")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // The block as written; the trap only reports the emulator's PID, for the checks below.
    let script = format!(
        "set -e\ntrap 'echo \"walkthrough-pid=${{MAILREG_EMULATOR_PID:-}}\" >&2' EXIT\n{}\n",
        lines.join("\n")
    );
    let out = Command::new("bash")
        .args(["-c", &script])
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", path)
        .env("HOME", dir.path())
        .stdin(std::process::Stdio::null())
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let pid: Option<u32> = stderr
        .lines()
        .find_map(|l| l.strip_prefix("walkthrough-pid="))
        .and_then(|p| p.parse().ok());
    // A failed run must not leave the emulator behind.
    if !out.status.success()
        && let Some(pid) = pid
    {
        let _ = Command::new("kill").arg(pid.to_string()).status();
    }
    assert!(
        out.status.success(),
        "the walkthrough failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    // init wrote the spec, apply the credentials and the AgileApps files.
    assert!(dir.path().join("mailreg.toml").exists());
    let sheet =
        std::fs::read_to_string(dir.path().join("out/test/microsoft-mailbox.paste.txt")).unwrap();
    assert!(sheet.contains("\nClient ID          "), "{sheet}");
    assert!(
        stdout.contains("Plan: 3 to add, 0 to change, 0 to destroy."),
        "{stdout}"
    );
    assert!(stdout.contains("Apply complete: 3 added"), "{stdout}");
    // The last command's output (a pipe here): the AgileApps JSON with the mailbox address.
    let json_start = stdout.rfind("\n{\n").expect("output printed JSON") + 1;
    let doc: serde_json::Value = serde_json::from_str(&stdout[json_start..]).unwrap();
    assert_eq!(doc["emailAddress"], "mailbox@example.com");
    assert!(
        doc["authUrl"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:"),
        "{doc}"
    );
    // The last line stopped the emulator.
    let pid = pid.expect("the emulator's PID was exported");
    let deadline = Instant::now() + Duration::from_secs(10);
    while alive(pid) {
        assert!(Instant::now() < deadline, "emulator {pid} still running");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The README is published with the repository: everything it links to must be in it.
#[test]
fn the_readme_points_only_into_the_repository() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    assert!(!readme.contains("../"), "a path leaving the repository");
    assert!(!readme.contains("/work/"), "a path of the build machine");
    let link = regex_lite::Regex::new(r"\]\(([^)#]+)(#[^)]*)?\)").unwrap();
    let mut checked = 0;
    for c in link.captures_iter(&readme) {
        let target = &c[1];
        if target.starts_with("http://") || target.starts_with("https://") {
            continue;
        }
        assert!(
            root.join(target).exists(),
            "README links to missing {target}"
        );
        checked += 1;
    }
    assert!(
        checked >= 3,
        "the README's own links were found ({checked})"
    );
}

/// The lines of every ```` ```sh walkthrough ```` block, in the README's order.
fn two_cloud_walkthrough() -> Vec<String> {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let mut lines = Vec::new();
    for after in readme.split("\n```sh walkthrough\n").skip(1) {
        let block = after.split_once("\n```").expect("the block is closed").0;
        lines.extend(block.lines().map(str::to_owned));
    }
    lines
}

/// The whole newcomer path, as the README writes it: the block at the top (Microsoft), then the
/// walkthrough's blocks in order (both clouds, the Google console rehearsed with `mailreg
/// emulator console` and `google import-client`, `verify` by code and by device code), in one
/// shell, in a fresh folder with a fresh HOME. Each line's exit code is checked, then the
/// AgileApps files of both clouds field by field.
#[test]
fn the_readme_two_cloud_walkthrough_works_as_written() {
    let top = walkthrough();
    let rest = two_cloud_walkthrough();
    assert!(
        rest.first()
            .is_some_and(|l| l.starts_with("mkdir both-clouds && cd both-clouds")),
        "{rest:#?}"
    );
    let lines: Vec<String> = top.iter().chain(&rest).cloned().collect();
    // Every line runs, even after one fails, and reports its exit code and the emulator then
    // running; `@@step N` on stdout starts each line's output.
    let mut script = String::new();
    for (n, line) in lines.iter().enumerate() {
        script.push_str(&format!(
            "echo @@step {n}\n{{ {line}\n}}; echo \"walkthrough-step {n} $? ${{MAILREG_EMULATOR_PID:-}}\" >&2\n"
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_mailreg")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("bash")
        .args(["-c", &script])
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", path)
        .env("HOME", dir.path())
        .stdin(std::process::Stdio::null())
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let steps: Vec<(i32, Option<u32>)> = stderr
        .lines()
        .filter_map(|l| l.strip_prefix("walkthrough-step "))
        .map(|l| {
            let mut f = l.split(' ');
            let _n = f.next();
            let code = f.next().and_then(|c| c.parse().ok()).unwrap_or(-1);
            (code, f.next().and_then(|p| p.parse().ok()))
        })
        .collect();
    let pids: Vec<u32> = {
        let mut p: Vec<u32> = steps.iter().filter_map(|s| s.1).collect();
        p.dedup();
        p
    };
    let codes: Vec<i32> = steps.iter().map(|s| s.0).collect();
    // The first apply of the two-cloud part stops at the Google console step: exit 5.
    let mut expected = vec![0; lines.len()];
    let first_apply = top.len()
        + rest
            .iter()
            .position(|l| l.starts_with("mailreg apply"))
            .unwrap();
    expected[first_apply] = 5;
    if codes != expected {
        for pid in &pids {
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
    }
    assert_eq!(
        codes, expected,
        "{lines:#?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    let output_of = |prefix: &str| {
        let n = lines.iter().position(|l| l.starts_with(prefix)).unwrap();
        let from = stdout.find(&format!("@@step {n}\n")).unwrap() + format!("@@step {n}\n").len();
        let to = stdout[from..]
            .find("@@step ")
            .map_or(stdout.len(), |i| from + i);
        stdout[from..to].to_owned()
    };

    // Two emulators ran (the top block's and the walkthrough's), and both were stopped.
    assert_eq!(pids.len(), 2, "{pids:?}");
    for pid in pids {
        let deadline = Instant::now() + Duration::from_secs(10);
        while alive(pid) {
            assert!(Instant::now() < deadline, "emulator {pid} still running");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    // The console rehearsal wrote Google's download, and import-client took it.
    let work = dir.path().join("both-clouds");
    let json = |p: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(work.join(p)).unwrap()).unwrap()
    };
    let download = json("client_secret.json");
    let web = &download["web"];
    assert_eq!(web["project_id"], "agileapps-mail-test");
    assert_eq!(
        web["redirect_uris"],
        serde_json::json!(["https://agileapps.example.com/oauth/callback"])
    );
    let record = json(".mailreg/both-clouds.test.json");
    assert_eq!(record["google"]["client"]["client_id"], web["client_id"]);
    assert_eq!(
        record["google"]["client"]["client_secret"],
        web["client_secret"]
    );

    // Both AgileApps files, every field.
    let ms = &record["microsoft"];
    let login = ms["authorize_url"]
        .as_str()
        .unwrap()
        .strip_suffix("/common/oauth2/v2.0/authorize")
        .expect("the emulator's authorize URL")
        .to_owned();
    assert!(login.starts_with("http://127.0.0.1:"), "{login}");
    assert_eq!(
        json("out/test/microsoft-mailbox.json"),
        serde_json::json!({
            "emailAddress": "mailbox@contoso.onmicrosoft.com",
            "protocol": "IMAP",
            "mailServer": "outlook.office365.com",
            "port": 993,
            "ssl": true,
            "authenticationType": "OAuth",
            "clientId": ms["client_id"],
            "clientSecret": ms["secret"]["value"],
            "authUrl": format!("{login}/common/oauth2/v2.0/authorize"),
            "accessTokenUrl": format!("{login}/common/oauth2/v2.0/token"),
            "scope": "https://outlook.office.com/IMAP.AccessAsUser.All https://outlook.office.com/POP.AccessAsUser.All offline_access",
            "redirectUri": "https://agileapps.example.com/oauth/callback",
            "outgoingMailServer": "smtp.office365.com",
            "outgoingPort": 587,
            "outgoingSecurity": "STARTTLS"
        })
    );
    let google = serde_json::json!({
        "emailAddress": "mailbox@contoso.onmicrosoft.com",
        "protocol": "IMAP",
        "mailServer": "imap.gmail.com",
        "port": 993,
        "ssl": true,
        "authenticationType": "OAuth",
        "clientId": web["client_id"],
        "clientSecret": web["client_secret"],
        "authUrl": "https://accounts.google.com/o/oauth2/v2/auth?access_type=offline&prompt=consent",
        "accessTokenUrl": "https://oauth2.googleapis.com/token",
        "scope": "https://mail.google.com/",
        "redirectUri": "https://agileapps.example.com/oauth/callback",
        "outgoingMailServer": "smtp.gmail.com",
        "outgoingPort": 587,
        "outgoingSecurity": "STARTTLS"
    });
    assert_eq!(json("out/test/google-mailbox.json"), google);
    for sheet in ["microsoft-mailbox.paste.txt", "google-mailbox.paste.txt"] {
        assert!(work.join("out/test").join(sheet).exists(), "{sheet}");
    }
    // What `output` printed is the same document, the secret masked.
    let printed: serde_json::Value =
        serde_json::from_str(&output_of("mailreg output --env test --provider google")).unwrap();
    let mut masked = google.clone();
    masked["clientSecret"] = printed["clientSecret"].clone();
    assert_eq!(printed, masked);
    assert!(
        printed["clientSecret"]
            .as_str()
            .unwrap()
            .ends_with("…(hidden)"),
        "{printed}"
    );

    // Both sign-ins logged in over IMAP and POP at the emulator's responder; the second through
    // the device code, whose page is the emulator's own.
    for n in lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.starts_with("mailreg verify"))
        .map(|(n, _)| n)
    {
        let text = output_of(&lines[n]);
        let verdicts: Vec<&str> = text
            .lines()
            .map(|l| l.split_whitespace().take(2).collect::<Vec<_>>())
            .map(|w| {
                if w == ["imap", "OK"] {
                    "imap"
                } else if w == ["pop3", "OK"] {
                    "pop3"
                } else {
                    "?"
                }
            })
            .collect();
        assert_eq!(verdicts, ["imap", "pop3"], "{}: {text}", lines[n]);
    }
    assert!(
        stderr.contains(
            "Rehearsal: the emulator signs in as mailbox@contoso.onmicrosoft.com by itself"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "To sign in, use a web browser to open the page {login}/devicelogin and enter the code "
        )),
        "{stderr}"
    );
}
