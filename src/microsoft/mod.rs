//! The Microsoft side: one Entra ID app registration with its client secret (and optionally
//! admin consent), found by mailreg's tags, created with Graph's keyed upsert.

mod aadsts;
pub mod app;
pub mod approles;
pub mod auth;
pub mod cloud;
pub mod consent;
pub mod exchange;
mod gc;
pub mod graph;
pub mod permissions;
pub mod policy;
pub mod rights;
pub mod roles;

pub use gc::GcCandidate;
pub mod secret;
pub mod users;

use std::time::Duration;

use crate::credentials::{MicrosoftCredentials, SecretRecord, SecretValue};
use crate::engine::{
    ApplyPlan, Carries, Ctx, Observes, Planned, ProviderPlan, ProviderStatus, Resource,
    ResourceStatus, Upstream,
};
use crate::error::{Error, Result};
use crate::http::Http;
use crate::plan::{Action, Change};
use crate::spec::{Access, MicrosoftSpec, Spec};
use app::{AppDiff, DesiredApp};
use cloud::Endpoints;
use consent::ConsentState;
use graph::{Application, Graph, Upserted};
use secret::SecretPlan;

const PROVIDER: &str = "microsoft";

/// What `plan` found and decided; the apply that follows carries out exactly this.
pub struct ApplyWork {
    desired: DesiredApp,
    app: Option<Application>,
    patch: serde_json::Map<String, serde_json::Value>,
    replace: bool,
    secret: SecretPlan,
    graph_sp_id: Option<String>,
    consent: Option<ConsentState>,
}

/// What `plan_destroy` found: consent to remove, live apps to delete, soft-deleted apps to purge.
#[derive(Default)]
pub struct DestroyWork {
    consent: Option<ConsentState>,
    delete: Vec<Application>,
    purge: Vec<String>,
}

pub struct MicrosoftProvider {
    spec: Spec,
    ms: MicrosoftSpec,
    endpoints: Endpoints,
    graph: Graph,
    clock: crate::clock::Clock,
}

impl MicrosoftProvider {
    pub fn new(spec: &Spec, http: &Http) -> Result<Self> {
        let ms = spec
            .microsoft
            .clone()
            .ok_or_else(|| Error::internal("the spec has no [microsoft] section"))?;
        let endpoints = Endpoints::for_cloud(ms.cloud)?;
        let auth = auth::GraphAuth::from_env(http, &endpoints, &ms.tenant)?.blaming(spec);
        tracing::info!(target: "mailreg::auth", "microsoft: signing in with {}", auth.source);
        Ok(MicrosoftProvider {
            graph: Graph::new(http.clone(), endpoints.clone(), auth),
            spec: spec.clone(),
            ms,
            endpoints,
            clock: http.clock(),
        })
    }

    fn name(&self) -> &str {
        &self.spec.name
    }

    /// App access's resources after the registration: its app roles (Entra) and the mailbox
    /// rights (Exchange), on this run's sign-in. `None` with delegated access.
    pub fn app_access(
        &self,
        http: &Http,
    ) -> Result<Option<(approles::AppRoles, rights::MailboxRights)>> {
        if self.ms.access != Access::App {
            return Ok(None);
        }
        let exchange = exchange::Exchange::new(
            http,
            self.ms.cloud,
            &self.ms.tenant,
            self.graph.auth().clone(),
        )?;
        Ok(Some((
            approles::AppRoles::new(&self.spec, self.graph.clone()),
            rights::MailboxRights::new(&self.spec, exchange, self.clock),
        )))
    }

