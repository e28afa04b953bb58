//! Session expiry on this node: the leader's tracker (zk-session's `ExpiryTracker`) behind a
//! lock, fed by connection activity and by applied session entries, and the loop that
//! proposes one batched `ExpireSessions` per tick (S6.2, S9.2).
//!
//! Only a leader with a live quorum judges (S9.5): the loop judges while this node leads
//! *and* serves (a quorum acknowledged it within the cut-off, see `serving`), and each time
//! it starts judging, after an election or after a lapse of its quorum however short, it
//! first gives every session a fresh full timeout. A leader left alone used to go on judging:
//! it proposed the expiry of every session whose clients could reach nobody, and when the
//! others came back in the same term that entry committed (Patroni over three members, two
//! killed for 40 s: every session expired in 2 of 3 runs).
//!
//! Sessions are judged as of the last time a quorum answered, not as of now: a deadline
//! that passed only after the quorum last answered may be the work of a quorum that is
//! already gone, so such a session waits for the quorum's next answer (the loop waits for it
//! within the cut-off: [`Expiry::due_unheard`]) or, if none comes, for the next tick (or for
//! the reset the quorum's return brings). Deadlines sit on tick boundaries and the loop wakes
//! on them, when the last answer is always a little older: judging as of it alone made every
//! expiry one tick late (a silent client's connection closed 3.6 s after its 4 s timeout with
//! a 2 s tick, `zk-bench non-readers`; ZooKeeper closes within the tick). An expiry is thus only ever proposed for sessions silent for their whole
//! timeout while the ensemble could hear them; should its entry commit only after a lapse,
//! it still expires nothing that a reachable quorum would have kept.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::MutexGuard;
use std::time::Duration;

use zk_session::Clock;
use zk_session::ExpiryTracker;
use zk_session::SessionId;

/// The expiry tracker with its clock.
pub struct Expiry {
    tracker: Mutex<ExpiryTracker>,
    clock: Arc<dyn Clock>,
}

impl Expiry {
    /// An empty tracker checking once per `tick`.
    pub fn new(tick: NonZeroU32, clock: Arc<dyn Clock>) -> Self {
        Expiry {
            tracker: Mutex::new(ExpiryTracker::new(tick)),
            clock,
        }
    }

    fn tracker(&self) -> MutexGuard<'_, ExpiryTracker> {
        self.tracker.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The clock's now (ms).
    pub fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    /// A session now exists: it gets a full timeout from now.
    pub fn add(&self, id: SessionId, timeout_ms: u32) {
        let now = self.now_ms();
        self.tracker().touch(id, timeout_ms, now);
    }

    /// Activity on a session (S5.1). Sessions the tracker does not hold are left alone: a
    /// late ping from a connection whose session already expired must not bring it back.
    pub fn touch(&self, id: SessionId, timeout_ms: u32) {
        let now = self.now_ms();
        self.touch_at(id, timeout_ms, now);
    }

    /// Activity on a session heard at `heard_ms` (a member's report arrives later than the
    /// touch it carries); as [`touch`](Self::touch), and never bringing a deadline forward.
    pub fn touch_at(&self, id: SessionId, timeout_ms: u32, heard_ms: u64) {
        let mut t = self.tracker();
        if t.contains(id) {
            t.touch(id, timeout_ms, heard_ms);
        }
    }

    /// A resume of `id` was applied: the handshake is activity (S5.1), counted now with the
    /// session's tracked timeout, so the session is not judged on touches from before it
    /// moved while its first ping on the new connection is still a third of a timeout away.
    pub fn refresh(&self, id: SessionId) {
        let now = self.now_ms();
        let mut t = self.tracker();
        if let Some(timeout_ms) = t.timeout_ms(id) {
            t.touch(id, timeout_ms, now);
        }
    }

    /// The session ended.
    pub fn remove(&self, id: SessionId) {
        self.tracker().remove(id);
    }

    /// Whether a session is due by `now_ms` whose deadline the quorum's last answer, heard at
    /// `heard_ms`, does not cover yet: judged as of that answer it would wait a whole tick
    /// more, so the loop first waits for the quorum's next answer.
    pub fn due_unheard(&self, now_ms: u64, heard_ms: u64) -> bool {
        self.tracker()
            .next_deadline()
            .is_some_and(|d| d <= now_ms && heard_ms < d)
    }

    /// Starts judging `sessions` afresh: every one gets a full timeout from now (restart, and
    /// a new leader, S9.3), and nothing else is tracked.
    pub fn reset(&self, sessions: impl IntoIterator<Item = (SessionId, u32)>) {
        let now = self.now_ms();
        let mut t = self.tracker();
        t.clear();
        for (id, timeout) in sessions {
            t.touch(id, timeout, now);
        }
    }

    #[cfg(test)]
    /// Sessions whose deadline has passed, taken out of the tracker.
    pub(crate) fn expired(&self) -> Vec<SessionId> {
        self.expired_as_of(0)
    }

