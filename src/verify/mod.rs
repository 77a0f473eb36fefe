//! `mailreg verify`: proves that the stored credentials let a mailbox sign in, end to end.
//!
//! 1. A token for the mailbox with the stored client ([`oauth`]): the stored refresh token first
//!    (when one was kept), else the authorization-code flow with PKCE through a loopback redirect
//!    ([`loopback`], [`browser`]) or a pasted redirect URL, or the device flow. With app-only
//!    access ([`app`]) the application's own token instead (client credentials, no browser),
//!    used for each of the spec's mailboxes.
//! 2. A SASL XOAUTH2/OAUTHBEARER login ([`sasl`]) on IMAP ([`imap`]), POP3 ([`pop3`]) and SMTP
//!    submission ([`smtp`]), over TLS or STARTTLS ([`tls`], [`conn`]).
//! 3. One line per protocol, or one JSON document; exit 6 when anything failed.
//!
//! Endpoints come only from the credentials record, so the same code runs against Entra ID,
//! Google, a national cloud, or a test server. No token, code, secret or refresh token is ever
//! printed or logged.

mod app;
pub use app::protocols as app_protocols;
pub mod browser;
mod conn;
pub mod explain;
pub mod imap;
pub mod loopback;
pub mod oauth;
mod options;
pub use options::Options;
pub mod pop3;
mod rehearsal;
pub mod sasl;
pub mod smtp;
pub mod tls;
mod wait;
pub use wait::check_limit as check_wait_limit;

use std::time::Duration;

use base64::Engine as _;
use serde_json::json;
use tokio_rustls::TlsConnector;
use url::Url;

use crate::clock::Clock;
use crate::credentials::{Record, SecretValue, Store};
use crate::error::{Error, ErrorKind, ExitCode, Result};
use crate::http::{Http, check_url};
use crate::spec::{Access, Spec};
use conn::Conn;
use oauth::{Client, Tokens};
use sasl::Mechanism;
pub use tls::Security;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Provider {
    Microsoft,
    Google,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Microsoft => "microsoft",
            Provider::Google => "google",
        }
    }
}

pub use crate::mail::Protocol;

/// Where verify looks for each protocol by default (kept here: only verify connects).
impl Protocol {
    /// The provider's server for this protocol (Exchange Online and Gmail).
    fn default_host(self, provider: Provider) -> &'static str {
        match (provider, self) {
            (Provider::Microsoft, Protocol::Imap | Protocol::Pop3) => "outlook.office365.com",
            (Provider::Microsoft, Protocol::Smtp) => "smtp.office365.com",
            (Provider::Google, Protocol::Imap) => "imap.gmail.com",
            (Provider::Google, Protocol::Pop3) => "pop.gmail.com",
            (Provider::Google, Protocol::Smtp) => "smtp.gmail.com",
        }
    }

    fn default_port(self) -> u16 {
        match self {
            Protocol::Imap => 993,
            Protocol::Pop3 => 995,
            Protocol::Smtp => 587,
        }
    }

    fn default_security(self) -> Security {
        match self {
            Protocol::Smtp => Security::Starttls,
            _ => Security::Tls,
        }
    }
}

/// Where and how one protocol is checked.
#[derive(Clone, Debug)]
pub struct Target {
    pub protocol: Protocol,
    pub host: String,
    pub port: u16,
    pub security: Security,
}

/// Parses `host:port` (`[v6]:port` for IPv6).
pub fn parse_server(s: &str) -> Result<(String, u16)> {
    let bad = || Error::bad_input(format!("{s:?}: expected HOST:PORT"));
    let (host, port) = s.rsplit_once(':').ok_or_else(bad)?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port: u16 = port.parse().map_err(|_| bad())?;
    if host.is_empty() || port == 0 {
        return Err(bad());
    }
    Ok((host.to_owned(), port))
}

