//! The peer link's certificates (ZooKeeper's sslQuorum with the `ssl.quorum.*` keys): the
//! same PEM key store and trust store the secure client port reads, made into the server
//! side (every member must present a certificate the trust store vouches for) and the client
//! side (this member's certificate, the members' CAs) of `zk_consensus::PeerTls`, and
//! reloaded when the files change. Which member a certificate may speak as is the consensus
//! crate's rule (docs/operations.md).

use std::sync::Arc;

use rustls::ClientConfig;
use rustls::ServerConfig;
use zk_consensus::PeerTls;

use super::config::key_store;
use super::config::provider;
use super::config::server_config;
use super::config::trust_store;
use super::config::TlsError;
use super::reload::Reloader;
use super::reload::Target;
use super::settings::ClientAuth;
use super::settings::TlsSettings;

/// Loads the peer link's files; the reloader watches them from now on.
pub(crate) fn load(settings: &TlsSettings) -> Result<(PeerTls, Reloader), TlsError> {
    let (server, client) = configs(settings)?;
    let tls = PeerTls::new(&server, &client);
    let reloader = Reloader::new(settings.clone(), Arc::new(Quorum(tls.clone())));
    Ok((tls, reloader))
}

/// Both sides of the link from `s` (whose client auth is always `need`).
fn configs(s: &TlsSettings) -> Result<(Arc<ServerConfig>, Arc<ClientConfig>), TlsError> {
    let Some(trust) = &s.trust_store else {
        return Err(TlsError::NoTrustStore(ClientAuth::Need));
    };
    let server = server_config(&TlsSettings {
        client_auth: ClientAuth::Need,
        ..s.clone()
    })?;
    let (chain, key) = key_store(&s.key_store, s.key_store_password.as_deref())?;
    let roots = trust_store(trust)?;
    let rustls_error = |e: rustls::Error| TlsError::Rustls {
        path: s.key_store.clone(),
        reason: e.to_string(),
    };
    let client = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(rustls_error)?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(rustls_error)?;
    Ok((server, Arc::new(client)))
}

/// The peer link's configurations, replaced on a reload.
struct Quorum(PeerTls);

impl Target for Quorum {
    fn load(&self, settings: &TlsSettings) -> Result<(), TlsError> {
        let (server, client) = configs(settings)?;
        self.0.replace(&server, &client);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use zk_testkit::tls::Pki;

    use super::*;
    use crate::tls::reload::Checked;

    fn settings(dir: &std::path::Path, pki: &Pki) -> TlsSettings {
        let (key_store, ca) = pki.write_server(dir);
        TlsSettings {
            key_store,
            key_store_password: None,
            trust_store: Some(ca),
            client_auth: ClientAuth::Need,
            reload_every: Duration::from_secs(5),
        }
    }

    #[test]
    fn loads_both_sides_and_reloads_them() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let s = settings(dir.path(), &Pki::new("one"));
        let (_tls, mut reloader) = load(&s).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(reloader.check(), Checked::Unchanged));
        settings(dir.path(), &Pki::new("two"));
        assert!(matches!(reloader.check(), Checked::Reloaded));
    }

    #[test]
    fn a_trust_store_is_needed() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut s = settings(dir.path(), &Pki::new("one"));
        s.trust_store = None;
        assert!(matches!(load(&s), Err(TlsError::NoTrustStore(_))));
    }
}
