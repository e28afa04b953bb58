//! A loopback TCP relay in front of one server, for `ephemeral --vanish`: a session connected
//! through it can be made to vanish (its connection cut, no closeSession sent, no way back)
//! which zk-client, rightly, offers no call for. The server then expires the session by
//! itself.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A relay from a free loopback port to `target`.
pub struct Proxy {
    addr: SocketAddr,
    accept: JoinHandle<()>,
    conns: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    /// Listens on 127.0.0.1 (a free port) and relays each connection to `target`.
    pub async fn start(target: String) -> io::Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let conns: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let registry = conns.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let target = target.clone();
                let relay = tokio::spawn(async move {
                    let _ = inbound.set_nodelay(true);
                    if let Ok(mut outbound) = TcpStream::connect(&target).await {
                        let _ = outbound.set_nodelay(true);
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                if let Ok(mut list) = registry.lock() {
                    list.retain(|h| !h.is_finished());
                    list.push(relay);
                }
            }
        });
        Ok(Proxy {
            addr,
            accept,
            conns,
        })
    }

    /// `127.0.0.1:port` to connect to.
    pub fn addr(&self) -> String {
        self.addr.to_string()
    }

    /// Stops listening and drops every relayed connection (both sides see the socket close).
    pub fn cut(&self) {
        self.accept.abort();
        if let Ok(mut list) = self.conns.lock() {
            for h in list.drain(..) {
                h.abort();
            }
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn relays_then_cuts() {
        let echo = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let target = echo.local_addr().expect("addr").to_string();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = echo.accept().await {
                tokio::spawn(async move {
                    let mut b = [0u8; 16];
                    while let Ok(n) = s.read(&mut b).await {
                        if n == 0 || s.write_all(&b[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        let p = Proxy::start(target).await.expect("proxy");
        let mut c = TcpStream::connect(p.addr()).await.expect("connect");
        c.write_all(b"ping").await.expect("write");
        let mut b = [0u8; 4];
        c.read_exact(&mut b).await.expect("echo");
        assert_eq!(&b, b"ping");
        p.cut();
        let mut rest = Vec::new();
        let n = tokio::time::timeout(std::time::Duration::from_secs(5), c.read_to_end(&mut rest))
            .await
            .expect("closed in time");
        assert!(matches!(n, Ok(0) | Err(_)));
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(
            TcpStream::connect(p.addr()).await.is_err(),
            "no longer listening"
        );
    }
}
