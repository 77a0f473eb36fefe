//! A user's sign-in with an app mailreg registered: the authorization-code flow with PKCE, the
//! refresh grant, and the tokens the mail responder ([`crate::mail`]) accepts. This lets
//! `mailreg verify` and `mailreg up` run end to end offline.
//!
//! The authorize endpoint is a *rehearsal mailbox*: nobody types a password. When the request is
//! one Entra would accept (a registered app, one of its web redirect URIs, a `login_hint` naming
//! a user of the directory), it answers at once with the redirect that carries the code, as
//! Entra does after a person signs in and consents. Loopback redirect URIs match on any port,
//! as Entra matches `http://localhost` (RFC 8252 §7.3).
//!
//! INFERRED: the HTML of the error page (Entra shows its own page with the AADSTS code), and the
//! exact claim set of the delegated access token.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::Digest as _;
use time::{Duration, OffsetDateTime};

use super::GraphState;
use crate::wire::{EmuRequest, EmuResponse};

/// How long a code and an access token live (Entra: codes about 10 minutes, tokens about 1 h).
const CODE_LIFE: Duration = Duration::minutes(10);
const TOKEN_LIFE: Duration = Duration::hours(1);

/// The audience of Exchange Online's delegated mail scopes.
pub const MAIL_AUDIENCE: &str = "https://outlook.office.com";

#[derive(Default)]
pub(super) struct SignIn {
    /// Secret values as `addPassword` returned them: (appId, keyId, value). A secret is valid
    /// while its keyId is still on the app.
    secrets: Vec<(String, String, String)>,
    codes: HashMap<String, Code>,
    refresh: HashMap<String, Grant>,
    tokens: HashMap<String, MailToken>,
}

struct Code {
    grant: Grant,
    redirect_uri: String,
    challenge: String,
    expires_at: OffsetDateTime,
}

/// Who signed in to which app for what: what a code, a device code or a refresh token stands for.
#[derive(Clone)]
pub(super) struct Grant {
    pub(super) app_id: String,
    pub(super) user: String,
    pub(super) scopes: Vec<String>,
}

/// What a mail token the emulator issued stands for.
#[derive(Clone, Debug, PartialEq)]
pub struct MailToken {
    /// The user the token was issued to (its `upn`).
    pub user: String,
    /// The client it was issued to.
    pub app_id: String,
    /// Scopes without the resource prefix: `IMAP.AccessAsUser.All`, `SMTP.Send`, …
    pub scopes: Vec<String>,
    pub expires_at: OffsetDateTime,
}

/// `/{tenant}/oauth2/v2.0/authorize`.
pub(super) fn authorize_path(path: &str) -> bool {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    matches!(segs.as_slice(), [t, a, b, c] if !t.is_empty()
        && a.eq_ignore_ascii_case("oauth2")
        && b.eq_ignore_ascii_case("v2.0")
        && c.eq_ignore_ascii_case("authorize"))
}

