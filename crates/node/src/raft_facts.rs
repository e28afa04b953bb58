//! What monitoring reads of Raft's own state (mntr, srvr, conf, the admin API, /metrics),
//! taken in one place from the member's [`Standing`] (zk-consensus's view, so node needs no
//! openraft types).
//!
//! Everything here is a copy taken under openraft's metrics lock, held just for the copy;
//! nothing on a client request's path reads it.

use std::collections::BTreeMap;

pub use zk_consensus::RaftRole;
use zk_consensus::RoleChanges;
use zk_consensus::Standing;

use crate::backend::Backend;

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
    pub fn read(backend: &Backend) -> RaftFacts {
        RaftFacts::from_standing(backend.id(), backend.standing())
    }

    fn from_standing(me: u64, s: Standing) -> RaftFacts {
        let mut voters = BTreeMap::new();
        let mut learners = BTreeMap::new();
        for (id, m) in s.members {
            if m.voter {
                voters.insert(id, m.addr);
            } else {
                learners.insert(id, m.addr);
            }
        }
        let voter_ids: Vec<u64> = voters.keys().copied().collect();
        let commit_index = if s.role == RaftRole::Leader {
            quorum_index(me, s.last_log_index, &voter_ids, &s.matched).max(s.applied_index)
        } else {
            s.applied_index
        };
        RaftFacts {
            role: s.role,
            term: s.term,
            leader_id: s.leader,
            last_log_index: s.last_log_index,
            applied_index: s.applied_index,
            commit_index,
            snapshot_index: (s.snapshot_index > 0).then_some(s.snapshot_index),
            log_entries: s.last_log_index.saturating_sub(s.purged_index),
            voters,
            learners,
            matched: s.matched,
            millis_since_quorum_ack: s.quorum_acked_ago_ms,
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

/// Waits for Raft's role, leader, vote or membership to change (the watch the
/// leader-change and election counters follow).
pub struct RaftWatch {
    me: u64,
    watch: RoleChanges,
}

impl RaftWatch {
    /// Follows this node's member.
    pub fn new(backend: &Backend) -> RaftWatch {
        RaftWatch {
            me: backend.id(),
            watch: backend.watch_roles(),
        }
    }

    /// The facts now, marking them seen.
    pub fn facts(&mut self) -> RaftFacts {
        RaftFacts::from_standing(self.me, self.watch.current())
    }

    /// Resolves once the facts changed since last seen; false once Raft is gone.
    pub async fn changed(&mut self) -> bool {
        self.watch.changed().await
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
