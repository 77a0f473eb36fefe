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
        None => match on_google_cloud() {
            Some(signal) => (
                format!("the metadata server (attached service account; {signal})"),
                true,
            ),
            None => return Err(no_credentials()),
        },
    })
}

/// Why this machine looks like Google Cloud, if it does. google-cloud-auth 1.x falls back to
/// the metadata server whenever no ADC file exists, without checking that one can exist: off
/// Google Cloud that ends in a retried connection failure that reads like a transient outage.
/// The signals are the ones Google's other libraries use: `GCE_METADATA_HOST` (which
/// google-cloud-auth itself honours) and the DMI product name of a Google VM.
fn on_google_cloud() -> Option<String> {
    if let Some(host) = std::env::var_os("GCE_METADATA_HOST").filter(|h| !h.is_empty()) {
        return Some(format!("GCE_METADATA_HOST={}", host.to_string_lossy()));
    }
    let product = std::fs::read_to_string(DMI_PRODUCT_NAME).unwrap_or_default();
    google_product(&product).then(|| format!("{DMI_PRODUCT_NAME} names Google"))
}

/// Where Linux shows the machine's product name ("Google Compute Engine" on a Google VM).
const DMI_PRODUCT_NAME: &str = "/sys/class/dmi/id/product_name";

fn google_product(text: &str) -> bool {
    text.trim().starts_with("Google")
}

/// Every source ADC tries, in its order, each with why it did not apply, and the two fixes.
fn no_credentials() -> Error {
    let well_known = std::env::var_os("HOME")
        .map(|h| {
            PathBuf::from(h)
                .join(".config/gcloud/application_default_credentials.json")
                .display()
                .to_string()
        })
        .unwrap_or_else(|| {
            "$HOME/.config/gcloud/application_default_credentials.json (HOME is not set)".into()
        });
    Error::auth(format!(
        "no Google credential is configured; tried, in order: GOOGLE_APPLICATION_CREDENTIALS (not set), gcloud's application-default login ({well_known}: not found), the metadata server (not tried: this is not a Google Cloud machine; GCE_METADATA_HOST is not set and {DMI_PRODUCT_NAME} does not name Google)"
    ))
    .with_hint("run `gcloud auth application-default login`, or set GOOGLE_APPLICATION_CREDENTIALS to a service account key file")
}

/// google-cloud-auth's message without the retry verdict it appends ("… but future attempts
/// may succeed"), which repeats or contradicts its own first sentence.
fn credentials_message(e: &impl std::fmt::Display) -> String {
    let text = e.to_string();
    let text = text
        .strip_suffix(" but future attempts may succeed")
        .or_else(|| text.strip_suffix(" and future attempts will not succeed"))
        .unwrap_or(&text);
    text.to_owned()
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
                    "signing in to Google Cloud with {} failed: {}",
                    self.source,
                    credentials_message(&e)
                ))
                .with_hint("check the credentials file, or run `gcloud auth application-default login` again")
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_google_product_name_counts_as_google_cloud() {
        assert!(google_product("Google Compute Engine\n"));
        assert!(google_product("Google"));
        assert!(!google_product(""));
        assert!(!google_product("KVM\n"));
    }

    #[test]
    fn the_retry_verdict_is_dropped() {
        assert_eq!(
            credentials_message(
                &"Fetching the token resulted in transient errors. Subsequent calls with this credential might succeed. but future attempts may succeed"
            ),
            "Fetching the token resulted in transient errors. Subsequent calls with this credential might succeed."
        );
        assert_eq!(
            credentials_message(&"x and future attempts will not succeed"),
            "x"
        );
    }
}
