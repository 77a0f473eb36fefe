//! `mailreg up`: everything a mailbox needs in one command. The one plan of `apply` with the
//! mailboxes' protocol settings in it (confirmed once), then a verified login for every mailbox
//! of the spec, waiting out Exchange's propagation, and one summary.
//!
//! `apply` stays the command without verification; `down` is `destroy`.

use std::time::Duration;

use time::OffsetDateTime;

use serde_json::json;

use super::Session;
use super::apply::{self, Converged};
use crate::cli::{Global, OutputFormat, UpArgs};
use crate::clock::Clock;
use crate::error::{Error, ExitCode, Result};
use crate::mailbox::microsoft::Protocols;
use crate::stack::Scope;
use crate::verify::{Provider, Report};

pub async fn run(args: &UpArgs, global: &Global) -> Result<ExitCode> {
    // Everything wrong in the flags is found before the first request.
    if !args.no_verify {
        crate::verify::check_wait_limit(args.wait)?;
    }
    let scope = Scope {
        mailboxes: true,
        ..Scope::REGISTRATION
    };
    let s = apply::session(&args.apply, global, "up", scope)?;
    let logins = logins(&s, args);
    let done = apply::converge(&s, &args.apply, global, "up").await?;
    let applied = OffsetDateTime::now_utc();
    let applied_at = std::time::Instant::now();
    let text = global.output == OutputFormat::Text && !global.quiet;
    if text {
        print!("{}", apply::report_text(&s, &done, "Up"));
    }
    if let Some(mut e) = done.pending() {
        // The console step first: nothing can log in before the client exists.
        e.hint = Some(format!(
            "{}, then `mailreg up -f {} --env {}` again",
            e.hint.unwrap_or_default(),
            s.spec.file.display(),
            s.spec.env
        ));
        if global.output == OutputFormat::Json {
            let doc = document(&s, &done, &[], Some(&e));
            println!("{}", serde_json::to_string_pretty(&doc).expect("json"));
            e.reported = true;
        }
        return Err(e);
    }
    let settings_changed = done
        .plan
        .changes
        .iter()
        .any(|c| c.resource == "cas_mailbox");
    let mut reports = Vec::new();
    let mut failure = None;
    for (provider, user, protocols) in &logins {
        if text {
            println!(
                "\nVerifying {user} ({}): {}",
                provider.as_str(),
                protocol_list(*protocols)
            );
        }
        let mut options =
            args.login
                .options(&args.apply.target, Some(user), Some(args.wait), global);
        options.provider = Some(*provider);
        (options.imap, options.pop, options.smtp) = (protocols.imap, protocols.pop, protocols.smtp);
        // The document at the end carries every result; verify itself prints nothing.
        options.json = global.output == OutputFormat::Json;
        // The wait's progress line counts its estimate from the change, not from the sign-in.
        options.settings_changed = settings_changed.then_some(applied_at);
        match crate::verify::check(&options).await {
            Ok(r) => {
                if text {
                    print!("{}", r.text(false));
                }
                reports.push(r);
            }
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    let failed: usize = reports.iter().map(Report::failed).sum();
    match global.output {
        OutputFormat::Json => {
            let doc = document(&s, &done, &reports, failure.as_ref());
            println!("{}", serde_json::to_string_pretty(&doc).expect("json"));
        }
        OutputFormat::Text if !global.quiet => {
            print!(
                "{}",
                summary(&s, &done, &reports, settings_changed.then_some(applied))
            );
        }
        OutputFormat::Text => {}
    }
    if let Some(mut e) = failure {
        e.reported = global.output == OutputFormat::Json;
        return Err(e);
    }
    if failed > 0 {
        let total: usize = reports.iter().map(|r| r.outcomes.len()).sum();
        let mut e = Error::new(
            crate::error::ErrorKind::VerifyFailed,
            format!(
                "{failed} of {total} logins failed within {}",
                humantime::format_duration(args.wait)
            ),
        )
        .with_hint("the registration and outputs are in place; `mailreg mailbox check` tells what a mailbox lacks, and `mailreg up` again resumes the wait");
        e.reported = global.output == OutputFormat::Json;
        return Err(e);
    }
    Ok(ExitCode::Success)
}

/// The logins to verify: each spec mailbox with the protocols its registration grants (app
/// access: its rights).
fn logins(s: &Session, args: &UpArgs) -> Vec<(Provider, String, Protocols)> {
    if args.no_verify {
        return Vec::new();
    }
    let mut out = Vec::new();
    if let Some(m) = &s.spec.microsoft {
        if m.access == crate::spec::Access::App {
            // App access: each mailbox on what its rights open (verify logs in as it with the
            // app's token).
            for (user, rights) in m.app_mailboxes() {
                let protocols = crate::verify::app_protocols(&rights, &m.permissions);
                if protocols.any() {
                    out.push((Provider::Microsoft, user, protocols));
                }
            }
        } else {
            let protocols = Protocols::from_permissions(&m.permissions);
            if protocols.any() {
                for user in m.mailbox_addresses() {
                    out.push((Provider::Microsoft, user, protocols));
                }
            }
        }
    }
    if let Some(g) = &s.spec.google {
        // `https://mail.google.com/` covers all three.
        let all = Protocols {
            imap: true,
            pop: true,
            smtp: true,
        };
        for user in &g.mailboxes {
            out.push((Provider::Google, user.clone(), all));
        }
    }
    out
}

fn protocol_list(p: Protocols) -> String {
    let names = [(p.imap, "IMAP"), (p.pop, "POP"), (p.smtp, "SMTP")];
    names
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, n)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

/// `up -o json`: apply's document plus every mailbox's login results.
fn document(
    s: &Session,
    done: &Converged,
    reports: &[Report],
    error: Option<&Error>,
) -> serde_json::Value {
    let mut doc = apply::report_json(s, done, error);
    doc["verify"] = json!(reports.iter().map(Report::to_json).collect::<Vec<_>>());
    doc
}

/// The closing summary: what each family of resources did, and one line per mailbox.
fn summary(
    s: &Session,
    done: &Converged,
    reports: &[Report],
    settings_applied: Option<OffsetDateTime>,
) -> String {
    let count = |family: &dyn Fn(&crate::plan::Change) -> bool| {
        done.plan.changes.iter().filter(|c| family(c)).count()
    };
    let prerequisite = |c: &crate::plan::Change| c.resource == "cas_mailbox";
    let changed = |n: usize| match n {
        0 => "unchanged".to_owned(),
        1 => "1 change".to_owned(),
        n => format!("{n} changes"),
    };
    let mut out = String::from("\nSummary:\n");
    out.push_str(&format!(
        "  registration   {}\n",
        changed(count(
            &|c| matches!(c.provider, "microsoft" | "google") && !prerequisite(c)
        ))
    ));
    if s.stack.mailboxes.is_some() {
        out.push_str(&format!(
            "  prerequisites  {}\n",
            changed(count(&prerequisite))
        ));
    }
    if !s.spec.secrets.is_empty() {
        out.push_str(&format!(
            "  stores         {}\n",
            changed(count(&|c| c.provider == "secret"))
        ));
    }
    if !done.written.is_empty() {
        let wrote = done
            .written
            .iter()
            .filter(|w| w.status == "written")
            .count();
        out.push_str(&format!(
            "  outputs        {} of {} written\n",
            wrote,
            done.written.len()
        ));
    }
    let scale = Clock::from_env().map(|c| c.scale()).unwrap_or(1.0);
    for r in reports {
        out.push_str(&format!(
            "  login          {}\n",
            login_line(r, settings_applied, scale)
        ));
    }
    out
}

/// `IMAP ✔ POP ✔ SMTP ✔ as helpdesk@contoso.com at 14:32 UTC (propagation took 11 min)`.
fn login_line(r: &Report, settings_applied: Option<OffsetDateTime>, scale: f64) -> String {
    let marks: Vec<String> = r
        .outcomes
        .iter()
        .map(|o| {
            let name = match o.target.protocol {
                crate::mail::Protocol::Imap => "IMAP",
                crate::mail::Protocol::Pop3 => "POP",
                crate::mail::Protocol::Smtp => "SMTP",
            };
            format!("{name} {}", if o.error.is_none() { "✔" } else { "✘" })
        })
        .collect();
    let mut line = format!("{} as {}", marks.join(" "), r.user);
    let last = r.outcomes.iter().filter_map(|o| o.passed_at).max();
    if r.failed() == 0
        && let Some(at) = last
    {
        line.push_str(&format!(" at {:02}:{:02} UTC", at.hour(), at.minute()));
        if let Some(applied) = settings_applied {
            let real = Duration::try_from(at - applied).unwrap_or_default();
            line.push_str(&format!(
                " (propagation took {})",
                nominal_minutes(real, scale)
            ));
        }
    }
    line
}

/// A real duration in nominal whole minutes (`MAILREG_TIME_SCALE` shrinks waits in tests).
fn nominal_minutes(real: Duration, scale: f64) -> String {
    let nominal = if scale > 0.0 {
        real.as_secs_f64() / scale
    } else {
        0.0
    };
    let min = (nominal / 60.0).round().min(1e6) as u64;
    format!("{min} min")
}
