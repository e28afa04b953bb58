//! The expiry loop: at every tick, while this node leads with a live quorum, proposes the
//! sessions that expired as one command (who judges, and as of when: `crate::expiry`).

use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use zk_consensus::CommandOp;
use zk_consensus::SharedState;

use crate::backend::Backend;
use crate::expiry::Expiry;
use crate::expiry::Judging;
use crate::expiry::Verdict;
use crate::node::Node;
use crate::node::SystemProposer;
use crate::serving::Serving;

/// What the loop needs of the node: the tracker, Raft, the serving flag, the applied
/// sessions, a way to propose and the count of sessions it expired.
pub(crate) struct Handle {
    cutoff_ms: u64,
    expiry: Arc<Expiry>,
    backend: Backend,
    state: SharedState,
    serving: Arc<Serving>,
    proposer: SystemProposer,
    stale_expired: Arc<AtomicU64>,
}

impl Handle {
    pub(crate) fn of(node: &Node) -> Handle {
        Handle {
            cutoff_ms: crate::serving::cutoff_ms(node.settings.tick),
            expiry: node.expiry.clone(),
            backend: node.backend.clone(),
            state: node.state.clone(),
            serving: node.serving.clone(),
            proposer: node.system_proposer(),
            stale_expired: node.stats.stale_sessions_expired.clone(),
        }
    }

    /// While this node leads: how long ago a quorum last acknowledged it (0 for a lone
    /// voter, its own quorum), if within the cut-off; `None` otherwise (S9.5).
    fn quorum_heard_ago_ms(&self) -> Option<u64> {
        crate::serving::quorum_heard_ago_ms(&self.backend.standing(), self.cutoff_ms)
    }
}

/// Wakes at every tick boundary and, while this node leads with a live quorum, proposes
/// the sessions that expired as one command, until `shutdown` turns true (see the module
/// docs for who judges).
pub(crate) async fn run(h: Handle, mut shutdown: watch::Receiver<bool>) {
    let mut judging = Judging::default();
    let cutoff = h.cutoff_ms;
    loop {
        let wait = h.expiry.until_next_tick();
        let due = h.expiry.now_ms() + u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
        tokio::select! {
            () = crate::shutdown::stopped(&mut shutdown) => return,
            () = tokio::time::sleep(wait) => {}
        }
        let stalled = h.expiry.now_ms() > due + cutoff;
        let epoch = h.serving.get().then(|| h.serving.epoch());
        let quorum_ago = h.quorum_heard_ago_ms();
        match judging.tick(
            h.backend.is_leader() && quorum_ago.is_some(),
            epoch,
            stalled,
        ) {
            Verdict::Idle => continue,
            Verdict::Reset => {
                let sessions: Vec<_> = h.state.read().sessions.iter().collect();
                tracing::info!(
                    sessions = sessions.len(),
                    stalled,
                    "leading with a quorum: every session gets a fresh timeout"
                );
                h.expiry.reset(sessions);
                continue;
            }
            Verdict::Judge => {}
        }
        let Some(quorum_ago) = quorum_after_due(&h, cutoff).await else {
            continue;
        };
        let expired = h.expiry.expired_as_of(quorum_ago);
        if expired.is_empty() {
            continue;
        }
        // Only sessions the replicated state still has; the rest ended meanwhile.
        let ids: Vec<i64> = {
            let st = h.state.read();
            expired
                .iter()
                .filter(|id| st.sessions.contains(**id))
                .map(|id| id.get())
                .collect()
        };
        if ids.is_empty() {
            continue;
        }
        tracing::info!(sessions = ?ids.iter().map(|i| format!("0x{i:x}")).collect::<Vec<_>>(), "expiring sessions");
        // Counted when expired, as ZooKeeper's session tracker counts before its close is
        // committed.
        h.stale_expired
            .fetch_add(ids.len() as u64, Ordering::Relaxed);
        // Nobody waits for the outcome: applying it ends the sessions' connections and
        // removes them from the tracker (Hub::on_apply).
        h.proposer.propose(CommandOp::ExpireSessions { ids });
    }
}

/// How long ago the quorum last answered this leader, after waiting (at most `cutoff_ms`)
/// for an answer that covers every deadline due now ([`Expiry::due_unheard`]): heartbeats
/// are answered within a round trip, so a session whose deadline sat on this tick boundary is
/// judged now rather than a tick later. None once this node no longer leads with a quorum.
///
/// [`Expiry::due_unheard`]: crate::expiry::Expiry::due_unheard
async fn quorum_after_due(h: &Handle, cutoff_ms: u64) -> Option<u64> {
    let mut standing = h.backend.watch_standing();
    let until = tokio::time::Instant::now() + Duration::from_millis(cutoff_ms);
    loop {
        let ago = h.quorum_heard_ago_ms()?;
        let now = h.expiry.now_ms();
        if !h.expiry.due_unheard(now, now.saturating_sub(ago)) {
            return Some(ago);
        }
        // Raft's metrics change with every heartbeat's answer.
        match tokio::time::timeout_at(until, standing.changed()).await {
            Ok(true) => {}
            Ok(false) | Err(_) => return h.quorum_heard_ago_ms(),
        }
    }
}
