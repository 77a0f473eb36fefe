//! The CLI as a whole: status, help, completions, JSON document shapes.

mod common;

use common::*;

#[test]
fn status_lists_resources_expiry_and_warns_about_secrets_expiring_soon() {
    let spec = SPEC.replace("[microsoft]\n", "[microsoft]\nsecret_lifetime_days = 20\n");
    let h = Harness::new(&spec);
    let r = h.ok(&["status", "--env", "test"]);
    assert!(r.stdout.contains("application     -                                        absent"), "{}", r.stdout);
    assert!(r.stdout.contains("Pending: 2 to add"), "{}", r.stdout);
    h.ok(&["apply", "--env", "test", "--yes"]);
    h.clear();
    let r = h.ok(&["status", "--env", "test"]);
    assert!(h.api_requests().iter().all(|r| !r.is_write()));
    assert_eq!(h.api_requests().len(), 1, "status reads once");
    let text = normalise(&r.stdout, h.dir.path());
    assert!(text.contains("No pending changes."), "{text}");
    assert!(text.contains("  client_secret   [GUID]     active  expires [DATE]  (value on record)  \"mailreg test [DATE]\""), "{text}");
    assert!(text.contains("Warnings:\n  - microsoft: the client secret on record ([GUID]) expires in 19 days ([DATE]): mailboxes using it stop signing in then"), "{text}");
    let v: serde_json::Value = serde_json::from_str(&h.ok(&["status", "--env", "test", "-o", "json"]).stdout).unwrap();
    assert_eq!(v["providers"][0]["resources"][1]["details"]["value_on_record"], true);
    assert_eq!(v["pending_changes"], serde_json::json!({"add": 0, "change": 0, "destroy": 0}));
    assert_eq!(v["providers"][0]["warnings"].as_array().unwrap().len(), 1);
}
