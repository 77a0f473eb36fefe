//! Secret Manager v1: secrets, versions and the errors mailreg handles.

use super::*;

fn seeded(enabled: bool) -> (GoogleState, String, u64) {
    let mut s = state(0);
    let token = login(&mut s);
    let p = s.insert_project(json!({"projectId": "store-proj"}), NOW);
    if enabled {
        s.seed_service("store-proj", SECRET_MANAGER);
    }
    let number = p["name"].as_str().unwrap()[9..].parse().unwrap();
    (s, token, number)
}

fn add(s: &mut GoogleState, token: &str, data: &str) -> (u16, Value) {
    call(
        s,
        "POST",
        "/v1/projects/store-proj/secrets/mail:addVersion",
        token,
        Some(
            json!({"payload": {"data": STANDARD.encode(data), "dataCrc32c": crc32c(data.as_bytes()).to_string()}}),
        ),
    )
}

#[test]
fn secrets_and_versions_round_trip_with_names_by_number() {
    let (mut s, token, number) = seeded(true);
    let (status, created) = call(
        &mut s,
        "POST",
        "/v1/projects/store-proj/secrets?secretId=mail",
        &token,
        Some(json!({"replication": {"automatic": {}}, "labels": {"managed-by": "mailreg"}})),
    );
    assert_eq!(status, 200);
    assert_eq!(created["name"], format!("projects/{number}/secrets/mail"));
    assert_eq!(created["labels"], json!({"managed-by": "mailreg"}));
    let (status, again) = call(
        &mut s,
        "POST",
        "/v1/projects/store-proj/secrets?secretId=mail",
        &token,
        Some(json!({"replication": {"automatic": {}}})),
    );
    assert_eq!(
        (status, again["error"]["status"].clone()),
        (409, json!("ALREADY_EXISTS"))
    );
    // No version yet: access is a 404 that names the version.
    let (status, none) = call(
        &mut s,
        "GET",
        "/v1/projects/store-proj/secrets/mail/versions/latest:access",
        &token,
        None,
    );
    assert_eq!(status, 404);
    assert_eq!(
        none["error"]["message"],
        format!("Secret Version [projects/{number}/secrets/mail/versions/latest] not found.")
    );
    assert_eq!(add(&mut s, &token, "one").0, 200);
    let (status, v2) = add(&mut s, &token, "two");
    assert_eq!(status, 200);
    assert_eq!(
        v2["name"],
        format!("projects/{number}/secrets/mail/versions/2")
    );
    assert_eq!(v2["state"], "ENABLED");
    let (_, latest) = call(
        &mut s,
        "GET",
        "/v1/projects/store-proj/secrets/mail/versions/latest:access",
        &token,
        None,
    );
    assert_eq!(latest["payload"]["data"], STANDARD.encode("two"));
    assert_eq!(latest["payload"]["dataCrc32c"], crc32c(b"two").to_string());
    let (_, disabled) = call(
        &mut s,
        "POST",
        "/v1/projects/store-proj/secrets/mail/versions/1:disable",
        &token,
        Some(json!({})),
    );
    assert_eq!(disabled["state"], "DISABLED");
    let (_, list) = call(
        &mut s,
        "GET",
        "/v1/projects/store-proj/secrets/mail/versions",
        &token,
        None,
    );
    let states: Vec<&str> = list["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["ENABLED", "DISABLED"], "newest first");
    let (status, _) = call(
        &mut s,
        "DELETE",
        "/v1/projects/store-proj/secrets/mail",
        &token,
        None,
    );
    assert_eq!(status, 200);
    assert!(s.secret_manager_secrets().is_empty());
}

#[test]
fn disabled_api_unknown_project_bad_checksum_and_no_token() {
    let (mut s, token, number) = seeded(false);
    let (status, e) = call(
        &mut s,
        "GET",
        "/v1/projects/store-proj/secrets/mail",
        &token,
        None,
    );
    assert_eq!(status, 403);
    assert_eq!(e["error"]["details"][0]["reason"], "SERVICE_DISABLED");
    assert_eq!(
        e["error"]["details"][0]["metadata"]["consumer"],
        format!("projects/{number}")
    );
    let (status, e) = call(
        &mut s,
        "GET",
        "/v1/projects/nowhere-proj/secrets/mail",
        &token,
        None,
    );
    assert_eq!(
        (status, e["error"]["status"].clone()),
        (404, json!("NOT_FOUND"))
    );
    s.seed_service("store-proj", SECRET_MANAGER);
    call(
        &mut s,
        "POST",
        "/v1/projects/store-proj/secrets?secretId=mail",
        &token,
        Some(json!({"replication": {"automatic": {}}})),
    );
    let (status, e) = call(
        &mut s,
        "POST",
        "/v1/projects/store-proj/secrets/mail:addVersion",
        &token,
        Some(json!({"payload": {"data": STANDARD.encode("x"), "dataCrc32c": "1"}})),
    );
    assert_eq!(
        (status, e["error"]["status"].clone()),
        (400, json!("INVALID_ARGUMENT"))
    );
    let resp = s
        .handle(
            &request("GET", "/v1/projects/store-proj/secrets/mail", None, None),
            NOW,
        )
        .unwrap();
    assert_eq!(resp.status, 401);
    // Service Usage paths still go to Service Usage.
    let (status, _) = call(
        &mut s,
        "GET",
        &format!("/v1/projects/{number}/services/{SECRET_MANAGER}"),
        &token,
        None,
    );
    assert_eq!(status, 200);
}
