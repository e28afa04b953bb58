//! An in-process ensemble on loopback for the cluster tests: free ports, one data dir per
//! node, start/stop/wipe, an apply log per node (from the apply hook), and waits that all
//! have deadlines. Nothing sleeps to synchronise.

#![allow(dead_code)] // each test binary uses a different part of this module

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use tempfile::TempDir;
use tokio::sync::watch;
use zk_consensus::now_ms;
use zk_consensus::start_cluster;
use zk_consensus::ClusterConfig;
use zk_consensus::ClusterError;
use zk_consensus::ClusterNode;
use zk_consensus::Command;
use zk_consensus::CommandOp;
use zk_consensus::NodeId;
use zk_consensus::Origin;
use zk_consensus::Outcome;
use zk_consensus::ProposeError;
use zk_consensus::RaftTiming;
use zk_store::Txn;
use zk_wire::Acl;
use zk_wire::CreateMode;

/// Every wait in these tests gives up after this long.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// Logs to stderr when `RUST_LOG` is set (nextest shows it for failing tests).
pub fn init_tracing() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
}

/// `n` distinct free loopback ports (bound once and released; another process could take
/// one in between, which would fail the start loudly rather than silently).
pub fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind a free port"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("local addr").port())
        .collect()
}

/// One applied entry as the tests compare it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The log index of the entry it came in.
    pub index: u64,
    pub zxid: i64,
    pub origin: Option<Origin>,
    pub outcome: Outcome,
}

/// What a node's apply hook has seen, with a watch of its length to wait on.
#[derive(Clone)]
pub struct ApplyLog {
    entries: Arc<Mutex<Vec<Applied>>>,
    len: watch::Sender<usize>,
}

impl ApplyLog {
    fn new() -> Self {
        ApplyLog {
            entries: Arc::default(),
            len: watch::channel(0).0,
        }
    }

    pub fn snapshot(&self) -> Vec<Applied> {
        self.entries.lock().unwrap().clone()
    }

    /// Waits until some entry satisfies `f`; returns it.
    pub async fn wait_for(&self, what: &str, f: impl Fn(&Applied) -> bool) -> Applied {
        let mut len = self.len.subscribe();
        let found = tokio::time::timeout(DEADLINE, async {
            loop {
                if let Some(a) = self.entries.lock().unwrap().iter().find(|a| f(a)) {
                    return a.clone();
                }
                len.changed().await.expect("apply log alive");
            }
        })
        .await;
        found.unwrap_or_else(|_| panic!("timed out waiting for {what}"))
    }

    /// Waits for the entry proposed with `origin`.
    pub async fn wait_origin(&self, origin: Origin) -> Applied {
        self.wait_for(&format!("origin {origin:?}"), |a| a.origin == Some(origin))
            .await
    }
}

/// A loopback ensemble of `n` nodes (ids 1..=n); nodes start only when asked.
pub struct Ensemble {
    pub peers: BTreeMap<NodeId, String>,
    pub dirs: BTreeMap<NodeId, TempDir>,
    pub nodes: BTreeMap<NodeId, ClusterNode>,
    pub logs: BTreeMap<NodeId, ApplyLog>,
    pub snapshot_every: u64,
    pub keep_log: u64,
    /// Raft's timers for every node started from now on.
    pub timing: RaftTiming,
    seq: u64,
}

impl Ensemble {
    pub fn new(n: u64) -> Self {
        let ports = free_ports(n as usize);
        let peers = (1..=n)
            .zip(ports)
            .map(|(id, p)| (id, format!("127.0.0.1:{p}")))
            .collect();
        Self::with_peers(peers)
    }

    pub fn with_peers(peers: BTreeMap<NodeId, String>) -> Self {
        let dirs = peers
            .keys()
            .map(|&id| (id, tempfile::tempdir().expect("tempdir")))
            .collect();
        Ensemble {
            peers,
            dirs,
            nodes: BTreeMap::new(),
            logs: BTreeMap::new(),
            snapshot_every: 10_000,
            keep_log: 1_000,
            timing: RaftTiming::default(),
            seq: 0,
        }
    }

    pub fn config(&self, id: NodeId) -> ClusterConfig {
        let mut c = ClusterConfig::new(id, self.peers.clone()).expect("config");
        let addr: SocketAddr = self.peers[&id].parse().expect("loopback addr");
        c.listen = addr;
        c.snapshot_every = self.snapshot_every;
        c.keep_log = self.keep_log;
        c.timing = self.timing;
        c.start_timeout = Duration::ZERO;
        c
    }

