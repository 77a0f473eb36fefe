//! Google side end to end: the real binary against the emulator.

mod common;

use common::*;
use serde_json::json;

fn project(h: &Harness, id: &str) -> serde_json::Value {
    h.emu
        .with_state(|s| s.google.projects())
        .into_iter()
        .find(|p| p["projectId"] == id)
        .unwrap_or_else(|| panic!("no project {id}"))
}

#[test]
fn fresh_apply_creates_the_project_enables_gmail_then_asks_for_the_console_step() {
    let h = Harness::new(GOOGLE_SPEC);
    let r = h.expect(5, &["apply", "--env", "test", "--yes"]);
    let reqs = h.api_requests();
    let l = lines(&reqs);
    assert_eq!(l[0], "GET /v3/projects/agileapps-mail-test");
    assert_eq!(l[1], "POST /v3/projects");
    assert_eq!(
        reqs[1].body,
        Some(json!({
            "projectId": "agileapps-mail-test",
            "displayName": "agileapps-mail-test",
            "labels": {"managed-by": "mailreg", "mailreg-env": "test", "mailreg-name": "agileapps-mail"}
        }))
    );
    // Operations are not done on the first poll (emulator default): two polls each.
    let op = reqs[2].path.clone();
    assert!(op.starts_with("/v3/operations/cp."), "{l:?}");
    assert_eq!(l[3], format!("GET {op}"));
    let number = project(&h, "agileapps-mail-test")["name"]
        .as_str()
        .unwrap()
        .trim_start_matches("projects/")
        .to_owned();
    assert_eq!(
        l[4],
        format!("POST /v1/projects/{number}/services/gmail.googleapis.com:enable")
    );
    assert_eq!(reqs[4].body, Some(json!({})));
    assert!(l[5].starts_with("GET /v1/operations/acf.p2-"), "{l:?}");
    assert_eq!(l[6], l[5]);
    assert_eq!(l.len(), 7, "{l:?}");
    assert_eq!(
        h.emu
            .with_state(|s| s.google.enabled_services("agileapps-mail-test")),
        ["gmail.googleapis.com"]
    );
    // The checklist: exact console links and values from the spec.
    let out = &r.stdout;
    for want in [
        "https://console.cloud.google.com/auth/branding?project=agileapps-mail-test",
        "https://console.cloud.google.com/auth/audience?project=agileapps-mail-test",
        "https://console.cloud.google.com/auth/scopes?project=agileapps-mail-test",
        "https://console.cloud.google.com/auth/clients/create?project=agileapps-mail-test",
        "      App name                   mailreg agileapps-mail (test)\n",
        "      User support email         ops@example.com\n",
        "      Test users                 mailbox@example.com\n",
        "      Application type           Web application\n",
        "      Authorized redirect URIs   https://agileapps.example.com/oauth/callback\n",
        "refresh tokens expire after 7 days",
        "restricted scope",
    ] {
        assert!(out.contains(want), "missing {want:?} in\n{out}");
    }
    assert!(r.stderr.contains("manual step required"), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("then run: mailreg google import-client -f"),
        "{}",
        r.stderr
    );
    insta::assert_snapshot!("google_manual_step", normalise(out, h.dir.path()));

    // The person does the console steps; import; apply completes with no cloud write.
    let file = default_client(&h);
    let imported = h.ok(&[
        "google",
        "import-client",
        "--env",
        "test",
        file.to_str().unwrap(),
    ]);
    assert!(
        imported.stdout.starts_with("Imported OAuth client "),
        "{}",
        imported.stdout
    );
    h.clear();
    let r = h.ok(&["apply", "--env", "test", "--yes"]);
    assert!(r.stdout.contains("No changes."), "{}", r.stdout);
    assert!(
        h.api_requests().iter().all(|r| !r.is_write()),
        "healthy project: no write"
    );
    assert_eq!(
        lines(&h.api_requests()).len(),
        2,
        "project get + service get"
    );
    let json: serde_json::Value = serde_json::from_str(
        &h.ok(&["output", "--env", "test", "-o", "json", "--show-secrets"])
            .stdout,
    )
    .unwrap();
    let client: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(json["google"]["client_id"], client["web"]["client_id"]);
    assert_eq!(
        json["google"]["client_secret"]["value"],
        client["web"]["client_secret"]
    );
    assert_eq!(
        json["google"]["authorize_url"],
        "https://accounts.google.com/o/oauth2/v2/auth"
    );
    assert_eq!(
        json["google"]["token_url"],
        "https://oauth2.googleapis.com/token"
    );
    assert_eq!(
        json["google"]["scopes"],
        json!(["https://mail.google.com/"])
    );
    assert_eq!(json["google"]["access_type"], "offline");
    assert_eq!(mode(&h.store_file("test")), 0o600);
}

