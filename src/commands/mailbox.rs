//! `mailreg mailbox check [--fix]`: the mailbox prerequisites, checked (and fixed) as code.

use serde_json::json;

use super::{confirm, header};
use crate::cli::{Global, MailboxCheckArgs, MailboxCommand, OutputFormat};
use crate::clock::Clock;
use crate::error::{Error, ErrorKind, ExitCode, Result};
use crate::http::Http;
use crate::mailbox::{self, Report, google, microsoft};
use crate::spec::{Spec, valid_email};

pub async fn run(cmd: MailboxCommand, global: &Global) -> Result<ExitCode> {
    match cmd {
        MailboxCommand::Check(args) => check(&args, global).await,
    }
}

/// Which mailboxes to check, per provider: `--user` (for `--provider`, or the spec's only
/// provider), else the spec's lists.
fn selection(spec: &Spec, args: &MailboxCheckArgs) -> Result<(Vec<String>, Vec<String>)> {
    for u in &args.user {
        if !valid_email(u) {
            return Err(Error::bad_input(format!(
                "--user {u:?}: not an email address (the mailbox's user principal name, e.g. support@contoso.com)"
            )));
        }
    }
    let want = |p: &str| args.provider.as_deref().is_none_or(|x| x == p);
    let has_ms = spec.microsoft.is_some() && want("microsoft");
    let has_g = spec.google.is_some() && want("google");
    if let Some(p) = &args.provider
        && !(has_ms || has_g)
    {
        return Err(Error::bad_input(format!(
            "--provider {p}: {} has no [{p}] section",
            spec.file.display()
        )));
    }
    if !args.user.is_empty() {
        return match (has_ms, has_g) {
            (true, true) => Err(Error::bad_input(
                "--user: the spec has both providers; say which with --provider microsoft|google",
            )),
            (true, false) => Ok((args.user.clone(), Vec::new())),
            _ => Ok((Vec::new(), args.user.clone())),
        };
    }
    let ms = match (&spec.microsoft, has_ms) {
        (Some(m), true) => m.mailbox_addresses(),
        _ => Vec::new(),
    };
    let g = match (&spec.google, has_g) {
        (Some(g), true) => g.mailboxes.clone(),
        _ => Vec::new(),
    };
    if ms.is_empty() && g.is_empty() {
        return Err(Error::bad_input(
            "no mailbox to check: pass --user ADDRESS, or list them in the spec (mailboxes = [\"support@contoso.com\"] under [microsoft] or [google])",
        ));
    }
    Ok((ms, g))
}

async fn check(args: &MailboxCheckArgs, global: &Global) -> Result<ExitCode> {
    let spec = Spec::load(&args.target.file, &args.target.env)?;
    mailbox::logo::check(&spec)?;
    let (ms_users, g_users) = selection(&spec, args)?;
    let http = Http::new(Clock::from_env()?)?;
    let text = global.output == OutputFormat::Text && !global.quiet;

    let mut reports: Vec<Report> = Vec::new();
    let mut fixed = Vec::new();
    let mut fix_doc = None;
    if !ms_users.is_empty() {
        let checker = microsoft::Checker::new(&spec, &http)?;
        let checked = checker.check(&ms_users).await?;
        reports.extend(checked.iter().map(|c| c.report.clone()));
        if text {
            print!("{}", mailbox::render(&reports));
        }
        if args.fix {
            let (doc, done) = fix(&checker, &checked, &spec, args, global).await?;
            fix_doc = Some(doc);
            fixed = done;
        }
    }
    if let Some(g) = spec.google.as_ref().filter(|_| !g_users.is_empty()) {
        let google_reports: Vec<Report> = g_users.iter().map(|u| google::checks(g, u)).collect();
        if text {
            print!("{}", mailbox::render(&google_reports));
        }
        reports.extend(google_reports);
    }

    // A check that --fix just changed counts as done: what is left is what a person must do.
    let is_fixed = |r: &Report, check: &str| {
        fixed
            .iter()
            .any(|f: &microsoft::CasFix| f.user == r.user && f.checks.contains(&check))
    };
    let outstanding = reports
        .iter()
        .filter(|r| {
            r.checks
                .iter()
                .any(|c| c.ok != Some(true) && !is_fixed(r, c.check))
        })
        .count();
    if global.output == OutputFormat::Json {
        let mut doc = json!({"mailboxes": mailbox::to_json(&reports)});
        if let Some(f) = fix_doc {
            doc["fix"] = f;
        }
        println!("{}", serde_json::to_string_pretty(&doc).expect("json"));
    }
    if outstanding > 0 {
        let mut e = Error::new(
            ErrorKind::VerifyFailed,
            format!("{outstanding} of {} mailbox(es) not ready", reports.len()),
        );
        e.reported = global.output == OutputFormat::Json;
        return Err(e);
    }
    Ok(ExitCode::Success)
}

/// `--fix`: the plan, the confirmation, one `Set-CASMailbox` per mailbox, and the next step.
/// Returns the JSON `fix` member and the fixes made.
async fn fix(
    checker: &microsoft::Checker,
    checked: &[microsoft::Checked],
    spec: &Spec,
    args: &MailboxCheckArgs,
    global: &Global,
) -> Result<(serde_json::Value, Vec<microsoft::CasFix>)> {
    let text = global.output == OutputFormat::Text && !global.quiet;
    let (plan, fixes) = checker.fix_plan(checked);
    if text {
        println!("\n{}\n", header("mailbox check --fix", spec));
        if plan.is_empty() {
            println!("Nothing to fix that mailreg may change.");
        } else {
            print!("{}", plan.render());
        }
    }
    if !fixes.is_empty() {
        confirm(
            global,
            args.yes,
            "mailbox check --fix",
            "Change these mailboxes?",
        )?;
        for f in &fixes {
            checker.set_cas(f).await?;
        }
    }
    let next: Vec<String> = fixes
        .iter()
        .map(|f| {
            format!(
                "mailreg verify -f {} --env {} --provider microsoft --user {} --wait 45m",
                spec.file.display(),
                spec.env,
                f.user
            )
        })
        .collect();
    if text && !fixes.is_empty() {
        println!(
            "\nChanged {} mailbox(es). Exchange Online takes up to 30 minutes, sometimes more, to apply a change to every server. This proves it as soon as it works:",
            fixes.len()
        );
        for n in &next {
            println!("  {n}");
        }
    }
    let doc = json!({"plan": plan.to_json(), "applied": !fixes.is_empty(), "next": next});
    Ok((doc, fixes))
}
