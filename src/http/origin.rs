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

/// Remembers that `var` set the base URL `url`. Several variables may share an origin (the
/// emulator serves every API on one port): all are kept.
pub fn record(var: &str, url: &Url) {
    if let Ok(mut list) = ORIGINS.lock() {
        let o = origin(url);
        list.retain(|(known, v)| !(*known == o && v == var));
        list.push((o, var.to_owned()));
    }
}

/// The paths each overridable service answers on, to tell apart variables that point at the
/// same origin: the failing request's path says which service it was for.
const SERVICE_PATHS: &[(&str, &[&str])] = &[
    ("MAILREG_LOGIN_URL", &["/oauth2/"]),
    ("MAILREG_GRAPH_URL", &["/v1.0/", "/beta/"]),
    ("MAILREG_EXCHANGE_URL", &["/adminapi/"]),
    ("MAILREG_KEYVAULT_URL", &["/secrets", "/deletedsecrets"]),
    ("MAILREG_GMAIL_URL", &["/gmail/"]),
    ("MAILREG_GOOGLE_TOKEN_URL", &["/token"]),
];

/// The variable that set this URL's origin, if one did. When several did, the one whose service
/// the path belongs to; failing that, all of them.
pub fn variable_for(url: &Url) -> Option<String> {
    let o = origin(url);
    let list = ORIGINS.lock().ok()?;
    let vars: Vec<&str> = list
        .iter()
        .filter(|(known, _)| *known == o)
        .map(|(_, v)| v.as_str())
        .collect();
    match vars.as_slice() {
        [] => None,
        [one] => Some((*one).to_owned()),
        many => {
            let path = url.path();
            let by_path = many.iter().find(|v| {
                SERVICE_PATHS
                    .iter()
                    .any(|(var, paths)| var == *v && paths.iter().any(|p| path.contains(p)))
            });
            Some(match by_path {
                Some(v) => (*v).to_owned(),
                None => many.join(" or "),
            })
        }
    }
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
        // Graph on the same origin (as with the emulator): the path tells which one failed.
        record(
            "MAILREG_GRAPH_URL",
            &Url::parse("http://127.0.0.1:9").unwrap(),
        );
        assert_eq!(variable_for(&l).as_deref(), Some("MAILREG_LOGIN_URL"));
        let g = Url::parse("http://127.0.0.1:9/v1.0/applications").unwrap();
        assert_eq!(variable_for(&g).as_deref(), Some("MAILREG_GRAPH_URL"));
        let other = Url::parse("http://127.0.0.1:9/elsewhere").unwrap();
        assert_eq!(
            variable_for(&other).as_deref(),
            Some("MAILREG_LOGIN_URL or MAILREG_GRAPH_URL")
        );
    }
}
