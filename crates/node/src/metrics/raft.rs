//! Counters of Raft's history on this node (ZooKeeper's `looking_count`, `election_time`,
//! `proposal_count`, `leader_uptime`, and `raft_leader_changes`), kept by a task that follows
//! Raft's role changes (not every entry: see `RoleChanges`). A change that comes and goes
//! between two looks (a leader lost and found again within one update) may go uncounted.
//! `proposal_count` is read from where the log stands when asked, against where it stood
//! when this node began to lead.

use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;
use std::time::Duration;
use std::time::Instant;

use super::Histogram;
use crate::raft_facts::RaftFacts;
use crate::raft_facts::RaftRole;

/// See the module docs.
#[derive(Debug)]
pub struct RaftCounters {
    started: Instant,
    /// Times this node was left without a leader, start included (ZooKeeper's
    /// `looking_count`: times it entered LOOKING).
    pub looking_count: AtomicU64,
    /// Times the leader this node follows (or is) became another node, the first included.
    pub leader_changes: AtomicU64,
    /// Log entries appended in the stretches this node led that have ended (the running
    /// one: [`RaftCounters::proposal_count`]).
    proposals_ended: AtomicU64,
    /// The log's last index when this node began to lead, plus one; 0 while it does not.
    leading_from: AtomicU64,
    /// How long each stretch without a leader lasted (ZooKeeper's `election_time`).
    pub election_time: Histogram,
    /// How long each stretch without serving clients lasted, from start or from when
    /// serving stopped (ZooKeeper's `unavailable_time`: from entering its election loop
    /// to the broadcast phase).
    pub unavailable_time: Histogram,
    /// The same, for the stretches that ended with this node serving as leader
    /// (ZooKeeper's `leader_unavailable_time`).
    pub leader_unavailable_time: Histogram,
    /// ms after `started` this node became leader, plus one; 0 while it does not lead.
    leader_since: AtomicU64,
}

impl Default for RaftCounters {
    fn default() -> Self {
        RaftCounters {
            started: Instant::now(),
            looking_count: AtomicU64::new(0),
            leader_changes: AtomicU64::new(0),
            proposals_ended: AtomicU64::new(0),
            leading_from: AtomicU64::new(0),
            election_time: Histogram::default(),
            unavailable_time: Histogram::default(),
            leader_unavailable_time: Histogram::default(),
            leader_since: AtomicU64::new(0),
        }
    }
}

impl RaftCounters {
    /// Log entries appended while this node led (ZooKeeper's `proposal_count`), with the
    /// log's last index now at `last_log_index`.
    pub fn proposal_count(&self, last_log_index: u64) -> u64 {
        self.proposals_ended.load(Ordering::Relaxed) + self.running(last_log_index)
    }

    /// Entries appended since this node began to lead (0 while it does not).
    fn running(&self, last_log_index: u64) -> u64 {
        match self.leading_from.load(Ordering::Relaxed) {
            0 => 0,
            from => last_log_index.saturating_sub(from - 1),
        }
    }

    /// How long this node has led, if it leads.
    pub fn leader_uptime(&self) -> Option<Duration> {
        match self.leader_since.load(Ordering::Relaxed) {
            0 => None,
            since => {
                let now = self.started.elapsed().as_millis() as u64;
                Some(Duration::from_millis(now.saturating_sub(since - 1)))
            }
        }
    }
}

/// When this node last stopped serving clients (or started), for `unavailable_time`.
#[derive(Debug)]
pub(crate) struct Unavailable {
    since: Option<Instant>,
}

impl Unavailable {
    /// Unavailable since `start` (the process start: ZooKeeper counts from its first
    /// election too).
    pub(crate) fn new(start: Instant) -> Self {
        Unavailable { since: Some(start) }
    }

    /// Serving stopped at `now`.
    pub(crate) fn stopped(&mut self, now: Instant) {
        self.since.get_or_insert(now);
    }

    /// Serving started at `now`, as leader if `leading`: the stretch is counted.
    pub(crate) fn serving(&mut self, c: &RaftCounters, now: Instant, leading: bool) {
        if let Some(since) = self.since.take() {
            let took = now.saturating_duration_since(since);
            c.unavailable_time.record(took);
            if leading {
                c.leader_unavailable_time.record(took);
            }
        }
    }
}

/// What the follower saw last.
#[derive(Debug, Default)]
pub(crate) struct Seen {
    first: bool,
    leader: Option<u64>,
    leading: bool,
    looking_since: Option<Instant>,
}

