//! In-process fake of Google's side: Cloud Resource Manager v3, Service Usage v1, the OAuth 2.0
//! token endpoint (`POST /token`) and the GCE metadata server (`/computeMetadata/v1/…`).
//!
//! Facts come from `reference/google-cloud.md` (cited as "ref §N") and the discovery documents in
//! `reference/google-discovery/` (cited as "discovery"). Everything marked **(inferred)** is not in
//! the reference and is this emulator's best guess at realistic behaviour.
//!
//! Modelling choices (all inferred unless cited):
//! * A project created through the API exists from the `POST /v3/projects` on: `projects.get`
//!   finds it at once and the create operation's `CreateProjectMetadata` says `gettable: true,
//!   ready: false` until the operation is done (discovery: "gettable — True if the project can be
//!   retrieved using GetProject"). `projects:search` does not see it for `search_lag` calls
//!   (ref §1: search is eventually consistent).
//! * Delete, undelete and patch change the project immediately; their operations still need
//!   `operation_polls` polls before they report `done`.
//! * services.enable / disable take effect when their operation is first seen done by a poll.
//! * Projects belong to the caller that created them (a user's e-mail or a service account);
//!   others get 403 as if the project did not exist (ref §1, "to prevent id probing").
//!   Projects seeded with [`GoogleState::insert_project`] are visible to every caller.
//! * Operations are found by name by any authenticated caller.

use std::collections::{BTreeSet, HashMap};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Map, Value, json};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime, UtcOffset};

use super::wire::{EmuRequest, EmuResponse};

/// The service account the fake metadata server hands out tokens for (inferred name).
pub const METADATA_SERVICE_ACCOUNT: &str = "mailreg-emulator@emulator-host.iam.gserviceaccount.com";
/// The project the fake metadata server claims to run in (inferred).
pub const METADATA_PROJECT_ID: &str = "emulator-host";
/// Scope reported by the token endpoint (ref §1: all CRM methods use it).
pub const CLOUD_PLATFORM_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
/// The dummy operation Service Usage answers for an already enabled service (ref §2).
pub const NOOP_OPERATION: &str = "operations/noop.DONE_OPERATION";

const TOKEN_LIFETIME_SECS: i64 = 3599;
const UNAUTHENTICATED_MESSAGE: &str = "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.";
const QUOTA_MESSAGE: &str =
    "The project cannot be created because you have exceeded your allotted project quota.";
const SA_WITHOUT_PARENT_MESSAGE: &str = "Service accounts cannot create projects without a parent.";

const T_PROJECT: &str = "type.googleapis.com/google.cloud.resourcemanager.v3.Project";
const T_CREATE_META: &str =
    "type.googleapis.com/google.cloud.resourcemanager.v3.CreateProjectMetadata";
const T_DELETE_META: &str =
    "type.googleapis.com/google.cloud.resourcemanager.v3.DeleteProjectMetadata";
const T_UNDELETE_META: &str =
    "type.googleapis.com/google.cloud.resourcemanager.v3.UndeleteProjectMetadata";
const T_UPDATE_META: &str =
    "type.googleapis.com/google.cloud.resourcemanager.v3.UpdateProjectMetadata";
const T_SU_META: &str = "type.googleapis.com/google.api.serviceusage.v1.OperationMetadata";
const T_ENABLE_RESP: &str = "type.googleapis.com/google.api.serviceusage.v1.EnableServiceResponse";
const T_DISABLE_RESP: &str =
    "type.googleapis.com/google.api.serviceusage.v1.DisableServiceResponse";
const T_ERROR_INFO: &str = "type.googleapis.com/google.rpc.ErrorInfo";
const T_BAD_REQUEST: &str = "type.googleapis.com/google.rpc.BadRequest";
const T_QUOTA_FAILURE: &str = "type.googleapis.com/google.rpc.QuotaFailure";
const T_HELP: &str = "type.googleapis.com/google.rpc.Help";

const GMAIL: &str = "gmail.googleapis.com";

/// Services the fake knows (name, title). Anything else is "not found or permission denied" (inferred).
const SERVICE_CATALOG: &[(&str, &str)] = &[
    ("gmail.googleapis.com", "Gmail API"),
    (
        "cloudresourcemanager.googleapis.com",
        "Cloud Resource Manager API",
    ),
    ("serviceusage.googleapis.com", "Service Usage API"),
    ("cloudapis.googleapis.com", "Google Cloud APIs"),
    (
        "iam.googleapis.com",
        "Identity and Access Management (IAM) API",
    ),
    ("iap.googleapis.com", "Cloud Identity-Aware Proxy API"),
    ("firebase.googleapis.com", "Firebase Management API"),
    ("identitytoolkit.googleapis.com", "Identity Toolkit API"),
];

const DIGITS: &[u8] = b"0123456789";
const LOWER_ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
const HEX: &[u8] = b"0123456789abcdef";
const TOKEN_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Default and maximum `pageSize` of `projects:search` / `projects.list` (inferred).
const MAX_PAGE_SIZE: usize = 500;

// ---------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------

/// Knobs of the Google fake.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GoogleConfig {
    /// `authorized_user` credentials accepted by the token endpoint.
    pub principals: Vec<GooglePrincipal>,
    /// GETs of an operation that still answer `done: false` (0 = done on the first poll). The
    /// create/enable POST response itself is never done (except the noop enable).
    pub operation_polls: u32,
    /// `Some(d)`: operations are done by time instead of by count: a poll answers done once `d`
    /// has passed since the operation was created (the request's time, as given to
    /// [`GoogleState::handle`]), and `operation_polls` is ignored. For benchmarks of polling.
    pub operation_duration: Option<Duration>,
    /// `projects:search` calls for which a newly created project is still invisible.
    pub search_lag: u32,
    /// First N `services.enable` calls for a project created through the API fail transiently
    /// (alternating 403 PERMISSION_DENIED and 404 NOT_FOUND; ref §2).
    pub enable_lag: u32,
    /// Max projects (ACTIVE + DELETE_REQUESTED) per caller; over it the create operation
    /// finishes with error code 8 (ref §1).
    pub project_quota: Option<u32>,
    /// Project IDs taken globally by someone else → 409 ALREADY_EXISTS (ref §1).
    pub taken_project_ids: Vec<String>,
    /// Seed of every generated number and id.
    pub seed: u64,
}

/// One `authorized_user` credential (ref §5.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GooglePrincipal {
    pub client_id: String,
    pub client_secret: String,
    pub refresh_token: String,
    pub email: String,
}

impl Default for GoogleConfig {
    fn default() -> Self {
        GoogleConfig {
            principals: vec![GooglePrincipal {
                client_id: "emulator-adc.apps.googleusercontent.com".into(),
                client_secret: "emulator-adc-secret".into(),
                refresh_token: "1//emulator-refresh".into(),
                email: "operator@example.com".into(),
            }],
            operation_polls: 1,
            operation_duration: None,
            search_lag: 0,
            enable_lag: 0,
            project_quota: None,
            taken_project_ids: Vec::new(),
            seed: 1,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Eq)]
enum Caller {
    User(String),
    ServiceAccount(String),
}

impl Caller {
    fn email(&self) -> &str {
        match self {
            Caller::User(e) | Caller::ServiceAccount(e) => e,
        }
    }
}

#[derive(Clone, Debug)]
struct IssuedToken {
    caller: Caller,
    expires_at: OffsetDateTime,
    revoked: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ProjectState {
    Active,
    DeleteRequested,
}

impl ProjectState {
    fn as_str(self) -> &'static str {
        match self {
            ProjectState::Active => "ACTIVE",
            ProjectState::DeleteRequested => "DELETE_REQUESTED",
        }
    }
}

#[derive(Clone, Debug)]
struct Project {
    number: u64,
    project_id: String,
    display_name: Option<String>,
    labels: Map<String, Value>,
    parent: Option<String>,
    state: ProjectState,
    create_time: OffsetDateTime,
    update_time: OffsetDateTime,
    delete_time: Option<OffsetDateTime>,
    etag: String,
    /// `None`: seeded, visible to every caller.
    owner: Option<String>,
    via_api: bool,
    search_lag: u32,
    enable_lag: u32,
    enable_failures: u32,
    services: BTreeSet<String>,
    oauth_clients: Vec<Value>,
}

impl Project {
    fn visible_to(&self, caller: &Caller) -> bool {
        self.owner.as_deref().is_none_or(|o| o == caller.email())
    }

