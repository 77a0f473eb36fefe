//! Unit tests of the Google fake (requests in, answers out, no server).

use super::*;
use time::macros::datetime;

const NOW: OffsetDateTime = datetime!(2026-11-28 20:00 UTC);

fn request(method: &str, target: &str, token: Option<&str>, body: Option<Value>) -> EmuRequest {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut headers = Vec::new();
    if let Some(t) = token {
        headers.push(("authorization".to_owned(), format!("Bearer {t}")));
    }
    if body.is_some() {
        headers.push(("content-type".to_owned(), "application/json".to_owned()));
    }
    EmuRequest {
        method: method.into(),
        path: path.into(),
        query: url::form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect(),
        headers,
        body: body.map(|b| b.to_string().into_bytes()).unwrap_or_default(),
    }
}

fn call(
    s: &mut GoogleState,
    method: &str,
    target: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let resp = s
        .handle(&request(method, target, Some(token), body), NOW)
        .expect("google path");
    (resp.status, resp.body_json().unwrap_or(Value::Null))
}

fn grant_json(s: &mut GoogleState, body: Value) -> EmuResponse {
    s.handle(&request("POST", "/token", None, Some(body)), NOW)
        .unwrap()
}

fn login(s: &mut GoogleState) -> String {
    let resp = grant_json(
        s,
        json!({"grant_type": "refresh_token", "client_id": "emulator-adc.apps.googleusercontent.com",
                   "client_secret": "emulator-adc-secret", "refresh_token": "1//emulator-refresh"}),
    );
    assert_eq!(resp.status, 200, "{resp}");
    resp.body_json().unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn state(polls: u32) -> GoogleState {
    GoogleState::new(GoogleConfig {
        operation_polls: polls,
        ..GoogleConfig::default()
    })
}

fn jwt(claims: Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{payload}.c2lnbmF0dXJl")
}

/// Creates a project and polls its operation to completion; returns the done operation.
fn create_done(s: &mut GoogleState, token: &str, body: Value) -> Value {
    let (status, op) = call(s, "POST", "/v3/projects", token, Some(body));
    assert_eq!(status, 200, "{op}");
    let name = op["name"].as_str().unwrap().to_owned();
    for _ in 0..20 {
        let (status, op) = call(s, "GET", &format!("/v3/{name}"), token, None);
        assert_eq!(status, 200);
        if op["done"] == json!(true) {
            return op;
        }
    }
    panic!("operation never finished");
}

fn enable_done(s: &mut GoogleState, token: &str, project: &str, svc: &str) -> Value {
    let (status, op) = call(
        s,
        "POST",
        &format!("/v1/projects/{project}/services/{svc}:enable"),
        token,
        Some(json!({})),
    );
    assert_eq!(status, 200, "{op}");
    let name = op["name"].as_str().unwrap().to_owned();
    for _ in 0..20 {
        let (_, op) = call(s, "GET", &format!("/v1/{name}"), token, None);
        if op["done"] == json!(true) {
            return op;
        }
    }
    panic!("enable never finished");
}

#[test]
fn operation_duration_finishes_operations_by_time_not_by_count() {
    let mut s = GoogleState::new(GoogleConfig {
        operation_polls: 0,
        operation_duration: Some(Duration::seconds(5)),
        ..GoogleConfig::default()
    });
    let token = login(&mut s);
    let body = json!({"projectId": "timed-project"});
    let (status, op) = call(&mut s, "POST", "/v3/projects", &token, Some(body));
    assert_eq!((status, &op["done"]), (200, &Value::Null), "{op}");
    let path = format!("/v3/{}", op["name"].as_str().unwrap());
    let poll = |s: &mut GoogleState, at: OffsetDateTime| {
        let resp = s
            .handle(&request("GET", &path, Some(&token), None), at)
            .unwrap();
        resp.body_json().unwrap()["done"] == json!(true)
    };
    // Any number of polls before 5 s: not done (operation_polls = 0 is ignored).
    for ms in [0, 1000, 4999] {
        assert!(!poll(&mut s, NOW + Duration::milliseconds(ms)), "{ms} ms");
    }
    assert!(poll(&mut s, NOW + Duration::seconds(5)));
    assert!(poll(&mut s, NOW + Duration::seconds(6)), "stays done");
}

#[test]
fn json_token_grant_returns_bearer_token_without_secret() {
    let mut s = state(0);
    let resp = grant_json(
        &mut s,
        json!({"grant_type": "refresh_token", "client_id": "emulator-adc.apps.googleusercontent.com",
                   "client_secret": "emulator-adc-secret", "refresh_token": "1//emulator-refresh"}),
    );
    assert_eq!(resp.status, 200);
    let body = resp.body_json().unwrap();
    let token = body["access_token"].as_str().unwrap();
    assert!(token.starts_with("ya29."));
    assert!(!token.contains("emulator-adc-secret"));
    assert_eq!(body["expires_in"], json!(3599));
    assert_eq!(body["scope"], json!(CLOUD_PLATFORM_SCOPE));
    assert_eq!(body["token_type"], json!("Bearer"));
    let (status, _) = call(&mut s, "GET", "/v3/projects:search", token, None);
    assert_eq!(status, 200);
}

#[test]
fn form_token_grant_works_too() {
    let mut s = state(0);
    let req = EmuRequest {
            method: "POST".into(),
            path: "/token".into(),
            headers: vec![("content-type".into(), "application/x-www-form-urlencoded".into())],
            body: b"grant_type=refresh_token&client_id=emulator-adc.apps.googleusercontent.com&client_secret=emulator-adc-secret&refresh_token=1%2F%2Femulator-refresh".to_vec(),
            ..EmuRequest::default()
        };
    let resp = s.handle(&req, NOW).unwrap();
    assert_eq!(resp.status, 200, "{resp}");
    assert!(
        resp.body_json().unwrap()["access_token"]
            .as_str()
            .unwrap()
            .starts_with("ya29.")
    );
}

#[test]
fn bad_client_and_bad_refresh_token_are_refused() {
    let mut s = state(0);
    let unknown = grant_json(
        &mut s,
        json!({"grant_type": "refresh_token", "client_id": "nope.apps.googleusercontent.com",
                   "client_secret": "emulator-adc-secret", "refresh_token": "1//emulator-refresh"}),
    );
    assert_eq!(unknown.status, 401);
    assert_eq!(
        unknown.body_json().unwrap(),
        json!({"error": "invalid_client", "error_description": "The OAuth client was not found."})
    );
    let wrong_secret = grant_json(
        &mut s,
        json!({"grant_type": "refresh_token", "client_id": "emulator-adc.apps.googleusercontent.com",
                   "client_secret": "wrong", "refresh_token": "1//emulator-refresh"}),
    );
    assert_eq!(wrong_secret.status, 401);
    assert_eq!(
        wrong_secret.body_json().unwrap()["error"],
        json!("invalid_client")
    );
    let bad_refresh = grant_json(
        &mut s,
        json!({"grant_type": "refresh_token", "client_id": "emulator-adc.apps.googleusercontent.com",
                   "client_secret": "emulator-adc-secret", "refresh_token": "1//stolen"}),
    );
    assert_eq!(bad_refresh.status, 400);
    assert_eq!(
        bad_refresh.body_json().unwrap(),
        json!({"error": "invalid_grant", "error_description": "Bad Request"})
    );
}

#[test]
fn metadata_token_needs_the_header_and_belongs_to_a_service_account() {
    let mut s = state(0);
    let path = "/computeMetadata/v1/instance/service-accounts/default/token";
    let without = s.handle(&request("GET", path, None, None), NOW).unwrap();
    assert_eq!(without.status, 403);
    let mut req = request("GET", path, None, None);
    req.headers
        .push(("metadata-flavor".into(), "Google".into()));
    let resp = s.handle(&req, NOW).unwrap();
    assert_eq!(resp.status, 200);
    let body = resp.body_json().unwrap();
    assert_eq!(body["token_type"], json!("Bearer"));
    assert!(body["expires_in"].as_i64().unwrap() > 0);
    let token = body["access_token"].as_str().unwrap().to_owned();

    let mut email = request(
        "GET",
        "/computeMetadata/v1/instance/service-accounts/default/email",
        None,
        None,
    );
    email
        .headers
        .push(("metadata-flavor".into(), "Google".into()));
    let resp = s.handle(&email, NOW).unwrap();
    assert_eq!(
        String::from_utf8(resp.body).unwrap(),
        METADATA_SERVICE_ACCOUNT
    );

    // A service-account caller needs a parent.
    let (status, body) = call(
        &mut s,
        "POST",
        "/v3/projects",
        &token,
        Some(json!({"projectId": "sa-project-1"})),
    );
    assert_eq!(status, 400);
    assert_eq!(body["error"]["message"], json!(SA_WITHOUT_PARENT_MESSAGE));
}

#[test]
fn missing_unknown_and_expired_tokens_are_401() {
    let mut s = state(0);
    let expected = json!({"error": {"code": 401, "message": UNAUTHENTICATED_MESSAGE, "status": "UNAUTHENTICATED"}});
    let resp = s
        .handle(&request("GET", "/v3/projects/x", None, None), NOW)
        .unwrap();
    assert_eq!(
        (resp.status, resp.body_json().unwrap()),
        (401, expected.clone())
    );
    assert_eq!(
        call(
            &mut s,
            "GET",
            "/v1/projects/x/services/gmail.googleapis.com",
            "ya29.forged",
            None
        ),
        (401, expected.clone())
    );

    let token = login(&mut s);
    // Expired by time.
    let later = NOW + Duration::seconds(3600);
    let resp = s
        .handle(
            &request("GET", "/v3/projects:search", Some(&token), None),
            later,
        )
        .unwrap();
    assert_eq!(resp.status, 401);
    // Still valid now, then expired by expire_tokens().
    assert_eq!(
        call(&mut s, "GET", "/v3/projects:search", &token, None).0,
        200
    );
    s.expire_tokens();
    assert_eq!(
        call(&mut s, "GET", "/v3/projects:search", &token, None),
        (401, expected)
    );
}

#[test]
fn jwt_caller_needs_a_parent() {
    let mut s = state(0);
    let sa = "deployer@ci-project.iam.gserviceaccount.com";
    let token = jwt(
        json!({"iss": sa, "sub": sa, "aud": "https://cloudresourcemanager.googleapis.com/", "iat": NOW.unix_timestamp(), "exp": NOW.unix_timestamp() + 3600}),
    );
    let (status, body) = call(
        &mut s,
        "POST",
        "/v3/projects",
        &token,
        Some(json!({"projectId": "jwt-project-1"})),
    );
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["status"], json!("INVALID_ARGUMENT"));
    assert_eq!(body["error"]["message"], json!(SA_WITHOUT_PARENT_MESSAGE));
    let done = create_done(
        &mut s,
        &token,
        json!({"projectId": "jwt-project-1", "parent": "folders/123456789"}),
    );
    assert_eq!(done["response"]["parent"], json!("folders/123456789"));
    // The project belongs to the service account, not to the user.
    let user = login(&mut s);
    assert_eq!(
        call(&mut s, "GET", "/v3/projects/jwt-project-1", &user, None).0,
        403
    );
    assert_eq!(
        call(&mut s, "GET", "/v3/projects/jwt-project-1", &token, None).0,
        200
    );
    // An expired JWT is refused.
    let old = jwt(json!({"iss": sa, "sub": sa, "exp": NOW.unix_timestamp() - 1}));
    assert_eq!(
        call(&mut s, "GET", "/v3/projects/jwt-project-1", &old, None).0,
        401
    );
}

