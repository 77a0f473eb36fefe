//! The spec file: what the user wants, per environment.
//!
//! Loading is four steps, each with errors that name the file, line and field:
//! 1. parse the TOML (syntax errors carry their own position);
//! 2. select the environment: deep-merge `[env.<env>]` over the base, then substitute `{env}`
//!    and `{name}` in every string;
//! 3. deserialise strictly into typed structs (`deny_unknown_fields`, exact types);
//! 4. validate what types cannot say (URI rules, length limits, audience/cloud combinations).
//!
//! All errors of steps 3–4 are collected and reported together, like a compiler, and nothing is
//! ever sent to a cloud for a spec that does not load.

mod access;
pub mod keys;
pub mod locate;
mod mailboxes;
mod microsoft;
pub mod secret;
mod types;

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
pub use access::{Access, MailboxEntry, Right};
pub use locate::Locator;
use mailboxes::check_mailboxes;

/// Rules for `name` and environment names: they end up in Entra tags, Google labels (lowercase,
/// digits, hyphens, ≤63) and the Graph `uniqueName`.
pub fn valid_ident(s: &str, max: usize) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= max
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && !s.ends_with('-')
}

pub const MAX_NAME: usize = 40;
pub const MAX_ENV: usize = 20;

/// The Microsoft national cloud that holds the directory.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Cloud {
    #[default]
    Global,
    Usgov,
    UsgovDod,
    China,
}

/// Who can sign in with the registration (Graph `signInAudience`).
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
pub enum Audience {
    AzureADMyOrg,
    AzureADMultipleOrgs,
    #[default]
    AzureADandPersonalMicrosoftAccount,
    PersonalMicrosoftAccount,
}

impl Audience {
    pub fn as_str(self) -> &'static str {
        match self {
            Audience::AzureADMyOrg => "AzureADMyOrg",
            Audience::AzureADMultipleOrgs => "AzureADMultipleOrgs",
            Audience::AzureADandPersonalMicrosoftAccount => "AzureADandPersonalMicrosoftAccount",
            Audience::PersonalMicrosoftAccount => "PersonalMicrosoftAccount",
        }
    }
    /// Personal-account audiences: token version 2, at most two secrets, 90-character names,
    /// stricter redirect URIs, not in national clouds (reference/microsoft-graph.md §1.2).
    pub fn is_personal(self) -> bool {
        matches!(
            self,
            Audience::AzureADandPersonalMicrosoftAccount | Audience::PersonalMicrosoftAccount
        )
    }
}

impl fmt::Display for Audience {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn default_secret_days() -> u32 {
    180
}
fn default_permissions() -> Vec<String> {
    [
        "IMAP.AccessAsUser.All",
        "POP.AccessAsUser.All",
        "offline_access",
    ]
    .map(String::from)
    .to_vec()
}

/// `[microsoft]`: one Entra ID app registration and its client secret.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MicrosoftSpec {
    /// Directory that holds the registration: a tenant GUID or a verified domain.
    pub tenant: String,
    #[serde(default)]
    pub cloud: Cloud,
    /// Shown to users at consent. Default: `mailreg <name> (<env>)`.
    #[serde(default)]
    pub display_name: Option<String>,
    /// `delegated` (a person signs in once) or `app` (client credentials, the listed mailboxes).
    #[serde(default)]
    pub access: Access,
    #[serde(default)]
    pub audience: Audience,
    /// The application's OAuth callbacks (delegated access needs at least one).
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Delegated Microsoft Graph permissions by name; with app access, application permissions
    /// of Office 365 Exchange Online (default: what the mailboxes' rights use).
    #[serde(default = "default_permissions")]
    pub permissions: Vec<String>,
    #[serde(default = "default_secret_days")]
    pub secret_lifetime_days: u32,
    /// Grant tenant-wide admin consent (service principal + delegated permission grant).
    #[serde(default)]
    pub admin_consent: bool,
    /// Extra tags; mailreg adds its own `mailreg:*` tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Free text for the registration's notes field.
    #[serde(default)]
    pub notes: Option<String>,
    /// Mailboxes that sign in with the registration: `mailbox check`, `status` and the end of
    /// `apply` check their readiness (licence, IMAP/POP/SMTP AUTH). With app access, the
    /// mailboxes the app may open, each with its rights.
    #[serde(default)]
    pub mailboxes: Vec<MailboxEntry>,
}

