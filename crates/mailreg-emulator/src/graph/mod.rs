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

mod applications;
pub mod approles;
mod apptoken;
pub use apptoken::AppMailToken;
mod deleted;
mod devicecode;
mod policies;
mod principals;
mod query;
mod routing;
pub mod signin;
#[cfg(test)]
mod tests;
mod token;
mod users;
mod validation;

#[allow(unused_imports)]
use self::{
    applications::*, deleted::*, principals::*, query::*, routing::*, token::*, validation::*,
};
pub use users::{Licence, UserSeed};

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
    /// Whether a write-limit 429 carries `Retry-After` (Graph usually sends it, not always).
    pub write_limit_retry_after: bool,
    /// Seed of every id, secret and token.
    pub seed: u64,
    /// Tenant app-management policy: maximum secret lifetime in days (`None`: no policy).
    pub max_secret_lifetime_days: Option<u32>,
    /// Whether the signed-in identity may read the tenant's app management policy
    /// (`Policy.Read.ApplicationConfiguration`); when not, reading it answers 403.
    pub policy_readable: bool,
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
            write_limit_retry_after: true,
            seed: 1,
            max_secret_lifetime_days: None,
            policy_readable: true,
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
    /// Office 365 Exchange Online's, built in like Graph's (approles.rs).
    exchange_sp: Map<String, Value>,
    /// App role assignments (admin consent for application permissions).
    assignments: Vec<Value>,
    /// Tokens issued to registered apps by client credentials (apptoken.rs).
    app_tokens: HashMap<String, AppMailToken>,
    sps: Vec<SpRec>,
    grants: Vec<GrantRec>,
    writes: VecDeque<OffsetDateTime>,
    policy_id: String,
    users: users::Users,
    /// The user sign-in's state: secret values, codes, refresh and mail tokens (signin.rs).
    signin: signin::SignIn,
    /// The device codes handed out and who signed in with them (devicecode.rs).
    devices: devicecode::Devices,
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
            exchange_sp: Map::new(),
            assignments: Vec::new(),
            app_tokens: HashMap::new(),
            sps: Vec::new(),
            grants: Vec::new(),
            writes: VecDeque::new(),
            policy_id: String::new(),
            users: Default::default(),
            signin: Default::default(),
            devices: Default::default(),
        };
        let graph_sp_id = st.uuid();
        st.policy_id = st.uuid();
        st.graph_sp = st.build_graph_sp(graph_sp_id);
        // From a generator of its own: the main sequence (and so every id and secret a seeded
        // run hands out) stays what it was before Exchange's service principal existed here.
        let bytes = fastrand::Rng::with_seed(st.config.seed ^ 0x0ff1_ce00)
            .u128(..)
            .to_le_bytes();
        let exchange_sp_id = uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .to_string();
        st.exchange_sp = st.build_exchange_sp(exchange_sp_id);
        st
    }

    /// Handles the request if its path belongs to the Microsoft side
    /// (`/{tenant}/oauth2/v2.0/token` or `/v1.0/...`); `None` otherwise.
    pub fn handle(&mut self, req: &EmuRequest, now: OffsetDateTime) -> Option<EmuResponse> {
        if let Some(tenant) = token_path_tenant(&req.path) {
            return Some(self.token_endpoint(req, &tenant, now));
        }
        if signin::authorize_path(&req.path) {
            return Some(self.authorize(req, now));
        }
        if let Some(tenant) = devicecode::devicecode_path_tenant(&req.path) {
            return Some(self.devicecode(req, &tenant, now));
        }
        if req.path == devicecode::DEVICELOGIN_PATH {
            return Some(self.devicelogin(req, now));
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

    /// The audience of a token this directory issued and that is still valid at `now`, for
    /// other Microsoft resources the emulator serves (Key Vault, the Exchange admin endpoint).
    pub fn token_audience(&self, token: &str, now: OffsetDateTime) -> Option<String> {
        let rec = self.tokens.get(token)?;
        let valid = !rec.expired && now < rec.expires_at;
        valid.then(|| rec.aud.trim_end_matches('/').to_owned())
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
