//! A TCP proxy between a client and one server that the test can switch: forward, silence
//! (connections stay open, nothing passes: a dead peer), or refuse (every connection closed,
//! new ones closed at once: a partition the client notices).

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What the proxy does with traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Pass bytes both ways.
    Forward,
    /// Keep connections, drop every byte.
    Silence,
    /// Close every connection, accept new ones only to close them.
    Refuse,
}

/// A running proxy; stopped on drop.
pub struct Proxy {
    /// Where clients connect.
    pub addr: String,
    mode: watch::Sender<Mode>,
    task: JoinHandle<()>,
}

impl Proxy {
    /// A forwarding proxy to `upstream`.
    pub async fn start(upstream: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("addr").to_string();
        let (tx, rx) = watch::channel(Mode::Forward);
        let upstream = upstream.to_string();
        let task = tokio::spawn(async move {
            loop {
                let Ok((down, _)) = listener.accept().await else {
                    return;
                };
                if *rx.borrow() == Mode::Refuse {
                    drop(down);
                    continue;
                }
                tokio::spawn(pipe(down, upstream.clone(), rx.clone()));
            }
        });
        Proxy {
            addr,
            mode: tx,
            task,
        }
    }

    /// Switches the mode.
    pub fn set(&self, m: Mode) {
        self.mode.send_replace(m);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.set(Mode::Refuse);
        self.task.abort();
    }
}

async fn pipe(mut down: TcpStream, upstream: String, mut mode: watch::Receiver<Mode>) {
    let Ok(mut up) = TcpStream::connect(&upstream).await else {
        return;
    };
    let mut a = vec![0u8; 64 * 1024];
    let mut b = vec![0u8; 64 * 1024];
    loop {
        if *mode.borrow() == Mode::Refuse {
            return;
        }
        tokio::select! {
            r = mode.changed() => if r.is_err() { return },
            r = down.read(&mut a) => match r {
                Ok(0) | Err(_) => return,
                Ok(n) => if *mode.borrow() == Mode::Forward && up.write_all(&a[..n]).await.is_err() {
                    return;
                },
            },
            r = up.read(&mut b) => match r {
                Ok(0) | Err(_) => return,
                Ok(n) => if *mode.borrow() == Mode::Forward && down.write_all(&b[..n]).await.is_err() {
                    return;
                },
            },
        }
    }
}
