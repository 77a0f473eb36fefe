//! The Google side: one Cloud project with mailreg's labels and the Gmail API enabled
//! (automated), and the Web OAuth client (a guided console step plus an import).

pub mod api;
pub mod auth;
pub mod client;
pub mod console;
pub mod endpoints;

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::credentials::GoogleCredentials;
use crate::engine::{
    ApplyPlan, Carries, Ctx, ManualStep, Observes, Planned, ProviderPlan, ProviderStatus, Resource,
    ResourceStatus, Upstream,
};
use crate::error::{Error, Result};
use crate::http::{Http, RESPONSE_LOST};
use crate::plan::{Action, Change};
use crate::spec::{GoogleSpec, ProjectIdSuffix, Spec};
use api::{Api, Gcp, Project};
use endpoints::{Endpoints, GMAIL_SCOPE, GMAIL_SERVICE};

const PROVIDER: &str = "google";
/// Expiry mark set by `apply --ttl`: `t` and Unix seconds (label values must start with a
/// lowercase letter: reference/google-cloud.md §1).
pub const LABEL_EXPIRES: &str = "mailreg-expires";

/// mailreg's labels on a project (keys and values follow Google's label rules).
pub fn mailreg_labels(name: &str, env: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("managed-by".to_owned(), "mailreg".to_owned()),
        ("mailreg-name".to_owned(), name.to_owned()),
        ("mailreg-env".to_owned(), env.to_owned()),
    ])
}

pub fn is_ours(p: &Project, name: &str, env: &str) -> bool {
    mailreg_labels(name, env)
        .iter()
        .all(|(k, v)| p.labels.get(k) == Some(v))
}

/// What `plan` found and decided; the apply that follows carries out exactly this.
#[derive(Default)]
pub struct ApplyWork {
    /// `None`: a random suffix, chosen (and recorded) by the apply.
    project_id: Option<String>,
    project: Option<Project>,
    create: bool,
    undelete: bool,
    /// The masked PATCH body and its update mask.
    patch: Option<(Value, String)>,
    enable: bool,
    /// Why the console step is needed, if it is.
    client: Option<String>,
}

/// What `plan_destroy` found.
#[derive(Default)]
pub struct DestroyWork {
    project_id: Option<String>,
    delete: bool,
    /// The project exists (active or pending deletion): it, and its client, can be restored.
    restorable: bool,
}

pub struct GoogleProvider {
    spec: Spec,
    g: GoogleSpec,
    gcp: Gcp,
}

impl GoogleProvider {
    pub fn new(spec: &Spec, http: &Http) -> Result<Self> {
        let g = spec
            .google
            .clone()
            .ok_or_else(|| Error::internal("the spec has no [google] section"))?;
        let endpoints = Endpoints::from_env()?;
        let (source, service_account) = auth::detect()?;
        if service_account && g.parent.is_none() {
            return Err(spec.field_error(
                "google",
                format!(
                    "mailreg signs in to Google as a service account ({source}), and service accounts cannot create projects without a parent: set google.parent = \"folders/<number>\" or \"organizations/<number>\""
                ),
            ));
        }
        let auth = auth::GoogleAuth::from_env()?;
        tracing::info!(target: "mailreg::auth", "google: signing in with {}", auth.source);
        Ok(GoogleProvider {
            gcp: Gcp::new(http.clone(), endpoints, auth),
            spec: spec.clone(),
            g,
        })
    }

    fn name(&self) -> &str {
        &self.spec.name
    }

    /// The labels the project should carry. An expiry label (`apply --ttl`), once set, is
    /// kept; `--ttl` sets one where there is none.
    fn labels(&self, ctx: &Ctx, found: Option<&Project>) -> BTreeMap<String, String> {
        let mut l = self.g.labels.clone();
        l.extend(mailreg_labels(self.name(), &self.spec.env));
        let expiry = found
            .and_then(|p| p.labels.get(LABEL_EXPIRES).cloned())
            .or_else(|| {
                ctx.ttl
                    .map(|d| format!("t{}", (ctx.now + d).unix_timestamp()))
            });
        if let Some(e) = expiry {
            l.insert(LABEL_EXPIRES.to_owned(), e);
        }
        l
    }

