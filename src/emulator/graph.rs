//! In-process fake of the Microsoft identity platform token endpoint and Microsoft Graph v1.0.
//!
//! Used by the integration tests, `mailreg emulator` and `mailreg demo`. It is a pure state machine
//! over [`EmuRequest`] / [`EmuResponse`]: the caller supplies `now`, and every id, secret and token
//! comes from a `fastrand::Rng` seeded with [`GraphConfig::seed`], so runs are deterministic.
//!
//! Ground truth is `reference/microsoft-graph.md` (cited below as "ref §x"). Everything the reference
//! does not state is marked `INFERRED:` in a comment. The main inferences:
//! * AAD error texts other than AADSTS700016 / 7000215 / 90002 (900144, 70003, 7000218, 1002012, 900561).
//! * Graph: 401 messages for unknown / wrong-audience tokens, 405 body, "Invalid object identifier",
//!   unknown-property / `$select` / `$top` / skiptoken errors, the validation message pattern
//!   "Invalid value specified for property '…' of resource 'Application'." with a `details` reason.
//! * uniqueName is unique (case-insensitively) among live AND soft-deleted apps; a clash is
//!   400 `Request_MultipleObjectsWithSameKeyValue`. The upsert itself is never replication-lagged
//!   (it is keyed and goes to the writable replica), nor is DELETE.
//! * removePassword with an unknown keyId: 400 `Request_BadRequest`.
//! * A second service principal for an appId and a duplicate grant: 409 `Request_MultipleObjectsWithSameKeyValue`.
//! * The grant id is base64url(clientId LE bytes ‖ resourceId LE bytes [‖ principalId]): decoded from
//!   the recorded id in ref §1.10, so it is deterministic per (client, resource, principal).
//! * `$filter` string comparisons are case-insensitive (directory semantics).
//! * Writes counted by the throttle include requests that then fail validation.
//! * Extra application keys beyond ref §1.1 (applicationTemplateId, info, …) follow the v1.0
//!   application resource as remembered, not a recording.

use std::collections::{HashMap, HashSet, VecDeque};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Map, Value, json};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Duration, OffsetDateTime, UtcOffset};

use super::wire::{EmuRequest, EmuResponse};

/// The Microsoft Graph application id (ref §2).
pub const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";
/// Default base for `@odata.context`, `@odata.nextLink` and `location`.
pub const DEFAULT_GRAPH_BASE_URL: &str = "https://graph.microsoft.com";

/// INFERRED: the well-known Microsoft services tenant that owns first-party apps.
const MICROSOFT_SERVICES_TENANT: &str = "f8cdef31-a31e-4b4a-93e4-5f571e91255a";
const SECRET_ALPHABET: &[u8] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789~._-";
const AUDIENCES: [&str; 4] = [
    "AzureADMyOrg",
    "AzureADMultipleOrgs",
    "AzureADandPersonalMicrosoftAccount",
    "PersonalMicrosoftAccount",
];
/// INFERRED: server-assigned properties a client may not send.
const READ_ONLY_APP_PROPS: [&str; 5] = [
    "id",
    "appId",
    "createdDateTime",
    "publisherDomain",
    "deletedDateTime",
];
const NOT_FOUND_TAIL: &str =
    "does not exist or one of its queried reference-property objects are not present.";

/// Delegated Graph scopes on the built-in Graph service principal: (value, id, admin display name,
/// user display name). Ids: ref §2 (first eight) and the brief (Mail.*, EWS). Display texts are
/// INFERRED paraphrases of the portal's.
const GRAPH_SCOPES: [(&str, &str, &str, &str); 12] = [
    (
        "IMAP.AccessAsUser.All",
        "652390e4-393a-48de-9484-05f9b1212954",
        "Read and write access to mailboxes via IMAP.",
        "Read and write access to your mailbox via IMAP.",
    ),
    (
        "POP.AccessAsUser.All",
        "d7b7f2d9-0f45-4ea1-9d42-e50810c06991",
        "Read and write access to mailboxes via POP.",
        "Read and write access to your mailbox via POP.",
    ),
    (
        "SMTP.Send",
        "258f6531-6087-4cc4-bb90-092c5fb3ed3f",
        "Send emails from mailboxes using SMTP AUTH.",
        "Send emails from your mailbox using SMTP AUTH.",
    ),
    (
        "offline_access",
        "7427e0e9-2fba-42fe-b0c0-848c9e6a8182",
        "Maintain access to data you have given it access to",
        "Maintain access to data you have given it access to",
    ),
    (
        "openid",
        "37f7f235-527c-4136-accd-4a02d197296e",
        "Sign users in",
        "Sign you in",
    ),
    (
        "email",
        "64a6cdd6-aab1-4aaf-94b8-3cc8405e90d0",
        "View users' email address",
        "View your email address",
    ),
    (
        "profile",
        "14dad69e-099b-42c9-810b-d002981feec1",
        "View users' basic profile",
        "View your basic profile",
    ),
    (
        "User.Read",
        "e1fe6dd8-ba31-4d61-89e7-88639da4683d",
        "Sign in and read user profile",
        "Sign in and read your profile",
    ),
    (
        "Mail.Read",
        "570282fd-fa5c-430d-a7fd-fc8dc98a9dca",
        "Read user mail",
        "Read your mail",
    ),
    (
        "Mail.Send",
        "e383f46e-2787-4529-855e-0e479a3ffac0",
        "Send mail as a user",
        "Send mail as you",
    ),
    (
        "Mail.ReadWrite",
        "024d486e-b451-40bb-833d-3e66d98c5c73",
        "Read and write access to user mail",
        "Read and write access to your mail",
    ),
    (
        "EWS.AccessAsUser.All",
        "9769c687-087d-48ac-9cb3-c37dde652038",
        "Access mailboxes as the signed-in user via Exchange Web Services",
        "Access your mailboxes via Exchange Web Services",
    ),
];

// ---------------------------------------------------------------------------------------------
// Configuration and state
// ---------------------------------------------------------------------------------------------

/// Settings of one emulated directory.
#[derive(Clone, Debug)]
pub struct GraphConfig {
    /// GUID of the emulated directory.
    pub tenant_id: String,
    /// e.g. "contoso.onmicrosoft.com". The token endpoint accepts the GUID, this domain, "common"
    /// and "organizations".
    pub tenant_domain: String,
    /// Accepted (client_id, client_secret) pairs for the client_credentials grant.
    pub principals: Vec<(String, String)>,
    /// Replication lag, counted in requests (see [`GraphState`]). Read when an object is created.
    pub replication_lag: u32,
    /// Access token lifetime (`expires_in`).
    pub token_lifetime_secs: i64,
    /// `Some((n, window))`: at most n writes per sliding window on the `applications` path for
    /// personal-audience apps (ref §4.2: 60 per minute).
    pub write_limit: Option<(u32, Duration)>,
    /// Seed of every id, secret and token.
    pub seed: u64,
    /// Tenant app-management policy: maximum secret lifetime in days (`None`: no policy).
    pub max_secret_lifetime_days: Option<u32>,
    /// Base URL written into `@odata.context`, `@odata.nextLink` and `location`, and accepted as a
    /// token audience besides `https://graph.microsoft.com`. A server on a loopback port may set
    /// it to its own address so clients can follow nextLinks.
    pub graph_base_url: String,
}

impl Default for GraphConfig {
    fn default() -> Self {
        GraphConfig {
            tenant_id: "5f3b6c2e-8d1a-4e7b-9c40-2a6f1d3e8b75".into(),
            tenant_domain: "contoso.onmicrosoft.com".into(),
            principals: vec![(
                "00000000-0000-0000-0000-00000000e111".into(),
                "emulator-operator-secret".into(),
            )],
            replication_lag: 0,
            token_lifetime_secs: 3600,
            write_limit: None,
            seed: 1,
            max_secret_lifetime_days: None,
            graph_base_url: DEFAULT_GRAPH_BASE_URL.into(),
        }
    }
}

struct AppRec {
    seq: u64,
    body: Map<String, Value>,
    /// Remaining `$filter` requests that do not see this object yet.
    filter_lag: u32,
    /// Remaining requests addressing this object by id/appId that fail.
    addr_lag: u32,
}

struct SpRec {
    seq: u64,
    body: Map<String, Value>,
    /// Remaining `POST /oauth2PermissionGrants` naming this SP that fail.
    grant_lag: u32,
}

struct GrantRec {
    seq: u64,
    body: Map<String, Value>,
}

struct TokenRec {
    aud: String,
    not_before: OffsetDateTime,
    expires_at: OffsetDateTime,
    expired: bool,
}

/// The emulated directory: token endpoint + Graph v1.0.
///
/// Replication lag (ref §4.3), counted, not timed: with `replication_lag = N`, a new application
/// (POST, or the upsert's 201) is missing from the next N `$filter` requests (applications and
/// deletedItems; follow-up pages with `$skiptoken` hide it without counting), and the next N
/// requests addressing it by id/appId (GET, PATCH, addPassword, removePassword, POST
/// servicePrincipals for its appId) fail. A new service principal fails the next N
/// `POST /oauth2PermissionGrants` naming it.
pub struct GraphState {
    config: GraphConfig,
    rng: fastrand::Rng,
    seq: u64,
    tokens: HashMap<String, TokenRec>,
    apps: Vec<AppRec>,
    deleted: Vec<AppRec>,
    graph_sp: Map<String, Value>,
    sps: Vec<SpRec>,
    grants: Vec<GrantRec>,
    writes: VecDeque<OffsetDateTime>,
    policy_id: String,
}

// ---------------------------------------------------------------------------------------------
// Errors and results
// ---------------------------------------------------------------------------------------------

struct GErr {
    status: u16,
    code: String,
    message: String,
    details: Option<Value>,
    headers: Vec<(String, String)>,
    throttled: bool,
}

impl GErr {
    fn new(status: u16, code: &str, message: impl Into<String>) -> Self {
        GErr {
            status,
            code: code.into(),
            message: message.into(),
            details: None,
            headers: Vec::new(),
            throttled: false,
        }
    }
    fn details(mut self, d: Value) -> Self {
        self.details = Some(d);
        self
    }
    fn header(mut self, k: &str, v: impl Into<String>) -> Self {
        self.headers.push((k.into(), v.into()));
        self
    }
}

fn not_found(what: &str) -> GErr {
    GErr::new(
        404,
        "Request_ResourceNotFound",
        format!("Resource '{what}' {NOT_FOUND_TAIL}"),
    )
}

fn bad_request(msg: impl Into<String>) -> GErr {
    GErr::new(400, "Request_BadRequest", msg)
}

/// INFERRED message pattern; the `details` reason is the emulator's, to help users debug.
fn invalid_value(prop: &str, reason: impl Into<String>) -> GErr {
    bad_request(format!(
        "Invalid value specified for property '{prop}' of resource 'Application'."
    ))
    .details(json!([{"code": "InvalidValue", "message": reason.into(), "target": prop}]))
}

/// Graph's text for an unknown path segment.
fn unknown_segment(seg: &str) -> GErr {
    GErr::new(
        400,
        "BadRequest",
        format!("Resource not found for the segment '{seg}'."),
    )
}

/// INFERRED: body of a 405.
fn method_not_allowed(allow: &str) -> GErr {
    GErr::new(
        405,
        "Request_BadRequest",
        "Specified HTTP method is not allowed for the request target.",
    )
    .header("allow", allow)
}

/// INFERRED message (AAD's text for a malformed object id).
fn invalid_object_id(v: &str) -> GErr {
    bad_request(format!("Invalid object identifier '{v}'."))
}

fn conflict_unique(prop: &str) -> GErr {
    GErr::new(
        400,
        "Request_MultipleObjectsWithSameKeyValue",
        format!("Another object with the same value for property {prop} already exists."),
    )
}