    /// Sessions whose deadline had passed `ago_ms` before now, taken out of the tracker.
    pub fn expired_as_of(&self, ago_ms: u64) -> Vec<SessionId> {
        let at = self.now_ms().saturating_sub(ago_ms);
        self.tracker().expired(at)
    }

    /// How long until the next tick boundary (the tracker's deadlines sit on them).
    pub(crate) fn until_next_tick(&self) -> Duration {
        let t = self.tracker();
        let tick = t.tick_ms();
        let now = self.now_ms();
        let next = (now / tick + 1) * tick;
        Duration::from_millis(next - now)
    }

    /// When `id` expires unless touched (the clock's ms), if tracked.
    pub fn deadline(&self, id: SessionId) -> Option<u64> {
        self.tracker().deadline(id)
    }

    #[cfg(test)]
    /// True if no session is tracked.
    pub(crate) fn is_empty(&self) -> bool {
        self.tracker().is_empty()
    }
}

/// What the expiry loop does at a tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Not a leader with a live quorum: judge nothing.
    Idle,
    /// Starting to judge: every session gets a fresh full timeout first (S9.3, S9.5).
    Reset,
    /// Judging, as at the last tick.
    Judge,
}

/// The rule of who judges (S9.2, S9.3, S9.5), without clocks or Raft: fed once per tick with
/// whether this node leads and, if it serves (its quorum answered within the cut-off), the
/// serving epoch, and whether this node stalled since the last tick.
#[derive(Debug, Default)]
pub(crate) struct Judging {
    /// The serving epoch this node judged in at the last tick, if it judged.
    epoch: Option<u64>,
}

impl Judging {
    /// `stalled`: the loop woke later than it should have by more than the quorum cut-off
    /// (the whole process frozen, say by SIGSTOP or a swapped-out machine): nobody can say
    /// whether a quorum heard the sessions meanwhile, and the serving loop, frozen too, may
    /// not have seen the lapse. Found by the S9.5 test that stops the leader and a follower
    /// together: on waking, the tracker holds deadlines that passed while nothing ran.
    /// (Apache ZooKeeper expires those sessions there: its tracker judges by the clock as
    /// soon as the leader runs again.)
    pub(crate) fn tick(
        &mut self,
        leading: bool,
        serving_epoch: Option<u64>,
        stalled: bool,
    ) -> Verdict {
        let now = serving_epoch.filter(|_| leading);
        let was = std::mem::replace(&mut self.epoch, now);
        match now {
            None => Verdict::Idle,
            // Serving stopped and started again since the last tick: the quorum lapsed.
            Some(e) if was == Some(e) && !stalled => Verdict::Judge,
            Some(_) => Verdict::Reset,
        }
    }
}

#[cfg(test)]
mod tests {
    use zk_session::ManualClock;

    use super::*;

    fn sid(n: u64) -> SessionId {
        SessionId::from_log_index(n).unwrap_or_else(|e| panic!("{e}"))
    }

    fn expiry(clock: &ManualClock) -> Expiry {
        let tick = NonZeroU32::new(100).unwrap_or(NonZeroU32::MIN);
        Expiry::new(tick, Arc::new(clock.clone()))
    }

    /// S5.1: activity pushes the deadline; silence past timeout + one tick expires (S6.2).
    #[test]
    fn touch_keeps_alive_silence_expires() {
        let clock = ManualClock::new(1_000);
        let e = expiry(&clock);
        e.add(sid(5), 400);
        clock.advance(300);
        e.touch(sid(5), 400);
        clock.advance(400);
        assert!(
            e.expired().is_empty(),
            "touched 400 ms ago with a 400 ms timeout"
        );
        clock.advance(200);
        assert_eq!(e.expired(), vec![sid(5)]);
        assert!(e.is_empty());
    }

    /// A resume counts as activity with the tracked timeout; an untracked session stays so.
    #[test]
    fn refresh_on_resume_pushes_the_deadline() {
        let clock = ManualClock::new(1_000);
        let e = expiry(&clock);
        e.add(sid(5), 400);
        clock.advance(350);
        e.refresh(sid(5));
        clock.advance(300);
        assert!(e.expired().is_empty(), "refreshed 300 ms ago with 400 ms");
        clock.advance(200);
        assert_eq!(e.expired(), vec![sid(5)]);
        e.refresh(sid(6));
        assert!(e.is_empty());
    }