    /// The app with mailreg's id tag; refuses if it lacks mailreg's other marks, or if there are
    /// several (someone copied the tags).
    async fn find_app(&self) -> Result<Option<Application>> {
        let tag = app::id_tag(self.name(), &self.spec.env);
        let mut found = self.graph.apps_by_tag(&tag).await?;
        if found.len() > 1 {
            let ids: Vec<_> = found.iter().map(|a| a.app_id.as_str()).collect();
            return Err(Error::refused(format!(
                "{} applications carry the tag {tag}: {}; mailreg manages exactly one per name and environment",
                found.len(),
                ids.join(", ")
            ))
            .with_hint("delete the extra registrations in the Entra portal, or remove the tag from them"));
        }
        let Some(found) = found.pop() else {
            return Ok(None);
        };
        if !app::is_ours(&found, self.name(), &self.spec.env) {
            return Err(Error::refused(format!(
                "application {} ({}) carries {tag} but not all of mailreg's tags ({}); mailreg will not touch it",
                found.display_name.as_deref().unwrap_or(""),
                found.app_id,
                app::mailreg_tags(self.name(), &self.spec.env).join(", ")
            )));
        }
        Ok(Some(found))
    }

    /// (name, id) for each permission in the spec: constants for the known delegated ones, one
    /// read of the resource's service principal for the others (always for app access, whose
    /// ids are Exchange's app roles). Unknown names are spec errors at their line.
    async fn resolve_permissions(
        &self,
        graph_sp: &mut Option<graph::ServicePrincipal>,
    ) -> Result<Vec<(String, String)>> {
        let app = self.ms.access == Access::App;
        let mut out = Vec::new();
        for (i, name) in self.ms.permissions.iter().enumerate() {
            if !app && let Some(id) = permissions::known_id(name) {
                out.push((name.clone(), id.to_owned()));
                continue;
            }
            if graph_sp.is_none() {
                *graph_sp = Some(match app {
                    true => self.graph.exchange_service_principal().await?,
                    false => self.graph.graph_service_principal().await?,
                });
            }
            let sp = graph_sp.as_ref().expect("just set");
            let offered = match app {
                true => &sp.app_roles,
                false => &sp.oauth2_permission_scopes,
            };
            match offered.iter().find(|s| s.value == *name) {
                Some(s) => out.push((name.clone(), s.id.clone())),
                None => {
                    let near = offered.iter().find(|s| s.value.eq_ignore_ascii_case(name));
                    let mut msg = match app {
                        true => format!(
                            "{name:?} is not an application permission of Office 365 Exchange Online"
                        ),
                        false => {
                            format!("{name:?} is not a delegated permission of Microsoft Graph")
                        }
                    };
                    if let Some(n) = near {
                        msg.push_str(&format!(" (did you mean {:?}?)", n.value));
                    }
                    return Err(self
                        .spec
                        .field_error(&format!("microsoft.permissions[{i}]"), msg));
                }
            }
        }
        Ok(out)
    }

    /// Graph's service principal when admin consent needs it.
    /// With app access, Exchange Online's (whose app roles name the permissions).
    async fn read_graph_sp(&self) -> Result<Option<graph::ServicePrincipal>> {
        match (self.ms.access, self.ms.admin_consent) {
            (Access::App, _) => self.graph.exchange_service_principal().await.map(Some),
            (Access::Delegated, true) => self.graph.graph_service_principal().await.map(Some),
            (Access::Delegated, false) => Ok(None),
        }
    }

    /// Delegated admin consent (an `oauth2PermissionGrant`); app access consents through app
    /// role assignments, a resource of its own ([`approles`]).
    fn delegated_consent(&self) -> bool {
        self.ms.admin_consent && self.ms.access == Access::Delegated
    }

    fn grant_scope(&self) -> String {
        self.ms.permissions.join(" ")
    }

    async fn stored_secret(&self, ctx: &Ctx, app: &Application) -> Option<SecretRecord> {
        ctx.record()
            .await
            .microsoft
            .filter(|m| m.object_id == app.id)
            .and_then(|m| m.secret)
    }

