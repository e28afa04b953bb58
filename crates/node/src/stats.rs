//! Server-wide counters for the four-letter words (`srvr`, `stat`, `mntr`), lock-free so the
//! request path only pays an atomic add.

use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// See the module docs.
#[derive(Debug, Default)]
pub struct Stats {
    /// Packets received from clients (requests, pings, auth).
    pub received: AtomicU64,
    /// Packets sent to clients (replies and events).
    pub sent: AtomicU64,
    /// Handshakes refused for a wrong password or unknown session, and failed addAuth.
    pub auth_failed: AtomicU64,
    /// Requests taken from any connection and not answered yet (for
    /// `globalOutstandingLimit`; not reset by `srst`).
    pub outstanding: AtomicU64,
    /// Request latency.
    pub latency: LatencyStats,
    /// Latency of requests answered from the local state (ZooKeeper's `readlatency`).
    pub read_latency: crate::metrics::Histogram,
    /// Latency of writes, from receipt to the reply after they were applied here
    /// (ZooKeeper's `updatelatency`).
    pub update_latency: crate::metrics::Histogram,
    /// Sizes of replies and notifications sent to clients, without the length prefix.
    pub response_sizes: crate::metrics::Sizes,
    /// Serialized sizes of the commands this node proposed.
    pub proposal_sizes: std::sync::Arc<crate::metrics::Sizes>,
    /// Session handshakes received (ZooKeeper's `connection_request_count`).
    pub connection_requests: AtomicU64,
    /// Bytes read from clients (ZooKeeper's `bytes_received_count`).
    pub bytes_received: AtomicU64,
    /// Bytes of replies and notifications sent (ZooKeeper's `response_bytes`).
    pub response_bytes: AtomicU64,
    /// `sync` requests of this node's clients waiting for the leader's commit point.
    pub pending_syncs: std::sync::Arc<AtomicU64>,
    /// Raft's history on this node.
    pub raft: std::sync::Arc<crate::metrics::RaftCounters>,
    /// Sessions this node expired while leading (ZooKeeper's `stale_sessions_expired`: the
    /// leader's session tracker counts each session it expires).
    pub stale_sessions_expired: std::sync::Arc<AtomicU64>,
    /// The secure port's TLS handshakes and the plain port's connections.
    pub tls: crate::metrics::TlsCounters,
}

impl Stats {
    /// Zeroes the counters (`srst`).
    pub fn reset(&self) {
        self.received.store(0, Ordering::Relaxed);
        self.sent.store(0, Ordering::Relaxed);
        self.latency.reset();
        self.response_sizes.reset();
        self.proposal_sizes.reset();
    }

    /// Counts one reply or notification of `bytes` (its frame, length prefix included).
    pub fn count_response(&self, bytes: usize) {
        let body = bytes.saturating_sub(4);
        self.response_sizes.record(body);
        self.response_bytes
            .fetch_add(body as u64, Ordering::Relaxed);
    }
}

/// Request latency: count, total, min, max and last, in µs.
#[derive(Debug)]
pub struct LatencyStats {
    count: AtomicU64,
    total_us: AtomicU64,
    min_us: AtomicU64,
    max_us: AtomicU64,
    last_us: AtomicU64,
}

impl Default for LatencyStats {
    fn default() -> Self {
        LatencyStats {
            count: AtomicU64::new(0),
            total_us: AtomicU64::new(0),
            min_us: AtomicU64::new(u64::MAX),
            max_us: AtomicU64::new(0),
            last_us: AtomicU64::new(0),
        }
    }
}

/// A latency summary in ms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Latency {
    /// Fastest request.
    pub min_ms: f64,
    /// Mean.
    pub avg_ms: f64,
    /// Slowest request.
    pub max_ms: f64,
    /// Most recent request.
    pub last_ms: f64,
    /// Requests counted.
    pub count: u64,
}

impl LatencyStats {
    /// Counts one answered request that took `took` from receipt to reply.
    pub fn record(&self, took: Duration) {
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.total_us.fetch_add(us, Ordering::Relaxed);
        self.min_us.fetch_min(us, Ordering::Relaxed);
        self.max_us.fetch_max(us, Ordering::Relaxed);
        self.last_us.store(us, Ordering::Relaxed);
    }

    /// The summary so far (zeros before the first request).
    pub fn summary(&self) -> Latency {
        let count = self.count.load(Ordering::Relaxed);
        if count == 0 {
            return Latency {
                min_ms: 0.0,
                avg_ms: 0.0,
                max_ms: 0.0,
                last_ms: 0.0,
                count,
            };
        }
        let ms = |a: &AtomicU64| a.load(Ordering::Relaxed) as f64 / 1000.0;
        Latency {
            min_ms: ms(&self.min_us),
            avg_ms: ms(&self.total_us) / count as f64,
            max_ms: ms(&self.max_us),
            last_ms: ms(&self.last_us),
            count,
        }
    }

    /// Zeroes the summary.
    pub fn reset(&self) {
        self.count.store(0, Ordering::Relaxed);
        self.total_us.store(0, Ordering::Relaxed);
        self.min_us.store(u64::MAX, Ordering::Relaxed);
        self.max_us.store(0, Ordering::Relaxed);
        self.last_us.store(0, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_summary() {
        let s = LatencyStats::default();
        assert_eq!(s.summary().count, 0);
        s.record(Duration::from_micros(500));
        s.record(Duration::from_micros(1500));
        let l = s.summary();
        assert_eq!(l.count, 2);
        assert!((l.min_ms - 0.5).abs() < 1e-9);
        assert!((l.avg_ms - 1.0).abs() < 1e-9);
        assert!((l.max_ms - 1.5).abs() < 1e-9);
        assert!((l.last_ms - 1.5).abs() < 1e-9);
        s.reset();
        assert_eq!(s.summary().count, 0);
    }
}
