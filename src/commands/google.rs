//! `mailreg google …`: importing the console's client, undeleting the project; the helpers
//! the console step ([`super::console`]) shares with them.

use std::io::{BufRead, IsTerminal};
use std::path::Path;

use crate::cli::{Global, GoogleCommand, OutputFormat};
use crate::credentials::{GoogleClient, GoogleCredentials, Store};
use crate::engine::ManualStep;
use crate::error::{Error, ErrorKind, ExitCode, Result};
use crate::google::client::{check_client_id, parse_client_json, pasted_client};
use crate::google::endpoints::{Endpoints, GMAIL_SCOPE};
use crate::spec::{GoogleSpec, ProjectIdSuffix, Spec};

pub async fn run(cmd: GoogleCommand, global: &Global) -> Result<ExitCode> {
    match cmd {
        GoogleCommand::ImportClient {
            target,
            client_json,
            client_id,
        } => {
            let spec = Spec::load(&target.file, &target.env)?;
            let client = match (&client_json, &client_id) {
                (Some(f), _) => read_client_file(&spec, f)?,
                (None, Some(id)) => {
                    check_client_id(id.trim())
                        .map_err(|m| Error::bad_input(format!("--client-id: {m}")))?;
                    let secret = read_secret("Client secret: ")?;
                    pasted_client(
                        id,
                        &secret,
                        &google(&spec)?.redirect_uris,
                        time::OffsetDateTime::now_utc(),
                    )?
                }
                (None, None) => {
                    return Err(Error::bad_input(
                        "give the client JSON file, or --client-id",
                    ));
                }
            };
            let (project, path) = store_client(&spec, client.clone())?;
            match global.output {
                OutputFormat::Json => println!(
                    "{}",
                    serde_json::json!({"imported": true, "project_id": project, "client_id": client.client_id, "credentials_file": path.display().to_string()})
                ),
                OutputFormat::Text if !global.quiet => println!(
                    "Imported OAuth client {} for project {project} (secret stored in {}).\nRun `mailreg apply -f {} --env {}` to finish.",
                    client.client_id,
                    path.display(),
                    spec.file.display(),
                    spec.env
                ),
                OutputFormat::Text => {}
            }
            Ok(ExitCode::Success)
        }
        GoogleCommand::Undelete { target } => {
            let s = super::session(&target, global)?;
            let provider = s.stack.google.clone().ok_or_else(|| {
                Error::bad_input(format!(
                    "{}: the spec has no [google] section",
                    s.spec.file.display()
                ))
            })?;
            let (id, restored) = provider.undelete(&s.ctx).await?;
            if global.output == OutputFormat::Json {
                println!(
                    "{}",
                    serde_json::json!({"undeleted": id, "already_active": !restored})
                );
            } else if global.quiet {
            } else if restored {
                println!(
                    "Project {id} restored. Run `mailreg apply` to bring it back in line with the spec."
                );
            } else {
                println!("Project {id} is already active: nothing to restore.");
            }
            Ok(ExitCode::Success)
        }
    }
}

pub(super) fn google(spec: &Spec) -> Result<&GoogleSpec> {
    spec.google.as_ref().ok_or_else(|| {
        Error::bad_input(format!(
            "{}: the spec has no [google] section",
            spec.file.display()
        ))
    })
}

/// The project the client belongs to: on record (random suffix), or as written.
pub(super) fn project_of(
    spec: &Spec,
    store: &Store,
) -> Result<(String, Option<GoogleCredentials>)> {
    let g = google(spec)?;
    let rec = store.load(&spec.name, &spec.env)?.and_then(|r| r.google);
    if let Some(r) = &rec {
        return Ok((r.project_id.clone(), rec.clone()));
    }
    match g.project_id_suffix {
        ProjectIdSuffix::None => Ok((g.project_id.clone(), None)),
        ProjectIdSuffix::Random => Err(Error::bad_input(
            "the project ID has a random suffix that is not on record yet",
        )
        .with_hint(
            "run `mailreg apply` first: it creates the project and prints the console steps",
        )),
    }
}

pub(super) fn read_client_file(spec: &Spec, file: &Path) -> Result<GoogleClient> {
    let g = google(spec)?;
    let store = Store::for_spec(&spec.file);
    let (project, _) = project_of(spec, &store)?;
    let text = std::fs::read_to_string(file).map_err(|e| {
        Error::bad_input(format!(
            "{}: cannot read the client JSON: {e}",
            file.display()
        ))
    })?;
    parse_client_json(
        file,
        &text,
        &g.redirect_uris,
        &project,
        &Endpoints::from_env()?,
        time::OffsetDateTime::now_utc(),
    )
}

