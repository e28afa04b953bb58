//! A data dir made from a state, not from a log: what `zk-admin` writes when it imports
//! another system's data (or restores a backup). The state becomes the data dir's snapshot,
//! covering log index 0, where `Raft::initialize` would have put the first membership; the
//! log is empty and purged up to it. A node started on it loads the snapshot, finds itself
//! initialized with `peers` as voters, and elects a leader as after any restart. Every member
//! of an ensemble gets the same seed (only the node id differs), so none needs to send it to
//! the others.

use std::collections::BTreeMap;
use std::path::Path;

use openraft::impls::leader_id_adv::LeaderId;
use openraft::storage::RaftLogStorage;
use openraft::vote::RaftLeaderId;
use openraft::BasicNode;
use openraft::Membership;

use crate::cluster_meta::ClusterMeta;
use crate::error::MetaError;
use crate::error::OpenError;
use crate::snapshot::encode_state;
use crate::snapshot::StateSnapshotError;
use crate::state::State;
use crate::storage::SledStorage;
use crate::types::LogId;
use crate::types::NodeId;
use crate::types::SnapshotMeta;
use crate::types::StoredMembership;
use crate::types::TypeConfig;

/// Why a seeded data dir could not be written.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// The directory already holds something: a seed never writes over a data dir.
    #[error("{0:?} is not empty: a data dir is only seeded into an empty directory")]
    NotEmpty(std::path::PathBuf),
    /// `node_id` is not one of `peers`.
    #[error("node {node_id} is not one of the peers {peers:?}")]
    NotAMember {
        /// The node.
        node_id: NodeId,
        /// The peers.
        peers: BTreeMap<NodeId, String>,
    },
    /// Opening the new data dir failed.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// Recording the cluster meta failed.
    #[error(transparent)]
    Meta(#[from] MetaError),
    /// Encoding the state failed.
    #[error(transparent)]
    Encode(#[from] StateSnapshotError),
    /// Writing the snapshot or the log failed.
    #[error("writing the seeded data dir: {0}")]
    Io(String),
}

/// The log position a seeded state is applied up to: index 0, where the first membership
/// would be.
pub fn seed_log_id() -> LogId {
    LogId::new(LeaderId::new(0, 0), 0)
}

/// Writes into the empty (or missing) directory `dir` a data dir for node `node_id` of the
/// ensemble `peers` (id to peer address; a one-node ensemble as zk-node runs it without
/// --peers is `{id: "standalone"}`) whose state is `state`. Its `last_applied` and
/// `last_membership` are replaced by the seed's; everything else is kept as given.
pub async fn seed_data_dir(
    dir: &Path,
    node_id: NodeId,
    peers: BTreeMap<NodeId, String>,
    mut state: State,
) -> Result<(), SeedError> {
    if !peers.contains_key(&node_id) {
        return Err(SeedError::NotAMember { node_id, peers });
    }
    if std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some()) {
        return Err(SeedError::NotEmpty(dir.to_path_buf()));
    }
    let log_id = seed_log_id();
    let voters: std::collections::BTreeSet<NodeId> = peers.keys().copied().collect();
    let nodes: BTreeMap<NodeId, BasicNode> = peers
        .iter()
        .map(|(id, addr)| (*id, BasicNode::new(addr.clone())))
        .collect();
    let membership = Membership::new(vec![voters], nodes)
        .map_err(|e| SeedError::Io(format!("membership: {e}")))?;
    let stored = StoredMembership::new(Some(log_id), membership);
    state.last_applied = Some(log_id);
    state.last_membership = stored.clone();
    let bytes = encode_state(&state)?;

    let storage = SledStorage::open(dir)?;
    storage
        .cluster_meta()
        .put(&ClusterMeta { node_id, peers })?;
    let meta = SnapshotMeta {
        last_log_id: Some(log_id),
        last_membership: stored,
    };
    storage
        .snapshot_store::<TypeConfig>()
        .save(&meta, bytes)
        .await
        .map_err(|e| SeedError::Io(e.to_string()))?;
    let mut log = storage.log_store::<TypeConfig>()?;
    log.purge(log_id)
        .await
        .map_err(|e| SeedError::Io(e.to_string()))?;
    // Closed before returning: the caller renames the directory, and a node opens it.
    let released = storage.released();
    drop(log);
    drop(storage);
    released.wait().await;
    Ok(())
}
