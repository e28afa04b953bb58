//! Elections with a pre-vote round (Raft thesis §9.6), driven here instead of by openraft's
//! own timer (which is switched off: `enable_elect = false`).
//!
//! openraft 0.9 has no pre-vote: a node cut off from the others times out, raises its term
//! again and again, and when the link heals its higher term (in an AppendEntries reply)
//! deposes the leader everyone else still follows; every client of that leader is cut off
//! for an election. Here a node stands for election only after a majority (itself included)
//! answered a pre-vote "yes": each voter says yes only if it has not heard from a leader
//! within the leader lease and the candidate's log is at least as new as its own. A node cut
//! off never gets that majority, so it keeps its term and simply follows again on healing.
//!
//! The timing matches openraft's own follower timer: the first attempt comes a random
//! election timeout after the leader lease ran out since the leader was last heard.

use std::time::Duration;

use openraft::LogId;
use openraft::ServerState;
use rand::Rng;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::cluster::RaftTiming;
use crate::grpc::channels::Channels;
use crate::grpc::identity::Identity;
use crate::grpc::pb;
use crate::grpc::wire;
use crate::types::NodeId;
use crate::types::ZkRaft;

/// What a voter knows when asked for a pre-vote.
#[derive(Debug, Clone, Copy)]
pub(crate) struct VoterView {
    /// Time since it last heard from the leader it follows (openraft's vote time); `None`
    /// when it follows none (its vote is not a committed leader's).
    pub(crate) leader_heard_ago: Option<Duration>,
    /// The leader lease: a leader heard this recently is still followed.
    pub(crate) lease: Duration,
    /// It leads and a quorum acknowledged it within the lease.
    pub(crate) leading: bool,
    /// Its current term.
    pub(crate) term: u64,
    /// Its last log entry.
    pub(crate) last_log: Option<LogId<NodeId>>,
}

/// The pre-vote a voter gives a candidate standing in `term` with log up to `last_log`:
/// yes only if the voter follows no live leader and would grant the real vote.
pub(crate) fn grant(voter: &VoterView, term: u64, last_log: Option<&LogId<NodeId>>) -> bool {
    !voter.leading
        && voter.leader_heard_ago.is_none_or(|ago| ago > voter.lease)
        && term > voter.term
        && last_log >= voter.last_log.as_ref()
}

/// How long ago this node last heard from the leader it follows (an accepted AppendEntries
/// or snapshot chunk, by openraft's own vote time); `None` if it follows no leader, or
/// Raft has stopped. On the leader itself: since it became leader.
pub async fn leader_heard_ago(raft: &ZkRaft) -> Option<Duration> {
    raft.with_raft_state(heard_ago).await.ok().flatten()
}

/// [`leader_heard_ago`] inside Raft's core.
fn heard_ago(st: &openraft::RaftState<NodeId, openraft::BasicNode, Instant>) -> Option<Duration> {
    st.vote_ref()
        .committed
        .then(|| st.vote_last_modified())
        .flatten()
        .map(|t| t.elapsed())
}

/// The local Raft's view, for answering a pre-vote; `None` once Raft has stopped.
pub(crate) async fn local_view(raft: &ZkRaft, lease: Duration) -> Option<VoterView> {
    let (state, heard) = raft
        .with_raft_state(|st| (st.server_state, heard_ago(st)))
        .await
        .ok()?;
    let m = raft.metrics().borrow().clone();
    let lease_ms = u64::try_from(lease.as_millis()).unwrap_or(u64::MAX);
    Some(VoterView {
        leader_heard_ago: heard,
        lease,
        leading: state == ServerState::Leader
            && m.millis_since_quorum_ack.is_some_and(|ms| ms <= lease_ms),
        term: m.current_term,
        last_log: raft.data_metrics().borrow().last_log,
    })
}

