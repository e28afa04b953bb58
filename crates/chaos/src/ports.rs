//! Free loopback ports for the members a test or a chaos run starts.
//!
//! Two ways a port picked by binding port 0 and letting go of it went wrong here: the kernel
//! handed the same port out twice in one test (two members then fought over it), and an
//! outgoing connection took a killed member's port as its source port (the member could not
//! listen again). So ports come from below the kernel's ephemeral range, at random, and one
//! process never hands out the same port twice.

use std::collections::HashSet;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::Mutex;

/// Ports this process has already handed out.
static GIVEN: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

/// A loopback address free now, below the ephemeral port range, never given before by this
/// process.
pub fn free_loopback_addr() -> io::Result<SocketAddr> {
    let below = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let low = 10_000u16.min(below.saturating_sub(1_000));
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    let given = given.get_or_insert_with(HashSet::new);
    for _ in 0..1_000 {
        let port = rand::random_range(low..below);
        if given.contains(&port) {
            continue;
        }
        if let Ok(addr) = TcpListener::bind(("127.0.0.1", port)).and_then(|l| l.local_addr()) {
            given.insert(port);
            return Ok(addr);
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AddrInUse,
        format!("no free loopback port in {low}..{below}"),
    ))
}

/// The port of [`free_loopback_addr`]; panics if there is none (for tests).
pub fn free_port() -> u16 {
    match free_loopback_addr() {
        Ok(a) => a.port(),
        Err(e) => panic!("{e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_the_same_port_twice_and_below_the_ephemeral_range() {
        let ports: Vec<u16> = (0..500).map(|_| free_port()).collect();
        let distinct: HashSet<u16> = ports.iter().copied().collect();
        assert_eq!(distinct.len(), ports.len());
        let below = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse::<u16>().ok())
            .unwrap_or(32768);
        assert!(ports.iter().all(|p| *p < below), "{ports:?}");
    }
}
