//! The leader's expiry tracker (S6.2, S9.2): which sessions have gone silent for their timeout.
//!
//! Same shape as ZooKeeper's `ExpiryQueue`: every deadline is rounded up to a tick boundary,
//! so sessions share per-tick buckets. A touch moves a session between two buckets (O(1) hash
//! work plus a lookup in a map of about max-timeout/tick buckets), and a sweep takes whole
//! buckets off the front, so its cost follows what it returns. Rounding to ticks is also what
//! lets the leader wake once per tick instead of once per session (R4).
//!
//! Time is passed in as `now_ms` from the caller's [`crate::Clock`]; the tracker never reads a
//! clock itself.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::num::NonZeroU32;

use crate::id::SessionId;

/// What the tracker remembers of one session.
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Tick-aligned time (ms) at which the session expires unless touched again.
    deadline: u64,
    /// Negotiated timeout, kept so `reset_all` can grant a fresh full timeout.
    timeout_ms: u32,
}

/// Deadlines of live sessions, bucketed per tick; run by the Raft leader only.
#[derive(Debug, Clone)]
pub struct ExpiryTracker {
    tick_ms: u64,
    sessions: HashMap<SessionId, Entry>,
    /// Deadline -> sessions due then. Never holds an empty set, so the first key is the next
    /// deadline.
    buckets: BTreeMap<u64, HashSet<SessionId>>,
}

impl ExpiryTracker {
    /// An empty tracker whose buckets are `tick_ms` wide (the server's tickTime).
    pub fn new(tick_ms: NonZeroU32) -> Self {
        ExpiryTracker {
            tick_ms: u64::from(tick_ms.get()),
            sessions: HashMap::new(),
            buckets: BTreeMap::new(),
        }
    }

    /// The bucket width.
    pub fn tick_ms(&self) -> u64 {
        self.tick_ms
    }

    /// The deadline a touch at `now_ms` gives a session of `timeout_ms`: `now + timeout`
    /// rounded up to the *next* tick boundary, strictly after it even when it already lies on
    /// one (as ZooKeeper's `roundToNextInterval` does). So a session never expires early,
    /// and at most one tick late.
    pub fn deadline_after(&self, now_ms: u64, timeout_ms: u32) -> u64 {
        round_to_next_tick(self.tick_ms, now_ms, timeout_ms)
    }

    /// Records activity of `id` at `now_ms` (S5.1): it now expires at
    /// [`deadline_after`](Self::deadline_after)`(now_ms, timeout_ms)`, unless it already
    /// expires later: a touch reported late (heard at `now_ms`, delivered after a newer
    /// one) never brings a deadline forward. Starts tracking an unknown id. Returns the
    /// session's deadline.
    pub fn touch(&mut self, id: SessionId, timeout_ms: u32, now_ms: u64) -> u64 {
        let deadline = self.deadline_after(now_ms, timeout_ms);
        if let Some(prev) = self.sessions.get(&id) {
            if prev.deadline > deadline {
                return prev.deadline;
            }
        }
        let entry = Entry {
            deadline,
            timeout_ms,
        };
        match self.sessions.insert(id, entry) {
            // Most touches within one tick land in the same bucket: nothing to move.
            Some(prev) if prev.deadline == deadline => {}
            Some(prev) => {
                self.unbucket(id, prev.deadline);
                self.bucket(id, deadline);
            }
            None => self.bucket(id, deadline),
        }
        deadline
    }

    /// Stops tracking `id` (closed, or its expiry applied). Returns its deadline if it was
    /// tracked; removing an unknown id is a no-op, so applying a close twice is harmless.
    pub fn remove(&mut self, id: SessionId) -> Option<u64> {
        let prev = self.sessions.remove(&id)?;
        self.unbucket(id, prev.deadline);
        Some(prev.deadline)
    }

