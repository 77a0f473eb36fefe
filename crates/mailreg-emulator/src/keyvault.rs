//! A fake Azure Key Vault data plane (secrets only), one vault per emulator.
//!
//! Wire shapes follow the public REST reference (api-version 7.x): `SecretBundle`,
//! `DeletedSecretBundle`, and errors as `{"error":{"code","message","innererror":{"code"}}}`.
//! Tokens are the emulator directory's, for the `https://vault.azure.net` resource (or a
//! national cloud's); without one the answer is 401 with the `WWW-Authenticate` challenge that
//! real vaults send. Soft delete is on, as on every vault since 2020: a deleted secret keeps its
//! name until it is recovered or purged, and a PUT to that name answers 409
//! `ObjectIsDeletedButRecoverable`. Recovery is immediate here (real vaults take seconds).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::wire::{EmuRequest, EmuResponse};

/// The vault audiences the emulator accepts (global and national clouds).
const AUDIENCES: [&str; 3] = [
    "https://vault.azure.net",
    "https://vault.usgovcloudapi.net",
    "https://vault.azure.cn",
];

/// Knobs of the Key Vault fake.
#[derive(Clone, Debug)]
pub struct KeyVaultConfig {
    /// The vault's own URL, used in ids (`{vault}/secrets/{name}/{version}`).
    pub vault_url: String,
    /// The caller has no role on the vault: every call answers 403 `ForbiddenByRbac`.
    pub forbidden: bool,
    /// The caller may read but not write (no `Set` permission / "Key Vault Secrets User" only):
    /// PUT, DELETE and recover answer 403 `ForbiddenByRbac`.
    pub read_only: bool,
}

impl Default for KeyVaultConfig {
    fn default() -> Self {
        KeyVaultConfig {
            vault_url: "https://emulator.vault.azure.net".into(),
            forbidden: false,
            read_only: false,
        }
    }
}

#[derive(Clone, Debug)]
struct Version {
    id: String,
    value: String,
    content_type: Option<String>,
    enabled: bool,
    exp: Option<i64>,
    created: i64,
    tags: Map<String, Value>,
}

#[derive(Clone, Debug, Default)]
struct Secret {
    versions: Vec<Version>,
    deleted: Option<i64>,
}

pub struct KeyVaultState {
    config: KeyVaultConfig,
    rng: fastrand::Rng,
    secrets: BTreeMap<String, Secret>,
}

type Answer = Result<EmuResponse, EmuResponse>;

fn error(status: u16, code: &str, message: &str, inner: Option<&str>) -> EmuResponse {
    let mut e = json!({"code": code, "message": message});
    if let Some(inner) = inner {
        e["innererror"] = json!({"code": inner});
    }
    EmuResponse::json(status, &json!({"error": e}))
}

fn unauthorized(message: &str) -> EmuResponse {
    error(401, "Unauthorized", message, None).with_header(
        "www-authenticate",
        "Bearer authorization=\"https://login.microsoftonline.com/00000000-0000-0000-0000-000000000001\", resource=\"https://vault.azure.net\"",
    )
}