#[test]
fn create_operation_finishes_after_the_configured_polls() {
    let mut s = state(2);
    let token = login(&mut s);
    let body = json!({"projectId": "mailcfg-test-7f3k2q", "displayName": "mailcfg test",
                          "labels": {"managed-by": "mailcfg", "purpose": "test"}});
    let (status, op) = call(&mut s, "POST", "/v3/projects", &token, Some(body));
    assert_eq!(status, 200);
    let name = op["name"].as_str().unwrap().to_owned();
    let digits = name.strip_prefix("operations/cp.").unwrap();
    assert_eq!(digits.len(), 19);
    assert!(digits.bytes().all(|c| c.is_ascii_digit()));
    assert!(op.get("done").is_none());
    assert_eq!(op["metadata"]["@type"], json!(T_CREATE_META));
    assert_eq!(op["metadata"]["ready"], json!(false));
    assert_eq!(op["metadata"]["createTime"], json!("2026-11-28T20:00:00Z"));
    for _ in 0..2 {
        let (_, pending) = call(&mut s, "GET", &format!("/v3/{name}"), &token, None);
        assert!(pending.get("done").is_none(), "{pending}");
        assert!(pending.get("response").is_none());
    }
    let (_, done) = call(&mut s, "GET", &format!("/v3/{name}"), &token, None);
    assert_eq!(done["done"], json!(true));
    assert_eq!(done["metadata"]["ready"], json!(true));
    let project = &done["response"];
    assert_eq!(project["@type"], json!(T_PROJECT));
    let number = project["name"]
        .as_str()
        .unwrap()
        .strip_prefix("projects/")
        .unwrap();
    assert_eq!(number.len(), 12);
    assert!(number.bytes().all(|c| c.is_ascii_digit()));
    assert_eq!(project["projectId"], json!("mailcfg-test-7f3k2q"));
    assert_eq!(project["state"], json!("ACTIVE"));
    assert_eq!(project["displayName"], json!("mailcfg test"));
    assert_eq!(
        project["labels"],
        json!({"managed-by": "mailcfg", "purpose": "test"})
    );
    assert_eq!(project["createTime"], json!("2026-11-28T20:00:00Z"));
    assert!(project["etag"].as_str().is_some_and(|e| !e.is_empty()));
    assert!(project.get("parent").is_none());
    // get by ID and by number shows the same project (without @type).
    let mut expected = project.clone();
    expected.as_object_mut().unwrap().remove("@type");
    assert_eq!(
        call(
            &mut s,
            "GET",
            "/v3/projects/mailcfg-test-7f3k2q",
            &token,
            None
        ),
        (200, expected.clone())
    );
    assert_eq!(
        call(
            &mut s,
            "GET",
            &format!("/v3/projects/{number}"),
            &token,
            None
        ),
        (200, expected.clone())
    );
    assert_eq!(s.projects(), vec![expected]);
}

