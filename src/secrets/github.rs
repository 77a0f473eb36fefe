//! GitHub Actions step outputs (`--github-outputs`): the credentials as `<provider>_<field>`
//! outputs, appended to the file named by `GITHUB_OUTPUT`, the secret masked in the job's logs
//! first (`::add-mask::`). Opt-in only: outputs are visible to every later step of the job.

use std::io::Write as _;

use super::Payload;
use crate::credentials::Record;
use crate::error::{Error, Result};
use crate::spec::Provider;
use crate::spec::secret::SecretSpec;

/// Where the mask commands go: stdout normally; stderr when stdout carries one JSON document
/// (the runner reads workflow commands from both).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MaskStream {
    Stdout,
    Stderr,
}

/// Checks that the run is a GitHub Actions job with an output file, before anything is sent.
pub fn check_env() -> Result<std::path::PathBuf> {
    let actions = std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true");
    let file = std::env::var_os("GITHUB_OUTPUT").filter(|v| !v.is_empty());
    match (actions, file) {
        (true, Some(f)) => Ok(f.into()),
        _ => Err(Error::bad_input(
            "--github-outputs works in GitHub Actions only: GITHUB_ACTIONS=true and GITHUB_OUTPUT must be set",
        )),
    }
}

/// The step outputs of every provider with complete credentials: (name, value, secret?).
pub fn outputs(record: &Record) -> Vec<(String, String, bool)> {
    let mut out = Vec::new();
    for p in [Provider::Microsoft, Provider::Google] {
        let all = SecretSpec {
            provider: p,
            vault: None,
            key_vault: None,
            secret_manager: None,
            fields: Vec::new(),
        };
        let Some(payload) = Payload::from_record(record, &all) else {
            continue;
        };
        for (k, v) in payload.0 {
            if k == "provider" || k == "name" || k == "env" {
                continue;
            }
            let secret = k == super::payload::SECRET_FIELD;
            out.push((format!("{}_{k}", p.as_str()), v, secret));
        }
    }
    out
}

/// Masks the secrets, then appends the outputs (heredoc form, so any value is safe).
pub fn emit(record: &Record, file: &std::path::Path, stream: MaskStream) -> Result<Vec<String>> {
    let outputs = outputs(record);
    for (_, v, secret) in &outputs {
        if *secret {
            match stream {
                MaskStream::Stdout => println!("::add-mask::{v}"),
                MaskStream::Stderr => eprintln!("::add-mask::{v}"),
            }
        }
    }
    let _ = std::io::stdout().flush();
    let mut text = String::new();
    for (k, v, _) in &outputs {
        // Random (from the OS), so no value can end the heredoc early.
        let mut random = [0u8; 16];
        getrandom::fill(&mut random)
            .map_err(|e| Error::internal(format!("no randomness for GITHUB_OUTPUT: {e}")))?;
        let hex: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let delimiter = format!("ghadelimiter_{hex}");
        text.push_str(&format!("{k}<<{delimiter}\n{v}\n{delimiter}\n"));
    }
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(file)
        .map_err(|e| Error::io(format!("GITHUB_OUTPUT {}: {e}", file.display())))?;
    f.write_all(text.as_bytes())
        .map_err(|e| Error::io(format!("GITHUB_OUTPUT {}: {e}", file.display())))?;
    Ok(outputs.into_iter().map(|(k, _, _)| k).collect())
}
