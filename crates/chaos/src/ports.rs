//! Free loopback ports for the members a test or a chaos run starts.
//!
//! Two ways a port picked by binding port 0 and letting go of it went wrong here: the kernel
//! handed the same port out twice in one test (two members then fought over it), and an
//! outgoing connection took a killed member's port as its source port (the member could not
//! listen again). So ports come from below the kernel's ephemeral range, at random, and one
//! process never hands out the same port twice.
//!
//! Nor do two processes at once: tests run in processes of their own (nextest), and a port
//! handed out is free until its member binds it, which for an ensemble's later members is
//! seconds. A second process could draw it meanwhile, find it free and give it out too. So
//! each port handed out is also claimed by an advisory lock on a file named for it
//! (`$TMPDIR/zk-raft-ports/<port>`), held until this process exits (the kernel drops it then,
//! even after kill -9, so no claim outlives its owner); a port another process holds is
//! passed over.

use std::collections::HashSet;
use std::fs::File;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Mutex;

/// Ports this process has already handed out, with the lock file claiming each.
static GIVEN: Mutex<Option<Given>> = Mutex::new(None);

#[derive(Default)]
struct Given {
    ports: HashSet<u16>,
    /// Open, locked: dropping one would release its claim.
    claims: Vec<File>,
}

/// The directory of the claim files, shared by every process of this user on the machine.
fn claims_dir() -> PathBuf {
    std::env::temp_dir().join("zk-raft-ports")
}

/// Claims `port` for this process: Ok(None) if another process holds it; an error only if
/// the claim files cannot be used at all (then ports are handed out unclaimed, as before).
fn claim(port: u16) -> io::Result<Option<File>> {
    let dir = claims_dir();
    std::fs::create_dir_all(&dir)?;
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(port.to_string()))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

/// A loopback address free now, below the ephemeral port range, never given before by this
/// process.
pub fn free_loopback_addr() -> io::Result<SocketAddr> {
    let below = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let low = 10_000u16.min(below.saturating_sub(1_000));
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    let given = given.get_or_insert_with(Given::default);
    for _ in 0..1_000 {
        let port = rand::random_range(low..below);
        if given.ports.contains(&port) {
            continue;
        }
        let claimed = match claim(port) {
            Ok(Some(file)) => Some(file),
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!(port, error = %e, "cannot claim ports across processes");
                None
            }
        };
        if let Ok(addr) = TcpListener::bind(("127.0.0.1", port)).and_then(|l| l.local_addr()) {
            given.ports.insert(port);
            given.claims.extend(claimed);
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

    /// A port this process claimed cannot be claimed by another holder of its file (a second
    /// open file description stands for another process: flock locks belong to those).
    #[test]
    fn a_claimed_port_is_refused_to_another_claimant() {
        let port = free_port();
        assert!(matches!(claim(port), Ok(None)), "port {port} claimed twice");
        // A port nobody claimed is claimable, and released when its file closes.
        let other = (10_000u16..30_000)
            .find(|p| *p != port && claim(*p).is_ok_and(|f| f.is_some()))
            .expect("some claimable port");
        let held = claim(other).expect("claim files work");
        assert!(held.is_some(), "released when the first claim was dropped");
        assert!(matches!(claim(other), Ok(None)));
    }
}
