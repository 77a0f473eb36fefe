//! Hostile input: small fake servers on 127.0.0.1 answer mailreg with oversized, endless,
//! malformed, huge-number and slow-loris responses; bad environment variables. None may make
//! mailreg panic, pass a memory ceiling, or outlive a deadline. The suite prints its counts.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;

/// Peak resident memory mailreg may reach on any hostile answer (real runs stay near 30 MiB).
const MEMORY_CEILING_KIB: i64 = 256 * 1024;
/// Wall time any one run may take (the bounds below make each end in a few seconds).
const DEADLINE: Duration = Duration::from_secs(60);

/// How a hostile run ended.
struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
    max_rss_kib: i64,
    took: Duration,
}

/// Runs mailreg, measuring its own peak memory (wait4), and kills it past [`DEADLINE`].
fn measured(mut cmd: Command) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let (out, err) = (dir.path().join("out"), dir.path().join("err"));
    cmd.stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .stdin(Stdio::null());
    let started = Instant::now();
    // Reaped below with wait4 (which also reports its peak memory), not Child::wait.
    #[allow(clippy::zombie_processes)]
    let child = cmd.spawn().unwrap();
    let pid = child.id() as libc::pid_t;
    let (status, usage) = loop {
        let mut status = 0;
        // SAFETY: wait4 on our own child, with a zeroed rusage we own.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if r == pid {
            break (status, usage);
        }
        if started.elapsed() > DEADLINE {
            // SAFETY: our own child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!(
                "mailreg outlived its deadline of {DEADLINE:?}: {}",
                std::fs::read_to_string(&err).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        128 + libc::WTERMSIG(status)
    };
    Outcome {
        code,
        stdout: std::fs::read_to_string(&out).unwrap(),
        stderr: std::fs::read_to_string(&err).unwrap(),
        max_rss_kib: usage.ru_maxrss,
        took: started.elapsed(),
    }
}

/// The suite's counts, printed at the end of each test (and summed by the reader).
#[derive(Default)]
struct Counts {
    by_kind: Mutex<std::collections::BTreeMap<&'static str, u32>>,
    max_rss_kib: AtomicU64,
    longest_ms: AtomicU64,
}

static COUNTS: std::sync::LazyLock<Counts> = std::sync::LazyLock::new(Counts::default);

/// Checks the three promises and counts the response.
fn survived(kind: &'static str, what: &str, o: &Outcome) {
    assert_ne!(o.code, 101, "{what}: mailreg panicked\n{}", o.stderr);
    assert!(
        !o.stderr.contains("panicked"),
        "{what}: mailreg panicked\n{}",
        o.stderr
    );
    assert!(
        o.max_rss_kib < MEMORY_CEILING_KIB,
        "{what}: {} MiB of memory",
        o.max_rss_kib / 1024
    );
    *COUNTS.by_kind.lock().unwrap().entry(kind).or_default() += 1;
    COUNTS
        .max_rss_kib
        .fetch_max(o.max_rss_kib as u64, Ordering::Relaxed);
    COUNTS
        .longest_ms
        .fetch_max(o.took.as_millis() as u64, Ordering::Relaxed);
    let by_kind = COUNTS.by_kind.lock().unwrap();
    let total: u32 = by_kind.values().sum();
    let parts: Vec<String> = by_kind.iter().map(|(k, n)| format!("{k} {n}")).collect();
    let _ = writeln!(
        std::io::stderr(),
        "hostile: {total} responses tried so far ({}); 0 panics; peak memory {} MiB (ceiling {}); longest run {} ms (deadline {} s)",
        parts.join(", "),
        COUNTS.max_rss_kib.load(Ordering::Relaxed) / 1024,
        MEMORY_CEILING_KIB / 1024,
        COUNTS.longest_ms.load(Ordering::Relaxed),
        DEADLINE.as_secs()
    );
}

