//! `failover`: continuous setData of random keys from every client while `--fault-cmd` runs
//! (`sh -c`) at `--fault-at` seconds into the window. Figures: the longest gap between two
//! successive acknowledged writes of all clients together (the window's start and end count
//! as edges, so writes that never resume show as a gap until the end), the time from the
//! fault to the first acknowledged write after it, the requests that failed, and the sessions
//! that ended expired.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use zk_client::{CloseReason, State};

use crate::clients::close_all;
use crate::report::{round1, round3, Report};

use super::timed::{self, loops_per_client, AtOpen, OnAck};
use super::{keys, set, Bench};

const UNSET: u64 = u64::MAX;

/// Acknowledgement times of all clients, reduced to the longest gap and the gap across the
/// fault.
#[derive(Debug)]
pub struct Acks {
    last: AtomicU64,
    /// (gap µs, gap start µs)
    longest: Mutex<(u64, u64)>,
    longest_us: AtomicU64,
    fault_us: AtomicU64,
    last_before_fault: AtomicU64,
    first_after_fault: AtomicU64,
}

impl Default for Acks {
    fn default() -> Self {
        Acks::new()
    }
}

impl Acks {
    /// No acknowledgement yet.
    pub fn new() -> Acks {
        Acks {
            last: AtomicU64::new(UNSET),
            longest: Mutex::new((0, 0)),
            longest_us: AtomicU64::new(0),
            fault_us: AtomicU64::new(UNSET),
            last_before_fault: AtomicU64::new(UNSET),
            first_after_fault: AtomicU64::new(UNSET),
        }
    }

    /// The window opened at `t`: the first gap starts there.
    pub fn open(&self, t: u64) {
        self.last.store(t, Ordering::SeqCst);
    }

    /// The fault command finished at `t` (the kill has landed by then).
    pub fn fault(&self, t: u64) {
        self.last_before_fault
            .store(self.last.load(Ordering::SeqCst), Ordering::SeqCst);
        self.fault_us.store(t, Ordering::SeqCst);
    }

    /// A write was acknowledged at `t`.
    pub fn ack(&self, t: u64) {
        self.edge(t);
        let f = self.fault_us.load(Ordering::SeqCst);
        if f != UNSET && t >= f {
            self.first_after_fault.fetch_min(t, Ordering::SeqCst);
        }
    }

    /// The window closed at `t`: the last gap ends there.
    pub fn close(&self, t: u64) {
        self.edge(t);
    }

    fn edge(&self, t: u64) {
        let prev = self.last.fetch_max(t, Ordering::SeqCst);
        if prev == UNSET || t <= prev {
            if prev == UNSET {
                self.last.store(t, Ordering::SeqCst);
            }
            return;
        }
        let gap = t - prev;
        if gap > self.longest_us.load(Ordering::Relaxed) {
            if let Ok(mut l) = self.longest.lock() {
                if gap > l.0 {
                    *l = (gap, prev);
                    self.longest_us.store(gap, Ordering::Relaxed);
                }
            }
        }
    }

    /// (longest gap µs, its start µs).
    pub fn longest(&self) -> (u64, u64) {
        self.longest.lock().map(|l| *l).unwrap_or((0, 0))
    }

    /// µs from the end of the fault command to the first acknowledgement after it.
    pub fn resumed_after_fault(&self) -> Option<u64> {
        let f = self.fault_us.load(Ordering::SeqCst);
        let a = self.first_after_fault.load(Ordering::SeqCst);
        (f != UNSET && a != UNSET).then(|| a - f)
    }

    /// µs from the last acknowledgement before the fault command returned to the first one
    /// after: the outage the fault caused, whatever the longest gap of the window was.
    pub fn gap_across_fault(&self) -> Option<u64> {
        let b = self.last_before_fault.load(Ordering::SeqCst);
        let a = self.first_after_fault.load(Ordering::SeqCst);
        (b != UNSET && a != UNSET && a >= b).then(|| a - b)
    }
}

/// What the fault command did.
#[derive(Debug, Clone, Default)]
struct FaultOutcome {
    exit: Option<i32>,
    output: Option<String>,
    took_us: u64,
}

fn run_fault(cmd: &str) -> FaultOutcome {
    match std::process::Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .stdin(std::process::Stdio::null())
        .output()
    {
        Ok(out) => {
            let text = String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr);
            FaultOutcome {
                exit: Some(out.status.code().unwrap_or(-1)),
                output: text
                    .lines()
                    .find(|l| !l.trim().is_empty())
                    .map(|l| l.trim().to_string()),
                took_us: 0,
            }
        }
        Err(e) => FaultOutcome {
            exit: Some(-1),
            output: Some(format!("could not run sh: {e}")),
            took_us: 0,
        },
    }
}

