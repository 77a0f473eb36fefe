//! App access, the Exchange half: Exchange's own record of the app (`New-ServicePrincipal`)
//! and the rights each mailbox gives it (`Add-MailboxPermission -AccessRights FullAccess` to
//! read over IMAP/POP, `Add-RecipientPermission -AccessRights SendAs` to send over SMTP), run
//! on the Exchange admin endpoint that mailbox readiness uses (`InvokeCommand`).
//!
//! Everything is read first (`Get-ServicePrincipal`, `Get-MailboxPermission`,
//! `Get-RecipientPermission`, all together), so a no-op sends no write and costs one Exchange
//! round trip. The rights mailreg gave are kept in the record: a mailbox taken out of the spec
//! loses exactly those, and destroy removes only what mailreg made.
//!
//! Exchange learns of a new Entra service principal some time after Graph made it; the write
//! that meets "couldn't be found" is retried on the linear lag schedule within a budget.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::future::join_all;
use serde_json::{Value, json};

use super::exchange::{Exchange, Refusal};
use crate::engine::{
    ApplyPlan, Carries, Ctx, Observes, Planned, ProviderPlan, ProviderStatus, Resource,
    ResourceStatus, Upstream,
};
use crate::error::{Error, Result};
use crate::http::Safety;
use crate::plan::{Action, Change};
use crate::spec::{Right, Spec};

pub const KEY: &str = "exchange";
/// How long a write may wait for Exchange to see a new service principal.
const LAG_BUDGET: Duration = Duration::from_secs(180);

pub struct MailboxRights {
    spec: Spec,
    exchange: Exchange,
    clock: crate::clock::Clock,
}

/// Exchange's record of the app, as `Get-ServicePrincipal` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExchangePrincipal {
    pub app_id: String,
    /// The Entra object ID Exchange was given: must be the enterprise application's.
    pub object_id: String,
}

/// One right, for one mailbox.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Grant {
    pub mailbox: String,
    pub right: Right,
}

/// How Exchange names a right: the cmdlets' noun, their trustee parameter, the access right,
/// and the plan's resource name.
struct Verbs {
    noun: &'static str,
    trustee: &'static str,
    access: &'static str,
    resource: &'static str,
}

fn verbs(right: Right) -> Verbs {
    match right {
        Right::Read => Verbs {
            noun: "MailboxPermission",
            trustee: "User",
            access: "FullAccess",
            resource: "mailbox_permission",
        },
        Right::Send => Verbs {
            noun: "RecipientPermission",
            trustee: "Trustee",
            access: "SendAs",
            resource: "recipient_permission",
        },
    }
}

impl Grant {
    fn change(&self, action: Action) -> Change {
        let v = verbs(self.right);
        Change::new(KEY, v.resource, action)
            .address(format!("{KEY}.{}[{}]", v.resource, self.mailbox))
            .field("access_rights", json!(null), json!(v.access))
    }

    /// The cmdlet `Add`, `Remove` (or `Get`) of this right and its parameters for trustee `sp`.
    fn cmdlet(&self, verb: &str, sp: &str) -> (String, Value) {
        let v = verbs(self.right);
        let mut params = json!({"Identity": self.mailbox, v.trustee: sp});
        if verb != "Get" {
            params["AccessRights"] = json!([v.access]);
            if self.right == Right::Read {
                params["InheritanceType"] = json!("All");
            }
        }
        match (verb, self.right) {
            // A service principal has no Outlook profile to map the mailbox into.
            ("Add", Right::Read) => params["AutoMapping"] = json!(false),
            ("Add", Right::Send) | ("Remove", _) => params["Confirm"] = json!(false),
            _ => {}
        }
        (format!("{verb}-{}", v.noun), params)
    }

    fn anchor(&self) -> String {
        format!("UPN:{}", self.mailbox)
    }
}

/// What the plan found and decided.
pub struct RightsWork {
    /// The (client ID, service principal) the reads were made for.
    principal: Option<(String, String)>,
    found: Option<ExchangePrincipal>,
    /// Exchange's record names another object ID: removed and made again.
    replace: bool,
    add: Vec<Grant>,
    remove: Vec<Grant>,
    held: Vec<Grant>,
}

/// Whether a refusal says an object (mailbox, user, service principal) is unknown.
pub fn not_found(r: &Refusal) -> bool {
    let m = r.message.to_ascii_lowercase();
    r.status == 404
        || m.contains("couldn't be found")
        || m.contains("could not be found")
        || m.contains("managementobjectnotfound")
}

fn already_present(r: &Refusal) -> bool {
    let m = r.message.to_ascii_lowercase();
    m.contains("already exists")
        || m.contains("existing permission entry")
        || m.contains("access control entry is already present")
}

