//! Everything the node relies on survives closing and reopening the data directory; every
//! range form reads right; corrupt bytes on disk are storage errors, never panics.

mod common;

use std::collections::BTreeMap;
use std::ops::Bound;

use common::log_id;
use common::put_entry;
use common::Entry;
use common::SnapshotMeta;
use common::StoredMembership;
use common::Vote;
use common::TC;
use openraft::storage::RaftLogStorage;
use openraft::storage::RaftLogStorageExt;
use openraft::Membership;
use openraft::RaftLogReader;
use zk_consensus::ClusterMeta;
use zk_consensus::LogStore;
use zk_consensus::MetaError;
use zk_consensus::OpenError;
use zk_consensus::SledStorage;
use zk_consensus::FORMAT_VERSION;

fn entries(term: u64, range: std::ops::RangeInclusive<u64>) -> Vec<Entry> {
    range
        .map(|i| put_entry(term, i, vec![i as u8; 16]))
        .collect()
}

fn indexes(es: &[Entry]) -> Vec<u64> {
    es.iter().map(|e| e.log_id.index).collect()
}

fn peers(n: u64) -> ClusterMeta {
    ClusterMeta {
        node_id: 1,
        peers: (1..=n)
            .map(|i| (i, format!("10.0.0.{i}:9000")))
            .collect::<BTreeMap<_, _>>(),
    }
}

#[tokio::test]
async fn everything_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot_meta = SnapshotMeta {
        last_log_id: Some(log_id(2, 5)),
        last_membership: StoredMembership::new(
            Some(log_id(1, 1)),
            Membership::new_with_defaults(vec![[1, 2, 3].into()], []),
        ),
    };
    {
        let storage = common::open(dir.path());
        let mut log: LogStore<TC> = storage.log_store().unwrap();
        log.blocking_append(entries(1, 1..=3)).await.unwrap();
        log.blocking_append(entries(2, 4..=12)).await.unwrap();
        log.save_vote(&Vote::new_committed(2, 3)).await.unwrap();
        log.save_committed(Some(log_id(2, 9))).await.unwrap();
        log.purge(log_id(2, 5)).await.unwrap();
        log.truncate_after(Some(log_id(2, 10))).await.unwrap();
        storage
            .snapshot_store::<TC>()
            .save(&snapshot_meta, b"tree bytes".to_vec())
            .await
            .unwrap();
        storage.cluster_meta().put(&peers(3)).unwrap();
    }
    // Every handle is dropped: the directory lock is free again.
    let storage = common::open(dir.path());
    let mut log: LogStore<TC> = storage.log_store().unwrap();
    let state = log.get_log_state().await.unwrap();
    assert_eq!(state.last_purged_log_id, Some(log_id(2, 5)));
    assert_eq!(state.last_log_id, Some(log_id(2, 10)));
    assert_eq!(
        log.read_vote().await.unwrap(),
        Some(Vote::new_committed(2, 3))
    );
    assert_eq!(log.read_committed().await.unwrap(), Some(log_id(2, 9)));
    let got = log.try_get_log_entries(..).await.unwrap();
    assert_eq!(got, entries(2, 6..=10));
    let (meta, bytes) = storage
        .snapshot_store::<TC>()
        .load()
        .unwrap()
        .expect("snapshot kept");
    assert_eq!(meta, snapshot_meta);
    assert_eq!(bytes, b"tree bytes");
    let cluster = storage.cluster_meta();
    assert_eq!(cluster.get().unwrap(), Some(peers(3)));
    assert_eq!(cluster.check_or_init(&peers(3)).unwrap(), Some(peers(3)));
    // Other peers are fine (the membership is replicated): the record stays as it was.
    assert_eq!(cluster.check_or_init(&peers(5)).unwrap(), Some(peers(3)));
    let mut other_node = peers(3);
    other_node.node_id = 2;
    let err = cluster.check_or_init(&other_node).unwrap_err();
    assert!(matches!(err, MetaError::Mismatch { .. }), "{err}");
    assert!(err.to_string().contains("refusing"), "{err}");
}

#[tokio::test]
async fn committed_past_the_log_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = LogStore::<TC>::open(dir.path()).unwrap();
    log.blocking_append(entries(1, 1..=3)).await.unwrap();
    log.save_committed(Some(log_id(1, 3))).await.unwrap();
    assert_eq!(log.read_committed().await.unwrap(), Some(log_id(1, 3)));
    log.save_committed(Some(log_id(1, 4))).await.unwrap();
    assert_eq!(log.read_committed().await.unwrap(), None);
    // The same after a restart (the committed record rides on the append's sync).
    log.blocking_append(entries(1, 4..=4)).await.unwrap();
    log.truncate_after(Some(log_id(1, 3))).await.unwrap();
    let released = log.storage().released();
    drop(log);
    released.wait().await;
    let mut log = LogStore::<TC>::open(dir.path()).unwrap();
    assert_eq!(log.read_committed().await.unwrap(), None);
}

