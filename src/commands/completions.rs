//! Shell completions that know mailreg's values: `--format` offers the built-in templates,
//! `--env` the environments of the spec at hand (`-f`, `$MAILREG_FILE` or `mailreg.toml`).
//!
//! A static script cannot know the second (it depends on the file in the directory where the
//! person presses Tab), so completion is dynamic, clap_complete's env protocol: the script
//! `mailreg completions SHELL` prints only registers mailreg as its own completer, and the shell
//! runs `COMPLETE=<shell> mailreg -- <words>` on Tab; [`clap_complete::CompleteEnv`] in `main`
//! answers that from the one clap definition, calling the candidate functions below for the two
//! values. Everything else (commands, flags, files) completes as before.

use std::ffi::OsString;
use std::path::PathBuf;

use clap_complete::CompletionCandidate;
use clap_complete::env::Shells;
use serde_json::json;

use crate::cli::{Global, OutputFormat};
use crate::error::{Error, ExitCode, Result};

/// The name of the environment variable of the protocol (clap_complete's default).
pub const VAR: &str = "COMPLETE";

/// `mailreg completions SHELL`: the registration script for the shell.
pub fn run(shell: clap_complete::Shell, global: &Global) -> Result<ExitCode> {
    let name = shell.to_string();
    let shells = Shells::builtins();
    let completer = shells
        .completer(&name)
        .ok_or_else(|| Error::bad_input(format!("no dynamic completion for {name}")))?;
    let mut script = Vec::new();
    // `mailreg` from PATH answers the completion requests: the script stays right when the
    // binary is upgraded or moved.
    completer.write_registration(VAR, "mailreg", "mailreg", "mailreg", &mut script)?;
    let script = String::from_utf8_lossy(&script);
    match global.output {
        OutputFormat::Json => println!("{}", json!({"shell": name, "script": script})),
        OutputFormat::Text => print!("{script}"),
    }
    Ok(ExitCode::Success)
}

/// `--format`: the built-in templates (a path is accepted too, and typed as one).
pub fn templates() -> Vec<CompletionCandidate> {
    crate::output::BUILTIN
        .iter()
        .map(|(name, _)| CompletionCandidate::new(*name))
        .collect()
}

/// `--env`: the environments the spec declares (`[env.<name>]`), by name.
/// A spec that cannot be read or parsed offers none: completion never prints an error.
pub fn environments() -> Vec<CompletionCandidate> {
    let file = spec_file(std::env::args_os().collect());
    let Ok(text) = std::fs::read_to_string(&file) else {
        return Vec::new();
    };
    let Ok(root) = toml::from_str::<toml::Table>(&text) else {
        return Vec::new();
    };
    match root.get("env") {
        Some(toml::Value::Table(envs)) => envs.keys().map(CompletionCandidate::new).collect(),
        _ => Vec::new(),
    }
}

/// The spec file the command line being completed names: the words after `--` (the
/// protocol's), `-f FILE`, `-fFILE`, `--file FILE` or `--file=FILE`; else `$MAILREG_FILE`; else
/// `mailreg.toml`, as the command itself would choose.
fn spec_file(args: Vec<OsString>) -> PathBuf {
    let words: Vec<String> = args
        .iter()
        .skip_while(|a| *a != "--")
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let mut named = None;
    for (i, w) in words.iter().enumerate() {
        let next = words.get(i + 1).filter(|n| !n.is_empty()).cloned();
        match w.as_str() {
            "-f" | "--file" => named = next.or(named),
            _ if w.starts_with("--file=") => named = Some(w["--file=".len()..].to_owned()),
            _ if w.starts_with("-f") && w.len() > 2 && !w.starts_with("--") => {
                named = Some(w[2..].to_owned())
            }
            _ => {}
        }
    }
    named
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("MAILREG_FILE").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("mailreg.toml"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(words: &[&str]) -> PathBuf {
        spec_file(words.iter().map(OsString::from).collect())
    }

    #[test]
    fn the_spec_file_comes_from_the_line_being_completed() {
        let line = |rest: &[&str]| {
            let mut w = vec!["mailreg", "--", "mailreg", "plan"];
            w.extend_from_slice(rest);
            w.push("--env");
            w.push("");
            file(&w)
        };
        assert_eq!(line(&["-f", "a.toml"]), PathBuf::from("a.toml"));
        assert_eq!(line(&["-fb.toml"]), PathBuf::from("b.toml"));
        assert_eq!(line(&["--file", "c.toml"]), PathBuf::from("c.toml"));
        assert_eq!(line(&["--file=d.toml"]), PathBuf::from("d.toml"));
        // Words before the protocol's `--` are mailreg's own, not the line's.
        assert_eq!(
            file(&[
                "mailreg", "-f", "x.toml", "--", "mailreg", "status", "-f", "y.toml"
            ]),
            PathBuf::from("y.toml")
        );
    }
}
