//! Data safety (issue 11): no lost secret, no deleted production app, no false failure.
//! One test (or a few) per point of the issue; each failed on the main branch before it.

mod common;

use std::io::Write as _;
use std::time::Duration;

use common::*;

const OUTPUT: &str =
    "\n[[output]]\nprovider = \"microsoft\"\ntemplate = \"env\"\npath = \"out/{env}.env\"\n";

/// Waits (real time, bounded) until `cond` holds.
fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..2000 {
        if cond() {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("timed out waiting for {what}");
}

fn gc_lines(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter(|l| l.starts_with("  - "))
        .map(|l| {
            // The client ID is random: keep the provider, environment and reason.
            let (head, rest) = l.split_once(" (environment ").unwrap();
            let kind = head.split_whitespace().nth(1).unwrap();
            format!("{kind} (environment {rest}")
        })
        .collect()
}

// 1. No writer loses another's write -------------------------------------------------------

/// Repro 2 of the issue: `google import-client` while an `apply` runs against a slow server.
/// The import must survive the apply's own writes to the record.
#[test]
fn a_client_imported_during_a_slow_apply_is_kept() {
    let h = Harness::new(GOOGLE_SPEC);
    h.emu
        .with_state(|s| s.latency = Some(Duration::from_millis(50)));
    // The Gmail API is enabled at once, but the answer takes a while: the apply still has its
    // last record write ahead when the import runs.
    h.emu
        .inject(Fault::new(FaultKind::Delay(Duration::from_millis(1500))).on("POST", ":enable"));
    let apply = h
        .command(&["apply", "--env", "test", "--yes"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Once the Gmail API is on, the person does the console step and imports the client,
    // while the apply still waits for the answer.
    let mut client = None;
    wait_until("the Gmail API", || {
        let uris = ["https://agileapps.example.com/oauth/callback".to_owned()];
        client = h
            .emu
            .with_state(|s| s.google.create_oauth_client("agileapps-mail-test", &uris))
            .ok();
        client.is_some()
    });
    let file = h.dir.path().join("client.json");
    std::fs::write(
        &file,
        mailreg_emulator::google::client_file_text(&client.unwrap()),
    )
    .unwrap();
    let r = h.ok(&[
        "google",
        "import-client",
        "--env",
        "test",
        file.to_str().unwrap(),
    ]);
    assert!(r.stdout.contains("stored"), "{}", r.stdout);
    let out = apply.wait_with_output().unwrap();
    assert!(
        [0, 5].contains(&out.status.code().unwrap()),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rec = h.record("test");
    assert!(
        rec["google"]["client"]["client_id"].is_string(),
        "the imported client was lost: {rec:#}"
    );
    assert!(rec["google"]["project_number"].is_string(), "{rec:#}");
    // And the next apply completes without a console step.
    h.emu.with_state(|s| s.latency = None);
    h.ok(&["apply", "--env", "test", "--yes"]);
}

/// Writers of the record never take the run lock's place: a second `apply` is refused (7)
/// while one runs, and the refused one writes nothing.
#[test]
fn a_second_writing_run_is_refused_with_exit_7() {
    let h = Harness::new(SPEC);
    h.emu
        .with_state(|s| s.latency = Some(Duration::from_millis(150)));
    let first = h
        .command(&["apply", "--env", "test", "--yes"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("the first request", || !h.emu.requests().is_empty());
    let r = h.expect(7, &["rotate", "--env", "test", "--yes"]);
    assert!(
        r.stderr.contains(
            "another mailreg run holds the lock for agileapps-mail (environment test): pid "
        ),
        "{}",
        r.stderr
    );
    assert!(first.wait_with_output().unwrap().status.success());
}

// 2. gc never collects an unmarked environment by default -----------------------------------

#[test]
fn gc_collects_only_marked_environments_unless_told_which() {
    let h = Harness::new(SPEC);
    h.ok(&["apply", "--env", "prod", "--yes"]);
    h.ok(&["apply", "--env", "ci-1", "--yes", "--ttl", "1h"]);
    let r = h.ok(&["gc", "--older-than", "0s", "--dry-run"]);
    assert_eq!(
        gc_lines(&r.stdout),
        [
            "microsoft.application (environment ci-1): older than 0s; marked disposable by `apply --ttl`"
        ],
        "{}",
        r.stdout
    );
    let r = h.ok(&["gc", "--older-than", "0s", "--env", "prod", "--dry-run"]);
    assert_eq!(
        gc_lines(&r.stdout),
        ["microsoft.application (environment prod): older than 0s; environment named by --env"]
    );
    let r = h.ok(&["gc", "--older-than", "0s", "--all-envs", "--dry-run"]);
    let mut l = gc_lines(&r.stdout);
    l.sort();
    assert_eq!(
        l,
        [
            "microsoft.application (environment ci-1): older than 0s; every environment (--all-envs)",
            "microsoft.application (environment prod): older than 0s; every environment (--all-envs)",
        ]
    );
    h.expect(
        3,
        &["gc", "--older-than", "0s", "--all-envs", "--env", "prod"],
    );
    // The real run takes only the marked one; production stays, with its credentials.
    h.ok(&["gc", "--older-than", "0s", "--yes"]);
    let apps = h.emu.with_state(|s| s.graph.applications());
    assert_eq!(apps.len(), 1);
    assert_eq!(apps[0]["displayName"], "AgileApps mailbox (prod)");
    assert!(h.store_file("prod").exists());
    assert!(!h.store_file("ci-1").exists());
}

// 3. gc also collects from deleted items -----------------------------------------------------

#[test]
fn gc_purges_what_destroy_left_in_deleted_items() {
    let h = Harness::new(SPEC);
    h.ok(&["apply", "--env", "ci-1", "--yes", "--ttl", "1s"]);
    h.ok(&["destroy", "--env", "ci-1", "--yes"]);
    assert_eq!(
        h.emu.with_state(|s| s.graph.deleted_applications().len()),
        1
    );
    std::thread::sleep(Duration::from_millis(1100));
    let r = h.ok(&["gc", "--expired", "--dry-run"]);
    assert_eq!(
        gc_lines(&r.stdout),
        [
            "microsoft.application (environment ci-1): in deleted items, past its expiry; marked disposable by `apply --ttl`"
        ],
        "{}",
        r.stdout
    );
    h.clear();
    h.ok(&["gc", "--older-than", "0s", "--yes"]);
    assert_eq!(
        h.emu.with_state(|s| s.graph.deleted_applications().len()),
        0
    );
    let writes: Vec<String> = lines(&h.api_requests())
        .into_iter()
        .filter(|l| !l.starts_with("GET"))
        .map(|l| l.split('/').take(4).collect::<Vec<_>>().join("/"))
        .collect();
    assert_eq!(
        writes,
        ["DELETE /v1.0/directory/deletedItems"],
        "only a purge"
    );
}

// 4. Throttling without Retry-After is absorbed ----------------------------------------------

#[test]
fn gc_absorbs_throttling_without_retry_after() {
    let h = Harness::new(SPEC);
    let n = 8;
    for i in 0..n {
        h.ok(&["apply", "--env", &format!("ci-{i}"), "--yes", "--ttl", "1h"]);
    }
    // 3 writes per 2 s (real time), and no Retry-After on the 429s.
    h.emu.with_state(|s| {
        let c = s.graph.config_mut();
        c.write_limit = Some((3, time::Duration::seconds(2)));
        c.write_limit_retry_after = false;
    });
    h.clear();
    let mut cmd = h.command(&["gc", "--older-than", "0s", "--yes"]);
    cmd.env("MAILREG_TIME_SCALE", "0.01");
    let out = cmd.output().unwrap();
    let reqs = h.api_requests();
    let throttled = reqs.iter().filter(|r| r.status == 429).count();
    let deleted = reqs
        .iter()
        .filter(|r| r.method == "DELETE" && r.path.starts_with("/v1.0/applications/"))
        .filter(|r| r.status == 204)
        .count();
    let _ = writeln!(
        std::io::stderr(),
        "throttling without Retry-After: {n} applications, {deleted} deleted, {throttled} 429s absorbed"
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(h.emu.with_state(|s| s.graph.applications().len()), 0);
    assert_eq!(
        h.emu.with_state(|s| s.graph.deleted_applications().len()),
        0
    );
    assert_eq!(deleted, n);
    assert!(throttled > 0, "the limit was hit");
    // The pacer slowed down: far fewer 429s than the eight attempts per delete of a retry loop.
    assert!(throttled <= 3 * n, "{throttled} 429s");
}

#[test]
fn gc_stops_at_its_deadline() {
    let h = Harness::new(SPEC);
    for i in 0..3 {
        h.ok(&["apply", "--env", &format!("ci-{i}"), "--yes", "--ttl", "1h"]);
    }
    h.emu.with_state(|s| {
        let c = s.graph.config_mut();
        c.write_limit = Some((1, time::Duration::seconds(600)));
        c.write_limit_retry_after = false;
    });
    let mut cmd = h.command(&["gc", "--older-than", "0s", "--yes", "--deadline", "30s"]);
    cmd.env("MAILREG_TIME_SCALE", "0.01");
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("Deleted 1 of 3."), "{stdout}");
    assert!(
        stderr.contains("giving up at the deadline, after "),
        "{stderr}"
    );
    assert!(stderr.contains("HTTP 429"), "{stderr}");
}

// 5. A retried delete whose first attempt succeeded is done ----------------------------------

#[test]
fn a_delete_whose_answer_was_lost_is_done_not_lagging() {
    let h = Harness::new(SPEC);
    h.ok(&["apply", "--env", "test", "--yes"]);
    // The server acts, then the connection drops: the retries find the objects gone.
    h.emu
        .inject(Fault::new(FaultKind::DropAfter).on("DELETE", "/v1.0/applications/"));
    h.emu
        .inject(Fault::new(FaultKind::DropAfter).on("DELETE", "/directory/deletedItems/"));
    h.ok(&["destroy", "--env", "test", "--yes", "--purge"]);
    let live = h.emu.with_state(|s| s.graph.applications().len());
    let deleted = h.emu.with_state(|s| s.graph.deleted_applications().len());
    assert_eq!((live, deleted), (0, 0));
    let purges = h
        .api_requests()
        .iter()
        .filter(|r| r.method == "DELETE" && r.path.contains("/deletedItems/"))
        .map(|r| r.status)
        .collect::<Vec<_>>();
    assert_eq!(purges, [0, 404], "one retry, not a lag loop");
}

#[test]
fn a_remove_password_whose_answer_was_lost_is_done() {
    let h = Harness::new(SPEC);
    h.ok(&["apply", "--env", "test", "--yes"]);
    h.emu
        .inject(Fault::new(FaultKind::DropAfter).on("POST", "/removePassword"));
    h.clear();
    h.ok(&["rotate", "--env", "test", "--yes"]);
    let removes: Vec<u16> = h
        .api_requests()
        .iter()
        .filter(|r| r.path.ends_with("/removePassword"))
        .map(|r| r.status)
        .collect();
    assert_eq!(removes, [0, 400]);
    let apps = h.emu.with_state(|s| s.graph.applications());
    assert_eq!(apps[0]["passwordCredentials"].as_array().unwrap().len(), 1);
}

/// "giving up after N attempts over Ns" says how long the user waited, in real time (the
/// waits here are scaled to milliseconds).
#[test]
fn a_give_up_message_gives_the_real_elapsed_time() {
    let h = Harness::new(SPEC);
    h.emu.inject(
        Fault::new(FaultKind::Status(503))
            .on("GET", "/v1.0/applications")
            .times(50),
    );
    let r = h.expect(1, &["plan", "--env", "test"]);
    assert!(
        r.stderr.contains("giving up after 8 attempts over 0s"),
        "{}",
        r.stderr
    );
}

// 7. No secret left in a stray file -----------------------------------------------------------

#[test]
fn stray_temp_files_of_a_killed_write_are_removed() {
    let h = Harness::new(SPEC);
    let dir = h.state_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let ours = dir.join(".mailreg-agileapps-mail.test.json.Ab12Cd");
    let legacy = dir.join(".mailreg-Xy12Zq");
    let other = dir.join(".mailreg-agileapps-mail.prod.json.Ab12Cd");
    for f in [&ours, &legacy, &other] {
        std::fs::write(f, "{\"secret\": \"left-by-a-killed-run\"}").unwrap();
    }
    // The old naming is removed only when older than a minute.
    let status = std::process::Command::new("touch")
        .args(["-d", "2 minutes ago"])
        .arg(&legacy)
        .status()
        .unwrap();
    assert!(status.success());
    h.ok(&["apply", "--env", "test", "--yes"]);
    assert!(!ours.exists());
    assert!(!legacy.exists());
    assert!(other.exists(), "another record's write may be in progress");
}

// 8. destroy removes the files it rendered ----------------------------------------------------

#[test]
fn destroy_removes_its_outputs_unless_changed_or_kept() {
    let second = OUTPUT.replace("out/{env}.env", "out/{env}-copy.env");
    let h = Harness::new(&format!("{SPEC}{OUTPUT}{second}"));
    h.ok(&["apply", "--env", "test", "--yes"]);
    let plain = h.dir.path().join("out/test.env");
    let edited = h.dir.path().join("out/test-copy.env");
    let mut text = std::fs::read_to_string(&edited).unwrap();
    text.push_str("# added by hand\n");
    std::fs::write(&edited, &text).unwrap();
    let r = h.ok(&["destroy", "--env", "test", "--yes", "--purge"]);
    assert!(!plain.exists(), "it held a dead secret");
    assert_eq!(std::fs::read_to_string(&edited).unwrap(), text);
    let stdout = normalise(&r.stdout, h.dir.path());
    let out: Vec<&str> = stdout.lines().filter(|l| l.starts_with("output")).collect();
    assert_eq!(
        out,
        [
            "output  removed [TMP]/out/test.env",
            "output  kept [TMP]/out/test-copy.env: its content changed since mailreg wrote it"
        ],
        "{}",
        r.stdout
    );
    std::fs::remove_file(&edited).unwrap();
    h.ok(&["apply", "--env", "test", "--yes"]);
    h.ok(&["destroy", "--env", "test", "--yes", "--keep-outputs"]);
    assert!(plain.exists() && edited.exists());
}

// 9. File hygiene ---------------------------------------------------------------------------

#[test]
fn an_existing_state_folder_gets_mode_0700_and_a_gitignore() {
    let h = Harness::new(SPEC);
    let dir = h.state_dir();
    std::fs::create_dir_all(&dir).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    h.ok(&["apply", "--env", "test", "--yes"]);
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(
        std::fs::read_to_string(dir.join(".gitignore")).unwrap(),
        "*\n"
    );
    assert_eq!(mode(&h.store_file("test")), 0o600);
}

#[test]
fn a_planted_lock_symlink_is_not_followed() {
    let h = Harness::new(SPEC);
    let dir = h.state_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let victim = h.dir.path().join("victim.txt");
    std::fs::write(&victim, "precious").unwrap();
    std::os::unix::fs::symlink(&victim, dir.join("agileapps-mail.test.lock")).unwrap();
    let r = h.expect(7, &["apply", "--env", "test", "--yes"]);
    assert!(r.stderr.contains("is a symbolic link"), "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    assert!(h.api_requests().is_empty(), "nothing sent");
}

#[test]
fn a_relative_output_path_may_not_climb_out_of_the_spec_folder() {
    let h = Harness::new(&format!(
        "{SPEC}{}",
        OUTPUT.replace("out/{env}.env", "../elsewhere/{env}.env")
    ));
    let r = h.expect(3, &["apply", "--env", "test", "--yes"]);
    assert!(
        r.stderr.contains(
            "mailreg.toml:12:8: output[0].path: \"../elsewhere/test.env\" climbs out of the spec's folder with `..`"
        ),
        "{}",
        r.stderr
    );
    assert!(h.api_requests().is_empty());
}

#[test]
fn a_secret_output_that_git_would_commit_is_warned_about() {
    let h = Harness::new(&format!("{SPEC}{OUTPUT}"));
    let git = |args: &[&str]| {
        let ok = std::process::Command::new("git")
            .args(args)
            .current_dir(h.dir.path())
            .env("HOME", h.dir.path())
            .output()
            .unwrap()
            .status
            .success();
        assert!(ok, "git {args:?}");
    };
    git(&["init", "-q"]);
    let r = h.ok(&["apply", "--env", "test", "--yes"]);
    assert!(
        r.stderr.contains("out/test.env holds a secret and is inside a git work tree that does not ignore it: add it to .gitignore"),
        "{}",
        r.stderr
    );
    std::fs::write(h.dir.path().join(".gitignore"), "out/\n").unwrap();
    std::fs::remove_file(h.dir.path().join("out/test.env")).unwrap();
    let r = h.ok(&["apply", "--env", "test", "--yes"]);
    assert!(!r.stderr.contains("git work tree"), "{}", r.stderr);
}

// 10. A tenant secret-lifetime policy -------------------------------------------------------

fn capped(readable: bool) -> Harness {
    let mut config = EmulatorConfig::default();
    config.graph.max_secret_lifetime_days = Some(90);
    config.graph.policy_readable = readable;
    Harness::with_config(SPEC, config)
}

#[test]
fn a_lifetime_over_the_tenant_cap_is_refused_before_anything_is_created() {
    let h = capped(true);
    let r = h.expect(3, &["apply", "--env", "test", "--yes"]);
    assert!(
        r.stderr.contains(
            "microsoft.secret_lifetime_days: 180 days is longer than the tenant's app management policy allows for client secrets (90 days)"
        ),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("set microsoft.secret_lifetime_days to 90 or less")
    );
    assert!(
        h.api_requests().iter().all(|r| !r.is_write()),
        "nothing created"
    );
    h.write_spec(&SPEC.replace(
        "permissions = [",
        "secret_lifetime_days = 90\npermissions = [",
    ));
    h.ok(&["apply", "--env", "test", "--yes"]);
}

#[test]
fn an_unreadable_policy_names_the_fix_in_the_error() {
    let h = capped(false);
    let r = h.run(&["apply", "--env", "test", "--yes"]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("CredentialInvalidLifetimeAsPerAppPolicy")
            || r.stderr.contains("Credential lifetime exceeds"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("lower microsoft.secret_lifetime_days")
            && r.stderr.contains("Policy.Read.ApplicationConfiguration"),
        "{}",
        r.stderr
    );
}
