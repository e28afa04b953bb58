//! Elections with a pre-vote round (Raft thesis §9.6), driven here instead of by openraft's
//! own timer (which is switched off: `enable_elect = false`).
//!
//! openraft 0.9 had no pre-vote (0.10's own, `enable_pre_vote`, is not used yet: this one
//! stays until the two are compared under the partition and chaos tests). Without one, a
//! node cut off from the others times out, raises its term
//! again and again, and when the link heals its higher term (in an AppendEntries reply)
//! deposes the leader everyone else still follows; every client of that leader is cut off
//! for an election. Here a node stands for election only after a majority (itself included)
//! answered a pre-vote "yes": each voter says yes only if it has not heard from a leader
//! within the leader lease and the candidate's log is at least as new as its own. A node cut
//! off never gets that majority, so it keeps its term and simply follows again on healing.
//!
//! The timing matches openraft's own follower timer: the first attempt comes a random
//! election timeout after the leader lease ran out since the leader was last heard. When the
//! follower's line to its leader broke (`leader_link`: the leader's process is gone), the
//! random part is skipped: it stands as soon as the lease has run out.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use crate::types::LogId;
use openraft::async_runtime::WatchReceiver;
use openraft::ServerState;
use rand::Rng;
use tokio::sync::watch;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::cluster::leader_link::LinkLoss;
use crate::cluster::RaftTiming;
use crate::grpc::channels::Channels;
use crate::grpc::identity::Identity;
use crate::grpc::pb;
use crate::grpc::wire;
use crate::types::NodeId;
use crate::types::TypeConfig;
use crate::types::ZkRaft;

/// What a voter knows when asked for a pre-vote.
#[derive(Debug, Clone, Copy)]
pub(crate) struct VoterView {
    /// Time since it last heard from the leader it follows (openraft's vote time); `None`
    /// when it follows none (its vote is not a committed leader's).
    pub(crate) leader_heard_ago: Option<Duration>,
    /// The leader lease: a leader heard this recently is still followed.
    pub(crate) lease: Duration,
    /// It leads (openraft's server state is Leader).
    pub(crate) leading: bool,
    /// Its current term.
    pub(crate) term: u64,
    /// Its last log entry.
    pub(crate) last_log: Option<LogId>,
}

/// How a voter answers a pre-vote: yes only if the voter neither leads nor follows a live
/// leader, and would grant the real vote; the two kinds of no that are not plain told apart.
///
/// A leader refuses even when no quorum acknowledged it lately: its yes is never what a
/// majority needs (followers that lost it grant each other), but it was what deposed it when
/// one follower fell behind under load (a stalled flush: its answers and the leader's quorum
/// acks late) while the other still heard the leader: the straggler's pre-vote got the
/// leader's own yes, and every client connection closed for an election nobody needed
/// (`bench/compare.sh`'s mixed load).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer {
    Yes,
    No,
    /// Everything says yes but the lease of the leader it follows, which runs out within
    /// [`HOLD`]: ask the voter again after this long. The followers of a dead leader heard
    /// its last heartbeat within a moment of each other, so a candidate that stands the
    /// moment its own lease ran out is held this moment instead of refused and retried
    /// [`FAST_RETRY`] later (which a margin on the candidate's side used to avoid, at
    /// the cost of every failover).
    After(Duration),
    /// No, the candidate's log is behind this voter's, and nothing else holds this voter
    /// back (it follows no live leader): it is the better candidate and should stand now,
    /// not its stagger later (the first follower of a dead leader to stand is the one with
    /// the highest id, whichever got the last entries).
    NoStandInstead,
}

/// The longest a pre-vote answer waits for the voter's own lease to run out.
pub(crate) const HOLD: Duration = Duration::from_millis(25);

/// The answer to a candidate standing in `term` with log up to `last_log` (see [`Answer`]).
pub(crate) fn answer(voter: &VoterView, term: u64, last_log: Option<&LogId>) -> Answer {
    if voter.leading {
        return Answer::No;
    }
    let up_to_date = last_log >= voter.last_log.as_ref();
    match voter.leader_heard_ago {
        Some(ago) if ago <= voter.lease => {
            // Just past the lease's end, openraft's own vote rule (lease over at
            // `heard + lease`, exclusive) agrees too.
            let wait = voter.lease - ago + Duration::from_millis(1);
            if wait <= HOLD && term > voter.term && up_to_date {
                Answer::After(wait)
            } else {
                Answer::No
            }
        }
        // Only a voter whose leader went quiet: one that follows none is in an election
        // already, may have voted, and standing would raise the term under that vote.
        Some(_) if !up_to_date => Answer::NoStandInstead,
        _ if term > voter.term && up_to_date => Answer::Yes,
        _ => Answer::No,
    }
}

