//! mailreg's benchmark (issue #7): `cargo bench --bench mailreg`.
//!
//! Not a test: it drives the real release binary against the in-process emulator and prints
//! Markdown tables (requests per operation, wall time against the critical path, operation
//! polling, start-up and footprint) with each target and whether it was met. BENCHMARKS.md
//! records a run. Everything talks to 127.0.0.1 only, and the whole run takes well under two
//! minutes.

mod app_access;
mod bound;
mod up;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use bound::{Cloud, Req};
use mailreg_emulator::wire::EmuRequest;
use mailreg_emulator::{Emulator, EmulatorConfig, LoggedRequest};

const MAILREG: &str = env!("CARGO_BIN_EXE_mailreg");

const SPEC: &str = r#"name = "bench"

[microsoft]
tenant = "contoso.onmicrosoft.com"
display_name = "Bench mailbox ({env})"
redirect_uris = ["https://mail.example.com/oauth/callback"]

[google]
project_id = "bench-{env}"
support_email = "ops@example.com"
test_users = ["mailbox@example.com"]
redirect_uris = ["https://mail.example.com/oauth/callback"]
"#;

/// One emulator, one spec directory, the real binary.
struct Bench {
    emu: Emulator,
    dir: tempfile::TempDir,
    spec: PathBuf,
    /// Emulator time of its start, for relative request times.
    origin: time::OffsetDateTime,
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    wall: Duration,
}

impl Bench {
    fn new(spec: &str, config: EmulatorConfig) -> Bench {
        let emu = Emulator::start_background(config).expect("emulator starts");
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("mailreg.toml");
        std::fs::write(&path, spec).expect("spec written");
        Bench {
            emu,
            dir,
            spec: path,
            origin: time::OffsetDateTime::now_utc(),
        }
    }

