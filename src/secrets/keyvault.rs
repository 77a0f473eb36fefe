//! Azure Key Vault secrets (REST, api-version 7.5), signed in with the same Azure credential
//! chain as Graph, for the vault resource of the vault's cloud.
//!
//! The payload is one JSON value (`contentType: application/json`), with `attributes.exp` set
//! to the client secret's expiry and the tags `managed-by=mailreg`, `mailreg-id=<name>.<env>`.
//! Soft delete keeps a deleted secret's name: a soft-deleted secret of the same name is
//! recovered when it carries mailreg's tags, and refused otherwise.
//! `MAILREG_KEYVAULT_URL` sends every call to another origin (the emulator); the token is still
//! for the vault's real resource.

use reqwest::Method;
use serde_json::{Value, json};
use url::Url;

use super::{MANAGED_BY, Observed, Payload, Sink, StoreFailure, mailreg_id};
use crate::clock::parse_rfc3339;
use crate::error::{Error, Result};
use crate::http::{Failure, Http, LagClassifier, Request, Response, env_url};
use crate::microsoft::auth::GraphAuth;
use crate::spec::secret::KeyVaultDest;

const API_VERSION: &str = "7.5";

/// The token resource for a vault URL: its cloud's vault suffix.
pub fn resource_for(vault: &Url) -> &'static str {
    let host = vault.host_str().unwrap_or_default();
    if host.ends_with(".vault.usgovcloudapi.net") {
        "https://vault.usgovcloudapi.net"
    } else if host.ends_with(".vault.azure.cn") {
        "https://vault.azure.cn"
    } else {
        "https://vault.azure.net"
    }
}

pub struct KeyVaultSink {
    http: Http,
    auth: GraphAuth,
    /// Where requests go (the vault, or `MAILREG_KEYVAULT_URL`).
    base: Url,
    vault: String,
    name: String,
    id: String,
}

impl KeyVaultSink {
    pub fn new(
        dest: &KeyVaultDest,
        http: &Http,
        auth: GraphAuth,
        name: &str,
        env: &str,
    ) -> Result<Self> {
        let vault = Url::parse(&dest.url)
            .map_err(|e| Error::bad_input(format!("{:?} is not a URL: {e}", dest.url)))?;
        let base = env_url("MAILREG_KEYVAULT_URL", vault.as_str())?;
        Ok(KeyVaultSink {
            http: http.clone(),
            auth: auth.for_resource(resource_for(&vault)),
            base,
            vault: dest.url.trim_end_matches('/').to_owned(),
            name: dest.name.clone(),
            id: mailreg_id(name, env),
        })
    }

    fn url(&self, path: &str) -> Url {
        let base = self.base.as_str().trim_end_matches('/');
        let mut u = Url::parse(&format!("{base}/{path}")).expect("validated names");
        u.query_pairs_mut().append_pair("api-version", API_VERSION);
        u
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<std::result::Result<Response, StoreFailure>> {
        self.call_lagging(method, path, body, None).await
    }

    /// [`Self::call`], with answers that `lag` recognises waited out by the HTTP layer's
    /// replication-lag retries.
    async fn call_lagging(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        lag: Option<LagClassifier>,
    ) -> Result<std::result::Result<Response, StoreFailure>> {
        let token = self.auth.token().await?;
        let mut req = Request::new(method, self.url(path)).bearer(&token);
        if let Some(b) = body {
            req = req.json(b);
        }
        if let Some(lag) = lag {
            req = req.lag(lag);
        }
        let resp = self.http.send_raw(req).await?;
        Ok(if resp.status < 400 {
            Ok(resp)
        } else {
            Err(StoreFailure::parse(resp.status, &resp.body))
        })
    }

    /// A call whose 404 means "already done" (by an earlier run whose answer was lost).
    async fn call_absent_ok(&self, method: Method, path: &str) -> Result<()> {
        match self.call(method, path, None).await? {
            Err(f) if f.status != 404 => Err(Self::hint(f.into_error())),
            _ => Ok(()),
        }
    }

    fn hint(e: Error) -> Error {
        if e.status == Some(403) {
            e.with_hint("the signed-in identity needs the role \"Key Vault Secrets Officer\" on the vault (RBAC vaults), or get, set, delete and recover secret permissions in an access policy")
        } else {
            e
        }
    }

    fn is_ours(&self, bundle: &Value) -> bool {
        let tag = |k: &str| {
            bundle
                .pointer(&format!("/tags/{k}"))
                .and_then(Value::as_str)
        };
        tag(MANAGED_BY.0) == Some(MANAGED_BY.1) && tag("mailreg-id") == Some(self.id.as_str())
    }
}

#[async_trait::async_trait]
impl Sink for KeyVaultSink {
    fn kind(&self) -> &'static str {
        "key_vault"
    }

    fn target(&self) -> String {
        format!("{}/secrets/{}", self.vault, self.name)
    }

