//! Whether this node may serve its clients (S9.4): a node cut off from the quorum stops, so
//! its clients move to a node that has the quorum and keep their sessions.
//!
//! - A follower serves while it heard from its leader within the cut-off. Cut off, it does
//!   not become a candidate (elections need a pre-vote majority, which it cannot get), so
//!   it still names its old leader: the silence is what tells.
//! - A leader serves while a quorum acknowledged it recently (openraft's
//!   `millis_since_quorum_ack`); cut off, it would otherwise keep answering reads from a past
//!   that the majority has already moved on from.
//! - A candidate (an election under way) does not serve.
//! - An observer (a non-voting member) serves as a follower does: while it heard from its
//!   leader within the cut-off.
//! - A learner that is not an observer does not serve: it is a node waiting to be added by
//!   reconfig (or catching up to be), not a member clients may count on (ZooKeeper's joining
//!   server serves once the new config includes it).
//!
//! When serving stops, every client connection is closed and new handshakes are refused
//! without an answer (the client tries the next server), as ZooKeeper does when it loses
//! its quorum.
//!
//! Serving starts only once this node has caught up (S9.6): at start, and every time it
//! comes back after a lapse, it first asks the leader for its commit point (the read index;
//! itself, when it leads) and waits until it has applied that far. A member restarted a
//! moment ago holds only what its snapshot and log had, and a resume or SetWatches judged
//! from that would answer "expired" for a session it simply has not heard of yet (found with
//! Curator: 7 of 8 resumes on a just-restarted member were expired). ZooKeeper's learners
//! likewise sync with the leader before they serve.
//!
//! Each start of serving opens a new *serving epoch*. The expiry loop reads it: a leader
//! whose quorum lapsed, however briefly, judges sessions again only after giving every one
//! a fresh full timeout (S9.5).

use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;
use std::time::Duration;

use zk_consensus::RaftRole;
use zk_consensus::Standing;

/// The decision, from how this member stands in Raft. `cutoff_ms` is how long a leader may
/// go without a quorum acknowledgement, and a follower without hearing from its leader
/// (`leader_heard_ms` ago; `None`: follows none).
pub fn may_serve(s: &Standing, cutoff_ms: u64, leader_heard_ms: Option<u64>) -> bool {
    match s.role {
        RaftRole::Leader => quorum_heard_ago_ms(s, cutoff_ms).is_some(),
        RaftRole::Follower | RaftRole::Observer => {
            s.leader.is_some() && leader_heard_ms.is_some_and(|ms| ms <= cutoff_ms)
        }
        RaftRole::Learner | RaftRole::Candidate | RaftRole::Stopped => false,
    }
}

/// While leading: how long ago a quorum last acknowledged this member, if within
/// `cutoff_ms` (0 for a lone voter: it is its own quorum); `None` otherwise. The leader's
/// half of [`may_serve`], and what the expiry loop judges sessions as of (S9.5).
pub fn quorum_heard_ago_ms(s: &Standing, cutoff_ms: u64) -> Option<u64> {
    if s.role != RaftRole::Leader {
        return None;
    }
    if s.voters() <= 1 {
        return Some(0);
    }
    s.quorum_acked_ago_ms.filter(|&ms| ms <= cutoff_ms)
}

/// The leader's quorum cut-off for a tick: half a tick, at least 500 ms. Sessions last at
/// least two ticks, so clients of a cut-off node reconnect elsewhere well before they expire.
pub fn cutoff_ms(tick: Duration) -> u64 {
    u64::try_from(tick.as_millis() / 2)
        .unwrap_or(u64::MAX)
        .max(500)
}

/// The shared flag connections read, with the serving epoch: odd while serving, even while
/// not, so one atomic says both whether clients may be served and how many times serving
/// started. A node starts not serving (epoch 0) until it has caught up.
#[derive(Debug, Default)]
pub struct Serving {
    epoch: AtomicU64,
    changed: tokio::sync::Notify,
}

impl Serving {
    /// True while clients may be served.
    pub fn get(&self) -> bool {
        self.epoch() % 2 == 1
    }

    /// The serving epoch: it changes every time serving starts or stops.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Sets serving on or off; returns what it was.
    pub(crate) fn set(&self, on: bool) -> bool {
        let was = self.get();
        if was != on {
            self.epoch.fetch_add(1, Ordering::AcqRel);
            self.changed.notify_waiters();
        }
        was
    }

