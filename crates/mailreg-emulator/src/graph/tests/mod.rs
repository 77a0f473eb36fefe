//! Unit tests of the Graph fake (requests in, answers out, no server).

use super::*;
use time::macros::datetime;

const OP_ID: &str = "00000000-0000-0000-0000-00000000e111";
const OP_SECRET: &str = "emulator-operator-secret";
const T0: OffsetDateTime = datetime!(2025-03-01 12:00:00 UTC);
const PERSONAL: &str = "AzureADandPersonalMicrosoftAccount";

fn request(method: &str, path: &str, query: &[(&str, &str)], body: Option<Value>) -> EmuRequest {
    EmuRequest {
        method: method.into(),
        path: path.into(),
        query: query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        headers: Vec::new(),
        body: body
            .map(|b| serde_json::to_vec(&b).unwrap())
            .unwrap_or_default(),
    }
}

fn token_req(tenant: &str, pairs: &[(&str, &str)]) -> EmuRequest {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    EmuRequest {
        method: "POST".into(),
        path: format!("/{tenant}/oauth2/v2.0/token"),
        body: body.into_bytes(),
        ..Default::default()
    }
}

fn good_token_pairs() -> Vec<(&'static str, &'static str)> {
    vec![
        ("grant_type", "client_credentials"),
        ("client_id", OP_ID),
        ("client_secret", OP_SECRET),
        ("scope", "https://graph.microsoft.com/.default"),
    ]
}

fn hdr<'a>(r: &'a EmuResponse, name: &str) -> Option<&'a str> {
    r.headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

