//! What monitoring reads of Raft's own state (mntr, srvr, conf, the admin API, /metrics),
//! taken in one place: the move to another openraft version re-plumbs this file only.
//!
//! Everything here is a copy taken under openraft's metrics lock, held just for the copy;
//! nothing on a client request's path reads it.

use std::collections::BTreeMap;

use openraft::RaftMetrics;
use openraft::ServerState;
use zk_consensus::ZkRaft;

/// This node's part in Raft.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RaftRole {
    /// It leads.
    Leader,
    /// It follows a leader (or waits for one, without standing for election).
    Follower,
    /// It stands for election.
    Candidate,
    /// A non-voting member.
    Learner,
    /// Raft has stopped (shutting down, or a fatal error).
    Shutdown,
}

/// A copy of Raft's state for monitoring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RaftFacts {
    /// This node's part.
    pub role: RaftRole,
    /// The current term.
    pub term: u64,
    /// The leader this node knows of.
    pub leader_id: Option<u64>,
    /// Index of the last entry in this node's log (0 for none).
    pub last_log_index: u64,
    /// Index of the last entry applied to the state here.
    pub applied_index: u64,
    /// Index known committed: on the leader, the highest index a quorum of voters holds; on
    /// another member the applied index (openraft 0.9 does not publish a follower's commit
    /// index; it applies right after learning it).
    pub commit_index: u64,
    /// Last index covered by this node's snapshot, if it has one.
    pub snapshot_index: Option<u64>,
    /// Entries in this node's log (after the last purged one).
    pub log_entries: u64,
    /// Voting members with their peer addresses.
    pub voters: BTreeMap<u64, String>,
    /// Non-voting members with their peer addresses.
    pub learners: BTreeMap<u64, String>,
    /// On the leader: each other member's highest index known to match the leader's log
    /// (`None`: nothing matched yet). Empty elsewhere.
    pub matched: BTreeMap<u64, Option<u64>>,
    /// On the leader: ms since a quorum last acknowledged it.
    pub millis_since_quorum_ack: Option<u64>,
}

impl RaftFacts {
    /// The facts now.
    pub fn read(raft: &ZkRaft) -> RaftFacts {
        let m = raft.metrics();
        let m = m.borrow();
        RaftFacts::from_metrics(&m)
    }

    fn from_metrics(m: &RaftMetrics<u64, openraft::BasicNode>) -> RaftFacts {
        let role = match (&m.running_state, m.state) {
            (Err(_), _) | (_, ServerState::Shutdown) => RaftRole::Shutdown,
            (_, ServerState::Leader) => RaftRole::Leader,
            (_, ServerState::Follower) => RaftRole::Follower,
            (_, ServerState::Candidate) => RaftRole::Candidate,
            (_, ServerState::Learner) => RaftRole::Learner,
        };
        let membership = m.membership_config.membership();
        let voter_ids: Vec<u64> = membership.voter_ids().collect();
        let mut voters = BTreeMap::new();
        let mut learners = BTreeMap::new();
        for (id, node) in membership.nodes() {
            if voter_ids.contains(id) {
                voters.insert(*id, node.addr.clone());
            } else {
                learners.insert(*id, node.addr.clone());
            }
        }
        let last_log_index = m.last_log_index.unwrap_or(0);
        let applied_index = m.last_applied.map_or(0, |l| l.index);
        let purged = m.purged.map_or(0, |l| l.index);
        let matched: BTreeMap<u64, Option<u64>> = match (&m.replication, role) {
            (Some(r), RaftRole::Leader) => r
                .iter()
                .filter(|(id, _)| **id != m.id)
                .map(|(id, l)| (*id, l.map(|l| l.index)))
                .collect(),
            _ => BTreeMap::new(),
        };
        let commit_index = if role == RaftRole::Leader {
            quorum_index(m.id, last_log_index, &voter_ids, &matched).max(applied_index)
        } else {
            applied_index
        };
        RaftFacts {
            role,
            term: m.current_term,
            leader_id: m.current_leader,
            last_log_index,
            applied_index,
            commit_index,
            snapshot_index: m.snapshot.map(|l| l.index),
            log_entries: last_log_index.saturating_sub(purged),
            voters,
            learners,
            matched,
            millis_since_quorum_ack: m.millis_since_quorum_ack,
        }
    }

    /// Voting members (ZooKeeper's quorum size).
    pub fn quorum_size(&self) -> u64 {
        self.voters.len() as u64
    }

    /// How far each other member is behind the leader's log, in entries (leader only).
    pub fn lag(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.matched.iter().map(|(id, m)| {
            let behind = self.last_log_index.saturating_sub(m.unwrap_or(0));
            (*id, behind)
        })
    }
}

/// The highest index held by a majority of voters: the leader's own last index and the
/// matched index of every other voter, sorted, the majority-th from the top.
fn quorum_index(
    me: u64,
    own_last: u64,
    voters: &[u64],
    matched: &BTreeMap<u64, Option<u64>>,
) -> u64 {
    let mut held: Vec<u64> = voters
        .iter()
        .map(|id| {
            if *id == me {
                own_last
            } else {
                matched.get(id).copied().flatten().unwrap_or(0)
            }
        })
        .collect();
    if held.is_empty() {
        return 0;
    }
    held.sort_unstable_by(|a, b| b.cmp(a));
    held[held.len() / 2]
}

/// Waits for Raft's state to change (the watch the leader-change and election counters
/// follow).
pub struct RaftWatch(tokio::sync::watch::Receiver<RaftMetrics<u64, openraft::BasicNode>>);

impl RaftWatch {
    /// Follows `raft`.
    pub fn new(raft: &ZkRaft) -> RaftWatch {
        RaftWatch(raft.metrics())
    }

    /// The facts now, marking them seen.
    pub fn facts(&mut self) -> RaftFacts {
        RaftFacts::from_metrics(&self.0.borrow_and_update())
    }

    /// Resolves once the facts changed since last seen; false once Raft is gone.
    pub async fn changed(&mut self) -> bool {
        self.0.changed().await.is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quorum_index_is_what_a_majority_holds() {
        let voters = [1, 2, 3];
        let matched = BTreeMap::from([(2, Some(7)), (3, None)]);
        assert_eq!(quorum_index(1, 9, &voters, &matched), 7);
        let matched = BTreeMap::from([(2, Some(7)), (3, Some(9))]);
        assert_eq!(quorum_index(1, 9, &voters, &matched), 9);
        assert_eq!(quorum_index(1, 4, &[1], &BTreeMap::new()), 4);
        let five = [1, 2, 3, 4, 5];
        let matched = BTreeMap::from([(2, Some(1)), (3, Some(2)), (4, Some(3)), (5, None)]);
        assert_eq!(quorum_index(1, 10, &five, &matched), 2);
    }
}
