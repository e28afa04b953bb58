//! One chaos run: set up, run the workload under the fault schedule, repair, read the final
//! state, check.

use std::collections::BTreeMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use thiserror::Error;
use tokio::sync::watch;
use tokio::task::JoinSet;
use zk_client::{Client, CreateOptions};
use zk_history::ephemeral::{self, Bounds};
use zk_history::history::{Call, Params, RegisterHistory};
use zk_history::sequential::FinalChild;
use zk_history::{CheckResult, History, Nanos, Report};

use crate::clock::Clock;
use crate::ensemble::Ensemble;
use crate::faults::{self, Injected, Kind, Members};
use crate::observers::{self, ObserverShare};
use crate::workload::ephemerals::{self, Owners, Settings};
use crate::workload::resumes::{self, Tally};
use crate::workload::{creates, lock, registers, Ctx, Recorder};

/// The client id of the final reads.
const FINAL_CLIENT: u32 = 0xFFFF;

/// A run that could not be carried out (as opposed to one that found a problem).
#[derive(Debug, Error)]
pub enum RunError {
    /// Setting up the run's znodes failed.
    #[error("setup failed: {0}")]
    Setup(String),
    /// A fault kind asked for that this ensemble cannot suffer.
    #[error("{0}")]
    Unsupported(String),
    /// Writing the history file failed.
    #[error("writing the history to {path}: {source}")]
    HistoryFile {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// What a run does.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// Seeds the fault schedule and every client's choices.
    pub seed: u64,
    /// How long faults are injected (the final reads come after).
    pub duration: Duration,
    /// The fault kinds to inject (empty: none).
    pub kinds: Vec<Kind>,
    /// The servers' tick.
    pub tick: Duration,
    /// The workload clients' session timeout (long enough to outlive every fault).
    pub session_timeout: Duration,
    /// The ephemeral owners' session timeout.
    pub ephemeral_timeout: Duration,
    /// Compare-and-set clients.
    pub register_clients: u32,
    /// Registers they share.
    pub registers: usize,
    /// Sequential-create clients.
    pub create_clients: u32,
    /// Parents they create under.
    pub parents: usize,
    /// At most this many ephemeral owners stay alive to the end.
    pub max_alive: usize,
    /// Linearizability search steps allowed per register.
    pub search_budget: u64,
    /// Where to write the whole history as JSON (always, pass or fail).
    pub history_out: Option<PathBuf>,
}

impl RunConfig {
    /// Defaults for a run with `seed` lasting `duration`, every fault kind, tick `tick`.
    pub fn new(seed: u64, duration: Duration, tick: Duration) -> RunConfig {
        RunConfig {
            seed,
            duration,
            kinds: Kind::ALL.to_vec(),
            tick,
            session_timeout: (tick * 40).max(Duration::from_secs(15)),
            ephemeral_timeout: (tick * 2).max(Duration::from_secs(4)),
            register_clients: 6,
            registers: 3,
            create_clients: 3,
            parents: 2,
            max_alive: 4,
            search_budget: 20_000_000,
            history_out: None,
        }
    }

    /// The time allowances of the checks.
    pub fn bounds(&self) -> Bounds {
        let ns = |d: Duration| d.as_nanos() as Nanos;
        Bounds {
            tick: ns(self.tick),
            slack: ns(Duration::from_secs(1)),
            // An election takes well under a second (docs/consensus.md); a restarted member
            // also replays its log. Generous, but far below a timeout's worth of slack.
            recovery: ns(Duration::from_secs(3) + self.tick * 2),
            read_lag: ns(Duration::from_secs(1)),
        }
    }
}

/// What a run found.
pub struct RunOutcome {
    /// Every check's result, the verdict with it.
    pub report: Report,
    /// The record.
    pub history: History,
    /// The faults injected.
    pub injected: Injected,
    /// How resuming live sessions on members the moment they restarted went.
    pub resumes: Tally,
    /// What the clients connected to observers only completed (all zero without observers).
    pub observers: ObserverShare,
}

impl RunOutcome {
    /// Operations recorded (register calls, creates, sessions, observations).
    pub fn ops(&self) -> usize {
        self.history
            .registers
            .iter()
            .map(|r| r.ops.len())
            .sum::<usize>()
            + self.history.creates.len()
            + self.history.sessions.len()
            + self.history.observations.len()
    }
}

async fn fresh_session(servers: &str, timeout: Duration) -> Option<Client> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        match crate::workload::try_session(servers, timeout).await {
            Ok(Some(zk)) => return Some(zk),
            Ok(None) => {}
            Err(_) => return None,
        }
    }
    None
}