    /// After an upsert answered "updated" (the create had happened in an earlier, interrupted
    /// run), find the app by tag; the tag index lags behind writes, so poll within a budget.
    async fn find_after_upsert(&self) -> Result<Application> {
        let mut waited = Duration::ZERO;
        let mut delay = Duration::from_secs(1);
        loop {
            if let Some(app) = self.find_app().await? {
                return Ok(app);
            }
            if waited >= Duration::from_secs(120) {
                return Err(Error::api(
                    "the application exists (the upsert updated it) but is not yet listed by its tags after 120s",
                )
                .with_hint("Entra ID replication can be slow; run apply again in a minute"));
            }
            self.clock.sleep(delay).await;
            waited += delay;
            delay = (delay * 2).min(Duration::from_secs(8));
        }
    }

    fn credentials(&self, app: &Application, secret: Option<SecretRecord>) -> MicrosoftCredentials {
        let (authorize_url, token_url) = self
            .endpoints
            .mailbox_endpoints(self.ms.audience, &self.ms.tenant);
        let scopes = match self.ms.access {
            Access::App => vec![cloud::app_scope(self.ms.cloud)],
            Access::Delegated => cloud::mailbox_scopes(&self.ms.permissions),
        };
        MicrosoftCredentials {
            access: self.ms.access,
            service_principal_id: None,
            mailbox_grants: Default::default(),
            tenant: self.ms.tenant.clone(),
            object_id: app.id.clone(),
            client_id: app.app_id.clone(),
            audience: self.ms.audience.as_str().to_owned(),
            authorize_url,
            token_url,
            scopes,
            redirect_uris: self.ms.redirect_uris.clone(),
            secret,
            refresh_tokens: Default::default(),
        }
    }

    async fn add_secret(&self, ctx: &Ctx, app: &Application) -> Result<()> {
        let now = ctx.now;
        let expires = now + time::Duration::days(self.ms.secret_lifetime_days.into());
        ctx.progress.step(PROVIDER, "adding a client secret");
        let created = self
            .graph
            .add_password(
                &app.id,
                &secret::display_name(&self.spec.env, now),
                &secret::rfc3339(expires),
            )
            .await
            .map_err(|e| hint_graph(e.context("adding a client secret")))?;
        let expires = created
            .end_date_time
            .as_deref()
            .and_then(crate::clock::parse_rfc3339)
            .unwrap_or(expires);
        let record = SecretRecord {
            key_id: created.key_id,
            value: SecretValue::new(created.secret_text),
            expires,
            created: now,
        };
        // Stored before anything else happens: the Value is never shown again.
        let creds = self.credentials(app, Some(record));
        ctx.update_record(|r| r.microsoft = Some(creds.carrying_tokens(r.microsoft.as_ref())))
            .await
    }
}

/// What `rotate` will do: planned by [`MicrosoftProvider::plan_rotate`].
#[derive(Clone, Debug, Default)]
pub struct RotatePlan {
    app: Option<Application>,
    /// Removed before the add, to make room under the two-secret limit.
    make_room: Option<graph::PasswordCredential>,
    /// Retired once the new secret is stored and outputs are rendered.
    retire: Vec<String>,
}

