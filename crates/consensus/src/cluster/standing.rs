//! How this member stands in Raft right now, in the node layer's terms: its role, who leads,
//! how recently a quorum answered, how far its log and state are. The node reads Raft only
//! through this (serving, expiry, the admin words), so it never depends on openraft's types.

use std::collections::BTreeMap;

use openraft::async_runtime::WatchReceiver;
use openraft::metrics::RaftServerMetrics;
use openraft::type_config::alias::WatchReceiverOf;
use openraft::Instant;
use openraft::RaftMetrics;
use openraft::ServerState;

use crate::types::LogId;
use crate::types::NodeId;
use crate::types::TypeConfig;

/// This member's part in Raft now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RaftRole {
    /// It leads.
    Leader,
    /// It follows a leader (or waits for one) and votes.
    Follower,
    /// It follows without a vote and is not a member yet: a joining server being caught up
    /// (or one removed), serving nothing.
    Learner,
    /// It follows without a vote as an observer (a learner whose record is marked so): it
    /// serves clients like a follower, never counts towards a quorum, never stands.
    Observer,
    /// It stands for election.
    Candidate,
    /// Raft has stopped (shut down, or a fatal error).
    Stopped,
}

/// See the module docs; a snapshot, taken by [`ClusterNode::standing`](crate::ClusterNode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    /// Its role.
    pub role: RaftRole,
    /// The leader it knows of (itself when leading).
    pub leader: Option<NodeId>,
    /// The current term.
    pub term: u64,
    /// The membership: every member's peer address and whether it votes.
    pub members: BTreeMap<NodeId, Member>,
    /// While leading: how long ago a quorum last acknowledged it (openraft counts a lone
    /// voter's own log as that quorum); `None` otherwise or before the first acknowledgement.
    pub quorum_acked_ago_ms: Option<u64>,
    /// The index of the last entry in its log (0: empty).
    pub last_log_index: u64,
    /// The index of the last entry its state machine applied.
    pub applied_index: u64,
    /// The index its latest snapshot covers.
    pub snapshot_index: u64,
    /// The index up to which its log was purged.
    pub purged_index: u64,
    /// While leading: each other member's last index known to be in its log (`None`:
    /// nothing matched yet); empty otherwise.
    pub matched: BTreeMap<NodeId, Option<u64>>,
}

/// One member of the membership.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Its peer address (`host:port`; a lone member's is only a name).
    pub addr: String,
    /// It votes (else it is a learner).
    pub voter: bool,
    /// A learner marked observer (never set on a voter).
    pub observer: bool,
}

impl Standing {
    /// How many members vote (a lone voter is its own quorum).
    pub fn voters(&self) -> usize {
        self.members.values().filter(|m| m.voter).count()
    }

    /// The standing that Raft's metrics show.
    pub(crate) fn from_metrics(m: &RaftMetrics<TypeConfig>) -> Self {
        let role = match (&m.running_state, m.state) {
            (Err(_), _) | (_, ServerState::Shutdown) => RaftRole::Stopped,
            (Ok(()), ServerState::Leader) => RaftRole::Leader,
            (Ok(()), ServerState::Follower) => RaftRole::Follower,
            (Ok(()), ServerState::Learner) => {
                let me = m.membership_config.membership().get_node(&m.id);
                if me.is_some_and(|n| crate::membership::is_observer(&n.addr)) {
                    RaftRole::Observer
                } else {
                    RaftRole::Learner
                }
            }
            (Ok(()), ServerState::Candidate) => RaftRole::Candidate,
        };
        let index = |l: Option<&LogId>| l.map_or(0, |l| l.index);
        let matched = match (&m.replication, role) {
            (Some(r), RaftRole::Leader) => r
                .iter()
                .filter(|(&id, _)| id != m.id)
                .map(|(&id, l)| (id, l.as_ref().map(|l| l.index)))
                .collect(),
            _ => BTreeMap::new(),
        };
        // Measured now, from the time of the acknowledgement; a lone voter is its own quorum
        // and has no acknowledgement time (openraft reports 0 ms for it).
        #[allow(deprecated)]
        let quorum_acked_ago_ms = match &m.last_quorum_acked {
            Some(at) => Some(u64::try_from(at.elapsed().as_millis()).unwrap_or(u64::MAX)),
            None => m.millis_since_quorum_ack,
        };
        let membership = m.membership_config.membership();
        let members = membership
            .nodes()
            .map(|(&id, node)| {
                let voter = membership.voter_ids().any(|v| v == id);
                let addr = node.addr.clone();
                let observer = !voter && crate::membership::is_observer(&addr);
                (
                    id,
                    Member {
                        addr,
                        voter,
                        observer,
                    },
                )
            })
            .collect();
        Standing {
            role,
            leader: m.current_leader,
            term: m.current_term,
            members,
            quorum_acked_ago_ms,
            last_log_index: m.last_log_index.unwrap_or(0),
            applied_index: index(m.last_applied.as_ref()),
            snapshot_index: index(m.snapshot.as_ref()),
            purged_index: index(m.purged.as_ref()),
            matched,
        }
    }
}

/// Follows this member's standing as Raft publishes changes (every applied entry, vote,
/// role or membership change).
pub struct StandingWatch(pub(crate) WatchReceiverOf<TypeConfig, RaftMetrics<TypeConfig>>);

impl StandingWatch {
    /// The standing now, marked seen.
    pub fn current(&mut self) -> Standing {
        Standing::from_metrics(&self.0.borrow_and_update())
    }

