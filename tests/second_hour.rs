//! What a newcomer trips over in the second hour: a closed pipe, `-q`, `--provider`.

mod common;

use std::process::Stdio;

use common::*;

/// Runs mailreg with its standard output on a pipe whose reader is already gone, as in
/// `mailreg status | true`: every write fails with EPIPE.
fn into_closed_pipe(h: &Harness, args: &[&str]) -> Run {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = h
        .command(args)
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::new(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn a_closed_pipe_ends_the_run_quietly() {
    let h = Harness::new(SPEC);
    h.ok(&["apply", "--env", "test", "--yes"]);
    for args in [
        &["plan", "--env", "test"][..],
        &["status", "--env", "test"],
        &["-o", "json", "status", "--env", "test"],
        &["man"],
        &["completions", "bash"],
        &["output", "--env", "test"],
    ] {
        let r = into_closed_pipe(&h, args);
        assert_eq!(r.code, 141, "{args:?}: {}", r.stderr);
        assert!(r.stderr.is_empty(), "{args:?}: {}", r.stderr);
    }
}

/// `-q` prints only errors, for every command whose job is not to print something.
#[test]
fn quiet_prints_nothing_but_errors() {
    let both = format!(
        "{SPEC}\n{}",
        GOOGLE_SPEC.replace("name = \"agileapps-mail\"\n", "")
    );
    let h = Harness::new(&both);
    let quiet = |code: i32, args: &[&str]| {
        let mut all = vec!["-q"];
        all.extend_from_slice(args);
        let r = h.expect(code, &all);
        assert_eq!(r.stdout, "", "{args:?} printed");
        r
    };
    quiet(0, &["plan", "--env", "test"]);
    // The console step is pending (exit 5): its checklist is part of the error, on stderr.
    let r = quiet(5, &["apply", "--env", "test", "--yes"]);
    assert!(
        r.stderr
            .contains("console.cloud.google.com/auth/clients/create"),
        "{}",
        r.stderr
    );
    quiet(0, &["status", "--env", "test"]);
    quiet(0, &["graph", "--env", "test"]);
    import_default_client(&h);
    quiet(0, &["apply", "--env", "test", "--yes"]);
    quiet(0, &["up", "--env", "test", "--yes", "--no-verify"]);
    quiet(
        0,
        &[
            "rotate",
            "--env",
            "test",
            "--yes",
            "--provider",
            "microsoft",
        ],
    );
    quiet(0, &["gc", "--older-than", "1d", "--yes"]);
    quiet(0, &["destroy", "--env", "test", "--yes"]);
    let d = h.expect(0, &["-q", "demo"]);
    assert_eq!(d.stdout, "");
}

#[test]
fn a_command_that_needs_one_provider_asks_which_when_the_spec_has_both() {
    let both = format!(
        "{SPEC}\n{}",
        GOOGLE_SPEC.replace("name = \"agileapps-mail\"\n", "")
    );
    let h = Harness::new(&both);
    // Only Microsoft's credentials are complete (no Google client yet): still no guess.
    h.expect(5, &["apply", "--env", "test", "--yes"]);
    let r = h.expect(3, &["output", "--env", "test", "--format", "json"]);
    assert!(
        r.stderr.contains(
            "the spec declares both providers: choose one with --provider microsoft|google"
        ),
        "{}",
        r.stderr
    );
    let m = h.ok(&[
        "output",
        "--env",
        "test",
        "--format",
        "json",
        "--provider",
        "microsoft",
    ]);
    assert!(m.stdout.contains("login.microsoftonline.com") || m.stdout.contains("127.0.0.1"));
}

/// `--help`, the man pages and the README's tables describe one program: every command the
/// help lists has a page and a row in the README's command table (and nothing else does), and
/// every built-in template is named by `output --help` and by the README.
#[test]
fn help_man_pages_and_the_readme_agree() {
    let h = Harness::new(SPEC);
    let help = h.ok(&["--help"]).stdout;
    let commands: Vec<String> = help
        .split("Commands:\n")
        .nth(1)
        .unwrap()
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_owned)
        .collect();
    // The global -f/-e are named in the top-level help.
    assert!(
        help.contains("-f FILE") && help.contains("-e/--env ENV"),
        "{help}"
    );

    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let table = readme.split("## Commands\n").nth(1).unwrap();
    let mut documented: Vec<String> = table
        .lines()
        .skip_while(|l| !l.starts_with("| `"))
        .take_while(|l| l.starts_with('|'))
        .filter_map(|l| l.split('|').nth(1))
        .flat_map(|cell| {
            cell.split(',')
                .filter_map(|c| c.trim().trim_matches('`').split_whitespace().next())
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    documented.dedup();
    let mut sorted_help = commands.clone();
    sorted_help.sort();
    documented.sort();
    documented.dedup();
    assert_eq!(documented, sorted_help, "README's command table vs --help");

    let man_list = h.expect(3, &["man", "no-such-command"]).stderr;
    for c in &commands {
        assert!(
            man_list.contains(c.as_str()),
            "no man page for {c}: {man_list}"
        );
        let page = h.ok(&["man", c]).stdout;
        assert!(
            page.contains(&format!(
                ".TH mailreg-{c} 1  \"mailreg {}\"",
                env!("CARGO_PKG_VERSION")
            )),
            "{c}: {}",
            page.lines()
                .find(|l| l.starts_with(".TH"))
                .unwrap_or_default()
        );
    }

    let output_help = h.ok(&["output", "--help"]).stdout;
    let outputs = readme.split("## Mailbox config outputs\n").nth(1).unwrap();
    for name in ["agileapps", "json", "env", "yaml", "agileapps-sheet"] {
        assert!(output_help.contains(name), "output --help lacks {name}");
        assert!(
            outputs.contains(&format!("`{name}`")),
            "README's outputs section lacks `{name}`"
        );
    }
    insta::assert_snapshot!("commands", commands.join("\n"));
}

#[test]
fn a_dead_login_url_is_named_as_the_one_that_failed() {
    let mut h = Harness::new(SPEC);
    for var in ["MAILREG_LOGIN_URL", "MAILREG_GRAPH_URL"] {
        h.extra_env.push((var.into(), "http://127.0.0.1:9".into()));
    }
    let r = h.run(&["plan", "--env", "test"]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr
            .contains("cannot connect to http://127.0.0.1:9 (set by MAILREG_LOGIN_URL)"),
        "{}",
        r.stderr
    );
}

/// The README's picture of the resource graph is what `mailreg graph` derives.
#[test]
fn the_readme_shows_the_order_the_engine_derives() {
    let spec = format!(
        "{}\n{}\n[[output]]\nprovider = \"microsoft\"\ntemplate = \"json\"\npath = \"m.json\"\n[[output]]\nprovider = \"google\"\ntemplate = \"json\"\npath = \"g.json\"\n[[secret]]\nprovider = \"microsoft\"\nvault = {{ mount = \"secret\", path = \"app\" }}\n",
        SPEC.replace(
            "permissions = [",
            "mailboxes = [\"helpdesk@contoso.com\"]\npermissions = ["
        ),
        GOOGLE_SPEC.replace("name = \"agileapps-mail\"\n", "")
    );
    let h = Harness::new(&spec);
    let order = h.ok(&["graph", "--env", "test", "--mailboxes"]).stdout;
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let shown = readme
        .split("two outputs the engine derives:\n\n```\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .unwrap();
    assert_eq!(order, shown);
    let json: serde_json::Value =
        serde_json::from_str(&h.ok(&["-o", "json", "graph", "--env", "test"]).stdout).unwrap();
    assert_eq!(
        json[0],
        serde_json::json!({"resource": "microsoft", "needs": []})
    );
}

/// The Google console step rehearsed without guessing: the emulator writes the client JSON as
/// Google's download, which import-client takes as it would the real one.
#[test]
fn the_emulator_plays_the_google_console() {
    let h = Harness::new(GOOGLE_SPEC);
    // No project yet: the console has nowhere to create the client.
    let r = h.run(&["emulator", "console", "--env", "test", "--out", "c.json"]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("the emulator's console refused"),
        "{}",
        r.stderr
    );
    assert!(!h.dir.path().join("c.json").exists());

    h.expect(5, &["apply", "--env", "test", "--yes"]);
    let r = h.ok(&["emulator", "console", "--env", "test", "--out", "c.json"]);
    assert!(
        r.stdout.contains("Next: `mailreg google import-client"),
        "{}",
        r.stdout
    );
    let file = h.dir.path().join("c.json");
    assert_eq!(mode(&file), 0o600);
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(doc["web"]["project_id"], "agileapps-mail-test");
    assert_eq!(
        doc["web"]["redirect_uris"],
        serde_json::json!(["https://agileapps.example.com/oauth/callback"])
    );
    h.ok(&["google", "import-client", "--env", "test", "c.json"]);
    h.ok(&["apply", "--env", "test", "--yes"]);
}
