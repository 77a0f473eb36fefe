//! What `verify` is asked to do, independent of how it was asked: `cli` converts its flags into
//! [`Options`], so this module never depends on the command line.

use std::path::PathBuf;

use super::Provider;
use super::sasl::Mechanism;

/// Everything `verify` needs from its caller. The fields mirror `mailreg verify`'s flags, where
/// each is documented.
#[derive(Clone, Debug)]
pub struct Options {
    /// The spec file and environment whose credentials record is used.
    pub file: PathBuf,
    pub env: String,
    pub provider: Option<Provider>,
    /// Delegated access: the mailbox to sign in as (required). App access: narrows the check to
    /// one of the spec's mailboxes (default: all of them).
    pub user: Option<String>,
    pub imap: bool,
    pub pop: bool,
    pub smtp: bool,
    pub mech: Mechanism,
    pub imap_server: Option<String>,
    pub pop_server: Option<String>,
    pub smtp_server: Option<String>,
    pub tls: bool,
    pub starttls: bool,
    pub plain: bool,
    /// Servers (`host:port`, as in the server fields) reached without TLS because the
    /// environment that named them says so (the emulator's responder); loopback only.
    pub plain_servers: Vec<String>,
    pub ca_file: Option<PathBuf>,
    pub redirect_uri: Option<String>,
    pub no_browser: bool,
    pub device_code: bool,
    pub keep_refresh_token: bool,
    /// Seconds to wait for the browser's redirect.
    pub timeout: u64,
    /// `--wait`: retry failed logins until they pass or this much (nominal) time is up.
    pub wait: Option<std::time::Duration>,
    /// Print one JSON document instead of text.
    pub json: bool,
    /// Text output: only what went wrong.
    pub quiet: bool,
    /// When the mailbox settings were changed (`up`): the wait's pace and its ETA count from
    /// then. `None` for `verify --wait` on its own, where the change may be hours old.
    pub settings_changed: Option<std::time::Instant>,
}