#[tokio::test]
async fn fresh_store_is_empty() {
    let dir = tempfile::tempdir().unwrap();
    let storage = common::open(dir.path());
    let mut log: LogStore<TC> = storage.log_store().unwrap();
    let state = log.get_log_state().await.unwrap();
    assert_eq!((state.last_purged_log_id, state.last_log_id), (None, None));
    assert_eq!(log.read_vote().await.unwrap(), None);
    assert_eq!(log.read_committed().await.unwrap(), None);
    assert!(storage.snapshot_store::<TC>().load().unwrap().is_none());
    assert_eq!(storage.cluster_meta().get().unwrap(), None);
}

#[tokio::test]
async fn snapshot_store_keeps_only_the_latest() {
    let dir = tempfile::tempdir().unwrap();
    let storage = common::open(dir.path());
    let snaps = storage.snapshot_store::<TC>();
    for i in 1..=3u64 {
        let meta = SnapshotMeta {
            last_log_id: Some(log_id(1, i * 10)),
            last_membership: StoredMembership::default(),
        };
        snaps
            .save(&meta, vec![i as u8; 1000 * i as usize])
            .await
            .unwrap();
    }
    // An older snapshot finishing late does not replace the newer one.
    let stale = SnapshotMeta {
        last_log_id: Some(log_id(1, 15)),
        last_membership: StoredMembership::default(),
    };
    snaps.save(&stale, b"old state".to_vec()).await.unwrap();
    let (meta, bytes) = snaps.load().unwrap().unwrap();
    assert_eq!(meta.last_log_id, Some(log_id(1, 30)));
    assert_eq!(bytes, vec![3u8; 3000]);
    drop((snaps, storage));
    let raw = zk_consensus::open_sled(dir.path()).unwrap();
    assert_eq!(
        raw.open_tree("raft_snapshot").unwrap().len(),
        1,
        "one record"
    );
    let files = std::fs::read_dir(dir.path().join("snapshots"))
        .unwrap()
        .count();
    assert_eq!(files, 1, "the replaced snapshots' files are removed");
}

#[tokio::test]
async fn every_range_form_reads_right() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = LogStore::<TC>::open(dir.path()).unwrap();
    log.blocking_append(entries(1, 3..=9)).await.unwrap();
    let mut r = log.get_log_reader().await;
    assert_eq!(
        indexes(&r.try_get_log_entries(..).await.unwrap()),
        (3..=9).collect::<Vec<_>>()
    );
    assert_eq!(
        indexes(&r.try_get_log_entries(5..).await.unwrap()),
        vec![5, 6, 7, 8, 9]
    );
    assert_eq!(
        indexes(&r.try_get_log_entries(..5).await.unwrap()),
        vec![3, 4]
    );
    assert_eq!(
        indexes(&r.try_get_log_entries(..=5).await.unwrap()),
        vec![3, 4, 5]
    );
    assert_eq!(
        indexes(&r.try_get_log_entries(4..6).await.unwrap()),
        vec![4, 5]
    );
    assert_eq!(
        indexes(&r.try_get_log_entries(4..=6).await.unwrap()),
        vec![4, 5, 6]
    );
    let ex_in = (Bound::Excluded(4), Bound::Included(6));
    assert_eq!(
        indexes(&r.try_get_log_entries(ex_in).await.unwrap()),
        vec![5, 6]
    );
    let ex_ex = (Bound::Excluded(4), Bound::Excluded(6));
    assert_eq!(
        indexes(&r.try_get_log_entries(ex_ex).await.unwrap()),
        vec![5]
    );
    let ex_unb = (Bound::Excluded(8), Bound::<u64>::Unbounded);
    assert_eq!(
        indexes(&r.try_get_log_entries(ex_unb).await.unwrap()),
        vec![9]
    );
    // Ranges that hold nothing, including inverted ones and ones at the ends of u64.
    assert!(r.try_get_log_entries(6..6).await.unwrap().is_empty());
    #[allow(clippy::reversed_empty_ranges)]
    let inverted = 7..5;
    assert!(r.try_get_log_entries(inverted).await.unwrap().is_empty());
    assert!(r.try_get_log_entries(10..).await.unwrap().is_empty());
    assert!(r.try_get_log_entries(..3).await.unwrap().is_empty());
    let past_max = (Bound::Excluded(u64::MAX), Bound::<u64>::Unbounded);
    assert!(r.try_get_log_entries(past_max).await.unwrap().is_empty());
    assert_eq!(
        indexes(&r.try_get_log_entries(0..=u64::MAX).await.unwrap()).len(),
        7
    );
    assert_eq!(
        indexes(&log.limited_get_log_entries(8, 100).await.unwrap()),
        vec![8, 9]
    );
}

#[tokio::test]
async fn purge_beyond_the_last_entry_leaves_an_empty_log_at_the_purge_point() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = LogStore::<TC>::open(dir.path()).unwrap();
    log.blocking_append(entries(1, 1..=4)).await.unwrap();
    log.purge(log_id(1, 10)).await.unwrap();
    let state = log.get_log_state().await.unwrap();
    assert_eq!(state.last_purged_log_id, Some(log_id(1, 10)));
    assert_eq!(state.last_log_id, Some(log_id(1, 10)));
    assert!(log.try_get_log_entries(..).await.unwrap().is_empty());
}

