//! Shared harness: an emulator on 127.0.0.1 and the real binary pointed at it.
#![allow(dead_code, unused_imports)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub use mailreg_emulator::{Emulator, EmulatorConfig, Fault, FaultKind, LoggedRequest};

pub const SPEC: &str = r#"name = "agileapps-mail"

[microsoft]
tenant = "contoso.onmicrosoft.com"
display_name = "AgileApps mailbox ({env})"
redirect_uris = ["https://agileapps.example.com/oauth/callback"]
permissions = ["IMAP.AccessAsUser.All", "POP.AccessAsUser.All", "offline_access"]
"#;

pub struct Harness {
    pub emu: Emulator,
    pub dir: tempfile::TempDir,
    pub spec: PathBuf,
    pub extra_env: Vec<(String, String)>,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Harness {
    pub fn new(spec: &str) -> Harness {
        Self::with_config(spec, EmulatorConfig::default())
    }

    pub fn with_config(spec: &str, config: EmulatorConfig) -> Harness {
        let emu = Emulator::start_background(config).expect("emulator starts");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mailreg.toml");
        std::fs::write(&path, spec).unwrap();
        Harness {
            emu,
            dir,
            spec: path,
            extra_env: Vec::new(),
        }
    }

    pub fn write_spec(&self, text: &str) {
        std::fs::write(&self.spec, text).unwrap();
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join(".mailreg")
    }

    pub fn store_file(&self, env: &str) -> PathBuf {
        self.state_dir().join(format!("agileapps-mail.{env}.json"))
    }

    /// The credentials record of an environment, as JSON.
    pub fn record(&self, env: &str) -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(self.store_file(env)).unwrap()).unwrap()
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_mailreg"));
        cmd.args(args)
            .current_dir(self.dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .envs(self.emu.env())
            .env("MAILREG_FILE", &self.spec)
            .env("MAILREG_STATE_DIR", self.state_dir())
            .env("MAILREG_TIME_SCALE", "0.001")
            .env("NO_COLOR", "1")
            .envs(self.extra_env.iter().cloned())
            .stdin(std::process::Stdio::null());
        cmd
    }

    /// Runs mailreg on a pseudo-terminal (util-linux `script`), as a person at a terminal would;
    /// `input` is what they type. Returns the exit code and the terminal's text.
    pub fn tty(&self, args: &[&str]) -> std::process::Child {
        self.tty_shell(&mailreg_line(args))
    }

    /// Runs a shell command line on a pseudo-terminal (for a check after mailreg, such as
    /// `stty -a`); [`mailreg_line`] quotes a mailreg invocation for it.
    pub fn tty_shell(&self, line: &str) -> std::process::Child {
        let template = self.command(&[]);
        let mut cmd = Command::new("script");
        cmd.args(["-qec", line, "/dev/null"])
            .current_dir(self.dir.path())
            .env_clear();
        for (k, v) in template.get_envs() {
            if let Some(v) = v {
                cmd.env(k, v);
            }
        }
        cmd.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("script runs")
    }

    pub fn run(&self, args: &[&str]) -> Run {
        let out: Output = self.command(args).output().expect("binary runs");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs and asserts the exit code, showing the output when it differs.
    pub fn ok(&self, args: &[&str]) -> Run {
        self.expect(0, args)
    }

    pub fn expect(&self, code: i32, args: &[&str]) -> Run {
        let r = self.run(args);
        assert_eq!(
            r.code, code,
            "mailreg {args:?}\n--- stdout\n{}\n--- stderr\n{}",
            r.stdout, r.stderr
        );
        r
    }

    /// Requests to the APIs (token requests left out), in order.
    pub fn api_requests(&self) -> Vec<LoggedRequest> {
        self.emu
            .requests()
            .into_iter()
            .filter(|r| !r.is_token())
            .collect()
    }

    pub fn clear(&self) {
        self.emu.clear_log();
    }

    /// The emulator operator's client secret (what mailreg signs in with): never to be printed.
    pub fn operator_secret(&self) -> String {
        self.emu
            .env()
            .into_iter()
            .find(|(k, _)| k == "AZURE_CLIENT_SECRET")
            .map(|(_, v)| v)
            .unwrap_or_default()
    }
}

/// Types `input` into a [`Harness::tty`] run and waits: its exit code and the terminal's text.
pub fn finish_tty(mut child: std::process::Child, input: &str) -> (i32, String) {
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).replace('\r', ""),
    )
}

