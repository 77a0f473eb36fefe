//! `mailreg status`, and the mailbox readiness report that `status` and `apply` end with.

use serde_json::json;

use super::{Open, guard, open, show};
use crate::cli::{Global, OutputFormat, Target};
use crate::clock::Clock;
use crate::engine;
use crate::error::{ExitCode, Result};
use crate::http::Http;
use crate::mailbox::Report;
use crate::spec::Spec;
use crate::stack::Scope;

pub async fn run(target: &Target, global: &Global) -> Result<ExitCode> {
    // The stores are not read: status reports the registrations, and a store that cannot be
    // reached (no VAULT_ADDR here) must not hide them.
    let how = Open {
        scope: Scope {
            stores: false,
            ..Scope::REGISTRATION
        },
        ..Open::READ
    };
    let s = open(target, global, how)?;
    guard::env_guard(&s.spec, global, None, "status")?;
    let (plan, providers) = engine::status(&s.ctx, &s.stack.resources).await?;
    let mailboxes = mailbox_readiness(&s.spec).await;
    match global.output {
        OutputFormat::Json => {
            let mut doc = json!({
                "name": s.spec.name,
                "env": s.spec.env,
                "providers": providers,
                "pending_changes": plan.summary(),
            });
            if let Some(m) = &mailboxes {
                doc["mailboxes"] = mailbox_json(m);
            }
            println!("{}", serde_json::to_string_pretty(&doc).expect("json"));
        }
        OutputFormat::Text if global.quiet => {}
        OutputFormat::Text => {
            print!("{}", show::status_text(&s.spec, &plan, &providers));
            if let Some(m) = &mailboxes {
                print!("\nMailboxes:\n{}", mailbox_text(m));
            }
        }
    }
    Ok(ExitCode::Success)
}

/// The readiness of the spec's `mailboxes` (None when it lists none), for `status` and the end
/// of `apply`. It never fails the command: `apply` has done its job (the registration) and the
/// rest depends on an administrator and on Exchange's propagation; `status` only reports.
/// `mailreg mailbox check` is the command whose exit code gates on readiness.
pub(super) async fn mailbox_readiness(spec: &Spec) -> Option<Result<Vec<Report>>> {
    if !crate::mailbox::spec_has_mailboxes(spec) {
        return None;
    }
    Some(match Clock::from_env().and_then(Http::new) {
        Ok(http) => crate::mailbox::check_spec(spec, &http).await,
        Err(e) => Err(e),
    })
}

/// `mailboxes` in JSON: the reports, or `{"error": …}` when the checks could not run.
pub(super) fn mailbox_json(m: &Result<Vec<Report>>) -> serde_json::Value {
    match m {
        Ok(reports) => crate::mailbox::to_json(reports),
        Err(e) => json!({"error": e.to_json()}),
    }
}

pub(super) fn mailbox_text(m: &Result<Vec<Report>>) -> String {
    match m {
        Ok(reports) => crate::mailbox::render(reports),
        Err(e) => format!("  the mailbox checks could not run: {}\n", e.message),
    }
}
