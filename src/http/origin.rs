//! Where a base URL came from, so a connection failure can name the setting to fix.
//!
//! `env_url` records every overridden base URL here (origin → variable). When a connection is
//! refused, the error shows `scheme://host:port` and the variable that put it there: a wrong
//! port in `MAILREG_LOGIN_URL` is then one look away, not a minute of silent retries.

use std::sync::Mutex;

use url::Url;

static ORIGINS: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());

/// `scheme://host:port`, the port always shown (the default one too).
pub fn origin(url: &Url) -> String {
    let host = match url.host() {
        Some(url::Host::Ipv6(ip)) => format!("[{ip}]"),
        Some(h) => h.to_string(),
        None => String::new(),
    };
    match url.port_or_known_default() {
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    }
}

/// Remembers that `var` set the base URL `url`.
pub fn record(var: &str, url: &Url) {
    if let Ok(mut list) = ORIGINS.lock() {
        let o = origin(url);
        list.retain(|(known, _)| *known != o);
        list.push((o, var.to_owned()));
    }
}

/// The variable that set this URL's origin, if one did.
pub fn variable_for(url: &Url) -> Option<String> {
    let o = origin(url);
    ORIGINS
        .lock()
        .ok()?
        .iter()
        .find(|(known, _)| *known == o)
        .map(|(_, var)| var.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_show_the_port_and_remember_their_variable() {
        let u = Url::parse("https://graph.microsoft.com/v1.0/x").unwrap();
        assert_eq!(origin(&u), "https://graph.microsoft.com:443");
        let l = Url::parse("http://127.0.0.1:9/t/oauth2/v2.0/token").unwrap();
        assert_eq!(origin(&l), "http://127.0.0.1:9");
        record(
            "MAILREG_LOGIN_URL",
            &Url::parse("http://127.0.0.1:9").unwrap(),
        );
        assert_eq!(variable_for(&l).as_deref(), Some("MAILREG_LOGIN_URL"));
        assert_eq!(variable_for(&u), None);
    }
}