impl MicrosoftSpec {
    /// The mailboxes' addresses, in spec order.
    pub fn mailbox_addresses(&self) -> Vec<String> {
        self.mailboxes.iter().map(|m| m.address.clone()).collect()
    }

    /// App access: each mailbox with the rights it grants (a bare address: every right the
    /// permissions use). Empty with delegated access.
    pub fn app_mailboxes(&self) -> Vec<(String, Vec<Right>)> {
        if self.access != Access::App {
            return Vec::new();
        }
        let all = access::rights_of_permissions(&self.permissions);
        self.mailboxes
            .iter()
            .map(|m| {
                (
                    m.address.clone(),
                    m.rights.clone().unwrap_or_else(|| all.clone()),
                )
            })
            .collect()
    }

    pub fn display_name(&self, name: &str, env: &str) -> String {
        self.display_name
            .clone()
            .unwrap_or_else(|| format!("mailreg {name} ({env})"))
    }
}

/// How the Google project ID is made unique.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ProjectIdSuffix {
    /// `project_id` as written.
    #[default]
    None,
    /// `project_id` plus `-` and four random characters, chosen once and recorded (credentials
    /// store and project labels) so re-runs find the same project. Project IDs are global and a
    /// deleted one stays taken for 30 days.
    Random,
}

/// `[google]`: one Google Cloud project with the Gmail API, and the Web OAuth client that a
/// person creates in the console (no API exists for it since 2026-03-19).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GoogleSpec {
    /// 6-30 lowercase letters, digits, hyphens; starts with a letter (25 with a random suffix).
    pub project_id: String,
    #[serde(default)]
    pub project_id_suffix: ProjectIdSuffix,
    /// Project display name, 4-30 characters. Default: the project ID.
    #[serde(default)]
    pub display_name: Option<String>,
    /// `folders/N` or `organizations/N`. Required when mailreg signs in as a service account.
    #[serde(default)]
    pub parent: Option<String>,
    /// App name on the consent screen. Default: `mailreg <name> (<env>)`.
    #[serde(default)]
    pub app_name: Option<String>,
    /// User support email on the consent screen.
    pub support_email: String,
    /// Developer contact emails. Default: the support email.
    #[serde(default)]
    pub developer_emails: Vec<String>,
    /// Accounts allowed to sign in while the app is in Testing (at most 100).
    #[serde(default)]
    pub test_users: Vec<String>,
    pub redirect_uris: Vec<String>,
    /// Extra labels on the project; mailreg adds its own.
    #[serde(default)]
    pub labels: std::collections::BTreeMap<String, String>,
    /// Mailboxes that sign in with the client: `mailbox check` warns about test users.
    #[serde(default)]
    pub mailboxes: Vec<String>,
    /// The consent screen's logo (JPG, PNG or BMP, at most 1 MB, square), relative to the
    /// spec; checked before anything is sent and named in the console checklist.
    #[serde(default)]
    pub logo: Option<String>,
}

impl GoogleSpec {
    pub fn app_name(&self, name: &str, env: &str) -> String {
        self.app_name
            .clone()
            .unwrap_or_else(|| format!("mailreg {name} ({env})"))
    }
    pub fn developer_emails(&self) -> Vec<String> {
        if self.developer_emails.is_empty() {
            vec![self.support_email.clone()]
        } else {
            self.developer_emails.clone()
        }
    }
}

/// A cloud, as named in `[[output]] provider`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Microsoft,
    Google,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Microsoft => "microsoft",
            Provider::Google => "google",
        }
    }
}

/// `[[output]]`: a mailbox config file rendered from a template after apply.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OutputSpec {
    pub provider: Provider,
    /// A built-in template (`agileapps`, `json`, `env`, `yaml`) or a path relative to the spec.
    pub template: String,
    /// Where to write, relative to the spec (written atomically, mode 0600).
    pub path: String,
    /// Extra template variables, available as `vars.<key>`.
    #[serde(default)]
    pub vars: std::collections::BTreeMap<String, serde_json::Value>,
}

