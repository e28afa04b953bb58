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
//!
//! When serving stops, every client connection is closed and new handshakes are refused
//! without an answer (the client tries the next server), as ZooKeeper does when it loses
//! its quorum.

use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use openraft::RaftMetrics;
use openraft::ServerState;
use tokio::sync::watch;

use crate::node::Node;

/// How often the role is re-read (also the granularity of the leader's quorum check).
const CHECK_EVERY: Duration = Duration::from_millis(50);

/// The decision, from Raft's metrics. `voters` is the membership size: a lone voter is its
/// own quorum. `cutoff_ms` is how long a leader may go without a quorum acknowledgement,
/// and a follower without hearing from its leader (`leader_heard_ms` ago; `None`: follows
/// none).
pub fn may_serve<N>(
    m: &RaftMetrics<u64, N>,
    voters: usize,
    cutoff_ms: u64,
    leader_heard_ms: Option<u64>,
) -> bool
where
    N: openraft::Node,
{
    if m.running_state.is_err() {
        return false;
    }
    match m.state {
        ServerState::Leader => {
            voters <= 1 || m.millis_since_quorum_ack.is_some_and(|ms| ms <= cutoff_ms)
        }
        ServerState::Follower | ServerState::Learner => {
            m.current_leader.is_some() && leader_heard_ms.is_some_and(|ms| ms <= cutoff_ms)
        }
        ServerState::Candidate | ServerState::Shutdown => false,
    }
}

/// The leader's quorum cut-off for a tick: half a tick, at least 500 ms. Sessions last at
/// least two ticks, so clients of a cut-off node reconnect elsewhere well before they expire.
pub fn cutoff_ms(tick: Duration) -> u64 {
    u64::try_from(tick.as_millis() / 2)
        .unwrap_or(u64::MAX)
        .max(500)
}

/// The shared flag connections read.
#[derive(Debug)]
pub struct Serving(AtomicBool);

impl Default for Serving {
    fn default() -> Self {
        Serving(AtomicBool::new(true))
    }
}

impl Serving {
    /// True while clients may be served.
    pub fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    fn set(&self, v: bool) -> bool {
        self.0.swap(v, Ordering::Relaxed)
    }
}

/// Re-reads the role every [`CHECK_EVERY`] until `shutdown`; closes every client connection
/// when serving stops.
pub async fn run(node: Arc<Node>, mut shutdown: watch::Receiver<bool>) {
    let cutoff = cutoff_ms(node.settings.tick);
    loop {
        tokio::select! {
            () = crate::server::stopped(&mut shutdown) => return,
            () = tokio::time::sleep(CHECK_EVERY) => {}
        }
        let raft = node.backend.raft();
        let heard = zk_consensus::leader_heard_ago(raft)
            .await
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let now = {
            let m = raft.metrics();
            let m = m.borrow();
            let voters = m.membership_config.membership().voter_ids().count();
            may_serve(&m, voters, cutoff, heard)
        };
        let was = node.serving.set(now);
        if was && !now {
            tracing::warn!("no quorum: not serving clients until it is back");
            node.hub.close_all();
        } else if now && !was {
            tracing::info!("quorum back: serving clients again");
        }
    }
}

#[cfg(test)]
mod tests {
    use openraft::BasicNode;

    use super::*;

    fn metrics(
        state: ServerState,
        leader: Option<u64>,
        ack: Option<u64>,
    ) -> RaftMetrics<u64, BasicNode> {
        let mut m = RaftMetrics::new_initial(1);
        m.state = state;
        m.current_leader = leader;
        m.millis_since_quorum_ack = ack;
        m
    }

    /// S9.4: a follower serves while it heard from its leader within the cut-off; a
    /// candidate never.
    #[test]
    fn followers_serve_while_their_leader_is_heard() {
        let follower = metrics(ServerState::Follower, Some(2), None);
        assert!(may_serve(&follower, 3, 500, Some(40)));
        assert!(may_serve(&follower, 3, 500, Some(500)));
        assert!(!may_serve(&follower, 3, 500, Some(501)), "a silent leader");
        assert!(!may_serve(&follower, 3, 500, None));
        let leaderless = metrics(ServerState::Follower, None, None);
        assert!(!may_serve(&leaderless, 3, 500, Some(40)));
        let candidate = metrics(ServerState::Candidate, None, None);
        assert!(!may_serve(&candidate, 3, 500, None));
    }

    /// S9.4: a leader serves only while a quorum acknowledged it recently; a lone voter is
    /// its own quorum.
    #[test]
    fn leaders_need_a_recent_quorum() {
        assert!(may_serve(
            &metrics(ServerState::Leader, Some(1), Some(40)),
            3,
            500,
            None
        ));
        assert!(!may_serve(
            &metrics(ServerState::Leader, Some(1), Some(501)),
            3,
            500,
            None
        ));
        assert!(!may_serve(
            &metrics(ServerState::Leader, Some(1), None),
            3,
            500,
            None
        ));
        assert!(may_serve(
            &metrics(ServerState::Leader, Some(1), None),
            1,
            500,
            None
        ));
    }

    #[test]
    fn cutoff_is_half_a_tick_at_least_500_ms() {
        assert_eq!(cutoff_ms(Duration::from_millis(2000)), 1000);
        assert_eq!(cutoff_ms(Duration::from_millis(200)), 500);
    }
}