/// How long ago this node last heard from the leader it follows (an accepted AppendEntries
/// or snapshot chunk, by openraft's own vote time); `None` if it follows no leader, or
/// Raft has stopped. On the leader itself: since it became leader.
pub(crate) async fn leader_heard_ago(raft: &ZkRaft) -> Option<Duration> {
    raft.with_raft_state(heard_ago).await.ok().flatten()
}

/// [`leader_heard_ago`] inside Raft's core.
fn heard_ago(st: &openraft::RaftState<TypeConfig>) -> Option<Duration> {
    st.vote_ref()
        .committed
        .then(|| st.vote_last_modified())
        .flatten()
        .map(|t| openraft::Instant::elapsed(&t))
}

/// The local Raft's view, for answering a pre-vote; `None` once Raft has stopped.
pub(crate) async fn local_view(raft: &ZkRaft, lease: Duration) -> Option<VoterView> {
    let (state, heard) = raft
        .with_raft_state(|st| (st.server_state, heard_ago(st)))
        .await
        .ok()?;
    let term = raft.metrics().borrow_watched().current_term;
    Some(VoterView {
        leader_heard_ago: heard,
        lease,
        leading: state == ServerState::Leader,
        term,
        last_log: raft.data_metrics().borrow_watched().last_log,
    })
}

/// True if `granted` (the candidate and the voters that said yes) holds a majority of every
/// configuration in `configs`: one for a uniform membership, the old and the new voters for
/// a joint one, as openraft elects. Counted over all voters together instead, the old
/// configuration's majority wins pre-votes for elections it cannot win: found by zk-chaos's
/// `reconfig` fault (remove 2 of 1, 2, 3; the leader 3 killed just after it wrote the joint
/// entry and one more): 1 and 2 stood again and again without 3's vote, which the new
/// configuration {1, 3} needs, and raised their terms past the one 3 came back with; 3,
/// whose log was the longest, was then refused every pre-vote for its lower term, and the
/// ensemble had no leader for good.
pub(crate) fn quorum_in_each(configs: &[BTreeSet<NodeId>], granted: &BTreeSet<NodeId>) -> bool {
    configs
        .iter()
        .all(|c| c.iter().filter(|v| granted.contains(v)).count() * 2 > c.len())
}

/// After the leader lease ran out, how long a follower whose line to the leader broke waits
/// before standing. The other voters heard the leader's last heartbeat at about the same
/// moment; one whose lease has not quite run out holds its answer ([`Answer::After`]), so
/// this is only the millisecond openraft's lease is inclusive of. (It was 5 ms, to keep
/// clear of a refusal and its retry, before answers were held.)
const FAST_MARGIN: Duration = Duration::from_millis(1);
/// Added per voter ahead of this one in the standing order (higher ids first: openraft
/// ranks equal-term candidates by node id, so the higher one would win a tie anyway), so
/// the followers of a dead leader do not all campaign at the same instant.
const FAST_STAGGER: Duration = Duration::from_millis(10);
/// Between fast attempts while the line stays broken (a refused pre-vote is retried soon,
/// not an election timeout later).
const FAST_RETRY: Duration = Duration::from_millis(15);

/// What the election driver knows when it plans its next pre-vote round.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan {
    /// The vote is a committed leader's (this node follows a leader).
    pub(crate) committed: bool,
    /// When the vote last changed or the leader was last heard (openraft's vote time).
    pub(crate) heard: Option<Instant>,
    /// When this node last asked for pre-votes (or the driver started).
    pub(crate) last_attempt: Instant,
    /// This round's random election timeout.
    pub(crate) jitter: Duration,
    /// The line to the leader it follows is down ([`super::leader_link`]): its process is
    /// very likely gone.
    pub(crate) link_lost: bool,
    /// Voters that stand before this one when the line is down.
    pub(crate) ahead: u32,
}

