//! `stale`: how often a read through another member, right after an acknowledged write,
//! still sees the value from before that write. Per round the writer (a session on the first
//! server only) sets one znode to the round's number; the moment that is acknowledged, the
//! reader (a session on the second server only) reads it. A member answers reads from its own
//! state, so one that has not yet applied the write answers with the old value: the figure is
//! how many of `--rounds` reads did, and how long after the acknowledgement the reader first
//! saw the new value (it reads again until it does). The latencies in the table are the
//! writes'.
//!
//! `--writer-on leader` puts the writer on the member that leads and the reader on a
//! follower; `--writer-on follower` puts both on followers. The two differ: through the
//! leader, the reply races the commit's way to the followers; through a follower, both wait
//! for the same commit message.
//!
//! What it shows: a client that fails over from one member to another (or two clients that
//! talk to each other out of band) reading what was just written. ZooKeeper does not promise
//! it without `sync`, but its followers learn a commit right away and almost never show it.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use zk_client::Client;

use crate::clients::{close_all, connect_options};
use crate::options::WriterOn;
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
    let (writer_at, reader_at) = pick(bench).await?;
    let wait = Duration::from_secs_f64(bench.opts.connect_timeout);
    let mut clients = Vec::new();
    for at in [&writer_at, &reader_at] {
        let (c, _events) = zk_client::connect(at, connect_options(bench.opts.session_timeout()))
            .with_context(|| format!("connect to {at}"))?;
        c.wait_connected(wait)
            .await
            .with_context(|| format!("connect to {at}"))?;
        clients.push(c);
    }
    let result = rounds(bench, &clients[0], &clients[1]).await;
    close_all(&clients).await;
    let mut report = result?;
    report.stale_writer_on = Some(bench.opts.writer_on.name().into());
    report.stale_servers = Some([writer_at, reader_at]);
    Ok(report)
}

/// The writer's and the reader's server, per `--writer-on`.
async fn pick(bench: &Bench) -> anyhow::Result<(String, String)> {
    let servers = bench.servers.clone();
    if servers.len() < 2 {
        anyhow::bail!("stale needs two servers: the writer's and the reader's");
    }
    if bench.opts.writer_on == WriterOn::First {
        return Ok((servers[0].clone(), servers[1].clone()));
    }
    // `srvr` on each (a blocking four-letter word with a one-second bound each).
    let asked = servers.clone();
    let modes = tokio::task::spawn_blocking(move || {
        asked
            .iter()
            .map(|s| zk_chaos::fourlw::mode(s).map(|m| m.trim().to_string()))
            .collect::<Vec<_>>()
    })
    .await
    .context("asking the servers' modes")?;
    choose(bench.opts.writer_on, &servers, &modes)
}

/// The choice itself, from each server's `Mode:` (`None`: it did not answer).
fn choose(
    on: WriterOn,
    servers: &[String],
    modes: &[Option<String>],
) -> anyhow::Result<(String, String)> {
    let with = |want: &str| -> Vec<usize> {
        (0..servers.len())
            .filter(|&i| modes.get(i).and_then(Option::as_deref) == Some(want))
            .collect()
    };
    let (leaders, followers) = (with("leader"), with("follower"));
    let seen = || format!("{servers:?} answered srvr with modes {modes:?}");
    let [leader] = leaders.as_slice() else {
        anyhow::bail!(
            "--writer-on {} needs exactly one leader: {}",
            on.name(),
            seen()
        );
    };
    let (w, r) = match (on, followers.as_slice()) {
        (WriterOn::Leader, [f, ..]) => (*leader, *f),
        (WriterOn::Follower, [f, g, ..]) => (*f, *g),
        (WriterOn::Follower, [f]) => (*f, *leader),
        _ => anyhow::bail!("--writer-on {} needs a follower: {}", on.name(), seen()),
    };
    Ok((servers[w].clone(), servers[r].clone()))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn servers() -> Vec<String> {
        (1..=3).map(|i| format!("127.0.0.1:2281{i}")).collect()
    }

    fn modes(m: [&str; 3]) -> Vec<Option<String>> {
        m.iter()
            .map(|s| (!s.is_empty()).then(|| s.to_string()))
            .collect()
    }

    #[test]
    fn the_writer_goes_where_asked_and_the_reader_to_a_follower() {
        let s = servers();
        let m = modes(["follower", "follower", "leader"]);
        let pick = |on| choose(on, &s, &m).expect("chosen");
        assert_eq!(pick(WriterOn::Leader), (s[2].clone(), s[0].clone()));
        assert_eq!(pick(WriterOn::Follower), (s[0].clone(), s[1].clone()));
    }

    #[test]
    fn a_lone_follower_reads_from_the_leader_when_the_writer_is_on_it() {
        let s = servers();
        let m = modes(["leader", "follower", ""]);
        let got = choose(WriterOn::Follower, &s, &m).expect("chosen");
        assert_eq!(got, (s[1].clone(), s[0].clone()));
    }

    #[test]
    fn no_leader_or_no_follower_is_a_clear_error() {
        let s = servers();
        for (on, m, says) in [
            (
                WriterOn::Leader,
                ["follower", "follower", ""],
                "exactly one leader",
            ),
            (
                WriterOn::Leader,
                ["standalone", "", ""],
                "exactly one leader",
            ),
            (WriterOn::Follower, ["leader", "", ""], "needs a follower"),
        ] {
            let err = choose(on, &s, &modes(m)).expect_err("refused");
            assert!(err.to_string().contains(says), "{err}");
        }
    }
}
