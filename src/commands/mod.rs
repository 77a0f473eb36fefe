//! The commands: each loads its inputs, calls the engine, and prints one result.

mod demo;
mod detach;
mod gc;
mod google;
mod guard;
mod init;
mod mailbox;
mod meta;
mod show;

use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;

use serde_json::json;

use crate::cli::{Command, Global, OutputFormat, Target};
use crate::clock::Clock;
use crate::credentials::Store;
use crate::engine::{self, Ctx, Progress, Providers};
use crate::error::{Error, ExitCode, Result};
use crate::google::GoogleProvider;
use crate::http::Http;
use crate::microsoft::MicrosoftProvider;
use crate::plan::Plan;
use crate::secrets::{StorePlan, Stores, github, stage::changing};
use crate::spec::Spec;

pub async fn run(command: Command, global: &Global) -> Result<ExitCode> {
    // Read when a record is written, which may be after the first cloud write: checked now.
    crate::credentials::lock_timeout()?;
    match command {
        Command::Plan {
            target,
            detailed_exitcode,
        } => plan(&target, global, detailed_exitcode).await,
        Command::Apply {
            target,
            yes,
            replace,
            ttl,
            github_outputs,
        } => apply(&target, global, yes, replace, ttl, github_outputs).await,
        Command::Gc(args) => gc::run(&args, global).await,
        Command::Destroy {
            target,
            yes,
            purge,
            keep_secrets,
            keep_outputs,
        } => destroy(&target, global, yes, purge, keep_secrets, keep_outputs).await,
        Command::Output {
            target,
            show_secrets,
            format,
            provider,
            github_outputs,
        } => output(
            &target,
            global,
            show_secrets,
            format.as_deref(),
            provider.as_deref(),
            github_outputs,
        ),
        Command::Emulator {
            port,
            replication_lag,
            latency_ms,
            detach: true,
        } => detach::emulator(port, replication_lag, latency_ms, global),
        Command::Emulator {
            port,
            replication_lag,
            latency_ms,
            detach: false,
        } => emulator(port, replication_lag, latency_ms, global).await,
        Command::Google(cmd) => google::run(cmd, global).await,
        Command::Status { target } => status(&target, global).await,
        Command::Rotate {
            target,
            yes,
            keep_old,
            provider,
        } => rotate(&target, global, yes, keep_old, provider.as_deref()).await,
        Command::Init(args) => init::run(&args, global),
        Command::Completions { shell } => meta::completions(shell, global),
        Command::Man { command, dir } => meta::man(&command, dir.as_deref(), global),
        Command::Demo { show_secrets } => demo::run(global, show_secrets).await,
        Command::Verify(args) => crate::verify::run(&args.options(global)).await,
        Command::Mailbox(cmd) => mailbox::run(cmd, global).await,
    }
}

/// Everything a cloud command needs: the spec, the providers, and a run context.
struct Session {
    spec: Spec,
    microsoft: Option<Arc<MicrosoftProvider>>,
    /// Held by commands that change something (apply, destroy, rotate).
    _lock: Option<crate::lock::Lock>,
    providers: Providers,
    google: Option<Arc<GoogleProvider>>,
    /// The `[[secret]]` stores.
    stores: Stores,
    ctx: Ctx,
}

fn google_provider(s: &Session) -> Result<Arc<GoogleProvider>> {
    s.google.clone().ok_or_else(|| {
        Error::bad_input(format!(
            "{}: the spec has no [google] section",
            s.spec.file.display()
        ))
    })
}

fn session(target: &Target, global: &Global) -> Result<Session> {
    session_for(target, global, None, None)
}

/// A session whose writes to Graph's `applications` path are paced (gc), from
/// `writes_per_minute` down to whatever the tenant allows, until `deadline` (nominal).
fn paced_session(
    target: &Target,
    global: &Global,
    writes_per_minute: u32,
    deadline: std::time::Duration,
) -> Result<Session> {
    session_for(target, global, None, Some((writes_per_minute, deadline)))
}

/// A session that holds the spec/environment lock, for commands that write.
fn locked_session(target: &Target, global: &Global, command: &str) -> Result<Session> {
    session_for(target, global, Some(command), None)
}