struct Out {
    status: u16,
    body: Option<Value>,
    headers: Vec<(String, String)>,
    ru: u32,
}

impl Out {
    fn json(status: u16, body: Value) -> Self {
        Out {
            status,
            body: Some(body),
            headers: Vec::new(),
            ru: 1,
        }
    }
    fn empty(status: u16) -> Self {
        Out {
            status,
            body: None,
            headers: Vec::new(),
            ru: 1,
        }
    }
    fn ru(mut self, ru: u32) -> Self {
        self.ru = ru;
        self
    }
    fn header(mut self, k: &str, v: impl Into<String>) -> Self {
        self.headers.push((k.into(), v.into()));
        self
    }
}

type GResult = Result<Out, GErr>;

#[derive(Clone, Debug)]
enum Key {
    Id(String),
    AppId(String),
    UniqueName(String),
}

impl Key {
    fn value(&self) -> &str {
        match self {
            Key::Id(v) | Key::AppId(v) | Key::UniqueName(v) => v,
        }
    }
}

/// Which lag answer a request gets: PATCH and addPassword on personal apps see 409
/// `Error_MsaAppDoesNotExist` (ref §4.3), everything else 404.
#[derive(Clone, Copy, PartialEq)]
enum LagKind {
    MsaSensitive,
    Plain,
}

// ---------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------

impl GraphState {
    pub fn new(config: GraphConfig) -> Self {
        let mut st = GraphState {
            rng: fastrand::Rng::with_seed(config.seed),
            config,
            seq: 0,
            tokens: HashMap::new(),
            apps: Vec::new(),
            deleted: Vec::new(),
            graph_sp: Map::new(),
            sps: Vec::new(),
            grants: Vec::new(),
            writes: VecDeque::new(),
            policy_id: String::new(),
        };
        let graph_sp_id = st.uuid();
        st.policy_id = st.uuid();
        st.graph_sp = st.build_graph_sp(graph_sp_id);
        st
    }

    /// Handles the request if its path belongs to the Microsoft side
    /// (`/{tenant}/oauth2/v2.0/token` or `/v1.0/...`); `None` otherwise.
    pub fn handle(&mut self, req: &EmuRequest, now: OffsetDateTime) -> Option<EmuResponse> {
        if let Some(tenant) = token_path_tenant(&req.path) {
            return Some(self.token_endpoint(req, &tenant, now));
        }
        if req.path == "/v1.0" || req.path.starts_with("/v1.0/") {
            return Some(self.graph(req, now));
        }
        None
    }

    pub fn config_mut(&mut self) -> &mut GraphConfig {
        &mut self.config
    }

    pub fn config(&self) -> &GraphConfig {
        &self.config
    }

    /// Live apps exactly as `GET /applications/{id}` returns them (secretText null).
    pub fn applications(&self) -> Vec<Value> {
        self.apps
            .iter()
            .map(|r| self.app_entity(&r.body, &None))
            .collect()
    }

    /// Soft-deleted apps as `GET /directory/deletedItems/{id}` returns them.
    pub fn deleted_applications(&self) -> Vec<Value> {
        self.deleted
            .iter()
            .map(|r| self.deleted_entity(&r.body))
            .collect()
    }

    /// Service principals created through the API (not the built-in Graph SP).
    pub fn service_principals(&self) -> Vec<Value> {
        self.sps
            .iter()
            .map(|r| with_context(self.ctx("servicePrincipals", &None, true), &r.body))
            .collect()
    }

    pub fn grants(&self) -> Vec<Value> {
        self.grants
            .iter()
            .map(|r| with_context(self.ctx("oauth2PermissionGrants", &None, true), &r.body))
            .collect()
    }

    /// Object id of the built-in Microsoft Graph service principal (the grants' `resourceId`).
    pub fn graph_service_principal_id(&self) -> String {
        self.graph_sp["id"].as_str().unwrap_or_default().to_string()
    }

    /// Seeds an application directly: fills defaults and missing ids, no validation, no lag,
    /// no throttling. Returns it as `GET /applications/{id}` would.
    pub fn insert_application(&mut self, app: Value, now: OffsetDateTime) -> Value {
        let mut body = app_template();
        if let Value::Object(m) = app {
            let m: Map<String, Value> =
                m.into_iter().filter(|(k, _)| !k.starts_with('@')).collect();
            merge_into(&mut body, m);
        }
        if body["id"].is_null() {
            body.insert("id".into(), Value::String(self.uuid()));
        }
        if body["appId"].is_null() {
            body.insert("appId".into(), Value::String(self.uuid()));
        }
        if body["createdDateTime"].is_null() {
            body.insert("createdDateTime".into(), Value::String(iso(now)));
        }
        if body["publisherDomain"].is_null() {
            body.insert(
                "publisherDomain".into(),
                Value::String(self.config.tenant_domain.clone()),
            );
        }
        body.insert("deletedDateTime".into(), Value::Null);
        if let Some(Value::Array(creds)) = body.get_mut("passwordCredentials") {
            for c in creds.iter_mut().filter_map(Value::as_object_mut) {
                c.insert("secretText".into(), Value::Null);
            }
        }
        self.push_app(body, false);
        let rec = self.apps.last().expect("just pushed");
        self.app_entity(&rec.body, &None)
    }