    /// Takes out and returns, sorted by id, every session whose deadline is `<= now_ms`
    /// (S6.2).
    ///
    /// They are **removed** from the tracker: the caller proposes their expiry through Raft.
    /// A touch arriving meanwhile tracks the id again, which is harmless (the expiry, once
    /// applied, calls [`remove`](Self::remove)). If the proposal is abandoned while this node
    /// is still leader, the caller must touch the sessions again, or they would never be
    /// judged; after losing leadership nothing is needed, since the next leader starts over
    /// with [`reset_all`](Self::reset_all).
    pub fn expired(&mut self, now_ms: u64) -> Vec<SessionId> {
        let mut out = Vec::new();
        while let Some(entry) = self.buckets.first_entry() {
            if *entry.key() > now_ms {
                break;
            }
            for id in entry.remove() {
                self.sessions.remove(&id);
                out.push(id);
            }
        }
        // Buckets are hash sets; sorting makes the proposed batch reproducible.
        out.sort_unstable();
        out
    }

    /// The earliest deadline of any tracked session, i.e. when the caller should next call
    /// [`expired`](Self::expired); `None` when nothing is tracked. Always a tick boundary.
    pub fn next_deadline(&self) -> Option<u64> {
        self.buckets.keys().next().copied()
    }

    /// Gives every tracked session a fresh full timeout from `now_ms` (S9.3): a new leader
    /// does this before judging anyone, because the activity reports went to the old one.
    pub fn reset_all(&mut self, now_ms: u64) {
        self.buckets.clear();
        let tick = self.tick_ms;
        for (&id, entry) in self.sessions.iter_mut() {
            entry.deadline = round_to_next_tick(tick, now_ms, entry.timeout_ms);
            self.buckets.entry(entry.deadline).or_default().insert(id);
        }
    }

    /// The current deadline of `id`, if tracked.
    pub fn deadline(&self, id: SessionId) -> Option<u64> {
        self.sessions.get(&id).map(|e| e.deadline)
    }

    /// The timeout `id` is tracked with, if tracked.
    pub fn timeout_ms(&self, id: SessionId) -> Option<u32> {
        self.sessions.get(&id).map(|e| e.timeout_ms)
    }

    /// Whether `id` is tracked.
    pub fn contains(&self, id: SessionId) -> bool {
        self.sessions.contains_key(&id)
    }

    /// Number of tracked sessions.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Whether no session is tracked.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// Forgets every session (e.g. on losing leadership, to free memory).
    pub fn clear(&mut self) {
        self.sessions.clear();
        self.buckets.clear();
    }

    fn bucket(&mut self, id: SessionId, deadline: u64) {
        self.buckets.entry(deadline).or_default().insert(id);
    }

    fn unbucket(&mut self, id: SessionId, deadline: u64) {
        // Drop emptied buckets at once so `next_deadline` is the first key, not a scan.
        if let Some(set) = self.buckets.get_mut(&deadline) {
            set.remove(&id);
            if set.is_empty() {
                self.buckets.remove(&deadline);
            }
        }
    }
}

