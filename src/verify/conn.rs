//! One line-oriented mail connection (IMAP, POP3 and SMTP are all CRLF line protocols), over
//! plain TCP or TLS, with the STARTTLS upgrade in the middle and a timeout on every read.
//!
//! What the server sends is bounded: a line's length, the lines and bytes of one reply (until
//! mailreg writes again), and the time to the greeting, whose absence usually means the port
//! speaks implicit TLS. The whole check of one protocol has a deadline of its own
//! (`MAILREG_VERIFY_TIMEOUT`), applied by the caller with [`deadline`].
//!
//! Lines are logged at `-vv` (target `mailreg::verify`), except the ones that carry a token:
//! [`Conn::send_secret`] logs only a redacted form.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::tls;
use crate::error::{Error, Result};

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Servers answer in well under a second; a minute covers a slow auth backend.
const TIMEOUT: Duration = Duration::from_secs(60);
/// A server greets at once; silence this long means it waits for a TLS ClientHello.
const GREETING_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest server line accepted (RFC 5321 allows 512; IMAP capability lines are longer).
const MAX_LINE: usize = 64 * 1024;
/// Most lines of one reply (an EHLO or CAPABILITY answer has a few dozen).
const MAX_REPLY_LINES: usize = 1000;
/// Most bytes of one reply.
const MAX_REPLY_BYTES: usize = 1024 * 1024;

/// Default and accepted range of `MAILREG_VERIFY_TIMEOUT`: seconds for one protocol's whole check.
pub const DEADLINE_DEFAULT: f64 = 120.0;
pub const DEADLINE_RANGE: (f64, f64) = (0.1, 3600.0);

/// The per-protocol deadline from `MAILREG_VERIFY_TIMEOUT` (bad input when out of range).
pub fn deadline_from_env() -> Result<Duration> {
    crate::clock::env_number("MAILREG_VERIFY_TIMEOUT", DEADLINE_RANGE, DEADLINE_DEFAULT)
        .map(crate::clock::secs_clamped)
}

/// Runs one protocol's check within `limit`.
pub async fn deadline<T>(
    proto: &str,
    limit: Duration,
    check: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    tokio::time::timeout(limit, check)
        .await
        .unwrap_or_else(|_| {
            Err(super::fail(format!(
                "{proto}: the check did not finish within {}s (MAILREG_VERIFY_TIMEOUT)",
                limit.as_secs_f64()
            )))
        })
}

pub struct Conn {
    stream: BufReader<Box<dyn Io>>,
    host: String,
    port: u16,
    proto: &'static str,
    /// Per-read timeout: [`TIMEOUT`], or less under a short deadline.
    timeout: Duration,
    /// Whether the server has sent anything yet (the greeting).
    greeted: bool,
    /// Lines and bytes read since mailreg last wrote: one reply's size.
    reply_lines: usize,
    reply_bytes: usize,
}

impl Conn {
    pub async fn connect(
        proto: &'static str,
        host: &str,
        port: u16,
        limit: Duration,
    ) -> Result<Conn> {
        let timeout = TIMEOUT.min(limit);
        let tcp = tokio::time::timeout(timeout, TcpStream::connect((host, port)))
            .await
            .map_err(|_| Error::io(format!("connecting to {host}:{port}: timed out")))?
            .map_err(|e| Error::io(format!("connecting to {host}:{port}: {e}")).with_source(e))?;
        let _ = tcp.set_nodelay(true);
        Ok(Conn {
            stream: BufReader::new(Box::new(tcp)),
            host: host.to_owned(),
            port,
            proto,
            timeout,
            greeted: false,
            reply_lines: 0,
            reply_bytes: 0,
        })
    }

    /// TLS handshake on the current stream (implicit TLS at once, or after STARTTLS).
    pub async fn start_tls(self, connector: &TlsConnector) -> Result<Conn> {
        let Conn {
            stream,
            host,
            port,
            proto,
            timeout,
            greeted,
            ..
        } = self;
        if !stream.buffer().is_empty() {
            // Data after the STARTTLS answer would be injected by a man in the middle.
            return Err(Error::io("the server sent data before the TLS handshake"));
        }
        let name = tls::server_name(&host)?;
        let io = stream.into_inner();
        let tls = tokio::time::timeout(timeout, connector.connect(name, io))
            .await
            .map_err(|_| Error::io("TLS handshake timed out"))?
            .map_err(|e| {
                let text = e.to_string();
                if !greeted
                    && (text.contains("InvalidContentType") || text.contains("corrupt message"))
                {
                    // The server's first bytes were not TLS: a plain-text greeting.
                    Error::io(format!(
                        "{proto}: port {port} of {host} speaks plain text first, not implicit TLS: use --starttls"
                    ))
                } else {
                    Error::io(format!("TLS handshake with {host}: {text}")).with_source(e)
                }
            })?;
        Ok(Conn {
            stream: BufReader::new(Box::new(tls)),
            host,
            port,
            proto,
            timeout,
            greeted,
            reply_lines: 0,
            reply_bytes: 0,
        })
    }