fn session_for(
    target: &Target,
    global: &Global,
    lock_for: Option<&str>,
    pace: Option<(u32, std::time::Duration)>,
) -> Result<Session> {
    let spec = Spec::load(&target.file, &target.env)?;
    // Templates are part of the input: a broken one stops the run before any request.
    crate::output::check_templates(&spec)?;
    crate::mailbox::logo::check(&spec)?;
    let clock = Clock::from_env()?;
    let mut http = Http::new(clock)?;
    if let Some((n, deadline)) = pace {
        http =
            http.with_pacer(crate::http::pace::Pacer::per_minute(n, clock).with_deadline(deadline));
    }
    let mut providers: Providers = Vec::new();
    let microsoft = match spec.microsoft {
        Some(_) => Some(Arc::new(MicrosoftProvider::new(&spec, &http)?)),
        None => None,
    };
    if let Some(m) = &microsoft {
        providers.push(m.clone());
    }
    let google = match spec.google {
        Some(_) => Some(Arc::new(GoogleProvider::new(&spec, &http)?)),
        None => None,
    };
    if let Some(g) = &google {
        providers.push(g.clone());
    }
    let stores = Stores::new(&spec, &http);
    let interactive =
        global.output == OutputFormat::Text && !global.quiet && std::io::stderr().is_terminal();
    // The lock first: the record is read only under it.
    let _lock = match lock_for {
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
        microsoft,
        spec,
        providers,
        google,
        stores,
        ctx,
    })
}

fn print_plan(global: &Global, header: &str, plan: &Plan) {
    if global.output == OutputFormat::Text && !global.quiet {
        println!("{header}\n");
        print!("{}", plan.render());
    }
}