#[test]
fn invalid_project_fields_are_400() {
    let mut s = state(0);
    let token = login(&mut s);
    for id in [
        "short",
        "1starts-with-digit",
        "ends-with-hyphen-",
        "Upper-case-id",
        "has_underscore",
        "a-very-long-project-id-over-thirty",
    ] {
        let (status, body) = call(
            &mut s,
            "POST",
            "/v3/projects",
            &token,
            Some(json!({"projectId": id})),
        );
        assert_eq!(status, 400, "{id}");
        assert_eq!(body["error"]["status"], json!("INVALID_ARGUMENT"));
        assert!(body["error"]["message"].as_str().unwrap().contains(id));
    }
    let bad = [
        json!({"projectId": "good-id-123", "displayName": "abc"}),
        json!({"projectId": "good-id-123", "displayName": "semi;colon"}),
        json!({"projectId": "good-id-123", "labels": {"Bad": "x"}}),
        json!({"projectId": "good-id-123", "labels": {"k": "Value"}}),
        json!({"projectId": "good-id-123", "parent": "projects/1"}),
        json!({"projectId": "good-id-123", "unknownField": 1}),
        json!({}),
    ];
    for body in bad {
        assert_eq!(
            call(&mut s, "POST", "/v3/projects", &token, Some(body.clone())).0,
            400,
            "{body}"
        );
    }
    assert!(s.projects().is_empty());
    // Boundaries that are valid.
    create_done(
        &mut s,
        &token,
        json!({"projectId": "abcdef", "displayName": "Ops 'mail' \"x\"!", "labels": {"empty": ""}}),
    );
}