impl Plan {
    /// When to ask: following a leader, once it has been silent for the lease plus the
    /// random election timeout, or, if its line broke, for the lease plus a small margin and
    /// stagger (then again every [`FAST_RETRY`]); following none, a random election timeout
    /// after the vote changed or the last attempt.
    pub(crate) fn due(&self, lease: Duration) -> Instant {
        let heard = self.heard.unwrap_or(self.last_attempt);
        if self.committed && self.link_lost {
            let first = heard + lease + FAST_MARGIN + FAST_STAGGER * self.ahead;
            return first.max(self.last_attempt + FAST_RETRY);
        }
        let quiet_since = heard.max(self.last_attempt);
        quiet_since
            + if self.committed {
                lease
            } else {
                Duration::ZERO
            }
            + self.jitter
    }
}

/// Runs elections for this node until aborted or Raft stops: a pre-vote round when
/// [`Plan::due`] says so, and a real election (openraft's) only if a majority said yes.
/// `link` tells which leader's line is down.
pub(crate) fn spawn_election_driver(
    raft: ZkRaft,
    channels: Channels,
    identity: Identity,
    timing: RaftTiming,
    mut link: watch::Receiver<Option<LinkLoss>>,
    stand_now: Arc<Notify>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let lease = timing.election_max;
        let mut last_attempt = Instant::now();
        let mut jitter = rand::rng().random_range(timing.election_min..timing.election_max);
        let mut link_open = true;
        // A voter refused a candidate whose log is behind this node's ([`Answer::NoStandInstead`]).
        let mut prompted = false;
        loop {
            let Ok((committed, heard, leader_id)) = raft
                .with_raft_state(|st| {
                    let v = st.vote_ref();
                    // openraft's clock, read as ours: how long ago, taken from now.
                    let heard = st
                        .vote_last_modified()
                        .map(|t| Instant::now() - openraft::Instant::elapsed(&t));
                    (v.committed, heard, *v.leader_id())
                })
                .await
            else {
                return;
            };
            let loss = *link.borrow_and_update();
            let link_lost =
                loss.is_some_and(|l| leader_id.node_id == l.leader && leader_id.term == l.term);
            let (configs, voters): (Vec<BTreeSet<NodeId>>, Vec<NodeId>) = {
                let m = raft.metrics();
                let m = m.borrow_watched();
                let membership = m.membership_config.membership();
                (
                    membership.get_joint_config().clone(),
                    membership.voter_ids().collect(),
                )
            };
            let ahead = voters
                .iter()
                .filter(|&&v| v > identity.id && v != leader_id.node_id)
                .count();
            let plan = Plan {
                committed,
                heard,
                last_attempt,
                jitter,
                link_lost,
                ahead: u32::try_from(ahead).unwrap_or(u32::MAX),
            };
            let due = if std::mem::take(&mut prompted) {
                Instant::now()
            } else {
                plan.due(lease)
            };
            if Instant::now() < due {
                // The leader may be heard, or its line may break, meanwhile: look again.
                tokio::select! {
                    _ = tokio::time::sleep_until(due) => {}
                    changed = link.changed(), if link_open => link_open = changed.is_ok(),
                    _ = stand_now.notified() => prompted = true,
                }
                continue;
            }
            last_attempt = Instant::now();
            jitter = rand::rng().random_range(timing.election_min..timing.election_max);
            let m = raft.metrics().borrow_watched().clone();
            if m.state == ServerState::Leader || !voters.contains(&identity.id) {
                continue;
            }
            let term = m.current_term + 1;
            let last_log = raft.data_metrics().borrow_watched().last_log;
            let Ok(vote_before) = raft.with_raft_state(|st| *st.vote_ref()).await else {
                return;
            };
            let mut granted =
                pre_vote_round(&channels, &identity, &voters, term, last_log, &timing).await;
            granted.insert(identity.id);
            let yes = granted.len();
            if quorum_in_each(&configs, &granted) {
                // The round waits up to the vote timeout for a voter that does not answer;
                // another member may have won an election meanwhile (found by the
                // partition test: a follower's round, granted by a member just before that
                // member stood itself, ended after it had become leader, and standing then
                // deposed it). Stand only if this node's vote is still what it was when the
                // round began.
                let now = raft.with_raft_state(|st| *st.vote_ref()).await.ok();
                if now.as_ref() != Some(&vote_before) {
                    tracing::info!(
                        term,
                        yes,
                        "pre-vote won, but a leader was elected meanwhile: not standing"
                    );
                    continue;
                }
                tracing::info!(term, yes, link_lost, "pre-vote won: standing for election");
                if let Err(e) = raft.trigger().elect(false).await {
                    tracing::warn!("cannot start an election: {e}");
                    return;
                }
            } else {
                tracing::debug!(term, yes, link_lost, "pre-vote lost: not standing");
            }
        }
    })
}

