//! When a member takes a snapshot: every so many commands applied, as ZooKeeper's `snapCount`
//! counts transactions. openraft's own policy counts log entries, and an entry is a batch of
//! any number of commands (one under light load, hundreds under heavy load), so under load it
//! snapshotted ever more rarely for the same amount of change. openraft's policy is off
//! (`SnapshotPolicy::Never`); this task watches the applied zxid (a command counter) and asks
//! Raft for a snapshot when one is due.

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::state::AppliedPoint;
use crate::types::ZkRaft;

/// The rule, without Raft: a snapshot is due once `every` commands were applied since the
/// last one was asked for (or since the start: a member counts from the state it opened
/// with, as ZooKeeper counts from its start).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SnapshotCount {
    every: i64,
    since: i64,
}

impl SnapshotCount {
    /// Counting from `applied_zxid`; `every` at least 1.
    pub(crate) fn new(every: u64, applied_zxid: i64) -> Self {
        SnapshotCount {
            every: i64::try_from(every.max(1)).unwrap_or(i64::MAX),
            since: applied_zxid,
        }
    }

    /// Whether a snapshot is due now that `zxid` is applied; if so the count starts again
    /// from `zxid`.
    pub(crate) fn due(&mut self, zxid: i64) -> bool {
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
    mut applied: watch::Receiver<AppliedPoint>,
    every: u64,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut count = SnapshotCount::new(every, applied.borrow_and_update().zxid);
        while applied.changed().await.is_ok() {
            let zxid = applied.borrow_and_update().zxid;
            if count.due(zxid) {
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

    #[test]
    fn due_after_every_commands_counted_from_the_start() {
        let mut c = SnapshotCount::new(100, 40);
        assert!(!c.due(41));
        assert!(!c.due(139), "99 commands since the start");
        assert!(c.due(140), "100 commands");
        assert!(!c.due(141), "the count starts again");
        assert!(!c.due(239));
        assert!(c.due(240));
    }

    #[test]
    fn one_large_batch_counts_all_its_commands() {
        let mut c = SnapshotCount::new(100, 0);
        assert!(c.due(350), "one entry of 350 commands");
        assert!(
            !c.due(449),
            "counted from where it was due, not from a multiple"
        );
        assert!(c.due(450));
    }

    #[test]
    fn zero_means_every_command_and_a_state_going_back_is_not_due() {
        let mut c = SnapshotCount::new(0, 10);
        assert!(c.due(11));
        assert!(
            !c.due(5),
            "an older state (a snapshot installed) is never due"
        );
    }
}