    /// Reads the project and, when a previous apply recorded it, the Gmail API's state at the
    /// same time: Service Usage takes the project ID as well as the number, so a no-op is one
    /// round trip. Without a record (a first apply) the service is not read speculatively: it
    /// would only fail for a project that does not exist yet. The service answer counts only for
    /// a live project of ours; any other outcome leaves it unread (`None`).
    async fn read_project(&self, ctx: &Ctx, id: &str) -> Result<(Option<Project>, Option<bool>)> {
        let recorded = ctx
            .record()
            .await
            .google
            .is_some_and(|g| g.project_id == id);
        if !recorded {
            return Ok((self.gcp.get_project(id).await?, None));
        }
        let (project, enabled) = tokio::join!(
            self.gcp.get_project(id),
            self.gcp.service_enabled(id, GMAIL_SERVICE)
        );
        let project = project?;
        let live = project
            .as_ref()
            .is_some_and(|p| !p.is_deleted() && is_ours(p, self.name(), &self.spec.env));
        Ok((project, if live { enabled.ok() } else { None }))
    }

    fn display_name(&self) -> String {
        self.g
            .display_name
            .clone()
            .unwrap_or_else(|| self.g.project_id.clone())
    }

    /// The project ID: as written, or (random suffix) the one on record, or the one a label
    /// search finds. `None`: to be chosen at apply.
    async fn resolve_project_id(&self, ctx: &Ctx) -> Result<Option<String>> {
        if self.g.project_id_suffix == ProjectIdSuffix::None {
            return Ok(Some(self.g.project_id.clone()));
        }
        let prefix = format!("{}-", self.g.project_id);
        if let Some(g) = ctx.record().await.google
            && g.project_id.starts_with(&prefix)
        {
            return Ok(Some(g.project_id));
        }
        let found: Vec<Project> = self
            .gcp
            .search_projects(&format!("labels.mailreg-name:{}", self.name()))
            .await?
            .into_iter()
            .filter(|p| {
                is_ours(p, self.name(), &self.spec.env) && p.project_id.starts_with(&prefix)
            })
            .collect();
        Ok(found.into_iter().next().map(|p| p.project_id))
    }

    fn steps(&self, project_id: &str) -> ManualStep {
        let command = format!(
            "mailreg google import-client -f {} --env {} ~/Downloads/client_secret_<…>.json",
            self.spec.file.display(),
            self.spec.env
        );
        let app_name = self.g.app_name(self.name(), &self.spec.env);
        let devs = self.g.developer_emails();
        let client_name = format!("mailreg {} {}", self.name(), self.spec.env);
        let steps = client::ConsoleSteps {
            project_id,
            app_name: &app_name,
            support_email: &self.g.support_email,
            developer_emails: &devs,
            test_users: &self.g.test_users,
            redirect_uris: &self.g.redirect_uris,
            client_name: &client_name,
            // Checked when the run started; a bad logo stopped it there.
            logo: crate::mailbox::logo::check(&self.spec)
                .ok()
                .flatten()
                .map(|l| l.checklist()),
            import_command: command.clone(),
        };
        ManualStep {
            provider: PROVIDER,
            resource: "google.oauth_client".into(),
            instructions: steps.render(),
            complete_with: command,
        }
    }

    /// Whether the client on record serves this project and every redirect URI of the spec.
    fn client_gap(
        &self,
        rec: Option<&GoogleCredentials>,
        project_id: Option<&str>,
    ) -> Option<String> {
        let Some(g) = rec.filter(|g| Some(g.project_id.as_str()) == project_id) else {
            return Some("no OAuth client on record: created by a person in the console (Google has no API for it), then imported".into());
        };
        let Some(c) = &g.client else {
            return Some("no OAuth client on record: created by a person in the console (Google has no API for it), then imported".into());
        };
        let missing: Vec<&String> = self
            .g
            .redirect_uris
            .iter()
            .filter(|u| !c.redirect_uris.contains(u))
            .collect();
        (!missing.is_empty()).then(|| {
            format!(
                "the client on record lacks redirect URI {}: add it in the console, then import the client again",
                missing.iter().map(|u| u.as_str()).collect::<Vec<_>>().join(", ")
            )
        })
    }