/// The security a port implies by convention, if it is a well-known one.
fn security_for_port(port: u16) -> Option<Security> {
    match port {
        993 | 995 | 465 => Some(Security::Tls),
        143 | 110 | 587 | 25 => Some(Security::Starttls),
        _ => None,
    }
}

/// Resolves the servers to check from the flags, refusing plain text off loopback.
pub fn targets(args: &Options, provider: Provider) -> Result<Vec<Target>> {
    let all = !(args.imap || args.pop || args.smtp);
    let mut out = Vec::new();
    for (proto, wanted, server) in [
        (Protocol::Imap, args.imap, &args.imap_server),
        (Protocol::Pop3, args.pop, &args.pop_server),
        (Protocol::Smtp, args.smtp, &args.smtp_server),
    ] {
        if !(all || wanted) {
            continue;
        }
        let (host, port) = match server {
            Some(s) => parse_server(s)?,
            None => (
                proto.default_host(provider).to_owned(),
                proto.default_port(),
            ),
        };
        let security = if args.tls {
            Security::Tls
        } else if args.starttls {
            Security::Starttls
        } else if args.plain
            || server
                .as_ref()
                .is_some_and(|s| args.plain_servers.iter().any(|p| p.as_str() == s.as_str()))
        {
            Security::Plain
        } else {
            security_for_port(port).unwrap_or(proto.default_security())
        };
        if security == Security::Plain && !crate::http::is_loopback_host(&host) {
            return Err(Error::bad_input(format!(
                "--plain: {host} is not a loopback address; a token is only sent without TLS to 127.0.0.1, ::1 or localhost"
            )));
        }
        out.push(Target {
            protocol: proto,
            host,
            port,
            security,
        });
    }
    Ok(out)
}

/// One login attempt's inputs.
pub struct Login<'a> {
    pub user: &'a str,
    pub token: &'a SecretValue,
    pub mech: Mechanism,
    pub host: &'a str,
    pub port: u16,
    pub security: Security,
    pub tls: &'a TlsConnector,
    /// The whole check's deadline (`MAILREG_VERIFY_TIMEOUT`).
    pub limit: Duration,
}

impl Login<'_> {
    async fn open(&self, proto: &'static str) -> Result<Conn> {
        let c = Conn::connect(proto, self.host, self.port, self.limit).await?;
        if self.security == Security::Tls {
            c.start_tls(self.tls).await
        } else {
            Ok(c)
        }
    }

    fn initial_response(&self) -> String {
        self.mech
            .initial_response(self.user, self.token.expose(), self.host, self.port)
    }
}

/// One login on one protocol, within the check's deadline.
async fn attempt(
    t: &Target,
    user: &str,
    token: &SecretValue,
    mech: Mechanism,
    tls: &TlsConnector,
    limit: Duration,
) -> Result<()> {
    let login = Login {
        user,
        token,
        mech,
        host: &t.host,
        port: t.port,
        security: t.security,
        tls,
        limit,
    };
    let name = t.protocol.as_str();
    match t.protocol {
        Protocol::Imap => conn::deadline(name, limit, imap::login(&login)).await,
        Protocol::Pop3 => conn::deadline(name, limit, pop3::login(&login)).await,
        Protocol::Smtp => conn::deadline(name, limit, smtp::login(&login)).await,
    }
}

/// A login failure with its reason.
pub(crate) fn fail(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::VerifyFailed, message)
}