    fn matches_key(&self, key: &str) -> bool {
        self.project_id == key || self.number.to_string() == key
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Api {
    ResourceManager,
    ServiceUsage,
}

#[derive(Clone, Debug)]
enum Outcome {
    /// `response` is the project (with number) as it is when the operation is read.
    Project(u64),
    /// `error` is this Status (numeric code, no outer wrapper; ref §1).
    Error(Value),
    /// Enable/DisableServiceResponse; the change is applied when first seen done.
    Service {
        number: u64,
        service: String,
        enable: bool,
    },
}

#[derive(Clone, Debug)]
struct Operation {
    api: Api,
    polls_left: u32,
    created: OffsetDateTime,
    pending_metadata: Option<Value>,
    done_metadata: Option<Value>,
    outcome: Outcome,
    applied: bool,
}

/// The fake's whole state. Pure: time comes in with each request, randomness from the seed.
pub struct GoogleState {
    config: GoogleConfig,
    rng: fastrand::Rng,
    tokens: HashMap<String, IssuedToken>,
    projects: Vec<Project>,
    operations: HashMap<String, Operation>,
    /// The time of the request being handled.
    now: OffsetDateTime,
}

type Handled = Result<EmuResponse, EmuResponse>;

impl GoogleState {
    pub fn new(config: GoogleConfig) -> Self {
        let rng = fastrand::Rng::with_seed(config.seed);
        GoogleState {
            config,
            rng,
            tokens: HashMap::new(),
            projects: Vec::new(),
            operations: HashMap::new(),
            now: OffsetDateTime::UNIX_EPOCH,
        }
    }

    /// Handles the request if its path is Google's (`/v3/…`, `/v1/…`, `/token`,
    /// `/computeMetadata/…`); `None` otherwise.
    pub fn handle(&mut self, req: &EmuRequest, now: OffsetDateTime) -> Option<EmuResponse> {
        let now = now.to_offset(UtcOffset::UTC);
        self.now = now;
        let path = req.path.as_str();
        let response = if path == "/token" {
            self.token_endpoint(req, now)
        } else if path.starts_with("/computeMetadata/") {
            self.metadata_server(req, now)
        } else if let Some(rest) = path.strip_prefix("/v3/") {
            self.resource_manager(req, rest, now).unwrap_or_else(|e| e)
        } else if let Some(rest) = path.strip_prefix("/v1/") {
            self.service_usage(req, rest, now).unwrap_or_else(|e| e)
        } else {
            return None;
        };
        Some(response)
    }

    pub fn config_mut(&mut self) -> &mut GoogleConfig {
        &mut self.config
    }

    /// Every project as `projects.get` shows it, DELETE_REQUESTED included, in creation order.
    pub fn projects(&self) -> Vec<Value> {
        self.projects.iter().map(project_json).collect()
    }

    /// Enabled services of a project (by ID or number), sorted; empty when unknown.
    pub fn enabled_services(&self, project_id: &str) -> Vec<String> {
        self.find_project(project_id)
            .map(|i| self.projects[i].services.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Seeds a project directly: ACTIVE, no search/enable lag, visible to every caller. Takes
    /// `projectId` (generated when absent), `displayName`, `labels`, `parent` and optionally
    /// `name` (`projects/N`) from `project`; replaces a project with the same ID.
    pub fn insert_project(&mut self, project: Value, now: OffsetDateTime) -> Value {
        let now = now.to_offset(UtcOffset::UTC);
        let project_id = match project.get("projectId").and_then(Value::as_str) {
            Some(id) => id.to_owned(),
            None => format!("emulator-project-{}", self.random_string(6, LOWER_ALNUM)),
        };
        self.projects.retain(|p| p.project_id != project_id);
        let wanted = project
            .get("name")
            .and_then(Value::as_str)
            .and_then(|n| n.strip_prefix("projects/"))
            .and_then(|n| n.parse::<u64>().ok());
        let number = match wanted {
            Some(n) if !self.projects.iter().any(|p| p.number == n) => n,
            _ => self.new_project_number(),
        };
        let labels = project
            .get("labels")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let etag = self.new_etag();
        let p = Project {
            number,
            project_id,
            display_name: project
                .get("displayName")
                .and_then(Value::as_str)
                .map(str::to_owned),
            labels,
            parent: project
                .get("parent")
                .and_then(Value::as_str)
                .map(str::to_owned),
            state: ProjectState::Active,
            create_time: now,
            update_time: now,
            delete_time: None,
            etag,
            owner: None,
            via_api: false,
            search_lag: 0,
            enable_lag: 0,
            enable_failures: 0,
            services: BTreeSet::new(),
            oauth_clients: Vec::new(),
        };
        let view = project_json(&p);
        self.projects.push(p);
        view
    }

    /// Plays the person doing the console steps (ref §0: consent screen and clients are
    /// console-only): requires the project (ID or number) to exist, be ACTIVE and have
    /// `gmail.googleapis.com` enabled; creates a Web OAuth client and returns the JSON file the
    /// console downloads (ref §4.1). `javascript_origins`/`redirect_uris` are omitted when empty
    /// (ref §4.1). The client ID's numeric prefix is the project number (inferred; the console
    /// does this). serde_json does not keep key order here; [`client_file_text`] renders the
    /// console's order.
    pub fn create_oauth_client(
        &mut self,
        project_id: &str,
        redirect_uris: &[String],
    ) -> Result<Value, String> {
        let index = self.find_project(project_id).ok_or_else(|| {
            format!("There is no project '{project_id}' to create an OAuth client in; create the project first.")
        })?;
        let project = &self.projects[index];
        if project.state != ProjectState::Active {
            return Err(format!(
                "Project '{}' is pending deletion (DELETE_REQUESTED); undelete it before creating OAuth clients.",
                project.project_id
            ));
        }
        if !project.services.contains(GMAIL) {
            return Err(format!(
                "The Gmail API (gmail.googleapis.com) is not enabled in project '{}'; enable it before creating the OAuth client.",
                project.project_id
            ));
        }
        let mut origins: Vec<String> = Vec::new();
        for uri in redirect_uris {
            let origin = redirect_origin(uri)?;
            if !origins.contains(&origin) {
                origins.push(origin);
            }
        }
        let number = project.number;
        let project_id = project.project_id.clone();
        let prefix = if (100_000_000_000..1_000_000_000_000).contains(&number) {
            number.to_string()
        } else {
            self.random_string(12, DIGITS).replacen('0', "1", 1)
        };
        let client_id = format!(
            "{prefix}-{}.apps.googleusercontent.com",
            self.random_string(32, LOWER_ALNUM)
        );
        let secret = format!("GOCSPX-{}", self.random_string(28, TOKEN_CHARS));
        let mut web = Map::new();
        web.insert("client_id".into(), json!(client_id));
        web.insert("project_id".into(), json!(project_id));
        web.insert(
            "auth_uri".into(),
            json!("https://accounts.google.com/o/oauth2/auth"),
        );
        web.insert(
            "token_uri".into(),
            json!("https://oauth2.googleapis.com/token"),
        );
        web.insert(
            "auth_provider_x509_cert_url".into(),
            json!("https://www.googleapis.com/oauth2/v1/certs"),
        );
        web.insert("client_secret".into(), json!(secret));
        if !redirect_uris.is_empty() {
            web.insert("redirect_uris".into(), json!(redirect_uris));
            web.insert("javascript_origins".into(), json!(origins));
        }
        let file = json!({ "web": Value::Object(web) });
        self.projects[index].oauth_clients.push(file.clone());
        Ok(file)
    }

    /// The client files created in a project (ID or number), oldest first.
    pub fn oauth_clients(&self, project_id: &str) -> Vec<Value> {
        self.find_project(project_id)
            .map(|i| self.projects[i].oauth_clients.clone())
            .unwrap_or_default()
    }

    /// Every access token issued so far stops working (as if an hour had passed).
    pub fn expire_tokens(&mut self) {
        for t in self.tokens.values_mut() {
            t.revoked = true;
        }
    }

    // -----------------------------------------------------------------------------------------
    // Randomness
    // -----------------------------------------------------------------------------------------

    fn random_string(&mut self, len: usize, charset: &[u8]) -> String {
        (0..len)
            .map(|_| charset[self.rng.usize(..charset.len())] as char)
            .collect()
    }

    fn new_project_number(&mut self) -> u64 {
        loop {
            let n = self.rng.u64(100_000_000_000..1_000_000_000_000);
            if !self.projects.iter().any(|p| p.number == n) {
                return n;
            }
        }
    }

    /// 19 digits, as in `operations/cp.5950654100828535641` (ref §1).
    fn op_digits(&mut self) -> u64 {
        self.rng
            .u64(1_000_000_000_000_000_000..=9_999_999_999_999_999_999)
    }

    fn new_uuid(&mut self) -> uuid::Uuid {
        let mut bytes = [0u8; 16];
        self.rng.fill(&mut bytes);
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }

    /// Weak etag of 16 hex digits (inferred format).
    fn new_etag(&mut self) -> String {
        format!("W/\"{}\"", self.random_string(16, HEX))
    }

    fn issue_token(&mut self, caller: Caller, now: OffsetDateTime) -> String {
        loop {
            // Only the random part can leak a secret ("ya29." is fixed, and a secret such as "a"
            // must not make this loop forever).
            let random = self.random_string(150, TOKEN_CHARS);
            let leaks_secret = self
                .config
                .principals
                .iter()
                .any(|p| !p.client_secret.is_empty() && random.contains(&p.client_secret));
            let token = format!("ya29.{random}");
            if !leaks_secret && !self.tokens.contains_key(&token) {
                self.tokens.insert(
                    token.clone(),
                    IssuedToken {
                        caller,
                        expires_at: now + Duration::seconds(TOKEN_LIFETIME_SECS),
                        revoked: false,
                    },
                );
                return token;
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // OAuth token endpoint (ref §4.2, §5.2)
    // -----------------------------------------------------------------------------------------

    fn token_endpoint(&mut self, req: &EmuRequest, now: OffsetDateTime) -> EmuResponse {
        if req.method != "POST" {
            return oauth_error(405, "invalid_request", "Method not allowed.");
        }
        // google-cloud-auth sends JSON (ref §5.2 probe); everything else sends a form (ref §4.2).
        let is_json = req
            .header("content-type")
            .is_some_and(|c| c.to_ascii_lowercase().contains("json"))
            || req.body.trim_ascii_start().starts_with(b"{");
        let mut params: Vec<(String, String)> = if is_json {
            match req.json() {
                Some(Value::Object(m)) => m
                    .into_iter()
                    .filter_map(|(k, v)| v.as_str().map(|s| (k, s.to_owned())))
                    .collect(),
                _ => return oauth_error(400, "invalid_request", "Invalid JSON payload received."),
            }
        } else {
            req.form()
        };
        // client_secret_basic is accepted too (inferred from RFC 6749 §2.3.1).
        if let Some(basic) = req
            .header("authorization")
            .and_then(|a| a.strip_prefix("Basic "))
            .and_then(|b| STANDARD.decode(b.trim()).ok())
            .and_then(|b| String::from_utf8(b).ok())
            && let Some((id, secret)) = basic.split_once(':')
        {
            params.push(("client_id".into(), id.to_owned()));
            params.push(("client_secret".into(), secret.to_owned()));
        }
        let get = |k: &str| {
            params
                .iter()
                .find(|(key, v)| key == k && !v.is_empty())
                .map(|(_, v)| v.as_str())
        };
        let Some(grant_type) = get("grant_type") else {
            return oauth_error(
                400,
                "invalid_request",
                "Missing required parameter: grant_type",
            );
        };
        if grant_type != "refresh_token" {
            return oauth_error(
                400,
                "unsupported_grant_type",
                &format!("Invalid grant_type: {grant_type}"),
            );
        }
        let Some(client_id) = get("client_id") else {
            return oauth_error(
                400,
                "invalid_request",
                "Could not determine client ID from request.",
            );
        };
        let same_client: Vec<&GooglePrincipal> = self
            .config
            .principals
            .iter()
            .filter(|p| p.client_id == client_id)
            .collect();
        if same_client.is_empty() {
            return oauth_error(401, "invalid_client", "The OAuth client was not found.");
        }
        let secret = get("client_secret").unwrap_or("");
        if !same_client.iter().any(|p| p.client_secret == secret) {
            // Wrong secret for a known client (inferred message).
            return oauth_error(401, "invalid_client", "Unauthorized");
        }
        let Some(refresh_token) = get("refresh_token") else {
            return oauth_error(
                400,
                "invalid_request",
                "Missing required parameter: refresh_token",
            );
        };
        let Some(principal) = same_client
            .iter()
            .find(|p| p.client_secret == secret && p.refresh_token == refresh_token)
        else {
            return oauth_error(400, "invalid_grant", "Bad Request");
        };
        let caller = Caller::User(principal.email.clone());
        let access_token = self.issue_token(caller, now);
        no_store(EmuResponse::json(
            200,
            &json!({
                "access_token": access_token,
                "expires_in": TOKEN_LIFETIME_SECS,
                "scope": CLOUD_PLATFORM_SCOPE,
                "token_type": "Bearer",
            }),
        ))
    }

    // -----------------------------------------------------------------------------------------
    // Metadata server (ref §5.1 step 3; paths as google-cloud-auth's mds uses them)
    // -----------------------------------------------------------------------------------------

    fn metadata_server(&mut self, req: &EmuRequest, now: OffsetDateTime) -> EmuResponse {
        if req.header("metadata-flavor") != Some("Google") {
            // Real server answers an HTML 403 page (inferred wording).
            return text(
                403,
                "text/html; charset=UTF-8",
                &format!(
                    "Your client does not have permission to get URL {} from this server. Missing Metadata-Flavor:Google header.",
                    req.path
                ),
            );
        }
        if req.method != "GET" {
            return metadata_text(405, "Method not allowed");
        }
        let rest = req
            .path
            .strip_prefix("/computeMetadata/v1/")
            .unwrap_or_default();
        let account = rest
            .strip_prefix("instance/service-accounts/")
            .and_then(|r| r.split_once('/'))
            .filter(|(acct, _)| *acct == "default" || *acct == METADATA_SERVICE_ACCOUNT);
        match (account, rest) {
            (Some((_, "token")), _) => {
                let token =
                    self.issue_token(Caller::ServiceAccount(METADATA_SERVICE_ACCOUNT.into()), now);
                EmuResponse::json(
                    200,
                    &json!({
                        "access_token": token,
                        "expires_in": TOKEN_LIFETIME_SECS,
                        "token_type": "Bearer",
                    }),
                )
                .with_header("metadata-flavor", "Google")
            }
            (Some((_, "email")), _) => metadata_text(200, METADATA_SERVICE_ACCOUNT),
            (_, "project/project-id") => metadata_text(200, METADATA_PROJECT_ID),
            (_, "universe/universe-domain") => metadata_text(200, "googleapis.com"),
            _ => metadata_text(404, "Not Found"),
        }
    }

    // -----------------------------------------------------------------------------------------
    // Authentication of /v3 and /v1 calls
    // -----------------------------------------------------------------------------------------

    fn authenticate(&self, req: &EmuRequest, now: OffsetDateTime) -> Result<Caller, EmuResponse> {
        let token = req
            .bearer()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(unauthenticated)?;
        if let Some(t) = self.tokens.get(token) {
            return if !t.revoked && now < t.expires_at {
                Ok(t.caller.clone())
            } else {
                Err(unauthenticated())
            };
        }
        // google-cloud-auth's self-signed service-account JWT (ref §5.2): payload only, no
        // signature check.
        if token.starts_with("eyJ") {
            let parts: Vec<&str> = token.split('.').collect();
            if parts.len() == 3 {
                let claims = URL_SAFE_NO_PAD
                    .decode(parts[1].trim_end_matches('='))
                    .ok()
                    .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
                if let Some(claims) = claims {
                    let expired = claims
                        .get("exp")
                        .and_then(Value::as_i64)
                        .is_some_and(|exp| exp <= now.unix_timestamp());
                    let who = ["sub", "iss"]
                        .iter()
                        .filter_map(|k| claims.get(*k).and_then(Value::as_str))
                        .find(|s| !s.is_empty());
                    if let (false, Some(who)) = (expired, who) {
                        return Ok(Caller::ServiceAccount(who.to_owned()));
                    }
                }
            }
        }
        Err(unauthenticated())
    }

    /// `X-Goog-User-Project` naming a project created through this API that lacks the called
    /// API is refused with SERVICE_DISABLED (ref §1 error shape, §2 peers' warning; inferred).
    fn check_user_project(&self, req: &EmuRequest, service: &str) -> Result<(), EmuResponse> {
        let Some(user_project) = req.header("x-goog-user-project") else {
            return Ok(());
        };
        match self
            .projects
            .iter()
            .find(|p| p.via_api && p.matches_key(user_project))
        {
            Some(p) if !p.services.contains(service) => Err(service_disabled(p.number, service)),
            _ => Ok(()),
        }
    }

    fn find_project(&self, key: &str) -> Option<usize> {
        let key = key.strip_prefix("projects/").unwrap_or(key);
        self.projects.iter().position(|p| p.matches_key(key))
    }

    // -----------------------------------------------------------------------------------------
    // Resource Manager v3 (ref §1, discovery cloudresourcemanager.v3)
    // -----------------------------------------------------------------------------------------

    fn resource_manager(&mut self, req: &EmuRequest, rest: &str, now: OffsetDateTime) -> Handled {
        enum Route<'a> {
            Create,
            List,
            Search,
            Operation(&'a str),
            Get(&'a str),
            Delete(&'a str),
            Patch(&'a str),
            Undelete(&'a str),
        }
        let method = req.method.as_str();
        let route = match (method, rest) {
            ("POST", "projects") => Route::Create,
            ("GET", "projects") => Route::List,
            ("GET", "projects:search") => Route::Search,
            ("GET", r) if r.starts_with("operations/") => Route::Operation(r),
            (m, r) => match r.strip_prefix("projects/") {
                Some(tail) if !tail.is_empty() && !tail.contains('/') => {
                    match (m, tail.strip_suffix(":undelete")) {
                        ("POST", Some(id)) if !id.is_empty() => Route::Undelete(id),
                        ("GET", None) if !tail.contains(':') => Route::Get(tail),
                        ("DELETE", None) if !tail.contains(':') => Route::Delete(tail),
                        ("PATCH", None) if !tail.contains(':') => Route::Patch(tail),
                        _ => return Err(unknown_path(req)),
                    }
                }
                _ => return Err(unknown_path(req)),
            },
        };
        let caller = self.authenticate(req, now)?;
        self.check_user_project(req, "cloudresourcemanager.googleapis.com")?;
        match route {
            Route::Create => self.create_project(req, &caller, now),
            Route::List => self.list_projects(req, &caller),
            Route::Search => self.search_projects(req, &caller),
            Route::Operation(name) => self.poll_operation(name, Api::ResourceManager),
            Route::Get(key) => {
                let i = self.visible_project(key, &caller, "resourcemanager.projects.get")?;
                Ok(EmuResponse::json(200, &project_json(&self.projects[i])))
            }
            Route::Delete(key) => self.delete_project(key, &caller, now),
            Route::Undelete(key) => self.undelete_project(req, key, &caller, now),
            Route::Patch(key) => self.patch_project(req, key, &caller, now),
        }
    }

    /// The project for `key` (ID or number) if the caller may see it; otherwise 403, whether it
    /// exists or not (ref §1: "to prevent id probing"; message and ErrorInfo inferred).
    fn visible_project(
        &self,
        key: &str,
        caller: &Caller,
        permission: &str,
    ) -> Result<usize, EmuResponse> {
        match self.find_project(key) {
            Some(i) if self.projects[i].visible_to(caller) => Ok(i),
            _ => Err(google_error(
                403,
                "PERMISSION_DENIED",
                &format!(
                    "Permission '{permission}' denied on resource '//cloudresourcemanager.googleapis.com/projects/{key}' (or it may not exist)."
                ),
                vec![json!({
                    "@type": T_ERROR_INFO,
                    "reason": "IAM_PERMISSION_DENIED",
                    "domain": "cloudresourcemanager.googleapis.com",
                    "metadata": {"permission": permission, "resource": format!("projects/{key}")},
                })],
            )),
        }
    }

    fn new_operation(
        &mut self,
        name: String,
        api: Api,
        pending_metadata: Option<Value>,
        done_metadata: Option<Value>,
        outcome: Outcome,
    ) -> EmuResponse {
        let view = operation_json(&name, pending_metadata.as_ref(), None);
        self.operations.insert(
            name,
            Operation {
                api,
                polls_left: self.config.operation_polls,
                created: self.now,
                pending_metadata,
                done_metadata,
                outcome,
                applied: false,
            },
        );
        EmuResponse::json(200, &view)
    }

    fn create_project(
        &mut self,
        req: &EmuRequest,
        caller: &Caller,
        now: OffsetDateTime,
    ) -> Handled {
        let body = json_object(req)?;
        check_known_fields(&body, "project")?;
        let project_id = match body.get("projectId") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            _ => {
                return Err(invalid_argument(
                    "project.project_id",
                    "Project ID is required.",
                ));
            }
        };
        validate_project_id(&project_id)?;
        let display_name = validate_display_name(body.get("displayName"))?;
        let labels = validate_labels(body.get("labels"))?;
        let parent = validate_parent(body.get("parent"))?;
        if matches!(caller, Caller::ServiceAccount(_)) && parent.is_none() {
            // ref §1 (googleapis/nodejs-resource-manager#95).
            return Err(google_error(
                400,
                "INVALID_ARGUMENT",
                SA_WITHOUT_PARENT_MESSAGE,
                vec![],
            ));
        }
        let taken = self.config.taken_project_ids.contains(&project_id)
            || self.projects.iter().any(|p| p.project_id == project_id);
        if taken {
            // ref §1: taken by anyone, incl. pending deletion → 409.
            return Err(google_error(
                409,
                "ALREADY_EXISTS",
                "Requested entity already exists",
                vec![],
            ));
        }
        let owned = self
            .projects
            .iter()
            .filter(|p| p.owner.as_deref() == Some(caller.email()))
            .count();
        let over_quota = self
            .config
            .project_quota
            .is_some_and(|q| owned >= q as usize);
        let name = format!("operations/cp.{}", self.op_digits());
        let create_time = rfc3339(now);
        let metadata = |gettable: bool, ready: bool| json!({"@type": T_CREATE_META, "createTime": create_time, "gettable": gettable, "ready": ready});
        if over_quota {
            // ref §1: quota is reported inside the finished operation, exact body.
            let status = json!({
                "code": 8,
                "message": QUOTA_MESSAGE,
                "details": [{"@type": T_QUOTA_FAILURE, "violations": [{"description": QUOTA_MESSAGE}]}],
            });
            let (pending, done) = (metadata(false, false), metadata(false, false));
            return Ok(self.new_operation(
                name,
                Api::ResourceManager,
                Some(pending),
                Some(done),
                Outcome::Error(status),
            ));
        }
        let number = self.new_project_number();
        let etag = self.new_etag();
        self.projects.push(Project {
            number,
            project_id,
            display_name,
            labels,
            parent,
            state: ProjectState::Active,
            create_time: now,
            update_time: now,
            delete_time: None,
            etag,
            owner: Some(caller.email().to_owned()),
            via_api: true,
            search_lag: self.config.search_lag,
            enable_lag: self.config.enable_lag,
            enable_failures: 0,
            services: BTreeSet::new(),
            oauth_clients: Vec::new(),
        });
        let (pending, done) = (metadata(true, false), metadata(true, true));
        Ok(self.new_operation(
            name,
            Api::ResourceManager,
            Some(pending),
            Some(done),
            Outcome::Project(number),
        ))
    }

    fn delete_project(&mut self, key: &str, caller: &Caller, now: OffsetDateTime) -> Handled {
        let i = self.visible_project(key, caller, "resourcemanager.projects.delete")?;
        // ref §1: deleting a DELETE_REQUESTED project "will not cause an error, but also won't do
        // anything".
        if self.projects[i].state == ProjectState::Active {
            let etag = self.new_etag();
            let p = &mut self.projects[i];
            p.state = ProjectState::DeleteRequested;
            p.delete_time = Some(now);
            p.update_time = now;
            p.etag = etag;
        }
        let number = self.projects[i].number;
        // Operation name prefix `dp.` is inferred (ref §8.1: not verified live).
        let name = format!("operations/dp.{}", self.op_digits());
        let md = json!({"@type": T_DELETE_META});
        Ok(self.new_operation(
            name,
            Api::ResourceManager,
            Some(md.clone()),
            Some(md),
            Outcome::Project(number),
        ))
    }

    fn undelete_project(
        &mut self,
        req: &EmuRequest,
        key: &str,
        caller: &Caller,
        now: OffsetDateTime,
    ) -> Handled {
        if !req.body.trim_ascii().is_empty() {
            json_object(req)?;
        }
        let i = self.visible_project(key, caller, "resourcemanager.projects.undelete")?;
        if self.projects[i].state != ProjectState::DeleteRequested {
            // ref §1: only while DELETE_REQUESTED; wording inferred.
            return Err(google_error(
                400,
                "FAILED_PRECONDITION",
                &format!(
                    "Project '{}' is not in state DELETE_REQUESTED and cannot be undeleted.",
                    self.projects[i].project_id
                ),
                vec![],
            ));
        }
        let etag = self.new_etag();
        let p = &mut self.projects[i];
        p.state = ProjectState::Active;
        p.delete_time = None;
        p.update_time = now;
        p.etag = etag;
        let number = p.number;
        let name = format!("operations/udp.{}", self.op_digits()); // prefix inferred
        let md = json!({"@type": T_UNDELETE_META});
        Ok(self.new_operation(
            name,
            Api::ResourceManager,
            Some(md.clone()),
            Some(md),
            Outcome::Project(number),
        ))
    }

    /// `PATCH v3/{+name}?updateMask=` (discovery). Only `displayName` and `labels` are updatable
    /// here; a missing mask updates both (inferred); a masked field absent from the body is
    /// cleared (field-mask semantics).
    fn patch_project(
        &mut self,
        req: &EmuRequest,
        key: &str,
        caller: &Caller,
        now: OffsetDateTime,
    ) -> Handled {
        let body = json_object(req)?;
        check_known_fields(&body, "project")?;
        let i = self.visible_project(key, caller, "resourcemanager.projects.update")?;
        let mask: Vec<String> = match req.query_param("updateMask") {
            Some(m) if !m.trim().is_empty() => m.split(',').map(|s| s.trim().to_owned()).collect(),
            _ => vec!["displayName".into(), "labels".into()],
        };
        let mut new_display = None;
        let mut new_labels = None;
        for path in &mask {
            match path.as_str() {
                "displayName" | "display_name" => {
                    new_display = Some(validate_display_name(body.get("displayName"))?)
                }
                "labels" => new_labels = Some(validate_labels(body.get("labels"))?),
                other => {
                    return Err(invalid_argument(
                        "update_mask",
                        &format!(
                            "Invalid update mask path: '{other}'. Only 'display_name' and 'labels' can be updated."
                        ),
                    ));
                }
            }
        }
        if self.projects[i].state != ProjectState::Active {
            return Err(google_error(
                400,
                "FAILED_PRECONDITION",
                &format!(
                    "Project '{}' is pending deletion and cannot be updated.",
                    self.projects[i].project_id
                ),
                vec![],
            ));
        }
        let etag = self.new_etag();
        let p = &mut self.projects[i];
        if let Some(d) = new_display {
            p.display_name = d;
        }
        if let Some(l) = new_labels {
            p.labels = l;
        }
        p.update_time = now;
        p.etag = etag;
        let number = p.number;
        let name = format!("operations/up.{}", self.op_digits()); // prefix inferred
        let md = json!({"@type": T_UPDATE_META});
        Ok(self.new_operation(
            name,
            Api::ResourceManager,
            Some(md.clone()),
            Some(md),
            Outcome::Project(number),
        ))
    }

    /// `projects:search` (discovery): terms separated by spaces are OR-ed ("return results that
    /// match any of the fields"; example `labels.color:red labels.size:big` = red OR big), also
    /// ref §1. An explicit `AND` between two terms binds them (inferred, Google filter grammar).
    /// Case-insensitive. DELETE_REQUESTED projects are included (ref §1). Empty result = `{}`.
    fn search_projects(&mut self, req: &EmuRequest, caller: &Caller) -> Handled {
        let query = req.query_param("query").unwrap_or("");
        let groups = parse_query(query).map_err(|m| invalid_argument("query", &m))?;
        let (page_size, offset) = paging(req)?;
        let mut hits = Vec::new();
        for p in self.projects.iter_mut().filter(|p| p.visible_to(caller)) {
            if p.search_lag > 0 {
                p.search_lag -= 1; // eventually consistent (ref §1)
                continue;
            }
            if groups.is_empty() || groups.iter().any(|g| g.iter().all(|t| t.matches(p))) {
                hits.push(project_json(p));
            }
        }
        Ok(EmuResponse::json(200, &page(hits, page_size, offset)))
    }

    /// `projects.list`: `parent` required (ref §1); `showDeleted` (discovery). No lag (inferred).
    fn list_projects(&mut self, req: &EmuRequest, caller: &Caller) -> Handled {
        let Some(parent) = req.query_param("parent").filter(|p| !p.is_empty()) else {
            return Err(invalid_argument(
                "parent",
                "Request is missing required field: parent.",
            ));
        };
        let show_deleted = req.query_param("showDeleted") == Some("true");
        let (page_size, offset) = paging(req)?;
        let hits = self
            .projects
            .iter()
            .filter(|p| p.visible_to(caller) && p.parent.as_deref() == Some(parent))
            .filter(|p| show_deleted || p.state == ProjectState::Active)
            .map(project_json)
            .collect();
        Ok(EmuResponse::json(200, &page(hits, page_size, offset)))
    }

    /// `GET v3/operations/*` and `GET v1/operations/*`: the first `operation_polls` polls answer
    /// not done, then done with `response` or `error` (ref §1/§2). Unknown names — including
    /// `operations/noop.DONE_OPERATION` (ref §2: must not be polled) — are 404 (inferred).
    fn poll_operation(&mut self, name: &str, api: Api) -> Handled {
        let Some(op) = self.operations.get_mut(name).filter(|o| o.api == api) else {
            return Err(google_error(
                404,
                "NOT_FOUND",
                &format!("Operation '{name}' not found."),
                vec![],
            ));
        };
        let pending = match self.config.operation_duration {
            Some(d) => self.now - op.created < d,
            None => op.polls_left > 0,
        };
        if pending {
            op.polls_left = op.polls_left.saturating_sub(1);
            return Ok(EmuResponse::json(
                200,
                &operation_json(name, op.pending_metadata.as_ref(), None),
            ));
        }
        let first_done = !op.applied;
        op.applied = true;
        let outcome = op.outcome.clone();
        let done_metadata = op.done_metadata.clone();
        let result = match outcome {
            Outcome::Error(status) => ("error", status),
            Outcome::Project(number) => {
                let mut view = self
                    .projects
                    .iter()
                    .find(|p| p.number == number)
                    .map(project_json)
                    .unwrap_or_else(|| json!({}));
                view["@type"] = json!(T_PROJECT);
                ("response", view)
            }
            Outcome::Service {
                number,
                service,
                enable,
            } => {
                if first_done && let Some(p) = self.projects.iter_mut().find(|p| p.number == number)
                {
                    if enable {
                        p.services.insert(service.clone());
                    } else {
                        p.services.remove(&service);
                    }
                }
                let ty = if enable {
                    T_ENABLE_RESP
                } else {
                    T_DISABLE_RESP
                };
                (
                    "response",
                    json!({"@type": ty, "service": service_json(number, &service, enable)}),
                )
            }
        };
        Ok(EmuResponse::json(
            200,
            &operation_json(name, done_metadata.as_ref(), Some(result)),
        ))
    }

    // -----------------------------------------------------------------------------------------
    // Service Usage v1 (ref §2, discovery serviceusage.v1)
    // -----------------------------------------------------------------------------------------

    fn service_usage(&mut self, req: &EmuRequest, rest: &str, now: OffsetDateTime) -> Handled {
        enum Route<'a> {
            Operation(&'a str),
            List(&'a str),
            Get(&'a str, &'a str),
            Enable(&'a str, &'a str),
            Disable(&'a str, &'a str),
        }
        let method = req.method.as_str();
        let route = if let Some(op) = rest.strip_prefix("operations/") {
            match method {
                "GET" if !op.is_empty() && !op.contains('/') => Route::Operation(rest),
                _ => return Err(unknown_path(req)),
            }
        } else {
            let segments: Vec<&str> = rest.split('/').collect();
            match (method, segments.as_slice()) {
                ("GET", ["projects", p, "services"]) if !p.is_empty() => Route::List(p),
                (m, ["projects", p, "services", svc]) if !p.is_empty() && !svc.is_empty() => {
                    match (m, svc.split_once(':')) {
                        ("GET", None) => Route::Get(p, svc),
                        ("POST", Some((s, "enable"))) if !s.is_empty() => Route::Enable(p, s),
                        ("POST", Some((s, "disable"))) if !s.is_empty() => Route::Disable(p, s),
                        _ => return Err(unknown_path(req)),
                    }
                }
                _ => return Err(unknown_path(req)),
            }
        };
        let caller = self.authenticate(req, now)?;
        self.check_user_project(req, "serviceusage.googleapis.com")?;
        match route {
            Route::Operation(name) => self.poll_operation(name, Api::ServiceUsage),
            Route::List(p) => self.list_services(req, p, &caller),
            Route::Get(p, svc) => {
                let i = self.su_project(
                    p,
                    &caller,
                    &format!("Permission denied to get service [{svc}]"),
                    "serviceusage.services.get",
                )?;
                known_service(svc)?;
                let p = &self.projects[i];
                Ok(EmuResponse::json(
                    200,
                    &service_json(p.number, svc, p.services.contains(svc)),
                ))
            }
            Route::Enable(p, svc) => self.enable_service(req, p, svc, &caller),
            Route::Disable(p, svc) => self.disable_service(req, p, svc, &caller),
        }
    }

    /// Project for a Service Usage call (inferred messages): unknown/foreign → 403
    /// PERMISSION_DENIED; DELETE_REQUESTED → 403 "has been deleted".
    fn su_project(
        &self,
        key: &str,
        caller: &Caller,
        denied: &str,
        permission: &str,
    ) -> Result<usize, EmuResponse> {
        let Some(i) = self
            .find_project(key)
            .filter(|&i| self.projects[i].visible_to(caller))
        else {
            return Err(google_error(
                403,
                "PERMISSION_DENIED",
                denied,
                vec![json!({
                    "@type": T_ERROR_INFO,
                    "reason": "AUTH_PERMISSION_DENIED",
                    "domain": "serviceusage.googleapis.com",
                    "metadata": {"permission": permission},
                })],
            ));
        };
        let p = &self.projects[i];
        if p.state == ProjectState::DeleteRequested {
            return Err(google_error(
                403,
                "PERMISSION_DENIED",
                &format!("Project #{} has been deleted.", p.number),
                vec![json!({
                    "@type": T_ERROR_INFO,
                    "reason": "CONSUMER_INVALID",
                    "domain": "googleapis.com",
                    "metadata": {"consumer": format!("projects/{}", p.number), "service": "serviceusage.googleapis.com"},
                })],
            ));
        }
        Ok(i)
    }

    fn enable_service(
        &mut self,
        req: &EmuRequest,
        key: &str,
        svc: &str,
        caller: &Caller,
    ) -> Handled {
        if !req.body.trim_ascii().is_empty() {
            json_object(req)?; // EnableServiceRequest has no fields (ref §2)
        }
        let denied = format!("Permission denied to enable service [{svc}]");
        let i = self.su_project(key, caller, &denied, "serviceusage.services.enable")?;
        // ref §2: right after project creation the first enable can fail transiently (403/404).
        let p = &mut self.projects[i];
        if p.enable_lag > 0 {
            p.enable_lag -= 1;
            p.enable_failures += 1;
            return Err(if p.enable_failures % 2 == 1 {
                google_error(
                    403,
                    "PERMISSION_DENIED",
                    &denied,
                    vec![json!({
                        "@type": T_ERROR_INFO,
                        "reason": "AUTH_PERMISSION_DENIED",
                        "domain": "serviceusage.googleapis.com",
                        "metadata": {"permission": "serviceusage.services.enable"},
                    })],
                )
            } else {
                google_error(
                    404,
                    "NOT_FOUND",
                    &format!("Project '{}' not found or permission denied.", p.project_id),
                    vec![],
                )
            });
        }
        known_service(svc)?;
        let p = &self.projects[i];
        let number = p.number;
        if p.services.contains(svc) {
            // ref §2: synchronous dummy operation, exactly this shape.
            return Ok(EmuResponse::json(
                200,
                &json!({
                    "name": NOOP_OPERATION,
                    "done": true,
                    "response": {"@type": T_ENABLE_RESP, "service": service_json(number, svc, true)},
                }),
            ));
        }
        let name = format!("operations/acf.p2-{number}-{}", self.new_uuid());
        let md = json!({"@type": T_SU_META, "resourceNames": [format!("services/{svc}/projectSettings/{number}")]});
        // ref §2's done form carries no metadata.
        Ok(self.new_operation(
            name,
            Api::ServiceUsage,
            Some(md),
            None,
            Outcome::Service {
                number,
                service: svc.to_owned(),
                enable: true,
            },
        ))
    }

    fn disable_service(
        &mut self,
        req: &EmuRequest,
        key: &str,
        svc: &str,
        caller: &Caller,
    ) -> Handled {
        if !req.body.trim_ascii().is_empty() {
            let body = json_object(req)?;
            for k in body.keys() {
                if k != "disableDependentServices" && k != "checkIfServiceHasUsage" {
                    return Err(unknown_field(k, "disable_service_request"));
                }
            }
        }
        let denied = format!("Permission denied to disable service [{svc}]");
        let i = self.su_project(key, caller, &denied, "serviceusage.services.disable")?;
        known_service(svc)?;
        let p = &self.projects[i];
        let number = p.number;
        if !p.services.contains(svc) {
            // ref §2: disable of a non-enabled service → FAILED_PRECONDITION (wording inferred).
            return Err(google_error(
                400,
                "FAILED_PRECONDITION",
                &format!("Service {svc} is not enabled for consumer projects/{number}."),
                vec![],
            ));
        }
        // `acat.p2-` prefix (ref §2 lists it as an observed format; its use for disable is inferred).
        let name = format!("operations/acat.p2-{number}-{}", self.new_uuid());
        let md = json!({"@type": T_SU_META, "resourceNames": [format!("services/{svc}/projectSettings/{number}")]});
        Ok(self.new_operation(
            name,
            Api::ServiceUsage,
            Some(md),
            None,
            Outcome::Service {
                number,
                service: svc.to_owned(),
                enable: false,
            },
        ))
    }

    /// `services.list` with optional `filter=state:ENABLED|DISABLED` (ref §2); no paging (inferred).
    fn list_services(&self, req: &EmuRequest, key: &str, caller: &Caller) -> Handled {
        let denied =
            format!("Permission denied to list services for consumer container [projects/{key}]");
        let i = self.su_project(key, caller, &denied, "serviceusage.services.list")?;
        let p = &self.projects[i];
        let want = match req
            .query_param("filter")
            .map(|f| f.trim().to_ascii_uppercase())
        {
            None => None,
            Some(f) if f.is_empty() => None,
            Some(f) if f == "STATE:ENABLED" => Some(true),
            Some(f) if f == "STATE:DISABLED" => Some(false),
            Some(_) => return Err(invalid_argument("filter", "Invalid filter.")),
        };
        let services: Vec<Value> = SERVICE_CATALOG
            .iter()
            .map(|(name, _)| (*name, p.services.contains(*name)))
            .filter(|(_, enabled)| want.is_none_or(|w| w == *enabled))
            .map(|(name, enabled)| service_json(p.number, name, enabled))
            .collect();
        let body = if services.is_empty() {
            json!({})
        } else {
            json!({ "services": services })
        };
        Ok(EmuResponse::json(200, &body))
    }
}

// ---------------------------------------------------------------------------------------------
// Client file rendering
// ---------------------------------------------------------------------------------------------

/// Renders a client file from [`GoogleState::create_oauth_client`] as the console downloads it:
/// one line, keys in the console's order (ref §4.1), without needing serde_json's
/// `preserve_order` feature.
pub fn client_file_text(file: &Value) -> String {
    const ORDER: &[&str] = &[
        "client_id",
        "project_id",
        "auth_uri",
        "token_uri",
        "auth_provider_x509_cert_url",
        "client_secret",
        "redirect_uris",
        "javascript_origins",
    ];
    let Some((kind, inner)) = file
        .as_object()
        .and_then(|o| o.iter().next())
        .and_then(|(k, v)| v.as_object().map(|m| (k, m)))
    else {
        return file.to_string();
    };
    let mut parts: Vec<String> = ORDER
        .iter()
        .filter_map(|k| inner.get(*k).map(|v| format!("{}:{v}", json!(k))))
        .collect();
    parts.extend(
        inner
            .iter()
            .filter(|(k, _)| !ORDER.contains(&k.as_str()))
            .map(|(k, v)| format!("{}:{v}", json!(k))),
    );
    format!("{{{}:{{{}}}}}", json!(kind), parts.join(","))
}

/// Console rules for a Web client's redirect URI (inferred): absolute http(s) URL, `http` only
/// for loopback hosts, no fragment, no wildcard. Returns its origin.
fn redirect_origin(uri: &str) -> Result<String, String> {
    let url = url::Url::parse(uri).map_err(|e| format!("Invalid redirect URI '{uri}': {e}."))?;
    let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => {
            return Err(format!(
                "Invalid redirect URI '{uri}': must use https (http is only allowed for localhost)."
            ));
        }
    }
    if url.fragment().is_some() || uri.contains('*') {
        return Err(format!(
            "Invalid redirect URI '{uri}': must not contain a fragment or a wildcard."
        ));
    }
    Ok(url.origin().ascii_serialization())
}

// ---------------------------------------------------------------------------------------------
// JSON views
// ---------------------------------------------------------------------------------------------

fn rfc3339(t: OffsetDateTime) -> String {
    t.to_offset(UtcOffset::UTC)
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// A project as `projects.get` shows it (discovery `Project`; empty fields omitted).
fn project_json(p: &Project) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(format!("projects/{}", p.number)));
    if let Some(parent) = &p.parent {
        m.insert("parent".into(), json!(parent));
    }
    m.insert("projectId".into(), json!(p.project_id));
    m.insert("state".into(), json!(p.state.as_str()));
    if let Some(d) = &p.display_name {
        m.insert("displayName".into(), json!(d));
    }
    m.insert("createTime".into(), json!(rfc3339(p.create_time)));
    m.insert("updateTime".into(), json!(rfc3339(p.update_time)));
    if let Some(d) = p.delete_time {
        m.insert("deleteTime".into(), json!(rfc3339(d)));
    }
    m.insert("etag".into(), json!(p.etag));
    if !p.labels.is_empty() {
        m.insert("labels".into(), Value::Object(p.labels.clone()));
    }
    Value::Object(m)
}

/// `GoogleApiServiceusageV1Service`, named by project number (ref §2).
fn service_json(number: u64, svc: &str, enabled: bool) -> Value {
    let title = SERVICE_CATALOG
        .iter()
        .find(|(n, _)| *n == svc)
        .map_or(svc, |(_, t)| *t);
    json!({
        "name": format!("projects/{number}/services/{svc}"),
        "parent": format!("projects/{number}"),
        "state": if enabled { "ENABLED" } else { "DISABLED" },
        "config": {"name": svc, "title": title},
    })
}

/// Operation (discovery): `done` omitted while running (ref §1).
fn operation_json(name: &str, metadata: Option<&Value>, result: Option<(&str, Value)>) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(name));
    if result.is_some() {
        m.insert("done".into(), json!(true));
    }
    if let Some(md) = metadata {
        m.insert("metadata".into(), md.clone());
    }
    if let Some((key, value)) = result {
        m.insert(key.into(), value);
    }
    Value::Object(m)
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// Google error body (ref §1): `{"error":{"code","message","status","details"?}}`.
fn google_error(http: u16, status: &str, message: &str, details: Vec<Value>) -> EmuResponse {
    let mut error = json!({"code": http, "message": message, "status": status});
    if !details.is_empty() {
        error["details"] = Value::Array(details);
    }
    EmuResponse::json(http, &json!({ "error": error }))
}

fn unauthenticated() -> EmuResponse {
    google_error(401, "UNAUTHENTICATED", UNAUTHENTICATED_MESSAGE, vec![]).with_header(
        "www-authenticate",
        "Bearer realm=\"https://accounts.google.com/\", error=\"invalid_token\"",
    )
}

fn unknown_path(req: &EmuRequest) -> EmuResponse {
    // Real Google answers an HTML 404 here; the JSON body is the brief's choice (inferred).
    google_error(
        404,
        "NOT_FOUND",
        &format!(
            "The requested URL {} was not found on this server.",
            req.path
        ),
        vec![],
    )
}

/// 400 INVALID_ARGUMENT with a `BadRequest` field violation (shape per ref §1 details; inferred).
fn invalid_argument(field: &str, description: &str) -> EmuResponse {
    google_error(
        400,
        "INVALID_ARGUMENT",
        description,
        vec![json!({
            "@type": T_BAD_REQUEST,
            "fieldViolations": [{"field": field, "description": description}],
        })],
    )
}

fn unknown_field(key: &str, message: &str) -> EmuResponse {
    let text = format!(
        "Invalid JSON payload received. Unknown name \"{key}\" at '{message}': Cannot find field."
    );
    google_error(
        400,
        "INVALID_ARGUMENT",
        &text,
        vec![
            json!({"@type": T_BAD_REQUEST, "fieldViolations": [{"field": message, "description": text}]}),
        ],
    )
}

fn service_disabled(number: u64, svc: &str) -> EmuResponse {
    let title = SERVICE_CATALOG
        .iter()
        .find(|(n, _)| *n == svc)
        .map_or(svc, |(_, t)| *t);
    let url =
        format!("https://console.developers.google.com/apis/api/{svc}/overview?project={number}");
    google_error(
        403,
        "PERMISSION_DENIED",
        &format!(
            "{title} has not been used in project {number} before or it is disabled. Enable it by visiting {url} then retry. If you enabled this API recently, wait a few minutes for the action to propagate to our systems and retry."
        ),
        vec![
            json!({
                "@type": T_ERROR_INFO,
                "reason": "SERVICE_DISABLED",
                "domain": "googleapis.com",
                "metadata": {"service": svc, "consumer": format!("projects/{number}"), "activationUrl": url},
            }),
            json!({"@type": T_HELP, "links": [{"description": "Google developers console API activation", "url": url}]}),
        ],
    )
}

fn known_service(svc: &str) -> Result<(), EmuResponse> {
    if SERVICE_CATALOG.iter().any(|(n, _)| *n == svc) {
        return Ok(());
    }
    Err(google_error(
        403,
        "PERMISSION_DENIED",
        &format!("Not found or permission denied for service(s): {svc}."),
        vec![json!({
            "@type": T_ERROR_INFO,
            "reason": "SERVICE_CONFIG_NOT_FOUND_OR_PERMISSION_DENIED",
            "domain": "serviceusage.googleapis.com",
            "metadata": {"services": svc},
        })],
    ))
}

fn oauth_error(status: u16, error: &str, description: &str) -> EmuResponse {
    no_store(EmuResponse::json(
        status,
        &json!({"error": error, "error_description": description}),
    ))
}

fn no_store(resp: EmuResponse) -> EmuResponse {
    resp.with_header(
        "cache-control",
        "no-cache, no-store, max-age=0, must-revalidate",
    )
    .with_header("pragma", "no-cache")
}

fn text(status: u16, content_type: &str, body: &str) -> EmuResponse {
    EmuResponse {
        status,
        headers: vec![("content-type".into(), content_type.into())],
        body: body.as_bytes().to_vec(),
    }
}

fn metadata_text(status: u16, body: &str) -> EmuResponse {
    text(status, "application/text", body).with_header("metadata-flavor", "Google")
}

// ---------------------------------------------------------------------------------------------
// Validation (discovery `Project` field rules, ref §1)
// ---------------------------------------------------------------------------------------------

fn json_object(req: &EmuRequest) -> Result<Map<String, Value>, EmuResponse> {
    match req.json() {
        Some(Value::Object(m)) => Ok(m),
        _ => Err(google_error(
            400,
            "INVALID_ARGUMENT",
            "Invalid JSON payload received. Expected an object.",
            vec![],
        )),
    }
}

fn check_known_fields(body: &Map<String, Value>, message: &str) -> Result<(), EmuResponse> {
    const PROJECT_FIELDS: &[&str] = &[
        "name",
        "parent",
        "projectId",
        "state",
        "displayName",
        "createTime",
        "updateTime",
        "deleteTime",
        "etag",
        "labels",
        "tags",
        "configuredCapabilities",
    ];
    match body.keys().find(|k| !PROJECT_FIELDS.contains(&k.as_str())) {
        Some(k) => Err(unknown_field(k, message)),
        None => Ok(()),
    }
}

/// `^[a-z][a-z0-9-]{4,28}[a-z0-9]$` (ref §1).
fn valid_project_id(id: &str) -> bool {
    let b = id.as_bytes();
    (6..=30).contains(&b.len())
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[b.len() - 1] != b'-'
}

fn validate_project_id(id: &str) -> Result<(), EmuResponse> {
    if valid_project_id(id) {
        return Ok(());
    }
    // Wording inferred from the discovery field description.
    Err(invalid_argument(
        "project.project_id",
        &format!(
            "Project ID '{id}' is invalid: it must be 6 to 30 lowercase ASCII letters, digits, or hyphens, start with a letter, and trailing hyphens are prohibited."
        ),
    ))
}

fn validate_display_name(v: Option<&Value>) -> Result<Option<String>, EmuResponse> {
    let name = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) if s.is_empty() => return Ok(None),
        Some(Value::String(s)) => s,
        Some(_) => {
            return Err(invalid_argument(
                "project.display_name",
                "Display name must be a string.",
            ));
        }
    };
    let len = name.chars().count();
    let chars_ok = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '\'' | '"' | ' ' | '!'));
    if !(4..=30).contains(&len) || !chars_ok {
        return Err(invalid_argument(
            "project.display_name",
            &format!(
                "Display name '{name}' is invalid: it must be between 4 and 30 characters; allowed characters are letters, numbers, hyphen, single-quote, double-quote, space, and exclamation point."
            ),
        ));
    }
    Ok(Some(name.clone()))
}

/// `[a-z]([-a-z0-9]*[a-z0-9])?`
fn label_token_ok(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[b.len() - 1] != b'-'
}

fn validate_labels(v: Option<&Value>) -> Result<Map<String, Value>, EmuResponse> {
    let labels = match v {
        None | Some(Value::Null) => return Ok(Map::new()),
        Some(Value::Object(m)) => m,
        Some(_) => {
            return Err(invalid_argument(
                "project.labels",
                "Labels must be a map of strings.",
            ));
        }
    };
    if labels.len() > 64 {
        return Err(invalid_argument(
            "project.labels",
            "No more than 64 labels can be associated with a given resource.",
        ));
    }
    for (key, value) in labels {
        if key.len() > 63 || !label_token_ok(key) {
            return Err(invalid_argument(
                "project.labels",
                &format!(
                    "Label key '{key}' is invalid: keys must be 1 to 63 characters and match [a-z]([-a-z0-9]*[a-z0-9])?."
                ),
            ));
        }
        let ok = value
            .as_str()
            .is_some_and(|s| s.len() <= 63 && (s.is_empty() || label_token_ok(s)));
        if !ok {
            return Err(invalid_argument(
                "project.labels",
                &format!(
                    "Label value {value} of key '{key}' is invalid: values must be 0 to 63 characters and match ([a-z]([-a-z0-9]*[a-z0-9])?)?."
                ),
            ));
        }
    }
    Ok(labels.clone())
}

fn validate_parent(v: Option<&Value>) -> Result<Option<String>, EmuResponse> {
    let parent = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) if s.is_empty() => return Ok(None),
        Some(Value::String(s)) => s,
        Some(_) => {
            return Err(invalid_argument(
                "project.parent",
                "Parent must be a string.",
            ));
        }
    };
    let id = parent
        .strip_prefix("folders/")
        .or_else(|| parent.strip_prefix("organizations/"));
    match id {
        Some(n) if !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()) => {
            Ok(Some(parent.clone()))
        }
        _ => Err(invalid_argument(
            "project.parent",
            &format!(
                "Parent '{parent}' is invalid: it must be 'folders/{{folder_id}}' or 'organizations/{{organization_id}}'."
            ),
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// Search query and paging
// ---------------------------------------------------------------------------------------------

#[derive(Debug)]
enum Pattern {
    Any,
    Exact(String),
    Prefix(String),
}

impl Pattern {
    fn parse(value: &str) -> Pattern {
        let v = value.to_lowercase();
        if v == "*" {
            Pattern::Any
        } else if let Some(prefix) = v.strip_suffix('*') {
            Pattern::Prefix(prefix.to_owned())
        } else {
            Pattern::Exact(v)
        }
    }

    fn matches(&self, value: Option<&str>) -> bool {
        let Some(value) = value else { return false };
        let value = value.to_lowercase();
        match self {
            Pattern::Any => true,
            Pattern::Exact(v) => value == *v,
            Pattern::Prefix(p) => value.starts_with(p.as_str()),
        }
    }
}

#[derive(Debug)]
enum Term {
    Label(String, Pattern),
    AnyLabel(Pattern),
    Id(Pattern),
    State(Pattern),
    Name(Pattern),
    Parent(Pattern),
    ParentType(Pattern),
    ParentId(Pattern),
}

impl Term {
    fn matches(&self, p: &Project) -> bool {
        let parent = p.parent.as_deref();
        match self {
            Term::Label(key, pat) => pat.matches(p.labels.get(key).and_then(Value::as_str)),
            Term::AnyLabel(pat) => p.labels.iter().any(|(k, v)| {
                matches!(pat, Pattern::Any) || pat.matches(Some(k)) || pat.matches(v.as_str())
            }),
            Term::Id(pat) => pat.matches(Some(&p.project_id)),
            Term::State(pat) => pat.matches(Some(p.state.as_str())),
            Term::Name(pat) => pat.matches(p.display_name.as_deref()),
            Term::Parent(pat) => pat.matches(parent),
            Term::ParentType(pat) => pat.matches(parent.and_then(|s| {
                s.split_once('/')
                    .map(|(t, _)| t.strip_suffix('s').unwrap_or(t))
            })),
            Term::ParentId(pat) => {
                pat.matches(parent.and_then(|s| s.split_once('/').map(|(_, n)| n)))
            }
        }
    }
}

/// Splits on whitespace outside double quotes.
fn tokenize(query: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in query.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                current.push(c);
            }
            c if c.is_whitespace() && !quoted => {
                if !current.is_empty() {
                    tokens.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        tokens.push(current);
    }
    tokens
}

/// Parses a search query into OR-ed groups of AND-ed terms.
fn parse_query(query: &str) -> Result<Vec<Vec<Term>>, String> {
    let mut groups: Vec<Vec<Term>> = Vec::new();
    let mut and_next = false;
    for token in tokenize(query) {
        if token.eq_ignore_ascii_case("OR") {
            continue;
        }
        if token.eq_ignore_ascii_case("AND") {
            and_next = true;
            continue;
        }
        let term = parse_term(&token)?;
        match groups.last_mut() {
            Some(group) if and_next => group.push(term),
            _ => groups.push(vec![term]),
        }
        and_next = false;
    }
    Ok(groups)
}

fn parse_term(token: &str) -> Result<Term, String> {
    let Some(split) = token.find([':', '=']) else {
        return Err(format!(
            "Invalid query term '{token}': expected FIELD:VALUE."
        ));
    };
    let field = token[..split].to_lowercase();
    let raw = token[split + 1..].trim_matches('"');
    let pat = Pattern::parse(raw);
    Ok(match field.as_str() {
        "labels" => Term::AnyLabel(pat),
        f if f.starts_with("labels.") && f.len() > "labels.".len() => {
            Term::Label(f["labels.".len()..].to_owned(), pat)
        }
        "id" | "projectid" => Term::Id(pat),
        "state" | "lifecyclestate" => Term::State(pat),
        "name" | "displayname" => Term::Name(pat),
        "parent" => Term::Parent(pat),
        "parent.type" => Term::ParentType(pat),
        "parent.id" => Term::ParentId(pat),
        _ => {
            return Err(format!(
                "Invalid query: unknown field '{}'.",
                &token[..split]
            ));
        }
    })
}

/// `pageSize` (≤ 0 or absent → default; capped) and the offset in `pageToken` (inferred format).
fn paging(req: &EmuRequest) -> Result<(usize, usize), EmuResponse> {
    let page_size = match req.query_param("pageSize") {
        None => MAX_PAGE_SIZE,
        Some(s) => match s.parse::<i32>() {
            Ok(n) if n > 0 => (n as usize).min(MAX_PAGE_SIZE),
            Ok(_) => MAX_PAGE_SIZE,
            // Google's wording for a malformed int32 query parameter.
            Err(_) => {
                return Err(google_error(
                    400,
                    "INVALID_ARGUMENT",
                    &format!("Invalid value at 'page_size' (TYPE_INT32), \"{s}\""),
                    vec![],
                ));
            }
        },
    };
    let offset = match req.query_param("pageToken").filter(|t| !t.is_empty()) {
        None => 0,
        Some(t) => URL_SAFE_NO_PAD
            .decode(t)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.strip_prefix("offset:").and_then(|n| n.parse().ok()))
            .ok_or_else(|| invalid_argument("page_token", "Invalid page token."))?,
    };
    Ok((page_size, offset))
}

fn page(hits: Vec<Value>, page_size: usize, offset: usize) -> Value {
    let total = hits.len();
    let projects: Vec<Value> = hits.into_iter().skip(offset).take(page_size).collect();
    let mut body = Map::new();
    if !projects.is_empty() {
        body.insert("projects".into(), Value::Array(projects));
    }
    if offset + page_size < total {
        let token = URL_SAFE_NO_PAD.encode(format!("offset:{}", offset + page_size));
        body.insert("nextPageToken".into(), json!(token));
    }
    Value::Object(body)
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
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
}
