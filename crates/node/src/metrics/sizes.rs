//! ZooKeeper's `BufferStats` (last, min and max of a size series) in three atomics.

use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;

use crate::fourlw::BufferStats;

/// No value yet.
const NONE: u64 = u64::MAX;

/// See the module docs.
#[derive(Debug)]
pub struct Sizes {
    last: AtomicU64,
    min: AtomicU64,
    max: AtomicU64,
}

impl Default for Sizes {
    fn default() -> Self {
        Sizes {
            last: AtomicU64::new(NONE),
            min: AtomicU64::new(NONE),
            max: AtomicU64::new(0),
        }
    }
}

impl Sizes {
    /// Records a size in bytes.
    pub fn record(&self, bytes: usize) {
        let n = (bytes as u64).min(NONE - 1);
        self.last.store(n, Ordering::Relaxed);
        // Loads first: the extremes rarely move.
        if n < self.min.load(Ordering::Relaxed) {
            self.min.fetch_min(n, Ordering::Relaxed);
        }
        if n > self.max.load(Ordering::Relaxed) {
            self.max.fetch_max(n, Ordering::Relaxed);
        }
    }

    /// Last/min/max, -1 each before the first (ZooKeeper's values).
    pub fn get(&self) -> BufferStats {
        let last = self.last.load(Ordering::Relaxed);
        if last == NONE {
            return BufferStats::default();
        }
        let int = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        BufferStats {
            last: int(last),
            min: int(self.min.load(Ordering::Relaxed)),
            max: int(self.max.load(Ordering::Relaxed)),
        }
    }

    /// Back to no values (`srst`).
    pub fn reset(&self) {
        self.last.store(NONE, Ordering::Relaxed);
        self.min.store(NONE, Ordering::Relaxed);
        self.max.store(0, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_min_max() {
        let s = Sizes::default();
        assert_eq!(s.get(), BufferStats::default());
        s.record(16);
        s.record(93);
        s.record(40);
        assert_eq!(
            s.get(),
            BufferStats {
                last: 40,
                min: 16,
                max: 93
            }
        );
        s.reset();
        assert_eq!(s.get(), BufferStats::default());
    }
}
