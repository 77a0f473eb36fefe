//! The emulator's sign-in plays itself: with `MAILREG_REHEARSAL_SIGN_IN=1` (which `mailreg
//! emulator` exports) and an authorize URL on a loopback address (the emulator; a real identity
//! provider never is), mailreg opens it as a browser would, without following the redirect, and
//! hands the code back: to its own redirect listener, or as the pasted redirect URL. Nobody has
//! to click through a rehearsal; any other local identity provider is signed in to as ever.

use reqwest::Method;
use url::Url;

use crate::error::{Error, Result};
use crate::http::{Http, Request};

/// Whether this sign-in is a rehearsal's: asked for, and on a loopback host.
pub fn applies(authorize_url: &Url) -> bool {
    std::env::var("MAILREG_REHEARSAL_SIGN_IN").is_ok_and(|v| v == "1")
        && authorize_url
            .host_str()
            .is_some_and(crate::http::is_loopback_host)
}

/// Opens the authorize URL and returns where it redirects: the redirect URI with the code.
/// Through the one HTTP client (no redirects followed, bodies capped, the request log).
pub async fn sign_in(http: &Http, authorize_url: &Url) -> Result<Url> {
    let mut req = Request::new(Method::GET, authorize_url.clone());
    req.plain_http_ok = true;
    let answer = http.send_raw(req).await?;
    let location = answer
        .headers
        .get(reqwest::header::LOCATION)
        .and_then(|l| l.to_str().ok());
    match location {
        Some(l) if (300..400).contains(&answer.status) => Url::parse(l)
            .map_err(|e| Error::io(format!("the emulator's sign-in redirected to {l:?}: {e}"))),
        _ => {
            let text = String::from_utf8_lossy(&answer.body[..answer.body.len().min(400)]);
            let reason = text
                .split("<p>")
                .nth(1)
                .and_then(|t| t.split("</p>").next())
                .unwrap_or(&text);
            Err(crate::verify::fail(format!(
                "the emulator refused the sign-in ({}): {}",
                answer.status,
                super::conn::printable(reason)
            )))
        }
    }
}

/// Delivers the redirect to mailreg's own listener, as the browser would. Its outcome does not
/// matter: the listener either has the code or says why it does not.
pub async fn deliver(http: &Http, redirect: &Url) {
    let mut req = Request::new(Method::GET, redirect.clone());
    req.plain_http_ok = true;
    let _ = http.send_raw(req).await;
}
