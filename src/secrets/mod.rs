//! Secret stores: the credentials delivered where platforms keep secrets (`[[secret]]`).
//!
//! Each store kind is a [`Sink`] (one file each): it reads what a destination holds in one
//! request, checks before a write that the write will be allowed and that the item is
//! mailreg's, writes a payload, and deletes. [`stage`] runs them around the providers with the
//! same plan/apply guarantees: every store is read (and, when a write is planned, its access
//! checked) during plan, so a store that is unreachable or refuses stops the run before the
//! registration changes; writes happen once the credentials exist; values are compared, not
//! timestamps, so a no-op apply reads each store once and writes nothing.

pub mod github;
pub mod keyvault;
pub mod payload;
pub mod resource;
pub mod secretmanager;
pub mod stage;
pub mod vault;

use crate::error::Result;
pub use payload::Payload;
pub use stage::Stores;

/// The mark every store item mailreg writes carries (tag, label or custom metadata).
pub const MANAGED_BY: (&str, &str) = ("managed-by", "mailreg");

/// `<name>.<env>`: which spec and environment wrote an item.
pub fn mailreg_id(name: &str, env: &str) -> String {
    format!("{name}.{env}")
}

/// What one read of a destination found.
#[derive(Clone, Debug, Default)]
pub struct Observed {
    /// Something exists at the destination.
    pub exists: bool,
    /// The stored payload, when it is one (a JSON object of strings, or a KV map of strings).
    pub value: Option<Payload>,
    /// Whether the item carries mailreg's marks for this spec and environment; `None` when the
    /// read could not tell (Secret Manager's value read has no labels).
    pub ours: Option<bool>,
    /// Key Vault: a soft-deleted secret holds the name; `Some(ours)`.
    pub soft_deleted: Option<bool>,
    /// OpenBao / Vault: the current version, for check-and-set writes (0 = none).
    pub version: u64,
    /// Secret Manager in mailreg's own Google project: the API is disabled and mailreg enables
    /// it before the write.
    pub enable_api: bool,
}

/// One store kind.
#[async_trait::async_trait]
pub trait Sink: Send + Sync {
    /// `vault`, `key_vault` or `secret_manager`: the plan's resource name.
    fn kind(&self) -> &'static str;
    /// Where, for people: `secret/mailreg/test/outlook`, `https://v.vault.azure.net/secrets/x`.
    fn target(&self) -> String;
    /// The marks mailreg puts on an item, as people see them in errors.
    fn marks(&self) -> String;
    /// One read of the destination.
    async fn read(&self) -> Result<Observed>;
    /// Before a write or delete: completes `ours` when the read could not tell, and checks that
    /// the write will be allowed where the store can say so without writing.
    async fn prepare(&self, observed: &mut Observed, delete: bool) -> Result<()>;
    async fn write(&self, observed: &Observed, value: &Payload) -> Result<()>;
    /// Deletes what mailreg wrote (`purge`: also from a soft-delete bin, where there is one).
    async fn delete(&self, observed: &Observed, purge: bool) -> Result<()>;
}

/// An error answer of Key Vault or Secret Manager (`{"error":{"code","message",…}}`), with the
/// parts the HTTP layer's generic parse drops: Key Vault's `innererror.code` and Google's
/// `details[].reason`.
#[derive(Clone, Debug)]
pub struct StoreFailure {
    pub status: u16,
    /// Key Vault: `Forbidden`, `Conflict`, …; Google: `PERMISSION_DENIED`, `NOT_FOUND`, …
    pub code: String,
    /// Key Vault's inner code (`ObjectIsDeletedButRecoverable`); Google's ErrorInfo reason
    /// (`SERVICE_DISABLED`).
    pub reason: Option<String>,
    pub message: String,
}

impl StoreFailure {
    pub fn parse(status: u16, body: &[u8]) -> StoreFailure {
        let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
        let e = v.get("error");
        let s = |p: &str| e.and_then(|e| e.pointer(p)).and_then(|x| x.as_str());
        let reason = s("/innererror/code").map(str::to_owned).or_else(|| {
            e.and_then(|e| e.get("details"))
                .and_then(|d| d.as_array())
                .and_then(|d| d.iter().find_map(|x| x.get("reason")?.as_str()))
                .map(str::to_owned)
        });
        StoreFailure {
            status,
            code: s("/status")
                .or_else(|| s("/code"))
                .unwrap_or_default()
                .to_owned(),
            reason,
            // The first line: Key Vault's RBAC text runs over several.
            message: s("/message")
                .unwrap_or("no error text")
                .lines()
                .next()
                .unwrap_or_default()
                .chars()
                .take(300)
                .collect(),
        }
    }

    /// The error, classified: 401/403 are authentication/authorisation (exit 4).
    pub fn into_error(self) -> crate::error::Error {
        use crate::error::{Error, ErrorKind};
        let kind = match self.status {
            401 | 403 => ErrorKind::Auth,
            _ => ErrorKind::Api,
        };
        let code = match &self.reason {
            Some(r) => format!("{} ({r})", self.code),
            None => self.code.clone(),
        };
        let mut e = Error::new(
            kind,
            format!("HTTP {} {code}: {}", self.status, self.message),
        );
        e.status = Some(self.status);
        e.code = Some(self.reason.unwrap_or(self.code));
        e
    }
}