/// A destroy plan: an empty one means there is nothing of this spec's to delete, which
/// "No changes … matches the spec" would not say.
fn print_destroy_plan(global: &Global, header: &str, plan: &Plan) {
    if plan.is_empty() && global.output == OutputFormat::Text && !global.quiet {
        println!("{header}\n");
        println!(
            "Nothing to destroy: no resource of {} ({}) exists.",
            plan.name, plan.env
        );
    } else {
        print_plan(global, header, plan);
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

async fn plan(target: &Target, global: &Global, detailed: bool) -> Result<ExitCode> {
    let s = session(target, global)?;
    guard::env_guard(&s.spec, global, None, "plan")?;
    guard::warn_no_test_users(&s.spec);
    let plan = plan_with_stores(&s).await;
    s.ctx.progress.finish();
    let plan = plan?.0.plan;
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

/// The providers' plan, then the stores' (which need to know whose secret changes), as one
/// plan. Every store is read here: one that cannot be read stops the run before any change.
async fn plan_with_stores(s: &Session) -> Result<(engine::ApplyStaged<'_>, StorePlan)> {
    let mut staged = engine::plan(&s.ctx, &s.providers).await?;
    let record = s.ctx.record().await;
    let stores = s
        .stores
        .plan(&record, &changing(&staged.plan.changes))
        .await?;
    staged.plan.changes.extend(stores.changes.iter().cloned());
    Ok((staged, stores))
}

async fn apply(
    target: &Target,
    global: &Global,
    yes: bool,
    replace: bool,
    ttl: Option<std::time::Duration>,
    github_outputs: bool,
) -> Result<ExitCode> {
    let gh_file = github_outputs.then(github::check_env).transpose()?;
    let mut s = locked_session(target, global, "apply")?;
    guard::env_guard(&s.spec, global, Some(yes), "apply")?;
    guard::warn_no_test_users(&s.spec);
    s.ctx.replace = replace;
    s.ctx.ttl = ttl;
    let staged = plan_with_stores(&s).await;
    s.ctx.progress.finish();
    let (staged, store_plan) = staged?;
    let plan = staged.plan.clone();
    engine::check_replacements(&s.ctx, &plan)?;
    crate::output::check_writable(&s.spec)?;
    print_plan(global, &header("apply", &s.spec), &plan);
    if !plan.is_empty() {
        confirm(
            global,
            yes,
            "apply",
            "Do you want to perform these actions?",
        )?;
        if plan.changes.iter().any(|c| c.provider != "secret") {
            engine::apply(&s.ctx, staged).await?;
        }
        // The stores get the credentials once they exist.
        let record = s.ctx.record().await;
        let written = s.stores.apply(&store_plan, &record, &s.ctx.progress).await;
        s.ctx.progress.finish();
        written?;
    }
    let steps = s.ctx.manual_steps();
    let completed = google::handle_manual_steps(&s.spec, global, &steps)?;
    let pending = (!completed).then(|| google::manual_step_error(&steps));
    let record = s
        .ctx
        .store
        .load(&s.spec.name, &s.spec.env)?
        .unwrap_or(s.ctx.record().await);
    let store_path = s.ctx.store.path(&s.spec.name, &s.spec.env);
    let written = crate::output::write_all(&s.spec, &record)?;
    let mailboxes = mailbox_readiness(&s.spec).await;
    let gh_outputs = match &gh_file {
        Some(f) => Some(github::emit(&record, f, mask_stream(global))?),
        None => None,
    };
    match global.output {
        OutputFormat::Json => {
            let mut doc = json!({
                "github_outputs": gh_outputs,
                "plan": plan.to_json(),
                "applied": !plan.is_empty(),
                "manual_steps": steps,
                "outputs": written,
                "credentials": show::credentials_json(&record, false),
                "credentials_file": store_path.display().to_string(),
                "error": pending.as_ref().map(Error::to_json),
            });
            if let Some(m) = &mailboxes {
                doc["mailboxes"] = mailbox_json(m);
            }
            println!("{}", serde_json::to_string_pretty(&doc).expect("json"));
        }
        OutputFormat::Text if !global.quiet => {
            let sum = plan.summary();
            if plan.is_empty() {
                println!();
            } else if completed {
                println!(
                    "\nApply complete: {} added, {} changed, {} destroyed.\n",
                    sum.add, sum.change, sum.destroy
                );
            } else {
                println!("\nApply incomplete: a manual step is pending.\n");
            }
            print!("{}", show::credentials_text(&record, false, &store_path));
            for w in &written {
                let what = match w.status {
                    "written" => "wrote",
                    "unchanged" => "unchanged",
                    _ => "pending (credentials not complete yet)",
                };
                println!(
                    "output  {what} {} ({}, {})",
                    w.path,
                    w.template,
                    w.provider.as_str()
                );
            }
            if let Some(m) = &mailboxes {
                print!("\nMailboxes:\n{}", mailbox_text(m));
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

async fn rotate(
    target: &Target,
    global: &Global,
    yes: bool,
    keep_old: bool,
    only: Option<&str>,
) -> Result<ExitCode> {
    let s = locked_session(target, global, "rotate")?;
    guard::env_guard(&s.spec, global, Some(yes), "rotate")?;
    let wanted = |p: &str| only.is_none_or(|o| o == p);
    if let Some(p) = only {
        let declared = if p == "google" {
            s.google.is_some()
        } else {
            s.microsoft.is_some()
        };
        if !declared {
            return Err(Error::bad_input(format!(
                "--provider {p}: {} has no [{p}] section",
                s.spec.file.display()
            )));
        }
    }
    let mut plan = Plan::new(&s.spec.name, &s.spec.env);
    let mut rotation = None;
    if let Some(ms) = s.microsoft.as_ref().filter(|_| wanted("microsoft")) {
        let planned = ms.plan_rotate(&s.ctx, keep_old).await;
        s.ctx.progress.finish();
        let (changes, r) = planned?;
        plan.changes.extend(changes);
        // Every store is read and checked before the new secret exists.
        let record = s.ctx.record().await;
        let stores = s
            .stores
            .plan(&record, &[crate::spec::Provider::Microsoft])
            .await;
        s.ctx.progress.finish();
        let stores = stores?;
        plan.changes.extend(stores.changes.iter().cloned());
        rotation = Some((ms.clone(), r, stores));
    }
    print_plan(global, &header("rotate", &s.spec), &plan);
    let mut written = Vec::new();
    if let Some((ms, r, stores)) = &rotation {
        confirm(global, yes, "rotate", "Rotate the client secret?")?;
        ms.rotate_add(&s.ctx, r).await?;
        // The stores and the mailboxes' files get the new secret before the old one stops
        // working.
        let record = s.ctx.record().await;
        s.stores.apply(stores, &record, &s.ctx.progress).await?;
        written = crate::output::write_all(&s.spec, &record)?;
        ms.rotate_retire(&s.ctx, r).await?;
        s.ctx.progress.finish();
    }
    let google_steps = s
        .google
        .as_ref()
        .filter(|_| wanted("google"))
        .map(|_| google::rotate_steps(&s.spec));
    match global.output {
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "plan": plan.to_json(),
                "outputs": written,
                "manual_steps": google_steps.iter().collect::<Vec<_>>(),
            }))
            .expect("json")
        ),
        OutputFormat::Text if !global.quiet => {
            if rotation.is_some() {
                println!("\nRotation complete: the new secret is stored and rendered.");
                for w in &written {
                    println!(
                        "output  {} {} ({}, {})",
                        w.status,
                        w.path,
                        w.template,
                        w.provider.as_str()
                    );
                }
            }
            if let Some(steps) = &google_steps {
                println!("\n{}", steps.instructions);
            }
        }
        OutputFormat::Text => {}
    }
    match google_steps {
        Some(steps) => {
            let mut e = google::manual_step_error(std::slice::from_ref(&steps));
            e.reported = global.output == OutputFormat::Json;
            Err(e)
        }
        None => Ok(ExitCode::Success),
    }
}

async fn status(target: &Target, global: &Global) -> Result<ExitCode> {
    let s = session(target, global)?;
    guard::env_guard(&s.spec, global, None, "status")?;
    let (plan, providers) = engine::status(&s.ctx, &s.providers).await?;
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
async fn mailbox_readiness(spec: &Spec) -> Option<Result<Vec<crate::mailbox::Report>>> {
    if !crate::mailbox::spec_has_mailboxes(spec) {
        return None;
    }
    Some(match Clock::from_env().and_then(Http::new) {
        Ok(http) => crate::mailbox::check_spec(spec, &http).await,
        Err(e) => Err(e),
    })
}

/// `mailboxes` in JSON: the reports, or `{"error": …}` when the checks could not run.
fn mailbox_json(m: &Result<Vec<crate::mailbox::Report>>) -> serde_json::Value {
    match m {
        Ok(reports) => crate::mailbox::to_json(reports),
        Err(e) => json!({"error": e.to_json()}),
    }
}

fn mailbox_text(m: &Result<Vec<crate::mailbox::Report>>) -> String {
    match m {
        Ok(reports) => crate::mailbox::render(reports),
        Err(e) => format!("  the mailbox checks could not run: {}\n", e.message),
    }
}

async fn destroy(
    target: &Target,
    global: &Global,
    yes: bool,
    purge: bool,
    keep_secrets: bool,
    keep_outputs: bool,
) -> Result<ExitCode> {
    let mut s = locked_session(target, global, "destroy")?;
    guard::env_guard(&s.spec, global, Some(yes), "destroy")?;
    s.ctx.purge = purge;
    let staged = async {
        let mut staged = engine::plan_destroy(&s.ctx, &s.providers).await?;
        let stores = match keep_secrets {
            true => StorePlan::default(),
            false => s.stores.plan_destroy().await?,
        };
        staged.plan.changes.extend(stores.changes.iter().cloned());
        Ok::<_, Error>((staged, stores))
    }
    .await;
    s.ctx.progress.finish();
    let (staged, stores) = staged?;
    let plan = staged.plan.clone();
    print_destroy_plan(global, &header("destroy", &s.spec), &plan);
    if !plan.is_empty() {
        confirm(
            global,
            yes,
            "destroy",
            "Do you really want to destroy these resources?",
        )?;
    }
    // Decided against the record as it was before: the files hold its (soon dead) secrets.
    let outputs = if keep_outputs {
        Vec::new()
    } else {
        crate::output::removable(&s.spec, &s.ctx.record().await)?
    };
    s.stores.destroy(&stores, purge, &s.ctx.progress).await?;
    // Runs even for an empty plan: it also clears a stale credentials record.
    engine::destroy(&s.ctx, staged).await?;
    crate::output::remove(&outputs)?;
    let outputs: Vec<_> = outputs.into_iter().map(|(_, r)| r).collect();
    match global.output {
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "plan": plan.to_json(),
                "destroyed": !plan.is_empty(),
                "outputs": outputs,
            }))
            .expect("json")
        ),
        OutputFormat::Text if !global.quiet => {
            if !plan.is_empty() {
                println!("\nDestroy complete: {} destroyed.", plan.summary().destroy);
            }
            for o in &outputs {
                match o.reason {
                    Some(why) => println!("output  kept {}: {why}", o.path),
                    None => println!("output  removed {}", o.path),
                }
            }
        }
        OutputFormat::Text => {}
    }
    Ok(ExitCode::Success)
}

