//! action.yml's run step, run as the GitHub runner runs it (`bash -eo pipefail`), against the
//! emulator: it passes the spec, the environment and `--github-outputs`, and every output that
//! mailreg writes is one the action declares.

mod common;

use std::path::Path;
use std::process::Command;

use common::{Harness, SPEC};

fn action() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("action.yml")).unwrap()
}

/// The `run: |` block of the step with `id: run`, unindented.
fn run_step(yml: &str) -> String {
    let step = yml
        .split_once("      id: run\n")
        .expect("a step with id run")
        .1;
    let body = step.split_once("      run: |\n").expect("its run block").1;
    body.lines()
        .take_while(|l| l.is_empty() || l.starts_with("        "))
        .map(|l| l.strip_prefix("        ").unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The names under `outputs:`.
fn declared_outputs(yml: &str) -> Vec<String> {
    let outs = yml.split_once("\noutputs:\n").unwrap().1;
    outs.lines()
        .take_while(|l| l.is_empty() || l.starts_with(' '))
        .filter(|l| l.starts_with("  ") && !l.starts_with("   ") && l.ends_with(':'))
        .map(|l| l.trim().trim_end_matches(':').to_owned())
        .collect()
}

fn run(h: &Harness, command: &str, args: &str, gh_file: &Path) -> (i32, String) {
    let bin = Path::new(env!("CARGO_BIN_EXE_mailreg")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let cmd = h.command(&[]);
    let out = Command::new("bash")
        .args([
            "--noprofile",
            "--norc",
            "-eo",
            "pipefail",
            "-c",
            &run_step(&action()),
        ])
        .current_dir(h.dir.path())
        .env_clear()
        .envs(
            cmd.get_envs()
                .filter_map(|(k, v)| Some((k.to_owned(), v?.to_owned()))),
        )
        .env_remove("MAILREG_FILE")
        .env("PATH", path)
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", gh_file)
        .env("COMMAND", command)
        .env("SPEC", "mailreg.toml")
        .env("ENVIRONMENT", "ci")
        .env("ARGS", args)
        .env("GH_OUTPUTS", "true")
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_action_runs_mailreg_and_declares_every_output_it_writes() {
    let h = Harness::new(SPEC);
    let gh = h.dir.path().join("github_output");
    std::fs::write(&gh, "").unwrap();

    // plan --detailed-exitcode: 2 (changes pending) is reported, and the step passes.
    let (code, err) = run(&h, "plan", "--detailed-exitcode", &gh);
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read_to_string(&gh).unwrap(), "exit-code=2\n");

    std::fs::write(&gh, "").unwrap();
    let (code, err) = run(&h, "apply", "--yes", &gh);
    assert_eq!(code, 0, "{err}");
    let written = std::fs::read_to_string(&gh).unwrap();
    assert!(written.ends_with("exit-code=0\n"), "{written}");
    // Heredoc form: `name<<DELIMITER`.
    let names: Vec<&str> = written
        .lines()
        .filter_map(|l| l.split_once("<<").map(|(n, _)| n))
        .collect();
    assert!(names.contains(&"microsoft_client_id"), "{written}");
    assert!(names.contains(&"microsoft_client_secret"), "{written}");
    let declared = declared_outputs(&action());
    for n in &names {
        assert!(
            declared.iter().any(|d| d == n),
            "{n} is not an output of action.yml"
        );
        // Google's outputs have the same fields.
        let google = n.replacen("microsoft_", "google_", 1);
        assert!(
            declared.contains(&google),
            "{google} is not an output of action.yml"
        );
    }
    assert!(declared.contains(&"exit-code".to_owned()));

    // A failing command fails the step with mailreg's exit code, and still reports it.
    std::fs::write(&gh, "").unwrap();
    let (code, _) = run(&h, "plan", "--no-such-flag", &gh);
    assert_eq!(code, 3);
    assert_eq!(std::fs::read_to_string(&gh).unwrap(), "exit-code=3\n");
}
