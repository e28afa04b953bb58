//! The same S-line suite, unchanged, against Apache ZooKeeper 3.8 (Debian's package) as a
//! three-node ensemble started by `common::zookeeper` with zk-anchor.sh's settings. Its client
//! ports are fixed (21811-21813), so every case runs from this one test, one after another,
//! on one ensemble (healed between cases).
//! `ZK_CLIENT_SKIP_ZOOKEEPER=1` skips it with a message; otherwise a missing install fails.
//! `ZK_CLIENT_CASE=name` runs one case only; `ZK_CLIENT_LOGS=1` prints the servers' logs
//! after a failed case.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use common::suite;
use common::zookeeper::{skip, ZooKeeper};
use common::{init_tracing, run_case};

#[test]
fn every_s_line_case_against_apache_zookeeper_3_8() {
    if skip() {
        return;
    }
    init_tracing();
    let only = std::env::var("ZK_CLIENT_CASE").ok();
    let mut zk = ZooKeeper::start3();
    let mut failed = Vec::new();
    for (name, case) in suite::cases() {
        if only.as_deref().is_some_and(|o| o != name) {
            continue;
        }
        let t = Instant::now();
        let r = catch_unwind(AssertUnwindSafe(|| run_case(&mut zk, case)));
        eprintln!(
            "zookeeper: {name} {} in {:.1}s",
            if r.is_ok() { "ok" } else { "FAILED" },
            t.elapsed().as_secs_f64()
        );
        if r.is_err() {
            failed.push(name);
            if std::env::var("ZK_CLIENT_LOGS").is_ok() {
                eprintln!("{}", zk.logs());
            }
        }
        zk.heal();
    }
    assert!(
        failed.is_empty(),
        "failed against Apache ZooKeeper: {failed:?}"
    );
}
