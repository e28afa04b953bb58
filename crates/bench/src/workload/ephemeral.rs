//! `ephemeral`: per round, `--clients` sessions create `--ephemerals` ephemerals each under a
//! fresh parent that a separate watcher session watches (persistent recursive watch); once
//! the watcher has seen every create, the sessions close (or, with `--vanish`, their
//! connections are cut so the server must expire them) and the figure is the time from that
//! moment until the watcher has seen every ephemeral deleted. The median and largest over
//! `--rounds` are reported; the latencies in the table are the creates'.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use zk_client::{AddWatchMode, Client, CreateOptions, EventType, WatchStream, WatcherType};

use crate::clients::{close_all, connect_options, connect_string};
use crate::proxy::Proxy;
use crate::report::{round1, Report};
use crate::stats::{error_name, median, Tally};

use super::{ensure_path, ensure_under_root, Bench};

/// The path of session `s`'s ephemeral `k`.
pub fn ephemeral_path(parent: &str, s: usize, k: usize) -> String {
    format!("{parent}/s{s:04}-e{k:04}")
}

/// Runs the workload.
pub async fn run(bench: &Bench) -> anyhow::Result<Report> {
    let watchers = bench.connect(1).await?;
    let result = rounds(bench, &watchers).await;
    close_all(&watchers).await;
    result
}

async fn rounds(bench: &Bench, watchers: &[Client]) -> anyhow::Result<Report> {
    let watcher = watchers.first().context("no watcher session")?;
    let base = bench.run_path("ephemeral");
    ensure_under_root(bench, watcher, &base).await?;
    let window = bench.window.clone();
    window.warm_up();
    window.open();
    let mut tally = Tally::new();
    let mut gone = Vec::new();
    for r in 0..bench.opts.rounds {
        let parent = format!("{base}/r{r}");
        match round(bench, watcher, &parent, &mut tally).await {
            Ok(ms) => gone.push(round1(ms)),
            Err(name) => tally.error(&name),
        }
        let _ = watcher.delete(&parent, None).await;
    }
    window.close();
    let mut report = Report::new(&bench.opts, &tally, window.measured_secs());
    report.in_flight = bench.opts.ephemerals;
    report.ephemerals = Some(bench.opts.ephemerals);
    report.vanish = Some(bench.opts.vanish);
    report.gone_ms_median = median(&gone).map(round1);
    report.gone_ms_max = gone.iter().copied().reduce(f64::max);
    report.gone_ms_rounds = Some(gone);
    Ok(report)
}

/// Waits until `pending` is empty, taking out the paths of `kind` events; false on timeout.
async fn drain_events(
    events: &mut WatchStream,
    kind: EventType,
    pending: &mut HashSet<String>,
    limit: Duration,
) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while !pending.is_empty() {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(ev)) if ev.event_type == kind => {
                if let Some(p) = ev.path {
                    pending.remove(&p);
                }
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => return false,
        }
    }
    true
}

/// One round; the ms until every ephemeral was seen gone, or the error name.
async fn round(
    bench: &Bench,
    watcher: &Client,
    parent: &str,
    tally: &mut Tally,
) -> Result<f64, String> {
    ensure_path(watcher, parent)
        .await
        .map_err(|e| error_name(&e))?;
    let mut events = watcher
        .add_watch(parent, AddWatchMode::PersistentRecursive)
        .await
        .map_err(|e| error_name(&e))?;
    let result = sessions_come_and_go(bench, parent, &mut events, tally).await;
    let _ = watcher.remove_watches(parent, WatcherType::Any).await;
    result
}

async fn sessions_come_and_go(
    bench: &Bench,
    parent: &str,
    events: &mut WatchStream,
    tally: &mut Tally,
) -> Result<f64, String> {
    let opts = &bench.opts;
    let n = opts.clients;
    let wait = Duration::from_secs_f64(opts.connect_timeout);
    // With --vanish each session goes through its own relay, the only address it knows.
    let mut proxies = Vec::new();
    let mut connect_strings = Vec::with_capacity(n);
    for i in 0..n {
        if opts.vanish {
            let first = connect_string(&bench.servers, i, opts.spread);
            let target = first.split(',').next().unwrap_or_default().to_string();
            let p = Proxy::start(target)
                .await
                .map_err(|_| "ProxyFailed".to_string())?;
            connect_strings.push(p.addr());
            proxies.push(p);
        } else {
            connect_strings.push(connect_string(&bench.servers, i, opts.spread));
        }
    }
    let mut sessions = Vec::with_capacity(n);
    for cs in &connect_strings {
        let (c, _ev) = zk_client::connect(cs, connect_options(opts.session_timeout()))
            .map_err(|e| error_name(&e))?;
        sessions.push(c);
    }
    let mut creates = Vec::new();
    for (s, c) in sessions.iter().enumerate() {
        for k in 0..opts.ephemerals {
            let (c, path, value) = (c.clone(), ephemeral_path(parent, s, k), bench.value.clone());
            creates.push(tokio::spawn(async move {
                c.wait_connected(wait).await?;
                let t0 = Instant::now();
                c.create(&path, &value, &CreateOptions::ephemeral()).await?;
                Ok::<_, zk_client::Error>((path, t0.elapsed()))
            }));
        }
    }
    let mut created = HashSet::new();
    for t in creates {
        match t.await {
            Ok(Ok((path, took))) => {
                bench
                    .window
                    .done
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tally.record(u64::try_from(took.as_micros()).unwrap_or(u64::MAX));
                created.insert(path);
            }
            Ok(Err(e)) => tally.error(&error_name(&e)),
            Err(_) => tally.error("TaskFailed"),
        }
    }
    // The watcher must have seen every create before the clock starts.
    let mut pending = created.clone();
    let seen_all = drain_events(events, EventType::NodeCreated, &mut pending, wait).await;
    let t0 = Instant::now();
    let mut closing = None;
    if opts.vanish {
        for p in &proxies {
            p.cut();
        }
    } else {
        // Closed concurrently: the clock is the watcher's, not the closers'.
        let s = sessions.clone();
        closing = Some(tokio::spawn(async move { close_all(&s).await }));
    }
    let limit = opts.session_timeout() * 3 + Duration::from_secs(30);
    let mut pending = created;
    let all_gone = drain_events(events, EventType::NodeDeleted, &mut pending, limit).await;
    let ms = t0.elapsed().as_secs_f64() * 1000.0;
    if let Some(c) = closing {
        let _ = c.await;
    }
    // Vanished sessions are CONNECTING to a dead relay: closing them is local.
    close_all(&sessions).await;
    drop(proxies);
    if !seen_all {
        return Err("CreatesNotSeen".into());
    }
    if !all_gone {
        return Err("EphemeralsNotGone".into());
    }
    Ok(ms)
}

#[cfg(test)]
mod tests {
    #[test]
    fn ephemeral_paths_name_session_and_index() {
        assert_eq!(super::ephemeral_path("/p", 3, 12), "/p/s0003-e0012");
    }
}