    /// A deadline due at a tick boundary that the quorum's last answer does not cover asks the
    /// loop to wait for the next answer (judged as of the old one, it would wait a whole tick
    /// more); one the last answer covers, or none due, does not.
    #[test]
    fn a_due_deadline_the_last_quorum_answer_misses_waits_for_the_next_answer() {
        let clock = ManualClock::new(1_000);
        let e = expiry(&clock);
        e.add(sid(5), 400); // 1_400 rounds up to 1_500
        assert!(!e.due_unheard(1_499, 1_490), "nothing due yet");
        assert!(
            e.due_unheard(1_500, 1_480),
            "due at 1_500, the quorum last answered at 1_480"
        );
        assert!(
            !e.due_unheard(1_510, 1_505),
            "an answer after the deadline covers it"
        );
        clock.set(1_510);
        assert_eq!(
            e.expired_as_of(5),
            vec![sid(5)],
            "judged as of that answer: expired"
        );
        assert!(!e.due_unheard(1_600, 1_000), "nothing tracked");
    }

    /// A touch for a session the tracker does not hold (already expired) does not revive it.
    #[test]
    fn late_touch_does_not_revive() {
        let clock = ManualClock::new(0);
        let e = expiry(&clock);
        e.touch(sid(9), 400);
        assert!(e.is_empty());
    }

    /// S9.3: reset gives every session a full timeout from now.
    #[test]
    fn reset_gives_fresh_full_timeouts() {
        let clock = ManualClock::new(0);
        let e = expiry(&clock);
        e.add(sid(1), 400);
        clock.advance(10_000);
        e.reset([(sid(1), 400), (sid(2), 1_000)]);
        assert!(e.expired().is_empty(), "nothing is due right after a reset");
        clock.advance(600);
        assert_eq!(e.expired(), vec![sid(1)]);
        clock.advance(600);
        assert_eq!(e.expired(), vec![sid(2)]);
    }

    /// Judged as of the quorum's last answer: a deadline passed since then waits.
    #[test]
    fn judged_as_of_the_last_quorum_answer() {
        let clock = ManualClock::new(1_000);
        let e = expiry(&clock);
        e.add(sid(5), 400);
        clock.advance(700);
        assert!(
            e.expired_as_of(300).is_empty(),
            "due at 1500, the quorum last answered at 1400"
        );
        assert_eq!(e.expired_as_of(100), vec![sid(5)]);
    }

    /// S9.2: only a leader judges; S9.5: only while it serves (its quorum answered).
    #[test]
    fn s9_5_only_a_leader_with_a_quorum_judges() {
        let mut j = Judging::default();
        assert_eq!(j.tick(false, Some(1), false), Verdict::Idle, "a follower");
        assert_eq!(
            j.tick(true, None, false),
            Verdict::Idle,
            "a leader without quorum"
        );
        assert_eq!(j.tick(false, None, false), Verdict::Idle);
    }

    /// S9.3: a new leader resets before it judges, then judges tick after tick.
    #[test]
    fn s9_3_a_new_leader_resets_first() {
        let mut j = Judging::default();
        assert_eq!(j.tick(false, Some(1), false), Verdict::Idle);
        assert_eq!(j.tick(true, Some(1), false), Verdict::Reset);
        assert_eq!(j.tick(true, Some(1), false), Verdict::Judge);
        assert_eq!(j.tick(true, Some(1), false), Verdict::Judge);
        assert_eq!(
            j.tick(false, Some(1), false),
            Verdict::Idle,
            "lost the leadership"
        );
        assert_eq!(j.tick(true, Some(1), false), Verdict::Reset, "leads again");
    }

    /// S9.5: a leader whose quorum lapsed resets when it is back, in the same term too,
    /// also when the lapse fell between two ticks (the serving epoch moved on).
    #[test]
    fn s9_5_a_quorum_lapse_means_a_reset() {
        let mut j = Judging::default();
        assert_eq!(j.tick(true, Some(1), false), Verdict::Reset);
        assert_eq!(j.tick(true, None, false), Verdict::Idle, "quorum gone");
        assert_eq!(j.tick(true, Some(3), false), Verdict::Reset, "quorum back");
        assert_eq!(j.tick(true, Some(3), false), Verdict::Judge);
        assert_eq!(
            j.tick(true, Some(5), false),
            Verdict::Reset,
            "lost and back between two ticks"
        );
    }

    /// A node that stalled (frozen as a whole) judges nothing it slept through: it resets.
    #[test]
    fn s9_5_a_stall_means_a_reset() {
        let mut j = Judging::default();
        assert_eq!(j.tick(true, Some(1), false), Verdict::Reset);
        assert_eq!(j.tick(true, Some(1), false), Verdict::Judge);
        assert_eq!(j.tick(true, Some(1), true), Verdict::Reset, "woke late");
        assert_eq!(j.tick(true, Some(1), false), Verdict::Judge);
    }

    /// The loop wakes on the tracker's tick boundaries.
    #[test]
    fn next_tick_is_on_a_boundary() {
        let clock = ManualClock::new(1_030);
        let e = expiry(&clock);
        assert_eq!(e.until_next_tick(), Duration::from_millis(70));
        clock.set(1_100);
        assert_eq!(e.until_next_tick(), Duration::from_millis(100));
    }
}
