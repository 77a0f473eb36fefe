//! The Entra token endpoint: client credentials, JWT minting, error answers.

use super::*;

// ---------------------------------------------------------------------------------------------
// Token endpoint
// ---------------------------------------------------------------------------------------------

/// `/{tenant}/oauth2/v2.0/token` → tenant.
pub(super) fn token_path_tenant(path: &str) -> Option<String> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segs.as_slice() {
        [tenant, a, b, c]
            if !tenant.is_empty()
                && a.eq_ignore_ascii_case("oauth2")
                && b.eq_ignore_ascii_case("v2.0")
                && c.eq_ignore_ascii_case("token") =>
        {
            Some((*tenant).to_string())
        }
        _ => None,
    }
}

impl GraphState {
    pub(super) fn token_endpoint(
        &mut self,
        req: &EmuRequest,
        tenant: &str,
        now: OffsetDateTime,
    ) -> EmuResponse {
        let trace_id = self.uuid();
        let correlation_id = match req.header("client-request-id") {
            Some(c) => c.to_string(),
            None => self.uuid(),
        };
        let aad_err = |status: u16, error: &str, code: u32, text: String| {
            aad_error((status, error, code, text), &trace_id, &correlation_id, now)
        };
        let missing = |p: &str| {
            (
                400,
                "invalid_request",
                900144,
                format!("The request body must contain the following parameter: '{p}'."),
            )
        };

        // INFERRED: AADSTS900561 text.
        if req.method != "POST" {
            return aad_err(
                400,
                "invalid_request",
                900561,
                format!(
                    "The endpoint only accepts POST, OPTIONS requests. Received a {} request.",
                    req.method
                ),
            );
        }
        let known_tenant = tenant.eq_ignore_ascii_case(&self.config.tenant_id)
            || tenant.eq_ignore_ascii_case(&self.config.tenant_domain)
            || tenant.eq_ignore_ascii_case("common")
            || tenant.eq_ignore_ascii_case("organizations");
        if !known_tenant {
            return aad_err(
                400,
                "invalid_request",
                90002,
                format!(
                    "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."
                ),
            );
        }
        let form = req.form();
        let field = |name: &str| {
            form.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .filter(|v| !v.is_empty())
        };
        // client_secret_basic is accepted as well as client_secret_post.
        let basic = req
            .header("authorization")
            .and_then(|h| h.strip_prefix("Basic "))
            .and_then(|b| STANDARD.decode(b.trim()).ok())
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| {
                s.split_once(':')
                    .map(|(a, b)| (a.to_string(), b.to_string()))
            });

        let Some(grant_type) = field("grant_type") else {
            let (s, e, c, t) = missing("grant_type");
            return aad_err(s, e, c, t);
        };
        if grant_type == "authorization_code" || grant_type == "refresh_token" {
            // A user's sign-in (signin.rs): `verify` and `up` against the emulator.
            return match self.user_grant(&grant_type, &field, basic.as_ref(), now) {
                Ok(body) => EmuResponse::json(200, &body)
                    .with_header("cache-control", "no-store, no-cache")
                    .with_header("pragma", "no-cache")
                    .with_header("x-ms-request-id", trace_id.clone())
                    .with_header("client-request-id", correlation_id.clone()),
                Err((s, e, c, t)) => aad_err(s, e, c, t),
            };
        }
        if grant_type == super::devicecode::GRANT_TYPE {
            // The device flow's poll (devicecode.rs): `verify --device-code` against the emulator.
            return match self.device_grant(&field, basic.as_ref(), now) {
                Ok(body) => EmuResponse::json(200, &body)
                    .with_header("cache-control", "no-store, no-cache")
                    .with_header("pragma", "no-cache")
                    .with_header("x-ms-request-id", trace_id.clone())
                    .with_header("client-request-id", correlation_id.clone()),
                Err((s, e, c, t)) => aad_err(s, e, c, t),
            };
        }
        if grant_type != "client_credentials" {
            // INFERRED: AADSTS70003 text.
            return aad_err(
                400,
                "unsupported_grant_type",
                70003,
                format!("The app requested an unsupported grant type '{grant_type}'."),
            );
        }
        let Some(client_id) = field("client_id").or_else(|| basic.as_ref().map(|b| b.0.clone()))
        else {
            let (s, e, c, t) = missing("client_id");
            return aad_err(s, e, c, t);
        };
        let Some(scope) = field("scope") else {
            let (s, e, c, t) = missing("scope");
            return aad_err(s, e, c, t);
        };
        let operator = self
            .config
            .principals
            .iter()
            .any(|(id, _)| id.eq_ignore_ascii_case(&client_id));
        if !operator {
            let secret = field("client_secret").or_else(|| basic.as_ref().map(|b| b.1.clone()));
            if let Some(answer) =
                self.app_client_credentials(&client_id, secret.as_deref(), &scope, now)
            {
                return match answer {
                    Ok(body) => EmuResponse::json(200, &body)
                        .with_header("cache-control", "no-store, no-cache")
                        .with_header("x-ms-request-id", trace_id.clone()),
                    Err((s, e, c, t)) => aad_err(s, e, c, t),
                };
            }
        }
        let Some(expected_secret) = self
            .config
            .principals
            .iter()
            .find(|(id, _)| id.eq_ignore_ascii_case(&client_id))
            .map(|(_, s)| s.clone())
        else {
            return aad_err(
                400,
                "unauthorized_client",
                700016,
                format!(
                    "Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
                ),
            );
        };
        let Some(secret) = field("client_secret").or_else(|| basic.as_ref().map(|b| b.1.clone()))
        else {
            // INFERRED: AADSTS7000218 text.
            return aad_err(401, "invalid_client", 7000218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.".into());
        };
        if secret != expected_secret {
            return aad_err(
                401,
                "invalid_client",
                7000215,
                format!(
                    "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."
                ),
            );
        }
        let Some(aud) = self.scope_resource(&scope) else {
            // INFERRED: AADSTS1002012 text.
            return aad_err(
                400,
                "invalid_scope",
                1002012,
                format!(
                    "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
                ),
            );
        };

        let life = self.config.token_lifetime_secs;
        let token = self.mint_jwt(&client_id, &aud, now, life);
        self.tokens.insert(
            token.clone(),
            TokenRec {
                aud,
                not_before: now,
                expires_at: now + Duration::seconds(life),
                expired: false,
            },
        );
        let body = json!({
            "token_type": "Bearer",
            "expires_in": life,
            "ext_expires_in": life,
            "access_token": token,
        });
        EmuResponse::json(200, &body)
            .with_header("cache-control", "no-store, no-cache")
            .with_header("pragma", "no-cache")
            .with_header("x-ms-request-id", trace_id)
            .with_header("client-request-id", correlation_id)
    }