fn refused(cmdlet: &str, r: Refusal) -> Error {
    let e = Error::api(format!("{cmdlet}: {}", r.message));
    match r.status {
        401 | 403 => e.with_hint(
            "mailreg's identity needs Exchange.ManageAsApp (Office 365 Exchange Online, with admin consent) and the Exchange Administrator role to grant mailbox rights",
        ),
        _ => e,
    }
}

/// `AccessRights` as the cmdlets answer it: an array, or one comma-separated string.
fn has_right(entry: &Value, right: &str) -> bool {
    let denied = entry.get("Deny").and_then(Value::as_bool).unwrap_or(false)
        || entry
            .get("AccessControlType")
            .and_then(Value::as_str)
            .is_some_and(|t| t.eq_ignore_ascii_case("Deny"));
    let inherited = entry
        .get("IsInherited")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let listed = match entry.get("AccessRights") {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .any(|s| s.eq_ignore_ascii_case(right)),
        Some(Value::String(s)) => s.split(',').any(|p| p.trim().eq_ignore_ascii_case(right)),
        _ => false,
    };
    listed && !denied && !inherited
}

impl MailboxRights {
    pub fn new(spec: &Spec, exchange: Exchange, clock: crate::clock::Clock) -> MailboxRights {
        MailboxRights {
            spec: spec.clone(),
            exchange,
            clock,
        }
    }

    fn wanted(&self) -> Vec<Grant> {
        let mut out: Vec<Grant> = self
            .spec
            .microsoft
            .as_ref()
            .map(|m| m.app_mailboxes())
            .unwrap_or_default()
            .into_iter()
            .flat_map(|(mailbox, rights)| {
                rights.into_iter().map(move |right| Grant {
                    mailbox: mailbox.to_ascii_lowercase(),
                    right,
                })
            })
            .collect();
        out.sort();
        out
    }

    /// Exchange's record of the app, if it has one.
    pub async fn principal(&self, client_id: &str) -> Result<Option<ExchangePrincipal>> {
        match self
            .exchange
            .invoke("Get-ServicePrincipal", json!({"Identity": client_id}), None)
            .await?
        {
            Ok(v) => Ok(v.first().map(|p| ExchangePrincipal {
                app_id: str_field(p, "AppId").unwrap_or_else(|| client_id.to_owned()),
                object_id: str_field(p, "ObjectId")
                    .or_else(|| str_field(p, "ServiceId"))
                    .unwrap_or_default(),
            })),
            Err(r) if not_found(&r) => Ok(None),
            Err(r) => Err(refused("Get-ServicePrincipal", r)),
        }
    }

    /// Whether `grant` is given to the service principal `sp`. An unknown mailbox is a spec
    /// error at its line; an unknown user (Exchange has no record of `sp` yet) is "not given".
    pub async fn holds(&self, grant: &Grant, sp: &str) -> Result<bool> {
        let (cmdlet, params) = grant.cmdlet("Get", sp);
        let access = verbs(grant.right).access;
        match self
            .exchange
            .invoke(&cmdlet, params, Some(&grant.anchor()))
            .await?
        {
            Ok(entries) => Ok(entries.iter().any(|e| has_right(e, access))),
            Err(r) if not_found(&r) && mentions(&r, &grant.mailbox) => {
                Err(self.unknown_mailbox(&grant.mailbox))
            }
            Err(r) if not_found(&r) => Ok(false),
            Err(r) => Err(refused(&cmdlet, r)),
        }
    }

    fn unknown_mailbox(&self, mailbox: &str) -> Error {
        // A recorded mailbox no longer in the spec is blamed on the list as a whole.
        let field = self
            .spec
            .microsoft
            .as_ref()
            .and_then(|m| {
                m.mailboxes
                    .iter()
                    .position(|e| e.address.eq_ignore_ascii_case(mailbox))
            })
            .map(|i| format!("microsoft.mailboxes[{i}]"))
            .unwrap_or_else(|| "microsoft.mailboxes".into());
        self.spec.field_error(
            &field,
            format!("Exchange Online has no mailbox {mailbox:?} in this tenant"),
        )
    }