impl MicrosoftProvider {
    /// Plans a rotation: a new secret, then (unless `keep_old`) the retirement of mailreg's
    /// older ones. Personal-account apps hold two secrets: at the limit, the oldest secret that
    /// is not the one in use goes first, so the mailboxes keep working throughout.
    pub async fn plan_rotate(
        &self,
        ctx: &Ctx,
        keep_old: bool,
    ) -> Result<(Vec<Change>, RotatePlan)> {
        let app = self.find_app().await.map_err(hint_graph)?.ok_or_else(|| {
            Error::bad_input(format!(
                "no application for {} (environment {}) to rotate",
                self.name(),
                self.spec.env
            ))
            .with_hint("run `mailreg apply` first")
        })?;
        let stored = self.stored_secret(ctx, &app).await;
        let in_use = stored.as_ref().map(|r| r.key_id.to_ascii_lowercase());
        let mut ours: Vec<graph::PasswordCredential> = app
            .password_credentials
            .iter()
            .filter(|c| secret::is_ours(c))
            .cloned()
            .collect();
        ours.sort_by(|a, b| a.start_date_time.cmp(&b.start_date_time));
        let mut plan = RotatePlan::default();
        if self.ms.audience.is_personal() && app.password_credentials.len() >= 2 {
            let victim = ours
                .iter()
                .find(|c| Some(c.key_id.to_ascii_lowercase()) != in_use)
                .cloned()
                .ok_or_else(|| {
                    Error::refused("the app holds two secrets: the one in use and one not made by mailreg; personal-account apps allow at most two")
                        .with_hint("remove the other secret in the Entra portal (Certificates & secrets), then rotate again")
                })?;
            ours.retain(|c| c.key_id != victim.key_id);
            plan.make_room = Some(victim);
        }
        if !keep_old {
            plan.retire = ours.iter().map(|c| c.key_id.clone()).collect();
        }
        let mut changes = Vec::new();
        if let Some(v) = &plan.make_room {
            changes.push(
                Change::new(PROVIDER, "client_secret", Action::Delete)
                    .address(format!("microsoft.client_secret[{}]", v.key_id))
                    .id(v.key_id.clone())
                    .reason("oldest secret not in use: removed first, the app holds at most two"),
            );
        }
        let expires = ctx.now + time::Duration::days(self.ms.secret_lifetime_days.into());
        changes.push(
            Change::new(PROVIDER, "client_secret", Action::Create)
                .reason("rotation: stored and rendered into the outputs before older secrets are retired")
                .field("expires", serde_json::Value::Null, serde_json::json!(secret::rfc3339(expires))),
        );
        self.check_lifetime_cap(&changes, None).await?;
        for k in &plan.retire {
            changes.push(
                Change::new(PROVIDER, "client_secret", Action::Delete)
                    .address(format!("microsoft.client_secret[{k}]"))
                    .id(k.clone())
                    .reason("retired after the new secret is stored (--keep-old keeps it)"),
            );
        }
        plan.app = Some(app);
        Ok((changes, plan))
    }

    /// Adds the new secret and stores it.
    pub async fn rotate_add(&self, ctx: &Ctx, plan: &RotatePlan) -> Result<()> {
        let app = plan
            .app
            .as_ref()
            .ok_or_else(|| Error::internal("rotate without plan"))?;
        if let Some(v) = &plan.make_room {
            ctx.progress
                .step(PROVIDER, "making room: removing the oldest unused secret");
            self.graph
                .remove_password(&app.id, &v.key_id)
                .await
                .map_err(hint_graph)?;
        }
        self.add_secret(ctx, app).await
    }

    /// Retires the older secrets, once the new one is stored and the outputs rendered.
    pub async fn rotate_retire(&self, ctx: &Ctx, plan: &RotatePlan) -> Result<()> {
        let app = plan
            .app
            .as_ref()
            .ok_or_else(|| Error::internal("rotate without plan"))?;
        for k in &plan.retire {
            ctx.progress.step(PROVIDER, "retiring an older secret");
            self.graph
                .remove_password(&app.id, k)
                .await
                .map_err(hint_graph)?;
        }
        Ok(())
    }
}

/// Admin consent (`admin_consent = true`) is the one step that also needs
/// `DelegatedPermissionGrant.ReadWrite.All`; other refusals must not send people after it.
fn hint_consent(e: Error) -> Error {
    match e.code.as_deref() {
        Some("Authorization_RequestDenied") => e.with_hint(
            "the identity mailreg signs in with needs the Graph permissions Application.ReadWrite.All (or Application.ReadWrite.OwnedBy) and, for admin_consent = true, DelegatedPermissionGrant.ReadWrite.All, granted with admin consent",
        ),
        _ => e,
    }
}

