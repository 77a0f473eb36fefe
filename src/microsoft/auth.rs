//! How mailreg signs in to Microsoft Entra ID: the standard Azure credential chain.
//!
//! `azure_identity` 1.0 has no `DefaultAzureCredential`, so the chain is composed here, in the
//! usual order: client secret, workload identity (federated token file), managed identity, then
//! the Azure CLI's login. The first one that is *configured* is used and named to the user;
//! `MAILREG_AZURE_AUTH` forces one.
//!
//! All credentials send their token requests through [`Transport`], i.e. through mailreg's one
//! HTTP client (same retries, same request log). `azure_identity` refuses `http://` authorities,
//! so a loopback `MAILREG_LOGIN_URL` (the emulator) is reached by keeping the cloud's real https
//! authority in the credential and rewriting the origin in the transport: the real credential
//! code path runs end to end against the emulator.

use std::sync::{Arc, Mutex};

use azure_core::credentials::{Secret, TokenCredential};
use azure_core::http::{AsyncRawResponse, ClientOptions, HttpClient, StatusCode};
use azure_identity::{
    AzureCliCredential, AzureCliCredentialOptions, ClientSecretCredential,
    ClientSecretCredentialOptions, ManagedIdentityCredential, ManagedIdentityCredentialOptions,
    UserAssignedId, WorkloadIdentityCredential, WorkloadIdentityCredentialOptions,
};
use url::Url;

use super::cloud::Endpoints;
use crate::error::{Error, Result};
use crate::http::{Body, Http, Request, Safety};

/// The Azure Instance Metadata Service: plain http on a link-local address, by design. Allowed
/// for managed identity only.
const IMDS_HOST: &str = "169.254.169.254";

/// What the transport learnt about a failed token request, which azure_identity's own error
/// would lose: a connection that could not be made (not an authentication failure), or the
/// AADSTS code of Entra's answer.
#[derive(Debug)]
enum Stash {
    Transport(Error),
    Aadsts {
        status: u16,
        code: String,
        sentence: String,
    },
}

/// Sends azure_identity's requests through [`Http`], moving the cloud's authority to the
/// configured login URL when they differ.
#[derive(Debug)]
struct Transport {
    http: Http,
    authority: Url,
    login: Url,
    /// Managed identity only: the IMDS address may be reached over plain http.
    imds: bool,
    stash: Arc<Mutex<Option<Stash>>>,
}

impl std::fmt::Debug for Http {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Http")
    }
}

#[async_trait::async_trait]
impl HttpClient for Transport {
    async fn execute_request(
        &self,
        request: &azure_core::http::Request,
    ) -> azure_core::Result<AsyncRawResponse> {
        let mut url = request.url().clone();
        if url.origin() == self.authority.origin() {
            let _ = url.set_scheme(self.login.scheme());
            let _ = url.set_host(self.login.host_str());
            let _ = url.set_port(self.login.port());
        }
        let method = reqwest::Method::from_bytes(request.method().as_ref().as_bytes())
            .unwrap_or(reqwest::Method::POST);
        let imds = self.imds && url.scheme() == "http" && url.host_str() == Some(IMDS_HOST);
        let mut req = Request::new(method, url).safety(Safety::Idempotent);
        req.plain_http_ok = imds;
        for (name, value) in request.headers().iter() {
            if let (Ok(n), Ok(mut v)) = (
                reqwest::header::HeaderName::from_bytes(name.as_str().as_bytes()),
                reqwest::header::HeaderValue::from_str(value.as_str()),
            ) {
                v.set_sensitive(true);
                req.headers.insert(n, v);
            }
        }
        let bytes: bytes::Bytes = request.body().into();
        if !bytes.is_empty() {
            req.body = Body::Raw(bytes.to_vec());
        }
        let resp = match self.http.send_raw(req).await {
            Ok(r) => r,
            Err(e) => {
                let msg = e.message.clone();
                if let Ok(mut s) = self.stash.lock() {
                    *s = Some(Stash::Transport(e));
                }
                return Err(azure_core::Error::with_message(
                    azure_core::error::ErrorKind::Io,
                    msg,
                ));
            }
        };
        if resp.status >= 400
            && let Some((code, sentence)) = super::aadsts::parse(&resp.body)
            && let Ok(mut s) = self.stash.lock()
        {
            *s = Some(Stash::Aadsts {
                status: resp.status,
                code,
                sentence,
            });
        }
        let mut headers = azure_core::http::headers::Headers::new();
        for (k, v) in resp.headers.iter() {
            if let Ok(v) = v.to_str() {
                headers.insert(k.as_str().to_owned(), v.to_owned());
            }
        }
        Ok(AsyncRawResponse::from_bytes(
            StatusCode::from(resp.status),
            headers,
            resp.body,
        ))
    }
}

