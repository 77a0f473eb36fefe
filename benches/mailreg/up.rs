//! Section 6: `mailreg up` (issue #20). From an empty tenant to a passing IMAP login, with the
//! emulator's Exchange applying `Set-CASMailbox` only after a propagation delay, against the
//! floor that delay and the requests' round trips set; the round trips of a no-op `up`; and the
//! size of `src/commands/`.
//!
//! The propagation is real time in the emulator; mailreg's waits are nominal. One real delay of
//! [`PROPAGATION`] is run at several `MAILREG_TIME_SCALE`s, so that mailreg's wait sees
//! propagations from a quick 20 s up to Microsoft's "up to an hour" while the run stays short.

use std::time::Duration;

use mailreg_emulator::{Cas, EmulatorConfig, MailboxSeed};

use crate::{Bench, verdict};

/// The emulator's propagation delay (real time), the D of the issue.
const PROPAGATION: Duration = Duration::from_secs(20);
/// Every answer of the emulator's HTTP endpoints delayed by this much, as in section 2.
const LATENCY: Duration = Duration::from_millis(100);

const MAILBOX: &str = "helpdesk@contoso.onmicrosoft.com";

/// One mailbox that needs IMAP switched on, a Key Vault store and an output file: every family
/// of resources `up` plans.
const SPEC: &str = r#"name = "bench"

[microsoft]
tenant = "contoso.onmicrosoft.com"
display_name = "Bench mailbox ({env})"
redirect_uris = ["https://mail.example.com/oauth/callback"]
permissions = ["IMAP.AccessAsUser.All", "offline_access"]
mailboxes = ["helpdesk@contoso.onmicrosoft.com"]

[[secret]]
provider = "microsoft"
key_vault = { url = "https://emulator.vault.azure.net", name = "outlook-{env}" }

[[output]]
provider = "microsoft"
template = "json"
path = "out/{env}/helpdesk.json"
"#;

/// Which service a request of `up` went to. Section 2's [`crate::bound::Cloud`] knows only
/// Graph and Google; `up` also talks to Exchange's admin endpoint, Key Vault and the sign-in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Service {
    /// The Entra token endpoint (client credentials, the sign-in's code and refresh grants).
    Token,
    Graph,
    Exchange,
    KeyVault,
    /// The sign-in's authorize page and anything else.
    Other,
}

fn service(path: &str) -> Service {
    if path.ends_with("/token") {
        Service::Token
    } else if path.contains("/InvokeCommand") || path.contains("/adminapi/") {
        Service::Exchange
    } else if path.starts_with("/secrets") || path.starts_with("/deletedsecrets") {
        Service::KeyVault
    } else if path.starts_with("/v1.0/") || path.starts_with("/beta/") {
        Service::Graph
    } else {
        Service::Other
    }
}

fn bench() -> Bench {
    let config = EmulatorConfig {
        latency: Some(LATENCY),
        ..Default::default()
    };
    let b = Bench::new(SPEC, config);
    b.emu.with_state(|s| {
        s.add_mailbox(MailboxSeed {
            cas: Cas {
                imap: false,
                pop: false,
                smtp_auth_disabled: None,
            },
            ..MailboxSeed::ready(MAILBOX)
        });
        s.exchange.propagation = PROPAGATION;
    });
    b
}

/// One logged request of `up`: its service, what it was, when the emulator processed it
/// (seconds from the bench's origin).
struct Sent {
    service: Service,
    what: String,
    at: f64,
}

fn sent(b: &Bench) -> Vec<Sent> {
    b.emu
        .requests()
        .iter()
        .map(|r| {
            let cmdlet = r
                .body
                .as_ref()
                .and_then(|v| v["CmdletInput"]["CmdletName"].as_str())
                .map(|c| format!(" {c}"))
                .unwrap_or_default();
            Sent {
                service: service(&r.path),
                what: format!("{} {}{cmdlet}", r.method, r.path),
                at: (r.at - b.origin).as_seconds_f64(),
            }
        })
        .collect()
}

/// Round trips of a chain of requests, counted as section 2 counts them: a request processed
/// less than half a latency after the previous one was sent together with it and shares its
/// round trip; any other waited for an answer.
fn trips(reqs: &[&Sent]) -> usize {
    let l = LATENCY.as_secs_f64();
    reqs.iter()
        .enumerate()
        .filter(|(i, r)| *i == 0 || r.at - reqs[i - 1].at >= l * 0.5)
        .count()
}

fn all(reqs: &[Sent]) -> Vec<&Sent> {
    reqs.iter().collect()
}