    /// Every access token issued so far becomes expired.
    pub fn expire_tokens(&mut self) {
        for t in self.tokens.values_mut() {
            t.expired = true;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Token endpoint
// ---------------------------------------------------------------------------------------------

/// `/{tenant}/oauth2/v2.0/token` → tenant.
fn token_path_tenant(path: &str) -> Option<String> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segs.as_slice() {
        [tenant, a, b, c]
            if !tenant.is_empty()
                && a.eq_ignore_ascii_case("oauth2")
                && b.eq_ignore_ascii_case("v2.0")
                && c.eq_ignore_ascii_case("token") =>
        {
            Some((*tenant).to_string())
        }
        _ => None,
    }
}

impl GraphState {
    fn token_endpoint(
        &mut self,
        req: &EmuRequest,
        tenant: &str,
        now: OffsetDateTime,
    ) -> EmuResponse {
        let trace_id = self.uuid();
        let correlation_id = match req.header("client-request-id") {
            Some(c) => c.to_string(),
            None => self.uuid(),
        };
        let aad_err = |status: u16, error: &str, code: u32, text: String| {
            let ts = aad_ts(now);
            let body = json!({
                "error": error,
                "error_description": format!(
                    "AADSTS{code}: {text}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {ts}"
                ),
                "error_codes": [code],
                "timestamp": ts,
                "trace_id": trace_id,
                "correlation_id": correlation_id,
                "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
            });
            EmuResponse::json(status, &body)
                .with_header("cache-control", "no-store, no-cache")
                .with_header("pragma", "no-cache")
                .with_header("x-ms-request-id", trace_id.clone())
                .with_header("client-request-id", correlation_id.clone())
        };
        let missing = |p: &str| {
            (
                400,
                "invalid_request",
                900144,
                format!("The request body must contain the following parameter: '{p}'."),
            )
        };

        // INFERRED: AADSTS900561 text.
        if req.method != "POST" {
            return aad_err(
                400,
                "invalid_request",
                900561,
                format!(
                    "The endpoint only accepts POST, OPTIONS requests. Received a {} request.",
                    req.method
                ),
            );
        }
        let known_tenant = tenant.eq_ignore_ascii_case(&self.config.tenant_id)
            || tenant.eq_ignore_ascii_case(&self.config.tenant_domain)
            || tenant.eq_ignore_ascii_case("common")
            || tenant.eq_ignore_ascii_case("organizations");
        if !known_tenant {
            return aad_err(
                400,
                "invalid_request",
                90002,
                format!(
                    "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."
                ),
            );
        }
        let form = req.form();
        let field = |name: &str| {
            form.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .filter(|v| !v.is_empty())
        };
        // client_secret_basic is accepted as well as client_secret_post.
        let basic = req
            .header("authorization")
            .and_then(|h| h.strip_prefix("Basic "))
            .and_then(|b| STANDARD.decode(b.trim()).ok())
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| {
                s.split_once(':')
                    .map(|(a, b)| (a.to_string(), b.to_string()))
            });

        let Some(grant_type) = field("grant_type") else {
            let (s, e, c, t) = missing("grant_type");
            return aad_err(s, e, c, t);
        };
        if grant_type != "client_credentials" {
            // INFERRED: AADSTS70003 text.
            return aad_err(
                400,
                "unsupported_grant_type",
                70003,
                format!("The app requested an unsupported grant type '{grant_type}'."),
            );
        }
        let Some(client_id) = field("client_id").or_else(|| basic.as_ref().map(|b| b.0.clone()))
        else {
            let (s, e, c, t) = missing("client_id");
            return aad_err(s, e, c, t);
        };
        let Some(scope) = field("scope") else {
            let (s, e, c, t) = missing("scope");
            return aad_err(s, e, c, t);
        };
        let Some(expected_secret) = self
            .config
            .principals
            .iter()
            .find(|(id, _)| id.eq_ignore_ascii_case(&client_id))
            .map(|(_, s)| s.clone())
        else {
            return aad_err(
                400,
                "unauthorized_client",
                700016,
                format!(
                    "Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
                ),
            );
        };
        let Some(secret) = field("client_secret").or_else(|| basic.as_ref().map(|b| b.1.clone()))
        else {
            // INFERRED: AADSTS7000218 text.
            return aad_err(401, "invalid_client", 7000218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.".into());
        };
        if secret != expected_secret {
            return aad_err(
                401,
                "invalid_client",
                7000215,
                format!(
                    "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."
                ),
            );
        }
        let Some(aud) = self.scope_resource(&scope) else {
            // INFERRED: AADSTS1002012 text.
            return aad_err(
                400,
                "invalid_scope",
                1002012,
                format!(
                    "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
                ),
            );
        };

        let life = self.config.token_lifetime_secs;
        let token = self.mint_jwt(&client_id, &aud, now, life);
        self.tokens.insert(
            token.clone(),
            TokenRec {
                aud,
                not_before: now,
                expires_at: now + Duration::seconds(life),
                expired: false,
            },
        );
        let body = json!({
            "token_type": "Bearer",
            "expires_in": life,
            "ext_expires_in": life,
            "access_token": token,
        });
        EmuResponse::json(200, &body)
            .with_header("cache-control", "no-store, no-cache")
            .with_header("pragma", "no-cache")
            .with_header("x-ms-request-id", trace_id)
            .with_header("client-request-id", correlation_id)
    }

    /// `https://<host>/.default` (or the configured Graph base, or Graph's appId) → audience.
    fn scope_resource(&self, scope: &str) -> Option<String> {
        let s = scope.trim();
        if s.contains(char::is_whitespace) {
            return None;
        }
        let res = s.strip_suffix("/.default")?;
        if res == GRAPH_APP_ID || res == self.base() {
            return Some(res.to_string());
        }
        let url = url::Url::parse(res).ok()?;
        let plain = url.scheme() == "https"
            && url.host_str().is_some()
            && url.query().is_none()
            && (url.path() == "/" || url.path().is_empty());
        plain.then(|| res.to_string())
    }

    /// A JWT-shaped opaque token. It never contains the client secret.
    fn mint_jwt(&mut self, client_id: &str, aud: &str, now: OffsetDateTime, life: i64) -> String {
        let tid = self.config.tenant_id.clone();
        let iat = now.unix_timestamp();
        let uti = self.uuid();
        let header = json!({"typ": "JWT", "alg": "RS256", "kid": "graph-emulator"});
        // INFERRED: claim set of an app-only v1 token; roles are what mailreg needs.
        let payload = json!({
            "aud": aud,
            "iss": format!("https://sts.windows.net/{tid}/"),
            "iat": iat,
            "nbf": iat,
            "exp": iat + life,
            "appid": client_id,
            "appidacr": "1",
            "idtyp": "app",
            "roles": ["Application.ReadWrite.All", "DelegatedPermissionGrant.ReadWrite.All"],
            "tid": tid,
            "uti": uti,
            "ver": "1.0",
        });
        let sig: Vec<u8> = (0..32).map(|_| self.rng.u8(..)).collect();
        format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(payload.to_string()),
            URL_SAFE_NO_PAD.encode(sig)
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Graph: envelope, auth, routing
// ---------------------------------------------------------------------------------------------

impl GraphState {
    fn base(&self) -> &str {
        self.config.graph_base_url.trim_end_matches('/')
    }

    fn graph(&mut self, req: &EmuRequest, now: OffsetDateTime) -> EmuResponse {
        let request_id = self.uuid();
        let client_request_id = req
            .header("client-request-id")
            .map(str::to_string)
            .unwrap_or_else(|| request_id.clone());
        let result = self
            .authenticate(req, now)
            .and_then(|()| self.route(req, now));
        let (mut resp, ru) = match result {
            Ok(out) => {
                let mut r = match &out.body {
                    Some(b) => EmuResponse::json(out.status, b),
                    None => EmuResponse::empty(out.status),
                };
                for (k, v) in out.headers {
                    r = r.with_header(&k, v);
                }
                (r, out.ru)
            }
            Err(e) => {
                let body = if e.throttled {
                    // ref §4.2, verbatim shape.
                    json!({"error": {
                        "code": "TooManyRequests",
                        "innerError": {
                            "code": "429",
                            "date": inner_date(now),
                            "message": "Please retry after",
                            "request-id": request_id,
                            "status": "429",
                        },
                        "message": "Please retry again later.",
                    }})
                } else {
                    let mut err = json!({
                        "code": e.code,
                        "message": e.message,
                        "innerError": {
                            "date": inner_date(now),
                            "request-id": request_id,
                            "client-request-id": client_request_id,
                        },
                    });
                    if let Some(d) = e.details {
                        err["details"] = d;
                    }
                    json!({ "error": err })
                };
                let mut r = EmuResponse::json(e.status, &body);
                for (k, v) in e.headers {
                    r = r.with_header(&k, v);
                }
                (r, 1)
            }
        };
        resp = resp
            .with_header("request-id", request_id.clone())
            .with_header("client-request-id", client_request_id)
            .with_header("x-ms-resource-unit", ru.to_string());
        resp
    }

    fn authenticate(&self, req: &EmuRequest, now: OffsetDateTime) -> Result<(), GErr> {
        // INFERRED: WWW-Authenticate header on Graph 401s.
        let unauthorized = |msg: &str| {
            GErr::new(401, "InvalidAuthenticationToken", msg).header(
                "www-authenticate",
                format!("Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", client_id=\"{GRAPH_APP_ID}\""),
            )
        };
        let Some(token) = req.bearer().map(str::trim).filter(|t| !t.is_empty()) else {
            return Err(unauthorized("Access token is empty."));
        };
        let Some(rec) = self.tokens.get(token) else {
            // INFERRED: a token this directory never issued.
            return Err(unauthorized("Access token validation failure."));
        };
        // INFERRED: 5 minutes of clock skew before nbf, as AAD allows.
        if rec.expired || now >= rec.expires_at || now < rec.not_before - Duration::minutes(5) {
            return Err(unauthorized(
                "Access token has expired or is not yet valid.",
            ));
        }
        let aud = rec.aud.trim_end_matches('/');
        // The emulator stands in for every cloud: the national clouds' Graph resources are
        // accepted as well as the global one (reference §3).
        const NATIONAL_GRAPH: [&str; 3] = [
            "https://graph.microsoft.us",
            "https://dod-graph.microsoft.us",
            "https://microsoftgraph.chinacloudapi.cn",
        ];
        if aud != DEFAULT_GRAPH_BASE_URL
            && aud != GRAPH_APP_ID
            && aud != self.base()
            && !NATIONAL_GRAPH.contains(&aud)
        {
            // INFERRED: real text for a token minted for another resource.
            return Err(unauthorized(
                "Access token validation failure. Invalid audience.",
            ));
        }
        Ok(())
    }

    fn route(&mut self, req: &EmuRequest, now: OffsetDateTime) -> GResult {
        let rest = req.path.strip_prefix("/v1.0").unwrap_or_default();
        let mut segs: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
        // INFERRED: `/v1.0/myorganization/...` (used by CLI for Microsoft 365) is an alias.
        if segs
            .first()
            .is_some_and(|s| s.eq_ignore_ascii_case("myorganization"))
        {
            segs.remove(0);
        }
        let Some(first) = segs.first().copied() else {
            return Err(unknown_segment("v1.0"));
        };
        let (name, pred) = split_segment(first).ok_or_else(|| unknown_segment(first))?;
        let m = req.method.as_str();
        let name = name.to_ascii_lowercase();
        match name.as_str() {
            "applications" => {
                let (key, tail) = match pred {
                    Some((k, v)) => (app_key(&k, v, first)?, &segs[1..]),
                    None if segs.len() == 1 => {
                        return match m {
                            "GET" => self.list_app_records(req, false),
                            "POST" => self.create_app(req, now),
                            _ => Err(method_not_allowed("GET, POST")),
                        };
                    }
                    None => (Key::Id(segs[1].to_string()), &segs[2..]),
                };
                match tail {
                    [] => match m {
                        "GET" => self.get_app(&key, req),
                        "PATCH" => {
                            if let Key::UniqueName(n) = &key {
                                self.upsert_app(n, req, now)
                            } else {
                                self.patch_app(&key, req, now)
                            }
                        }
                        "DELETE" => self.delete_app(&key, now),
                        _ => Err(method_not_allowed("GET, PATCH, DELETE")),
                    },
                    [action] => match action_name(action).as_str() {
                        "addpassword" if m == "POST" => self.add_password(&key, req, now),
                        "removepassword" if m == "POST" => self.remove_password(&key, req, now),
                        "addpassword" | "removepassword" => Err(method_not_allowed("POST")),
                        _ => Err(unknown_segment(action)),
                    },
                    [action, more, ..] => match action_name(action).as_str() {
                        "addpassword" | "removepassword" => Err(unknown_segment(more)),
                        _ => Err(unknown_segment(action)),
                    },
                }
            }
            "directory" if pred.is_none() => {
                let Some(second) = segs.get(1) else {
                    return Err(unknown_segment(first));
                };
                if !second.eq_ignore_ascii_case("deletedItems") {
                    return Err(unknown_segment(second));
                }
                match &segs[2..] {
                    // ref §1.7: the untyped list "is not supported". INFERRED status/code.
                    [] => match m {
                        "GET" => Err(GErr::new(
                            400,
                            "Request_UnsupportedQuery",
                            "Unsupported query: an untyped list of deleted items is not supported; cast to microsoft.graph.application.",
                        )),
                        _ => Err(method_not_allowed("GET")),
                    },
                    [cast] if cast.eq_ignore_ascii_case("microsoft.graph.application") => match m {
                        "GET" => self.list_app_records(req, true),
                        _ => Err(method_not_allowed("GET")),
                    },
                    [cast, ..] if cast.to_ascii_lowercase().starts_with("microsoft.graph.") => {
                        Err(unknown_segment(cast))
                    }
                    [id] => match m {
                        "GET" => self.get_deleted(id),
                        "DELETE" => self.purge_deleted(id),
                        _ => Err(method_not_allowed("GET, DELETE")),
                    },
                    [id, action] if action_name(action) == "restore" => match m {
                        "POST" => self.restore_deleted(id),
                        _ => Err(method_not_allowed("POST")),
                    },
                    [_, action, ..] => Err(unknown_segment(action)),
                }
            }
            "serviceprincipals" => {
                let (key, tail) = match pred {
                    Some((k, v)) if k.eq_ignore_ascii_case("appId") => (Key::AppId(v), &segs[1..]),
                    Some((k, v)) if k.is_empty() || k.eq_ignore_ascii_case("id") => {
                        (Key::Id(v), &segs[1..])
                    }
                    Some(_) => return Err(unknown_segment(first)),
                    None if segs.len() == 1 => {
                        return match m {
                            "GET" => self.list_sps(req),
                            "POST" => self.create_sp(req),
                            _ => Err(method_not_allowed("GET, POST")),
                        };
                    }
                    None => (Key::Id(segs[1].to_string()), &segs[2..]),
                };
                if let Some(extra) = tail.first() {
                    return Err(unknown_segment(extra));
                }
                match m {
                    "GET" => self.get_sp(&key, req),
                    "DELETE" => self.delete_sp(&key),
                    _ => Err(method_not_allowed("GET, DELETE")),
                }
            }
            "oauth2permissiongrants" if pred.is_none() => match &segs[1..] {
                [] => match m {
                    "GET" => self.list_grants(req),
                    "POST" => self.create_grant(req),
                    _ => Err(method_not_allowed("GET, POST")),
                },
                [id] => match m {
                    "GET" => self.get_grant(id, req),
                    "PATCH" => self.patch_grant(id, req),
                    "DELETE" => self.delete_grant(id),
                    _ => Err(method_not_allowed("GET, PATCH, DELETE")),
                },
                [_, more, ..] => Err(unknown_segment(more)),
            },
            _ => Err(unknown_segment(first)),
        }
    }
}

/// `addPassword`, `microsoft.graph.addPassword` → `addpassword`.
fn action_name(seg: &str) -> String {
    let lower = seg.to_ascii_lowercase();
    lower
        .strip_prefix("microsoft.graph.")
        .map(str::to_string)
        .unwrap_or(lower)
}

fn app_key(k: &str, v: String, seg: &str) -> Result<Key, GErr> {
    if k.is_empty() || k.eq_ignore_ascii_case("id") {
        Ok(Key::Id(v))
    } else if k.eq_ignore_ascii_case("appId") {
        Ok(Key::AppId(v))
    } else if k.eq_ignore_ascii_case("uniqueName") {
        Ok(Key::UniqueName(v))
    } else {
        Err(unknown_segment(seg))
    }
}

/// `name(key='value')`, `name('value')` or `name` → (name, predicate).
fn split_segment(seg: &str) -> Option<(&str, Option<(String, String)>)> {
    let Some(open) = seg.find('(') else {
        return Some((seg, None));
    };
    let name = &seg[..open];
    let inner = seg[open + 1..].strip_suffix(')')?;
    let (k, v) = match inner.split_once('=') {
        Some((k, v)) if !k.trim_start().starts_with('\'') => (k.trim().to_string(), v.trim()),
        _ => (String::new(), inner.trim()),
    };
    let (value, rest) = parse_literal(v)?;
    if !rest.trim().is_empty() {
        return None;
    }
    Some((name, Some((k, value))))
}

/// An OData string literal at the start of `s` (`''` escapes a quote) → (value, rest).
fn parse_literal(s: &str) -> Option<(String, &str)> {
    let s = s.strip_prefix('\'')?;
    let mut out = String::new();
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == '\'' {
            if chars.peek().is_some_and(|(_, n)| *n == '\'') {
                chars.next();
                out.push('\'');
            } else {
                return Some((out, &s[i + 1..]));
            }
        } else {
            out.push(c);
        }
    }
    None
}

fn is_guid(v: &str) -> bool {
    uuid::Uuid::parse_str(v).is_ok()
}

fn is_personal_audience(aud: &str) -> bool {
    aud == "AzureADandPersonalMicrosoftAccount" || aud == "PersonalMicrosoftAccount"
}

fn is_personal(app: &Map<String, Value>) -> bool {
    app.get("signInAudience")
        .and_then(Value::as_str)
        .is_some_and(is_personal_audience)
}

// ---------------------------------------------------------------------------------------------
// Query options: $filter, $select, $top, $skiptoken
// ---------------------------------------------------------------------------------------------

#[derive(Debug, PartialEq)]
enum Filter {
    /// `prop/any(x:x eq 'v')`
    Any(String, String),
    /// `prop eq 'v'`
    Eq(String, String),
    /// `startswith(prop,'v')`
    StartsWith(String, String),
}

struct FilterProps {
    resource: &'static str,
    any: &'static [&'static str],
    eq: &'static [&'static str],
    starts: &'static [&'static str],
}