/// Adds a hint to the Graph errors people meet (reference §4.1).
fn hint_graph(e: Error) -> Error {
    let hint = match e.code.as_deref() {
        Some("Authorization_RequestDenied") => Some(
            "the identity mailreg signs in with needs the Graph permission Application.ReadWrite.All (or Application.ReadWrite.OwnedBy), granted with admin consent",
        ),
        Some("CredentialInvalidLifetimeAsPerAppPolicy") => Some(
            "a tenant policy limits secret lifetimes: lower microsoft.secret_lifetime_days in the spec; grant mailreg's identity Policy.Read.ApplicationConfiguration so that the next plan checks the limit before creating anything",
        ),
        Some("CredentialTypeNotAllowedAsPerAppPolicy") => {
            Some("a tenant policy forbids client secrets for this app")
        }
        Some("TooManyAppPasswords") => Some(
            "personal-account apps hold at most two secrets: remove one you no longer use in the Entra portal",
        ),
        Some("InvalidAccessTokenVersion") => Some(
            "personal-account audiences need api.requestedAccessTokenVersion = 2; mailreg sets it, so the app was changed elsewhere",
        ),
        Some("Directory_QuotaExceeded") => Some(
            "the directory's object quota is full; soft-deleted apps count for 30 days: `mailreg destroy --purge` or purge them in the portal",
        ),
        _ => None,
    };
    match hint {
        Some(h) if e.hint.is_none() => e.with_hint(h),
        _ => e,
    }
}

#[async_trait::async_trait]
impl Resource for MicrosoftProvider {
    fn key(&self) -> String {
        PROVIDER.into()
    }