#[test]
fn taken_ids_are_409() {
    let mut s = GoogleState::new(GoogleConfig {
        principals: vec![
            GoogleConfig::default().principals[0].clone(),
            GooglePrincipal {
                client_id: "c2".into(),
                client_secret: "s2".into(),
                refresh_token: "r2".into(),
                email: "other@example.com".into(),
            },
        ],
        taken_project_ids: vec!["someone-elses".into()],
        operation_polls: 0,
        ..GoogleConfig::default()
    });
    let token = login(&mut s);
    let other = grant_json(&mut s, json!({"grant_type": "refresh_token", "client_id": "c2", "client_secret": "s2", "refresh_token": "r2"}))
            .body_json().unwrap()["access_token"].as_str().unwrap().to_owned();
    let conflict = json!({"error": {"code": 409, "message": "Requested entity already exists", "status": "ALREADY_EXISTS"}});
    assert_eq!(
        call(
            &mut s,
            "POST",
            "/v3/projects",
            &token,
            Some(json!({"projectId": "someone-elses"}))
        ),
        (409, conflict.clone())
    );
    create_done(&mut s, &other, json!({"projectId": "others-project"}));
    assert_eq!(
        call(
            &mut s,
            "POST",
            "/v3/projects",
            &token,
            Some(json!({"projectId": "others-project"}))
        ),
        (409, conflict.clone())
    );
    create_done(&mut s, &token, json!({"projectId": "mine-deleted"}));
    assert_eq!(
        call(&mut s, "DELETE", "/v3/projects/mine-deleted", &token, None).0,
        200
    );
    assert_eq!(
        call(
            &mut s,
            "POST",
            "/v3/projects",
            &token,
            Some(json!({"projectId": "mine-deleted"}))
        ),
        (409, conflict)
    );
}

