//! Exchange Online's admin REST endpoint, `POST /adminapi/beta/{tenantId}/InvokeCommand`, for
//! the cmdlets mailreg's mailbox checks call: `Get-CASMailbox`, `Set-CASMailbox` and
//! `Get-TransportConfig` (shapes: reference/exchange-admin.md).
//!
//! Tokens are the directory's own (the Graph fake's token endpoint issues them for any
//! `https://host/.default`); the audience must be Exchange Online's. The operator's rights are a
//! setting ([`ExchangeAccess`]) so tests can rehearse the 401 without `Exchange.ManageAsApp`
//! and the 403 without an Exchange role. A `Set-CASMailbox` change shows in `Get-CASMailbox`
//! only after [`ExchangeState::propagation`] (real time), to rehearse the wait Exchange imposes;
//! [`ExchangeState::effective`] tells test fakes of IMAP/POP servers what a login would see.
//!
//! INFERRED: statuses and texts of the error answers (the reference gives their shape and
//! meaning, not verbatim bodies), and the `@odata.context` values.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::graph::{GraphState, Licence};
use crate::wire::{EmuRequest, EmuResponse};

/// The resources an Exchange token may be for (global and national clouds).
const EXCHANGE_AUDIENCES: [&str; 4] = [
    "https://outlook.office365.com",
    "https://outlook.office365.us",
    "https://webmail.apps.mil",
    "https://partner.outlook.cn",
];

/// A mailbox's client access settings (`Get-CASMailbox`). `smtp_auth_disabled: None` follows
/// the organisation's `Get-TransportConfig` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cas {
    pub imap: bool,
    pub pop: bool,
    pub smtp_auth_disabled: Option<bool>,
}

impl Default for Cas {
    fn default() -> Self {
        Cas {
            imap: true,
            pop: true,
            smtp_auth_disabled: None,
        }
    }
}

/// What the operator may do on the endpoint.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ExchangeAccess {
    /// `Exchange.ManageAsApp` and the Exchange Administrator role.
    #[default]
    Admin,
    /// No `Exchange.ManageAsApp` application permission: 401.
    NoPermission,
    /// The permission but no Exchange role: 403.
    NoRole,
}

struct MailboxRec {
    upn: String,
    current: Cas,
    /// Changes made by `Set-CASMailbox`, visible from the given time on.
    pending: Vec<(OffsetDateTime, Cas)>,
}

/// The emulated Exchange Online organisation.
pub struct ExchangeState {
    mailboxes: BTreeMap<String, MailboxRec>,
    /// `Get-TransportConfig`'s `SmtpClientAuthenticationDisabled` (true in newer tenants).
    pub org_smtp_auth_disabled: bool,
    pub access: ExchangeAccess,
    /// How long a `Set-CASMailbox` change takes to show (real time).
    pub propagation: Duration,
    /// App-only access: Exchange's service principals and mailbox rights.
    pub app: crate::exchange_app::AppAccessState,
}

impl Default for ExchangeState {
    fn default() -> Self {
        ExchangeState {
            mailboxes: BTreeMap::new(),
            org_smtp_auth_disabled: true,
            access: ExchangeAccess::Admin,
            propagation: Duration::ZERO,
            app: Default::default(),
        }
    }
}

/// A mailbox user to seed in both the directory and Exchange.
#[derive(Clone, Debug)]
pub struct MailboxSeed {
    pub upn: String,
    pub account_enabled: bool,
    pub licences: Vec<Licence>,
    pub cas: Cas,
}

impl MailboxSeed {
    /// Enabled, licensed with Exchange Online Plan 1, IMAP and POP on, SMTP AUTH as the org.
    pub fn ready(upn: &str) -> MailboxSeed {
        MailboxSeed {
            upn: upn.into(),
            account_enabled: true,
            licences: vec![Licence::with_plan(
                "O365_BUSINESS_PREMIUM",
                "EXCHANGE_S_STANDARD",
            )],
            cas: Cas::default(),
        }
    }
}

