//! The client secret resource.
//!
//! Graph shows a secret's Value once, so the only healthy secret is one whose Value is in the
//! credentials store. Secrets whose displayName starts with `mailreg` are mailreg's; any of them
//! without a Value on record is useless and retired. Personal-account apps hold at most two
//! secrets (reference §0.2): at the limit, mailreg removes its oldest before it adds.

use serde_json::json;
use time::OffsetDateTime;

use super::graph::PasswordCredential;
pub use crate::clock::rfc3339;
use crate::credentials::SecretRecord;
use crate::error::{Error, Result};
use crate::plan::{Action, Change};

pub const SECRET_PREFIX: &str = "mailreg";

pub fn is_ours(c: &PasswordCredential) -> bool {
    c.display_name
        .as_deref()
        .is_some_and(|n| n == SECRET_PREFIX || n.starts_with("mailreg "))
}

pub fn display_name(env: &str, now: OffsetDateTime) -> String {
    format!("mailreg {env} {}", rfc3339(now))
}

#[derive(Clone, Debug, Default)]
pub struct SecretPlan {
    /// Why a new secret is needed, when it is.
    pub add: Option<String>,
    /// Removed before the add (to make room under the two-secret limit).
    pub remove_before: Vec<PasswordCredential>,
    /// Removed once the new secret is stored (or orphans when no add is needed).
    pub remove_after: Vec<PasswordCredential>,
}

impl SecretPlan {
    pub fn changes(&self, lifetime_days: u32, now: OffsetDateTime) -> Vec<Change> {
        let remove = |c: &PasswordCredential, why: &str| {
            Change::new("microsoft", "client_secret", Action::Delete)
                .address(format!("microsoft.client_secret[{}]", c.key_id))
                .id(c.key_id.clone())
                .reason(why.to_owned())
        };
        let mut out: Vec<Change> = self
            .remove_before
            .iter()
            .map(|c| remove(c, "made by mailreg, value not on record; removed first: the app holds at most two secrets"))
            .collect();
        if let Some(reason) = &self.add {
            let expires = now + time::Duration::days(lifetime_days.into());
            out.push(
                Change::new("microsoft", "client_secret", Action::Create)
                    .reason(reason.clone())
                    .field("expires", serde_json::Value::Null, json!(rfc3339(expires))),
            );
        }
        let why = if self.add.is_some() {
            "made by mailreg, value not on record; removed once the new secret is stored"
        } else {
            "made by mailreg, value not on record (orphan)"
        };
        out.extend(self.remove_after.iter().map(|c| remove(c, why)));
        out
    }
}

/// Oldest first, by start (then end) date.
fn age_key(c: &PasswordCredential) -> (String, String) {
    (
        c.start_date_time.clone().unwrap_or_default(),
        c.end_date_time.clone().unwrap_or_default(),
    )
}

