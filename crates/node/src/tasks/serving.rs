//! The serving loop: re-reads how this member stands in Raft and starts or stops serving
//! clients (the rules: `crate::serving`).

use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;

use tokio::sync::watch;
use zk_consensus::SharedState;

use crate::backend::Backend;
use crate::hub::Hub;
use crate::metrics::raft::Unavailable;
use crate::metrics::RaftCounters;
use crate::node::Node;
use crate::serving::cutoff_ms;
use crate::serving::may_serve;
use crate::serving::Serving;

/// How often the role is re-read (also the granularity of the leader's quorum check).
const CHECK_EVERY: Duration = Duration::from_millis(50);

/// What the loop needs of the node: Raft, the serving flag, the connections to close, the
/// applied state to catch up, and the counters of unavailability.
pub(crate) struct Handle {
    tick: Duration,
    started: Instant,
    backend: Backend,
    state: SharedState,
    serving: Arc<Serving>,
    hub: Arc<Hub>,
    raft: Arc<RaftCounters>,
}

impl Handle {
    pub(crate) fn of(node: &Node) -> Handle {
        Handle {
            tick: node.settings.tick,
            started: node.started,
            backend: node.backend.clone(),
            state: node.state.clone(),
            serving: node.serving.clone(),
            hub: node.hub.clone(),
            raft: node.stats.raft.clone(),
        }
    }
}

/// Re-reads the role every [`CHECK_EVERY`] until `shutdown`; closes every client connection
/// when serving stops.
pub(crate) async fn run(h: Handle, mut shutdown: watch::Receiver<bool>) {
    let cutoff = cutoff_ms(h.tick);
    let mut first = true;
    // From the start of the member (before its first election), as ZooKeeper counts.
    let began = h.backend.consensus_metrics().startup().map(|s| s.began);
    let mut unavailable = Unavailable::new(began.unwrap_or(h.started));
    let mut was_learner = false;
    loop {
        // The first check at once: a node that has just started serves as soon as it can.
        let wait = if std::mem::take(&mut first) {
            Duration::ZERO
        } else {
            CHECK_EVERY
        };
        tokio::select! {
            () = crate::shutdown::stopped(&mut shutdown) => return,
            () = tokio::time::sleep(wait) => {}
        }
        let heard = heard_within(h.backend.leader_heard_ago(), cutoff).await;
        let standing = h.backend.standing();
        let learner = standing.role == zk_consensus::RaftRole::Learner;
        if learner != std::mem::replace(&mut was_learner, learner) && learner {
            tracing::info!(
                "not a voting member of the ensemble (waiting to be added by reconfig): \
                 not serving clients"
            );
        }
        let now = may_serve(&standing, cutoff, heard);
        let was = h.serving.get();
        if was && !now {
            h.serving.set(false);
            unavailable.stopped(Instant::now());
            tracing::warn!("no quorum: not serving clients until it is back");
            h.hub.close_all();
        } else if now && !was {
            // S9.6: not before this node has applied what the ensemble committed as of now.
            // A shutdown does not wait for the catch-up (bounded as it is by a second or a
            // tick).
            let caught = tokio::select! {
                () = crate::shutdown::stopped(&mut shutdown) => return,
                caught = caught_up(&h, catch_up_bound(h.tick)) => caught,
            };
            match caught {
                Ok(index) => {
                    h.serving.set(true);
                    unavailable.serving(&h.raft, Instant::now(), h.backend.is_leader());
                    tracing::info!(index, "caught up with the ensemble: serving clients");
                }
                Err(why) => tracing::info!("not serving yet: {why}"),
            }
        }
    }
}

/// How long ago (ms) this member heard from its leader, by `ask` (Raft's core answers it), if
/// the answer comes within `cutoff_ms`; `None` otherwise.
///
/// Unbounded, a core that did not answer (wedged, or starved of its runtime) would hold this
/// loop in the question, and the last decision, serving, would stand however long that
/// lasted. A member that cannot confirm its leader within the cut-off is cut off (S9.4).
async fn heard_within(
    ask: impl std::future::Future<Output = Option<Duration>>,
    cutoff_ms: u64,
) -> Option<u64> {
    tokio::time::timeout(Duration::from_millis(cutoff_ms), ask)
        .await
        .ok()
        .flatten()
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// How long one attempt to catch up may take before the role is read again.
fn catch_up_bound(tick: Duration) -> Duration {
    tick.max(Duration::from_secs(1))
}

/// Asks for the ensemble's commit point (the leader's read index) and waits until this node
/// has applied it; the index it reached.
async fn caught_up(h: &Handle, bound: Duration) -> Result<u64, String> {
    tokio::time::timeout(bound, async {
        let point = h.backend.commit_point().await?;
        h.state
            .wait_applied_index(point)
            .await
            .map_err(|e| e.to_string())?;
        Ok(point)
    })
    .await
    .unwrap_or_else(|_| Err(format!("not caught up within {bound:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_core_that_does_not_answer_confirms_no_leader() {
        let started = tokio::time::Instant::now();
        let heard = heard_within(std::future::pending(), 500).await;
        assert_eq!(heard, None);
        assert_eq!(started.elapsed(), Duration::from_millis(500));
    }

    #[tokio::test(start_paused = true)]
    async fn a_prompt_answer_is_passed_on() {
        let ask = async { Some(Duration::from_millis(120)) };
        assert_eq!(heard_within(ask, 500).await, Some(120));
        assert_eq!(heard_within(async { None }, 500).await, None);
    }
}
