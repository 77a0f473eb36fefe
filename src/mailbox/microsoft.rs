//! The Microsoft mailbox checks and their fix (reference/exchange-admin.md):
//! - `user`: Graph `GET /users/{upn}`: exists, a member, sign-in not blocked;
//! - `licence`: `GET /users/{upn}/licenseDetails`: an `EXCHANGE_S_*` plan (not FOUNDATION) that
//!   is provisioned;
//! - `imap`, `pop`, `smtp_auth`: Exchange's `Get-CASMailbox`, and for SMTP AUTH the organisation's
//!   `Get-TransportConfig` (read once for any number of mailboxes). Only the protocols the spec's
//!   permissions use are checked.
//!
//! The reads of one mailbox do not depend on each other and are sent together; mailboxes are
//! checked a few at a time. Missing rights make a check null with the exact grant, never an error.

use futures::StreamExt as _;
use serde_json::{Value, json};

use super::{Check, Report};
use crate::error::{ErrorKind, Result};
use crate::http::Http;
use crate::microsoft::auth::GraphAuth;
use crate::microsoft::cloud::Endpoints;
use crate::microsoft::exchange::{Exchange, Refusal};
use crate::microsoft::graph::Graph;
use crate::microsoft::rights::MailboxRights;
use crate::microsoft::users::{LicenseDetail, User};
use crate::plan::{Action, Change, Plan};
use crate::spec::{Access, Right, Spec};

pub const PROVIDER: &str = "microsoft";

/// Mailboxes checked at the same time.
const CONCURRENCY: usize = 4;

/// The one-line grant of `User.Read.All` (application) to mailreg's identity.
pub const GRANT_USER_READ: &str = "az ad app permission add --id $AZURE_CLIENT_ID --api 00000003-0000-0000-c000-000000000000 --api-permissions df021288-bdef-4463-88db-98f22de89214=Role && az ad app permission admin-consent --id $AZURE_CLIENT_ID";
/// The grant of `Exchange.ManageAsApp` (Office 365 Exchange Online, application) with consent.
pub const GRANT_MANAGE_AS_APP: &str = "az ad app permission add --id $AZURE_CLIENT_ID --api 00000002-0000-0ff1-ce00-000000000000 --api-permissions dc50a0fb-09a3-484d-be87-e023b12c6440=Role && az ad app permission admin-consent --id $AZURE_CLIENT_ID";
/// The assignment of the Entra role Exchange Administrator to mailreg's service principal.
pub const GRANT_EXCHANGE_ROLE: &str = r#"az rest --method POST --url https://graph.microsoft.com/v1.0/roleManagement/directory/roleAssignments --body "{\"principalId\":\"$(az ad sp show --id $AZURE_CLIENT_ID --query id -o tsv)\",\"roleDefinitionId\":\"29232cdf-9323-42fd-ade2-1d097af3e4de\",\"directoryScopeId\":\"/\"}""#;

/// Which protocols the registration's permissions use.
#[derive(Clone, Copy, Debug)]
pub struct Protocols {
    pub imap: bool,
    pub pop: bool,
    pub smtp: bool,
}

impl Protocols {
    pub fn from_permissions(permissions: &[String]) -> Protocols {
        let has = |p: &str| permissions.iter().any(|x| x.eq_ignore_ascii_case(p));
        Protocols {
            imap: has("IMAP.AccessAsUser.All") || has("IMAP.AccessAsApp"),
            pop: has("POP.AccessAsUser.All") || has("POP.AccessAsApp"),
            smtp: has("SMTP.Send") || has("SMTP.SendAsApp"),
        }
    }
    /// App access: what one mailbox's rights open, with the app roles the permissions hold
    /// (`read` → IMAP/POP per `IMAP.AccessAsApp`/`POP.AccessAsApp`, `send` → SMTP per
    /// `SMTP.SendAsApp`). Below verify and readiness, which both judge by it.
    pub fn from_rights(rights: &[Right], permissions: &[String]) -> Protocols {
        let has = |p: &str| permissions.iter().any(|x| x.eq_ignore_ascii_case(p));
        let read = rights.contains(&Right::Read);
        Protocols {
            imap: read && has("IMAP.AccessAsApp"),
            pop: read && has("POP.AccessAsApp"),
            smtp: rights.contains(&Right::Send) && has("SMTP.SendAsApp"),
        }
    }

