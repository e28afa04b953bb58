//! `mixed`: per request, getData with probability `--read-ratio`, setData otherwise, of a
//! random key.

use std::sync::Arc;

use zk_client::Client;

use crate::clients::close_all;
use crate::report::Report;
use crate::rng::Rng;

use super::timed::{self, loops_per_client};
use super::{keys, Bench, NextOp};

/// One loop's requests: a read or a write of a random key.
pub fn next_op(
    client: &Client,
    keys: Arc<Vec<String>>,
    value: Arc<Vec<u8>>,
    read_ratio: f64,
    seed: u64,
) -> NextOp {
    let client = client.clone();
    let mut rng = Rng::new(seed);
    Box::new(move || {
        let (c, value) = (client.clone(), value.clone());
        let path = keys[rng.below(keys.len())].clone();
        let read = rng.unit() < read_ratio;
        Box::pin(async move {
            if read {
                c.get_data(&path).await.map(|_| ())
            } else {
                c.set_data(&path, &value, None).await.map(|_| ())
            }
        })
    })
}

/// Runs the workload.
pub async fn run(bench: &Bench) -> anyhow::Result<Report> {
    let clients = bench.connect(bench.opts.clients).await?;
    let result = async {
        let keys = keys::ensure(bench, &clients).await?;
        let ratio = bench.opts.read_ratio;
        let loops = loops_per_client(&clients, bench.opts.in_flight, |c, seed| {
            next_op(c, keys.clone(), bench.value.clone(), ratio, seed)
        });
        anyhow::Ok(timed::run(bench, loops, None, None).await.report(bench))
    }
    .await;
    close_all(&clients).await;
    result
}
