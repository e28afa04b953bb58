//! Sessions that own one ephemeral each and then close, go silent (their client cut off
//! from every server by its own proxies) or stay alive to the end; and an observer that
//! watches each ephemeral until it is gone.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::watch;
use zk_client::{connect, Client, CloseReason, ConnectOptions, CreateOptions, State};
use zk_history::ephemeral::{ConnState, Fate, Observation, SessionRecord, StateChange};
use zk_history::Nanos;

use super::{lock, Ctx};
use crate::clock::Clock;
use crate::proxy::LinkProxy;

/// One owner session, from its ephemeral's creation to the end of the run.
pub struct Owner {
    /// The client (one session).
    pub client: u32,
    /// Its session id.
    pub session_id: i64,
    /// Its negotiated timeout.
    pub timeout: Duration,
    /// Its ephemeral.
    pub path: String,
    /// The zxid that created it: an observer that has seen this zxid reads it reliably.
    pub czxid: i64,
    /// When the create was acknowledged.
    pub created: Nanos,
    /// Its fate once decided (`None`: still alive).
    pub fate: Option<Fate>,
    /// Its handle's state changes.
    pub states: Arc<Mutex<Vec<StateChange>>>,
    /// An owner still alive: its handle, kept until the run ends.
    pub handle: Option<Client>,
    /// An owner still alive: its proxies, one per member.
    pub proxies: Vec<LinkProxy>,
}

impl Owner {
    /// The record for the checker (an owner still alive is recorded alive until `end`).
    pub fn record(&self, end: Nanos) -> SessionRecord {
        SessionRecord {
            client: self.client,
            session_id: self.session_id,
            timeout: self.timeout.as_nanos() as Nanos,
            path: self.path.clone(),
            created: self.created,
            fate: self.fate.unwrap_or(Fate::Alive { until: end }),
            states: lock(&self.states).clone(),
        }
    }
}

/// Every owner of the run, shared by the spawner, the observer and the run's end.
pub type Owners = Arc<Mutex<Vec<Owner>>>;

/// The ephemeral workload's settings.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Where ephemerals go.
    pub parent: String,
    /// The owners' session timeout.
    pub timeout: Duration,
    /// The members' client addresses (each owner gets a proxy to each).
    pub members: Vec<SocketAddr>,
    /// The observers' client addresses: every other owner gets proxies to these only, so
    /// that its session, its ephemeral and its close are an observer's to serve.
    pub observers: Vec<SocketAddr>,
    /// At most this many owners stay alive to the end.
    pub max_alive: usize,
}

/// Starts owners at random intervals until the run stops.
pub async fn spawner(ctx: Ctx, s: Settings, owners: Owners, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut tasks = tokio::task::JoinSet::new();
    let mut n: u32 = 0;
    let mut stop = ctx.stop.clone();
    while !ctx.stopping() {
        n += 1;
        let alive = lock(&owners).iter().filter(|o| o.fate.is_none()).count();
        let stay = alive < s.max_alive && rng.random_bool(0.25);
        let life = Duration::from_millis(rng.random_range(500..3_000));
        let silent = rng.random_bool(0.5);
        tasks.spawn(owner(
            ctx.clone(),
            s.clone(),
            owners.clone(),
            n,
            stay,
            life,
            silent,
        ));
        let pause = Duration::from_millis(rng.random_range(300..900));
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = stop.wait_for(|s| *s) => {}
        }
    }
    while tasks.join_next().await.is_some() {}
}

