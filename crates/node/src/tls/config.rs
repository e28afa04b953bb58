//! Reads the PEM files of [`TlsSettings`] into a rustls server configuration: the key store
//! (private key and certificate chain in one file, ZooKeeper's PEM key store), the trust
//! store (CA certificates) and the client-certificate policy of `ssl.clientAuth`.

use std::path::Path;
use std::path::PathBuf;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::RootCertStore;
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::PrivateKeyDer;

use super::settings::ClientAuth;
use super::settings::TlsSettings;

/// Why the secure port's files do not make a TLS configuration.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file cannot be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file holds something else than what it should (with what is missing or wrong).
    #[error("{path}: {reason}")]
    Content {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The client-certificate policy needs a trust store.
    #[error(
        "ssl.clientAuth={0} checks client certificates against ssl.trustStore.location \
         (--ssl-truststore), which is not set"
    )]
    NoTrustStore(ClientAuth),
    /// rustls refused the combination (a key that does not match the certificate, ...).
    #[error("{path}: {reason}")]
    Rustls {
        /// The key store.
        path: PathBuf,
        /// rustls' reason.
        reason: String,
    },
}

/// The crypto provider every TLS configuration here uses (chosen explicitly, so nothing
/// depends on a process-wide default being installed).
// rustls 0.23.48 deprecates its ring provider for lacking post-quantum key exchange; ring
// builds with a C compiler alone (aws-lc-rs needs more), and the clients this port serves
// (ZooKeeper's JDK client, kazoo's OpenSSL) agree on X25519 or P-256 anyway.
#[allow(deprecated)]
pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Loads the files of `s` into a server configuration.
pub(crate) fn server_config(s: &TlsSettings) -> Result<Arc<ServerConfig>, TlsError> {
    let (chain, key) = key_store(&s.key_store)?;
    let provider = provider();
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| rustls_error(&s.key_store, e))?;
    let builder = match (s.client_auth, &s.trust_store) {
        (ClientAuth::None, _) => builder.with_no_client_auth(),
        (auth, None) => return Err(TlsError::NoTrustStore(auth)),
        (auth, Some(path)) => {
            let roots = Arc::new(trust_store(path)?);
            let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider);
            let verifier = if auth == ClientAuth::Want {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            let verifier = verifier.build().map_err(|e| TlsError::Content {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder
        .with_single_cert(chain, key)
        .map_err(|e| rustls_error(&s.key_store, e))?;
    Ok(Arc::new(config))
}

fn rustls_error(path: &Path, e: rustls::Error) -> TlsError {
    TlsError::Rustls {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn content(path: &Path, reason: impl Into<String>) -> TlsError {
    TlsError::Content {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// The certificates of a PEM file, in order; other sections (a key) are skipped.
fn certificates(path: &Path, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| content(path, format!("bad PEM: {e}")))
}

/// The key store: the private key and the certificate chain (the server's own first),
/// from one PEM file as ZooKeeper's PEM key store has them.
pub(crate) fn key_store(
    path: &Path,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsError> {
    let pem = read(path)?;
    let text = String::from_utf8_lossy(&pem);
    // rustls reads unencrypted keys only; an encrypted one would otherwise be "no key".
    if text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----")
        || text.contains("Proc-Type: 4,ENCRYPTED")
    {
        return Err(content(
            path,
            "the private key is encrypted (ssl.keyStore.password); zk-node reads unencrypted \
             keys only: decrypt it (openssl pkey -in key.pem -out plain.pem) and keep the file \
             readable by zk-node's user only",
        ));
    }
    let chain = certificates(path, &pem)?;
    if chain.is_empty() {
        return Err(content(
            path,
            "no CERTIFICATE in the key store (it needs the server's certificate chain beside \
             its private key)",
        ));
    }
    let key = PrivateKeyDer::from_pem_slice(&pem).map_err(|e| match e {
        rustls_pki_types::pem::Error::NoItemsFound => content(
            path,
            "no PRIVATE KEY in the key store (it needs the server's private key beside its \
             certificate chain)",
        ),
        e => content(path, format!("bad PEM: {e}")),
    })?;
    Ok((chain, key))
}

/// The trust store: every CA certificate of a PEM file.
pub(crate) fn trust_store(path: &Path) -> Result<RootCertStore, TlsError> {
    let pem = read(path)?;
    let certs = certificates(path, &pem)?;
    if certs.is_empty() {
        return Err(content(path, "no CERTIFICATE in the trust store"));
    }
    let mut roots = RootCertStore::empty();
    for c in certs {
        roots
            .add(c)
            .map_err(|e| content(path, format!("not a CA certificate rustls can use: {e}")))?;
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use zk_testkit::tls::Pki;

    fn settings(dir: &Path, auth: ClientAuth, trust: bool) -> TlsSettings {
        TlsSettings {
            key_store: dir.join("server.pem"),
            key_store_password: None,
            trust_store: trust.then(|| dir.join("ca.pem")),
            client_auth: auth,
            reload_every: Duration::from_secs(5),
        }
    }

    #[test]
    fn loads_a_key_store_and_a_trust_store() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        Pki::new("ca").write_server(dir.path());
        for auth in [ClientAuth::None, ClientAuth::Want, ClientAuth::Need] {
            let s = settings(dir.path(), auth, true);
            assert!(server_config(&s).is_ok(), "{auth}");
        }
        let s = settings(dir.path(), ClientAuth::None, false);
        assert!(server_config(&s).is_ok(), "none needs no trust store");
        let s = settings(dir.path(), ClientAuth::Need, false);
        let e = server_config(&s).err().map(|e| e.to_string());
        assert!(e.unwrap_or_default().contains("ssl.trustStore.location"));
    }

    /// Each broken file is refused with what is wrong with it.
    #[test]
    fn broken_files_say_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let pki = Pki::new("ca");
        pki.write_server(dir.path());
        let s = settings(dir.path(), ClientAuth::Need, true);
        let msg = |s: &TlsSettings| server_config(s).err().map(|e| e.to_string());
        let server = dir.path().join("server.pem");
        let key_only = pki.server_key_pem();
        std::fs::write(&server, key_only).unwrap_or_else(|e| panic!("{e}"));
        assert!(msg(&s).unwrap_or_default().contains("no CERTIFICATE"));
        std::fs::write(&server, pki.server_cert_pem()).unwrap_or_else(|e| panic!("{e}"));
        assert!(msg(&s).unwrap_or_default().contains("no PRIVATE KEY"));
        let encrypted = format!(
            "{}-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
            pki.server_cert_pem()
        );
        std::fs::write(&server, encrypted).unwrap_or_else(|e| panic!("{e}"));
        assert!(msg(&s).unwrap_or_default().contains("encrypted"));
        // Another key than the certificate's.
        let other = Pki::new("other");
        let mismatched = format!("{}{}", pki.server_cert_pem(), other.server_key_pem());
        std::fs::write(&server, mismatched).unwrap_or_else(|e| panic!("{e}"));
        assert!(msg(&s).is_some());
        std::fs::write(&server, b"garbage").unwrap_or_else(|e| panic!("{e}"));
        assert!(msg(&s).is_some());
        std::fs::remove_file(&server).unwrap_or_else(|e| panic!("{e}"));
        assert!(msg(&s).unwrap_or_default().contains("server.pem"));
        pki.write_server(dir.path());
        std::fs::write(dir.path().join("ca.pem"), b"").unwrap_or_else(|e| panic!("{e}"));
        assert!(msg(&s)
            .unwrap_or_default()
            .contains("no CERTIFICATE in the trust store"));
    }
}
