//! The emulator's server: sockets, fault injection and the request log, shared by the fakes.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, Request, Response, StatusCode};

use super::exchange::ExchangeState;
use super::google::{GmailState, GoogleConfig, GoogleState};
use super::graph::{GraphConfig, GraphState};
use super::keyvault::{KeyVaultConfig, KeyVaultState};
use super::wire::{EmuRequest, EmuResponse};

/// What a fault does to a matching request.
#[derive(Clone, Debug, PartialEq)]
pub enum FaultKind {
    /// 429 with `Retry-After: n` (seconds), or without the header.
    Throttle(Option<u32>),
    /// A 5xx (or any) status with a Graph-style error body.
    Status(u16),
    /// Close the connection without an answer; the request is not processed.
    DropBefore,
    /// Process the request, then lose the answer (the change happened; the client cannot know).
    DropAfter,
    /// Answer normally after a delay (real time).
    Delay(Duration),
}

/// A fault for the next `count` requests matching `method` and a path fragment.
#[derive(Clone, Debug)]
pub struct Fault {
    pub method: Option<String>,
    pub path_contains: Option<String>,
    pub count: u32,
    pub kind: FaultKind,
}

impl Fault {
    pub fn new(kind: FaultKind) -> Self {
        Fault {
            method: None,
            path_contains: None,
            count: 1,
            kind,
        }
    }
    pub fn on(mut self, method: &str, path_contains: &str) -> Self {
        self.method = Some(method.to_owned());
        self.path_contains = Some(path_contains.to_owned());
        self
    }
    pub fn times(mut self, n: u32) -> Self {
        self.count = n;
        self
    }
    fn matches(&self, req: &EmuRequest) -> bool {
        self.count > 0
            && self
                .method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(&req.method))
            && self
                .path_contains
                .as_deref()
                .is_none_or(|p| req.path.contains(p))
    }
}

/// One request as the emulator saw it. `status` is 0 when the connection was dropped unanswered.
#[derive(Clone, Debug)]
pub struct LoggedRequest {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: Option<serde_json::Value>,
    pub status: u16,
    /// When the emulator processed it (before any delay): benchmarks time operations with it.
    pub at: time::OffsetDateTime,
}

impl LoggedRequest {
    pub fn is_write(&self) -> bool {
        self.method != "GET"
    }
    /// Requests to token endpoints (not counted as API calls).
    pub fn is_token(&self) -> bool {
        self.path.ends_with("/token")
    }
}

#[derive(Clone, Debug, Default)]
pub struct EmulatorConfig {
    /// 0 picks a free port.
    pub port: u16,
    pub graph: GraphConfig,
    pub google: GoogleConfig,
    pub keyvault: KeyVaultConfig,
    /// Added to every answer (real time, after the request is processed), on top of any
    /// [`FaultKind::Delay`]: a fixed network latency, for benchmarks.
    pub latency: Option<Duration>,
}

/// Faults drawn at random for every request, from a seed (so a failing run can be replayed).
pub struct RandomFaults {
    pub rate: f64,
    pub kinds: Vec<FaultKind>,
    rng: fastrand::Rng,
    /// How many faults were injected so far.
    pub injected: u64,
}

impl RandomFaults {
    pub fn new(rate: f64, seed: u64, kinds: Vec<FaultKind>) -> Self {
        RandomFaults {
            rate,
            kinds,
            rng: fastrand::Rng::with_seed(seed),
            injected: 0,
        }
    }

    fn draw(&mut self) -> Option<FaultKind> {
        if self.kinds.is_empty() || self.rng.f64() >= self.rate {
            return None;
        }
        self.injected += 1;
        Some(self.kinds[self.rng.usize(..self.kinds.len())].clone())
    }
}

/// Called with each request's index (from 0) once the emulator has processed it, before the
/// answer is sent: the crash suite kills the client there.
pub type Hook = Box<dyn FnMut(usize, &LoggedRequest) + Send>;

/// Everything the emulator knows; tests reach it through [`Emulator::with_state`].
pub struct EmuState {
    pub graph: GraphState,
    pub google: GoogleState,
    /// Exchange Online's admin endpoint (mailbox readiness).
    pub exchange: ExchangeState,
    /// Gmail's IMAP/POP settings of the mailbox.
    pub gmail: GmailState,
    /// Azure Key Vault's secrets (`[[secret]]` stores).
    pub keyvault: KeyVaultState,
    pub faults: Vec<Fault>,
    pub random: Option<RandomFaults>,
    pub hook: Option<Hook>,
    pub log: Vec<LoggedRequest>,
    /// See [`EmulatorConfig::latency`].
    pub latency: Option<Duration>,
}