    fn command(&self, program: &str, args: &[&str], scale: f64) -> Command {
        let mut cmd = Command::new(program);
        cmd.args(args)
            .current_dir(self.dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .envs(self.emu.env())
            .env("MAILREG_FILE", &self.spec)
            .env("MAILREG_STATE_DIR", self.dir.path().join(".mailreg"))
            .env("MAILREG_TIME_SCALE", scale.to_string())
            .env("NO_COLOR", "1")
            .stdin(std::process::Stdio::null());
        cmd
    }

    fn run(&self, args: &[&str], scale: f64) -> Run {
        Self::output(self.command(MAILREG, args, scale))
    }

    fn output(mut cmd: Command) -> Run {
        let started = Instant::now();
        let out = cmd.output().expect("mailreg runs");
        Run {
            wall: started.elapsed(),
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs and insists on the exit code: a benchmark of a failing run measures nothing.
    fn expect(&self, code: i32, args: &[&str], scale: f64) -> Run {
        let r = self.run(args, scale);
        assert_eq!(
            r.code, code,
            "mailreg {args:?}\n--- stdout\n{}\n--- stderr\n{}",
            r.stdout, r.stderr
        );
        r
    }

    /// The request log since the last [`Bench::clear`], token requests included.
    fn log(&self) -> Vec<Req> {
        self.emu.requests().iter().map(|r| self.req(r)).collect()
    }

    fn req(&self, r: &LoggedRequest) -> Req {
        Req::new(&r.method, &r.path, (r.at - self.origin).as_seconds_f64())
    }

    fn clear(&self) {
        self.emu.clear_log();
    }

    /// Plays the person in the Google console: makes the Web client, then imports it.
    fn console_step(&self, env: &str) {
        let project = format!("bench-{env}");
        let uris = ["https://mail.example.com/oauth/callback".to_owned()];
        let client = self
            .emu
            .with_state(|s| s.google.create_oauth_client(&project, &uris))
            .expect("console step");
        let file = self.dir.path().join(format!("client_{env}.json"));
        std::fs::write(&file, mailreg_emulator::google::client_file_text(&client))
            .expect("client file");
        self.expect(
            0,
            &[
                "google",
                "import-client",
                "--env",
                env,
                file.to_str().expect("utf-8 path"),
            ],
            0.001,
        );
    }

    /// A change made outside mailreg (the portal, the console), through the emulator's own API.
    fn drift(&self, env: &str) {
        let app = self
            .emu
            .with_state(|s| s.graph.applications())
            .into_iter()
            .find(|a| {
                a["tags"]
                    .as_array()
                    .is_some_and(|t| t.iter().any(|t| t == &format!("mailreg:id=bench.{env}")))
            })
            .expect("the app");
        let id = app["id"].as_str().expect("app id");
        let r = self.direct(
            Cloud::Microsoft,
            "PATCH",
            &format!("/v1.0/applications/{id}"),
            &[],
            serde_json::json!({"web": {"redirectUris": ["https://evil.example.com/cb"]}}),
        );
        assert_eq!(r, 204, "graph drift");
        let r = self.direct(
            Cloud::Google,
            "PATCH",
            &format!("/v3/projects/bench-{env}"),
            &[("updateMask", "displayName")],
            serde_json::json!({"displayName": "renamed in console"}),
        );
        assert_eq!(r, 200, "google drift");
    }

    /// Calls a fake directly (no socket, no log), signed in as the emulator's operator.
    fn direct(
        &self,
        cloud: Cloud,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        body: serde_json::Value,
    ) -> u16 {
        let env: std::collections::HashMap<_, _> = self.emu.env().into_iter().collect();
        let now = time::OffsetDateTime::now_utc();
        self.emu.with_state(|s| {
            let form_headers = vec![(
                "content-type".to_owned(),
                "application/x-www-form-urlencoded".to_owned(),
            )];
            let token_req = match cloud {
                Cloud::Microsoft => EmuRequest {
                    method: "POST".into(),
                    path: "/contoso.onmicrosoft.com/oauth2/v2.0/token".into(),
                    headers: form_headers,
                    body: format!(
                        "grant_type=client_credentials&client_id={}&client_secret={}&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default",
                        env["AZURE_CLIENT_ID"], env["AZURE_CLIENT_SECRET"]
                    )
                    .into_bytes(),
                    ..Default::default()
                },
                Cloud::Google => {
                    let p = s.google.config_mut().principals[0].clone();
                    EmuRequest {
                        method: "POST".into(),
                        path: "/token".into(),
                        headers: form_headers,
                        body: format!(
                            "grant_type=refresh_token&client_id={}&client_secret={}&refresh_token={}",
                            p.client_id, p.client_secret, p.refresh_token
                        )
                        .into_bytes(),
                        ..Default::default()
                    }
                }
            };
            let handle = |s: &mut mailreg_emulator::server::EmuState, req: &EmuRequest| match cloud {
                Cloud::Microsoft => s.graph.handle(req, now),
                Cloud::Google => s.google.handle(req, now),
            };
            let token = handle(s, &token_req).expect("token route").body_json().expect("token")
                ["access_token"]
                .as_str()
                .expect("access token")
                .to_owned();
            let req = EmuRequest {
                method: method.into(),
                path: path.into(),
                query: query
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                headers: vec![
                    ("authorization".into(), format!("Bearer {token}")),
                    ("content-type".into(), "application/json".into()),
                ],
                body: serde_json::to_vec(&body).expect("json"),
            };
            handle(s, &req).expect("route").status
        })
    }
}

fn emulator_config(latency: Option<Duration>, op_duration: Option<Duration>) -> EmulatorConfig {
    let mut config = EmulatorConfig {
        latency,
        ..Default::default()
    };
    if let Some(d) = op_duration {
        config.google.operation_duration = Some(time::Duration::try_from(d).expect("duration"));
    }
    config
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "**MISSED**" }
}

/// API requests (no token requests) of one cloud: (total, reads, writes, polls).
fn counts(log: &[Req], cloud: Cloud) -> (usize, usize, usize, usize) {
    let reqs: Vec<Req> = bound::of_cloud(log, cloud)
        .into_iter()
        .filter(|r| !r.is_token())
        .collect();
    let polls = reqs.iter().filter(|r| r.is_poll()).count();
    let writes = reqs.iter().filter(|r| r.is_write()).count();
    (reqs.len(), reqs.len() - writes - polls, writes, polls)
}

// ---------------------------------------------------------------------------------------------
// 1. Requests per operation
// ---------------------------------------------------------------------------------------------

fn requests_per_operation() {
    println!("## 1. Requests per operation (token requests excluded)\n");
    println!(
        "Emulator defaults (Google operations answer `done` on the second poll), no latency. \
         Drift: the redirect URIs changed in the portal, the project renamed in the console. \
         Google's fresh apply stops at the console step (exit 5), as it does for real.\n"
    );
    println!(
        "| operation | cloud | requests | reads (not polls) | writes | operation polls | target | |"
    );
    println!("|---|---|---:|---:|---:|---:|---|---|");
    let b = Bench::new(SPEC, EmulatorConfig::default());
    let env = "counts";
    let details = std::cell::RefCell::new(Vec::new());
    let row = |name: &str, run: &dyn Fn()| {
        b.clear();
        run();
        let log = b.log();
        for cloud in [Cloud::Microsoft, Cloud::Google] {
            let (total, reads, writes, polls) = counts(&log, cloud);
            let lines: Vec<String> = bound::of_cloud(&log, cloud)
                .iter()
                .filter(|r| !r.is_token())
                .map(|r| format!("`{} {}`", r.method, r.path))
                .collect();
            details.borrow_mut().push(format!(
                "- {name}, {cloud:?}: {}",
                if lines.is_empty() {
                    "none".to_owned()
                } else {
                    lines.join(", ")
                }
            ));
            // Issue #10 counts round trips (section 2): reads sent together are one. Issue #11
            // added the tenant's secret-lifetime policy to a fresh apply's first round trip.
            let target: Option<(&str, bool)> = match (name, cloud) {
                ("fresh apply", Cloud::Microsoft) => Some((
                    "≤ 3 + the lifetime policy, read with the app",
                    total <= 4 && writes <= 2,
                )),
                ("no-op re-apply", Cloud::Microsoft) => {
                    Some(("≤ 1 read, 0 writes", reads <= 1 && writes == 0))
                }
                ("no-op re-apply", Cloud::Google) => Some((
                    "≤ 2 reads sent together, 0 writes",
                    reads <= 2 && writes == 0,
                )),
                ("drift repair", Cloud::Microsoft) => {
                    Some(("1 read + 1 write (README)", reads <= 1 && writes <= 1))
                }
                ("destroy --purge", Cloud::Microsoft) => {
                    Some(("≤ 4, two reads sent together", total <= 4))
                }
                _ => None,
            };
            let (t, v) = match target {
                Some((t, ok)) => (t.to_owned(), verdict(ok)),
                None => ("—".to_owned(), ""),
            };
            println!("| {name} | {cloud:?} | {total} | {reads} | {writes} | {polls} | {t} | {v} |");
        }
    };
    row("fresh apply", &|| {
        b.expect(5, &["apply", "--env", env, "--yes"], 0.001);
    });
    b.console_step(env);
    b.expect(0, &["apply", "--env", env, "--yes"], 0.001);
    row("no-op re-apply", &|| {
        b.expect(0, &["apply", "--env", env, "--yes"], 0.001);
    });
    b.drift(env);
    row("drift repair", &|| {
        b.expect(0, &["apply", "--env", env, "--yes"], 0.001);
    });
    // Rotate: Microsoft rotates; Google has no API for client secrets (console steps, exit 5).
    row("rotate", &|| {
        b.expect(5, &["rotate", "--env", env, "--yes"], 0.001);
    });
    row("destroy --purge", &|| {
        b.expect(0, &["destroy", "--env", env, "--yes", "--purge"], 0.001);
    });
    println!("\nThe requests:\n\n{}", details.borrow().join("\n"));
    println!(
        "\nFor comparison (issue #7): the Azure CLI needs 11 requests for the same registration and 3 to \
         delete, and a no-op `az ad app create` still PATCHes.\n"
    );
}

// ---------------------------------------------------------------------------------------------
// 2. Wall time against the critical path
// ---------------------------------------------------------------------------------------------

fn critical_path() {
    let latency = Duration::from_millis(100);
    println!("## 2. Wall time against the critical path\n");
    println!(
        "Every answer of the emulator delayed by {} ms; Google operations done a set time after they \
         start; real time (`MAILREG_TIME_SCALE=1`). The bound is the longer of the two clouds' chains \
         of dependent requests (token requests included, polls that saw `done: false` left out, the \
         poll that sees `done` no earlier than the operation's end); measured is the process's wall \
         time, start-up included.\n",
        latency.as_millis()
    );
    println!(
        "| operation | operations take | requests | round trips (Microsoft / Google) | target | Microsoft chain | Google chain | bound | measured | measured / bound | target | |"
    );
    println!("|---|---:|---:|---|---|---:|---:|---:|---:|---:|---|---|");
    for op in [1.0, 5.0] {
        let b = Bench::new(
            SPEC,
            emulator_config(Some(latency), Some(Duration::from_secs_f64(op))),
        );
        let env = "path";
        let l = latency.as_secs_f64();
        let measure = |name: &str, code: i32, args: &[&str]| {
            b.clear();
            let start = (time::OffsetDateTime::now_utc() - b.origin).as_seconds_f64();
            let r = b.expect(code, args, 1.0);
            let log = b.log();
            if std::env::var_os("MAILREG_BENCH_TRACE").is_some() {
                for q in &log {
                    eprintln!("{name} +{:.3}s {} {}", q.at - start, q.method, q.path);
                }
            }
            let chain = |c| bound::chain_bound(&bound::steps(&bound::of_cloud(&log, c), l), l, op);
            let (ms, g) = (chain(Cloud::Microsoft), chain(Cloud::Google));
            let bound = bound::run_bound_recorded(&log, l, op);
            let trips = |c| bound::round_trips(&bound::of_cloud(&log, c), l);
            let (ms_trips, g_trips) = (trips(Cloud::Microsoft), trips(Cloud::Google));
            // Issue #10's round-trip figures (token requests excluded).
            let trip_target: Option<(String, bool)> = match name {
                "fresh apply" => Some(("Microsoft 3".into(), ms_trips <= 3)),
                "no-op re-apply" => Some((
                    "Microsoft 1, Google 1".into(),
                    ms_trips <= 1 && g_trips <= 1,
                )),
                "destroy --purge" => Some(("Microsoft 3".into(), ms_trips <= 3)),
                _ => None,
            };
            let (tt, tv) = match &trip_target {
                Some((t, ok)) => (t.as_str(), verdict(*ok)),
                None => ("—", ""),
            };
            let wall = r.wall.as_secs_f64();
            let ratio = wall / bound;
            let limit = if name == "fresh apply" { 1.15 } else { 1.10 };
            println!(
                "| {name} | {op:.0} s | {} | {ms_trips} / {g_trips} | {tt} {tv} | {ms:.2} s | {g:.2} s | {bound:.2} s | {wall:.2} s | {ratio:.2} | ≤ {limit:.2} | {} |",
                log.len(),
                verdict(ratio <= limit)
            );
        };
        measure("fresh apply", 5, &["apply", "--env", env, "--yes"]);
        b.console_step(env);
        b.expect(0, &["apply", "--env", env, "--yes"], 0.001);
        measure("no-op re-apply", 0, &["apply", "--env", env, "--yes"]);
        measure(
            "destroy --purge",
            0,
            &["destroy", "--env", env, "--yes", "--purge"],
        );
    }
    println!();
}

// ---------------------------------------------------------------------------------------------
// 3. Operation polling
// ---------------------------------------------------------------------------------------------

fn polling() {
    let scale = 0.05;
    let first = mailreg::POLL_FIRST.as_secs_f64();
    println!("## 3. Operation polling\n");
    println!(
        "A fresh Google apply; both of its operations (project create, Gmail API enable) finish a set \
         time after they start. Run at `MAILREG_TIME_SCALE={scale}` with the emulator's operations \
         scaled alike; figures are nominal seconds. Overshoot: from the operation's end to the poll \
         that saw `done`. Targets: polls ≤ log2(duration / {first:.0} s) + 3, overshoot ≤ 25 %.\n"
    );
    println!("| operation takes | operation | polls | poll target | overshoot | overshoot % | |");
    println!("|---:|---|---:|---:|---:|---:|---|");
    let spec = SPEC
        .split("[google]")
        .nth(1)
        .map(|g| format!("name = \"bench\"\n\n[google]{g}"))
        .expect("google section");
    for d in [1.0, 5.0, 30.0] {
        let b = Bench::new(
            &spec,
            emulator_config(None, Some(Duration::from_secs_f64(d * scale))),
        );
        b.expect(5, &["apply", "--env", "poll", "--yes"], scale);
        for op in bound::operations(&b.log()) {
            let observed = op.observed_after / scale;
            let over = (observed - d).max(0.0);
            let target = bound::poll_target(d, first);
            let ok = op.polls as f64 <= target && over <= 0.25 * d;
            println!(
                "| {d:.0} s | `{}` | {} | {target:.1} | {over:.2} s | {:.0} % | {} |",
                short_path(&op.started_by),
                op.polls,
                100.0 * over / d,
                verdict(ok)
            );
        }
    }
    // The schedule itself, over every duration (not just the three above), on a 10 ms grid.
    let times: Vec<f64> = mailreg::poll_times().map(|t| t.as_secs_f64()).collect();
    let (mut worst_over, mut worst_at, mut poll_ok_upto) = (0.0_f64, 0.0, None);
    for centi in 100..=6000 {
        let d = centi as f64 / 100.0;
        let Some((i, t)) = times.iter().enumerate().find(|(_, t)| **t >= d) else {
            break;
        };
        if (t - d) / d > worst_over {
            worst_over = (t - d) / d;
            worst_at = d;
        }
        if (i + 1) as f64 > bound::poll_target(d, first) && poll_ok_upto.is_none() {
            poll_ok_upto = Some(d);
        }
    }
    println!(
        "\nThe schedule (`poll_times`: 1 s × 1.8ⁿ, at most 30 s apart) over every duration from 1 to 60 s: \
         worst overshoot {:.0} % (an operation of {worst_at:.2} s); the poll target holds {}.\n",
        100.0 * worst_over,
        match poll_ok_upto {
            Some(d) => format!("up to {d:.2} s"),
            None => "throughout".into(),
        }
    );
}

fn short_path(line: &str) -> &str {
    if line.contains("/v3/projects") {
        "project create"
    } else if line.contains(":enable") {
        "Gmail API enable"
    } else {
        line
    }
}

// ---------------------------------------------------------------------------------------------
// 4. Bulk
// ---------------------------------------------------------------------------------------------

/// Runs every command, at most `concurrency` at a time; returns the failures' stderr.
fn pool(commands: Vec<Command>, concurrency: usize) -> Vec<String> {
    let queue = std::sync::Mutex::new(commands);
    let failures = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..concurrency {
            scope.spawn(|| {
                loop {
                    let next = queue.lock().expect("queue").pop();
                    let Some(cmd) = next else { break };
                    let r = Bench::output(cmd);
                    if r.code != 0 {
                        failures.lock().expect("failures").push(format!(
                            "exit {}: {}",
                            r.code,
                            r.stderr.trim()
                        ));
                    }
                }
            });
        }
    });
    failures.into_inner().expect("failures")
}

