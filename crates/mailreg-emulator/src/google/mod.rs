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

mod auth;
mod gmail;
pub use gmail::GmailState;
mod operations;
mod projects;
mod query;
mod responses;
mod services;
#[cfg(test)]
mod tests;
mod validation;

pub use self::responses::client_file_text;
#[allow(unused_imports)]
use self::{
    auth::*, operations::*, projects::*, query::*, responses::*, services::*, validation::*,
};

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
}