const APP_FILTERS: FilterProps = FilterProps {
    resource: "Application",
    any: &["tags"],
    eq: &["appId", "displayName"],
    starts: &["displayName"],
};
const SP_FILTERS: FilterProps = FilterProps {
    resource: "ServicePrincipal",
    any: &["tags", "servicePrincipalNames"],
    eq: &["appId", "displayName", "id"],
    starts: &["displayName"],
};
const GRANT_FILTERS: FilterProps = FilterProps {
    resource: "OAuth2PermissionGrant",
    any: &[],
    eq: &["clientId", "resourceId", "consentType", "principalId"],
    starts: &[],
};

fn strip_eq(s: &str) -> Option<&str> {
    let s = s.trim_start();
    let kw = s.get(..2)?;
    let rest = &s[2..];
    (kw.eq_ignore_ascii_case("eq") && rest.starts_with(char::is_whitespace))
        .then(|| rest.trim_start())
}

fn parse_filter_syntax(s: &str) -> Option<Filter> {
    let s = s.trim();
    if s.get(..11)
        .is_some_and(|p| p.eq_ignore_ascii_case("startswith("))
    {
        let (prop, rest) = s[11..].split_once(',')?;
        let (lit, rest) = parse_literal(rest.trim_start())?;
        return (rest.trim() == ")").then(|| Filter::StartsWith(prop.trim().into(), lit));
    }
    if let Some((prop, rest)) = s.split_once("/any(") {
        let (var, rest) = rest.split_once(':')?;
        let var = var.trim();
        if var.is_empty() {
            return None;
        }
        let rest = rest.trim_start().strip_prefix(var)?;
        let (lit, rest) = parse_literal(strip_eq(rest)?)?;
        return (rest.trim() == ")").then(|| Filter::Any(prop.trim().into(), lit));
    }
    let (prop, rest) = s.split_once(char::is_whitespace)?;
    let (lit, rest) = parse_literal(strip_eq(rest)?)?;
    rest.trim()
        .is_empty()
        .then(|| Filter::Eq(prop.trim().into(), lit))
}

/// Parses one of the supported filter shapes; anything else is 400 `Request_UnsupportedQuery`.
fn parse_filter(s: &str, props: &FilterProps) -> Result<Filter, GErr> {
    // INFERRED message texts.
    let unsupported = |prop: &str| {
        GErr::new(
            400,
            "Request_UnsupportedQuery",
            format!(
                "Unsupported or invalid query filter clause specified for property '{prop}' of resource '{}'.",
                props.resource
            ),
        )
    };
    let Some(f) = parse_filter_syntax(s) else {
        return Err(GErr::new(
            400,
            "Request_UnsupportedQuery",
            format!("Unsupported query filter clause: '{s}'."),
        ));
    };
    let canon = |allowed: &[&str], p: &str| {
        allowed
            .iter()
            .find(|a| a.eq_ignore_ascii_case(p))
            .map(|a| a.to_string())
    };
    match f {
        Filter::Any(p, v) => canon(props.any, &p)
            .map(|p| Filter::Any(p, v))
            .ok_or_else(|| unsupported(&p)),
        Filter::Eq(p, v) => canon(props.eq, &p)
            .map(|p| Filter::Eq(p, v))
            .ok_or_else(|| unsupported(&p)),
        Filter::StartsWith(p, v) => canon(props.starts, &p)
            .map(|p| Filter::StartsWith(p, v))
            .ok_or_else(|| unsupported(&p)),
    }
}

impl Filter {
    fn matches(&self, body: &Map<String, Value>) -> bool {
        let str_eq = |v: &Value, want: &str| {
            v.as_str()
                .is_some_and(|s| s.to_lowercase() == want.to_lowercase())
        };
        match self {
            Filter::Any(p, v) => body
                .get(p)
                .and_then(Value::as_array)
                .is_some_and(|a| a.iter().any(|x| str_eq(x, v))),
            Filter::Eq(p, v) => body.get(p).is_some_and(|x| str_eq(x, v)),
            Filter::StartsWith(p, v) => body
                .get(p)
                .and_then(Value::as_str)
                .is_some_and(|s| s.to_lowercase().starts_with(&v.to_lowercase())),
        }
    }
}

type Select = Option<Vec<String>>;

fn parse_select(
    req: &EmuRequest,
    template: &Map<String, Value>,
    type_name: &str,
) -> Result<Select, GErr> {
    let Some(raw) = req.query_param("$select") else {
        return Ok(None);
    };
    let mut out: Vec<String> = Vec::new();
    for p in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let canon = template.keys().find(|k| k.eq_ignore_ascii_case(p)).ok_or_else(|| {
            // INFERRED: OData's text for an unknown property.
            GErr::new(400, "BadRequest", format!(
                "Could not find a property named '{p}' on type 'microsoft.graph.{type_name}'."))
        })?;
        if !out.contains(canon) {
            out.push(canon.clone());
        }
    }
    Ok((!out.is_empty()).then_some(out))
}

