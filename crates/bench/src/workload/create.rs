//! `create`: persistent sequential creates of `--value-size` bytes under a parent made fresh
//! for the run (`<root>/create-<run id>/c-0000000001`, ...).

use std::sync::Arc;

use zk_client::{Client, CreateMode, CreateOptions};

use crate::clients::close_all;
use crate::report::Report;

use super::timed::{self, loops_per_client};
use super::{ensure_under_root, Bench, NextOp};

/// One loop's requests: a sequential create under `parent`.
pub fn next_op(client: &Client, parent: &str, value: Arc<Vec<u8>>) -> NextOp {
    let client = client.clone();
    let prefix = Arc::new(format!("{parent}/c-"));
    let mode = Arc::new(CreateOptions::new(CreateMode::PersistentSequential));
    Box::new(move || {
        let (c, value, prefix, mode) =
            (client.clone(), value.clone(), prefix.clone(), mode.clone());
        Box::pin(async move { c.create(&prefix, &value, &mode).await.map(|_| ()) })
    })
}

/// Runs the workload.
pub async fn run(bench: &Bench) -> anyhow::Result<Report> {
    let clients = bench.connect(bench.opts.clients).await?;
    let result = async {
        let parent = bench.run_path("create");
        if let Some(first) = clients.first() {
            ensure_under_root(bench, first, &parent).await?;
        }
        let loops = loops_per_client(&clients, bench.opts.in_flight, |c, _| {
            next_op(c, &parent, bench.value.clone())
        });
        anyhow::Ok(timed::run(bench, loops, None, None).await.report(bench))
    }
    .await;
    close_all(&clients).await;
    result
}
