//! The activity loop: every half tick, this node's session touches go to the leader (what is
//! kept and why: `crate::activity`).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::activity::Activity;
use crate::backend::Backend;
use crate::expiry::Expiry;
use crate::node::Node;

/// What the loop needs of the node: the touches, the clock they were taken by, the way to
/// the leader.
pub(crate) struct Handle {
    every: Duration,
    activity: Arc<Activity>,
    expiry: Arc<Expiry>,
    backend: Backend,
}

impl Handle {
    pub(crate) fn of(node: &Node) -> Handle {
        Handle {
            every: (node.settings.tick / 2).max(Duration::from_millis(1)),
            activity: node.activity.clone(),
            expiry: node.expiry.clone(),
            backend: node.backend.clone(),
        }
    }

    /// Sends `touches` (id, when touched) to the leader as ages; true if it got them.
    async fn report(&self, touches: &[(zk_session::SessionId, u64)]) -> bool {
        let now = self.expiry.now_ms();
        let aged: Vec<(i64, u32)> = touches
            .iter()
            .map(|&(id, at)| {
                let age = u32::try_from(now.saturating_sub(at)).unwrap_or(u32::MAX);
                (id.get(), age)
            })
            .collect();
        self.backend.report_activity(&aged).await
    }
}

/// Every half tick, reports this node's touches to the leader (nothing to do while this node
/// leads: its touches went to the tracker directly), until `shutdown`.
pub(crate) async fn run(h: Handle, mut shutdown: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            () = crate::shutdown::stopped(&mut shutdown) => return,
            () = tokio::time::sleep(h.every) => {}
        }
        let touches = h.activity.drain();
        if !touches.is_empty() && !h.report(&touches).await {
            h.activity.restore(&touches);
        }
    }
}