fn output(
    target: &Target,
    global: &Global,
    show_secrets: bool,
    format: Option<&str>,
    provider: Option<&str>,
    github_outputs: bool,
) -> Result<ExitCode> {
    let gh_file = github_outputs.then(github::check_env).transpose()?;
    let spec = Spec::load(&target.file, &target.env)?;
    let store = Store::for_spec(&spec.file);
    let record = store.load_required(&spec.name, &spec.env)?;
    if let Some(f) = &gh_file {
        github::emit(&record, f, mask_stream(global))?;
    }
    if let Some(format) = format {
        use crate::output::{Provider, Template, context};
        let complete: Vec<Provider> = [Provider::Microsoft, Provider::Google]
            .into_iter()
            .filter(|p| context::for_record(&record, *p, &Default::default(), false).is_some())
            .collect();
        let chosen = match provider {
            Some("google") => Provider::Google,
            Some(_) => Provider::Microsoft,
            None if complete.len() == 1 => complete[0],
            None if complete.is_empty() => {
                return Err(
                    Error::bad_input("no provider has complete credentials on record yet")
                        .with_hint(
                            "run `mailreg apply` (and, for Google, `mailreg google import-client`)",
                        ),
                );
            }
            None => {
                return Err(Error::bad_input(
                    "the record holds credentials of both providers: choose one with --provider microsoft|google",
                ));
            }
        };
        // The spec's own `vars` for this provider (the mailbox address…), preferring an output
        // with the same template: what `apply` writes, `output` shows.
        let vars = spec
            .outputs
            .iter()
            .filter(|o| o.provider == chosen)
            .max_by_key(|o| o.template == format)
            .map(|o| o.vars.clone())
            .unwrap_or_default();
        let ctx = context::for_record(&record, chosen, &vars, show_secrets).ok_or_else(|| {
            Error::bad_input(format!(
                "no complete {} credentials on record",
                chosen.as_str()
            ))
        })?;
        // A person at a terminal pastes into AgileApps' form: show its labels, not the JSON.
        let format = if format == "agileapps"
            && global.output == OutputFormat::Text
            && std::io::stdout().is_terminal()
        {
            crate::output::AGILEAPPS_SHEET
        } else {
            format
        };
        let tmpl = Template::resolve(format, std::path::Path::new("."))
            .map_err(|m| Error::bad_input(format!("--format: {m}")))?;
        let rendered = tmpl.render(&ctx)?;
        match global.output {
            // One JSON document, whatever the template renders: the text goes in a field.
            OutputFormat::Json => println!(
                "{}",
                serde_json::to_string_pretty(&json!({
                    "provider": chosen.as_str(),
                    "format": format,
                    "rendered": rendered,
                }))
                .expect("json")
            ),
            OutputFormat::Text => print!("{rendered}"),
        }
        return Ok(ExitCode::Success);
    }
    match global.output {
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&show::credentials_json(&record, show_secrets))
                .expect("json")
        ),
        OutputFormat::Text => print!(
            "{}",
            show::credentials_text(&record, show_secrets, &store.path(&spec.name, &spec.env))
        ),
    }
    Ok(ExitCode::Success)
}

