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
use crate::error::{Error, ErrorKind, Result};
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
        loop {
            let mut url = self.endpoints.crm("v3/projects:search");
            url.query_pairs_mut().append_pair("query", query);
            if let Some(t) = &token {
                url.query_pairs_mut().append_pair("pageToken", t);
            }
            let page: SearchPage = self.call(Request::new(Method::GET, url)).await?.json()?;
            out.extend(page.projects);
            match page.next_page_token.filter(|t| !t.is_empty()) {
                Some(t) => token = Some(t),
                None => return Ok(out),
            }
        }
    }

    pub async fn create_project(&self, body: Value) -> Result<Operation> {
        let req = Request::new(Method::POST, self.endpoints.crm("v3/projects")).json(body);
        self.call(req).await?.json()
    }

    pub async fn patch_project(&self, id: &str, body: Value, mask: &str) -> Result<Operation> {
        let mut url = self.endpoints.crm(&format!("v3/projects/{id}"));
        url.query_pairs_mut().append_pair("updateMask", mask);
        self.call(Request::new(Method::PATCH, url).json(body))
            .await?
            .json()
    }

    /// `projects.delete`: deleting a DELETE_REQUESTED project is harmless, so it is safe to
    /// repeat.
    pub async fn delete_project(&self, id: &str) -> Result<Operation> {
        let url = self.endpoints.crm(&format!("v3/projects/{id}"));
        self.call(Request::new(Method::DELETE, url)).await?.json()
    }

    pub async fn undelete_project(&self, id: &str) -> Result<Operation> {
        let url = self.endpoints.crm(&format!("v3/projects/{id}:undelete"));
        let req = Request::new(Method::POST, url)
            .json(json!({}))
            .safety(Safety::Idempotent);
        self.call(req).await?.json()
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
        self.call(req).await?.json()
    }

    async fn get_operation(&self, api: Api, name: &str) -> Result<Operation> {
        let url = match api {
            Api::ResourceManager => self.endpoints.crm(&format!("v3/{name}")),
            Api::ServiceUsage => self.endpoints.su(&format!("v1/{name}")),
        };
        self.call(Request::new(Method::GET, url)).await?.json()
    }

    /// Polls an operation while `done` is false (never a done one: `operations/noop.DONE_OPERATION`
    /// cannot be polled), with backoff from 1 s by ×1.5 up to 10 s, for up to 5 minutes. A
    /// finished operation with `error` is a failure even though every HTTP answer was 200.
    pub async fn wait(
        &self,
        api: Api,
        mut op: Operation,
        on_poll: &(dyn Fn(u32) + Sync),
    ) -> Result<Operation> {
        let mut delay = Duration::from_secs(1);
        let mut waited = Duration::ZERO;
        let mut polls = 0;
        while !op.done {
            if waited >= Duration::from_secs(300) {
                return Err(Error::api(format!(
                    "operation {} not done after {:.0}s",
                    op.name,
                    waited.as_secs_f64()
                ))
                .with_hint("Google sometimes takes longer: run the command again, it picks up where it stopped"));
            }
            self.clock.sleep(delay).await;
            waited += delay;
            polls += 1;
            on_poll(polls);
            op = self.get_operation(api, &op.name).await?;
            delay = delay.mul_f64(1.5).min(Duration::from_secs(10));
        }
        if let Some(status) = &op.error {
            return Err(operation_error(status));
        }
        Ok(op)
    }
}

/// An operation's error, with what people need to know about the common ones.
pub fn operation_error(status: &Status) -> Error {
    let mut e = Error {
        kind: ErrorKind::Api,
        message: format!("operation failed: code {}: {}", status.code, status.message),
        hint: None,
        code: Some(status.code.to_string()),
        status: None,
        reported: false,
    };
    e.hint = match status.code {
        8 => Some("the project quota is exhausted; projects pending deletion count against it for 30 days. Delete unused projects, or ask for more quota".into()),
        7 => Some("the identity lacks resourcemanager.projects.create on the parent (Project Creator role)".into()),
        _ => None,
    };
    e
}