/// Top-level projection; `id` is always kept.
fn project(body: &Map<String, Value>, select: &Select) -> Map<String, Value> {
    match select {
        None => body.clone(),
        Some(sel) => body
            .iter()
            .filter(|(k, _)| *k == "id" || sel.contains(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    }
}

fn parse_top(req: &EmuRequest) -> Result<usize, GErr> {
    match req.query_param("$top") {
        None => Ok(100),
        Some(t) => match t.trim().parse::<usize>() {
            Ok(n) if (1..=999).contains(&n) => Ok(n),
            // INFERRED text.
            _ => Err(bad_request(format!(
                "Invalid page size specified: '{t}'. Must be between 1 and 999 inclusive."
            ))),
        },
    }
}

const SKIP_PREFIX: &str = "emu-skip:";

fn parse_skiptoken(req: &EmuRequest) -> Result<Option<u64>, GErr> {
    let Some(t) = req.query_param("$skiptoken") else {
        return Ok(None);
    };
    URL_SAFE_NO_PAD
        .decode(t.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix(SKIP_PREFIX).and_then(|n| n.parse().ok()))
        .map(Some)
        // INFERRED: the directory's code for a bad page token.
        .ok_or_else(|| GErr::new(400, "Directory_ExpiredPageToken",
            "The specified page token value has expired and can no longer be included in your request."))
}

/// Percent-encodes a query component; keeps `$ ' ( ) , : /` readable as Graph does, and encodes
/// spaces as `%20` (never `+`).
fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~$'(),:/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Resource units (ref §4.2): `base` minus 1 for `$select`, minus 1 for `$top` under 20, at least 1.
fn resource_units(req: &EmuRequest, base: u32) -> u32 {
    let mut n = base;
    if req
        .query_param("$select")
        .is_some_and(|s| !s.trim().is_empty())
    {
        n = n.saturating_sub(1);
    }
    if req
        .query_param("$top")
        .and_then(|t| t.trim().parse::<u32>().ok())
        .is_some_and(|t| t < 20)
    {
        n = n.saturating_sub(1);
    }
    n.max(1)
}

fn with_context(ctx: String, body: &Map<String, Value>) -> Value {
    let mut m = Map::new();
    m.insert("@odata.context".into(), Value::String(ctx));
    for (k, v) in body {
        m.insert(k.clone(), v.clone());
    }
    Value::Object(m)
}

impl GraphState {
    fn ctx(&self, set: &str, select: &Select, entity: bool) -> String {
        let mut s = format!("{}/v1.0/$metadata#{set}", self.base());
        if let Some(sel) = select {
            s.push('(');
            s.push_str(&sel.join(","));
            s.push(')');
        }
        if entity {
            s.push_str("/$entity");
        }
        s
    }

    /// One page of a collection. `items` are already filtered and past the skiptoken, in order.
    fn page(
        &self,
        req: &EmuRequest,
        path: &str,
        set: &str,
        items: Vec<(u64, Map<String, Value>)>,
        select: &Select,
        top: usize,
    ) -> Value {
        let more = items.len() > top;
        let page: Vec<(u64, Map<String, Value>)> = items.into_iter().take(top).collect();
        let mut out = Map::new();
        out.insert(
            "@odata.context".into(),
            Value::String(self.ctx(set, select, false)),
        );
        if more {
            let last = page.last().map(|(s, _)| *s).unwrap_or_default();
            let mut q: Vec<String> = req
                .query
                .iter()
                .filter(|(k, _)| k != "$skiptoken")
                .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
                .collect();
            q.push(format!(
                "$skiptoken={}",
                URL_SAFE_NO_PAD.encode(format!("{SKIP_PREFIX}{last}"))
            ));
            out.insert(
                "@odata.nextLink".into(),
                Value::String(format!("{}/v1.0/{path}?{}", self.base(), q.join("&"))),
            );
        }
        let value: Vec<Value> = page
            .iter()
            .map(|(_, b)| Value::Object(project(b, select)))
            .collect();
        out.insert("value".into(), Value::Array(value));
        Value::Object(out)
    }
}

// ---------------------------------------------------------------------------------------------
// Applications
// ---------------------------------------------------------------------------------------------

/// The full application shape (ref §1.1 plus the 2024 additions; keys after `requestSignatureVerification`
/// in this list, and `oauth2RequirePostResponse`, are INFERRED from the v1.0 resource doc).
fn app_template() -> Map<String, Value> {
    let v = json!({
        "id": null,
        "deletedDateTime": null,
        "appId": null,
        "createdDateTime": null,
        "displayName": null,
        "identifierUris": [],
        "notes": null,
        "publisherDomain": null,
        "signInAudience": "AzureADMyOrg",
        "tags": [],
        "api": {
            "acceptMappedClaims": null,
            "knownClientApplications": [],
            "requestedAccessTokenVersion": null,
            "oauth2PermissionScopes": [],
            "preAuthorizedApplications": []
        },
        "passwordCredentials": [],
        "keyCredentials": [],
        "publicClient": {"redirectUris": []},
        "requiredResourceAccess": [],
        "web": {
            "homePageUrl": null,
            "logoutUrl": null,
            "redirectUris": [],
            "implicitGrantSettings": {"enableAccessTokenIssuance": false, "enableIdTokenIssuance": false}
        },
        "spa": {"redirectUris": []}
    });
    let rest = json!({
        "uniqueName": null,
        "nativeAuthenticationApisEnabled": null,
        "servicePrincipalLockConfiguration": null,
        "requestSignatureVerification": null,
        "addIns": [],
        "appRoles": [],
        "applicationTemplateId": null,
        "certification": null,
        "defaultRedirectUri": null,
        "description": null,
        "disabledByMicrosoftStatus": null,
        "groupMembershipClaims": null,
        "info": {
            "logoUrl": null,
            "marketingUrl": null,
            "privacyStatementUrl": null,
            "supportUrl": null,
            "termsOfServiceUrl": null
        },
        "isDeviceOnlyAuthSupported": null,
        "isFallbackPublicClient": null,
        "oauth2RequirePostResponse": false,
        "optionalClaims": null,
        "parentalControlSettings": {"countriesBlockedForMinors": [], "legalAgeGroupRule": "Allow"},
        "samlMetadataUrl": null,
        "serviceManagementReference": null,
        "tokenEncryptionKeyId": null,
        "verifiedPublisher": {"displayName": null, "verifiedPublisherId": null, "addedDateTime": null}
    });
    match (v, rest) {
        (Value::Object(mut m), Value::Object(r)) => {
            m.extend(r);
            m
        }
        _ => unreachable!("templates are objects"),
    }
}

/// Top-level replace; objects merged one level deep; arrays replaced.
fn merge_into(target: &mut Map<String, Value>, patch: Map<String, Value>) {
    for (k, v) in patch {
        match (target.get_mut(&k), v) {
            (Some(Value::Object(cur)), Value::Object(new)) => {
                for (k2, v2) in new {
                    cur.insert(k2, v2);
                }
            }
            (_, v) => {
                target.insert(k, v);
            }
        }
    }
}

fn json_object(req: &EmuRequest) -> Result<Map<String, Value>, GErr> {
    if req.body.iter().all(u8::is_ascii_whitespace) {
        // INFERRED text.
        return Err(GErr::new(
            400,
            "BadRequest",
            "Empty Payload. JSON content expected.",
        ));
    }
    match serde_json::from_slice::<Value>(&req.body) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(GErr::new(
            400,
            "BadRequest",
            "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.",
        )),
    }
}

/// Checks the keys of a create/update body and drops `@odata.*` annotations and an empty
/// `passwordCredentials`.
fn check_write_body(mut body: Map<String, Value>) -> Result<Map<String, Value>, GErr> {
    body.retain(|k, _| !k.starts_with('@'));
    let template = app_template();
    for k in body.keys() {
        if READ_ONLY_APP_PROPS.contains(&k.as_str()) {
            // INFERRED text.
            return Err(bad_request(format!(
                "Property '{k}' is read-only and cannot be set."
            )));
        }
        if !template.contains_key(k) {
            // INFERRED: OData's text for an unknown property.
            return Err(GErr::new(
                400,
                "BadRequest",
                format!(
                    "The property '{k}' does not exist on type 'microsoft.graph.application'. Make sure to only use property names that are defined by the type or mark the type as open type."
                ),
            ));
        }
    }
    if let Some(pc) = body.get("passwordCredentials") {
        if pc.as_array().is_some_and(Vec::is_empty) {
            body.remove("passwordCredentials");
        } else {
            // ref §1.1: "Adding passwordCredential when creating applications is not supported.
            // Use the addPassword method"; ref §1.4: PATCH can't set it either. Text INFERRED.
            return Err(bad_request(
                "Adding passwordCredentials when creating or updating applications is not supported. Use the addPassword method.",
            ));
        }
    }
    Ok(body)
}

/// Validation of a whole application (create, upsert and the result of a PATCH).
fn validate_app(app: &Map<String, Value>) -> Result<(), GErr> {
    let display = app
        .get("displayName")
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| invalid_value("displayName", "displayName is required."))?;
    let aud = app
        .get("signInAudience")
        .and_then(Value::as_str)
        .filter(|a| AUDIENCES.contains(a))
        .ok_or_else(|| {
            invalid_value(
                "signInAudience",
                format!("signInAudience must be one of {}.", AUDIENCES.join(", ")),
            )
        })?;
    let personal = is_personal_audience(aud);

    // ref §1.3.
    let version = app
        .get("api")
        .and_then(|a| a.get("requestedAccessTokenVersion"))
        .unwrap_or(&Value::Null);
    let version_ok = match version {
        Value::Null => !personal,
        Value::Number(n) => match n.as_i64() {
            Some(2) => true,
            Some(1) => !personal,
            _ => false,
        },
        _ => false,
    };
    if !version_ok {
        return Err(GErr::new(
            400,
            "InvalidAccessTokenVersion",
            "One or more properties contains invalid values.",
        ));
    }

    // ref §1.1: 90 chars for personal audiences, 120 otherwise.
    let max_name = if personal { 90 } else { 120 };
    if display.chars().count() > max_name {
        return Err(invalid_value(
            "displayName",
            format!("displayName may hold at most {max_name} characters for signInAudience {aud}."),
        ));
    }
    if app
        .get("description")
        .and_then(Value::as_str)
        .is_some_and(|d| d.chars().count() > 1024)
    {
        return Err(invalid_value(
            "description",
            "description may hold at most 1024 characters.",
        ));
    }

    // ref §1.1: tags 1–256 chars, no whitespace, no duplicates.
    match app.get("tags") {
        None | Some(Value::Null) => {}
        Some(Value::Array(tags)) => {
            let mut seen = HashSet::new();
            for t in tags {
                let t = t
                    .as_str()
                    .ok_or_else(|| invalid_value("tags", "tags must be strings."))?;
                let n = t.chars().count();
                if n == 0 || n > 256 {
                    return Err(invalid_value(
                        "tags",
                        format!("tag '{t}' must be 1 to 256 characters long."),
                    ));
                }
                if t.chars().any(char::is_whitespace) {
                    return Err(invalid_value(
                        "tags",
                        format!("tag '{t}' must not contain whitespace."),
                    ));
                }
                if !seen.insert(t) {
                    return Err(invalid_value("tags", format!("tag '{t}' is duplicated.")));
                }
            }
        }
        Some(_) => return Err(invalid_value("tags", "tags must be an array of strings.")),
    }

    // ref §1.1 / reply-url doc: redirect URI rules.
    let mut uris: Vec<(String, String)> = Vec::new();
    for platform in ["web", "spa", "publicClient"] {
        let prop = format!("{platform}.redirectUris");
        match app.get(platform).and_then(|p| p.get("redirectUris")) {
            None | Some(Value::Null) => {}
            Some(Value::Array(list)) => {
                for u in list {
                    let u = u
                        .as_str()
                        .ok_or_else(|| invalid_value(&prop, "redirect URIs must be strings."))?;
                    uris.push((prop.clone(), u.to_string()));
                }
            }
            Some(_) => return Err(invalid_value(&prop, "redirectUris must be an array.")),
        }
    }
    let max_uris = if personal { 100 } else { 256 };
    if uris.len() > max_uris {
        return Err(invalid_value(
            "web.redirectUris",
            format!("at most {max_uris} redirect URIs are allowed."),
        ));
    }
    for (prop, u) in &uris {
        let parsed = url::Url::parse(u)
            .map_err(|_| invalid_value(prop, format!("'{u}' is not an absolute URI.")))?;
        if personal {
            if u.chars().count() > 256 {
                return Err(invalid_value(
                    prop,
                    format!("'{u}' is longer than 256 characters."),
                ));
            }
            if parsed.query().is_some() {
                return Err(invalid_value(
                    prop,
                    format!("'{u}' must not contain query parameters."),
                ));
            }
            if u.contains('*') {
                return Err(invalid_value(
                    prop,
                    format!("'{u}' must not contain wildcards."),
                ));
            }
            let local = matches!(parsed.host_str(), Some("localhost") | Some("127.0.0.1"));
            if parsed.scheme() == "http" && !local {
                return Err(invalid_value(
                    prop,
                    format!("'{u}': http:// is allowed only for localhost."),
                ));
            }
        }
    }

    match app.get("identifierUris") {
        None | Some(Value::Null) => {}
        Some(Value::Array(list)) => {
            for u in list {
                let u = u.as_str().ok_or_else(|| {
                    invalid_value("identifierUris", "identifierUris must be strings.")
                })?;
                // ref §1.2: at most 120 chars for AzureADandPersonalMicrosoftAccount.
                if personal && u.chars().count() > 120 {
                    return Err(invalid_value(
                        "identifierUris",
                        format!("'{u}' is longer than 120 characters."),
                    ));
                }
            }
        }
        Some(_) => {
            return Err(invalid_value(
                "identifierUris",
                "identifierUris must be an array.",
            ));
        }
    }

    // ref §1.1: personal apps hold at most 30 permissions per resource and 200 in total.
    match app.get("requiredResourceAccess") {
        None | Some(Value::Null) => {}
        Some(Value::Array(list)) => {
            let prop = "requiredResourceAccess";
            let mut per_resource: HashMap<String, usize> = HashMap::new();
            let mut total = 0;
            for rra in list {
                let res = rra
                    .get("resourceAppId")
                    .and_then(Value::as_str)
                    .ok_or_else(|| invalid_value(prop, "resourceAppId is required."))?;
                let access = rra
                    .get("resourceAccess")
                    .and_then(Value::as_array)
                    .ok_or_else(|| invalid_value(prop, "resourceAccess must be an array."))?;
                for a in access {
                    let id_ok = a.get("id").and_then(Value::as_str).is_some_and(is_guid);
                    let type_ok = matches!(
                        a.get("type").and_then(Value::as_str),
                        Some("Scope") | Some("Role")
                    );
                    if !id_ok || !type_ok {
                        return Err(invalid_value(
                            prop,
                            "each resourceAccess needs a GUID id and type Scope or Role.",
                        ));
                    }
                }
                *per_resource.entry(res.to_ascii_lowercase()).or_default() += access.len();
                total += access.len();
            }
            if personal {
                if let Some((res, n)) = per_resource.iter().find(|(_, n)| **n > 30) {
                    return Err(invalid_value(
                        prop,
                        format!(
                            "{n} permissions requested for resource {res}; at most 30 per resource are allowed for signInAudience {aud}."
                        ),
                    ));
                }
                if total > 200 {
                    return Err(invalid_value(
                        prop,
                        format!(
                            "{total} permissions requested; at most 200 are allowed for signInAudience {aud}."
                        ),
                    ));
                }
            }
        }
        Some(_) => {
            return Err(invalid_value(
                "requiredResourceAccess",
                "requiredResourceAccess must be an array.",
            ));
        }
    }
    Ok(())
}

impl GraphState {
    fn push_app(&mut self, body: Map<String, Value>, lagged: bool) -> usize {
        self.seq += 1;
        let lag = if lagged {
            self.config.replication_lag
        } else {
            0
        };
        self.apps.push(AppRec {
            seq: self.seq,
            body,
            filter_lag: lag,
            addr_lag: lag,
        });
        self.apps.len() - 1
    }

    fn find_app(&self, key: &Key) -> Option<usize> {
        self.apps.iter().position(|r| {
            let field = match key {
                Key::Id(_) => "id",
                Key::AppId(_) => "appId",
                Key::UniqueName(_) => "uniqueName",
            };
            r.body
                .get(field)
                .and_then(Value::as_str)
                .is_some_and(|v| v.eq_ignore_ascii_case(key.value()))
        })
    }

    /// Resolves an addressed app: 400 for a malformed id, 404 when absent (not lag-aware).
    fn resolve_app(&self, key: &Key) -> Result<usize, GErr> {
        if let Key::Id(v) | Key::AppId(v) = key
            && !is_guid(v)
        {
            return Err(invalid_object_id(v));
        }
        self.find_app(key).ok_or_else(|| not_found(key.value()))
    }

    /// INFERRED: uniqueName is an alternate key held by live and soft-deleted apps alike,
    /// compared case-insensitively.
    fn unique_name_taken(&self, name: &str, except: Option<usize>) -> bool {
        let holds = |r: &AppRec| {
            r.body
                .get("uniqueName")
                .and_then(Value::as_str)
                .is_some_and(|u| u.eq_ignore_ascii_case(name))
        };
        self.apps
            .iter()
            .enumerate()
            .any(|(i, r)| Some(i) != except && holds(r))
            || self.deleted.iter().any(holds)
    }