    pub fn any(self) -> bool {
        self.imap || self.pop || self.smtp
    }
}

/// A mailbox's `Get-CASMailbox` values.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Cas {
    imap: bool,
    pop: bool,
    smtp_auth_disabled: Option<bool>,
}

pub struct Checker {
    graph: Graph,
    exchange: Exchange,
    protocols: Protocols,
    name: String,
    env: String,
    /// App access: Exchange's service principal and the mailboxes' rights are checked too.
    app: Option<super::app_access::AppAccess>,
    /// App access: each mailbox's protocols follow its own rights.
    per_mailbox: Vec<(String, Protocols)>,
}

/// The outcome of one mailbox's reads, kept for the fix.
pub struct Checked {
    pub report: Report,
    cas: Option<Cas>,
}

impl Checker {
    pub fn new(spec: &Spec, http: &Http) -> Result<Checker> {
        let ms = spec
            .microsoft
            .as_ref()
            .ok_or_else(|| crate::error::Error::internal("no [microsoft] section"))?;
        let endpoints = Endpoints::for_cloud(ms.cloud)?;
        let auth = GraphAuth::from_env(http, &endpoints, &ms.tenant)?;
        let exchange = Exchange::new(http, ms.cloud, &ms.tenant, auth.clone())?;
        let app = match ms.access {
            Access::App => Some(super::app_access::AppAccess {
                rights: MailboxRights::new(spec, exchange.clone(), http.clock()),
                mailboxes: ms.app_mailboxes(),
                record: crate::credentials::Store::for_spec(&spec.file)
                    .load(&spec.name, &spec.env)
                    .ok()
                    .flatten()
                    .and_then(|r| r.microsoft),
            }),
            Access::Delegated => None,
        };
        let per_mailbox = ms
            .app_mailboxes()
            .into_iter()
            .map(|(m, rights)| {
                let p = Protocols::from_rights(&rights, &ms.permissions);
                (m, p)
            })
            .collect();
        Ok(Checker {
            app,
            per_mailbox,
            exchange,
            graph: Graph::new(http.clone(), endpoints, auth),
            protocols: Protocols::from_permissions(&ms.permissions),
            name: spec.name.clone(),
            env: spec.env.clone(),
        })
    }

