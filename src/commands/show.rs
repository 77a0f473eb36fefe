//! Showing credentials: masked unless asked, in text or JSON.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::{Value, json};

use crate::clock::rfc3339;
use crate::credentials::Record;
pub use crate::credentials::mask;

pub fn credentials_json(record: &Record, show_secrets: bool) -> Value {
    let mut out = json!({"name": record.name, "env": record.env});
    if let Some(ms) = &record.microsoft {
        out["microsoft"] = json!({
            "tenant": ms.tenant,
            "client_id": ms.client_id,
            "object_id": ms.object_id,
            "audience": ms.audience,
            "authorize_url": ms.authorize_url,
            "token_url": ms.token_url,
            "scopes": ms.scopes,
            "redirect_uris": ms.redirect_uris,
            "client_secret": ms.secret.as_ref().map(|s| json!({
                "key_id": s.key_id,
                "expires": rfc3339(s.expires),
                "value": if show_secrets { json!(s.value.expose()) } else { Value::Null },
            })),
        });
    }
    if let Some(g) = &record.google {
        out["google"] = json!({
            "project_id": g.project_id,
            "project_number": g.project_number,
            "client_id": g.client.as_ref().map(|c| c.client_id.clone()),
            "client_secret": g.client.as_ref().map(|c| json!({
                "value": if show_secrets { json!(c.client_secret.expose()) } else { Value::Null },
            })),
            "authorize_url": g.authorize_url,
            "token_url": g.token_url,
            "scopes": g.scopes,
            "access_type": "offline",
            "redirect_uris": g.redirect_uris,
        });
    }
    out
}

pub fn credentials_text(record: &Record, show_secrets: bool, store: &Path) -> String {
    let mut out = String::new();
    if let Some(ms) = &record.microsoft {
        let _ = writeln!(out, "microsoft");
        let row = |out: &mut String, k: &str, v: &str| {
            let _ = writeln!(out, "  {k:<15} {v}");
        };
        row(&mut out, "client_id", &ms.client_id);
        row(&mut out, "tenant", &ms.tenant);
        row(&mut out, "authorize_url", &ms.authorize_url);
        row(&mut out, "token_url", &ms.token_url);
        row(&mut out, "scopes", &ms.scopes.join(" "));
        row(
            &mut out,
            "redirect_uri",
            ms.redirect_uris.first().map(String::as_str).unwrap_or(""),
        );
        match &ms.secret {
            Some(s) => {
                row(&mut out, "secret_expires", &rfc3339(s.expires));
                if show_secrets {
                    row(&mut out, "client_secret", s.value.expose());
                } else {
                    row(
                        &mut out,
                        "client_secret",
                        &format!(
                            "{} (in {}; `mailreg output --show-secrets`)",
                            mask(s.value.expose()),
                            store.display()
                        ),
                    );
                }
            }
            None => row(
                &mut out,
                "client_secret",
                "(none on record: run `mailreg apply`)",
            ),
        }
    }
    if let Some(g) = &record.google {
        let row = |out: &mut String, k: &str, v: &str| {
            let _ = writeln!(out, "  {k:<15} {v}");
        };
        let _ = writeln!(out, "google");
        row(&mut out, "project_id", &g.project_id);
        match &g.client {
            Some(c) => {
                row(&mut out, "client_id", &c.client_id);
                let secret = if show_secrets {
                    c.client_secret.expose().to_owned()
                } else {
                    format!(
                        "{} (in {}; `mailreg output --show-secrets`)",
                        mask(c.client_secret.expose()),
                        store.display()
                    )
                };
                row(&mut out, "client_secret", &secret);
            }
            None => row(
                &mut out,
                "client_id",
                "(not imported yet: `mailreg google import-client`)",
            ),
        }
        row(&mut out, "authorize_url", &g.authorize_url);
        row(&mut out, "token_url", &g.token_url);
        row(&mut out, "scopes", &g.scopes.join(" "));
        row(&mut out, "access_type", "offline");
        row(
            &mut out,
            "redirect_uri",
            g.redirect_uris.first().map(String::as_str).unwrap_or(""),
        );
    }
    out.push_str(&rehearsal_note(record));
    if record.is_empty() {
        let _ = writeln!(
            out,
            "Nothing applied for {} (environment {}).",
            record.name, record.env
        );
    }
    out
}

/// Whether a sign-in URL points at this machine: the emulator (or a local test IdP).
fn is_loopback(url: &str) -> bool {
    url::Url::parse(url).is_ok_and(|u| crate::http::is_loopback(&u))
}

/// During a rehearsal (some sign-in URLs on this machine) says plainly, per provider, which
/// authorize/token URLs are the emulator's and which are real: a mailbox given the emulator's
/// cannot sign in, and real ones next to them are easy to mistake for rehearsal values.
fn rehearsal_note(record: &Record) -> String {
    let mut rows = Vec::new();
    if let Some(ms) = &record.microsoft {
        rows.push(("microsoft", &ms.authorize_url, "Microsoft's"));
    }
    if let Some(g) = &record.google {
        rows.push(("google", &g.authorize_url, "Google's"));
    }
    if !rows.iter().any(|(_, url, _)| is_loopback(url)) {
        return String::new();
    }
    let mut out = String::from("rehearsal\n");
    for (provider, url, whose) in rows {
        let what = if is_loopback(url) {
            "authorize/token URLs are the emulator's: its rehearsal mailbox signs in by itself (verify, up); no real mailbox can".to_owned()
        } else {
            format!(
                "authorize/token URLs are {whose} real ones (the emulator does not play this sign-in)"
            )
        };
        let _ = writeln!(out, "  {provider:<15} {what}");
    }
    out
}

/// The text of `mailreg status`.
pub fn status_text(
    spec: &crate::spec::Spec,
    plan: &crate::plan::Plan,
    providers: &[crate::engine::ProviderStatus],
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "mailreg status: {} (environment {})\n",
        spec.name, spec.env
    );
    for p in providers {
        let _ = writeln!(out, "{}", p.provider);
        for r in &p.resources {
            let id = r.id.as_deref().unwrap_or("-");
            let mut line = format!("  {:<15} {:<40} {}", r.resource, id, r.state);
            let d = &r.details;
            if let Some(e) = d.get("expires").and_then(|v| v.as_str()) {
                line.push_str(&format!("  expires {e}"));
            }
            if d.get("value_on_record") == Some(&json!(true)) {
                line.push_str("  (value on record)");
            }
            if let Some(n) = d.get("display_name").and_then(|v| v.as_str()) {
                line.push_str(&format!("  {n:?}"));
            }
            let _ = writeln!(out, "{}", line.trim_end());
        }
    }
    let sum = plan.summary();
    if plan.is_empty() {
        let _ = writeln!(out, "\nNo pending changes.");
    } else {
        let _ = writeln!(
            out,
            "\nPending: {} to add, {} to change, {} to destroy (see `mailreg plan`).",
            sum.add, sum.change, sum.destroy
        );
    }
    let warnings: Vec<String> = providers
        .iter()
        .flat_map(|p| {
            p.warnings
                .iter()
                .map(move |w| format!("{}: {w}", p.provider))
        })
        .collect();
    if !warnings.is_empty() {
        let _ = writeln!(out, "\nWarnings:");
        for w in warnings {
            let _ = writeln!(out, "  - {w}");
        }
    }
    out
}
