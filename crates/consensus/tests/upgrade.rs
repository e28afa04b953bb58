//! A data directory written by format version 3 (the Raft log in sled) is upgraded in place
//! to version 4 (the log in `wal/`) when its log is first opened.
//!
//! `fixtures/sled-format-3` was written by the release before the change (commit 10d311f)
//! through its public API, with the steps of `everything_survives_reopen` in durability.rs:
//! entries 1..=3 in term 1 and 4..=12 in term 2 (value: 16 bytes of the index), vote
//! (term 2, node 3, committed), committed id (2, 9), purge through (2, 5), truncation from
//! (2, 11), a snapshot at (2, 5) holding `tree bytes`, and the cluster meta of node 1 of
//! three peers.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::log_id;
use common::put_entry;
use common::Entry;
use common::Vote;
use common::TC;
use openraft::storage::RaftLogStorage;
use openraft::RaftLogReader;
use zk_consensus::ClusterMeta;
use zk_consensus::LogStore;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/sled-format-3");

fn entries(term: u64, range: std::ops::RangeInclusive<u64>) -> Vec<Entry> {
    range
        .map(|i| put_entry(term, i, vec![i as u8; 16]))
        .collect()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("create {to:?}: {e}"));
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("read {from:?}: {e}")) {
        let entry = entry.unwrap_or_else(|e| panic!("read {from:?}: {e}"));
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target)
                .unwrap_or_else(|e| panic!("copy {:?}: {e}", entry.path()));
        }
    }
}

/// Everything the old log held is in the new one, the small records stay in sled.
async fn check_upgraded(dir: &Path) {
    let storage = common::open(dir);
    let mut log: LogStore<TC> = storage
        .log_store()
        .unwrap_or_else(|e| panic!("open the log: {e}"));
    let state = log.get_log_state().await.unwrap();
    assert_eq!(state.last_purged_log_id, Some(log_id(2, 5)));
    assert_eq!(state.last_log_id, Some(log_id(2, 10)));
    assert_eq!(
        log.read_vote().await.unwrap(),
        Some(Vote::new_committed(2, 3))
    );
    assert_eq!(log.read_committed().await.unwrap(), Some(log_id(2, 9)));
    assert_eq!(
        log.try_get_log_entries(..).await.unwrap(),
        entries(2, 6..=10)
    );
    let (meta, bytes) = storage
        .snapshot_store::<TC>()
        .load()
        .unwrap()
        .expect("snapshot kept");
    assert_eq!(meta.last_log_id, Some(log_id(2, 5)));
    assert_eq!(bytes, b"tree bytes");
    let peers: BTreeMap<u64, String> = (1..=3).map(|i| (i, format!("10.0.0.{i}:9000"))).collect();
    assert_eq!(
        storage.cluster_meta().get().unwrap(),
        Some(ClusterMeta { node_id: 1, peers })
    );
}

#[tokio::test]
async fn a_format_3_directory_is_upgraded_in_place_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    copy_dir(Path::new(FIXTURE), &dir);
    assert!(!dir.join("wal").exists(), "the fixture has no new log");
    check_upgraded(&dir).await;
    assert!(dir.join("wal").is_dir());

    // sled no longer holds the log: the raft_log tree is gone, and so are vote, purge point
    // and committed id.
    {
        let db = zk_consensus::open_sled(&dir).unwrap();
        let trees: Vec<Vec<u8>> = db.tree_names().into_iter().map(|n| n.to_vec()).collect();
        assert!(!trees.contains(&b"raft_log".to_vec()), "{trees:?}");
        let meta = db.open_tree("raft_meta").unwrap();
        for key in [&b"vote"[..], b"last_purged", b"committed"] {
            assert_eq!(
                meta.get(key).unwrap(),
                None,
                "{}",
                String::from_utf8_lossy(key)
            );
        }
    }

    // A second start finds format 4 and reads the new log as it is; new writes land there.
    check_upgraded(&dir).await;
    takes_new_writes(&dir).await;
}

/// An entry appended to the opened log is there after a reopen.
async fn takes_new_writes(dir: &Path) {
    {
        let mut log = LogStore::<TC>::open(dir).unwrap();
        openraft::storage::RaftLogStorageExt::blocking_append(&mut log, entries(3, 11..=11))
            .await
            .unwrap();
    }
    let mut log = LogStore::<TC>::open(dir).unwrap();
    assert_eq!(
        log.get_log_state().await.unwrap().last_log_id,
        Some(log_id(3, 11))
    );
}

/// A crash during the upgrade leaves format 3 and a partial `wal/`; the next start
/// throws that away and upgrades again from the intact sled log.
#[tokio::test]
async fn an_interrupted_upgrade_starts_over() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    copy_dir(Path::new(FIXTURE), &dir);
    std::fs::create_dir_all(dir.join("wal")).unwrap();
    std::fs::write(dir.join("wal/00000000000000000001.wal"), b"half a chunk").unwrap();
    check_upgraded(&dir).await;
}

/// `fixtures/wal-format-4` was written by the release on openraft 0.9 (commit 37eb2f8) with
/// the same steps as the format-3 fixture; its one segment is cut to its first 4 KiB (the
/// rest was preallocated zeros). A later build on another openraft opens it unchanged: the
/// records hold openraft's log ids, votes, entries and membership, whose serialized layout
/// both versions share.
const FIXTURE_4: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/wal-format-4");

#[tokio::test]
async fn a_format_4_directory_opens_unchanged() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    copy_dir(Path::new(FIXTURE_4), &dir);
    check_upgraded(&dir).await;
    takes_new_writes(&dir).await;
}
