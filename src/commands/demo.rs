//! `mailreg demo`: the whole flow offline, as a newcomer would run it.
//!
//! Starts the emulator in this process, then runs the real commands (`apply`, `output`,
//! `destroy --purge`) as child processes pointed at it, printing each command line first, so
//! the transcript is exactly what a user would see against a real tenant. Ends by checking that
//! the emulator holds nothing any more.

use std::process::Stdio;

use crate::cli::{Global, OutputFormat};
use crate::emulator::{Emulator, EmulatorConfig};
use crate::error::{Error, ExitCode, Result};

const EXAMPLE: &str = include_str!("../../examples/mailreg.toml");

pub async fn run(global: &Global, show_secrets: bool) -> Result<ExitCode> {
    let emu = Emulator::start(EmulatorConfig::default()).await?;
    let dir = tempfile::tempdir()?;
    let spec = dir.path().join("mailreg.toml");
    std::fs::write(&spec, EXAMPLE)?;
    let exe = std::env::current_exe()?;
    let text = global.output == OutputFormat::Text;
    if text {
        println!(
            "mailreg demo: the built-in emulator is serving Entra ID and Graph on {}",
            emu.url()
        );
        println!("Spec: examples/mailreg.toml (copied to a temporary folder)\n");
    }
    let spec_arg = spec.display().to_string();
    let mut steps: Vec<Vec<&str>> = vec![
        vec!["apply", "-f", &spec_arg, "--env", "demo", "--yes"],
        vec!["plan", "-f", &spec_arg, "--env", "demo"],
        vec!["output", "-f", &spec_arg, "--env", "demo"],
        vec![
            "destroy", "-f", &spec_arg, "--env", "demo", "--yes", "--purge",
        ],
    ];
    if show_secrets {
        steps[2].push("--show-secrets");
    }
    let mut outputs = Vec::new();
    for args in &steps {
        if text {
            println!(
                "$ mailreg {}",
                args.join(" ").replace(&spec_arg, "mailreg.toml")
            );
        }
        let mut cmd = tokio::process::Command::new(&exe);
        cmd.args(args)
            .args(["--output", if text { "text" } else { "json" }])
            .envs(emu.env())
            .env("MAILREG_STATE_DIR", dir.path().join(".mailreg"))
            .env_remove("MAILREG_AZURE_AUTH")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let out = cmd.output().await?;
        let stdout = String::from_utf8_lossy(&out.stdout).replace(&spec_arg, "mailreg.toml");
        if !out.status.success() {
            print!("{stdout}");
            return Err(Error::internal(format!(
                "demo step `mailreg {}` failed with {}",
                args[0], out.status
            )));
        }
        if text {
            println!("{}", stdout.trim_end());
            println!();
        } else {
            outputs.push(serde_json::from_str::<serde_json::Value>(&stdout).unwrap_or_default());
        }
    }
    let (live, deleted) = emu.with_state(|s| {
        (
            s.graph.applications().len(),
            s.graph.deleted_applications().len(),
        )
    });
    if live + deleted != 0 {
        return Err(Error::internal(format!(
            "demo: the emulator still holds {live} applications and {deleted} deleted ones after destroy"
        )));
    }
    if text {
        println!(
            "Done: the emulator holds no applications and no deleted items. Against a real tenant, set AZURE_CLIENT_ID / AZURE_CLIENT_SECRET (or run `az login`) and use the same commands."
        );
    } else {
        let names = ["apply", "plan", "output", "destroy"];
        let doc: serde_json::Map<String, serde_json::Value> =
            names.iter().map(|n| n.to_string()).zip(outputs).collect();
        println!("{}", serde_json::to_string_pretty(&doc).expect("json"));
    }
    Ok(ExitCode::Success)
}
