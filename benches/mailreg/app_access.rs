//! Section: app-only access (issue #19). Requests and round trips of a fresh app-only apply
//! with one mailbox and of its no-op, per side: Graph (`/v1.0/…`) and Exchange's admin
//! endpoint (`/adminapi/…`). Goal for the no-op: reads only, one Graph round trip and one
//! Exchange round trip, sent together.

use std::time::Duration;

use super::{Bench, bound, emulator_config, verdict};
use bound::Req;

const SPEC: &str = r#"name = "bench"

[microsoft]
access = "app"
tenant = "contoso.onmicrosoft.com"
mailboxes = ["shared@contoso.onmicrosoft.com"]
"#;

fn graph(log: &[Req]) -> Vec<Req> {
    log.iter()
        .filter(|r| r.path.starts_with("/v1.0/"))
        .cloned()
        .collect()
}

fn exchange(log: &[Req]) -> Vec<Req> {
    log.iter()
        .filter(|r| r.path.starts_with("/adminapi/"))
        .cloned()
        .collect()
}

/// Round trips of both sides together: requests of either side sent together count once.
fn both(log: &[Req], latency: f64) -> usize {
    let mut all: Vec<Req> = graph(log);
    all.extend(exchange(log));
    all.sort_by(|a, b| a.at.total_cmp(&b.at));
    bound::round_trips(&all, latency)
}

pub fn app_access() {
    let latency = Duration::from_millis(100);
    let l = latency.as_secs_f64();
    println!("## App-only access: one mailbox (issue #19)\n");
    println!(
        "Every answer of the emulator delayed by {} ms; token requests left out. Graph is `/v1.0/…`, \
         Exchange the admin endpoint's `InvokeCommand` (each cmdlet one POST; reads are `Get-*`). \
         Round trips: requests sent less than half the latency apart count once; \"both together\" \
         counts the two sides' requests as one stream (the Exchange token, fetched first on a cold \
         run, puts Exchange's wave after Graph's).\n",
        latency.as_millis()
    );
    println!(
        "| operation | Graph requests (writes) | Exchange cmdlets (writes) | Graph round trips | Exchange round trips | both together | target | |"
    );
    println!("|---|---:|---:|---:|---:|---:|---|---|");
    let b = Bench::new(SPEC, emulator_config(Some(latency), None));
    b.emu.with_state(|s| {
        s.add_mailbox(mailreg_emulator::MailboxSeed::ready(
            "shared@contoso.onmicrosoft.com",
        ))
    });
    let env = "app";
    let mut details = Vec::new();
    // The no-op plan is the reads that decide; a no-op apply adds the readiness report that every
    // apply prints at its end (users, licences, CAS settings, Exchange's rights): one more wave.
    let apply: &[&str] = &["apply", "--env", env, "--yes"];
    let plan: &[&str] = &["plan", "--env", env, "--detailed-exitcode"];
    for (name, args, target) in [
        ("fresh apply", apply, None),
        ("no-op plan", plan, Some("reads only; Graph 1, Exchange 1")),
        ("no-op re-apply (with the readiness report)", apply, None),
    ] {
        b.clear();
        b.expect(0, args, 1.0);
        let log = b.log();
        let bodies = b.emu.requests();
        let cmdlets: Vec<String> = bodies
            .iter()
            .filter(|r| r.path.starts_with("/adminapi/"))
            .map(|r| {
                r.body.clone().unwrap_or_default()["CmdletInput"]["CmdletName"]
                    .as_str()
                    .unwrap_or("?")
                    .to_owned()
            })
            .collect();
        let g = graph(&log);
        let g_writes = g.iter().filter(|r| r.is_write()).count();
        let x_writes = cmdlets.iter().filter(|c| !c.starts_with("Get-")).count();
        let (gt, xt, all) = (
            bound::round_trips(&g, l),
            bound::round_trips(&exchange(&log), l),
            both(&log, l),
        );
        let (t, v) = match target {
            Some(t) => (
                t,
                verdict(g_writes == 0 && x_writes == 0 && gt <= 1 && xt <= 1),
            ),
            None => ("—", ""),
        };
        println!(
            "| {name} | {} ({g_writes}) | {} ({x_writes}) | {gt} | {xt} | {all} | {t} | {v} |",
            g.len(),
            cmdlets.len()
        );
        details.push(format!(
            "- {name}: Graph {}; Exchange {}",
            g.iter()
                .map(|r| format!("`{} {}`", r.method, r.path))
                .collect::<Vec<_>>()
                .join(", "),
            cmdlets.join(", ")
        ));
    }
    println!("\nThe requests:\n\n{}\n", details.join("\n"));
}
