//! TLS on the secure client port (ZooKeeper's `secureClientPort`): the PEM files of the
//! `ssl.*` keys loaded into rustls (`config`), reloaded when they change (`reload`), and the
//! `x509` auth id a client certificate gives (`x509`), added to the connection when its
//! handshake completes as ZooKeeper's NettyServerCnxnFactory does.
//!
//! After the TLS handshake a secure connection is served exactly as a plain one
//! (`connection`): the same framing, pipeline and memory bounds.

pub(crate) mod config;
pub(crate) mod quorum;
mod reload;
pub(crate) mod settings;
pub(crate) mod x509;

use std::io;
use std::sync::Arc;

use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_rustls::server::TlsStream;

use self::config::TlsError;
use self::reload::Current;
use self::reload::Reloader;
use self::settings::TlsSettings;

/// The scheme of the ids client certificates give (ZooKeeper's X509AuthenticationProvider).
pub(crate) const X509_SCHEME: &str = "x509";

/// The secure port's TLS configuration, as of the last good load of its files.
#[derive(Debug, Clone)]
pub(crate) struct Tls {
    current: Arc<Current>,
}

impl Tls {
    /// Loads the files of `settings`; the reloader watches them from now on (see
    /// [`Tls::watch`]).
    pub(crate) fn load(settings: &TlsSettings) -> Result<(Tls, Reloader), TlsError> {
        let current = Arc::new(Current::new(config::server_config(settings)?));
        let reloader = Reloader::new(settings.clone(), current.clone());
        Ok((Tls { current }, reloader))
    }

    /// Checks the files for changes until shutdown (the secure port's or the peer link's).
    pub(crate) async fn watch(reloader: Reloader, shutdown: watch::Receiver<bool>) {
        reload::run(reloader, shutdown).await;
    }

    /// The TLS handshake with a new client, with the configuration loaded last; the stream
    /// and the subject of the client's certificate (its `x509` id), if it gave one.
    pub(crate) async fn accept(
        &self,
        tcp: TcpStream,
    ) -> io::Result<(TlsStream<TcpStream>, Option<String>)> {
        let acceptor = tokio_rustls::TlsAcceptor::from(self.current.get());
        let stream = acceptor.accept(tcp).await?;
        let id = match stream
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|c| c.first())
        {
            None => None,
            Some(cert) => {
                let subject = x509::subject_id(cert)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                Some(subject)
            }
        };
        Ok((stream, id))
    }
}
