//! How this node reaches Raft: as a member of its ensemble (one member or several, the same
//! way). A follower forwards to the leader over the ordered stream, touches are reported,
//! `sync` asks the leader's read index; the leader does each for itself.

use std::sync::Arc;
use std::time::Duration;

use zk_consensus::ClusterNode;
use zk_consensus::Command;
use zk_consensus::OnRefused;
use zk_consensus::Standing;

/// See the module docs.
#[derive(Clone, Debug)]
pub struct Backend(Arc<ClusterNode>);

/// Why a proposal did not reach a leader's log (its requester gets ConnectionLoss).
pub type Refused = String;

impl Backend {
    /// The member this node runs.
    pub fn new(member: Arc<ClusterNode>) -> Self {
        Backend(member)
    }

    /// This member's id.
    pub fn id(&self) -> u64 {
        self.0.id()
    }

    /// Follows the standing as it changes.
    pub fn watch_standing(&self) -> zk_consensus::StandingWatch {
        self.0.watch_standing()
    }

    /// Follows role, leader, vote and membership changes only (not every entry).
    pub fn watch_roles(&self) -> zk_consensus::RoleChanges {
        self.0.watch_roles()
    }

    /// The index of the last entry this member's log holds (cheap: for the request path).
    pub fn accepted_index(&self) -> u64 {
        self.0.accepted_index()
    }

    /// True while this member leads (cheap: for the request path).
    pub fn is_leader(&self) -> bool {
        self.0.is_leader()
    }

    /// What the member's storage and network measure (log syncs, snapshots, start-up).
    pub fn consensus_metrics(&self) -> &Arc<zk_consensus::ConsensusMetrics> {
        self.0.metrics()
    }

    /// How this member stands in Raft now.
    pub fn standing(&self) -> Standing {
        self.0.standing()
    }

    /// How long ago this member last heard from its leader (see
    /// [`ClusterNode::leader_heard_ago`]).
    pub async fn leader_heard_ago(&self) -> Option<Duration> {
        self.0.leader_heard_ago().await
    }

    /// The log index this node must have applied to be as far as the ensemble's commit
    /// point now: the leader's read index (its leadership confirmed), asked of the leader by
    /// a follower. Fails while no leader is known or it cannot be reached.
    pub async fn commit_point(&self) -> Result<u64, Refused> {
        self.0.sync_point().await.map_err(|e| e.to_string())
    }

    /// Hands `cmd` to the leader's log, in call order, without waiting for it to get there;
    /// `on_refused` runs if it never does. Success shows in the apply hook.
    pub fn submit(&self, cmd: Command, on_refused: impl FnOnce(Refused) + Send + 'static) {
        let on_refused: OnRefused = Box::new(move |e| on_refused(e.to_string()));
        self.0.submit(cmd, on_refused);
    }

    /// Sends session touches (id, ms ago) to the leader; true if it got them.
    pub async fn report_activity(&self, touches: &[(i64, u32)]) -> bool {
        self.0.report_activity(touches).await
    }
}