    fn credentials(
        &self,
        project: &Project,
        ctx_client: Option<crate::credentials::GoogleClient>,
    ) -> GoogleCredentials {
        let e = &self.gcp.endpoints;
        GoogleCredentials {
            project_id: project.project_id.clone(),
            project_number: project.number(),
            authorize_url: e.auth_url.as_str().trim_end_matches('/').to_owned(),
            token_url: e.token_url.as_str().trim_end_matches('/').to_owned(),
            scopes: vec![GMAIL_SCOPE.to_owned()],
            redirect_uris: self.g.redirect_uris.clone(),
            client: ctx_client,
            refresh_tokens: Default::default(),
            deleting: None,
        }
    }

    /// Creates the project, adopting it when an earlier attempt did create it.
    async fn create_project(&self, ctx: &Ctx, id: &str) -> Result<Project> {
        let mut body = json!({"projectId": id, "displayName": self.display_name(), "labels": self.labels(ctx, None)});
        if let Some(parent) = &self.g.parent {
            body["parent"] = json!(parent);
        }
        ctx.progress
            .step(PROVIDER, format!("creating project {id}"));
        let op = match self.gcp.create_project(body).await {
            Ok(op) => op,
            Err(e) if e.status == Some(409) || e.code.as_deref() == Some(RESPONSE_LOST) => {
                // Created by an earlier attempt whose answer was lost? Then it is ours by label.
                match self.gcp.get_project(id).await? {
                    Some(p) if is_ours(&p, self.name(), &self.spec.env) => return Ok(p),
                    _ if e.status == Some(409) => {
                        let mut taken = Error::api(format!(
                            "project ID {id:?} is already taken: project IDs are global, and deleted projects keep theirs for 30 days"
                        ))
                        .with_hint("choose another google.project_id, or set project_id_suffix = \"random\" to append a short random suffix that mailreg records");
                        // The server's answer (409 ALREADY_EXISTS) stays visible to scripts.
                        taken.code = e.code;
                        taken.status = e.status;
                        return Err(taken);
                    }
                    _ => return Err(e.context("creating the project")),
                }
            }
            Err(e) if e.status == Some(429) => {
                return Err(e.context("creating the project").with_hint(
                    "the project quota or rate limit is exhausted; projects pending deletion count against the quota for 30 days",
                ));
            }
            Err(e) => return Err(e.context("creating the project")),
        };
        let on_poll = |n: u32| {
            ctx.progress
                .step(PROVIDER, format!("waiting for project {id} (poll {n})"))
        };
        let done = self
            .gcp
            .wait(Api::ResourceManager, op, &on_poll)
            .await
            .map_err(|e| e.context(format!("creating project {id}")))?;
        match done.response {
            Some(r) => serde_json::from_value(r).map_err(|e| {
                Error::api(format!("unexpected project in the operation response: {e}"))
            }),
            None => {
                self.gcp.get_project(id).await?.ok_or_else(|| {
                    Error::api(format!("project {id} was created but cannot be read"))
                })
            }
        }
    }
}

#[async_trait::async_trait]
impl Resource for GoogleProvider {
    fn key(&self) -> String {
        PROVIDER.into()
    }

