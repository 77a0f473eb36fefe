//! Independent reads go out together (issue #10): requests counted in round trips.
//!
//! Every answer of the emulator is delayed by [`LATENCY`], so requests that one waits for the
//! other arrive at least that far apart, while requests sent together arrive within
//! milliseconds. A "round trip" is a wave of requests that arrived within half the latency of
//! the wave's first one. This is a happens-before check, not a speed measurement: a chain of
//! dependent requests cannot arrive closer together than the latency, whatever the machine.

mod common;

use std::time::Duration;

use common::*;

const LATENCY: Duration = Duration::from_millis(500);

fn slow(spec: &str) -> Harness {
    let config = EmulatorConfig {
        latency: Some(LATENCY),
        ..Default::default()
    };
    Harness::with_config(spec, config)
}

/// The API requests of the last command, grouped into round trips (`METHOD path` each, sorted
/// within a wave so the assertion does not depend on which of two parallel requests won).
fn waves(h: &Harness) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = Vec::new();
    let mut start = None;
    for r in h.api_requests() {
        let line = format!("{} {}", r.method, r.path);
        match start {
            Some(t) if r.at - t < LATENCY / 2 => out.last_mut().expect("a wave").push(line),
            _ => {
                start = Some(r.at);
                out.push(vec![line]);
            }
        }
    }
    for w in &mut out {
        w.sort();
    }
    out
}

#[test]
fn microsoft_destroy_purge_reads_the_app_and_deleted_items_together() {
    let h = slow(SPEC);
    h.ok(&["apply", "--env", "test", "--yes"]);
    let object_id = h.record("test")["microsoft"]["object_id"]
        .as_str()
        .unwrap()
        .to_owned();
    h.clear();
    h.ok(&["destroy", "--env", "test", "--yes", "--purge"]);
    assert_eq!(
        waves(&h),
        vec![
            vec![
                "GET /v1.0/applications".to_owned(),
                "GET /v1.0/directory/deletedItems/microsoft.graph.application".to_owned(),
            ],
            vec![format!("DELETE /v1.0/applications/{object_id}")],
            vec![format!("DELETE /v1.0/directory/deletedItems/{object_id}")],
        ]
    );
}

#[test]
fn microsoft_fresh_apply_is_three_round_trips_and_a_no_op_one() {
    let h = slow(SPEC);
    h.ok(&["apply", "--env", "test", "--yes"]);
    let w = waves(&h);
    assert_eq!(w.len(), 3, "{w:?}");
    assert_eq!(w[0], vec!["GET /v1.0/applications".to_owned()]);
    h.clear();
    h.ok(&["apply", "--env", "test", "--yes"]);
    assert_eq!(waves(&h), vec![vec!["GET /v1.0/applications".to_owned()]]);
}

#[test]
fn microsoft_admin_consent_no_op_reads_the_app_and_graph_together() {
    let h = slow(&SPEC.replace("[microsoft]\n", "[microsoft]\nadmin_consent = true\n"));
    h.ok(&["apply", "--env", "test", "--yes"]);
    h.clear();
    h.ok(&["apply", "--env", "test", "--yes"]);
    let w = waves(&h);
    assert!(h.api_requests().iter().all(|r| !r.is_write()), "no-op");
    // The app and Graph's service principal together; then the app's service principal
    // (needs the app's client ID); then its grant (needs the service principal's ID).
    assert_eq!(w.len(), 3, "{w:?}");
    assert_eq!(
        w[0],
        vec![
            "GET /v1.0/applications".to_owned(),
            "GET /v1.0/servicePrincipals(appId='00000003-0000-0000-c000-000000000000')".to_owned()
        ]
    );
}

#[test]
fn google_no_op_reads_the_project_and_the_gmail_api_together() {
    let h = slow(GOOGLE_SPEC);
    applied_with_client(&h);
    h.clear();
    h.ok(&["apply", "--env", "test", "--yes"]);
    assert_eq!(
        waves(&h),
        vec![vec![
            "GET /v1/projects/agileapps-mail-test/services/gmail.googleapis.com".to_owned(),
            "GET /v3/projects/agileapps-mail-test".to_owned(),
        ]]
    );
}

#[test]
fn google_first_apply_does_not_read_the_service_of_a_project_that_does_not_exist() {
    let h = Harness::new(GOOGLE_SPEC);
    h.expect(5, &["apply", "--env", "test", "--yes"]);
    let reads: Vec<String> = lines(&h.api_requests())
        .into_iter()
        .filter(|l| l.starts_with("GET /v1/projects/"))
        .collect();
    assert!(reads.is_empty(), "{reads:?}");
}
