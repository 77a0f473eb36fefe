//! TLS for the mail connections: rustls with the aws-lc-rs provider (the stack reqwest already
//! brings, so there is one TLS implementation in the binary), trusting the system's roots plus an
//! optional `--ca-file` (a private CA, or the test servers' throwaway one).

use std::path::Path;
use std::sync::Arc;

use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};

use crate::error::{Error, Result};

/// How a connection is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// TLS from the first byte (IMAPS 993, POP3S 995, SMTPS 465).
    Tls,
    /// Plain connection upgraded with STARTTLS / STLS before authenticating.
    Starttls,
    /// No TLS at all: loopback only (tests, local relays).
    Plain,
}

impl Security {
    pub fn label(self) -> &'static str {
        match self {
            Security::Tls => "TLS",
            Security::Starttls => "STARTTLS",
            Security::Plain => "plain",
        }
    }
}

/// Builds the connector once per run: system roots (when any) plus the extra CA file.
pub fn connector(ca_file: Option<&Path>) -> Result<TlsConnector> {
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    if let Some(path) = ca_file {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .and_then(|it| it.collect::<std::result::Result<_, _>>())
            .map_err(|e| Error::bad_input(format!("--ca-file {}: {e}", path.display())))?;
        if certs.is_empty() {
            return Err(Error::bad_input(format!(
                "--ca-file {}: no PEM certificate in it",
                path.display()
            )));
        }
        for c in certs {
            roots
                .add(c)
                .map_err(|e| Error::bad_input(format!("--ca-file {}: {e}", path.display())))?;
        }
    }
    if roots.is_empty() {
        return Err(Error::bad_input(
            "no trusted CA certificates: the system has none (install ca-certificates) and no --ca-file was given",
        ));
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::internal(format!("TLS setup: {e}")).with_source(e))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

/// The name the server's certificate must carry: a DNS name or an IP address.
pub fn server_name(host: &str) -> Result<ServerName<'static>> {
    ServerName::try_from(host.to_owned())
        .map_err(|_| Error::bad_input(format!("{host}: not a valid server name")))
}
