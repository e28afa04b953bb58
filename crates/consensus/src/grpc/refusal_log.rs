//! Warnings about refused peers, at most one per source per interval.
//!
//! A refused peer is worth a loud line (a member of another ensemble keeps knocking after a
//! forced recovery; a certificate names the wrong host), but a forger, or an old member
//! retrying every few milliseconds, must not fill the disk with the same line. So each
//! source (the remote address, or the node id a request claims) gets one warning per
//! [`INTERVAL`]; the next one says how many were left out meanwhile. The table of sources is
//! bounded: when it is full, the sources not heard from for an interval are forgotten, and if
//! none are, the whole table (a burst from many sources then logs each once more).
//!
//! The rule is [`Throttle`], which takes the time as an argument (tested without a clock);
//! [`warn`] applies it with the monotonic clock.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One warning per source per this long.
pub(crate) const INTERVAL: Duration = Duration::from_secs(10);
/// Sources remembered at most.
const MAX_SOURCES: usize = 1024;

/// What to do with one refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Log it, noting this many left out since the last line for its source.
    Log { left_out: u64 },
    /// Leave it out (counted).
    Quiet,
}

/// The per-source rule.
#[derive(Debug)]
pub(crate) struct Throttle {
    interval: Duration,
    max_sources: usize,
    /// Source → when it was last logged, and refusals left out since.
    sources: HashMap<String, (Instant, u64)>,
}

impl Throttle {
    pub(crate) fn new(interval: Duration, max_sources: usize) -> Throttle {
        Throttle {
            interval,
            max_sources,
            sources: HashMap::new(),
        }
    }

    /// The verdict on a refusal from `source` at `now`.
    pub(crate) fn refused(&mut self, source: &str, now: Instant) -> Verdict {
        if let Some((last, left_out)) = self.sources.get_mut(source) {
            if now.saturating_duration_since(*last) < self.interval {
                *left_out += 1;
                return Verdict::Quiet;
            }
            let n = std::mem::take(left_out);
            *last = now;
            return Verdict::Log { left_out: n };
        }
        if self.sources.len() >= self.max_sources {
            let interval = self.interval;
            self.sources
                .retain(|_, (last, _)| now.saturating_duration_since(*last) < interval);
            if self.sources.len() >= self.max_sources {
                self.sources.clear();
            }
        }
        self.sources.insert(source.to_string(), (now, 0));
        Verdict::Log { left_out: 0 }
    }
}

static THROTTLE: Mutex<Option<Throttle>> = Mutex::new(None);

/// Warns `peer refused: {reason}` for `source`, unless it was warned about within
/// [`INTERVAL`].
pub(crate) fn warn(source: &str, reason: &dyn std::fmt::Display) {
    let verdict = {
        let mut t = THROTTLE.lock().unwrap_or_else(|e| e.into_inner());
        t.get_or_insert_with(|| Throttle::new(INTERVAL, MAX_SOURCES))
            .refused(source, Instant::now())
    };
    match verdict {
        Verdict::Log { left_out: 0 } => tracing::warn!(source, "peer refused: {reason}"),
        Verdict::Log { left_out } => tracing::warn!(
            source,
            left_out,
            "peer refused: {reason} (and {left_out} more refusals from it in the last {INTERVAL:?} not logged)"
        ),
        Verdict::Quiet => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn one_line_per_source_per_interval_counting_the_rest() {
        let mut t = Throttle::new(10 * S, 16);
        let t0 = Instant::now();
        assert_eq!(t.refused("10.0.0.9", t0), Verdict::Log { left_out: 0 });
        for i in 1..=5 {
            assert_eq!(t.refused("10.0.0.9", t0 + i * S), Verdict::Quiet);
        }
        // Another source is not held back by the first.
        assert_eq!(t.refused("node 7", t0 + S), Verdict::Log { left_out: 0 });
        assert_eq!(
            t.refused("10.0.0.9", t0 + 10 * S),
            Verdict::Log { left_out: 5 }
        );
        assert_eq!(t.refused("10.0.0.9", t0 + 11 * S), Verdict::Quiet);
        assert_eq!(
            t.refused("10.0.0.9", t0 + 30 * S),
            Verdict::Log { left_out: 1 }
        );
    }

    #[test]
    fn the_table_of_sources_stays_bounded() {
        let mut t = Throttle::new(10 * S, 4);
        let t0 = Instant::now();
        for i in 0..4 {
            assert_eq!(
                t.refused(&format!("s{i}"), t0),
                Verdict::Log { left_out: 0 }
            );
        }
        // Full, nobody stale: the table starts over rather than growing.
        assert_eq!(t.refused("s4", t0 + S), Verdict::Log { left_out: 0 });
        assert!(t.sources.len() <= 4);
        // Full again later: only the stale sources go.
        for i in 5..8 {
            t.refused(&format!("s{i}"), t0 + 12 * S);
        }
        assert_eq!(t.sources.len(), 4);
        assert_eq!(t.refused("s8", t0 + 13 * S), Verdict::Log { left_out: 0 });
        assert_eq!(t.sources.len(), 4, "{:?}", t.sources.keys());
        assert_eq!(t.refused("s5", t0 + 14 * S), Verdict::Quiet);
        // Many sources never grow it past the bound.
        for i in 0..1_000 {
            t.refused(&format!("x{i}"), t0 + 15 * S);
            assert!(t.sources.len() <= 4);
        }
    }
}
