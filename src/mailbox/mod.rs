//! Mailbox readiness: the prerequisites a mailbox must meet before an OAuth sign-in can log in
//! to IMAP, POP or SMTP, which the registration alone does not give (a licence with Exchange
//! Online, the protocols allowed for the mailbox and the organisation, a Google test user, the
//! consent-screen logo).
//!
//! Each check is read-only and ends in a [`Check`]: `ok` true, false, or null when mailreg
//! could not look (and then `detail` says why and `fix` what to grant). [`microsoft`] reads Graph
//! and Exchange Online's admin endpoint and plans the `--fix`; [`google`] checks the spec and
//! reads Gmail's settings with the mailbox's own token (for `verify`); [`logo`] checks the
//! consent-screen image before anything is sent.

pub mod app_access;
pub mod google;
pub mod logo;
pub mod microsoft;
pub mod resource;

use serde::Serialize;

/// One check of one mailbox.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Check {
    /// `user`, `licence`, `imap`, `pop`, `smtp_auth`, `test_user`, `gmail_imap`, …
    pub check: &'static str,
    /// `None`: could not be checked (`detail` says why).
    pub ok: Option<bool>,
    pub detail: String,
    /// What to do when it is not ok.
    pub fix: Option<String>,
}

impl Check {
    pub fn pass(check: &'static str, detail: impl Into<String>) -> Check {
        Check {
            check,
            ok: Some(true),
            detail: detail.into(),
            fix: None,
        }
    }
    pub fn fail(check: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            check,
            ok: Some(false),
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
    pub fn unknown(
        check: &'static str,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Check {
        Check {
            check,
            ok: None,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
}

/// All checks of one mailbox for one provider.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub user: String,
    pub provider: &'static str,
    /// Every check passed (a check that could not run counts as not ready).
    pub ready: bool,
    pub checks: Vec<Check>,
}

impl Report {
    pub fn new(user: &str, provider: &'static str, checks: Vec<Check>) -> Report {
        Report {
            user: user.to_owned(),
            provider,
            ready: checks.iter().all(|c| c.ok == Some(true)),
            checks,
        }
    }

    pub fn check(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.check == name)
    }
}

/// Text: one header line per mailbox, one line per check, the fix indented below a failure.
pub fn render(reports: &[Report]) -> String {
    let mut out = String::new();
    for r in reports {
        let state = if r.ready { "ready" } else { "NOT READY" };
        out.push_str(&format!("{} ({}): {state}\n", r.user, r.provider));
        for c in &r.checks {
            let mark = match c.ok {
                Some(true) => "ok",
                Some(false) => "FAIL",
                None => "?",
            };
            out.push_str(&format!("  {mark:<4} {:<10} {}\n", c.check, c.detail));
            if c.ok != Some(true)
                && let Some(fix) = &c.fix
            {
                out.push_str(&format!("       fix: {fix}\n"));
            }
        }
    }
    out
}

/// `{"mailboxes": [...]}` members.
pub fn to_json(reports: &[Report]) -> serde_json::Value {
    serde_json::to_value(reports).unwrap_or_default()
}

/// Whether the spec lists any mailbox.
pub fn spec_has_mailboxes(spec: &crate::spec::Spec) -> bool {
    spec.microsoft
        .as_ref()
        .is_some_and(|m| !m.mailboxes.is_empty())
        || spec
            .google
            .as_ref()
            .is_some_and(|g| !g.mailboxes.is_empty())
}

/// Checks the spec's own `mailboxes` lists (for `status` and the end of `apply`).
pub async fn check_spec(
    spec: &crate::spec::Spec,
    http: &crate::http::Http,
) -> crate::error::Result<Vec<Report>> {
    let mut out = Vec::new();
    if let Some(ms) = spec.microsoft.as_ref().filter(|m| !m.mailboxes.is_empty()) {
        let checker = microsoft::Checker::new(spec, http)?;
        out.extend(
            checker
                .check(&ms.mailbox_addresses())
                .await?
                .into_iter()
                .map(|c| c.report),
        );
    }
    if let Some(g) = &spec.google {
        out.extend(g.mailboxes.iter().map(|u| google::checks(g, u)));
    }
    Ok(out)
}