    /// Runs a write, waiting out Exchange's lag behind Entra (an object it cannot find yet).
    /// `safety`: an `Add-*` of a right is idempotent (Exchange answers a present right with a
    /// warning); `New-ServicePrincipal` is not.
    async fn write(
        &self,
        cmdlet: &str,
        params: Value,
        anchor: Option<&str>,
        safety: Safety,
    ) -> Result<()> {
        // Nominal time: the clock's scale shortens the waits in tests, not the budget's meaning.
        let mut waited = Duration::ZERO;
        let mut poll = 0;
        loop {
            match self
                .exchange
                .invoke_as(cmdlet, params.clone(), anchor, safety)
                .await?
            {
                Ok(_) => return Ok(()),
                Err(r) if already_present(&r) => return Ok(()),
                Err(r) if not_found(&r) && waited < LAG_BUDGET => {
                    tracing::info!(target: "mailreg::progress", "exchange: {cmdlet}: not visible to Exchange yet ({}); waiting", r.message);
                    let delay = crate::http::retry::lag_delay(poll);
                    self.clock.sleep(delay).await;
                    waited += delay;
                    poll += 1;
                }
                Err(r) if not_found(&r) => {
                    return Err(refused(cmdlet, r).with_hint(
                        "Exchange has not seen the app's service principal after 3 minutes; run the command again later",
                    ));
                }
                Err(r) => return Err(refused(cmdlet, r)),
            }
        }
    }

    async fn grant(&self, g: &Grant, sp: &str) -> Result<()> {
        let (cmdlet, params) = g.cmdlet("Add", sp);
        self.write(&cmdlet, params, Some(&g.anchor()), Safety::Idempotent)
            .await
    }

    async fn revoke(&self, g: &Grant, sp: &str) -> Result<()> {
        let (cmdlet, params) = g.cmdlet("Remove", sp);
        match self
            .exchange
            .invoke(&cmdlet, params, Some(&g.anchor()))
            .await?
        {
            Ok(_) => Ok(()),
            // Already gone (by hand, or with its mailbox).
            Err(r) if not_found(&r) => Ok(()),
            Err(r) => Err(refused(&cmdlet, r)),
        }
    }

    async fn remove_principal(&self, client_id: &str) -> Result<()> {
        match self
            .exchange
            .invoke(
                "Remove-ServicePrincipal",
                json!({"Identity": client_id, "Confirm": false}),
                None,
            )
            .await?
        {
            Ok(_) => Ok(()),
            Err(r) if not_found(&r) => Ok(()),
            Err(r) => Err(refused("Remove-ServicePrincipal", r)),
        }
    }

    /// Reads Exchange's record of the app and whether each grant is held, all together.
    async fn observe(
        &self,
        client_id: &str,
        sp: &str,
        grants: &[Grant],
    ) -> Result<(Option<ExchangePrincipal>, Vec<Grant>)> {
        let holds = join_all(grants.iter().map(|g| self.holds(g, sp)));
        let (found, holds) = tokio::join!(self.principal(client_id), holds);
        let mut held = Vec::new();
        for (g, h) in grants.iter().zip(holds) {
            if h? {
                held.push(g.clone());
            }
        }
        Ok((found?, held))
    }

    async fn record_grant(&self, ctx: &Ctx, g: &Grant, given: bool) -> Result<()> {
        ctx.update_record(|r| {
            if let Some(m) = r.microsoft.as_mut() {
                let rights = m.mailbox_grants.entry(g.mailbox.clone()).or_default();
                rights.retain(|x| *x != g.right);
                if given {
                    rights.push(g.right);
                    rights.sort();
                }
                if rights.is_empty() {
                    m.mailbox_grants.remove(&g.mailbox);
                }
            }
        })
        .await
    }
}