    /// Checks every mailbox: the organisation's transport config once, each mailbox's three
    /// reads together, [`CONCURRENCY`] mailboxes at a time.
    pub async fn check(&self, users: &[String]) -> Result<Vec<Checked>> {
        let transport = async {
            if self.protocols.smtp && !users.is_empty() {
                Some(
                    self.exchange
                        .invoke("Get-TransportConfig", json!({}), None)
                        .await,
                )
            } else {
                None
            }
        };
        // Boxed one by one: the stream's closure over `&String` would otherwise make this
        // future not `Send` for every lifetime, which the engine's resources must be.
        let reads: Vec<futures::future::BoxFuture<'_, Result<Reads>>> = users
            .iter()
            .map(|u| Box::pin(self.read(u)) as futures::future::BoxFuture<'_, _>)
            .collect();
        let mailboxes = futures::stream::iter(reads)
            .buffered(CONCURRENCY)
            .collect::<Vec<_>>();
        let app = async {
            match &self.app {
                Some(a) => a.checks(users).await.map(Some),
                None => Ok(None),
            }
        };
        let (transport, mailboxes, app) = tokio::join!(transport, mailboxes, app);
        let mut app = app?.unwrap_or_default();
        let org_smtp_disabled = match transport {
            None => Ok(None),
            Some(Ok(Ok(values))) => Ok(values
                .first()
                .and_then(|v| v.get("SmtpClientAuthenticationDisabled"))
                .and_then(Value::as_bool)),
            Some(Ok(Err(refusal))) => Err(refusal),
            Some(Err(e)) => return Err(e),
        };
        let mut out = Vec::new();
        for (user, reads) in users.iter().zip(mailboxes) {
            let mut c = self.judge(user, reads?, &org_smtp_disabled);
            if let Some(i) = app.iter().position(|(m, _)| m.eq_ignore_ascii_case(user)) {
                let (_, extra) = app.remove(i);
                let mut checks = c.report.checks.clone();
                checks.extend(extra);
                c.report = Report::new(user, PROVIDER, checks);
            }
            out.push(c);
        }
        Ok(out)
    }

    /// The protocols checked for a mailbox: its rights' with app access, else the permissions'.
    fn protocols_for(&self, upn: &str) -> Protocols {
        self.per_mailbox
            .iter()
            .find(|(m, _)| m.eq_ignore_ascii_case(upn))
            .map(|(_, p)| *p)
            .unwrap_or(self.protocols)
    }

    async fn read(&self, upn: &str) -> Result<Reads> {
        let cas = async {
            if self.protocols_for(upn).any() {
                let anchor = format!("UPN:{upn}");
                Some(
                    self.exchange
                        .invoke("Get-CASMailbox", json!({"Identity": upn}), Some(&anchor))
                        .await,
                )
            } else {
                None
            }
        };
        let (user, licences, cas) =
            tokio::join!(self.graph.user(upn), self.graph.license_details(upn), cas);
        // Signing in failed: nothing can be checked, and the run says so (exit 4).
        let user = match user {
            Err(e) if signin_failed(&e) => return Err(e),
            other => other,
        };
        let licences = match licences {
            Err(e) if signin_failed(&e) => return Err(e),
            other => other,
        };
        let cas = match cas {
            Some(Err(e)) if signin_failed(&e) => return Err(e),
            Some(Err(e)) => Some(Err(Refusal {
                status: 0,
                message: e.message,
            })),
            Some(Ok(r)) => Some(r),
            None => None,
        };
        Ok(Reads {
            user,
            licences,
            cas,
        })
    }

    fn judge(
        &self,
        upn: &str,
        reads: Reads,
        org_smtp_disabled: &std::result::Result<Option<bool>, Refusal>,
    ) -> Checked {
        let mut checks = vec![
            user_check(&reads.user),
            licence_check(&reads.licences, &reads.user),
        ];
        let mut cas = None;
        let no_user = matches!(&reads.user, Err(e) if e.status == Some(404));
        if no_user {
            let p = self.protocols_for(upn);
            for (on, name) in [(p.imap, "imap"), (p.pop, "pop"), (p.smtp, "smtp_auth")] {
                if on {
                    checks.push(Check::unknown(
                        name,
                        "the user does not exist",
                        "fix the user first",
                    ));
                }
            }
        } else if let Some(answer) = &reads.cas {
            let p = self.protocols_for(upn);
            match answer {
                Ok(values) => {
                    let v = values.first().cloned().unwrap_or(Value::Null);
                    let c = Cas {
                        imap: v
                            .get("ImapEnabled")
                            .and_then(Value::as_bool)
                            .unwrap_or(false),
                        pop: v
                            .get("PopEnabled")
                            .and_then(Value::as_bool)
                            .unwrap_or(false),
                        smtp_auth_disabled: v
                            .get("SmtpClientAuthenticationDisabled")
                            .and_then(Value::as_bool),
                    };
                    cas = Some(c);
                    if p.imap {
                        checks.push(protocol_check("imap", "IMAP", c.imap, "-ImapEnabled $true"));
                    }
                    if p.pop {
                        checks.push(protocol_check("pop", "POP", c.pop, "-PopEnabled $true"));
                    }
                    if p.smtp {
                        checks.push(smtp_check(c.smtp_auth_disabled, org_smtp_disabled));
                    }
                }
                Err(refusal) => {
                    for (on, name) in [(p.imap, "imap"), (p.pop, "pop"), (p.smtp, "smtp_auth")] {
                        if on {
                            checks.push(refused_check(name, refusal));
                        }
                    }
                }
            }
        }
        Checked {
            report: Report::new(upn, PROVIDER, checks),
            cas,
        }
    }

    /// One `Set-CASMailbox` per mailbox that has a protocol switched off: the plan, and the
    /// writes that carry it out.
    pub fn fix_plan(&self, checked: &[Checked]) -> (Plan, Vec<CasFix>) {
        let mut plan = Plan::new(&self.name, &self.env);
        let mut fixes = Vec::new();
        for c in checked {
            let Some(cas) = c.cas else { continue };
            let user = &c.report.user;
            let mut change = Change::new(PROVIDER, "cas_mailbox", Action::Update)
                .address(format!("microsoft.cas_mailbox[{user}]"))
                .id(user.clone());
            let mut fix = CasFix {
                user: user.clone(),
                params: serde_json::Map::from_iter([("Identity".into(), json!(user))]),
                checks: Vec::new(),
            };
            let settings = [
                ("imap", "ImapEnabled", json!(cas.imap), json!(true)),
                ("pop", "PopEnabled", json!(cas.pop), json!(true)),
                (
                    "smtp_auth",
                    "SmtpClientAuthenticationDisabled",
                    json!(cas.smtp_auth_disabled),
                    json!(false),
                ),
            ];
            for (check, param, before, after) in settings {
                if c.report.check(check).is_some_and(|k| k.ok == Some(false)) {
                    change = change.field(param, before, after.clone());
                    fix.params.insert(param.into(), after);
                    fix.checks.push(check);
                }
            }
            if !fix.checks.is_empty() {
                plan.changes.push(change);
                fixes.push(fix);
            }
        }
        (plan, fixes)
    }

    /// Sends one `Set-CASMailbox`.
    pub async fn set_cas(&self, fix: &CasFix) -> Result<()> {
        let user = &fix.user;
        let anchor = format!("UPN:{user}");
        let params = Value::Object(fix.params.clone());
        match self
            .exchange
            .invoke("Set-CASMailbox", params, Some(&anchor))
            .await?
        {
            Ok(_) => Ok(()),
            Err(r) => Err(crate::error::Error::api(format!(
                "Set-CASMailbox {user}: HTTP {}: {}",
                r.status, r.message
            ))),
        }
    }
}

/// One mailbox's `Set-CASMailbox`: its parameters, and the checks it makes pass.
pub struct CasFix {
    pub user: String,
    params: serde_json::Map<String, Value>,
    pub checks: Vec<&'static str>,
}

struct Reads {
    user: Result<User>,
    licences: Result<Vec<LicenseDetail>>,
    cas: Option<std::result::Result<Vec<Value>, Refusal>>,
}

/// mailreg could not sign in at all (no answer from an API involved).
fn signin_failed(e: &crate::error::Error) -> bool {
    e.kind == ErrorKind::Auth && e.status.is_none()
}

fn graph_denied(e: &crate::error::Error) -> bool {
    e.status == Some(403)
}

fn user_check(user: &Result<User>) -> Check {
    match user {
        Ok(u) if u.account_enabled == Some(false) => Check::fail(
            "user",
            format!(
                "{} exists but sign-in is blocked (accountEnabled false)",
                u.user_principal_name
            ),
            format!(
                "unblock sign-in: az ad user update --id {} --account-enabled true",
                u.user_principal_name
            ),
        ),
        Ok(u)
            if u.user_type
                .as_deref()
                .is_some_and(|t| t.eq_ignore_ascii_case("Guest")) =>
        {
            Check::fail(
                "user",
                format!(
                    "{} is a guest: its mailbox is in its home tenant, not this one",
                    u.user_principal_name
                ),
                "check the mailbox in the tenant that holds it",
            )
        }
        Ok(u) => Check::pass(
            "user",
            format!("{} exists and can sign in", u.user_principal_name),
        ),
        Err(e) if e.status == Some(404) => Check::fail(
            "user",
            "no such user in the directory",
            "check the address (the user principal name), or create the user",
        ),
        Err(e) if graph_denied(e) => Check::unknown(
            "user",
            "mailreg's identity may not read users: it needs the Microsoft Graph application permission User.Read.All",
            GRANT_USER_READ,
        ),
        Err(e) => Check::unknown(
            "user",
            format!("could not read the user: {}", e.message),
            "run the check again",
        ),
    }
}

/// Exchange Online plans that give a mailbox; FOUNDATION is bundled in non-mail SKUs and does not.
fn is_mailbox_plan(name: &str) -> bool {
    name.starts_with("EXCHANGE_S_") && name != "EXCHANGE_S_FOUNDATION"
}

fn licence_check(licences: &Result<Vec<LicenseDetail>>, user: &Result<User>) -> Check {
    const ASSIGN: &str = "assign a licence that includes Exchange Online (e.g. Exchange Online Plan 1, Microsoft 365 Business Basic, Office 365 E3) in the Microsoft 365 admin center: Users > Active users > the user > Licenses and apps. mailreg never assigns licences: they cost money";
    let list = match licences {
        Ok(l) => l,
        Err(_) if matches!(user, Err(e) if e.status == Some(404)) => {
            return Check::unknown("licence", "the user does not exist", "fix the user first");
        }
        Err(e) if graph_denied(e) => {
            return Check::unknown(
                "licence",
                "mailreg's identity may not read licences: it needs the Microsoft Graph application permission User.Read.All",
                GRANT_USER_READ,
            );
        }
        Err(e) => {
            return Check::unknown(
                "licence",
                format!("could not read the licences: {}", e.message),
                "run the check again",
            );
        }
    };
    let mut good = Vec::new();
    let mut off = Vec::new();
    for l in list {
        for p in l
            .service_plans
            .iter()
            .filter(|p| is_mailbox_plan(&p.service_plan_name))
        {
            let at = format!("{} ({})", p.service_plan_name, l.sku_part_number);
            if p.provisioning_status == "Success" {
                good.push(at);
            } else {
                off.push(format!("{at} is {}", p.provisioning_status));
            }
        }
    }
    if !good.is_empty() {
        return Check::pass("licence", format!("Exchange Online: {}", good.join(", ")));
    }
    if !off.is_empty() {
        return Check::fail(
            "licence",
            format!("Exchange Online is not provisioned: {}", off.join(", ")),
            "switch the Exchange Online service on in the user's licence (Users > Active users > the user > Licenses and apps), or wait for provisioning",
        );
    }
    let skus: Vec<&str> = list.iter().map(|l| l.sku_part_number.as_str()).collect();
    let found = if skus.is_empty() {
        "no licence at all".to_owned()
    } else {
        format!("licences without Exchange Online: {}", skus.join(", "))
    };
    Check::fail("licence", format!("no mailbox licence ({found})"), ASSIGN)
}

fn protocol_check(check: &'static str, label: &str, on: bool, flag: &str) -> Check {
    if on {
        Check::pass(check, format!("{label} is enabled for the mailbox"))
    } else {
        Check::fail(
            check,
            format!("{label} is disabled for the mailbox"),
            format!(
                "mailreg mailbox check --fix (Set-CASMailbox {flag}), or in the Microsoft 365 admin center: Users > Active users > the user > Mail > Email apps"
            ),
        )
    }
}

fn smtp_check(mailbox: Option<bool>, org: &std::result::Result<Option<bool>, Refusal>) -> Check {
    const FIX: &str = "mailreg mailbox check --fix (Set-CASMailbox -SmtpClientAuthenticationDisabled $false), or Users > Active users > the user > Mail > Email apps > Authenticated SMTP";
    match (mailbox, org) {
        (Some(false), _) => Check::pass("smtp_auth", "SMTP AUTH is enabled for the mailbox"),
        (Some(true), _) => Check::fail("smtp_auth", "SMTP AUTH is disabled for the mailbox", FIX),
        (None, Ok(Some(true))) => Check::fail(
            "smtp_auth",
            "SMTP AUTH is disabled for the organisation, and the mailbox follows it",
            FIX,
        ),
        (None, Ok(_)) => Check::pass(
            "smtp_auth",
            "SMTP AUTH is enabled for the organisation, and the mailbox follows it",
        ),
        (None, Err(r)) => refused_check("smtp_auth", r),
    }
}

/// A protocol check the endpoint would not answer: the grant, or the reason.
fn refused_check(check: &'static str, r: &Refusal) -> Check {
    match r.status {
        401 => Check::unknown(
            check,
            format!(
                "mailreg's identity may not call Exchange Online's admin endpoint (HTTP 401: {}): it needs the application permission Exchange.ManageAsApp of Office 365 Exchange Online and the Entra role Exchange Administrator",
                r.message
            ),
            format!("{GRANT_MANAGE_AS_APP} && {GRANT_EXCHANGE_ROLE}"),
        ),
        403 => Check::unknown(
            check,
            format!(
                "mailreg's identity holds no Exchange role (HTTP 403: {}): it needs the Entra role Exchange Administrator",
                r.message
            ),
            GRANT_EXCHANGE_ROLE,
        ),
        404 => Check::fail(
            check,
            format!("no mailbox in Exchange Online: {}", r.message),
            "assign a licence with Exchange Online; Exchange creates the mailbox within minutes",
        ),
        0 => Check::unknown(
            check,
            format!("could not reach Exchange Online: {}", r.message),
            "run the check again",
        ),
        s => Check::unknown(
            check,
            format!("Exchange Online answered HTTP {s}: {}", r.message),
            "run the check again",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::microsoft::users::ServicePlan;

    fn lic(sku: &str, plans: &[(&str, &str)]) -> LicenseDetail {
        LicenseDetail {
            sku_part_number: sku.into(),
            service_plans: plans
                .iter()
                .map(|(n, s)| ServicePlan {
                    service_plan_name: (*n).into(),
                    provisioning_status: (*s).into(),
                })
                .collect(),
        }
    }

    #[test]
    fn foundation_is_not_a_mailbox_and_disabled_plans_are_named() {
        let user = Err(crate::error::Error::api("unused"));
        let c = licence_check(
            &Ok(vec![lic(
                "POWER_BI_PRO",
                &[("EXCHANGE_S_FOUNDATION", "Success")],
            )]),
            &user,
        );
        assert_eq!(c.ok, Some(false));
        assert_eq!(
            c.detail,
            "no mailbox licence (licences without Exchange Online: POWER_BI_PRO)"
        );
        let c = licence_check(
            &Ok(vec![lic(
                "SPE_E3",
                &[("EXCHANGE_S_ENTERPRISE", "Disabled")],
            )]),
            &user,
        );
        assert_eq!(
            c.detail,
            "Exchange Online is not provisioned: EXCHANGE_S_ENTERPRISE (SPE_E3) is Disabled"
        );
        let c = licence_check(
            &Ok(vec![lic("SPE_E3", &[("EXCHANGE_S_ENTERPRISE", "Success")])]),
            &user,
        );
        assert_eq!(
            c,
            Check::pass("licence", "Exchange Online: EXCHANGE_S_ENTERPRISE (SPE_E3)")
        );
    }

    #[test]
    fn smtp_follows_the_organisation_unless_the_mailbox_says_otherwise() {
        assert_eq!(smtp_check(Some(false), &Ok(Some(true))).ok, Some(true));
        assert_eq!(smtp_check(Some(true), &Ok(Some(false))).ok, Some(false));
        assert_eq!(smtp_check(None, &Ok(Some(true))).ok, Some(false));
        assert_eq!(smtp_check(None, &Ok(Some(false))).ok, Some(true));
        let r = Refusal {
            status: 403,
            message: "no role".into(),
        };
        let c = smtp_check(None, &Err(r));
        assert_eq!((c.ok, c.fix.as_deref()), (None, Some(GRANT_EXCHANGE_ROLE)));
    }
}
