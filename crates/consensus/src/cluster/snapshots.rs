//! When a member takes a snapshot: every so many commands applied, as ZooKeeper's `snapCount`
//! counts transactions. openraft's own policy counts log entries, and an entry is a batch of
//! any number of commands (one under light load, hundreds under heavy load), so under load it
//! snapshotted ever more rarely for the same amount of change. openraft's policy is off
//! (`SnapshotPolicy::Never`); this task watches the applied zxid (a command counter) and asks
//! Raft for a snapshot when one is due.

use tokio::task::JoinHandle;

use crate::state_machine::SharedState;
use crate::types::ZkRaft;

/// The rule, without Raft: a snapshot is due once `every` commands were applied since the
/// last one was asked for (or since the start: a member counts from the state it opened
/// with, as ZooKeeper counts from its start), or since it installed one from the leader (a
/// snapshot of that very state is stored then: asking for another would only write it again).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SnapshotCount {
    every: i64,
    since: i64,
    installs: u64,
}

impl SnapshotCount {
    /// Counting from `applied_zxid`; `every` at least 1.
    pub(crate) fn new(every: u64, applied_zxid: i64) -> Self {
        SnapshotCount {
            every: i64::try_from(every.max(1)).unwrap_or(i64::MAX),
            since: applied_zxid,
            installs: 0,
        }
    }

    /// Whether a snapshot is due now that `zxid` is applied and `installs` snapshots were
    /// installed from the leader (a count that only grows); if so, or if one more was
    /// installed, the count starts again from `zxid`.
    pub(crate) fn due(&mut self, zxid: i64, installs: u64) -> bool {
        if installs != self.installs {
            self.installs = installs;
            self.since = zxid;
            return false;
        }
        if zxid.saturating_sub(self.since) >= self.every {
            self.since = zxid;
            true
        } else {
            false
        }
    }
}

/// Asks `raft` for a snapshot each time [`SnapshotCount`] says one is due. openraft ignores
/// the request while a snapshot is being built; the next one is due `every` commands later.
pub(crate) fn spawn_snapshot_trigger(
    raft: ZkRaft,
    state: &SharedState,
    every: u64,
) -> JoinHandle<()> {
    let mut applied = state.subscribe_applied();
    let state = state.clone();
    tokio::spawn(async move {
        let mut count = SnapshotCount::new(every, applied.borrow_and_update().zxid);
        while applied.changed().await.is_ok() {
            let zxid = applied.borrow_and_update().zxid;
            // Read after the point: an install raises it before publishing its point.
            if count.due(zxid, state.snapshot_installs()) {
                tracing::debug!(zxid, "a snapshot is due");
                if let Err(e) = raft.trigger().snapshot().await {
                    tracing::debug!("no snapshot: Raft has stopped ({e})");
                    return;
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    impl SnapshotCount {
        /// [`SnapshotCount::due`] with no install since the start.
        fn due_now(&mut self, zxid: i64) -> bool {
            self.due(zxid, 0)
        }
    }

    #[test]
    fn an_installed_snapshot_restarts_the_count_and_is_not_snapshotted_again() {
        let mut c = SnapshotCount::new(100, 0);
        assert!(!c.due(50, 0));
        assert!(
            !c.due(5_000, 1),
            "the jump came with an install: that state is stored already"
        );
        assert!(!c.due(5_099, 1), "counted from the installed state");
        assert!(c.due(5_100, 1), "100 commands after the install");
        assert!(
            !c.due(9_000, 3),
            "two more installs seen at once: one restart"
        );
        assert!(c.due(9_100, 3));
    }

    #[test]
    fn due_after_every_commands_counted_from_the_start() {
        let mut c = SnapshotCount::new(100, 40);
        assert!(!c.due_now(41));
        assert!(!c.due_now(139), "99 commands since the start");
        assert!(c.due_now(140), "100 commands");
        assert!(!c.due_now(141), "the count starts again");
        assert!(!c.due_now(239));
        assert!(c.due_now(240));
    }

    #[test]
    fn one_large_batch_counts_all_its_commands() {
        let mut c = SnapshotCount::new(100, 0);
        assert!(c.due_now(350), "one entry of 350 commands");
        assert!(
            !c.due_now(449),
            "counted from where it was due, not from a multiple"
        );
        assert!(c.due_now(450));
    }

    #[test]
    fn zero_means_every_command_and_a_state_going_back_is_not_due() {
        let mut c = SnapshotCount::new(0, 10);
        assert!(c.due_now(11));
        assert!(
            !c.due_now(5),
            "an older state (a snapshot installed) is never due"
        );
    }
}
