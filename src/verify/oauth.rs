//! The OAuth 2.0 side of verify: PKCE (RFC 7636, S256), the authorization URL, the code
//! exchange, the refresh grant, the device grant (RFC 8628), and the client-credentials grant
//! of app-only access (RFC 6749 §4.4). Every call goes through the
//! shared [`Http`] client, whose log never shows bodies: codes, verifiers, secrets and tokens
//! travel only in form bodies and answers.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Method;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use url::Url;

use crate::credentials::SecretValue;
use crate::error::{Error, ErrorKind, Result};
use crate::http::{Http, Request, Safety};

/// A client as the store describes it.
#[derive(Clone, Debug)]
pub struct Client {
    pub client_id: String,
    pub client_secret: Option<SecretValue>,
    pub authorize_url: Url,
    pub token_url: Url,
    pub scopes: Vec<String>,
    /// Provider-specific authorization parameters (Google: `access_type=offline`, `prompt=consent`).
    pub extra: Vec<(String, String)>,
}

/// What the token endpoint answered. `Debug` shows no token.
#[derive(Clone, Debug)]
pub struct Tokens {
    pub access: SecretValue,
    pub refresh: Option<SecretValue>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
}

/// `len` bytes from the operating system's CSPRNG, base64url: PKCE verifiers and `state`.
pub fn random_string(len: usize) -> Result<String> {
    let mut buf = vec![0u8; len];
    getrandom::fill(&mut buf).map_err(|e| {
        Error::internal(format!("no randomness from the system: {e}")).with_source(e)
    })?;
    Ok(URL_SAFE_NO_PAD.encode(buf))
}

/// PKCE S256: `BASE64URL(SHA256(verifier))`.
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// The URL the person opens to sign in.
pub fn authorize_url(
    client: &Client,
    redirect_uri: &str,
    state: &str,
    challenge: &str,
    login_hint: &str,
) -> Url {
    let mut url = client.authorize_url.clone();
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("client_id", &client.client_id)
            .append_pair("response_type", "code")
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", &client.scopes.join(" "))
            .append_pair("state", state)
            .append_pair("code_challenge", challenge)
            .append_pair("code_challenge_method", "S256")
            .append_pair("login_hint", login_hint);
        for (k, v) in &client.extra {
            q.append_pair(k, v);
        }
    }
    url
}

fn base_form(client: &Client, grant_type: &str) -> Vec<(String, String)> {
    let mut form = vec![
        ("grant_type".to_owned(), grant_type.to_owned()),
        ("client_id".to_owned(), client.client_id.clone()),
    ];
    if let Some(s) = &client.client_secret {
        form.push(("client_secret".to_owned(), s.expose().to_owned()));
    }
    form
}

async fn token_call(http: &Http, client: &Client, form: Vec<(String, String)>) -> Result<Tokens> {
    let resp = http
        .send(Request::new(Method::POST, client.token_url.clone()).form(form))
        .await
        .map_err(sign_in_error)?;
    let answer: TokenAnswer = resp.json()?;
    Ok(Tokens {
        access: SecretValue::new(answer.access_token),
        refresh: answer.refresh_token.map(SecretValue::new),
    })
}

/// Exchanges an authorization code (with its PKCE verifier).
pub async fn exchange_code(
    http: &Http,
    client: &Client,
    code: &str,
    redirect_uri: &str,
    verifier: &str,
) -> Result<Tokens> {
    let mut form = base_form(client, "authorization_code");
    form.push(("code".into(), code.into()));
    form.push(("redirect_uri".into(), redirect_uri.into()));
    form.push(("code_verifier".into(), verifier.into()));
    token_call(http, client, form).await
}