/// How long creates go to one set of parents before the next: a getChildren answer must
/// stay under the 1 MB frame limit however long the run (a 600 s run made 70 000 children
/// per parent, too many to read back in one answer).
const PARENT_SLICE: Duration = Duration::from_secs(60);

/// The create parents, one set per [`PARENT_SLICE`] of the run (and one more for the drain).
fn parent_slices(root: &str, cfg: &RunConfig) -> Vec<Vec<String>> {
    let slices = cfg.duration.as_secs() / PARENT_SLICE.as_secs() + 2;
    (0..slices)
        .map(|s| {
            (0..cfg.parents)
                .map(|p| format!("{root}/q{p}-{s}"))
                .collect()
        })
        .collect()
}

async fn setup(zk: &Client, root: &str, cfg: &RunConfig) -> Result<(), String> {
    let persistent = CreateOptions::persistent();
    let mut paths = vec![(root.to_string(), String::new())];
    for i in 0..cfg.registers {
        paths.push((format!("{root}/r{i}"), registers::INITIAL.to_string()));
    }
    for parent in parent_slices(root, cfg).into_iter().flatten() {
        paths.push((parent, String::new()));
    }
    paths.push((format!("{root}/e"), String::new()));
    for (path, data) in paths {
        // An election right after start (an overloaded machine) loses a create or two:
        // retried, a create that did apply the first time shows as NodeExists.
        let mut tries = 0;
        loop {
            match zk.create(&path, data.as_bytes(), &persistent).await {
                Ok(_) | Err(zk_client::Error::NodeExists) => break,
                Err(zk_client::Error::ConnectionLoss) if tries < 20 => {
                    tries += 1;
                    let _ = zk.wait_connected(cfg.session_timeout).await;
                }
                Err(e) => return Err(format!("create {path}: {e}")),
            }
        }
    }
    Ok(())
}

