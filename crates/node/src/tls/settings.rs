//! What the operator configures for the secure client port: ZooKeeper's `ssl.*` keys (PEM
//! files only) and their flags, checked before the server starts.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// ZooKeeper's `ssl.clientAuth`: whether the secure port asks clients for a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientAuth {
    /// Never asks; no client gets an `x509` id.
    None,
    /// Asks; a client without a certificate is served without an `x509` id, one with a
    /// certificate the trust store does not vouch for is refused.
    Want,
    /// Asks and refuses a client without a trusted certificate (ZooKeeper's default).
    #[default]
    Need,
}

impl FromStr for ClientAuth {
    type Err = String;

    /// ZooKeeper's values, in any case (`ClientAuth.fromPropertyValue`); an empty value is
    /// its default, `need`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "none" => Ok(ClientAuth::None),
            "want" => Ok(ClientAuth::Want),
            "need" | "" => Ok(ClientAuth::Need),
            _ => Err(format!("{s:?} is not none, want or need")),
        }
    }
}

impl fmt::Display for ClientAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ClientAuth::None => "none",
            ClientAuth::Want => "want",
            ClientAuth::Need => "need",
        })
    }
}

/// The secure port's certificates and how clients are checked.
#[derive(Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// ssl.keyStore.location: one PEM file with the server's private key and its
    /// certificate chain (ZooKeeper's PEM key store).
    pub key_store: PathBuf,
    /// ssl.keyStore.password: decrypts an encrypted PKCS#8 key (an unencrypted key needs
    /// none).
    pub key_store_password: Option<String>,
    /// ssl.trustStore.location: PEM file of the CA certificates client certificates must
    /// chain to; needed unless clientAuth is none.
    pub trust_store: Option<PathBuf>,
    /// ssl.clientAuth.
    pub client_auth: ClientAuth,
    /// How often the files are checked for changes (a changed file is loaded again, and
    /// new connections get it).
    pub reload_every: Duration,
}

impl fmt::Debug for TlsSettings {
    /// The password is never printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsSettings")
            .field("key_store", &self.key_store)
            .field(
                "key_store_password",
                &self.key_store_password.as_ref().map(|_| "<redacted>"),
            )
            .field("trust_store", &self.trust_store)
            .field("client_auth", &self.client_auth)
            .field("reload_every", &self.reload_every)
            .finish()
    }
}

/// Checks a store type (ssl.keyStore.type, ssl.trustStore.type): only PEM is read.
pub(crate) fn check_store_type(kind: &str) -> Result<(), String> {
    if kind.trim().eq_ignore_ascii_case("pem") {
        Ok(())
    } else {
        Err(format!(
            "zk-node reads PEM files only (type PEM, as ZooKeeper 3.8 accepts them); convert \
             the {kind} store to PEM (e.g. keytool -importkeystore to PKCS12, then openssl \
             pkcs12 -nodes)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_auth_values_are_zookeepers() {
        assert_eq!("NEED".parse(), Ok(ClientAuth::Need));
        assert_eq!("want".parse(), Ok(ClientAuth::Want));
        assert_eq!("None".parse(), Ok(ClientAuth::None));
        assert_eq!("".parse(), Ok(ClientAuth::Need));
        assert!("maybe".parse::<ClientAuth>().is_err());
    }

    #[test]
    fn only_pem_stores() {
        assert!(check_store_type("PEM").is_ok());
        assert!(check_store_type("pem").is_ok());
        let e = check_store_type("JKS").err().unwrap_or_default();
        assert!(e.contains("PEM files only"), "{e}");
    }

    #[test]
    fn password_is_not_printed() {
        let s = TlsSettings {
            key_store: "k.pem".into(),
            key_store_password: Some("hunter2".into()),
            trust_store: None,
            client_auth: ClientAuth::None,
            reload_every: Duration::from_secs(5),
        };
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