/// The refresh grant. `Ok(None)` when the server rejects the refresh token (`invalid_grant`:
/// expired, revoked, rotated away): the caller signs in again.
pub async fn refresh(
    http: &Http,
    client: &Client,
    refresh_token: &SecretValue,
) -> Result<Option<Tokens>> {
    let mut form = base_form(client, "refresh_token");
    form.push(("refresh_token".into(), refresh_token.expose().into()));
    form.push(("scope".into(), client.scopes.join(" ")));
    match token_call(http, client, form).await {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.code.as_deref() == Some("invalid_grant") => {
            // Said once, by the caller, which also forgets the token.
            tracing::debug!(target: "mailreg::verify", "refresh token rejected: {}", e.message);
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// An app-only token and when it should be replaced. `Debug` shows no token.
#[derive(Clone, Debug)]
pub struct AppToken {
    pub access: SecretValue,
    /// The token's lifetime as the server stated it (`expires_in`, seconds).
    pub lifetime: Duration,
}

#[derive(Deserialize)]
struct AppTokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
}

/// The lifetime assumed when the server does not say (Entra always does: 3599 s).
const DEFAULT_APP_LIFETIME: Duration = Duration::from_secs(3000);
/// The longest lifetime believed from a server: a day (Entra's app tokens live 60-90 minutes).
const MAX_APP_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// `expires_in` as sent: a number, or (some servers) a numeric string; bounded either way.
fn app_lifetime(expires_in: Option<&serde_json::Value>) -> Duration {
    let secs = match expires_in {
        Some(serde_json::Value::Number(n)) => n.as_u64(),
        Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    };
    secs.map(Duration::from_secs)
        .unwrap_or(DEFAULT_APP_LIFETIME)
        .min(MAX_APP_LIFETIME)
}

/// How long before its end a token is replaced: five minutes, or half its life when it is
/// shorter than ten, so a login never starts with a token about to lapse mid-handshake.
pub fn renew_after(lifetime: Duration) -> Duration {
    let margin = Duration::from_secs(300).min(lifetime / 2);
    lifetime - margin
}

/// The client-credentials grant: the app signs in as itself with its secret (no person, no
/// refresh token) for the resource's `.default` scope, which carries the app roles an
/// administrator assigned. Safe to retry: the grant changes nothing at the server.
pub async fn client_credentials(http: &Http, client: &Client) -> Result<AppToken> {
    if client.client_secret.is_none() {
        return Err(Error::bad_input(
            "no client secret on record: app access signs in with the application's secret",
        )
        .with_hint("run `mailreg apply` (it stores a new secret)"));
    }
    let mut form = base_form(client, "client_credentials");
    form.push(("scope".into(), client.scopes.join(" ")));
    let resp = http
        .send(
            Request::new(Method::POST, client.token_url.clone())
                .form(form)
                .safety(Safety::Idempotent),
        )
        .await
        .map_err(app_sign_in_error)?;
    let answer: AppTokenAnswer = resp.json()?;
    Ok(AppToken {
        access: SecretValue::new(answer.access_token),
        lifetime: app_lifetime(answer.expires_in.as_ref()),
    })
}

/// A client-credentials failure: what the token endpoint said, and the fix for Entra's
/// well-known answers to an app signing in as itself.
fn app_sign_in_error(mut e: Error) -> Error {
    if e.status.is_none() {
        e.kind = ErrorKind::VerifyFailed;
        e.message = format!("the app sign-in cannot reach its server: {}", e.message);
        return e;
    }
    e.kind = ErrorKind::VerifyFailed;
    let m = e.message.clone();
    let code = e.code.clone().unwrap_or_default();
    // Most specific first: Entra's AADSTS number, then the RFC 6749 code.
    const HINTS: &[(&str, &str)] = &[
        (
            "AADSTS7000215",
            "the client secret on record is not the app's (wrong, or deleted): `mailreg rotate` stores a new one",
        ),
        (
            "AADSTS7000222",
            "the client secret on record has expired: `mailreg rotate` stores a new one",
        ),
        (
            "AADSTS7000229",
            "the app has no service principal (enterprise application) in this tenant, so it cannot sign in as itself: `mailreg apply` creates it",
        ),
        (
            "AADSTS700016",
            "this tenant does not know the application: check microsoft.tenant (app access signs in to the app's own tenant), or run `mailreg apply`",
        ),
        (
            "AADSTS65001",
            "admin consent for the application permissions is missing: `mailreg apply` assigns the app roles (appRoleAssignedTo), or an administrator grants consent (Enterprise applications > the app > Permissions)",
        ),
        (
            "AADSTS1002012",
            "client credentials take only a `.default` scope (https://outlook.office365.com/.default): `mailreg apply` rewrites the record",
        ),
        (
            "AADSTS70011",
            "client credentials take only a `.default` scope (https://outlook.office365.com/.default): `mailreg apply` rewrites the record",
        ),
        (
            "AADSTS90002",
            "the tenant in the token URL does not exist: check microsoft.tenant",
        ),
        (
            "AADSTS7000112",
            "the application is disabled in this tenant: enable its sign-in (Enterprise applications > the app > Properties)",
        ),
    ];
    let hint = HINTS
        .iter()
        .find(|(needle, _)| m.contains(needle))
        .map(|(_, h)| *h)
        .or(match code.as_str() {
            "invalid_client" => Some(
                "the token endpoint refused the app's credentials: `mailreg rotate` stores a new secret",
            ),
            "unauthorized_client" => Some(
                "the application may not use client credentials here: check microsoft.tenant, or run `mailreg apply`",
            ),
            "invalid_scope" => Some(
                "client credentials take only a `.default` scope (https://outlook.office365.com/.default): `mailreg apply` rewrites the record",
            ),
            _ => None,
        });
    e.message = format!("app sign-in (client credentials) failed at the token endpoint: {m}");
    if let Some(h) = hint {
        e.hint = Some(h.into());
    }
    e
}

#[derive(Deserialize)]
struct DeviceAnswer {
    device_code: String,
    user_code: String,
    #[serde(alias = "verification_url")]
    verification_uri: String,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    interval: Option<u64>,
    #[serde(default)]
    expires_in: Option<u64>,
}

/// Longest poll interval and code lifetime accepted from a device endpoint.
const DEVICE_MAX_INTERVAL: Duration = Duration::from_secs(60);
const DEVICE_MAX_EXPIRY: Duration = Duration::from_secs(3600);

/// The poll interval and the code's lifetime. Both come from the server, so they are bounded to
/// what RFC 8628 servers use (Entra and Google send 5 s and 15-30 min): neither a huge nor a zero
/// value is waited on as sent.
fn device_timing(interval: Option<u64>, expires_in: Option<u64>) -> (Duration, Duration) {
    let interval = interval
        .unwrap_or(5)
        .clamp(1, DEVICE_MAX_INTERVAL.as_secs());
    let expiry = expires_in
        .unwrap_or(900)
        .clamp(1, DEVICE_MAX_EXPIRY.as_secs());
    (Duration::from_secs(interval), Duration::from_secs(expiry))
}

/// The device endpoint beside the authorize endpoint (`…/oauth2/v2.0/devicecode`).
pub fn devicecode_url(authorize_url: &Url) -> Result<Url> {
    let s = authorize_url.as_str();
    let base = s.split('?').next().unwrap_or(s);
    let Some(prefix) = base.strip_suffix("/authorize") else {
        return Err(Error::bad_input(format!(
            "--device-code: cannot derive the device endpoint from {base} (expected …/oauth2/v2.0/authorize)"
        )));
    };
    Url::parse(&format!("{prefix}/devicecode"))
        .map_err(|e| Error::bad_input(format!("device endpoint: {e}")))
}

/// The device grant: shows the code to the person (`show`), then polls the token endpoint at the
/// server's `interval`, slowing down by 5 s on `slow_down` (RFC 8628 §3.5).
pub async fn device(http: &Http, client: &Client, show: impl Fn(&str)) -> Result<Tokens> {
    let url = devicecode_url(&client.authorize_url)?;
    let form = vec![
        ("client_id".to_owned(), client.client_id.clone()),
        ("scope".to_owned(), client.scopes.join(" ")),
    ];
    let answer: DeviceAnswer = http
        .send(Request::new(Method::POST, url).form(form))
        .await
        .map_err(|e| device_error(sign_in_error(e), client))?
        .json()?;
    show(&answer.message.clone().unwrap_or_else(|| {
        format!(
            "To sign in, open {} and enter the code {}",
            answer.verification_uri, answer.user_code
        )
    }));
    let (mut interval, budget) = device_timing(answer.interval, answer.expires_in);
    let mut waited = Duration::ZERO;
    let clock = http.clock();
    loop {
        clock.sleep(interval).await;
        waited += interval;
        // The client secret goes along when there is one: mailreg's Entra apps are confidential
        // (web) clients, and Entra accepts the device grant from them with their secret
        // (without it: AADSTS7000218), so no public-client switch has to be opened on the app.
        let mut form = base_form(client, "urn:ietf:params:oauth:grant-type:device_code");
        form.push(("device_code".to_owned(), answer.device_code.clone()));
        let resp = http
            .send_raw(Request::new(Method::POST, client.token_url.clone()).form(form))
            .await
            .map_err(|e| device_error(sign_in_error(e), client))?;
        if resp.status < 400 {
            let t: TokenAnswer = resp.json()?;
            return Ok(Tokens {
                access: SecretValue::new(t.access_token),
                refresh: t.refresh_token.map(SecretValue::new),
            });
        }
        let error = serde_json::from_slice::<serde_json::Value>(&resp.body)
            .ok()
            .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned))
            .unwrap_or_default();
        match error.as_str() {
            "authorization_pending" => {}
            "slow_down" => interval = (interval + Duration::from_secs(5)).min(DEVICE_MAX_INTERVAL),
            "access_denied" | "authorization_declined" => {
                return Err(Error::new(
                    ErrorKind::VerifyFailed,
                    "sign-in declined at the device page",
                ));
            }
            "expired_token" | "code_expired" => {
                return Err(Error::new(
                    ErrorKind::VerifyFailed,
                    "the device code expired before the sign-in finished",
                ));
            }
            _ => {
                let f = crate::http::Failure::parse(resp.status, &resp.headers, &resp.body);
                return Err(device_error(sign_in_error(f.into_error()), client));
            }
        }
        if waited > budget {
            return Err(Error::new(
                ErrorKind::VerifyFailed,
                "the device code expired before the sign-in finished",
            ));
        }
    }
}