/// API requests (no token requests, no sign-in) before verify's sign-in: the plan's reads and
/// the apply's writes.
fn plan_phase(reqs: &[Sent]) -> Vec<&Sent> {
    reqs.iter()
        .take_while(|r| r.service != Service::Other)
        .filter(|r| r.service != Service::Token)
        .collect()
}

pub fn up() {
    let d = PROPAGATION.as_secs_f64();
    let l = LATENCY.as_secs_f64();
    println!("## 6. `mailreg up`: from an empty tenant to a passing IMAP login\n");
    println!(
        "One Microsoft mailbox with IMAP off, a Key Vault store, an output file; `mailreg up --env E \
         --yes --wait 2h` from an empty tenant to the IMAP login passing. Every HTTP answer of the \
         emulator delayed by {} ms; its Exchange applies `Set-CASMailbox` {d:.0} s (real) after it. \
         The run is repeated at several `MAILREG_TIME_SCALE`s so that mailreg's wait sees that \
         propagation as anything from 20 s to an hour (nominal); every figure below is real time. \
         Round trips: every request of the run, token requests and the sign-in included, in one \
         chain; requests processed less than half a latency apart share one (section 2's rule). \
         Floor: D + round trips × latency (the issue's). Tighter: D + the round trips up to and \
         including the `Set-CASMailbox` (what the rest could overlap with the propagation). Late: \
         from the change taking effect to `up`'s exit.\n",
        LATENCY.as_millis()
    );
    println!(
        "| propagation as mailreg sees it | scale | requests | round trips | floor | tighter floor | measured | late | measured / floor | target ≤ 1.10 | measured / tighter |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|");
    let env = "up";
    let mut quiet = true;
    let mut first = None;
    for nominal in [20.0, 11.0 * 60.0, 30.0 * 60.0, 60.0 * 60.0] {
        let scale = d / nominal;
        let b = bench();
        b.clear();
        let start = (time::OffsetDateTime::now_utc() - b.origin).as_seconds_f64();
        let r = b.expect(0, &["up", "--env", env, "--yes", "--wait", "2h"], scale);
        let reqs = sent(&b);
        if std::env::var_os("MAILREG_BENCH_TRACE").is_some() {
            for q in &reqs {
                eprintln!("up +{:.3}s {:?} {}", q.at - start, q.service, q.what);
            }
        }
        assert!(
            r.stdout
                .contains(&format!("  login          IMAP ✔ as {MAILBOX}")),
            "{}",
            r.stdout
        );
        // Without a terminal the wait draws no progress line.
        quiet &= !r.stderr.contains("waiting for the mailbox settings");
        let chain = trips(&all(&reqs));
        let set = reqs
            .iter()
            .position(|q| q.what.ends_with(" Set-CASMailbox"))
            .expect("up sent a Set-CASMailbox");
        let before_set = trips(&all(&reqs)[..=set]);
        let floor = d + chain as f64 * l;
        let tighter = d + before_set as f64 * l;
        let wall = r.wall.as_secs_f64();
        let late = start + wall - (reqs[set].at + d);
        let ratio = wall / floor;
        let shown = if nominal < 60.0 {
            format!("{nominal:.0} s")
        } else {
            format!("{:.0} min", nominal / 60.0)
        };
        println!(
            "| {shown} | {scale:.4} | {} | {chain} | {floor:.2} s | {tighter:.2} s | {wall:.2} s | {late:.2} s | {ratio:.3} | {} | {:.3} |",
            reqs.len(),
            verdict(ratio <= 1.10),
            wall / tighter
        );
        if first.is_none() {
            first = Some(b);
        }
    }
    println!(
        "\nWithout a terminal (these runs), the wait's progress line was {}.\n",
        if quiet {
            "not drawn: stderr had none"
        } else {
            "**drawn on stderr**"
        }
    );
    no_op(&first.expect("a run"), env);
    lines();
}

