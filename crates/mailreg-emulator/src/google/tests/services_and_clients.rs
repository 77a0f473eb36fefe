//! Unit tests of the Google fake: Service Usage, OAuth clients, determinism, routing.

use super::*;

#[test]
fn enable_operation_then_noop_which_must_not_be_polled() {
    let mut s = state(1);
    let token = login(&mut s);
    let done = create_done(&mut s, &token, json!({"projectId": "enable-me-1"}));
    let number = done["response"]["name"]
        .as_str()
        .unwrap()
        .strip_prefix("projects/")
        .unwrap()
        .to_owned();
    let (status, op) = call(
        &mut s,
        "POST",
        "/v1/projects/enable-me-1/services/gmail.googleapis.com:enable",
        &token,
        Some(json!({})),
    );
    assert_eq!(status, 200, "{op}");
    let name = op["name"].as_str().unwrap().to_owned();
    let uuid_part = name
        .strip_prefix(&format!("operations/acf.p2-{number}-"))
        .unwrap();
    assert!(uuid::Uuid::parse_str(uuid_part).is_ok());
    assert!(op.get("done").is_none());
    assert_eq!(
        op["metadata"],
        json!({"@type": T_SU_META, "resourceNames": [format!("services/gmail.googleapis.com/projectSettings/{number}")]})
    );
    // Not enabled until the operation is done.
    assert!(s.enabled_services("enable-me-1").is_empty());
    assert!(
        call(&mut s, "GET", &format!("/v1/{name}"), &token, None)
            .1
            .get("done")
            .is_none()
    );
    let (_, done) = call(&mut s, "GET", &format!("/v1/{name}"), &token, None);
    let service = json!({"name": format!("projects/{number}/services/gmail.googleapis.com"), "parent": format!("projects/{number}"),
                             "state": "ENABLED", "config": {"name": "gmail.googleapis.com", "title": "Gmail API"}});
    assert_eq!(
        done,
        json!({"name": name, "done": true, "response": {"@type": T_ENABLE_RESP, "service": service}})
    );
    assert_eq!(s.enabled_services("enable-me-1"), ["gmail.googleapis.com"]);
    // services.get names by number even when called with the ID.
    assert_eq!(
        call(
            &mut s,
            "GET",
            "/v1/projects/enable-me-1/services/gmail.googleapis.com",
            &token,
            None
        ),
        (200, service.clone())
    );
    let (_, iap) = call(
        &mut s,
        "GET",
        &format!("/v1/projects/{number}/services/iap.googleapis.com"),
        &token,
        None,
    );
    assert_eq!(iap["state"], json!("DISABLED"));
    // Enable again → the synchronous noop operation.
    let (status, noop) = call(
        &mut s,
        "POST",
        &format!("/v1/projects/{number}/services/gmail.googleapis.com:enable"),
        &token,
        Some(json!({})),
    );
    assert_eq!(status, 200);
    assert_eq!(
        noop,
        json!({"name": NOOP_OPERATION, "done": true, "response": {"@type": T_ENABLE_RESP, "service": service}})
    );
    let (status, body) = call(
        &mut s,
        "GET",
        "/v1/operations/noop.DONE_OPERATION",
        &token,
        None,
    );
    assert_eq!(status, 404);
    assert_eq!(body["error"]["status"], json!("NOT_FOUND"));
    // Ops of one API are not found under the other.
    assert_eq!(
        call(&mut s, "GET", &format!("/v3/{name}"), &token, None).0,
        404
    );
}

#[test]
fn enable_lag_gives_transient_errors_then_success() {
    let mut s = GoogleState::new(GoogleConfig {
        enable_lag: 3,
        operation_polls: 0,
        ..GoogleConfig::default()
    });
    let token = login(&mut s);
    create_done(&mut s, &token, json!({"projectId": "laggy-project"}));
    let path = "/v1/projects/laggy-project/services/gmail.googleapis.com:enable";
    let statuses: Vec<(u16, Value)> = (0..3)
        .map(|_| {
            let (st, body) = call(&mut s, "POST", path, &token, Some(json!({})));
            (st, body["error"]["status"].clone())
        })
        .collect();
    assert_eq!(
        statuses,
        [
            (403, json!("PERMISSION_DENIED")),
            (404, json!("NOT_FOUND")),
            (403, json!("PERMISSION_DENIED"))
        ]
    );
    let done = enable_done(&mut s, &token, "laggy-project", "gmail.googleapis.com");
    assert_eq!(done["response"]["service"]["state"], json!("ENABLED"));
    // Seeded projects have no lag.
    s.insert_project(json!({"projectId": "seeded-no-lag"}), NOW);
    assert_eq!(
        call(
            &mut s,
            "POST",
            "/v1/projects/seeded-no-lag/services/gmail.googleapis.com:enable",
            &token,
            Some(json!({}))
        )
        .0,
        200
    );
}

