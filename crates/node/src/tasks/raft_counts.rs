//! Follows Raft's standing and counts leader changes, elections and the like into
//! `node.stats.raft` (what is counted: `crate::metrics::raft`).

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::watch;

use crate::metrics::raft::observe;
use crate::metrics::raft::Seen;
use crate::node::Node;
use crate::raft_facts::RaftWatch;

/// Follows Raft until shutdown, counting into `node.stats.raft`.
pub(crate) async fn run(node: Arc<Node>, mut shutdown: watch::Receiver<bool>) {
    let mut watch = RaftWatch::new(&node.backend);
    let mut seen = Seen::default();
    loop {
        let facts = watch.facts();
        observe(&node.stats.raft, &mut seen, &facts, Instant::now());
        tokio::select! {
            () = crate::shutdown::stopped(&mut shutdown) => return,
            changed = watch.changed() => if !changed { return },
        }
    }
}