    /// Resolves once the standing changed since last seen; false once Raft is gone.
    pub async fn changed(&mut self) -> bool {
        self.0.changed().await.is_ok()
    }
}

/// Follows this member's role, leader, vote and membership (openraft's server metrics), and
/// reads the whole standing when they change: unlike [`StandingWatch`], not woken by every
/// entry, apply and acknowledgement. A task that followed those (the Raft counters') took 4 %
/// of the leader's CPU under creates at 8 clients x 1 in flight (`bench/profile.sh create`).
pub struct RoleChanges {
    pub(crate) changes: WatchReceiverOf<TypeConfig, RaftServerMetrics<TypeConfig>>,
    pub(crate) metrics: WatchReceiverOf<TypeConfig, RaftMetrics<TypeConfig>>,
}

impl RoleChanges {
    /// The standing now, the role marked seen.
    pub fn current(&mut self) -> Standing {
        self.changes.borrow_and_update();
        Standing::from_metrics(&self.metrics.borrow_watched())
    }

    /// Resolves once the role, leader, vote or membership changed since last seen; false
    /// once Raft is gone.
    pub async fn changed(&mut self) -> bool {
        self.changes.changed().await.is_ok()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::collections::BTreeSet;
    use std::sync::Arc;

    use std::time::Duration;

    use openraft::impls::leader_id_adv::LeaderId;
    use openraft::metrics::SerdeInstant;
    use openraft::vote::RaftLeaderId;
    use openraft::BasicNode;
    use openraft::Membership;
    use openraft::StoredMembership;
    use openraft::TokioInstant;

    use super::*;

    #[test]
    fn the_leaders_metrics_become_its_standing() {
        let mut m = RaftMetrics::<TypeConfig>::new_initial(1);
        m.state = ServerState::Leader;
        m.current_leader = Some(1);
        m.current_term = 4;
        m.last_quorum_acked = Some(SerdeInstant::new(
            TokioInstant::now() - Duration::from_millis(12),
        ));
        m.last_log_index = Some(30);
        m.last_applied = Some(LogId::new(LeaderId::new(4, 1), 29));
        let voters = BTreeSet::from([1, 2, 3]);
        let nodes: BTreeMap<NodeId, BasicNode> = voters
            .iter()
            .map(|&id| (id, BasicNode::new(format!("zk{id}:2888"))))
            .collect();
        m.membership_config = Arc::new(StoredMembership::new(
            None,
            Membership::new(vec![voters], nodes).unwrap(),
        ));
        m.replication = Some(BTreeMap::from([
            (1, Some(LogId::new(LeaderId::new(4, 1), 30))),
            (2, Some(LogId::new(LeaderId::new(4, 1), 28))),
            (3, None),
        ]));
        let s = Standing::from_metrics(&m);
        assert_eq!(s.role, RaftRole::Leader);
        assert_eq!((s.leader, s.term, s.voters()), (Some(1), 4, 3));
        assert_eq!(s.members[&2].addr, "zk2:2888");
        let ago = s.quorum_acked_ago_ms.expect("acknowledged");
        assert!((12..10_000).contains(&ago), "{ago} ms");
        assert_eq!((s.last_log_index, s.applied_index), (30, 29));
        assert_eq!(
            s.matched,
            BTreeMap::from([(2, Some(28)), (3, None)]),
            "the others, not itself"
        );
    }

    #[test]
    #[allow(deprecated)]
    fn a_lone_voter_is_its_own_fresh_quorum() {
        let mut m = RaftMetrics::<TypeConfig>::new_initial(1);
        m.state = ServerState::Leader;
        // openraft: a self-quorum leader has no acknowledgement time, and reports 0 ms.
        m.last_quorum_acked = None;
        m.millis_since_quorum_ack = Some(0);
        assert_eq!(Standing::from_metrics(&m).quorum_acked_ago_ms, Some(0));
        m.millis_since_quorum_ack = None;
        assert_eq!(Standing::from_metrics(&m).quorum_acked_ago_ms, None);
    }

    #[test]
    fn a_stopped_raft_stands_nowhere() {
        let mut m = RaftMetrics::<TypeConfig>::new_initial(1);
        m.state = ServerState::Leader;
        m.running_state = Err(openraft::error::Fatal::Stopped);
        assert_eq!(Standing::from_metrics(&m).role, RaftRole::Stopped);
        m.running_state = Ok(());
        m.state = ServerState::Candidate;
        assert_eq!(Standing::from_metrics(&m).role, RaftRole::Candidate);
    }

    /// A learner is an observer only if its own record is marked so.
    #[test]
    fn a_marked_learner_observes() {
        let mut m = RaftMetrics::<TypeConfig>::new_initial(4);
        m.state = ServerState::Learner;
        let nodes: BTreeMap<NodeId, BasicNode> = [
            (1, "zk1:2888"),
            (2, "zk2:2888"),
            (3, "zk3:2888"),
            (4, "zk4:2888:observer"),
            (5, "zk5:2888"),
        ]
        .into_iter()
        .map(|(id, r)| (id, BasicNode::new(r)))
        .collect();
        m.membership_config = Arc::new(StoredMembership::new(
            None,
            Membership::new(vec![BTreeSet::from([1, 2, 3])], nodes).unwrap(),
        ));
        let s = Standing::from_metrics(&m);
        assert_eq!(s.role, RaftRole::Observer);
        assert_eq!(s.voters(), 3);
        assert!(s.members[&4].observer && !s.members[&4].voter);
        assert!(!s.members[&5].observer);
        m.id = 5;
        assert_eq!(Standing::from_metrics(&m).role, RaftRole::Learner);
    }
}
