//! A one-node ensemble: opens the data dir, starts openraft over the sled log and the state
//! machine, initializes a one-voter membership on first start and commits the cluster secret.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use std::time::SystemTime;

use openraft::error::ClientWriteError;
use openraft::error::Fatal;
use openraft::error::InitializeError;
use openraft::error::RaftError;
use openraft::BasicNode;
use openraft::Config;
use openraft::ConfigError;
use openraft::SnapshotPolicy;
use openraft::StorageError;
use zk_session::ClusterSecret;
use zk_session::SECRET_LEN;
use zk_store::TreeConfig;

use crate::cluster_meta::ClusterMeta;
use crate::command::Batch;
use crate::command::Command;
use crate::command::CommandOp;
use crate::command::CommandResponse;
use crate::error::MetaError;
use crate::error::OpenError;
use crate::network::OneNodeNetwork;
use crate::state_machine::ApplyEvents;
use crate::state_machine::SharedState;
use crate::state_machine::ZkStateMachine;
use crate::storage::Released;
use crate::storage::SledStorage;
use crate::types::NodeId;
use crate::types::TypeConfig;
use crate::types::ZkRaft;

/// How to run a one-node ensemble.
#[derive(Debug, Clone)]
pub struct SingleConfig {
    /// This node's id.
    pub node_id: NodeId,
    /// This node's peer address (recorded in the membership; nothing listens on it yet).
    pub addr: String,
    /// Take a snapshot (and purge the log before it) every this many applied entries.
    pub snapshot_every: u64,
    /// Tree options (equal on every replica).
    pub tree_config: TreeConfig,
    /// An operator-supplied cluster secret; a random one is generated when `None`.
    /// Used only if the data dir has none yet (the secret is set once).
    pub secret: Option<ClusterSecret>,
    /// How long to wait for this node to become leader at start.
    pub start_timeout: Duration,
}

impl SingleConfig {
    /// Defaults for node `node_id` at `addr`: snapshot every 10 000 entries, no TTL nodes,
    /// a generated secret, 10 s to start.
    pub fn new(node_id: NodeId, addr: impl Into<String>) -> Self {
        SingleConfig {
            node_id,
            addr: addr.into(),
            snapshot_every: 10_000,
            tree_config: TreeConfig::default(),
            secret: None,
            start_timeout: Duration::from_secs(10),
        }
    }
}

