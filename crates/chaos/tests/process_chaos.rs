//! Process-level chaos: three real zk-node processes under seeded faults while the recorded
//! workload runs, then every check of zk-history. A few seeds in CI; `zk-chaos processes
//! --seed 1 --to-seed 100` for the long run (docs/chaos.md).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use zk_chaos::ensemble::{Processes, ProcessesConfig};
use zk_chaos::faults::{Kind, Members};
use zk_chaos::{run, Ensemble, RunConfig};

/// `target/<profile>` of this test executable.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps")
        .to_path_buf()
}

/// Builds `zk-node` (with `features`) into `target_dir` unless `bin` already exists.
fn build_if_missing(bin: &Path, target_dir: &Path, features: &[&str]) {
    if bin.exists() {
        return;
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "-p", "zk-node", "--bin", "zk-node"]);
    for f in features {
        cmd.args(["--features", f]);
    }
    if profile_dir().ends_with("release") {
        cmd.arg("--release");
    }
    cmd.env("CARGO_TARGET_DIR", target_dir);
    let ok = cmd.status().is_ok_and(|s| s.success());
    assert!(ok && bin.exists(), "could not build {}", bin.display());
}

/// The real zk-node next to this test's target dir.
fn zk_node() -> PathBuf {
    let dir = profile_dir();
    let bin = dir.join("zk-node");
    build_if_missing(&bin, dir.parent().expect("target dir"), &[]);
    bin
}

/// The deliberately broken zk-node (acknowledges appends before flushing): the one
/// `tests/run.sh` prepares at `target/<profile>/zk-node-broken`, else built here into its
/// own target dir (slow once).
fn broken_zk_node() -> PathBuf {
    if let Ok(bin) = std::env::var("ZK_NODE_BROKEN_BIN") {
        return PathBuf::from(bin);
    }
    let prepared = profile_dir().join("zk-node-broken");
    if prepared.exists() {
        return prepared;
    }
    let target = profile_dir()
        .parent()
        .expect("target dir")
        .join("broken-build");
    let profile = profile_dir()
        .file_name()
        .map(|n| n.to_owned())
        .expect("profile name");
    let bin = target.join(profile).join("zk-node");
    build_if_missing(&bin, &target, &["zk-node/unsafe-ack-before-flush"]);
    bin
}

fn chaos(bin: PathBuf, cfg: RunConfig) -> zk_chaos::RunOutcome {
    chaos_on(bin, cfg, 3)
}

fn chaos_on(bin: PathBuf, cfg: RunConfig, size: usize) -> zk_chaos::RunOutcome {
    chaos_with(bin, cfg, Members::voters(size))
}

fn chaos_with(bin: PathBuf, cfg: RunConfig, members: Members) -> zk_chaos::RunOutcome {
    let ensemble = Processes::start(ProcessesConfig {
        bin,
        size: members.voters,
        observers: members.observers,
        tick_ms: cfg.tick.as_millis() as u64,
        dir: None,
    })
    .expect("ensemble up");
    let ensemble: Arc<dyn Ensemble> = Arc::new(ensemble);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let outcome = rt
        .block_on(run(ensemble.clone(), &cfg))
        .expect("run carried out");
    println!(
        "seed {}: {} operations checked, faults: {:#?}\n{}\n{}",
        cfg.seed,
        outcome.ops(),
        outcome.injected.windows,
        outcome.observers,
        outcome.report
    );
    if !outcome.report.passed() {
        for i in 0..ensemble.size() {
            println!("{}", ensemble.describe(i));
        }
    }
    outcome
}

fn seeded(seed: u64) {
    // 45 s: room for one of each kind at its longest (calms of 3 s, a quorum loss held up
    // to 3 s past the owners' 4 s timeout), since every kind comes before any repeats.
    let cfg = RunConfig::new(seed, Duration::from_secs(45), Duration::from_millis(200));
    let outcome = chaos(zk_node(), cfg);
    assert!(
        outcome.injected.windows.len() >= Kind::ALL.len(),
        "every kind of fault injected at least once"
    );
    // S9.6: no member answered a live session "expired" as it started (the checker judges
    // such an answer too; this names it).
    assert_eq!(outcome.resumes.expired, 0, "{:?}", outcome.resumes);
    assert_eq!(outcome.resumes.failed, 0, "{:?}", outcome.resumes);
    assert!(
        outcome.report.passed(),
        "verdict: {}",
        outcome.report.verdict()
    );
}

#[test]
fn chaos_seed_1() {
    seeded(1);
}

