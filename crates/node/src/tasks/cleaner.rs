//! The container/TTL cleaner (ZooKeeper's ContainerManager): on the leader, every check
//! interval, proposes a `DeleteContainer` for each empty container that once had children and
//! each expired TTL node. Apply checks the conditions again, so a node that gained a child
//! meanwhile survives.

use std::sync::Arc;

use tokio::sync::watch;
use zk_consensus::now_ms;
use zk_consensus::CommandOp;
use zk_store::Txn;

use crate::node::Node;

/// Runs until `shutdown` turns true.
pub(crate) async fn run(node: Arc<Node>, mut shutdown: watch::Receiver<bool>) {
    let mut every = tokio::time::interval(node.settings.container_check);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick of an interval is immediate; a fresh start has nothing to clean yet.
    every.tick().await;
    loop {
        tokio::select! {
            () = crate::shutdown::stopped(&mut shutdown) => return,
            _ = every.tick() => {}
        }
        // Only the leader cleans, as only ZooKeeper's leader runs its ContainerManager.
        if !node.is_leader() {
            continue;
        }
        let candidates = node.state.read().tree.cleanup_candidates(now_ms());
        for path in candidates {
            tracing::debug!(%path, "cleaning up container/TTL node");
            // Session 0 is the system; it may only carry DeleteContainer.
            let op = CommandOp::Write {
                session_id: 0,
                owner: None,
                auth: Vec::new(),
                txn: Txn::DeleteContainer { path },
            };
            node.propose_unowned(op);
        }
    }
}
