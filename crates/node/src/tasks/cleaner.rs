//! The container/TTL cleaner (ZooKeeper's ContainerManager): on the leader, every check
//! interval, proposes a `DeleteContainer` for each empty container that once had children and
//! each expired TTL node. Apply checks the conditions again, so a node that gained a child
//! meanwhile survives.

use std::time::Duration;

use tokio::sync::watch;
use zk_consensus::now_ms;
use zk_consensus::CommandOp;
use zk_consensus::SharedState;
use zk_store::Txn;

use crate::backend::Backend;
use crate::node::Node;
use crate::node::SystemProposer;

/// What the cleaner needs of the node: its role, the applied tree, a way to propose.
pub(crate) struct Handle {
    every: Duration,
    backend: Backend,
    state: SharedState,
    proposer: SystemProposer,
}

impl Handle {
    pub(crate) fn of(node: &Node) -> Handle {
        Handle {
            every: node.settings.container_check,
            backend: node.backend.clone(),
            state: node.state.clone(),
            proposer: node.system_proposer(),
        }
    }
}

/// Runs until `shutdown` turns true.
pub(crate) async fn run(h: Handle, mut shutdown: watch::Receiver<bool>) {
    let mut every = tokio::time::interval(h.every);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick of an interval is immediate; a fresh start has nothing to clean yet.
    every.tick().await;
    loop {
        tokio::select! {
            () = crate::shutdown::stopped(&mut shutdown) => return,
            _ = every.tick() => {}
        }
        // Only the leader cleans, as only ZooKeeper's leader runs its ContainerManager.
        if !h.backend.is_leader() {
            continue;
        }
        let candidates = h.state.read().tree.cleanup_candidates(now_ms());
        for path in candidates {
            tracing::debug!(%path, "cleaning up container/TTL node");
            // Session 0 is the system; it may only carry DeleteContainer.
            let op = CommandOp::Write {
                session_id: 0,
                owner: None,
                auth: Vec::new(),
                txn: Txn::DeleteContainer { path },
            };
            h.proposer.propose(op);
        }
    }
}
