//! A data dir seeded from a state (what `zk-admin import-zookeeper` writes) opens holding
//! that state as its snapshot at the seed's log position, its log purged up to it, its
//! cluster meta recorded; a non-empty directory is never seeded.

use std::collections::BTreeMap;

use openraft::storage::RaftLogStorage;
use zk_consensus::{
    decode_state, seed_data_dir, seed_log_id, ClusterMeta, LogStore, SeedError, SledStorage, State,
    TypeConfig,
};
use zk_store::TreeConfig;

#[tokio::test]
async fn a_seeded_dir_opens_with_the_state() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("data");
    let mut state = State::new(TreeConfig::default());
    state.last_zxid = 0x3_0000_0010;
    state.zookeeper_sessions.insert(77);
    let peers: BTreeMap<u64, String> = (1..=3).map(|i| (i, format!("h{i}:2888"))).collect();
    seed_data_dir(&target, 2, peers.clone(), state.clone())
        .await
        .unwrap();

    let storage = SledStorage::open(&target).unwrap();
    assert_eq!(
        storage.cluster_meta().get().unwrap(),
        Some(ClusterMeta { node_id: 2, peers })
    );
    let (meta, bytes) = storage
        .snapshot_store::<TypeConfig>()
        .load()
        .unwrap()
        .expect("a snapshot");
    assert_eq!(meta.last_log_id, Some(seed_log_id()));
    let voters: Vec<u64> = meta.last_membership.membership().voter_ids().collect();
    assert_eq!(voters, [1, 2, 3]);
    let loaded = decode_state(&bytes, TreeConfig::default()).unwrap();
    assert_eq!(loaded.tree, state.tree);
    assert_eq!(loaded.last_zxid, state.last_zxid);
    assert_eq!(loaded.zookeeper_sessions, state.zookeeper_sessions);
    assert_eq!(loaded.last_applied, Some(seed_log_id()));
    let mut log: LogStore<TypeConfig> = storage.log_store().unwrap();
    let st = log.get_log_state().await.unwrap();
    assert_eq!(st.last_purged_log_id, Some(seed_log_id()));
    assert_eq!(st.last_log_id, Some(seed_log_id()));
}

#[tokio::test]
async fn a_non_empty_dir_or_a_stranger_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("something"), b"x").unwrap();
    let state = State::new(TreeConfig::default());
    let peers: BTreeMap<u64, String> = [(1, "standalone".to_string())].into();
    let e = seed_data_dir(dir.path(), 1, peers.clone(), state.clone())
        .await
        .unwrap_err();
    assert!(matches!(e, SeedError::NotEmpty(_)), "{e}");
    let empty = tempfile::tempdir().unwrap();
    let e = seed_data_dir(empty.path(), 2, peers, state)
        .await
        .unwrap_err();
    assert!(matches!(e, SeedError::NotAMember { .. }), "{e}");
    assert_eq!(std::fs::read_dir(empty.path()).unwrap().count(), 0);
}
