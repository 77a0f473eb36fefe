//! `mailreg verify` against real third-party servers on 127.0.0.1: Dovecot (IMAP, POP3,
//! submission, oauth2 passdb) and an OAuth server on npm `oauth2-mock-server`
//! (`tests/peers/`). The real binary runs; the test plays the browser through `BROWSER`.
//!
//! Without the peers (`tests/peers/install.sh` not run) these tests are skipped with a loud
//! message; with `MAILREG_REQUIRE_PEERS=1` (CI) a missing peer fails them instead.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

struct Peers {
    env: HashMap<String, String>,
}

impl Peers {
    fn get(&self, k: &str) -> &str {
        &self.env[k]
    }
    fn server(&self, port_key: &str) -> String {
        format!("127.0.0.1:{}", self.get(port_key))
    }
}

fn peers_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers")
}

/// Starts the peers once per test binary; they stop when this process exits (start.sh's
/// watchdog on our PID).
fn peers() -> Option<&'static Peers> {
    static PEERS: OnceLock<Result<Peers, String>> = OnceLock::new();
    let started = PEERS.get_or_init(|| {
        let out = Command::new(peers_dir().join("start.sh"))
            .args(["--owner-pid", &std::process::id().to_string()])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run tests/peers/start.sh: {e}"))?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_owned());
        }
        let dir = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        let text = std::fs::read_to_string(Path::new(&dir).join("peers.env"))
            .map_err(|e| format!("{dir}/peers.env: {e}"))?;
        let env = text
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        Ok(Peers { env })
    });
    match started {
        Ok(p) => Some(p),
        Err(why) => {
            if std::env::var("MAILREG_REQUIRE_PEERS").is_ok_and(|v| v == "1") {
                panic!(
                    "verify peer tests: peers required (MAILREG_REQUIRE_PEERS=1) but not available: {why}"
                );
            }
            // Straight to the stderr handle: the test harness captures `eprintln!`, and a skip
            // must be seen.
            let _ = writeln!(
                std::io::stderr(),
                "\n*** SKIPPED: verify peer tests: {why}\n*** run `tests/peers/install.sh && cargo test --test verify` to run them\n"
            );
            None
        }
    }
}

macro_rules! peers_or_skip {
    () => {
        match peers() {
            Some(p) => p,
            None => return,
        }
    };
}

const USER: &str = "bob@example.test";

