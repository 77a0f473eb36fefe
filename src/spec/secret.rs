//! `[[secret]]`: where a provider's credentials are delivered besides the local store — an
//! OpenBao / HashiCorp Vault KV v2 path, an Azure Key Vault secret, or a Google Secret Manager
//! secret. Checked here so that a bad destination stops the run before any request.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::{Problem, Provider, SpecBody, valid_project_id};

/// The fields a store can hold, in the order they are listed (the `json` output's names).
pub const FIELDS: &[&str] = &[
    "provider",
    "name",
    "env",
    "tenant",
    "project_id",
    "client_id",
    "client_secret",
    "secret_expires",
    "auth_url",
    "token_url",
    "scope",
    "redirect_uri",
];

fn default_mount() -> String {
    "secret".into()
}

/// An OpenBao / Vault KV version 2 secret: `{mount}/data/{path}`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct VaultDest {
    /// The KV v2 mount (default `secret`).
    #[serde(default = "default_mount")]
    pub mount: String,
    /// The secret's path under the mount, e.g. `mailreg/{env}/outlook`.
    pub path: String,
    /// Vault Enterprise / OpenBao namespace (default: `VAULT_NAMESPACE`, else none).
    #[serde(default)]
    pub namespace: Option<String>,
}

/// An Azure Key Vault secret.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct KeyVaultDest {
    /// The vault, e.g. `https://myvault.vault.azure.net`.
    pub url: String,
    /// The secret's name: 1-127 letters, digits and hyphens.
    pub name: String,
}

/// A Google Secret Manager secret.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SecretManagerDest {
    /// The project that holds the secret (ID or number).
    pub project: String,
    /// The secret ID: 1-255 letters, digits, hyphens and underscores.
    pub secret: String,
}

/// One `[[secret]]` entry: whose credentials, and exactly one destination.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SecretSpec {
    pub provider: Provider,
    #[serde(default)]
    pub vault: Option<VaultDest>,
    #[serde(default)]
    pub key_vault: Option<KeyVaultDest>,
    #[serde(default)]
    pub secret_manager: Option<SecretManagerDest>,
    /// Which fields to store (default: all of [`FIELDS`] that the provider has).
    #[serde(default)]
    pub fields: Vec<String>,
}

impl SecretSpec {
    /// A key that is equal for two entries aiming at the same place.
    pub fn destination_key(&self) -> Option<String> {
        if let Some(v) = &self.vault {
            let ns = v.namespace.as_deref().unwrap_or("").trim_matches('/');
            return Some(format!(
                "vault {ns}/{}/{}",
                v.mount.trim_matches('/'),
                v.path.trim_matches('/')
            ));
        }
        if let Some(k) = &self.key_vault {
            let host = url::Url::parse(&k.url)
                .ok()
                .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
                .unwrap_or_default();
            // Key Vault names are case-insensitive.
            return Some(format!("key_vault {host}/{}", k.name.to_ascii_lowercase()));
        }
        self.secret_manager
            .as_ref()
            .map(|s| format!("secret_manager {}/{}", s.project, s.secret))
    }
}

/// Path segments: not empty, not `.` or `..`, printable without whitespace.
fn check_segments(value: &str, what: &str) -> Result<(), String> {
    let value = value.trim_matches('/');
    if value.is_empty() {
        return Err(format!("the {what} must not be empty"));
    }
    for seg in value.split('/') {
        if seg.is_empty() {
            return Err(format!("{value:?} has an empty segment (`//`)"));
        }
        if seg == "." || seg == ".." {
            return Err(format!("{value:?}: `{seg}` is not allowed in a {what}"));
        }
        if seg
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "?#%\\+".contains(c))
        {
            return Err(format!(
                "{value:?}: segment {seg:?} may hold letters, digits and -_.@ only"
            ));
        }
    }
    Ok(())
}

