//! A TCP proxy on loopback for one direction of one link, so a run can partition
//! members without touching their processes. Each member dials each other member through
//! its own proxy (`--peer-dial`), so cutting the two proxies of a pair cuts that pair both
//! ways while every other link keeps working.
//!
//! A cut is a black hole, as in a real partition: connections stay open and bytes vanish,
//! so the nodes learn of it only through their own timeouts, never from a reset. New
//! connections during a cut are accepted and never answered. Healing closes every
//! connection that lived through the cut (their byte streams have holes), so both sides
//! reconnect and resume on fresh connections.
//!
//! The same proxy stands between a client and a server to make a session go silent: cut,
//! the servers stop hearing it while its client keeps trying.

use std::io::Read;
use std::io::Write;
use std::net::Shutdown;
use std::net::SocketAddr;
use std::net::TcpListener;
use std::net::TcpStream;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

/// One direction of one peer link.
pub struct LinkProxy {
    /// Where the proxy listens (the address the dialing member is given).
    pub addr: SocketAddr,
    shared: Arc<Shared>,
}

struct Shared {
    target: SocketAddr,
    cut: AtomicBool,
    stopped: AtomicBool,
    /// Every socket the proxy holds open (both ends of forwarded connections, and sockets
    /// accepted during a cut), so healing or dropping can close them.
    sockets: Mutex<Vec<TcpStream>>,
}

impl LinkProxy {
    /// Listens on a free loopback port and forwards every connection to `target`.
    pub fn start(target: SocketAddr) -> std::io::Result<LinkProxy> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            target,
            cut: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
            sockets: Mutex::new(Vec::new()),
        });
        let s = shared.clone();
        std::thread::Builder::new()
            .name("link-proxy".into())
            .spawn(move || accept_loop(listener, s))?;
        Ok(LinkProxy { addr, shared })
    }

    /// Black-holes the link: bytes in flight and from now on are dropped.
    pub fn cut(&self) {
        self.shared.cut.store(true, Ordering::SeqCst);
    }

    /// Whether the link is cut.
    pub fn is_cut(&self) -> bool {
        self.shared.cut.load(Ordering::SeqCst)
    }

    /// Ends a cut: closes every connection that lived through it; new ones forward again.
    pub fn heal(&self) {
        let mut sockets = lock(&self.shared.sockets);
        self.shared.cut.store(false, Ordering::SeqCst);
        for s in sockets.drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

impl Drop for LinkProxy {
    fn drop(&mut self) {
        self.shared.stopped.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag and ends.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
        for s in lock(&self.shared.sockets).drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for conn in listener.incoming() {
        if shared.stopped.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = conn else { continue };
        let _ = client.set_nodelay(true);
        if shared.cut.load(Ordering::SeqCst) {
            // Accepted by the kernel anyway; never answered until healed.
            remember(&shared, &client);
            continue;
        }
        let Ok(upstream) = TcpStream::connect_timeout(&shared.target, Duration::from_secs(1))
        else {
            // The target is down: the dialer sees its connection closed, as it would.
            continue;
        };
        let _ = upstream.set_nodelay(true);
        remember(&shared, &client);
        remember(&shared, &upstream);
        for (from, to) in [(&client, &upstream), (&upstream, &client)] {
            let (Ok(from), Ok(to)) = (from.try_clone(), to.try_clone()) else {
                continue;
            };
            let s = shared.clone();
            // Without a thread the connection simply stays silent, as a dead link would.
            let _ = std::thread::Builder::new()
                .name("link-pump".into())
                .spawn(move || pump(from, to, s));
        }
    }
}

/// The socket list; a pump thread that panicked cannot leave it half-updated (pushes and
/// drains only), so a poisoned lock is still usable.
fn lock(m: &Mutex<Vec<TcpStream>>) -> std::sync::MutexGuard<'_, Vec<TcpStream>> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn remember(shared: &Shared, socket: &TcpStream) {
    if let Ok(s) = socket.try_clone() {
        lock(&shared.sockets).push(s);
    }
}

/// Copies bytes until either side closes, dropping them while the link is cut.
fn pump(mut from: TcpStream, mut to: TcpStream, shared: Arc<Shared>) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if shared.cut.load(Ordering::SeqCst) {
            continue;
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}
