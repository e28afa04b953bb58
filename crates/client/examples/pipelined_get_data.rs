//! Pipelined getData throughput on ONE connection: `IN_FLIGHT` (default 16) requests always
//! outstanding, for `SECS` seconds (after a one-second warm-up), through zk-client and then
//! through the `zookeeper-client` crate, against the same server and the same 100-byte node.
//!
//!     cargo build --release -p zk-node
//!     ./target/release/zk-node --client-addr 127.0.0.1:2191 --data-dir /tmp/zk-bench &
//!     cargo run --release -p zk-client --example pipelined_get_data -- 127.0.0.1:2191 16 5

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use zk_client::{ConnectOptions, CreateOptions, Error};

const NODE: &str = "/pipelined-get-data-bench";

/// Runs `in_flight` loops of `op` for warm-up + `secs`; ops per second in the measured part.
async fn measure<F, Fut>(in_flight: usize, secs: u64, op: F) -> f64
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send,
{
    let op = Arc::new(op);
    let count = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for _ in 0..in_flight {
        let (op, count, stop) = (op.clone(), count.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                assert!(op().await, "getData failed");
                count.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (c0, t0) = (count.load(Ordering::Relaxed), Instant::now());
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let (c1, t1) = (count.load(Ordering::Relaxed), Instant::now());
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    (c1 - c0) as f64 / (t1 - t0).as_secs_f64()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let addr = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "127.0.0.1:2181".into());
    let in_flight: usize = args.get(2).map_or(Ok(16), |s| s.parse())?;
    let secs: u64 = args.get(3).map_or(Ok(5), |s| s.parse())?;

    let (zk, _events) = zk_client::connect(&addr, ConnectOptions::new())?;
    zk.wait_connected(Duration::from_secs(10)).await?;
    match zk
        .create(NODE, &[7u8; 100], &CreateOptions::persistent())
        .await
    {
        Ok(_) | Err(Error::NodeExists) => {}
        Err(e) => return Err(e.into()),
    }

    let ours = {
        let zk = zk.clone();
        measure(in_flight, secs, move || {
            let zk = zk.clone();
            async move { zk.get_data(NODE).await.is_ok() }
        })
        .await
    };
    println!(
        "zk-client         getData, {in_flight} in flight on one connection: {ours:>10.0} ops/s"
    );

    let theirs_client = zookeeper_client::Client::connect(&addr).await?;
    let theirs = measure(in_flight, secs, move || {
        let c = theirs_client.clone();
        async move { c.get_data(NODE).await.is_ok() }
    })
    .await;
    println!(
        "zookeeper-client  getData, {in_flight} in flight on one connection: {theirs:>10.0} ops/s"
    );
    println!("ratio zk-client / zookeeper-client: {:.2}", ours / theirs);
    zk.close().await?;
    Ok(())
}
