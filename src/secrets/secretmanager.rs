//! Google Secret Manager (REST v1), signed in with Application Default Credentials.
//!
//! The payload is one JSON value in a secret version (with its CRC32C, which the service
//! checks). A secret mailreg creates has automatic replication and the labels
//! `managed-by=mailreg`, `mailreg-name`, `mailreg-env`. After a new version is added, the
//! versions it supersedes are disabled (not destroyed: a rollback stays possible); `destroy`
//! deletes the secret with all its versions. `MAILREG_SECRET_MANAGER_URL` moves the endpoint.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::Method;
use serde_json::{Value, json};
use url::Url;

use super::{MANAGED_BY, Observed, Payload, Sink, StoreFailure};
use crate::error::{Error, Result};
use crate::google::api::{Api, Gcp};
use crate::google::auth::GoogleAuth;
use crate::http::{Http, Request, Response, Safety, env_url};
use crate::spec::secret::SecretManagerDest;

const SERVICE: &str = "secretmanager.googleapis.com";

pub struct SecretManagerSink {
    http: Http,
    auth: Arc<GoogleAuth>,
    base: Url,
    project: String,
    secret: String,
    name: String,
    env: String,
    /// Service Usage, when the project is mailreg's own (`[google] project_id`): a disabled
    /// Secret Manager API is then enabled instead of reported.
    own_project: Option<Gcp>,
}

impl SecretManagerSink {
    pub fn new(
        dest: &SecretManagerDest,
        http: &Http,
        auth: Arc<GoogleAuth>,
        spec: &crate::spec::Spec,
    ) -> Result<Self> {
        let own = spec
            .google
            .as_ref()
            .is_some_and(|g| g.project_id == dest.project);
        let own_project = match own {
            true => Some(Gcp::new(
                http.clone(),
                crate::google::endpoints::Endpoints::from_env()?,
                GoogleAuth::from_env()?,
            )),
            false => None,
        };
        let (name, env) = (spec.name.as_str(), spec.env.as_str());
        Ok(SecretManagerSink {
            own_project,
            http: http.clone(),
            auth,
            base: env_url(
                "MAILREG_SECRET_MANAGER_URL",
                "https://secretmanager.googleapis.com",
            )?,
            project: dest.project.clone(),
            secret: dest.secret.clone(),
            name: name.to_owned(),
            env: env.to_owned(),
        })
    }

    fn url(&self, rest: &str) -> Url {
        let base = self.base.as_str().trim_end_matches('/');
        Url::parse(&format!(
            "{base}/v1/projects/{}/secrets{rest}",
            self.project
        ))
        .expect("validated ids")
    }

    async fn call(&self, req: Request) -> Result<std::result::Result<Response, StoreFailure>> {
        let token = self.auth.token().await?;
        let resp = self.http.send_raw(req.bearer(&token)).await?;
        Ok(if resp.status < 400 {
            Ok(resp)
        } else {
            Err(StoreFailure::parse(resp.status, &resp.body))
        })
    }

    /// The error for a failure, with what to do about the common ones.
    fn error(&self, f: StoreFailure) -> Error {
        let disabled = f.reason.as_deref() == Some("SERVICE_DISABLED");
        let project_missing = f.status == 404 && !f.message.starts_with("Secret");
        let status = f.status;
        let e = f.into_error();
        if disabled {
            e.with_hint(format!(
                "enable the Secret Manager API in project {}: `gcloud services enable {SERVICE} --project {}`",
                self.project, self.project
            ))
        } else if project_missing {
            e.context(format!("project {:?} was not found", self.project))
                .with_hint("check secret_manager.project: the project must exist and be visible to mailreg's Google credentials")
        } else if status == 403 {
            e.with_hint("the Google identity needs roles/secretmanager.admin on the project (or secretVersionAdder and viewer on an existing secret)")
        } else {
            e
        }
    }

    fn labels(&self) -> Value {
        json!({MANAGED_BY.0: MANAGED_BY.1, "mailreg-name": self.name, "mailreg-env": self.env})
    }

    fn is_ours(&self, secret: &Value) -> bool {
        let l = |k: &str| {
            secret
                .pointer(&format!("/labels/{k}"))
                .and_then(Value::as_str)
        };
        l(MANAGED_BY.0) == Some(MANAGED_BY.1)
            && l("mailreg-name") == Some(self.name.as_str())
            && l("mailreg-env") == Some(self.env.as_str())
    }
}

/// CRC32C of a payload, as the service wants it (an int64 in a string).
fn checksum(data: &[u8]) -> String {
    crc32c::crc32c(data).to_string()
}

