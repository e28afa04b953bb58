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
    let (chain, key) = key_store(&s.key_store, s.key_store_password.as_deref())?;
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

/// The label of an encrypted PKCS#8 key (what `openssl pkcs8 -topk8` writes, and the one
/// encrypted form ZooKeeper's PEM key store reads).
const ENCRYPTED_KEY: &str = "ENCRYPTED PRIVATE KEY";

/// The DER of the first PEM section labelled `label` in `text`, if there is one.
fn pem_section(text: &str, label: &str) -> Option<Result<Vec<u8>, String>> {
    use base64::Engine;
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text.find(&begin)? + begin.len();
    let Some(len) = text[start..].find(&end) else {
        return Some(Err(format!("no {end} line")));
    };
    let body: String = text[start..start + len].split_whitespace().collect();
    Some(
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|e| format!("bad base64 in the {label}: {e}")),
    )
}

/// Decrypts an encrypted PKCS#8 key (PBES2: PBKDF2 or scrypt with AES, or 3DES).
fn decrypt_key(
    path: &Path,
    der: &[u8],
    password: Option<&str>,
) -> Result<PrivateKeyDer<'static>, TlsError> {
    let Some(password) = password else {
        return Err(content(
            path,
            "the private key is encrypted and no password is set (ssl.keyStore.password, \
             --ssl-keystore-password)",
        ));
    };
    let info = pkcs8::EncryptedPrivateKeyInfo::try_from(der).map_err(|e| {
        content(
            path,
            format!(
                "the {ENCRYPTED_KEY} cannot be read ({e}); PBES2 with AES or 3DES is read: \
                     re-encrypt it (openssl pkcs8 -topk8 -v2 aes-256-cbc)"
            ),
        )
    })?;
    let plain = info.decrypt(password).map_err(|e| {
        content(
            path,
            format!(
                "the private key cannot be decrypted with ssl.keyStore.password ({e}): a wrong \
                 password, or a cipher zk-node does not read (PBES2 with AES or 3DES is read)"
            ),
        )
    })?;
    Ok(PrivateKeyDer::Pkcs8(plain.as_bytes().to_vec().into()))
}

/// The key store: the private key and the certificate chain (the server's own first),
/// from one PEM file as ZooKeeper's PEM key store has them; an encrypted PKCS#8 key is
/// decrypted with `password`.
pub(crate) fn key_store(
    path: &Path,
    password: Option<&str>,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsError> {
    let pem = read(path)?;
    let text = String::from_utf8_lossy(&pem);
    // OpenSSL's old per-file encryption: ZooKeeper does not read it either.
    if text.contains("Proc-Type: 4,ENCRYPTED") {
        return Err(content(
            path,
            "the private key is encrypted in OpenSSL's legacy form; convert it to an encrypted \
             PKCS#8 key (openssl pkcs8 -topk8 -v2 aes-256-cbc -in key.pem -out key8.pem)",
        ));
    }
    let encrypted = match pem_section(&text, ENCRYPTED_KEY) {
        None => None,
        Some(Ok(der)) => Some(decrypt_key(path, &der, password)?),
        Some(Err(e)) => return Err(content(path, e)),
    };
    let chain = certificates(path, &pem)?;
    if chain.is_empty() {
        return Err(content(
            path,
            "no CERTIFICATE in the key store (it needs the server's certificate chain beside \
             its private key)",
        ));
    }
    if let Some(key) = encrypted {
        return Ok((chain, key));
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

    /// `key` (a PKCS#8 PEM) encrypted with `password` as `openssl pkcs8 -topk8 -v2
    /// aes-256-cbc` does (PBES2, PBKDF2-HMAC-SHA256, AES-256-CBC), in PEM.
    fn encrypt(key: &str, password: &str) -> String {
        use base64::Engine;
        let der = pem_section(key, "PRIVATE KEY")
            .and_then(Result::ok)
            .unwrap_or_else(|| panic!("a PKCS#8 key"));
        let info =
            pkcs8::PrivateKeyInfo::try_from(der.as_slice()).unwrap_or_else(|e| panic!("{e}"));
        let params = pkcs8::pkcs5::pbes2::Parameters::pbkdf2_sha256_aes256cbc(
            2048,
            b"saltsaltsaltsalt",
            &[7u8; 16],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let enc = info
            .encrypt_with_params(params, password)
            .unwrap_or_else(|e| panic!("{e}"));
        let b64 = base64::engine::general_purpose::STANDARD.encode(enc.as_bytes());
        format!("-----BEGIN {ENCRYPTED_KEY}-----\n{b64}\n-----END {ENCRYPTED_KEY}-----\n")
    }

    /// An encrypted PKCS#8 key is read with ssl.keyStore.password; without it, or with a
    /// wrong one, the error says so.
    #[test]
    fn encrypted_keys_need_their_password() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let pki = Pki::new("ca");
        pki.write_server(dir.path());
        let store = format!(
            "{}{}",
            encrypt(pki.server_key_pem(), "s3cret"),
            pki.server_cert_pem()
        );
        std::fs::write(dir.path().join("server.pem"), store).unwrap_or_else(|e| panic!("{e}"));
        let mut s = settings(dir.path(), ClientAuth::None, false);
        let msg = |s: &TlsSettings| server_config(s).err().map(|e| e.to_string());
        assert!(msg(&s).unwrap_or_default().contains("no password is set"));
        s.key_store_password = Some("wrong".into());
        assert!(msg(&s).unwrap_or_default().contains("cannot be decrypted"));
        s.key_store_password = Some("s3cret".into());
        assert_eq!(msg(&s), None);
        // A password beside an unencrypted key is not needed, and does no harm.
        pki.write_server(dir.path());
        assert_eq!(msg(&s), None);
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
        assert!(msg(&s).unwrap_or_default().contains("no password is set"));
        let legacy = "-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n\
            DEK-Info: AES-256-CBC,00\n\nAAAA\n-----END EC PRIVATE KEY-----\n";
        std::fs::write(&server, legacy).unwrap_or_else(|e| panic!("{e}"));
        assert!(msg(&s).unwrap_or_default().contains("legacy form"));
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