/// What the token itself says about a rejection, when it is a JWT (Entra's and most IdPs'
/// access tokens are; Google's are opaque): issued to another account, or already expired.
/// Read without verifying the signature: it only improves the message.
pub fn diagnose_token(token: &str, user: &str, now: i64) -> Option<String> {
    let mut parts = token.split('.');
    let (_, payload) = (parts.next()?, parts.next()?);
    parts.next()?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    if let Some(exp) = claims.get("exp").and_then(|e| e.as_i64())
        && exp <= now
    {
        let when = time::OffsetDateTime::from_unix_timestamp(exp)
            .ok()
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_else(|| exp.to_string());
        return Some(format!(
            "the access token expired at {when} (check this machine's clock and the server's)"
        ));
    }
    let names: Vec<&str> = ["upn", "email", "preferred_username", "unique_name"]
        .iter()
        .filter_map(|k| claims.get(*k).and_then(|v| v.as_str()))
        .collect();
    if !names.is_empty() && !names.iter().any(|n| n.eq_ignore_ascii_case(user)) {
        return Some(format!(
            "the token was issued to {}, not {user}: sign in with {user}'s account",
            names[0]
        ));
    }
    None
}

pub struct Outcome {
    pub target: Target,
    pub error: Option<Error>,
    /// Logins tried (more than one with `--wait`).
    pub attempts: u32,
    /// When the login first passed.
    pub passed_at: Option<time::OffsetDateTime>,
}

/// What one `verify` found: the caller prints it (`verify`) or folds it into its own report
/// (`up`).
pub struct Report {
    pub provider: Provider,
    pub user: String,
    /// Delegated (the user's own token) or app-only (the application's token, as the mailbox).
    pub access: Access,
    /// Where the access token came from: `refresh`, `code`, `device` or `client_credentials`.
    pub source: &'static str,
    /// App-only access: the app roles the token carries (read from it, for the messages).
    pub roles: Vec<String>,
    pub mech: Mechanism,
    /// Whether logins were retried (`--wait`): the JSON then says attempts and first success.
    pub waited: bool,
    pub outcomes: Vec<Outcome>,
}

impl Report {
    pub fn failed(&self) -> usize {
        self.outcomes.iter().filter(|o| o.error.is_some()).count()
    }

    /// One JSON object per protocol.
    pub fn results_json(&self) -> Vec<serde_json::Value> {
        self.outcomes
            .iter()
            .map(|o| {
                let mut r = json!({
                    "protocol": o.target.protocol.as_str(),
                    "server": format!("{}:{}", o.target.host, o.target.port),
                    "mechanism": self.mech.name(),
                    "security": o.target.security,
                    "ok": o.error.is_none(),
                    "reason": o.error.as_ref().map(|e| conn::printable(&e.message)),
                });
                if self.waited {
                    r["attempts"] = json!(o.attempts);
                    r["first_success"] = json!(o.passed_at.map(crate::clock::rfc3339));
                }
                r
            })
            .collect()
    }

    pub fn to_json(&self) -> serde_json::Value {
        let mut doc = json!({
            "provider": self.provider.as_str(),
            "user": self.user,
            "token": {"source": self.source},
            "results": self.results_json(),
        });
        // Only app access adds fields: delegated documents stay as they were.
        if self.access == Access::App {
            doc["access"] = json!(self.access.as_str());
            doc["token"]["roles"] = json!(self.roles);
        }
        doc
    }

    /// One line per protocol; with `quiet`, only the failures.
    pub fn text(&self, quiet: bool) -> String {
        let mut out = String::new();
        for o in &self.outcomes {
            let t = &o.target;
            let head = format!(
                "{:<5} {:<6}  {}:{} ({}, {})",
                t.protocol.as_str(),
                if o.error.is_none() { "OK" } else { "FAILED" },
                t.host,
                t.port,
                self.mech.name(),
                t.security.label()
            );
            match &o.error {
                None if !quiet && o.attempts > 1 => {
                    out.push_str(&format!("{head}: passed on try {}\n", o.attempts))
                }
                None if !quiet => out.push_str(&format!("{head}\n")),
                None => {}
                Some(e) => out.push_str(&format!("{head}: {}\n", conn::printable(&e.message))),
            }
        }
        out
    }