pub(crate) struct XErr {
    status: u16,
    code: &'static str,
    detail: String,
    exception: Option<&'static str>,
}

pub(crate) fn xerr(status: u16, code: &'static str, detail: impl Into<String>) -> XErr {
    XErr {
        status,
        code,
        detail: detail.into(),
        exception: None,
    }
}

impl ExchangeState {
    pub fn add(&mut self, upn: &str, cas: Cas) {
        self.mailboxes.insert(
            upn.to_ascii_lowercase(),
            MailboxRec {
                upn: upn.to_owned(),
                current: cas,
                pending: Vec::new(),
            },
        );
    }

    /// The settings in force for a mailbox at `now` (pending changes that are due applied).
    pub fn effective(&mut self, upn: &str, now: OffsetDateTime) -> Option<Cas> {
        let rec = self.mailboxes.get_mut(&upn.to_ascii_lowercase())?;
        let (due, later): (Vec<_>, Vec<_>) = rec.pending.drain(..).partition(|(at, _)| *at <= now);
        for (_, cas) in due {
            rec.current = cas;
        }
        rec.pending = later;
        Some(rec.current)
    }

    /// Handles `/adminapi/…`; `None` for other paths.
    pub fn handle(
        &mut self,
        req: &EmuRequest,
        now: OffsetDateTime,
        graph: &GraphState,
    ) -> Option<EmuResponse> {
        let rest = req.path.strip_prefix("/adminapi/")?;
        let answer = self.invoke(req, rest, now, graph);
        Some(match answer {
            Ok(v) => EmuResponse::json(200, &v),
            Err(e) => {
                let mut err = json!({"code": e.code, "message": "Error executing cmdlet",
                    "details": [{"code": "Context", "target": "", "message": e.detail}]});
                if let Some(ex) = e.exception {
                    err["innererror"] = json!({"message": e.detail, "type": ex,
                        "internalException": {"message": e.detail}});
                }
                EmuResponse::json(e.status, &json!({ "error": err }))
            }
        })
    }

