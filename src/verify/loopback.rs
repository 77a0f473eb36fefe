//! The redirect side of the code flow: an HTTP listener on the loopback redirect URI
//! (RFC 8252 §7.3), or the redirect URL pasted by the person when the redirect URI is not on
//! this machine. Either way the answer is checked the same way, `state` first: a request
//! without this sign-in's state (a browser's preconnect, a stale tab, any local process) gets a
//! 400 and the listener keeps waiting; only the real redirect can end the sign-in, and only
//! then is its `error` (the person declined) read.
//!
//! The listener is hyper's HTTP/1 server, one task per connection with a deadline, so an idle
//! connection never holds up the redirect.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use url::Url;

use crate::error::{Error, ErrorKind, Result};

/// How long one connection may take to send its request and get the page.
const CONNECTION_DEADLINE: Duration = Duration::from_secs(10);

/// Whether a redirect URI is `http://localhost|127.0.0.1|[::1][:port]/…`, which mailreg serves.
pub fn is_loopback(uri: &Url) -> bool {
    uri.scheme() == "http" && crate::http::is_loopback(uri)
}

/// How the provider matches a loopback redirect URI's port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortRule {
    /// Entra ID ignores the port of a localhost redirect URI: any free port will do.
    AnyPort,
    /// Google (Web clients) matches redirect URIs exactly, port included: serve the registered
    /// port (80 when none is written).
    Exact,
}

pub struct Listener {
    listener: TcpListener,
    /// The redirect URI to send: the registered one, with the port actually bound where the
    /// provider accepts any port.
    pub redirect_uri: String,
    path: String,
}

pub async fn bind(uri: &Url, rule: PortRule) -> Result<Listener> {
    let ip = match uri.host() {
        Some(url::Host::Ipv6(ip)) => std::net::IpAddr::V6(ip),
        _ => std::net::IpAddr::from([127, 0, 0, 1]),
    };
    let port = match rule {
        PortRule::AnyPort => uri.port().unwrap_or(0),
        PortRule::Exact => uri.port_or_known_default().unwrap_or(80),
    };
    let listener = TcpListener::bind((ip, port)).await.map_err(|e| {
        let err = Error::io(format!(
            "listening on {ip}:{port} for the sign-in redirect {uri}: {e}"
        ));
        match rule {
            PortRule::Exact if uri.port().is_none() => err.with_hint(
                "Google matches redirect URIs exactly, port included: a URI without a port means port 80; register one with a free port (http://127.0.0.1:8400/…) on the client and in the spec",
            ),
            PortRule::Exact => err.with_hint(
                "Google matches redirect URIs exactly, port included: free that port, or register another",
            ),
            PortRule::AnyPort => err,
        }
    })?;
    let bound = listener.local_addr()?.port();
    let mut redirect = uri.clone();
    if rule == PortRule::AnyPort && uri.port().is_none() {
        let _ = redirect.set_port(Some(bound));
    }
    Ok(Listener {
        listener,
        redirect_uri: redirect.to_string(),
        path: uri.path().to_owned(),
    })
}

/// What one request to the listener means.
#[derive(Debug)]
pub enum Callback {
    /// Another path (a favicon): 404.
    OtherPath,
    /// No state, or another sign-in's: 400, and keep waiting.
    WrongState,
    /// This sign-in's redirect: the code, or why there is none.
    Done(Result<String>),
}

