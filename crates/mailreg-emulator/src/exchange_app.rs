//! Exchange Online's side of app-only access, on the admin endpoint: Exchange's record of an
//! Entra service principal (`New-`/`Get-`/`Remove-ServicePrincipal`) and the mailbox rights
//! given to it (`Add-`/`Get-`/`Remove-MailboxPermission` FullAccess, `…-RecipientPermission`
//! SendAs). Shapes follow the cmdlets' documented output objects; error texts follow the
//! admin endpoint's "couldn't be found" form (INFERRED verbatim).
//!
//! `New-ServicePrincipal` checks what the real one is known for: the `ObjectId` must be a service
//! principal the directory has, of that `AppId` (the app registration's object ID is refused);
//! and right after Graph made it, Exchange may not see it yet ([`AppAccessState::sp_lag`]).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::exchange::{XErr, not_found, xerr};
use crate::graph::GraphState;

/// One of Exchange's service principal records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExchangePrincipal {
    pub app_id: String,
    pub object_id: String,
    pub display_name: String,
}

/// A right on a mailbox: `FullAccess` (mailbox permission) or `SendAs` (recipient permission).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailboxRight {
    /// The trustee's object ID (the service principal's).
    pub trustee: String,
    pub right: &'static str,
}

#[derive(Default)]
pub struct AppAccessState {
    pub principals: Vec<ExchangePrincipal>,
    /// Rights per mailbox (lower-cased address).
    pub rights: BTreeMap<String, Vec<MailboxRight>>,
    /// How many more `New-ServicePrincipal` calls fail as if Exchange did not see the Entra
    /// service principal yet (replication behind Graph).
    pub sp_lag: u32,
}

