//! Exchange Online's admin REST endpoint, the one the ExchangeOnlineManagement PowerShell module
//! itself calls: `POST {exchange}/adminapi/beta/{tenantId}/InvokeCommand` with a cmdlet name and
//! its parameters (reference/exchange-admin.md). Used by the mailbox readiness checks for
//! `Get-CASMailbox`, `Get-TransportConfig` and `Set-CASMailbox`.
//!
//! The endpoint is not documented as a public API, so the client is tolerant: unknown fields
//! are ignored, and error texts are taken from wherever the answer puts the most specific one.
//! Tokens come from the same credential chain as Graph's, for the Exchange resource.

use reqwest::Method;
use serde_json::{Value, json};
use tokio::sync::OnceCell;
use url::Url;

use super::auth::GraphAuth;
use crate::error::{Error, Result};
use crate::http::{Http, Request, Safety, env_url};
use crate::spec::Cloud;

/// Exchange Online's host per cloud: the API base and the token resource.
pub fn default_url(cloud: Cloud) -> &'static str {
    match cloud {
        Cloud::Global => "https://outlook.office365.com",
        Cloud::Usgov => "https://outlook.office365.us",
        Cloud::UsgovDod => "https://webmail.apps.mil",
        Cloud::China => "https://partner.outlook.cn",
    }
}

/// At most this many pages of one cmdlet's output are followed.
const MAX_PAGES: usize = 20;

/// Why a cmdlet could not run. `status` 401/403 mean mailreg's identity lacks the permission
/// or the role; the message is the endpoint's most specific text.
#[derive(Clone, Debug)]
pub struct Refusal {
    pub status: u16,
    pub message: String,
}

#[derive(Clone)]
pub struct Exchange {
    http: Http,
    base: Url,
    scope: String,
    tenant: String,
    auth: GraphAuth,
    token: std::sync::Arc<OnceCell<String>>,
}

impl Exchange {
    /// `MAILREG_EXCHANGE_URL` overrides the cloud's host (the emulator, a proxy).
    pub fn new(http: &Http, cloud: Cloud, tenant: &str, auth: GraphAuth) -> Result<Exchange> {
        let host = default_url(cloud);
        Ok(Exchange {
            http: http.clone(),
            base: env_url("MAILREG_EXCHANGE_URL", host)?,
            scope: format!("{host}/.default"),
            tenant: tenant.to_owned(),
            auth,
            token: Default::default(),
        })
    }

    async fn token(&self) -> Result<String> {
        self.token
            .get_or_try_init(|| self.auth.token_for(&self.scope))
            .await
            .cloned()
    }

    /// Runs a cmdlet; `Ok(Err(refusal))` when the endpoint answers with an error (no role, no
    /// permission, an unknown mailbox), `Err` when it cannot be reached or signed in to.
    /// `anchor` routes the call (`UPN:<mailbox>` for per-mailbox cmdlets). Reads are safe to
    /// repeat; `Set-CASMailbox` sets absolute values, so it is too.
    pub async fn invoke(
        &self,
        cmdlet: &str,
        parameters: Value,
        anchor: Option<&str>,
    ) -> Result<std::result::Result<Vec<Value>, Refusal>> {
        self.invoke_as(cmdlet, parameters, anchor, Safety::Idempotent)
            .await
    }