/// A truncation into the purged part (only a bug could ask for one: purged entries were
/// committed) is refused and changes nothing; one after the purge point goes through.
#[tokio::test]
async fn truncating_into_the_purged_part_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = LogStore::<TC>::open(dir.path()).unwrap();
    log.blocking_append(entries(1, 1..=10)).await.unwrap();
    log.purge(log_id(1, 5)).await.unwrap();
    for last in [None, Some(log_id(1, 3)), Some(log_id(1, 4))] {
        let err = log.truncate_after(last).await.unwrap_err();
        assert!(err.to_string().contains("purged through"), "{err}");
    }
    assert_eq!(
        indexes(&log.try_get_log_entries(..).await.unwrap()),
        (6..=10).collect::<Vec<_>>()
    );
    log.truncate_after(Some(log_id(1, 5))).await.unwrap();
    let state = log.get_log_state().await.unwrap();
    assert_eq!(state.last_log_id, Some(log_id(1, 5)));
    assert!(log.try_get_log_entries(..).await.unwrap().is_empty());
}

/// The accepted index (what a follower's reads wait to see applied) is the last entry the
/// log holds: it follows appends (before their flush completes) and truncations, a purge
/// leaves it, and a reopened log starts from its last entry.
#[tokio::test]
async fn the_accepted_index_is_the_last_entry_held() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut log = LogStore::<TC>::open(dir.path()).unwrap();
        let accepted = log.accepted_index();
        assert_eq!(accepted.get(), 0, "an empty log");
        log.blocking_append(entries(1, 1..=10)).await.unwrap();
        assert_eq!(accepted.get(), 10);
        log.truncate_after(Some(log_id(1, 7))).await.unwrap();
        assert_eq!(accepted.get(), 7, "a truncation takes entries back");
        log.purge(log_id(1, 4)).await.unwrap();
        assert_eq!(accepted.get(), 7, "a purge keeps the last entry");
        log.blocking_append(entries(2, 8..=9)).await.unwrap();
        assert_eq!(accepted.get(), 9);
    }
    let log = LogStore::<TC>::open(dir.path()).unwrap();
    assert_eq!(log.accepted_index().get(), 9, "reopened at its last entry");
}

/// Rewrites raw bytes of the closed database, as a failing disk or a bug might.
fn tamper(dir: &std::path::Path, tree: &str, key: &[u8], value: &[u8]) {
    let db = zk_consensus::open_sled(dir).unwrap();
    db.open_tree(tree).unwrap().insert(key, value).unwrap();
    db.flush().unwrap();
}

/// openraft's storage traits carry `io::Error`s; ours say what was being done.
fn assert_io_error(e: &std::io::Error, doing: &str) {
    assert!(e.to_string().starts_with(doing), "want {doing:?}, got {e}");
}

#[tokio::test]
async fn corrupt_snapshot_record_and_cluster_meta_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    drop(common::open(dir.path()));
    tamper(dir.path(), "raft_meta", b"cluster", &[0x01]);
    tamper(dir.path(), "raft_snapshot", b"meta", &[0xff; 3]);
    let storage = common::open(dir.path());
    let err = storage.snapshot_store::<TC>().load().unwrap_err();
    assert_io_error(&err, "reading the stored snapshot: ");
    assert!(matches!(
        storage.cluster_meta().get(),
        Err(MetaError::Corrupt(_))
    ));
}

#[test]
fn unknown_format_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(SledStorage::open(dir.path()).unwrap());
    tamper(
        dir.path(),
        "raft_meta",
        b"store_meta",
        &postcard::to_stdvec(&99u32).unwrap(),
    );
    let err = SledStorage::open(dir.path()).unwrap_err();
    assert!(
        matches!(
            err,
            OpenError::UnsupportedFormat {
                found: 99,
                supported: FORMAT_VERSION,
                ..
            }
        ),
        "{err}"
    );
    let msg = err.to_string();
    assert!(msg.contains("format version 99"), "{msg}");
    assert!(
        msg.contains("wal/") && msg.contains("sled"),
        "names both formats: {msg}"
    );
    tamper(dir.path(), "raft_meta", b"store_meta", &[]);
    let err = SledStorage::open(dir.path()).unwrap_err();
    assert!(matches!(err, OpenError::CorruptMeta { .. }), "{err}");
}

#[test]
fn unusable_dir_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let err = SledStorage::open(&file).unwrap_err();
    assert!(matches!(err, OpenError::Dir { .. }), "{err}");
    assert!(err.to_string().contains("not-a-dir"), "{err}");

    // The same directory twice: sled's lock refuses the second.
    let held = SledStorage::open(dir.path().join("db")).unwrap();
    let err = SledStorage::open(held.path()).unwrap_err();
    assert!(matches!(err, OpenError::Sled { .. }), "{err}");
}