    fn marks(&self) -> String {
        format!(
            "tags {}={}, mailreg-id={}",
            MANAGED_BY.0, MANAGED_BY.1, self.id
        )
    }

    async fn read(&self) -> Result<Observed> {
        match self
            .call(Method::GET, &format!("secrets/{}", self.name), None)
            .await?
        {
            Ok(resp) => {
                let bundle: Value = resp.json()?;
                Ok(Observed {
                    exists: true,
                    value: bundle
                        .get("value")
                        .and_then(Value::as_str)
                        .and_then(Payload::from_json_text),
                    ours: Some(self.is_ours(&bundle)),
                    ..Default::default()
                })
            }
            Err(f) if f.status == 404 => {
                // Absent: is the name held by a soft-deleted secret?
                match self
                    .call(Method::GET, &format!("deletedsecrets/{}", self.name), None)
                    .await?
                {
                    Ok(resp) => {
                        let bundle: Value = resp.json()?;
                        Ok(Observed {
                            soft_deleted: Some(self.is_ours(&bundle)),
                            ..Default::default()
                        })
                    }
                    Err(f) if f.status == 404 => Ok(Observed::default()),
                    Err(f) => Err(Self::hint(f.into_error())),
                }
            }
            Err(f) => Err(Self::hint(f.into_error())),
        }
    }

    async fn prepare(&self, observed: &mut Observed, _delete: bool) -> Result<()> {
        if observed.soft_deleted == Some(false) {
            return Err(Error::refused(format!(
                "a soft-deleted secret named {:?} without mailreg's tags holds the name (409 ObjectIsDeletedButRecoverable on write)",
                self.name
            ))
            .with_hint(format!(
                "recover or purge it (`az keyvault secret recover|purge --vault-name <vault> --name {}`), or choose another name",
                self.name
            )));
        }
        Ok(())
    }

    async fn write(&self, observed: &Observed, value: &Payload) -> Result<()> {
        if observed.soft_deleted == Some(true) {
            tracing::info!(target: "mailreg::secrets", "key vault: recovering the soft-deleted secret {}", self.name);
            // 404: recovered meanwhile (an earlier run whose answer was lost).
            self.call_absent_ok(
                Method::POST,
                &format!("deletedsecrets/{}/recover", self.name),
            )
            .await?;
        }
        let mut attributes = json!({"enabled": true});
        if let Some(exp) = value.0.get("secret_expires").and_then(|t| parse_rfc3339(t)) {
            attributes["exp"] = json!(exp.unix_timestamp());
        }
        let body = json!({
            "value": value.to_json_text(),
            "contentType": "application/json",
            "attributes": attributes,
            "tags": {MANAGED_BY.0: MANAGED_BY.1, "mailreg-id": self.id},
        });
        // A recovery takes seconds to finish; until then a write answers 409
        // ObjectIsBeingRecovered: the HTTP layer waits it out like replication lag.
        match self
            .call_lagging(
                Method::PUT,
                &format!("secrets/{}", self.name),
                Some(body),
                Some(being_recovered),
            )
            .await?
        {
            Ok(_) => Ok(()),
            Err(f) if f.reason.as_deref() == Some("ObjectIsDeletedButRecoverable") => {
                Err(Error::refused(format!(
                    "{}: the secret was soft-deleted since plan",
                    f.into_error().message
                ))
                .with_hint("run the command again: mailreg recovers its own soft-deleted secrets"))
            }
            Err(f) => Err(Self::hint(f.into_error())),
        }
    }

    async fn delete(&self, _observed: &Observed, purge: bool) -> Result<()> {
        self.call_absent_ok(Method::DELETE, &format!("secrets/{}", self.name))
            .await?;
        if purge {
            self.call_absent_ok(Method::DELETE, &format!("deletedsecrets/{}", self.name))
                .await?;
        }
        Ok(())
    }
}
/// Key Vault's answer to a write while a recovery of the same secret is still running.
fn being_recovered(f: &Failure) -> bool {
    f.status == 409 && f.inner_code.as_deref() == Some("ObjectIsBeingRecovered")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_during_a_recovery_is_waited_out_and_nothing_else_is() {
        let answer = |inner: &str| {
            let body = json!({"error": {
                "code": "Conflict",
                "message": "Secret outlook-test is currently being recovered.",
                "innererror": {"code": inner},
            }});
            Failure::parse(
                409,
                &reqwest::header::HeaderMap::new(),
                body.to_string().as_bytes(),
            )
        };
        let recovering = answer("ObjectIsBeingRecovered");
        assert_eq!(recovering.code.as_deref(), Some("Conflict"));
        assert_eq!(
            recovering.inner_code.as_deref(),
            Some("ObjectIsBeingRecovered")
        );
        assert!(being_recovered(&recovering));
        assert!(!being_recovered(&answer("ObjectIsDeletedButRecoverable")));
    }
}