fn sorted(list: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = list.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

struct H {
    st: GraphState,
    token: String,
    now: OffsetDateTime,
}

impl H {
    fn with(config: GraphConfig) -> H {
        let mut st = GraphState::new(config);
        let r = st
            .handle(&token_req("common", &good_token_pairs()), T0)
            .unwrap();
        assert_eq!(r.status, 200, "{r}");
        let token = r.body_json().unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_string();
        H { st, token, now: T0 }
    }
    fn new() -> H {
        H::with(GraphConfig::default())
    }
    fn call(
        &mut self,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        body: Option<Value>,
    ) -> EmuResponse {
        let mut req = request(method, path, query, body);
        req.headers
            .push(("authorization".into(), format!("Bearer {}", self.token)));
        self.st.handle(&req, self.now).expect("Microsoft path")
    }
    fn get(&mut self, path: &str, query: &[(&str, &str)]) -> EmuResponse {
        self.call("GET", path, query, None)
    }
    fn post(&mut self, path: &str, body: Value) -> EmuResponse {
        self.call("POST", path, &[], Some(body))
    }
    fn patch(&mut self, path: &str, body: Value) -> EmuResponse {
        self.call("PATCH", path, &[], Some(body))
    }
    fn delete(&mut self, path: &str) -> EmuResponse {
        self.call("DELETE", path, &[], None)
    }
    /// Follows an absolute nextLink the way an HTTP server would decode it.
    fn follow(&mut self, link: &str) -> EmuResponse {
        let url = url::Url::parse(link).unwrap();
        let query: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let q: Vec<(&str, &str)> = query
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        self.get(url.path(), &q)
    }
    fn create(&mut self, body: Value) -> Value {
        let r = self.post("/v1.0/applications", body);
        assert_eq!(r.status, 201, "{r}");
        r.body_json().unwrap()
    }
    fn personal_app(&mut self, name: &str) -> Value {
        self.create(json!({"displayName": name, "signInAudience": PERSONAL, "api": {"requestedAccessTokenVersion": 2}}))
    }
}

fn err_code(r: &EmuResponse) -> String {
    r.body_json().unwrap()["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}
fn err_msg(r: &EmuResponse) -> String {
    r.body_json().unwrap()["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

// ---- token endpoint ----

#[test]
fn token_success_for_every_tenant_form() {
    let mut st = GraphState::new(GraphConfig::default());
    let cfg = GraphConfig::default();
    for tenant in [
        cfg.tenant_id.as_str(),
        "contoso.onmicrosoft.com",
        "common",
        "organizations",
    ] {
        let r = st
            .handle(&token_req(tenant, &good_token_pairs()), T0)
            .unwrap();
        assert_eq!(r.status, 200, "{tenant}: {r}");
        let b = r.body_json().unwrap();
        assert_eq!(
            keys(&b),
            sorted(&["access_token", "expires_in", "ext_expires_in", "token_type"])
        );
        assert_eq!(b["token_type"], "Bearer");
        assert_eq!(b["expires_in"], 3600);
        assert_eq!(b["ext_expires_in"], 3600);
        let tok = b["access_token"].as_str().unwrap();
        assert!(!tok.contains(OP_SECRET));
        assert_eq!(tok.split('.').count(), 3);
        let mut req = request("GET", "/v1.0/applications", &[], None);
        req.headers
            .push(("authorization".into(), format!("Bearer {tok}")));
        assert_eq!(st.handle(&req, T0).unwrap().status, 200);
    }
    // Basic auth and a different resource's scope.
    let mut req = token_req(
        "common",
        &[
            ("grant_type", "client_credentials"),
            ("scope", "https://outlook.office.com/.default"),
        ],
    );
    req.headers.push((
        "authorization".into(),
        format!("Basic {}", STANDARD.encode(format!("{OP_ID}:{OP_SECRET}"))),
    ));
    let r = st.handle(&req, T0).unwrap();
    assert_eq!(r.status, 200, "{r}");
    // ...but that token is not for Graph.
    let tok = r.body_json().unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let mut req = request("GET", "/v1.0/applications", &[], None);
    req.headers
        .push(("authorization".into(), format!("Bearer {tok}")));
    let r = st.handle(&req, T0).unwrap();
    assert_eq!(r.status, 401);
    assert!(err_msg(&r).contains("Invalid audience"));
}

#[test]
fn token_unknown_client() {
    let mut st = GraphState::new(GraphConfig::default());
    let mut pairs = good_token_pairs();
    pairs[1] = ("client_id", "11111111-2222-3333-4444-555555555555");
    let r = st
        .handle(&token_req("contoso.onmicrosoft.com", &pairs), T0)
        .unwrap();
    assert_eq!(r.status, 400);
    let b = r.body_json().unwrap();
    assert_eq!(b["error"], "unauthorized_client");
    assert_eq!(b["error_codes"], json!([700016]));
    let d = b["error_description"].as_str().unwrap();
    assert!(d.starts_with("AADSTS700016: Application with identifier '11111111-2222-3333-4444-555555555555' was not found in the directory 'contoso.onmicrosoft.com'."), "{d}");
    for k in ["timestamp", "trace_id", "correlation_id"] {
        assert!(b[k].is_string(), "{k}");
    }
    assert_eq!(b["timestamp"], "2025-03-01 12:00:00Z");
}

#[test]
fn token_wrong_secret_unknown_tenant_bad_scope() {
    let mut st = GraphState::new(GraphConfig::default());
    let mut pairs = good_token_pairs();
    pairs[2] = ("client_secret", "nope");
    let r = st.handle(&token_req("common", &pairs), T0).unwrap();
    assert_eq!(r.status, 401);
    let b = r.body_json().unwrap();
    assert_eq!(b["error"], "invalid_client");
    assert_eq!(b["error_codes"], json!([7000215]));
    assert!(
        b["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS7000215: Invalid client secret provided. ")
    );
    assert!(!r.to_string().contains("nope\""));

    let r = st
        .handle(
            &token_req("fabrikam.onmicrosoft.com", &good_token_pairs()),
            T0,
        )
        .unwrap();
    assert_eq!(r.status, 400);
    let b = r.body_json().unwrap();
    assert_eq!(b["error"], "invalid_request");
    assert_eq!(b["error_codes"], json!([90002]));
    assert!(
        b["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS90002: Tenant 'fabrikam.onmicrosoft.com' not found.")
    );

    let mut pairs = good_token_pairs();
    pairs[3] = ("scope", "Application.ReadWrite.All");
    let r = st.handle(&token_req("common", &pairs), T0).unwrap();
    assert_eq!(r.status, 400);
    assert_eq!(r.body_json().unwrap()["error"], "invalid_scope");

    // Not ours at all.
    assert!(
        st.handle(&request("GET", "/v3/projects", &[], None), T0)
            .is_none()
    );
    // The authorize endpoint is the rehearsal sign-in's (signin.rs): an unknown client is
    // refused on Entra's error page, with no redirect.
    let r = st
        .handle(
            &request(
                "GET",
                "/common/oauth2/v2.0/authorize",
                &[("client_id", "00000000-0000-0000-0000-00000000dead")],
                None,
            ),
            T0,
        )
        .unwrap();
    assert_eq!(r.status, 400);
    assert!(String::from_utf8_lossy(&r.body).contains("AADSTS700016"));
    assert!(r.headers.iter().all(|(k, _)| k != "location"));
}

// ---- Graph authentication and envelope ----

#[test]
fn graph_requires_unexpired_token() {
    let mut h = H::new();
    let mut req = request("GET", "/v1.0/applications", &[], None);
    req.headers
        .push(("client-request-id".into(), "abc-123".into()));
    let r = h.st.handle(&req, T0).unwrap();
    assert_eq!(r.status, 401);
    let b = r.body_json().unwrap();
    assert_eq!(b["error"]["code"], "InvalidAuthenticationToken");
    assert_eq!(b["error"]["message"], "Access token is empty.");
    assert_eq!(b["error"]["innerError"]["client-request-id"], "abc-123");
    assert_eq!(b["error"]["innerError"]["date"], "2025-03-01T12:00:00");
    assert_eq!(hdr(&r, "client-request-id"), Some("abc-123"));
    assert_eq!(
        b["error"]["innerError"]["request-id"].as_str(),
        hdr(&r, "request-id")
    );
    assert!(hdr(&r, "x-ms-resource-unit").is_some());

    // Valid until expiry.
    h.now = T0 + Duration::seconds(3599);
    assert_eq!(h.get("/v1.0/applications", &[]).status, 200);
    h.now = T0 + Duration::seconds(3600);
    let r = h.get("/v1.0/applications", &[]);
    assert_eq!(r.status, 401);
    assert_eq!(err_msg(&r), "Access token has expired or is not yet valid.");

    // expire_tokens.
    let mut h = H::new();
    assert_eq!(h.get("/v1.0/applications", &[]).status, 200);
    h.st.expire_tokens();
    let r = h.get("/v1.0/applications", &[]);
    assert_eq!(r.status, 401);
    assert_eq!(err_msg(&r), "Access token has expired or is not yet valid.");

    // A token we never issued.
    h.token = "eyJhbGciOiJub25lIn0.e30.x".into();
    assert_eq!(h.get("/v1.0/applications", &[]).status, 401);
}

#[test]
fn unknown_segment_and_wrong_method() {
    let mut h = H::new();
    let r = h.get("/v1.0/foo", &[]);
    assert_eq!(r.status, 400);
    assert_eq!(err_code(&r), "BadRequest");
    assert_eq!(err_msg(&r), "Resource not found for the segment 'foo'.");
    let app = h.create(json!({"displayName": "a"}));
    let r = h.post(
        &format!("/v1.0/applications/{}/addKey2", app["id"].as_str().unwrap()),
        json!({}),
    );
    assert_eq!(err_msg(&r), "Resource not found for the segment 'addKey2'.");
    let r = h.call("PUT", "/v1.0/applications", &[], Some(json!({})));
    assert_eq!(r.status, 405);
    let r = h.call(
        "GET",
        &format!(
            "/v1.0/applications/{}/addPassword",
            app["id"].as_str().unwrap()
        ),
        &[],
        None,
    );
    assert_eq!(r.status, 405);
    let r = h.get("/v1.0/applications/not-a-guid", &[]);
    assert_eq!(r.status, 400);
    assert_eq!(err_msg(&r), "Invalid object identifier 'not-a-guid'.");
}

// ---- applications ----

#[test]
fn create_returns_full_shape() {
    let mut h = H::new();
    let body = json!({
        "displayName": "imap-oauth-demo",
        "signInAudience": PERSONAL,
        "api": {"requestedAccessTokenVersion": 2},
        "web": {"redirectUris": ["http://localhost/oauth2/callback"]},
        "requiredResourceAccess": [{
            "resourceAppId": GRAPH_APP_ID,
            "resourceAccess": [
                {"id": "652390e4-393a-48de-9484-05f9b1212954", "type": "Scope"},
                {"id": "7427e0e9-2fba-42fe-b0c0-848c9e6a8182", "type": "Scope"}
            ]}],
        "tags": ["created-by-mailreg", "mailreg-run-1"],
        "notes": "Managed by mailreg",
        "keyCredentials": []
    });
    let r = h.post("/v1.0/applications", body);
    assert_eq!(r.status, 201, "{r}");
    let b = r.body_json().unwrap();
    let expected = [
        "@odata.context",
        "id",
        "deletedDateTime",
        "appId",
        "createdDateTime",
        "displayName",
        "identifierUris",
        "notes",
        "publisherDomain",
        "signInAudience",
        "tags",
        "api",
        "passwordCredentials",
        "keyCredentials",
        "publicClient",
        "requiredResourceAccess",
        "web",
        "spa",
        "uniqueName",
        "nativeAuthenticationApisEnabled",
        "servicePrincipalLockConfiguration",
        "requestSignatureVerification",
        "addIns",
        "appRoles",
        "applicationTemplateId",
        "certification",
        "defaultRedirectUri",
        "description",
        "disabledByMicrosoftStatus",
        "groupMembershipClaims",
        "info",
        "isDeviceOnlyAuthSupported",
        "isFallbackPublicClient",
        "oauth2RequirePostResponse",
        "optionalClaims",
        "parentalControlSettings",
        "samlMetadataUrl",
        "serviceManagementReference",
        "tokenEncryptionKeyId",
        "verifiedPublisher",
    ];
    assert_eq!(keys(&b), sorted(&expected));
    assert_eq!(
        b["@odata.context"],
        "https://graph.microsoft.com/v1.0/$metadata#applications/$entity"
    );
    assert_eq!(
        keys(&b["api"]),
        sorted(&[
            "acceptMappedClaims",
            "knownClientApplications",
            "requestedAccessTokenVersion",
            "oauth2PermissionScopes",
            "preAuthorizedApplications"
        ])
    );
    assert_eq!(
        keys(&b["web"]),
        sorted(&[
            "homePageUrl",
            "logoutUrl",
            "redirectUris",
            "implicitGrantSettings"
        ])
    );
    assert_eq!(
        b["web"]["redirectUris"],
        json!(["http://localhost/oauth2/callback"])
    );
    assert_eq!(
        b["web"]["implicitGrantSettings"]["enableIdTokenIssuance"],
        false
    );
    assert_eq!(b["api"]["requestedAccessTokenVersion"], 2);
    assert_eq!(b["signInAudience"], PERSONAL);
    assert_eq!(b["createdDateTime"], "2025-03-01T12:00:00Z");
    assert_eq!(b["publisherDomain"], "contoso.onmicrosoft.com");
    assert_eq!(b["uniqueName"], Value::Null);
    assert_eq!(b["passwordCredentials"], json!([]));
    assert_ne!(b["id"], b["appId"]);
    let id = b["id"].as_str().unwrap();
    assert!(is_guid(id) && is_guid(b["appId"].as_str().unwrap()));
    assert_eq!(
        hdr(&r, "location").unwrap(),
        format!(
            "https://graph.microsoft.com/v2/{}/directoryObjects/{id}/Microsoft.DirectoryServices.Application",
            GraphConfig::default().tenant_id
        )
    );
    assert_eq!(hdr(&r, "x-ms-resource-unit"), Some("1"));
    // GET returns the same object.
    let g = h.get(&format!("/v1.0/applications/{id}"), &[]);
    assert_eq!(g.status, 200);
    assert_eq!(g.body_json().unwrap(), b);
    assert_eq!(hdr(&g, "x-ms-resource-unit"), Some("2"));
    assert_eq!(h.st.applications(), vec![b.clone()]);
    // By appId, with $select.
    let g = h.get(
        &format!(
            "/v1.0/applications(appId='{}')",
            b["appId"].as_str().unwrap()
        ),
        &[("$select", "id,appId,displayName")],
    );
    let gb = g.body_json().unwrap();
    assert_eq!(
        keys(&gb),
        sorted(&["@odata.context", "id", "appId", "displayName"])
    );
    assert_eq!(
        gb["@odata.context"],
        "https://graph.microsoft.com/v1.0/$metadata#applications(id,appId,displayName)/$entity"
    );
    assert_eq!(hdr(&g, "x-ms-resource-unit"), Some("1"));

    // 2024 default audience.
    let d = h.create(json!({"displayName": "defaults"}));
    assert_eq!(d["signInAudience"], "AzureADMyOrg");
    assert_eq!(d["api"]["requestedAccessTokenVersion"], Value::Null);
}

#[test]
fn token_version_rule() {
    let mut h = H::new();
    for body in [
        json!({"displayName": "x", "signInAudience": PERSONAL}),
        json!({"displayName": "x", "signInAudience": "PersonalMicrosoftAccount", "api": {"requestedAccessTokenVersion": 1}}),
        json!({"displayName": "x", "signInAudience": PERSONAL, "api": {"requestedAccessTokenVersion": null}}),
    ] {
        let r = h.post("/v1.0/applications", body);
        assert_eq!(r.status, 400);
        let b = r.body_json().unwrap();
        assert_eq!(
            keys(&b["error"]),
            sorted(&["code", "message", "innerError"])
        );
        assert_eq!(b["error"]["code"], "InvalidAccessTokenVersion");
        assert_eq!(
            b["error"]["message"],
            "One or more properties contains invalid values."
        );
    }
    assert!(h.st.applications().is_empty());
    // Org audience with v1 is fine; a PATCH removing v2 from a personal app is not.
    h.create(json!({"displayName": "org", "signInAudience": "AzureADMultipleOrgs", "api": {"requestedAccessTokenVersion": 1}}));
    let app = h.personal_app("p");
    let r = h.patch(
        &format!("/v1.0/applications/{}", app["id"].as_str().unwrap()),
        json!({"api": {"requestedAccessTokenVersion": null}}),
    );
    assert_eq!(r.status, 400);
    assert_eq!(err_code(&r), "InvalidAccessTokenVersion");
}

#[test]
fn tag_and_field_validation() {
    let mut h = H::new();
    let bad = |h: &mut H, body: Value| {
        let r = h.post("/v1.0/applications", body.clone());
        assert_eq!(r.status, 400, "{body}: {r}");
        err_code(&r)
    };
    assert_eq!(
        bad(&mut h, json!({"displayName": "x", "tags": ["has space"]})),
        "Request_BadRequest"
    );
    assert_eq!(
        bad(&mut h, json!({"displayName": "x", "tags": ["a", "a"]})),
        "Request_BadRequest"
    );
    assert_eq!(
        bad(&mut h, json!({"displayName": "x", "tags": [""]})),
        "Request_BadRequest"
    );
    assert_eq!(
        bad(
            &mut h,
            json!({"displayName": "x", "tags": ["t".repeat(257)]})
        ),
        "Request_BadRequest"
    );
    h.create(json!({"displayName": "x", "tags": ["t".repeat(256), "mailreg:name=x"]}));
    assert_eq!(bad(&mut h, json!({"tags": ["a"]})), "Request_BadRequest");
    assert_eq!(
        bad(
            &mut h,
            json!({"displayName": "x", "passwordCredentials": [{"displayName": "k"}]})
        ),
        "Request_BadRequest"
    );
    assert_eq!(
        bad(&mut h, json!({"displayName": "x", "displayNme": "typo"})),
        "BadRequest"
    );
    assert_eq!(
        bad(
            &mut h,
            json!({"displayName": "x", "appId": "00000000-0000-0000-0000-000000000001"})
        ),
        "Request_BadRequest"
    );
    // Display name length: 90 for personal, 120 otherwise.
    let p = |name: String| json!({"displayName": name, "signInAudience": PERSONAL, "api": {"requestedAccessTokenVersion": 2}});
    assert_eq!(bad(&mut h, p("n".repeat(91))), "Request_BadRequest");
    h.create(p("n".repeat(90)));
    h.create(json!({"displayName": "n".repeat(120)}));
    assert_eq!(
        bad(&mut h, json!({"displayName": "n".repeat(121)})),
        "Request_BadRequest"
    );
    // Redirect URIs for personal audiences.
    let with_uri = |u: &str| json!({"displayName": "x", "signInAudience": PERSONAL, "api": {"requestedAccessTokenVersion": 2}, "web": {"redirectUris": [u]}});
    for u in [
        "http://example.com/cb",
        "https://example.com/cb?x=1",
        "https://*.example.com/cb",
        &format!("https://example.com/{}", "a".repeat(250)),
    ] {
        assert_eq!(bad(&mut h, with_uri(u)), "Request_BadRequest", "{u}");
    }
    h.create(with_uri("http://127.0.0.1:8400/cb"));
    h.create(with_uri("https://agileapps.example.com/oauth/callback"));
    // 31 permissions on one resource for a personal app.
    let access: Vec<Value> = (0..31)
        .map(|i| json!({"id": format!("00000000-0000-0000-0000-{i:012}"), "type": "Scope"}))
        .collect();
    let mut body = p("rra".into());
    body["requiredResourceAccess"] =
        json!([{"resourceAppId": GRAPH_APP_ID, "resourceAccess": access}]);
    assert_eq!(bad(&mut h, body.clone()), "Request_BadRequest");
    body["requiredResourceAccess"][0]["resourceAccess"]
        .as_array_mut()
        .unwrap()
        .pop();
    h.create(body);
}

#[test]
fn upsert_create_update_and_missing() {
    let mut h = H::new();
    let path = "/v1.0/applications(uniqueName='mailreg-agileapps-prod')";
    let mut req = request(
        "PATCH",
        path,
        &[],
        Some(json!({"displayName": "AgileApps", "tags": ["mailreg:managed"]})),
    );
    req.headers
        .push(("authorization".into(), format!("Bearer {}", h.token)));
    req.headers
        .push(("prefer".into(), "create-if-missing".into()));
    let r = h.st.handle(&req, T0).unwrap();
    assert_eq!(r.status, 201, "{r}");
    let b = r.body_json().unwrap();
    assert_eq!(b["uniqueName"], "mailreg-agileapps-prod");
    assert_eq!(b["displayName"], "AgileApps");
    assert!(b["appId"].is_string());
    assert!(hdr(&r, "location").is_some());
    // Same request again: update in place, 204, no body.
    req.body = serde_json::to_vec(&json!({"displayName": "AgileApps 2"})).unwrap();
    let r = h.st.handle(&req, T0).unwrap();
    assert_eq!(r.status, 204, "{r}");
    assert!(r.body.is_empty());
    let apps = h.st.applications();
    assert_eq!(apps.len(), 1);
    assert_eq!(apps[0]["displayName"], "AgileApps 2");
    assert_eq!(apps[0]["tags"], json!(["mailreg:managed"]));
    // Without Prefer, a missing key is 404.
    let r = h.patch(
        "/v1.0/applications(uniqueName='other')",
        json!({"displayName": "x"}),
    );
    assert_eq!(r.status, 404);
    assert_eq!(err_code(&r), "Request_ResourceNotFound");
    // displayName is required.
    let r = h.patch(path, json!({"notes": "x"}));
    assert_eq!(r.status, 400);
    // Soft-deleted apps keep their uniqueName.
    let id = apps[0]["id"].as_str().unwrap().to_string();
    assert_eq!(h.delete(&format!("/v1.0/applications/{id}")).status, 204);
    let r = h.st.handle(&req, T0).unwrap();
    assert_eq!(r.status, 400);
    assert_eq!(err_code(&r), "Request_MultipleObjectsWithSameKeyValue");
    assert_eq!(
        h.delete(&format!("/v1.0/directory/deletedItems/{id}"))
            .status,
        204
    );
    assert_eq!(h.st.handle(&req, T0).unwrap().status, 201);
}

#[test]
fn patch_merges_and_refuses_audience_change() {
    let mut h = H::new();
    let app = h.create(json!({"displayName": "x", "web": {"homePageUrl": "https://a.example"}}));
    let path = format!("/v1.0/applications/{}", app["id"].as_str().unwrap());
    let r = h.patch(
        &path,
        json!({"web": {"redirectUris": ["https://a.example/cb"]}, "tags": ["b"]}),
    );
    assert_eq!(r.status, 204, "{r}");
    let g = h.get(&path, &[]).body_json().unwrap();
    assert_eq!(g["web"]["homePageUrl"], "https://a.example");
    assert_eq!(g["web"]["redirectUris"], json!(["https://a.example/cb"]));
    assert_eq!(
        g["web"]["implicitGrantSettings"]["enableIdTokenIssuance"],
        false
    );
    assert_eq!(g["tags"], json!(["b"]));
    let r = h.patch(
        &path,
        json!({"signInAudience": PERSONAL, "api": {"requestedAccessTokenVersion": 2}}),
    );
    assert_eq!(r.status, 500);
    assert_eq!(err_code(&r), "Service_InternalServerError");
    assert_eq!(err_msg(&r), "Encountered an internal server error.");
    assert_eq!(
        h.patch(&path, json!({"signInAudience": "AzureADMyOrg"}))
            .status,
        204
    );
    assert_eq!(h.patch(&path, json!({"tags": ["x y"]})).status, 400);
}

#[test]
fn filter_by_tag_with_select() {
    let mut h = H::new();
    let a = h.create(json!({"displayName": "alpha", "tags": ["mailreg:managed"]}));
    h.create(json!({"displayName": "beta"}));
    let c = h.create(json!({"displayName": "alphabet", "tags": ["mailreg:managed", "x"]}));
    let r = h.get(
        "/v1.0/applications",
        &[
            ("$filter", "tags/any(t:t eq 'mailreg:managed')"),
            ("$select", "id,appId"),
        ],
    );
    assert_eq!(r.status, 200, "{r}");
    assert_eq!(hdr(&r, "x-ms-resource-unit"), Some("1"));
    let b = r.body_json().unwrap();
    assert_eq!(
        b["@odata.context"],
        "https://graph.microsoft.com/v1.0/$metadata#applications(id,appId)"
    );
    let v = b["value"].as_array().unwrap();
    assert_eq!(v.len(), 2);
    for item in v {
        assert_eq!(keys(item), sorted(&["id", "appId"]));
    }
    assert_eq!(v[0]["id"], a["id"]);
    assert_eq!(v[1]["appId"], c["appId"]);
    assert!(b.get("@odata.nextLink").is_none());

    let count = |h: &mut H, f: &str| {
        let r = h.get("/v1.0/applications", &[("$filter", f)]);
        assert_eq!(r.status, 200, "{f}: {r}");
        assert_eq!(hdr(&r, "x-ms-resource-unit"), Some("2"));
        r.body_json().unwrap()["value"].as_array().unwrap().len()
    };
    assert_eq!(count(&mut h, "startswith(displayName,'alpha')"), 2);
    assert_eq!(count(&mut h, "displayName eq 'beta'"), 1);
    assert_eq!(
        count(
            &mut h,
            &format!("appId eq '{}'", a["appId"].as_str().unwrap())
        ),
        1
    );
    assert_eq!(count(&mut h, "tags/any(x:x eq 'nope')"), 0);
    for f in [
        "identifierUris/any(s:s eq 'api://x')",
        "notes eq 'x'",
        "displayName ne 'x'",
        "garbage",
    ] {
        let r = h.get("/v1.0/applications", &[("$filter", f)]);
        assert_eq!(r.status, 400, "{f}");
        assert_eq!(err_code(&r), "Request_UnsupportedQuery");
    }
    let r = h.get("/v1.0/applications", &[("$select", "id,nonsense")]);
    assert_eq!(r.status, 400);
}

mod resources;
mod throttling_and_parsing;
