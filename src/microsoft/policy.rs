//! The tenant's cap on secret lifetimes, checked before anything is created.
//!
//! A tenant app management policy (`policies/defaultAppManagementPolicy`, a `passwordLifetime`
//! restriction) makes `addPassword` fail with `CredentialInvalidLifetimeAsPerAppPolicy` when
//! the secret outlives the cap. Found only then, the app would already exist without a secret:
//! a half-made registration. So `plan` reads the policy first when a secret is to be added,
//! and a lifetime over the cap is a spec error. Reading it needs
//! `Policy.Read.ApplicationConfiguration`; without it the check is skipped and the error of
//! `addPassword` names both fixes.

use serde::Deserialize;

use super::MicrosoftProvider;
use super::graph::Graph;
use crate::error::Result;
use crate::plan::{Action, Change};

/// What the policy says about new client secrets.
#[derive(Debug, PartialEq)]
pub enum Cap {
    /// No enabled lifetime restriction applies.
    None,
    /// At most this many days (an ISO 8601 duration, rounded down to days).
    Days(u64),
    /// The identity may not read the policy (403).
    Unreadable,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Policy {
    #[serde(default)]
    is_enabled: bool,
    #[serde(default)]
    application_restrictions: Option<Restrictions>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Restrictions {
    #[serde(default)]
    password_credentials: Vec<Restriction>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Restriction {
    restriction_type: String,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    max_lifetime: Option<String>,
}

/// Reads the tenant's default app management policy.
pub async fn secret_lifetime_cap(graph: &Graph) -> Result<Cap> {
    let value = match graph.default_app_management_policy().await {
        Ok(v) => v,
        Err(e) if e.status == Some(403) => return Ok(Cap::Unreadable),
        Err(e) => return Err(e),
    };
    let policy: Policy = serde_json::from_value(value)
        .map_err(|e| crate::error::Error::api(format!("unexpected app management policy: {e}")))?;
    Ok(cap_of(&policy))
}

fn cap_of(policy: &Policy) -> Cap {
    if !policy.is_enabled {
        return Cap::None;
    }
    policy
        .application_restrictions
        .iter()
        .flat_map(|r| &r.password_credentials)
        .filter(|r| r.restriction_type == "passwordLifetime")
        .filter(|r| r.state.as_deref() != Some("disabled"))
        .filter_map(|r| r.max_lifetime.as_deref().and_then(iso_days))
        .min()
        .map_or(Cap::None, Cap::Days)
}

/// Whole days of an ISO 8601 duration (`P90D`, `P1Y`, `P2W`, `P4DT12H`), years as 365 days
/// and months as 30; a part day is dropped (the cap must not be exceeded). `None` when it does
/// not parse.
pub fn iso_days(s: &str) -> Option<u64> {
    let rest = s.strip_prefix('P')?;
    let (date, time) = rest.split_once('T').unwrap_or((rest, ""));
    let mut hours = 0.0;
    let mut days = 0.0;
    let mut number = String::new();
    let mut seen = false;
    for (part, is_time) in [(date, false), (time, true)] {
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' {
                number.push(c);
                continue;
            }
            let n: f64 = number.parse().ok()?;
            number.clear();
            seen = true;
            match (c, is_time) {
                ('Y', false) => days += n * 365.0,
                ('M', false) => days += n * 30.0,
                ('W', false) => days += n * 7.0,
                ('D', false) => days += n,
                ('H', true) => hours += n,
                ('M', true) => hours += n / 60.0,
                ('S', true) => hours += n / 3600.0,
                _ => return None,
            }
        }
    }
    if !number.is_empty() || !seen {
        return None;
    }
    let total = days + hours / 24.0;
    (total.is_finite() && total >= 0.0).then(|| total.floor() as u64)
}

impl MicrosoftProvider {
    /// When `changes` add a secret: refuses, before anything is created, a lifetime the
    /// tenant's policy would reject (see the module doc). `read` is the policy when it was already
    /// read alongside the plan's other reads.
    pub(super) async fn check_lifetime_cap(
        &self,
        changes: &[Change],
        read: Option<Result<Cap>>,
    ) -> Result<()> {
        let adds_secret = changes
            .iter()
            .any(|c| c.resource == "client_secret" && c.action == Action::Create);
        if !adds_secret {
            return Ok(());
        }
        let cap = match read {
            Some(cap) => cap?,
            None => secret_lifetime_cap(&self.graph).await?,
        };
        let wanted = u64::from(self.ms.secret_lifetime_days);
        match cap {
            Cap::Days(max) if wanted > max => Err(self
                .spec
                .field_error(
                    "microsoft.secret_lifetime_days",
                    format!("{wanted} days is longer than the tenant's app management policy allows for client secrets ({max} days)"),
                )
                .with_hint(format!("set microsoft.secret_lifetime_days to {max} or less; nothing was created"))),
            Cap::Unreadable => {
                tracing::info!(target: "mailreg::microsoft", "cannot read the tenant's app management policy (Policy.Read.ApplicationConfiguration); the secret lifetime is not checked before creating");
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_durations_in_whole_days() {
        assert_eq!(iso_days("P90D"), Some(90));
        assert_eq!(iso_days("P1Y"), Some(365));
        assert_eq!(iso_days("P2W"), Some(14));
        assert_eq!(iso_days("P4DT12H30M5S"), Some(4));
        assert_eq!(iso_days("PT36H"), Some(1));
        assert_eq!(iso_days("P"), None);
        assert_eq!(iso_days("90D"), None);
        assert_eq!(iso_days("P9X"), None);
        assert_eq!(iso_days("P9"), None);
    }

    #[test]
    fn only_an_enabled_password_lifetime_restriction_caps() {
        let p = |enabled: bool, state: &str| -> Policy {
            serde_json::from_value(serde_json::json!({
                "isEnabled": enabled,
                "applicationRestrictions": {"passwordCredentials": [
                    {"restrictionType": "passwordAddition", "state": "enabled"},
                    {"restrictionType": "passwordLifetime", "state": state, "maxLifetime": "P90D"}
                ]}
            }))
            .unwrap()
        };
        assert_eq!(cap_of(&p(true, "enabled")), Cap::Days(90));
        assert_eq!(cap_of(&p(true, "disabled")), Cap::None);
        assert_eq!(cap_of(&p(false, "enabled")), Cap::None);
    }
}