/// Runs the workload.
pub async fn run(bench: &Bench) -> anyhow::Result<Report> {
    let clients = bench.connect(bench.opts.clients).await?;
    let result = async {
        let keys = keys::ensure(bench, &clients).await?;
        let loops = loops_per_client(&clients, bench.opts.in_flight, |c, seed| {
            set::next_op(c, keys.clone(), bench.value.clone(), seed)
        });
        let acks = Arc::new(Acks::new());
        let a = acks.clone();
        let on_ack: OnAck = Arc::new(move |t| a.ack(t));
        let outcome: Arc<Mutex<Option<FaultOutcome>>> = Arc::default();
        let fault_task: Arc<Mutex<Option<tokio::task::JoinHandle<()>>>> = Arc::default();
        let at_open: AtOpen = {
            let (acks, window, outcome, fault_task) = (
                acks.clone(),
                bench.window.clone(),
                outcome.clone(),
                fault_task.clone(),
            );
            let fault = bench.opts.fault_at.zip(bench.opts.fault_cmd.clone());
            Box::new(move |start| {
                acks.open(start);
                if let Some((at, cmd)) = fault {
                    let h = tokio::spawn(async move {
                        tokio::time::sleep(Duration::from_secs_f64(at)).await;
                        let began = window.now_us();
                        let mut o = tokio::task::spawn_blocking(move || run_fault(&cmd))
                            .await
                            .unwrap_or_default();
                        let done = window.now_us();
                        acks.fault(done);
                        o.took_us = done - began;
                        if let Ok(mut slot) = outcome.lock() {
                            *slot = Some(o);
                        }
                    });
                    if let Ok(mut slot) = fault_task.lock() {
                        *slot = Some(h);
                    }
                }
            })
        };
        let m = timed::run(bench, loops, Some(on_ack), Some(at_open)).await;
        if let Some(end) = bench.window.end_us() {
            acks.close(end);
        }
        let pending = fault_task.lock().ok().and_then(|mut s| s.take());
        if let Some(h) = pending {
            let _ = tokio::time::timeout(Duration::from_secs(30), h).await;
        }
        let mut r = m.report(bench);
        let start = bench.window.start_us().unwrap_or(0);
        let (gap, gap_start) = acks.longest();
        r.longest_gap_ms = Some(round1(gap as f64 / 1000.0));
        r.gap_start_s = Some(round3(gap_start.saturating_sub(start) as f64 / 1e6));
        r.resumed_ms = acks
            .resumed_after_fault()
            .map(|us| round1(us as f64 / 1000.0));
        r.fault_gap_ms = acks.gap_across_fault().map(|us| round1(us as f64 / 1000.0));
        r.expired = Some(
            clients
                .iter()
                .filter(|c| c.state() == State::Closed(CloseReason::SessionExpired))
                .count() as u64,
        );
        if let Some(cmd) = &bench.opts.fault_cmd {
            r.fault_cmd = Some(cmd.clone());
            r.fault_at_s = bench.opts.fault_at;
            let o = outcome.lock().ok().and_then(|o| o.clone());
            r.fault_exit = Some(o.as_ref().and_then(|o| o.exit).unwrap_or(-1));
            r.fault_took_ms = o.as_ref().map(|o| round1(o.took_us as f64 / 1000.0));
            r.fault_output = o.and_then(|o| o.output);
        }
        anyhow::Ok(r)
    }
    .await;
    close_all(&clients).await;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_gap_counts_window_edges() {
        let a = Acks::new();
        a.open(1_000);
        for t in [1_100, 1_200, 1_300] {
            a.ack(t);
        }
        a.fault(1_350);
        a.ack(1_250); // late reporter: never shrinks or extends a gap
        a.ack(5_350); // a 4 ms gap across the fault
        a.ack(5_400);
        assert_eq!(a.longest(), (4_050, 1_300));
        assert_eq!(a.resumed_after_fault(), Some(4_000));
        assert_eq!(a.gap_across_fault(), Some(4_050));
        a.close(20_000); // nothing after 5.4 ms: the tail is the longest gap
        assert_eq!(a.longest(), (14_600, 5_400));
        assert_eq!(
            a.gap_across_fault(),
            Some(4_050),
            "the fault's own gap stays"
        );
    }

    #[test]
    fn no_ack_at_all_is_one_gap_over_the_window() {
        let a = Acks::new();
        a.open(0);
        a.close(2_000_000);
        assert_eq!(a.longest(), (2_000_000, 0));
        assert_eq!(a.resumed_after_fault(), None);
        assert_eq!(a.gap_across_fault(), None);
    }

    #[test]
    fn the_fault_command_runs_in_a_shell() {
        let o = run_fault("echo killed 42; exit 3");
        assert_eq!(o.exit, Some(3));
        assert_eq!(o.output.as_deref(), Some("killed 42"));
    }
}