fn str_field(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn mentions(r: &Refusal, mailbox: &str) -> bool {
    r.message
        .to_ascii_lowercase()
        .contains(&mailbox.to_ascii_lowercase())
}

fn recorded(grants: &BTreeMap<String, Vec<Right>>) -> Vec<Grant> {
    grants
        .iter()
        .flat_map(|(mailbox, rights)| {
            rights.iter().map(move |right| Grant {
                mailbox: mailbox.clone(),
                right: *right,
            })
        })
        .collect()
}

fn principal_change(action: Action) -> Change {
    Change::new(KEY, "service_principal", action).address(format!("{KEY}.service_principal"))
}

#[async_trait::async_trait]
impl Resource for MailboxRights {
    fn key(&self) -> String {
        KEY.into()
    }

    fn needs(&self) -> Vec<String> {
        vec![super::approles::KEY.into()]
    }

    async fn plan<'a>(&'a self, ctx: &Ctx, _up: &Upstream) -> Result<Box<dyn ApplyPlan + 'a>> {
        let rec = ctx.record().await.microsoft;
        let wanted = self.wanted();
        let principal = rec
            .as_ref()
            .and_then(|m| Some((m.client_id.clone(), m.service_principal_id.clone()?)));
        let ours = rec
            .as_ref()
            .map(|m| recorded(&m.mailbox_grants))
            .unwrap_or_default();
        let mut work = RightsWork {
            principal: principal.clone(),
            found: None,
            replace: false,
            add: Vec::new(),
            remove: Vec::new(),
            held: Vec::new(),
        };
        let mut changes = Vec::new();
        match &principal {
            None => {
                changes.push(principal_change(Action::Create).reason(
                    "Exchange's record of the app, made from its enterprise application's object ID",
                ));
                work.add = wanted.clone();
            }
            Some((client_id, sp)) => {
                let mut ask = wanted.clone();
                ask.extend(ours.iter().filter(|g| !wanted.contains(g)).cloned());
                let (found, held) = self.observe(client_id, sp, &ask).await?;
                match &found {
                    None => changes.push(principal_change(Action::Create).reason(
                        "Exchange's record of the app, made from its enterprise application's object ID",
                    )),
                    Some(f) if !f.object_id.eq_ignore_ascii_case(sp) => {
                        work.replace = true;
                        changes.push(
                            // Not a replacement of anything the user holds: the client ID and
                            // secret stay, so no `--replace` is asked for.
                            principal_change(Action::Update)
                                .id(client_id.clone())
                                .reason("Exchange's record names another object ID (often the app registration's instead of the enterprise application's): every app-only login would fail")
                                .field("object_id", json!(f.object_id), json!(sp)),
                        );
                    }
                    Some(_) => {}
                }
                work.add = wanted
                    .iter()
                    .filter(|g| work.replace || !held.contains(g))
                    .cloned()
                    .collect();
                work.remove = held
                    .iter()
                    .filter(|g| !wanted.contains(g) && ours.contains(g))
                    .cloned()
                    .collect();
                work.held = held;
                work.found = found;
            }
        }
        for g in &work.add {
            changes.push(g.change(Action::Create).reason(match g.right {
                Right::Read => "read the mailbox over IMAP and POP",
                Right::Send => "send as the mailbox over SMTP",
            }));
        }
        for g in &work.remove {
            changes.push(
                g.change(Action::Delete)
                    .reason("no longer in microsoft.mailboxes"),
            );
        }
        Ok(Planned::new(self, changes, work))
    }

    async fn plan_destroy<'a>(
        &'a self,
        ctx: &Ctx,
        _up: &Upstream,
    ) -> Result<Box<dyn ProviderPlan + 'a>> {
        let rec = ctx.record().await.microsoft;
        let mut work = DestroyRights::default();
        let mut changes = Vec::new();
        if let Some(m) = &rec
            && let Some(sp) = &m.service_principal_id
        {
            let mut ask = recorded(&m.mailbox_grants);
            let extra: Vec<Grant> = self
                .wanted()
                .into_iter()
                .filter(|g| !ask.contains(g))
                .collect();
            ask.extend(extra);
            let (found, held) = self.observe(&m.client_id, sp, &ask).await?;
            for g in &held {
                changes.push(g.change(Action::Delete));
            }
            // Only Exchange's record of mailreg's own enterprise application.
            if found.is_some_and(|f| f.object_id.eq_ignore_ascii_case(sp)) {
                changes.push(principal_change(Action::Delete).id(m.client_id.clone()));
                work.principal = Some(m.client_id.clone());
            }
            work.sp = Some(sp.clone());
            work.revoke = held;
        }
        Ok(Planned::new(self, changes, work))
    }
}

#[async_trait::async_trait]
impl Carries<RightsWork> for MailboxRights {
    async fn carry_out(&self, ctx: &Ctx, work: RightsWork) -> Result<()> {
        let rec = ctx.record().await.microsoft;
        let (client_id, sp) = rec
            .and_then(|m| Some((m.client_id.clone(), m.service_principal_id?)))
            .ok_or_else(|| Error::internal("no service principal on record for Exchange"))?;
        let same = work.principal.as_ref() == Some(&(client_id.clone(), sp.clone()));
        let (found, add) = match same {
            true => (work.found.clone(), work.add.clone()),
            // Made in this run (or replaced): nothing the plan read applies; a killed earlier
            // run may have made Exchange's record already.
            false => (self.principal(&client_id).await?, self.wanted()),
        };
        let stale = found
            .as_ref()
            .is_some_and(|f| !f.object_id.eq_ignore_ascii_case(&sp));
        if stale {
            ctx.progress.step(
                KEY,
                "removing Exchange's record of the app (wrong object ID)",
            );
            self.remove_principal(&client_id).await?;
        }
        if found.is_none() || stale {
            ctx.progress
                .step(KEY, "registering the app's service principal in Exchange");
            let display = self
                .spec
                .microsoft
                .as_ref()
                .map(|m| m.display_name(&self.spec.name, &self.spec.env))
                .unwrap_or_default();
            self.write(
                "New-ServicePrincipal",
                json!({"AppId": client_id, "ObjectId": sp, "DisplayName": display}),
                None,
                Safety::NotIdempotent,
            )
            .await?;
        }
        for g in &add {
            ctx.progress
                .step(KEY, format!("giving {} on {}", g.right.as_str(), g.mailbox));
            self.grant(g, &sp).await?;
            self.record_grant(ctx, g, true).await?;
        }
        for g in work.remove.iter().filter(|_| same) {
            ctx.progress.step(
                KEY,
                format!("removing {} on {}", g.right.as_str(), g.mailbox),
            );
            self.revoke(g, &sp).await?;
            self.record_grant(ctx, g, false).await?;
        }
        Ok(())
    }
}