    /// Exit 6 when any login failed (`reported`: the JSON document already said so).
    pub fn into_result(self, reported: bool) -> Result<ExitCode> {
        let failed = self.failed();
        if failed > 0 {
            let mut e = Error::new(
                ErrorKind::VerifyFailed,
                format!(
                    "{failed} of {} logins failed for {}",
                    self.outcomes.len(),
                    self.user
                ),
            );
            e.reported = reported;
            return Err(e);
        }
        Ok(ExitCode::Success)
    }
}

pub(crate) fn pick_provider(args: &Options, record: &Record) -> Result<Provider> {
    match args.provider {
        Some(p) => Ok(p),
        None => match (&record.microsoft, &record.google) {
            (Some(_), None) => Ok(Provider::Microsoft),
            (None, Some(_)) => Ok(Provider::Google),
            _ => Err(Error::bad_input(
                "the record holds both providers' credentials: pass --provider microsoft or --provider google",
            )),
        },
    }
}

fn url(s: &str, what: &str) -> Result<Url> {
    let u =
        Url::parse(s).map_err(|e| Error::bad_input(format!("{what} {s:?} in the record: {e}")))?;
    check_url(&u, what)?;
    Ok(u)
}

/// The stored client, its redirect URIs and the refresh tokens kept for it.
fn client(record: &Record, provider: Provider) -> Result<(Client, Vec<String>)> {
    let missing = |p: &str| {
        Error::bad_input(format!(
            "no {p} credentials on record for {} (environment {})",
            record.name, record.env
        ))
        .with_hint(
            "run `mailreg apply` first (on this machine, or with the same MAILREG_STATE_DIR)",
        )
    };
    match provider {
        Provider::Microsoft => {
            let m = record
                .microsoft
                .as_ref()
                .ok_or_else(|| missing("Microsoft"))?;
            Ok((
                Client {
                    client_id: m.client_id.clone(),
                    client_secret: m.secret.as_ref().map(|s| s.value.clone()),
                    authorize_url: url(&m.authorize_url, "authorize_url")?,
                    token_url: url(&m.token_url, "token_url")?,
                    scopes: m.scopes.clone(),
                    extra: Vec::new(),
                },
                m.redirect_uris.clone(),
            ))
        }
        Provider::Google => {
            let g = record.google.as_ref().ok_or_else(|| missing("Google"))?;
            let c = g.client.as_ref().ok_or_else(|| {
                Error::bad_input("no Google OAuth client on record")
                    .with_hint("create it in the console and run `mailreg google import-client`")
            })?;
            let redirects = if c.redirect_uris.is_empty() {
                g.redirect_uris.clone()
            } else {
                c.redirect_uris.clone()
            };
            Ok((
                Client {
                    client_id: c.client_id.clone(),
                    client_secret: Some(c.client_secret.clone()),
                    authorize_url: url(&g.authorize_url, "authorize_url")?,
                    token_url: url(&g.token_url, "token_url")?,
                    scopes: vec![crate::google::endpoints::GMAIL_SCOPE.to_owned()],
                    extra: vec![
                        ("access_type".into(), "offline".into()),
                        ("prompt".into(), "consent".into()),
                    ],
                },
                redirects,
            ))
        }
    }
}

fn refresh_tokens(
    record: &mut Record,
    provider: Provider,
) -> &mut std::collections::BTreeMap<String, SecretValue> {
    match provider {
        Provider::Microsoft => &mut record.microsoft.as_mut().expect("checked").refresh_tokens,
        Provider::Google => &mut record.google.as_mut().expect("checked").refresh_tokens,
    }
}