    /// `https://<host>/.default` (or the configured Graph base, or Graph's appId) → audience.
    pub(super) fn scope_resource(&self, scope: &str) -> Option<String> {
        let s = scope.trim();
        if s.contains(char::is_whitespace) {
            return None;
        }
        let res = s.strip_suffix("/.default")?;
        if res == GRAPH_APP_ID || res == self.base() {
            return Some(res.to_string());
        }
        let url = url::Url::parse(res).ok()?;
        let plain = url.scheme() == "https"
            && url.host_str().is_some()
            && url.query().is_none()
            && (url.path() == "/" || url.path().is_empty());
        plain.then(|| res.to_string())
    }

    /// A JWT-shaped opaque token. It never contains the client secret.
    pub(super) fn mint_jwt(
        &mut self,
        client_id: &str,
        aud: &str,
        now: OffsetDateTime,
        life: i64,
    ) -> String {
        let tid = self.config.tenant_id.clone();
        let iat = now.unix_timestamp();
        let uti = self.uuid();
        let header = json!({"typ": "JWT", "alg": "RS256", "kid": "graph-emulator"});
        // INFERRED: claim set of an app-only v1 token; roles are what mailreg needs.
        let payload = json!({
            "aud": aud,
            "iss": format!("https://sts.windows.net/{tid}/"),
            "iat": iat,
            "nbf": iat,
            "exp": iat + life,
            "appid": client_id,
            "appidacr": "1",
            "idtyp": "app",
            "roles": ["Application.ReadWrite.All", "DelegatedPermissionGrant.ReadWrite.All"],
            "tid": tid,
            "uti": uti,
            "ver": "1.0",
        });
        self.sign_jwt(&header, &payload)
    }

    /// A JWT of `header` and `payload` with 32 random bytes for a signature: nothing checks it,
    /// mailreg only reads the claims.
    pub(super) fn sign_jwt(&mut self, header: &Value, payload: &Value) -> String {
        let sig: Vec<u8> = (0..32).map(|_| self.rng.u8(..)).collect();
        format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(payload.to_string()),
            URL_SAFE_NO_PAD.encode(sig)
        )
    }
}

/// The identity platform's JSON error, as the token and device-code endpoints answer it
/// (`error`, `error_description` with the AADSTS code and trace, `error_codes`, …).
pub(super) fn aad_error(
    (status, error, code, text): (u16, &str, u32, String),
    trace_id: &str,
    correlation_id: &str,
    now: OffsetDateTime,
) -> EmuResponse {
    let ts = aad_ts(now);
    let body = json!({
        "error": error,
        "error_description": format!(
            "AADSTS{code}: {text}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {ts}"
        ),
        "error_codes": [code],
        "timestamp": ts,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
    });
    EmuResponse::json(status, &body)
        .with_header("cache-control", "no-store, no-cache")
        .with_header("pragma", "no-cache")
        .with_header("x-ms-request-id", trace_id.to_owned())
        .with_header("client-request-id", correlation_id.to_owned())
}
