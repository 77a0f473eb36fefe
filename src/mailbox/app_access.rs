//! App access readiness, per mailbox: Exchange knows the app (by its enterprise application's
//! object ID, not the registration's), and the mailbox gives it the rights the spec names. With
//! the protocol checks beside them, these are the three causes of an app-only
//! `AUTHENTICATE failed`.

use super::Check;
use crate::credentials::MicrosoftCredentials;
use crate::error::Result;
use crate::microsoft::rights::{Grant, MailboxRights};
use crate::spec::Right;

/// What to read for app access: the mailboxes with their rights, and the identity on record.
pub struct AppAccess {
    pub rights: MailboxRights,
    pub mailboxes: Vec<(String, Vec<Right>)>,
    pub record: Option<MicrosoftCredentials>,
}

impl AppAccess {
    /// The checks of each mailbox (by address), Exchange's service principal read once and the
    /// rights of every mailbox together.
    pub async fn checks(&self, users: &[String]) -> Result<Vec<(String, Vec<Check>)>> {
        let wanted: Vec<&(String, Vec<Right>)> = self
            .mailboxes
            .iter()
            .filter(|(m, _)| users.iter().any(|u| u.eq_ignore_ascii_case(m)))
            .collect();
        let Some((client_id, sp)) = self
            .record
            .as_ref()
            .and_then(|m| Some((m.client_id.clone(), m.service_principal_id.clone()?)))
        else {
            let not_yet = || {
                Check::unknown(
                    "exchange_sp",
                    "no app registration with a service principal on record",
                    "run `mailreg apply` (or `mailreg up`)",
                )
            };
            return Ok(wanted
                .iter()
                .map(|(m, _)| (m.clone(), vec![not_yet()]))
                .collect());
        };
        let grants: Vec<Grant> = wanted
            .iter()
            .flat_map(|(m, rights)| {
                rights.iter().map(|r| Grant {
                    mailbox: m.to_ascii_lowercase(),
                    right: *r,
                })
            })
            .collect();
        let holds = futures::future::join_all(grants.iter().map(|g| self.rights.holds(g, &sp)));
        let (principal, holds) = tokio::join!(self.rights.principal(&client_id), holds);
        let principal = principal?;
        let sp_check = match &principal {
            None => Check::fail(
                "exchange_sp",
                format!("Exchange has no service principal for the app {client_id}"),
                format!(
                    "`mailreg apply` registers it (New-ServicePrincipal -AppId {client_id} -ObjectId {sp})"
                ),
            ),
            Some(p) if !p.object_id.eq_ignore_ascii_case(&sp) => Check::fail(
                "exchange_sp",
                format!(
                    "Exchange's service principal names object ID {}, not the enterprise application's {sp}",
                    p.object_id
                ),
                "`mailreg apply` replaces it (Remove-ServicePrincipal, then New-ServicePrincipal with the enterprise application's object ID)",
            ),
            Some(_) => Check::pass(
                "exchange_sp",
                format!("Exchange knows the app (object ID {sp})"),
            ),
        };
        let mut held = std::collections::BTreeMap::new();
        for (g, h) in grants.iter().zip(holds) {
            held.insert((g.mailbox.clone(), g.right), h?);
        }
        Ok(wanted
            .iter()
            .map(|(m, rights)| {
                let mut checks = vec![sp_check.clone()];
                for r in rights {
                    let (name, what, cmdlet) = match r {
                        Right::Read => ("full_access", "FullAccess (IMAP, POP)", "Add-MailboxPermission"),
                        Right::Send => ("send_as", "SendAs (SMTP)", "Add-RecipientPermission"),
                    };
                    let ok = held
                        .get(&(m.to_ascii_lowercase(), *r))
                        .copied()
                        .unwrap_or(false);
                    checks.push(match ok {
                        true => Check::pass(name, format!("the app holds {what}")),
                        false => Check::fail(
                            name,
                            format!("the app does not hold {what}"),
                            format!("`mailreg apply` gives it ({cmdlet}); Exchange honours it after up to 30 minutes"),
                        ),
                    });
                }
                (m.clone(), checks)
            })
            .collect())
    }
}