#[test]
fn malformed_client_files_are_rejected_each_with_its_own_message_and_nothing_is_stored() {
    let h = Harness::new(GOOGLE_SPEC);
    h.expect(5, &["apply", "--env", "test", "--yes"]);
    let good_path = default_client(&h);
    let good = std::fs::read_to_string(&good_path).unwrap();
    let v: serde_json::Value = serde_json::from_str(&good).unwrap();
    let id = v["web"]["client_id"].as_str().unwrap().to_owned();
    let secret = v["web"]["client_secret"].as_str().unwrap().to_owned();
    let store_before = std::fs::read(h.store_file("test")).unwrap();
    let cases: Vec<(String, String)> = vec![
        (good[..good.len() / 2].to_owned(), "not valid JSON".into()),
        (good.replace("\"web\"", "\"installed\""), "installed: this is a Desktop app client".into()),
        ("{\"type\":\"service_account\",\"private_key\":\"k\"}".into(), "this looks like a service account key".into()),
        (good.replace(&id, "12345-abc.example.com"), "web.client_id: \"12345-abc.example.com\" does not end with .apps.googleusercontent.com".into()),
        (good.replace(&secret, ""), "web.client_secret: missing or empty".into()),
        (good.replace("https://agileapps.example.com/oauth/callback", "https://other.example.com/cb"), "web.redirect_uris: the client lacks the spec's redirect URI \"https://agileapps.example.com/oauth/callback\"".into()),
        (good.replace("https://oauth2.googleapis.com/token", "https://attacker.example.com/token"), "web.token_uri: \"https://attacker.example.com/token\" is not Google's token endpoint".into()),
        (good.replace("https://accounts.google.com/o/oauth2/auth", "https://attacker.example.com/auth"), "web.auth_uri: \"https://attacker.example.com/auth\" is not Google's authorization endpoint".into()),
        (good.replace("\"project_id\":\"agileapps-mail-test\"", "\"project_id\":\"someone-else\""), "web.project_id: this client belongs to project \"someone-else\"".into()),
        ("[1, 2]".into(), "(top level): expected a JSON object".into()),
    ];
    for (i, (text, want)) in cases.iter().enumerate() {
        let path = h.dir.path().join(format!("bad{i}.json"));
        std::fs::write(&path, text).unwrap();
        let r = h.expect(
            3,
            &[
                "google",
                "import-client",
                "--env",
                "test",
                path.to_str().unwrap(),
            ],
        );
        assert!(
            r.stderr.contains(want.as_str()),
            "case {i}: want {want:?}\n{}",
            r.stderr
        );
        assert!(
            r.stderr.contains(&format!("bad{i}.json")),
            "case {i} names the file: {}",
            r.stderr
        );
        if !secret.is_empty() {
            assert!(!r.stderr.contains(&secret), "case {i} leaks the secret");
        }
        assert_eq!(
            std::fs::read(h.store_file("test")).unwrap(),
            store_before,
            "case {i}: nothing stored"
        );
    }
    eprintln!("bad client files rejected: {}", cases.len());
}

