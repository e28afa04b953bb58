//! Snapshot bytes live in files of their own (`<data-dir>/snapshots/`), described by a record
//! in sled: a damaged or missing file is a storage error, files no record names are removed
//! at open (a save cut off between its file and its record), and a load racing saves always
//! finds a whole snapshot.

mod common;

use std::path::Path;
use std::path::PathBuf;

use common::log_id;
use common::SnapshotMeta;
use common::StoredMembership;
use common::TC;

fn meta(index: u64) -> SnapshotMeta {
    SnapshotMeta {
        last_log_id: Some(log_id(1, index)),
        last_membership: StoredMembership::default(),
    }
}

/// Every file in the snapshot directory.
fn files(data_dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(data_dir.join("snapshots"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

/// A data dir holding one saved snapshot `s1` of `bytes`; the path of its file.
async fn saved(dir: &Path, bytes: &[u8]) -> PathBuf {
    let storage = common::open(dir);
    storage
        .snapshot_store::<TC>()
        .save(&meta(10), bytes.to_vec())
        .await
        .unwrap();
    drop(storage);
    let f = files(dir);
    assert_eq!(f.len(), 1, "{f:?}");
    f[0].clone()
}

fn load_error(dir: &Path) -> String {
    let storage = common::open(dir);
    let err = storage.snapshot_store::<TC>().load().unwrap_err();
    err.to_string()
}

#[tokio::test]
async fn the_bytes_are_in_a_file_not_in_sled() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = vec![7u8; 200_000];
    let file = saved(dir.path(), &bytes).await;
    assert_eq!(std::fs::read(&file).unwrap(), bytes);
    let raw = zk_consensus::open_sled(dir.path()).unwrap();
    let record = raw
        .open_tree("raft_snapshot")
        .unwrap()
        .get(b"meta")
        .unwrap()
        .unwrap();
    assert!(record.len() < 1_000, "record is {} bytes", record.len());
}

#[tokio::test]
async fn a_damaged_file_is_a_storage_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = saved(dir.path(), b"the state machine's bytes").await;
    let mut b = std::fs::read(&file).unwrap();
    b[3] ^= 0x01;
    std::fs::write(&file, &b).unwrap();
    let err = load_error(dir.path());
    assert!(err.contains("crc32"), "{err}");
}

#[tokio::test]
async fn a_short_file_is_a_storage_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = saved(dir.path(), b"the state machine's bytes").await;
    let b = std::fs::read(&file).unwrap();
    std::fs::write(&file, &b[..b.len() - 1]).unwrap();
    let err = load_error(dir.path());
    assert!(err.contains("24 bytes, the record says 25"), "{err}");
}

#[tokio::test]
async fn a_missing_file_is_a_storage_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = saved(dir.path(), b"the state machine's bytes").await;
    std::fs::remove_file(&file).unwrap();
    let err = load_error(dir.path());
    assert!(err.contains("missing"), "{err}");
}

#[tokio::test]
async fn files_no_record_names_are_removed_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let file = saved(dir.path(), b"kept").await;
    // What a save cut off before its record was flushed leaves: a temporary file, or a
    // whole file the record does not name yet.
    let snaps = dir.path().join("snapshots");
    std::fs::write(
        snaps.join("00000000000000000020-00000000deadbeef.snap.tmp"),
        b"half",
    )
    .unwrap();
    std::fs::write(
        snaps.join("00000000000000000020-00000000deadbeef.snap"),
        b"whole",
    )
    .unwrap();
    let storage = common::open(dir.path());
    assert_eq!(files(dir.path()), vec![file]);
    let (m, bytes) = storage.snapshot_store::<TC>().load().unwrap().unwrap();
    assert_eq!(
        (m.last_log_id, bytes.as_slice()),
        (Some(log_id(1, 10)), &b"kept"[..])
    );
}

#[tokio::test]
async fn nothing_is_removed_while_the_record_is_unreadable() {
    let dir = tempfile::tempdir().unwrap();
    let file = saved(dir.path(), b"kept").await;
    let db = zk_consensus::open_sled(dir.path()).unwrap();
    db.open_tree("raft_snapshot")
        .unwrap()
        .insert(b"meta", &[0xff; 3])
        .unwrap();
    db.flush().unwrap();
    drop(db);
    let storage = common::open(dir.path());
    assert_eq!(files(dir.path()), vec![file]);
    assert!(storage.snapshot_store::<TC>().load().is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_racing_saves_finds_a_whole_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let storage = common::open(dir.path());
    let store = storage.snapshot_store::<TC>();
    store.save(&meta(1), vec![1; 4096]).await.unwrap();
    let saver = {
        let store = store.clone();
        tokio::spawn(async move {
            for i in 2..=60u64 {
                store.save(&meta(i), vec![i as u8; 4096]).await.unwrap();
            }
        })
    };
    let reader = {
        let store = store.clone();
        tokio::task::spawn_blocking(move || {
            let mut loads = 0;
            let mut last = 0;
            loop {
                let (m, bytes) = store.load().unwrap().unwrap();
                let index = m.last_log_id.unwrap().index;
                assert!(index >= last, "went back from {last} to {index}");
                assert_eq!(bytes, vec![index as u8; 4096], "snapshot {index}");
                last = index;
                loads += 1;
                if index == 60 {
                    return loads;
                }
            }
        })
    };
    saver.await.unwrap();
    let loads = reader.await.unwrap();
    assert!(loads > 1, "{loads}");
    assert_eq!(files(dir.path()).len(), 1);
}