#[test]
fn service_usage_refuses_unknown_deleted_projects_and_services() {
    let mut s = state(0);
    let token = login(&mut s);
    assert_eq!(
        call(
            &mut s,
            "POST",
            "/v1/projects/nobody-here/services/gmail.googleapis.com:enable",
            &token,
            Some(json!({}))
        )
        .0,
        403
    );
    create_done(&mut s, &token, json!({"projectId": "svc-project"}));
    let (status, body) = call(
        &mut s,
        "POST",
        "/v1/projects/svc-project/services/nope.googleapis.com:enable",
        &token,
        Some(json!({})),
    );
    assert_eq!(status, 403);
    assert_eq!(
        body["error"]["details"][0]["reason"],
        json!("SERVICE_CONFIG_NOT_FOUND_OR_PERMISSION_DENIED")
    );
    // Disable of a non-enabled service, then enable + disable.
    assert_eq!(
        call(
            &mut s,
            "POST",
            "/v1/projects/svc-project/services/gmail.googleapis.com:disable",
            &token,
            Some(json!({}))
        )
        .1["error"]["status"],
        json!("FAILED_PRECONDITION")
    );
    enable_done(&mut s, &token, "svc-project", "gmail.googleapis.com");
    let (_, op) = call(
        &mut s,
        "POST",
        "/v1/projects/svc-project/services/gmail.googleapis.com:disable",
        &token,
        Some(json!({"disableDependentServices": true})),
    );
    let (_, done) = call(
        &mut s,
        "GET",
        &format!("/v1/{}", op["name"].as_str().unwrap()),
        &token,
        None,
    );
    assert_eq!(done["response"]["@type"], json!(T_DISABLE_RESP));
    assert!(s.enabled_services("svc-project").is_empty());
    call(&mut s, "DELETE", "/v3/projects/svc-project", &token, None);
    assert_eq!(
        call(
            &mut s,
            "POST",
            "/v1/projects/svc-project/services/gmail.googleapis.com:enable",
            &token,
            Some(json!({}))
        )
        .0,
        403
    );
}

#[test]
fn user_project_header_naming_a_fresh_project_is_refused() {
    let mut s = state(0);
    let token = login(&mut s);
    create_done(&mut s, &token, json!({"projectId": "fresh-project"}));
    let mut req = request(
        "POST",
        "/v1/projects/fresh-project/services/gmail.googleapis.com:enable",
        Some(&token),
        Some(json!({})),
    );
    req.headers
        .push(("x-goog-user-project".into(), "fresh-project".into()));
    let resp = s.handle(&req, NOW).unwrap();
    assert_eq!(resp.status, 403);
    assert_eq!(
        resp.body_json().unwrap()["error"]["details"][0]["reason"],
        json!("SERVICE_DISABLED")
    );
}