/// A Graph bearer-token source, with the name of the credential that provides it.
#[derive(Clone)]
pub struct GraphAuth {
    credential: Arc<dyn TokenCredential>,
    pub source: String,
    scope: String,
    stash: Arc<Mutex<Option<Stash>>>,
    /// One token request at a time: concurrent reads (the plan's first round trip) then share
    /// the first one's token from azure_identity's cache instead of each signing in, and the
    /// transport's stash of an error answer belongs to the request that failed. It holds the
    /// failure of a sign-in (per scope), which the requests that waited on it share: the
    /// transport already retried what was worth retrying, so signing in again would only
    /// repeat the failure.
    fetch: Arc<tokio::sync::Mutex<Option<(String, Error)>>>,
    /// Where the spec writes `microsoft.tenant` (`file:line:column`), for the sign-in errors
    /// that blame it (AADSTS90002, tenant not found).
    tenant_at: Option<String>,
}

impl GraphAuth {
    /// Names the spec's `microsoft.tenant` line in the errors that blame it.
    pub fn blaming(mut self, spec: &crate::spec::Spec) -> Self {
        self.tenant_at = Some(spec.field_at("microsoft.tenant"));
        self
    }

    /// Picks the first configured credential. `tenant` is the spec's directory: mailreg always
    /// signs in to the directory it manages.
    pub fn from_env(http: &Http, endpoints: &Endpoints, tenant: &str) -> Result<GraphAuth> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let forced = var("MAILREG_AZURE_AUTH");
        let stash: Arc<Mutex<Option<Stash>>> = Arc::default();
        let fetch: Arc<tokio::sync::Mutex<Option<(String, Error)>>> = Arc::default();
        let options_for = |imds: bool| {
            let mut o = ClientOptions {
                transport: Some(azure_core::http::Transport::new(Arc::new(Transport {
                    http: http.clone(),
                    authority: Url::parse(endpoints.authority)
                        .expect("authority constants are URLs"),
                    login: endpoints.login.clone(),
                    imds,
                    stash: stash.clone(),
                }))),
                ..Default::default()
            };
            // One retry policy for the whole tool: ours, in the transport.
            o.retry = azure_core::http::RetryOptions::none();
            if endpoints.authority != "https://login.microsoftonline.com" {
                let mut custom = azure_core::cloud::CustomConfiguration::default();
                custom.authority_host = endpoints.authority.to_owned();
                o.cloud = Some(Arc::new(custom.into()));
            }
            o
        };
        let options = || options_for(false);
        let fail = |what: &str, e: azure_core::Error| Error::auth(format!("{what}: {e}"));
        let want = |name: &str| forced.as_deref().is_none_or(|f| f == name);
        let scope = format!("{}/.default", endpoints.graph_resource);
        let make = |credential: Arc<dyn TokenCredential>, source: &str| GraphAuth {
            credential,
            source: source.to_owned(),
            scope: scope.clone(),
            stash: stash.clone(),
            fetch: fetch.clone(),
            tenant_at: None,
        };

