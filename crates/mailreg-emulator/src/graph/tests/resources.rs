//! Unit tests of the Graph fake: paging, secrets, deleted items, replication lag, service principals and grants.

use super::*;

#[test]
fn paging_follows_next_link_to_the_end() {
    let mut h = H::new();
    for i in 0..7 {
        h.create(json!({"displayName": format!("page app {i}"), "tags": ["paged"]}));
    }
    h.create(json!({"displayName": "other"}));
    let mut r = h.get(
        "/v1.0/applications",
        &[("$filter", "tags/any(t:t eq 'paged')"), ("$top", "3")],
    );
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        assert_eq!(r.status, 200, "{r}");
        pages += 1;
        let b = r.body_json().unwrap();
        for v in b["value"].as_array().unwrap() {
            seen.push(v["displayName"].as_str().unwrap().to_string());
        }
        match b.get("@odata.nextLink").and_then(Value::as_str) {
            Some(link) => {
                assert!(
                    link.starts_with("https://graph.microsoft.com/v1.0/applications?"),
                    "{link}"
                );
                assert!(link.contains("$skiptoken="));
                let link = link.to_string();
                r = h.follow(&link);
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let expected: Vec<String> = (0..7).map(|i| format!("page app {i}")).collect();
    assert_eq!(seen, expected);
    let r = h.get("/v1.0/applications", &[("$top", "1000")]);
    assert_eq!(r.status, 400);
    let r = h.get("/v1.0/applications", &[("$skiptoken", "bogus")]);
    assert_eq!(r.status, 400);
}

// ---- secrets ----

#[test]
fn add_password_newest_first_and_two_secret_limit() {
    let mut h = H::new();
    let app = h.personal_app("p");
    let id = app["id"].as_str().unwrap().to_string();
    let path = format!("/v1.0/applications/{id}/addPassword");
    let r = h.post(&path, json!({"passwordCredential": {"displayName": "key1", "endDateTime": "2025-09-01T12:00:00Z"}}));
    assert_eq!(r.status, 200, "{r}");
    let k1 = r.body_json().unwrap();
    assert_eq!(
        keys(&k1),
        sorted(&[
            "@odata.context",
            "customKeyIdentifier",
            "displayName",
            "endDateTime",
            "hint",
            "keyId",
            "secretText",
            "startDateTime"
        ])
    );
    assert_eq!(
        k1["@odata.context"],
        "https://graph.microsoft.com/v1.0/$metadata#microsoft.graph.passwordCredential"
    );
    assert_eq!(k1["customKeyIdentifier"], Value::Null);
    assert_eq!(k1["displayName"], "key1");
    assert_eq!(k1["startDateTime"], "2025-03-01T12:00:00Z");
    assert_eq!(k1["endDateTime"], "2025-09-01T12:00:00Z");
    let secret = k1["secretText"].as_str().unwrap();
    assert_eq!(secret.len(), 40);
    assert!(secret.bytes().all(|b| SECRET_ALPHABET.contains(&b)));
    assert_eq!(k1["hint"].as_str().unwrap(), &secret[..3]);
    // By appId, with no body: default end = start + 2 years.
    let r = h.call(
        "POST",
        &format!(
            "/v1.0/applications(appId='{}')/addPassword",
            app["appId"].as_str().unwrap()
        ),
        &[],
        None,
    );
    assert_eq!(r.status, 200, "{r}");
    let k2 = r.body_json().unwrap();
    assert_eq!(k2["endDateTime"], "2027-03-01T12:00:00Z");
    assert_ne!(k2["secretText"], k1["secretText"]);
    // Stored newest first, secretText null.
    let g = h
        .get(&format!("/v1.0/applications/{id}"), &[])
        .body_json()
        .unwrap();
    let creds = g["passwordCredentials"].as_array().unwrap();
    assert_eq!(creds.len(), 2);
    assert_eq!(creds[0]["keyId"], k2["keyId"]);
    assert_eq!(creds[1]["keyId"], k1["keyId"]);
    assert!(
        creds
            .iter()
            .all(|c| c["secretText"].is_null() && c["hint"].is_string())
    );
    assert!(!g.to_string().contains(secret));
    // Third secret on a personal app.
    let r = h.post(
        &path,
        json!({"passwordCredential": {"displayName": "key3"}}),
    );
    assert_eq!(r.status, 400);
    let mut e = r.body_json().unwrap();
    let inner = e["error"]
        .as_object_mut()
        .unwrap()
        .remove("innerError")
        .unwrap();
    assert!(inner["date"].is_string() && inner["request-id"].is_string());
    assert_eq!(
        e,
        json!({"error": {
            "code": "TooManyAppPasswords",
            "message": "Not allowed to add 3 passwords. You can only add a maximum of 2 passwords.",
            "details": [{"target": "passwordCredentials", "code": "TooManyAppPasswords"}]
        }})
    );
    // Org apps are not limited to two.
    let org = h.create(json!({"displayName": "org"}));
    for _ in 0..3 {
        assert_eq!(
            h.post(
                &format!(
                    "/v1.0/applications/{}/addPassword",
                    org["id"].as_str().unwrap()
                ),
                json!({})
            )
            .status,
            200
        );
    }
}

#[test]
fn secret_lifetime_policy() {
    let mut h = H::with(GraphConfig {
        max_secret_lifetime_days: Some(730),
        ..Default::default()
    });
    let app = h.create(json!({"displayName": "x"}));
    let path = format!(
        "/v1.0/applications/{}/addPassword",
        app["id"].as_str().unwrap()
    );
    let r = h.post(
        &path,
        json!({"passwordCredential": {"displayName": "k", "endDateTime": "2028-03-01T12:00:00Z"}}),
    );
    assert_eq!(r.status, 400, "{r}");
    let e = r.body_json().unwrap()["error"].clone();
    assert_eq!(e["code"], "CredentialInvalidLifetimeAsPerAppPolicy");
    let msg = e["message"].as_str().unwrap();
    assert!(
        msg.starts_with(
            "Credential lifetime exceeds the max value allowed as per assigned policy '"
        ),
        "{msg}"
    );
    assert_eq!(
        e["details"],
        json!([{"code": "InvalidKeyEndDate", "message": msg, "target": "EndDate"}])
    );
    assert_eq!(
        h.post(
            &path,
            json!({"passwordCredential": {"endDateTime": "2026-03-01T12:00:00Z"}})
        )
        .status,
        200
    );
    // No policy: anything goes.
    let mut h = H::new();
    let app = h.create(json!({"displayName": "x"}));
    let path = format!(
        "/v1.0/applications/{}/addPassword",
        app["id"].as_str().unwrap()
    );
    assert_eq!(
        h.post(
            &path,
            json!({"passwordCredential": {"endDateTime": "2035-03-01T12:00:00Z"}})
        )
        .status,
        200
    );
}

#[test]
fn remove_password() {
    let mut h = H::new();
    let app = h.personal_app("p");
    let id = app["id"].as_str().unwrap().to_string();
    let k1 = h
        .post(&format!("/v1.0/applications/{id}/addPassword"), json!({}))
        .body_json()
        .unwrap();
    let k2 = h
        .post(&format!("/v1.0/applications/{id}/addPassword"), json!({}))
        .body_json()
        .unwrap();
    let r = h.post(
        &format!("/v1.0/applications/{id}/removePassword"),
        json!({"keyId": k1["keyId"]}),
    );
    assert_eq!(r.status, 204, "{r}");
    assert!(r.body.is_empty());
    let creds = h.st.applications()[0]["passwordCredentials"].clone();
    assert_eq!(creds.as_array().unwrap().len(), 1);
    assert_eq!(creds[0]["keyId"], k2["keyId"]);
    let r = h.post(
        &format!("/v1.0/applications/{id}/removePassword"),
        json!({"keyId": k1["keyId"]}),
    );
    assert_eq!(r.status, 400);
    // Room again for a second one.
    assert_eq!(
        h.post(&format!("/v1.0/applications/{id}/addPassword"), json!({}))
            .status,
        200
    );
}

// ---- delete, deleted items ----

#[test]
fn delete_deleted_items_purge_and_restore() {
    let mut h = H::new();
    let app = h.create(json!({"displayName": "doomed", "tags": ["t1"]}));
    let keep = h.create(json!({"displayName": "kept", "tags": ["t1"]}));
    let id = app["id"].as_str().unwrap().to_string();
    let sp = h
        .post("/v1.0/servicePrincipals", json!({"appId": app["appId"]}))
        .body_json()
        .unwrap();
    let graph_sp = h.st.graph_service_principal_id();
    let r = h.post("/v1.0/oauth2PermissionGrants", json!({"clientId": sp["id"], "consentType": "AllPrincipals", "principalId": null, "resourceId": graph_sp, "scope": "IMAP.AccessAsUser.All"}));
    assert_eq!(r.status, 201, "{r}");
    h.now = T0 + Duration::minutes(5);
    assert_eq!(h.delete(&format!("/v1.0/applications/{id}")).status, 204);
    assert_eq!(h.get(&format!("/v1.0/applications/{id}"), &[]).status, 404);
    assert!(h.st.service_principals().is_empty());
    assert!(h.st.grants().is_empty());
    assert_eq!(h.st.applications().len(), 1);
    let r = h.get(
        "/v1.0/directory/deletedItems/microsoft.graph.application",
        &[
            ("$filter", "tags/any(t:t eq 't1')"),
            ("$select", "id,displayName,deletedDateTime"),
        ],
    );
    assert_eq!(r.status, 200, "{r}");
    let v = r.body_json().unwrap()["value"].clone();
    assert_eq!(
        v,
        json!([{"id": id, "displayName": "doomed", "deletedDateTime": "2025-03-01T12:05:00Z"}])
    );
    let g = h.get(&format!("/v1.0/directory/deletedItems/{id}"), &[]);
    assert_eq!(g.status, 200);
    assert_eq!(
        g.body_json().unwrap()["@odata.type"],
        "#microsoft.graph.application"
    );
    assert_eq!(h.st.deleted_applications().len(), 1);
    // Restore, delete again, purge.
    let r = h.post(
        &format!("/v1.0/directory/deletedItems/{id}/restore"),
        json!({}),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.body_json().unwrap()["deletedDateTime"], Value::Null);
    assert_eq!(h.st.applications().len(), 2);
    assert_eq!(h.st.applications()[1]["id"], keep["id"]);
    assert_eq!(h.delete(&format!("/v1.0/applications/{id}")).status, 204);
    assert_eq!(
        h.delete(&format!("/v1.0/directory/deletedItems/{id}"))
            .status,
        204
    );
    let r = h.delete(&format!("/v1.0/directory/deletedItems/{id}"));
    assert_eq!(r.status, 404);
    assert_eq!(err_code(&r), "Request_ResourceNotFound");
    assert!(h.st.deleted_applications().is_empty());
    let r = h.get(
        "/v1.0/directory/deletedItems/microsoft.graph.application",
        &[],
    );
    assert_eq!(r.body_json().unwrap()["value"], json!([]));
}

// ---- replication lag ----

#[test]
fn lag_hides_new_app_from_filters_for_n_requests() {
    let mut h = H::with(GraphConfig {
        replication_lag: 2,
        ..Default::default()
    });
    h.create(json!({"displayName": "lagged", "tags": ["t"]}));
    let q = [("$filter", "tags/any(t:t eq 't')")];
    let n = |h: &mut H| {
        h.get("/v1.0/applications", &q).body_json().unwrap()["value"]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(n(&mut h), 0);
    assert_eq!(n(&mut h), 0);
    assert_eq!(n(&mut h), 1);
    assert_eq!(n(&mut h), 1);
}

#[test]
fn lag_on_add_password_personal_409_org_404() {
    let mut h = H::with(GraphConfig {
        replication_lag: 2,
        ..Default::default()
    });
    let p = h.personal_app("p");
    let o = h.create(json!({"displayName": "o"}));
    for _ in 0..2 {
        let r = h.post(
            &format!(
                "/v1.0/applications/{}/addPassword",
                p["id"].as_str().unwrap()
            ),
            json!({}),
        );
        assert_eq!(r.status, 409);
        assert_eq!(err_code(&r), "Error_MsaAppDoesNotExist");
        assert_eq!(
            err_msg(&r),
            "The corresponding MSA application does not exist."
        );
    }
    assert_eq!(
        h.post(
            &format!(
                "/v1.0/applications/{}/addPassword",
                p["id"].as_str().unwrap()
            ),
            json!({})
        )
        .status,
        200
    );
    let oid = o["id"].as_str().unwrap();
    for _ in 0..2 {
        let r = h.post(&format!("/v1.0/applications/{oid}/addPassword"), json!({}));
        assert_eq!(r.status, 404);
        assert_eq!(err_code(&r), "Request_ResourceNotFound");
        assert_eq!(
            err_msg(&r),
            format!(
                "Resource '{oid}' does not exist or one of its queried reference-property objects are not present."
            )
        );
    }
    assert_eq!(h.get(&format!("/v1.0/applications/{oid}"), &[]).status, 200);
    // Seeded apps are not lagged.
    let seeded =
        h.st.insert_application(json!({"displayName": "seeded", "tags": ["s"]}), T0);
    assert_eq!(
        h.get(
            &format!("/v1.0/applications/{}", seeded["id"].as_str().unwrap()),
            &[]
        )
        .status,
        200
    );
    let r = h.get("/v1.0/applications", &[("$filter", "tags/any(t:t eq 's')")]);
    assert_eq!(r.body_json().unwrap()["value"].as_array().unwrap().len(), 1);
    // Lag switched off at run time applies to new objects.
    h.st.config_mut().replication_lag = 0;
    let n = h.create(json!({"displayName": "n"}));
    assert_eq!(
        h.get(
            &format!("/v1.0/applications/{}", n["id"].as_str().unwrap()),
            &[]
        )
        .status,
        200
    );
}

#[test]
fn lag_on_service_principal_and_grant_creation() {
    let mut h = H::with(GraphConfig {
        replication_lag: 1,
        ..Default::default()
    });
    let app = h.create(json!({"displayName": "x"}));
    let app_id = app["appId"].as_str().unwrap();
    let r = h.post(
        "/v1.0/servicePrincipals",
        json!({"appId": app_id, "accountEnabled": true}),
    );
    assert_eq!(r.status, 400);
    assert_eq!(err_code(&r), "Request_BadRequest");
    assert_eq!(
        err_msg(&r),
        format!(
            "The appId '{app_id}' of the service principal does not reference a valid application object."
        )
    );
    let r = h.post(
        "/v1.0/servicePrincipals",
        json!({"appId": app_id, "accountEnabled": true}),
    );
    assert_eq!(r.status, 201, "{r}");
    let sp = r.body_json().unwrap();
    let grant = json!({"clientId": sp["id"], "consentType": "AllPrincipals", "principalId": null, "resourceId": h.st.graph_service_principal_id(), "scope": "IMAP.AccessAsUser.All"});
    let r = h.post("/v1.0/oauth2PermissionGrants", grant.clone());
    assert_eq!(r.status, 400);
    assert_eq!(
        err_msg(&r),
        format!(
            "Resource '{}' does not exist or one of its queried reference-property objects are not present.",
            sp["id"].as_str().unwrap()
        )
    );
    assert_eq!(h.post("/v1.0/oauth2PermissionGrants", grant).status, 201);
}

// ---- service principals and grants ----

#[test]
fn graph_service_principal_scopes() {
    let mut h = H::new();
    let r = h.get(
        &format!("/v1.0/servicePrincipals(appId='{GRAPH_APP_ID}')"),
        &[("$select", "id,appId,oauth2PermissionScopes")],
    );
    assert_eq!(r.status, 200, "{r}");
    let b = r.body_json().unwrap();
    assert_eq!(
        keys(&b),
        sorted(&["@odata.context", "id", "appId", "oauth2PermissionScopes"])
    );
    assert_eq!(b["id"].as_str().unwrap(), h.st.graph_service_principal_id());
    let scopes = b["oauth2PermissionScopes"].as_array().unwrap();
    for (value, id) in [
        (
            "IMAP.AccessAsUser.All",
            "652390e4-393a-48de-9484-05f9b1212954",
        ),
        (
            "POP.AccessAsUser.All",
            "d7b7f2d9-0f45-4ea1-9d42-e50810c06991",
        ),
        ("SMTP.Send", "258f6531-6087-4cc4-bb90-092c5fb3ed3f"),
        ("offline_access", "7427e0e9-2fba-42fe-b0c0-848c9e6a8182"),
        ("openid", "37f7f235-527c-4136-accd-4a02d197296e"),
        ("email", "64a6cdd6-aab1-4aaf-94b8-3cc8405e90d0"),
        ("profile", "14dad69e-099b-42c9-810b-d002981feec1"),
        ("User.Read", "e1fe6dd8-ba31-4d61-89e7-88639da4683d"),
        ("Mail.Read", "570282fd-fa5c-430d-a7fd-fc8dc98a9dca"),
        ("Mail.Send", "e383f46e-2787-4529-855e-0e479a3ffac0"),
        ("Mail.ReadWrite", "024d486e-b451-40bb-833d-3e66d98c5c73"),
        (
            "EWS.AccessAsUser.All",
            "9769c687-087d-48ac-9cb3-c37dde652038",
        ),
    ] {
        let s = scopes
            .iter()
            .find(|s| s["value"] == value)
            .unwrap_or_else(|| panic!("{value}"));
        assert_eq!(s["id"], id);
        assert_eq!(s["type"], "User");
        assert_eq!(s["isEnabled"], true);
        assert_eq!(
            keys(s),
            sorted(&[
                "adminConsentDescription",
                "adminConsentDisplayName",
                "id",
                "isEnabled",
                "type",
                "userConsentDescription",
                "userConsentDisplayName",
                "value"
            ])
        );
    }
    let r = h.get(
        "/v1.0/servicePrincipals",
        &[("$filter", &format!("appId eq '{GRAPH_APP_ID}'"))],
    );
    assert_eq!(r.body_json().unwrap()["value"].as_array().unwrap().len(), 1);
    let r = h.get(
        "/v1.0/servicePrincipals(appId='11111111-1111-1111-1111-111111111111')",
        &[],
    );
    assert_eq!(r.status, 404);
    assert!(h.st.service_principals().is_empty());
}

#[test]
fn grants_round_trip() {
    let mut h = H::new();
    let app = h.create(json!({"displayName": "x", "tags": ["t"]}));
    let r = h.post(
        "/v1.0/servicePrincipals",
        json!({"appId": "22222222-2222-2222-2222-222222222222"}),
    );
    assert_eq!(r.status, 400);
    assert!(err_msg(&r).contains("does not reference a valid application object"));
    let r = h.post(
        "/v1.0/servicePrincipals",
        json!({"appId": app["appId"], "accountEnabled": true}),
    );
    assert_eq!(r.status, 201, "{r}");
    let sp = r.body_json().unwrap();
    assert_eq!(
        sp["@odata.context"],
        "https://graph.microsoft.com/v1.0/$metadata#servicePrincipals/$entity"
    );
    assert_eq!(sp["appId"], app["appId"]);
    assert_eq!(sp["appDisplayName"], "x");
    assert_eq!(sp["servicePrincipalType"], "Application");
    assert_eq!(sp["servicePrincipalNames"], json!([app["appId"]]));
    assert_eq!(
        sp["appOwnerOrganizationId"],
        GraphConfig::default().tenant_id
    );
    assert_eq!(sp["tags"], json!(["t"]));
    let r = h.post("/v1.0/servicePrincipals", json!({"appId": app["appId"]}));
    assert_eq!(r.status, 409);
    let sp_id = sp["id"].as_str().unwrap().to_string();
    let graph_sp = h.st.graph_service_principal_id();

    let r = h.post("/v1.0/oauth2PermissionGrants", json!({"clientId": sp_id, "consentType": "AllPrincipals", "principalId": null, "resourceId": sp_id, "scope": "x"}));
    assert_eq!(r.status, 400);
    assert_eq!(
        err_msg(&r),
        format!(
            "Resource '{sp_id}' does not exist or one of its queried reference-property objects are not present."
        )
    );

    let body = json!({"clientId": sp_id, "consentType": "AllPrincipals", "principalId": null, "resourceId": graph_sp, "scope": "IMAP.AccessAsUser.All POP.AccessAsUser.All offline_access"});
    let r = h.post("/v1.0/oauth2PermissionGrants", body.clone());
    assert_eq!(r.status, 201, "{r}");
    let g = r.body_json().unwrap();
    assert_eq!(
        keys(&g),
        sorted(&[
            "@odata.context",
            "clientId",
            "consentType",
            "id",
            "principalId",
            "resourceId",
            "scope"
        ])
    );
    assert_eq!(
        g["@odata.context"],
        "https://graph.microsoft.com/v1.0/$metadata#oauth2PermissionGrants/$entity"
    );
    let gid = g["id"].as_str().unwrap().to_string();
    assert_eq!(gid.len(), 43);
    assert!(!is_guid(&gid));
    assert_eq!(h.post("/v1.0/oauth2PermissionGrants", body).status, 409);

    let r = h.get(
        "/v1.0/oAuth2PermissionGrants",
        &[("$filter", &format!("clientId eq '{sp_id}'"))],
    );
    assert_eq!(r.status, 200);
    assert_eq!(hdr(&r, "x-ms-resource-unit"), Some("2"));
    assert_eq!(r.body_json().unwrap()["value"].as_array().unwrap().len(), 1);
    assert_eq!(
        h.patch(
            &format!("/v1.0/oauth2PermissionGrants/{gid}"),
            json!({"scope": "SMTP.Send"})
        )
        .status,
        204
    );
    assert_eq!(h.st.grants()[0]["scope"], "SMTP.Send");
    assert_eq!(
        h.delete(&format!("/v1.0/oAuth2PermissionGrants/{gid}"))
            .status,
        204
    );
    let r = h.get(
        "/v1.0/oauth2PermissionGrants",
        &[("$filter", &format!("clientId eq '{sp_id}'"))],
    );
    assert_eq!(r.body_json().unwrap()["value"], json!([]));
    assert_eq!(
        h.delete(&format!("/v1.0/oauth2PermissionGrants/{gid}"))
            .status,
        404
    );
    // Deleting the SP takes its grants.
    let body = json!({"clientId": sp_id, "consentType": "AllPrincipals", "principalId": null, "resourceId": graph_sp, "scope": "openid"});
    assert_eq!(h.post("/v1.0/oauth2PermissionGrants", body).status, 201);
    assert_eq!(
        h.delete(&format!("/v1.0/servicePrincipals/{sp_id}")).status,
        204
    );
    assert!(h.st.grants().is_empty());
    assert_eq!(
        h.delete(&format!("/v1.0/servicePrincipals/{sp_id}")).status,
        404
    );
}

// ---- throttling ----