struct Case {
    dir: tempfile::TempDir,
    browser_params: String,
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Case {
    /// A spec and a credentials record pointing at the test IdP, as `apply` (Microsoft, with
    /// `MAILREG_LOGIN_URL` at the IdP) or `google import-client` would have written them.
    fn new(p: &Peers, provider: &str) -> Case {
        let dir = tempfile::tempdir().unwrap();
        let idp = p.get("IDP_URL");
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let google_redirect = format!(
            "http://127.0.0.1:{}/oauth2callback",
            free.local_addr().unwrap().port()
        );
        drop(free);
        let (spec, record) = match provider {
            "microsoft" => (
                r#"name = "agileapps-mail"

[microsoft]
tenant = "contoso.onmicrosoft.com"
display_name = "AgileApps mailbox ({env})"
redirect_uris = ["http://127.0.0.1/callback"]
permissions = ["IMAP.AccessAsUser.All", "POP.AccessAsUser.All", "SMTP.Send", "offline_access"]
"#
                .to_owned(),
                serde_json::json!({"version": 1, "name": "agileapps-mail", "env": "test", "microsoft": {
                    "tenant": "contoso.onmicrosoft.com", "object_id": "o", "client_id": p.get("CLIENT_ID"),
                    "audience": "AzureADandPersonalMicrosoftAccount",
                    "authorize_url": format!("{idp}/common/oauth2/v2.0/authorize"),
                    "token_url": format!("{idp}/common/oauth2/v2.0/token"),
                    "scopes": ["https://outlook.office.com/IMAP.AccessAsUser.All", "https://outlook.office.com/POP.AccessAsUser.All",
                               "https://outlook.office.com/SMTP.Send", "offline_access"],
                    "redirect_uris": ["http://127.0.0.1/callback"],
                    "secret": {"key_id": "k", "value": p.get("CLIENT_SECRET"),
                               "expires": "2099-01-01T00:00:00Z", "created": "2024-01-01T00:00:00Z"}}}),
            ),
            _ => (
                // Google matches a loopback redirect exactly, port included: a free one.
                format!(
                    r#"name = "agileapps-mail"

[google]
project_id = "agileapps-mail-{{env}}"
redirect_uris = ["{google_redirect}"]
support_email = "ops@example.com"
"#
                ),
                serde_json::json!({"version": 1, "name": "agileapps-mail", "env": "test", "google": {
                    "project_id": "agileapps-mail-test",
                    "authorize_url": format!("{idp}/o/oauth2/v2/auth"),
                    "token_url": format!("{idp}/token"),
                    "scopes": ["https://mail.google.com/"],
                    "redirect_uris": [google_redirect],
                    "client": {"client_id": p.get("CLIENT_ID"), "client_secret": p.get("CLIENT_SECRET"),
                               "redirect_uris": [google_redirect],
                               "imported": "2024-01-01T00:00:00Z"}}}),
            ),
        };
        std::fs::write(dir.path().join("mailreg.toml"), spec).unwrap();
        std::fs::create_dir(dir.path().join(".mailreg")).unwrap();
        std::fs::write(
            dir.path().join(".mailreg/agileapps-mail.test.json"),
            record.to_string(),
        )
        .unwrap();
        Case {
            dir,
            browser_params: String::new(),
        }
    }

    fn record_path(&self) -> PathBuf {
        self.dir.path().join(".mailreg/agileapps-mail.test.json")
    }

    fn record(&self) -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(self.record_path()).unwrap()).unwrap()
    }

    fn command(&self, args: &[&str]) -> Command {
        self.mailreg(&[&["verify", "--env", "test"][..], args].concat())
    }

    /// Any mailreg command in this case's folder, with its spec and credentials record.
    fn mailreg(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_mailreg"));
        cmd.args(args)
            .current_dir(self.dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("MAILREG_FILE", self.dir.path().join("mailreg.toml"))
            .env("MAILREG_STATE_DIR", self.dir.path().join(".mailreg"))
            .env("MAILREG_TIME_SCALE", "0.001")
            .env(
                "BROWSER",
                format!("node {}", peers_dir().join("browser.mjs").display()),
            )
            .env("PEER_BROWSER_PARAMS", &self.browser_params)
            .stdin(Stdio::null());
        cmd
    }

    fn run(&self, p: &Peers, args: &[&str]) -> Run {
        let out = self.command(args).output().unwrap();
        let run = Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        self.assert_no_secrets(p, &run);
        run
    }

    /// No token, code, secret or refresh token in any output.
    fn assert_no_secrets(&self, p: &Peers, run: &Run) {
        let both = format!("{}{}", run.stdout, run.stderr);
        for key in [
            "CLIENT_SECRET",
            "APP_CLIENT_SECRET",
            "NOROLES_CLIENT_SECRET",
        ] {
            assert!(!both.contains(p.get(key)), "{key} printed:\n{both}");
        }
        assert!(
            !both.contains("eyJ"),
            "a JWT (access token) printed:\n{both}"
        );
        assert!(
            !both.contains("code="),
            "an authorization code printed:\n{both}"
        );
        assert!(
            !both.contains("garbage-"),
            "the garbage token printed:\n{both}"
        );
        if let Ok(text) = std::fs::read_to_string(self.record_path()) {
            let rec: serde_json::Value = serde_json::from_str(&text).unwrap();
            for prov in ["microsoft", "google"] {
                if let Some(map) = rec[prov]["refresh_tokens"].as_object() {
                    for v in map.values() {
                        assert!(
                            !both.contains(v.as_str().unwrap()),
                            "refresh token printed:\n{both}"
                        );
                    }
                }
            }
        }
    }
}

fn json(run: &Run) -> serde_json::Value {
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", run.stdout, run.stderr))
}

fn servers(p: &Peers, imap: &str, pop: &str, smtp: &str) -> Vec<String> {
    vec![
        "--imap-server".into(),
        p.server(imap),
        "--pop-server".into(),
        p.server(pop),
        "--smtp-server".into(),
        p.server(smtp),
        "--ca-file".into(),
        p.get("CA_FILE").into(),
    ]
}

