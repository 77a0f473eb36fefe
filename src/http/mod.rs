//! The one HTTP client of mailreg, shared by both clouds and by the Azure credential transport.
//!
//! It owns what every call needs and nothing provider-specific: per-request timeouts, the retry
//! policy ([`retry`]), the `https`-only rule (plain `http` only to loopback), the request log
//! (`-vv`: method, host, path, status, duration; never headers or bodies, so never a token or a
//! secret), and request counters for benchmarks. Providers describe *what* a call is (safe to
//! repeat or not, which answers mean replication lag); this module decides *how* to get it done.

mod body;
pub mod notice;
pub mod origin;
pub mod pace;
pub mod retry;

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::de::DeserializeOwned;
use url::Url;

use crate::clock::Clock;
use crate::error::{Error, ErrorKind, Result};
use body::AttemptError;
pub use retry::RetryPolicy;
use retry::{Verdict, parse_retry_after};

/// Error code set on an [`Error`] when a request that is not safe to repeat was sent but its
/// answer never arrived: the change may or may not have been applied, and the caller must look
/// before it acts again.
pub const RESPONSE_LOST: &str = "mailreg.response_lost";

/// Accepted range of `MAILREG_HTTP_TIMEOUT`, in seconds per request.
pub const TIMEOUT_RANGE: (f64, f64) = (0.05, 600.0);

/// Largest response body accepted, after decompression. Real answers (a Graph page of 999
/// applications) stay under a few MiB; a server streaming without end is cut off here instead
/// of growing mailreg's memory.
pub const MAX_BODY: usize = 32 * 1024 * 1024;

/// Most pages one listing may take. Real listings of mailreg's resources fit in a few pages;
/// a server that keeps sending a next page (or the same one again) is stopped here.
pub const MAX_PAGES: usize = 200;

/// The error for a listing that did not end: a partial list could make a plan delete or
/// recreate the wrong things, so the call fails rather than going on with what it has.
pub fn paging_error(what: &str, pages: usize, repeated: bool) -> Error {
    let why = if repeated {
        "the server sent the same next page again".to_owned()
    } else {
        format!("stopped after {pages} pages, the most mailreg reads for one listing")
    };
    Error::api(format!("listing {what}: {why}")).with_hint(
        "the listing does not end; check the server (or the URL override pointing at it)",
    )
}

/// Whether repeating a request can apply it twice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Safety {
    /// GET, DELETE, PATCH of fields, and creates that are idempotent by key (Graph upsert).
    Idempotent,
    /// Creates without a key (`addPassword`, `POST /servicePrincipals`, `projects.create`):
    /// retried only when the server provably did not process them (429, connection refused).
    NotIdempotent,
}

/// Classifies an error answer as replication lag (retried within the lag budget).
pub type LagClassifier = fn(&Failure) -> bool;

/// Recognises the answer that says the target of a delete no longer exists.
pub type GoneClassifier = fn(&Failure) -> bool;

/// What a DELETE gets when its target is gone: 404.
pub fn gone_404(f: &Failure) -> bool {
    f.status == 404
}

/// A request body. Bodies are never logged.
#[derive(Clone, Debug)]
pub enum Body {
    Empty,
    Json(serde_json::Value),
    /// `application/x-www-form-urlencoded`; token requests carry secrets here.
    Form(Vec<(String, String)>),
    /// Bytes whose `Content-Type` is already in the request headers (the Azure transport).
    Raw(Vec<u8>),
}

/// One logical call. Built by providers, sent by [`Http::send`].
pub struct Request {
    pub method: Method,
    pub url: Url,
    pub headers: HeaderMap,
    pub body: Body,
    pub safety: Safety,
    pub lag: Option<LagClassifier>,
    /// For deletes: the answer that means "already gone". When an earlier attempt may have
    /// been carried out (its answer was lost, or a 5xx), that answer on the retry means the
    /// delete is done; mistaking it for replication lag would wait for minutes and then fail.
    pub gone: Option<GoneClassifier>,
    /// Skips the https-only rule. Set only by the managed-identity transport for the Azure
    /// metadata service, which is plain http on a link-local address by design.
    pub plain_http_ok: bool,
}

