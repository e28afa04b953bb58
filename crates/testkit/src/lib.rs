//! zk-testkit: the process-level test harnesses shared by every crate's tests. It owns
//! starting real servers (Apache ZooKeeper 3.8 from Debian's package, in [`zookeeper`]; the
//! workspace's own zk-node, one node or an ensemble, in [`zk_node`]) on their ports, waiting
//! until they serve, driving them (kill, restart, signals) and reporting their logs when a
//! test fails; each crate keeps only its thin glue. [`proxy`] is the link proxy tests put
//! between a client and a server or between members. [`tls`] makes the certificates TLS
//! tests need (a CA, a server's, clients') when they run.
//!
//! What it must never do:
//! - be a dependency of non-test code: it is a dev-dependency only (`publish = false`), and
//!   it panics with a message where a test should fail;
//! - sleep as synchronisation: every wait polls a condition (a port, a `srvr` mode, a
//!   process's exit) under a deadline, and a sleep is only the pause between two polls;
//! - leave processes behind: everything it starts is killed and reaped on Drop.

pub mod proxy;
pub mod tls;
pub mod zk_node;
pub mod zookeeper;

use std::io::Read;
use std::io::Write;
use std::net::TcpStream;
use std::net::ToSocketAddrs;
use std::time::Duration;

/// Sends a four-letter word (`ruok`, `srvr`, `mntr`, ...) to a zk-node or a ZooKeeper; the
/// whole answer, or None if nothing answers. The read may take 5 s: `mntr` of a loaded
/// member on a busy machine is slow, and a test that polls wants the answer, not a miss.
pub fn four_letter(addr: impl ToSocketAddrs, word: &str) -> Option<String> {
    let addr = addr.to_socket_addrs().ok()?.next()?;
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(word.as_bytes()).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

/// `GET path` over HTTP/1.0 (the server closes after answering): the status and body, or
/// None if nothing answers.
pub fn http_get(addr: impl ToSocketAddrs, path: &str) -> Option<(u16, String)> {
    http_get_with(addr, path, &[])
}

/// [`http_get`] with extra request headers (`("Authorization", "digest u:p")`).
pub fn http_get_with(
    addr: impl ToSocketAddrs,
    path: &str,
    headers: &[(&str, &str)],
) -> Option<(u16, String)> {
    let addr = addr.to_socket_addrs().ok()?.next()?;
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n{extra}\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let (head, body) = out.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}