#[test]
fn create_oauth_client_shape_and_preconditions() {
    let mut s = state(0);
    let token = login(&mut s);
    let uris = vec![
        "https://mail.example.com/oauth2/callback".to_owned(),
        "https://mail.example.com/other".to_owned(),
    ];
    assert!(s.create_oauth_client("missing-project", &uris).is_err());
    let done = create_done(&mut s, &token, json!({"projectId": "client-project"}));
    let number = done["response"]["name"]
        .as_str()
        .unwrap()
        .strip_prefix("projects/")
        .unwrap()
        .to_owned();
    let err = s.create_oauth_client("client-project", &uris).unwrap_err();
    assert!(err.contains("gmail.googleapis.com"), "{err}");
    enable_done(&mut s, &token, "client-project", "gmail.googleapis.com");
    assert!(
        s.create_oauth_client("client-project", &["http://mail.example.com/cb".to_owned()])
            .is_err()
    );
    let file = s.create_oauth_client("client-project", &uris).unwrap();
    let web = file["web"].as_object().unwrap();
    let client_id = web["client_id"].as_str().unwrap();
    let (prefix, rest) = client_id.split_once('-').unwrap();
    assert_eq!(prefix, number);
    let random = rest.strip_suffix(".apps.googleusercontent.com").unwrap();
    assert_eq!(random.len(), 32);
    assert!(
        random
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    );
    let secret = web["client_secret"].as_str().unwrap();
    assert_eq!(secret.len(), "GOCSPX-".len() + 28);
    assert!(secret.starts_with("GOCSPX-"));
    assert_eq!(web["project_id"], json!("client-project"));
    assert_eq!(
        web["auth_uri"],
        json!("https://accounts.google.com/o/oauth2/auth")
    );
    assert_eq!(
        web["token_uri"],
        json!("https://oauth2.googleapis.com/token")
    );
    assert_eq!(
        web["auth_provider_x509_cert_url"],
        json!("https://www.googleapis.com/oauth2/v1/certs")
    );
    assert_eq!(web["redirect_uris"], json!(uris));
    assert_eq!(
        web["javascript_origins"],
        json!(["https://mail.example.com"])
    );
    assert_eq!(s.oauth_clients(&number), vec![file.clone()]);
    let text = client_file_text(&file);
    assert!(text.starts_with(&format!("{{\"web\":{{\"client_id\":\"{client_id}\",\"project_id\":\"client-project\",\"auth_uri\"")), "{text}");
    assert!(
        text.ends_with("\"javascript_origins\":[\"https://mail.example.com\"]}}"),
        "{text}"
    );
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), file);
    call(
        &mut s,
        "DELETE",
        "/v3/projects/client-project",
        &token,
        None,
    );
    assert!(
        s.create_oauth_client("client-project", &uris)
            .unwrap_err()
            .contains("DELETE_REQUESTED")
    );
}

#[test]
fn same_seed_same_ids() {
    let run = |seed: u64| {
        let mut s = GoogleState::new(GoogleConfig {
            seed,
            operation_polls: 0,
            ..GoogleConfig::default()
        });
        let token = login(&mut s);
        let done = create_done(&mut s, &token, json!({"projectId": "determined-1"}));
        let enable = enable_done(&mut s, &token, "determined-1", "gmail.googleapis.com");
        let client = s.create_oauth_client("determined-1", &[]).unwrap();
        (token, done, enable, client)
    };
    assert_eq!(run(7), run(7));
    assert_ne!(run(7).1["name"], run(8).1["name"]);
}

#[test]
fn access_token_never_contains_the_client_secret() {
    let principal = GooglePrincipal {
        client_id: "c".into(),
        client_secret: "Q".into(),
        refresh_token: "r".into(),
        email: "e@example.com".into(),
    };
    let mut s = GoogleState::new(GoogleConfig {
        principals: vec![principal],
        ..GoogleConfig::default()
    });
    for _ in 0..5 {
        let resp = grant_json(
            &mut s,
            json!({"grant_type": "refresh_token", "client_id": "c", "client_secret": "Q", "refresh_token": "r"}),
        );
        let token = resp.body_json().unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(!token.contains('Q'), "{token}");
    }
}

#[test]
fn routing_claims_only_google_paths() {
    let mut s = state(0);
    let token = login(&mut s);
    assert!(
        s.handle(
            &request("GET", "/v1.0/applications", Some(&token), None),
            NOW
        )
        .is_none()
    );
    assert!(
        s.handle(&request("GET", "/health", None, None), NOW)
            .is_none()
    );
    let (status, body) = call(&mut s, "GET", "/v3/folders/1", &token, None);
    assert_eq!(status, 404);
    assert_eq!(body["error"]["status"], json!("NOT_FOUND"));
    assert_eq!(call(&mut s, "PUT", "/v3/projects/x", &token, None).0, 404);
    assert_eq!(call(&mut s, "GET", "/v1/projects/x", &token, None).0, 404);
    assert_eq!(
        call(&mut s, "GET", "/v3/projects?parent=folders/1", &token, None),
        (200, json!({}))
    );
    assert_eq!(call(&mut s, "GET", "/v3/projects", &token, None).0, 400);
}