impl Request {
    pub fn new(method: Method, url: Url) -> Self {
        let safety = if method == Method::POST {
            Safety::NotIdempotent
        } else {
            Safety::Idempotent
        };
        let gone = (method == Method::DELETE).then_some(gone_404 as GoneClassifier);
        Request {
            method,
            url,
            headers: HeaderMap::new(),
            body: Body::Empty,
            safety,
            lag: None,
            gone,
            plain_http_ok: false,
        }
    }
    pub fn json(mut self, body: serde_json::Value) -> Self {
        self.body = Body::Json(body);
        self
    }
    pub fn form(mut self, pairs: Vec<(String, String)>) -> Self {
        self.body = Body::Form(pairs);
        self
    }
    pub fn header(mut self, name: &'static str, value: &str) -> Self {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.headers.insert(HeaderName::from_static(name), v);
        }
        self
    }
    /// Adds `Authorization: Bearer …`, marked sensitive so no debug output shows it.
    pub fn bearer(mut self, token: &str) -> Self {
        if let Ok(mut v) = HeaderValue::from_str(&format!("Bearer {token}")) {
            v.set_sensitive(true);
            self.headers.insert(reqwest::header::AUTHORIZATION, v);
        }
        self
    }
    pub fn safety(mut self, safety: Safety) -> Self {
        self.safety = safety;
        self
    }
    pub fn lag(mut self, classifier: LagClassifier) -> Self {
        self.lag = Some(classifier);
        self
    }
    /// Marks the call as a delete (of any method) whose "already gone" answer `classifier`
    /// recognises; see [`Request::gone`].
    pub fn gone(mut self, classifier: GoneClassifier) -> Self {
        self.gone = Some(classifier);
        self
    }
}

/// A successful (2xx) answer.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// When the attempt that got this answer was sent (the server cannot have acted earlier).
    pub sent: Instant,
}

impl Response {
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.body).map_err(|e| {
            Error::api(format!(
                "unexpected response body (HTTP {}): {e}",
                self.status
            ))
        })
    }
}

/// An error answer from a server, parsed from any of the error shapes the clouds use:
/// Graph/OData `{"error":{"code":"…","message":"…"}}`, Google `{"error":{"code":403,"status":"…"}}`
/// and OAuth `{"error":"invalid_client","error_description":"…"}`.
#[derive(Clone, Debug)]
pub struct Failure {
    pub status: u16,
    pub code: Option<String>,
    /// Azure's finer code, `error.innererror.code` (Key Vault: `ObjectIsBeingRecovered`).
    pub inner_code: Option<String>,
    pub message: String,
    pub retry_after: Option<Duration>,
    pub request_id: Option<String>,
}

impl Failure {
    pub fn parse(status: u16, headers: &HeaderMap, body: &[u8]) -> Failure {
        let retry_after = headers
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, time::OffsetDateTime::now_utc()));
        let request_id = headers
            .get("request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut inner_code = None;
        let (code, message) = match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(v) => match v.get("error") {
                Some(serde_json::Value::Object(e)) => {
                    inner_code = e
                        .get("innererror")
                        .and_then(|i| i.get("code"))
                        .and_then(|c| c.as_str())
                        .map(str::to_owned);
                    let code = e
                        .get("code")
                        .and_then(|c| c.as_str())
                        .or_else(|| e.get("status").and_then(|s| s.as_str()))
                        .map(str::to_owned);
                    let msg = e
                        .get("message")
                        .and_then(|m| m.as_str())
                        .unwrap_or_default()
                        .to_owned();
                    (code, msg)
                }
                Some(serde_json::Value::String(code)) => (
                    Some(code.clone()),
                    v.get("error_description")
                        .and_then(|d| d.as_str())
                        .unwrap_or_default()
                        .to_owned(),
                ),
                _ => (None, String::new()),
            },
            Err(_) => (None, String::new()),
        };
        let message = if message.is_empty() {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            if text.is_empty() || text.len() > 300 {
                http_reason(status).to_owned()
            } else {
                text.to_owned()
            }
        } else {
            message
        };
        Failure {
            status,
            code,
            inner_code,
            message,
            retry_after,
            request_id,
        }
    }

    pub fn is(&self, status: u16, code: &str) -> bool {
        self.status == status && self.code.as_deref() == Some(code)
    }

    /// The user-facing error: status, code and the server's message.
    pub fn into_error(self) -> Error {
        let kind = match self.status {
            401 => ErrorKind::Auth,
            _ => ErrorKind::Api,
        };
        let mut text = match &self.code {
            Some(code) => format!("HTTP {} {code}: {}", self.status, self.message),
            None => format!("HTTP {}: {}", self.status, self.message),
        };
        if let Some(id) = &self.request_id {
            text.push_str(&format!(" (request-id {id})"));
        }
        let mut e = Error::new(kind, text);
        e.code = self.code;
        e.status = Some(self.status);
        e
    }
}

