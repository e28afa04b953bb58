//! Latency histograms and error counts: one [`Tally`] per in-flight loop, merged into one at
//! the end, and the [`Summary`] of percentiles the report prints.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Highest latency recorded exactly: one hour in µs (longer ones saturate there).
const HIGHEST_US: u64 = 3_600_000_000;

/// What one loop measured: latencies of successful requests (µs), their count, and the failed
/// requests by error name.
#[derive(Debug, Clone)]
pub struct Tally {
    /// Latency of each successful request, µs.
    pub hist: Histogram<u64>,
    /// Failed requests by error name (e.g. `ConnectionLoss`).
    pub errors: BTreeMap<String, u64>,
}

impl Default for Tally {
    fn default() -> Self {
        Tally::new()
    }
}

impl Tally {
    /// Empty.
    pub fn new() -> Tally {
        // 1 µs .. 1 h with 3 significant digits: constant bounds, always valid.
        let hist = Histogram::new_with_bounds(1, HIGHEST_US, 3).expect("valid constant bounds");
        Tally {
            hist,
            errors: BTreeMap::new(),
        }
    }

    /// One successful request that took `us` microseconds.
    pub fn record(&mut self, us: u64) {
        self.hist.saturating_record(us.clamp(1, HIGHEST_US));
    }

    /// One failed request.
    pub fn error(&mut self, name: &str) {
        *self.errors.entry(name.to_string()).or_insert(0) += 1;
    }

    /// Successful requests.
    pub fn ops(&self) -> u64 {
        self.hist.len()
    }

    /// Failed requests.
    pub fn failed(&self) -> u64 {
        self.errors.values().sum()
    }

    /// Adds `other` into this one.
    pub fn merge(&mut self, other: &Tally) {
        // Same bounds on both sides, so adding cannot fail; if it ever did, fall back to
        // recording the other's values one by one.
        if self.hist.add(&other.hist).is_err() {
            for v in other.hist.iter_recorded() {
                self.hist
                    .saturating_record_n(v.value_iterated_to(), v.count_at_value());
            }
        }
        for (k, v) in &other.errors {
            *self.errors.entry(k.clone()).or_insert(0) += v;
        }
    }

    /// Merges many.
    pub fn merged<'a>(tallies: impl IntoIterator<Item = &'a Tally>) -> Tally {
        let mut all = Tally::new();
        for t in tallies {
            all.merge(t);
        }
        all
    }

    /// The percentiles.
    pub fn summary(&self) -> Summary {
        let h = &self.hist;
        if h.is_empty() {
            return Summary::default();
        }
        Summary {
            p50_us: h.value_at_quantile(0.50),
            p99_us: h.value_at_quantile(0.99),
            p999_us: h.value_at_quantile(0.999),
            max_us: h.max(),
            mean_us: h.mean(),
        }
    }
}

/// Latency percentiles in µs (all 0 when nothing was recorded).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Median.
    pub p50_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// 99.9th percentile.
    pub p999_us: u64,
    /// Largest.
    pub max_us: u64,
    /// Mean.
    pub mean_us: f64,
}

/// The name an error is counted under: its variant (`ConnectionLoss`, `NodeExists`, ...),
/// without any payload.
pub fn error_name(e: &zk_client::Error) -> String {
    let dbg = format!("{e:?}");
    let end = dbg
        .find(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .unwrap_or(dbg.len());
    dbg[..end].to_string()
}

/// The median of `values` (mean of the middle two for an even count); `None` when empty.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_adds_counts_and_errors() {
        let mut a = Tally::new();
        let mut b = Tally::new();
        for us in 1..=100 {
            a.record(us);
        }
        for us in 901..=1000 {
            b.record(us);
        }
        a.error("ConnectionLoss");
        b.error("ConnectionLoss");
        b.error("NoNode");
        let all = Tally::merged([&a, &b]);
        assert_eq!(all.ops(), 200);
        assert_eq!(all.failed(), 3);
        assert_eq!(all.errors["ConnectionLoss"], 2);
        assert_eq!(all.errors["NoNode"], 1);
        let s = all.summary();
        assert!((99..=101).contains(&s.p50_us), "{s:?}");
        assert!(s.p99_us >= 990 && s.p99_us <= 1000, "{s:?}");
        assert_eq!(s.max_us, 1000);
    }

    #[test]
    fn empty_summary_is_zero_and_values_are_clamped() {
        let mut t = Tally::new();
        assert_eq!(t.summary(), Summary::default());
        t.record(0);
        t.record(u64::MAX);
        assert_eq!(t.ops(), 2);
        assert!(t.summary().max_us >= HIGHEST_US - HIGHEST_US / 1000);
    }

    #[test]
    fn error_names_drop_payloads() {
        assert_eq!(
            error_name(&zk_client::Error::ConnectionLoss),
            "ConnectionLoss"
        );
        assert_eq!(
            error_name(&zk_client::Error::BadArguments("x y".into())),
            "BadArguments"
        );
        assert_eq!(error_name(&zk_client::Error::Unknown(-7)), "Unknown");
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
    }
}
