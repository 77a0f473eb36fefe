//! Two things a newcomer rehearses offline: `verify --device-code` against the emulator's
//! device flow (IMAP, POP and SMTP included), and shell completions that offer the built-in
//! templates and the spec's environments.

mod common;

use common::*;
use mailreg_emulator::{Cas, MailboxSeed};
use serde_json::Value;

const USER: &str = "helpdesk@contoso.onmicrosoft.com";

const DEVICE_SPEC: &str = r#"name = "agileapps-mail"

[microsoft]
tenant = "contoso.onmicrosoft.com"
redirect_uris = ["https://agileapps.example.com/oauth/callback"]
permissions = ["IMAP.AccessAsUser.All", "POP.AccessAsUser.All", "SMTP.Send", "offline_access"]
"#;

/// An applied registration and a ready mailbox (SMTP AUTH on for it, as the organisation's
/// default is off), the device flow polled every second.
fn applied() -> Harness {
    let mut h = Harness::new(DEVICE_SPEC);
    h.emu.with_state(|s| {
        s.add_mailbox(MailboxSeed {
            cas: Cas {
                smtp_auth_disabled: Some(false),
                ..Cas::default()
            },
            ..MailboxSeed::ready(USER)
        });
        s.graph.set_device_code_interval(1);
    });
    h.ok(&["apply", "--env", "test", "--yes"]);
    // The emulator times the polls in real time, as Entra does: so does mailreg here.
    h.extra_env.push(("MAILREG_TIME_SCALE".into(), "1".into()));
    h
}

#[test]
fn verify_with_the_device_code_runs_end_to_end_against_the_emulator() {
    let h = applied();
    let r = h.ok(&[
        "-o",
        "json",
        "verify",
        "--env",
        "test",
        "--user",
        USER,
        "--device-code",
        "--keep-refresh-token",
    ]);
    let doc: Value =
        serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout));
    assert_eq!(doc["token"]["source"], "device", "{doc}");
    assert_eq!(doc["user"], USER);
    let oks: Vec<(&str, bool)> = doc["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["protocol"].as_str().unwrap(), r["ok"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        oks,
        [("imap", true), ("pop3", true), ("smtp", true)],
        "{doc}"
    );
    // The person is told where to go, with the emulator's own page and the code.
    let prompt = r
        .stderr
        .lines()
        .find(|l| l.starts_with("To sign in, use a web browser to open the page "))
        .unwrap_or_else(|| panic!("{}", r.stderr));
    let rest = prompt
        .strip_prefix(&format!(
            "To sign in, use a web browser to open the page {}/devicelogin and enter the code ",
            h.emu.url()
        ))
        .unwrap_or_else(|| panic!("{prompt}"));
    let code = rest.strip_suffix(" to authenticate.").unwrap();
    assert_eq!(code.len(), 9, "{code}");
    // The polls: one pending (the rehearsal mailbox signs in meanwhile), then the tokens.
    let polls: Vec<u16> = h
        .emu
        .requests()
        .iter()
        .filter(|q| q.path.ends_with("/oauth2/v2.0/token"))
        .map(|q| q.status)
        .collect();
    assert_eq!(&polls[polls.len() - 2..], [400, 200], "{polls:?}");
    // The refresh token came with it and was kept: the next run needs no sign-in.
    let again = h.ok(&[
        "-o", "json", "verify", "--env", "test", "--user", USER, "--imap",
    ]);
    let doc: Value = serde_json::from_str(&again.stdout).unwrap();
    assert_eq!(doc["token"]["source"], "refresh", "{doc}");
}

/// A GET to the emulator, as a browser would: the status line and body.
fn browse(h: &Harness, path_and_query: &str) -> String {
    use std::io::{Read, Write};
    let addr = h.emu.url().trim_start_matches("http://").to_owned();
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path_and_query} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    answer
}