#[test]
fn chaos_seed_2() {
    seeded(2);
}

#[test]
fn chaos_seed_3() {
    seeded(3);
}

/// The checker is not a rubber stamp: a build that acknowledges log appends before they are
/// flushed loses acknowledged writes when every member is killed at once, and the run fails
/// on exactly that (lost creates or a register going back), not on anything else.
#[test]
fn a_build_acknowledging_before_flush_is_caught() {
    let mut cfg = RunConfig::new(7, Duration::from_secs(20), Duration::from_millis(200));
    cfg.kinds = vec![Kind::RestartAll];
    let outcome = chaos(broken_zk_node(), cfg);
    let lost: Vec<&str> = outcome
        .report
        .checks
        .iter()
        .filter(|c| !c.violations.is_empty())
        .map(|c| c.name.as_str())
        .collect();
    assert!(
        lost.contains(&"sequential creates") || lost.contains(&"registers linearizable"),
        "the broken build must fail on lost acknowledged writes; failed checks: {lost:?}"
    );
}

/// Membership that changes while the workload runs (issue 20): members removed by
/// `reconfig`, wiped and added back as joining nodes, with kill -9 of the leader as a fault
/// of its own and in the middle of a change. The seed is the first whose schedule has a
/// leader kill planned in each of the two changes; the checker's verdict must pass.
#[test]
fn chaos_with_reconfig() {
    let kinds = [Kind::Reconfig, Kind::KillLeader];
    let duration = Duration::from_secs(50);
    let tick = Duration::from_millis(200);
    let plan_of = |seed: u64| {
        let cfg = RunConfig::new(seed, duration, tick);
        zk_chaos::faults::schedule(seed, duration, 3, &kinds, cfg.ephemeral_timeout)
    };
    let seed = (1..1_000)
        .find(|&s| {
            let plan = plan_of(s);
            let early: Vec<_> = plan.iter().take(4).filter_map(|p| p.mid_kill).collect();
            // Two changes: the removal (even steps) and the re-add (odd ones).
            early.iter().any(|k| k.step % 2 == 0) && early.iter().any(|k| k.step % 2 == 1)
        })
        .expect("a seed with both kinds of mid-change kill");
    let mut cfg = RunConfig::new(seed, duration, tick);
    cfg.kinds = kinds.to_vec();
    let outcome = chaos(zk_node(), cfg);
    let reconfigs: Vec<&str> = outcome
        .injected
        .windows
        .iter()
        .map(|w| w.kind.as_str())
        .filter(|k| k.starts_with("reconfig"))
        .collect();
    assert!(
        reconfigs.len() >= 2,
        "two reconfig faults at least: {reconfigs:?}"
    );
    assert!(
        reconfigs.iter().any(|k| k.contains("killed -9")),
        "a leader killed in the middle of a change: {reconfigs:?}"
    );
    assert!(
        outcome
            .injected
            .windows
            .iter()
            .any(|w| w.kind.contains("(the leader)")),
        "a kill-leader fault of its own"
    );
    assert!(
        outcome.injected.errors.is_empty(),
        "{:?}",
        outcome.injected.errors
    );
    assert!(
        outcome.report.passed(),
        "verdict: {}",
        outcome.report.verdict()
    );
}

/// Five members resized while the workload runs (issue 20's grow, shrink and replace, judged
/// by the checker): shrink 5 → 3, replace one of the three by a member with another id and
/// address, grow back to 3 → 5, with kill -9 of the leader as a fault of its own and, on
/// this seed (the first with it planned in the first resize), in the middle of a change.
/// It caught a change left joint under a leader that stays (docs/chaos.md, "Found by the
/// membership faults"), fixed since.
#[test]
fn chaos_with_resizing_five_members() {
    let kinds = [Kind::Resize, Kind::KillLeader];
    let duration = Duration::from_secs(50);
    let tick = Duration::from_millis(200);
    let seed = (1..1_000)
        .find(|&s| {
            let cfg = RunConfig::new(s, duration, tick);
            let plan = zk_chaos::faults::schedule(s, duration, 5, &kinds, cfg.ephemeral_timeout);
            plan.iter()
                .find(|p| p.kind == Kind::Resize)
                .is_some_and(|p| p.mid_kill.is_some())
        })
        .expect("a seed with a leader kill in its first resize");
    let mut cfg = RunConfig::new(seed, duration, tick);
    cfg.kinds = kinds.to_vec();
    let outcome = chaos_on(zk_node(), cfg, 5);
    let resizes: Vec<&str> = outcome
        .injected
        .windows
        .iter()
        .map(|w| w.kind.as_str())
        .filter(|k| k.starts_with("resize"))
        .collect();
    assert!(!resizes.is_empty(), "a resize at least");
    assert!(
        outcome.injected.errors.is_empty(),
        "{:?} (ReconfigInProgress for 90 s: a change left joint, docs/chaos.md)",
        outcome.injected.errors
    );
    assert!(
        outcome.report.passed(),
        "verdict: {}",
        outcome.report.verdict()
    );
}

