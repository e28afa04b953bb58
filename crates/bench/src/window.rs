//! The measurement window shared by every loop of a run: a clock origin, when measuring
//! started and ended (µs since the origin), the stop flag, and the live counters the
//! progress line reads. A request counts only if it started at or after the window's start
//! and completed at or before its end.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::time::{Duration, Instant};

const UNSET: u64 = u64::MAX;

/// Where the run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Connecting clients, creating keys.
    Setup,
    /// Load runs, nothing counted.
    Warmup,
    /// Load runs and is counted.
    Measure,
    /// The window closed; loops finish their last request.
    Drain,
}

impl Phase {
    /// For the progress line.
    pub fn label(self) -> &'static str {
        match self {
            Phase::Setup => "setup",
            Phase::Warmup => "warm-up",
            Phase::Measure => "measure",
            Phase::Drain => "drain",
        }
    }
}

/// Shared by every loop of one run.
#[derive(Debug)]
pub struct Window {
    origin: Instant,
    start_us: AtomicU64,
    end_us: AtomicU64,
    stop: AtomicBool,
    phase: AtomicU8,
    /// Requests completed successfully so far (any phase), for the progress line.
    pub done: AtomicU64,
    /// Requests failed so far (any phase), for the progress line.
    pub failed: AtomicU64,
}

impl Default for Window {
    fn default() -> Self {
        Window::new()
    }
}

impl Window {
    /// A window not yet open, in setup.
    pub fn new() -> Window {
        Window {
            origin: Instant::now(),
            start_us: AtomicU64::new(UNSET),
            end_us: AtomicU64::new(UNSET),
            stop: AtomicBool::new(false),
            phase: AtomicU8::new(0),
            done: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        }
    }

    /// µs since the origin.
    pub fn now_us(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_micros()).unwrap_or(UNSET - 1)
    }

    /// Time since the origin.
    pub fn elapsed(&self) -> Duration {
        self.origin.elapsed()
    }

    /// The current phase.
    pub fn phase(&self) -> Phase {
        match self.phase.load(Ordering::Relaxed) {
            0 => Phase::Setup,
            1 => Phase::Warmup,
            2 => Phase::Measure,
            _ => Phase::Drain,
        }
    }

    fn set_phase(&self, p: Phase) {
        let v = match p {
            Phase::Setup => 0,
            Phase::Warmup => 1,
            Phase::Measure => 2,
            Phase::Drain => 3,
        };
        self.phase.store(v, Ordering::Relaxed);
    }

    /// Setup is over: load runs uncounted.
    pub fn warm_up(&self) {
        self.set_phase(Phase::Warmup);
    }

    /// Opens the window now; its start in µs.
    pub fn open(&self) -> u64 {
        let t = self.now_us();
        self.start_us.store(t, Ordering::SeqCst);
        self.set_phase(Phase::Measure);
        t
    }

    /// Closes the window now and tells the loops to stop; its end in µs.
    pub fn close(&self) -> u64 {
        let t = self.now_us();
        self.end_us.store(t, Ordering::SeqCst);
        self.set_phase(Phase::Drain);
        self.stop.store(true, Ordering::SeqCst);
        t
    }

    /// Tells the loops to stop without closing (setup failed).
    pub fn abort(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    /// True once loops should stop.
    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// The window's start, if open.
    pub fn start_us(&self) -> Option<u64> {
        Some(self.start_us.load(Ordering::SeqCst)).filter(|&t| t != UNSET)
    }

    /// The window's end, if closed.
    pub fn end_us(&self) -> Option<u64> {
        Some(self.end_us.load(Ordering::SeqCst)).filter(|&t| t != UNSET)
    }

    /// True if a request that started at `t0` and completed at `t1` counts.
    pub fn counts(&self, t0: u64, t1: u64) -> bool {
        let start = self.start_us.load(Ordering::SeqCst);
        let end = self.end_us.load(Ordering::SeqCst);
        start != UNSET && t0 >= start && t1 <= end
    }

    /// The measured span in seconds (0 until closed).
    pub fn measured_secs(&self) -> f64 {
        match (self.start_us(), self.end_us()) {
            (Some(s), Some(e)) if e > s => (e - s) as f64 / 1e6,
            _ => 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_requests_inside_the_window_count() {
        let w = Window::new();
        assert!(!w.counts(0, 1), "nothing counts before the window opens");
        w.warm_up();
        let start = w.open();
        assert!(
            !w.counts(start.saturating_sub(1), start + 5),
            "started in warm-up"
        );
        assert!(w.counts(start, start + 5));
        std::thread::sleep(Duration::from_millis(2));
        let end = w.close();
        assert!(w.stopped());
        assert!(w.counts(start, end));
        assert!(!w.counts(start, end + 1), "completed after the end");
        assert!(w.measured_secs() > 0.0);
        assert_eq!(w.phase(), Phase::Drain);
    }
}
