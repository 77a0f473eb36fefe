//! Secret rotation, garbage collection of test registrations, and the run lock.

mod common;

use common::*;
use serde_json::json;

fn secrets_on_app(h: &Harness) -> Vec<String> {
    let apps = h.emu.with_state(|s| s.graph.applications());
    apps[0]["passwordCredentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["keyId"].as_str().unwrap().to_owned())
        .collect()
}

const OUTPUT: &str =
    "\n[[output]]\nprovider = \"microsoft\"\ntemplate = \"env\"\npath = \"out/{env}.env\"\n";

#[test]
fn rotate_stores_and_renders_the_new_secret_before_retiring_the_old() {
    let h = Harness::new(&format!("{SPEC}{OUTPUT}"));
    h.ok(&["apply", "--env", "test", "--yes"]);
    let old = h.record("test")["microsoft"]["secret"]["key_id"]
        .as_str()
        .unwrap()
        .to_owned();
    h.clear();
    let r = h.ok(&["rotate", "--env", "test", "--yes"]);
    let rec = h.record("test");
    let new = rec["microsoft"]["secret"]["key_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(old, new);
    let id = h.emu.with_state(|s| s.graph.applications())[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        lines(&h.api_requests()),
        [
            "GET /v1.0/applications".to_owned(),
            "GET /v1.0/policies/defaultAppManagementPolicy".to_owned(),
            format!("POST /v1.0/applications/{id}/addPassword"),
            format!("POST /v1.0/applications/{id}/removePassword")
        ]
    );
    assert_eq!(h.api_requests()[3].body, Some(json!({"keyId": old})));
    assert_eq!(secrets_on_app(&h), std::slice::from_ref(&new));
    let env = std::fs::read_to_string(h.dir.path().join("out/test.env")).unwrap();
    assert!(
        env.contains(rec["microsoft"]["secret"]["value"].as_str().unwrap()),
        "output re-rendered"
    );
    assert!(r.stdout.contains("Rotation complete"), "{}", r.stdout);
    // --keep-old leaves the previous one: two secrets, the new one on record.
    h.ok(&["rotate", "--env", "test", "--yes", "--keep-old"]);
    let two = secrets_on_app(&h);
    assert_eq!(two.len(), 2);
    assert!(two.contains(&new));
    // At the two-secret limit: the oldest secret not in use goes first, then the add, then the
    // previous one is retired.
    let in_use = h.record("test")["microsoft"]["secret"]["key_id"]
        .as_str()
        .unwrap()
        .to_owned();
    h.clear();
    h.ok(&["rotate", "--env", "test", "--yes"]);
    let reqs = h.api_requests();
    let l = lines(&reqs);
    assert!(
        l[2].ends_with("/removePassword")
            && l[3].ends_with("/addPassword")
            && l[4].ends_with("/removePassword"),
        "{l:?}"
    );
    assert_eq!(
        reqs[2].body,
        Some(json!({"keyId": new})),
        "the oldest, not in use, first"
    );
    assert_eq!(
        reqs[4].body,
        Some(json!({"keyId": in_use})),
        "the previous one last"
    );
    assert_eq!(secrets_on_app(&h).len(), 1);
    h.ok(&["apply", "--env", "test", "--yes"]);
    assert!(
        h.api_requests().iter().filter(|r| r.is_write()).count() == 3,
        "converged: apply wrote nothing"
    );
}

#[test]
fn rotate_with_google_prints_the_console_steps() {
    let spec = format!(
        "{SPEC}\n{}",
        GOOGLE_SPEC.replace("name = \"agileapps-mail\"\n", "")
    );
    let h = Harness::new(&spec);
    h.expect(5, &["apply", "--env", "test", "--yes"]);
    let r = h.expect(5, &["rotate", "--env", "test", "--yes"]);
    assert!(
        r.stdout
            .contains("Google has no API to rotate an OAuth client secret"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("https://console.cloud.google.com/auth/clients?project=agileapps-mail-test"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("Rotation complete"),
        "the Microsoft side still rotated: {}",
        r.stdout
    );
}

#[test]
fn gc_deletes_only_what_carries_all_of_mailregs_marks() {
    let spec = format!(
        "{SPEC}\n{}",
        GOOGLE_SPEC.replace("name = \"agileapps-mail\"\n", "")
    );
    let h = Harness::new(&spec);
    for env in ["ci-1", "ci-2"] {
        h.expect(5, &["apply", "--env", env, "--yes", "--ttl", "1h"]);
    }
    h.expect(5, &["apply", "--env", "keep", "--yes"]);
    let now = time::OffsetDateTime::now_utc();
    // Lookalikes: the same name without tags, and one with only some of the marks.
    h.emu.with_state(|s| {
        s.graph.insert_application(json!({"displayName": "AgileApps mailbox (ci-1)", "signInAudience": "AzureADMyOrg"}), now);
        s.graph.insert_application(json!({"displayName": "partial", "signInAudience": "AzureADMyOrg", "tags": ["mailreg:name=agileapps-mail", "mailreg:env=ci-9"]}), now);
        s.google.insert_project(json!({"projectId": "agileapps-mail-ci-9", "labels": {"mailreg-name": "agileapps-mail", "mailreg-env": "ci-9"}}), now);
    });
    let tags: Vec<serde_json::Value> = h
        .emu
        .with_state(|s| s.graph.applications())
        .iter()
        .map(|a| a["tags"].clone())
        .collect();
    assert!(
        tags.iter().any(|t| t
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x.as_str().unwrap().starts_with("mailreg:expires="))),
        "--ttl sets the expiry tag"
    );
    let r = h.expect(3, &["gc"]);
    assert!(r.stderr.contains("say what to collect"), "{}", r.stderr);
    // Nothing has expired yet.
    let r = h.ok(&["gc", "--expired", "--yes"]);
    assert!(r.stdout.contains("Nothing to collect."), "{}", r.stdout);
    // One environment, dry run first.
    let r = h.ok(&["gc", "--older-than", "0s", "--env", "ci-1", "--dry-run"]);
    assert!(
        r.stdout.contains("(environment ci-1): older than 0s"),
        "{}",
        r.stdout
    );
    assert_eq!(
        h.emu.with_state(|s| s.graph.applications().len()),
        5,
        "dry run deletes nothing"
    );
    let r = h.ok(&[
        "gc",
        "--older-than",
        "0s",
        "--env",
        "ci-1",
        "--yes",
        "-o",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["deleted"], 2);
    assert!(
        !h.store_file("ci-1").exists(),
        "its credentials are forgotten"
    );
    assert!(h.store_file("ci-2").exists());
    // Everything else of this name, marked disposable or not: only when asked explicitly.
    h.ok(&["gc", "--older-than", "0s", "--all-envs", "--yes"]);
    let names: Vec<String> = h
        .emu
        .with_state(|s| s.graph.applications())
        .iter()
        .map(|a| a["displayName"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(
        names.contains(&"partial".to_owned())
            && names.contains(&"AgileApps mailbox (ci-1)".to_owned())
    );
    assert_eq!(
        h.emu.with_state(|s| s.graph.deleted_applications().len()),
        0,
        "gc purges"
    );
    let active: Vec<String> = h
        .emu
        .with_state(|s| s.google.projects())
        .iter()
        .filter(|p| p["state"] == "ACTIVE")
        .map(|p| p["projectId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        active,
        ["agileapps-mail-ci-9"],
        "only the unmarked project is left"
    );
}

#[test]
fn gc_paces_deletions_and_absorbs_throttling() {
    let h = Harness::new(SPEC);
    for i in 0..12 {
        h.ok(&["apply", "--env", &format!("ci-{i}"), "--yes"]);
    }
    // Graph's write limit for personal-account apps, scaled to 5 per second.
    h.emu
        .with_state(|s| s.graph.config_mut().write_limit = Some((5, time::Duration::seconds(1))));
    h.clear();
    // Real time here (Retry-After is honoured in seconds), and a pace above the limit so that
    // some deletions are throttled and must be retried.
    let mut cmd = h.command(&[
        "gc",
        "--older-than",
        "0s",
        "--all-envs",
        "--yes",
        "--max-writes-per-minute",
        "600",
    ]);
    cmd.env("MAILREG_TIME_SCALE", "1");
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(h.emu.with_state(|s| s.graph.applications().len()), 0);
    let reqs = h.api_requests();
    let throttled = reqs.iter().filter(|r| r.status == 429).count();
    assert!(
        throttled > 0,
        "the pace was above the limit: some 429s were absorbed"
    );
    let deletes = reqs
        .iter()
        .filter(|r| {
            r.method == "DELETE" && r.path.starts_with("/v1.0/applications/") && r.status == 204
        })
        .count();
    assert_eq!(deletes, 12);
}

#[test]
fn a_held_lock_refuses_a_second_run_and_a_killed_holder_releases_it() {
    let h = Harness::new(SPEC);
    {
        let store = mailreg::credentials::Store::at(h.state_dir());
        let _held =
            mailreg::lock::Lock::acquire(&store, "agileapps-mail", "test", "apply").unwrap();
        let r = h.expect(7, &["apply", "--env", "test", "--yes"]);
        assert!(
            r.stderr.contains(
                "another mailreg run holds the lock for agileapps-mail (environment test): pid"
            ),
            "{}",
            r.stderr
        );
        assert!(h.api_requests().is_empty(), "nothing sent while locked");
        h.ok(&["plan", "--env", "test"]);
    }
    // A run killed while it holds the lock: the next run takes over at once.
    h.emu.inject(
        Fault::new(FaultKind::Delay(std::time::Duration::from_secs(5))).on("PATCH", "uniqueName"),
    );
    let mut child = h
        .command(&["apply", "--env", "test", "--yes"])
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !h.api_requests().iter().any(|r| r.method == "PATCH") {
        assert!(
            std::time::Instant::now() < deadline,
            "the first run never got to its create"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    h.ok(&["apply", "--env", "test", "--yes"]);
    assert_eq!(
        h.emu.with_state(|s| s.graph.applications().len()),
        1,
        "no duplicate"
    );
}

#[test]
fn gc_expired_collects_what_outlived_its_ttl() {
    let spec = format!(
        "{SPEC}\n{}",
        GOOGLE_SPEC.replace("name = \"agileapps-mail\"\n", "")
    );
    let h = Harness::new(&spec);
    h.expect(5, &["apply", "--env", "short", "--yes", "--ttl", "1s"]);
    h.expect(5, &["apply", "--env", "long", "--yes", "--ttl", "1d"]);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let r = h.ok(&["gc", "--expired", "--yes", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let ids: Vec<(String, String)> = v["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["provider"].as_str().unwrap().to_owned(),
                c["env"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert!(ids.iter().all(|(_, env)| env == "short"), "{ids:?}");
    assert_eq!(v["deleted"], 2);
    assert_eq!(h.emu.with_state(|s| s.graph.applications().len()), 1);
}

/// gc cleans up after what it collects exactly as destroy does: the rendered files still
/// holding the revoked secret go, a file changed by hand stays (and gc says so), and
/// `--keep-outputs` leaves them all.
#[test]
fn gc_removes_the_outputs_of_what_it_collected_as_destroy_does() {
    let spec = format!(
        "{SPEC}\n[[output]]\nprovider = \"microsoft\"\ntemplate = \"agileapps\"\npath = \"out/{{env}}/mailbox.json\"\nvars = {{ email = \"mailbox@example.com\" }}\n"
    );
    let h = Harness::new(&spec);
    for env in ["a", "b", "c"] {
        h.ok(&["apply", "--env", env, "--yes"]);
    }
    let out = |env: &str, f: &str| h.dir.path().join(format!("out/{env}/{f}"));
    assert!(out("a", "mailbox.json").exists() && out("a", "mailbox.paste.txt").exists());
    // Somebody edited b's JSON by hand: it is theirs now.
    std::fs::write(out("b", "mailbox.json"), "{\"edited\": true}\n").unwrap();

    let r = h.ok(&["gc", "--older-than", "0s", "--env", "a", "--yes"]);
    assert!(r.stdout.contains("Deleted 1 of 1."), "{}", r.stdout);
    assert!(
        r.stdout.contains(&format!(
            "output  removed {}",
            out("a", "mailbox.json").display()
        )),
        "{}",
        r.stdout
    );
    assert!(!out("a", "mailbox.json").exists() && !out("a", "mailbox.paste.txt").exists());
    // The record is gone too, so `output` says there is nothing, not a dead secret.
    let o = h.expect(3, &["output", "--env", "a"]);
    assert!(o.stderr.contains("apply"), "{}", o.stderr);

    let r = h.ok(&[
        "-o",
        "json",
        "gc",
        "--older-than",
        "0s",
        "--env",
        "b",
        "--yes",
    ]);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let outputs = doc["outputs"].as_array().unwrap();
    let kept: Vec<_> = outputs.iter().filter(|o| o["status"] == "kept").collect();
    assert_eq!(kept.len(), 1, "{doc}");
    assert!(
        kept[0]["path"]
            .as_str()
            .unwrap()
            .ends_with("out/b/mailbox.json")
    );
    assert_eq!(
        std::fs::read_to_string(out("b", "mailbox.json")).unwrap(),
        "{\"edited\": true}\n"
    );
    assert!(!out("b", "mailbox.paste.txt").exists());

    h.ok(&[
        "gc",
        "--older-than",
        "0s",
        "--env",
        "c",
        "--yes",
        "--keep-outputs",
    ]);
    assert!(out("c", "mailbox.json").exists() && out("c", "mailbox.paste.txt").exists());
}