/// Whether `asked` is `registered`, or both are loopback http URIs differing only in the port.
fn redirect_matches(registered: &str, asked: &str) -> bool {
    if registered == asked {
        return true;
    }
    let (Ok(r), Ok(a)) = (url::Url::parse(registered), url::Url::parse(asked)) else {
        return false;
    };
    let loopback = |u: &url::Url| {
        u.scheme() == "http" && matches!(u.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"))
    };
    loopback(&r) && loopback(&a) && r.host_str() == a.host_str() && r.path() == a.path()
}

/// `IMAP.AccessAsUser.All` from `https://outlook.office.com/IMAP.AccessAsUser.All`.
fn short_scope(s: &str) -> String {
    s.rsplit('/').next().unwrap_or(s).to_owned()
}

fn error_page(code: u32, text: &str) -> EmuResponse {
    EmuResponse {
        status: 400,
        headers: vec![("content-type".into(), "text/html; charset=utf-8".into())],
        body: format!("<html><body><h1>Sign in</h1><p>AADSTS{code}: {text}</p></body></html>")
            .into_bytes(),
    }
}

impl GraphState {
    /// Remembers a secret value `addPassword` handed out, for the code and refresh grants.
    pub(super) fn remember_secret(&mut self, app_id: &str, key_id: &str, secret: &str) {
        self.signin
            .secrets
            .push((app_id.into(), key_id.into(), secret.into()));
    }

    /// The app's registration (live) by appId.
    pub(super) fn app_by_app_id(&self, app_id: &str) -> Option<&serde_json::Map<String, Value>> {
        self.apps.iter().map(|r| &r.body).find(|b| {
            b["appId"]
                .as_str()
                .is_some_and(|a| a.eq_ignore_ascii_case(app_id))
        })
    }

    /// `GET /{tenant}/oauth2/v2.0/authorize`: the rehearsal sign-in (see the module doc).
    pub(super) fn authorize(&mut self, req: &EmuRequest, now: OffsetDateTime) -> EmuResponse {
        let q = |k: &str| {
            req.query
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let (client_id, redirect_uri, hint) = (q("client_id"), q("redirect_uri"), q("login_hint"));
        let Some(app) = self.app_by_app_id(&client_id) else {
            return error_page(
                700016,
                &format!(
                    "Application with identifier '{client_id}' was not found in the directory."
                ),
            );
        };
        let registered: Vec<String> = app["web"]["redirectUris"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|u| u.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        if !registered
            .iter()
            .any(|r| redirect_matches(r, &redirect_uri))
        {
            return error_page(
                50011,
                &format!(
                    "The redirect URI '{redirect_uri}' specified in the request does not match the redirect URIs configured for the application '{client_id}'."
                ),
            );
        }
        let redirect = |pairs: &[(&str, &str)]| {
            let mut u = url::Url::parse(&redirect_uri).expect("checked above");
            u.query_pairs_mut().extend_pairs(pairs);
            EmuResponse {
                status: 302,
                headers: vec![("location".into(), u.to_string())],
                body: Vec::new(),
            }
        };
        let state = q("state");
        if q("response_type") != "code"
            || q("code_challenge").is_empty()
            || q("code_challenge_method") != "S256"
        {
            return redirect(&[
                ("error", "invalid_request"),
                (
                    "error_description",
                    "AADSTS900144: code flow with PKCE (S256) expected",
                ),
                ("state", &state),
            ]);
        }
        if !self.has_user(&hint) {
            return error_page(
                50034,
                &format!("The user account {hint} does not exist in the directory."),
            );
        }
        let code = format!("0.emu-code.{}", self.secret_text());
        self.signin.codes.insert(
            code.clone(),
            Code {
                grant: Grant {
                    app_id: client_id,
                    user: hint,
                    scopes: q("scope").split_whitespace().map(str::to_owned).collect(),
                },
                redirect_uri: redirect_uri.clone(),
                challenge: q("code_challenge"),
                expires_at: now + CODE_LIFE,
            },
        );
        redirect(&[("code", &code), ("state", &state)])
    }

    /// Whether `secret` is a value `addPassword` handed out for the app and still on it.
    pub(super) fn secret_valid(&self, client_id: &str, secret: Option<&str>) -> bool {
        let Some(app) = self.app_by_app_id(client_id) else {
            return false;
        };
        let keys: Vec<String> = app["passwordCredentials"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|c| c["keyId"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        secret.is_some_and(|s| {
            self.signin
                .secrets
                .iter()
                .any(|(a, k, v)| a.eq_ignore_ascii_case(client_id) && keys.contains(k) && v == s)
        })
    }

    /// The authorization-code and refresh grants at the token endpoint: the answer's body, or
    /// (status, error, AADSTS code, text) for the endpoint's error shape.
    pub(super) fn user_grant(
        &mut self,
        grant_type: &str,
        field: &dyn Fn(&str) -> Option<String>,
        basic: Option<&(String, String)>,
        now: OffsetDateTime,
    ) -> Result<Value, (u16, &'static str, u32, String)> {
        let client_id = field("client_id")
            .or_else(|| basic.map(|b| b.0.clone()))
            .unwrap_or_default();
        let secret = field("client_secret").or_else(|| basic.map(|b| b.1.clone()));
        if self.app_by_app_id(&client_id).is_none() {
            return Err((
                400,
                "unauthorized_client",
                700016,
                format!(
                    "Application with identifier '{client_id}' was not found in the directory."
                ),
            ));
        }
        if !self.secret_valid(&client_id, secret.as_deref()) {
            return Err((
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.".into(),
            ));
        }
        let grant = match grant_type {
            "authorization_code" => {
                let code = field("code").unwrap_or_default();
                let Some(c) = self.signin.codes.remove(&code) else {
                    return Err((
                        400,
                        "invalid_grant",
                        70008,
                        "The provided authorization code or refresh token has expired due to inactivity or has already been redeemed.".into(),
                    ));
                };
                let verifier = field("code_verifier").unwrap_or_default();
                let challenge = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
                if challenge != c.challenge {
                    return Err((
                        400,
                        "invalid_grant",
                        501481,
                        "The Code_Verifier does not match the code_challenge supplied in the authorization request.".into(),
                    ));
                }
                if c.expires_at <= now
                    || !c.grant.app_id.eq_ignore_ascii_case(&client_id)
                    || field("redirect_uri").is_none_or(|r| !redirect_matches(&c.redirect_uri, &r))
                {
                    return Err((
                        400,
                        "invalid_grant",
                        70008,
                        "The provided authorization code is expired, or was issued for another client or redirect URI.".into(),
                    ));
                }
                c.grant
            }
            _ => {
                let rt = field("refresh_token").unwrap_or_default();
                match self.signin.refresh.remove(&rt) {
                    Some(g) if g.app_id.eq_ignore_ascii_case(&client_id) => g,
                    _ => {
                        return Err((
                            400,
                            "invalid_grant",
                            70000,
                            "The provided grant is invalid or malformed.".into(),
                        ));
                    }
                }
            }
        };
        Ok(self.issue(grant, now))
    }

    /// Mints an access token (and a refresh token with `offline_access`) for a grant: the code
    /// flow's and the device flow's answers are the same.
    pub(super) fn issue(&mut self, grant: Grant, now: OffsetDateTime) -> Value {
        let scopes: Vec<String> = grant
            .scopes
            .iter()
            .filter(|s| {
                !matches!(
                    s.as_str(),
                    "offline_access" | "openid" | "profile" | "email"
                )
            })
            .map(|s| short_scope(s))
            .collect();
        let tid = self.config.tenant_id.clone();
        let iat = now.unix_timestamp();
        let claims = json!({
            "aud": MAIL_AUDIENCE,
            "iss": format!("https://sts.windows.net/{tid}/"),
            "iat": iat,
            "nbf": iat,
            "exp": iat + TOKEN_LIFE.whole_seconds(),
            "appid": grant.app_id,
            "upn": grant.user,
            "preferred_username": grant.user,
            "scp": scopes.join(" "),
            "tid": tid,
            "ver": "1.0",
        });
        let header = json!({"typ": "JWT", "alg": "RS256", "kid": "emulator-signin"});
        let access = format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string()),
            URL_SAFE_NO_PAD.encode(self.secret_text())
        );
        self.signin.tokens.insert(
            access.clone(),
            MailToken {
                user: grant.user.clone(),
                app_id: grant.app_id.clone(),
                scopes,
                expires_at: now + TOKEN_LIFE,
            },
        );
        let mut body = json!({
            "token_type": "Bearer",
            "scope": grant.scopes.join(" "),
            "expires_in": TOKEN_LIFE.whole_seconds(),
            "ext_expires_in": TOKEN_LIFE.whole_seconds(),
            "access_token": access,
        });
        if grant.scopes.iter().any(|s| s == "offline_access") {
            let rt = format!("0.emu-refresh.{}", self.secret_text());
            self.signin.refresh.insert(rt.clone(), grant);
            body["refresh_token"] = json!(rt);
        }
        body
    }

    /// The user token behind `token`, when the emulator issued it and it has not expired.
    pub fn mail_token(&self, token: &str, now: OffsetDateTime) -> Option<MailToken> {
        self.signin
            .tokens
            .get(token)
            .filter(|t| t.expires_at > now)
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_redirects_match_on_any_port_and_others_exactly() {
        assert!(redirect_matches(
            "http://localhost/cb",
            "http://localhost:53117/cb"
        ));
        assert!(redirect_matches(
            "http://127.0.0.1:8400/",
            "http://127.0.0.1:9/"
        ));
        assert!(!redirect_matches(
            "http://localhost/cb",
            "http://localhost:1/other"
        ));
        assert!(!redirect_matches(
            "https://app.example.com/cb",
            "https://app.example.com:444/cb"
        ));
        assert!(redirect_matches(
            "https://app.example.com/cb",
            "https://app.example.com/cb"
        ));
        assert_eq!(
            short_scope("https://outlook.office.com/SMTP.Send"),
            "SMTP.Send"
        );
    }
}