/// First tick boundary strictly after `now + timeout`; saturates at u64::MAX ("never") so an
/// absurd input cannot wrap around to a deadline in the past.
fn round_to_next_tick(tick_ms: u64, now_ms: u64, timeout_ms: u32) -> u64 {
    let t = now_ms.saturating_add(u64::from(timeout_ms));
    (t / tick_ms).saturating_add(1).saturating_mul(tick_ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, ManualClock};

    const TICK: u32 = 2000;

    fn tracker() -> ExpiryTracker {
        ExpiryTracker::new(NonZeroU32::new(TICK).unwrap())
    }

    fn id(raw: i64) -> SessionId {
        SessionId::from_raw(raw).unwrap()
    }

    #[test]
    fn expires_exactly_at_rounded_deadline() {
        // S6.2 + R4: touched at 10_500 with 4000 ms -> 14_500 -> next tick boundary 16_000.
        let clock = ManualClock::new(10_500);
        let mut t = tracker();
        assert_eq!(t.touch(id(1), 4000, clock.now_ms()), 16_000);
        assert_eq!(t.next_deadline(), Some(16_000));
        clock.set(15_999);
        assert!(t.expired(clock.now_ms()).is_empty(), "not one ms early");
        assert!(t.contains(id(1)));
        clock.advance(1);
        assert_eq!(t.expired(clock.now_ms()), vec![id(1)]);
        assert!(t.is_empty());
        assert_eq!(t.next_deadline(), None);
    }

    #[test]
    fn a_late_older_touch_never_brings_a_deadline_forward() {
        // A member's report carries a touch heard earlier than one already applied: the
        // session keeps the later deadline; a newer touch still pushes it.
        let mut t = tracker();
        assert_eq!(t.touch(id(1), 4000, 10_500), 16_000);
        assert_eq!(t.touch(id(1), 4000, 6_100), 16_000);
        assert!(t.expired(15_999).is_empty());
        assert_eq!(t.touch(id(1), 4000, 12_100), 18_000);
        assert_eq!(t.expired(16_000), Vec::<SessionId>::new());
        assert_eq!(t.expired(18_000), vec![id(1)]);
    }

    #[test]
    fn deadline_on_a_boundary_goes_to_the_next_one() {
        // R4: the leader judges once per tick; like ZooKeeper, a deadline already on a boundary
        // is pushed to the next one, so expiry lands in (timeout, timeout + tick].
        let t = tracker();
        assert_eq!(t.deadline_after(0, 4000), 6000);
        assert_eq!(t.deadline_after(1, 4000), 6000);
        assert_eq!(t.deadline_after(1999, 4000), 6000);
        assert_eq!(t.deadline_after(2000, 4000), 8000);
        for now in 0..5000u64 {
            let d = t.deadline_after(now, 4000);
            assert!(d > now + 4000 && d <= now + 4000 + 2000 && d.is_multiple_of(2000));
        }
        // Saturates to "never" rather than wrapping to a deadline in the past.
        assert_eq!(t.deadline_after(u64::MAX - 100, 4000), u64::MAX);
    }

    #[test]
    fn silent_4000ms_session_expires_within_reference_window() {
        // R4: a silent 4000 ms session goes 3.9-6.1 s after the client's last traffic; the
        // server side of that is (4000, 6000] ms after the last touch.
        for start in (0..4000u64).step_by(250) {
            let clock = ManualClock::new(start);
            let mut t = tracker();
            t.touch(id(1), 4000, clock.now_ms());
            let mut at = None;
            while at.is_none() {
                clock.advance(1);
                if !t.expired(clock.now_ms()).is_empty() {
                    at = Some(clock.now_ms() - start);
                }
            }
            let after = at.unwrap();
            assert!((4001..=6000).contains(&after), "start {start}: {after}");
        }
    }

    #[test]
    fn repeated_touches_keep_a_session_alive() {
        // S5.1: any request, pings included, keeps the session alive; S5.2: a ping every
        // third of the timeout is enough.
        let clock = ManualClock::new(0);
        let mut t = tracker();
        t.touch(id(7), 4000, clock.now_ms());
        for _ in 0..100 {
            clock.advance(1333);
            assert!(t.expired(clock.now_ms()).is_empty());
            t.touch(id(7), 4000, clock.now_ms());
        }
        assert_eq!(t.len(), 1);
        let last = clock.now_ms();
        clock.set(t.deadline(id(7)).unwrap());
        assert_eq!(t.expired(clock.now_ms()), vec![id(7)]);
        assert_eq!(clock.now_ms(), t.deadline_after(last, 4000));
    }

    #[test]
    fn reset_all_gives_a_fresh_full_timeout() {
        // S9.3: a new leader grants every live session a full timeout before judging it.
        let clock = ManualClock::new(0);
        let mut t = tracker();
        t.touch(id(1), 4000, 0); // due at 6000
        t.touch(id(2), 10_000, 0); // due at 12000
        clock.set(5_900); // election happened; id(1) would be due in 100 ms
        t.reset_all(clock.now_ms());
        assert_eq!(t.deadline(id(1)), Some(t.deadline_after(5_900, 4000)));
        assert_eq!(t.deadline(id(1)), Some(10_000));
        assert_eq!(t.deadline(id(2)), Some(16_000));
        assert_eq!(t.next_deadline(), Some(10_000));
        clock.set(9_999);
        assert!(
            t.expired(clock.now_ms()).is_empty(),
            "old deadlines are gone"
        );
        clock.set(10_000);
        assert_eq!(t.expired(clock.now_ms()), vec![id(1)]);
        clock.set(16_000);
        assert_eq!(t.expired(clock.now_ms()), vec![id(2)]);
    }

    #[test]
    fn removed_sessions_never_expire() {
        // S6.3: an explicitly closed session is removed, not expired later.
        let mut t = tracker();
        t.touch(id(1), 4000, 0);
        t.touch(id(2), 4000, 0);
        assert_eq!(t.remove(id(1)), Some(6000));
        assert_eq!(t.remove(id(1)), None, "idempotent");
        assert!(!t.contains(id(1)));
        assert_eq!(t.len(), 1);
        assert_eq!(t.expired(100_000), vec![id(2)]);
        // Removing the last member of a bucket drops the bucket.
        t.touch(id(3), 4000, 0);
        t.remove(id(3));
        assert_eq!(t.next_deadline(), None);
    }

    #[test]
    fn many_sessions_share_a_bucket() {
        // R4: deadlines are per tick, so sessions touched within one tick expire together.
        let mut t = tracker();
        for raw in 1..=1000 {
            t.touch(id(raw), 4000, (raw as u64) % 2000);
        }
        t.touch(id(5000), 4000, 2000); // next bucket
        assert_eq!(t.len(), 1001);
        assert_eq!(t.next_deadline(), Some(6000));
        assert!(t.expired(5999).is_empty());
        let due = t.expired(6000);
        assert_eq!(due, (1..=1000).map(id).collect::<Vec<_>>(), "sorted by id");
        assert_eq!(t.len(), 1);
        assert_eq!(t.next_deadline(), Some(8000));
    }

    #[test]
    fn a_late_sweep_takes_every_overdue_bucket() {
        // S6.2: a leader that slept through several ticks still expires everything overdue.
        let mut t = tracker();
        t.touch(id(1), 4000, 0); // 6000
        t.touch(id(2), 6000, 0); // 8000
        t.touch(id(3), 10_000, 0); // 12000
        assert_eq!(t.expired(9_000), vec![id(1), id(2)]);
        assert_eq!(t.next_deadline(), Some(12_000));
    }

    #[test]
    fn touch_moves_between_buckets_and_empties_the_old_one() {
        // S5.1: touching later moves the deadline; the old bucket disappears.
        let mut t = tracker();
        t.touch(id(1), 4000, 0);
        assert_eq!(t.touch(id(1), 4000, 500), 6000, "same bucket");
        assert_eq!(t.touch(id(1), 4000, 2500), 8000);
        assert_eq!(t.next_deadline(), Some(8000));
        assert!(t.expired(7999).is_empty());
        assert_eq!(t.expired(8000), vec![id(1)]);
    }

    #[test]
    fn touch_after_expired_tracks_again() {
        // Documented contract of `expired`: it removes; the caller re-touches to retry.
        let mut t = tracker();
        t.touch(id(1), 4000, 0);
        assert_eq!(t.expired(6000), vec![id(1)]);
        assert!(!t.contains(id(1)));
        t.touch(id(1), 4000, 6000);
        assert_eq!(t.deadline(id(1)), Some(12_000));
    }
}