pub fn plan(
    creds: &[PasswordCredential],
    stored: Option<&SecretRecord>,
    personal: bool,
    now: OffsetDateTime,
) -> Result<SecretPlan> {
    let on_app = |r: &SecretRecord| {
        creds
            .iter()
            .any(|c| c.key_id.eq_ignore_ascii_case(&r.key_id))
    };
    let healthy = stored.filter(|r| on_app(r) && r.expires > now);
    let mut ours: Vec<PasswordCredential> = creds
        .iter()
        .filter(|c| is_ours(c))
        .filter(|c| healthy.is_none_or(|r| !c.key_id.eq_ignore_ascii_case(&r.key_id)))
        .cloned()
        .collect();
    ours.sort_by_key(age_key);
    if healthy.is_some() {
        return Ok(SecretPlan {
            remove_after: ours,
            ..Default::default()
        });
    }
    let reason = match stored {
        None => {
            "no secret value on record for this app (new app, or the credentials store was lost)"
                .to_owned()
        }
        Some(r) if !on_app(r) => format!(
            "the secret on record ({}) is no longer on the app",
            r.key_id
        ),
        Some(r) => format!("the secret on record expired on {}", rfc3339(r.expires)),
    };
    let mut plan = SecretPlan {
        add: Some(reason),
        ..Default::default()
    };
    if personal && creds.len() >= 2 {
        let must_free = creds.len() - 1;
        if ours.len() < must_free {
            return Err(Error::refused(format!(
                "the app holds {} client secrets and {} of them were not made by mailreg; personal-account apps allow at most two",
                creds.len(),
                creds.len() - ours.len()
            ))
            .with_hint("remove a secret you no longer use in the Entra portal (Certificates & secrets), then run apply again"));
        }
        plan.remove_before = ours.drain(..must_free).collect();
    }
    plan.remove_after = ours;
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::SecretValue;

    fn cred(key: &str, name: &str, start: &str) -> PasswordCredential {
        PasswordCredential {
            key_id: key.into(),
            display_name: Some(name.into()),
            start_date_time: Some(start.into()),
            end_date_time: Some("2099-01-01T00:00:00Z".into()),
            hint: None,
        }
    }
    fn record(key: &str, expires: OffsetDateTime) -> SecretRecord {
        SecretRecord {
            key_id: key.into(),
            value: SecretValue::new("v"),
            expires,
            created: expires,
        }
    }
    const NOW: OffsetDateTime = time::macros::datetime!(2026-11-28 12:00 UTC);

    #[test]
    fn healthy_secret_means_no_change_but_orphans_go() {
        let creds = [
            cred("a", "mailreg test 1", "2026-01-01"),
            cred("b", "mailreg test 2", "2026-02-01"),
            cred("x", "portal", "2025-01-01"),
        ];
        let p = plan(
            &creds,
            Some(&record("b", NOW + time::Duration::days(1))),
            true,
            NOW,
        )
        .unwrap();
        assert!(p.add.is_none() && p.remove_before.is_empty());
        assert_eq!(
            p.remove_after
                .iter()
                .map(|c| c.key_id.as_str())
                .collect::<Vec<_>>(),
            ["a"]
        );
        let none = plan(
            &creds[1..2],
            Some(&record("b", NOW + time::Duration::days(1))),
            true,
            NOW,
        )
        .unwrap();
        assert!(
            none.add.is_none() && none.remove_before.is_empty() && none.remove_after.is_empty()
        );
    }

    #[test]
    fn lost_value_at_the_personal_limit_removes_oldest_first() {
        let creds = [
            cred("new", "mailreg test 2", "2026-02-01"),
            cred("old", "mailreg test 1", "2026-01-01"),
        ];
        let p = plan(&creds, None, true, NOW).unwrap();
        assert!(p.add.is_some());
        assert_eq!(p.remove_before[0].key_id, "old");
        assert_eq!(p.remove_after[0].key_id, "new");
        // Org audiences: add first, then remove both.
        let p = plan(&creds, None, false, NOW).unwrap();
        assert!(p.remove_before.is_empty());
        assert_eq!(p.remove_after.len(), 2);
    }

    #[test]
    fn foreign_secrets_at_the_limit_are_never_touched() {
        let creds = [
            cred("a", "portal", "2026-01-01"),
            cred("b", "ci", "2026-01-01"),
        ];
        let e = plan(&creds, None, true, NOW).unwrap_err();
        assert!(
            e.message.starts_with(
                "the app holds 2 client secrets and 2 of them were not made by mailreg"
            )
        );
    }

    #[test]
    fn expired_or_missing_record_is_replaced() {
        let creds = [cred("a", "mailreg test", "2026-01-01")];
        let p = plan(
            &creds,
            Some(&record("a", NOW - time::Duration::days(1))),
            true,
            NOW,
        )
        .unwrap();
        assert!(p.add.unwrap().starts_with("the secret on record expired"));
        let p = plan(
            &creds,
            Some(&record("zz", NOW + time::Duration::days(1))),
            true,
            NOW,
        )
        .unwrap();
        assert!(p.add.unwrap().contains("no longer on the app"));
    }
}
