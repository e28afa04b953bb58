//! `set`: setData (any version) of a random key with `--value-size` bytes.

use std::sync::Arc;

use zk_client::Client;

use crate::clients::close_all;
use crate::report::Report;
use crate::rng::Rng;

use super::timed::{self, loops_per_client};
use super::{keys, Bench, NextOp};

/// One loop's requests: setData of a random key.
pub fn next_op(client: &Client, keys: Arc<Vec<String>>, value: Arc<Vec<u8>>, seed: u64) -> NextOp {
    let client = client.clone();
    let mut rng = Rng::new(seed);
    Box::new(move || {
        let (c, value) = (client.clone(), value.clone());
        let path = keys[rng.below(keys.len())].clone();
        Box::pin(async move { c.set_data(&path, &value, None).await.map(|_| ()) })
    })
}

/// Runs the workload.
pub async fn run(bench: &Bench) -> anyhow::Result<Report> {
    let clients = bench.connect(bench.opts.clients).await?;
    let result = async {
        let keys = keys::ensure(bench, &clients).await?;
        let loops = loops_per_client(&clients, bench.opts.in_flight, |c, seed| {
            next_op(c, keys.clone(), bench.value.clone(), seed)
        });
        anyhow::Ok(timed::run(bench, loops, None, None).await.report(bench))
    }
    .await;
    close_all(&clients).await;
    result
}
