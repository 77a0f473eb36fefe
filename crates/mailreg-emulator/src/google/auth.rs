//! Google OAuth token endpoint, the GCE metadata server, and authentication of API calls.

use super::*;

impl GoogleState {
    // -----------------------------------------------------------------------------------------
    // OAuth token endpoint (ref §4.2, §5.2)
    // -----------------------------------------------------------------------------------------

    pub(super) fn token_endpoint(&mut self, req: &EmuRequest, now: OffsetDateTime) -> EmuResponse {
        if req.method != "POST" {
            return oauth_error(405, "invalid_request", "Method not allowed.");
        }
        // google-cloud-auth sends JSON (ref §5.2 probe); everything else sends a form (ref §4.2).
        let is_json = req
            .header("content-type")
            .is_some_and(|c| c.to_ascii_lowercase().contains("json"))
            || req.body.trim_ascii_start().starts_with(b"{");
        let mut params: Vec<(String, String)> = if is_json {
            match req.json() {
                Some(Value::Object(m)) => m
                    .into_iter()
                    .filter_map(|(k, v)| v.as_str().map(|s| (k, s.to_owned())))
                    .collect(),
                _ => return oauth_error(400, "invalid_request", "Invalid JSON payload received."),
            }
        } else {
            req.form()
        };
        // client_secret_basic is accepted too (inferred from RFC 6749 §2.3.1).
        if let Some(basic) = req
            .header("authorization")
            .and_then(|a| a.strip_prefix("Basic "))
            .and_then(|b| STANDARD.decode(b.trim()).ok())
            .and_then(|b| String::from_utf8(b).ok())
            && let Some((id, secret)) = basic.split_once(':')
        {
            params.push(("client_id".into(), id.to_owned()));
            params.push(("client_secret".into(), secret.to_owned()));
        }
        let get = |k: &str| {
            params
                .iter()
                .find(|(key, v)| key == k && !v.is_empty())
                .map(|(_, v)| v.as_str())
        };
        let Some(grant_type) = get("grant_type") else {
            return oauth_error(
                400,
                "invalid_request",
                "Missing required parameter: grant_type",
            );
        };
        if grant_type != "refresh_token" {
            return oauth_error(
                400,
                "unsupported_grant_type",
                &format!("Invalid grant_type: {grant_type}"),
            );
        }
        let Some(client_id) = get("client_id") else {
            return oauth_error(
                400,
                "invalid_request",
                "Could not determine client ID from request.",
            );
        };
        let same_client: Vec<&GooglePrincipal> = self
            .config
            .principals
            .iter()
            .filter(|p| p.client_id == client_id)
            .collect();
        if same_client.is_empty() {
            return oauth_error(401, "invalid_client", "The OAuth client was not found.");
        }
        let secret = get("client_secret").unwrap_or("");
        if !same_client.iter().any(|p| p.client_secret == secret) {
            // Wrong secret for a known client (inferred message).
            return oauth_error(401, "invalid_client", "Unauthorized");
        }
        let Some(refresh_token) = get("refresh_token") else {
            return oauth_error(
                400,
                "invalid_request",
                "Missing required parameter: refresh_token",
            );
        };
        let Some(principal) = same_client
            .iter()
            .find(|p| p.client_secret == secret && p.refresh_token == refresh_token)
        else {
            return oauth_error(400, "invalid_grant", "Bad Request");
        };
        let caller = Caller::User(principal.email.clone());
        let access_token = self.issue_token(caller, now);
        no_store(EmuResponse::json(
            200,
            &json!({
                "access_token": access_token,
                "expires_in": TOKEN_LIFETIME_SECS,
                "scope": CLOUD_PLATFORM_SCOPE,
                "token_type": "Bearer",
            }),
        ))
    }

    // -----------------------------------------------------------------------------------------
    // Metadata server (ref §5.1 step 3; paths as google-cloud-auth's mds uses them)
    // -----------------------------------------------------------------------------------------

