//! The benchmark's pure logic: which cloud a logged request belongs to, the critical-path lower
//! bound of a run, and operation timings. No I/O, so `tests/bench_logic.rs` checks it cheaply.
#![allow(dead_code)]

/// The two clouds; mailreg runs them concurrently.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cloud {
    Microsoft,
    Google,
}

/// One request as the bound needs it: method, path, and when the emulator processed it
/// (seconds from any origin).
#[derive(Clone, Debug, PartialEq)]
pub struct Req {
    pub method: String,
    pub path: String,
    pub at: f64,
}

impl Req {
    pub fn new(method: &str, path: &str, at: f64) -> Req {
        Req {
            method: method.into(),
            path: path.into(),
            at,
        }
    }
    pub fn is_token(&self) -> bool {
        self.path.ends_with("/token")
    }
    pub fn is_write(&self) -> bool {
        self.method != "GET"
    }
    pub fn is_poll(&self) -> bool {
        self.method == "GET" && self.path.contains("/operations/")
    }
}

/// Microsoft: Graph (`/v1.0/…`) and the Entra token endpoint (`/{tenant}/oauth2/v2.0/token`).
/// Google: Resource Manager (`/v3/…`), Service Usage (`/v1/…`), its token endpoint (`/token`).
pub fn cloud_of(path: &str) -> Option<Cloud> {
    if path.starts_with("/v1.0/") || path.starts_with("/beta/") || path.contains("/oauth2/") {
        Some(Cloud::Microsoft)
    } else if path == "/token"
        || path.starts_with("/v3/")
        || path.starts_with("/v1/")
        || path.starts_with("/computeMetadata/")
    {
        Some(Cloud::Google)
    } else {
        None
    }
}

/// A cloud's requests, in order.
pub fn of_cloud(reqs: &[Req], cloud: Cloud) -> Vec<Req> {
    reqs.iter()
        .filter(|r| cloud_of(&r.path) == Some(cloud))
        .cloned()
        .collect()
}

/// What a request is on the critical path.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Step {
    /// Answered after one latency.
    Plain,
    /// A Google write: answered after one latency, and starts an operation (when polls follow).
    StartsOperation,
    /// A poll of the operation. Only the one that sees `done` is necessary; the others are what
    /// a perfect poller would not have sent.
    Poll { done: bool },
    /// Sent together with the previous request (it arrived before that one's answer could have
    /// come back): it shares the previous request's round trip.
    Concurrent,
}

/// Classifies one cloud's requests. A poll is the done one when the next request is not a poll of
/// the same operation. A request that arrived less than half a `latency` after the previous one
/// was sent together with it (a chain of dependent requests cannot be closer than one latency);
/// with `latency` 0 nothing counts as concurrent.
pub fn steps(reqs: &[Req], latency: f64) -> Vec<Step> {
    reqs.iter()
        .enumerate()
        .map(|(i, r)| {
            let concurrent =
                latency > 0.0 && i > 0 && !r.is_poll() && r.at - reqs[i - 1].at < latency * 0.5;
            if r.is_poll() {
                let next_same = reqs
                    .get(i + 1)
                    .is_some_and(|n| n.is_poll() && n.path == r.path);
                Step::Poll { done: !next_same }
            } else if concurrent {
                Step::Concurrent
            } else if r.is_write() && cloud_of(&r.path) == Some(Cloud::Google) && !r.is_token() {
                Step::StartsOperation
            } else {
                Step::Plain
            }
        })
        .collect()
}

/// Round trips of one cloud's API requests (token requests left out): requests sent together
/// count once; every poll counts.
pub fn round_trips(reqs: &[Req], latency: f64) -> usize {
    let api: Vec<Req> = reqs.iter().filter(|r| !r.is_token()).cloned().collect();
    steps(&api, latency)
        .iter()
        .filter(|s| **s != Step::Concurrent)
        .count()
}

