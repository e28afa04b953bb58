//! maxClientCnxns: at most N concurrent connections per client IP address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::Mutex;

/// Connection counts per IP address, shared by the accept loop and the connections.
#[derive(Debug, Clone)]
pub struct PerIpLimit {
    max: u32,
    counts: Arc<Mutex<HashMap<IpAddr, u32>>>,
}

/// Holds one connection's place; gives it back when dropped.
#[derive(Debug)]
pub struct Permit {
    ip: IpAddr,
    counts: Arc<Mutex<HashMap<IpAddr, u32>>>,
}

impl PerIpLimit {
    /// At most `max` connections per address; 0 means no limit.
    pub fn new(max: u32) -> Self {
        PerIpLimit {
            max,
            counts: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// A permit for one more connection from `ip`, or None if it already has `max`.
    pub fn admit(&self, ip: IpAddr) -> Option<Permit> {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let n = counts.entry(ip).or_insert(0);
        if self.max != 0 && *n >= self.max {
            return None;
        }
        *n += 1;
        Some(Permit {
            ip,
            counts: self.counts.clone(),
        })
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = counts.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                counts.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_per_address_and_release() {
        let limit = PerIpLimit::new(2);
        let a: IpAddr = [127, 0, 0, 1].into();
        let b: IpAddr = [127, 0, 0, 2].into();
        let p1 = limit.admit(a);
        let p2 = limit.admit(a);
        assert!(p1.is_some() && p2.is_some());
        assert!(limit.admit(a).is_none(), "third from the same address");
        assert!(
            limit.admit(b).is_some(),
            "another address has its own count"
        );
        drop(p1);
        assert!(
            limit.admit(a).is_some(),
            "a closed connection frees its place"
        );
    }

    #[test]
    fn zero_means_no_limit() {
        let limit = PerIpLimit::new(0);
        let a: IpAddr = [127, 0, 0, 1].into();
        let permits: Vec<_> = (0..1000).filter_map(|_| limit.admit(a)).collect();
        assert_eq!(permits.len(), 1000);
    }
}