/// A device-flow failure: says it was the device flow, and the fix that fits it.
fn device_error(mut e: Error, client: &Client) -> Error {
    let m = e.message.clone();
    let code = e.code.clone().unwrap_or_default();
    e.message = format!("device sign-in (--device-code): {m}");
    if m.contains("AADSTS7000218") {
        e.hint = Some(
            "the app wants a client secret for the device flow and none is on record: run `mailreg apply` (it stores a new secret), or allow public client flows on the app (Authentication, `isFallbackPublicClient`)".into(),
        );
    } else if code == "invalid_client" || m.contains("AADSTS7000215") {
        e.hint = Some(if client.client_secret.is_some() {
            "the token endpoint refused the client secret on record: run `mailreg apply` to store a new one, or sign in without --device-code".into()
        } else {
            "the app is a confidential client and no secret is on record: run `mailreg apply`, or sign in without --device-code".into()
        });
    } else if code == "unauthorized_client" || m.contains("AADSTS70002") {
        e.hint = Some(
            "the app may not use the device flow: allow public client flows on the app (Authentication, `isFallbackPublicClient`), or sign in without --device-code".into(),
        );
    }
    e
}

/// A token-endpoint failure as a verify failure, with what to do for the well-known causes.
fn sign_in_error(mut e: Error) -> Error {
    if e.status.is_none() {
        // Transport: the sign-in cannot reach its server. For `verify` that is a failed
        // verification (6), with the connection's own message and hint.
        e.kind = ErrorKind::VerifyFailed;
        e.message = format!("the sign-in cannot reach its server: {}", e.message);
        return e;
    }
    e.kind = ErrorKind::VerifyFailed;
    let m = e.message.clone();
    let hint = if m.contains("AADSTS65001") || m.contains("consent_required") {
        Some(
            "consent is missing: an administrator must grant consent for the app's permissions (or the user must consent)",
        )
    } else if m.contains("AADSTS7000215") || e.code.as_deref() == Some("invalid_client") {
        Some(
            "the client secret is wrong or expired: run `mailreg apply` (or re-import the Google client)",
        )
    } else if m.contains("AADSTS700016") || e.code.as_deref() == Some("unauthorized_client") {
        Some(
            "the application is unknown to this directory: check the tenant/audience, or run `mailreg apply`",
        )
    } else if m.contains("AADSTS50011") || m.contains("redirect_uri_mismatch") {
        Some("the redirect URI is not registered on the app: add it to the spec and apply")
    } else {
        None
    };
    e.message = format!("sign-in failed at the token endpoint: {m}");
    if let Some(h) = hint {
        e.hint = Some(h.into());
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_matches_rfc7636_appendix_b() {
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn random_strings_are_long_and_distinct() {
        let a = random_string(32).unwrap();
        assert_eq!(a.len(), 43); // RFC 7636: 43..128 characters
        assert_ne!(a, random_string(32).unwrap());
    }

    #[test]
    fn the_authorize_url_carries_pkce_state_and_hint() {
        let c = Client {
            client_id: "cid".into(),
            client_secret: None,
            authorize_url: Url::parse("https://accounts.google.com/o/oauth2/v2/auth").unwrap(),
            token_url: Url::parse("https://oauth2.googleapis.com/token").unwrap(),
            scopes: vec!["https://mail.google.com/".into()],
            extra: vec![
                ("access_type".into(), "offline".into()),
                ("prompt".into(), "consent".into()),
            ],
        };
        let u = authorize_url(&c, "http://127.0.0.1:5000/cb", "st", "ch", "a@b.c");
        let q: std::collections::HashMap<_, _> = u.query_pairs().into_owned().collect();
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["code_challenge"], "ch");
        assert_eq!(q["state"], "st");
        assert_eq!(q["scope"], "https://mail.google.com/");
        assert_eq!(q["access_type"], "offline");
        assert_eq!(q["prompt"], "consent");
        assert_eq!(q["login_hint"], "a@b.c");
        assert_eq!(q["redirect_uri"], "http://127.0.0.1:5000/cb");
    }

    #[test]
    fn the_device_endpoint_sits_beside_authorize() {
        let a =
            Url::parse("https://login.microsoftonline.com/common/oauth2/v2.0/authorize").unwrap();
        assert_eq!(
            devicecode_url(&a).unwrap().as_str(),
            "https://login.microsoftonline.com/common/oauth2/v2.0/devicecode"
        );
        let g = Url::parse("https://accounts.google.com/o/oauth2/v2/auth").unwrap();
        assert!(devicecode_url(&g).is_err());
    }

    #[test]
    fn device_timing_from_the_server_is_bounded() {
        assert_eq!(
            device_timing(Some(u64::MAX), Some(u64::MAX)),
            (Duration::from_secs(60), Duration::from_secs(3600))
        );
        assert_eq!(
            device_timing(Some(0), Some(0)),
            (Duration::from_secs(1), Duration::from_secs(1))
        );
        assert_eq!(
            device_timing(None, None),
            (Duration::from_secs(5), Duration::from_secs(900))
        );
    }

    #[test]
    fn app_token_lifetimes_are_bounded_and_renewed_early() {
        assert_eq!(
            app_lifetime(Some(&serde_json::json!(3599))),
            Duration::from_secs(3599)
        );
        assert_eq!(
            app_lifetime(Some(&serde_json::json!("3599"))),
            Duration::from_secs(3599)
        );
        assert_eq!(app_lifetime(None), DEFAULT_APP_LIFETIME);
        assert_eq!(
            app_lifetime(Some(&serde_json::json!(u64::MAX))),
            MAX_APP_LIFETIME
        );
        assert_eq!(
            renew_after(Duration::from_secs(3599)),
            Duration::from_secs(3299)
        );
        assert_eq!(
            renew_after(Duration::from_secs(60)),
            Duration::from_secs(30)
        );
        assert_eq!(renew_after(Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn client_credential_errors_name_the_fix() {
        let failure = |status: u16, body: &str| {
            app_sign_in_error(
                crate::http::Failure::parse(status, &Default::default(), body.as_bytes())
                    .into_error(),
            )
        };
        let cases = [
            (
                401,
                r#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided."}"#,
                "the client secret on record is not the app's",
            ),
            (
                401,
                r#"{"error":"invalid_client","error_description":"AADSTS7000222: The provided client secret keys are expired."}"#,
                "the client secret on record has expired",
            ),
            (
                400,
                r#"{"error":"invalid_client","error_description":"AADSTS7000229: The client application 1234 is missing service principal in the tenant."}"#,
                "the app has no service principal",
            ),
            (
                400,
                r#"{"error":"unauthorized_client","error_description":"AADSTS700016: Application with identifier 'x' was not found in the directory 'contoso'."}"#,
                "this tenant does not know the application",
            ),
            (
                400,
                r#"{"error":"invalid_grant","error_description":"AADSTS65001: The user or administrator has not consented to use the application."}"#,
                "admin consent for the application permissions is missing",
            ),
            (
                400,
                r#"{"error":"invalid_scope","error_description":"AADSTS1002012: The provided value for scope IMAP.AccessAsApp is not valid."}"#,
                "client credentials take only a `.default` scope",
            ),
            (
                401,
                r#"{"error":"invalid_client","error_description":"client authentication failed"}"#,
                "the token endpoint refused the app's credentials",
            ),
        ];
        for (status, body, hint) in cases {
            let e = failure(status, body);
            assert_eq!(e.kind, ErrorKind::VerifyFailed);
            assert!(
                e.message.starts_with(
                    "app sign-in (client credentials) failed at the token endpoint: HTTP "
                ),
                "{}",
                e.message
            );
            let h = e.hint.unwrap_or_default();
            assert!(h.starts_with(hint), "{body}: {h}");
        }
        let e = failure(
            500,
            r#"{"error":"server_error","error_description":"try later"}"#,
        );
        assert_eq!(e.hint, None);
    }

    #[test]
    fn device_flow_errors_name_the_flow_and_the_fix() {
        let client = |secret: Option<&str>| Client {
            client_id: "c".into(),
            client_secret: secret.map(SecretValue::new),
            authorize_url: Url::parse("https://login.example/t/oauth2/v2.0/authorize").unwrap(),
            token_url: Url::parse("https://login.example/t/oauth2/v2.0/token").unwrap(),
            scopes: vec![],
            extra: vec![],
        };
        let failure = |body: &str| {
            sign_in_error(
                crate::http::Failure::parse(401, &Default::default(), body.as_bytes()).into_error(),
            )
        };
        let e = device_error(
            failure(
                r#"{"error":"invalid_client","error_description":"AADSTS7000218: The request body must contain the following parameter: 'client_assertion' or 'client_secret'."}"#,
            ),
            &client(None),
        );
        assert!(e.message.starts_with("device sign-in (--device-code): sign-in failed at the token endpoint: HTTP 401 invalid_client: AADSTS7000218"), "{}", e.message);
        assert!(e.hint.unwrap().contains("allow public client flows"));
        let e = device_error(
            failure(
                r#"{"error":"invalid_client","error_description":"client authentication failed"}"#,
            ),
            &client(Some("s")),
        );
        assert_eq!(e.kind, ErrorKind::VerifyFailed);
        assert!(
            e.hint
                .unwrap()
                .starts_with("the token endpoint refused the client secret on record")
        );
    }
}