/// The run failed with `code`, and its output (stdout or stderr) says `text`.
fn failed_with(o: &Outcome, code: i32, text: &str, what: &str) {
    assert_eq!(o.code, code, "{what}\n{}\n{}", o.stdout, o.stderr);
    assert!(
        o.stdout.contains(text) || o.stderr.contains(text),
        "{what}: expected {text:?}\n{}\n{}",
        o.stdout,
        o.stderr
    );
}

/// A fake server on 127.0.0.1: every connection is handed to `behave` on a thread of its own.
fn fake_server(behave: impl Fn(TcpStream) + Send + Sync + 'static) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let behave = Arc::new(behave);
    std::thread::spawn(move || {
        for sock in listener.incoming().flatten() {
            let behave = behave.clone();
            std::thread::spawn(move || behave(sock));
        }
    });
    port
}

/// Reads an HTTP request's head and its body (by Content-Length).
fn read_request(sock: &mut TcpStream) {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        match sock.read(&mut byte) {
            Ok(1) => buf.push(byte[0]),
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&buf).to_ascii_lowercase();
    let len = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    let _ = sock.read_exact(&mut body);
}

/// An HTTP server that answers every request with `respond`.
fn http_server(respond: impl Fn(&mut TcpStream) + Send + Sync + 'static) -> u16 {
    fake_server(move |mut sock| {
        let _ = sock.set_nodelay(true);
        read_request(&mut sock);
        respond(&mut sock);
        // One answer per connection: mailreg's client opens a new one.
        let _ = sock.shutdown(std::net::Shutdown::Both);
    })
}

/// A gzip body that expands to `mib` MiB of zeros (a few hundred KiB on the wire).
fn gzip_bomb(mib: usize) -> Vec<u8> {
    let mut gz = Command::new("gzip")
        .args(["-c", "-9"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("gzip on PATH");
    let mut stdin = gz.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let zeros = vec![b'0'; 1024 * 1024];
        for _ in 0..mib {
            stdin.write_all(&zeros).unwrap();
        }
    });
    let out = gz.wait_with_output().unwrap();
    writer.join().unwrap();
    out.stdout
}

/// mailreg `plan` with Graph at a hostile server (sign-in still at the emulator).
fn plan_against_graph(h: &Harness, port: u16, extra: &[(&str, &str)]) -> Outcome {
    let mut cmd = h.command(&["plan", "--env", "test"]);
    cmd.env("MAILREG_GRAPH_URL", format!("http://127.0.0.1:{port}"))
        .env("MAILREG_HTTP_TIMEOUT", "1");
    for (k, v) in extra {
        cmd.env(k, v);
    }
    measured(cmd)
}

/// mailreg `plan` with its Entra sign-in at a hostile server.
fn plan_against_login(h: &Harness, port: u16) -> Outcome {
    let mut cmd = h.command(&["plan", "--env", "test"]);
    cmd.env("MAILREG_LOGIN_URL", format!("http://127.0.0.1:{port}"))
        .env("MAILREG_HTTP_TIMEOUT", "1");
    measured(cmd)
}

fn write_all(sock: &mut TcpStream, bytes: &[u8]) {
    let _ = sock.write_all(bytes);
}

#[test]
fn oversized_and_decompression_bombs_are_cut_off() {
    let h = Harness::new(SPEC);
    // 200 MiB after gzip, a few hundred KiB on the wire.
    let bomb = Arc::new(gzip_bomb(200));
    let cases: Vec<(&str, u16)> = vec![
        (
            "gzip bomb (200 MiB decompressed)",
            http_server({
                let bomb = bomb.clone();
                move |s| {
                    write_all(
                        s,
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
                            bomb.len()
                        )
                        .as_bytes(),
                    );
                    write_all(s, &bomb);
                }
            }),
        ),
        (
            "endless body, no length",
            http_server(|s| {
                write_all(
                    s,
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n",
                );
                let chunk = vec![b' '; 1024 * 1024];
                while s.write_all(&chunk).is_ok() {}
            }),
        ),
        (
            "declared 10 GiB",
            http_server(|s| {
                write_all(
                    s,
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 10737418240\r\n\r\n{",
                );
            }),
        ),
    ];
    for (what, port) in cases {
        let o = plan_against_graph(&h, port, &[]);
        survived("oversized", what, &o);
        failed_with(&o, 1, "the answer is larger than 32 MiB", what);
    }
    // The token endpoint too (the Azure credential's transport is the same client).
    let port = http_server({
        let bomb = bomb.clone();
        move |s| {
            write_all(
                s,
                format!(
                    "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
                    bomb.len()
                )
                .as_bytes(),
            );
            write_all(s, &bomb);
        }
    });
    let o = plan_against_login(&h, port);
    survived("oversized", "token endpoint gzip bomb", &o);
    failed_with(&o, 1, "larger than 32 MiB", "token endpoint gzip bomb");
}