/// Counts what changed from `seen` to `f`, observed at `now`.
pub(crate) fn observe(c: &RaftCounters, seen: &mut Seen, f: &RaftFacts, now: Instant) {
    let has_leader = f.leader_id.is_some() && f.role != RaftRole::Candidate;
    let had_leader = seen.first && seen.leader.is_some();
    if !has_leader && (had_leader || !seen.first) {
        c.looking_count.fetch_add(1, Ordering::Relaxed);
        seen.looking_since = Some(now);
    }
    if has_leader {
        if let Some(since) = seen.looking_since.take() {
            c.election_time.record(now.saturating_duration_since(since));
        }
        if f.leader_id != seen.leader {
            c.leader_changes.fetch_add(1, Ordering::Relaxed);
        }
        seen.leader = f.leader_id;
    } else {
        seen.leader = None;
    }
    let leading = f.role == RaftRole::Leader;
    match (leading, seen.leading) {
        (true, false) => {
            let ms = now.saturating_duration_since(c.started).as_millis() as u64;
            c.leader_since.store(ms + 1, Ordering::Relaxed);
            c.leading_from
                .store(f.last_log_index + 1, Ordering::Relaxed);
        }
        (true, true) => {}
        (false, was_leading) => {
            if was_leading {
                // The stretch ends where the log stood when the step-down was seen.
                let led = c.running(f.last_log_index);
                c.proposals_ended.fetch_add(led, Ordering::Relaxed);
                c.leading_from.store(0, Ordering::Relaxed);
            }
            c.leader_since.store(0, Ordering::Relaxed);
        }
    }
    seen.leading = leading;
    seen.first = true;
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn facts(role: RaftRole, leader: Option<u64>, last_log: u64) -> RaftFacts {
        RaftFacts {
            role,
            term: 1,
            leader_id: leader,
            last_log_index: last_log,
            applied_index: last_log,
            commit_index: last_log,
            snapshot_index: None,
            log_entries: last_log,
            voters: BTreeMap::new(),
            learners: BTreeMap::new(),
            matched: BTreeMap::new(),
            millis_since_quorum_ack: None,
        }
    }

    #[test]
    fn elections_leaders_and_proposals() {
        let c = RaftCounters::default();
        let mut seen = Seen::default();
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        observe(&c, &mut seen, &facts(RaftRole::Follower, None, 0), at(0));
        assert_eq!(c.looking_count.load(Ordering::Relaxed), 1);
        observe(
            &c,
            &mut seen,
            &facts(RaftRole::Candidate, Some(1), 0),
            at(50),
        );
        assert_eq!(c.looking_count.load(Ordering::Relaxed), 1, "still looking");
        observe(&c, &mut seen, &facts(RaftRole::Leader, Some(1), 1), at(200));
        assert_eq!(c.leader_changes.load(Ordering::Relaxed), 1);
        let e = c.election_time.snapshot();
        assert_eq!((e.count, e.sum_us), (1, 200_000));
        assert!(c.leader_uptime().is_some());
        assert_eq!(c.proposal_count(6), 5, "read from where the log stands");
        observe(&c, &mut seen, &facts(RaftRole::Follower, None, 6), at(400));
        assert_eq!(
            c.proposal_count(20),
            5,
            "a follower's entries are not its proposals"
        );
        assert_eq!(c.looking_count.load(Ordering::Relaxed), 2);
        assert_eq!(c.leader_uptime(), None);
        observe(
            &c,
            &mut seen,
            &facts(RaftRole::Follower, Some(2), 9),
            at(450),
        );
        assert_eq!(c.leader_changes.load(Ordering::Relaxed), 2);
        assert_eq!(c.proposal_count(9), 5);
        observe(&c, &mut seen, &facts(RaftRole::Leader, Some(3), 9), at(500));
        assert_eq!(
            c.proposal_count(12),
            8,
            "a second stretch adds to the first"
        );
        assert_eq!(c.election_time.snapshot().count, 2);
    }

    #[test]
    fn unavailable_stretches_from_start_and_from_each_stop() {
        let c = RaftCounters::default();
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        let mut u = Unavailable::new(t0);
        u.serving(&c, at(300), false);
        u.serving(&c, at(400), false);
        assert_eq!(c.unavailable_time.snapshot().count, 1, "once per stretch");
        u.stopped(at(1000));
        u.stopped(at(1100));
        u.serving(&c, at(1250), true);
        let all = c.unavailable_time.snapshot();
        assert_eq!((all.count, all.sum_us), (2, 550_000));
        let led = c.leader_unavailable_time.snapshot();
        assert_eq!((led.count, led.sum_us), (1, 250_000));
    }
}