    /// True if clients may be served. A node that has not served yet since it started is
    /// waited for, up to `bound`: it is catching up and will serve in a moment (a client that
    /// reconnects the instant a restarted member's port opens is served, not sent away). A
    /// node that stopped serving says no at once, as ZooKeeper does: it lost its quorum, and
    /// its clients had better try the next server without delay (S9.4).
    pub async fn wait(&self, bound: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + bound;
        loop {
            // Registered before the check, so a start of serving in between is not missed.
            let changed = self.changed.notified();
            let epoch = self.epoch();
            if epoch % 2 == 1 {
                return true;
            }
            if epoch > 0 || tokio::time::timeout_at(deadline, changed).await.is_err() {
                return self.get();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn standing(role: RaftRole, leader: Option<u64>, ack: Option<u64>, voters: u64) -> Standing {
        let members = (1..=voters)
            .map(|id| {
                let addr = format!("zk{id}:2888");
                let member = zk_consensus::Member {
                    addr,
                    voter: true,
                    observer: false,
                };
                (id, member)
            })
            .collect();
        Standing {
            role,
            leader,
            term: 3,
            members,
            quorum_acked_ago_ms: ack,
            last_log_index: 0,
            applied_index: 0,
            snapshot_index: 0,
            purged_index: 0,
            matched: Default::default(),
        }
    }

    /// S9.4: a follower serves while it heard from its leader within the cut-off; a
    /// candidate or a stopped Raft never.
    #[test]
    fn followers_serve_while_their_leader_is_heard() {
        let follower = standing(RaftRole::Follower, Some(2), None, 3);
        assert!(may_serve(&follower, 500, Some(40)));
        assert!(may_serve(&follower, 500, Some(500)));
        assert!(!may_serve(&follower, 500, Some(501)), "a silent leader");
        assert!(!may_serve(&follower, 500, None));
        let leaderless = standing(RaftRole::Follower, None, None, 3);
        assert!(!may_serve(&leaderless, 500, Some(40)));
        let candidate = standing(RaftRole::Candidate, None, None, 3);
        assert!(!may_serve(&candidate, 500, None));
        let stopped = standing(RaftRole::Stopped, Some(2), None, 3);
        assert!(!may_serve(&stopped, 500, Some(40)));
    }

    /// An observer serves as a follower does; a learner that is not one (a joining server)
    /// never.
    #[test]
    fn observers_serve_like_followers_and_learners_do_not() {
        let observer = standing(RaftRole::Observer, Some(2), None, 3);
        assert!(may_serve(&observer, 500, Some(40)));
        assert!(!may_serve(&observer, 500, Some(501)), "a silent leader");
        assert!(!may_serve(
            &standing(RaftRole::Observer, None, None, 3),
            500,
            Some(40)
        ));
        let learner = standing(RaftRole::Learner, Some(2), None, 3);
        assert!(!may_serve(&learner, 500, Some(40)));
    }

    /// S9.4: a leader serves only while a quorum acknowledged it recently; a lone voter is
    /// its own quorum. The expiry loop judges as of the same acknowledgement (S9.5).
    #[test]
    fn leaders_need_a_recent_quorum() {
        let leader = |ack, voters| standing(RaftRole::Leader, Some(1), ack, voters);
        assert!(may_serve(&leader(Some(40), 3), 500, None));
        assert_eq!(quorum_heard_ago_ms(&leader(Some(40), 3), 500), Some(40));
        assert!(!may_serve(&leader(Some(501), 3), 500, None));
        assert!(!may_serve(&leader(None, 3), 500, None));
        assert!(may_serve(&leader(None, 1), 500, None));
        assert_eq!(quorum_heard_ago_ms(&leader(None, 1), 500), Some(0));
        let follower = standing(RaftRole::Follower, Some(2), Some(40), 3);
        assert_eq!(quorum_heard_ago_ms(&follower, 500), None);
    }

    /// A node starts not serving (S9.6); every start and stop of serving changes the epoch.
    #[test]
    fn serving_starts_off_and_each_start_is_a_new_epoch() {
        let s = Serving::default();
        assert!(!s.get());
        assert!(!s.set(true));
        let first = s.epoch();
        assert!(s.get());
        assert!(s.set(true), "already serving: no new epoch");
        assert_eq!(s.epoch(), first);
        assert!(s.set(false));
        assert!(!s.get());
        assert!(!s.set(true));
        assert!(s.get());
        assert_ne!(
            s.epoch(),
            first,
            "serving again after a lapse is a new epoch"
        );
    }

    /// A handshake on a node that is starting is let through as soon as it serves, or gives
    /// up at its bound; on a node that stopped serving, it is refused at once.
    #[tokio::test(start_paused = true)]
    async fn waiting_for_serving_ends_at_the_start_or_the_bound() {
        let s = Arc::new(Serving::default());
        assert!(!s.wait(Duration::from_millis(300)).await, "never started");
        let waiter = {
            let s = s.clone();
            tokio::spawn(async move { s.wait(Duration::from_secs(10)).await })
        };
        tokio::task::yield_now().await;
        s.set(true);
        assert!(waiter.await.unwrap_or_else(|e| panic!("{e}")));
        // Stopped after serving (a lapse of the quorum): no at once, no wait.
        s.set(false);
        let asked = tokio::time::Instant::now();
        assert!(!s.wait(Duration::from_secs(10)).await);
        assert_eq!(asked.elapsed(), Duration::ZERO);
    }

    #[test]
    fn cutoff_is_half_a_tick_at_least_500_ms() {
        assert_eq!(cutoff_ms(Duration::from_millis(2000)), 1000);
        assert_eq!(cutoff_ms(Duration::from_millis(200)), 500);
    }
}