/// The code flow: PKCE + state, the browser (or a printed URL), the redirect, the exchange.
async fn code_flow(
    http: &Http,
    client: &Client,
    redirects: &[String],
    args: &Options,
    user: &str,
    provider: Provider,
) -> Result<Tokens> {
    let chosen = match &args.redirect_uri {
        Some(r) => {
            if !redirects.iter().any(|x| x == r) {
                return Err(Error::bad_input(format!(
                    "--redirect-uri {r} is not registered on the client (registered: {})",
                    redirects.join(", ")
                )));
            }
            r.clone()
        }
        None => redirects
            .iter()
            .find(|r| Url::parse(r).is_ok_and(|u| loopback::is_loopback(&u)))
            .or(redirects.first())
            .cloned()
            .ok_or_else(|| Error::bad_input("the client has no redirect URI on record"))?,
    };
    let redirect =
        Url::parse(&chosen).map_err(|e| Error::bad_input(format!("redirect URI {chosen}: {e}")))?;
    let verifier = oauth::random_string(32)?;
    let state = oauth::random_string(16)?;
    let challenge = oauth::pkce_challenge(&verifier);
    let (code, redirect_uri) = if loopback::is_loopback(&redirect) {
        let rule = match provider {
            Provider::Microsoft => loopback::PortRule::AnyPort,
            Provider::Google => loopback::PortRule::Exact,
        };
        let listener = loopback::bind(&redirect, rule).await?;
        let redirect_uri = listener.redirect_uri.clone();
        let url = oauth::authorize_url(client, &redirect_uri, &state, &challenge, user);
        let waiting = listener.wait(&state, Duration::from_secs(args.timeout));
        let code = if rehearsal::applies(&url) {
            eprintln!(
                "Rehearsal: the emulator signs in as {} by itself (its sign-in page is on loopback).",
                user
            );
            let (code, _) = tokio::try_join!(waiting, async {
                rehearsal::deliver(http, &rehearsal::sign_in(http, &url).await?).await;
                Ok(())
            })?;
            code
        } else {
            eprintln!("Sign in as {} to continue:\n  {url}", user);
            if !args.no_browser
                && let Err(e) = browser::open(url.as_str())
            {
                eprintln!("warning: {e}; open the URL above yourself");
            }
            waiting.await?
        };
        (code, redirect_uri)
    } else {
        let url = oauth::authorize_url(client, &chosen, &state, &challenge, user);
        if rehearsal::applies(&url) {
            eprintln!(
                "Rehearsal: the emulator signs in as {} by itself (its sign-in page is on loopback).",
                user
            );
            let sent_to = rehearsal::sign_in(http, &url).await?;
            let code = loopback::parse_pasted(sent_to.as_str(), &state)?;
            return oauth::exchange_code(http, client, &code, &chosen, &verifier).await;
        }
        eprintln!(
            "Sign in as {} at this URL, then paste the full URL the browser was sent to:\n  {url}",
            user
        );
        let line = crate::interrupt::read_line().await?;
        (loopback::parse_pasted(&line, &state)?, chosen)
    };
    oauth::exchange_code(http, client, &code, &redirect_uri, &verifier).await
}

pub async fn run(args: &Options) -> Result<ExitCode> {
    let mut reports = check_all(args).await?;
    if reports.iter().any(|r| r.access == Access::App) {
        return app::print(reports, args);
    }
    let report = reports.remove(0);
    match args.json {
        true => println!(
            "{}",
            serde_json::to_string_pretty(&report.to_json()).expect("json")
        ),
        false => print!("{}", report.text(args.quiet)),
    }
    report.into_result(args.json)
}

/// One mailbox's check (`args.user`), for callers that verify mailbox by mailbox (`up`).
pub async fn check(args: &Options) -> Result<Report> {
    if args.user.is_none() {
        return Err(Error::internal("verify::check: no mailbox named"));
    }
    let mut reports = check_all(args).await?;
    Ok(reports.remove(0))
}