pub(super) fn validate(body: &SpecBody, p: &mut Vec<Problem>) {
    let mut seen: Vec<(String, usize)> = Vec::new();
    for (i, s) in body.secrets.iter().enumerate() {
        let at = |f: &str| format!("secret[{i}]{f}");
        let declared = match s.provider {
            Provider::Microsoft => body.microsoft.is_some(),
            Provider::Google => body.google.is_some(),
        };
        if !declared {
            p.push(Problem::new(
                at(".provider"),
                format!(
                    "{:?} is not applied by this spec: add a [{}] section or remove this entry",
                    s.provider.as_str(),
                    s.provider.as_str()
                ),
            ));
        }
        let count = [
            s.vault.is_some(),
            s.key_vault.is_some(),
            s.secret_manager.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if count != 1 {
            p.push(Problem::new(
                at(""),
                "give exactly one destination: vault = {…}, key_vault = {…} or secret_manager = {…}",
            ));
        }
        if let Some(v) = &s.vault {
            if let Err(m) = check_segments(&v.mount, "mount") {
                p.push(Problem::new(at(".vault.mount"), m));
            }
            if let Err(m) = check_segments(&v.path, "path") {
                p.push(Problem::new(at(".vault.path"), m));
            }
            if let Some(ns) = &v.namespace
                && let Err(m) = check_segments(ns, "namespace")
            {
                p.push(Problem::new(at(".vault.namespace"), m));
            }
        }
        if let Some(k) = &s.key_vault {
            match url::Url::parse(&k.url) {
                Ok(u) if u.scheme() == "https" && u.host_str().is_some() && u.path() == "/" => {}
                _ => p.push(Problem::new(
                    at(".key_vault.url"),
                    format!(
                        "{:?} is not a vault URL such as https://myvault.vault.azure.net",
                        k.url
                    ),
                )),
            }
            let ok = (1..=127).contains(&k.name.len())
                && k.name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-');
            if !ok {
                p.push(Problem::new(
                    at(".key_vault.name"),
                    format!(
                        "{:?}: Key Vault secret names are 1-127 letters, digits and hyphens",
                        k.name
                    ),
                ));
            }
        }
        if let Some(sm) = &s.secret_manager {
            let number = !sm.project.is_empty() && sm.project.chars().all(|c| c.is_ascii_digit());
            if !(number || valid_project_id(&sm.project)) {
                p.push(Problem::new(
                    at(".secret_manager.project"),
                    format!("{:?} is not a project ID or number", sm.project),
                ));
            }
            let ok = (1..=255).contains(&sm.secret.len())
                && sm
                    .secret
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !ok {
                p.push(Problem::new(
                    at(".secret_manager.secret"),
                    format!(
                        "{:?}: secret IDs are 1-255 letters, digits, hyphens and underscores",
                        sm.secret
                    ),
                ));
            }
        }
        let mut fields = BTreeSet::new();
        for (j, f) in s.fields.iter().enumerate() {
            if !FIELDS.contains(&f.as_str()) {
                p.push(Problem::new(
                    at(&format!(".fields[{j}]")),
                    format!("unknown field {f:?}; expected one of {}", FIELDS.join(", ")),
                ));
            } else if !fields.insert(f) {
                p.push(Problem::new(
                    at(&format!(".fields[{j}]")),
                    format!("{f:?} is listed twice"),
                ));
            }
        }
        if let Some(key) = s.destination_key() {
            if let Some((_, first)) = seen.iter().find(|(k, _)| *k == key) {
                p.push(Problem::new(
                    at(""),
                    format!("aims at the same destination as secret[{first}] ({key})"),
                ));
            } else {
                seen.push((key, i));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::spec::Spec;

    const BASE: &str = r#"name = "app"

[microsoft]
tenant = "contoso.onmicrosoft.com"
redirect_uris = ["https://a.example.com/cb"]

[[secret]]
provider = "microsoft"
vault = { path = "mailreg/{env}/outlook" }
"#;

    fn err(extra: &str) -> String {
        Spec::parse(Path::new("m.toml"), &format!("{BASE}{extra}"), "test")
            .unwrap_err()
            .message
    }

    #[test]
    fn loads_with_defaults_and_substitution() {
        let s = Spec::parse(Path::new("m.toml"), BASE, "test").unwrap();
        let v = s.secrets[0].vault.as_ref().unwrap();
        assert_eq!(
            (v.mount.as_str(), v.path.as_str()),
            ("secret", "mailreg/test/outlook")
        );
    }

    #[test]
    fn bad_paths_and_duplicates_name_their_line() {
        assert_eq!(
            err("\n[[secret]]\nprovider = \"microsoft\"\nvault = { path = \"a/../b\" }\n"),
            "m.toml:13:18: secret[1].vault.path: \"a/../b\": `..` is not allowed in a path"
        );
        assert_eq!(
            err("\n[[secret]]\nprovider = \"microsoft\"\nvault = { path = \"a//b\" }\n"),
            "m.toml:13:18: secret[1].vault.path: \"a//b\" has an empty segment (`//`)"
        );
        assert_eq!(
            err(
                "\n[[secret]]\nprovider = \"microsoft\"\nvault = { mount = \"secret\", path = \"/mailreg/test/outlook/\" }\n"
            ),
            "m.toml:11:1: secret[1]: aims at the same destination as secret[0] (vault /secret/mailreg/test/outlook)"
        );
        assert_eq!(
            err(
                "\n[[secret]]\nprovider = \"google\"\nkey_vault = { url = \"http://v.example\", name = \"a_b\" }\nfields = [\"client_id\", \"password\"]\n"
            ),
            "m.toml:12:12: secret[1].provider: \"google\" is not applied by this spec: add a [google] section or remove this entry\n\
             m.toml:13:21: secret[1].key_vault.url: \"http://v.example\" is not a vault URL such as https://myvault.vault.azure.net\n\
             m.toml:13:48: secret[1].key_vault.name: \"a_b\": Key Vault secret names are 1-127 letters, digits and hyphens\n\
             m.toml:14:24: secret[1].fields[1]: unknown field \"password\"; expected one of provider, name, env, tenant, project_id, client_id, client_secret, secret_expires, auth_url, token_url, scope, redirect_uri"
        );
        assert_eq!(
            err("\n[[secret]]\nprovider = \"microsoft\"\n"),
            "m.toml:11:1: secret[1]: give exactly one destination: vault = {…}, key_vault = {…} or secret_manager = {…}"
        );
    }
}