    /// Fails (and counts down) while the app is still replicating (ref §4.3).
    fn lag_check(&mut self, idx: usize, kind: LagKind, addressed: &str) -> Result<(), GErr> {
        let rec = &mut self.apps[idx];
        if rec.addr_lag == 0 {
            return Ok(());
        }
        rec.addr_lag -= 1;
        if kind == LagKind::MsaSensitive && is_personal(&rec.body) {
            Err(GErr::new(
                409,
                "Error_MsaAppDoesNotExist",
                "The corresponding MSA application does not exist.",
            ))
        } else {
            Err(not_found(addressed))
        }
    }

    /// Sliding-window write limit for personal-audience apps (ref §4.2).
    fn throttle(&mut self, personal: bool, now: OffsetDateTime) -> Result<(), GErr> {
        let Some((limit, window)) = self.config.write_limit else {
            return Ok(());
        };
        if !personal {
            return Ok(());
        }
        while self.writes.front().is_some_and(|t| now - *t >= window) {
            self.writes.pop_front();
        }
        if (self.writes.len() as u64) < u64::from(limit) {
            self.writes.push_back(now);
            return Ok(());
        }
        let wait = match self.writes.front() {
            Some(oldest) => window - (now - *oldest),
            None => window,
        };
        let mut secs = wait.whole_seconds();
        if wait.subsec_nanoseconds() > 0 {
            secs += 1;
        }
        let mut e = GErr::new(429, "TooManyRequests", "Please retry again later.")
            .header("retry-after", secs.max(1).to_string())
            .header(
                "x-ms-throttle-scope",
                format!("Tenant_Application/ReadWrite/{}", self.config.tenant_id),
            )
            .header("x-ms-throttle-information", "WriteLimitExceeded");
        e.throttled = true;
        Err(e)
    }

    fn app_entity(&self, body: &Map<String, Value>, select: &Select) -> Value {
        with_context(
            self.ctx("applications", select, true),
            &project(body, select),
        )
    }

    fn deleted_entity(&self, body: &Map<String, Value>) -> Value {
        let mut m = Map::new();
        m.insert(
            "@odata.context".into(),
            Value::String(format!(
                "{}/v1.0/$metadata#directoryObjects/$entity",
                self.base()
            )),
        );
        m.insert(
            "@odata.type".into(),
            Value::String("#microsoft.graph.application".into()),
        );
        for (k, v) in body {
            m.insert(k.clone(), v.clone());
        }
        Value::Object(m)
    }

    fn location(&self, id: &str, kind: &str) -> String {
        format!(
            "{}/v2/{}/directoryObjects/{id}/Microsoft.DirectoryServices.{kind}",
            self.base(),
            self.config.tenant_id
        )
    }

    /// Builds a new app from a create body: checks, validates, assigns ids.
    fn build_new_app(
        &mut self,
        body: Map<String, Value>,
        unique_name: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<Map<String, Value>, GErr> {
        let body = check_write_body(body)?;
        let mut app = app_template();
        if let (Some(name), Some(given)) = (unique_name, body.get("uniqueName"))
            && given.as_str() != Some(name)
        {
            return Err(bad_request(
                "Property 'uniqueName' does not match the key of the request.",
            ));
        }
        merge_into(&mut app, body);
        if let Some(name) = unique_name {
            app.insert("uniqueName".into(), Value::String(name.into()));
        }
        validate_app(&app)?;
        match app.get("uniqueName") {
            Some(Value::Null) | None => {}
            Some(Value::String(u)) if !u.trim().is_empty() => {
                if self.unique_name_taken(u, None) {
                    return Err(conflict_unique("uniqueName"));
                }
            }
            Some(_) => {
                return Err(invalid_value(
                    "uniqueName",
                    "uniqueName must be a non-empty string.",
                ));
            }
        }
        if let Some(Value::Array(keys)) = app.get_mut("keyCredentials") {
            for k in keys.iter_mut().filter_map(Value::as_object_mut) {
                k.remove("key");
            }
        }
        app.insert("id".into(), Value::String(self.uuid()));
        app.insert("appId".into(), Value::String(self.uuid()));
        app.insert("createdDateTime".into(), Value::String(iso(now)));
        app.insert(
            "publisherDomain".into(),
            Value::String(self.config.tenant_domain.clone()),
        );
        app.insert("deletedDateTime".into(), Value::Null);
        app.insert("passwordCredentials".into(), json!([]));
        Ok(app)
    }

    fn created(&self, idx: usize) -> Out {
        let body = &self.apps[idx].body;
        let id = body["id"].as_str().unwrap_or_default();
        Out::json(201, self.app_entity(body, &None))
            .header("location", self.location(id, "Application"))
    }

    fn create_app(&mut self, req: &EmuRequest, now: OffsetDateTime) -> GResult {
        let body = json_object(req)?;
        let personal = body
            .get("signInAudience")
            .and_then(Value::as_str)
            .is_some_and(is_personal_audience);
        self.throttle(personal, now)?;
        let app = self.build_new_app(body, None, now)?;
        let idx = self.push_app(app, true);
        Ok(self.created(idx))
    }

    /// ref §1.4: `PATCH /applications(uniqueName='X')`.
    fn upsert_app(&mut self, name: &str, req: &EmuRequest, now: OffsetDateTime) -> GResult {
        let body = json_object(req)?;
        if body.get("displayName").is_none_or(Value::is_null) {
            return Err(invalid_value(
                "displayName",
                "The upsert body must contain displayName.",
            ));
        }
        if let Some(idx) = self.find_app(&Key::UniqueName(name.into())) {
            self.throttle(is_personal(&self.apps[idx].body), now)?;
            self.apply_patch(idx, body)?;
            return Ok(Out::empty(204));
        }
        let create = req.header("prefer").is_some_and(|p| {
            p.split(',')
                .any(|x| x.trim().eq_ignore_ascii_case("create-if-missing"))
        });
        if !create {
            return Err(not_found(name));
        }
        if self.unique_name_taken(name, None) {
            // Held by a soft-deleted app (INFERRED): purge or restore it first.
            return Err(conflict_unique("uniqueName"));
        }
        let personal = body
            .get("signInAudience")
            .and_then(Value::as_str)
            .is_some_and(is_personal_audience);
        self.throttle(personal, now)?;
        let app = self.build_new_app(body, Some(name), now)?;
        let idx = self.push_app(app, true);
        Ok(self.created(idx))
    }

    fn apply_patch(&mut self, idx: usize, body: Map<String, Value>) -> Result<(), GErr> {
        let mut body = check_write_body(body)?;
        let cur = self.apps[idx].body.clone();
        // ref §4.1: changing the audience by PATCH fails with a 500.
        if let Some(a) = body.get("signInAudience")
            && Some(a) != cur.get("signInAudience")
        {
            return Err(GErr::new(
                500,
                "Service_InternalServerError",
                "Encountered an internal server error.",
            ));
        }
        let mut new_unique = None;
        if let Some(u) = body.remove("uniqueName") {
            // ref §1.4 (unattributed): "Can be updated only if null and is immutable once set".
            match (cur.get("uniqueName").unwrap_or(&Value::Null), &u) {
                (c, u) if c == u => {}
                (Value::Null, Value::String(s)) if !s.trim().is_empty() => {
                    if self.unique_name_taken(s, Some(idx)) {
                        return Err(conflict_unique("uniqueName"));
                    }
                    new_unique = Some(u.clone());
                }
                _ => return Err(bad_request("Property 'uniqueName' is immutable once set.")),
            }
        }
        let mut next = cur;
        merge_into(&mut next, body);
        if let Some(u) = new_unique {
            next.insert("uniqueName".into(), u);
        }
        validate_app(&next)?;
        self.apps[idx].body = next;
        Ok(())
    }

    fn get_app(&mut self, key: &Key, req: &EmuRequest) -> GResult {
        let idx = self.resolve_app(key)?;
        let select = parse_select(req, &app_template(), "application")?;
        self.lag_check(idx, LagKind::Plain, key.value())?;
        Ok(
            Out::json(200, self.app_entity(&self.apps[idx].body, &select))
                .ru(resource_units(req, 2)),
        )
    }

    fn patch_app(&mut self, key: &Key, req: &EmuRequest, now: OffsetDateTime) -> GResult {
        let idx = self.resolve_app(key)?;
        self.throttle(is_personal(&self.apps[idx].body), now)?;
        self.lag_check(idx, LagKind::MsaSensitive, key.value())?;
        let body = json_object(req)?;
        self.apply_patch(idx, body)?;
        Ok(Out::empty(204))
    }

    /// Soft delete (ref §1.7); the app's service principals and their grants are removed.
    fn delete_app(&mut self, key: &Key, now: OffsetDateTime) -> GResult {
        let idx = self.resolve_app(key)?;
        self.throttle(is_personal(&self.apps[idx].body), now)?;
        let mut rec = self.apps.remove(idx);
        rec.body
            .insert("deletedDateTime".into(), Value::String(iso(now)));
        let app_id = rec.body["appId"].as_str().unwrap_or_default().to_string();
        let sp_ids: Vec<String> = self
            .sps
            .iter()
            .filter(|s| s.body["appId"].as_str() == Some(app_id.as_str()))
            .filter_map(|s| s.body["id"].as_str().map(str::to_string))
            .collect();
        self.sps
            .retain(|s| s.body["appId"].as_str() != Some(app_id.as_str()));
        self.grants.retain(|g| {
            !sp_ids
                .iter()
                .any(|id| g.body["clientId"].as_str() == Some(id))
        });
        self.deleted.push(rec);
        Ok(Out::empty(204))
    }

    fn list_app_records(&mut self, req: &EmuRequest, deleted: bool) -> GResult {
        let filter = req
            .query_param("$filter")
            .map(|f| parse_filter(f, &APP_FILTERS))
            .transpose()?;
        let select = parse_select(req, &app_template(), "application")?;
        let top = parse_top(req)?;
        let after = parse_skiptoken(req)?;
        // Follow-up pages hide lagging objects without counting another filter request.
        let counting = filter.is_some() && after.is_none();
        let recs = if deleted {
            &mut self.deleted
        } else {
            &mut self.apps
        };
        let mut items = Vec::new();
        for rec in recs.iter_mut() {
            let hidden = filter.is_some() && rec.filter_lag > 0;
            if counting && rec.filter_lag > 0 {
                rec.filter_lag -= 1;
            }
            if hidden
                || after.is_some_and(|a| rec.seq <= a)
                || filter.as_ref().is_some_and(|f| !f.matches(&rec.body))
            {
                continue;
            }
            items.push((rec.seq, rec.body.clone()));
        }
        let (path, ru) = if deleted {
            ("directory/deletedItems/microsoft.graph.application", 1)
        } else {
            ("applications", 2)
        };
        // INFERRED: the deletedItems context names the cast path.
        let body = self.page(req, path, path, items, &select, top);
        Ok(Out::json(200, body).ru(resource_units(req, ru)))
    }

    /// ref §1.6.
    fn add_password(&mut self, key: &Key, req: &EmuRequest, now: OffsetDateTime) -> GResult {
        let idx = self.resolve_app(key)?;
        let personal = is_personal(&self.apps[idx].body);
        self.throttle(personal, now)?;
        self.lag_check(idx, LagKind::MsaSensitive, key.value())?;
        let body = if req.body.iter().all(u8::is_ascii_whitespace) {
            Map::new()
        } else {
            json_object(req)?
        };
        let pc = match body.get("passwordCredential") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => m.clone(),
            Some(_) => {
                return Err(bad_request(
                    "Invalid value specified for property 'passwordCredential'.",
                ));
            }
        };
        let date = |name: &str| -> Result<Option<OffsetDateTime>, GErr> {
            match pc.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => parse_dt(s)
                    .map(Some)
                    .ok_or_else(|| bad_request(format!("Invalid value specified for property '{name}' of resource 'PasswordCredential'."))),
                Some(_) => Err(bad_request(format!("Invalid value specified for property '{name}' of resource 'PasswordCredential'."))),
            }
        };
        let start = date("startDateTime")?.unwrap_or(now);
        let end = date("endDateTime")?.unwrap_or_else(|| add_years(start, 2));
        if end <= start {
            // INFERRED.
            return Err(bad_request(
                "Invalid value specified for property 'endDateTime' of resource 'PasswordCredential'.",
            ));
        }
        let display = pc.get("displayName").cloned().unwrap_or(Value::Null);
        if let Some(days) = self.config.max_secret_lifetime_days
            && end - start > Duration::days(i64::from(days))
        {
            // ref §4.1, exact shape.
            let msg = format!(
                "Credential lifetime exceeds the max value allowed as per assigned policy '{}'.",
                self.policy_id
            );
            return Err(
                GErr::new(400, "CredentialInvalidLifetimeAsPerAppPolicy", msg.clone()).details(
                    json!([{"code": "InvalidKeyEndDate", "message": msg, "target": "EndDate"}]),
                ),
            );
        }
        let count = self.apps[idx].body["passwordCredentials"]
            .as_array()
            .map_or(0, Vec::len);
        if personal && count >= 2 {
            // ref §4.1, exact shape.
            return Err(GErr::new(
                400,
                "TooManyAppPasswords",
                format!(
                    "Not allowed to add {} passwords. You can only add a maximum of 2 passwords.",
                    count + 1
                ),
            )
            .details(json!([{"target": "passwordCredentials", "code": "TooManyAppPasswords"}])));
        }
        let secret = self.secret_text();
        let key_id = self.uuid();
        let mut cred = json!({
            "customKeyIdentifier": null,
            "displayName": display,
            "endDateTime": iso(end),
            "hint": secret.chars().take(3).collect::<String>(),
            "keyId": key_id,
            "secretText": null,
            "startDateTime": iso(start),
        });
        if let Some(Value::Array(creds)) = self.apps[idx].body.get_mut("passwordCredentials") {
            creds.insert(0, cred.clone()); // newest first (ref §1.6)
        } else {
            self.apps[idx]
                .body
                .insert("passwordCredentials".into(), json!([cred.clone()]));
        }
        cred["secretText"] = Value::String(secret);
        cred["@odata.context"] = Value::String(format!(
            "{}/v1.0/$metadata#microsoft.graph.passwordCredential",
            self.base()
        ));
        Ok(Out::json(200, cred))
    }

    fn remove_password(&mut self, key: &Key, req: &EmuRequest, now: OffsetDateTime) -> GResult {
        let idx = self.resolve_app(key)?;
        self.throttle(is_personal(&self.apps[idx].body), now)?;
        self.lag_check(idx, LagKind::Plain, key.value())?;
        let body = json_object(req)?;
        let key_id = body
            .get("keyId")
            .and_then(Value::as_str)
            .filter(|k| is_guid(k))
            .ok_or_else(|| bad_request("Invalid value specified for property 'keyId' of resource 'PasswordCredential'."))?
            .to_string();
        let creds = self.apps[idx]
            .body
            .get_mut("passwordCredentials")
            .and_then(Value::as_array_mut);
        let pos = creds.as_ref().and_then(|c| {
            c.iter().position(|p| {
                p["keyId"]
                    .as_str()
                    .is_some_and(|k| k.eq_ignore_ascii_case(&key_id))
            })
        });
        match (creds, pos) {
            (Some(c), Some(p)) => {
                c.remove(p);
                Ok(Out::empty(204))
            }
            // INFERRED: status, code and text.
            _ => Err(bad_request(format!(
                "No password credential found with keyId '{key_id}'."
            ))),
        }
    }

    fn deleted_index(&self, id: &str) -> Result<usize, GErr> {
        if !is_guid(id) {
            return Err(invalid_object_id(id));
        }
        self.deleted
            .iter()
            .position(|r| {
                r.body["id"]
                    .as_str()
                    .is_some_and(|v| v.eq_ignore_ascii_case(id))
            })
            .ok_or_else(|| not_found(id))
    }

    fn get_deleted(&mut self, id: &str) -> GResult {
        let idx = self.deleted_index(id)?;
        Ok(Out::json(200, self.deleted_entity(&self.deleted[idx].body)))
    }

    /// ref §1.7: permanent delete.
    fn purge_deleted(&mut self, id: &str) -> GResult {
        let idx = self.deleted_index(id)?;
        self.deleted.remove(idx);
        Ok(Out::empty(204))
    }

    fn restore_deleted(&mut self, id: &str) -> GResult {
        let idx = self.deleted_index(id)?;
        let mut rec = self.deleted.remove(idx);
        rec.body.insert("deletedDateTime".into(), Value::Null);
        let out = self.deleted_entity(&rec.body);
        // Keep creation order for paging.
        let pos = self
            .apps
            .iter()
            .position(|r| r.seq > rec.seq)
            .unwrap_or(self.apps.len());
        self.apps.insert(pos, rec);
        Ok(Out::json(200, out))
    }
}