/// `::add-mask::` goes to stdout, except when stdout carries one JSON document.
fn mask_stream(global: &Global) -> github::MaskStream {
    match global.output {
        OutputFormat::Json => github::MaskStream::Stderr,
        OutputFormat::Text => github::MaskStream::Stdout,
    }
}

async fn emulator(
    port: u16,
    replication_lag: u32,
    latency_ms: u64,
    global: &Global,
) -> Result<ExitCode> {
    let mut config = mailreg_emulator::EmulatorConfig {
        port,
        latency: Some(std::time::Duration::from_millis(latency_ms)),
        ..Default::default()
    };
    config.graph.replication_lag = replication_lag;
    let emu = mailreg_emulator::Emulator::start(config).await?;
    // A ready mailbox to rehearse `mailreg mailbox check` and `--fix` with.
    let mailbox = "mailbox@contoso.onmicrosoft.com";
    emu.with_state(|s| s.add_mailbox(mailreg_emulator::MailboxSeed::ready(mailbox)));
    // Listen for Ctrl-C before the address is printed: a script that reads it and stops the
    // emulator at once must get a clean stop, not the default kill.
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    if global.output == OutputFormat::Json {
        let env: serde_json::Map<String, serde_json::Value> =
            emu.env().into_iter().map(|(k, v)| (k, json!(v))).collect();
        println!(
            "{}",
            json!({"url": emu.url(), "env": env, "mailboxes": [mailbox]})
        );
    } else {
        println!("mailreg emulator listening on {}", emu.url());
        println!("Point mailreg at it:\n");
        for (k, v) in emu.env() {
            println!("  export {k}={v}");
        }
        println!("\nA ready mailbox is seeded for `mailreg mailbox check`: {mailbox}");
        println!("\nCtrl-C stops it; state is kept in memory only.");
    }
    // Scripts read the address from a pipe: make sure it is out before waiting.
    std::io::stdout().flush()?;
    // Ctrl-C is its documented way to stop (exit 0); `kill` (SIGTERM, as for a detached
    // emulator) stops it the same way, and its files go too.
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = interrupt.recv() => {}
        _ = term.recv() => {}
    }
    Ok(ExitCode::Success)
}
