//! Session activity reports: the sessions a node's connections touched, and how long ago,
//! sent to the leader every half tick so its expiry tracker sees them. Not Raft entries; a
//! report that was not delivered to the leader is sent again by the reporting node (a lost
//! touch could otherwise expire a session that a node heard from in time).

use std::sync::Arc;
use std::sync::RwLock;

use crate::types::NodeId;

/// One touched session in a report: `(session id, ms since it was touched)`.
pub type Touch = (i64, u32);

/// The leader-side handler of activity reports: `(reporting node, touches)`.
pub type ActivityHandler = Arc<dyn Fn(NodeId, &[Touch]) + Send + Sync>;

/// Where the node installs its [`ActivityHandler`]; shared with the gRPC server.
#[derive(Clone, Default)]
pub(crate) struct ActivitySlot(Arc<RwLock<Option<ActivityHandler>>>);

impl ActivitySlot {
    /// Installs (or replaces) the handler.
    pub(crate) fn set(&self, f: ActivityHandler) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = Some(f);
    }

    /// Passes a report to the handler; dropped if none is installed yet.
    pub(crate) fn deliver(&self, from: NodeId, sessions: &[Touch]) {
        // Cloned out so the handler never runs under the lock (it may take its own locks).
        let handler = self.0.read().unwrap_or_else(|p| p.into_inner()).clone();
        match handler {
            Some(f) => f(from, sessions),
            None => tracing::debug!(from, n = sessions.len(), "activity report with no handler"),
        }
    }
}

impl std::fmt::Debug for ActivitySlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = self.0.read().map(|h| h.is_some()).unwrap_or(false);
        f.debug_struct("ActivitySlot").field("set", &set).finish()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[test]
    fn reports_reach_the_latest_handler_and_are_dropped_before_one() {
        let slot = ActivitySlot::default();
        slot.deliver(2, &[(1, 0)]);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        slot.set(Arc::new(move |from, ids| {
            s.lock().unwrap().push((from, ids.to_vec()))
        }));
        slot.deliver(3, &[(5, 0), (6, 30)]);
        assert_eq!(*seen.lock().unwrap(), vec![(3, vec![(5, 0), (6, 30)])]);
    }
}
