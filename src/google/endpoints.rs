//! Google endpoints: the APIs mailreg calls, and the OAuth endpoints the mailbox uses.
//! Each can be overridden (DESIGN.md: the tests point them at the emulator).

use url::Url;

use crate::error::Result;
use crate::http::env_url;

pub const DEFAULT_AUTH_URL: &str = "https://accounts.google.com/o/oauth2/v2/auth";
pub const DEFAULT_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
pub const GMAIL_SCOPE: &str = "https://mail.google.com/";
pub const GMAIL_SERVICE: &str = "gmail.googleapis.com";
pub const CONSOLE: &str = "https://console.cloud.google.com";

#[derive(Clone, Debug)]
pub struct Endpoints {
    pub resource_manager: Url,
    pub service_usage: Url,
    /// The mailbox's sign-in (outputs, verify).
    pub auth_url: Url,
    /// The mailbox's token endpoint (outputs, verify).
    pub token_url: Url,
}

impl Endpoints {
    pub fn from_env() -> Result<Self> {
        Ok(Endpoints {
            resource_manager: env_url(
                "MAILREG_RESOURCE_MANAGER_URL",
                "https://cloudresourcemanager.googleapis.com",
            )?,
            service_usage: env_url(
                "MAILREG_SERVICE_USAGE_URL",
                "https://serviceusage.googleapis.com",
            )?,
            auth_url: env_url("MAILREG_GOOGLE_AUTH_URL", DEFAULT_AUTH_URL)?,
            token_url: env_url("MAILREG_GOOGLE_TOKEN_URL", DEFAULT_TOKEN_URL)?,
        })
    }

    pub fn crm(&self, path: &str) -> Url {
        join(&self.resource_manager, path)
    }

    pub fn su(&self, path: &str) -> Url {
        join(&self.service_usage, path)
    }
}

fn join(base: &Url, path: &str) -> Url {
    Url::parse(&format!("{}/{path}", base.as_str().trim_end_matches('/')))
        .expect("API paths are valid URL paths")
}