fn http_reason(status: u16) -> &'static str {
    reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("error")
}

/// Rejects anything but `https`, and `http` to a loopback address.
pub fn check_url(url: &Url, what: &str) -> Result<()> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        "http" => Err(Error::bad_input(format!(
            "{what}: {url} uses plain http; only https is allowed, except for loopback addresses (127.0.0.1, ::1, localhost)"
        ))),
        other => Err(Error::bad_input(format!(
            "{what}: {url}: unsupported scheme `{other}` (expected https)"
        ))),
    }
}

/// A base URL from an environment variable (or its default), checked by [`check_url`].
pub fn env_url(var: &str, default: &str) -> Result<Url> {
    let raw = match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => v,
        _ => default.to_owned(),
    };
    let url = Url::parse(raw.trim_end_matches('/'))
        .map_err(|e| Error::bad_input(format!("{var}: {raw:?} is not a URL: {e}")))?;
    check_url(&url, var)?;
    if raw != default {
        origin::record(var, &url);
    }
    Ok(url)
}

/// Whether a URL's host is this machine (`localhost`, 127.0.0.0/8, `[::1]`): the one place
/// where plain text is allowed (endpoints, redirect URIs, mail servers).
pub fn is_loopback(url: &Url) -> bool {
    url.host_str().is_some_and(is_loopback_host)
}

