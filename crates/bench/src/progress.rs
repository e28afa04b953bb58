//! The progress line on stderr, once a second: phase, requests done so far, the rate over the
//! last second, failures so far.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::window::{Phase, Window};

/// One progress line.
pub fn line(elapsed_s: f64, phase: Phase, done: u64, rate: f64, failed: u64) -> String {
    format!(
        "[{elapsed_s:6.1}s] {:<7} ops {done:>10}  rate {rate:>9.0}/s  errors {failed}",
        phase.label()
    )
}

/// Prints the progress of `window` every second until aborted (nothing if `quiet`).
pub fn spawn(window: Arc<Window>, workload: &'static str, quiet: bool) -> Option<JoinHandle<()>> {
    if quiet {
        return None;
    }
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.tick().await;
        let mut last_done = 0u64;
        let mut last_t = window.elapsed().as_secs_f64();
        loop {
            tick.tick().await;
            let t = window.elapsed().as_secs_f64();
            let done = window.done.load(Ordering::Relaxed);
            let failed = window.failed.load(Ordering::Relaxed);
            let rate = (done - last_done.min(done)) as f64 / (t - last_t).max(1e-3);
            eprintln!(
                "{workload}: {}",
                line(t, window.phase(), done, rate, failed)
            );
            last_done = done;
            last_t = t;
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_names_phase_ops_rate_and_errors() {
        let l = line(3.0, Phase::Measure, 12345, 4115.2, 2);
        assert!(l.contains("measure"), "{l}");
        assert!(l.contains("12345"), "{l}");
        assert!(l.contains("4115/s"), "{l}");
        assert!(l.contains("errors 2"), "{l}");
    }
}