// ---------------------------------------------------------------------------------------------
// Service principals
// ---------------------------------------------------------------------------------------------

/// Service principal shape (ref §1.8 keys; the rest INFERRED from the v1.0 resource).
fn sp_template() -> Map<String, Value> {
    let v = json!({
        "id": null,
        "deletedDateTime": null,
        "accountEnabled": true,
        "alternativeNames": [],
        "appDescription": null,
        "appDisplayName": null,
        "appId": null,
        "applicationTemplateId": null,
        "appOwnerOrganizationId": null,
        "appRoleAssignmentRequired": false,
        "appRoles": [],
        "description": null,
        "disabledByMicrosoftStatus": null,
        "displayName": null,
        "homepage": null,
        "info": {"logoUrl": null, "marketingUrl": null, "privacyStatementUrl": null, "supportUrl": null, "termsOfServiceUrl": null},
        "keyCredentials": []
    });
    let rest = json!({
        "loginUrl": null,
        "logoutUrl": null,
        "notes": null,
        "notificationEmailAddresses": [],
        "oauth2PermissionScopes": [],
        "passwordCredentials": [],
        "preferredSingleSignOnMode": null,
        "preferredTokenSigningKeyThumbprint": null,
        "replyUrls": [],
        "resourceSpecificApplicationPermissions": [],
        "samlSingleSignOnSettings": null,
        "servicePrincipalNames": [],
        "servicePrincipalType": "Application",
        "signInAudience": null,
        "tags": [],
        "tokenEncryptionKeyId": null,
        "verifiedPublisher": {"displayName": null, "verifiedPublisherId": null, "addedDateTime": null}
    });
    match (v, rest) {
        (Value::Object(mut m), Value::Object(r)) => {
            m.extend(r);
            m
        }
        _ => unreachable!("templates are objects"),
    }
}

fn grant_keys() -> Map<String, Value> {
    [
        "clientId",
        "consentType",
        "id",
        "principalId",
        "resourceId",
        "scope",
    ]
    .into_iter()
    .map(|k| (k.to_string(), Value::Null))
    .collect()
}

impl GraphState {
    fn build_graph_sp(&self, id: String) -> Map<String, Value> {
        let mut sp = sp_template();
        let scopes: Vec<Value> = GRAPH_SCOPES
            .iter()
            .map(|(value, id, admin, user)| {
                json!({
                    "adminConsentDescription": format!("Allows the app to: {}", admin.to_lowercase()),
                    "adminConsentDisplayName": admin,
                    "id": id,
                    "isEnabled": true,
                    "type": "User",
                    "userConsentDescription": format!("Allows the app to: {}", user.to_lowercase()),
                    "userConsentDisplayName": user,
                    "value": value,
                })
            })
            .collect();
        let fields = json!({
            "id": id,
            "appDisplayName": "Microsoft Graph",
            "appId": GRAPH_APP_ID,
            "appOwnerOrganizationId": MICROSOFT_SERVICES_TENANT,
            "displayName": "Microsoft Graph",
            "oauth2PermissionScopes": scopes,
            "servicePrincipalNames": [GRAPH_APP_ID, "https://graph.microsoft.com", "https://graph.microsoft.com/", "https://canary.graph.microsoft.com", "https://ags.windows.net"],
            "signInAudience": "AzureADMultipleOrgs",
        });
        if let Value::Object(m) = fields {
            merge_into(&mut sp, m);
        }
        sp
    }

    /// (is built-in, index into `sps`).
    fn find_sp(&self, key: &Key) -> Option<(bool, usize)> {
        let (field, v) = match key {
            Key::AppId(v) => ("appId", v),
            Key::Id(v) | Key::UniqueName(v) => ("id", v),
        };
        let hit =
            |b: &Map<String, Value>| b[field].as_str().is_some_and(|x| x.eq_ignore_ascii_case(v));
        if hit(&self.graph_sp) {
            return Some((true, 0));
        }
        self.sps
            .iter()
            .position(|s| hit(&s.body))
            .map(|i| (false, i))
    }

    fn sp_body(&self, builtin: bool, idx: usize) -> &Map<String, Value> {
        if builtin {
            &self.graph_sp
        } else {
            &self.sps[idx].body
        }
    }

    fn get_sp(&mut self, key: &Key, req: &EmuRequest) -> GResult {
        if !is_guid(key.value()) {
            return Err(invalid_object_id(key.value()));
        }
        let (builtin, idx) = self.find_sp(key).ok_or_else(|| not_found(key.value()))?;
        let select = parse_select(req, &sp_template(), "servicePrincipal")?;
        let body = project(self.sp_body(builtin, idx), &select);
        Ok(Out::json(
            200,
            with_context(self.ctx("servicePrincipals", &select, true), &body),
        )
        .ru(resource_units(req, 1)))
    }

    fn list_sps(&mut self, req: &EmuRequest) -> GResult {
        let filter = req
            .query_param("$filter")
            .map(|f| parse_filter(f, &SP_FILTERS))
            .transpose()?;
        let select = parse_select(req, &sp_template(), "servicePrincipal")?;
        let top = parse_top(req)?;
        let after = parse_skiptoken(req)?;
        let all = std::iter::once((0u64, &self.graph_sp))
            .chain(self.sps.iter().map(|s| (s.seq, &s.body)));
        let items: Vec<(u64, Map<String, Value>)> = all
            .filter(|(seq, _)| after.is_none_or(|a| *seq > a))
            .filter(|(_, b)| filter.as_ref().is_none_or(|f| f.matches(b)))
            .map(|(s, b)| (s, b.clone()))
            .collect();
        let body = self.page(
            req,
            "servicePrincipals",
            "servicePrincipals",
            items,
            &select,
            top,
        );
        Ok(Out::json(200, body).ru(resource_units(req, 1)))
    }

