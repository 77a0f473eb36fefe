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
    let number = project(&h, "agileapps-mail-test")["name"].as_str().unwrap().trim_start_matches("projects/").to_owned();
    assert_eq!(l[4], format!("POST /v1/projects/{number}/services/gmail.googleapis.com:enable"));
    assert_eq!(reqs[4].body, Some(json!({})));
    assert!(l[5].starts_with("GET /v1/operations/acf.p2-"), "{l:?}");
    assert_eq!(l[6], l[5]);
    assert_eq!(l.len(), 7, "{l:?}");
    assert_eq!(h.emu.with_state(|s| s.google.enabled_services("agileapps-mail-test")), ["gmail.googleapis.com"]);
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
    assert!(r.stderr.contains("then run: mailreg google import-client -f"), "{}", r.stderr);
    insta::assert_snapshot!("google_manual_step", normalise(out, h.dir.path()));

    // The person does the console steps; import; apply completes with no cloud write.
    let file = console_client(&h, "agileapps-mail-test", &["https://agileapps.example.com/oauth/callback"]);
    let imported = h.ok(&["google", "import-client", "--env", "test", file.to_str().unwrap()]);
    assert!(imported.stdout.starts_with("Imported OAuth client "), "{}", imported.stdout);
    h.clear();
    let r = h.ok(&["apply", "--env", "test", "--yes"]);
    assert!(r.stdout.contains("No changes."), "{}", r.stdout);
    assert!(h.api_requests().iter().all(|r| !r.is_write()), "healthy project: no write");
    assert_eq!(lines(&h.api_requests()).len(), 2, "project get + service get");
    let json: serde_json::Value = serde_json::from_str(&h.ok(&["output", "--env", "test", "-o", "json", "--show-secrets"]).stdout).unwrap();
    let client: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(json["google"]["client_id"], client["web"]["client_id"]);
    assert_eq!(json["google"]["client_secret"]["value"], client["web"]["client_secret"]);
    assert_eq!(json["google"]["authorize_url"], "https://accounts.google.com/o/oauth2/v2/auth");
    assert_eq!(json["google"]["token_url"], "https://oauth2.googleapis.com/token");
    assert_eq!(json["google"]["scopes"], json!(["https://mail.google.com/"]));
    assert_eq!(json["google"]["access_type"], "offline");
    assert_eq!(mode(&h.store_file("test")), 0o600);
}
