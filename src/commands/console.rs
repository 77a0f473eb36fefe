//! The console step of `apply` and `up` at a terminal: the person is shown the checklist and
//! gives the downloaded client JSON (or pastes the client ID and secret); the client is stored
//! before the run goes on.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use super::google::{google, read_client_file, read_secret, store_client};
use crate::cli::{Global, OutputFormat};
use crate::engine::{Console, ManualStep};
use crate::error::{Error, ErrorKind, Result};
use crate::google::client::{check_client_id, pasted_client};
use crate::spec::Spec;

/// The person at a terminal, for the console step of a run: shown the checklist, they give
/// the downloaded client JSON (or paste the client ID and secret), and the client is stored.
pub struct Terminal {
    spec: Spec,
}

impl Terminal {
    /// A console when a person can be asked (text output, standard input and output on a
    /// terminal); `None` otherwise (CI, `-o json`): the step is then reported as pending.
    pub fn for_run(spec: &Spec, global: &Global) -> Option<std::sync::Arc<dyn Console>> {
        let interactive = global.output == OutputFormat::Text
            && std::io::stdin().is_terminal()
            && std::io::stdout().is_terminal();
        interactive.then(|| std::sync::Arc::new(Terminal { spec: spec.clone() }) as _)
    }
}

#[async_trait::async_trait]
impl Console for Terminal {
    /// The reads block on the terminal: on a thread of their own, so that whatever else the
    /// run still has in flight keeps moving.
    async fn perform(&self, step: &ManualStep) -> Result<bool> {
        let (spec, step) = (self.spec.clone(), step.clone());
        tokio::task::spawn_blocking(move || console_step(&spec, &step))
            .await
            .map_err(|e| Error::internal(format!("the console step stopped: {e}")))?
    }
}

/// Shows one step and waits until a client is stored; false when the person gives nothing.
fn console_step(spec: &Spec, step: &ManualStep) -> Result<bool> {
    println!("\n{}\n", step.instructions);
    loop {
        print!(
            "When done: path of the downloaded client JSON, or the client ID to paste (empty to stop here): "
        );
        std::io::stdout().flush()?;
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        let answer = line.trim();
        if answer.is_empty() {
            return Ok(false);
        }
        let result = match console_answer(answer) {
            ConsoleAnswer::File(path) => read_client_file(spec, &path),
            ConsoleAnswer::Missing(path) => Err(Error::bad_input(format!(
                "{}: no such file",
                path.display()
            ))),
            ConsoleAnswer::ClientId(id) => check_client_id(id)
                .map_err(|m| {
                    Error::bad_input(format!(
                        "{m}: give the downloaded JSON file's path, or the client ID"
                    ))
                })
                .and_then(|()| read_secret("Client secret: "))
                .and_then(|secret| {
                    pasted_client(
                        id,
                        &secret,
                        &google(spec)?.redirect_uris,
                        time::OffsetDateTime::now_utc(),
                    )
                }),
        };
        match result.and_then(|c| store_client(spec, c)) {
            Ok(_) => {
                println!("Client stored.");
                return Ok(true);
            }
            Err(e) if e.kind == ErrorKind::Interrupted => return Err(e),
            Err(e) => eprintln!("error: {e}"),
        }
    }
}

/// What the person answered at the console step's prompt.
#[derive(Debug, PartialEq)]
enum ConsoleAnswer<'a> {
    File(std::path::PathBuf),
    /// Looks like a path (a `/`, a leading `~` or `.`, or `.json`), but nothing is there.
    Missing(std::path::PathBuf),
    ClientId(&'a str),
}

/// Tells a path (with `~` expanded, as the checklist prints `~/Downloads/…`) from a client ID.
fn console_answer(answer: &str) -> ConsoleAnswer<'_> {
    let path = match answer.strip_prefix("~/") {
        Some(rest) => match std::env::var_os("HOME") {
            Some(home) => Path::new(&home).join(rest),
            None => Path::new(answer).to_path_buf(),
        },
        None => Path::new(answer).to_path_buf(),
    };
    if path.is_file() {
        ConsoleAnswer::File(path)
    } else if answer.contains('/')
        || answer.starts_with(['~', '.'])
        || answer.to_ascii_lowercase().ends_with(".json")
    {
        ConsoleAnswer::Missing(path)
    } else {
        ConsoleAnswer::ClientId(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_answers_tell_paths_from_client_ids() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("client_secret_1.json");
        std::fs::write(&file, "{}").unwrap();
        let shown = file.to_str().unwrap();
        assert_eq!(console_answer(shown), ConsoleAnswer::File(file.clone()));
        // The checklist's own form: `~` is the home directory.
        let home = std::env::var("HOME").unwrap();
        assert_eq!(
            console_answer("~/Downloads/client_secret_x.json"),
            ConsoleAnswer::Missing(Path::new(&home).join("Downloads/client_secret_x.json"))
        );
        assert_eq!(
            console_answer("client_secret_x.json"),
            ConsoleAnswer::Missing("client_secret_x.json".into())
        );
        assert_eq!(
            console_answer("123-abc.apps.googleusercontent.com"),
            ConsoleAnswer::ClientId("123-abc.apps.googleusercontent.com")
        );
    }
}
