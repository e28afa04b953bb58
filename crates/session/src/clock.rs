//! Time as the session rules see it: milliseconds from an arbitrary origin, read only through
//! [`Clock`] so tests can drive it by hand.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// A monotonic millisecond clock; the only way this crate's callers should read time for it.
pub trait Clock: Send + Sync {
    /// Milliseconds since this clock's origin; never decreases.
    fn now_ms(&self) -> u64;
}

/// A clock that moves only when told to; clones share the same time, so a test can hold one
/// and hand another to the code under test.
#[derive(Debug, Clone, Default)]
pub struct ManualClock {
    now: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock reading `start_ms`.
    pub fn new(start_ms: u64) -> Self {
        ManualClock {
            now: Arc::new(AtomicU64::new(start_ms)),
        }
    }

    /// Sets the time; going backwards is ignored, because a [`Clock`] is monotonic.
    pub fn set(&self, ms: u64) {
        self.now.fetch_max(ms, Ordering::SeqCst);
    }

    /// Moves the time forward by `ms` (saturating).
    pub fn advance(&self, ms: u64) {
        // fetch_update with a closure that always returns Some cannot fail.
        let _ = self
            .now
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |t| {
                Some(t.saturating_add(ms))
            });
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.now.load(Ordering::SeqCst)
    }
}

/// The production clock: `Instant`-based, so wall-clock jumps (NTP, DST) never expire sessions.
#[derive(Debug, Clone, Copy)]
pub struct MonotonicClock {
    origin: Instant,
}

impl MonotonicClock {
    /// A clock whose origin is now.
    pub fn new() -> Self {
        MonotonicClock {
            origin: Instant::now(),
        }
    }
}

impl Default for MonotonicClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for MonotonicClock {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_is_shared_and_monotonic() {
        let a = ManualClock::new(100);
        let b = a.clone();
        a.advance(50);
        assert_eq!(b.now_ms(), 150);
        b.set(1000);
        assert_eq!(a.now_ms(), 1000);
        a.set(10);
        assert_eq!(a.now_ms(), 1000, "set never goes backwards");
        a.advance(u64::MAX);
        assert_eq!(a.now_ms(), u64::MAX);
    }

    #[test]
    fn monotonic_clock_does_not_go_back() {
        let c = MonotonicClock::new();
        let t1 = c.now_ms();
        let t2 = c.now_ms();
        assert!(t2 >= t1);
        let dynamic: &dyn Clock = &c;
        assert!(dynamic.now_ms() >= t2);
    }
}