/// The shortest time in which one cloud's chain of dependent requests can finish, when every
/// answer takes `latency` (the emulator processes a request when it arrives and answers
/// `latency` later) and every operation is done `op_duration` after it was processed.
///
/// Each request needs the previous one's answer. The poll that sees `done` cannot be processed
/// before the operation finishes (nor before the answer that named the operation arrived).
/// Polls that saw `done: false` are left out: the bound is what a perfect poller would take.
pub fn chain_bound(steps: &[Step], latency: f64, op_duration: f64) -> f64 {
    let mut t = 0.0_f64;
    let mut op_started: Option<f64> = None;
    for s in steps {
        match s {
            Step::Plain => t += latency,
            Step::Concurrent => {}
            Step::StartsOperation => {
                op_started = Some(t);
                t += latency;
            }
            Step::Poll { done: false } => {}
            Step::Poll { done: true } => {
                let ready = op_started.map_or(t, |s| s + op_duration);
                t = t.max(ready) + latency;
            }
        }
    }
    t
}

/// The run's bound: the two clouds run concurrently, so the longer chain, each request of a
/// cloud taken as depending on the one before (a model that holds at any `latency`).
pub fn run_bound(reqs: &[Req], latency: f64, op_duration: f64) -> f64 {
    [Cloud::Microsoft, Cloud::Google]
        .iter()
        .map(|c| chain_bound(&steps(&of_cloud(reqs, *c), 0.0), latency, op_duration))
        .fold(0.0, f64::max)
}

/// [`run_bound`] for a run recorded at `latency`: requests that were sent together (see
/// [`steps`]) share one round trip instead of adding one each.
pub fn run_bound_recorded(reqs: &[Req], latency: f64, op_duration: f64) -> f64 {
    [Cloud::Microsoft, Cloud::Google]
        .iter()
        .map(|c| chain_bound(&steps(&of_cloud(reqs, *c), latency), latency, op_duration))
        .fold(0.0, f64::max)
}

/// Requests of one cloud that started before the previous one's answer could have arrived
/// (closer than `latency`): requests mailreg sent concurrently.
pub fn overlapping(reqs: &[Req], latency: f64) -> usize {
    reqs.windows(2)
        .filter(|w| w[1].at - w[0].at < latency * 0.9)
        .count()
}

/// One long-running operation as the client polled it.
#[derive(Clone, Debug, PartialEq)]
pub struct OpTiming {
    /// The request that started it, e.g. `POST /v3/projects`.
    pub started_by: String,
    /// Polls sent, the done one included.
    pub polls: usize,
    /// Time from the start (when the emulator processed the starting request) to the poll that
    /// saw `done`.
    pub observed_after: f64,
}

impl OpTiming {
    /// Time wasted after completion, for an operation that took `duration`.
    pub fn overshoot(&self, duration: f64) -> f64 {
        (self.observed_after - duration).max(0.0)
    }
}

/// Operations of one cloud's requests: each write followed by polls of one operation.
pub fn operations(reqs: &[Req]) -> Vec<OpTiming> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < reqs.len() {
        let r = &reqs[i];
        if r.is_write() && !r.is_token() && reqs.get(i + 1).is_some_and(Req::is_poll) {
            let op = &reqs[i + 1].path;
            let polls: Vec<&Req> = reqs[i + 1..]
                .iter()
                .take_while(|p| p.is_poll() && &p.path == op)
                .collect();
            out.push(OpTiming {
                started_by: format!("{} {}", r.method, r.path),
                polls: polls.len(),
                observed_after: polls.last().map_or(0.0, |p| p.at - r.at),
            });
            i += 1 + polls.len();
        } else {
            i += 1;
        }
    }
    out
}

/// The poll budget: `log2(duration / first interval) + 3`.
pub fn poll_target(duration: f64, first_interval: f64) -> f64 {
    (duration / first_interval).log2() + 3.0
}

/// Median of a non-empty sample.
pub fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}
