//! Client credentials for an application registered in the emulator (not one of the operator
//! identities): what an app-only mailbox client does. The token's `roles` are the Exchange app
//! roles assigned to the app's service principal, `oid` is that service principal, and the mail
//! responder checks both against Exchange's record of the app and the mailbox's rights.
//!
//! Errors as Entra answers them: AADSTS700016 (no such app), AADSTS7000215 (wrong secret),
//! AADSTS7000229 (no service principal in the tenant; text INFERRED from public threads).

use super::*;

/// What an app-only token stands for, for the mail responder.
#[derive(Clone, Debug)]
pub struct AppMailToken {
    pub app_id: String,
    /// The app's service principal (the token's `oid`).
    pub object_id: String,
    pub roles: Vec<String>,
    pub aud: String,
    pub expires_at: OffsetDateTime,
}

type AadError = (u16, &'static str, u32, String);

impl GraphState {
    /// `Some` when `client_id` is a registered app: the token body, or Entra's error.
    pub(super) fn app_client_credentials(
        &mut self,
        client_id: &str,
        secret: Option<&str>,
        scope: &str,
        now: OffsetDateTime,
    ) -> Option<Result<Value, AadError>> {
        self.app_by_app_id(client_id)?;
        Some(self.app_token(client_id, secret, scope, now))
    }

    fn app_token(
        &mut self,
        client_id: &str,
        secret: Option<&str>,
        scope: &str,
        now: OffsetDateTime,
    ) -> Result<Value, AadError> {
        if !self.secret_valid(client_id, secret) {
            return Err((
                401,
                "invalid_client",
                7000215,
                format!(
                    "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."
                ),
            ));
        }
        let sp = self
            .sps
            .iter()
            .find(|s| s.body["appId"].as_str().is_some_and(|a| a.eq_ignore_ascii_case(client_id)))
            .and_then(|s| s.body["id"].as_str().map(str::to_owned))
            .ok_or_else(|| {
                (400, "invalid_client", 7000229, format!("The client application {client_id} is missing service principal in the tenant {}.", self.config.tenant_id))
            })?;
        let aud = self.scope_resource(scope).ok_or_else(|| {
            (400, "invalid_scope", 1002012, format!("The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."))
        })?;
        let roles = self.exchange_roles_of(&sp);
        let life = self.config.token_lifetime_secs;
        let tid = self.config.tenant_id.clone();
        let iat = now.unix_timestamp();
        let mut payload = json!({
            "aud": aud, "iss": format!("https://sts.windows.net/{tid}/"),
            "iat": iat, "nbf": iat, "exp": iat + life,
            "appid": client_id, "appidacr": "1", "idtyp": "app", "oid": sp, "sub": sp,
            "tid": tid, "uti": self.uuid(), "ver": "1.0",
        });
        if !roles.is_empty() {
            payload["roles"] = json!(roles);
        }
        let header = json!({"typ": "JWT", "alg": "RS256", "kid": "graph-emulator"});
        let token = self.sign_jwt(&header, &payload);
        let expires_at = now + Duration::seconds(life);
        self.app_tokens.insert(
            token.clone(),
            AppMailToken {
                app_id: client_id.to_owned(),
                object_id: sp,
                roles,
                aud,
                expires_at,
            },
        );
        Ok(
            json!({"token_type": "Bearer", "expires_in": life, "ext_expires_in": life, "access_token": token}),
        )
    }

    /// The app-only token behind `token`, when the emulator issued it and it has not expired.
    pub fn app_mail_token(&self, token: &str, now: OffsetDateTime) -> Option<AppMailToken> {
        self.app_tokens
            .get(token)
            .filter(|t| t.expires_at > now)
            .cloned()
    }
}