impl EmuState {
    /// Seeds a mailbox user (here, where Graph and Exchange meet): a Graph user with its licences, and its Exchange settings.
    pub fn add_mailbox(&mut self, seed: super::exchange::MailboxSeed) -> String {
        self.exchange.add(&seed.upn, seed.cas);
        self.graph.add_user(crate::graph::UserSeed {
            upn: seed.upn,
            account_enabled: seed.account_enabled,
            licences: seed.licences,
        })
    }
}

enum Outcome {
    Respond(EmuResponse, Option<Duration>),
    Drop,
}

impl EmuState {
    fn dispatch(&mut self, req: EmuRequest) -> Outcome {
        let now = time::OffsetDateTime::now_utc();
        let fault = self
            .faults
            .iter_mut()
            .find(|f| f.matches(&req))
            .map(|f| {
                f.count -= 1;
                f.kind.clone()
            })
            .or_else(|| self.random.as_mut().and_then(RandomFaults::draw));
        let mut entry = LoggedRequest {
            method: req.method.clone(),
            path: req.path.clone(),
            query: req.query.clone(),
            body: req.json(),
            status: 0,
            at: now,
        };
        let outcome = match fault {
            Some(FaultKind::DropBefore) => Outcome::Drop,
            Some(FaultKind::Throttle(after)) => {
                let body = serde_json::json!({"error": {"code": "TooManyRequests", "message": "Please retry again later.",
                    "innerError": {"code": "429", "message": "Please retry after", "status": "429"}}});
                let mut r = EmuResponse::json(429, &body);
                if let Some(s) = after {
                    r = r.with_header("retry-after", s.to_string());
                }
                Outcome::Respond(r, self.latency)
            }
            Some(FaultKind::Status(code)) => {
                let body = serde_json::json!({"error": {"code": "ServiceUnavailable", "message": "The service is temporarily unavailable (injected fault)."}});
                Outcome::Respond(EmuResponse::json(code, &body), self.latency)
            }
            Some(FaultKind::DropAfter) => {
                let _ = self.route(&req, now);
                Outcome::Drop
            }
            Some(FaultKind::Delay(d)) => {
                let d = d + self.latency.unwrap_or_default();
                Outcome::Respond(self.route(&req, now), Some(d))
            }
            None => Outcome::Respond(self.route(&req, now), self.latency),
        };
        if let Outcome::Respond(r, _) = &outcome {
            entry.status = r.status;
        }
        if let Some(hook) = self.hook.as_mut() {
            hook(self.log.len(), &entry);
        }
        self.log.push(entry);
        outcome
    }

    fn route(&mut self, req: &EmuRequest, now: time::OffsetDateTime) -> EmuResponse {
        if req.path == CONSOLE_PATH {
            return self.console(req);
        }
        self.exchange
            .handle(req, now, &self.graph)
            .or_else(|| self.gmail.handle(req))
            .or_else(|| self.graph.handle(req, now))
            .or_else(|| {
                let audience = req
                    .bearer()
                    .and_then(|t| self.graph.token_audience(t.trim(), now));
                self.keyvault.handle(req, audience, now)
            })
            .or_else(|| self.google.handle(req, now))
            .unwrap_or_else(|| {
                EmuResponse::json(404, &serde_json::json!({"error": {"code": "NotFound", "message": format!("the emulator does not serve {} {}", req.method, req.path)}}))
            })
    }
}

/// The emulator's own endpoint that plays the Google console: a person creates the Web client
/// there and downloads its JSON. Not a Google path: nothing of mailreg calls it on its own.
pub const CONSOLE_PATH: &str = "/emulator/console/oauth-client";