/// Runs elections for this node until aborted or Raft stops: a pre-vote round once the
/// leader it follows has been silent for the lease plus a random election timeout (or,
/// following none, for a random election timeout since its vote last changed or its last
/// attempt), and a real election (openraft's) only if a majority said yes.
pub(crate) fn spawn_election_driver(
    raft: ZkRaft,
    channels: Channels,
    identity: Identity,
    timing: RaftTiming,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let lease = timing.election_max;
        let mut last_attempt = Instant::now();
        let mut jitter = rand::rng().random_range(timing.election_min..timing.election_max);
        loop {
            let Ok((committed, changed)) = raft
                .with_raft_state(|st| (st.vote_ref().committed, st.vote_last_modified()))
                .await
            else {
                return;
            };
            let quiet_since = changed.unwrap_or(last_attempt).max(last_attempt);
            let due = quiet_since + if committed { lease } else { Duration::ZERO } + jitter;
            let now = Instant::now();
            if now < due {
                tokio::time::sleep_until(due).await;
                // The leader may have been heard meanwhile: look again.
                continue;
            }
            last_attempt = now;
            jitter = rand::rng().random_range(timing.election_min..timing.election_max);
            let m = raft.metrics().borrow().clone();
            let voters: Vec<NodeId> = m.membership_config.membership().voter_ids().collect();
            if m.state == ServerState::Leader || !voters.contains(&identity.id) {
                continue;
            }
            let term = m.current_term + 1;
            let last_log = raft.data_metrics().borrow().last_log;
            let yes =
                1 + pre_vote_round(&channels, &identity, &voters, term, last_log, &timing).await;
            if yes * 2 > voters.len() {
                tracing::info!(term, yes, "pre-vote won: standing for election");
                if let Err(e) = raft.trigger().elect().await {
                    tracing::warn!("cannot start an election: {e}");
                    return;
                }
            } else {
                tracing::debug!(term, yes, "pre-vote lost: not standing");
            }
        }
    })
}

/// Asks every other voter at once; the number of yes answers within the vote timeout.
async fn pre_vote_round(
    channels: &Channels,
    identity: &Identity,
    voters: &[NodeId],
    term: u64,
    last_log: Option<LogId<NodeId>>,
    timing: &RaftTiming,
) -> usize {
    let Ok(last_log_id) = wire::encode(&last_log) else {
        return 0;
    };
    let mut asks = tokio::task::JoinSet::new();
    for &peer in voters.iter().filter(|&&p| p != identity.id) {
        let Some(ch) = channels.get(peer) else {
            continue;
        };
        let mut client = ch.client();
        let mut req = tonic::Request::new(pb::PreVoteRequest {
            caller: Some(identity.caller(peer)),
            term,
            last_log_id: last_log_id.clone(),
        });
        req.set_timeout(timing.election_min);
        let ttl = timing.election_min;
        asks.spawn(async move {
            matches!(
                tokio::time::timeout(ttl, client.pre_vote(req)).await,
                Ok(Ok(r)) if r.get_ref().granted
            )
        });
    }
    let mut yes = 0;
    while let Some(answer) = asks.join_next().await {
        yes += usize::from(answer.unwrap_or(false));
    }
    yes
}

#[cfg(test)]
mod tests {
    use openraft::CommittedLeaderId;

    use super::*;

    const LEASE: Duration = Duration::from_millis(160);

    fn log(term: u64, index: u64) -> LogId<NodeId> {
        LogId::new(CommittedLeaderId::new(term, 1), index)
    }

    fn voter() -> VoterView {
        VoterView {
            leader_heard_ago: Some(Duration::from_millis(500)),
            lease: LEASE,
            leading: false,
            term: 3,
            last_log: Some(log(3, 10)),
        }
    }

    #[test]
    fn a_voter_without_a_leader_grants_an_up_to_date_candidate() {
        assert!(grant(&voter(), 4, Some(&log(3, 10))));
        assert!(grant(&voter(), 4, Some(&log(3, 11))));
        assert!(grant(&voter(), 9, Some(&log(4, 1))));
    }

    /// §9.6: a voter that heard from a leader within the lease keeps following it, so a
    /// node coming back from a partition cannot depose it.
    #[test]
    fn a_voter_that_follows_a_live_leader_refuses() {
        let mut v = voter();
        v.leader_heard_ago = Some(Duration::from_millis(20));
        assert!(!grant(&v, 4, Some(&log(3, 10))));
        v.leader_heard_ago = Some(LEASE);
        assert!(!grant(&v, 4, Some(&log(3, 10))), "the lease is inclusive");
    }

    #[test]
    fn a_leader_with_a_quorum_refuses() {
        let mut v = voter();
        v.leading = true;
        assert!(!grant(&v, 4, Some(&log(3, 10))));
    }

    /// The real vote would fail: a candidate whose log is behind, or whose next term is
    /// not above the voter's.
    #[test]
    fn a_candidate_that_could_not_win_is_refused() {
        assert!(!grant(&voter(), 4, Some(&log(3, 9))));
        assert!(!grant(&voter(), 4, Some(&log(2, 50))));
        assert!(!grant(&voter(), 4, None));
        assert!(!grant(&voter(), 3, Some(&log(3, 10))));
    }

    /// A voter that follows no leader (a candidate, or one that voted for one) grants.
    #[test]
    fn a_voter_following_no_leader_grants() {
        let mut v = voter();
        v.leader_heard_ago = None;
        assert!(grant(&v, 4, Some(&log(3, 10))));
    }

    #[test]
    fn an_empty_voter_grants_any_candidate_with_a_newer_term() {
        let mut v = voter();
        v.last_log = None;
        v.term = 0;
        assert!(grant(&v, 1, None));
    }
}