/// A no-op `up` against the tenant the first run left: its reads, wave by wave, against a no-op
/// `apply` of the same spec, and of the spec without its mailbox (the `apply` the issue
/// compares with: registration and store).
fn no_op(b: &Bench, env: &str) {
    println!("### No-op `up` with one mailbox\n");
    println!(
        "The tenant the first run left, nothing to change, real time, latency as above. Requests \
         up to verify's sign-in (the plan's reads), per service as requests / round trips, and for \
         the run in one chain (requests of different services sent together share one), without \
         and with the token requests. Target: every read in one wave per cloud, i.e. the \
         round trips of a no-op `apply` of the registration and store plus one Exchange wave.\n"
    );
    println!(
        "| command | Graph | Exchange | Key Vault | API requests | API round trips | round trips with tokens |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let without_mailbox = SPEC.replace(&format!("mailboxes = [\"{MAILBOX}\"]\n"), "");
    let mut totals = Vec::new();
    let mut details = Vec::new();
    for (name, spec, args) in [
        (
            "no-op `apply`, spec without the mailbox",
            without_mailbox.as_str(),
            vec!["apply", "--env", env, "--yes"],
        ),
        ("no-op `apply`", SPEC, vec!["apply", "--env", env, "--yes"]),
        ("no-op `up`", SPEC, vec!["up", "--env", env, "--yes"]),
    ] {
        std::fs::write(&b.spec, spec).expect("spec written");
        b.clear();
        let start = (time::OffsetDateTime::now_utc() - b.origin).as_seconds_f64();
        let r = b.expect(0, &args, 1.0);
        assert!(
            r.stdout.contains("No changes."),
            "{name} is not a no-op:\n{}",
            r.stdout
        );
        let reqs = sent(b);
        let plan = plan_phase(&reqs);
        let with_tokens: Vec<&Sent> = reqs
            .iter()
            .take_while(|r| r.service != Service::Other)
            .collect();
        let cell = |service| {
            let mine: Vec<&Sent> = plan
                .iter()
                .copied()
                .filter(|r| r.service == service)
                .collect();
            if mine.is_empty() {
                "—".to_owned()
            } else {
                format!("{} / {}", mine.len(), trips(&mine))
            }
        };
        let (api, all_trips) = (trips(&plan), trips(&with_tokens));
        println!(
            "| {name} | {} | {} | {} | {} | {api} | {all_trips} |",
            cell(Service::Graph),
            cell(Service::Exchange),
            cell(Service::KeyVault),
            plan.len()
        );
        totals.push((api, all_trips));
        let sign_in = reqs.len() - with_tokens.len();
        details.push(format!(
            "- {name}: {}{}",
            with_tokens
                .iter()
                .map(|r| format!("+{:.0} ms `{}`", (r.at - start) * 1000.0, r.what))
                .collect::<Vec<_>>()
                .join(", "),
            if sign_in > 0 {
                format!("; then verify's sign-in ({sign_in} requests) and the IMAP login")
            } else {
                String::new()
            }
        ));
    }
    std::fs::write(&b.spec, SPEC).expect("spec written");
    let ((base, base_tokens), (up, up_tokens)) = (totals[0], totals[2]);
    println!(
        "\nNo-op `up`: {up} API round trips ({up_tokens} with token requests); the no-op `apply` of \
         registration and store {base} ({base_tokens}), plus one Exchange wave = {} ({}): {}.\n",
        base + 1,
        base_tokens + 1,
        verdict(up <= base + 1 && up_tokens <= base_tokens + 1)
    );
    println!(
        "The requests, in order, from the process's start (token requests included):\n\n{}\n",
        details.join("\n")
    );
}

/// Lines of `src/commands/` now, against issue #20's count before the resource model.
fn lines() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/commands");
    let mut files: Vec<(String, usize)> = std::fs::read_dir(&dir)
        .expect("src/commands")
        .filter_map(|e| {
            let p = e.ok()?.path();
            if p.extension()? != "rs" {
                return None;
            }
            let n = std::fs::read_to_string(&p).map_or(0, |t| t.lines().count());
            Some((p.file_name()?.to_string_lossy().into_owned(), n))
        })
        .collect();
    files.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let total: usize = files.iter().map(|f| f.1).sum();
    let over: Vec<String> = files
        .iter()
        .filter(|f| f.1 > 300)
        .map(|f| format!("`{}` {}", f.0, f.1))
        .collect();
    let get = |n: &str| files.iter().find(|f| f.0 == n).map_or(0, |f| f.1);
    println!("### Lines in `src/commands/`\n");
    println!("| | before (issue #20) | now |");
    println!("|---|---:|---:|");
    println!("| `src/commands/` total | 2555 | {total} |");
    println!("| `src/commands/mod.rs` | 772 | {} |", get("mod.rs"));
    println!("| `src/commands/up.rs` | — | {} |", get("up.rs"));
    println!("| files | | {} |", files.len());
    println!(
        "\nFiles over the issue's ~300 lines: {}.\n",
        if over.is_empty() {
            "none".to_owned()
        } else {
            over.join(", ")
        }
    );
}