/// An observer serving through leader changes (issue 20): three voters and one observer
/// (member 4, `:observer` in the founding `--peers`) under kill -9 of the leader and of a
/// random member for 25 s, a third of the register and create clients and every other
/// ephemeral owner connected to the observer only. The seed is the first (from
/// `ZK_CHAOS_OBSERVER_SEED`, default 1) whose plan kills the leader twice and the observer
/// once among its first four faults. The checker must pass, the observer must have served a
/// real share of what was checked, and the leader must have changed at least twice.
#[test]
fn chaos_with_an_observer() {
    let kinds = [Kind::KillLeader, Kind::Kill];
    let members = Members {
        voters: 3,
        observers: 1,
    };
    let observer = 3;
    let duration = Duration::from_secs(25);
    let tick = Duration::from_millis(200);
    let from: u64 = std::env::var("ZK_CHAOS_OBSERVER_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let seed = (from..from + 1_000)
        .find(|&s| {
            let cfg = RunConfig::new(s, duration, tick);
            let plan =
                zk_chaos::faults::schedule(s, duration, members, &kinds, cfg.ephemeral_timeout);
            let early = &plan[..plan.len().min(4)];
            early.iter().filter(|p| p.kind == Kind::KillLeader).count() >= 2
                && early
                    .iter()
                    .any(|p| p.kind == Kind::Kill && p.member == observer)
        })
        .expect("a seed killing the leader twice and the observer once");
    let mut cfg = RunConfig::new(seed, duration, tick);
    cfg.kinds = kinds.to_vec();
    let outcome = chaos_with(zk_node(), cfg, members);
    let windows = &outcome.injected.windows;
    assert!(
        outcome.injected.errors.is_empty(),
        "{:?}",
        outcome.injected.errors
    );
    let leader_kills = windows
        .iter()
        .filter(|w| w.kind.contains("(the leader)"))
        .count();
    assert!(leader_kills >= 2, "two leader kills at least: {windows:#?}");
    assert!(
        windows
            .iter()
            .any(|w| w.kind == "kill -9 member 4 (an observer)"),
        "the observer killed and restarted: {windows:#?}"
    );
    // Leader changes as the watcher saw them (srvr of the voters), not as planned.
    let changes: Vec<&str> = outcome
        .history
        .faults
        .iter()
        .map(|w| w.kind.as_str())
        .filter(|k| k.starts_with("leader changed"))
        .collect();
    println!("leader changes seen: {changes:?}");
    assert!(
        changes.len() >= 2,
        "two leader changes at least: {changes:?}"
    );
    // What the observer served: its clients' answered calls, acknowledged creates and
    // ephemeral sessions, all in the record the checker judged. A third of the register and
    // create clients and half the owners are its own (22 %, 22 % and 21 of 44 on seed 1);
    // it is down for a while and its clients wait for it then. The floors are low enough
    // for a loaded machine and far above nothing.
    let share = outcome.observers;
    assert!(
        share.register_percent() >= 12.0,
        "the observer served {:.1} % of the register calls: {share}",
        share.register_percent()
    );
    assert!(
        share.creates * 10 >= share.creates_all && share.creates >= 20,
        "{share}"
    );
    assert!(share.reads >= 100, "{share}");
    assert!(share.writes >= 20, "{share}");
    assert!(share.sessions >= 5, "{share}");
    // S9.6 for sessions that could move: no restarted member answered one "expired". A
    // session whose client reaches the observer only is unheard while the observer is down
    // and may rightly have expired by the time a member restarts; each such answer is
    // recorded as an expiry and judged by the checker (`expired_via_observers`).
    assert_eq!(outcome.resumes.expired, 0, "{:?}", outcome.resumes);
    assert_eq!(outcome.resumes.failed, 0, "{:?}", outcome.resumes);
    assert!(
        outcome.report.passed(),
        "verdict: {}",
        outcome.report.verdict()
    );
}
