//! How this node reaches Raft: alone (a one-node ensemble, every proposal goes straight into
//! its own log) or as a member of an ensemble (a follower forwards to the leader over the
//! ordered stream, touches are reported, `sync` asks the leader's read index).

use std::sync::Arc;

use zk_consensus::ClusterNode;
use zk_consensus::Command;
use zk_consensus::ZkRaft;

/// See the module docs.
#[derive(Clone)]
pub enum Backend {
    /// A one-node ensemble.
    Single(ZkRaft),
    /// A member of an ensemble.
    Cluster(Arc<ClusterNode>),
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Backend::Single(_) => f.write_str("Backend::Single"),
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
            Backend::Single(r) => r,
            Backend::Cluster(c) => &c.raft,
        }
    }

    /// Hands `cmd` to the leader's log, in call order. `on_refused` runs if it is refused
    /// (now or, for a one-node ensemble, when Raft answers); success shows in the apply hook.
    pub async fn submit(&self, cmd: Command, on_refused: impl FnOnce(Refused) + Send + 'static) {
        match self {
            Backend::Single(raft) => match raft.client_write_ff(cmd).await {
                Ok(responder) => {
                    tokio::spawn(async move {
                        match responder.await {
                            Ok(Ok(_)) => {}
                            Ok(Err(e)) => on_refused(e.to_string()),
                            Err(_) => on_refused("raft stopped".to_string()),
                        }
                    });
                }
                Err(e) => on_refused(e.to_string()),
            },
            Backend::Cluster(c) => {
                if let Err(e) = c.propose(cmd).await {
                    on_refused(e.to_string());
                }
            }
        }
    }
}
