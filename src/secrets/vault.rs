//! OpenBao / HashiCorp Vault, KV version 2, over its HTTP API (the two share it).
//!
//! The payload is the secret's key/value map; ownership is `custom_metadata` (`managed-by`,
//! `mailreg-id`), which the data read returns in the same answer, so a no-op is one request.
//! Writes use check-and-set on the version that plan read: a concurrent writer makes the write
//! fail instead of being overwritten. Address, token, namespace and CA come from the standard
//! variables (`VAULT_*`, or OpenBao's `BAO_*`), and `~/.vault-token` as the CLIs do.

use reqwest::Method;
use serde_json::{Value, json};
use url::Url;

use super::{MANAGED_BY, Observed, Payload, Sink, mailreg_id};
use crate::credentials::SecretValue;
use crate::error::{Error, ErrorKind, Result};
use crate::http::{Http, Request, Safety, check_url};
use crate::spec::secret::VaultDest;

fn var(names: &[&str]) -> Option<(String, String)> {
    names.iter().find_map(|n| {
        std::env::var(n)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .map(|v| ((*n).to_owned(), v.trim().to_owned()))
    })
}

pub struct VaultSink {
    http: Http,
    addr: Url,
    token: SecretValue,
    namespace: Option<String>,
    mount: String,
    path: String,
    id: String,
}

impl VaultSink {
    pub fn new(dest: &VaultDest, http: &Http, name: &str, env: &str) -> Result<Self> {
        let (var_name, raw) = var(&["VAULT_ADDR", "BAO_ADDR"]).ok_or_else(|| {
            Error::bad_input("the Vault address is not set").with_hint(
                "set VAULT_ADDR (or BAO_ADDR) to the server, e.g. https://vault.example.com:8200",
            )
        })?;
        let addr = Url::parse(raw.trim_end_matches('/'))
            .map_err(|e| Error::bad_input(format!("{var_name}: {raw:?} is not a URL: {e}")))?;
        check_url(&addr, &var_name)?;
        crate::http::origin::record(&var_name, &addr);
        let token = match var(&["VAULT_TOKEN", "BAO_TOKEN"]) {
            Some((_, t)) => t,
            None => std::env::var_os("HOME")
                .map(|h| std::path::Path::new(&h).join(".vault-token"))
                .and_then(|p| std::fs::read_to_string(p).ok())
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty())
                .ok_or_else(|| {
                    Error::auth("no Vault token: VAULT_TOKEN (or BAO_TOKEN) is not set and ~/.vault-token is missing")
                        .with_hint("log in with `vault login` / `bao login`, or set VAULT_TOKEN")
                })?,
        };
        let mut http = http.clone();
        if let Some((ca_var, ca)) = var(&["VAULT_CACERT", "BAO_CACERT"]) {
            let pem = std::fs::read(&ca)
                .map_err(|e| Error::bad_input(format!("{ca_var}: cannot read {ca}: {e}")))?;
            http = http
                .with_root_certificates(&pem)
                .map_err(|e| e.context(format!("{ca_var} ({ca})")))?;
        }
        let namespace = dest
            .namespace
            .clone()
            .or_else(|| var(&["VAULT_NAMESPACE", "BAO_NAMESPACE"]).map(|(_, v)| v));
        Ok(VaultSink {
            http,
            addr,
            token: SecretValue::new(token),
            namespace,
            mount: dest.mount.trim_matches('/').to_owned(),
            path: dest.path.trim_matches('/').to_owned(),
            id: mailreg_id(name, env),
        })
    }

    fn url(&self, kind: &str) -> Url {
        let base = self.addr.as_str().trim_end_matches('/');
        Url::parse(&format!("{base}/v1/{}/{kind}/{}", self.mount, self.path))
            .expect("validated path segments")
    }

    fn request(&self, method: Method, url: Url) -> Request {
        let mut req = Request::new(method, url);
        if let Ok(mut v) = reqwest::header::HeaderValue::from_str(self.token.expose()) {
            v.set_sensitive(true);
            req.headers.insert("x-vault-token", v);
        }
        match &self.namespace {
            Some(ns) => req.header("x-vault-namespace", ns),
            None => req,
        }
    }

    /// Sends, and turns Vault's `{"errors":[…]}` answers into errors; 404 is `None`.
    async fn call(&self, req: Request) -> Result<Option<Value>> {
        let resp = self.http.send_raw(req).await.map_err(|e| {
            if self.addr.scheme() == "https" && e.status.is_none() && e.message.contains("certificate") {
                e.with_hint("check VAULT_ADDR; if the server's certificate comes from a private CA, set VAULT_CACERT to it")
            } else {
                e
            }
        })?;
        if resp.status == 404 {
            return Ok(None);
        }
        let body: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
        if resp.status < 400 {
            return Ok(Some(body));
        }
        // OpenBao wraps several errors as "1 error occurred:\n\t* permission denied\n\n".
        let errors: Vec<&str> = body
            .get("errors")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .flat_map(str::lines)
            .map(|l| l.trim().trim_start_matches("* "))
            .filter(|l| !l.is_empty() && !l.ends_with("occurred:"))
            .collect();
        let text = if errors.is_empty() {
            "no error text".to_owned()
        } else {
            errors.join("; ")
        };
        let (kind, hint) = match resp.status {
            401 | 403 => (
                ErrorKind::Auth,
                "the token is expired, or its policies do not allow this path: it needs read, create and update on {mount}/data/{path} (and delete on {mount}/metadata/{path} for destroy)",
            ),
            _ => (ErrorKind::Api, ""),
        };
        let mut e = Error::new(kind, format!("HTTP {}: {text}", resp.status));
        e.status = Some(resp.status);
        if !hint.is_empty() {
            e = e.with_hint(
                hint.replace("{mount}", &self.mount)
                    .replace("{path}", &self.path),
            );
        }
        Err(e)
    }

    fn is_ours(&self, metadata: Option<&Value>) -> bool {
        let m = metadata.and_then(|m| m.get("custom_metadata"));
        let get = |k: &str| m.and_then(|m| m.get(k)).and_then(Value::as_str);
        get(MANAGED_BY.0) == Some(MANAGED_BY.1) && get("mailreg-id") == Some(self.id.as_str())
    }
}