    /// As [`Exchange::invoke`], for a cmdlet that must not be repeated blindly
    /// (`New-ServicePrincipal`): `Safety::NotIdempotent` retries only what provably did not run.
    pub async fn invoke_as(
        &self,
        cmdlet: &str,
        parameters: Value,
        anchor: Option<&str>,
        safety: Safety,
    ) -> Result<std::result::Result<Vec<Value>, Refusal>> {
        let token = self.token().await?;
        // The path wants the tenant's ID; the token names it (`tid`), the spec may give a domain.
        let tenant = tenant_of(&token).unwrap_or_else(|| self.tenant.clone());
        let base = self.base.as_str().trim_end_matches('/');
        let url = Url::parse(&format!("{base}/adminapi/beta/{tenant}/InvokeCommand"))
            .map_err(|e| Error::bad_input(format!("MAILREG_EXCHANGE_URL: {e}")))?;
        let anchor = anchor.map(str::to_owned).unwrap_or_else(|| {
            format!("APP:SystemMailbox{{bb558c35-97f1-4cb9-8ff7-d53741dc928c}}@{tenant}")
        });
        let body = json!({"CmdletInput": {"CmdletName": cmdlet, "Parameters": parameters}});
        let mut out = Vec::new();
        let mut next = Some(url);
        let mut pages = 0;
        while let Some(url) = next.take() {
            pages += 1;
            let req = Request::new(Method::POST, url)
                .json(body.clone())
                .header("x-anchormailbox", &anchor)
                .safety(safety)
                .bearer(&token);
            let resp = self.http.send_raw(req).await?;
            if resp.status >= 400 {
                return Ok(Err(Refusal {
                    status: resp.status,
                    message: error_text(&resp.body)
                        .unwrap_or_else(|| format!("HTTP {}", resp.status)),
                }));
            }
            let page: Value = resp.json()?;
            if let Some(values) = page.get("value").and_then(Value::as_array) {
                out.extend(values.iter().cloned());
            }
            if pages < MAX_PAGES
                && let Some(link) = page.get("@odata.nextLink").and_then(Value::as_str)
                && let Ok(link) = Url::parse(link)
            {
                // Rebased on the configured host, as Graph's links are.
                let mut rebased = self.base.clone();
                rebased.set_path(link.path());
                rebased.set_query(link.query());
                next = Some(rebased);
            }
        }
        Ok(Ok(out))
    }
}

/// The most specific error text: `details[0].message`, else the inner exception's, else the
/// top-level message (reference: where the endpoint puts what).
fn error_text(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let e = v.get("error")?;
    let text = e
        .pointer("/details/0/message")
        .or_else(|| e.pointer("/innererror/internalException/message"))
        .or_else(|| e.get("message"))
        .and_then(Value::as_str)?;
    Some(text.chars().take(500).collect())
}

/// The `tid` claim of a JWT access token, read without verifying it: only to address the call.
fn tenant_of(token: &str) -> Option<String> {
    let claims = crate::jwt::unverified_claims(token)?;
    let tid = claims.get("tid")?.as_str()?;
    (tid.len() <= 64
        && tid
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.'))
    .then(|| tid.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    #[test]
    fn the_most_specific_error_text_wins() {
        let body = br#"{"error":{"code":"NotFound","message":"Error executing cmdlet","details":[{"message":"object 'x' couldn't be found"}],"innererror":{"internalException":{"message":"inner"}}}}"#;
        assert_eq!(error_text(body).unwrap(), "object 'x' couldn't be found");
        let body = br#"{"error":{"code":"X","message":"top","innererror":{"internalException":{"message":"inner"}}}}"#;
        assert_eq!(error_text(body).unwrap(), "inner");
        assert_eq!(
            error_text(br#"{"error":{"message":"top"}}"#).unwrap(),
            "top"
        );
        assert_eq!(error_text(b"<html>"), None);
    }

    #[test]
    fn the_tenant_comes_from_the_token() {
        let e = |v: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        let t = format!(
            "{}.{}.sig",
            e("{}"),
            e(r#"{"tid":"5f3b6c2e-8d1a-4e7b-9c40-2a6f1d3e8b75"}"#)
        );
        assert_eq!(
            tenant_of(&t).unwrap(),
            "5f3b6c2e-8d1a-4e7b-9c40-2a6f1d3e8b75"
        );
        let t = format!("{}.{}.sig", e("{}"), e(r#"{"tid":"a/b"}"#));
        assert_eq!(tenant_of(&t), None);
        assert_eq!(tenant_of("opaque"), None);
    }
}