#[test]
fn slow_and_endless_answers_end_at_the_timeout() {
    let h = Harness::new(SPEC);
    let cases: Vec<(&str, &'static str, u16)> = vec![
        (
            "headers one byte at a time, forever",
            "slow-loris",
            http_server(|s| {
                for b in b"HTTP/1.1 200 OK\r\nX-Slow: "
                    .iter()
                    .chain(std::iter::repeat(&b'a'))
                {
                    if s.write_all(&[*b]).is_err() {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            }),
        ),
        (
            "body trickling forever",
            "slow-loris",
            http_server(|s| {
                write_all(
                    s,
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
                );
                while s.write_all(b"1\r\n \r\n").is_ok() {
                    std::thread::sleep(Duration::from_millis(50));
                }
            }),
        ),
        (
            "accepts, never answers",
            "endless",
            http_server(|_s| std::thread::sleep(Duration::from_secs(120))),
        ),
    ];
    for (what, kind, port) in cases {
        let o = plan_against_graph(&h, port, &[]);
        survived(kind, what, &o);
        failed_with(&o, 1, "timed out", what);
    }
}

#[test]
fn malformed_answers_are_errors_not_panics() {
    let h = Harness::new(SPEC);
    let answers: Vec<(&str, &'static [u8])> = vec![
        ("garbage status line", b"HELLO THERE\r\n\r\n"),
        (
            "invalid JSON",
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\n{\"val",
        ),
        (
            "JSON of the wrong shape",
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 18\r\n\r\n{\"value\": \"nope\"}\n",
        ),
        (
            "wrong gzip",
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\n\r\nnope",
        ),
        (
            "error body with escape codes",
            b"HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: 61\r\n\r\n{\"error\":{\"code\":\"x\",\"message\":\"\\u001b[2J\\u001b]0;pwned\\u0007\"}}",
        ),
        ("closed at once", b""),
    ];
    for (what, bytes) in answers {
        let port = http_server(move |s| write_all(s, bytes));
        let o = plan_against_graph(&h, port, &[]);
        survived("malformed", what, &o);
        assert_eq!(o.code, 1, "{what}: {}", o.stderr);
    }
}

#[test]
fn huge_numbers_from_a_server_are_bounded() {
    let h = Harness::new(SPEC);
    for (what, retry_after) in [
        ("Retry-After 1e300", "1e300"),
        ("Retry-After u64::MAX", "18446744073709551615"),
        (
            "Retry-After far in the future",
            "Fri, 31 Dec 9999 23:59:59 GMT",
        ),
    ] {
        let port = http_server(move |s| {
            write_all(
                s,
                format!("HTTP/1.1 429 Too Many Requests\r\nRetry-After: {retry_after}\r\nContent-Length: 0\r\n\r\n")
                    .as_bytes(),
            )
        });
        let o = plan_against_graph(&h, port, &[]);
        survived("huge numbers", what, &o);
        failed_with(&o, 1, "longer than mailreg's retry budget of 180s", what);
    }
    // A listing that never ends: the same next page again, or a new one each time.
    for (what, same) in [("nextLink to itself", true), ("endless new pages", false)] {
        let served = Arc::new(AtomicU64::new(0));
        let port = http_server({
            let served = served.clone();
            move |s| {
                let n = served.fetch_add(1, Ordering::Relaxed);
                let page = if same { 0 } else { n };
                let body = format!(
                    "{{\"value\":[],\"@odata.nextLink\":\"https://graph.microsoft.com/v1.0/applications?$skiptoken={page}\"}}"
                );
                write_all(
                    s,
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    )
                    .as_bytes(),
                );
            }
        });
        let o = plan_against_graph(&h, port, &[]);
        survived("huge numbers", what, &o);
        let expected = if same {
            "the server sent the same next page again"
        } else {
            "stopped after 200 pages"
        };
        failed_with(&o, 1, expected, what);
    }
}

/// A bad setting is bad input (3), named with its accepted range, before anything is sent.
#[test]
fn bad_environment_variables_are_refused_before_anything_is_sent() {
    let h = Harness::new(SPEC);
    for (var, value, expected) in [
        (
            "MAILREG_HTTP_TIMEOUT",
            "1e20",
            "MAILREG_HTTP_TIMEOUT=\"1e20\": expected a number from 0.05 to 600",
        ),
        (
            "MAILREG_HTTP_TIMEOUT",
            "abc",
            "MAILREG_HTTP_TIMEOUT=\"abc\": expected a number from 0.05 to 600",
        ),
        (
            "MAILREG_HTTP_TIMEOUT",
            "0",
            "MAILREG_HTTP_TIMEOUT=\"0\": expected a number from 0.05 to 600",
        ),
        (
            "MAILREG_TIME_SCALE",
            "abc",
            "MAILREG_TIME_SCALE=\"abc\": expected a number from 0 to 100",
        ),
        (
            "MAILREG_TIME_SCALE",
            "NaN",
            "MAILREG_TIME_SCALE=\"NaN\": expected a number from 0 to 100",
        ),
        (
            "MAILREG_LOCK_TIMEOUT",
            "soon",
            "MAILREG_LOCK_TIMEOUT=\"soon\": expected a number from 0 to 3600",
        ),
    ] {
        let mut cmd = h.command(&["plan", "--env", "test"]);
        cmd.env(var, value);
        let o = measured(cmd);
        survived("malformed", var, &o);
        failed_with(&o, 3, expected, var);
        assert!(h.emu.requests().is_empty(), "{var}={value}: nothing sent");
    }
    // verify's own deadline is checked the same way.
    let mut cmd = h.command(&["verify", "--env", "test", "--user", "a@example.com"]);
    cmd.env("MAILREG_VERIFY_TIMEOUT", "-1");
    let o = measured(cmd);
    failed_with(
        &o,
        3,
        "MAILREG_VERIFY_TIMEOUT=\"-1\": expected a number from 0.1 to 3600",
        "verify",
    );
}

/// Nothing listening: not an authentication failure (exit 1), at once on loopback, with the
/// address, the variable that set it, and a hint; no request named twice in a retry line.
#[test]
fn a_refused_connection_fails_at_once_and_names_its_setting() {
    let h = Harness::new(SPEC);
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut cmd = h.command(&["plan", "--env", "test", "-vv"]);
    cmd.env("MAILREG_LOGIN_URL", format!("http://127.0.0.1:{closed}"));
    let o = measured(cmd);
    failed_with(
        &o,
        1,
        &format!(
            "error: cannot connect to http://127.0.0.1:{closed} (set by MAILREG_LOGIN_URL): connection refused\n  hint: nothing is listening there: is `mailreg emulator` running, and on that port?"
        ),
        "refused",
    );
    assert_eq!(
        o.stderr.matches("-> connection refused").count(),
        1,
        "one attempt: {}",
        o.stderr
    );
    assert!(!o.stderr.contains("retrying"), "{}", o.stderr);
    // JSON carries the same.
    let mut cmd = h.command(&["plan", "--env", "test", "-o", "json"]);
    cmd.env("MAILREG_GRAPH_URL", format!("http://127.0.0.1:{closed}"));
    let o = measured(cmd);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v["error"]["kind"], "io_error");
    assert_eq!(v["error"]["exit_code"], 1);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("(set by MAILREG_GRAPH_URL)"),
        "{v}"
    );
}

/// A retry line names its request once.
#[test]
fn retry_lines_name_the_request_once() {
    let h = Harness::new(SPEC);
    let port = http_server(|s| {
        write_all(
            s,
            b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 0\r\nContent-Length: 0\r\n\r\n",
        )
    });
    let mut cmd = h.command(&["plan", "--env", "test", "-v"]);
    cmd.env("MAILREG_GRAPH_URL", format!("http://127.0.0.1:{port}"));
    let verbose = measured(cmd);
    survived("malformed", "503 forever", &verbose);
    assert_eq!(verbose.code, 1, "{}", verbose.stderr);
    let retry = verbose
        .stderr
        .lines()
        .find(|l| l.contains("retrying in"))
        .unwrap_or_else(|| panic!("no retry line: {}", verbose.stderr));
    assert_eq!(retry.matches("GET 127.0.0.1").count(), 1, "{retry}");
}

/// Entra's error answers are read by mailreg, not azure_identity's parser: code, first
/// sentence and a hint, in text and in JSON.
#[test]
fn aadsts_errors_carry_code_sentence_and_hint() {
    let h = Harness::new(&SPEC.replace("contoso.onmicrosoft.com", "fabrikam.onmicrosoft.com"));
    let o = measured(h.command(&["plan", "--env", "test", "-o", "json"]));
    assert_eq!(o.code, 4, "{}", o.stderr);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v["error"]["code"], "AADSTS90002");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .ends_with("failed: AADSTS90002: Tenant 'fabrikam.onmicrosoft.com' not found."),
        "{v}"
    );
    assert!(
        v["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("`microsoft.tenant`"),
        "{v}"
    );
    let h = Harness::new(SPEC);
    let mut cmd = h.command(&["plan", "--env", "test"]);
    cmd.env("AZURE_CLIENT_SECRET", "wrong");
    let o = measured(cmd);
    failed_with(
        &o,
        4,
        "AADSTS7000215: Invalid client secret provided.\n  hint: AZURE_CLIENT_SECRET must be the secret's Value",
        "wrong secret",
    );
    assert!(
        !o.stderr.contains("expected a borrowed string"),
        "{}",
        o.stderr
    );
}