/// Signs in and tries every login: one report per mailbox (delegated access: the `--user`
/// signed in; app access: each of the spec's mailboxes, or the one `--user` names). Errors only
/// for what stops the check itself (bad flags, a failed sign-in); failed logins are outcomes in
/// the reports.
pub async fn check_all(args: &Options) -> Result<Vec<Report>> {
    // Settings from the environment first: a bad one is bad input whatever else is wrong.
    let limit = conn::deadline_from_env()?;
    let clock = Clock::from_env()?;
    let spec = Spec::load(&args.file, &args.env)?;
    let store = Store::for_spec(&spec.file);
    let record = store.load_required(&spec.name, &spec.env)?;
    let provider = pick_provider(args, &record)?;
    // The record decides: it says how the registration that exists was made.
    let app = provider == Provider::Microsoft
        && record
            .microsoft
            .as_ref()
            .is_some_and(|m| m.access == Access::App);
    if app {
        return app::check(args, &spec, &record, limit, clock).await;
    }
    let user = args.user.clone().ok_or_else(|| {
        Error::bad_input("--user: name the mailbox to sign in as (delegated access signs in as the mailbox's own account)")
    })?;
    let report = delegated(args, &user, &spec, &store, record, provider, limit, clock).await?;
    Ok(vec![report])
}

