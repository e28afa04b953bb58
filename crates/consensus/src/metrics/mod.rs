//! What this crate measures for the node's monitoring (ZooKeeper's `fsynctime`,
//! `snapshottime`, start-up times, `snap_count`, `last_snapshot`): atomics and histograms
//! it owns and records into, which the node reads when `mntr` or `/metrics` is asked. So the
//! node sees them without this crate knowing the node, and recording costs the syncing
//! thread or the snapshot task a few relaxed atomic adds.

mod histogram;

use std::sync::atomic::AtomicI64;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;
use std::sync::OnceLock;
use std::time::Duration;
use std::time::Instant;

pub use histogram::Histogram;
pub use histogram::Snapshot;

/// ZooKeeper's default `zookeeper.fsync.warningthresholdms` (zoo.cfg's
/// `fsync.warningthresholdms`).
pub const DEFAULT_FSYNC_WARNING_THRESHOLD: Duration = Duration::from_millis(1000);

/// See the module docs. One per data directory (shared by the stores opened on it).
#[derive(Debug)]
pub struct ConsensusMetrics {
    /// Each sync of the Raft log: the `fdatasync`s (and a new segment's `fsync`s) of one
    /// group commit, µs (ZooKeeper's `fsynctime`: each `force` of its transaction log).
    pub fsync_time: Histogram,
    /// Log syncs slower than the warning threshold (ZooKeeper's
    /// `fsync_threshold_exceed_count`).
    pub fsync_threshold_exceeded: AtomicU64,
    fsync_warning_threshold_ms: AtomicU64,
    /// Each snapshot taken here, from the freeze of the state to its file being durable
    /// (ZooKeeper's `snapshottime`); snapshots installed from the leader are not taken here.
    pub snapshot_time: Histogram,
    /// Snapshots this node sent to followers while leading (ZooKeeper's `snap_count`:
    /// learners synchronised by a whole snapshot).
    pub snapshots_sent: AtomicU64,
    /// The zxid of the last snapshot saved here (built or installed), -1 before one; with
    /// `last_snapshot_secs`, ZooKeeper's `last_snapshot` command.
    last_snapshot_zxid: AtomicI64,
    /// When it was saved, seconds since the Unix epoch (-1 before one).
    last_snapshot_secs: AtomicI64,
    startup: OnceLock<Startup>,
}

/// How the node's state was loaded at start (ZooKeeper's `dbinittime`,
/// `startup_snap_load_time`, `startup_txns_load_time`, `startup_txns_loaded`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Startup {
    /// When the start began (the data directory opened): the node counts its first
    /// unavailability from here, as ZooKeeper counts from its first election.
    pub began: Instant,
    /// Reading and decoding the stored snapshot (zero without one).
    pub snap_load: Duration,
    /// Applying the committed log entries after it (openraft re-applies them while Raft
    /// starts).
    pub txns_load: Duration,
    /// Those log entries.
    pub txns_loaded: u64,
}

impl Startup {
    /// The whole load: snapshot and log (ZooKeeper's `dbinittime`).
    pub fn db_init(&self) -> Duration {
        self.snap_load + self.txns_load
    }
}

/// ZooKeeper's `last_snapshot`: the snapshot's zxid and when it was saved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LastSnapshot {
    /// Its zxid (the last transaction it holds).
    pub zxid: i64,
    /// When it was saved, seconds since the Unix epoch.
    pub timestamp_secs: i64,
}

impl Default for ConsensusMetrics {
    fn default() -> Self {
        ConsensusMetrics {
            fsync_time: Histogram::default(),
            fsync_threshold_exceeded: AtomicU64::new(0),
            fsync_warning_threshold_ms: AtomicU64::new(
                DEFAULT_FSYNC_WARNING_THRESHOLD.as_millis() as u64
            ),
            snapshot_time: Histogram::default(),
            snapshots_sent: AtomicU64::new(0),
            last_snapshot_zxid: AtomicI64::new(-1),
            last_snapshot_secs: AtomicI64::new(-1),
            startup: OnceLock::new(),
        }
    }
}

