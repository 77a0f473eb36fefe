//! TLS for the mail connections: rustls with the aws-lc-rs provider and the certificate source
//! reqwest uses, `rustls-platform-verifier` (so there is one TLS implementation and one idea of
//! "trusted" in the binary), plus an optional `--ca-file` (a private CA, or the test servers'
//! throwaway one).
//!
//! A self-signed server certificate made the usual way (`openssl req -x509`) is marked as a CA,
//! which WebPKI refuses as a server's own certificate (`CaUsedAsEndEntity`) although
//! `openssl s_client` accepts it. When the server presents exactly a certificate listed in the
//! `--ca-file`, it is accepted for that reason only: the person pinned that very certificate,
//! and the handshake still proves the server holds its key.

use std::path::Path;
use std::sync::Arc;

use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::pki_types::UnixTime;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{self, ClientConfig, DigitallySignedStruct};

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

/// The platform's verification, plus the one exception described in the module comment.
#[derive(Debug)]
struct Verifier {
    webpki: rustls_platform_verifier::Verifier,
    /// The certificates of `--ca-file`, exactly as given.
    pinned: Vec<CertificateDer<'static>>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        match self.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(rustls::Error::InvalidCertificate(rustls::CertificateError::Other(e)))
                if format!("{e:?}").contains("CaUsedAsEndEntity")
                    && self
                        .pinned
                        .iter()
                        .any(|p| p.as_ref() == end_entity.as_ref()) =>
            {
                Ok(ServerCertVerified::assertion())
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

/// Builds the connector once per run: the platform's roots plus the extra CA file.
pub fn connector(ca_file: Option<&Path>) -> Result<TlsConnector> {
    let mut pinned = Vec::new();
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
        pinned = certs;
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let webpki =
        rustls_platform_verifier::Verifier::new_with_extra_roots(pinned.clone(), provider.clone())
            .map_err(|e| match &e {
                rustls::Error::General(m) if m.contains("No CA certificates") => Error::bad_input(
                    "no trusted CA certificates: the system has none (install ca-certificates) and no --ca-file was given",
                ),
                _ => match ca_file {
                    Some(path) => Error::bad_input(format!("--ca-file {}: {e}", path.display())),
                    None => Error::internal(format!("TLS setup: {e}")),
                },
            })?;
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::internal(format!("TLS setup: {e}")).with_source(e))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Verifier { webpki, pinned }))
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

/// The name the server's certificate must carry: a DNS name or an IP address.
pub fn server_name(host: &str) -> Result<ServerName<'static>> {
    ServerName::try_from(host.to_owned())
        .map_err(|_| Error::bad_input(format!("{host}: not a valid server name")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_rustls::rustls::pki_types::PrivateKeyDer;

    /// `openssl req -x509` marks the certificate as a CA; listed in --ca-file, it is accepted as
    /// the server's own. Another self-signed certificate still is not.
    #[tokio::test]
    async fn a_self_signed_ca_flagged_certificate_in_the_ca_file_is_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let make = |name: &str| {
            let (cert, key) = (
                dir.path().join(format!("{name}.pem")),
                dir.path().join(format!("{name}.key")),
            );
            let ok = std::process::Command::new("openssl")
                .args([
                    "req",
                    "-x509",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-days",
                    "2",
                    "-subj",
                    "/CN=127.0.0.1",
                    "-addext",
                    "subjectAltName=IP:127.0.0.1",
                    "-keyout",
                ])
                .arg(&key)
                .arg("-out")
                .arg(&cert)
                .stderr(std::process::Stdio::null())
                .status()
                .unwrap()
                .success();
            assert!(ok, "openssl req -x509");
            (cert, key)
        };
        let (cert, key) = make("server");
        let (other, _) = make("other");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let chain = vec![CertificateDer::from_pem_file(&cert).unwrap()];
        let key = PrivateKeyDer::from_pem_file(&key).unwrap();
        let server = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let _ = acceptor.accept(sock).await;
                });
            }
        });
        let handshake = |ca: std::path::PathBuf| async move {
            let c = connector(Some(&ca)).unwrap();
            let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
            c.connect(server_name("127.0.0.1").unwrap(), tcp)
                .await
                .map(drop)
                .map_err(|e| e.to_string())
        };
        assert_eq!(handshake(cert.clone()).await, Ok(()));
        let refused = handshake(other).await.unwrap_err();
        assert!(refused.contains("invalid peer certificate"), "{refused}");
    }
}
