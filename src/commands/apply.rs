//! `mailreg plan` and `mailreg apply`: one plan of every resource, one confirmation, the
//! engine carries it out, one report.

use serde_json::{Value, json};

use super::{Open, Session, confirm, guard, header, mask_stream, open, print_plan, show, status};
use crate::cli::{ApplyArgs, Global, OutputFormat, Target};
use crate::credentials::Record;
use crate::engine::{self, ManualStep};
use crate::error::{Error, ExitCode, Result};
use crate::output::Written;
use crate::plan::Plan;
use crate::secrets::github;
use crate::stack::Scope;

pub async fn plan(
    target: &Target,
    global: &Global,
    detailed: bool,
    mailboxes: bool,
) -> Result<ExitCode> {
    let scope = Scope {
        mailboxes,
        ..Scope::REGISTRATION
    };
    let how = Open {
        scope,
        ..Open::READ
    };
    let s = open(target, global, how)?;
    guard::env_guard(&s.spec, global, None, "plan")?;
    guard::warn_no_test_users(&s.spec);
    let staged = engine::plan(&s.ctx, &s.stack.resources).await;
    s.ctx.progress.finish();
    let plan = staged?.plan;
    match global.output {
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&plan.to_json()).expect("json")
        ),
        OutputFormat::Text => print_plan(global, &header("plan", &s.spec), &plan),
    }
    Ok(if detailed && !plan.is_empty() {
        ExitCode::ChangesPending
    } else {
        ExitCode::Success
    })
}

/// What carrying out one plan left, for the command's report.
pub(super) struct Converged {
    pub plan: Plan,
    pub record: Record,
    pub written: Vec<Written>,
    pub steps: Vec<ManualStep>,
    /// Every manual step was done (true when there was none).
    pub completed: bool,
    pub github_outputs: Option<Vec<String>>,
}

impl Converged {
    /// The error for exit code 5 while the console step is pending.
    pub fn pending(&self) -> Option<Error> {
        (!self.completed).then(|| super::google::manual_step_error(&self.steps))
    }
}

/// Opens a locked session for `verb` (`apply`, `up`) over `scope`.
pub(super) fn session(
    args: &ApplyArgs,
    global: &Global,
    verb: &str,
    scope: Scope,
) -> Result<Session> {
    let how = Open {
        lock_for: Some(verb),
        scope,
        ..Open::READ
    };
    let mut s = open(&args.target, global, how)?;
    guard::env_guard(&s.spec, global, Some(args.yes), verb)?;
    guard::warn_no_test_users(&s.spec);
    s.ctx.replace = args.replace;
    s.ctx.ttl = args.ttl;
    s.ctx.console = super::console::Terminal::for_run(&s.spec, global);
    Ok(s)
}

/// Plans every resource, shows the plan, asks once, and lets the engine carry it out.
pub(super) async fn converge(
    s: &Session,
    args: &ApplyArgs,
    global: &Global,
    verb: &str,
) -> Result<Converged> {
    let gh_file = args.github_outputs.then(github::check_env).transpose()?;
    let staged = engine::plan(&s.ctx, &s.stack.resources).await;
    s.ctx.progress.finish();
    let staged = staged?;
    let plan = staged.plan.clone();
    engine::check_replacements(&s.ctx, &plan)?;
    crate::output::check_writable(&s.spec)?;
    print_plan(global, &header(verb, &s.spec), &plan);
    if !plan.is_empty() {
        confirm(
            global,
            args.yes,
            verb,
            "Do you want to perform these actions?",
        )?;
    }
    // Also for an empty plan: the outputs' report says what is on disk.
    engine::apply(&s.ctx, staged).await?;
    let steps = s.ctx.manual_steps();
    let completed = s.ctx.manual_steps_done();
    if !completed && s.ctx.console.is_none() && global.output == OutputFormat::Text {
        // Nobody to ask: the checklist is printed, and the run ends with exit code 5. Under
        // `-q` it is part of the error the run ends with: on standard error.
        for step in &steps {
            match global.quiet {
                true => eprintln!("\n{}", step.instructions),
                false => println!("\n{}", step.instructions),
            }
        }
    }
    let record = s
        .ctx
        .store
        .load(&s.spec.name, &s.spec.env)?
        .unwrap_or(s.ctx.record().await);
    let github_outputs = match &gh_file {
        Some(f) => Some(github::emit(&record, f, mask_stream(global))?),
        None => None,
    };
    Ok(Converged {
        plan,
        record,
        written: s.stack.written(),
        steps,
        completed,
        github_outputs,
    })
}

