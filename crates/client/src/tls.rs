//! TLS to a server's secure client port (ZooKeeper's `secureClientPort`): the CA
//! certificates to trust, and optionally a client certificate and key (mutual TLS, which
//! gives the session the certificate's `x509` id). The session logic never sees TLS: the
//! I/O task (`io.rs`) does the handshake as part of connecting, and a failed handshake is a
//! failed connect (the next server is tried).

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::PrivateKeyDer;
use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use rustls::RootCertStore;

use crate::error::{Error, Result};

/// TLS settings of a handle (see [`ConnectOptions::tls`](crate::ConnectOptions::tls)).
#[derive(Clone)]
pub struct TlsOptions {
    config: Arc<ClientConfig>,
    server_name: Option<String>,
}

impl fmt::Debug for TlsOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsOptions")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

// rustls 0.23.48 deprecates its ring provider for lacking post-quantum key exchange; ring
// builds with a C compiler alone, and ZooKeeper's servers (the JDK) agree on X25519 or
// P-256 anyway.
#[allow(deprecated)]
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn bad(path: &Path, why: impl fmt::Display) -> Error {
    Error::BadArguments(format!("TLS: {}: {why}", path.display()))
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| bad(path, e))
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let pem = read(path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| bad(path, format!("bad PEM: {e}")))?;
    if certs.is_empty() {
        return Err(bad(path, "no CERTIFICATE in the file"));
    }
    Ok(certs)
}

impl TlsOptions {
    /// Trusts the CA certificates of the PEM file `ca` (ZooKeeper's
    /// `zookeeper.ssl.trustStore.location`); with `client`, presents the certificate chain of
    /// the first PEM file, with the private key of the second (they may be the same file, as
    /// ZooKeeper's PEM key store). Errors name the file and what is wrong with it.
    pub fn from_pem_files(ca: &Path, client: Option<(&Path, &Path)>) -> Result<TlsOptions> {
        let mut roots = RootCertStore::empty();
        for c in certificates(ca)? {
            roots
                .add(c)
                .map_err(|e| bad(ca, format!("not a CA certificate: {e}")))?;
        }
        let builder = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::BadArguments(format!("TLS: {e}")))?
            .with_root_certificates(roots);
        let config = match client {
            None => builder.with_no_client_auth(),
            Some((cert, key)) => {
                let chain = certificates(cert)?;
                let key_pem = read(key)?;
                let text = String::from_utf8_lossy(&key_pem);
                if text.contains("ENCRYPTED PRIVATE KEY") || text.contains("Proc-Type: 4,ENCRYPTED")
                {
                    return Err(bad(
                        key,
                        "the private key is encrypted; give an unencrypted one",
                    ));
                }
                let pk = PrivateKeyDer::from_pem_slice(&key_pem)
                    .map_err(|e| bad(key, format!("no usable PRIVATE KEY: {e}")))?;
                builder
                    .with_client_auth_cert(chain, pk)
                    .map_err(|e| bad(key, e))?
            }
        };
        Ok(TlsOptions::from_config(Arc::new(config)))
    }

    /// Uses a rustls configuration built by the application.
    pub fn from_config(config: Arc<ClientConfig>) -> TlsOptions {
        TlsOptions {
            config,
            server_name: None,
        }
    }

    /// Checks the server's certificate against `name` instead of the host of the connect
    /// string (a server reached by address whose certificate names a host, say).
    pub fn server_name(mut self, name: impl Into<String>) -> TlsOptions {
        self.server_name = Some(name.into());
        self
    }

    /// The TLS handshake over `tcp` with the server at `host`.
    pub(crate) async fn connect(
        &self,
        host: &str,
        tcp: tokio::net::TcpStream,
    ) -> std::io::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
        let name = self.server_name.as_deref().unwrap_or(host);
        // An IPv6 literal of a connect string is written in brackets.
        let name = name.trim_start_matches('[').trim_end_matches(']');
        let name = ServerName::try_from(name.to_string()).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("{name:?} cannot be a TLS server name: {e}"),
            )
        })?;
        tokio_rustls::TlsConnector::from(self.config.clone())
            .connect(name, tcp)
            .await
    }
}
