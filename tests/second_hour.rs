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
