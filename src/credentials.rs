//! The credentials model and the local store.
//!
//! mailreg keeps no copy of cloud state; it keeps only what the clouds never show again (the
//! Microsoft secret Value, later the Google client secret) plus what outputs need to render
//! without a network call. The store ([`Store`]) keeps one JSON file per spec name and
//! environment; its only way to change a file is [`Store::update`]. The secret type never prints
//! its value through `Debug` or `Display`.

mod hygiene;
mod store;

use std::collections::BTreeMap;
use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;

pub use hygiene::warn_if_git_would_track;
pub(crate) use store::open_lock_file;
pub use store::{Store, lock_timeout, write_private};

/// A secret value. `Debug`/`Display` show `[redacted]`; only [`SecretValue::expose`] reveals it.
#[derive(Clone)]
pub struct SecretValue(SecretString);

impl SecretValue {
    pub fn new(s: impl Into<String>) -> Self {
        SecretValue(SecretString::from(s.into()))
    }
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Serialize for SecretValue {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.expose())
    }
}

impl<'de> Deserialize<'de> for SecretValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        String::deserialize(d).map(SecretValue::new)
    }
}

/// `abc…(hidden)`: enough to recognise a secret (Graph's own `hint` is its first three
/// characters), not to use it.
pub fn mask(secret: &str) -> String {
    let head: String = secret.chars().take(3).collect();
    format!("{head}…(hidden)")
}

/// A Microsoft client secret mailreg created and holds the Value of.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SecretRecord {
    pub key_id: String,
    pub value: SecretValue,
    #[serde(with = "time::serde::rfc3339")]
    pub expires: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
}

/// What the mailbox needs from the Microsoft registration.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MicrosoftCredentials {
    /// `delegated` (a person signs in, refresh tokens) or `app` (client credentials).
    #[serde(default)]
    pub access: crate::spec::Access,
    pub tenant: String,
    pub object_id: String,
    pub client_id: String,
    pub audience: String,
    pub authorize_url: String,
    pub token_url: String,
    /// Scopes as a mailbox requests them (`https://outlook.office.com/IMAP.AccessAsUser.All`, …).
    pub scopes: Vec<String>,
    pub redirect_uris: Vec<String>,
    pub secret: Option<SecretRecord>,
    /// Refresh tokens kept by `verify --keep-refresh-token`, per mailbox (the user signed in).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub refresh_tokens: BTreeMap<String, SecretValue>,
    /// App access: the object ID of the app's service principal (its enterprise application),
    /// the identity Exchange grants mailbox rights to. Written by the app-role resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_principal_id: Option<String>,
    /// App access: the mailbox rights mailreg gave that service principal in Exchange, so a
    /// mailbox taken out of the spec has its rights removed (and only those).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub mailbox_grants: BTreeMap<String, Vec<crate::spec::Right>>,
}

/// A Google Web OAuth client, imported from the console's download (or pasted).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GoogleClient {
    pub client_id: String,
    pub client_secret: SecretValue,
    /// The redirect URIs registered on the client (from the downloaded JSON, or the spec's
    /// when pasted).
    pub redirect_uris: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub imported: OffsetDateTime,
}

/// What the mailbox needs from the Google project.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GoogleCredentials {
    pub project_id: String,
    #[serde(default)]
    pub project_number: Option<String>,
    pub authorize_url: String,
    pub token_url: String,
    pub scopes: Vec<String>,
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub client: Option<GoogleClient>,
    /// Refresh tokens kept by `verify --keep-refresh-token`, per mailbox (the user signed in).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub refresh_tokens: BTreeMap<String, SecretValue>,
    /// Set by `destroy`: the project is pending deletion (restorable for 30 days). The client is
    /// kept meanwhile, since `google undelete` brings it back with the project, but nothing
    /// renders it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub deleting: Option<OffsetDateTime>,
}

impl MicrosoftCredentials {
    /// Keeps the refresh tokens (and the service principal's ID) of `old` when they belong to
    /// the same client: apply rewrites the record, and must not drop what `verify
    /// --keep-refresh-token` or the app-role resource stored.
    pub fn carrying_tokens(mut self, old: Option<&MicrosoftCredentials>) -> Self {
        if let Some(o) = old.filter(|o| o.client_id == self.client_id) {
            self.refresh_tokens = o.refresh_tokens.clone();
            if self.service_principal_id.is_none() {
                self.service_principal_id = o.service_principal_id.clone();
                self.mailbox_grants = o.mailbox_grants.clone();
            }
        }
        self
    }
}

