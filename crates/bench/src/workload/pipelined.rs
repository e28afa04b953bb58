//! A counted job spread over the clients, `--in-flight` requests at a time on each: request
//! `i` for every `i` in `0..count`, each taken once by whichever loop is free. Used to create
//! the keys before a run and by `fill`. Every request's latency and error goes into the tally
//! (a job has no warm-up); a failed request is not retried.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use zk_client::Client;

use crate::clients::settle_after_error;
use crate::stats::{error_name, Tally};
use crate::window::Window;

use super::OpFuture;

/// Makes request `i` on a client.
pub type MakeIndexed = Arc<dyn Fn(&Client, usize) -> OpFuture + Send + Sync>;

/// Runs requests `0..count` over `clients` × `in_flight` loops; the merged tally.
pub async fn for_each(
    window: &Arc<Window>,
    clients: &[Client],
    in_flight: usize,
    count: usize,
    make: MakeIndexed,
    limit: Duration,
) -> (Tally, usize) {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for c in clients {
        for _ in 0..in_flight.max(1) {
            let (c, next, make, window) = (c.clone(), next.clone(), make.clone(), window.clone());
            tasks.push(tokio::spawn(async move {
                let mut tally = Tally::new();
                loop {
                    if window.stopped() {
                        break;
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count {
                        break;
                    }
                    let t0 = window.now_us();
                    match make(&c, i).await {
                        Ok(()) => {
                            tally.record(window.now_us() - t0);
                            window.done.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => {
                            tally.error(&error_name(&e));
                            window.failed.fetch_add(1, Ordering::Relaxed);
                            if !settle_after_error(&c, &e, Duration::from_secs(1)).await {
                                break;
                            }
                        }
                    }
                }
                tally
            }));
        }
    }
    let (tallies, unfinished) = super::timed::join_all(tasks, limit).await;
    (Tally::merged(tallies.iter()), unfinished)
}
