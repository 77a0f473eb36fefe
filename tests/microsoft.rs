//! Microsoft side end to end: the real binary against the emulator.

mod common;

use common::*;
use serde_json::json;

fn app_id(h: &Harness) -> (String, String) {
    let apps = h.emu.with_state(|s| s.graph.applications());
    assert_eq!(apps.len(), 1, "exactly one application: {apps:#?}");
    (
        apps[0]["id"].as_str().unwrap().to_owned(),
        apps[0]["appId"].as_str().unwrap().to_owned(),
    )
}

/// The API requests without the read of the tenant's secret-lifetime policy, which a plan that
/// adds a secret sends once, alongside its other reads (tests/safety.rs pins it).
fn without_policy_read(h: &Harness) -> Vec<LoggedRequest> {
    let (policy, rest): (Vec<_>, Vec<_>) = h
        .api_requests()
        .into_iter()
        .partition(|r| r.path == "/v1.0/policies/defaultAppManagementPolicy");
    assert_eq!(policy.len(), 1, "the policy is read once");
    rest
}

#[test]
fn fresh_apply_sends_exactly_the_create_and_the_secret() {
    let h = Harness::new(SPEC);
    let r = h.ok(&["apply", "--env", "test", "--yes"]);
    let reqs = without_policy_read(&h);
    assert_eq!(
        lines(&reqs),
        [
            "GET /v1.0/applications",
            "PATCH /v1.0/applications(uniqueName='mailreg.agileapps-mail.test')",
            &format!("POST /v1.0/applications/{}/addPassword", app_id(&h).0),
        ]
    );
    assert_eq!(
        reqs[0].query,
        [
            ("$filter".to_owned(), "tags/any(t:t eq 'mailreg:id=agileapps-mail.test')".to_owned()),
            ("$select".to_owned(), "id,appId,displayName,signInAudience,api,web,requiredResourceAccess,tags,notes,passwordCredentials,uniqueName,createdDateTime".to_owned()),
        ]
    );
    assert_eq!(
        reqs[1].body,
        Some(json!({
            "displayName": "AgileApps mailbox (test)",
            "signInAudience": "AzureADandPersonalMicrosoftAccount",
            "api": {"requestedAccessTokenVersion": 2},
            "web": {"redirectUris": ["https://agileapps.example.com/oauth/callback"]},
            "requiredResourceAccess": [{
                "resourceAppId": "00000003-0000-0000-c000-000000000000",
                "resourceAccess": [
                    {"id": "652390e4-393a-48de-9484-05f9b1212954", "type": "Scope"},
                    {"id": "d7b7f2d9-0f45-4ea1-9d42-e50810c06991", "type": "Scope"},
                    {"id": "7427e0e9-2fba-42fe-b0c0-848c9e6a8182", "type": "Scope"}
                ]
            }],
            "tags": ["mailreg:managed", "mailreg:id=agileapps-mail.test", "mailreg:name=agileapps-mail", "mailreg:env=test"],
            "notes": "Managed by mailreg (agileapps-mail, environment test). Changes made elsewhere are reverted by `mailreg apply`."
        }))
    );
    let pw = &reqs[2].body.as_ref().unwrap()["passwordCredential"];
    assert!(
        pw["displayName"]
            .as_str()
            .unwrap()
            .starts_with("mailreg test 20"),
        "{pw}"
    );
    let end = time::OffsetDateTime::parse(
        pw["endDateTime"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let days = (end - time::OffsetDateTime::now_utc()).whole_days();
    assert!((179..=180).contains(&days), "secret lifetime {days} days");

    // The secret Value is in the store (0600), never on the terminal.
    let store = h.store_file("test");
    assert_eq!(mode(&store), 0o600);
    let rec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&store).unwrap()).unwrap();
    let value = rec["microsoft"]["secret"]["value"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(value.len() >= 16);
    assert!(!r.stdout.contains(&value) && !r.stderr.contains(&value));
    insta::assert_snapshot!("fresh_apply", normalise(&r.stdout, h.dir.path()));

    // output shows it only when asked.
    let masked = h.ok(&["output", "--env", "test"]);
    assert!(!masked.stdout.contains(&value));
    let shown = h.ok(&["output", "--env", "test", "--show-secrets"]);
    assert!(
        shown.stdout.contains(&format!("client_secret   {value}\n")),
        "{}",
        shown.stdout
    );
    let json: serde_json::Value =
        serde_json::from_str(&h.ok(&["output", "--env", "test", "-o", "json"]).stdout).unwrap();
    assert_eq!(
        json["microsoft"]["client_secret"]["value"],
        serde_json::Value::Null
    );
    assert_eq!(json["microsoft"]["client_id"], json!(app_id(&h).1));
    assert_eq!(
        json["microsoft"]["authorize_url"],
        json!(format!("{}/common/oauth2/v2.0/authorize", h.emu.url()))
    );
    assert_eq!(
        json["microsoft"]["scopes"],
        json!([
            "https://outlook.office.com/IMAP.AccessAsUser.All",
            "https://outlook.office.com/POP.AccessAsUser.All",
            "offline_access"
        ])
    );
}

#[test]
fn reapply_of_an_unchanged_spec_makes_one_read_and_no_write() {
    let h = Harness::new(SPEC);
    h.ok(&["apply", "--env", "test", "--yes"]);
    let store = std::fs::read(h.store_file("test")).unwrap();
    h.clear();
    let r = h.ok(&["apply", "--env", "test", "--yes"]);
    assert_eq!(lines(&h.api_requests()), ["GET /v1.0/applications"]);
    assert!(
        r.stdout
            .contains("No changes. agileapps-mail (test) matches the spec."),
        "{}",
        r.stdout
    );
    assert_eq!(
        std::fs::read(h.store_file("test")).unwrap(),
        store,
        "store untouched"
    );
    // plan --detailed-exitcode: 0 when converged, 2 when not.
    h.expect(0, &["plan", "--env", "test", "--detailed-exitcode"]);
    h.expect(2, &["plan", "--env", "other", "--detailed-exitcode"]);
}

#[test]
fn drift_and_spec_changes_are_one_patch_of_just_those_fields() {
    let h = Harness::new(SPEC);
    h.ok(&["apply", "--env", "test", "--yes"]);
    let (id, _) = app_id(&h);
    // Someone edits the redirect URIs in the portal.
    let r = graph_call(
        &h.emu,
        "PATCH",
        &format!("/v1.0/applications/{id}"),
        Some(json!({"web": {"redirectUris": ["https://evil.example.com/cb"]}})),
    );
    assert_eq!(r.status, 204, "{r}");
    h.clear();
    let plan = h.expect(2, &["plan", "--env", "test", "--detailed-exitcode"]);
    insta::assert_snapshot!("drift_plan", normalise(&plan.stdout, h.dir.path()));
    h.clear();
    h.ok(&["apply", "--env", "test", "--yes"]);
    let reqs = h.api_requests();
    assert_eq!(
        lines(&reqs),
        [
            "GET /v1.0/applications".to_owned(),
            format!("PATCH /v1.0/applications/{id}")
        ]
    );
    assert_eq!(
        reqs[1].body,
        Some(json!({"web": {"redirectUris": ["https://agileapps.example.com/oauth/callback"]}}))
    );

    // A spec change of display name and permissions: one PATCH of those two fields.
    h.write_spec(
        &SPEC
            .replace("AgileApps mailbox ({env})", "Mailbox {env}")
            .replace("\"offline_access\"]", "\"offline_access\", \"SMTP.Send\"]"),
    );
    h.clear();
    let plan = h.ok(&["plan", "--env", "test", "-o", "json"]);
    let plan: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    assert_eq!(
        plan["summary"],
        json!({"add": 0, "change": 1, "destroy": 0})
    );
    assert_eq!(
        plan["changes"][0]["fields"][0],
        json!({"field": "display_name", "before": "AgileApps mailbox (test)", "after": "Mailbox test"})
    );
    h.clear();
    h.ok(&["apply", "--env", "test", "--yes"]);
    let reqs = h.api_requests();
    assert_eq!(reqs.len(), 2);
    let body = reqs[1].body.clone().unwrap();
    assert_eq!(body["displayName"], json!("Mailbox test"));
    assert_eq!(
        body["requiredResourceAccess"][0]["resourceAccess"][3],
        json!({"id": "258f6531-6087-4cc4-bb90-092c5fb3ed3f", "type": "Scope"})
    );
    assert_eq!(
        body.as_object().unwrap().len(),
        2,
        "only the changed fields: {body}"
    );
}

#[test]
fn lost_secret_is_replaced_within_the_two_secret_limit() {
    let h = Harness::new(SPEC);
    h.ok(&["apply", "--env", "test", "--yes"]);
    let (id, _) = app_id(&h);
    // A second mailreg secret whose value is lost too (e.g. a run killed after addPassword).
    let r = graph_call(
        &h.emu,
        "POST",
        &format!("/v1.0/applications/{id}/addPassword"),
        Some(
            json!({"passwordCredential": {"displayName": "mailreg test 2026-01-01T00:00:00Z", "endDateTime": "2027-01-01T00:00:00Z"}}),
        ),
    );
    assert_eq!(r.status, 200, "{r}");
    let before: Vec<String> =
        h.emu.with_state(|s| s.graph.applications())[0]["passwordCredentials"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["keyId"].as_str().unwrap().to_owned())
            .collect();
    assert_eq!(before.len(), 2);
    std::fs::remove_file(h.store_file("test")).unwrap();
    h.clear();
    h.ok(&["apply", "--env", "test", "--yes"]);
    let reqs = without_policy_read(&h);
    assert_eq!(
        lines(&reqs),
        [
            "GET /v1.0/applications".to_owned(),
            format!("POST /v1.0/applications/{id}/removePassword"),
            format!("POST /v1.0/applications/{id}/addPassword"),
            format!("POST /v1.0/applications/{id}/removePassword"),
        ]
    );
    // At the limit the oldest goes first; the other one only after the new secret is stored.
    let removed: Vec<String> = [1, 3]
        .iter()
        .map(|&i| {
            reqs[i].body.as_ref().unwrap()["keyId"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let mut sorted_removed = removed.clone();
    sorted_removed.sort();
    let mut sorted_before = before.clone();
    sorted_before.sort();
    assert_eq!(sorted_removed, sorted_before);
    let after = h.emu.with_state(|s| s.graph.applications())[0]["passwordCredentials"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(after.len(), 1);
    let rec = h.record("test");
    assert_eq!(after[0]["keyId"], rec["microsoft"]["secret"]["key_id"]);
    h.clear();
    h.ok(&["apply", "--env", "test", "--yes"]);
    assert_eq!(h.api_requests().len(), 1, "converged");
}

#[test]
fn destroy_soft_deletes_and_purge_removes_from_deleted_items() {
    let h = Harness::new(SPEC);
    h.ok(&["apply", "--env", "test", "--yes"]);
    let (id, _) = app_id(&h);
    h.clear();
    let r = h.ok(&["destroy", "--env", "test", "--yes"]);
    assert_eq!(
        lines(&h.api_requests()),
        [
            "GET /v1.0/applications".to_owned(),
            format!("DELETE /v1.0/applications/{id}")
        ]
    );
    assert!(
        r.stdout.contains("Destroy complete: 1 destroyed."),
        "{}",
        r.stdout
    );
    assert!(!h.store_file("test").exists(), "credentials record removed");
    assert_eq!(
        h.emu.with_state(|s| (
            s.graph.applications().len(),
            s.graph.deleted_applications().len()
        )),
        (0, 1)
    );
    // --purge finds the soft-deleted one by its tags and purges it.
    h.clear();
    h.ok(&["destroy", "--env", "test", "--yes", "--purge"]);
    // The two reads go together (tests/parallel.rs): their order is the race's.
    let mut sent = lines(&h.api_requests());
    sent[..2].sort();
    assert_eq!(
        sent,
        [
            "GET /v1.0/applications".to_owned(),
            "GET /v1.0/directory/deletedItems/microsoft.graph.application".to_owned(),
            format!("DELETE /v1.0/directory/deletedItems/{id}")
        ]
    );
    assert_eq!(
        h.emu.with_state(|s| (
            s.graph.applications().len(),
            s.graph.deleted_applications().len()
        )),
        (0, 0)
    );
    // Nothing left: destroy again is a no-op.
    let r = h.ok(&["destroy", "--env", "test", "--yes", "--purge"]);
    assert!(r.stdout.contains("Nothing to destroy"), "{}", r.stdout);

    // apply + destroy --purge in one go: delete then purge, three requests.
    h.ok(&["apply", "--env", "test", "--yes"]);
    let (id, _) = app_id(&h);
    h.clear();
    h.ok(&["destroy", "--env", "test", "--yes", "--purge"]);
    assert_eq!(
        lines(&h.api_requests()),
        [
            "GET /v1.0/applications".to_owned(),
            "GET /v1.0/directory/deletedItems/microsoft.graph.application".to_owned(),
            format!("DELETE /v1.0/applications/{id}"),
            format!("DELETE /v1.0/directory/deletedItems/{id}"),
        ]
    );
}

#[test]
fn destroy_never_touches_apps_without_mailregs_tags() {
    let h = Harness::new(SPEC);
    let now = time::OffsetDateTime::now_utc();
    // Same name, no tags: invisible to mailreg.
    h.emu.with_state(|s| {
        s.graph.insert_application(
            json!({"displayName": "AgileApps mailbox (test)", "signInAudience": "AzureADMyOrg"}),
            now,
        )
    });
    let r = h.ok(&["destroy", "--env", "test", "--yes", "--purge"]);
    assert!(r.stdout.contains("Nothing to destroy"), "{}", r.stdout);
    // Carries the lookup tag but not mailreg's other marks: refused, exit 7, nothing deleted.
    h.emu.with_state(|s| s.graph.insert_application(json!({"displayName": "copied", "signInAudience": "AzureADMyOrg", "tags": ["mailreg:id=agileapps-mail.test"]}), now));
    h.clear();
    let r = h.expect(7, &["destroy", "--env", "test", "--yes"]);
    assert!(
        r.stderr
            .contains("carries mailreg:id=agileapps-mail.test but not all of mailreg's tags"),
        "{}",
        r.stderr
    );
    assert!(h.api_requests().iter().all(|r| !r.is_write()));
    assert_eq!(h.emu.with_state(|s| s.graph.applications().len()), 2);
}

#[test]
fn replication_lag_and_throttling_without_retry_after_are_survived() {
    let mut config = EmulatorConfig::default();
    config.graph.replication_lag = 3;
    let h = Harness::with_config(SPEC, config);
    h.emu.inject(
        Fault::new(FaultKind::Throttle(None))
            .on("GET", "/v1.0/applications")
            .times(2),
    );
    h.emu.inject(
        Fault::new(FaultKind::Throttle(Some(1)))
            .on("PATCH", "uniqueName")
            .times(1),
    );
    h.emu.inject(
        Fault::new(FaultKind::Status(503))
            .on("PATCH", "uniqueName")
            .times(1),
    );
    h.ok(&["apply", "--env", "test", "--yes"]);
    let statuses: Vec<(String, u16)> = without_policy_read(&h)
        .iter()
        .map(|r| {
            (
                format!(
                    "{} {}",
                    r.method,
                    r.path.split('/').next_back().unwrap_or("")
                ),
                r.status,
            )
        })
        .collect();
    let (id, _) = app_id(&h);
    let add = format!("POST {id}");
    let _ = add;
    // Two throttled reads, then the read; throttled and 503 upserts, then the create; the new
    // app's secret is refused while it replicates (409 for personal-account apps), then added.
    assert_eq!(
        &statuses[..3].iter().map(|s| s.1).collect::<Vec<_>>(),
        &[429, 429, 200]
    );
    assert_eq!(
        &statuses[3..6].iter().map(|s| s.1).collect::<Vec<_>>(),
        &[429, 503, 201]
    );
    let lagged: Vec<u16> = statuses[6..].iter().map(|s| s.1).collect();
    assert_eq!(lagged, [409, 409, 409, 200], "{statuses:?}");
    h.clear();
    h.ok(&["apply", "--env", "test", "--yes"]);
}

#[test]
fn bad_specs_are_rejected_with_file_and_line_and_nothing_is_sent() {
    let h = Harness::new(&SPEC.replace(
        "https://agileapps.example.com/oauth/callback",
        "http://agileapps.example.com/cb",
    ));
    let r = h.expect(3, &["apply", "--env", "test", "--yes"]);
    assert_eq!(
        r.stderr.trim_end(),
        format!(
            "error: {}:6:18: microsoft.redirect_uris[0]: \"http://agileapps.example.com/cb\" uses plain http; only https is allowed, except for localhost",
            h.spec.display()
        )
    );
    h.write_spec(&SPEC.replace("tenant =", "tennant ="));
    let r = h.expect(3, &["plan", "--env", "test"]);
    assert!(
        r.stderr.contains(
            "mailreg.toml:4:1: microsoft.tennant: unknown key `tennant`; did you mean `tenant`?"
        ),
        "{}",
        r.stderr
    );
    h.write_spec(&SPEC.replace("\"offline_access\"]", "\"offline_access\", \"Mail.Raed\"]"));
    let r = h.expect(3, &["apply", "--env", "test", "--yes"]);
    assert!(r.stderr.contains("mailreg.toml:7:"), "{}", r.stderr);
    assert!(r.stderr.contains("microsoft.permissions[3]: \"Mail.Raed\" is not a delegated permission of Microsoft Graph"), "{}", r.stderr);
    assert!(
        h.api_requests().iter().all(|r| !r.is_write()),
        "no write for a bad spec"
    );
    h.write_spec(&SPEC.replace(
        "name = \"agileapps-mail\"",
        "name = \"agileapps-mail\"\n[[bogus]]",
    ));
    h.expect(3, &["plan", "--env", "test"]);
    h.expect(3, &["plan", "--env", "Bad Env"]);
    h.expect(3, &["plan", "--no-such-flag"]);
    let json = h.expect(3, &["plan", "--env", "test", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["error"]["kind"], "bad_input");
    assert_eq!(v["error"]["exit_code"], 3);
    assert_eq!(
        h.api_requests().len(),
        1,
        "only the read of the plan that resolved Mail.Raed"
    );
}

#[test]
fn wrong_operator_secret_is_an_auth_failure() {
    let mut h = Harness::new(SPEC);
    h.extra_env
        .push(("AZURE_CLIENT_SECRET".into(), "wrong-secret-canary".into()));
    let r = h.expect(4, &["plan", "--env", "test"]);
    assert!(r.stderr.contains("signing in to Microsoft Entra ID with client secret (AZURE_CLIENT_ID + AZURE_CLIENT_SECRET) failed"), "{}", r.stderr);
    assert!(r.stderr.contains("AADSTS7000215"), "{}", r.stderr);
    assert!(!r.stderr.contains("wrong-secret-canary"));
    assert!(h.api_requests().is_empty());
    // And with no credential at all, the error lists what was tried.
    let mut cmd = h.command(&["plan", "--env", "test"]);
    cmd.env_remove("AZURE_CLIENT_SECRET")
        .env_remove("AZURE_CLIENT_ID")
        .env("PATH", "/nonexistent");
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no Microsoft credential is configured"));
}

#[test]
fn an_audience_change_needs_replace() {
    let h = Harness::new(SPEC);
    h.ok(&["apply", "--env", "test", "--yes"]);
    let (old_id, old_client) = app_id(&h);
    h.write_spec(&SPEC.replace(
        "[microsoft]\n",
        "[microsoft]\naudience = \"AzureADMyOrg\"\n",
    ));
    h.clear();
    let r = h.expect(7, &["apply", "--env", "test", "--yes"]);
    assert!(
        r.stderr.contains("microsoft.application must be replaced"),
        "{}",
        r.stderr
    );
    assert!(h.api_requests().iter().all(|r| !r.is_write()));
    h.ok(&["apply", "--env", "test", "--yes", "--replace"]);
    let (new_id, new_client) = app_id(&h);
    assert_ne!((old_id, old_client), (new_id.clone(), new_client.clone()));
    let apps = h.emu.with_state(|s| s.graph.applications());
    assert_eq!(apps[0]["signInAudience"], "AzureADMyOrg");
    let json: serde_json::Value =
        serde_json::from_str(&h.ok(&["output", "--env", "test", "-o", "json"]).stdout).unwrap();
    assert_eq!(json["microsoft"]["client_id"], json!(new_client));
    assert_eq!(
        json["microsoft"]["token_url"],
        json!(format!(
            "{}/contoso.onmicrosoft.com/oauth2/v2.0/token",
            h.emu.url()
        ))
    );
}

#[test]
fn admin_consent_creates_and_removes_the_grant() {
    let h = Harness::new(&SPEC.replace("[microsoft]\n", "[microsoft]\nadmin_consent = true\n"));
    h.ok(&["apply", "--env", "test", "--yes"]);
    let (_, client) = app_id(&h);
    let sps = h.emu.with_state(|s| s.graph.service_principals());
    assert_eq!(sps.len(), 1);
    assert_eq!(sps[0]["appId"], json!(client));
    let grant_req = h
        .api_requests()
        .into_iter()
        .find(|r| r.path == "/v1.0/oauth2PermissionGrants" && r.method == "POST")
        .unwrap();
    let body = grant_req.body.unwrap();
    assert_eq!(body["clientId"], sps[0]["id"]);
    assert_eq!(body["consentType"], "AllPrincipals");
    assert_eq!(body["principalId"], serde_json::Value::Null);
    assert_eq!(
        body["scope"],
        "IMAP.AccessAsUser.All POP.AccessAsUser.All offline_access"
    );
    h.clear();
    h.ok(&["apply", "--env", "test", "--yes"]);
    assert!(h.api_requests().iter().all(|r| !r.is_write()), "converged");
    h.ok(&["destroy", "--env", "test", "--yes", "--purge"]);
    assert!(
        h.emu
            .with_state(|s| s.graph.service_principals().is_empty() && s.graph.grants().is_empty())
    );
}

#[test]
fn confirmation_is_required_without_yes() {
    let h = Harness::new(SPEC);
    let r = h.expect(7, &["apply", "--env", "test"]);
    assert!(r.stderr.contains("pass --yes"), "{}", r.stderr);
    assert!(h.api_requests().iter().all(|r| !r.is_write()));
}

#[test]
fn a_create_whose_answer_was_lost_is_not_duplicated() {
    let h = Harness::new(SPEC);
    // The upsert is processed, then the connection drops: the retry is the same keyed upsert,
    // which answers 204 (it exists) and mailreg finds the app by its tags.
    h.emu
        .inject(Fault::new(FaultKind::DropAfter).on("PATCH", "uniqueName"));
    h.ok(&["apply", "--env", "test", "--yes"]);
    assert_eq!(h.emu.with_state(|s| s.graph.applications().len()), 1);
    let statuses: Vec<u16> = h
        .api_requests()
        .iter()
        .filter(|r| r.path.contains("uniqueName"))
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [0, 204]);
    h.clear();
    h.ok(&["apply", "--env", "test", "--yes"]);
    assert_eq!(h.api_requests().len(), 1, "converged after the lost answer");
}

#[test]
fn a_secret_whose_answer_was_lost_is_retired_on_the_next_run() {
    let h = Harness::new(SPEC);
    h.emu
        .inject(Fault::new(FaultKind::DropAfter).on("POST", "addPassword"));
    let r = h.expect(1, &["apply", "--env", "test", "--yes"]);
    assert!(
        r.stderr.contains("may or may not have been applied"),
        "{}",
        r.stderr
    );
    // addPassword is not idempotent: it was sent once, not repeated.
    assert_eq!(
        h.api_requests()
            .iter()
            .filter(|r| r.path.ends_with("addPassword"))
            .count(),
        1
    );
    let creds = h.emu.with_state(|s| s.graph.applications())[0]["passwordCredentials"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(creds, 1, "the secret exists, its value is lost");
    h.ok(&["apply", "--env", "test", "--yes"]);
    let app = &h.emu.with_state(|s| s.graph.applications())[0];
    let creds = app["passwordCredentials"].as_array().unwrap();
    assert_eq!(creds.len(), 1, "the orphan was retired: {creds:?}");
    let rec = h.record("test");
    assert_eq!(creds[0]["keyId"], rec["microsoft"]["secret"]["key_id"]);
}

#[test]
fn the_request_log_shows_calls_but_never_secrets() {
    let h = Harness::new(SPEC);
    let r = h.ok(&["apply", "--env", "test", "--yes", "-vv"]);
    let rec = h.record("test");
    let secret = rec["microsoft"]["secret"]["value"].as_str().unwrap();
    let operator_secret = h.operator_secret();
    for text in [&r.stdout, &r.stderr] {
        assert!(!text.contains(secret));
        assert!(!text.contains(&operator_secret));
        assert!(!text.contains("Bearer"));
    }
    let log = normalise(&r.stderr, h.dir.path());
    assert!(
        log.contains(
            "microsoft: signing in with client secret (AZURE_CLIENT_ID + AZURE_CLIENT_SECRET)"
        ),
        "{log}"
    );
    assert!(
        log.contains("POST 127.0.0.1:[PORT]/contoso.onmicrosoft.com/oauth2/v2.0/token -> 200"),
        "{log}"
    );
    assert!(
        log.contains("GET 127.0.0.1:[PORT]/v1.0/applications -> 200"),
        "{log}"
    );
    assert!(
        log.contains(
            "PATCH 127.0.0.1:[PORT]/v1.0/applications(uniqueName='mailreg.agileapps-mail.test') -> 201"
        ),
        "{log}"
    );
}

#[test]
fn national_clouds_use_their_authority_and_organizations_endpoints() {
    let spec = SPEC.replace(
        "[microsoft]\n",
        "[microsoft]\ncloud = \"usgov\"\naudience = \"AzureADMultipleOrgs\"\n",
    );
    let h = Harness::new(&spec);
    h.ok(&["apply", "--env", "test", "--yes"]);
    let json: serde_json::Value =
        serde_json::from_str(&h.ok(&["output", "--env", "test", "-o", "json"]).stdout).unwrap();
    assert_eq!(
        json["microsoft"]["token_url"],
        json!(format!("{}/organizations/oauth2/v2.0/token", h.emu.url()))
    );
    assert_eq!(
        h.emu.with_state(|s| s.graph.applications())[0]["signInAudience"],
        "AzureADMultipleOrgs"
    );
    let personal = SPEC.replace("[microsoft]\n", "[microsoft]\ncloud = \"china\"\n");
    h.write_spec(&personal);
    let r = h.expect(3, &["plan", "--env", "test"]);
    assert!(
        r.stderr
            .contains("AzureADandPersonalMicrosoftAccount is not supported in national clouds"),
        "{}",
        r.stderr
    );
}

#[test]
fn http_endpoints_are_refused_unless_loopback() {
    let mut h = Harness::new(SPEC);
    h.extra_env.push((
        "MAILREG_GRAPH_URL".into(),
        "http://graph.example.com".into(),
    ));
    let r = h.expect(3, &["plan", "--env", "test"]);
    assert!(
        r.stderr
            .contains("MAILREG_GRAPH_URL: http://graph.example.com/ uses plain http"),
        "{}",
        r.stderr
    );
}

#[test]
fn the_emulator_command_serves_and_prints_its_environment() {
    use std::io::{BufRead, BufReader};
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_mailreg"))
        .args(["emulator", "--port", "0", "--latency-ms", "5"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let url = first
        .strip_prefix("mailreg emulator listening on ")
        .unwrap()
        .to_owned();
    let mut exports = Vec::new();
    for line in lines.by_ref().take(8) {
        let line = line.unwrap();
        if let Some(kv) = line.trim().strip_prefix("export ") {
            exports.push(kv.to_owned());
        }
    }
    assert!(
        exports.contains(&format!("MAILREG_GRAPH_URL={url}")),
        "{exports:?}"
    );
    assert!(exports.iter().any(|e| e.starts_with("AZURE_CLIENT_ID=")));
    // A full run against it, as a pipeline rehearsal would.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("mailreg.toml"), SPEC).unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_mailreg"));
    cmd.args(["apply", "--env", "ci", "--yes", "-o", "json"])
        .current_dir(dir.path())
        .env("MAILREG_TIME_SCALE", "0.001");
    for kv in &exports {
        let (k, v) = kv.split_once('=').unwrap();
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    child.kill().unwrap();
    let _ = child.wait();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["applied"], true);
    assert_eq!(
        v["plan"]["summary"],
        json!({"add": 2, "change": 0, "destroy": 0})
    );
    assert_eq!(
        mode(&dir.path().join(".mailreg/agileapps-mail.ci.json")),
        0o600
    );
}