fn valid_name(name: &str) -> bool {
    (1..=127).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

impl KeyVaultState {
    pub fn new(config: KeyVaultConfig) -> Self {
        KeyVaultState {
            config,
            rng: fastrand::Rng::with_seed(7),
            secrets: BTreeMap::new(),
        }
    }

    pub fn config_mut(&mut self) -> &mut KeyVaultConfig {
        &mut self.config
    }

    /// Handles `/secrets/…` and `/deletedsecrets/…`; `None` for other paths. `audience` is the
    /// audience of the request's bearer token when the emulator's directory issued it.
    pub fn handle(
        &mut self,
        req: &EmuRequest,
        audience: Option<String>,
        now: OffsetDateTime,
    ) -> Option<EmuResponse> {
        let segs: Vec<&str> = req.path.trim_matches('/').split('/').collect();
        if !matches!(segs.first(), Some(&"secrets") | Some(&"deletedsecrets")) {
            return None;
        }
        Some(
            self.route(req, &segs, audience, now.unix_timestamp())
                .unwrap_or_else(|e| e),
        )
    }

    fn route(
        &mut self,
        req: &EmuRequest,
        segs: &[&str],
        audience: Option<String>,
        now: i64,
    ) -> Answer {
        if req.bearer().is_none() {
            return Err(unauthorized(
                "AKV10000: Request is missing a Bearer or PoP token.",
            ));
        }
        match audience {
            None => {
                return Err(unauthorized(
                    "AKV10032: Invalid issuer or the token has expired.",
                ));
            }
            Some(aud) if !AUDIENCES.contains(&aud.as_str()) => {
                return Err(unauthorized(&format!(
                    "AKV10022: Invalid audience. Expected https://vault.azure.net, found: {aud}."
                )));
            }
            Some(_) => {}
        }
        if req.query_param("api-version").is_none_or(str::is_empty) {
            return Err(error(
                400,
                "BadParameter",
                "The request URI contains an invalid or missing api-version.",
                None,
            ));
        }
        let write = req.method != "GET";
        if self.config.forbidden || (write && self.config.read_only) {
            let action = if write { "setSecret" } else { "getSecret" };
            return Err(error(
                403,
                "Forbidden",
                &format!(
                    "Caller is not authorized to perform action on resource.\r\nIf role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\r\nAction: 'Microsoft.KeyVault/vaults/secrets/{action}/action'\r\nAssignment: (not found)\r\nDecisionReason: 'DeniedWithNoValidRBAC'\r\n"
                ),
                Some("ForbiddenByRbac"),
            ));
        }
        let name = segs.get(1).copied().unwrap_or_default();
        if !valid_name(name) {
            return Err(error(
                400,
                "BadParameter",
                &format!("The request URI contains an invalid name: {name}"),
                None,
            ));
        }
        match (req.method.as_str(), segs[0], &segs[2..]) {
            ("GET", "secrets", []) => self.get(name, None),
            ("GET", "secrets", [version]) => self.get(name, Some(version)),
            ("PUT", "secrets", []) => self.set(req, name, now),
            ("DELETE", "secrets", []) => self.delete(name, now),
            ("GET", "deletedsecrets", []) => {
                let s = self.deleted(name)?;
                Ok(EmuResponse::json(200, &self.deleted_bundle(name, s)))
            }
            ("POST", "deletedsecrets", ["recover"]) => {
                self.deleted(name)?;
                let s = self.secrets.get_mut(name).expect("found above");
                s.deleted = None;
                let latest = s.versions.last().cloned().expect("secrets have versions");
                Ok(EmuResponse::json(200, &self.bundle(name, &latest, false)))
            }
            ("DELETE", "deletedsecrets", []) => {
                self.deleted(name)?;
                self.secrets.remove(name);
                Ok(EmuResponse::empty(204))
            }
            _ => Err(error(
                405,
                "MethodNotAllowed",
                &format!("{} is not supported on {}", req.method, req.path),
                None,
            )),
        }
    }

    fn not_found(name: &str) -> EmuResponse {
        error(
            404,
            "SecretNotFound",
            &format!(
                "A secret with (name/id) {name} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182"
            ),
            None,
        )
    }

    fn live(&self, name: &str) -> Result<&Secret, EmuResponse> {
        self.secrets
            .get(name)
            .filter(|s| s.deleted.is_none())
            .ok_or_else(|| Self::not_found(name))
    }

    fn deleted(&self, name: &str) -> Result<&Secret, EmuResponse> {
        self.secrets
            .get(name)
            .filter(|s| s.deleted.is_some())
            .ok_or_else(|| {
                error(
                    404,
                    "SecretNotFound",
                    &format!("Deleted Secret not found: {name}"),
                    None,
                )
            })
    }

    fn get(&self, name: &str, version: Option<&str>) -> Answer {
        let s = self.live(name)?;
        let v = match version {
            None | Some("") => s.versions.last(),
            Some(id) => s.versions.iter().find(|v| v.id == id),
        }
        .ok_or_else(|| Self::not_found(name))?;
        if !v.enabled {
            return Err(error(
                403,
                "Forbidden",
                "Operation get is not allowed on a disabled secret.",
                Some("SecretDisabled"),
            ));
        }
        Ok(EmuResponse::json(200, &self.bundle(name, v, true)))
    }

    fn set(&mut self, req: &EmuRequest, name: &str, now: i64) -> Answer {
        if self.secrets.get(name).is_some_and(|s| s.deleted.is_some()) {
            return Err(error(
                409,
                "Conflict",
                &format!(
                    "Secret {name} is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the secret can only be recovered or purged."
                ),
                Some("ObjectIsDeletedButRecoverable"),
            ));
        }
        let body = req.json().unwrap_or(Value::Null);
        let Some(value) = body.get("value").and_then(Value::as_str) else {
            return Err(error(
                400,
                "BadParameter",
                "Property value is required.",
                None,
            ));
        };
        if value.len() > 25 * 1024 {
            return Err(error(
                400,
                "BadParameter",
                "Secret value is larger than the maximum of 25 KB.",
                None,
            ));
        }
        let attrs = body.get("attributes");
        let bytes = self.rng.u128(..).to_le_bytes();
        let id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let version = Version {
            id,
            value: value.to_owned(),
            content_type: body
                .get("contentType")
                .and_then(Value::as_str)
                .map(str::to_owned),
            enabled: attrs
                .and_then(|a| a.get("enabled"))
                .and_then(Value::as_bool)
                .unwrap_or(true),
            exp: attrs.and_then(|a| a.get("exp")).and_then(Value::as_i64),
            created: now,
            tags: body
                .get("tags")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
        };
        let s = self.secrets.entry(name.to_owned()).or_default();
        s.versions.push(version.clone());
        Ok(EmuResponse::json(200, &self.bundle(name, &version, true)))
    }

    fn delete(&mut self, name: &str, now: i64) -> Answer {
        self.live(name)?;
        let s = self.secrets.get_mut(name).expect("found above");
        s.deleted = Some(now);
        let s = self.secrets.get(name).expect("found above");
        Ok(EmuResponse::json(200, &self.deleted_bundle(name, s)))
    }

    fn bundle(&self, name: &str, v: &Version, with_value: bool) -> Value {
        let mut attributes = json!({
            "enabled": v.enabled,
            "created": v.created,
            "updated": v.created,
            "recoveryLevel": "Recoverable+Purgeable",
            "recoverableDays": 90,
        });
        if let Some(exp) = v.exp {
            attributes["exp"] = json!(exp);
        }
        let mut out = json!({
            "id": format!("{}/secrets/{name}/{}", self.config.vault_url, v.id),
            "attributes": attributes,
            "tags": v.tags,
        });
        if with_value {
            out["value"] = json!(v.value);
        }
        if let Some(ct) = &v.content_type {
            out["contentType"] = json!(ct);
        }
        out
    }

    fn deleted_bundle(&self, name: &str, s: &Secret) -> Value {
        let latest = s.versions.last().expect("secrets have versions");
        let mut out = self.bundle(name, latest, false);
        let deleted = s.deleted.unwrap_or_default();
        out["recoveryId"] = json!(format!("{}/deletedsecrets/{name}", self.config.vault_url));
        out["deletedDate"] = json!(deleted);
        out["scheduledPurgeDate"] = json!(deleted + 90 * 86_400);
        out
    }

    /// Every secret: name, deleted or not, and its versions (value, tags, attributes), oldest
    /// first, for tests.
    pub fn secrets(&self) -> Vec<Value> {
        self.secrets
            .iter()
            .map(|(name, s)| {
                let versions: Vec<Value> = s
                    .versions
                    .iter()
                    .map(|v| self.bundle(name, v, true))
                    .collect();
                json!({"name": name, "deleted": s.deleted.is_some(), "versions": versions})
            })
            .collect()
    }

    /// Removes a secret with all its versions, as a purge by its owner does.
    pub fn purge(&mut self, name: &str) {
        self.secrets.remove(name);
    }

    /// Seeds a secret version directly (someone else's secret, or one soft-deleted already).
    pub fn insert(&mut self, name: &str, value: &str, tags: Value, deleted: bool) {
        let s = self.secrets.entry(name.to_owned()).or_default();
        s.versions.push(Version {
            id: format!("seeded{}", s.versions.len()),
            value: value.to_owned(),
            content_type: None,
            enabled: true,
            exp: None,
            created: 0,
            tags: tags.as_object().cloned().unwrap_or_default(),
        });
        s.deleted = deleted.then_some(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: OffsetDateTime = time::macros::datetime!(2026-11-28 20:00 UTC);

    fn req(method: &str, path: &str, body: Option<Value>) -> EmuRequest {
        EmuRequest {
            method: method.into(),
            path: path.into(),
            query: vec![("api-version".into(), "7.5".into())],
            headers: vec![("authorization".into(), "Bearer t".into())],
            body: body.map(|b| b.to_string().into_bytes()).unwrap_or_default(),
        }
    }

    fn call(kv: &mut KeyVaultState, r: EmuRequest) -> (u16, Value) {
        let resp = kv
            .handle(&r, Some("https://vault.azure.net".into()), NOW)
            .expect("vault path");
        (resp.status, resp.body_json().unwrap_or(Value::Null))
    }

    #[test]
    fn tokens_are_checked_with_the_vault_challenge() {
        let mut kv = KeyVaultState::new(KeyVaultConfig::default());
        let mut r = req("GET", "/secrets/a", None);
        r.headers.clear();
        let resp = kv.handle(&r, None, NOW).unwrap();
        assert_eq!(resp.status, 401);
        assert!(
            resp.headers.iter().any(|(k, v)| k == "www-authenticate"
                && v.contains("resource=\"https://vault.azure.net\""))
        );
        let resp = kv
            .handle(
                &req("GET", "/secrets/a", None),
                Some("https://graph.microsoft.com".into()),
                NOW,
            )
            .unwrap();
        assert_eq!(
            resp.body_json().unwrap()["error"]["message"],
            "AKV10022: Invalid audience. Expected https://vault.azure.net, found: https://graph.microsoft.com."
        );
        assert!(
            kv.handle(&req("GET", "/v1.0/applications", None), None, NOW)
                .is_none()
        );
    }

    #[test]
    fn set_get_soft_delete_conflict_recover_purge() {
        let mut kv = KeyVaultState::new(KeyVaultConfig::default());
        let body = json!({"value": "v1", "contentType": "application/json",
            "attributes": {"enabled": true, "exp": 1_900_000_000}, "tags": {"managed-by": "mailreg"}});
        let (status, set) = call(&mut kv, req("PUT", "/secrets/mail", Some(body.clone())));
        assert_eq!(status, 200);
        assert!(
            set["id"]
                .as_str()
                .unwrap()
                .starts_with("https://emulator.vault.azure.net/secrets/mail/")
        );
        assert_eq!(set["attributes"]["exp"], 1_900_000_000);
        assert_eq!(set["attributes"]["recoveryLevel"], "Recoverable+Purgeable");
        let (_, got) = call(&mut kv, req("GET", "/secrets/mail", None));
        assert_eq!(
            (got["value"].clone(), got["contentType"].clone()),
            (json!("v1"), json!("application/json"))
        );
        let (status, deleted) = call(&mut kv, req("DELETE", "/secrets/mail", None));
        assert_eq!(status, 200);
        assert_eq!(
            deleted["recoveryId"],
            "https://emulator.vault.azure.net/deletedsecrets/mail"
        );
        assert_eq!(
            call(&mut kv, req("GET", "/secrets/mail", None)).1["error"]["code"],
            "SecretNotFound"
        );
        let (status, conflict) = call(&mut kv, req("PUT", "/secrets/mail", Some(body.clone())));
        assert_eq!(status, 409);
        assert_eq!(
            conflict,
            json!({"error": {"code": "Conflict", "message": "Secret mail is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the secret can only be recovered or purged.", "innererror": {"code": "ObjectIsDeletedButRecoverable"}}})
        );
        let (status, recovered) = call(&mut kv, req("POST", "/deletedsecrets/mail/recover", None));
        assert_eq!(status, 200);
        assert!(
            recovered.get("value").is_none(),
            "a recovery answer has no value"
        );
        assert_eq!(call(&mut kv, req("GET", "/secrets/mail", None)).0, 200);
        call(&mut kv, req("DELETE", "/secrets/mail", None));
        assert_eq!(
            call(&mut kv, req("DELETE", "/deletedsecrets/mail", None)).0,
            204
        );
        assert_eq!(
            call(&mut kv, req("PUT", "/secrets/mail", Some(body))).0,
            200
        );
        assert_eq!(call(&mut kv, req("GET", "/secrets/bad_name", None)).0, 400);
        let mut no_version = req("GET", "/secrets/mail", None);
        no_version.query.clear();
        assert_eq!(call(&mut kv, no_version).0, 400);
        kv.config_mut().forbidden = true;
        let (status, e) = call(&mut kv, req("GET", "/secrets/mail", None));
        assert_eq!(
            (status, e["error"]["innererror"]["code"].clone()),
            (403, json!("ForbiddenByRbac"))
        );
    }
}
