//! A latency histogram a request records into with a few relaxed atomics (no lock, no
//! allocation), read back as ZooKeeper's summaries: count, sum, min, max, and quantiles over
//! the last one to two minutes (ZooKeeper's own summaries forget old samples too).

use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;
use std::sync::Mutex;
use std::time::Duration;
use std::time::Instant;

/// Values below this many µs get a bucket each.
const EXACT: u64 = 16;
/// Sub-buckets per power of two above that: 8 keeps a bucket within 12.5 % of its values.
const SUB_BITS: u32 = 3;
/// The largest power of two with buckets of its own (2^35 µs is about 9.5 hours).
const MAX_EXP: u32 = 35;
const BUCKETS: usize = EXACT as usize + ((MAX_EXP - 3) as usize) * (1 << SUB_BITS);
/// How often the quantile window moves on.
const WINDOW: Duration = Duration::from_secs(60);

/// See the module docs. Values are µs.
#[derive(Debug)]
pub struct Histogram {
    buckets: Box<[AtomicU64]>,
    sum_us: AtomicU64,
    min_us: AtomicU64,
    max_us: AtomicU64,
    window: Mutex<Window>,
}

/// The bucket counts at the last two window moves (read side only).
#[derive(Debug)]
struct Window {
    moved_at: Instant,
    before: Vec<u64>,
    at: Vec<u64>,
}

/// What a histogram holds at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// Values recorded since start.
    pub count: u64,
    /// Their sum, µs.
    pub sum_us: u64,
    /// The smallest, µs (0 before the first).
    pub min_us: u64,
    /// The largest, µs.
    pub max_us: u64,
    /// Bucket counts of the recent window (the quantiles' base).
    recent: Vec<u64>,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            sum_us: AtomicU64::new(0),
            min_us: AtomicU64::new(u64::MAX),
            max_us: AtomicU64::new(0),
            window: Mutex::new(Window {
                moved_at: Instant::now(),
                before: vec![0; BUCKETS],
                at: vec![0; BUCKETS],
            }),
        }
    }
}

impl Histogram {
    /// Records one time.
    pub fn record(&self, took: Duration) {
        self.record_value(u64::try_from(took.as_micros()).unwrap_or(u64::MAX));
    }

    /// Records one value that is not a time (ZooKeeper keeps summaries of counts too: the
    /// watches one event fired, the transactions loaded at start); it reads back in the
    /// fields named `_us`, unscaled.
    pub fn record_value(&self, us: u64) {
        self.buckets[index(us)].fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
        // Loads first: the extremes rarely move, and a load leaves the cache line shared.
        if us < self.min_us.load(Ordering::Relaxed) {
            self.min_us.fetch_min(us, Ordering::Relaxed);
        }
        if us > self.max_us.load(Ordering::Relaxed) {
            self.max_us.fetch_max(us, Ordering::Relaxed);
        }
    }

    /// The histogram now; moves the quantile window on when it is due.
    pub fn snapshot(&self) -> Snapshot {
        let now: Vec<u64> = self
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        let count = now.iter().sum();
        let recent = match self.window.lock() {
            Ok(mut w) => {
                if w.moved_at.elapsed() >= WINDOW {
                    w.before = std::mem::replace(&mut w.at, now.clone());
                    w.moved_at = Instant::now();
                }
                now.iter()
                    .zip(&w.before)
                    .map(|(n, b)| n.saturating_sub(*b))
                    .collect()
            }
            // A reader panicked while moving the window: quantiles since start instead.
            Err(_) => now.clone(),
        };
        let min = self.min_us.load(Ordering::Relaxed);
        Snapshot {
            count,
            sum_us: self.sum_us.load(Ordering::Relaxed),
            min_us: if min == u64::MAX { 0 } else { min },
            max_us: self.max_us.load(Ordering::Relaxed),
            recent,
        }
    }
}

impl Snapshot {
    /// The value below which a fraction `q` of the recent values lie, µs: the middle of the
    /// bucket holding it (0 with no recent values).
    pub fn quantile_us(&self, q: f64) -> u64 {
        let total: u64 = self.recent.iter().sum();
        if total == 0 {
            return 0;
        }
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, n) in self.recent.iter().enumerate() {
            seen += n;
            if seen >= rank {
                let (lo, hi) = bounds(i);
                return (lo + hi) / 2;
            }
        }
        self.max_us
    }

    /// The mean, µs (0 before the first value).
    pub fn mean_us(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum_us as f64 / self.count as f64
        }
    }
}

/// The bucket of a value in µs.
fn index(us: u64) -> usize {
    if us < EXACT {
        return us as usize;
    }
    let exp = (63 - us.leading_zeros()).min(MAX_EXP);
    let sub = if exp == MAX_EXP && us >> MAX_EXP > 1 {
        (1 << SUB_BITS) - 1
    } else {
        (us >> (exp - SUB_BITS)) & ((1 << SUB_BITS) - 1)
    };
    EXACT as usize + ((exp - 4) as usize) * (1 << SUB_BITS) + sub as usize
}

/// A bucket's values: `lo..hi` µs.
fn bounds(i: usize) -> (u64, u64) {
    if i < EXACT as usize {
        return (i as u64, i as u64 + 1);
    }
    let k = i - EXACT as usize;
    let exp = (k >> SUB_BITS) as u32 + 4;
    let sub = (k & ((1 << SUB_BITS) - 1)) as u64;
    let step = 1u64 << (exp - SUB_BITS);
    let lo = ((1 << SUB_BITS) + sub) * step;
    (lo, lo + step)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_falls_in_its_bucket() {
        for us in (0..5000).chain([1 << 20, (1 << 20) + 12_345, (1 << 35) - 1]) {
            let (lo, hi) = bounds(index(us));
            assert!(lo <= us && us < hi, "{us}: {lo}..{hi}");
            assert!(hi - lo <= lo / 8 + 1, "{us}: {lo}..{hi} too wide");
        }
        assert_eq!(index(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn summaries_and_quantiles() {
        let h = Histogram::default();
        assert_eq!(h.snapshot().count, 0);
        assert_eq!(h.snapshot().quantile_us(0.5), 0);
        for ms in 1..=100u64 {
            h.record(Duration::from_millis(ms));
        }
        let s = h.snapshot();
        assert_eq!(s.count, 100);
        assert_eq!(s.sum_us, 5050 * 1000);
        assert_eq!((s.min_us, s.max_us), (1000, 100_000));
        assert!((s.mean_us() - 50_500.0).abs() < 1e-6);
        let p50 = s.quantile_us(0.5) as f64;
        assert!((p50 - 50_000.0).abs() < 50_000.0 * 0.13, "{p50}");
        let p99 = s.quantile_us(0.99) as f64;
        assert!((p99 - 99_000.0).abs() < 99_000.0 * 0.13, "{p99}");
    }
}