/// The whole file after environment selection.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SpecBody {
    pub name: String,
    #[serde(default)]
    pub microsoft: Option<MicrosoftSpec>,
    #[serde(default)]
    pub google: Option<GoogleSpec>,
    #[serde(default, rename = "output")]
    pub outputs: Vec<OutputSpec>,
    /// `[[secret]]`: secret stores that receive the credentials.
    #[serde(default, rename = "secret")]
    pub secrets: Vec<secret::SecretSpec>,
}

/// A loaded, validated spec for one environment.
#[derive(Clone, Debug)]
pub struct Spec {
    pub file: PathBuf,
    pub env: String,
    pub body: SpecBody,
    pub locator: Locator,
    /// The environments the file declares (`[env.<name>]`), to catch a mistyped `--env`.
    pub declared_envs: Vec<String>,
}

impl std::ops::Deref for Spec {
    type Target = SpecBody;
    fn deref(&self) -> &SpecBody {
        &self.body
    }
}

/// One problem in a spec, at a field.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    pub field: String,
    pub message: String,
}

impl Problem {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Problem {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl Spec {
    /// Loads `file` for environment `env`.
    pub fn load(file: &Path, env: &str) -> Result<Spec> {
        let text = std::fs::read_to_string(file).map_err(|e| {
            Error::bad_input(format!(
                "{}: cannot read the spec file: {e}",
                file.display()
            ))
            .with_hint("create one with `mailreg init`, or pass its path with -f")
        })?;
        Self::parse(file, &text, env)
    }

    pub fn parse(file: &Path, text: &str, env: &str) -> Result<Spec> {
        let shown = file.display().to_string();
        let locator = Locator::new(text.to_owned(), env);
        let mut root: toml::Table = toml::from_str(text).map_err(|e| {
            let at = e
                .span()
                .map(|s| {
                    let (l, c) = locator.line_col(s.start);
                    format!("{shown}:{l}:{c}")
                })
                .unwrap_or_else(|| shown.clone());
            Error::bad_input(format!("{at}: invalid TOML: {}", e.message().trim()))
        })?;
        let report = |problems: Vec<Problem>| -> Error {
            let mut lines = Vec::new();
            for p in &problems {
                let at = match locator.locate(&p.field) {
                    Some((l, c)) => format!("{shown}:{l}:{c}"),
                    None => shown.clone(),
                };
                lines.push(format!("{at}: {}: {}", p.field, p.message));
            }
            Error::bad_input(lines.join("\n"))
        };

        if !valid_ident(env, MAX_ENV) {
            return Err(Error::bad_input(format!(
                "--env {env:?}: environment names are 1-{MAX_ENV} lowercase letters, digits and hyphens, starting with a letter (they become tags and labels)"
            )));
        }
        // Every unknown key at once, in file order, before serde stops at its first one.
        let unknown = keys::unknown_keys(text, &locator);
        if !unknown.is_empty() {
            let lines: Vec<String> = unknown
                .iter()
                .map(|(l, c, p)| format!("{shown}:{l}:{c}: {}: {}", p.field, p.message))
                .collect();
            return Err(Error::bad_input(lines.join("\n")));
        }
        // Environment overrides.
        let envs = match root.remove("env") {
            None => toml::Table::new(),
            Some(toml::Value::Table(t)) => t,
            Some(_) => {
                return Err(report(vec![Problem::new(
                    "env",
                    "must be a table of environments: [env.<name>]",
                )]));
            }
        };
        let mut problems = Vec::new();
        for (name, value) in &envs {
            if !valid_ident(name, MAX_ENV) {
                problems.push(Problem::new(
                    format!("env.{name}"),
                    format!("environment names are 1-{MAX_ENV} lowercase letters, digits and hyphens, starting with a letter"),
                ));
            } else if !value.is_table() {
                problems.push(Problem::new(format!("env.{name}"), "must be a table"));
            }
        }
        if !problems.is_empty() {
            return Err(report(problems));
        }
        if let Some(toml::Value::Table(over)) = envs.get(env) {
            merge(&mut root, over.clone());
        }
        let name = root
            .get("name")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned();
        substitute(&mut root, &name, env);

        let written = microsoft::written_defaults(&root);
        let (body, mut problems) = types::deserialize(root);
        let Some(mut body) = body else {
            return Err(report(problems));
        };
        if let Some(ms) = body.microsoft.as_mut() {
            microsoft::app_defaults(ms, &written);
        }
        // serde visits keys in its own order; a person reads the file top to bottom.
        problems.sort_by_key(|p| locator.locate(&p.field));
        let mistyped: Vec<String> = problems.iter().map(|p| p.field.clone()).collect();
        // A value that had the wrong type was replaced by a stand-in so the other checks could
        // run: what they say about the stand-in is noise.
        problems.extend(validate(&body, env).into_iter().filter(|p| {
            !mistyped.iter().any(|m| {
                p.field == *m
                    || p.field.starts_with(&format!("{m}."))
                    || p.field.starts_with(&format!("{m}["))
            })
        }));
        let dir = file
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        problems.extend(crate::output::template_problems(&body, dir));
        if !problems.is_empty() {
            return Err(report(problems));
        }
        Ok(Spec {
            file: file.to_owned(),
            env: env.to_owned(),
            body,
            locator,
            declared_envs: envs.keys().cloned().collect(),
        })
    }