    fn invoke(
        &mut self,
        req: &EmuRequest,
        rest: &str,
        now: OffsetDateTime,
        graph: &GraphState,
    ) -> Result<Value, XErr> {
        let segs: Vec<&str> = rest.split('/').collect();
        let ["beta", tenant, "InvokeCommand"] = segs.as_slice() else {
            return Err(xerr(
                404,
                "NotFound",
                format!("no such endpoint: {}", req.path),
            ));
        };
        if req.method != "POST" {
            return Err(xerr(
                405,
                "MethodNotAllowed",
                "InvokeCommand only accepts POST",
            ));
        }
        let aud = req
            .bearer()
            .and_then(|t| graph.token_audience(t.trim(), now));
        let Some(aud) = aud else {
            return Err(xerr(
                401,
                "Unauthorized",
                "The access token is missing, invalid or expired.",
            ));
        };
        if !EXCHANGE_AUDIENCES.contains(&aud.trim_end_matches('/')) {
            return Err(xerr(
                401,
                "Unauthorized",
                format!(
                    "The access token is for {aud}, not Exchange Online (https://outlook.office365.com)."
                ),
            ));
        }
        let cfg = graph.config();
        if !(tenant.eq_ignore_ascii_case(&cfg.tenant_id)
            || tenant.eq_ignore_ascii_case(&cfg.tenant_domain))
        {
            return Err(xerr(
                400,
                "BadRequest",
                format!("The tenant '{tenant}' does not match the token's tenant."),
            ));
        }
        let body = req.json().unwrap_or_default();
        let input = &body["CmdletInput"];
        let name = input["CmdletName"].as_str().unwrap_or_default();
        let params = &input["Parameters"];
        match self.access {
            ExchangeAccess::NoPermission => {
                return Err(xerr(
                    401,
                    "Unauthorized",
                    "The application does not hold the Exchange.ManageAsApp permission of Office 365 Exchange Online.",
                ));
            }
            ExchangeAccess::NoRole => {
                return Err(xerr(
                    403,
                    "Forbidden",
                    format!(
                        "The calling application isn't assigned to any management roles that allow '{name}'."
                    ),
                ));
            }
            ExchangeAccess::Admin => {}
        }
        let context = format!(
            "https://outlook.office365.com/adminapi/beta/{}/$metadata#{}",
            cfg.tenant_id,
            name.trim_start_matches("Get-")
        );
        match name {
            "Get-TransportConfig" => Ok(json!({"@odata.context": context,
                "value": [{"SmtpClientAuthenticationDisabled": self.org_smtp_auth_disabled}]})),
            "Get-CASMailbox" => {
                let id = identity(params)?;
                let cas = self.effective(id, now).ok_or_else(|| not_found(id))?;
                let upn = self.mailboxes[&id.to_ascii_lowercase()].upn.clone();
                Ok(json!({"@odata.context": context, "value": [{
                    "Identity": upn.split('@').next().unwrap_or_default(),
                    "PrimarySmtpAddress": upn,
                    "ImapEnabled": cas.imap,
                    "PopEnabled": cas.pop,
                    "SmtpClientAuthenticationDisabled": cas.smtp_auth_disabled,
                }]}))
            }
            "Set-CASMailbox" => {
                let id = identity(params)?.to_owned();
                let mut cas = self.effective(&id, now).ok_or_else(|| not_found(&id))?;
                let rec = self
                    .mailboxes
                    .get_mut(&id.to_ascii_lowercase())
                    .expect("found above");
                // A change builds on the last one made, visible or not.
                if let Some((_, last)) = rec.pending.last() {
                    cas = *last;
                }
                let flag = |k: &str| params.get(k).and_then(Value::as_bool);
                if let Some(v) = flag("ImapEnabled") {
                    cas.imap = v;
                }
                if let Some(v) = flag("PopEnabled") {
                    cas.pop = v;
                }
                match params.get("SmtpClientAuthenticationDisabled") {
                    Some(Value::Bool(b)) => cas.smtp_auth_disabled = Some(*b),
                    Some(Value::Null) => cas.smtp_auth_disabled = None,
                    _ => {}
                }
                let at = now
                    + time::Duration::try_from(self.propagation).unwrap_or(time::Duration::ZERO);
                rec.pending.push((at, cas));
                Ok(json!({"@odata.context": context, "value": []}))
            }
            other => {
                let mailboxes = &self.mailboxes;
                let exists = |m: &str| mailboxes.contains_key(&m.to_ascii_lowercase());
                match self.app.run(other, params, &context, graph, exists) {
                    Some(answer) => answer,
                    None => Err(xerr(
                        400,
                        "BadRequest",
                        format!(
                            "The term '{other}' is not recognized as a cmdlet served by the emulator."
                        ),
                    )),
                }
            }
        }
    }
}

fn identity(params: &Value) -> Result<&str, XErr> {
    params["Identity"]
        .as_str()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            xerr(
                400,
                "BadRequest",
                "Cannot bind argument to parameter 'Identity' because it is null.",
            )
        })
}

