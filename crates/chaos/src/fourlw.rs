//! ZooKeeper's four-letter words over a short-lived TCP connection.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Sends `word` to `addr` and returns the whole answer; `None` if nothing answered within a
/// second.
pub fn ask(addr: &str, word: &str) -> Option<String> {
    let timeout = Duration::from_secs(1);
    let sock = addr.to_socket_addrs().ok()?.next()?;
    let mut s = TcpStream::connect_timeout(&sock, timeout).ok()?;
    s.set_read_timeout(Some(timeout)).ok()?;
    s.set_write_timeout(Some(timeout)).ok()?;
    s.write_all(word.as_bytes()).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

/// The `Mode:` line of `srvr` (`leader`, `follower`, `standalone`), if the server serves.
pub fn mode(addr: &str) -> Option<String> {
    ask(addr, "srvr")?
        .lines()
        .find_map(|l| l.strip_prefix("Mode: "))
        .map(str::to_string)
}