#[async_trait::async_trait]
impl Sink for VaultSink {
    fn kind(&self) -> &'static str {
        "vault"
    }

    fn target(&self) -> String {
        format!("{}/{}", self.mount, self.path)
    }

    fn marks(&self) -> String {
        format!(
            "custom_metadata {}={}, mailreg-id={}",
            MANAGED_BY.0, MANAGED_BY.1, self.id
        )
    }

    async fn read(&self) -> Result<Observed> {
        let body = self
            .call(self.request(Method::GET, self.url("data")))
            .await?;
        let Some(body) = body else {
            // Absent, or its latest version deleted: the metadata still says whose it is;
            // `prepare` reads it when a write is planned.
            return Ok(Observed::default());
        };
        let data = body.pointer("/data/data");
        let metadata = body.pointer("/data/metadata");
        Ok(Observed {
            exists: true,
            value: data.and_then(Value::as_object).and_then(Payload::from_map),
            ours: Some(self.is_ours(metadata)),
            version: metadata
                .and_then(|m| m.get("version"))
                .and_then(Value::as_u64)
                .unwrap_or(0),
            ..Default::default()
        })
    }

    async fn prepare(&self, observed: &mut Observed, delete: bool) -> Result<()> {
        if !observed.exists {
            // The path may still hold metadata (all versions deleted): whose is it?
            let meta = self
                .call(self.request(Method::GET, self.url("metadata")))
                .await?;
            if let Some(meta) = meta {
                observed.exists = true;
                observed.ours = Some(self.is_ours(meta.get("data")));
                observed.version = meta
                    .pointer("/data/current_version")
                    .and_then(Value::as_u64)
                    .unwrap_or(0);
            }
        }
        let (path, needed): (String, &[&str]) = if delete {
            (
                format!("{}/metadata/{}", self.mount, self.path),
                &["delete"],
            )
        } else {
            (
                format!("{}/data/{}", self.mount, self.path),
                &["create", "update"],
            )
        };
        let url = Url::parse(&format!(
            "{}/v1/sys/capabilities-self",
            self.addr.as_str().trim_end_matches('/')
        ))
        .expect("constant path");
        let body = self
            .call(
                self.request(Method::POST, url)
                    .json(json!({"paths": [path]}))
                    .safety(Safety::Idempotent),
            )
            .await?
            .unwrap_or(Value::Null);
        let caps: Vec<&str> = body
            .pointer("/data/capabilities")
            .or_else(|| body.get("capabilities"))
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let allowed = caps.contains(&"root")
            || (!caps.contains(&"deny") && needed.iter().all(|n| caps.contains(n)));
        if !allowed {
            return Err(Error::auth(format!(
                "the token may not write here: its capabilities on {path} are [{}], {} needed",
                caps.join(", "),
                needed.join(" and ")
            ))
            .with_hint("grant the token's policy these capabilities on the path"));
        }
        Ok(())
    }

    async fn write(&self, observed: &Observed, value: &Payload) -> Result<()> {
        if !observed.exists || observed.version == 0 {
            // Marks first: a run stopped between the two requests leaves a marked, empty path
            // that the next run recognises as its own.
            self.call(
                self.request(Method::POST, self.url("metadata"))
                    .json(json!({"custom_metadata": {MANAGED_BY.0: MANAGED_BY.1, "mailreg-id": self.id}}))
                    .safety(Safety::Idempotent),
            )
            .await?;
        }
        self.call(
            self.request(Method::POST, self.url("data"))
                .json(json!({"data": value.to_json(), "options": {"cas": observed.version}})),
        )
        .await
        .map_err(|e| {
            if e.status == Some(400) && e.message.contains("check-and-set") {
                Error::refused(format!(
                    "{}: it changed since plan (another writer?)",
                    e.message
                ))
                .with_hint("run the command again")
            } else {
                e
            }
        })?;
        Ok(())
    }

    async fn delete(&self, _observed: &Observed, _purge: bool) -> Result<()> {
        // KV v2 has no recycle bin beyond versions: deleting the metadata removes every version.
        self.call(self.request(Method::DELETE, self.url("metadata")))
            .await?;
        Ok(())
    }
}
