//! The same S-line suite, unchanged, against Apache ZooKeeper 3.8 (Debian's package) as a
//! three-node ensemble started by `common::zookeeper` with zk-anchor.sh's settings. Its client
//! ports are fixed (21811-21813), so every case runs from this one test, one after another,
//! on one ensemble (healed between cases); the two tests here run one at a time
//! (`.config/nextest.toml`).
//! `ZK_CLIENT_SKIP_ZOOKEEPER=1` skips it with a message; otherwise a missing install fails.
//! `ZK_CLIENT_CASE=name` runs one case only; `ZK_CLIENT_LOGS=1` prints the servers' logs
//! after a failed case.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use common::suite::Case;
use common::zookeeper::{skip, start3, start3_with_tick, ZooKeeper};
use common::{init_tracing, run_case};
use common::{judged, suite};

#[test]
fn every_s_line_case_against_apache_zookeeper_3_8() {
    if skip() {
        return;
    }
    init_tracing();
    run_all(&mut start3(), suite::cases());
}

/// The same S9.5-S9.7 cases as `judged_zk_node.rs`, against Apache ZooKeeper 3.8 with a
/// 200 ms tick (as the zk-node ensemble's), so sessions and outages are as short. Each
/// restart of a ZooKeeper member takes a JVM start and a sync, seconds each, so the cases
/// repeat 5 times here unless `ZK_JUDGED_REPS` asks for more (50 each, run by hand, are in
/// docs/request-path.md).
#[test]
fn judged_cases_against_apache_zookeeper_3_8() {
    if skip() {
        return;
    }
    init_tracing();
    judged::set_default_reps(5);
    run_all(&mut start3_with_tick(200), judged::cases());
}

/// Runs every case (or `ZK_CLIENT_CASE` alone) on `zk`, healing it after each; fails
/// naming the cases that failed.
fn run_all(zk: &mut ZooKeeper, cases: Vec<(&'static str, Case)>) {
    let only = std::env::var("ZK_CLIENT_CASE").ok();
    let mut failed = Vec::new();
    for (name, case) in cases {
        if only.as_deref().is_some_and(|o| o != name) {
            continue;
        }
        let t = Instant::now();
        let r = catch_unwind(AssertUnwindSafe(|| run_case(zk, case)));
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
