//! App access, the Entra half of consent: the app's own service principal (its enterprise
//! application) and one app role assignment per Exchange Online application permission
//! (`IMAP.AccessAsApp`, …) on Exchange's service principal. A resource of its own, after the
//! registration (it needs the app's client ID, which the registration writes to the record) and
//! before Exchange's mailbox rights (which are given to this service principal).
//!
//! Reads go out together: Exchange's service principal (its app roles), the app's service
//! principal by client ID, and, when a previous apply recorded it, the assignments it holds. A
//! no-op is one Graph round trip. Writes: the service principal is looked up before it is
//! created (a killed run may have made it), and an assignment Graph already holds is success.

use serde_json::json;

use super::graph::{Graph, ServicePrincipal};
use super::roles::AppRoleAssignment;
use crate::engine::{
    ApplyPlan, Carries, Ctx, Observes, Planned, ProviderPlan, ProviderStatus, Resource,
    ResourceStatus, Upstream,
};
use crate::error::{Error, Result};
use crate::plan::{Action, Change};
use crate::spec::Spec;

pub const KEY: &str = "microsoft.app_roles";
const PROVIDER: &str = "microsoft";

pub struct AppRoles {
    spec: Spec,
    graph: Graph,
}

/// What the plan found and decided.
pub struct RolesWork {
    exchange_sp: String,
    /// The client ID the reads were made for (`None`: no registration on record yet).
    client_id: Option<String>,
    sp: Option<String>,
    /// (permission, app role id) to assign.
    missing: Vec<(String, String)>,
    /// Assignments on Exchange that the spec no longer asks for.
    extra: Vec<AppRoleAssignment>,
    /// (permission, assignment) held, for `status`.
    held: Vec<(String, AppRoleAssignment)>,
}

impl AppRoles {
    pub fn new(spec: &Spec, graph: Graph) -> AppRoles {
        AppRoles {
            spec: spec.clone(),
            graph,
        }
    }

    fn permissions(&self) -> Vec<String> {
        self.spec
            .microsoft
            .as_ref()
            .map(|m| m.permissions.clone())
            .unwrap_or_default()
    }

    /// (name, id) of the spec's permissions among Exchange's app roles.
    fn wanted(&self, exchange: &ServicePrincipal) -> Result<Vec<(String, String)>> {
        self.permissions()
            .iter()
            .enumerate()
            .map(|(i, name)| {
                exchange
                    .app_roles
                    .iter()
                    .find(|r| r.value == *name)
                    .map(|r| (name.clone(), r.id.to_ascii_lowercase()))
                    .ok_or_else(|| {
                        self.spec.field_error(
                            &format!("microsoft.permissions[{i}]"),
                            format!("{name:?} is not an application permission of Office 365 Exchange Online"),
                        )
                    })
            })
            .collect()
    }

    /// The app's service principal and every assignment it holds. `recorded` (from an earlier
    /// apply) lets the assignments be read together with the service principal.
    async fn observe(
        &self,
        client_id: &str,
        recorded: Option<&str>,
    ) -> Result<(Option<String>, Vec<AppRoleAssignment>)> {
        let assignments = async {
            match recorded {
                Some(id) => self.graph.app_role_assignments(id).await.map(Some),
                None => Ok(None),
            }
        };
        let (sp, assignments) =
            tokio::join!(self.graph.service_principal_of(client_id), assignments);
        let Some(sp) = sp? else {
            return Ok((None, Vec::new()));
        };
        let assignments = match assignments {
            Ok(Some(a)) if Some(sp.id.as_str()) == recorded => a,
            // Not recorded, or recorded for another principal: read for the one found.
            _ => self.graph.app_role_assignments(&sp.id).await?,
        };
        Ok((Some(sp.id), assignments))
    }
}

/// The assignments on Exchange's service principal.
fn on(exchange: &ServicePrincipal, all: Vec<AppRoleAssignment>) -> Vec<AppRoleAssignment> {
    all.into_iter()
        .filter(|a| a.resource_id.eq_ignore_ascii_case(&exchange.id))
        .collect()
}