pub async fn apply(args: &ApplyArgs, global: &Global) -> Result<ExitCode> {
    let s = session(args, global, "apply", Scope::REGISTRATION)?;
    let done = converge(&s, args, global, "apply").await?;
    let mailboxes = status::mailbox_readiness(&s.spec).await;
    let pending = done.pending();
    match global.output {
        OutputFormat::Json => {
            let mut doc = report_json(&s, &done, pending.as_ref());
            if let Some(m) = &mailboxes {
                doc["mailboxes"] = status::mailbox_json(m);
            }
            println!("{}", serde_json::to_string_pretty(&doc).expect("json"));
        }
        OutputFormat::Text if !global.quiet => {
            print!("{}", report_text(&s, &done, "Apply"));
            if let Some(m) = &mailboxes {
                print!("\nMailboxes:\n{}", status::mailbox_text(m));
            }
        }
        OutputFormat::Text => {}
    }
    match pending {
        Some(mut e) => {
            e.reported = global.output == OutputFormat::Json;
            Err(e)
        }
        None => Ok(ExitCode::Success),
    }
}

/// The JSON report of a converged plan (`apply`, `up`).
pub(super) fn report_json(s: &Session, done: &Converged, pending: Option<&Error>) -> Value {
    let store_path = s.ctx.store.path(&s.spec.name, &s.spec.env);
    json!({
        "github_outputs": done.github_outputs,
        "plan": done.plan.to_json(),
        "applied": !done.plan.is_empty(),
        "manual_steps": done.steps,
        "outputs": done.written,
        "credentials": show::credentials_json(&done.record, false),
        "credentials_file": store_path.display().to_string(),
        "error": pending.map(Error::to_json),
    })
}

/// The text report of a converged plan: the counts, the credentials, the output files.
/// `verb` starts the count line (`Apply complete: …`, `Up complete: …`).
pub(super) fn report_text(s: &Session, done: &Converged, verb: &str) -> String {
    let store_path = s.ctx.store.path(&s.spec.name, &s.spec.env);
    let sum = done.plan.summary();
    let mut out = String::new();
    if done.plan.is_empty() {
        out.push('\n');
    } else if done.completed {
        out.push_str(&format!(
            "\n{verb} complete: {} added, {} changed, {} destroyed.\n\n",
            sum.add, sum.change, sum.destroy
        ));
    } else {
        out.push_str(&format!(
            "\n{verb} incomplete: a manual step is pending.\n\n"
        ));
    }
    out.push_str(&show::credentials_text(&done.record, false, &store_path));
    out.push_str(&outputs_text(&done.written));
    out
}

/// One line per output file: `output  wrote out/test/x.json (agileapps, microsoft)`.
pub(super) fn outputs_text(written: &[Written]) -> String {
    let mut out = String::new();
    for w in written {
        let what = match w.status {
            "written" => "wrote",
            "unchanged" => "unchanged",
            _ => "pending (credentials not complete yet)",
        };
        out.push_str(&format!(
            "output  {what} {} ({}, {})\n",
            w.path,
            w.template,
            w.provider.as_str()
        ));
    }
    out
}

/// One line per output file destroy or gc dealt with: `output  removed …`, or kept and why.
pub(super) fn removals_text(removals: &[crate::output::Removal]) -> String {
    removals
        .iter()
        .map(|o| match o.reason {
            Some(why) => format!("output  kept {}: {why}\n", o.path),
            None => format!("output  removed {}\n", o.path),
        })
        .collect()
}