async fn owner(
    ctx: Ctx,
    s: Settings,
    owners: Owners,
    n: u32,
    stay: bool,
    life: Duration,
    silent: bool,
) {
    let clock = ctx.rec.clock;
    let via_observers = !s.observers.is_empty() && n.is_multiple_of(2);
    let targets = if via_observers {
        &s.observers
    } else {
        &s.members
    };
    let mut proxies = Vec::new();
    for m in targets {
        match LinkProxy::start(*m) {
            Ok(p) => proxies.push(p),
            Err(e) => {
                ctx.anomaly(format!("cannot start an owner's proxy: {e}"));
                return;
            }
        }
    }
    let servers: Vec<String> = proxies.iter().map(|p| p.addr.to_string()).collect();
    let Ok((zk, _events)) = connect(
        &servers.join(","),
        ConnectOptions::new().session_timeout(s.timeout),
    ) else {
        return;
    };
    let states = Arc::new(Mutex::new(Vec::new()));
    tokio::spawn(record_states(clock, zk.state_watch(), states.clone()));
    if zk.wait_connected(s.timeout).await.is_err() {
        let _ = zk.close().await;
        return;
    }
    let path = format!("{}/s{n}", s.parent);
    let Ok((_, stat)) = ctx
        .call(zk.create(&path, b"owned", &CreateOptions::ephemeral()))
        .await
    else {
        // Not known to exist: nothing to check; closing takes it away if it does.
        let _ = zk.close().await;
        return;
    };
    let session = zk.session();
    if via_observers {
        lock(&ctx.rec.via_observers).insert(10_000 + n);
    }
    let index = {
        let mut all = lock(&owners);
        all.push(Owner {
            client: 10_000 + n,
            session_id: session.id,
            timeout: session.timeout,
            path,
            czxid: stat.czxid,
            created: clock.now(),
            fate: None,
            states,
            handle: None,
            proxies: Vec::new(),
        });
        all.len() - 1
    };
    if stay {
        let mut all = lock(&owners);
        all[index].handle = Some(zk);
        all[index].proxies = proxies;
        return;
    }
    let mut stop = ctx.stop.clone();
    tokio::select! {
        _ = tokio::time::sleep(life) => {}
        _ = stop.wait_for(|s| *s) => {}
    }
    let fate = if silent {
        for p in &proxies {
            p.cut();
        }
        let since = clock.now();
        // The handle is closed into the black hole (its CloseSession never arrives), so it
        // stops retrying; only then do the proxies go (dropping them only closes sockets).
        let _ = zk.close().await;
        Fate::Silent { since }
    } else {
        let since = clock.now();
        match ctx.call(zk.close()).await {
            Ok(()) => Fate::Closed { at: clock.now() },
            Err(_) => Fate::Abandoned { since },
        }
    };
    lock(&owners)[index].fate = Some(fate);
    // An ended owner's client and proxies go now: a long run must not pile up sockets.
    drop(zk);
    drop(proxies);
}

async fn record_states(
    clock: Clock,
    mut rx: watch::Receiver<State>,
    out: Arc<Mutex<Vec<StateChange>>>,
) {
    let mut connected_once = false;
    loop {
        let state = *rx.borrow_and_update();
        let mapped = match state {
            State::Connected => {
                connected_once = true;
                Some(ConnState::Connected)
            }
            State::Connecting if connected_once => Some(ConnState::Disconnected),
            State::Connecting => None,
            State::Closed(CloseReason::SessionExpired) => Some(ConnState::Expired),
            State::Closed(_) => Some(ConnState::Closed),
        };
        if let Some(state) = mapped {
            lock(&out).push(StateChange {
                at: clock.now(),
                state,
            });
        }
        if state.is_closed() || rx.changed().await.is_err() {
            return;
        }
    }
}

/// One `exists` of `path` by `zk`, made reliable first: if `zk` has not yet seen the zxid
/// that created it, a sync brings its server up to date.
pub async fn observe(ctx: &Ctx, zk: &Client, path: &str, czxid: i64) -> Option<Observation> {
    if zk.last_zxid() < czxid {
        ctx.call(zk.sync(path)).await.ok()?;
    }
    let invoke = ctx.rec.clock.now();
    let stat = ctx.call(zk.exists(path)).await.ok()?;
    Some(Observation {
        path: path.to_string(),
        invoke,
        complete: ctx.rec.clock.now(),
        present: stat.is_some(),
    })
}

/// Watches every owner's ephemeral (about ten times a second) until it is seen gone.
pub async fn observer(ctx: Ctx, owners: Owners) {
    let Some(mut zk) = ctx.session().await else {
        return;
    };
    let mut gone: std::collections::BTreeSet<String> = Default::default();
    let mut stop = ctx.stop.clone();
    while !ctx.stopping() {
        if zk.state().is_closed() {
            match ctx.session().await {
                Some(z) => zk = z,
                None => break,
            }
        }
        let watched: Vec<(String, i64)> = lock(&owners)
            .iter()
            .filter(|o| !gone.contains(&o.path))
            .map(|o| (o.path.clone(), o.czxid))
            .collect();
        for (path, czxid) in watched {
            if let Some(o) = observe(&ctx, &zk, &path, czxid).await {
                if !o.present {
                    gone.insert(path);
                }
                lock(&ctx.rec.observations).push(o);
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            _ = stop.wait_for(|s| *s) => {}
        }
    }
    let _ = zk.close().await;
}