        if want("client-secret")
            && let (Some(id), Some(secret)) = (var("AZURE_CLIENT_ID"), var("AZURE_CLIENT_SECRET"))
        {
            let cred = ClientSecretCredential::new(
                tenant,
                id,
                Secret::new(secret),
                Some(ClientSecretCredentialOptions {
                    client_options: options(),
                }),
            )
            .map_err(|e| {
                fail(
                    "client secret credential (AZURE_CLIENT_ID, AZURE_CLIENT_SECRET)",
                    e,
                )
            })?;
            return Ok(make(
                cred,
                "client secret (AZURE_CLIENT_ID + AZURE_CLIENT_SECRET)",
            ));
        }
        if want("client-certificate") && var("AZURE_CLIENT_CERTIFICATE_PATH").is_some() {
            return Err(Error::auth(
                "AZURE_CLIENT_CERTIFICATE_PATH is set, but certificate credentials are not supported by this build",
            )
            .with_hint("use a client secret (AZURE_CLIENT_SECRET) or workload identity federation (AZURE_FEDERATED_TOKEN_FILE)"));
        }
        if want("workload-identity")
            && let (Some(id), Some(file)) =
                (var("AZURE_CLIENT_ID"), var("AZURE_FEDERATED_TOKEN_FILE"))
        {
            let mut o = WorkloadIdentityCredentialOptions {
                client_id: Some(id),
                tenant_id: Some(tenant.to_owned()),
                token_file_path: Some(file.into()),
                ..Default::default()
            };
            o.credential_options.client_options = options();
            let cred = WorkloadIdentityCredential::new(Some(o))
                .map_err(|e| fail("workload identity (AZURE_FEDERATED_TOKEN_FILE)", e))?;
            return Ok(make(cred, "workload identity (AZURE_FEDERATED_TOKEN_FILE)"));
        }
        let msi_configured = var("IDENTITY_ENDPOINT").is_some() || var("MSI_ENDPOINT").is_some();
        if (forced.as_deref() == Some("managed-identity")) || (forced.is_none() && msi_configured) {
            if var("MSI_ENDPOINT").is_some() && var("IDENTITY_ENDPOINT").is_none() {
                // Cloud Shell's managed identity (MSI_ENDPOINT alone) is not one that
                // azure_identity 1.0 implements: say so rather than fail obscurely.
                return Err(Error::auth(
                    "MSI_ENDPOINT is set (Azure Cloud Shell's managed identity), which the Azure identity library mailreg uses does not support",
                )
                .with_hint("in Cloud Shell, mailreg uses your `az` login: unset MSI_ENDPOINT or set MAILREG_AZURE_AUTH=azure-cli; elsewhere use AZURE_CLIENT_ID + AZURE_CLIENT_SECRET"));
            }
            let cred = ManagedIdentityCredential::new(Some(ManagedIdentityCredentialOptions {
                user_assigned_id: var("AZURE_CLIENT_ID").map(UserAssignedId::ClientId),
                client_options: options_for(true),
            }))
            .map_err(|e| fail("managed identity", e))?;
            return Ok(make(cred, "managed identity"));
        }
        if want("azure-cli") && (forced.is_some() || which("az")) {
            let cred = AzureCliCredential::new(Some(AzureCliCredentialOptions {
                tenant_id: Some(tenant.to_owned()),
                ..Default::default()
            }))
            .map_err(|e| fail("Azure CLI credential", e))?;
            return Ok(make(cred, "Azure CLI login (az)"));
        }
        if let Some(f) = forced {
            return Err(Error::bad_input(format!(
                "MAILREG_AZURE_AUTH={f:?}: expected client-secret, workload-identity, managed-identity or azure-cli, and that credential must be configured"
            )));
        }
        if let Some(id) = var("AZURE_CLIENT_ID") {
            // A client id alone is half a credential: name the halves that would complete it
            // rather than claim nothing is configured.
            return Err(Error::auth(format!(
                "AZURE_CLIENT_ID is set ({id}) but nothing to sign in with it: AZURE_CLIENT_SECRET is not set"
            ))
            .with_hint("set AZURE_CLIENT_SECRET to the client secret's Value, or AZURE_FEDERATED_TOKEN_FILE for workload identity federation (a client certificate, AZURE_CLIENT_CERTIFICATE_PATH, is not supported by this build); or unset AZURE_CLIENT_ID to use `az login`"));
        }
        Err(Error::auth("no Microsoft credential is configured").with_hint(
            "tried, in order: AZURE_CLIENT_ID + AZURE_CLIENT_SECRET (client secret), AZURE_CLIENT_ID + AZURE_FEDERATED_TOKEN_FILE (workload identity), IDENTITY_ENDPOINT / MSI_ENDPOINT (managed identity), and `az` on PATH (run `az login`)",
        ))
    }

    /// The same credential, for another resource (Key Vault: `https://vault.azure.net`).
    pub fn for_resource(&self, resource: &str) -> GraphAuth {
        GraphAuth {
            credential: self.credential.clone(),
            source: self.source.clone(),
            scope: format!("{}/.default", resource.trim_end_matches('/')),
            stash: self.stash.clone(),
            fetch: self.fetch.clone(),
            tenant_at: self.tenant_at.clone(),
        }
    }

    /// A Graph access token, cached by azure_identity and refreshed by it before it expires
    /// (so a paced run longer than a token's life keeps working).
    pub async fn token(&self) -> Result<String> {
        self.token_for(&self.scope).await
    }

    /// A token for another resource of the same cloud through the same credential, e.g.
    /// Exchange Online's admin endpoint (`https://outlook.office365.com/.default`).
    pub async fn token_for(&self, scope: &str) -> Result<String> {
        let mut failed = self.fetch.lock().await;
        if let Some((s, e)) = failed.as_ref()
            && s == scope
        {
            return Err(e.duplicate());
        }
        let result = self.credential.get_token(&[scope], None).await;
        let stash = self.stash.lock().ok().and_then(|mut s| s.take());
        match result {
            Ok(token) => Ok(token.token.secret().to_owned()),
            Err(e) => {
                let err = match stash {
                    Some(Stash::Transport(err)) => err,
                    Some(Stash::Aadsts {
                        status,
                        code,
                        sentence,
                    }) => super::aadsts::error(
                        &self.source,
                        status,
                        code,
                        &sentence,
                        self.tenant_at.as_deref(),
                    ),
                    None => Error::auth(format!(
                        "signing in to Microsoft Entra ID with {} failed: {}",
                        self.source,
                        first_line(&e.to_string())
                    )),
                };
                *failed = Some((scope.to_owned(), err.duplicate()));
                Err(err)
            }
        }
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

fn which(cmd: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|p| p.join(cmd).is_file()))
}