/// Google's sign-in goes through google-cloud-auth, outside mailreg's client: a plain-http
/// token_uri on another host is refused before the refresh token is sent anywhere.
#[test]
fn an_adc_file_with_a_plain_http_token_uri_is_refused() {
    let h = Harness::new(GOOGLE_SPEC);
    let adc = h.dir.path().join("adc.json");
    std::fs::write(
        &adc,
        r#"{"type":"authorized_user","client_id":"c","client_secret":"canary-secret","refresh_token":"canary-rt","token_uri":"http://oauth.example.com/token"}"#,
    )
    .unwrap();
    let mut cmd = h.command(&["plan", "--env", "test"]);
    cmd.env("GOOGLE_APPLICATION_CREDENTIALS", &adc);
    let o = measured(cmd);
    failed_with(
        &o,
        3,
        "token_uri: http://oauth.example.com/token uses plain http",
        "ADC token_uri",
    );
    assert!(!o.stderr.contains("canary"), "{}", o.stderr);
    assert!(h.emu.requests().is_empty());
}

/// Managed identity: the metadata address is the one plain-http endpoint allowed (it used to
/// be refused as "not https"); Cloud Shell's MSI_ENDPOINT is named as unsupported.
#[test]
fn managed_identity_reaches_imds_and_msi_endpoint_is_named() {
    let h = Harness::new(SPEC);
    let mut cmd = h.command(&["plan", "--env", "test"]);
    cmd.env("AZURE_CLIENT_SECRET", "")
        .env("MSI_ENDPOINT", "http://127.0.0.1:1/msi/token");
    let o = measured(cmd);
    failed_with(
        &o,
        4,
        "MSI_ENDPOINT is set (Azure Cloud Shell's managed identity), which the Azure identity library mailreg uses does not support",
        "MSI_ENDPOINT",
    );
    let mut cmd = h.command(&["plan", "--env", "test", "-vv"]);
    cmd.env("AZURE_CLIENT_SECRET", "")
        .env("MAILREG_AZURE_AUTH", "managed-identity")
        .env("MAILREG_HTTP_TIMEOUT", "0.2");
    let o = measured(cmd);
    assert!(
        !o.stderr.contains("uses plain http"),
        "IMDS is not refused: {}",
        o.stderr
    );
    assert!(
        o.stderr.contains("169.254.169.254"),
        "IMDS was tried: {}",
        o.stderr
    );
}