pub(crate) fn not_found(id: &str) -> XErr {
    XErr {
        status: 404,
        code: "NotFound",
        detail: format!(
            "The operation couldn't be performed because object '{id}' couldn't be found on 'EMULATOR01A001.PROD.OUTLOOK.COM'."
        ),
        exception: Some("Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::GraphConfig;

    fn token(graph: &mut GraphState, resource: &str, now: OffsetDateTime) -> String {
        let cfg = GraphConfig::default();
        let (id, secret) = cfg.principals[0].clone();
        let req = EmuRequest {
            method: "POST".into(),
            path: "/contoso.onmicrosoft.com/oauth2/v2.0/token".into(),
            body: format!("grant_type=client_credentials&client_id={id}&client_secret={secret}&scope={resource}/.default").into_bytes(),
            ..Default::default()
        };
        let answer = graph.handle(&req, now).unwrap().body_json().unwrap();
        answer["access_token"].as_str().unwrap().to_owned()
    }

    fn call(
        x: &mut ExchangeState,
        g: &GraphState,
        token: &str,
        cmdlet: &str,
        params: Value,
        now: OffsetDateTime,
    ) -> EmuResponse {
        let req = EmuRequest {
            method: "POST".into(),
            path: format!("/adminapi/beta/{}/InvokeCommand", g.config().tenant_id),
            headers: vec![("authorization".into(), format!("Bearer {token}"))],
            body: json!({"CmdletInput": {"CmdletName": cmdlet, "Parameters": params}})
                .to_string()
                .into_bytes(),
            ..Default::default()
        };
        x.handle(&req, now, g).unwrap()
    }

    #[test]
    fn set_cas_mailbox_shows_after_the_propagation_delay() {
        let now = OffsetDateTime::now_utc();
        let mut g = GraphState::new(GraphConfig::default());
        let t = token(&mut g, "https://outlook.office365.com", now);
        let mut x = ExchangeState {
            propagation: Duration::from_secs(60),
            ..Default::default()
        };
        x.add(
            "a@contoso.onmicrosoft.com",
            Cas {
                imap: false,
                pop: false,
                smtp_auth_disabled: None,
            },
        );
        let get = |x: &mut ExchangeState, at| {
            call(
                x,
                &g,
                &t,
                "Get-CASMailbox",
                json!({"Identity": "A@contoso.onmicrosoft.com"}),
                at,
            )
            .body_json()
            .unwrap()["value"][0]
                .clone()
        };
        assert_eq!(get(&mut x, now)["ImapEnabled"], false);
        let set = call(
            &mut x,
            &g,
            &t,
            "Set-CASMailbox",
            json!({"Identity": "a@contoso.onmicrosoft.com", "ImapEnabled": true}),
            now,
        );
        assert_eq!(set.status, 200);
        assert_eq!(
            get(&mut x, now + time::Duration::seconds(59))["ImapEnabled"],
            false
        );
        let after = get(&mut x, now + time::Duration::seconds(60));
        assert_eq!(
            (&after["ImapEnabled"], &after["PopEnabled"]),
            (&json!(true), &json!(false))
        );
        assert_eq!(after["PrimarySmtpAddress"], "a@contoso.onmicrosoft.com");
        let cfg = call(&mut x, &g, &t, "Get-TransportConfig", json!({}), now)
            .body_json()
            .unwrap();
        assert_eq!(cfg["value"][0]["SmtpClientAuthenticationDisabled"], true);
        let missing = call(
            &mut x,
            &g,
            &t,
            "Get-CASMailbox",
            json!({"Identity": "b@x.test"}),
            now,
        );
        assert_eq!(missing.status, 404);
        assert!(
            missing
                .to_string()
                .contains("ManagementObjectNotFoundException")
        );
    }

    #[test]
    fn wrong_audience_no_permission_and_no_role_are_refused() {
        let now = OffsetDateTime::now_utc();
        let mut g = GraphState::new(GraphConfig::default());
        let graph_token = token(&mut g, "https://graph.microsoft.com", now);
        let t = token(&mut g, "https://outlook.office365.com", now);
        let mut x = ExchangeState::default();
        assert_eq!(
            call(
                &mut x,
                &g,
                &graph_token,
                "Get-TransportConfig",
                json!({}),
                now
            )
            .status,
            401
        );
        assert_eq!(
            call(&mut x, &g, "forged", "Get-TransportConfig", json!({}), now).status,
            401
        );
        x.access = ExchangeAccess::NoPermission;
        assert_eq!(
            call(&mut x, &g, &t, "Get-TransportConfig", json!({}), now).status,
            401
        );
        x.access = ExchangeAccess::NoRole;
        let r = call(&mut x, &g, &t, "Get-TransportConfig", json!({}), now);
        assert_eq!(r.status, 403);
        assert!(
            r.to_string()
                .contains("isn't assigned to any management roles"),
            "{r}"
        );
    }
}