#[async_trait::async_trait]
impl Sink for SecretManagerSink {
    fn kind(&self) -> &'static str {
        "secret_manager"
    }

    fn target(&self) -> String {
        format!("projects/{}/secrets/{}", self.project, self.secret)
    }

    fn marks(&self) -> String {
        format!(
            "labels {}={}, mailreg-name={}, mailreg-env={}",
            MANAGED_BY.0, MANAGED_BY.1, self.name, self.env
        )
    }

    async fn read(&self) -> Result<Observed> {
        let url = self.url(&format!("/{}/versions/latest:access", self.secret));
        match self.call(Request::new(Method::GET, url)).await? {
            Ok(resp) => {
                let v: Value = resp.json()?;
                let data = v
                    .pointer("/payload/data")
                    .and_then(Value::as_str)
                    .and_then(|d| STANDARD.decode(d).ok())
                    .unwrap_or_default();
                let intact = v
                    .pointer("/payload/dataCrc32c")
                    .and_then(Value::as_str)
                    .is_none_or(|c| c == checksum(&data));
                if !intact {
                    return Err(Error::api(
                        "the latest version's payload does not match its checksum (corrupted in transit)",
                    ));
                }
                Ok(Observed {
                    exists: true,
                    value: std::str::from_utf8(&data)
                        .ok()
                        .and_then(Payload::from_json_text),
                    ..Default::default()
                })
            }
            // No secret, or a secret without versions: `prepare` tells which.
            Err(f) if f.status == 404 && f.message.starts_with("Secret") => Ok(Observed::default()),
            // mailreg's own project: the API is enabled on apply.
            Err(f)
                if f.reason.as_deref() == Some("SERVICE_DISABLED")
                    && self.own_project.is_some() =>
            {
                Ok(Observed {
                    enable_api: true,
                    ..Default::default()
                })
            }
            // The latest version is disabled or destroyed: a new one is needed.
            Err(f) if f.status == 400 && f.code == "FAILED_PRECONDITION" => Ok(Observed {
                exists: true,
                ..Default::default()
            }),
            Err(f) => Err(self.error(f)),
        }
    }

    async fn prepare(&self, observed: &mut Observed, _delete: bool) -> Result<()> {
        if observed.ours.is_some() || observed.enable_api {
            return Ok(());
        }
        let url = self.url(&format!("/{}", self.secret));
        match self.call(Request::new(Method::GET, url)).await? {
            Ok(resp) => {
                let secret: Value = resp.json()?;
                observed.exists = true;
                observed.ours = Some(self.is_ours(&secret));
            }
            Err(f) if f.status == 404 && f.message.starts_with("Secret") => {
                observed.exists = false;
            }
            Err(f) => return Err(self.error(f)),
        }
        Ok(())
    }

    async fn write(&self, observed: &Observed, value: &Payload) -> Result<()> {
        if let (true, Some(gcp)) = (observed.enable_api, &self.own_project) {
            let op = gcp.enable_service(&self.project, SERVICE, false).await?;
            gcp.wait(Api::ServiceUsage, op, &|_| {})
                .await
                .map_err(|e| e.context("enabling the Secret Manager API"))?;
        }
        if !observed.exists {
            let mut url = self.url("");
            url.query_pairs_mut().append_pair("secretId", &self.secret);
            let body = json!({"replication": {"automatic": {}}, "labels": self.labels()});
            match self
                .call(Request::new(Method::POST, url).json(body))
                .await?
            {
                Ok(_) => {}
                // Created by an earlier run whose answer was lost.
                Err(f) if f.status == 409 => {}
                Err(f) => return Err(self.error(f)),
            }
        }
        let text = value.to_json_text();
        let body = json!({"payload": {"data": STANDARD.encode(&text), "dataCrc32c": checksum(text.as_bytes())}});
        let url = self.url(&format!("/{}:addVersion", self.secret));
        let added: Value = match self
            .call(Request::new(Method::POST, url).json(body))
            .await?
        {
            Ok(resp) => resp.json()?,
            Err(f) => return Err(self.error(f)),
        };
        let new_name = added
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        // Disable the versions the new one supersedes.
        let url = self.url(&format!("/{}/versions", self.secret));
        let list: Value = match self.call(Request::new(Method::GET, url)).await? {
            Ok(resp) => resp.json()?,
            Err(f) => return Err(self.error(f)),
        };
        let older = list
            .get("versions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|v| v.get("state").and_then(Value::as_str) == Some("ENABLED"))
            .filter_map(|v| v.get("name").and_then(Value::as_str))
            .filter(|n| *n != new_name)
            .take(100);
        for name in older {
            let version = name.rsplit('/').next().unwrap_or_default();
            let url = self.url(&format!("/{}/versions/{version}:disable", self.secret));
            let req = Request::new(Method::POST, url)
                .json(json!({}))
                .safety(Safety::Idempotent);
            if let Err(f) = self.call(req).await? {
                return Err(self
                    .error(f)
                    .context(format!("disabling the superseded version {version}")));
            }
        }
        Ok(())
    }

    async fn delete(&self, _observed: &Observed, _purge: bool) -> Result<()> {
        let url = self.url(&format!("/{}", self.secret));
        match self.call(Request::new(Method::DELETE, url)).await? {
            Ok(_) => Ok(()),
            Err(f) if f.status == 404 && f.message.starts_with("Secret") => Ok(()),
            Err(f) => Err(self.error(f)),
        }
    }
}