/// [`is_loopback`] for a bare host name or address (IPv6 with or without brackets).
pub fn is_loopback_host(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[derive(Clone)]
pub struct Http {
    client: reqwest::Client,
    clock: Clock,
    policy: RetryPolicy,
    timeout: Duration,
    /// Paces writes to Graph's `applications` path (the ones its per-app write limit counts).
    pacer: Option<Arc<pace::Pacer>>,
}

impl Http {
    pub fn new(clock: Clock) -> Result<Self> {
        let timeout = crate::clock::secs_clamped(crate::clock::env_number(
            "MAILREG_HTTP_TIMEOUT",
            TIMEOUT_RANGE,
            30.0,
        )?);
        let client = Self::builder(timeout).build().map_err(|e| {
            Error::internal(format!("building the HTTP client: {e}")).with_source(e)
        })?;
        Ok(Http {
            client,
            clock,
            policy: RetryPolicy::default(),
            timeout,
            pacer: None,
        })
    }

    fn builder(timeout: Duration) -> reqwest::ClientBuilder {
        reqwest::Client::builder()
            .user_agent(concat!("mailreg/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            // Graph's nextLink and Google's URLs are followed explicitly; a redirect is a surprise.
            .redirect(reqwest::redirect::Policy::none())
    }

    /// The same client, also trusting the CA certificates in `pem` (a private Vault's CA,
    /// `VAULT_CACERT`). Shares the retry policy and counters; the connection pool is its own.
    pub fn with_root_certificates(&self, pem: &[u8]) -> Result<Self> {
        let certs = reqwest::Certificate::from_pem_bundle(pem)
            .ok()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| {
                Error::bad_input("not a PEM certificate bundle (no certificate in it)")
            })?;
        let mut builder = Self::builder(self.timeout);
        for c in certs {
            builder = builder.add_root_certificate(c);
        }
        let client = builder
            .build()
            .map_err(|e| Error::internal(format!("building the HTTP client: {e}")))?;
        Ok(Http {
            client,
            ..self.clone()
        })
    }

    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// Paces writes to Graph's `applications` path (retries included), for bulk work.
    pub fn with_pacer(mut self, pacer: pace::Pacer) -> Self {
        self.pacer = Some(Arc::new(pacer));
        self
    }

    fn pacer_for(&self, req: &Request) -> Option<&pace::Pacer> {
        let paced = req.method != Method::GET && req.url.path().starts_with("/v1.0/applications");
        self.pacer.as_deref().filter(|_| paced)
    }

    /// Sends a call, retrying what is safe to retry, and returns the 2xx answer or the error.
    pub async fn send(&self, req: Request) -> Result<Response> {
        let resp = self.send_raw(req).await?;
        if resp.status < 400 {
            Ok(resp)
        } else {
            Err(Failure::parse(resp.status, &resp.headers, &resp.body).into_error())
        }
    }

    /// Like [`Http::send`], but a final error answer (after retries) is returned as a response,
    /// for callers that interpret error bodies themselves (the Azure credential transport).
    pub async fn send_raw(&self, req: Request) -> Result<Response> {
        if !req.plain_http_ok {
            check_url(&req.url, "request URL")?;
        }
        let policy = &self.policy;
        let mut attempt: u32 = 0;
        let mut waited = Duration::ZERO;
        let mut lag_waited = Duration::ZERO;
        let mut lag_polls: u32 = 0;
        // Whether an earlier attempt may have been carried out by the server.
        let mut maybe_acted = false;
        let begun = Instant::now();
        // `host[:port]/path`: the port shows when the URL names one (an override such as the
        // emulator's), so a wrong port is visible in `-vv` too.
        let target = format!(
            "{} {}{}{}",
            req.method,
            req.url.host_str().unwrap_or_default(),
            req.url.port().map(|p| format!(":{p}")).unwrap_or_default(),
            req.url.path()
        );
        loop {
            attempt += 1;
            let started = Instant::now();
            if let Some(pacer) = self.pacer_for(&req) {
                pacer.wait().await;
            }
            let outcome = self.attempt(&req).await;
            let elapsed = started.elapsed().as_millis();
            let throttled = matches!(&outcome, Ok(r) if r.status == 429);
            if let Some(pacer) = self.pacer_for(&req)
                && !throttled
            {
                pacer.answered().await;
            }
            let mut retry_after = None;
            let (verdict, error) = match outcome {
                Ok(resp) if resp.status < 400 => {
                    tracing::debug!(target: "mailreg::http", "{target} -> {} ({elapsed} ms)", resp.status);
                    return Ok(resp);
                }
                Ok(resp) => {
                    let failure = Failure::parse(resp.status, &resp.headers, &resp.body);
                    tracing::debug!(
                        target: "mailreg::http",
                        "{target} -> {} {} ({elapsed} ms)",
                        resp.status,
                        failure.code.as_deref().unwrap_or("")
                    );
                    if maybe_acted && req.gone.is_some_and(|gone| gone(&failure)) {
                        tracing::info!(target: "mailreg::http", "{target}: already gone after a retry: the earlier attempt did it");
                        return Ok(Response {
                            status: 204,
                            headers: HeaderMap::new(),
                            body: Vec::new(),
                            sent: resp.sent,
                        });
                    }
                    // A gateway error may come after the backend acted; 503 and 429 say it did not.
                    maybe_acted |= matches!(resp.status, 500 | 502 | 504);
                    retry_after = failure.retry_after;
                    let verdict = self.classify(&req, &failure, attempt, lag_polls);
                    if verdict == Verdict::Final {
                        return Ok(resp);
                    }
                    (verdict, failure.into_error())
                }
                Err(AttemptError::TooLarge(cap)) => {
                    tracing::debug!(target: "mailreg::http", "{target} -> body over {} MiB ({elapsed} ms)", cap >> 20);
                    return Err(Error::api(format!(
                        "{target}: the answer is larger than {} MiB; no real answer is that large, so mailreg stopped reading it",
                        cap >> 20
                    )));
                }
                Err(AttemptError::Transport(e)) => {
                    let not_sent = e.is_connect();
                    maybe_acted |= !not_sent;
                    let what = describe_transport(&e);
                    tracing::debug!(target: "mailreg::http", "{target} -> {what} ({elapsed} ms)");
                    if not_sent {
                        // Nothing listens there: on loopback that will not change in a second
                        // (fail at once); elsewhere allow a few quick tries for a network blip.
                        let quick = if is_loopback(&req.url) {
                            1
                        } else {
                            CONNECT_ATTEMPTS
                        };
                        if attempt >= quick {
                            return Err(connect_error(&req.url, &what, attempt));
                        }
                    }
                    let verdict = if req.safety == Safety::Idempotent || not_sent {
                        Verdict::Transient(policy.backoff(attempt - 1))
                    } else {
                        Verdict::Final
                    };
                    let mut err = Error::api(what);
                    if !not_sent && req.safety == Safety::NotIdempotent {
                        err.code = Some(RESPONSE_LOST.into());
                        err.message.push_str(
                            " after the request was sent; it may or may not have been applied",
                        );
                    }
                    if verdict == Verdict::Final {
                        return Err(err.context(&target));
                    }
                    (verdict, err.context(&target))
                }
            };
            match verdict {
                Verdict::Final => return Err(error),
                Verdict::Transient(delay) => {
                    // A throttled paced write is the pacer's: it slows down and retries until
                    // the run's deadline, whatever the per-call limits.
                    let paced = self.pacer_for(&req).filter(|_| throttled);
                    if paced.is_none() && delay > policy.budget {
                        // A Retry-After longer than the whole budget: waiting part of it
                        // would only fail later, so say it now.
                        return Err(error.context(format!(
                            "the server asks to wait {}, longer than mailreg's retry budget of {}s",
                            humantime::format_duration(Duration::from_secs(delay.as_secs())),
                            policy.budget.as_secs()
                        )));
                    }
                    let exhausted = match paced {
                        Some(pacer) => !pacer.before_deadline(self.clock.real(delay)),
                        None => attempt >= policy.max_attempts || waited + delay > policy.budget,
                    };
                    if exhausted {
                        // Real time, as the user lived it (waits are scaled in tests).
                        let why = if paced.is_some() {
                            "at the deadline, "
                        } else {
                            ""
                        };
                        return Err(error.context(format!(
                            "giving up {why}after {attempt} attempts over {:.0}s",
                            begun.elapsed().as_secs_f64()
                        )));
                    }
                    waited += delay;
                    let why = match error.status {
                        Some(429) => "the server asked to retry later (HTTP 429)".to_owned(),
                        Some(s) => format!("retrying after HTTP {s}"),
                        None => "retrying after a connection failure".to_owned(),
                    };
                    notice::long_wait(&why, &target, delay);
                    let shown = error
                        .message
                        .strip_prefix(&format!("{target}: "))
                        .unwrap_or(&error.message)
                        .to_owned();
                    tracing::info!(target: "mailreg::http", "{target}: {shown}; retrying in {:.1}s", delay.as_secs_f64());
                    match paced {
                        // The pacer holds every paced write (this retry's slot included).
                        Some(pacer) => {
                            pacer
                                .throttled(retry_after.map(|d| self.clock.real(d)))
                                .await
                        }
                        None => self.clock.sleep(delay).await,
                    }
                }
                Verdict::Lag(delay) => {
                    if lag_waited + delay > policy.lag_budget {
                        return Err(error
                            .context(format!(
                                "still not replicated after {:.0}s",
                                begun.elapsed().as_secs_f64()
                            ))
                            .with_hint("Entra ID can take minutes to replicate a new object; run the command again"));
                    }
                    lag_waited += delay;
                    notice::long_wait("waiting for a new object to replicate", &target, delay);
                    lag_polls += 1;
                    tracing::info!(target: "mailreg::http", "{target}: waiting for replication ({}), retrying in {:.1}s", error.message, delay.as_secs_f64());
                    self.clock.sleep(delay).await;
                }
            }
        }
    }

    /// `lag_polls`: how many replication-lag answers this call has had so far.
    fn classify(&self, req: &Request, failure: &Failure, attempt: u32, lag_polls: u32) -> Verdict {
        let policy = &self.policy;
        if let Some(is_lag) = req.lag
            && is_lag(failure)
        {
            // Lag clears in seconds: poll on the linear lag schedule (retry::lag_delay), with a
            // little jitter, rather than the throttle schedule.
            let d = retry::lag_delay(lag_polls);
            return Verdict::Lag(d.mul_f64(0.9 + fastrand::f64() * 0.1));
        }
        match failure.status {
            // Throttled requests were not processed: safe to repeat even when not idempotent.
            429 => Verdict::Transient(
                failure
                    .retry_after
                    .unwrap_or_else(|| policy.backoff(attempt - 1)),
            ),
            500 | 502 | 503 | 504 if req.safety == Safety::Idempotent => Verdict::Transient(
                failure
                    .retry_after
                    .unwrap_or_else(|| policy.backoff(attempt - 1)),
            ),
            _ => Verdict::Final,
        }
    }

    async fn attempt(&self, req: &Request) -> std::result::Result<Response, AttemptError> {
        let mut builder = self
            .client
            .request(req.method.clone(), req.url.clone())
            .timeout(self.timeout)
            .headers(req.headers.clone());
        builder = match &req.body {
            Body::Empty => {
                if req.method == Method::POST || req.method == Method::PATCH {
                    builder.header(reqwest::header::CONTENT_LENGTH, "0")
                } else {
                    builder
                }
            }
            Body::Json(v) => builder
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(serde_json::to_vec(v).unwrap_or_default()),
            Body::Form(pairs) => builder.form(pairs),
            Body::Raw(bytes) => builder.body(bytes.clone()),
        };
        let sent = Instant::now();
        let resp = builder.send().await?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = body::read_capped(resp, MAX_BODY).await?;
        Ok(Response {
            status,
            headers,
            body,
            sent,
        })
    }
}

/// Tries for a refused connection to a non-loopback host (loopback fails at once).
const CONNECT_ATTEMPTS: u32 = 3;

fn describe_transport(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        // The innermost cause says which: refused, no route, name not resolved.
        let mut cause: Option<&dyn std::error::Error> = Some(e);
        let mut last = None;
        while let Some(c) = cause {
            last = Some(c.to_string());
            cause = c.source();
        }
        match last {
            Some(l) if l.to_ascii_lowercase().contains("refused") => "connection refused".into(),
            Some(l) if l.contains("certificate") => {
                format!("TLS: the server's certificate is not trusted ({l})")
            }
            Some(l) if l.contains("dns error") || l.contains("failed to lookup") => {
                "host name not found".into()
            }
            _ => "connection failed".into(),
        }
    } else {
        "connection dropped".into()
    }
}

/// A connection that could not be made: not an authentication problem (exit 1), and shown with
/// the full origin and the variable that set it.
fn connect_error(url: &Url, what: &str, attempts: u32) -> Error {
    let origin = origin::origin(url);
    let set_by = origin::variable_for(url)
        .map(|v| format!(" (set by {v})"))
        .unwrap_or_default();
    let tries = if attempts > 1 {
        format!(" after {attempts} attempts")
    } else {
        String::new()
    };
    let err = Error::io(format!("cannot connect to {origin}{set_by}: {what}{tries}"));
    let emulator = set_by.contains("MAILREG_");
    if what.starts_with("TLS") {
        err.with_hint("the server's certificate is not trusted here: a private CA, or a proxy that intercepts TLS")
    } else if is_loopback(url) && emulator {
        err.with_hint(
            "nothing is listening there: is `mailreg emulator` running, and on that port?",
        )
    } else if is_loopback(url) {
        err.with_hint("nothing is listening there: is the server running, and on that port?")
    } else {
        err.with_hint("check the address and the network (proxy, firewall)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_http() {
        let ok = [
            "https://graph.microsoft.com",
            "http://127.0.0.1:8080",
            "http://[::1]:1",
            "http://localhost:9",
        ];
        for u in ok {
            assert!(check_url(&Url::parse(u).unwrap(), "x").is_ok(), "{u}");
        }
        let err = check_url(
            &Url::parse("http://10.0.0.1/").unwrap(),
            "MAILREG_GRAPH_URL",
        )
        .unwrap_err();
        assert_eq!(err.kind, ErrorKind::BadInput);
        assert!(
            err.message
                .starts_with("MAILREG_GRAPH_URL: http://10.0.0.1/ uses plain http")
        );
    }

    #[test]
    fn parses_the_three_error_shapes() {
        let h = HeaderMap::new();
        let g = Failure::parse(
            404,
            &h,
            br#"{"error":{"code":"Request_ResourceNotFound","message":"gone"}}"#,
        );
        assert_eq!(
            (g.code.as_deref(), g.message.as_str()),
            (Some("Request_ResourceNotFound"), "gone")
        );
        let goog = Failure::parse(409, &h, br#"{"error":{"code":409,"message":"Requested entity already exists","status":"ALREADY_EXISTS"}}"#);
        assert_eq!(goog.code.as_deref(), Some("ALREADY_EXISTS"));
        let oauth = Failure::parse(401, &h, br#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided."}"#);
        assert_eq!(oauth.code.as_deref(), Some("invalid_client"));
        assert!(oauth.message.starts_with("AADSTS7000215"));
        let plain = Failure::parse(502, &h, b"");
        assert_eq!(plain.message, "Bad Gateway");
    }
}
