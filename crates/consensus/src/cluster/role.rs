//! This node's view of who leads, derived from Raft's server metrics (vote, state, leader:
//! they change with the role, not with every entry as the full metrics do) and published
//! only when it changes.

use openraft::async_runtime::WatchReceiver;
use openraft::metrics::RaftServerMetrics;
use openraft::ServerState;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::types::NodeId;
use crate::types::TypeConfig;
use crate::types::ZkRaft;

/// Who leads the ensemble, as this node knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Role {
    /// The leader this node follows (itself when leading); `None` during an election or
    /// while cut off.
    pub leader: Option<NodeId>,
    /// This node is the leader.
    pub is_leader: bool,
    /// The current Raft term.
    pub term: u64,
}

impl Role {
    /// The role shown by a server-metrics snapshot.
    pub fn from_metrics(m: &RaftServerMetrics<TypeConfig>) -> Self {
        Role {
            leader: m.current_leader,
            is_leader: m.state == ServerState::Leader,
            term: m.vote.leader_id().term,
        }
    }
}

/// Publishes the role on a watch channel until Raft stops.
pub(crate) fn spawn_role_watch(raft: &ZkRaft) -> (watch::Receiver<Role>, JoinHandle<()>) {
    let mut metrics = raft.server_metrics();
    let (tx, rx) = watch::channel(Role::from_metrics(&metrics.borrow_watched()));
    let task = tokio::spawn(async move {
        while metrics.changed().await.is_ok() {
            let role = Role::from_metrics(&metrics.borrow_and_update());
            tx.send_if_modified(|old| {
                let changed = *old != role;
                if changed {
                    tracing::info!(leader = ?role.leader, is_leader = role.is_leader, term = role.term, "role changed");
                    *old = role;
                }
                changed
            });
        }
    });
    (rx, task)
}
