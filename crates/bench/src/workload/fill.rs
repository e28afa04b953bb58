//! `fill`: creates `--count` persistent znodes of `--value-size` bytes under a fresh parent
//! (`<root>/fill-<run id>/n0000000`, ...), `--clients` × `--in-flight` at a time, and stops.
//! The whole job is the window (no warm-up). With `--watch-pids` the report then carries each
//! server's RSS (VmRSS), read right after the last create was acknowledged.

use std::sync::Arc;
use std::time::Duration;

use zk_client::{Client, CreateOptions};

use crate::clients::close_all;
use crate::procstat::CpuSnapshot;
use crate::report::Report;

use super::timed::read_rss;
use super::{ensure_under_root, pipelined, Bench};

/// The path of znode `i` under `parent`.
pub fn node_path(parent: &str, i: usize) -> String {
    format!("{parent}/n{i:08}")
}

/// Runs the workload.
pub async fn run(bench: &Bench) -> anyhow::Result<Report> {
    let clients = bench.connect(bench.opts.clients).await?;
    let result = fill(bench, &clients).await;
    close_all(&clients).await;
    result
}

async fn fill(bench: &Bench, clients: &[Client]) -> anyhow::Result<Report> {
    let parent = Arc::new(bench.run_path("fill"));
    if let Some(first) = clients.first() {
        ensure_under_root(bench, first, &parent).await?;
    }
    let value = bench.value.clone();
    let p = parent.clone();
    let make: pipelined::MakeIndexed = Arc::new(move |c: &Client, i: usize| {
        let (c, value, path) = (c.clone(), value.clone(), node_path(&p, i));
        Box::pin(async move {
            c.create(&path, &value, &CreateOptions::persistent())
                .await
                .map(|_| ())
        })
    });
    let pids = bench.opts.watch_pids.clone();
    let window = bench.window.clone();
    window.warm_up();
    let cpu0 = CpuSnapshot::take(&pids);
    window.open();
    let (mut tally, unfinished) = pipelined::for_each(
        &window,
        clients,
        bench.opts.in_flight,
        bench.opts.count,
        make,
        Duration::from_secs(3600),
    )
    .await;
    window.close();
    let cpu1 = CpuSnapshot::take(&pids);
    for _ in 0..unfinished {
        tally.error("Unfinished");
    }
    let mut r =
        Report::new(&bench.opts, &tally, window.measured_secs()).with_cpu(&cpu0.until(&cpu1));
    r.count = Some(bench.opts.count);
    r.rss = read_rss(&pids);
    Ok(r)
}

#[cfg(test)]
mod tests {
    #[test]
    fn node_paths_are_fixed_width() {
        assert_eq!(super::node_path("/f", 42), "/f/n00000042");
    }
}
