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
