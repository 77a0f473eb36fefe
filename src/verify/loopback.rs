//! The redirect side of the code flow: a one-shot HTTP listener on the loopback redirect URI
//! (RFC 8252 §7.3), or the redirect URL pasted by the person when the redirect URI is not on
//! this machine. Either way the answer is checked the same way: `state` must match (else the
//! redirect is stale or forged) and an `error` (the person declined) is reported as such.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use url::Url;

use crate::error::{Error, ErrorKind, Result};

/// Whether a redirect URI is `http://localhost|127.0.0.1|[::1][:port]/…`, which mailreg serves.
pub fn is_loopback(uri: &Url) -> bool {
    uri.scheme() == "http" && crate::http::is_loopback(uri)
}

pub struct Listener {
    listener: TcpListener,
    /// The redirect URI to send, with the port actually bound when the registered one had none
    /// (Entra and Google accept any port on a loopback redirect).
    pub redirect_uri: String,
    path: String,
}

pub async fn bind(uri: &Url) -> Result<Listener> {
    let ip = match uri.host() {
        Some(url::Host::Ipv6(ip)) => std::net::IpAddr::V6(ip),
        _ => std::net::IpAddr::from([127, 0, 0, 1]),
    };
    let port = uri.port().unwrap_or(0);
    let listener = TcpListener::bind((ip, port)).await.map_err(|e| {
        Error::io(format!(
            "listening on {ip}:{port} for the sign-in redirect: {e}"
        ))
    })?;
    let bound = listener.local_addr()?.port();
    let mut redirect = uri.clone();
    if uri.port().is_none() {
        let _ = redirect.set_port(Some(bound));
    }
    Ok(Listener {
        listener,
        redirect_uri: redirect.to_string(),
        path: uri.path().to_owned(),
    })
}

impl Listener {
    /// Serves until the browser brings the redirect (answering other paths 404), or `timeout`.
    pub async fn wait(self, state: &str, timeout: Duration) -> Result<String> {
        let serve = async {
            loop {
                let (mut sock, _) = self.listener.accept().await?;
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 16 * 1024 {
                    let n = sock.read(&mut chunk).await?;
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let head = String::from_utf8_lossy(&buf);
                let target = head
                    .lines()
                    .next()
                    .and_then(|l| l.split_whitespace().nth(1))
                    .unwrap_or("/")
                    .to_owned();
                let Some(result) = parse_callback(&target, Some(&self.path), state) else {
                    let _ = sock
                        .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                        .await;
                    continue;
                };
                let page = match &result {
                    Ok(_) => {
                        "Signed in. mailreg is checking the mailbox; you can close this window."
                    }
                    Err(_) => "The sign-in did not complete. See mailreg's output in the terminal.",
                };
                let body = format!("<!doctype html><title>mailreg</title><p>{page}</p>\n");
                let _ = sock
                    .write_all(
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        )
                        .as_bytes(),
                    )
                    .await;
                let _ = sock.shutdown().await;
                return Ok::<_, std::io::Error>(result);
            }
        };
        match tokio::time::timeout(timeout, serve).await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => Err(Error::io(format!("sign-in redirect listener: {e}"))),
            Err(_) => Err(Error::new(
                ErrorKind::VerifyFailed,
                format!("no sign-in redirect arrived within {}s", timeout.as_secs()),
            )
            .with_hint(
                "finish the sign-in in the browser, or use --no-browser and open the URL yourself",
            )),
        }
    }
}

/// Parses a redirect's request target (`/path?query`). `None` when the path is not the
/// redirect's (a favicon request); else the code, or why there is none.
pub fn parse_callback(target: &str, path: Option<&str>, state: &str) -> Option<Result<String>> {
    let url = Url::parse("http://127.0.0.1").ok()?.join(target).ok()?;
    if let Some(p) = path
        && url.path() != p
    {
        return None;
    }
    let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    let failed = |m: String| Err(Error::new(ErrorKind::VerifyFailed, m));
    if let Some(err) = q.get("error") {
        let desc = q
            .get("error_description")
            .map(|d| format!(": {d}"))
            .unwrap_or_default();
        let what = if err == "access_denied" {
            "the sign-in was declined (consent not given)".to_owned()
        } else {
            "the sign-in failed".to_owned()
        };
        return Some(failed(format!("{what}: {err}{desc}")));
    }
    if q.get("state").map(String::as_str) != Some(state) {
        return Some(failed(
            "the redirect's state does not match this sign-in (a stale or forged redirect); sign in again".into(),
        ));
    }
    match q.get("code") {
        Some(c) if !c.is_empty() => Some(Ok(c.clone())),
        _ => Some(failed("the redirect carries no authorization code".into())),
    }
}

/// The pasted redirect URL (non-loopback redirect URIs), checked like a served one.
pub fn parse_pasted(line: &str, state: &str) -> Result<String> {
    let url = Url::parse(line.trim())
        .map_err(|e| Error::bad_input(format!("the pasted text is not the redirect URL: {e}")))?;
    let target = match url.query() {
        Some(q) => format!("/?{q}"),
        None => "/".to_owned(),
    };
    parse_callback(&target, None, state).expect("no path filter")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_matching_redirect_yields_the_code() {
        let r = parse_callback("/cb?code=abc&state=s1", Some("/cb"), "s1").unwrap();
        assert_eq!(r.unwrap(), "abc");
        assert!(parse_callback("/favicon.ico", Some("/cb"), "s1").is_none());
    }

    #[test]
    fn state_mismatch_and_denial_are_refused() {
        let e = parse_callback("/cb?code=abc&state=other", Some("/cb"), "s1")
            .unwrap()
            .unwrap_err();
        assert!(e.message.contains("state does not match"));
        assert_eq!(e.kind, ErrorKind::VerifyFailed);
        let e = parse_callback(
            "/cb?error=access_denied&error_description=The+user+declined.&state=s1",
            Some("/cb"),
            "s1",
        )
        .unwrap()
        .unwrap_err();
        assert_eq!(
            e.message,
            "the sign-in was declined (consent not given): access_denied: The user declined."
        );
        let e = parse_callback("/cb?state=s1", Some("/cb"), "s1")
            .unwrap()
            .unwrap_err();
        assert!(e.message.contains("no authorization code"));
    }

    #[test]
    fn pasted_urls_are_checked_too() {
        assert_eq!(
            parse_pasted(
                " https://app.example.com/oauth/callback?code=x&state=s \n",
                "s"
            )
            .unwrap(),
            "x"
        );
        assert!(
            parse_pasted("https://app.example.com/oauth/callback?code=x&state=t", "s").is_err()
        );
        assert!(parse_pasted("not a url", "s").is_err());
    }

    #[test]
    fn loopback_redirects_are_recognised() {
        assert!(is_loopback(
            &Url::parse("http://localhost:8400/cb").unwrap()
        ));
        assert!(is_loopback(&Url::parse("http://127.0.0.1/").unwrap()));
        assert!(!is_loopback(&Url::parse("https://localhost/cb").unwrap()));
        assert!(!is_loopback(&Url::parse("http://example.com/cb").unwrap()));
    }

    #[tokio::test]
    async fn an_unported_redirect_gets_an_ephemeral_port() {
        let l = bind(&Url::parse("http://127.0.0.1/callback").unwrap())
            .await
            .unwrap();
        let u = Url::parse(&l.redirect_uri).unwrap();
        assert!(u.port().unwrap() > 0);
        assert_eq!(u.path(), "/callback");
    }
}