#[test]
fn quota_error_code_8_inside_finished_operation() {
    let mut s = GoogleState::new(GoogleConfig {
        project_quota: Some(1),
        operation_polls: 0,
        ..GoogleConfig::default()
    });
    let token = login(&mut s);
    create_done(&mut s, &token, json!({"projectId": "first-project"}));
    let done = create_done(&mut s, &token, json!({"projectId": "second-project"}));
    assert!(done.get("response").is_none());
    assert_eq!(
        done["error"],
        json!({"code": 8, "message": QUOTA_MESSAGE,
                   "details": [{"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [{"description": QUOTA_MESSAGE}]}]})
    );
    assert_eq!(s.projects().len(), 1);
    // DELETE_REQUESTED still counts (ref §1).
    call(&mut s, "DELETE", "/v3/projects/first-project", &token, None);
    let done = create_done(&mut s, &token, json!({"projectId": "third-project"}));
    assert_eq!(done["error"]["code"], json!(8));
}

#[test]
fn foreign_or_unknown_project_get_is_403() {
    let mut s = state(0);
    let token = login(&mut s);
    let (status, body) = call(&mut s, "GET", "/v3/projects/not-mine-at-all", &token, None);
    assert_eq!(status, 403);
    assert_eq!(body["error"]["status"], json!("PERMISSION_DENIED"));
    let sa = jwt(json!({"iss": "x@y.iam.gserviceaccount.com"}));
    create_done(
        &mut s,
        &sa,
        json!({"projectId": "sa-owned", "parent": "organizations/42"}),
    );
    assert_eq!(
        call(&mut s, "GET", "/v3/projects/sa-owned", &token, None).0,
        403
    );
    assert_eq!(
        call(&mut s, "DELETE", "/v3/projects/sa-owned", &token, None).0,
        403
    );
    // Seeded projects are visible to everybody.
    s.insert_project(json!({"projectId": "seeded-one"}), NOW);
    assert_eq!(
        call(&mut s, "GET", "/v3/projects/seeded-one", &token, None).0,
        200
    );
}

#[test]
fn search_by_label_honours_lag_and_paging() {
    let mut s = GoogleState::new(GoogleConfig {
        search_lag: 2,
        operation_polls: 0,
        ..GoogleConfig::default()
    });
    let token = login(&mut s);
    for i in 0..3 {
        create_done(
            &mut s,
            &token,
            json!({"projectId": format!("managed-{i}-abc"), "labels": {"managed-by": "mailreg"}}),
        );
    }
    create_done(
        &mut s,
        &token,
        json!({"projectId": "unrelated-abc", "labels": {"team": "x"}}),
    );
    let search = "/v3/projects:search?query=labels.managed-by%3Amailreg&pageSize=2";
    // Two calls with the new projects invisible: empty result is `{}`.
    assert_eq!(call(&mut s, "GET", search, &token, None), (200, json!({})));
    assert_eq!(call(&mut s, "GET", search, &token, None), (200, json!({})));
    let (_, page1) = call(&mut s, "GET", search, &token, None);
    let ids = |v: &Value| -> Vec<String> {
        v["projects"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|p| p["projectId"].as_str().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(ids(&page1), ["managed-0-abc", "managed-1-abc"]);
    let next = page1["nextPageToken"].as_str().unwrap();
    let (_, page2) = call(
        &mut s,
        "GET",
        &format!("{search}&pageToken={next}"),
        &token,
        None,
    );
    assert_eq!(ids(&page2), ["managed-2-abc"]);
    assert!(page2.get("nextPageToken").is_none());
    // Presence, id, state, OR semantics (discovery) and explicit AND.
    let q = |q: &str| {
        format!(
            "/v3/projects:search?query={}",
            url::form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>()
        )
    };
    assert_eq!(
        ids(&call(&mut s, "GET", &q("labels.team:*"), &token, None).1),
        ["unrelated-abc"]
    );
    assert_eq!(
        ids(&call(&mut s, "GET", &q("id:managed-1-abc"), &token, None).1),
        ["managed-1-abc"]
    );
    assert_eq!(
        ids(&call(
            &mut s,
            "GET",
            &q("labels.team:x id:managed-0-abc"),
            &token,
            None
        )
        .1),
        ["managed-0-abc", "unrelated-abc"]
    );
    assert_eq!(
        ids(&call(
            &mut s,
            "GET",
            &q("labels.managed-by:MAILREG AND id:managed-2-abc"),
            &token,
            None
        )
        .1),
        ["managed-2-abc"]
    );
    call(&mut s, "DELETE", "/v3/projects/managed-0-abc", &token, None);
    assert_eq!(
        ids(&call(&mut s, "GET", &q("state:DELETE_REQUESTED"), &token, None).1),
        ["managed-0-abc"]
    );
    assert_eq!(call(&mut s, "GET", &q("bogus:1"), &token, None).0, 400);
    assert_eq!(
        call(
            &mut s,
            "GET",
            "/v3/projects:search?pageToken=garbage!",
            &token,
            None
        )
        .0,
        400
    );
}

#[test]
fn delete_is_idempotent_and_undelete_restores() {
    let mut s = state(1);
    let token = login(&mut s);
    create_done(&mut s, &token, json!({"projectId": "to-delete-1"}));
    let (status, op) = call(&mut s, "DELETE", "/v3/projects/to-delete-1", &token, None);
    assert_eq!(status, 200);
    assert!(op.get("done").is_none());
    assert_eq!(op["metadata"]["@type"], json!(T_DELETE_META));
    let name = op["name"].as_str().unwrap().to_owned();
    assert!(
        call(&mut s, "GET", &format!("/v3/{name}"), &token, None)
            .1
            .get("done")
            .is_none()
    );
    let (_, done) = call(&mut s, "GET", &format!("/v3/{name}"), &token, None);
    assert_eq!(done["done"], json!(true));
    let (_, p) = call(&mut s, "GET", "/v3/projects/to-delete-1", &token, None);
    assert_eq!(p["state"], json!("DELETE_REQUESTED"));
    assert_eq!(p["deleteTime"], json!("2026-11-28T20:00:00Z"));
    // Deleting again: no error, no change.
    let (status, _) = call(&mut s, "DELETE", "/v3/projects/to-delete-1", &token, None);
    assert_eq!(status, 200);
    assert_eq!(
        call(&mut s, "GET", "/v3/projects/to-delete-1", &token, None).1,
        p
    );
    // Undelete.
    let (status, op) = call(
        &mut s,
        "POST",
        "/v3/projects/to-delete-1:undelete",
        &token,
        Some(json!({})),
    );
    assert_eq!(status, 200);
    assert_eq!(op["metadata"]["@type"], json!(T_UNDELETE_META));
    let (_, p) = call(&mut s, "GET", "/v3/projects/to-delete-1", &token, None);
    assert_eq!(p["state"], json!("ACTIVE"));
    assert!(p.get("deleteTime").is_none());
    let (status, body) = call(
        &mut s,
        "POST",
        "/v3/projects/to-delete-1:undelete",
        &token,
        Some(json!({})),
    );
    assert_eq!(status, 400);
    assert_eq!(body["error"]["status"], json!("FAILED_PRECONDITION"));
}

#[test]
fn patch_repairs_labels_and_display_name() {
    let mut s = state(0);
    let token = login(&mut s);
    let seeded = s.insert_project(json!({"projectId": "drifted-1"}), NOW);
    assert!(seeded.get("labels").is_none());
    let (status, op) = call(
        &mut s,
        "PATCH",
        "/v3/projects/drifted-1?updateMask=labels,displayName",
        &token,
        Some(json!({"displayName": "Fixed name", "labels": {"managed-by": "mailreg"}})),
    );
    assert_eq!(status, 200, "{op}");
    assert_eq!(op["metadata"]["@type"], json!(T_UPDATE_META));
    let (_, done) = call(
        &mut s,
        "GET",
        &format!("/v3/{}", op["name"].as_str().unwrap()),
        &token,
        None,
    );
    assert_eq!(done["response"]["labels"], json!({"managed-by": "mailreg"}));
    assert_eq!(done["response"]["displayName"], json!("Fixed name"));
    assert_ne!(done["response"]["etag"], seeded["etag"]);
    assert_eq!(
        call(
            &mut s,
            "PATCH",
            "/v3/projects/drifted-1?updateMask=projectId",
            &token,
            Some(json!({}))
        )
        .0,
        400
    );
}

mod services_and_clients;
