//! The benchmark's pure logic (`benches/mailreg/bound.rs`): no timing, no emulator.

#[path = "../benches/mailreg/bound.rs"]
mod bound;

use bound::*;

fn google_fresh_apply() -> Vec<Req> {
    vec![
        Req::new("POST", "/token", 0.0),
        Req::new("GET", "/v3/projects/p", 0.1),
        Req::new("POST", "/v3/projects", 0.2),
        Req::new("GET", "/v3/operations/cp.1", 1.3),
        Req::new("GET", "/v3/operations/cp.1", 2.1),
        Req::new(
            "POST",
            "/v1/projects/1/services/gmail.googleapis.com:enable",
            2.2,
        ),
        Req::new("GET", "/v1/operations/acf.p2-1-x", 3.3),
    ]
}

#[test]
fn requests_are_attributed_to_their_cloud() {
    assert_eq!(cloud_of("/v1.0/applications"), Some(Cloud::Microsoft));
    assert_eq!(
        cloud_of("/contoso.onmicrosoft.com/oauth2/v2.0/token"),
        Some(Cloud::Microsoft)
    );
    assert_eq!(cloud_of("/token"), Some(Cloud::Google));
    assert_eq!(cloud_of("/v3/projects/x"), Some(Cloud::Google));
    assert_eq!(cloud_of("/v1/operations/acf.p2-1"), Some(Cloud::Google));
    assert_eq!(cloud_of("/elsewhere"), None);
}

#[test]
fn polls_are_classified_and_only_the_done_one_is_on_the_critical_path() {
    let s = steps(&google_fresh_apply(), 0.0);
    assert_eq!(
        s,
        [
            Step::Plain,
            Step::Plain,
            Step::StartsOperation,
            Step::Poll { done: false },
            Step::Poll { done: true },
            Step::StartsOperation,
            Step::Poll { done: true },
        ]
    );
    // token, get, create (op starts at 0.2, answered 0.3), done poll at 0.2 + 1.0 = 1.2
    // (answered 1.3), enable at 1.3 (op done at 2.3), poll answered 2.4.
    let b = chain_bound(&s, 0.1, 1.0);
    assert!((b - 2.4).abs() < 1e-9, "{b}");
    // An operation shorter than a round trip: the poll still waits for the answer naming it.
    let b = chain_bound(&s, 0.1, 0.0);
    assert!((b - 0.6).abs() < 1e-9, "{b}");
}

#[test]
fn the_run_bound_is_the_longer_of_the_concurrent_clouds() {
    let mut reqs = google_fresh_apply();
    reqs.extend([
        Req::new("POST", "/t/oauth2/v2.0/token", 0.0),
        Req::new("GET", "/v1.0/applications", 0.1),
        Req::new("PATCH", "/v1.0/applications(uniqueName='x')", 0.2),
        Req::new("POST", "/v1.0/applications/1/addPassword", 0.3),
    ]);
    let ms = chain_bound(&steps(&of_cloud(&reqs, Cloud::Microsoft), 0.1), 0.1, 5.0);
    assert!(
        (ms - 0.4).abs() < 1e-9,
        "Graph writes start no operation: {ms}"
    );
    assert!((run_bound(&reqs, 0.1, 1.0) - 2.4).abs() < 1e-9);
    assert!((run_bound(&reqs, 1.0, 0.0) - 6.0).abs() < 1e-9);
}

#[test]
fn operations_are_timed_from_the_request_that_started_them() {
    let ops = operations(&google_fresh_apply());
    assert_eq!(ops.len(), 2);
    assert_eq!(ops[0].started_by, "POST /v3/projects");
    assert_eq!(ops[0].polls, 2);
    assert!((ops[0].observed_after - 1.9).abs() < 1e-9);
    assert!((ops[0].overshoot(1.5) - 0.4).abs() < 1e-9);
    assert_eq!(ops[1].polls, 1);
    assert!(overlapping(&google_fresh_apply(), 0.1) == 0);
    assert_eq!(
        overlapping(
            &[Req::new("GET", "/a", 0.0), Req::new("GET", "/b", 0.01)],
            0.1
        ),
        1
    );
}

#[test]
fn poll_target_and_median() {
    assert!((poll_target(1.0, 1.0) - 3.0).abs() < 1e-9);
    assert!((poll_target(32.0, 1.0) - 8.0).abs() < 1e-9);
    assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
    assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
}

#[test]
fn requests_sent_together_share_a_round_trip_and_add_nothing_to_the_bound() {
    // destroy --purge at 100 ms: token, two reads together, then two deletes in a chain.
    let reqs = vec![
        Req::new("POST", "/contoso/oauth2/v2.0/token", 0.0),
        Req::new("GET", "/v1.0/applications", 0.1),
        Req::new(
            "GET",
            "/v1.0/directory/deletedItems/microsoft.graph.application",
            0.102,
        ),
        Req::new("DELETE", "/v1.0/applications/x", 0.2),
        Req::new("DELETE", "/v1.0/directory/deletedItems/x", 0.3),
    ];
    assert_eq!(
        steps(&reqs, 0.1),
        vec![
            Step::Plain,
            Step::Plain,
            Step::Concurrent,
            Step::Plain,
            Step::Plain
        ]
    );
    assert_eq!(round_trips(&reqs, 0.1), 3);
    assert!((chain_bound(&steps(&reqs, 0.1), 0.1, 0.0) - 0.4).abs() < 1e-9);
    assert!((run_bound_recorded(&reqs, 0.1, 0.0) - 0.4).abs() < 1e-9);
    assert!(
        (run_bound(&reqs, 0.1, 0.0) - 0.5).abs() < 1e-9,
        "the sequential model"
    );
    // Without latency nothing is concurrent: every request is its own round trip.
    assert_eq!(round_trips(&reqs, 0.0), 4);
}
