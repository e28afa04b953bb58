//! The expiry loop: at every tick, while this node leads with a live quorum, proposes the
//! sessions that expired as one command (who judges, and as of when: `crate::expiry`).

use std::sync::Arc;

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
        let expired = node.expiry.expired_as_of(quorum_ago.unwrap_or(0));
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
