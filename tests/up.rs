//! `mailreg up` and `mailreg down`: one plan with the mailbox settings in it, one
//! confirmation, the console step's exit code, one JSON document, and convergence after a kill
//! at any request. The verified login at the end runs against the emulator's sign-in and mail
//! responder in `up_login.rs`; here `--no-verify` stops after the settings.

mod common;

use common::*;
use mailreg_emulator::{Cas, MailboxSeed};
use serde_json::Value;

const OFF: &str = "helpdesk@contoso.onmicrosoft.com";

const UP_SPEC: &str = r#"name = "agileapps-mail"

[microsoft]
tenant = "contoso.onmicrosoft.com"
redirect_uris = ["https://agileapps.example.com/oauth/callback"]
permissions = ["IMAP.AccessAsUser.All", "POP.AccessAsUser.All", "offline_access"]
mailboxes = ["helpdesk@contoso.onmicrosoft.com"]

[[output]]
provider = "microsoft"
template = "json"
path = "out/{env}/helpdesk.json"
"#;

/// IMAP and POP off: `up` has a `Set-CASMailbox` to plan.
fn off() -> Cas {
    Cas {
        imap: false,
        pop: false,
        smtp_auth_disabled: None,
    }
}

fn harness() -> Harness {
    let h = Harness::new(UP_SPEC);
    h.emu.with_state(|s| {
        s.add_mailbox(MailboxSeed {
            cas: off(),
            ..MailboxSeed::ready(OFF)
        })
    });
    h
}

fn cas(h: &Harness) -> Cas {
    h.emu.with_state(|s| {
        s.exchange
            .effective(
                OFF,
                time::OffsetDateTime::now_utc() + time::Duration::days(1),
            )
            .unwrap()
    })
}

fn cmdlets(h: &Harness) -> Vec<String> {
    common::cmdlets(&h.emu)
}

const UP: &[&str] = &["up", "--env", "test", "--yes", "--no-verify"];

#[test]
fn up_plans_the_mailbox_settings_with_the_registration_and_confirms_once() {
    let h = harness();
    let r = h.ok(UP);
    let plan_start = r.stdout.find("  + microsoft.application").unwrap();
    let cas_line = r
        .stdout
        .find(&format!("  ~ microsoft.cas_mailbox[{OFF}]"))
        .unwrap_or_else(|| panic!("{}", r.stdout));
    let count = r
        .stdout
        .find("Plan: 3 to add, 1 to change, 0 to destroy.")
        .unwrap();
    assert!(plan_start < cas_line && cas_line < count, "{}", r.stdout);
    assert!(
        r.stdout
            .contains("Up complete: 3 added, 1 changed, 0 destroyed.")
    );
    assert!(
        r.stdout.contains(
            "Summary:\n  registration   2 changes\n  prerequisites  1 change\n  outputs        1 of 1 written\n"
        ),
        "{}",
        r.stdout
    );
    let after = cas(&h);
    assert!(after.imap && after.pop, "{after:?}");
    assert!(h.dir.path().join("out/test/helpdesk.json").exists());
    // Read before the change, one write.
    assert_eq!(
        cmdlets(&h)
            .iter()
            .filter(|c| c.as_str() == "Set-CASMailbox")
            .count(),
        1
    );

    // Run again: nothing to do, and only reads go out.
    h.clear();
    let again = h.ok(UP);
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);
    assert!(
        again
            .stdout
            .contains("  registration   unchanged\n  prerequisites  unchanged\n"),
        "{}",
        again.stdout
    );
    let writes: Vec<_> = h
        .api_requests()
        .into_iter()
        .filter(|r| r.method != "GET" && !r.path.contains("/InvokeCommand"))
        .collect();
    assert!(writes.is_empty(), "{writes:?}");
    assert!(
        cmdlets(&h).iter().all(|c| c.starts_with("Get-")),
        "{:?}",
        cmdlets(&h)
    );
}