    pub(super) fn metadata_server(&mut self, req: &EmuRequest, now: OffsetDateTime) -> EmuResponse {
        if req.header("metadata-flavor") != Some("Google") {
            // Real server answers an HTML 403 page (inferred wording).
            return text(
                403,
                "text/html; charset=UTF-8",
                &format!(
                    "Your client does not have permission to get URL {} from this server. Missing Metadata-Flavor:Google header.",
                    req.path
                ),
            );
        }
        if req.method != "GET" {
            return metadata_text(405, "Method not allowed");
        }
        let rest = req
            .path
            .strip_prefix("/computeMetadata/v1/")
            .unwrap_or_default();
        let account = rest
            .strip_prefix("instance/service-accounts/")
            .and_then(|r| r.split_once('/'))
            .filter(|(acct, _)| *acct == "default" || *acct == METADATA_SERVICE_ACCOUNT);
        match (account, rest) {
            (Some((_, "token")), _) => {
                let token =
                    self.issue_token(Caller::ServiceAccount(METADATA_SERVICE_ACCOUNT.into()), now);
                EmuResponse::json(
                    200,
                    &json!({
                        "access_token": token,
                        "expires_in": TOKEN_LIFETIME_SECS,
                        "token_type": "Bearer",
                    }),
                )
                .with_header("metadata-flavor", "Google")
            }
            (Some((_, "email")), _) => metadata_text(200, METADATA_SERVICE_ACCOUNT),
            (_, "project/project-id") => metadata_text(200, METADATA_PROJECT_ID),
            (_, "universe/universe-domain") => metadata_text(200, "googleapis.com"),
            _ => metadata_text(404, "Not Found"),
        }
    }

    // -----------------------------------------------------------------------------------------
    // Authentication of /v3 and /v1 calls
    // -----------------------------------------------------------------------------------------

    pub(super) fn authenticate(
        &self,
        req: &EmuRequest,
        now: OffsetDateTime,
    ) -> Result<Caller, EmuResponse> {
        let token = req
            .bearer()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(unauthenticated)?;
        if let Some(t) = self.tokens.get(token) {
            return if !t.revoked && now < t.expires_at {
                Ok(t.caller.clone())
            } else {
                Err(unauthenticated())
            };
        }
        // google-cloud-auth's self-signed service-account JWT (ref §5.2): payload only, no
        // signature check.
        if token.starts_with("eyJ") {
            let parts: Vec<&str> = token.split('.').collect();
            if parts.len() == 3 {
                let claims = URL_SAFE_NO_PAD
                    .decode(parts[1].trim_end_matches('='))
                    .ok()
                    .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
                if let Some(claims) = claims {
                    let expired = claims
                        .get("exp")
                        .and_then(Value::as_i64)
                        .is_some_and(|exp| exp <= now.unix_timestamp());
                    let who = ["sub", "iss"]
                        .iter()
                        .filter_map(|k| claims.get(*k).and_then(Value::as_str))
                        .find(|s| !s.is_empty());
                    if let (false, Some(who)) = (expired, who) {
                        return Ok(Caller::ServiceAccount(who.to_owned()));
                    }
                }
            }
        }
        Err(unauthenticated())
    }

    /// `X-Goog-User-Project` naming a project created through this API that lacks the called
    /// API is refused with SERVICE_DISABLED (ref §1 error shape, §2 peers' warning; inferred).
    pub(super) fn check_user_project(
        &self,
        req: &EmuRequest,
        service: &str,
    ) -> Result<(), EmuResponse> {
        let Some(user_project) = req.header("x-goog-user-project") else {
            return Ok(());
        };
        match self
            .projects
            .iter()
            .find(|p| p.via_api && p.matches_key(user_project))
        {
            Some(p) if !p.services.contains(service) => Err(service_disabled(p.number, service)),
            _ => Ok(()),
        }
    }

    pub(super) fn find_project(&self, key: &str) -> Option<usize> {
        let key = key.strip_prefix("projects/").unwrap_or(key);
        self.projects.iter().position(|p| p.matches_key(key))
    }
}