#[test]
fn a_device_sign_in_declined_at_the_page_exits_6_and_says_so() {
    use std::io::BufRead;
    let h = applied();
    let mut child = h
        .command(&["verify", "--env", "test", "--user", USER, "--device-code"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut prompt = String::new();
    stderr.read_line(&mut prompt).unwrap();
    let code = prompt
        .trim()
        .strip_suffix(" to authenticate.")
        .and_then(|p| p.rsplit(' ').next())
        .unwrap_or_else(|| panic!("{prompt}"))
        .to_owned();
    // Declined at the emulator's page before the first poll (a second away).
    let page = browse(&h, &format!("/devicelogin?otc={code}&decline=1"));
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(6), "{rest}");
    assert!(
        rest.contains("sign-in declined at the device page"),
        "{rest}"
    );
}

/// The paste flow (a redirect URI that is not on loopback, no rehearsal sign-in) with nothing
/// on standard input says so and what to do, not the URL parser's "relative URL without a base".
#[test]
fn the_paste_flow_with_empty_stdin_says_nothing_was_pasted() {
    let mut h = applied();
    h.extra_env
        .push(("MAILREG_REHEARSAL_SIGN_IN".into(), "0".into()));
    let r = h.expect(3, &["verify", "--env", "test", "--user", USER, "--imap"]);
    assert!(
        r.stderr
            .contains("paste the full URL the browser was sent to:\n  http://127.0.0.1:"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains(
            "error: no redirect URL was pasted: standard input ended before a line was read"
        ),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("relative URL"), "{}", r.stderr);
    assert!(
        r.stderr.contains("or sign in with --device-code"),
        "{}",
        r.stderr
    );
}

/// Completes `words` (the last one being typed) as bash does: the script of `mailreg
/// completions bash` sourced, its function called with `COMP_WORDS`/`COMP_CWORD` set, the
/// candidates read from `COMPREPLY`, one a line.
fn bash_complete(h: &Harness, words: &[&str]) -> Vec<String> {
    let quoted: Vec<String> = words
        .iter()
        .map(|w| format!("'{}'", w.replace('\'', r"'\''")))
        .collect();
    let script = format!(
        "source <(mailreg completions bash) || exit 9\n\
         COMP_WORDS=({words}); COMP_CWORD={cword}; COMP_TYPE=9\n\
         _clap_complete_mailreg mailreg {current} {previous}\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        words = quoted.join(" "),
        cword = words.len() - 1,
        current = quoted[words.len() - 1],
        previous = quoted[words.len() - 2],
    );
    let template = h.command(&[]);
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_mailreg"))
        .parent()
        .unwrap();
    let mut cmd = std::process::Command::new("bash");
    cmd.args(["--norc", "-c", &script])
        .current_dir(h.dir.path())
        .env_clear();
    for (k, v) in template.get_envs() {
        if let Some(v) = v {
            cmd.env(k, v);
        }
    }
    cmd.env(
        "PATH",
        format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        ),
    );
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The env-var protocol itself, as fish's script calls it: `COMPLETE=fish mailreg -- <words>`.
fn fish_complete(h: &Harness, words: &[&str]) -> Vec<String> {
    let mut args = vec!["--"];
    args.extend_from_slice(words);
    let out = h.command(&args).env("COMPLETE", "fish").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

const ENVS_SPEC: &str = r#"name = "agileapps-mail"

[microsoft]
tenant = "contoso.onmicrosoft.com"
redirect_uris = ["https://agileapps.example.com/oauth/callback"]
permissions = ["IMAP.AccessAsUser.All"]

[env.staging]
microsoft.tenant = "staging.onmicrosoft.com"

[env.prod]
microsoft.tenant = "prod.onmicrosoft.com"
"#;

#[test]
fn format_completes_the_built_in_templates() {
    let h = Harness::new(ENVS_SPEC);
    let all = ["agileapps", "json", "env", "yaml", "agileapps-sheet"];
    assert_eq!(
        bash_complete(&h, &["mailreg", "output", "--format", ""]),
        all
    );
    assert_eq!(
        bash_complete(&h, &["mailreg", "output", "--format", "agi"]),
        ["agileapps", "agileapps-sheet"]
    );
    assert_eq!(
        fish_complete(&h, &["mailreg", "output", "--format", ""]),
        all
    );
}

#[test]
fn env_completes_the_environments_of_the_spec_found() {
    let h = Harness::new(ENVS_SPEC);
    // The spec of $MAILREG_FILE (the harness sets it), as the command would read it.
    assert_eq!(
        bash_complete(&h, &["mailreg", "plan", "--env", ""]),
        ["prod", "staging"]
    );
    assert_eq!(
        bash_complete(&h, &["mailreg", "status", "-e", "st"]),
        ["staging"]
    );
    // -f names another spec: its environments.
    std::fs::write(
        h.dir.path().join("other.toml"),
        "name = \"o\"\n\n[env.dev]\n\n[env.qa]\n",
    )
    .unwrap();
    assert_eq!(
        bash_complete(&h, &["mailreg", "apply", "-f", "other.toml", "--env", ""]),
        ["dev", "qa"]
    );
    assert_eq!(
        fish_complete(&h, &["mailreg", "output", "--file=other.toml", "--env", ""]),
        ["dev", "qa"]
    );
    // A spec that cannot be read offers nothing, and says nothing.
    assert_eq!(
        fish_complete(&h, &["mailreg", "plan", "-f", "missing.toml", "--env", ""]),
        Vec::<String>::new()
    );
}