#[test]
fn a_mailbox_setting_changed_by_hand_is_drift_that_up_puts_back() {
    let h = harness();
    h.ok(UP);
    // Somebody switches IMAP and POP off again in the Exchange admin center.
    h.emu.with_state(|s| s.exchange.add(OFF, off()));
    let plan = h.expect(
        2,
        &[
            "plan",
            "--env",
            "test",
            "--mailboxes",
            "--detailed-exitcode",
        ],
    );
    assert!(
        plan.stdout
            .contains(&format!("  ~ microsoft.cas_mailbox[{OFF}]"))
            && plan
                .stdout
                .contains("Plan: 0 to add, 1 to change, 0 to destroy."),
        "{}",
        plan.stdout
    );
    // Without --mailboxes, plan is apply's: the registration matches.
    h.ok(&["plan", "--env", "test", "--detailed-exitcode"]);
    let r = h.ok(UP);
    assert!(
        r.stdout
            .contains("Up complete: 0 added, 1 changed, 0 destroyed.")
    );
    assert!(cas(&h).imap);
}

#[test]
fn up_under_json_prints_one_document_with_every_resource() {
    let h = harness();
    let r = h.ok(&["-o", "json", "up", "--env", "test", "--yes", "--no-verify"]);
    let doc: Value =
        serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout));
    let addresses: Vec<&str> = doc["plan"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["address"].as_str().unwrap())
        .collect();
    assert_eq!(
        addresses,
        [
            "microsoft.application",
            "microsoft.client_secret",
            &format!("microsoft.cas_mailbox[{OFF}]"),
            "output[out/test/helpdesk.json]",
        ]
    );
    assert_eq!(doc["verify"], serde_json::json!([]));
    assert_eq!(doc["error"], Value::Null);
    assert_eq!(doc["outputs"][0]["status"], "written");
}

#[test]
fn down_removes_what_up_made_and_leaves_the_mailbox_settings() {
    let h = harness();
    h.ok(UP);
    let r = h.ok(&["down", "--env", "test", "--yes"]);
    assert!(
        r.stdout
            .starts_with("mailreg down: agileapps-mail (environment test)")
    );
    assert!(
        r.stdout.contains("Destroy complete: 2 destroyed."),
        "{}",
        r.stdout
    );
    assert!(!h.dir.path().join("out/test/helpdesk.json").exists());
    // mailreg did not create the mailbox: what it switched on stays on.
    assert!(cas(&h).imap);
    let again = h.ok(&["down", "--env", "test", "--yes"]);
    assert!(
        again.stdout.contains("Nothing to destroy"),
        "{}",
        again.stdout
    );
}

#[test]
fn without_a_terminal_up_refuses_to_ask_and_changes_nothing() {
    let h = harness();
    let r = h.expect(7, &["up", "--env", "test", "--no-verify"]);
    assert!(r.stderr.contains("`mailreg up --yes`"), "{}", r.stderr);
    assert!(!cas(&h).imap);
    assert!(!h.store_file("test").exists());
}

#[test]
fn an_outstanding_google_console_step_exits_5_with_the_command_that_resumes() {
    let h = Harness::new(GOOGLE_SPEC);
    let r = h.expect(5, &["up", "--env", "test", "--yes"]);
    assert!(
        r.stderr.contains("mailreg google import-client")
            && r.stderr.contains(&format!(
                "then `mailreg up -f {} --env test` again",
                h.spec.display()
            )),
        "{}",
        r.stderr
    );
    let j = h.expect(5, &["-o", "json", "up", "--env", "test", "--yes"]);
    let doc: Value =
        serde_json::from_str(&j.stdout).unwrap_or_else(|e| panic!("{e}: {}", j.stdout));
    assert_eq!(doc["error"]["exit_code"], 5, "{doc}");
    assert!(j.stderr.is_empty(), "{}", j.stderr);
}

