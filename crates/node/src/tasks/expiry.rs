//! The expiry loop: at every tick, while this node leads with a live quorum, proposes the
//! sessions that expired as one command (who judges, and as of when: `crate::expiry`).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use zk_consensus::CommandOp;

use crate::expiry::Judging;
use crate::expiry::Verdict;
use crate::node::Node;

/// Wakes at every tick boundary and, while this node leads with a live quorum, proposes
/// the sessions that expired as one command, until `shutdown` turns true (see the module
/// docs for who judges).
pub(crate) async fn run(node: Arc<Node>, mut shutdown: watch::Receiver<bool>) {
    let mut judging = Judging::default();
    let cutoff = crate::serving::cutoff_ms(node.settings.tick);
    loop {
        let wait = node.expiry.until_next_tick();
        let due = node.expiry.now_ms() + u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
        tokio::select! {
            () = crate::shutdown::stopped(&mut shutdown) => return,
            () = tokio::time::sleep(wait) => {}
        }
        let stalled = node.expiry.now_ms() > due + cutoff;
        let epoch = node.serving.get().then(|| node.serving.epoch());
        let quorum_ago = node.quorum_heard_ago_ms();
        match judging.tick(node.is_leader() && quorum_ago.is_some(), epoch, stalled) {
            Verdict::Idle => continue,
            Verdict::Reset => {
                let sessions: Vec<_> = node.state.read().sessions.iter().collect();
                tracing::info!(
                    sessions = sessions.len(),
                    stalled,
                    "leading with a quorum: every session gets a fresh timeout"
                );
                node.expiry.reset(sessions);
                continue;
            }
            Verdict::Judge => {}
        }
        let Some(quorum_ago) = quorum_after_due(&node, cutoff).await else {
            continue;
        };
        let expired = node.expiry.expired_as_of(quorum_ago);
        if expired.is_empty() {
            continue;
        }
        // Only sessions the replicated state still has; the rest ended meanwhile.
        let ids: Vec<i64> = {
            let st = node.state.read();
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
        node.stats
            .stale_sessions_expired
            .fetch_add(ids.len() as u64, std::sync::atomic::Ordering::Relaxed);
        // Nobody waits for the outcome: applying it ends the sessions' connections and
        // removes them from the tracker (Hub::on_apply).
        node.propose_unowned(CommandOp::ExpireSessions { ids });
    }
}

/// How long ago the quorum last answered this leader, after waiting (at most `cutoff_ms`)
/// for an answer that covers every deadline due now ([`Expiry::due_unheard`]): heartbeats
/// are answered within a round trip, so a session whose deadline sat on this tick boundary is
/// judged now rather than a tick later. None once this node no longer leads with a quorum.
///
/// [`Expiry::due_unheard`]: crate::expiry::Expiry::due_unheard
async fn quorum_after_due(node: &Node, cutoff_ms: u64) -> Option<u64> {
    let mut standing = node.backend.watch_standing();
    let until = tokio::time::Instant::now() + Duration::from_millis(cutoff_ms);
    loop {
        let ago = node.quorum_heard_ago_ms()?;
        let now = node.expiry.now_ms();
        if !node.expiry.due_unheard(now, now.saturating_sub(ago)) {
            return Some(ago);
        }
        // Raft's metrics change with every heartbeat's answer.
        match tokio::time::timeout_at(until, standing.changed()).await {
            Ok(true) => {}
            Ok(false) | Err(_) => return node.quorum_heard_ago_ms(),
        }
    }
}