    /// ref §1.8.
    fn create_sp(&mut self, req: &EmuRequest) -> GResult {
        let body = json_object(req)?;
        let app_id = body
            .get("appId")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                bad_request(
                    "Invalid value specified for property 'appId' of resource 'ServicePrincipal'.",
                )
            })?
            .to_string();
        let no_app = || {
            bad_request(format!(
                "The appId '{app_id}' of the service principal does not reference a valid application object."
            ))
        };
        let enabled = match body.get("accountEnabled") {
            None | Some(Value::Null) => true,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                return Err(bad_request(
                    "Invalid value specified for property 'accountEnabled' of resource 'ServicePrincipal'.",
                ));
            }
        };
        if self.find_sp(&Key::AppId(app_id.clone())).is_some() {
            // INFERRED: status, code and text.
            return Err(GErr::new(
                409,
                "Request_MultipleObjectsWithSameKeyValue",
                "Another object with the same value for property servicePrincipalNames already exists.",
            ));
        }
        let Some(idx) = self.find_app(&Key::AppId(app_id.clone())) else {
            return Err(no_app());
        };
        // ref §4.3: the new app is not yet visible to the service principal service.
        if self.apps[idx].addr_lag > 0 {
            self.apps[idx].addr_lag -= 1;
            return Err(no_app());
        }
        let app = self.apps[idx].body.clone();
        let mut sp = sp_template();
        let mut reply: Vec<Value> = Vec::new();
        for platform in ["web", "spa", "publicClient"] {
            if let Some(Value::Array(u)) = app.get(platform).and_then(|p| p.get("redirectUris")) {
                reply.extend(u.iter().cloned());
            }
        }
        let mut names = vec![Value::String(app_id.clone())];
        if let Some(Value::Array(u)) = app.get("identifierUris") {
            names.extend(u.iter().cloned());
        }
        let id = self.uuid();
        let fields = json!({
            "id": id,
            "accountEnabled": enabled,
            "appDisplayName": app["displayName"],
            "appId": app_id,
            "appOwnerOrganizationId": self.config.tenant_id,
            "displayName": app["displayName"],
            "homepage": app.get("web").and_then(|w| w.get("homePageUrl")).cloned().unwrap_or(Value::Null),
            "logoutUrl": app.get("web").and_then(|w| w.get("logoutUrl")).cloned().unwrap_or(Value::Null),
            "oauth2PermissionScopes": app.get("api").and_then(|a| a.get("oauth2PermissionScopes")).cloned().unwrap_or(json!([])),
            "replyUrls": reply,
            "servicePrincipalNames": names,
            "signInAudience": app["signInAudience"],
            // ref §1.1: tags are copied onto associated service principals.
            "tags": body.get("tags").cloned().unwrap_or_else(|| app["tags"].clone()),
        });
        if let Value::Object(m) = fields {
            merge_into(&mut sp, m);
        }
        self.seq += 1;
        let lag = self.config.replication_lag;
        self.sps.push(SpRec {
            seq: self.seq,
            body: sp.clone(),
            grant_lag: lag,
        });
        Ok(Out::json(
            201,
            with_context(self.ctx("servicePrincipals", &None, true), &sp),
        )
        .header("location", self.location(&id, "ServicePrincipal")))
    }

    fn delete_sp(&mut self, key: &Key) -> GResult {
        if !is_guid(key.value()) {
            return Err(invalid_object_id(key.value()));
        }
        match self.find_sp(key) {
            None => Err(not_found(key.value())),
            // INFERRED: first-party service principals cannot be deleted here.
            Some((true, _)) => Err(GErr::new(
                403,
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.",
            )),
            Some((false, idx)) => {
                let sp = self.sps.remove(idx);
                let id = sp.body["id"].as_str().unwrap_or_default().to_string();
                self.grants
                    .retain(|g| g.body["clientId"].as_str() != Some(id.as_str()));
                Ok(Out::empty(204))
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// oauth2PermissionGrants (ref §1.10)
// ---------------------------------------------------------------------------------------------

fn uuid_le(s: &str) -> Option<[u8; 16]> {
    uuid::Uuid::parse_str(s).ok().map(|u| u.to_bytes_le())
}

impl GraphState {
    fn grant_index(&self, id: &str) -> Result<usize, GErr> {
        self.grants
            .iter()
            .position(|g| g.body["id"].as_str() == Some(id))
            .ok_or_else(|| not_found(id))
    }

    fn create_grant(&mut self, req: &EmuRequest) -> GResult {
        let body = json_object(req)?;
        let s = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_string);
        let invalid = |p: &str| {
            bad_request(format!(
                "Invalid value specified for property '{p}' of resource 'OAuth2PermissionGrant'."
            ))
        };
        let client_id = s("clientId").ok_or_else(|| invalid("clientId"))?;
        let resource_id = s("resourceId").ok_or_else(|| invalid("resourceId"))?;
        let consent = s("consentType").ok_or_else(|| invalid("consentType"))?;
        let principal = body.get("principalId").cloned().unwrap_or(Value::Null);
        let scope = match body.get("scope") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(v)) => v.clone(),
            Some(_) => return Err(invalid("scope")),
        };
        let missing = |x: &str| bad_request(format!("Resource '{x}' {NOT_FOUND_TAIL}"));
        match self.find_sp(&Key::Id(client_id.clone())) {
            None => return Err(missing(&client_id)),
            Some((false, idx)) if self.sps[idx].grant_lag > 0 => {
                // ref §4.3: the new service principal is not yet replicated.
                self.sps[idx].grant_lag -= 1;
                return Err(missing(&client_id));
            }
            Some(_) => {}
        }
        if !resource_id.eq_ignore_ascii_case(self.graph_sp["id"].as_str().unwrap_or_default()) {
            return Err(missing(&resource_id));
        }
        let principal_bytes = match (consent.as_str(), &principal) {
            ("AllPrincipals", Value::Null) => None,
            ("Principal", Value::String(p)) => {
                Some(uuid_le(p).ok_or_else(|| invalid("principalId"))?)
            }
            ("AllPrincipals" | "Principal", _) => return Err(invalid("principalId")),
            _ => return Err(invalid("consentType")),
        };
        // INFERRED from decoding the recorded id: base64url of the GUIDs' little-endian bytes.
        let mut raw = Vec::new();
        raw.extend(uuid_le(&client_id).ok_or_else(|| invalid("clientId"))?);
        raw.extend(uuid_le(&resource_id).ok_or_else(|| invalid("resourceId"))?);
        if let Some(p) = principal_bytes {
            raw.extend(p);
        }
        let id = URL_SAFE_NO_PAD.encode(raw);
        if self.grant_index(&id).is_ok() {
            // INFERRED: status, code and text.
            return Err(GErr::new(
                409,
                "Request_MultipleObjectsWithSameKeyValue",
                "Permission entry already exists.",
            ));
        }
        let grant = json!({
            "clientId": client_id,
            "consentType": consent,
            "id": id,
            "principalId": principal,
            "resourceId": resource_id,
            "scope": scope,
        });
        let Value::Object(grant) = grant else {
            unreachable!("object literal")
        };
        self.seq += 1;
        self.grants.push(GrantRec {
            seq: self.seq,
            body: grant.clone(),
        });
        Ok(Out::json(
            201,
            with_context(self.ctx("oauth2PermissionGrants", &None, true), &grant),
        ))
    }

    fn list_grants(&mut self, req: &EmuRequest) -> GResult {
        let filter = req
            .query_param("$filter")
            .map(|f| parse_filter(f, &GRANT_FILTERS))
            .transpose()?;
        let select = parse_select(req, &grant_keys(), "oAuth2PermissionGrant")?;
        let top = parse_top(req)?;
        let after = parse_skiptoken(req)?;
        let items: Vec<(u64, Map<String, Value>)> = self
            .grants
            .iter()
            .filter(|g| after.is_none_or(|a| g.seq > a))
            .filter(|g| filter.as_ref().is_none_or(|f| f.matches(&g.body)))
            .map(|g| (g.seq, g.body.clone()))
            .collect();
        let body = self.page(
            req,
            "oauth2PermissionGrants",
            "oauth2PermissionGrants",
            items,
            &select,
            top,
        );
        Ok(Out::json(200, body).ru(resource_units(req, 2)))
    }

    fn get_grant(&mut self, id: &str, req: &EmuRequest) -> GResult {
        let idx = self.grant_index(id)?;
        let select = parse_select(req, &grant_keys(), "oAuth2PermissionGrant")?;
        let body = project(&self.grants[idx].body, &select);
        Ok(Out::json(
            200,
            with_context(self.ctx("oauth2PermissionGrants", &select, true), &body),
        )
        .ru(resource_units(req, 1)))
    }

    fn patch_grant(&mut self, id: &str, req: &EmuRequest) -> GResult {
        let idx = self.grant_index(id)?;
        let body = json_object(req)?;
        for k in body.keys().filter(|k| !k.starts_with('@')) {
            if k != "scope" {
                // INFERRED: only scope is updatable.
                return Err(bad_request(format!(
                    "Property '{k}' is read-only and cannot be set."
                )));
            }
        }
        match body.get("scope") {
            Some(Value::String(s)) => {
                self.grants[idx]
                    .body
                    .insert("scope".into(), Value::String(s.clone()));
                Ok(Out::empty(204))
            }
            None => Ok(Out::empty(204)),
            Some(_) => Err(bad_request(
                "Invalid value specified for property 'scope' of resource 'OAuth2PermissionGrant'.",
            )),
        }
    }

    fn delete_grant(&mut self, id: &str) -> GResult {
        let idx = self.grant_index(id)?;
        self.grants.remove(idx);
        Ok(Out::empty(204))
    }
}

// ---------------------------------------------------------------------------------------------
// Randomness and time
// ---------------------------------------------------------------------------------------------

impl GraphState {
    fn uuid(&mut self) -> String {
        let bytes = self.rng.u128(..).to_le_bytes();
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .to_string()
    }

    /// 40 characters of `A-Za-z0-9~._-` (ref §1.6: 16–64 chars).
    fn secret_text(&mut self) -> String {
        (0..40)
            .map(|_| SECRET_ALPHABET[self.rng.usize(..SECRET_ALPHABET.len())] as char)
            .collect()
    }
}

/// Graph timestamp: `2022-05-07T06:52:43Z`, with 7 fractional digits when there is a fraction.
fn iso(dt: OffsetDateTime) -> String {
    let dt = dt.to_offset(UtcOffset::UTC);
    let base = dt
        .format(format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]"
        ))
        .unwrap_or_default();
    if dt.nanosecond() == 0 {
        format!("{base}Z")
    } else {
        format!("{base}.{:07}Z", dt.nanosecond() / 100)
    }
}

/// `innerError.date`: `2024-09-06T09:30:58` (ref §4.1).
fn inner_date(dt: OffsetDateTime) -> String {
    dt.to_offset(UtcOffset::UTC)
        .format(format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]"
        ))
        .unwrap_or_default()
}

/// AAD's `timestamp`: `2024-09-06 09:30:58Z`.
fn aad_ts(dt: OffsetDateTime) -> String {
    let s = dt
        .to_offset(UtcOffset::UTC)
        .format(format_description!(
            "[year]-[month]-[day] [hour]:[minute]:[second]"
        ))
        .unwrap_or_default();
    format!("{s}Z")
}

fn parse_dt(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339)
        .or_else(|_| OffsetDateTime::parse(&format!("{s}Z"), &Rfc3339))
        .ok()
}

/// Calendar years (29 February becomes 28 February).
fn add_years(dt: OffsetDateTime, n: i32) -> OffsetDateTime {
    let year = dt.year() + n;
    dt.replace_year(year)
        .or_else(|_| dt.replace_day(28).and_then(|d| d.replace_year(year)))
        .unwrap_or(dt + Duration::days(365 * i64::from(n)))
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const OP_ID: &str = "00000000-0000-0000-0000-00000000e111";
    const OP_SECRET: &str = "emulator-operator-secret";
    const T0: OffsetDateTime = datetime!(2025-03-01 12:00:00 UTC);
    const PERSONAL: &str = "AzureADandPersonalMicrosoftAccount";

    fn request(
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        body: Option<Value>,
    ) -> EmuRequest {
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
        assert!(
            st.handle(
                &request("GET", "/common/oauth2/v2.0/authorize", &[], None),
                T0
            )
            .is_none()
        );
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
        let app =
            h.create(json!({"displayName": "x", "web": {"homePageUrl": "https://a.example"}}));
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
        let r = h.post(&path, json!({"passwordCredential": {"displayName": "k", "endDateTime": "2028-03-01T12:00:00Z"}}));
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
}