impl GoogleCredentials {
    /// As [`MicrosoftCredentials::carrying_tokens`]: kept while the OAuth client is the same.
    pub fn carrying_tokens(mut self, old: Option<&GoogleCredentials>) -> Self {
        let id = |g: &GoogleCredentials| g.client.as_ref().map(|c| c.client_id.clone());
        if let Some(o) = old.filter(|o| id(o).is_some() && id(o) == id(&self)) {
            self.refresh_tokens = o.refresh_tokens.clone();
        }
        self
    }
}

/// One file of the store.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Record {
    pub version: u32,
    pub name: String,
    pub env: String,
    #[serde(default)]
    pub microsoft: Option<MicrosoftCredentials>,
    #[serde(default)]
    pub google: Option<GoogleCredentials>,
}

impl Record {
    pub fn is_empty(&self) -> bool {
        self.microsoft.is_none() && self.google.is_none()
    }

    pub fn new(name: &str, env: &str) -> Self {
        Record {
            version: 1,
            name: name.to_owned(),
            env: env.to_owned(),
            microsoft: None,
            google: None,
        }
    }
}

/// Google credentials with one imported client, for unit tests.
#[cfg(test)]
pub(crate) fn google_fixture(client: &str) -> GoogleCredentials {
    GoogleCredentials {
        project_id: "p".into(),
        project_number: None,
        authorize_url: "a".into(),
        token_url: "t".into(),
        scopes: vec![],
        redirect_uris: vec![],
        client: Some(GoogleClient {
            client_id: client.into(),
            client_secret: SecretValue::new("s"),
            redirect_uris: vec![],
            imported: OffsetDateTime::UNIX_EPOCH,
        }),
        refresh_tokens: BTreeMap::new(),
        deleting: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_in_debug_and_kept_in_json() {
        let s = SecretValue::new("canary-value-123");
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"canary-value-123\"");
    }

    #[test]
    fn refresh_tokens_survive_a_rewrite_for_the_same_client_only() {
        let creds = |client: &str, token: Option<&str>| {
            let mut g = google_fixture(client);
            if let Some(t) = token {
                g.refresh_tokens
                    .insert("u@example.com".to_owned(), SecretValue::new(t));
            }
            g
        };
        let old = creds("c1", Some("rt"));
        let kept = creds("c1", None).carrying_tokens(Some(&old));
        assert_eq!(kept.refresh_tokens["u@example.com"].expose(), "rt");
        let dropped = creds("c2", None).carrying_tokens(Some(&old));
        assert!(dropped.refresh_tokens.is_empty());
    }

    #[test]
    fn store_round_trip_with_private_mode() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::at(dir.path().join(".mailreg"));
        assert!(store.load("a", "test").unwrap().is_none());
        let mut rec = Record::new("a", "test");
        rec.microsoft = Some(MicrosoftCredentials {
            access: Default::default(),
            service_principal_id: None,
            mailbox_grants: Default::default(),
            tenant: "t".into(),
            object_id: "o".into(),
            client_id: "c".into(),
            audience: "AzureADMyOrg".into(),
            authorize_url: "u".into(),
            token_url: "v".into(),
            scopes: vec![],
            redirect_uris: vec![],
            refresh_tokens: Default::default(),
            secret: Some(SecretRecord {
                key_id: "k".into(),
                value: SecretValue::new("v"),
                expires: OffsetDateTime::UNIX_EPOCH,
                created: OffsetDateTime::UNIX_EPOCH,
            }),
        });
        store.update("a", "test", |r| *r = rec.clone()).unwrap();
        let path = store.path("a", "test");
        let back = store.load("a", "test").unwrap().unwrap();
        assert_eq!(back.microsoft.unwrap().secret.unwrap().value.expose(), "v");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
            let dmode = std::fs::metadata(path.parent().unwrap())
                .unwrap()
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(dmode, 0o700);
        }
        std::fs::write(&path, "{\"version\": 1,\n \"name\": ").unwrap();
        let err = store.load("a", "test").unwrap_err();
        assert!(
            err.message
                .contains("a.test.json:2:9: the credentials file is damaged"),
            "{}",
            err.message
        );
    }
}