    async fn plan<'a>(&'a self, ctx: &Ctx, _up: &Upstream) -> Result<Box<dyn ApplyPlan + 'a>> {
        ctx.progress.step(PROVIDER, "reading the project");
        let id = self.resolve_project_id(ctx).await?;
        let (project, gmail_enabled) = match &id {
            Some(id) => self.read_project(ctx, id).await?,
            None => (None, None),
        };
        let mut p = ApplyWork {
            project_id: id.clone(),
            ..Default::default()
        };
        let mut changes = Vec::new();
        let shown_id = id
            .clone()
            .unwrap_or_else(|| format!("{}-????", self.g.project_id));
        match &project {
            Some(found) if !is_ours(found, self.name(), &self.spec.env) => {
                return Err(Error::refused(format!(
                    "project {} exists but does not carry mailreg's labels (managed-by=mailreg, mailreg-name={}, mailreg-env={}); mailreg will not adopt or change it",
                    found.project_id,
                    self.name(),
                    self.spec.env
                ))
                .with_hint("choose another google.project_id, or set project_id_suffix = \"random\""));
            }
            Some(found) if found.is_deleted() => {
                changes.push(
                    Change::new(PROVIDER, "project", Action::Update)
                        .id(found.project_id.clone())
                        .reason("the project is pending deletion; apply restores it (undelete)")
                        .field("state", json!("DELETE_REQUESTED"), json!("ACTIVE")),
                );
                p.undelete = true;
                p.enable = true;
            }
            Some(found) => {
                let mut change =
                    Change::new(PROVIDER, "project", Action::Update).id(found.project_id.clone());
                let mut mask = Vec::new();
                let mut body = json!({});
                let want_name = self.display_name();
                if found.display_name.as_deref() != Some(want_name.as_str()) {
                    change =
                        change.field("display_name", json!(found.display_name), json!(want_name));
                    body["displayName"] = json!(want_name);
                    mask.push("displayName");
                }
                let want_labels = self.labels(ctx, Some(found));
                if found.labels != want_labels {
                    change = change.field("labels", json!(found.labels), json!(want_labels));
                    body["labels"] = json!(want_labels);
                    mask.push("labels");
                }
                if !mask.is_empty() {
                    changes.push(change);
                    p.patch = Some((body, mask.join(",")));
                }
                p.enable = !match gmail_enabled {
                    Some(enabled) => enabled,
                    None => {
                        self.gcp
                            .service_enabled(&found.project_id, GMAIL_SERVICE)
                            .await?
                    }
                };
            }
            None => {
                let mut c = Change::new(PROVIDER, "project", Action::Create)
                    .field("project_id", Value::Null, json!(shown_id))
                    .field("display_name", Value::Null, json!(self.display_name()));
                if let Some(parent) = &self.g.parent {
                    c = c.field("parent", Value::Null, json!(parent));
                }
                changes.push(c.field("labels", Value::Null, json!(self.labels(ctx, None))));
                p.create = true;
                p.enable = true;
            }
        }
        if p.enable {
            changes.push(
                Change::new(PROVIDER, "service", Action::Create)
                    .address(format!("google.service[{GMAIL_SERVICE}]"))
                    .reason("enable the Gmail API"),
            );
        }
        let rec = ctx.record().await;
        p.client = self.client_gap(rec.google.as_ref(), id.as_deref());
        if let Some(reason) = &p.client {
            changes.push(
                Change::new(PROVIDER, "oauth_client", Action::Create)
                    .reason(format!("manual step: {reason}"))
                    .field("type", Value::Null, json!("Web application"))
                    .field("redirect_uris", Value::Null, json!(self.g.redirect_uris))
                    .field("scope", Value::Null, json!(GMAIL_SCOPE)),
            );
        }
        p.project = project;
        Ok(Planned::new(self, changes, p))
    }

    async fn plan_destroy<'a>(
        &'a self,
        ctx: &Ctx,
        _up: &Upstream,
    ) -> Result<Box<dyn ProviderPlan + 'a>> {
        let (changes, work) = self.plan_destroy_work(ctx).await?;
        Ok(Planned::new(self, changes, work))
    }
}

#[async_trait::async_trait]
impl Carries<ApplyWork> for GoogleProvider {
    async fn carry_out(&self, ctx: &Ctx, p: ApplyWork) -> Result<()> {
        let id = match p.project_id.clone() {
            Some(id) => id,
            None => {
                // Chosen once and recorded before the create, so a run killed in between
                // finds the same project again.
                let suffix: String = (0..4)
                    .map(|_| {
                        let c = fastrand::usize(..36);
                        char::from_digit(c as u32, 36).expect("base 36 digit")
                    })
                    .collect();
                let id = format!("{}-{suffix}", self.g.project_id);
                let placeholder = Project {
                    name: String::new(),
                    project_id: id.clone(),
                    display_name: None,
                    state: None,
                    parent: None,
                    labels: BTreeMap::new(),
                    create_time: None,
                };
                let creds = self.credentials(&placeholder, None);
                ctx.update_record(|r| r.google = Some(creds.carrying_tokens(r.google.as_ref())))
                    .await?;
                id
            }
        };
        let project = if p.create {
            self.create_project(ctx, &id).await?
        } else {
            p.project
                .clone()
                .ok_or_else(|| Error::internal("apply without a planned project"))?
        };
        if p.undelete {
            ctx.progress
                .step(PROVIDER, format!("restoring project {id}"));
            let op = self.gcp.undelete_project(&id).await?;
            self.gcp.wait(Api::ResourceManager, op, &|_| {}).await?;
        }
        if let Some((body, mask)) = &p.patch {
            ctx.progress
                .step(PROVIDER, format!("updating project {id}"));
            let op = self.gcp.patch_project(&id, body.clone(), mask).await?;
            self.gcp.wait(Api::ResourceManager, op, &|_| {}).await?;
        }
        if p.enable {
            ctx.progress.step(PROVIDER, "enabling the Gmail API");
            let key = project.number().unwrap_or_else(|| id.clone());
            let op = self
                .gcp
                .enable_service(&key, GMAIL_SERVICE, p.create || p.undelete)
                .await
                .map_err(|e| e.context("enabling the Gmail API"))?;
            let on_poll = |n: u32| {
                ctx.progress
                    .step(PROVIDER, format!("waiting for the Gmail API (poll {n})"))
            };
            self.gcp
                .wait(Api::ServiceUsage, op, &on_poll)
                .await
                .map_err(|e| e.context("enabling the Gmail API"))?;
        }
        // The client is taken from the record as it is now: a `google import-client` run
        // while this apply waited on the cloud must not be undone.
        ctx.update_record(|r| {
            let client = r
                .google
                .clone()
                .filter(|g| g.project_id == id)
                .and_then(|g| g.client);
            let creds = self.credentials(&project, client);
            r.google = Some(creds.carrying_tokens(r.google.as_ref()));
        })
        .await?;
        if p.client.is_some() {
            ctx.add_manual_step(self.steps(&id));
        }
        Ok(())
    }
}

