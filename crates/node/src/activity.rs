//! Session activity (S5.1, S9.2): every request touches its session. On the leader the touch
//! goes straight to the expiry tracker; on a follower it is remembered here, with when it
//! happened, and reported to the leader every half tick (ZooKeeper piggybacks the same on
//! its pings; the touches are not Raft entries). A report the leader did not get is kept
//! and sent again: dropping it would let the leader expire a session this node heard in
//! time (found by the chaos run: a follower resumed from a pause accepted a client's
//! handshake, its report failed, and the session expired a full timeout after its creation).

use std::collections::HashMap;
use std::sync::Mutex;

use zk_session::SessionId;

/// Sessions touched on this node since the last delivered report, each with the time (the
/// expiry clock's ms) of its latest touch.
#[derive(Debug, Default)]
pub struct Activity(Mutex<HashMap<SessionId, u64>>);

impl Activity {
    fn touched(&self) -> std::sync::MutexGuard<'_, HashMap<SessionId, u64>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Remembers a touch at `now_ms`.
    pub fn record(&self, id: SessionId, now_ms: u64) {
        let mut t = self.touched();
        let at = t.entry(id).or_insert(now_ms);
        *at = (*at).max(now_ms);
    }

    /// Takes every touch remembered so far, in id order.
    pub fn drain(&self) -> Vec<(SessionId, u64)> {
        let mut touches: Vec<(SessionId, u64)> = self.touched().drain().collect();
        touches.sort_unstable();
        touches
    }

    /// Puts back touches whose report was not delivered; a newer touch of the same session
    /// recorded meanwhile wins.
    pub fn restore(&self, touches: &[(SessionId, u64)]) {
        let mut t = self.touched();
        for &(id, at) in touches {
            let e = t.entry(id).or_insert(at);
            *e = (*e).max(at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u64) -> SessionId {
        SessionId::from_log_index(n).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn touches_are_reported_once_each_with_the_latest_time() {
        let a = Activity::default();
        a.record(id(7), 100);
        a.record(id(3), 150);
        a.record(id(7), 180);
        assert_eq!(a.drain(), vec![(id(3), 150), (id(7), 180)]);
        assert!(a.drain().is_empty());
    }

    #[test]
    fn an_undelivered_report_comes_back_without_hiding_newer_touches() {
        let a = Activity::default();
        a.record(id(7), 100);
        a.record(id(8), 100);
        let lost = a.drain();
        a.record(id(7), 250);
        a.restore(&lost);
        assert_eq!(a.drain(), vec![(id(7), 250), (id(8), 100)]);
    }
}