    async fn plan<'a>(&'a self, ctx: &Ctx, _up: &Upstream) -> Result<Box<dyn ApplyPlan + 'a>> {
        ctx.progress.step(PROVIDER, "reading the directory");
        // Permission names first: a misspelt one is a spec error, found before anything else
        // is read. With only built-in names (the usual case) nothing needs resolving, and the
        // app and Graph's service principal (admin consent) are read together.
        let mut graph_sp = None;
        // App access reads Exchange's service principal (its app roles) together with the app.
        let builtin_only = self.ms.access == Access::App
            || self
                .ms
                .permissions
                .iter()
                .all(|n| permissions::known_id(n).is_some());
        // With no secret on record (a first apply, or a lost store) one will be added: the
        // tenant's cap on its lifetime is read together with the app, in the same round trip.
        let expect_secret = ctx
            .record()
            .await
            .microsoft
            .and_then(|m| m.secret)
            .is_none();
        let read_cap = async {
            match expect_secret {
                true => Some(policy::secret_lifetime_cap(&self.graph).await),
                false => None,
            }
        };
        let (perms, app, cap) = if builtin_only {
            let (sp, app, cap) = tokio::join!(self.read_graph_sp(), self.find_app(), read_cap);
            graph_sp = sp?;
            (self.resolve_permissions(&mut graph_sp).await?, app, cap)
        } else {
            let perms = self.resolve_permissions(&mut graph_sp).await?;
            let (app, cap) = tokio::join!(self.find_app(), read_cap);
            (perms, app, cap)
        };
        let app = app.map_err(hint_graph)?;
        // An expiry mark, once set, is kept; `--ttl` sets one where there is none.
        let expires = app
            .as_ref()
            .and_then(|a| {
                a.tags
                    .iter()
                    .find(|t| t.starts_with(app::TAG_EXPIRES))
                    .cloned()
            })
            .or_else(|| {
                ctx.ttl
                    .map(|d| format!("{}{}", app::TAG_EXPIRES, secret::rfc3339(ctx.now + d)))
            });
        let desired = DesiredApp::new(&self.ms, self.name(), &self.spec.env, perms, expires);
        let mut pending = ApplyWork {
            desired: desired.clone(),
            app: None,
            patch: Default::default(),
            replace: false,
            secret: SecretPlan::default(),
            graph_sp_id: None,
            consent: None,
        };
        let mut changes = Vec::new();
        let personal = self.ms.audience.is_personal();
        match &app {
            None => {
                changes.push(desired.create_change());
                pending.secret = secret::plan(&[], None, personal, ctx.now)?;
            }
            Some(found) => {
                let AppDiff {
                    replace,
                    patch,
                    change,
                } = app::diff(&desired, found);
                changes.extend(change);
                if replace.is_some() {
                    pending.replace = true;
                    pending.secret = secret::plan(&[], None, personal, ctx.now)?;
                } else {
                    pending.patch = patch;
                    let stored = self.stored_secret(ctx, found).await;
                    pending.secret = secret::plan(
                        &found.password_credentials,
                        stored.as_ref(),
                        personal,
                        ctx.now,
                    )?;
                }
            }
        }
        changes.extend(
            pending
                .secret
                .changes(self.ms.secret_lifetime_days, ctx.now),
        );
        self.check_lifetime_cap(&changes, cap).await?;
        if self.delegated_consent() {
            let sp = match graph_sp {
                Some(sp) => sp,
                None => self.graph.graph_service_principal().await?,
            };
            let state = match &app {
                Some(a) if !pending.replace => {
                    consent::observe(&self.graph, &a.app_id, &sp.id).await?
                }
                _ => ConsentState::default(),
            };
            changes.extend(consent::changes(&state, &self.grant_scope()));
            pending.graph_sp_id = Some(sp.id);
            pending.consent = Some(state);
        }
        pending.app = app;
        Ok(Planned::new(self, changes, pending))
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
impl Carries<ApplyWork> for MicrosoftProvider {
    async fn carry_out(&self, ctx: &Ctx, pending: ApplyWork) -> Result<()> {
        let desired = pending.desired.clone();
        let mut app = pending.app.clone();
        let mut secret_plan = pending.secret.clone();
        if pending.replace {
            let old = app.take().expect("replace implies an app");
            ctx.progress
                .step(PROVIDER, "deleting the registration to replace it");
            self.graph.delete_app(&old.id).await.map_err(hint_graph)?;
            // The soft-deleted app keeps its uniqueName; purge it so the new one can take it.
            self.graph.purge(&old.id).await.map_err(hint_graph)?;
            ctx.update_record(|r| r.microsoft = None).await?;
        }
        let app = match app {
            Some(a) => {
                if !pending.patch.is_empty() {
                    ctx.progress.step(PROVIDER, "updating the registration");
                    self.graph
                        .patch_app(&a.id, serde_json::Value::Object(pending.patch.clone()))
                        .await
                        .map_err(|e| hint_graph(e.context("updating the application")))?;
                }
                a
            }
            None => {
                ctx.progress.step(PROVIDER, "creating the registration");
                let key = app::unique_name(self.name(), &self.spec.env);
                match self
                    .graph
                    .upsert(&key, desired.create_body())
                    .await
                    .map_err(|e| hint_graph(e.context("creating the application")))?
                {
                    Upserted::Created(a) => *a,
                    Upserted::Updated => {
                        // An earlier run created it; its secrets' Values are unknown here
                        // unless on record.
                        let a = self.find_after_upsert().await?;
                        let stored = self.stored_secret(ctx, &a).await;
                        secret_plan = secret::plan(
                            &a.password_credentials,
                            stored.as_ref(),
                            self.ms.audience.is_personal(),
                            ctx.now,
                        )?;
                        a
                    }
                }
            }
        };
        for c in &secret_plan.remove_before {
            ctx.progress.step(PROVIDER, "retiring an old client secret");
            self.graph
                .remove_password(&app.id, &c.key_id)
                .await
                .map_err(hint_graph)?;
        }
        if secret_plan.add.is_some() {
            self.add_secret(ctx, &app).await?;
        }
        for c in &secret_plan.remove_after {
            ctx.progress.step(PROVIDER, "retiring an old client secret");
            self.graph
                .remove_password(&app.id, &c.key_id)
                .await
                .map_err(hint_graph)?;
        }
        if let (Some(state), Some(graph_sp_id)) = (&pending.consent, &pending.graph_sp_id) {
            ctx.progress.step(PROVIDER, "granting admin consent");
            consent::apply(
                &self.graph,
                state,
                &app.app_id,
                graph_sp_id,
                &self.grant_scope(),
            )
            .await
            .map_err(|e| hint_consent(hint_graph(e.context("granting admin consent"))))?;
        }
        let secret = self.stored_secret(ctx, &app).await;
        let creds = self.credentials(&app, secret);
        ctx.update_record(|r| r.microsoft = Some(creds.carrying_tokens(r.microsoft.as_ref())))
            .await
    }
}