/// Why a one-node ensemble could not start (or stop).
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The data dir cannot be opened.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// The data dir belongs to another node or cluster.
    #[error(transparent)]
    Meta(#[from] MetaError),
    /// Reading the stored state failed.
    #[error("raft storage: {0}")]
    Storage(#[from] Box<StorageError<NodeId>>),
    /// The Raft config is invalid (e.g. `snapshot_every` is 0).
    #[error("raft config: {0}")]
    Config(#[from] ConfigError),
    /// openraft stopped.
    #[error("raft stopped: {0}")]
    Fatal(#[from] Fatal<NodeId>),
    /// The one-voter membership could not be initialized.
    #[error("initialize: {0}")]
    Initialize(#[from] Box<RaftError<NodeId, InitializeError<NodeId, BasicNode>>>),
    /// This node did not become leader (and apply its log) in time.
    #[error("not leader with its log applied within {0:?}: {1}")]
    NoLeader(Duration, String),
    /// Committing the cluster secret failed.
    #[error("committing the cluster secret: {0}")]
    Secret(#[from] Box<RaftError<NodeId, ClientWriteError<NodeId, BasicNode>>>),
    /// The Raft tasks did not end cleanly at shutdown.
    #[error("raft shutdown: {0}")]
    Shutdown(String),
}

/// A running one-node ensemble.
pub struct SingleNode {
    /// The Raft instance: `client_write` proposes commands.
    pub raft: ZkRaft,
    /// Every applied entry's outcome, in log order.
    pub events: ApplyEvents,
    /// The applied state, for local reads.
    pub state: SharedState,
    /// Resolves when the Raft tasks have dropped the data dir's storage.
    released: Released,
}

impl std::fmt::Debug for SingleNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SingleNode")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl SingleNode {
    /// Stops Raft and waits (up to `timeout`) until its tasks have released the data dir, so
    /// it can be opened again at once.
    ///
    /// Why the wait: `Raft::shutdown` joins the core task, but openraft's state-machine
    /// worker (holding the snapshot store) ends only after it notices the core is gone.
    pub async fn shutdown(self, timeout: Duration) -> Result<(), StartError> {
        let joined = self.raft.shutdown().await;
        drop(self.raft);
        drop(self.events);
        tokio::time::timeout(timeout, self.released.wait())
            .await
            .map_err(|_| {
                StartError::Shutdown(format!("data dir still in use after {timeout:?}"))
            })?;
        joined.map_err(|e| StartError::Shutdown(e.to_string()))
    }

    /// Stops publishing [`ApplyEvent`](crate::ApplyEvent)s, for a node layer that uses the
    /// apply hook instead: an unread channel would grow with every entry.
    pub fn discard_events(&mut self) {
        let (_, closed) = tokio::sync::mpsc::unbounded_channel();
        // Dropping the receiver makes every later send fail at once, queueing nothing.
        drop(std::mem::replace(&mut self.events, closed));
    }

    /// Proposes `op` with this node's clock and no origin, as an entry of its own; returns
    /// the entry's answers (one: its zxid and outcome).
    pub async fn write(
        &self,
        op: CommandOp,
    ) -> Result<Vec<CommandResponse>, RaftError<NodeId, ClientWriteError<NodeId, BasicNode>>> {
        let cmd = Command {
            time_ms: now_ms(),
            origin: None,
            op,
        };
        Ok(self.raft.client_write(Batch::from(cmd)).await?.data.0)
    }
}

/// The proposer's wall clock in ms (only ever read when proposing, never at apply).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The Raft config of a one-node ensemble: short timers (no peers to wait for), a snapshot
/// every `snapshot_every` entries, and the log before a snapshot purged at once.
pub fn single_node_config(snapshot_every: u64) -> Result<Config, ConfigError> {
    Config {
        cluster_name: "zk-single".to_string(),
        heartbeat_interval: 50,
        election_timeout_min: 150,
        election_timeout_max: 300,
        snapshot_policy: SnapshotPolicy::LogsSinceLast(snapshot_every),
        max_in_snapshot_log_to_keep: 0,
        purge_batch_size: 1,
        ..Config::default()
    }
    .validate()
}

/// Opens `dir` and runs a one-node ensemble on it; on first start initializes the one-voter
/// membership, and commits the cluster secret if the state has none.
///
/// A restart rebuilds the state from the latest snapshot plus the committed log after it
/// (openraft re-applies that log inside `Raft::new`, so those entries' [`ApplyEvent`]s come
/// first on `events`).
///
/// [`ApplyEvent`]: crate::ApplyEvent
pub async fn start_single(
    dir: impl AsRef<Path>,
    config: SingleConfig,
) -> Result<SingleNode, StartError> {
    let raft_config = Arc::new(single_node_config(config.snapshot_every)?);
    let storage = SledStorage::open(dir)?;
    let peers = BTreeMap::from([(config.node_id, config.addr.clone())]);
    storage.cluster_meta().check_or_init(&ClusterMeta {
        node_id: config.node_id,
        peers,
    })?;
    let log_store = storage.log_store::<TypeConfig>()?;
    let (sm, state, events) =
        ZkStateMachine::open(&storage, config.tree_config).map_err(Box::new)?;
    // The stores hold their own handles; ours must not keep the directory locked.
    let released = storage.released();
    drop(storage);

    let raft = ZkRaft::new(config.node_id, raft_config, OneNodeNetwork, log_store, sm)
        .await
        .map_err(|e| match e {
            Fatal::StorageError(se) => StartError::Storage(Box::new(se)),
            other => StartError::Fatal(other),
        })?;

    if !raft.is_initialized().await? {
        let members = BTreeMap::from([(config.node_id, BasicNode::new(config.addr.clone()))]);
        raft.initialize(members).await.map_err(Box::new)?;
    }
    let node = SingleNode {
        raft,
        events,
        state,
        released,
    };

    if let Err(e) = node
        .raft
        .wait(Some(config.start_timeout))
        .current_leader(config.node_id, "one-node leader")
        .await
    {
        let _ = node.shutdown(config.start_timeout).await;
        return Err(StartError::NoLeader(config.start_timeout, e.to_string()));
    }

    // A one-voter leader commits its whole log; wait until it is applied, so a restart has
    // everything in place before it serves (even entries whose commit was not yet stored).
    let last_log = node.raft.metrics().borrow().last_log_index;
    if let Err(e) = node
        .raft
        .wait(Some(config.start_timeout))
        .applied_index_at_least(last_log, "log applied at start")
        .await
    {
        let _ = node.shutdown(config.start_timeout).await;
        return Err(StartError::NoLeader(config.start_timeout, e.to_string()));
    }

    // Bootstrap: the first leader commits a secret if none was ever applied. Applying a
    // second one is a no-op, so a race with another proposer is harmless.
    let has_secret = node.state.read().secret.is_some();
    if !has_secret {
        let secret = config
            .secret
            .unwrap_or_else(|| ClusterSecret::from_bytes(rand::random::<[u8; SECRET_LEN]>()));
        if let Err(e) = node.write(CommandOp::SetSecret { secret }).await {
            let _ = node.shutdown(config.start_timeout).await;
            return Err(StartError::Secret(Box::new(e)));
        }
    }
    Ok(node)
}
