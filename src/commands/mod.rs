//! The commands: each parses its inputs, calls the engine, and prints one result.

mod apply;
pub mod completions;
mod console;
mod demo;
mod destroy;
mod detach;
mod emulator;
mod gc;
mod google;
mod graph;
mod guard;
mod init;
mod mailbox;
mod meta;
mod output;
mod rotate;
mod show;
mod status;
mod up;

use std::io::{BufRead, IsTerminal, Write};

use crate::cli::{Command, Global, OutputFormat, Target};
use crate::clock::Clock;
use crate::credentials::Store;
use crate::engine::{Ctx, Progress};
use crate::error::{Error, ExitCode, Result};
use crate::http::Http;
use crate::plan::Plan;
use crate::spec::Spec;
use crate::stack::{Scope, Stack};

pub async fn run(command: Command, global: &Global) -> Result<ExitCode> {
    // Read when a record is written, which may be after the first cloud write: checked now.
    crate::credentials::lock_timeout()?;
    match command {
        Command::Plan {
            target,
            detailed_exitcode,
            mailboxes,
        } => apply::plan(&target, global, detailed_exitcode, mailboxes).await,
        Command::Graph { target, mailboxes } => graph::run(&target, global, mailboxes),
        Command::Apply(args) => apply::apply(&args, global).await,
        Command::Up(args) => up::run(&args, global).await,
        Command::Gc(args) => gc::run(&args, global).await,
        Command::Destroy(args) => destroy::run(&args, global, "destroy").await,
        Command::Down(args) => destroy::run(&args, global, "down").await,
        Command::Output {
            target,
            show_secrets,
            format,
            provider,
            github_outputs,
        } => output::run(
            &target,
            global,
            show_secrets,
            format.as_deref(),
            provider.as_deref(),
            github_outputs,
        ),
        Command::Emulator(args) => match &args.action {
            Some(crate::cli::EmulatorAction::Console { target, out }) => {
                emulator::console(target, out, global).await
            }
            None if args.detach => detach::emulator(&args, global),
            None => emulator::run(&args, global).await,
        },
        Command::Google(cmd) => google::run(cmd, global).await,
        Command::Status { target } => status::run(&target, global).await,
        Command::Rotate {
            target,
            yes,
            keep_old,
            provider,
        } => rotate::run(&target, global, yes, keep_old, provider.as_deref()).await,
        Command::Init(args) => init::run(&args, global),
        Command::Completions { shell } => completions::run(shell, global),
        Command::Man { command, dir } => meta::man(&command, dir.as_deref(), global),
        Command::Demo { show_secrets } => demo::run(global, show_secrets).await,
        Command::Verify(args) => crate::verify::run(&args.options(global)).await,
        Command::Mailbox(cmd) => mailbox::run(cmd, global).await,
    }
}

/// Everything a cloud command needs: the spec, its resources, and a run context.
struct Session {
    spec: Spec,
    /// Held by commands that change something (apply, destroy, rotate).
    _lock: Option<crate::lock::Lock>,
    stack: Stack,
    ctx: Ctx,
}

/// How a session is opened.
struct Open<'a> {
    /// Take the spec/environment lock, for commands that write (named in the refusal).
    lock_for: Option<&'a str>,
    /// Pace writes to Graph's `applications` path (gc): writes per minute, and the deadline.
    pace: Option<(u32, std::time::Duration)>,
    scope: Scope,
    /// Only the outputs and `[[secret]]` entries of these providers (gc's cleanup after the
    /// registrations it deleted).
    only: Option<&'a [&'a str]>,
}

impl Open<'_> {
    const READ: Open<'static> = Open {
        lock_for: None,
        pace: None,
        scope: Scope::REGISTRATION,
        only: None,
    };
}

fn session(target: &Target, global: &Global) -> Result<Session> {
    open(target, global, Open::READ)
}

fn open(target: &Target, global: &Global, how: Open<'_>) -> Result<Session> {
    let mut spec = Spec::load(&target.file, &target.env)?;
    if let Some(only) = how.only {
        spec.body
            .outputs
            .retain(|o| only.contains(&o.provider.as_str()));
        spec.body
            .secrets
            .retain(|o| only.contains(&o.provider.as_str()));
    }
    // Templates are part of the input: a broken one stops the run before any request.
    crate::output::check_templates(&spec)?;
    crate::mailbox::logo::check(&spec)?;
    let clock = Clock::from_env()?;
    let mut http = Http::new(clock)?;
    if let Some((n, deadline)) = how.pace {
        http =
            http.with_pacer(crate::http::pace::Pacer::per_minute(n, clock).with_deadline(deadline));
    }
    let stack = Stack::new(&spec, &http, how.scope)?;
    let interactive =
        global.output == OutputFormat::Text && !global.quiet && std::io::stderr().is_terminal();
    // The lock first: the record is read only under it.
    let _lock = match how.lock_for {
        Some(command) => Some(crate::lock::Lock::acquire(
            &Store::for_spec(&spec.file),
            &spec.name,
            &spec.env,
            command,
        )?),
        None => None,
    };
    let ctx = Ctx::new(
        &spec.name,
        &spec.env,
        Store::for_spec(&spec.file),
        Progress::new(interactive),
    )?;
    Ok(Session {
        _lock,
        spec,
        stack,
        ctx,
    })
}

fn print_plan(global: &Global, header: &str, plan: &Plan) {
    if global.output == OutputFormat::Text && !global.quiet {
        println!("{header}\n");
        print!("{}", plan.render());
    }
}

/// Asks before changing anything, unless `--yes`. Without a terminal there is nobody to ask:
/// refuse rather than guess. `command` names the command in the hint (`mailreg destroy --yes`).
pub(crate) fn confirm(global: &Global, yes: bool, command: &str, question: &str) -> Result<()> {
    if yes {
        return Ok(());
    }
    if global.output == OutputFormat::Json || !std::io::stdin().is_terminal() {
        return Err(
            Error::refused("confirmation needed, but there is no terminal to ask on").with_hint(
                format!(
                    "pass --yes (`mailreg {command} --yes`) to go on without asking, as CI should"
                ),
            ),
        );
    }
    print!("\n{question}\n  Only 'yes' will be accepted: ");
    std::io::stdout().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    if line.trim() == "yes" {
        Ok(())
    } else {
        Err(Error::refused("cancelled; nothing was changed"))
    }
}

fn header(verb: &str, spec: &Spec) -> String {
    format!(
        "mailreg {verb}: {} (environment {}) from {}",
        spec.name,
        spec.env,
        spec.file.display()
    )
}

/// `::add-mask::` goes to stdout, except when stdout carries one JSON document.
fn mask_stream(global: &Global) -> crate::secrets::github::MaskStream {
    match global.output {
        OutputFormat::Json => crate::secrets::github::MaskStream::Stderr,
        OutputFormat::Text => crate::secrets::github::MaskStream::Stdout,
    }
}