    /// Reads one line without its CRLF.
    pub async fn read_line(&mut self) -> Result<String> {
        let proto = self.proto;
        if self.reply_lines >= MAX_REPLY_LINES || self.reply_bytes >= MAX_REPLY_BYTES {
            return Err(Error::io(format!(
                "{proto}: the server sent more than {MAX_REPLY_LINES} lines or {} KiB in one reply; mailreg stopped reading",
                MAX_REPLY_BYTES >> 10
            )));
        }
        let greeting = !self.greeted;
        let wait = if greeting {
            // Well inside the whole check's deadline, so the greeting's message wins the race.
            GREETING_TIMEOUT.min(self.timeout / 2)
        } else {
            self.timeout
        };
        let budget = MAX_LINE.min(MAX_REPLY_BYTES - self.reply_bytes);
        let mut buf = Vec::new();
        let stream = &mut self.stream;
        let read = tokio::time::timeout(wait, async {
            loop {
                let chunk = stream.fill_buf().await?;
                if chunk.is_empty() {
                    return Ok::<bool, std::io::Error>(false);
                }
                match chunk.iter().position(|b| *b == b'\n') {
                    Some(i) if buf.len() + i < budget => {
                        buf.extend_from_slice(&chunk[..=i]);
                        stream.consume(i + 1);
                        return Ok(true);
                    }
                    _ => {
                        let n = chunk.len().min(budget + 1 - buf.len().min(budget));
                        buf.extend_from_slice(&chunk[..n]);
                        stream.consume(n);
                        if buf.len() > budget {
                            return Err(std::io::Error::other("line too long"));
                        }
                    }
                }
            }
        })
        .await
        .map_err(|_| {
            if greeting {
                Error::io(format!(
                    "{proto}: port {} of {} sent no greeting within {}s; if it speaks implicit TLS, use --tls",
                    self.port,
                    self.host,
                    wait.as_secs_f64()
                ))
            } else {
                Error::io(format!(
                    "{proto}: no answer from the server within {}s",
                    wait.as_secs_f64()
                ))
            }
        })?
        .map_err(|e| Error::io(format!("{proto}: reading from the server: {e}")).with_source(e))?;
        if !read && buf.is_empty() {
            return Err(Error::io(format!(
                "{proto}: the server closed the connection"
            )));
        }
        if greeting && buf.first().is_some_and(|b| *b == 0x15 || *b == 0x16) {
            // A TLS record (alert or handshake) where a text greeting belongs.
            return Err(Error::io(format!(
                "{proto}: port {} of {} speaks implicit TLS: use --tls",
                self.port, self.host
            )));
        }
        self.greeted = true;
        self.reply_lines += 1;
        self.reply_bytes += buf.len();
        let line: String = String::from_utf8_lossy(&buf)
            .trim_end_matches(['\r', '\n'])
            .to_owned();
        tracing::debug!(target: "mailreg::verify", "{proto} S: {}", printable(&line));
        Ok(line)
    }

    pub async fn send(&mut self, line: &str) -> Result<()> {
        tracing::debug!(target: "mailreg::verify", "{} C: {line}", self.proto);
        self.write(line).await
    }

    /// Sends a line carrying a credential; the log shows `shown` instead.
    pub async fn send_secret(&mut self, line: &str, shown: &str) -> Result<()> {
        tracing::debug!(target: "mailreg::verify", "{} C: {shown}", self.proto);
        self.write(line).await
    }

    async fn write(&mut self, line: &str) -> Result<()> {
        self.reply_lines = 0;
        self.reply_bytes = 0;
        let timeout = self.timeout;
        let fut = async {
            let mut bytes = Vec::with_capacity(line.len() + 2);
            bytes.extend_from_slice(line.as_bytes());
            bytes.extend_from_slice(b"\r\n");
            let w = self.stream.get_mut();
            w.write_all(&bytes).await?;
            w.flush().await
        };
        tokio::time::timeout(timeout, fut)
            .await
            .map_err(|_| Error::io(format!("{}: writing timed out", self.proto)))?
            .map_err(|e| {
                Error::io(format!("{}: writing to the server: {e}", self.proto)).with_source(e)
            })
    }
}

/// A server's text made safe for a terminal: control characters (escape sequences) removed.
pub fn printable(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control() || *c == '\t')
        .collect()
}
