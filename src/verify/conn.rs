//! One line-oriented mail connection (IMAP, POP3 and SMTP are all CRLF line protocols), over
//! plain TCP or TLS, with the STARTTLS upgrade in the middle and a timeout on every read.
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
/// Longest server line accepted (RFC 5321 allows 512; IMAP capability lines are longer).
const MAX_LINE: usize = 64 * 1024;

pub struct Conn {
    stream: BufReader<Box<dyn Io>>,
    host: String,
    proto: &'static str,
}

impl Conn {
    pub async fn connect(proto: &'static str, host: &str, port: u16) -> Result<Conn> {
        let tcp = tokio::time::timeout(TIMEOUT, TcpStream::connect((host, port)))
            .await
            .map_err(|_| Error::io(format!("connecting to {host}:{port}: timed out")))?
            .map_err(|e| Error::io(format!("connecting to {host}:{port}: {e}")).with_source(e))?;
        let _ = tcp.set_nodelay(true);
        Ok(Conn {
            stream: BufReader::new(Box::new(tcp)),
            host: host.to_owned(),
            proto,
        })
    }

    /// TLS handshake on the current stream (implicit TLS at once, or after STARTTLS).
    pub async fn start_tls(self, connector: &TlsConnector) -> Result<Conn> {
        let Conn {
            stream,
            host,
            proto,
        } = self;
        if !stream.buffer().is_empty() {
            // Data after the STARTTLS answer would be injected by a man in the middle.
            return Err(Error::io("the server sent data before the TLS handshake"));
        }
        let name = tls::server_name(&host)?;
        let io = stream.into_inner();
        let tls = tokio::time::timeout(TIMEOUT, connector.connect(name, io))
            .await
            .map_err(|_| Error::io("TLS handshake timed out"))?
            .map_err(|e| Error::io(format!("TLS handshake with {host}: {e}")).with_source(e))?;
        Ok(Conn {
            stream: BufReader::new(Box::new(tls)),
            host,
            proto,
        })
    }

    /// Reads one line without its CRLF.
    pub async fn read_line(&mut self) -> Result<String> {
        let mut buf = Vec::new();
        let read = tokio::time::timeout(TIMEOUT, async {
            loop {
                let chunk = self.stream.fill_buf().await?;
                if chunk.is_empty() {
                    return Ok::<bool, std::io::Error>(false);
                }
                match chunk.iter().position(|b| *b == b'\n') {
                    Some(i) => {
                        buf.extend_from_slice(&chunk[..=i]);
                        self.stream.consume(i + 1);
                        return Ok(true);
                    }
                    None => {
                        let n = chunk.len();
                        buf.extend_from_slice(chunk);
                        self.stream.consume(n);
                        if buf.len() > MAX_LINE {
                            return Err(std::io::Error::other("line too long"));
                        }
                    }
                }
            }
        })
        .await
        .map_err(|_| {
            Error::io(format!(
                "{}: no answer from the server within {}s",
                self.proto,
                TIMEOUT.as_secs()
            ))
        })?
        .map_err(|e| {
            Error::io(format!("{}: reading from the server: {e}", self.proto)).with_source(e)
        })?;
        if !read && buf.is_empty() {
            return Err(Error::io(format!(
                "{}: the server closed the connection",
                self.proto
            )));
        }
        let line = String::from_utf8_lossy(&buf)
            .trim_end_matches(['\r', '\n'])
            .to_owned();
        tracing::debug!(target: "mailreg::verify", "{} S: {line}", self.proto);
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
        let fut = async {
            let mut bytes = Vec::with_capacity(line.len() + 2);
            bytes.extend_from_slice(line.as_bytes());
            bytes.extend_from_slice(b"\r\n");
            let w = self.stream.get_mut();
            w.write_all(&bytes).await?;
            w.flush().await
        };
        tokio::time::timeout(TIMEOUT, fut)
            .await
            .map_err(|_| Error::io(format!("{}: writing timed out", self.proto)))?
            .map_err(|e| {
                Error::io(format!("{}: writing to the server: {e}", self.proto)).with_source(e)
            })
    }
}