/// The delegated check: the mailbox's own token (refresh token, code flow or device flow).
#[allow(clippy::too_many_arguments)]
async fn delegated(
    args: &Options,
    user: &str,
    spec: &Spec,
    store: &Store,
    mut record: Record,
    provider: Provider,
    limit: Duration,
    clock: Clock,
) -> Result<Report> {
    let (client, redirects) = client(&record, provider)?;
    // Everything that can be wrong in the flags is found before anyone is asked to sign in.
    let targets = targets(args, provider)?;
    if let Some(w) = args.wait {
        wait::check_limit(w)?;
    }
    let connector = tls::connector(args.ca_file.as_deref())?;
    if args.device_code && provider == Provider::Google {
        return Err(Error::bad_input(
            "--device-code: Google does not offer the device flow for the mail scope; use the browser sign-in",
        ));
    }
    let http = Http::new(clock)?;

    let stored = refresh_tokens(&mut record, provider).get(user).cloned();
    let mut tokens = None;
    let mut source = "code";
    if let Some(rt) = &stored {
        if let Some(t) = oauth::refresh(&http, &client, rt).await? {
            tokens = Some(t);
            source = "refresh";
        } else {
            // Revoked or expired: forget it now, so a failed sign-in below does not leave it to
            // be tried (and reported) again on every run.
            refresh_tokens(&mut record, provider).remove(user);
            store.update(&spec.name, &spec.env, |fresh| {
                if self::client(fresh, provider).is_ok() {
                    refresh_tokens(fresh, provider).remove(user);
                }
            })?;
            eprintln!("The stored refresh token was rejected; signing in again.");
        }
    }
    let tokens = match tokens {
        Some(t) => t,
        None if args.device_code => {
            source = "device";
            oauth::device(&http, &client, |m| eprintln!("{m}")).await?
        }
        None => code_flow(&http, &client, &redirects, args, user, provider).await?,
    };
    if args.keep_refresh_token || stored.is_some() {
        // Through the store's locked update: only this mailbox's token changes, and only while
        // the record still names the client it was issued to (a sign-in can take minutes, and
        // a `rotate` or `apply --replace` may have run meanwhile).
        let keep = |change: &dyn Fn(&mut std::collections::BTreeMap<String, SecretValue>)| {
            let mut same_client = false;
            store.update(&spec.name, &spec.env, |fresh| {
                same_client = self::client(fresh, provider)
                    .is_ok_and(|(c, _)| c.client_id == client.client_id);
                if same_client {
                    change(refresh_tokens(fresh, provider));
                }
            })?;
            if !same_client {
                eprintln!(
                    "warning: the record names another client now (replaced while you signed in); the refresh token was not kept"
                );
            }
            Ok::<(), Error>(())
        };
        match &tokens.refresh {
            Some(rt) => {
                keep(&|map| {
                    map.insert(user.to_owned(), rt.clone());
                })?;
            }
            None if source != "refresh" => {
                // A spent token must not be tried again next time.
                keep(&|map| {
                    map.remove(user);
                })?;
                eprintln!(
                    "warning: the server returned no refresh token (Microsoft: the scopes need offline_access)"
                );
            }
            None => {}
        }
    }

    let started = std::time::Instant::now();
    // Gmail says itself when the account has IMAP or POP switched off: a clearer reason than
    // the login's failure, and no login is tried for it.
    let blocked = if provider == Provider::Google {
        let protocols: Vec<Protocol> = targets.iter().map(|t| t.protocol).collect();
        crate::mailbox::google::gmail_blocks(&http, &tokens.access, &protocols).await
    } else {
        Vec::new()
    };
    let login_once = |t: Target| {
        let (token, connector) = (&tokens.access, &connector);
        async move {
            let result = attempt(&t, user, token, args.mech, connector, limit).await;
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            result.err().map(|mut e| {
                if e.code.as_deref() == Some(explain::REJECTED)
                    && let Some(d) = diagnose_token(token.expose(), user, now)
                {
                    e.message = format!("{d}; {}", e.message);
                }
                e
            })
        }
    };
    let mut outcomes = Vec::new();
    for t in targets {
        let error = match blocked.iter().find(|(p, _)| *p == t.protocol) {
            Some((_, why)) => Some(fail(why.clone())),
            None => login_once(t.clone()).await,
        };
        let passed_at = error.is_none().then(time::OffsetDateTime::now_utc);
        outcomes.push(Outcome {
            target: t,
            error,
            attempts: 1,
            passed_at,
        });
    }
    wait::when_asked(&mut outcomes, args, http.clock(), started, login_once).await;

    Ok(Report {
        provider,
        user: user.to_owned(),
        access: Access::Delegated,
        source,
        roles: Vec::new(),
        mech: args.mech,
        waited: args.wait.is_some(),
        outcomes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An unsigned JWT carrying `claims` (the verify modules' tests).
    pub(super) fn jwt(claims: serde_json::Value) -> String {
        let e = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        format!(
            "{}.{}.sig",
            e(br#"{"alg":"RS256"}"#),
            e(claims.to_string().as_bytes())
        )
    }

    #[test]
    fn servers_parse_and_plain_is_loopback_only() {
        assert_eq!(
            parse_server("imap.example.com:993").unwrap(),
            ("imap.example.com".into(), 993)
        );
        assert_eq!(parse_server("[::1]:143").unwrap(), ("::1".into(), 143));
        assert!(parse_server("imap.example.com").is_err());
        assert!(parse_server("h:0").is_err());
        assert!(
            crate::http::is_loopback_host("127.0.0.1")
                && crate::http::is_loopback_host("::1")
                && crate::http::is_loopback_host("LOCALHOST")
        );
        assert!(!crate::http::is_loopback_host("10.0.0.1"));
        assert_eq!(security_for_port(465), Some(Security::Tls));
        assert_eq!(security_for_port(587), Some(Security::Starttls));
        assert_eq!(security_for_port(10143), None);
    }

    #[test]
    fn a_jwt_tells_expiry_and_the_wrong_account() {
        let now = 1_700_000_000;
        let t = jwt(json!({"exp": now - 60, "email": "bob@example.test"}));
        assert!(
            diagnose_token(&t, "bob@example.test", now)
                .unwrap()
                .starts_with("the access token expired at 2023-11-14T22:12:20Z")
        );
        let t = jwt(json!({"exp": now + 60, "upn": "carol@example.test"}));
        assert_eq!(
            diagnose_token(&t, "bob@example.test", now).unwrap(),
            "the token was issued to carol@example.test, not bob@example.test: sign in with bob@example.test's account"
        );
        let t = jwt(json!({"exp": now + 60, "upn": "Bob@Example.test"}));
        assert_eq!(diagnose_token(&t, "bob@example.test", now), None);
        assert_eq!(
            diagnose_token("ya29.opaque-google-token", "bob@example.test", now),
            None
        );
        assert_eq!(diagnose_token("garbage", "bob@example.test", now), None);
    }
}
