//! How mailreg signs in to Google Cloud: Application Default Credentials via
//! `google-cloud-auth`, in ADC's own order (GOOGLE_APPLICATION_CREDENTIALS, gcloud's
//! application-default login, the metadata server). mailreg names the source it used, and
//! knows whether it is a service account: those cannot create projects without a parent.

use std::path::PathBuf;

use google_cloud_auth::credentials::{AccessTokenCredentials, Builder};

use crate::error::{Error, Result};

const CLOUD_PLATFORM: &str = "https://www.googleapis.com/auth/cloud-platform";

pub struct GoogleAuth {
    credentials: AccessTokenCredentials,
    pub source: String,
}

/// The ADC file that `google-cloud-auth` will use, if any.
fn adc_file() -> Result<Option<(PathBuf, &'static str)>> {
    if let Some(p) = std::env::var_os("GOOGLE_APPLICATION_CREDENTIALS") {
        return Ok(Some((PathBuf::from(p), "GOOGLE_APPLICATION_CREDENTIALS")));
    }
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let gcloud = home.map(|h| h.join(".config/gcloud/application_default_credentials.json"));
    Ok(gcloud
        .filter(|p| p.is_file())
        .map(|p| (p, "gcloud auth application-default login")))
}

/// Which ADC source google-cloud-auth will use, named for people, and whether it is a service
/// account. Read before building the credential, so spec checks that depend on it come first.
pub fn detect() -> Result<(String, bool)> {
    Ok(match adc_file()? {
        Some((path, origin)) => {
            let text = std::fs::read_to_string(&path).map_err(|e| {
                Error::auth(format!("{origin}: cannot read {}: {e}", path.display()))
            })?;
            let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
                Error::bad_input(format!(
                    "{}:{}:{}: not a valid credentials JSON file ({origin}): {}",
                    path.display(),
                    e.line(),
                    e.column(),
                    e
                ))
            })?;
            // google-cloud-auth sends the refresh token or the signed assertion to this URL,
            // outside mailreg's HTTP layer: hold it to the same https rule first.
            if let Some(uri) = v.get("token_uri").and_then(|u| u.as_str()) {
                let url = url::Url::parse(uri).map_err(|e| {
                    Error::bad_input(format!(
                        "{}: token_uri {uri:?} is not a URL ({origin}): {e}",
                        path.display()
                    ))
                })?;
                crate::http::check_url(&url, &format!("{}: token_uri", path.display()))?;
            }
            let kind = v
                .get("type")
                .and_then(|t| t.as_str())
                .unwrap_or("unknown")
                .to_owned();
            let sa = matches!(
                kind.as_str(),
                "service_account" | "impersonated_service_account"
            );
            (
                format!("{kind} credentials from {origin} ({})", path.display()),
                sa,
            )
        }
        None => (
            "the metadata server (attached service account)".to_owned(),
            true,
        ),
    })
}

impl GoogleAuth {
    pub fn from_env() -> Result<GoogleAuth> {
        let (source, _) = detect()?;
        let credentials = Builder::default()
            .with_scopes([CLOUD_PLATFORM])
            .build_access_token_credentials()
            .map_err(|e| {
                Error::auth(format!("Google Application Default Credentials ({source}): {e}"))
                    .with_hint("set GOOGLE_APPLICATION_CREDENTIALS to a service account key or an authorized_user file, or run `gcloud auth application-default login`")
            })?;
        Ok(GoogleAuth {
            credentials,
            source,
        })
    }

    /// An access token for the Cloud APIs. google-cloud-auth caches it and refreshes it before
    /// it expires, so no copy is kept here: a long run never sends an expired token.
    pub async fn token(&self) -> Result<String> {
        self.credentials
            .access_token()
            .await
            .map(|t| t.token)
            .map_err(|e| {
                Error::auth(format!(
                    "signing in to Google Cloud with {} failed: {e}",
                    self.source
                ))
                .with_hint("check the credentials file, or run `gcloud auth application-default login` again")
            })
    }
}