    /// Starts node `id` on its data dir with `config`, with a fresh apply log (its hook is
    /// installed before Raft starts, so it sees every entry).
    pub async fn try_start_with(
        &mut self,
        id: NodeId,
        mut config: ClusterConfig,
    ) -> Result<(), ClusterError> {
        let log = ApplyLog::new();
        let hook_log = log.clone();
        config.apply_hook = Some(Arc::new(move |ev, _| {
            let mut entries = hook_log.entries.lock().unwrap();
            entries.push(Applied {
                index: ev.log_id.index,
                zxid: ev.zxid,
                origin: ev.origin,
                outcome: ev.outcome.clone(),
            });
            hook_log.len.send_replace(entries.len());
        }));
        let node = start_cluster(self.dirs[&id].path(), config).await?;
        self.nodes.insert(id, node);
        self.logs.insert(id, log);
        Ok(())
    }

    pub async fn start(&mut self, id: NodeId) {
        let config = self.config(id);
        self.try_start_with(id, config)
            .await
            .unwrap_or_else(|e| panic!("start node {id}: {e}"));
    }

    pub async fn start_all(&mut self) {
        let ids: Vec<NodeId> = self.peers.keys().copied().collect();
        for id in ids {
            self.start(id).await;
        }
    }

    /// Stops node `id` (its data dir stays).
    pub async fn stop(&mut self, id: NodeId) {
        let node = self.nodes.remove(&id).expect("node running");
        node.shutdown(DEADLINE)
            .await
            .unwrap_or_else(|e| panic!("stop node {id}: {e}"));
    }

    /// Replaces node `id`'s data dir with an empty one (the node must be stopped).
    pub fn wipe(&mut self, id: NodeId) {
        assert!(!self.nodes.contains_key(&id), "wipe a running node");
        self.dirs.insert(id, tempfile::tempdir().expect("tempdir"));
    }

    pub fn node(&self, id: NodeId) -> &ClusterNode {
        &self.nodes[&id]
    }

    pub fn log(&self, id: NodeId) -> &ApplyLog {
        &self.logs[&id]
    }

    /// Waits until every running node names the same leader, that leader is running and
    /// says it leads, and no other node does; returns it.
    pub async fn wait_leader(&self) -> NodeId {
        let agreed = tokio::time::timeout(DEADLINE, async {
            let mut roles: Vec<_> = self.nodes.values().map(|n| n.role()).collect();
            loop {
                if let Some(l) = self.agreed_leader() {
                    return l;
                }
                let changes = roles.iter_mut().map(|r| Box::pin(r.changed()));
                let _ = futures_select_any(changes).await;
            }
        })
        .await;
        agreed.unwrap_or_else(|_| {
            let roles: Vec<_> = self
                .nodes
                .iter()
                .map(|(id, n)| (*id, *n.role().borrow()))
                .collect();
            panic!("no agreed leader within {DEADLINE:?}: {roles:?}")
        })
    }

    fn agreed_leader(&self) -> Option<NodeId> {
        let roles: Vec<_> = self
            .nodes
            .iter()
            .map(|(id, n)| (*id, *n.role().borrow()))
            .collect();
        let leader = roles.first()?.1.leader?;
        let all_agree = roles.iter().all(|(_, r)| r.leader == Some(leader));
        let leaders: Vec<_> = roles.iter().filter(|(_, r)| r.is_leader).collect();
        (all_agree && leaders.len() == 1 && leaders[0].0 == leader).then_some(leader)
    }

    /// A follower among the running nodes.
    pub async fn a_follower(&self) -> NodeId {
        let leader = self.wait_leader().await;
        *self
            .nodes
            .keys()
            .find(|&&id| id != leader)
            .expect("a running follower")
    }

    pub fn next_origin(&mut self, node: NodeId) -> Origin {
        self.seq += 1;
        Origin {
            node_id: node,
            seq: self.seq,
        }
    }

    /// Proposes `op` at node `at` (retrying through elections until the deadline); returns
    /// the origin it was proposed with.
    pub async fn propose_op(&mut self, at: NodeId, op: CommandOp) -> Origin {
        let origin = self.next_origin(at);
        let node = &self.nodes[&at];
        let cmd = Command {
            time_ms: now_ms(),
            origin: Some(origin),
            op,
        };
        propose_retrying(node, cmd).await;
        origin
    }

    /// Proposes `op` at node `at` until it is applied there; returns what applying did.
    /// A leader change may drop an accepted proposal (its fate is unknown, like a client's
    /// request at a connection loss), so then it is proposed again, as a client would: a
    /// create may come back as NodeExists when the first one made it after all.
    pub async fn commit_op(&mut self, at: NodeId, op: CommandOp) -> Applied {
        loop {
            let mut role = self.nodes[&at].role();
            let term = role.borrow().term;
            let origin = self.propose_op(at, op.clone()).await;
            let log = self.log(at).clone();
            tokio::select! {
                applied = log.wait_origin(origin) => return applied,
                _ = role.wait_for(|r| r.term != term) => {
                    tracing::debug!(?origin, "leader changed before it applied; proposing again");
                }
            }
        }
    }