/// A role's permission name (its id when Exchange no longer offers it).
fn name_of(exchange: &ServicePrincipal, role: &str) -> String {
    exchange
        .app_roles
        .iter()
        .find(|r| r.id.eq_ignore_ascii_case(role))
        .map(|r| r.value.clone())
        .unwrap_or_else(|| role.to_owned())
}

fn role_change(name: &str, action: Action) -> Change {
    Change::new(PROVIDER, "app_role_assignment", action).address(format!("{KEY}[{name}]"))
}

#[async_trait::async_trait]
impl Resource for AppRoles {
    fn key(&self) -> String {
        KEY.into()
    }

    fn needs(&self) -> Vec<String> {
        vec![PROVIDER.into()]
    }

    async fn plan<'a>(&'a self, ctx: &Ctx, _up: &Upstream) -> Result<Box<dyn ApplyPlan + 'a>> {
        let rec = ctx.record().await.microsoft;
        let client_id = rec.as_ref().map(|m| m.client_id.clone());
        let recorded = rec.as_ref().and_then(|m| m.service_principal_id.clone());
        let observed = async {
            match &client_id {
                Some(c) => self.observe(c, recorded.as_deref()).await.map(Some),
                None => Ok(None),
            }
        };
        let (exchange, observed) = tokio::join!(self.graph.exchange_service_principal(), observed);
        let exchange = exchange?;
        let wanted = self.wanted(&exchange)?;
        let (sp, held) = match observed? {
            Some((sp, all)) => (sp, on(&exchange, all)),
            None => (None, Vec::new()),
        };
        let mut changes = Vec::new();
        if sp.is_none() {
            changes.push(
                Change::new(PROVIDER, "service_principal", Action::Create)
                    .address("microsoft.service_principal".into())
                    .reason("the app's enterprise application: admin consent and Exchange's mailbox rights are given to it"),
            );
        }
        let missing: Vec<(String, String)> = wanted
            .iter()
            .filter(|(_, id)| !held.iter().any(|a| a.app_role_id.eq_ignore_ascii_case(id)))
            .cloned()
            .collect();
        for (name, _) in &missing {
            changes.push(
                role_change(name, Action::Create)
                    .reason("admin consent for the application permission")
                    .field("permission", json!(null), json!(name)),
            );
        }
        let extra: Vec<AppRoleAssignment> = held
            .iter()
            .filter(|a| {
                !wanted
                    .iter()
                    .any(|(_, id)| a.app_role_id.eq_ignore_ascii_case(id))
            })
            .cloned()
            .collect();
        for a in &extra {
            changes.push(
                role_change(&name_of(&exchange, &a.app_role_id), Action::Delete)
                    .id(a.id.clone())
                    .reason("no longer in microsoft.permissions"),
            );
        }
        let held = held
            .into_iter()
            .map(|a| (name_of(&exchange, &a.app_role_id), a))
            .collect();
        Ok(Planned::new(
            self,
            changes,
            RolesWork {
                exchange_sp: exchange.id,
                client_id,
                sp,
                missing,
                extra,
                held,
            },
        ))
    }

    async fn plan_destroy<'a>(
        &'a self,
        ctx: &Ctx,
        _up: &Upstream,
    ) -> Result<Box<dyn ProviderPlan + 'a>> {
        let rec = ctx.record().await.microsoft;
        let mut work = RolesWork {
            exchange_sp: String::new(),
            client_id: rec.as_ref().map(|m| m.client_id.clone()),
            sp: None,
            missing: Vec::new(),
            extra: Vec::new(),
            held: Vec::new(),
        };
        let mut changes = Vec::new();
        if let Some(client_id) = &work.client_id {
            let recorded = rec.as_ref().and_then(|m| m.service_principal_id.clone());
            let (exchange, observed) = tokio::join!(
                self.graph.exchange_service_principal(),
                self.observe(client_id, recorded.as_deref())
            );
            let exchange = exchange?;
            let (sp, all) = observed?;
            let held = on(&exchange, all);
            for a in &held {
                changes.push(
                    role_change(&name_of(&exchange, &a.app_role_id), Action::Delete)
                        .id(a.id.clone())
                        .reason("admin consent for the application permission"),
                );
            }
            work.extra = held;
            work.exchange_sp = exchange.id;
            work.sp = sp;
        }
        Ok(Planned::new(self, changes, DestroyRoles(work)))
    }
}