impl MicrosoftProvider {
    async fn plan_destroy_work(&self, ctx: &Ctx) -> Result<(Vec<Change>, DestroyWork)> {
        ctx.progress.step(PROVIDER, "reading the directory");
        let mut pending = DestroyWork::default();
        let mut changes = Vec::new();
        let tag = app::id_tag(self.name(), &self.spec.env);
        // Independent reads together: the live app, the soft-deleted ones (--purge), and
        // Graph's service principal (admin consent).
        let deleted = async {
            match ctx.purge {
                true => self.graph.deleted_apps_by_tag(&tag).await.map(Some),
                false => Ok(None),
            }
        };
        let graph_sp = async {
            match self.delegated_consent() {
                true => self.graph.graph_service_principal().await.map(Some),
                false => Ok(None),
            }
        };
        let (app, deleted, graph_sp) = tokio::join!(self.find_app(), deleted, graph_sp);
        let app = app.map_err(hint_graph)?;
        let deleted = deleted.map_err(hint_graph)?;
        if let Some(a) = &app {
            if let Some(sp) = graph_sp? {
                let state = consent::observe(&self.graph, &a.app_id, &sp.id).await?;
                changes.extend(consent::destroy_changes(&state));
                pending.consent = Some(state);
            }
            let reason = if ctx.purge {
                "deleted, then purged from deleted items"
            } else {
                "soft delete: restorable for 30 days, and it counts against the directory quota until then (use --purge)"
            };
            changes.push(
                Change::new(PROVIDER, "application", Action::Delete)
                    .id(a.app_id.clone())
                    .reason(reason),
            );
            pending.delete.push(a.clone());
        }
        for d in deleted.unwrap_or_default() {
            if pending.delete.iter().any(|a| a.id == d.id) {
                continue;
            }
            if !app::is_ours(&d, self.name(), &self.spec.env) {
                continue;
            }
            changes.push(
                Change::new(PROVIDER, "deleted_application", Action::Delete)
                    .address(format!("microsoft.deleted_application[{}]", d.app_id))
                    .id(d.app_id.clone())
                    .reason("purge from deleted items"),
            );
            pending.purge.push(d.id.clone());
        }
        Ok((changes, pending))
    }
}

#[async_trait::async_trait]
impl Carries<DestroyWork> for MicrosoftProvider {
    async fn carry_out(&self, ctx: &Ctx, pending: DestroyWork) -> Result<()> {
        if let Some(state) = &pending.consent {
            ctx.progress.step(PROVIDER, "removing admin consent");
            consent::destroy(&self.graph, state)
                .await
                .map_err(hint_graph)?;
        }
        for a in &pending.delete {
            ctx.progress.step(PROVIDER, "deleting the registration");
            self.graph.delete_app(&a.id).await.map_err(hint_graph)?;
            if ctx.purge {
                ctx.progress.step(PROVIDER, "purging it from deleted items");
                self.graph.purge(&a.id).await.map_err(hint_graph)?;
            }
        }
        for id in &pending.purge {
            ctx.progress.step(PROVIDER, "purging from deleted items");
            self.graph.purge(id).await.map_err(hint_graph)?;
        }
        ctx.update_record(|r| r.microsoft = None).await
    }
}