/// What destroy removes: the rights held, then Exchange's record of the app.
#[derive(Default)]
pub struct DestroyRights {
    sp: Option<String>,
    revoke: Vec<Grant>,
    principal: Option<String>,
}

#[async_trait::async_trait]
impl Carries<DestroyRights> for MailboxRights {
    async fn carry_out(&self, ctx: &Ctx, work: DestroyRights) -> Result<()> {
        if let Some(sp) = &work.sp {
            for g in &work.revoke {
                ctx.progress.step(
                    KEY,
                    format!("removing {} on {}", g.right.as_str(), g.mailbox),
                );
                self.revoke(g, sp).await?;
                self.record_grant(ctx, g, false).await?;
            }
        }
        if let Some(client_id) = &work.principal {
            ctx.progress
                .step(KEY, "removing Exchange's record of the app");
            self.remove_principal(client_id).await?;
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl Observes<RightsWork> for MailboxRights {
    async fn status(&self, _ctx: &Ctx, work: &RightsWork) -> Result<Option<ProviderStatus>> {
        let mut resources = vec![ResourceStatus {
            resource: "service_principal".into(),
            id: work.found.as_ref().map(|f| f.app_id.clone()),
            state: match (&work.found, work.replace) {
                (None, _) => "absent",
                (Some(_), true) => "wrong_object_id",
                (Some(_), false) => "present",
            }
            .into(),
            details: json!({"object_id": work.found.as_ref().map(|f| f.object_id.clone())}),
        }];
        for g in &work.held {
            resources.push(ResourceStatus {
                resource: "mailbox_right".into(),
                id: Some(g.mailbox.clone()),
                state: "present".into(),
                details: json!({"right": g.right.as_str()}),
            });
        }
        let warnings = work
            .add
            .iter()
            .map(|g| {
                format!(
                    "{} is not given on {}: `mailreg apply` gives it",
                    g.right.as_str(),
                    g.mailbox
                )
            })
            .collect();
        Ok(Some(ProviderStatus {
            provider: "exchange",
            resources,
            warnings,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rights_are_read_as_exchange_writes_them() {
        assert!(has_right(
            &json!({"AccessRights": ["FullAccess"], "IsInherited": false, "Deny": false}),
            "FullAccess"
        ));
        assert!(has_right(
            &json!({"AccessRights": "ReadPermission, FullAccess"}),
            "FullAccess"
        ));
        assert!(!has_right(
            &json!({"AccessRights": ["FullAccess"], "Deny": true}),
            "FullAccess"
        ));
        assert!(!has_right(
            &json!({"AccessRights": ["FullAccess"], "IsInherited": true}),
            "FullAccess"
        ));
        assert!(has_right(
            &json!({"AccessRights": ["SendAs"], "AccessControlType": "Allow"}),
            "SendAs"
        ));
        assert!(!has_right(
            &json!({"AccessRights": ["SendAs"], "AccessControlType": "Deny"}),
            "SendAs"
        ));
        assert!(!has_right(
            &json!({"AccessRights": ["ReadPermission"]}),
            "FullAccess"
        ));
    }

    #[test]
    fn unknown_objects_are_told_apart_from_refusals() {
        let r = |status, m: &str| Refusal {
            status,
            message: m.into(),
        };
        assert!(not_found(&r(
            400,
            "The operation couldn't be performed because object 'helpdesk@contoso.com' couldn't be found on 'EURPR01A001.PROD.OUTLOOK.COM'."
        )));
        assert!(not_found(&r(404, "x")));
        assert!(!not_found(&r(
            403,
            "The user isn't authorized to run this cmdlet"
        )));
        assert!(already_present(&r(
            400,
            "An existing permission entry was found for user: x."
        )));
    }
}
