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
//!
//! Two more faults for tests (the test kit's link proxy is this one): *refused*, every
//! connection is closed and new ones are closed at once (a partition the dialer notices at
//! once, as a reset); *stalled*, nothing passes but nothing is lost either, and the same
//! connections carry on when resumed (a long pause of the network, not a loss).

use std::io::Read;
use std::io::Write;
use std::net::Shutdown;
use std::net::SocketAddr;
use std::net::TcpListener;
use std::net::TcpStream;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::sync::Condvar;
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
    refused: AtomicBool,
    /// While true, pumps hold what they read until it is false again.
    stalled: Mutex<bool>,
    resumed: Condvar,
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
            refused: AtomicBool::new(false),
            stalled: Mutex::new(false),
            resumed: Condvar::new(),
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

    /// Ends a cut or a refusal: closes every connection that lived through it; new ones
    /// forward again.
    pub fn heal(&self) {
        let mut sockets = lock(&self.shared.sockets);
        self.shared.cut.store(false, Ordering::SeqCst);
        self.shared.refused.store(false, Ordering::SeqCst);
        for s in sockets.drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    /// Refuses the link: every connection is closed now, and new ones are closed as soon
    /// as they are accepted, until [`LinkProxy::heal`].
    pub fn refuse(&self) {
        let mut sockets = lock(&self.shared.sockets);
        self.shared.refused.store(true, Ordering::SeqCst);
        for s in sockets.drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    /// Stalls the link: bytes stop passing (each pump holds what it has read) but the
    /// connections stay open and nothing is lost, until [`LinkProxy::resume`].
    pub fn stall(&self) {
        *lock_flag(&self.shared.stalled) = true;
    }

    /// Ends a stall: what was held goes on, on the same connections.
    pub fn resume(&self) {
        *lock_flag(&self.shared.stalled) = false;
        self.shared.resumed.notify_all();
    }
}

impl Drop for LinkProxy {
    fn drop(&mut self) {
        self.shared.stopped.store(true, Ordering::SeqCst);
        self.resume();
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
        if shared.refused.load(Ordering::SeqCst) {
            let _ = client.shutdown(Shutdown::Both);
            continue;
        }
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

/// The stall flag; a bool cannot be left half-written by a panicking holder.
fn lock_flag(m: &Mutex<bool>) -> std::sync::MutexGuard<'_, bool> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Blocks while the link is stalled (and the proxy not stopped).
fn wait_unstalled(shared: &Shared) {
    let mut stalled = lock_flag(&shared.stalled);
    while *stalled && !shared.stopped.load(Ordering::SeqCst) {
        stalled = shared
            .resumed
            .wait(stalled)
            .unwrap_or_else(|p| p.into_inner());
    }
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
        // Held, not dropped, while stalled; what a cut drops is decided after the stall.
        wait_unstalled(&shared);
        if shared.cut.load(Ordering::SeqCst) {
            continue;
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An echo server on loopback; its address.
    fn echo() -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().expect("addr");
        std::thread::spawn(move || {
            for c in l.incoming() {
                let Ok(mut c) = c else { return };
                std::thread::spawn(move || {
                    let mut buf = [0u8; 1024];
                    while let Ok(n) = c.read(&mut buf) {
                        if n == 0 || c.write_all(&buf[..n]).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        addr
    }

    fn dial(p: &LinkProxy) -> TcpStream {
        let s = TcpStream::connect(p.addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_millis(300)))
            .expect("timeout");
        s
    }

    /// What comes back within the read timeout: Some(bytes), None if nothing, Some(empty)
    /// if the proxy closed the connection.
    fn read_some(s: &mut TcpStream) -> Option<Vec<u8>> {
        let mut buf = [0u8; 64];
        match s.read(&mut buf) {
            Ok(n) => Some(buf[..n].to_vec()),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                None
            }
            Err(_) => Some(Vec::new()),
        }
    }

    #[test]
    fn forward_cut_heal_refuse_and_stall_do_what_they_say() {
        let p = LinkProxy::start(echo()).expect("proxy");
        let mut s = dial(&p);
        s.write_all(b"one").expect("write");
        assert_eq!(read_some(&mut s), Some(b"one".to_vec()), "forwarded");

        // Stalled: nothing comes back, nothing is lost, the same connection goes on.
        p.stall();
        s.write_all(b"two").expect("write");
        assert_eq!(read_some(&mut s), None, "held while stalled");
        p.resume();
        assert_eq!(
            read_some(&mut s),
            Some(b"two".to_vec()),
            "delivered on resume"
        );

        // Cut: a black hole; healing closes the connection that lived through it.
        p.cut();
        s.write_all(b"three").expect("write");
        assert_eq!(read_some(&mut s), None, "dropped while cut");
        p.heal();
        assert_eq!(read_some(&mut s), Some(Vec::new()), "closed by the heal");
        let mut s = dial(&p);
        s.write_all(b"four").expect("write");
        assert_eq!(
            read_some(&mut s),
            Some(b"four".to_vec()),
            "new connections forward"
        );

        // Refused: open connections are closed and new ones closed at once.
        p.refuse();
        assert_eq!(read_some(&mut s), Some(Vec::new()), "closed by the refusal");
        let mut t = dial(&p);
        assert_eq!(
            read_some(&mut t),
            Some(Vec::new()),
            "a new one closed at once"
        );
        p.heal();
        let mut u = dial(&p);
        u.write_all(b"five").expect("write");
        assert_eq!(
            read_some(&mut u),
            Some(b"five".to_vec()),
            "forwarding again"
        );
    }
}
