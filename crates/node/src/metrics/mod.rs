//! What the node measures beyond the four-letter words' counters, and `/metrics`.
//!
//! The request path records into atomics only ([`Histogram`], [`Sizes`], counters in
//! the node's `Stats`); everything else is read when asked: Raft's state through
//! [`crate::raft_facts`], the tree's figures from the applied state. [`prometheus`] renders
//! it all in Prometheus' text format under the names ZooKeeper's PrometheusMetricsProvider
//! uses, so a ZooKeeper dashboard keeps working, plus Raft's own under `raft_*`.

mod events;
mod process;
pub mod prometheus;
pub(crate) mod raft;
mod sizes;

pub use events::NamespaceSet;
pub use events::Namespaces;
pub use events::TlsCounters;
pub use events::WatchesFired;
// The histogram lives in zk-consensus, which records its own (fsyncs, snapshots) into it.
pub use raft::RaftCounters;
pub use sizes::Sizes;
pub use zk_consensus::metrics::Histogram;
pub use zk_consensus::metrics::Snapshot;

use crate::fourlw::SummaryStats;

/// A histogram of µs as one of ZooKeeper's summaries in ms: `detailed` for its ADVANCED
/// ones (p50/p95/p99/p999 in mntr; quantiles 0.5, 0.9, 0.99 for Prometheus), else BASIC
/// (quantile 0.5 only).
pub fn summary(s: &Snapshot, detailed: bool) -> SummaryStats {
    let ms = |us: u64| us / 1000;
    let q = |q: f64| s.quantile_us(q) as f64 / 1000.0;
    let quantiles: &[f64] = if detailed { &[0.5, 0.9, 0.99] } else { &[0.5] };
    SummaryStats {
        count: s.count,
        sum: ms(s.sum_us),
        min: ms(s.min_us),
        max: ms(s.max_us),
        avg: s.mean_us() / 1000.0,
        percentiles: detailed.then(|| [0.5, 0.95, 0.99, 0.999].map(|p| ms(s.quantile_us(p)))),
        quantiles: quantiles.iter().map(|&p| (p, q(p))).collect(),
    }
}

/// A histogram of values that are not times (counts, bytes) as one of ZooKeeper's BASIC
/// summaries: the values as recorded, quantile 0.5 for Prometheus.
pub fn value_summary(s: &Snapshot) -> SummaryStats {
    SummaryStats {
        count: s.count,
        sum: s.sum_us,
        min: s.min_us,
        max: s.max_us,
        avg: s.mean_us(),
        percentiles: None,
        quantiles: vec![(0.5, s.quantile_us(0.5) as f64)],
    }
}
