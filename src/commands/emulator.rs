//! `mailreg emulator`: both clouds' fakes (and a mail responder) on a port, until Ctrl-C; and
//! `mailreg emulator console`, which plays the Google console against a running one.

use std::io::Write;

use serde_json::json;

use crate::cli::{EmulatorArgs, Global, OutputFormat, Target};
use crate::credentials::Store;
use crate::error::{Error, ExitCode, Result};
use crate::spec::Spec;

/// A ready mailbox to rehearse `mailbox check`, `verify` and `up` with.
const MAILBOX: &str = "mailbox@contoso.onmicrosoft.com";

pub async fn run(args: &EmulatorArgs, global: &Global) -> Result<ExitCode> {
    // Random per start unless a seed is given: two emulators never hand out the same client
    // IDs and secrets, and a rehearsal secret never looks like a stable one.
    let seed = args.seed.unwrap_or_else(|| fastrand::u64(..));
    let mut config = mailreg_emulator::EmulatorConfig {
        port: args.port,
        latency: Some(std::time::Duration::from_millis(args.latency_ms)),
        ..Default::default()
    };
    config.graph.replication_lag = args.replication_lag;
    config.graph.seed = seed;
    config.google.seed = seed;
    let emu = mailreg_emulator::Emulator::start(config).await?;
    emu.with_state(|s| {
        s.add_mailbox(mailreg_emulator::MailboxSeed::ready(MAILBOX));
        s.exchange.propagation = args.propagation;
    });
    // Listen for Ctrl-C before the address is printed: a script that reads it and stops the
    // emulator at once must get a clean stop, not the default kill.
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    if global.output == OutputFormat::Json {
        let env: serde_json::Map<String, serde_json::Value> =
            emu.env().into_iter().map(|(k, v)| (k, json!(v))).collect();
        println!(
            "{}",
            json!({"url": emu.url(), "env": env, "mailboxes": [MAILBOX]})
        );
    } else {
        println!("mailreg emulator listening on {}", emu.url());
        println!("Point mailreg at it:\n");
        for (k, v) in emu.env() {
            println!("  export {k}={v}");
        }
        println!(
            "\nA ready mailbox is seeded for `mailbox check`, `verify` and `up`: {MAILBOX}\n\
             (its sign-in completes by itself; IMAP, POP and SMTP answer on the ports above)."
        );
        println!(
            "The Google console step: `mailreg emulator console --env <env>` writes the client JSON."
        );
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

/// `mailreg emulator console`: what a person does in the Google console, against the running
/// emulator that `MAILREG_RESOURCE_MANAGER_URL` points at: the spec's Web client in its project,
/// written as the console's download (0600: it holds the client secret).
pub async fn console(target: &Target, out: &std::path::Path, global: &Global) -> Result<ExitCode> {
    let spec = Spec::load(&target.file, &target.env)?;
    let google = spec.google.as_ref().ok_or_else(|| {
        Error::bad_input(format!(
            "{}: the spec has no [google] section",
            spec.file.display()
        ))
    })?;
    let (project, _) = super::google::project_of(&spec, &Store::for_spec(&spec.file))?;
    let base = std::env::var("MAILREG_RESOURCE_MANAGER_URL").unwrap_or_default();
    let url = url::Url::parse(&base)
        .ok()
        .filter(|u| u.host_str().is_some_and(crate::http::is_loopback_host))
        .ok_or_else(|| {
            Error::bad_input("no emulator to play the console against: MAILREG_RESOURCE_MANAGER_URL is not a loopback URL")
                .with_hint("start one with `eval \"$(mailreg emulator --port 0 --detach)\"`")
        })?
        .join(mailreg_emulator::server::CONSOLE_PATH)
        .map_err(|e| Error::internal(format!("the console URL: {e}")))?;
    // Through the one HTTP client: loopback only, the answer capped, the request log.
    let http = crate::http::Http::new(crate::clock::Clock::from_env()?)?;
    let mut req = crate::http::Request::new(reqwest::Method::POST, url)
        .json(json!({"project_id": project, "redirect_uris": google.redirect_uris}));
    req.plain_http_ok = true;
    let answer = http.send(req).await.map_err(|e| {
        Error::api(format!("the emulator's console refused: {}", e.message)).with_hint(
            "run `mailreg apply` first: it creates the project and enables the Gmail API",
        )
    })?;
    let text = String::from_utf8_lossy(&answer.body);
    crate::credentials::write_private(out, text.as_bytes())?;
    match global.output {
        OutputFormat::Json => println!(
            "{}",
            json!({"written": out.display().to_string(), "project_id": project})
        ),
        OutputFormat::Text if !global.quiet => println!(
            "Wrote {} (the console's download for project {project}). Next: `mailreg google import-client -f {} --env {} {}`.",
            out.display(),
            spec.file.display(),
            spec.env,
            out.display()
        ),
        OutputFormat::Text => {}
    }
    Ok(ExitCode::Success)
}
