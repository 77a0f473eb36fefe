//! The emulator's sign-in plays itself: with `MAILREG_REHEARSAL_SIGN_IN=1` (which `mailreg
//! emulator` exports) and an authorize URL on a loopback address (the emulator; a real identity
//! provider never is), mailreg opens it as a browser would, without following the redirect, and
//! hands the code back: to its own redirect listener, or as the pasted redirect URL. Nobody has
//! to click through a rehearsal; any other local identity provider is signed in to as ever.

use std::time::Duration;

use url::Url;

use crate::error::{Error, Result};

/// Whether this sign-in is a rehearsal's: asked for, and on a loopback host.
pub fn applies(authorize_url: &Url) -> bool {
    std::env::var("MAILREG_REHEARSAL_SIGN_IN").is_ok_and(|v| v == "1")
        && authorize_url
            .host_str()
            .is_some_and(crate::http::is_loopback_host)
}

/// Opens the authorize URL and returns where it redirects: the redirect URI with the code.
pub async fn sign_in(authorize_url: &Url) -> Result<Url> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .no_proxy()
        .build()
        .map_err(|e| Error::internal(format!("the rehearsal sign-in's client: {e}")))?;
    let answer = client
        .get(authorize_url.clone())
        .send()
        .await
        .map_err(|e| Error::io(format!("the emulator's sign-in page: {e}")))?;
    let location = answer
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|l| l.to_str().ok())
        .map(str::to_owned);
    match location {
        Some(l) if answer.status().is_redirection() => Url::parse(&l)
            .map_err(|e| Error::io(format!("the emulator's sign-in redirected to {l:?}: {e}"))),
        _ => {
            let status = answer.status().as_u16();
            let text: String = answer
                .text()
                .await
                .unwrap_or_default()
                .chars()
                .take(400)
                .collect();
            let reason = text
                .split("<p>")
                .nth(1)
                .and_then(|t| t.split("</p>").next())
                .unwrap_or(text.as_str())
                .to_owned();
            Err(crate::verify::fail(format!(
                "the emulator refused the sign-in ({status}): {reason}"
            )))
        }
    }
}

/// Delivers the redirect to mailreg's own listener, as the browser would.
pub async fn deliver(redirect: &Url) -> Result<()> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .no_proxy()
        .build()
        .map_err(|e| Error::internal(format!("the rehearsal sign-in's client: {e}")))?;
    client
        .get(redirect.clone())
        .send()
        .await
        .map_err(|e| Error::io(format!("delivering the rehearsal's redirect: {e}")))?;
    Ok(())
}