/// Successful writes that count against Graph's write limit (personal-account apps: create,
/// update, secrets, delete; not purges), their rate per second from first to last, and the
/// 429s answered.
fn limited_writes(log: &[LoggedRequest]) -> (usize, f64, usize) {
    let limited = |r: &&LoggedRequest| r.is_write() && r.path.starts_with("/v1.0/applications");
    let ok: Vec<f64> = log
        .iter()
        .filter(limited)
        .filter(|r| (200..300).contains(&r.status))
        .map(|r| (r.at - log[0].at).as_seconds_f64())
        .collect();
    let throttled = log
        .iter()
        .filter(limited)
        .filter(|r| r.status == 429)
        .count();
    let span = ok.last().copied().unwrap_or(0.0) - ok.first().copied().unwrap_or(0.0);
    let rate = if ok.len() > 1 && span > 0.0 {
        (ok.len() - 1) as f64 / span
    } else {
        0.0
    };
    (ok.len(), rate, throttled)
}

fn bulk() {
    const ENVS: usize = 100;
    const CONCURRENCY: usize = 8;
    // Graph allows 60 writes a minute to personal-account apps; the emulator allows 10 a second
    // (the same limit, 10 times faster, so the run takes well under a minute), and gc is told so.
    const PER_SECOND: u32 = 10;
    println!("## 4. Bulk: apply then gc of {ENVS} environments\n");
    println!(
        "A Microsoft spec with the default (personal-account) audience, against the emulator's write \
         limit of {PER_SECOND} writes per second (Graph's 60 per minute, 10× faster; real time, so \
         `Retry-After` means what it says). Apply: {ENVS} `mailreg apply --env eNNN --yes` processes, \
         {CONCURRENCY} at a time, unpaced (each absorbs its 429s). gc: one `mailreg gc --older-than 0s --all-envs \
         --yes --max-writes-per-minute {}` (four deletions at a time, paced). Rate: successful \
         limited writes (create, secret, delete; purges are not limited) from first to last.\n",
        PER_SECOND * 60
    );
    println!(
        "| phase | wall | limited writes | achieved rate | limit | rate / limit | target ≥ 0.9 | 429s absorbed | errors | target 0 |"
    );
    println!("|---|---:|---:|---:|---:|---:|---|---:|---:|---|");
    let spec = SPEC
        .split("[google]")
        .next()
        .expect("microsoft section")
        .to_owned();
    let mut config = EmulatorConfig::default();
    config.graph.write_limit = Some((PER_SECOND, time::Duration::seconds(1)));
    let b = Bench::new(&spec, config);
    let limit = f64::from(PER_SECOND);
    let report = |phase: &str, wall: Duration, errors: usize| {
        let (n, rate, throttled) = limited_writes(&b.emu.requests());
        println!(
            "| {phase} | {:.1} s | {n} | {rate:.2}/s | {limit:.0}/s | {:.2} | {} | {throttled} | {errors} | {} |",
            wall.as_secs_f64(),
            rate / limit,
            verdict(rate / limit >= 0.9),
            verdict(errors == 0),
        );
    };
    let per_minute = (PER_SECOND * 60).to_string();
    let mut left = Vec::new();
    // Round 1: gc once the apply's writes have left the limit's window. Round 2: gc right after
    // the apply, with the window still full (as when other clients of the tenant write too).
    for (round, pause) in [(1, Duration::from_millis(1500)), (2, Duration::ZERO)] {
        b.clear();
        let commands = (0..ENVS)
            .rev()
            .map(|i| {
                b.command(
                    MAILREG,
                    &["apply", "--env", &format!("e{i:03}"), "--yes"],
                    1.0,
                )
            })
            .collect();
        let started = Instant::now();
        let failures = pool(commands, CONCURRENCY);
        report(
            &format!("apply ({round})"),
            started.elapsed(),
            failures.len(),
        );
        for f in failures.iter().take(3) {
            eprintln!("apply failed: {f}");
        }
        std::thread::sleep(pause);
        b.clear();
        let started = Instant::now();
        let r = b.run(
            &[
                "gc",
                "--older-than",
                "0s",
                // The environments are not marked by `apply --ttl`: name them all.
                "--all-envs",
                "--yes",
                "--max-writes-per-minute",
                &per_minute,
            ],
            1.0,
        );
        let wall = started.elapsed();
        if std::env::var_os("MAILREG_BENCH_TRACE").is_some() {
            let log = b.emu.requests();
            for q in &log {
                eprintln!(
                    "gc +{:.3}s {} {} {}",
                    (q.at - log[0].at).as_seconds_f64(),
                    q.status,
                    q.method,
                    q.path
                );
            }
        }
        let remaining = b
            .emu
            .with_state(|s| s.graph.applications().len() + s.graph.deleted_applications().len());
        if r.code != 0 || remaining != 0 {
            eprintln!("gc: exit {}, {remaining} apps left\n{}", r.code, r.stderr);
        }
        let errors = r
            .stderr
            .lines()
            .filter(|l| l.starts_with("error:"))
            .count()
            .max(usize::from(r.code != 0));
        let when = if pause.is_zero() {
            "right after the apply"
        } else {
            "1.5 s after the apply"
        };
        report(&format!("gc ({round}), {when}"), wall, errors);
        left.push(remaining);
    }
    println!("\nApplications left after each gc (live or in deleted items): {left:?}.\n");
}

