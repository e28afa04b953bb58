//! Accepting peers over TLS: each connection is handshaken on a task of its own (a slow or
//! silent one never holds up the next), with a deadline and a bound on how many are under
//! way; only a connection that presented a certificate the trust store vouches for, whose
//! names can be read, is handed to tonic. Anything else (plain text, another CA, no
//! certificate) is dropped before the `Peer` service sees a byte of it.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Context;
use std::task::Poll;
use std::time::Duration;

use tokio::io::AsyncRead;
use tokio::io::AsyncWrite;
use tokio::io::ReadBuf;
use tokio::net::TcpListener;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::sync::watch;
use tokio::sync::Semaphore;
use tokio_rustls::server::TlsStream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::server::Connected;

use super::member_cert::MemberCert;
use super::PeerConnectInfo;
use super::PeerTls;
use crate::grpc::conn::CuttableStream;
use crate::grpc::refusal_log;

/// How long a peer has to complete its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshakes under way at once; a connection past it is closed at once (members reconnect).
const MAX_HANDSHAKES: usize = 64;

/// An accepted, handshaken peer connection and the certificate it presented.
pub(crate) struct MemberStream {
    inner: TlsStream<TcpStream>,
    info: PeerConnectInfo,
}

impl AsyncRead for MemberStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for MemberStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl Connected for MemberStream {
    type ConnectInfo = PeerConnectInfo;

    fn connect_info(&self) -> PeerConnectInfo {
        self.info.clone()
    }
}

/// The handshaken connections of `listener`, until `stop` turns true; each one fails all
/// I/O once `cut` does (see [`CuttableStream`]).
pub(crate) fn incoming(
    listener: TcpListener,
    tls: PeerTls,
    cut: watch::Receiver<bool>,
    mut stop: watch::Receiver<bool>,
) -> ReceiverStream<io::Result<CuttableStream<MemberStream>>> {
    let (tx, rx) = mpsc::channel(MAX_HANDSHAKES);
    let slots = Arc::new(Semaphore::new(MAX_HANDSHAKES));
    tokio::spawn(async move {
        loop {
            let (tcp, remote) = tokio::select! {
                _ = stop.wait_for(|&s| s) => return,
                () = tx.closed() => return,
                accepted = listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of descriptors and the like: the next accept may succeed.
                        tracing::warn!("accepting a peer connection: {e}");
                        continue;
                    }
                },
            };
            let Ok(slot) = slots.clone().try_acquire_owned() else {
                tracing::warn!(%remote, "too many peer handshakes under way; connection closed");
                continue;
            };
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!("set_nodelay on a peer connection: {e}");
            }
            let (tls, tx, cut) = (tls.clone(), tx.clone(), cut.clone());
            tokio::spawn(async move {
                let _slot = slot;
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake(&tls, tcp)).await {
                    Ok(Ok(stream)) => {
                        let _ = tx.send(Ok(CuttableStream::new(stream, cut))).await;
                    }
                    Ok(Err(reason)) => refusal_log::warn(&remote.ip().to_string(), &reason),
                    Err(_) => refusal_log::warn(
                        &remote.ip().to_string(),
                        &format!("no TLS handshake within {HANDSHAKE_TIMEOUT:?}"),
                    ),
                }
            });
        }
    });
    ReceiverStream::new(rx)
}

/// The TLS handshake with a peer, which must present a certificate.
async fn handshake(tls: &PeerTls, tcp: TcpStream) -> Result<MemberStream, String> {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls.server());
    let stream = acceptor
        .accept(tcp)
        .await
        .map_err(|e| format!("TLS handshake: {e}"))?;
    let cert = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .ok_or("no client certificate (sslQuorum needs one from every member)")?;
    let cert = MemberCert::parse(cert)?;
    Ok(MemberStream {
        inner: stream,
        info: PeerConnectInfo {
            cert: Arc::new(cert),
        },
    })
}