/// `METHOD path` lines of API requests, for compact order assertions.
pub fn lines(reqs: &[LoggedRequest]) -> Vec<String> {
    reqs.iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

/// Replaces GUIDs, secrets, dates and ports so snapshots are stable.
pub fn normalise(text: &str, dir: &Path) -> String {
    let mut out = text.replace(&dir.display().to_string(), "[TMP]");
    let guid =
        regex_lite::Regex::new(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
            .unwrap();
    out = guid.replace_all(&out, "[GUID]").into_owned();
    let date = regex_lite::Regex::new(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z").unwrap();
    out = date.replace_all(&out, "[DATE]").into_owned();
    let port = regex_lite::Regex::new(r"127\.0\.0\.1:\d+").unwrap();
    port.replace_all(&out, "127.0.0.1:[PORT]").into_owned()
}

pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Calls the emulator's Graph directly (bypassing mailreg), as someone editing in the portal
/// would: for drift and for seeding secrets.
pub fn graph_call(
    emu: &Emulator,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> mailreg_emulator::wire::EmuResponse {
    use mailreg_emulator::wire::EmuRequest;
    let env: std::collections::HashMap<_, _> = emu.env().into_iter().collect();
    emu.with_state(|s| {
        let now = time::OffsetDateTime::now_utc();
        let form = format!(
            "grant_type=client_credentials&client_id={}&client_secret={}&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default",
            env["AZURE_CLIENT_ID"], env["AZURE_CLIENT_SECRET"]
        );
        let token_req = EmuRequest {
            method: "POST".into(),
            path: "/contoso.onmicrosoft.com/oauth2/v2.0/token".into(),
            headers: vec![("content-type".into(), "application/x-www-form-urlencoded".into())],
            body: form.into_bytes(),
            ..Default::default()
        };
        let token = s.graph.handle(&token_req, now).expect("token route").body_json().unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        let req = EmuRequest {
            method: method.into(),
            path: path.into(),
            headers: vec![
                ("authorization".into(), format!("Bearer {token}")),
                ("content-type".into(), "application/json".into()),
            ],
            body: body.map(|b| serde_json::to_vec(&b).unwrap()).unwrap_or_default(),
            ..Default::default()
        };
        s.graph.handle(&req, now).expect("graph route")
    })
}

pub const GOOGLE_SPEC: &str = r#"name = "agileapps-mail"

[google]
project_id = "agileapps-mail-{env}"
support_email = "ops@example.com"
test_users = ["mailbox@example.com"]
redirect_uris = ["https://agileapps.example.com/oauth/callback"]
"#;

/// Plays the person in the console: makes the Web client and saves the JSON they download.
pub fn console_client(h: &Harness, project: &str, uris: &[&str]) -> PathBuf {
    let uris: Vec<String> = uris.iter().map(|s| s.to_string()).collect();
    let client = h
        .emu
        .with_state(|s| s.google.create_oauth_client(project, &uris))
        .expect("console step");
    let path = h.dir.path().join(format!("client_secret_{project}.json"));
    std::fs::write(&path, mailreg_emulator::google::client_file_text(&client)).unwrap();
    path
}

/// Applies the spec to completion for env `test`: apply (exit 5), the console step, import,
/// apply. Returns the downloaded client JSON.
pub fn applied_with_client(h: &Harness) -> PathBuf {
    h.expect(5, &["apply", "--env", "test", "--yes"]);
    let file = import_default_client(h);
    h.ok(&["apply", "--env", "test", "--yes"]);
    file
}

/// The console step for env `test`'s project and the spec's redirect URI.
pub fn default_client(h: &Harness) -> PathBuf {
    console_client(
        h,
        "agileapps-mail-test",
        &["https://agileapps.example.com/oauth/callback"],
    )
}

/// The console step, then `google import-client` of the downloaded file (no cloud request).
pub fn import_default_client(h: &Harness) -> PathBuf {
    let file = default_client(h);
    h.ok(&[
        "google",
        "import-client",
        "--env",
        "test",
        file.to_str().unwrap(),
    ]);
    file
}

/// The answers `init` takes as flags for a spec with both providers (after `init -f FILE`).
pub const INIT_BOTH: &[&str] = &[
    "--name",
    "shop-mail",
    "--provider",
    "both",
    "--tenant",
    "contoso.onmicrosoft.com",
    "--redirect-uri",
    "https://shop.example.com/oauth/callback",
    "--support-email",
    "ops@example.com",
    "--email",
    "mailbox@shop.example.com",
];

/// A shell-quoted command line that runs mailreg with `args`.
pub fn mailreg_line(args: &[&str]) -> String {
    let quote = |s: &str| format!("'{}'", s.replace('\'', "'\\''"));
    let mut line = quote(env!("CARGO_BIN_EXE_mailreg"));
    for a in args {
        line.push(' ');
        line.push_str(&quote(a));
    }
    line
}

/// Runs `args`, killing the process (SIGKILL) right after the emulator has processed the
/// `k`-th request (from 0), before the answer reaches it. Returns whether the kill happened.
pub fn run_killed_at(h: &Harness, args: &[&str], k: usize) -> bool {
    let pid = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let killed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let start = h.emu.requests().len();
    {
        let (pid, killed) = (pid.clone(), killed.clone());
        h.emu.with_state(move |s| {
            s.hook = Some(Box::new(move |index, _| {
                if index == start + k {
                    let p = pid.load(std::sync::atomic::Ordering::SeqCst);
                    if p != 0 {
                        // SAFETY: kill(2) on the child this test spawned.
                        unsafe { libc::kill(p as i32, libc::SIGKILL) };
                        killed.store(true, std::sync::atomic::Ordering::SeqCst);
                    }
                }
            }))
        });
    }
    let mut child = h
        .command(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    pid.store(child.id(), std::sync::atomic::Ordering::SeqCst);
    let _ = child.wait();
    h.emu.with_state(|s| s.hook = None);
    killed.load(std::sync::atomic::Ordering::SeqCst)
}

/// The Exchange cmdlets the emulator received, in order (`Get-CASMailbox`, `Set-CASMailbox`, …).
pub fn cmdlets(emu: &mailreg_emulator::Emulator) -> Vec<String> {
    emu.requests()
        .iter()
        .filter(|r| r.path.contains("/InvokeCommand"))
        .map(|r| {
            let body = r.body.clone().unwrap_or_default();
            body["CmdletInput"]["CmdletName"]
                .as_str()
                .unwrap_or("?")
                .to_owned()
        })
        .collect()
}