    /// Creates a session through node `at` and waits for it there; returns its id.
    pub async fn create_session(&mut self, at: NodeId) -> i64 {
        let applied = self
            .commit_op(at, CommandOp::CreateSession { timeout_ms: 30_000 })
            .await;
        match applied.outcome {
            Outcome::SessionCreated { session_id, .. } => session_id.get(),
            other => panic!("create session: {other:?}"),
        }
    }

    /// Waits until every running node has applied at least `zxid`.
    pub async fn wait_all_applied(&self, zxid: i64) {
        for (id, n) in &self.nodes {
            tokio::time::timeout(DEADLINE, n.state.wait_applied(zxid))
                .await
                .unwrap_or_else(|_| {
                    panic!(
                        "node {id} applied {} < {zxid} after {DEADLINE:?}",
                        n.state.applied_zxid()
                    )
                })
                .expect("state machine alive");
        }
    }

    /// Waits until every running node has applied the same zxid (the highest any of them
    /// had), then checks that all hold the same tree (digest), sessions and secret; returns
    /// that zxid. Meant for moments when nothing is being written.
    pub async fn wait_converged(&self) -> i64 {
        self.wait_leader().await;
        let converged = tokio::time::timeout(DEADLINE, async {
            loop {
                let target = self
                    .nodes
                    .values()
                    .map(|n| n.state.applied_zxid())
                    .max()
                    .unwrap_or(0);
                self.wait_all_applied(target).await;
                let views: Vec<_> = self
                    .nodes
                    .iter()
                    .map(|(id, n)| {
                        let st = n.state.read();
                        let view = (
                            st.applied_zxid(),
                            st.tree.digest(),
                            st.sessions.len(),
                            st.secret.clone(),
                        );
                        (*id, view)
                    })
                    .collect();
                // Something was applied meanwhile (a new leader's blank entry): look again.
                if views.iter().any(|(_, v)| v.0 != views[0].1 .0) {
                    continue;
                }
                for (id, v) in &views {
                    assert_eq!(v, &views[0].1, "node {id} differs from node {}", views[0].0);
                }
                return views[0].1 .0;
            }
        })
        .await;
        converged.unwrap_or_else(|_| panic!("nodes did not converge within {DEADLINE:?}"))
    }

    pub async fn shutdown_all(mut self) {
        let ids: Vec<NodeId> = self.nodes.keys().copied().collect();
        for id in ids {
            self.stop(id).await;
        }
    }
}

/// Proposes at `node` until it is accepted, waiting for a role change after each refusal.
pub async fn propose_retrying(node: &ClusterNode, cmd: Command) {
    let mut role = node.role();
    tokio::time::timeout(DEADLINE, async {
        loop {
            match node.propose(cmd.clone()).await {
                Ok(()) => return,
                Err(e) => {
                    tracing::debug!("propose refused, retrying after a role change: {e}");
                    retry_pause(&mut role, &e).await;
                }
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("propose not accepted within {DEADLINE:?}"));
}

/// After a refusal: wait for the role to change, but at most a short while (a link error
/// to a live leader is retried without any change).
async fn retry_pause(role: &mut watch::Receiver<zk_consensus::Role>, _e: &ProposeError) {
    let _ = tokio::time::timeout(Duration::from_millis(20), role.changed()).await;
}

/// A create of `/path` (persistent, data = the path) by `session_id`.
pub fn create(session_id: i64, path: &str) -> CommandOp {
    CommandOp::Write {
        session_id,
        owner: None,
        auth: Vec::new(),
        txn: Txn::Create {
            path: path.to_string(),
            data: Some(path.as_bytes().to_vec()),
            acl: Acl::open_unsafe(),
            mode: CreateMode::Persistent,
            ttl: None,
        },
    }
}

/// Resolves when any of the futures does (a tiny select over a dynamic set).
pub async fn futures_select_any<F: std::future::Future + Unpin>(futs: impl IntoIterator<Item = F>) {
    let mut futs: Vec<F> = futs.into_iter().collect();
    std::future::poll_fn(|cx| {
        for f in &mut futs {
            if std::pin::Pin::new(f).poll(cx).is_ready() {
                return std::task::Poll::Ready(());
            }
        }
        std::task::Poll::Pending
    })
    .await
}