impl ConsensusMetrics {
    /// Sets the time past which a log sync is counted and logged as slow.
    pub fn set_fsync_warning_threshold(&self, threshold: Duration) {
        let ms = u64::try_from(threshold.as_millis()).unwrap_or(u64::MAX);
        self.fsync_warning_threshold_ms.store(ms, Ordering::Relaxed);
    }

    /// The time past which a log sync is counted and logged as slow.
    pub fn fsync_warning_threshold(&self) -> Duration {
        Duration::from_millis(self.fsync_warning_threshold_ms.load(Ordering::Relaxed))
    }

    /// Records one sync of the Raft log that took `took`; over the threshold it is counted
    /// and logged, as ZooKeeper warns that such an fsync "will adversely effect operation
    /// latency". True if it was over.
    pub(crate) fn record_fsync(&self, took: Duration, segment: u64) -> bool {
        self.fsync_time.record(took);
        // ZooKeeper compares whole ms: a sync exactly at the threshold is not over it.
        let ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX);
        let threshold = self.fsync_warning_threshold_ms.load(Ordering::Relaxed);
        if ms <= threshold {
            return false;
        }
        self.fsync_threshold_exceeded
            .fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            took_ms = ms,
            threshold_ms = threshold,
            segment,
            "fsync-ing the write ahead log took {ms}ms which will adversely effect operation \
             latency. See the ZooKeeper troubleshooting guide"
        );
        true
    }

    /// Records a snapshot saved here (built or installed) holding `zxid`, at `now_ms` (ms
    /// since the Unix epoch).
    pub(crate) fn snapshot_saved(&self, zxid: i64, now_ms: i64) {
        // zxid first: a reader that sees the new time sees at least this zxid.
        self.last_snapshot_zxid.store(zxid, Ordering::Relaxed);
        self.last_snapshot_secs
            .store(now_ms.div_euclid(1000), Ordering::Relaxed);
    }

    /// The last snapshot saved, or loaded at start, if any.
    pub fn last_snapshot(&self) -> Option<LastSnapshot> {
        let timestamp_secs = self.last_snapshot_secs.load(Ordering::Relaxed);
        let zxid = self.last_snapshot_zxid.load(Ordering::Relaxed);
        (timestamp_secs >= 0).then_some(LastSnapshot {
            zxid,
            timestamp_secs,
        })
    }

    /// Records how the state was loaded at start (once; later calls are ignored).
    pub(crate) fn started(&self, startup: Startup) {
        let _ = self.startup.set(startup);
    }

    /// How the state was loaded at start, once Raft has started.
    pub fn startup(&self) -> Option<Startup> {
        self.startup.get().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sync_over_the_threshold_is_counted_one_at_it_is_not() {
        let m = ConsensusMetrics::default();
        assert_eq!(m.fsync_warning_threshold(), Duration::from_secs(1));
        m.set_fsync_warning_threshold(Duration::from_millis(20));
        assert!(!m.record_fsync(Duration::from_micros(300), 1));
        assert!(!m.record_fsync(Duration::from_micros(20_999), 1), "20 ms");
        assert!(m.record_fsync(Duration::from_millis(21), 1));
        assert_eq!(m.fsync_threshold_exceeded.load(Ordering::Relaxed), 1);
        let s = m.fsync_time.snapshot();
        assert_eq!(s.count, 3);
        assert_eq!(s.max_us, 21_000);
    }

    #[test]
    fn last_snapshot_is_none_until_one_is_saved() {
        let m = ConsensusMetrics::default();
        assert_eq!(m.last_snapshot(), None);
        m.snapshot_saved(0x1_0000_0005, 1_700_000_123_999);
        assert_eq!(
            m.last_snapshot(),
            Some(LastSnapshot {
                zxid: 0x1_0000_0005,
                timestamp_secs: 1_700_000_123,
            })
        );
    }

    #[test]
    fn startup_is_recorded_once() {
        let m = ConsensusMetrics::default();
        assert_eq!(m.startup(), None);
        let first = Startup {
            began: Instant::now(),
            snap_load: Duration::from_millis(5),
            txns_load: Duration::from_millis(7),
            txns_loaded: 3,
        };
        m.started(first);
        m.started(Startup {
            txns_loaded: 9,
            ..first
        });
        assert_eq!(m.startup(), Some(first));
        assert_eq!(first.db_init(), Duration::from_millis(12));
    }
}