/// A Microsoft record whose stored refresh token is redeemed at a fake token endpoint, so
/// `verify` goes straight to the mail servers under test.
fn verify_case(h: &Harness) {
    let tokens = http_server(|s| {
        let body = r#"{"access_token":"at","token_type":"Bearer","expires_in":3600,"refresh_token":"rt2"}"#;
        write_all(
            s,
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        );
    });
    let idp = format!("http://127.0.0.1:{tokens}");
    std::fs::create_dir_all(h.state_dir()).unwrap();
    std::fs::write(
        h.store_file("test"),
        serde_json::json!({"version": 1, "name": "agileapps-mail", "env": "test", "microsoft": {
            "tenant": "contoso.onmicrosoft.com", "object_id": "o", "client_id": "c",
            "audience": "AzureADandPersonalMicrosoftAccount",
            "authorize_url": format!("{idp}/common/oauth2/v2.0/authorize"),
            "token_url": format!("{idp}/common/oauth2/v2.0/token"),
            "scopes": ["offline_access"],
            "redirect_uris": ["http://127.0.0.1/callback"],
            "refresh_tokens": {"u@example.com": "rt"},
            "secret": {"key_id": "k", "value": "s", "expires": "2099-01-01T00:00:00Z",
                       "created": "2024-01-01T00:00:00Z"}}})
        .to_string(),
    )
    .unwrap();
}