/// Stores a checked client in the record through [`Store::update`]: only the Google client
/// (and the refresh tokens it invalidates) change, whatever another run wrote meanwhile.
pub(super) fn store_client(
    spec: &Spec,
    client: GoogleClient,
) -> Result<(String, std::path::PathBuf)> {
    let g = google(spec)?;
    let store = Store::for_spec(&spec.file);
    let (project, _) = project_of(spec, &store)?;
    let endpoints = Endpoints::from_env()?;
    store.update(&spec.name, &spec.env, |record| {
        let mut creds = record.google.take().unwrap_or_else(|| GoogleCredentials {
            project_id: project.clone(),
            project_number: None,
            authorize_url: endpoints.auth_url.as_str().trim_end_matches('/').to_owned(),
            token_url: endpoints
                .token_url
                .as_str()
                .trim_end_matches('/')
                .to_owned(),
            scopes: vec![GMAIL_SCOPE.to_owned()],
            redirect_uris: g.redirect_uris.clone(),
            client: None,
            refresh_tokens: Default::default(),
            deleting: None,
        });
        // A new client invalidates refresh tokens issued to the old one.
        if creds.client.as_ref().map(|c| &c.client_id) != Some(&client.client_id) {
            creds.refresh_tokens.clear();
        }
        creds.client = Some(client);
        record.google = Some(creds);
    })?;
    Ok((project, store.path(&spec.name, &spec.env)))
}

/// Reads a secret: without echo on a terminal, else one line of standard input.
pub(super) fn read_secret(prompt: &str) -> Result<String> {
    if std::io::stdin().is_terminal() {
        rpassword::prompt_password(prompt).map_err(|e| {
            // Ctrl-C interrupts the read: that ends the run, it does not ask again.
            if e.kind() == std::io::ErrorKind::Interrupted {
                Error::interrupted()
            } else {
                Error::io(format!("reading the secret: {e}")).with_source(e)
            }
        })
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        Ok(line.trim_end_matches(['\r', '\n']).to_owned())
    }
}

/// The error for exit code 5.
pub fn manual_step_error(steps: &[ManualStep]) -> Error {
    let commands: Vec<&str> = steps.iter().map(|s| s.complete_with.as_str()).collect();
    Error::new(
        ErrorKind::ManualStep,
        "a step only a person can do in the Google Cloud console is pending (see above)",
    )
    .with_hint(format!("then run: {}", commands.join(" && ")))
}

/// Google has no API for client secrets: the console steps of a rotation.
pub fn rotate_steps(spec: &Spec) -> ManualStep {
    let store = Store::for_spec(&spec.file);
    let project = project_of(spec, &store)
        .map(|(p, _)| p)
        .unwrap_or_else(|_| "<project>".into());
    let client = store
        .load(&spec.name, &spec.env)
        .ok()
        .flatten()
        .and_then(|r| r.google)
        .and_then(|g| g.client)
        .map(|c| c.client_id)
        .unwrap_or_else(|| "<client ID>".into());
    let command = format!(
        "mailreg google import-client -f {} --env {} --client-id {client} < new-secret.txt",
        spec.file.display(),
        spec.env
    );
    // Laid out like apply's console checklist (google/client.rs): steps at one space, details
    // at four, the command to run after "Then run:" at two.
    let instructions = format!(
        "Google has no API to rotate an OAuth client secret: do it in the console.\n\n\
         \u{20}1. Open the client: {console}/auth/clients?project={project}\n\
         \u{20}   and select {client}\n\
         \u{20}2. Under \"Client secrets\", click \"Add secret\" and copy the new secret\n\
         \u{20}3. Store it with the command below (it reads the secret from standard input, never\n\
         \u{20}   from the command line); then `mailreg apply` re-renders the outputs with it\n\
         \u{20}4. Once the mailboxes use the new secret, disable and delete the old one on the same page\n\n\
         Then run:\n\
         \u{20} {command}",
        console = crate::google::endpoints::CONSOLE,
    );
    ManualStep {
        provider: "google",
        resource: "google.oauth_client.secret".into(),
        instructions,
        complete_with: command,
    }
}