#[async_trait::async_trait]
impl Carries<RolesWork> for AppRoles {
    async fn carry_out(&self, ctx: &Ctx, work: RolesWork) -> Result<()> {
        // The registration ran first and recorded the client ID it made or found.
        let client_id = ctx
            .record()
            .await
            .microsoft
            .map(|m| m.client_id)
            .ok_or_else(|| Error::internal("no registration on record for its app roles"))?;
        let same_app = work.client_id.as_deref() == Some(client_id.as_str());
        let mut missing = work.missing.clone();
        let sp = match work.sp.clone().filter(|_| same_app) {
            Some(id) => id,
            None => {
                // A new (or replaced) registration: nothing of the plan's reads applies to it,
                // and a killed earlier run may have made its service principal.
                let exchange = self.graph.exchange_service_principal().await?;
                missing = self.wanted(&exchange)?;
                match self.graph.service_principal_of(&client_id).await? {
                    Some(sp) => sp.id,
                    None => {
                        ctx.progress
                            .step(PROVIDER, "creating the app's service principal");
                        self.graph.create_service_principal(&client_id).await?.id
                    }
                }
            }
        };
        ctx.update_record(|r| {
            if let Some(m) = r.microsoft.as_mut().filter(|m| m.client_id == client_id) {
                m.service_principal_id = Some(sp.clone());
            }
        })
        .await?;
        for (name, id) in &missing {
            ctx.progress
                .step(PROVIDER, format!("granting {name} (admin consent)"));
            self.graph
                .assign_app_role(&work.exchange_sp, &sp, id)
                .await
                .map_err(|e| hint_roles(e.context(format!("granting {name}"))))?;
        }
        for a in &work.extra {
            ctx.progress
                .step(PROVIDER, "removing an application permission");
            self.graph
                .remove_app_role_assignment(&work.exchange_sp, &a.id)
                .await?;
        }
        Ok(())
    }
}

/// The destroy plan's work: every assignment mailreg's app holds on Exchange.
pub struct DestroyRoles(RolesWork);

#[async_trait::async_trait]
impl Carries<DestroyRoles> for AppRoles {
    async fn carry_out(&self, ctx: &Ctx, work: DestroyRoles) -> Result<()> {
        for a in &work.0.extra {
            ctx.progress
                .step(PROVIDER, "removing an application permission");
            self.graph
                .remove_app_role_assignment(&work.0.exchange_sp, &a.id)
                .await?;
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl Observes<RolesWork> for AppRoles {
    async fn status(&self, _ctx: &Ctx, work: &RolesWork) -> Result<Option<ProviderStatus>> {
        let mut resources = vec![ResourceStatus {
            resource: "service_principal".into(),
            id: work.sp.clone(),
            state: if work.sp.is_some() {
                "present"
            } else {
                "absent"
            }
            .into(),
            details: json!({}),
        }];
        for (name, a) in &work.held {
            resources.push(ResourceStatus {
                resource: "app_role_assignment".into(),
                id: Some(a.id.clone()),
                state: "present".into(),
                details: json!({"permission": name}),
            });
        }
        let warnings = work
            .missing
            .iter()
            .map(|(n, _)| format!("{n} is not granted: `mailreg apply` grants it"))
            .collect();
        Ok(Some(ProviderStatus {
            provider: PROVIDER,
            resources,
            warnings,
        }))
    }
}

/// Granting application permissions needs more than managing apps.
fn hint_roles(e: Error) -> Error {
    match e.code.as_deref() {
        Some("Authorization_RequestDenied") => e.with_hint(
            "granting application permissions needs the Graph permission AppRoleAssignment.ReadWrite.All (with Application.ReadWrite.OwnedBy or .All), granted with admin consent",
        ),
        _ => e,
    }
}