fn verify_against(h: &Harness, proto: &str, port: u16, security: &str) -> Outcome {
    let server = format!("127.0.0.1:{port}");
    let mut cmd = h.command(&[
        "verify",
        "--env",
        "test",
        "--user",
        "u@example.com",
        &format!("--{proto}"),
        &format!("--{proto}-server"),
        &server,
        security,
    ]);
    cmd.env("MAILREG_VERIFY_TIMEOUT", "3");
    measured(cmd)
}

/// Greets, then answers the first command with lines that never end.
fn endless_reply(greeting: &'static str, line: &'static str) -> u16 {
    fake_server(move |mut s| {
        write_all(&mut s, greeting.as_bytes());
        let mut buf = [0u8; 512];
        let _ = s.read(&mut buf);
        let many = line.repeat(1000);
        while s.write_all(many.as_bytes()).is_ok() {}
    })
}

#[test]
fn mail_servers_that_never_stop_talking_are_cut_off() {
    let h = Harness::new(SPEC);
    verify_case(&h);
    let cases: Vec<(&str, &'static str, &str, u16, &str)> = vec![
        (
            "smtp: endless 250- lines",
            "endless",
            "smtp",
            endless_reply("220 hostile ESMTP\r\n", "250-AUTH XOAUTH2\r\n"),
            "more than 1000 lines or 1024 KiB in one reply",
        ),
        (
            "imap: endless untagged lines",
            "endless",
            "imap",
            endless_reply("* OK hostile\r\n", "* CAPABILITY IMAP4rev1\r\n"),
            "more than 1000 lines or 1024 KiB in one reply",
        ),
        (
            "pop: endless capability list",
            "endless",
            "pop",
            endless_reply("+OK hostile\r\n", "+OK capabilities\r\nSASL XOAUTH2\r\n"),
            "more than 1000 lines or 1024 KiB in one reply",
        ),
        (
            "smtp: one line without end",
            "oversized",
            "smtp",
            fake_server(|mut s| {
                write_all(&mut s, b"220 ");
                let a = vec![b'a'; 64 * 1024];
                while s.write_all(&a).is_ok() {}
            }),
            "line too long",
        ),
        (
            "smtp: a greeting line every 100 ms",
            "slow-loris",
            "smtp",
            fake_server(|mut s| {
                while s.write_all(b"220-still here\r\n").is_ok() {
                    std::thread::sleep(Duration::from_millis(100));
                }
            }),
            "smtp: the check did not finish within 3s (MAILREG_VERIFY_TIMEOUT)",
        ),
    ];
    for (what, kind, proto, port, expected) in cases {
        let o = verify_against(&h, proto, port, "--plain");
        survived(kind, what, &o);
        failed_with(&o, 6, expected, what);
    }
}