fn text(params: &Value, key: &str) -> Option<String> {
    params
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn required(params: &Value, key: &str) -> Result<String, XErr> {
    text(params, key).ok_or_else(|| {
        xerr(
            400,
            "BadRequest",
            format!("Cannot bind argument to parameter '{key}' because it is null."),
        )
    })
}

fn rights_listed(params: &Value) -> Vec<String> {
    match params.get("AccessRights") {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

impl AppAccessState {
    fn principal(&self, identity: &str) -> Option<&ExchangePrincipal> {
        self.principals.iter().find(|p| {
            p.app_id.eq_ignore_ascii_case(identity)
                || p.object_id.eq_ignore_ascii_case(identity)
                || p.display_name == identity
        })
    }

    /// The object ID a trustee names (an app ID or object ID Exchange knows).
    fn trustee(&self, who: &str) -> Result<String, XErr> {
        self.principal(who)
            .map(|p| p.object_id.clone())
            .ok_or_else(|| not_found(who))
    }

    /// Runs one of the cmdlets above; `None` when `name` is none of them.
    pub(crate) fn run(
        &mut self,
        name: &str,
        params: &Value,
        context: &str,
        graph: &GraphState,
        mailbox_exists: impl Fn(&str) -> bool,
    ) -> Option<Result<Value, XErr>> {
        let out = |v: Vec<Value>| Ok(json!({"@odata.context": context, "value": v}));
        let mailbox = |params: &Value| -> Result<String, XErr> {
            let id = required(params, "Identity")?;
            match mailbox_exists(&id) {
                true => Ok(id.to_ascii_lowercase()),
                false => Err(not_found(&id)),
            }
        };
        Some(match name {
            "Get-ServicePrincipal" => match text(params, "Identity") {
                None => out(self.principals.iter().map(principal_json).collect()),
                Some(id) => match self.principal(&id) {
                    Some(p) => out(vec![principal_json(p)]),
                    None => Err(not_found(&id)),
                },
            },
            "New-ServicePrincipal" => (|| {
                let app_id = required(params, "AppId")?;
                let object_id = text(params, "ObjectId")
                    .or_else(|| text(params, "ServiceId"))
                    .ok_or_else(|| required(params, "ObjectId").unwrap_err())?;
                let known = graph.service_principals().into_iter().any(|sp| {
                    sp["id"]
                        .as_str()
                        .is_some_and(|i| i.eq_ignore_ascii_case(&object_id))
                        && sp["appId"]
                            .as_str()
                            .is_some_and(|a| a.eq_ignore_ascii_case(&app_id))
                });
                if !known || self.sp_lag > 0 {
                    self.sp_lag = self.sp_lag.saturating_sub(1);
                    return Err(xerr(
                        400,
                        "BadRequest",
                        format!(
                            "The service principal with ObjectId '{object_id}' and AppId '{app_id}' couldn't be found in the directory."
                        ),
                    ));
                }
                if self.principal(&app_id).is_some() {
                    return Err(xerr(
                        400,
                        "BadRequest",
                        format!("A service principal with AppId '{app_id}' already exists."),
                    ));
                }
                let p = ExchangePrincipal {
                    app_id,
                    display_name: text(params, "DisplayName").unwrap_or_else(|| object_id.clone()),
                    object_id,
                };
                let v = principal_json(&p);
                self.principals.push(p);
                out(vec![v])
            })(),
            "Remove-ServicePrincipal" => (|| {
                let id = required(params, "Identity")?;
                let p = self.principal(&id).cloned().ok_or_else(|| not_found(&id))?;
                self.principals.retain(|x| *x != p);
                out(Vec::new())
            })(),
            "Get-MailboxPermission" | "Get-RecipientPermission" => (|| {
                let mbx = mailbox(params)?;
                let (key, right) = match name {
                    "Get-MailboxPermission" => ("User", "FullAccess"),
                    _ => ("Trustee", "SendAs"),
                };
                let filter = match text(params, key) {
                    Some(who) => Some(self.trustee(&who)?),
                    None => None,
                };
                let entries = self
                    .rights
                    .get(&mbx)
                    .map(|v| v.as_slice())
                    .unwrap_or_default()
                    .iter()
                    .filter(|r| r.right == right)
                    .filter(|r| {
                        filter
                            .as_ref()
                            .is_none_or(|f| f.eq_ignore_ascii_case(&r.trustee))
                    })
                    .map(|r| self.right_json(&mbx, r, name))
                    .collect();
                out(entries)
            })(),
            "Add-MailboxPermission" | "Add-RecipientPermission" => (|| {
                let mbx = mailbox(params)?;
                let (key, right) = match name {
                    "Add-MailboxPermission" => ("User", "FullAccess"),
                    _ => ("Trustee", "SendAs"),
                };
                if !rights_listed(params).iter().any(|r| r == right) {
                    return Err(xerr(
                        400,
                        "BadRequest",
                        format!("The emulator grants only AccessRights {right} with {name}."),
                    ));
                }
                let trustee = self.trustee(&required(params, key)?)?;
                let list = self.rights.entry(mbx.clone()).or_default();
                let entry = MailboxRight { trustee, right };
                if !list.contains(&entry) {
                    list.push(entry.clone());
                }
                let v = self.right_json(&mbx, &entry, name);
                out(vec![v])
            })(),
            "Remove-MailboxPermission" | "Remove-RecipientPermission" => (|| {
                let mbx = mailbox(params)?;
                let (key, right) = match name {
                    "Remove-MailboxPermission" => ("User", "FullAccess"),
                    _ => ("Trustee", "SendAs"),
                };
                let trustee = self.trustee(&required(params, key)?)?;
                let list = self.rights.entry(mbx).or_default();
                let before = list.len();
                list.retain(|r| !(r.right == right && r.trustee.eq_ignore_ascii_case(&trustee)));
                if list.len() == before {
                    return Err(xerr(
                        400,
                        "BadRequest",
                        format!(
                            "Can't remove the access control entry on the object for the user '{trustee}' because the ACE doesn't exist on the object."
                        ),
                    ));
                }
                out(Vec::new())
            })(),
            _ => return None,
        })
    }

    fn right_json(&self, mailbox: &str, r: &MailboxRight, cmdlet: &str) -> Value {
        let user = self
            .principals
            .iter()
            .find(|p| p.object_id.eq_ignore_ascii_case(&r.trustee))
            .map(|p| p.display_name.clone())
            .unwrap_or_else(|| r.trustee.clone());
        match cmdlet.ends_with("MailboxPermission") {
            true => json!({"Identity": mailbox, "User": user, "AccessRights": [r.right],
                "IsInherited": false, "Deny": false, "InheritanceType": "All"}),
            false => json!({"Identity": mailbox, "Trustee": user, "AccessControlType": "Allow",
                "AccessRights": [r.right], "IsInherited": false, "InheritanceType": "None"}),
        }
    }

    /// Whether the app (`app_id`, whose service principal is `object_id`) may use `right` on
    /// `mailbox`: what an app-only login checks.
    pub fn allows(&self, app_id: &str, object_id: &str, mailbox: &str, right: &str) -> bool {
        self.principals.iter().any(|p| {
            p.app_id.eq_ignore_ascii_case(app_id) && p.object_id.eq_ignore_ascii_case(object_id)
        }) && self
            .rights
            .get(&mailbox.to_ascii_lowercase())
            .is_some_and(|v| {
                v.iter()
                    .any(|r| r.right == right && r.trustee.eq_ignore_ascii_case(object_id))
            })
    }

    /// Removes a right as an administrator would by hand (drift, in tests).
    pub fn remove_right(&mut self, mailbox: &str, right: &str) -> bool {
        let Some(list) = self.rights.get_mut(&mailbox.to_ascii_lowercase()) else {
            return false;
        };
        let before = list.len();
        list.retain(|r| r.right != right);
        list.len() != before
    }
}

fn principal_json(p: &ExchangePrincipal) -> Value {
    json!({"AppId": p.app_id, "ObjectId": p.object_id, "DisplayName": p.display_name,
        "Identity": p.object_id, "Name": p.object_id, "Id": p.object_id})
}