#[test]
fn up_killed_at_any_request_converges_when_run_again() {
    let reference = harness();
    reference.ok(UP);
    let requests = reference.emu.requests().len();
    assert!(requests >= 6, "{requests}");
    let mut failures = Vec::new();
    for k in 0..requests {
        let h = harness();
        assert!(run_killed_at(&h, UP, k), "up killed at request {k}");
        let r = h.run(UP);
        let again = h.run(UP);
        let apps = h.emu.with_state(|s| s.graph.applications().len());
        let ok = r.code == 0
            && again.code == 0
            && again.stdout.contains("No changes.")
            && apps == 1
            && cas(&h).imap
            && h.dir.path().join("out/test/helpdesk.json").exists();
        if !ok {
            failures.push(format!(
                "killed after request {k}: codes {} {}, {apps} apps\n{}\n{}",
                r.code, again.code, again.stdout, again.stderr
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The whole of `up` offline: the emulator's sign-in completes by itself, its mail responder
/// refuses IMAP and POP until the `Set-CASMailbox` change has propagated, and `up` waits it out
/// and ends with the logins passing.
#[test]
fn up_waits_for_the_mailbox_settings_and_ends_in_a_verified_login() {
    let h = harness();
    // Exchange takes its time: 1.5 s here (real), under a 45-minute nominal wait.
    h.emu
        .with_state(|s| s.exchange.propagation = std::time::Duration::from_millis(1500));
    let r = h.ok(&["up", "--env", "test", "--yes"]);
    assert!(
        r.stdout
            .contains(&format!("Verifying {OFF} (microsoft): IMAP, POP")),
        "{}",
        r.stdout
    );
    let login = r
        .stdout
        .lines()
        .find(|l| l.starts_with("  login          "))
        .unwrap_or_else(|| panic!("{}", r.stdout));
    assert!(
        login.starts_with(&format!("  login          IMAP ✔ POP ✔ as {OFF} at ")),
        "{login}"
    );
    assert!(login.contains("UTC (propagation took "), "{login}");
    // The first tries failed (the settings were not there yet): the wait retried them.
    assert!(r.stdout.contains("passed on try"), "{}", r.stdout);
    // No browser, no refresh token kept: the sign-in happened once, by itself.
    assert!(
        r.stderr.contains("Rehearsal: the emulator signs in as"),
        "{}",
        r.stderr
    );

    // The JSON document carries the logins too, and a second up is a no-op that logs in again.
    let j = h.ok(&["-o", "json", "up", "--env", "test", "--yes"]);
    let doc: Value =
        serde_json::from_str(&j.stdout).unwrap_or_else(|e| panic!("{e}: {}", j.stdout));
    assert_eq!(doc["plan"]["changes"], serde_json::json!([]));
    let results = doc["verify"][0]["results"].as_array().unwrap();
    let oks: Vec<(&str, bool)> = results
        .iter()
        .map(|r| (r["protocol"].as_str().unwrap(), r["ok"].as_bool().unwrap()))
        .collect();
    assert_eq!(oks, [("imap", true), ("pop3", true)]);
    assert_eq!(doc["verify"][0]["user"], OFF);
}

#[test]
fn a_login_that_never_passes_ends_up_with_exit_6_and_says_which() {
    let h = harness();
    // Propagation longer than the wait: IMAP and POP stay off for the whole of `--wait 1m`.
    h.emu
        .with_state(|s| s.exchange.propagation = std::time::Duration::from_secs(600));
    let r = h.expect(6, &["up", "--env", "test", "--yes", "--wait", "1m"]);
    assert!(r.stdout.contains("imap  FAILED"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains(&format!("  login          IMAP ✘ POP ✘ as {OFF}\n")),
        "{}",
        r.stdout
    );
    assert!(
        r.stderr.contains("2 of 2 logins failed within 1m"),
        "{}",
        r.stderr
    );
    // Everything before the login is in place.
    assert!(h.dir.path().join("out/test/helpdesk.json").exists());
}