fn args<'a>(v: &'a [String], extra: &[&'a str]) -> Vec<&'a str> {
    v.iter()
        .map(String::as_str)
        .chain(extra.iter().copied())
        .collect()
}

#[test]
fn code_flow_then_refresh_with_rotation_over_implicit_tls() {
    let p = peers_or_skip!();
    let case = Case::new(p, "microsoft");
    let s = servers(p, "IMAPS_PORT", "POP3S_PORT", "SUBMISSIONS_PORT");
    let r = case.run(
        p,
        &args(&s, &["--user", USER, "--tls", "--keep-refresh-token"]),
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", r.stdout);
    assert!(
        lines[0].starts_with("imap  OK      127.0.0.1:") && lines[0].ends_with("(XOAUTH2, TLS)"),
        "{}",
        r.stdout
    );
    assert!(
        lines[1].starts_with("pop3  OK") && lines[2].starts_with("smtp  OK"),
        "{}",
        r.stdout
    );
    assert!(
        r.stderr.contains("code_challenge_method=S256"),
        "{}",
        r.stderr
    );

    let first = case.record()["microsoft"]["refresh_tokens"][USER]
        .as_str()
        .unwrap()
        .to_owned();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(case.record_path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // Second run: the refresh token, no browser; the rotated token replaces the spent one.
    let r = case.run(p, &args(&s, &["--user", USER, "--tls", "-o", "json"]));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let doc = json(&r);
    assert_eq!(doc["token"]["source"], "refresh");
    assert_eq!(doc["provider"], "microsoft");
    assert_eq!(doc["user"], USER);
    assert_eq!(doc["results"].as_array().unwrap().len(), 3);
    assert!(
        doc["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["ok"] == true && r["reason"].is_null())
    );
    assert!(!r.stderr.contains("Sign in as"), "{}", r.stderr);
    let second = case.record()["microsoft"]["refresh_tokens"][USER]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(first, second, "the rotated refresh token is stored");
}

#[test]
fn starttls_and_plain_loopback_with_oauthbearer() {
    let p = peers_or_skip!();
    let case = Case::new(p, "microsoft");
    let s = servers(p, "IMAP_PORT", "POP3_PORT", "SUBMISSION_PORT");
    let r = case.run(
        p,
        &args(&s, &["--user", USER, "--starttls", "--mech", "oauthbearer"]),
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .lines()
            .all(|l| l.contains(" OK ") && l.ends_with("(OAUTHBEARER, STARTTLS)")),
        "{}",
        r.stdout
    );
    let r = case.run(
        p,
        &args(&s, &["--user", USER, "--plain", "--imap", "--smtp"]),
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.stdout.lines().count(), 2);
    assert!(r.stdout.contains("(XOAUTH2, plain)"));
}

#[test]
fn google_endpoints_with_the_default_security_per_protocol() {
    let p = peers_or_skip!();
    let case = Case::new(p, "google");
    // No --tls/--starttls: IMAP and POP3 default to implicit TLS, SMTP to STARTTLS.
    let s = servers(p, "IMAPS_PORT", "POP3S_PORT", "SUBMISSION_PORT");
    let r = case.run(
        p,
        &args(&s, &["--user", USER, "--keep-refresh-token", "-o", "json"]),
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let doc = json(&r);
    assert_eq!(doc["provider"], "google");
    assert_eq!(doc["token"]["source"], "code");
    assert!(
        r.stderr.contains("access_type=offline") && r.stderr.contains("prompt=consent"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("scope=https%3A%2F%2Fmail.google.com%2F"),
        "{}",
        r.stderr
    );
    assert!(case.record()["google"]["refresh_tokens"][USER].is_string());
    let sec: Vec<&str> = doc["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["security"].as_str().unwrap())
        .collect();
    assert_eq!(sec, ["tls", "tls", "starttls"]);
}

fn failed_reasons(case: &Case, p: &Peers, params: &str) -> Vec<String> {
    let case = Case {
        dir: tempfile::tempdir().unwrap(),
        browser_params: params.into(),
    }
    .with_files_of(case);
    let s = servers(p, "IMAPS_PORT", "POP3S_PORT", "SUBMISSION_PORT");
    let r = case.run(p, &args(&s, &["--user", USER, "-o", "json"]));
    assert_eq!(r.code, 6, "{}\n{}", r.stdout, r.stderr);
    let doc = json(&r);
    doc["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            assert_eq!(x["ok"], false);
            x["reason"].as_str().unwrap().to_owned()
        })
        .collect()
}

impl Case {
    fn with_files_of(self, other: &Case) -> Case {
        std::fs::copy(
            other.dir.path().join("mailreg.toml"),
            self.dir.path().join("mailreg.toml"),
        )
        .unwrap();
        std::fs::create_dir_all(self.dir.path().join(".mailreg")).unwrap();
        std::fs::copy(other.record_path(), self.record_path()).unwrap();
        self
    }
}

#[test]
fn a_garbage_token_is_reported_as_rejected() {
    let p = peers_or_skip!();
    let base = Case::new(p, "microsoft");
    for reason in failed_reasons(&base, p, "mock_token=garbage") {
        assert!(
            reason.starts_with("the server rejected the access token: invalid, expired, revoked"),
            "{reason}"
        );
    }
}

#[test]
fn a_token_for_another_user_names_that_user() {
    let p = peers_or_skip!();
    let base = Case::new(p, "microsoft");
    let reasons = failed_reasons(&base, p, "mock_login_as=carol@example.test");
    assert_eq!(reasons.len(), 3);
    for reason in reasons {
        assert!(
            reason.starts_with("the token was issued to carol@example.test, not bob@example.test"),
            "{reason}"
        );
        assert!(!reason.contains("scope"), "not a scope problem: {reason}");
    }
}

#[test]
fn an_expired_token_is_reported_as_expired() {
    let p = peers_or_skip!();
    let base = Case::new(p, "microsoft");
    for reason in failed_reasons(&base, p, "mock_expired=1") {
        assert!(
            reason.starts_with("the access token expired at "),
            "{reason}"
        );
        assert!(
            reason.contains("AUTHENTICATIONFAILED")
                || reason.contains("-ERR")
                || reason.contains("535"),
            "{reason}"
        );
    }
}

/// Signs in keeping the refresh token, then revokes it at the IdP; returns the token.
fn stored_then_revoked(case: &Case, p: &Peers, s: &[String]) -> String {
    let r = case.run(
        p,
        &args(s, &["--user", USER, "--imap", "--keep-refresh-token"]),
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let rt = case.record()["microsoft"]["refresh_tokens"][USER]
        .as_str()
        .unwrap()
        .to_owned();
    http_post(p, "/revoke", &format!("token={rt}"));
    rt
}

#[test]
fn a_revoked_refresh_token_falls_back_to_the_browser() {
    let p = peers_or_skip!();
    let case = Case::new(p, "microsoft");
    let s = servers(p, "IMAPS_PORT", "POP3S_PORT", "SUBMISSION_PORT");
    let rt = stored_then_revoked(&case, p, &s);
    let r = case.run(p, &args(&s, &["--user", USER, "--imap", "-o", "json"]));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(json(&r)["token"]["source"], "code");
    assert!(
        r.stderr.contains("stored refresh token was rejected"),
        "{}",
        r.stderr
    );
    let now = case.record()["microsoft"]["refresh_tokens"][USER]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(now, rt);
}

/// Revoked, then the new sign-in fails too: the notice is printed once, and the dead token is
/// gone from the record (the next run does not try it again).
#[test]
fn a_revoked_refresh_token_is_reported_once_and_forgotten() {
    let p = peers_or_skip!();
    let mut case = Case::new(p, "microsoft");
    let s = servers(p, "IMAPS_PORT", "POP3S_PORT", "SUBMISSION_PORT");
    stored_then_revoked(&case, p, &s);
    case.browser_params = "mock_deny=1".into();
    let r = case.run(p, &args(&s, &["--user", USER, "--imap"]));
    assert_eq!(r.code, 6, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(
        r.stderr.matches("refresh token was rejected").count(),
        1,
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("WARN"), "{}", r.stderr);
    assert_eq!(
        case.record()["microsoft"]["refresh_tokens"][USER],
        serde_json::Value::Null
    );
}

#[test]
fn declined_consent_exits_6() {
    let p = peers_or_skip!();
    let mut case = Case::new(p, "microsoft");
    case.browser_params = "mock_deny=1".into();
    let s = servers(p, "IMAPS_PORT", "POP3S_PORT", "SUBMISSION_PORT");
    let r = case.run(p, &args(&s, &["--user", USER]));
    assert_eq!(r.code, 6, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains("the sign-in was declined (consent not given): access_denied"),
        "{}",
        r.stderr
    );
}

#[test]
fn device_code_flow() {
    let p = peers_or_skip!();
    let case = Case::new(p, "microsoft");
    let s = servers(p, "IMAPS_PORT", "POP3S_PORT", "SUBMISSION_PORT");
    let mut child = case
        .command(&args(
            &s,
            &["--user", USER, "--device-code", "--imap", "-o", "json"],
        ))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    let code = line
        .trim()
        .rsplit("enter the code ")
        .next()
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    http_get(p, &format!("/device?user_code={code}&login_as={USER}"));
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{out}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["token"]["source"], "device");
    assert_eq!(doc["results"][0]["ok"], true);
}

#[test]
fn plain_text_to_a_remote_server_is_refused() {
    // No peers needed: refused before anything is sent.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("mailreg.toml"), "name = \"x\"\n\n[microsoft]\ntenant = \"t.example\"\ndisplay_name = \"x\"\nredirect_uris = [\"http://127.0.0.1/cb\"]\npermissions = [\"IMAP.AccessAsUser.All\"]\n").unwrap();
    std::fs::create_dir(dir.path().join(".mailreg")).unwrap();
    std::fs::write(
        dir.path().join(".mailreg/x.test.json"),
        serde_json::json!({"version":1,"name":"x","env":"test","microsoft":{
        "tenant":"t.example","object_id":"o","client_id":"c","audience":"AzureADMyOrg",
        "authorize_url":"https://login.microsoftonline.com/t.example/oauth2/v2.0/authorize",
        "token_url":"https://login.microsoftonline.com/t.example/oauth2/v2.0/token",
        "scopes":[],"redirect_uris":["http://127.0.0.1/cb"],"secret":null}})
        .to_string(),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mailreg"))
        .args([
            "verify",
            "-e",
            "test",
            "-f",
            "mailreg.toml",
            "--user",
            "a@b.c",
            "--plain",
            "--imap-server",
            "imap.example.com:143",
        ])
        .current_dir(dir.path())
        .env("MAILREG_STATE_DIR", dir.path().join(".mailreg"))
        .env("BROWSER", "false")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a loopback address"));
}

fn http(p: &Peers, request: String) -> String {
    let out = http_any(p, request);
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    out
}

fn http_get(p: &Peers, path: &str) -> String {
    http(
        p,
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"),
    )
}

fn http_post(p: &Peers, path: &str, form: &str) -> String {
    http(
        p,
        format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{form}",
            form.len()
        ),
    )
}

/// Issue 11, repro 1: while `verify --keep-refresh-token` waits at the browser, another run
/// (a `rotate`) rewrites the record with a new secret. Verify must store its refresh token into
/// the record as it is then, not write back the copy it read at its start (which would bring
/// the retired secret back and lose the new Value, shown once by Graph).
#[test]
fn a_rotate_during_the_sign_in_is_not_undone() {
    let p = peers_or_skip!();
    let case = Case::new(p, "microsoft");
    // The "browser" first plays the concurrent rotate (a new secret lands in the record), then
    // signs in.
    let browser = case.dir.path().join("rotate-then-browse.sh");
    std::fs::write(
        &browser,
        format!(
            "#!/bin/sh\nsed -i 's/\"key_id\":\"k\"/\"key_id\":\"k2\"/; s/\"value\":\"{}\"/\"value\":\"rotated-canary\"/' '{}'\nexec node '{}' \"$@\"\n",
            p.get("CLIENT_SECRET"),
            case.record_path().display(),
            peers_dir().join("browser.mjs").display()
        ),
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&browser, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let s = servers(p, "IMAPS_PORT", "POP3S_PORT", "SUBMISSIONS_PORT");
    let out = case
        .command(&args(
            &s,
            &["--user", USER, "--tls", "--imap", "--keep-refresh-token"],
        ))
        .env("BROWSER", &browser)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rec = case.record();
    assert_eq!(rec["microsoft"]["secret"]["key_id"], "k2", "{rec:#}");
    assert_eq!(rec["microsoft"]["secret"]["value"], "rotated-canary");
    assert!(
        rec["microsoft"]["refresh_tokens"][USER].is_string(),
        "{rec:#}"
    );
}

/// Issue 13, item 13: AgileApps takes an Auth URL and builds the authorization request itself,
/// and its documentation does not say that it asks Google for offline access. The AgileApps
/// output's Google Auth URL carries `access_type=offline&prompt=consent`; a client that only
/// appends its own parameters (as AgileApps does, with `&`) still gets a refresh token from a
/// real OAuth server, and without those parameters it gets none.
#[test]
fn the_agileapps_google_auth_url_brings_a_refresh_token_to_a_client_that_appends_its_query() {
    let p = peers_or_skip!();
    let case = Case::new(p, "google");
    let out = case
        .mailreg(&["output", "--env", "test", "--format", "agileapps"])
        .args(["--provider", "google", "--show-secrets"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let auth = doc["authUrl"].as_str().unwrap().to_owned();
    assert_eq!(
        auth,
        format!(
            "{}/o/oauth2/v2/auth?access_type=offline&prompt=consent",
            p.get("IDP_URL")
        )
    );
    let tokens = |auth_url: &str| -> serde_json::Value {
        // The application's own authorization request: its parameters appended to the URL.
        let mut url = url::Url::parse(auth_url).unwrap();
        url.query_pairs_mut()
            .append_pair("client_id", doc["clientId"].as_str().unwrap())
            .append_pair("response_type", "code")
            .append_pair("redirect_uri", doc["redirectUri"].as_str().unwrap())
            .append_pair("scope", doc["scope"].as_str().unwrap())
            .append_pair("login_hint", USER)
            .append_pair("state", "agileapps");
        let path = &url.as_str()[p.get("IDP_URL").len()..];
        let answer = http_any(
            p,
            format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"),
        );
        assert!(answer.starts_with("HTTP/1.1 302"), "{answer}");
        let location = answer
            .lines()
            .find_map(|l| l.strip_prefix("location: "))
            .unwrap_or_else(|| panic!("no redirect: {answer}"));
        let back = url::Url::parse(location.trim()).unwrap();
        let code = back
            .query_pairs()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_else(|| panic!("no code: {location}"));
        let form: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "authorization_code")
            .append_pair("code", &code)
            .append_pair("client_id", doc["clientId"].as_str().unwrap())
            .append_pair("client_secret", doc["clientSecret"].as_str().unwrap())
            .append_pair("redirect_uri", doc["redirectUri"].as_str().unwrap())
            .finish();
        let answer = http_post(p, "/token", &form);
        // The body may come chunked: the JSON object is between its outer braces.
        let body = answer.split_once("\r\n\r\n").unwrap().1;
        let (start, end) = (body.find('{').unwrap(), body.rfind('}').unwrap());
        serde_json::from_str(&body[start..=end]).unwrap()
    };
    assert!(
        tokens(&auth)["refresh_token"].is_string(),
        "a refresh token comes back"
    );
    let bare = auth.split_once('?').unwrap().0;
    assert!(
        tokens(bare)["refresh_token"].is_null(),
        "without the parameters there is none: they are what makes it"
    );
}

/// One raw HTTP exchange with the test IdP, whatever its status.
fn http_any(p: &Peers, request: String) -> String {
    let mut s =
        std::net::TcpStream::connect(p.get("IDP_URL").trim_start_matches("http://")).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

// App-only access (client credentials): the app's token, used as each of the spec's mailboxes.

const OTHER: &str = "other@example.test";

impl Case {
    /// A spec with `access = "app"` and its `mailboxes` line, and the record `apply` writes for
    /// it: Exchange's `.default` scope, the tenant's token URL (at the IdP), the app's secret.
    fn app(idp: &str, client_id: &str, secret: &str, mailboxes: &str) -> Case {
        let dir = tempfile::tempdir().unwrap();
        let spec = format!(
            "name = \"agileapps-mail\"\n\n[microsoft]\naccess = \"app\"\ntenant = \"contoso.onmicrosoft.com\"\nmailboxes = {mailboxes}\n"
        );
        let record = serde_json::json!({"version": 1, "name": "agileapps-mail", "env": "test", "microsoft": {
            "access": "app",
            "tenant": "contoso.onmicrosoft.com", "object_id": "o", "client_id": client_id,
            "audience": "AzureADMyOrg",
            "authorize_url": format!("{idp}/contoso.onmicrosoft.com/oauth2/v2.0/authorize"),
            "token_url": format!("{idp}/contoso.onmicrosoft.com/oauth2/v2.0/token"),
            "scopes": ["https://outlook.office365.com/.default"],
            "redirect_uris": [],
            "service_principal_id": format!("sp-{client_id}"),
            "secret": {"key_id": "k", "value": secret,
                       "expires": "2099-01-01T00:00:00Z", "created": "2024-01-01T00:00:00Z"}}});
        std::fs::write(dir.path().join("mailreg.toml"), spec).unwrap();
        std::fs::create_dir(dir.path().join(".mailreg")).unwrap();
        std::fs::write(
            dir.path().join(".mailreg/agileapps-mail.test.json"),
            record.to_string(),
        )
        .unwrap();
        Case {
            dir,
            browser_params: String::new(),
        }
    }

    /// The app client with Exchange's mail roles; its token is good for `APP_MAILBOX` only.
    fn consented(p: &Peers, mailboxes: &str) -> Case {
        Case::app(
            p.get("IDP_URL"),
            p.get("APP_CLIENT_ID"),
            p.get("APP_CLIENT_SECRET"),
            mailboxes,
        )
    }
}

/// What verify says when the server refuses the app's token as `mailbox` on IMAP.
fn refused_imap(p: &Peers, mailbox: &str, server: &str) -> String {
    format!(
        "imap  FAILED  127.0.0.1:{} (XOAUTH2, TLS): the server did not let the app in as {mailbox}; the usual causes, most likely first: \
         (1) Exchange has no service principal for the app, or one made with the app registration's object ID instead of the enterprise application's (New-ServicePrincipal -AppId {app} -ServiceId sp-{app}); \
         (2) the app has no FullAccess on the mailbox (Add-MailboxPermission -Identity {mailbox} -User sp-{app} -AccessRights FullAccess); \
         (3) IMAP is disabled for the mailbox (Set-CASMailbox -Identity {mailbox} -ImapEnabled $true). \
         New service principals and permissions take up to 30 minutes to apply (`--wait 45m` retries until they do); \
         `mailreg mailbox check --env test` checks all three (server: {server})",
        p.get("IMAPS_PORT"),
        app = p.get("APP_CLIENT_ID"),
    )
}

#[test]
fn app_access_logs_in_as_the_mailbox_with_a_client_credentials_token() {
    let p = peers_or_skip!();
    let mailbox = p.get("APP_MAILBOX");
    let case = Case::consented(
        p,
        &format!("[{{ address = \"{mailbox}\", rights = [\"read\", \"send\"] }}]"),
    );
    // `BROWSER=false`: a sign-in page opened would fail the run.
    let s = servers(p, "IMAPS_PORT", "POP3S_PORT", "SUBMISSIONS_PORT");
    let r = {
        let out = case
            .command(&args(&s, &["--tls"]))
            .env("BROWSER", "false")
            .output()
            .unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    };
    case.assert_no_secrets(p, &r);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(
        r.stdout,
        format!(
            "{mailbox} (app access)\n\
             imap  OK      127.0.0.1:{} (XOAUTH2, TLS)\n\
             pop3  OK      127.0.0.1:{} (XOAUTH2, TLS)\n\
             smtp  OK      127.0.0.1:{} (XOAUTH2, TLS)\n",
            p.get("IMAPS_PORT"),
            p.get("POP3S_PORT"),
            p.get("SUBMISSIONS_PORT")
        )
    );
    assert_eq!(r.stderr, "", "no sign-in prompt, no warning");

    // The JSON names the grant and the roles the token carries; STARTTLS and plain work too.
    let s = servers(p, "IMAP_PORT", "POP3_PORT", "SUBMISSION_PORT");
    let r = case.run(p, &args(&s, &["--starttls", "-o", "json"]));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let doc = json(&r);
    assert_eq!(doc["provider"], "microsoft");
    assert_eq!(doc["access"], "app");
    assert_eq!(
        doc["token"],
        serde_json::json!({"source": "client_credentials",
                           "roles": ["IMAP.AccessAsApp", "POP.AccessAsApp", "SMTP.SendAsApp"]})
    );
    let boxes = doc["mailboxes"].as_array().unwrap();
    assert_eq!(boxes.len(), 1);
    assert_eq!(boxes[0]["user"], mailbox);
    let results: Vec<(String, String, bool)> = boxes[0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["protocol"].as_str().unwrap().to_owned(),
                x["security"].as_str().unwrap().to_owned(),
                x["ok"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        results,
        [
            ("imap".into(), "starttls".into(), true),
            ("pop3".into(), "starttls".into(), true),
            ("smtp".into(), "starttls".into(), true)
        ]
    );
}

#[test]
fn a_mailbox_the_app_may_not_open_names_the_three_causes() {
    let p = peers_or_skip!();
    let mailbox = p.get("APP_MAILBOX");
    // Bare addresses: `read`, so IMAP and POP; `--imap` narrows to IMAP.
    let case = Case::consented(p, &format!("[\"{mailbox}\", \"{OTHER}\"]"));
    let s = servers(p, "IMAPS_PORT", "POP3S_PORT", "SUBMISSIONS_PORT");
    let r = case.run(p, &args(&s, &["--imap"]));
    assert_eq!(r.code, 6, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(
        r.stdout,
        format!(
            "{mailbox} (app access)\n\
             imap  OK      127.0.0.1:{} (XOAUTH2, TLS)\n\
             {OTHER} (app access)\n\
             {}\n",
            p.get("IMAPS_PORT"),
            refused_imap(
                p,
                OTHER,
                "a2 NO [AUTHENTICATIONFAILED] Authentication failed."
            )
        )
    );
    assert_eq!(
        r.stderr,
        format!("error: 1 of 2 app-only logins failed ({OTHER})\n")
    );

    // `--user` narrows the check to that mailbox; `--wait` retries the refused login (the
    // token is fetched once) until the deadline, and says how many tries it took.
    let r = case.run(p, &args(&s, &["--imap", "--user", OTHER, "--wait", "30m"]));
    assert_eq!(r.code, 6, "{}\n{}", r.stdout, r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines[0], format!("{OTHER} (app access)"));
    assert_eq!(lines.len(), 2, "{}", r.stdout);
    assert!(lines[1].starts_with("imap  FAILED"), "{}", r.stdout);
    assert_eq!(
        r.stderr,
        format!("error: 1 of 1 app-only logins failed ({OTHER})\n")
    );
    let r = case.run(
        p,
        &args(
            &s,
            &["--imap", "--user", OTHER, "--wait", "30m", "-o", "json"],
        ),
    );
    assert_eq!(r.code, 6, "{}\n{}", r.stdout, r.stderr);
    let doc = json(&r);
    let imap = &doc["mailboxes"][0]["results"][0];
    assert_eq!(imap["ok"], false);
    assert!(imap["first_success"].is_null());
    // MAILREG_TIME_SCALE=0.001: 30 minutes are 1.8 s, pauses of 15, 30, 60, then 120 ms (a
    // refused login at Dovecot takes about half a second).
    assert!(imap["attempts"].as_u64().unwrap() > 1, "{imap}");
}

#[test]
fn a_token_without_the_mail_role_says_consent_is_missing() {
    let p = peers_or_skip!();
    let mailbox = p.get("APP_MAILBOX");
    let case = Case::app(
        p.get("IDP_URL"),
        p.get("NOROLES_CLIENT_ID"),
        p.get("NOROLES_CLIENT_SECRET"),
        &format!("[\"{mailbox}\"]"),
    );
    let s = servers(p, "IMAPS_PORT", "POP3S_PORT", "SUBMISSIONS_PORT");
    let r = case.run(p, &args(&s, &["--pop"]));
    assert_eq!(r.code, 6, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(
        r.stdout,
        format!(
            "{mailbox} (app access)\n\
             pop3  FAILED  127.0.0.1:{} (XOAUTH2, TLS): the app's token carries no POP.AccessAsApp role (its roles: none): admin consent for the application permission was not granted; `mailreg apply` assigns it (appRoleAssignedTo on Office 365 Exchange Online), or an administrator grants consent (Enterprise applications > the app > Permissions) (server: -ERR [AUTH] Authentication failed.)\n",
            p.get("POP3S_PORT")
        )
    );
}

#[test]
fn a_wrong_app_secret_is_reported_with_its_fix() {
    let p = peers_or_skip!();
    let mailbox = p.get("APP_MAILBOX");
    let case = Case::app(
        p.get("IDP_URL"),
        p.get("APP_CLIENT_ID"),
        "not-the-secret",
        &format!("[\"{mailbox}\"]"),
    );
    let s = servers(p, "IMAPS_PORT", "POP3S_PORT", "SUBMISSIONS_PORT");
    let r = case.run(p, &args(&s, &[]));
    assert_eq!(r.code, 6, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.stdout, "");
    assert_eq!(
        r.stderr,
        concat!(
            "error: app sign-in (client credentials) failed at the token endpoint: HTTP 401 invalid_client: AADSTS7000215: Invalid client secret provided.\n",
            "  hint: the client secret on record is not the app's (wrong, or deleted): `mailreg rotate` stores a new one\n"
        )
    );
    assert!(!r.stderr.contains("not-the-secret"));
}

#[test]
fn app_access_flags_are_checked_before_any_request() {
    // No peers needed: every case is refused before the token endpoint (a closed port) is asked.
    let case = Case::app(
        "http://127.0.0.1:9",
        "c",
        "s3cret-value",
        "[\"helpdesk@example.test\", { address = \"noreply@example.test\", rights = [\"send\"] }]",
    );
    let cases: [(&[&str], &str); 4] = [
        (
            &["--user", "bob@example.test"],
            "error: --user bob@example.test: not one of the spec's microsoft.mailboxes (helpdesk@example.test, noreply@example.test); app access opens only the mailboxes listed there\n",
        ),
        (
            &["--device-code"],
            "error: --device-code: this registration has app access (client credentials): the app signs in as itself, with no person, browser or refresh token\n",
        ),
        (
            &["--keep-refresh-token"],
            "error: --keep-refresh-token: this registration has app access (client credentials): the app signs in as itself, with no person, browser or refresh token\n",
        ),
        (
            &["--user", "noreply@example.test", "--imap"],
            "error: nothing to check: the protocols asked for are not among those the mailbox rights open: noreply@example.test (rights: send) (read: IMAP/POP, send: SMTP)\n",
        ),
    ];
    for (extra, stderr) in cases {
        let out = case.command(extra).output().unwrap();
        assert_eq!(out.status.code(), Some(3), "{extra:?}");
        assert_eq!(String::from_utf8_lossy(&out.stderr), stderr, "{extra:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "");
    }
}
