//! `mailreg emulator --detach`: the emulator in the background, for a walkthrough in one shell.
//!
//! `eval "$(mailreg emulator --port 0 --detach)"` starts the emulator as a process of its own,
//! waits until it listens, prints its `export` lines and `MAILREG_EMULATOR_PID`, and returns;
//! `kill $MAILREG_EMULATOR_PID` stops it. Waiting here (instead of `&` and a `sleep` in the
//! shell) means the next command never races the emulator's start.

use std::io::BufRead;
use std::process::{Command, Stdio};

use serde_json::json;

use crate::cli::{EmulatorArgs, Global, OutputFormat};
use crate::error::{Error, ExitCode, Result};

/// Longest line the child may print before its JSON line: the child is mailreg itself, but a
/// bound keeps a broken one from filling memory.
const MAX_LINE: usize = 64 * 1024;

pub fn emulator(args: &EmulatorArgs, global: &Global) -> Result<ExitCode> {
    let exe = std::env::current_exe()
        .map_err(|e| Error::io(format!("cannot find mailreg's own binary: {e}")))?;
    let mut child = Command::new(exe)
        .args(["--output", "json", "emulator"])
        .args(["--port", &args.port.to_string()])
        .args(["--replication-lag", &args.replication_lag.to_string()])
        .args(["--latency-ms", &args.latency_ms.to_string()])
        .args([
            "--propagation",
            &humantime::format_duration(args.propagation).to_string(),
        ])
        .args(args.seed.map(|s| format!("--seed={s}")))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        // Nobody reads it after we return; an open pipe would hold the caller's output open.
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| Error::io(format!("starting the emulator: {e}")))?;
    let stdout = child.stdout.take().expect("piped stdout");
    let mut line = String::new();
    let read =
        std::io::BufReader::new(std::io::Read::take(stdout, MAX_LINE as u64)).read_line(&mut line);
    let started: Option<serde_json::Value> = read
        .ok()
        .filter(|n| *n > 0)
        .and_then(|_| serde_json::from_str(&line).ok());
    // The child answers in JSON either way: its address, or (exiting) its error.
    let Some(started) = started.clone().filter(|s| s["url"].is_string()) else {
        let status = child.wait().ok().and_then(|s| s.code());
        let why = started
            .as_ref()
            .and_then(|s| s["error"]["message"].as_str())
            .map(|m| format!(": {m}"))
            .unwrap_or_default();
        return Err(Error::io(format!(
            "the emulator did not start (exit status {}){why}",
            status.map_or("unknown".into(), |c| c.to_string())
        ))
        .with_hint("is the port in use? `--port 0` picks a free one"));
    };
    let pid = child.id();
    match global.output {
        OutputFormat::Json => println!(
            "{}",
            json!({"url": started["url"], "env": started["env"], "pid": pid})
        ),
        OutputFormat::Text => {
            if let Some(env) = started["env"].as_object() {
                for (k, v) in env {
                    println!("export {k}={}", shell_quote(v.as_str().unwrap_or_default()));
                }
            }
            println!("export MAILREG_EMULATOR_PID={pid}");
            if !global.quiet {
                eprintln!(
                    "mailreg emulator listening on {} (pid {pid}); `kill {pid}` stops it",
                    started["url"].as_str().unwrap_or_default()
                );
            }
        }
    }
    Ok(ExitCode::Success)
}

/// Single-quoted for a POSIX shell, so `eval` takes the value as it is.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn values_survive_eval() {
        assert_eq!(super::shell_quote("a b"), "'a b'");
        assert_eq!(super::shell_quote("it's"), "'it'\\''s'");
    }
}