/// Runs the workload on `ensemble` under `cfg`'s faults and checks what was recorded.
pub async fn run(ensemble: Arc<dyn Ensemble>, cfg: &RunConfig) -> Result<RunOutcome, RunError> {
    if let Some(k) = cfg
        .kinds
        .iter()
        .find(|k| Kind::OPTIONAL.contains(k) && ensemble.superuser().is_none())
    {
        return Err(RunError::Unsupported(format!(
            "the {k} fault needs an ensemble the harness starts with reconfig enabled and \
             can wipe and restart as a joining node: the processes backend (zk-chaos \
             processes); the docker backend cannot"
        )));
    }
    let clock = Clock::start();
    let rec = Arc::new(Recorder::new(clock));
    let servers = ensemble.connect_string();
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    let root = format!("/chaos-{}-{stamp}", cfg.seed);
    let zk = fresh_session(&servers, cfg.session_timeout)
        .await
        .ok_or_else(|| RunError::Setup(format!("no session on {servers} within 60 s")))?;
    setup(&zk, &root, cfg).await.map_err(RunError::Setup)?;
    let _ = zk.close().await;

    let (stop_tx, stop) = watch::channel(false);
    let ctx = Ctx {
        rec: rec.clone(),
        servers: servers.clone(),
        root: root.clone(),
        stop: stop.clone(),
        session_timeout: cfg.session_timeout,
        call_timeout: cfg.session_timeout * 2,
    };
    let register_paths: Vec<String> = (0..cfg.registers).map(|i| format!("{root}/r{i}")).collect();
    let slices = parent_slices(&root, cfg);
    let parents: Vec<String> = slices.iter().flatten().cloned().collect();
    let resolve = |i: usize| ensemble.client_addr(i).to_socket_addrs().ok()?.next();
    let members: Vec<SocketAddr> = (0..ensemble.size()).filter_map(resolve).collect();
    let observer_members: Vec<SocketAddr> = (ensemble.voters()..ensemble.size())
        .filter_map(resolve)
        .collect();
    let observer_addrs: Vec<String> = (ensemble.voters()..ensemble.size())
        .map(|i| ensemble.client_addr(i))
        .collect();
    // The `c`th client of its kind, recorded as `id`: pinned to an observer, it connects
    // to that one only; the others connect to every member.
    let ctx_for = |c: u32, id: u32| match observers::pinned(c, &observer_addrs) {
        Some(addr) => ctx.connecting_to(id, addr.clone(), true),
        None => ctx.clone(),
    };
    let owners: Owners = Arc::new(Mutex::new(Vec::new()));

    let mut work = JoinSet::new();
    for c in 0..cfg.register_clients {
        let seed = cfg.seed.wrapping_mul(1_000).wrapping_add(u64::from(c));
        work.spawn(registers::client(
            ctx_for(c, c),
            c,
            register_paths.clone(),
            seed,
        ));
    }
    for c in 0..cfg.create_clients {
        let seed = cfg
            .seed
            .wrapping_mul(1_000)
            .wrapping_add(500 + u64::from(c));
        work.spawn(creates::client(
            ctx_for(c, 100 + c),
            100 + c,
            slices.clone(),
            PARENT_SLICE,
            seed,
        ));
    }
    let settings = Settings {
        parent: format!("{root}/e"),
        timeout: cfg.ephemeral_timeout,
        members,
        observers: observer_members,
        max_alive: cfg.max_alive,
    };
    work.spawn(ephemerals::spawner(
        ctx.clone(),
        settings,
        owners.clone(),
        cfg.seed.wrapping_mul(1_000).wrapping_add(900),
    ));
    work.spawn(ephemerals::observer(ctx.clone(), owners.clone()));
    let (restarted_tx, restarted_rx) = tokio::sync::mpsc::unbounded_channel();
    let resumes: Arc<Mutex<Tally>> = Arc::default();
    work.spawn(resumes::prober(
        ctx.clone(),
        owners.clone(),
        (0..ensemble.size())
            .map(|i| ensemble.client_addr(i))
            .collect(),
        restarted_rx,
        resumes.clone(),
    ));

    let watching = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let observed: Arc<Mutex<Vec<zk_history::FaultWindow>>> = Arc::default();
    let leaders = {
        let (e, w, o) = (ensemble.clone(), watching.clone(), observed.clone());
        tokio::task::spawn_blocking(move || crate::leadership::watch(e, clock, w, o))
    };
    let plan = faults::schedule(
        cfg.seed,
        cfg.duration,
        Members {
            voters: ensemble.voters(),
            observers: ensemble.size() - ensemble.voters(),
        },
        &cfg.kinds,
        cfg.ephemeral_timeout,
    );
    let until = cfg.duration.as_nanos() as Nanos;
    let injected = faults::inject(
        ensemble.clone(),
        plan,
        clock,
        until,
        stop.clone(),
        Some(restarted_tx),
    )
    .await;
    let left = cfg
        .duration
        .saturating_sub(Duration::from_nanos(clock.now()));
    tokio::time::sleep(left).await;

    // Everything is repaired: the ensemble must come back whole.
    let e = ensemble.clone();
    let recovered =
        tokio::task::spawn_blocking(move || e.wait_all_serving(Duration::from_secs(60)))
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r.map_err(|e| e.to_string()));
    let _ = stop_tx.send(true);
    let drain = async { while work.join_next().await.is_some() {} };
    if tokio::time::timeout(cfg.session_timeout * 3, drain)
        .await
        .is_err()
    {
        ctx.anomaly("workload clients did not stop in time".into());
        work.abort_all();
    }

    // The final state, read after a sync so it is the leader's.
    let mut finals: BTreeMap<String, Vec<FinalChild>> = BTreeMap::new();
    let final_ctx = Ctx {
        stop: watch::channel(false).1,
        ..ctx.clone()
    };
    match fresh_session(&servers, cfg.session_timeout).await {
        None => ctx.anomaly("no session for the final reads".into()),
        Some(zk) => {
            for path in &register_paths {
                let op = retried(&zk, cfg.session_timeout, || async {
                    let op =
                        registers::one(&final_ctx, &zk, FINAL_CLIENT, path, Call::Read, true).await;
                    op.complete.map(|_| op)
                })
                .await;
                match op {
                    Some(op) => lock(&rec.registers)
                        .entry(path.clone())
                        .or_default()
                        .push(op),
                    None => ctx.anomaly(format!("final read of {path} failed")),
                }
            }
            for parent in &parents {
                let children = retried(&zk, cfg.session_timeout, || async {
                    read_children(&final_ctx, &zk, parent).await.ok()
                })
                .await;
                match children {
                    Some(children) => {
                        finals.insert(parent.clone(), children);
                    }
                    None => ctx.anomaly(format!("final read of {parent} failed")),
                }
            }
            let _ = zk.close().await;
        }
    }

    // Each ended session's ephemeral must be gone by its deadline: look once they passed.
    // Leader changes nobody injected count like faults (S9.3 restarts the clocks), those
    // seen while waiting included.
    let all_windows = || {
        let mut w = injected.windows.clone();
        w.extend(lock(&observed).iter().cloned());
        w.sort_by_key(|w| w.start);
        w
    };
    let give_up = clock.now() + Duration::from_secs(300).as_nanos() as Nanos;
    loop {
        let windows = all_windows();
        let due = lock(&owners)
            .iter()
            .filter_map(|o| ephemeral::due(&o.record(0), &windows, cfg.bounds()))
            .max()
            .unwrap_or(0);
        let now = clock.now();
        if now >= due || now >= give_up {
            break;
        }
        tokio::time::sleep(Duration::from_nanos(due - now).min(Duration::from_secs(1))).await;
    }
    match fresh_session(&servers, cfg.session_timeout).await {
        None => ctx.anomaly("no session for the final observations".into()),
        Some(zk) => {
            let watched: Vec<(String, i64)> = lock(&owners)
                .iter()
                .map(|o| (o.path.clone(), o.czxid))
                .collect();
            let synced = retried(&zk, cfg.session_timeout, || async {
                final_ctx.call(zk.sync("/")).await.ok()
            })
            .await;
            for (path, czxid) in watched {
                let seen = retried(&zk, cfg.session_timeout, || {
                    ephemerals::observe(&final_ctx, &zk, &path, czxid)
                })
                .await;
                match seen {
                    Some(o) if synced.is_some() => lock(&rec.observations).push(o),
                    _ => ctx.anomaly(format!("final observation of {path} failed")),
                }
            }
            let _ = zk.close().await;
        }
    }
    let alive: Vec<Client> = lock(&owners)
        .iter()
        .filter(|o| o.fate.is_none())
        .filter_map(|o| o.handle.clone())
        .collect();
    let end = clock.now();
    for zk in alive {
        let _ = zk.close().await;
    }
    let sessions = lock(&owners).iter().map(|o| o.record(end)).collect();
    drop(owners);
    watching.store(true, std::sync::atomic::Ordering::SeqCst);
    let _ = leaders.await;
    let windows = all_windows();

    let history = History {
        registers: lock(&rec.registers)
            .iter()
            .map(|(path, ops)| RegisterHistory {
                path: path.clone(),
                initial: (registers::INITIAL, 0),
                ops: ops.clone(),
            })
            .collect(),
        creates: lock(&rec.creates).clone(),
        finals,
        sessions,
        observations: lock(&rec.observations).clone(),
        faults: windows,
    };
    let mut report = history.check(&Params {
        bounds: cfg.bounds(),
        search_budget: cfg.search_budget,
    });
    let mut run_check = CheckResult::new("faults injected, ensemble recovered");
    run_check.checked = injected.windows.len();
    run_check.violations.extend(injected.errors.iter().cloned());
    if let Err(e) = recovered {
        run_check
            .violations
            .push(format!("ensemble did not recover: {e}"));
    }
    let mut answers = CheckResult::new("no unexpected answers");
    answers.checked = report.checks.iter().map(|c| c.checked).sum();
    answers.violations = lock(&rec.anomalies).clone();
    report.checks.insert(0, run_check);
    report.checks.push(answers);

    if let Some(path) = &cfg.history_out {
        let json = serde_json::to_vec(&history).unwrap_or_default();
        std::fs::write(path, json).map_err(|source| RunError::HistoryFile {
            path: path.clone(),
            source,
        })?;
    }
    let resumes = *lock(&resumes);
    let observers = ObserverShare::of(&history, &lock(&rec.via_observers));
    println!(
        "resumes on members as they restarted: {} served, {} refused (the client moves on), \
         {} answered expired, {} failed{}",
        resumes.resumed,
        resumes.refused,
        resumes.expired,
        resumes.failed,
        if resumes.expired_via_observers > 0 {
            format!(
                "; {} answered expired of sessions on observers only (the checker judges them)",
                resumes.expired_via_observers
            )
        } else {
            String::new()
        }
    );
    Ok(RunOutcome {
        report,
        history,
        injected,
        resumes,
        observers,
    })
}

/// Runs a final read until it answers: reads change nothing, so one lost to a ConnectionLoss
/// (an election on an overloaded machine, seen once in 45 seeds) is asked again once the
/// client is connected, up to ten times.
async fn retried<T, F, Fut>(zk: &Client, timeout: Duration, mut read: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    for _ in 0..10 {
        if let Some(v) = read().await {
            return Some(v);
        }
        if zk.wait_connected(timeout).await.is_err() && zk.state().is_closed() {
            return None;
        }
    }
    None
}

async fn read_children(ctx: &Ctx, zk: &Client, parent: &str) -> zk_client::Result<Vec<FinalChild>> {
    ctx.call(zk.sync(parent)).await?;
    let names = ctx.call(zk.get_children(parent)).await?;
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let (data, _) = ctx.call(zk.get_data(&format!("{parent}/{name}"))).await?;
        out.push(FinalChild {
            name,
            data: String::from_utf8_lossy(&data).into_owned(),
        });
    }
    Ok(out)
}
