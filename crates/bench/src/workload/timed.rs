//! The timed run every throughput workload uses: start all loops, warm up, open the window,
//! measure, close it, let the loops finish their last request (bounded), and collect the
//! tallies, the CPU used over the window and the servers' RSS at the end.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use zk_client::Client;

use crate::clients::settle_after_error;
use crate::procstat::{rss_kib, CpuSnapshot, CpuUsage};
use crate::report::{PidRss, Report};
use crate::stats::{error_name, Tally};
use crate::window::Window;

use super::{Bench, NextOp};

/// One request loop: the session it runs on (to wait for a reconnect after a connection
/// loss) and its request maker.
pub struct Loop {
    /// The session, if the loop has one of its own.
    pub client: Option<Client>,
    /// Makes the next request.
    pub next: NextOp,
}

/// Called with each acknowledged request's completion time (µs) inside the window.
pub type OnAck = Arc<dyn Fn(u64) + Send + Sync>;

/// Called right after the window opened, with its start (µs).
pub type AtOpen = Box<dyn FnOnce(u64) + Send>;

/// What a timed run measured.
#[derive(Debug, Default)]
pub struct Measured {
    /// All loops merged.
    pub tally: Tally,
    /// Seconds between the window's opening and closing.
    pub measured_s: f64,
    /// CPU over the window.
    pub cpu: CpuUsage,
    /// Watched servers' RSS after the run.
    pub rss: Vec<PidRss>,
    /// Loops still inside a request when the drain deadline passed (aborted).
    pub unfinished: usize,
}

impl Measured {
    /// The report: counts, percentiles, CPU and RSS. Loops that never finished their last
    /// request show up as `Unfinished` errors.
    pub fn report(&self, bench: &Bench) -> Report {
        let mut tally = self.tally.clone();
        for _ in 0..self.unfinished {
            tally.error("Unfinished");
        }
        let mut r = Report::new(&bench.opts, &tally, self.measured_s).with_cpu(&self.cpu);
        r.rss = self.rss.clone();
        r
    }
}

/// Reads the RSS of the watched pids that are alive.
pub fn read_rss(pids: &[u32]) -> Vec<PidRss> {
    pids.iter()
        .filter_map(|&pid| rss_kib(pid).map(|rss_kib| PidRss { pid, rss_kib }))
        .collect()
}

/// Runs one loop until the window closes.
pub async fn drive(window: Arc<Window>, mut lp: Loop, on_ack: Option<OnAck>) -> Tally {
    let mut tally = Tally::new();
    while !window.stopped() {
        let t0 = window.now_us();
        let r = (lp.next)().await;
        let t1 = window.now_us();
        match r {
            Ok(()) => {
                window.done.fetch_add(1, Ordering::Relaxed);
                if window.counts(t0, t1) {
                    tally.record(t1 - t0);
                }
                if let Some(ack) = &on_ack {
                    let open = window.start_us().is_some_and(|s| t1 >= s);
                    let closed = window.end_us().is_some_and(|e| t1 > e);
                    if open && !closed {
                        ack(t1);
                    }
                }
            }
            Err(e) => {
                window.failed.fetch_add(1, Ordering::Relaxed);
                if window.counts(t0, t1) {
                    tally.error(&error_name(&e));
                }
                match &lp.client {
                    Some(c) => {
                        if !settle_after_error(c, &e, Duration::from_secs(1)).await {
                            break;
                        }
                    }
                    // No session to wait for: do not spin on a failing server.
                    None => tokio::time::sleep(Duration::from_millis(20)).await,
                }
            }
        }
    }
    tally
}

/// Warm-up, window, drain. `drain_limit` bounds the wait for the loops' last requests.
pub async fn run(
    bench: &Bench,
    loops: Vec<Loop>,
    on_ack: Option<OnAck>,
    at_open: Option<AtOpen>,
) -> Measured {
    let window = bench.window.clone();
    let pids = bench.opts.watch_pids.clone();
    window.warm_up();
    let mut tasks = Vec::with_capacity(loops.len());
    for lp in loops {
        tasks.push(tokio::spawn(drive(window.clone(), lp, on_ack.clone())));
    }
    tokio::time::sleep(bench.opts.warmup_duration()).await;
    let cpu0 = CpuSnapshot::take(&pids);
    let start = window.open();
    if let Some(f) = at_open {
        f(start);
    }
    tokio::time::sleep(bench.opts.measure_duration()).await;
    window.close();
    let cpu1 = CpuSnapshot::take(&pids);
    let drain_limit = bench.opts.session_timeout() + Duration::from_secs(5);
    let (tallies, unfinished) = join_all(tasks, drain_limit).await;
    Measured {
        tally: Tally::merged(tallies.iter()),
        measured_s: window.measured_secs(),
        cpu: cpu0.until(&cpu1),
        rss: read_rss(&pids),
        unfinished,
    }
}

/// Awaits every task until `limit`; aborts the rest. The tallies and how many were aborted.
pub async fn join_all(
    tasks: Vec<tokio::task::JoinHandle<Tally>>,
    limit: Duration,
) -> (Vec<Tally>, usize) {
    let deadline = tokio::time::Instant::now() + limit;
    let mut tallies = Vec::with_capacity(tasks.len());
    let mut unfinished = 0;
    for mut t in tasks {
        match tokio::time::timeout_at(deadline, &mut t).await {
            Ok(Ok(tally)) => tallies.push(tally),
            Ok(Err(_)) => unfinished += 1,
            Err(_) => {
                t.abort();
                unfinished += 1;
            }
        }
    }
    (tallies, unfinished)
}

/// `in_flight` loops per client, each made by `make(client, seed)` with a distinct seed.
pub fn loops_per_client(
    clients: &[Client],
    in_flight: usize,
    make: impl Fn(&Client, u64) -> NextOp,
) -> Vec<Loop> {
    let mut out = Vec::with_capacity(clients.len() * in_flight);
    for (i, c) in clients.iter().enumerate() {
        for j in 0..in_flight {
            let seed = (i * in_flight + j) as u64 + 1;
            out.push(Loop {
                client: Some(c.clone()),
                next: make(c, seed),
            });
        }
    }
    out
}