#[test]
fn a_pasted_client_id_takes_the_secret_from_stdin() {
    use std::io::Write;
    let h = Harness::new(GOOGLE_SPEC);
    h.expect(5, &["apply", "--env", "test", "--yes"]);
    let mut child = h
        .command(&[
            "google",
            "import-client",
            "--env",
            "test",
            "--client-id",
            "123-abc.apps.googleusercontent.com",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"GOCSPX-pasted-canary\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("pasted-canary"));
    let rec = h.record("test");
    assert_eq!(
        rec["google"]["client"]["client_secret"],
        "GOCSPX-pasted-canary"
    );
    assert_eq!(
        rec["google"]["client"]["client_id"],
        "123-abc.apps.googleusercontent.com"
    );
    h.ok(&["apply", "--env", "test", "--yes"]);
}

#[test]
fn destroy_moves_the_project_to_delete_requested_and_undelete_restores_it() {
    let h = Harness::new(GOOGLE_SPEC);
    applied_with_client(&h);
    h.clear();
    let r = h.ok(&["destroy", "--env", "test", "--yes"]);
    assert!(
        r.stdout.contains("- google.project (agileapps-mail-test)"),
        "{}",
        r.stdout
    );
    let l = lines(&h.api_requests());
    assert_eq!(l[0], "GET /v3/projects/agileapps-mail-test");
    assert_eq!(l[1], "DELETE /v3/projects/agileapps-mail-test");
    assert_eq!(
        project(&h, "agileapps-mail-test")["state"],
        "DELETE_REQUESTED"
    );
    // The OAuth client (no API can make it again) is kept while the project can be restored,
    // marked so that nothing renders it.
    let client_id = h.record("test")["google"]["client"]["client_id"].clone();
    assert!(client_id.is_string());
    assert!(h.record("test")["google"]["deleting"].is_string());
    let r = h.expect(3, &["output", "--env", "test"]);
    assert!(
        r.stderr.contains("no credentials on record"),
        "{}",
        r.stderr
    );
    // Destroying again is harmless and sends no write.
    h.clear();
    let r = h.ok(&["destroy", "--env", "test", "--yes"]);
    assert!(
        r.stdout
            .contains("Nothing to destroy: no resource of agileapps-mail (test) exists."),
        "{}",
        r.stdout
    );
    assert!(h.api_requests().iter().all(|r| !r.is_write()));
    assert_eq!(h.record("test")["google"]["client"]["client_id"], client_id);
    // Within 30 days it can be restored, and apply completes without the console step.
    let r = h.ok(&["google", "undelete", "--env", "test"]);
    assert!(
        r.stdout.contains("Project agileapps-mail-test restored"),
        "{}",
        r.stdout
    );
    assert_eq!(project(&h, "agileapps-mail-test")["state"], "ACTIVE");
    let r = h.ok(&["apply", "--env", "test", "--yes"]);
    assert!(!r.stdout.contains("manual step"), "{}", r.stdout);
    let rec = h.record("test");
    assert_eq!(rec["google"]["client"]["client_id"], client_id);
    assert!(rec["google"]["deleting"].is_null());
    h.ok(&["output", "--env", "test"]);
}

#[test]
fn projects_without_mailregs_labels_are_never_touched() {
    let h = Harness::new(GOOGLE_SPEC);
    let now = time::OffsetDateTime::now_utc();
    h.emu.with_state(|s| {
        s.google.insert_project(
            json!({"projectId": "agileapps-mail-test", "displayName": "someone's"}),
            now,
        )
    });
    let r = h.expect(7, &["destroy", "--env", "test", "--yes"]);
    assert!(
        r.stderr
            .contains("project agileapps-mail-test does not carry mailreg's labels"),
        "{}",
        r.stderr
    );
    let r = h.expect(7, &["apply", "--env", "test", "--yes"]);
    assert!(
        r.stderr
            .contains("exists but does not carry mailreg's labels"),
        "{}",
        r.stderr
    );
    assert!(h.api_requests().iter().all(|r| !r.is_write()));
    assert_eq!(project(&h, "agileapps-mail-test")["state"], "ACTIVE");
}

#[test]
fn a_taken_project_id_is_explained() {
    let mut config = EmulatorConfig::default();
    config.google.taken_project_ids = vec!["agileapps-mail-test".into()];
    let h = Harness::with_config(GOOGLE_SPEC, config);
    let r = h.expect(1, &["apply", "--env", "test", "--yes"]);
    assert!(
        r.stderr.contains(
            "project ID \"agileapps-mail-test\" is already taken: project IDs are global"
        ),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("project_id_suffix = \"random\""),
        "{}",
        r.stderr
    );
}

#[test]
fn quota_exhaustion_inside_the_operation_is_a_failure_with_the_reason() {
    let mut config = EmulatorConfig::default();
    config.google.project_quota = Some(0);
    let h = Harness::with_config(GOOGLE_SPEC, config);
    let r = h.expect(1, &["apply", "--env", "test", "--yes"]);
    assert!(r.stderr.contains("operation failed: code 8: The project cannot be created because you have exceeded your allotted project quota."), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("projects pending deletion count against it for 30 days"),
        "{}",
        r.stderr
    );
    assert!(
        h.api_requests().iter().all(|r| !r.path.contains(":enable")),
        "stopped before enabling"
    );
}

#[test]
fn a_slow_operation_is_polled_with_backoff_and_the_noop_operation_never() {
    let mut config = EmulatorConfig::default();
    config.google.operation_polls = 5;
    let h = Harness::with_config(GOOGLE_SPEC, config);
    // The enable is processed but its answer lost: the retry answers the noop operation.
    h.emu
        .inject(Fault::new(FaultKind::DropAfter).on("POST", ":enable"));
    h.expect(5, &["apply", "--env", "test", "--yes"]);
    let reqs = h.api_requests();
    let op_polls = reqs
        .iter()
        .filter(|r| r.path.starts_with("/v3/operations/"))
        .count();
    assert_eq!(op_polls, 6, "5 not-done answers, then done");
    let enables: Vec<u16> = reqs
        .iter()
        .filter(|r| r.path.ends_with(":enable"))
        .map(|r| r.status)
        .collect();
    assert_eq!(enables, [0, 200]);
    assert!(
        reqs.iter().all(|r| !r.path.contains("noop")),
        "the noop operation is never polled"
    );
    assert_eq!(
        h.emu
            .with_state(|s| s.google.enabled_services("agileapps-mail-test")),
        ["gmail.googleapis.com"]
    );
}

#[test]
fn transient_errors_right_after_creation_are_retried() {
    let mut config = EmulatorConfig::default();
    config.google.enable_lag = 3;
    let h = Harness::with_config(GOOGLE_SPEC, config);
    h.expect(5, &["apply", "--env", "test", "--yes"]);
    let enables: Vec<u16> = h
        .api_requests()
        .iter()
        .filter(|r| r.path.ends_with(":enable"))
        .map(|r| r.status)
        .collect();
    assert_eq!(enables, [403, 404, 403, 200]);
}

#[test]
fn a_random_suffix_is_chosen_once_and_found_again() {
    let spec = GOOGLE_SPEC.replace(
        "project_id = \"agileapps-mail-{env}\"",
        "project_id = \"agileapps-{env}\"\nproject_id_suffix = \"random\"",
    );
    let h = Harness::new(&spec);
    h.expect(5, &["apply", "--env", "test", "--yes"]);
    let projects = h.emu.with_state(|s| s.google.projects());
    assert_eq!(projects.len(), 1);
    let id = projects[0]["projectId"].as_str().unwrap().to_owned();
    assert!(
        regex_lite::Regex::new(r"^agileapps-test-[a-z0-9]{4}$")
            .unwrap()
            .is_match(&id),
        "{id}"
    );
    // Found again from the record, and (record lost) by its labels: never a second project.
    h.expect(5, &["apply", "--env", "test", "--yes"]);
    std::fs::remove_file(h.store_file("test")).unwrap();
    h.clear();
    h.expect(5, &["apply", "--env", "test", "--yes"]);
    assert_eq!(lines(&h.api_requests())[0], "GET /v3/projects:search");
    assert_eq!(h.emu.with_state(|s| s.google.projects().len()), 1);
    let file = console_client(&h, &id, &["https://agileapps.example.com/oauth/callback"]);
    h.ok(&[
        "google",
        "import-client",
        "--env",
        "test",
        file.to_str().unwrap(),
    ]);
    h.ok(&["apply", "--env", "test", "--yes"]);
}

#[test]
fn a_service_account_without_parent_is_stopped_before_sending() {
    let mut h = Harness::new(GOOGLE_SPEC);
    let sa = h.dir.path().join("sa.json");
    std::fs::write(&sa, r#"{"type":"service_account","project_id":"p","private_key_id":"k","private_key":"-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n","client_email":"ci@p.iam.gserviceaccount.com","client_id":"1","token_uri":"https://oauth2.googleapis.com/token"}"#).unwrap();
    h.extra_env.push((
        "GOOGLE_APPLICATION_CREDENTIALS".into(),
        sa.display().to_string(),
    ));
    let r = h.expect(3, &["apply", "--env", "test", "--yes"]);
    assert!(
        r.stderr.contains(
            "service accounts cannot create projects without a parent: set google.parent"
        ),
        "{}",
        r.stderr
    );
    assert!(h.api_requests().is_empty());
}

#[test]
fn both_providers_in_one_spec_are_applied_concurrently() {
    let spec = format!(
        "{SPEC}\n{}",
        GOOGLE_SPEC.replace("name = \"agileapps-mail\"\n", "")
    );
    let h = Harness::new(&spec);
    // Hold the Microsoft create for a while: the Google calls go on meanwhile.
    h.emu.inject(
        Fault::new(FaultKind::Delay(std::time::Duration::from_millis(500)))
            .on("PATCH", "uniqueName"),
    );
    h.expect(5, &["apply", "--env", "test", "--yes"]);
    let l = lines(&h.api_requests());
    let create = l
        .iter()
        .position(|x| x.starts_with("PATCH /v1.0/applications("))
        .unwrap();
    let secret = l.iter().position(|x| x.ends_with("/addPassword")).unwrap();
    let google_between = l[create..secret]
        .iter()
        .filter(|x| x.contains("/v3/") || x.contains("/v1/"))
        .count();
    assert!(
        google_between >= 3,
        "Google calls while Microsoft waited: {l:#?}"
    );
    // Microsoft completed even though Google waits for a person.
    let json: serde_json::Value =
        serde_json::from_str(&h.ok(&["output", "--env", "test", "-o", "json"]).stdout).unwrap();
    assert!(json["microsoft"]["client_id"].is_string());
    assert_eq!(json["google"]["project_id"], "agileapps-mail-test");
}

#[test]
fn label_and_name_drift_is_one_masked_patch() {
    let h = Harness::new(GOOGLE_SPEC);
    applied_with_client(&h);
    h.write_spec(&GOOGLE_SPEC.replace(
        "[google]\n",
        "[google]\ndisplay_name = \"AgileApps mail\"\nlabels = { team = \"mail\" }\n",
    ));
    h.clear();
    let plan = h.expect(2, &["plan", "--env", "test", "--detailed-exitcode"]);
    assert!(
        plan.stdout
            .contains("~ google.project (agileapps-mail-test)"),
        "{}",
        plan.stdout
    );
    h.clear();
    h.ok(&["apply", "--env", "test", "--yes"]);
    let reqs = h.api_requests();
    let patch = reqs
        .iter()
        .find(|r| r.method == "PATCH")
        .expect("one PATCH");
    assert_eq!(patch.path, "/v3/projects/agileapps-mail-test");
    assert_eq!(
        patch.query,
        [("updateMask".to_owned(), "displayName,labels".to_owned())]
    );
    assert_eq!(
        patch.body,
        Some(
            json!({"displayName": "AgileApps mail", "labels": {"managed-by": "mailreg", "mailreg-env": "test", "mailreg-name": "agileapps-mail", "team": "mail"}})
        )
    );
    assert_eq!(reqs.iter().filter(|r| r.is_write()).count(), 1);
    assert_eq!(project(&h, "agileapps-mail-test")["labels"]["team"], "mail");
    h.clear();
    h.ok(&["apply", "--env", "test", "--yes"]);
    assert!(h.api_requests().iter().all(|r| !r.is_write()));
}

#[test]
fn a_rejected_google_credential_is_an_auth_failure() {
    let mut h = Harness::new(GOOGLE_SPEC);
    let adc = h.dir.path().join("adc.json");
    std::fs::write(&adc, format!(r#"{{"type":"authorized_user","client_id":"emulator-adc.apps.googleusercontent.com","client_secret":"emulator-adc-secret","refresh_token":"1//revoked-canary","token_uri":"{}/token"}}"#, h.emu.url())).unwrap();
    h.extra_env.push((
        "GOOGLE_APPLICATION_CREDENTIALS".into(),
        adc.display().to_string(),
    ));
    let r = h.expect(4, &["plan", "--env", "test"]);
    assert!(r.stderr.contains("signing in to Google Cloud with authorized_user credentials from GOOGLE_APPLICATION_CREDENTIALS"), "{}", r.stderr);
    assert!(
        !r.stderr.contains("revoked-canary") && !r.stderr.contains("emulator-adc-secret"),
        "{}",
        r.stderr
    );
    assert!(h.api_requests().is_empty());
    // A credentials file that is not JSON names its line.
    std::fs::write(&adc, "{\n  \"type\": \"authorized_user\",\n  oops\n}").unwrap();
    let r = h.expect(3, &["plan", "--env", "test"]);
    assert!(
        r.stderr.contains(
            "adc.json:3:3: not a valid credentials JSON file (GOOGLE_APPLICATION_CREDENTIALS)"
        ),
        "{}",
        r.stderr
    );
}
