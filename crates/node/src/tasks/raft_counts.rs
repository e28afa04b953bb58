//! Follows Raft's standing and counts leader changes, elections and the like into
//! `node.stats.raft` (what is counted: `crate::metrics::raft`).

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::watch;

use crate::backend::Backend;
use crate::metrics::raft::observe;
use crate::metrics::raft::Seen;
use crate::metrics::RaftCounters;
use crate::node::Node;
use crate::raft_facts::RaftWatch;

/// What the loop needs of the node: Raft, and the counters it keeps.
pub(crate) struct Handle {
    backend: Backend,
    counters: Arc<RaftCounters>,
}

impl Handle {
    pub(crate) fn of(node: &Node) -> Handle {
        Handle {
            backend: node.backend.clone(),
            counters: node.stats.raft.clone(),
        }
    }
}

/// Follows Raft until shutdown, counting into the node's Raft counters.
pub(crate) async fn run(h: Handle, mut shutdown: watch::Receiver<bool>) {
    let mut watch = RaftWatch::new(&h.backend);
    let mut seen = Seen::default();
    loop {
        let facts = watch.facts();
        observe(&h.counters, &mut seen, &facts, Instant::now());
        tokio::select! {
            () = crate::shutdown::stopped(&mut shutdown) => return,
            changed = watch.changed() => if !changed { return },
        }
    }
}
