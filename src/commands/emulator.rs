//! `mailreg emulator`: both clouds' fakes on a port, until Ctrl-C.

use std::io::Write;

use serde_json::json;

use crate::cli::{Global, OutputFormat};
use crate::error::{ExitCode, Result};

pub async fn run(
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