impl GoogleProvider {
    async fn plan_destroy_work(&self, ctx: &Ctx) -> Result<(Vec<Change>, DestroyWork)> {
        ctx.progress.step(PROVIDER, "reading the project");
        let mut p = DestroyWork::default();
        let mut changes = Vec::new();
        if let Some(id) = self.resolve_project_id(ctx).await? {
            match self.gcp.get_project(&id).await? {
                Some(found) if !is_ours(&found, self.name(), &self.spec.env) => {
                    return Err(Error::refused(format!(
                        "project {id} does not carry mailreg's labels (managed-by=mailreg, mailreg-name={}, mailreg-env={}); mailreg will not delete it",
                        self.name(),
                        self.spec.env
                    )));
                }
                Some(found) if found.is_deleted() => p.restorable = true,
                Some(found) => {
                    changes.push(
                        Change::new(PROVIDER, "project", Action::Delete)
                            .id(found.project_id.clone())
                            .reason("moves to DELETE_REQUESTED: restorable for 30 days with `mailreg google undelete`"),
                    );
                    p.delete = true;
                    p.restorable = true;
                }
                None => {}
            }
            p.project_id = Some(id);
        }
        Ok((changes, p))
    }
}

#[async_trait::async_trait]
impl Carries<DestroyWork> for GoogleProvider {
    async fn carry_out(&self, ctx: &Ctx, p: DestroyWork) -> Result<()> {
        if p.delete
            && let Some(id) = &p.project_id
        {
            ctx.progress
                .step(PROVIDER, format!("deleting project {id}"));
            let op = self.gcp.delete_project(id).await?;
            self.gcp.wait(Api::ResourceManager, op, &|_| {}).await?;
        }
        // While the project can be restored, so can its OAuth client, which no API can make
        // again: keep it (marked, so nothing renders it) for `google undelete` + `apply`. Once
        // the project is gone for good, the next destroy drops it.
        let restorable = p.restorable;
        ctx.update_record(|r| match r.google.as_mut() {
            Some(g) if restorable && g.client.is_some() => {
                g.deleting.get_or_insert(ctx.now);
            }
            _ => r.google = None,
        })
        .await
    }
}

#[async_trait::async_trait]
impl Observes<ApplyWork> for GoogleProvider {
    async fn status(&self, ctx: &Ctx, p: &ApplyWork) -> Result<Option<ProviderStatus>> {
        self.observed(ctx, p).await.map(Some)
    }
}