/// TLS and STARTTLS mixed up: said in plain words, quickly.
#[test]
fn tls_and_starttls_mixups_are_named() {
    let h = Harness::new(SPEC);
    verify_case(&h);
    // An implicit-TLS port says nothing until the ClientHello; a STARTTLS port greets in plain
    // text.
    let silent = fake_server(|_s| std::thread::sleep(Duration::from_secs(30)));
    let plain = fake_server(|mut s| {
        write_all(&mut s, b"* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n");
        std::thread::sleep(Duration::from_secs(5));
    });
    for (what, kind, port, flag, expected) in [
        (
            "--starttls on an implicit-TLS port",
            "endless",
            silent,
            "--starttls",
            format!(
                "imap: port {silent} of 127.0.0.1 sent no greeting within 1.5s; if it speaks implicit TLS, use --tls"
            ),
        ),
        (
            "--tls on a STARTTLS port",
            "malformed",
            plain,
            "--tls",
            format!(
                "imap: port {plain} of 127.0.0.1 speaks plain text first, not implicit TLS: use --starttls"
            ),
        ),
    ] {
        let o = verify_against(&h, "imap", port, flag);
        survived(kind, what, &o);
        failed_with(&o, 6, &expected, what);
    }
}

/// An OAuth server that cannot be reached is a failed verification (6), at once on loopback.
#[test]
fn an_unreachable_token_endpoint_fails_verify_at_once() {
    let h = Harness::new(SPEC);
    verify_case(&h);
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let text = std::fs::read_to_string(h.store_file("test")).unwrap();
    let text = regex_lite::Regex::new(r"127\.0\.0\.1:\d+")
        .unwrap()
        .replace_all(&text, format!("127.0.0.1:{closed}").as_str())
        .into_owned();
    std::fs::write(h.store_file("test"), text).unwrap();
    let o = verify_against(&h, "imap", closed, "--plain");
    survived("endless", "token endpoint refused", &o);
    failed_with(
        &o,
        6,
        &format!(
            "error: the sign-in cannot reach its server: cannot connect to http://127.0.0.1:{closed}: connection refused"
        ),
        "token endpoint refused",
    );
}

/// Access tokens are not kept for the whole run: a call after the first token expired signs in
/// again (the credential library renews a token before it runs out) instead of failing with 401.
#[test]
fn a_run_longer_than_a_token_s_life_renews_it() {
    let mut config = EmulatorConfig::default();
    config.graph.token_lifetime_secs = 1;
    let h = Harness::with_config(SPEC, config);
    // The first answer takes longer than the token lives; the calls after it need a new one.
    h.emu.inject(
        Fault::new(FaultKind::Delay(Duration::from_millis(1500))).on("GET", "/v1.0/applications"),
    );
    let o = measured(h.command(&["apply", "--env", "test", "--yes"]));
    survived("slow-loris", "token expires mid-run", &o);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let tokens = h.emu.requests().iter().filter(|r| r.is_token()).count();
    assert!(tokens >= 2, "signed in again: {tokens} token requests");
}
