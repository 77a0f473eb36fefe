//! Unit tests of the Graph fake: write throttling, deterministic ids, the $filter parser.

use super::*;

#[test]
fn write_throttling_with_retry_after() {
    let mut h = H::with(GraphConfig {
        write_limit: Some((3, Duration::seconds(60))),
        ..Default::default()
    });
    for i in 0..3 {
        h.now = T0 + Duration::seconds(i);
        h.personal_app(&format!("p{i}"));
    }
    h.now = T0 + Duration::seconds(3);
    let body = json!({"displayName": "p3", "signInAudience": PERSONAL, "api": {"requestedAccessTokenVersion": 2}});
    let r = h.post("/v1.0/applications", body.clone());
    assert_eq!(r.status, 429);
    assert_eq!(hdr(&r, "retry-after"), Some("57"));
    assert_eq!(
        hdr(&r, "x-ms-throttle-scope"),
        Some(
            format!(
                "Tenant_Application/ReadWrite/{}",
                GraphConfig::default().tenant_id
            )
            .as_str()
        )
    );
    assert_eq!(
        hdr(&r, "x-ms-throttle-information"),
        Some("WriteLimitExceeded")
    );
    let b = r.body_json().unwrap();
    assert_eq!(
        b,
        json!({"error": {
            "code": "TooManyRequests",
            "innerError": {"code": "429", "date": "2025-03-01T12:00:03", "message": "Please retry after",
                           "request-id": hdr(&r, "request-id").unwrap(), "status": "429"},
            "message": "Please retry again later."
        }})
    );
    // Org apps are not counted; PATCH of a personal app is.
    h.create(json!({"displayName": "org"}));
    let p0 = h.st.applications()[0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        h.patch(&format!("/v1.0/applications/{p0}"), json!({"notes": "n"}))
            .status,
        429
    );
    // A slot frees when the first write leaves the window.
    h.now = T0 + Duration::seconds(60);
    assert_eq!(h.post("/v1.0/applications", body.clone()).status, 201);
    let r = h.post("/v1.0/applications", body);
    assert_eq!(r.status, 429);
    assert_eq!(hdr(&r, "retry-after"), Some("1"));
}

// ---- determinism ----

#[test]
fn same_seed_same_ids() {
    fn run(seed: u64) -> (String, Value, Value, String) {
        let mut h = H::with(GraphConfig {
            seed,
            ..Default::default()
        });
        let app = h.personal_app("d");
        let k = h
            .post(
                &format!(
                    "/v1.0/applications/{}/addPassword",
                    app["id"].as_str().unwrap()
                ),
                json!({}),
            )
            .body_json()
            .unwrap();
        let r = h.get("/v1.0/applications", &[]);
        (
            h.token.clone(),
            app,
            k,
            hdr(&r, "request-id").unwrap().to_string(),
        )
    }
    assert_eq!(run(7), run(7));
    let (t1, a1, k1, _) = run(7);
    let (t2, a2, k2, _) = run(8);
    assert_ne!(t1, t2);
    assert_ne!(a1["id"], a2["id"]);
    assert_ne!(k1["secretText"], k2["secretText"]);
}

#[test]
fn filter_parser() {
    assert_eq!(
        parse_filter_syntax("tags/any(t:t eq 'it''s')"),
        Some(Filter::Any("tags".into(), "it's".into()))
    );
    assert_eq!(
        parse_filter_syntax("startsWith(displayName, 'a b')"),
        Some(Filter::StartsWith("displayName".into(), "a b".into()))
    );
    assert_eq!(
        parse_filter_syntax("appId eq 'x'"),
        Some(Filter::Eq("appId".into(), "x".into()))
    );
    assert_eq!(
        parse_filter_syntax("appId eq 'x' and displayName eq 'y'"),
        None
    );
    assert_eq!(parse_filter_syntax("tags/any(t:s eq 'x')"), None);
    assert_eq!(
        split_segment("applications(uniqueName='a=b')"),
        Some(("applications", Some(("uniqueName".into(), "a=b".into()))))
    );
}