// ---------------------------------------------------------------------------------------------
// 5. Start-up and footprint
// ---------------------------------------------------------------------------------------------

fn startup() {
    println!("## 5. Start-up and footprint\n");
    println!("| measure | value | runs |");
    println!("|---|---:|---:|");
    let b = Bench::new(SPEC, EmulatorConfig::default());
    let version: Vec<f64> = (0..20)
        .map(|_| {
            let r = b.expect(0, &["--version"], 1.0);
            r.wall.as_secs_f64() * 1000.0
        })
        .collect();
    println!(
        "| `mailreg --version` (median) | {:.1} ms | 20 |",
        bound::median(version)
    );
    let env = "startup";
    let time_bin = Path::new("/usr/bin/time");
    let peak = if time_bin.exists() {
        let rss = b.dir.path().join("rss");
        let mut cmd = b.command(
            "/usr/bin/time",
            &[
                "-f",
                "%M",
                "-o",
                rss.to_str().expect("utf-8"),
                MAILREG,
                "apply",
                "--env",
                env,
                "--yes",
            ],
            0.001,
        );
        cmd.env("PATH", std::env::var("PATH").unwrap_or_default());
        let r = Bench::output(cmd);
        assert_eq!(r.code, 5, "{}", r.stderr);
        std::fs::read_to_string(&rss)
            .ok()
            .and_then(|s| s.trim().lines().last()?.trim().parse::<f64>().ok())
            .map(|kb| format!("{:.1} MiB", kb / 1024.0))
            .unwrap_or_else(|| "n/a".into())
    } else {
        b.expect(5, &["apply", "--env", env, "--yes"], 0.001);
        "n/a (/usr/bin/time missing: apt-get install time)".into()
    };
    b.console_step(env);
    b.expect(0, &["apply", "--env", env, "--yes"], 0.001);
    let plans: Vec<f64> = (0..10)
        .map(|_| {
            let r = b.expect(0, &["plan", "--env", env, "--detailed-exitcode"], 1.0);
            r.wall.as_secs_f64() * 1000.0
        })
        .collect();
    println!(
        "| no-op `mailreg plan` against the local emulator, both clouds (median) | {:.1} ms | 10 |",
        bound::median(plans)
    );
    println!("| peak memory (max RSS) of a fresh apply, both clouds | {peak} | 1 |");
    println!();
}

fn machine() {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            let kb: f64 = m.lines().next()?.split_whitespace().nth(1)?.parse().ok()?;
            Some(format!("{:.1} GiB", kb / 1024.0 / 1024.0))
        })
        .unwrap_or_else(|| "unknown".into());
    let rustc = Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".into());
    let date = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    println!("# mailreg benchmark\n");
    println!("- date: {date}");
    println!("- machine: {cpu}, {cores} cores, {mem} RAM");
    println!("- {rustc}, release build (`cargo bench --bench mailreg`)");
    println!("- mailreg {}\n", env!("CARGO_PKG_VERSION"));
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` would pass nothing useful either.
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let wants = |s: &str| only.is_empty() || only.iter().any(|o| o == s);
    let started = Instant::now();
    machine();
    if wants("requests") {
        requests_per_operation();
    }
    if wants("path") {
        critical_path();
    }
    if wants("polling") {
        polling();
    }
    if wants("bulk") {
        bulk();
    }
    if wants("startup") {
        startup();
    }
    if wants("app") {
        app_access::app_access();
    }
    if wants("up") {
        up::up();
    }
    println!(
        "_Benchmark run took {:.0} s._",
        started.elapsed().as_secs_f64()
    );
}