#[async_trait::async_trait]
impl Observes<ApplyWork> for MicrosoftProvider {
    async fn status(&self, ctx: &Ctx, pending: &ApplyWork) -> Result<Option<ProviderStatus>> {
        self.observed(ctx, pending).await.map(Some)
    }
}

impl MicrosoftProvider {
    /// What the reads behind an apply plan saw, for `status`.
    async fn observed(&self, ctx: &Ctx, pending: &ApplyWork) -> Result<ProviderStatus> {
        let mut resources = Vec::new();
        let mut warnings = Vec::new();
        let Some(app) = &pending.app else {
            resources.push(ResourceStatus {
                resource: "application".into(),
                id: None,
                state: "absent".into(),
                details: serde_json::json!({}),
            });
            return Ok(ProviderStatus {
                provider: PROVIDER,
                resources,
                warnings,
            });
        };
        resources.push(ResourceStatus {
            resource: "application".into(),
            id: Some(app.app_id.clone()),
            state: "present".into(),
            details: serde_json::json!({
                "display_name": app.display_name,
                "object_id": app.id,
                "audience": app.sign_in_audience,
                "created": app.created_date_time,
            }),
        });
        let stored = self.stored_secret(ctx, app).await;
        let parse = |t: &Option<String>| t.as_deref().and_then(crate::clock::parse_rfc3339);
        for c in &app.password_credentials {
            let on_record = stored
                .as_ref()
                .is_some_and(|r| r.key_id.eq_ignore_ascii_case(&c.key_id));
            let expires = parse(&c.end_date_time);
            let expired = expires.is_some_and(|e| e <= ctx.now);
            resources.push(ResourceStatus {
                resource: "client_secret".into(),
                id: Some(c.key_id.clone()),
                state: if expired { "expired" } else { "active" }.into(),
                details: serde_json::json!({
                    "display_name": c.display_name,
                    "expires": c.end_date_time,
                    "made_by_mailreg": secret::is_ours(c),
                    "value_on_record": on_record,
                }),
            });
            if let Some(e) = expires {
                let days = (e - ctx.now).whole_days();
                let who = if on_record {
                    "the client secret on record"
                } else {
                    "a client secret"
                };
                if expired && on_record {
                    warnings.push(format!(
                        "{who} ({}) expired on {}: `mailreg apply` replaces it",
                        c.key_id,
                        secret::rfc3339(e)
                    ));
                } else if !expired && days < 30 && (on_record || secret::is_ours(c)) {
                    warnings.push(format!("{who} ({}) expires in {days} days ({}): mailboxes using it stop signing in then", c.key_id, secret::rfc3339(e)));
                }
            }
        }
        if stored.is_none() {
            warnings.push(
                "no client secret value is on record for this app: `mailreg apply` adds one".into(),
            );
        }
        Ok(ProviderStatus {
            provider: PROVIDER,
            resources,
            warnings,
        })
    }
}

#[cfg(test)]
mod hint_tests {
    use super::*;

    fn denied() -> Error {
        let mut e = Error::api("Insufficient privileges to complete the operation.");
        e.code = Some("Authorization_RequestDenied".into());
        e.status = Some(403);
        e
    }

    #[test]
    fn only_admin_consent_is_sent_after_delegated_permission_grants() {
        let hint = hint_graph(denied()).hint.unwrap();
        assert!(hint.contains("Application.ReadWrite.OwnedBy"), "{hint}");
        assert!(!hint.contains("DelegatedPermissionGrant"), "{hint}");
        let hint = hint_consent(hint_graph(denied())).hint.unwrap();
        assert!(
            hint.contains("admin_consent = true, DelegatedPermissionGrant.ReadWrite.All"),
            "{hint}"
        );
    }
}
