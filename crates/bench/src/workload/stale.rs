//! `stale`: how often a read through another member, right after an acknowledged write,
//! still sees the value from before that write. Per round the writer (a session on the first
//! server only) sets one znode to the round's number; the moment that is acknowledged, the
//! reader (a session on the second server only) reads it. A member answers reads from its own
//! state, so one that has not yet applied the write answers with the old value: the figure is
//! how many of `--rounds` reads did, and how long after the acknowledgement the reader first
//! saw the new value (it reads again until it does). The latencies in the table are the
//! writes'.
//!
//! What it shows: a client that fails over from one member to another (or two clients that
//! talk to each other out of band) reading what was just written. ZooKeeper does not promise
//! it without `sync`, but its followers learn a commit right away and almost never show it.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use zk_client::Client;

use crate::clients::{close_all, connect_options};
use crate::report::{round1, Report};
use crate::stats::{error_name, Tally};

use super::{ensure_under_root, Bench};

/// Longest the reader keeps reading for one round's value.
const SEE_WITHIN: Duration = Duration::from_secs(5);

/// What one round saw.
struct Round {
    /// The first read returned an older value.
    stale: bool,
    /// From the acknowledgement until the reader saw the new value.
    lag: Duration,
}

/// Runs the workload.
pub async fn run(bench: &Bench) -> anyhow::Result<Report> {
    // `Options::validate` made sure there are two.
    let [writer_at, reader_at, ..] = bench.servers.as_slice() else {
        anyhow::bail!("stale needs two servers: the writer's and the reader's");
    };
    let wait = Duration::from_secs_f64(bench.opts.connect_timeout);
    let mut clients = Vec::new();
    for at in [writer_at, reader_at] {
        let (c, _events) = zk_client::connect(at, connect_options(bench.opts.session_timeout()))
            .with_context(|| format!("connect to {at}"))?;
        c.wait_connected(wait)
            .await
            .with_context(|| format!("connect to {at}"))?;
        clients.push(c);
    }
    let result = rounds(bench, &clients[0], &clients[1]).await;
    close_all(&clients).await;
    result
}

async fn rounds(bench: &Bench, writer: &Client, reader: &Client) -> anyhow::Result<Report> {
    let path = bench.run_path("stale");
    ensure_under_root(bench, writer, &path).await?;
    writer
        .set_data(&path, b"0", None)
        .await
        .context("reset the znode")?;
    bench.window.warm_up();
    bench.window.open();
    let mut tally = Tally::new();
    let mut stale = 0u64;
    let mut lags = Vec::new();
    for r in 1..=bench.opts.rounds {
        match round(writer, reader, &path, r, &mut tally).await {
            Ok(seen) => {
                stale += u64::from(seen.stale);
                lags.push(seen.lag.as_secs_f64() * 1000.0);
                bench
                    .window
                    .done
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            Err(name) => tally.error(&name),
        }
    }
    bench.window.close();
    let _ = writer.delete(&path, None).await;
    let mut report = Report::new(&bench.opts, &tally, bench.window.measured_secs());
    report.in_flight = 1;
    report.stale_reads = Some(stale);
    report.stale_rounds = Some(lags.len());
    report.stale_lag_ms_mean =
        (!lags.is_empty()).then(|| round1(lags.iter().sum::<f64>() / lags.len() as f64));
    report.stale_lag_ms_max = lags.iter().copied().reduce(f64::max).map(round1);
    Ok(report)
}

/// One round: the write, then reads through the other member until it shows the write.
async fn round(
    writer: &Client,
    reader: &Client,
    path: &str,
    r: usize,
    tally: &mut Tally,
) -> Result<Round, String> {
    let value = r.to_string();
    let t0 = Instant::now();
    writer
        .set_data(path, value.as_bytes(), None)
        .await
        .map_err(|e| error_name(&e))?;
    let acked = Instant::now();
    tally.record(u64::try_from((acked - t0).as_micros()).unwrap_or(u64::MAX));
    let mut first = true;
    let mut stale = false;
    loop {
        let (data, _) = reader.get_data(path).await.map_err(|e| error_name(&e))?;
        if data == value.as_bytes() {
            return Ok(Round {
                stale,
                lag: acked.elapsed(),
            });
        }
        if first {
            stale = true;
            first = false;
        }
        if acked.elapsed() > SEE_WITHIN {
            return Err("WriteNeverSeen".into());
        }
    }
}
