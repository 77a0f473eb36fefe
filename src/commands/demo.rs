//! `mailreg demo`: the whole flow offline, as a newcomer would run it.
//!
//! Starts the emulator in this process, then runs the real commands as child processes pointed
//! at it, printing each command line first, so the transcript is what a user would see against
//! real clouds. Where a person would work in the Google console, the emulator plays that person
//! (it makes the Web client and "downloads" its JSON). Ends by checking that the emulator holds
//! nothing live any more.

use std::process::Stdio;

use crate::cli::{Global, OutputFormat};
use crate::error::{Error, ExitCode, Result};
use mailreg_emulator::{Emulator, EmulatorConfig};

const EXAMPLE: &str = include_str!("../../examples/mailreg.toml");
const ENV: &str = "demo";

enum Step {
    /// Run `mailreg <args>` and expect this exit code.
    Run(Vec<String>, ExitCode),
    /// The emulator does the Google console steps and saves the client JSON.
    Console,
    /// Show the mailbox config files apply wrote (secrets masked unless --show-secrets).
    ShowOutputs,
}

pub async fn run(global: &Global, show_secrets: bool) -> Result<ExitCode> {
    // Random per run, as `mailreg emulator`: a rehearsal's IDs and secrets are never stable.
    let mut config = EmulatorConfig::default();
    let seed = fastrand::u64(..);
    (config.graph.seed, config.google.seed) = (seed, seed);
    let emu = Emulator::start(config).await?;
    let dir = tempfile::tempdir()?;
    let spec = dir.path().join("mailreg.toml");
    std::fs::write(&spec, EXAMPLE)?;
    let client_json = dir.path().join("client_secret_demo.json");
    let exe = std::env::current_exe()?;
    let json = global.output == OutputFormat::Json;
    // `-q`: the steps run as ever, and only an error is printed.
    let text = !json && !global.quiet;
    if text {
        println!(
            "mailreg demo: the built-in emulator serves Entra ID, Graph and Google Cloud on {}",
            emu.url()
        );
        println!("Spec: examples/mailreg.toml (copied to a temporary folder)\n");
    }
    let spec_arg = spec.display().to_string();
    let cmd = |args: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        v.extend(["-f".into(), spec_arg.clone(), "--env".into(), ENV.into()]);
        v
    };
    let mut output = cmd(&["output"]);
    if show_secrets {
        output.push("--show-secrets".into());
    }
    let steps = vec![
        Step::Run(cmd(&["apply", "--yes"]), ExitCode::ManualStepRequired),
        Step::Console,
        Step::Run(
            {
                let mut v = cmd(&["google", "import-client"]);
                v.push(client_json.display().to_string());
                v
            },
            ExitCode::Success,
        ),
        Step::Run(cmd(&["apply", "--yes"]), ExitCode::Success),
        Step::ShowOutputs,
        Step::Run(cmd(&["plan"]), ExitCode::Success),
        Step::Run(output, ExitCode::Success),
        Step::Run(cmd(&["destroy", "--yes", "--purge"]), ExitCode::Success),
    ];
    let shorten = |s: &str| {
        s.replace(&spec_arg, "mailreg.toml")
            .replace(
                &client_json.display().to_string(),
                "client_secret_demo.json",
            )
            .replace(&dir.path().display().to_string(), ".")
    };
    let mut transcript = Vec::new();
    for step in &steps {
        match step {
            Step::Console => {
                let project = format!("agileapps-mail-{ENV}");
                let uris = vec!["https://agileapps.example.com/oauth/callback".to_owned()];
                let client = emu
                    .with_state(|s| s.google.create_oauth_client(&project, &uris))
                    .map_err(|e| {
                        Error::internal(format!("demo: the emulated console step failed: {e}"))
                    })?;
                std::fs::write(
                    &client_json,
                    mailreg_emulator::google::client_file_text(&client),
                )?;
                if text {
                    println!(
                        "# (a person would now do the console steps above; the emulator plays them and saves client_secret_demo.json)\n"
                    );
                }
            }
            Step::ShowOutputs => {
                let record = crate::credentials::Store::at(dir.path().join(".mailreg"))
                    .load("agileapps-mail", ENV)?
                    .unwrap_or_else(|| crate::credentials::Record::new("agileapps-mail", ENV));
                let mut secrets = Vec::new();
                if let Some(s) = record.microsoft.as_ref().and_then(|m| m.secret.as_ref()) {
                    secrets.push(s.value.expose().to_owned());
                }
                if let Some(c) = record.google.as_ref().and_then(|g| g.client.as_ref()) {
                    secrets.push(c.client_secret.expose().to_owned());
                }
                let mut files = Vec::new();
                for name in ["outlook-mailbox.json", "gmail-mailbox.json"] {
                    let path = dir.path().join("out").join(ENV).join(name);
                    let mut text = std::fs::read_to_string(&path)?;
                    if !show_secrets {
                        for s in &secrets {
                            text = text.replace(s, &super::show::mask(s));
                        }
                    }
                    files.push((format!("out/{ENV}/{name}"), text));
                }
                if text {
                    for (name, content) in &files {
                        println!(
                            "$ cat {name}   # written by apply, mode 0600{}",
                            if show_secrets {
                                ""
                            } else {
                                "; secret masked here (--show-secrets)"
                            }
                        );
                        println!("{}\n", content.trim_end());
                    }
                } else {
                    transcript.push(serde_json::json!({
                        "outputs": files.iter().map(|(n, c)| serde_json::json!({"path": n, "content": c})).collect::<Vec<_>>()
                    }));
                }
            }
            Step::Run(args, expected) => {
                if text {
                    println!("$ mailreg {}", shorten(&args.join(" ")));
                }
                let out = tokio::process::Command::new(&exe)
                    .args(args)
                    .args(["--output", if json { "json" } else { "text" }])
                    .envs(emu.env())
                    .env("MAILREG_STATE_DIR", dir.path().join(".mailreg"))
                    // The emulator's operations finish at once: no need to poll in real seconds.
                    .env(
                        "MAILREG_TIME_SCALE",
                        std::env::var("MAILREG_TIME_SCALE").unwrap_or_else(|_| "0.01".into()),
                    )
                    .env_remove("MAILREG_AZURE_AUTH")
                    .stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .output()
                    .await?;
                let stdout = shorten(&String::from_utf8_lossy(&out.stdout));
                let stderr = shorten(&String::from_utf8_lossy(&out.stderr));
                if out.status.code() != Some(*expected as i32) {
                    print!("{stdout}");
                    eprint!("{stderr}");
                    return Err(Error::internal(format!(
                        "demo step `mailreg {}` exited with {}, expected {}",
                        args[0], out.status, *expected as i32
                    )));
                }
                if text {
                    println!("{}", stdout.trim_end());
                    if !stderr.trim().is_empty() {
                        println!("{}", stderr.trim_end());
                    }
                    println!();
                } else {
                    transcript.push(serde_json::json!({
                        "command": format!("mailreg {}", shorten(&args.join(" "))),
                        "exit_code": out.status.code(),
                        "stdout": serde_json::from_str::<serde_json::Value>(&stdout).unwrap_or(serde_json::Value::String(stdout)),
                    }));
                }
            }
        }
    }
    let (live, deleted) = emu.with_state(|s| {
        (
            s.graph.applications().len(),
            s.graph.deleted_applications().len(),
        )
    });
    let active: Vec<String> = emu.with_state(|s| {
        s.google
            .projects()
            .into_iter()
            .filter(|p| p["state"] != "DELETE_REQUESTED")
            .map(|p| p["projectId"].as_str().unwrap_or_default().to_owned())
            .collect()
    });
    if live + deleted != 0 || !active.is_empty() {
        return Err(Error::internal(format!(
            "demo: after destroy the emulator still holds {live} applications, {deleted} deleted ones and active projects {active:?}"
        )));
    }
    if text {
        println!(
            "Done: no application is left (none in deleted items either), and the Google project is pending deletion (DELETE_REQUESTED)."
        );
        println!(
            "Against real clouds, sign in (AZURE_CLIENT_ID/AZURE_CLIENT_SECRET or `az login`; `gcloud auth application-default login`) and run the same commands."
        );
    } else if json {
        println!("{}", serde_json::to_string_pretty(&serde_json::json!({"steps": transcript, "left_behind": {"applications": 0, "active_projects": 0}})).expect("json"));
    }
    Ok(ExitCode::Success)
}