impl Listener {
    /// Serves until the browser brings the redirect, or `timeout`.
    pub async fn wait(self, state: &str, timeout: Duration) -> Result<String> {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<String>>(1);
        let path: Arc<str> = self.path.into();
        let state: Arc<str> = state.into();
        let serve = async {
            loop {
                let (sock, _) = match self.listener.accept().await {
                    Ok(c) => c,
                    Err(e) => break e,
                };
                let (tx, path, state) = (tx.clone(), path.clone(), state.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let target = req
                            .uri()
                            .path_and_query()
                            .map(|p| p.as_str().to_owned())
                            .unwrap_or_else(|| "/".into());
                        let (status, page) = match parse_callback(&target, Some(&path), &state) {
                            Callback::OtherPath => (404, "Not found."),
                            Callback::WrongState => {
                                tracing::debug!(target: "mailreg::verify", "ignored a request to the redirect listener without this sign-in's state");
                                (400, "This is not the sign-in mailreg is waiting for.")
                            }
                            Callback::Done(result) => {
                                let page = if result.is_ok() {
                                    "Signed in. mailreg is checking the mailbox; you can close this window."
                                } else {
                                    "The sign-in did not complete. See mailreg's output in the terminal."
                                };
                                let _ = tx.try_send(result);
                                (200, page)
                            }
                        };
                        async move { Ok::<_, Infallible>(page_response(status, page)) }
                    });
                    let conn = hyper::server::conn::http1::Builder::new()
                        .keep_alive(false)
                        .serve_connection(hyper_util::rt::TokioIo::new(sock), service);
                    let _ = tokio::time::timeout(CONNECTION_DEADLINE, conn).await;
                });
            }
        };
        tokio::select! {
            Some(result) = rx.recv() => {
                // Let the browser get its page before the listener goes.
                tokio::time::sleep(Duration::from_millis(50)).await;
                result
            }
            r = serve => {
                let e: std::io::Error = r;
                Err(Error::io(format!("sign-in redirect listener: {e}")))
            }
            _ = tokio::time::sleep(timeout) => Err(Error::new(
                ErrorKind::VerifyFailed,
                format!("no sign-in redirect arrived within {}s", timeout.as_secs()),
            )
            .with_hint(
                "finish the sign-in in the browser, or use --no-browser and open the URL yourself",
            )),
        }
    }
}

fn page_response(status: u16, text: &str) -> hyper::Response<String> {
    let body = format!("<!doctype html><title>mailreg</title><p>{text}</p>\n");
    hyper::Response::builder()
        .status(status)
        .header("content-type", "text/html; charset=utf-8")
        .header("connection", "close")
        .body(body)
        .unwrap_or_default()
}

/// Text from a URL or a server, safe to print: no control characters (terminal escapes).
fn printable(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(500).collect()
}

/// Parses a redirect's request target (`/path?query`), the state first.
pub fn parse_callback(target: &str, path: Option<&str>, state: &str) -> Callback {
    let Some(url) = Url::parse("http://127.0.0.1")
        .ok()
        .and_then(|base| base.join(target).ok())
    else {
        return Callback::OtherPath;
    };
    if let Some(p) = path
        && url.path() != p
    {
        return Callback::OtherPath;
    }
    let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    if q.get("state").map(String::as_str) != Some(state) {
        return Callback::WrongState;
    }
    let failed = |m: String| Callback::Done(Err(Error::new(ErrorKind::VerifyFailed, m)));
    if let Some(err) = q.get("error") {
        let desc = q
            .get("error_description")
            .map(|d| format!(": {}", printable(d)))
            .unwrap_or_default();
        let what = if err == "access_denied" {
            "the sign-in was declined (consent not given)".to_owned()
        } else {
            "the sign-in failed".to_owned()
        };
        return failed(format!("{what}: {}{desc}", printable(err)));
    }
    match q.get("code") {
        Some(c) if !c.is_empty() => Callback::Done(Ok(c.clone())),
        _ => failed("the redirect carries no authorization code".into()),
    }
}