impl GoogleProvider {
    /// What the reads behind an apply plan saw, for `status`.
    async fn observed(&self, ctx: &Ctx, p: &ApplyWork) -> Result<ProviderStatus> {
        let mut resources = Vec::new();
        let mut warnings = Vec::new();
        let status =
            |resource: &str, id: Option<String>, state: &str, details: Value| ResourceStatus {
                resource: resource.into(),
                id,
                state: state.into(),
                details,
            };
        match &p.project {
            Some(project) => {
                resources.push(status(
                    "project",
                    Some(project.project_id.clone()),
                    project.state.as_deref().unwrap_or("ACTIVE"),
                    json!({"number": project.number(), "display_name": project.display_name, "parent": project.parent}),
                ));
                if project.is_deleted() {
                    warnings.push(format!("project {} is pending deletion: `mailreg google undelete` or `mailreg apply` restores it within 30 days", project.project_id));
                } else {
                    resources.push(status(
                        "service",
                        Some(GMAIL_SERVICE.into()),
                        if p.enable { "disabled" } else { "enabled" },
                        json!({}),
                    ));
                }
            }
            None => resources.push(status("project", p.project_id.clone(), "absent", json!({}))),
        }
        let client = ctx.record().await.google.and_then(|g| g.client);
        match client {
            Some(c) => resources.push(status(
                "oauth_client",
                Some(c.client_id.clone()),
                "on record",
                json!({"imported": crate::clock::rfc3339(c.imported), "redirect_uris": c.redirect_uris}),
            )),
            None => resources.push(status("oauth_client", None, "missing", json!({}))),
        }
        if let Some(reason) = &p.client {
            warnings.push(format!(
                "OAuth client: {reason} (`mailreg apply` prints the console steps)"
            ));
        }
        Ok(ProviderStatus {
            provider: PROVIDER,
            resources,
            warnings,
        })
    }
}

impl GoogleProvider {
    /// Every ACTIVE project of this spec's name, in every environment, with all of mailreg's
    /// labels. Projects with only some of them, or none, are never candidates.
    pub async fn gc_candidates(&self) -> Result<Vec<crate::microsoft::GcCandidate>> {
        let found = self
            .gcp
            .search_projects(&format!("labels.mailreg-name:{}", self.name()))
            .await?;
        Ok(found
            .into_iter()
            .filter(|p| !p.is_deleted())
            .filter_map(|p| {
                let env = p.labels.get("mailreg-env")?.clone();
                is_ours(&p, self.name(), &env).then(|| crate::microsoft::GcCandidate {
                    provider: PROVIDER,
                    env,
                    key: p.project_id.clone(),
                    id: p.project_id.clone(),
                    created: p
                        .create_time
                        .as_deref()
                        .and_then(crate::clock::parse_rfc3339),
                    expires: p
                        .labels
                        .get(LABEL_EXPIRES)
                        .and_then(|v| v.strip_prefix('t')?.parse::<i64>().ok())
                        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok()),
                    deleted: None,
                })
            })
            .collect())
    }

    /// Deletes one candidate project (DELETE_REQUESTED).
    pub async fn gc_delete(&self, c: &crate::microsoft::GcCandidate) -> Result<()> {
        let op = self.gcp.delete_project(&c.key).await?;
        self.gcp
            .wait(Api::ResourceManager, op, &|_| {})
            .await
            .map(drop)
    }

    /// `mailreg google undelete`: restores a project of this spec pending deletion. Returns the
    /// project ID and whether it was restored (`false`: it was already active, which is the
    /// state the user asked for, so it is not an error).
    pub async fn undelete(&self, ctx: &Ctx) -> Result<(String, bool)> {
        let id = self
            .resolve_project_id(ctx)
            .await?
            .ok_or_else(|| Error::bad_input("no project of this spec and environment was found"))?;
        match self.gcp.get_project(&id).await? {
            Some(p) if !is_ours(&p, self.name(), &self.spec.env) => Err(Error::refused(format!(
                "project {id} does not carry mailreg's labels; mailreg will not touch it"
            ))),
            Some(p) if p.is_deleted() => {
                let op = self.gcp.undelete_project(&id).await?;
                self.gcp.wait(Api::ResourceManager, op, &|_| {}).await?;
                // The client kept by destroy is usable again, with its project.
                ctx.update_record(|r| {
                    if let Some(g) = r.google.as_mut().filter(|g| g.project_id == id) {
                        g.deleting = None;
                    }
                })
                .await?;
                Ok((id, true))
            }
            Some(_) => Ok((id, false)),
            None => Err(Error::bad_input(format!(
                "project {id} was not found (or is not visible to this identity); deleted projects can be restored for 30 days"
            ))),
        }
    }
}
