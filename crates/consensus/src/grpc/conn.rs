//! Peer connections the server can cut.
//!
//! tonic serves each accepted connection on a task of its own, which ends only when the
//! peer hangs up (or, in a graceful shutdown, when its open streams finish, which a peer
//! may keep open indefinitely). A stopped node would keep answering on its old connections,
//! and its peers would never reconnect to a restarted one. So every connection is wrapped:
//! once cut, its reads and writes fail, and hyper drops the connection at once.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::Context;
use std::task::Poll;

use tokio::io::AsyncRead;
use tokio::io::AsyncWrite;
use tokio::io::ReadBuf;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tonic::transport::server::Connected;

/// An accepted peer connection (TCP, or TLS over it) that fails all I/O once `cut` turns
/// true.
pub(crate) struct CuttableStream<S = TcpStream> {
    inner: S,
    /// Resolves when the connection is cut (or the cutter is gone).
    cut_signal: Pin<Box<dyn Future<Output = ()> + Send + Sync>>,
    cut: bool,
}

impl<S> CuttableStream<S> {
    pub(crate) fn new(inner: S, mut cut: watch::Receiver<bool>) -> Self {
        CuttableStream {
            inner,
            cut_signal: Box::pin(async move {
                let _ = cut.wait_for(|&c| c).await;
            }),
            cut: false,
        }
    }

    /// Whether the connection is cut; otherwise registers the task to be woken when it is.
    fn is_cut(&mut self, cx: &mut Context<'_>) -> bool {
        if !self.cut && self.cut_signal.as_mut().poll(cx).is_ready() {
            self.cut = true;
        }
        self.cut
    }
}

fn aborted() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionAborted, "peer server stopped")
}

impl<S: AsyncRead + Unpin> AsyncRead for CuttableStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.is_cut(cx) {
            return Poll::Ready(Err(aborted()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for CuttableStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.is_cut(cx) {
            return Poll::Ready(Err(aborted()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.is_cut(cx) {
            return Poll::Ready(Err(aborted()));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl<S: Connected> Connected for CuttableStream<S> {
    type ConnectInfo = S::ConnectInfo;

    fn connect_info(&self) -> S::ConnectInfo {
        self.inner.connect_info()
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt;
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpListener;

    use super::*;

    #[tokio::test]
    async fn a_cut_fails_a_pending_read_and_later_writes() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut client = TcpStream::connect(addr).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let (cut, cut_rx) = watch::channel(false);
        let mut conn = CuttableStream::new(server, cut_rx);

        client.write_all(b"hi").await.unwrap();
        let mut buf = [0u8; 2];
        conn.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"hi");

        let pending = tokio::spawn(async move {
            let mut one = [0u8; 1];
            let r = conn.read(&mut one).await;
            (r.map_err(|e| e.kind()), conn)
        });
        cut.send_replace(true);
        let (r, mut conn) = pending.await.unwrap();
        assert_eq!(r, Err(io::ErrorKind::ConnectionAborted));
        let w = conn.write(b"x").await.map_err(|e| e.kind());
        assert_eq!(w, Err(io::ErrorKind::ConnectionAborted));
    }
}
