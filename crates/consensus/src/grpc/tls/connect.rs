//! Dialing a peer over TLS: a TCP connection to where it is dialed, the handshake in the
//! name of its `--peers` host (rustls checks that the certificate names it and chains to the
//! trust store), then the member-id check of [`MemberCert::names_id`]. The host name is
//! resolved again on every connection, as the plain channels do.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::Context;
use std::task::Poll;

use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tonic::codegen::http::Uri;
use tonic::codegen::Service;

use super::member_cert::host_of;
use super::member_cert::MemberCert;
use super::PeerTls;
use crate::grpc::refusal_log;
use crate::types::NodeId;

/// Connects to one member (a tonic connector; the URI tonic passes is ignored).
#[derive(Clone)]
pub(crate) struct MemberConnector {
    tls: PeerTls,
    target: NodeId,
    /// Where to connect (`host:port`).
    dial: String,
    /// The name its certificate must carry.
    name: ServerName<'static>,
}

impl MemberConnector {
    /// Connects to member `target` at `dial`, expecting the certificate of its `peer`
    /// address's host; `None` if that host is no valid TLS name.
    pub(crate) fn new(tls: PeerTls, target: NodeId, dial: &str, peer: &str) -> Option<Self> {
        let name = ServerName::try_from(host_of(peer).to_string()).ok()?;
        Some(MemberConnector {
            tls,
            target,
            dial: dial.to_string(),
            name,
        })
    }
}

type Connecting = Pin<Box<dyn Future<Output = io::Result<TokioIo<TlsStream<TcpStream>>>> + Send>>;

impl Service<Uri> for MemberConnector {
    type Response = TokioIo<TlsStream<TcpStream>>;
    type Error = io::Error;
    type Future = Connecting;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), io::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _uri: Uri) -> Connecting {
        let this = self.clone();
        Box::pin(async move {
            let tcp = TcpStream::connect(this.dial.as_str()).await?;
            tcp.set_nodelay(true)?;
            let connector = tokio_rustls::TlsConnector::from(this.tls.client());
            let stream = connector.connect(this.name.clone(), tcp).await?;
            let refused = |reason: String| {
                refusal_log::warn(&format!("member {}", this.target), &reason);
                io::Error::new(io::ErrorKind::PermissionDenied, reason)
            };
            let cert = stream
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .ok_or_else(|| refused("the peer presented no certificate".into()))?;
            MemberCert::parse(cert)
                .and_then(|c| c.names_id(this.target))
                .map_err(refused)?;
            Ok(TokioIo::new(stream))
        })
    }
}