impl EmuState {
    /// `POST /emulator/console/oauth-client` `{"project_id", "redirect_uris"}`: creates the Web
    /// client for an existing project and answers the client JSON exactly as the console's
    /// download.
    fn console(&mut self, req: &EmuRequest) -> EmuResponse {
        let body = req.json().unwrap_or_default();
        let project = body["project_id"].as_str().unwrap_or_default();
        let uris: Vec<String> = body["redirect_uris"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|u| u.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        if req.method != "POST" || project.is_empty() {
            return EmuResponse::json(
                400,
                &serde_json::json!({"error": {"message": "POST {\"project_id\": …, \"redirect_uris\": […]}"}}),
            );
        }
        match self.google.create_oauth_client(project, &uris) {
            Ok(client) => EmuResponse {
                status: 200,
                headers: vec![("content-type".into(), "application/json".into())],
                body: crate::google::client_file_text(&client).into_bytes(),
            },
            Err(e) => EmuResponse::json(404, &serde_json::json!({"error": {"message": e}})),
        }
    }
}

type Shared = Arc<Mutex<EmuState>>;

/// A running emulator. Dropping it stops the server.
pub struct Emulator {
    addr: SocketAddr,
    /// The mail responder's ports (IMAP, POP3, SMTP).
    mail: crate::mail::MailPorts,
    state: Shared,
    /// Holds the Application Default Credentials file that points google-cloud-auth here.
    files: Arc<tempfile::TempDir>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

async fn handle(State(state): State<Shared>, req: Request<Body>) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 16 << 20)
        .await
        .unwrap_or_default();
    let path = percent_encoding::percent_decode_str(parts.uri.path())
        .decode_utf8_lossy()
        .into_owned();
    let query = parts
        .uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default();
    let headers = parts
        .headers
        .iter()
        .filter_map(|(k, v)| {
            v.to_str()
                .ok()
                .map(|v| (k.as_str().to_ascii_lowercase(), v.to_owned()))
        })
        .collect();
    let emu = EmuRequest {
        method: parts.method.as_str().to_owned(),
        path,
        query,
        headers,
        body: bytes.to_vec(),
    };
    let outcome = state.lock().expect("emulator state").dispatch(emu);
    match outcome {
        Outcome::Respond(r, delay) => {
            if let Some(d) = delay {
                tokio::time::sleep(d).await;
            }
            let mut resp = Response::new(Body::from(r.body));
            *resp.status_mut() =
                StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            for (k, v) in r.headers {
                if let (Ok(k), Ok(v)) = (
                    HeaderName::from_bytes(k.as_bytes()),
                    HeaderValue::from_str(&v),
                ) {
                    resp.headers_mut().append(k, v);
                }
            }
            resp
        }
        Outcome::Drop => {
            // A body that fails mid-stream makes hyper abort the connection: the client sees the
            // connection drop without a complete answer.
            let stream = futures::stream::once(async {
                Err::<bytes::Bytes, std::io::Error>(std::io::Error::other(
                    "connection dropped (injected fault)",
                ))
            });
            let mut resp = Response::new(Body::from_stream(stream));
            resp.headers_mut()
                .insert("content-length", HeaderValue::from_static("100"));
            resp
        }
    }
}

impl Emulator {
    /// Starts on the current tokio runtime.
    pub async fn start(config: EmulatorConfig) -> std::io::Result<Emulator> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", config.port))
            .await
            .map_err(|e| {
                std::io::Error::new(
                    e.kind(),
                    format!("emulator: cannot listen on 127.0.0.1:{}: {e}", config.port),
                )
            })?;
        let addr = listener.local_addr()?;
        let mut config = config;
        // Links the fake writes (@odata.nextLink, location) point back at this server.
        config.graph.graph_base_url = format!("http://{addr}");
        let state = Self::state(config);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(state.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        let files = Arc::new(Self::write_files(&state, addr)?);
        let mail = crate::mail::serve(state.clone()).await?;
        Ok(Emulator {
            addr,
            mail,
            state,
            files,
            shutdown: Some(tx),
            thread: None,
        })
    }

    /// An `authorized_user` ADC file for the emulator's Google principal, with `token_uri` on
    /// this server (google-cloud-auth honours it: reference/rust-crates.md §3).
    fn write_files(state: &Shared, addr: SocketAddr) -> std::io::Result<tempfile::TempDir> {
        let dir = tempfile::Builder::new()
            .prefix("mailreg-emulator-")
            .tempdir()?;
        let principal = state
            .lock()
            .expect("emulator state")
            .google
            .config_mut()
            .principals
            .first()
            .cloned();
        if let Some(p) = principal {
            let adc = serde_json::json!({
                "type": "authorized_user",
                "client_id": p.client_id,
                "client_secret": p.client_secret,
                "refresh_token": p.refresh_token,
                "token_uri": format!("http://{addr}/token"),
            });
            write_private(&dir.path().join("adc.json"), adc.to_string().as_bytes())?;
        }
        Ok(dir)
    }

