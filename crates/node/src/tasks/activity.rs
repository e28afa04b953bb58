//! The activity loop: every half tick, this node's session touches go to the leader (what is
//! kept and why: `crate::activity`).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::node::Node;

/// Every half tick, reports this node's touches to the leader (nothing to do while this node
/// leads: its touches went to the tracker directly), until `shutdown`.
pub(crate) async fn run(node: Arc<Node>, mut shutdown: watch::Receiver<bool>) {
    let every = (node.settings.tick / 2).max(Duration::from_millis(1));
    loop {
        tokio::select! {
            () = crate::shutdown::stopped(&mut shutdown) => return,
            () = tokio::time::sleep(every) => {}
        }
        let touches = node.activity.drain();
        if !touches.is_empty() && !node.report_activity(&touches).await {
            node.activity.restore(&touches);
        }
    }
}