    /// A declared environment that the selected one is probably a typo of (`prdo` → `prod`);
    /// `None` when the selected one is declared or close to none.
    pub fn near_miss_env(&self) -> Option<&str> {
        if self.declared_envs.contains(&self.env) {
            return None;
        }
        let declared: Vec<&str> = self.declared_envs.iter().map(String::as_str).collect();
        keys::suggest(&self.env, &declared)
    }

    /// Where `field` is written, `file:line:column` (or the file, when it is not written):
    /// for errors found later that blame a spec key, such as a sign-in to a tenant that does
    /// not exist.
    pub fn field_at(&self, field: &str) -> String {
        match self.locator.locate(field) {
            Some((l, c)) => format!("{}:{l}:{c}", self.file.display()),
            None => self.file.display().to_string(),
        }
    }

    /// A positioned error about a field found after loading (e.g. a permission name that the
    /// directory does not know).
    pub fn field_error(&self, field: &str, message: impl fmt::Display) -> Error {
        let at = match self.locator.locate(field) {
            Some((l, c)) => format!("{}:{l}:{c}", self.file.display()),
            None => self.file.display().to_string(),
        };
        Error::bad_input(format!("{at}: {field}: {message}"))
    }
}

/// Deep merge: tables merge key by key, everything else (arrays included) is replaced.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

fn substitute(table: &mut toml::Table, name: &str, env: &str) {
    fn walk(v: &mut toml::Value, name: &str, env: &str) {
        match v {
            toml::Value::String(s) if s.contains('{') => {
                *s = s.replace("{env}", env).replace("{name}", name);
            }
            toml::Value::Array(a) => a.iter_mut().for_each(|v| walk(v, name, env)),
            toml::Value::Table(t) => t.iter_mut().for_each(|(_, v)| walk(v, name, env)),
            _ => {}
        }
    }
    table.iter_mut().for_each(|(_, v)| walk(v, name, env));
}

fn validate(body: &SpecBody, env: &str) -> Vec<Problem> {
    let mut p = Vec::new();
    if !valid_ident(&body.name, MAX_NAME) {
        p.push(Problem::new(
            "name",
            format!("must be 1-{MAX_NAME} lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen (it names tags and labels), got {:?}", body.name),
        ));
    }
    if let Some(ms) = &body.microsoft {
        microsoft::validate_microsoft(ms, &body.name, env, &mut p);
    }
    if let Some(g) = &body.google {
        validate_google(g, &body.name, env, &mut p);
    }
    for (i, out) in body.outputs.iter().enumerate() {
        let declared = match out.provider {
            Provider::Microsoft => body.microsoft.is_some(),
            Provider::Google => body.google.is_some(),
        };
        if !declared {
            p.push(Problem::new(
                format!("output[{i}].provider"),
                format!(
                    "{:?} is not applied by this spec: add a [{}] section or remove this output",
                    out.provider.as_str(),
                    out.provider.as_str()
                ),
            ));
        }
        if out.path.trim().is_empty() {
            p.push(Problem::new(
                format!("output[{i}].path"),
                "must not be empty",
            ));
        }
        let relative = Path::new(&out.path);
        if relative.is_relative()
            && relative
                .components()
                .any(|c| c == std::path::Component::ParentDir)
        {
            p.push(Problem::new(
                format!("output[{i}].path"),
                format!(
                    "{:?} climbs out of the spec's folder with `..`; write inside it, or give an absolute path to choose another place explicitly",
                    out.path
                ),
            ));
        }
        if out.template.trim().is_empty() {
            p.push(Problem::new(
                format!("output[{i}].template"),
                "must not be empty",
            ));
        }
    }
    secret::validate(body, &mut p);
    let mut paths = BTreeSet::new();
    for (i, out) in body.outputs.iter().enumerate() {
        if !paths.insert(&out.path) {
            p.push(Problem::new(
                format!("output[{i}].path"),
                format!("{:?} is written by another output too", out.path),
            ));
        }
    }
    if body.microsoft.is_none() && body.google.is_none() {
        p.push(Problem::new(
            "name",
            "the spec declares no provider; add a [microsoft] or [google] section",
        ));
    }
    p
}

/// Google Cloud project IDs (reference/google-cloud.md §1).
pub fn valid_project_id(id: &str) -> bool {
    let b = id.as_bytes();
    (6..=30).contains(&b.len())
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && !id.ends_with('-')
}

/// Google label keys and values: lowercase letters, digits, hyphens, underscores; ≤63;
/// keys start with a letter.
pub fn valid_label(s: &str, key: bool) -> bool {
    s.len() <= 63
        && (!key || s.as_bytes().first().is_some_and(|c| c.is_ascii_lowercase()))
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

pub fn valid_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty() && is_domain(domain) && !s.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

fn validate_google(g: &GoogleSpec, name: &str, env: &str, p: &mut Vec<Problem>) {
    let max = if g.project_id_suffix == ProjectIdSuffix::Random {
        25
    } else {
        30
    };
    if !valid_project_id(&g.project_id) || g.project_id.len() > max {
        let extra = if g.project_id_suffix == ProjectIdSuffix::Random {
            " (at most 25 with project_id_suffix = \"random\", which adds 5)"
        } else {
            ""
        };
        p.push(Problem::new(
            "google.project_id",
            format!("{:?} is not a valid project ID: 6-30 lowercase letters, digits and hyphens, starting with a letter, not ending with a hyphen{extra}", g.project_id),
        ));
    }
    let display = g
        .display_name
        .clone()
        .unwrap_or_else(|| g.project_id.clone());
    let display_ok = (4..=30).contains(&display.chars().count())
        && display
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || " -'\"!".contains(c));
    if g.display_name.is_some() && !display_ok {
        p.push(Problem::new(
            "google.display_name",
            "4-30 characters: letters, digits, hyphen, single or double quote, space, exclamation point",
        ));
    }
    if let Some(parent) = &g.parent {
        let ok = ["folders/", "organizations/"].iter().any(|pre| {
            parent
                .strip_prefix(pre)
                .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
        });
        if !ok {
            p.push(Problem::new(
                "google.parent",
                format!("{parent:?} must be folders/<number> or organizations/<number>"),
            ));
        }
    }
    if g.app_name(name, env).trim().is_empty() {
        p.push(Problem::new("google.app_name", "must not be empty"));
    }
    if !valid_email(&g.support_email) {
        p.push(Problem::new(
            "google.support_email",
            format!("{:?} is not an email address", g.support_email),
        ));
    }
    for (i, e) in g.developer_emails.iter().enumerate() {
        if !valid_email(e) {
            p.push(Problem::new(
                format!("google.developer_emails[{i}]"),
                format!("{e:?} is not an email address"),
            ));
        }
    }
    if g.test_users.len() > 100 {
        p.push(Problem::new(
            "google.test_users",
            "at most 100 test users are allowed while the app is in Testing",
        ));
    }
    for (i, e) in g.test_users.iter().enumerate() {
        if !valid_email(e) {
            p.push(Problem::new(
                format!("google.test_users[{i}]"),
                format!("{e:?} is not an email address"),
            ));
        }
    }
    check_mailboxes("google", &g.mailboxes, p);
    if g.redirect_uris.is_empty() {
        p.push(Problem::new(
            "google.redirect_uris",
            "at least one redirect URI is needed (the mailbox application's OAuth callback)",
        ));
    }
    let mut seen = BTreeSet::new();
    for (i, uri) in g.redirect_uris.iter().enumerate() {
        let field = format!("google.redirect_uris[{i}]");
        if !seen.insert(uri) {
            p.push(Problem::new(field, format!("{uri:?} is listed twice")));
        } else if let Err(msg) = check_redirect_uri(uri, true) {
            p.push(Problem::new(field, msg));
        }
    }
    for (k, v) in &g.labels {
        if !valid_label(k, true) || k.starts_with("mailreg") || k == "managed-by" {
            p.push(Problem::new(
                format!("google.labels.{k}"),
                "label keys are 1-63 lowercase letters, digits, hyphens and underscores, starting with a letter; `managed-by` and `mailreg*` are mailreg's own",
            ));
        } else if !valid_label(v, false) {
            p.push(Problem::new(
                format!("google.labels.{k}"),
                format!("{v:?}: label values are 0-63 lowercase letters, digits, hyphens and underscores"),
            ));
        }
    }
    if g.labels.len() > 60 {
        p.push(Problem::new(
            "google.labels",
            "at most 60 extra labels (a project holds 64)",
        ));
    }
}

pub fn cloud_name(c: Cloud) -> &'static str {
    match c {
        Cloud::Global => "global",
        Cloud::Usgov => "usgov",
        Cloud::UsgovDod => "usgov-dod",
        Cloud::China => "china",
    }
}

/// Entra's redirect URI rules (reference/microsoft-graph.md §1.1): absolute, no fragment, https
/// except for loopback; for personal-account audiences also no query, no wildcard, ≤256 chars.
pub(super) fn check_redirect_uri(uri: &str, personal: bool) -> std::result::Result<(), String> {
    if personal && uri.contains('*') {
        return Err(format!(
            "{uri:?}: wildcards are not allowed for personal-account audiences"
        ));
    }
    let url = url::Url::parse(uri).map_err(|e| format!("{uri:?} is not an absolute URI: {e}"))?;
    if url.fragment().is_some() {
        return Err(format!(
            "{uri:?}: redirect URIs may not contain a fragment (#...)"
        ));
    }
    match url.scheme() {
        "https" => {}
        "http" => {
            if !crate::http::is_loopback(&url) {
                return Err(format!(
                    "{uri:?} uses plain http; only https is allowed, except for localhost"
                ));
            }
        }
        other => {
            return Err(format!(
                "{uri:?}: scheme {other:?} is not allowed; use https"
            ));
        }
    }
    if personal && url.query().is_some() {
        return Err(format!(
            "{uri:?}: query parameters are not allowed for personal-account audiences"
        ));
    }
    if personal && uri.len() > 256 {
        return Err(format!("{uri:?} is longer than 256 characters"));
    }
    Ok(())
}

/// A GUID in its hyphenated form (8-4-4-4-12 hex digits), as Entra writes tenant IDs.
pub fn is_guid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

pub(super) fn is_domain(s: &str) -> bool {
    s.contains('.')
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

#[cfg(test)]
mod tests {
    #[test]
    fn guids_are_hyphenated_hex_of_the_right_lengths() {
        assert!(is_guid("72f988bf-86f1-41af-91ab-2d7cd011db47"));
        assert!(is_guid("72F988BF-86F1-41AF-91AB-2D7CD011DB47"));
        assert!(!is_guid("72f988bf86f141af91ab2d7cd011db47"));
        assert!(!is_guid("72f988bf-86f1-41af-91ab-2d7cd011db4"));
        assert!(!is_guid("72f988bg-86f1-41af-91ab-2d7cd011db47"));
        assert!(!is_guid("{72f988bf-86f1-41af-91ab-2d7cd011db47}"));
        assert!(!is_guid("contoso.onmicrosoft.com"));
    }

    use super::*;

    const BASE: &str = r#"name = "agileapps-mail"

[microsoft]
tenant = "contoso.onmicrosoft.com"
display_name = "AgileApps mailbox ({env})"
redirect_uris = ["https://agileapps.example.com/oauth/callback"]
permissions = ["IMAP.AccessAsUser.All", "POP.AccessAsUser.All", "offline_access"]

[env.prod]
microsoft.redirect_uris = ["https://mail.example.com/oauth/callback"]
"#;

    fn load(text: &str, env: &str) -> Result<Spec> {
        Spec::parse(Path::new("mailreg.toml"), text, env)
    }

    #[test]
    fn env_overrides_and_substitution() {
        let test = load(BASE, "test").unwrap();
        let ms = test.microsoft.as_ref().unwrap();
        assert_eq!(ms.display_name.as_deref(), Some("AgileApps mailbox (test)"));
        assert_eq!(
            ms.redirect_uris,
            ["https://agileapps.example.com/oauth/callback"]
        );
        assert_eq!(ms.audience, Audience::AzureADandPersonalMicrosoftAccount);
        assert_eq!(ms.secret_lifetime_days, 180);
        let prod = load(BASE, "prod").unwrap();
        assert_eq!(
            prod.microsoft.as_ref().unwrap().redirect_uris,
            ["https://mail.example.com/oauth/callback"]
        );
    }

    fn err(text: &str, env: &str) -> String {
        load(text, env).unwrap_err().message
    }

    #[test]
    fn syntax_error_has_line_and_column() {
        assert_eq!(
            err("name = \"x\"\n[microsoft\n", "test"),
            "mailreg.toml:2:11: invalid TOML: unclosed table, expected `]`"
        );
    }

    #[test]
    fn unknown_key_and_wrong_type_name_the_field() {
        let e = err(&BASE.replace("tenant =", "tenent ="), "test");
        assert_eq!(
            e,
            "mailreg.toml:4:1: microsoft.tenent: unknown key `tenent`; did you mean `tenant`?"
        );
        let e = err(
            &BASE.replace(
                "permissions = [",
                "secret_lifetime_days = \"long\"\npermissions = [",
            ),
            "test",
        );
        assert!(e.starts_with("mailreg.toml:7:24: microsoft.secret_lifetime_days: invalid type: string \"long\", expected u32"), "{e}");
    }

    #[test]
    fn semantic_errors_are_all_reported_at_their_lines() {
        let text = BASE.replace(
            "redirect_uris = [\"https://agileapps.example.com/oauth/callback\"]",
            "redirect_uris = [\"http://agileapps.example.com/cb\", \"https://x.example.com/cb?a=1\"]\ncloud = \"china\"",
        );
        let e = err(&text, "test");
        assert_eq!(
            e,
            "mailreg.toml:3:1: microsoft.audience: AzureADandPersonalMicrosoftAccount is not supported in national clouds (cloud = \"china\"); use AzureADMultipleOrgs or AzureADMyOrg\n\
             mailreg.toml:6:18: microsoft.redirect_uris[0]: \"http://agileapps.example.com/cb\" uses plain http; only https is allowed, except for localhost\n\
             mailreg.toml:6:53: microsoft.redirect_uris[1]: \"https://x.example.com/cb?a=1\": query parameters are not allowed for personal-account audiences"
        );
    }

    #[test]
    fn override_errors_point_at_the_override() {
        let text = BASE.replace(
            "https://mail.example.com/oauth/callback",
            "https://mail.example.com/*",
        );
        let e = err(&text, "prod");
        assert_eq!(
            e,
            "mailreg.toml:10:28: microsoft.redirect_uris[0]: \"https://mail.example.com/*\": wildcards are not allowed for personal-account audiences"
        );
    }

    #[test]
    fn names_and_envs_are_checked() {
        assert!(
            err(&BASE.replace("agileapps-mail", "Agile Apps"), "test")
                .starts_with("mailreg.toml:1:8: name: must be 1-40")
        );
        assert!(err(BASE, "Prod").starts_with("--env \"Prod\""));
        assert!(
            err(&BASE.replace("contoso.onmicrosoft.com", "common"), "test")
                .contains("microsoft.tenant: \"common\" is a sign-in audience")
        );
    }
}