/// Asks every other voter at once; the voters that said yes within the vote timeout.
async fn pre_vote_round(
    channels: &Channels,
    identity: &Identity,
    voters: &[NodeId],
    term: u64,
    last_log: Option<LogId>,
    timing: &RaftTiming,
) -> BTreeSet<NodeId> {
    let Ok(last_log_id) = wire::encode(&last_log) else {
        return BTreeSet::new();
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
            let yes = matches!(
                tokio::time::timeout(ttl, client.pre_vote(req)).await,
                Ok(Ok(r)) if r.get_ref().granted
            );
            yes.then_some(peer)
        });
    }
    let mut granted = BTreeSet::new();
    while let Some(answer) = asks.join_next().await {
        granted.extend(answer.ok().flatten());
    }
    granted
}

#[cfg(test)]
mod tests {
    use openraft::impls::leader_id_adv::LeaderId;
    use openraft::vote::RaftLeaderId;

    use super::*;

    const LEASE: Duration = Duration::from_millis(160);

    fn log(term: u64, index: u64) -> LogId {
        LogId::new(LeaderId::new(term, 1), index)
    }

    fn grant(voter: &VoterView, term: u64, last_log: Option<&LogId>) -> bool {
        answer(voter, term, last_log) == Answer::Yes
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

    /// A uniform membership needs a majority of its voters; a joint one a majority of the
    /// old and of the new voters each (1 and 2 alone cannot elect while {1, 3} is joint).
    #[test]
    fn a_joint_membership_needs_a_majority_of_each_configuration() {
        let set = |ids: &[NodeId]| ids.iter().copied().collect::<BTreeSet<NodeId>>();
        let uniform = [set(&[1, 2, 3])];
        assert!(quorum_in_each(&uniform, &set(&[1, 2])));
        assert!(!quorum_in_each(&uniform, &set(&[1])));
        let joint = [set(&[1, 2, 3]), set(&[1, 3])];
        assert!(!quorum_in_each(&joint, &set(&[1, 2])), "{{1, 3}} needs 3");
        assert!(quorum_in_each(&joint, &set(&[1, 3])));
        assert!(quorum_in_each(&joint, &set(&[3, 2, 1])));
        let grow = [set(&[1, 2, 3]), set(&[1, 2, 3, 4, 5])];
        assert!(!quorum_in_each(&grow, &set(&[1, 2])), "two of five");
        assert!(quorum_in_each(&grow, &set(&[1, 2, 4])));
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

    /// The followers of a dead leader heard its last heartbeat a moment apart: a voter
    /// whose lease runs out within `HOLD` answers once it has (1 ms past its end, where
    /// openraft's real vote agrees), not no; a lease further from its end is a no, and so
    /// is a hold for a candidate the voter would refuse anyway.
    #[test]
    fn a_lease_about_to_run_out_holds_the_answer() {
        let mut v = voter();
        v.leader_heard_ago = Some(LEASE - Duration::from_millis(3));
        assert_eq!(
            answer(&v, 4, Some(&log(3, 10))),
            Answer::After(Duration::from_millis(4))
        );
        v.leader_heard_ago = Some(LEASE);
        assert_eq!(
            answer(&v, 4, Some(&log(3, 10))),
            Answer::After(Duration::from_millis(1))
        );
        v.leader_heard_ago = Some(LEASE + Duration::from_millis(1) - HOLD);
        assert_eq!(answer(&v, 4, Some(&log(3, 10))), Answer::After(HOLD));
        v.leader_heard_ago = Some(LEASE - HOLD);
        assert_eq!(answer(&v, 4, Some(&log(3, 10))), Answer::No, "beyond HOLD");
        v.leader_heard_ago = Some(LEASE - Duration::from_millis(3));
        assert_eq!(answer(&v, 4, Some(&log(3, 9))), Answer::No, "log behind");
        assert_eq!(
            answer(&v, 3, Some(&log(3, 10))),
            Answer::No,
            "term not above"
        );
    }

    /// A voter whose leader went quiet and whose log is ahead of the candidate's is the
    /// one to elect: it says so (and stands, see `grpc::server`) whatever the term; one
    /// that follows no leader (an election is on, it may have voted) only refuses, and a
    /// leader refuses plainly.
    #[test]
    fn a_voter_ahead_of_the_candidate_stands_instead() {
        assert_eq!(
            answer(&voter(), 4, Some(&log(3, 9))),
            Answer::NoStandInstead
        );
        assert_eq!(
            answer(&voter(), 2, Some(&log(3, 9))),
            Answer::NoStandInstead
        );
        assert_eq!(answer(&voter(), 4, None), Answer::NoStandInstead);
        let mut v = voter();
        v.leader_heard_ago = None;
        assert_eq!(answer(&v, 4, Some(&log(3, 9))), Answer::No);
        let mut v = voter();
        v.leading = true;
        assert_eq!(answer(&v, 4, Some(&log(3, 9))), Answer::No);
        assert_eq!(
            answer(&voter(), 4, Some(&log(3, 10))),
            Answer::Yes,
            "even: yes"
        );
    }

    #[test]
    fn a_leader_refuses() {
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

    fn plan(t0: Instant) -> Plan {
        Plan {
            committed: true,
            heard: Some(t0),
            last_attempt: t0 - Duration::from_secs(5),
            jitter: Duration::from_millis(130),
            link_lost: false,
            ahead: 0,
        }
    }

    /// openraft's follower timer: the lease, then the random election timeout.
    #[test]
    fn a_follower_stands_after_the_lease_and_its_random_timeout() {
        let t0 = Instant::now();
        assert_eq!(plan(t0).due(LEASE), t0 + LEASE + Duration::from_millis(130));
    }

    /// The leader's line broke: the random part goes, the lease stays (the other voters
    /// would refuse before it ran out), plus a margin and the stagger of the voters ahead.
    #[test]
    fn a_follower_whose_line_broke_stands_when_the_lease_runs_out() {
        let t0 = Instant::now();
        let mut p = plan(t0);
        p.link_lost = true;
        assert_eq!(p.due(LEASE), t0 + LEASE + FAST_MARGIN);
        p.ahead = 2;
        assert_eq!(p.due(LEASE), t0 + LEASE + FAST_MARGIN + FAST_STAGGER * 2);
    }

    /// A refused fast attempt is retried after `FAST_RETRY`, not an election timeout later.
    #[test]
    fn a_refused_fast_attempt_is_retried_soon() {
        let t0 = Instant::now();
        let mut p = plan(t0);
        p.link_lost = true;
        p.last_attempt = t0 + LEASE + FAST_MARGIN;
        assert_eq!(p.due(LEASE), p.last_attempt + FAST_RETRY);
        p.link_lost = false;
        assert_eq!(
            p.due(LEASE),
            p.last_attempt + LEASE + Duration::from_millis(130),
            "with the line back, the slow timer again"
        );
    }

    /// A leader still heard keeps pushing the attempt back, broken line or not.
    #[test]
    fn hearing_the_leader_again_postpones_the_attempt() {
        let t0 = Instant::now();
        let mut p = plan(t0);
        p.link_lost = true;
        let later = t0 + Duration::from_millis(40);
        p.heard = Some(later);
        assert_eq!(p.due(LEASE), later + LEASE + FAST_MARGIN);
    }

    /// Following no leader (a candidate's own vote): a random timeout after the last
    /// attempt or vote change, no lease; a broken line changes nothing there.
    #[test]
    fn without_a_leader_only_the_random_timeout_counts() {
        let t0 = Instant::now();
        let mut p = plan(t0);
        p.committed = false;
        p.link_lost = true;
        assert_eq!(p.due(LEASE), t0 + Duration::from_millis(130));
    }
}
