//! Test support: real servers behind one trait (zk-node processes, Apache ZooKeeper via
//! common::zookeeper, both the shared test kit's) and bounded waits; the link proxy that cuts
//! or refuses a client's connection is the kit's too (`zk_testkit::proxy`).

#![allow(dead_code)]

pub mod edges;
pub mod judged;
pub mod suite;
pub mod zk_node;
pub mod zookeeper;

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use zk_client::{Client, ConnectOptions, State, WatchStream, WatchedEvent};

/// How long any single wait may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// A running ensemble (or single server) the S-line tests can drive.
pub trait Servers {
    /// "zk-node" or "zookeeper", for messages.
    fn name(&self) -> &'static str;
    /// Client addresses, `host:port`, member index order.
    fn addrs(&self) -> Vec<String>;
    /// The index of the current leader (0 for a single server).
    fn leader(&self) -> usize;
    /// kill -9 member `i`.
    fn kill(&mut self, i: usize);
    /// Starts member `i` again and waits until it serves.
    fn restart(&mut self, i: usize);
    /// Starts member `i` again (after [`Servers::kill`]) without waiting for anything.
    fn start_member(&mut self, i: usize);
    /// Waits until every running member serves and exactly one leads.
    fn await_ready(&mut self);
    /// Sends a signal (`STOP`, `CONT`, `TERM`) to member `i`'s process.
    fn send_signal(&self, i: usize, sig: &str);
    /// Waits up to `bound` for member `i`'s process to exit; true if it did (it is then
    /// stopped, as after [`Servers::kill`]).
    fn wait_exit(&mut self, i: usize, bound: Duration) -> bool;
    /// Whether sessions outlive a pause (SIGSTOP) of the leader together with a follower
    /// for longer than their timeout, when their clients keep trying (S9.5).
    fn keeps_sessions_through_a_leader_pause(&self) -> bool {
        true
    }
    /// The smallest session timeout the servers grant (2 ticks).
    fn min_timeout(&self) -> Duration;
    /// The largest session timeout the servers grant (20 ticks).
    fn max_timeout(&self) -> Duration;
    /// A session timeout short enough for expiry tests, long enough for a loaded machine.
    fn test_timeout(&self) -> Duration;
    /// The index of some member that is not the leader (the leader alone has none).
    fn follower(&self) -> usize {
        let n = self.addrs().len();
        (0..n).find(|i| *i != self.leader()).unwrap_or(0)
    }
    /// Every member, comma-separated.
    fn connect_string(&self) -> String {
        self.addrs().join(",")
    }
}

pub use zk_testkit::four_letter;

/// The `Mode:` line of `srvr`.
pub fn mode(addr: &str) -> Option<String> {
    four_letter(addr, "srvr")?
        .lines()
        .find_map(|l| l.strip_prefix("Mode: "))
        .map(str::to_string)
}

/// Connects and waits (bounded) for CONNECTED.
pub async fn connected(connect: &str, opts: ConnectOptions) -> (Client, WatchStream) {
    let (c, mut ev) = zk_client::connect(connect, opts).expect("valid connect string");
    c.wait_connected(DEADLINE)
        .await
        .unwrap_or_else(|e| panic!("no connection to {connect}: {e}"));
    let first = ev.recv_timeout(DEADLINE).await;
    assert_eq!(
        first,
        Some(WatchedEvent::state(zk_client::KeeperState::SyncConnected)),
        "S7.1: the first default-watcher event is SyncConnected"
    );
    (c, ev)
}

/// The next event satisfying `pred` within the deadline (others are skipped and returned).
pub async fn wait_event(
    ev: &mut WatchStream,
    what: &str,
    pred: impl Fn(&WatchedEvent) -> bool,
) -> (WatchedEvent, Vec<WatchedEvent>) {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let mut skipped = Vec::new();
    loop {
        match tokio::time::timeout_at(deadline, ev.recv()).await {
            Ok(Some(e)) if pred(&e) => return (e, skipped),
            Ok(Some(e)) => skipped.push(e),
            Ok(None) => panic!("stream ended waiting for {what}; saw {skipped:?}"),
            Err(_) => panic!("no {what} within {DEADLINE:?}; saw {skipped:?}"),
        }
    }
}

/// Waits (bounded) until the handle is in `want`.
pub async fn wait_state(c: &Client, want: State) {
    let mut rx = c.state_watch();
    let r = tokio::time::timeout(DEADLINE, async {
        loop {
            if *rx.borrow_and_update() == want {
                return;
            }
            if rx.changed().await.is_err() {
                return;
            }
        }
    })
    .await;
    assert!(r.is_ok(), "state {want} not reached; is {}", c.state());
    assert_eq!(c.state(), want);
}

/// A boxed future, for lists of differently-typed calls.
pub type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Polls every future in index order (so their requests are queued in that order) until all
/// finish: pipelining without spawning.
pub async fn join_in_order<T>(futs: Vec<BoxFut<'_, T>>) -> Vec<T> {
    let mut futs: Vec<Option<BoxFut<'_, T>>> = futs.into_iter().map(Some).collect();
    let mut out: Vec<Option<T>> = (0..futs.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut all = true;
        for (i, f) in futs.iter_mut().enumerate() {
            if let Some(fut) = f {
                match fut.as_mut().poll(cx) {
                    Poll::Ready(v) => {
                        out[i] = Some(v);
                        *f = None;
                    }
                    Poll::Pending => all = false,
                }
            }
        }
        if all {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    out.into_iter().map(|v| v.expect("finished")).collect()
}

/// A unique node name for a test case.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "/{prefix}-{}-{}-{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// The case called `name` in `cases`.
pub fn case(cases: Vec<(&'static str, suite::Case)>, name: &str) -> suite::Case {
    cases
        .into_iter()
        .find(|(n, _)| *n == name)
        .map(|(_, c)| c)
        .unwrap_or_else(|| panic!("no case {name}"))
}

/// Runs one case on a fresh two-worker runtime (blocking server control runs in
/// `block_in_place`, so the client's task keeps running on the other worker).
pub fn run_case(s: &mut dyn Servers, case: suite::Case) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(case(s));
}

/// Installs a tracing subscriber once (RUST_LOG=zk_client=debug to see the client's logs).
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}