/// The pasted redirect URL (non-loopback redirect URIs), checked like a served one.
pub fn parse_pasted(line: &str, state: &str) -> Result<String> {
    // Read as it came: "" is the end of standard input (nothing to read from), "\n" a line
    // left empty. Either way there is no URL to parse, and the parser's own words ("relative
    // URL without a base") would not say what went wrong.
    if line.trim().is_empty() {
        let what = if line.is_empty() {
            "no redirect URL was pasted: standard input ended before a line was read"
        } else {
            "no redirect URL was pasted: the line was empty"
        };
        return Err(Error::bad_input(what).with_hint(
            "sign in at the URL above, then paste the full URL the browser was sent to (at a terminal, or piped: `echo \"$URL\" | mailreg verify …`); or sign in with --device-code",
        ));
    }
    let url = Url::parse(line.trim())
        .map_err(|e| Error::bad_input(format!("the pasted text is not the redirect URL: {e}")))?;
    let target = match url.query() {
        Some(q) => format!("/?{q}"),
        None => "/".to_owned(),
    };
    match parse_callback(&target, None, state) {
        Callback::Done(r) => r,
        Callback::WrongState | Callback::OtherPath => Err(Error::new(
            ErrorKind::VerifyFailed,
            "the pasted URL's state does not match this sign-in (a stale or forged redirect); sign in again",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn done(c: Callback) -> Result<String> {
        match c {
            Callback::Done(r) => r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_matching_redirect_yields_the_code() {
        let r = done(parse_callback("/cb?code=abc&state=s1", Some("/cb"), "s1"));
        assert_eq!(r.unwrap(), "abc");
        assert!(matches!(
            parse_callback("/favicon.ico", Some("/cb"), "s1"),
            Callback::OtherPath
        ));
    }

    #[test]
    fn state_is_checked_before_anything_else() {
        // Wrong or missing state: not this sign-in, whatever else the request says.
        for t in [
            "/cb?code=abc&state=other",
            "/cb?error=access_denied&error_description=x",
            "/cb?code=abc",
        ] {
            assert!(
                matches!(parse_callback(t, Some("/cb"), "s1"), Callback::WrongState),
                "{t}"
            );
        }
        let e = done(parse_callback(
            "/cb?error=access_denied&error_description=The+user+declined.%1b%5b2J&state=s1",
            Some("/cb"),
            "s1",
        ))
        .unwrap_err();
        assert_eq!(
            e.message,
            "the sign-in was declined (consent not given): access_denied: The user declined.[2J"
        );
        assert_eq!(e.kind, ErrorKind::VerifyFailed);
        let e = done(parse_callback("/cb?state=s1", Some("/cb"), "s1")).unwrap_err();
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
            parse_pasted("https://app.example.com/oauth/callback?code=x&state=t", "s")
                .unwrap_err()
                .message
                .contains("state does not match")
        );
        assert!(parse_pasted("not a url", "s").is_err());
        let eof = parse_pasted("", "s").unwrap_err();
        assert_eq!(
            eof.message,
            "no redirect URL was pasted: standard input ended before a line was read"
        );
        assert_eq!(eof.kind, ErrorKind::BadInput);
        assert!(eof.hint.unwrap().ends_with("or sign in with --device-code"));
        assert_eq!(
            parse_pasted(" \n", "s").unwrap_err().message,
            "no redirect URL was pasted: the line was empty"
        );
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
    async fn ports_follow_the_providers_rules() {
        // Entra ignores the port: an unported redirect gets an ephemeral one.
        let l = bind(
            &Url::parse("http://127.0.0.1/callback").unwrap(),
            PortRule::AnyPort,
        )
        .await
        .unwrap();
        let u = Url::parse(&l.redirect_uri).unwrap();
        assert!(u.port().unwrap() > 0);
        assert_eq!(u.path(), "/callback");
        // Google matches exactly: the registered port is served and sent unchanged.
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = free.local_addr().unwrap().port();
        drop(free);
        let uri = format!("http://127.0.0.1:{port}/oauth2callback");
        let l = bind(&Url::parse(&uri).unwrap(), PortRule::Exact)
            .await
            .unwrap();
        assert_eq!(l.redirect_uri, uri);
        assert_eq!(l.listener.local_addr().unwrap().port(), port);
    }

    /// An idle connection and a request with another state neither block nor end the wait.
    #[tokio::test]
    async fn stray_connections_do_not_end_the_sign_in() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let l = bind(
            &Url::parse("http://127.0.0.1/cb").unwrap(),
            PortRule::AnyPort,
        )
        .await
        .unwrap();
        let addr = l.listener.local_addr().unwrap();
        let waiting = tokio::spawn(l.wait("s1", Duration::from_secs(20)));
        let _idle = tokio::net::TcpStream::connect(addr).await.unwrap();
        let get = |target: &'static str| async move {
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            s.write_all(format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
                .await
                .unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).await.unwrap();
            out
        };
        let forged = get("/cb?error=access_denied&state=other").await;
        assert!(forged.starts_with("HTTP/1.1 400"), "{forged}");
        let ok = get("/cb?code=the-code&state=s1").await;
        assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
        assert_eq!(waiting.await.unwrap().unwrap(), "the-code");
    }
}
