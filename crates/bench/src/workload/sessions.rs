//! `sessions`: `--clients` loops, each opening a session (to server i mod n first under
//! `--spread`), waiting until CONNECTED, and closing it (the server's reply to closeSession
//! awaited). One op = one open + close; its latency is the whole cycle.

use std::time::Duration;

use zk_client::Error;

use crate::clients::{connect_options, connect_string};
use crate::report::Report;

use super::timed::{self, Loop};
use super::{Bench, NextOp};

/// One loop's requests: open, wait for CONNECTED, close.
pub fn next_op(connect: String, session_timeout: Duration, wait: Duration) -> NextOp {
    Box::new(move || {
        let cs = connect.clone();
        Box::pin(async move {
            let (c, _events) = zk_client::connect(&cs, connect_options(session_timeout))?;
            let connected = c.wait_connected(wait).await;
            let closed = tokio::time::timeout(wait, c.close()).await;
            connected?;
            match closed {
                Ok(r) => r,
                Err(_) => Err(Error::OperationTimeout),
            }
        })
    })
}

/// Runs the workload.
pub async fn run(bench: &Bench) -> anyhow::Result<Report> {
    let wait = Duration::from_secs_f64(bench.opts.connect_timeout);
    let loops = (0..bench.opts.clients)
        .map(|i| Loop {
            client: None,
            next: next_op(
                connect_string(&bench.servers, i, bench.opts.spread),
                bench.opts.session_timeout(),
                wait,
            ),
        })
        .collect();
    let m = timed::run(bench, loops, None, None).await;
    let mut r = m.report(bench);
    r.in_flight = 1;
    r.sessions_per_s = Some(r.ops_per_s);
    Ok(r)
}
