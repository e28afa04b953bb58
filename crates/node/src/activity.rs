//! Session activity (S5.1, S9.2): every request touches its session. On the leader the touch
//! goes straight to the expiry tracker; on a follower it is remembered here and reported to
//! the leader every half tick (ZooKeeper piggybacks the same on its pings; the touches are
//! not Raft entries).

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::watch;
use zk_session::SessionId;

use crate::node::Node;

/// Sessions touched on this node since the last report.
#[derive(Debug, Default)]
pub struct Activity(Mutex<HashSet<SessionId>>);

impl Activity {
    /// Remembers a touch.
    pub fn record(&self, id: SessionId) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).insert(id);
    }

    /// Takes every touch remembered so far, in id order.
    pub fn drain(&self) -> Vec<SessionId> {
        let mut ids: Vec<SessionId> = self
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain()
            .collect();
        ids.sort_unstable();
        ids
    }
}

/// Every half tick, reports this node's touches to the leader (nothing to do while this node
/// leads: its touches went to the tracker directly), until `shutdown`.
pub async fn run(node: Arc<Node>, mut shutdown: watch::Receiver<bool>) {
    let every = (node.settings.tick / 2).max(Duration::from_millis(1));
    loop {
        tokio::select! {
            () = crate::server::stopped(&mut shutdown) => return,
            () = tokio::time::sleep(every) => {}
        }
        let ids = node.activity.drain();
        if !ids.is_empty() {
            node.report_activity(&ids).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn touches_are_reported_once_each() {
        let a = Activity::default();
        let id = |n| SessionId::from_log_index(n).unwrap_or_else(|e| panic!("{e}"));
        a.record(id(7));
        a.record(id(3));
        a.record(id(7));
        assert_eq!(a.drain(), vec![id(3), id(7)]);
        assert!(a.drain().is_empty());
    }
}