    /// Starts on a runtime of its own, for synchronous callers (tests that run the binary).
    pub fn start_background(config: EmulatorConfig) -> std::io::Result<Emulator> {
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("emulator runtime");
            rt.block_on(async move {
                match Emulator::start(config).await {
                    Ok(mut emu) => {
                        let stop = emu.shutdown.take();
                        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
                        let _ = tx.send(Ok((
                            emu.addr,
                            emu.mail,
                            emu.state.clone(),
                            emu.files.clone(),
                            stop_tx,
                        )));
                        let _ = stop_rx.await;
                        if let Some(s) = stop {
                            let _ = s.send(());
                        }
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e));
                    }
                }
            });
        });
        let (addr, mail, state, files, stop) = rx
            .recv()
            .map_err(|_| std::io::Error::other("emulator thread died"))??;
        Ok(Emulator {
            addr,
            mail,
            state,
            files,
            shutdown: Some(stop),
            thread: Some(thread),
        })
    }

    fn state(config: EmulatorConfig) -> Shared {
        Arc::new(Mutex::new(EmuState {
            graph: GraphState::new(config.graph),
            google: GoogleState::new(config.google),
            exchange: ExchangeState::default(),
            gmail: GmailState::default(),
            keyvault: KeyVaultState::new(config.keyvault),
            faults: Vec::new(),
            random: None,
            hook: None,
            log: Vec::new(),
            latency: config.latency.filter(|d| !d.is_zero()),
        }))
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn with_state<R>(&self, f: impl FnOnce(&mut EmuState) -> R) -> R {
        f(&mut self.state.lock().expect("emulator state"))
    }

    pub fn inject(&self, fault: Fault) {
        self.with_state(|s| s.faults.push(fault));
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.with_state(|s| s.log.clone())
    }

    pub fn clear_log(&self) {
        self.with_state(|s| s.log.clear());
    }

    /// The environment that points mailreg at this emulator, signed in as its operator.
    pub fn env(&self) -> Vec<(String, String)> {
        let url = self.url();
        let (client_id, secret) = self.with_state(|s| {
            s.graph
                .config_mut()
                .principals
                .first()
                .cloned()
                .unwrap_or_default()
        });
        vec![
            ("MAILREG_GRAPH_URL".into(), url.clone()),
            ("MAILREG_LOGIN_URL".into(), url.clone()),
            ("AZURE_CLIENT_ID".into(), client_id),
            ("AZURE_CLIENT_SECRET".into(), secret),
            ("MAILREG_RESOURCE_MANAGER_URL".into(), url.clone()),
            ("MAILREG_SERVICE_USAGE_URL".into(), url.clone()),
            ("MAILREG_EXCHANGE_URL".into(), url.clone()),
            ("MAILREG_GMAIL_URL".into(), url.clone()),
            ("MAILREG_KEYVAULT_URL".into(), url.clone()),
            ("MAILREG_SECRET_MANAGER_URL".into(), url),
            // verify's mail servers: the responder, without TLS (loopback only).
            (
                "MAILREG_IMAP_SERVER".into(),
                format!("127.0.0.1:{}", self.mail.imap),
            ),
            (
                "MAILREG_POP_SERVER".into(),
                format!("127.0.0.1:{}", self.mail.pop3),
            ),
            (
                "MAILREG_SMTP_SERVER".into(),
                format!("127.0.0.1:{}", self.mail.smtp),
            ),
            ("MAILREG_MAIL_PLAIN".into(), "1".into()),
            // Its sign-in page completes by itself: verify opens it without a browser.
            ("MAILREG_REHEARSAL_SIGN_IN".into(), "1".into()),
            (
                "GOOGLE_APPLICATION_CREDENTIALS".into(),
                self.files.path().join("adc.json").display().to_string(),
            ),
        ]
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Writes a credentials file the emulator hands out (the ADC file) with mode 0600, as the files
/// it imitates are: tempfile creates with 0600 on unix.
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".emulator-")
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The configured latency delays every answer, and the log records when each request was
    /// processed. (A lower bound only: a slow machine cannot make it fail.)
    #[tokio::test]
    async fn latency_delays_every_answer_and_the_log_is_timestamped() {
        let latency = Duration::from_millis(60);
        let emu = Emulator::start(EmulatorConfig {
            latency: Some(latency),
            ..Default::default()
        })
        .await
        .unwrap();
        emu.inject(Fault::new(FaultKind::Delay(Duration::from_millis(40))).on("GET", "/v3/"));
        let client = reqwest::Client::new();
        for (path, at_least) in [
            ("/v1.0/applications", latency),
            ("/v3/projects/x", latency + Duration::from_millis(40)),
        ] {
            let started = std::time::Instant::now();
            let status = client
                .get(format!("{}{path}", emu.url()))
                .send()
                .await
                .unwrap()
                .status();
            assert_eq!(status, 401, "{path}: no token");
            assert!(
                started.elapsed() >= at_least,
                "{path}: {:?}",
                started.elapsed()
            );
        }
        let log = emu.requests();
        assert_eq!(log.len(), 2);
        assert!(log[0].at <= log[1].at);
    }
}
