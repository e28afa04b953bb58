//! How this node reaches Raft: alone (a one-node ensemble, every proposal goes straight into
//! its own log) or as a member of an ensemble (a follower forwards to the leader over the
//! ordered stream, touches are reported, `sync` asks the leader's read index).

use std::sync::Arc;

use zk_consensus::ClusterNode;
use zk_consensus::Command;
use zk_consensus::OnRefused;
use zk_consensus::Submitter;
use zk_consensus::ZkRaft;

/// See the module docs.
#[derive(Clone)]
pub enum Backend {
    /// A one-node ensemble: its Raft, and the queue into its log.
    Single(ZkRaft, Submitter),
    /// A member of an ensemble.
    Cluster(Arc<ClusterNode>),
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Backend::Single(..) => f.write_str("Backend::Single"),
            Backend::Cluster(c) => write!(f, "Backend::Cluster({c:?})"),
        }
    }
}

/// Why a proposal did not reach a leader's log (its requester gets ConnectionLoss).
pub type Refused = String;

impl Backend {
    /// The Raft handle (metrics, role).
    pub fn raft(&self) -> &ZkRaft {
        match self {
            Backend::Single(r, _) => r,
            Backend::Cluster(c) => &c.raft,
        }
    }

    /// The log index this node must have applied to be as far as the ensemble's commit
    /// point now: the leader's read index (its leadership confirmed), asked of the leader by
    /// a follower. Fails while no leader is known or it cannot be reached.
    pub async fn commit_point(&self) -> Result<u64, Refused> {
        match self {
            Backend::Single(raft, _) => raft
                .get_read_log_id()
                .await
                .map(|(read, _)| read.map_or(0, |l| l.index))
                .map_err(|e| e.to_string()),
            Backend::Cluster(c) => c.sync_point().await.map_err(|e| e.to_string()),
        }
    }

    /// Hands `cmd` to the leader's log, in call order, without waiting for it to get there;
    /// `on_refused` runs if it never does. Success shows in the apply hook.
    pub fn submit(&self, cmd: Command, on_refused: impl FnOnce(Refused) + Send + 'static) {
        let on_refused: OnRefused = Box::new(move |e| on_refused(e.to_string()));
        match self {
            Backend::Single(_, submitter) => submitter.submit(cmd, on_refused),
            Backend::Cluster(c) => c.submit(cmd, on_refused),
        }
    }
}
