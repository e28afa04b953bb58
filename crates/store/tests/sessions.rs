//! Ephemerals and close/expire (S6.3): a session's ephemerals go atomically, in one txn, with
//! the node and parent watches firing; the owner index answers getEphemerals.

mod common;

use common::*;
use zk_store::{OpResult, Trigger, Txn, WatchRegistry};
use zk_wire::{CreateMode, EventType};

fn trig(path: &str, event: EventType) -> Trigger {
    Trigger {
        path: path.into(),
        event,
    }
}

#[test]
fn ephemeral_owner_is_the_session() {
    let mut t = T::new();
    t.session = 0x1234;
    let (_, s) = t
        .create_full(
            "/e",
            b"",
            zk_wire::Acl::open_unsafe(),
            CreateMode::Ephemeral,
            None,
        )
        .unwrap();
    assert_eq!(s.ephemeral_owner, 0x1234);
    assert_eq!(t.tree.ephemerals(0x1234, "/"), vec!["/e"]);
}

#[test]
fn s6_3_close_session_deletes_all_ephemerals_and_fires_watches() {
    let mut t = T::new();
    t.create("/app").unwrap();
    t.create("/other").unwrap();
    t.session = 7;
    t.create_mode("/app/e1", CreateMode::Ephemeral).unwrap();
    t.create_mode("/app/e2", CreateMode::EphemeralSequential)
        .unwrap();
    t.create_mode("/other/e3", CreateMode::Ephemeral).unwrap();
    t.session = 8;
    t.create_mode("/app/keep", CreateMode::Ephemeral).unwrap();

    let mut w: WatchRegistry<u32> = WatchRegistry::new();
    w.add_data_watch("/app/e1", 1);
    w.add_child_watch("/app", 2);
    w.add_child_watch("/other", 2);
    w.add_data_watch("/app/keep", 3);

    let a = t.apply(Txn::CloseSession { session_id: 7 });
    assert_eq!(
        a.result,
        Ok(OpResult::SessionsClosed(vec![
            "/app/e1".into(),
            "/app/e20000000001".into(),
            "/other/e3".into()
        ]))
    );
    assert_eq!(
        a.triggers,
        vec![
            trig("/app/e1", EventType::NodeDeleted),
            trig("/app", EventType::NodeChildrenChanged),
            trig("/app/e20000000001", EventType::NodeDeleted),
            trig("/app", EventType::NodeChildrenChanged),
            trig("/other/e3", EventType::NodeDeleted),
            trig("/other", EventType::NodeChildrenChanged),
        ]
    );
    assert_eq!(t.children("/app"), vec!["keep"]);
    assert!(t.tree.ephemerals(7, "/").is_empty());
    assert_eq!(t.tree.ephemerals(8, "/"), vec!["/app/keep"]);
    // All deletions share the txn's zxid.
    assert_eq!(t.stat("/app").pzxid, t.zxid);
    assert_eq!(t.stat("/other").pzxid, t.zxid);

    let ev = w.trigger(&a.triggers);
    let got: Vec<(u32, EventType, &str)> = ev
        .iter()
        .map(|(w, e)| (*w, e.event_type, e.path.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            (1, EventType::NodeDeleted, "/app/e1"),
            (2, EventType::NodeChildrenChanged, "/app"),
            (2, EventType::NodeChildrenChanged, "/other"),
        ]
    );
}

#[test]
fn s6_3_expire_batch_closes_each_session() {
    let mut t = T::new();
    for s in [1, 2, 3] {
        t.session = s;
        t.create_mode(&format!("/e{s}"), CreateMode::Ephemeral)
            .unwrap();
    }
    let a = t.apply(Txn::ExpireSessions(vec![3, 1, 99]));
    assert_eq!(
        a.result,
        Ok(OpResult::SessionsClosed(vec!["/e3".into(), "/e1".into()]))
    );
    assert!(t.tree.stat("/e2").is_some());
    assert_eq!(
        t.tree.sessions_with_ephemerals().collect::<Vec<_>>(),
        vec![2]
    );
}

#[test]
fn closing_a_session_without_ephemerals_is_a_no_op() {
    let mut t = T::new();
    let a = t.apply(Txn::CloseSession { session_id: 5 });
    assert_eq!(a.result, Ok(OpResult::SessionsClosed(vec![])));
    assert!(a.triggers.is_empty());
}

#[test]
fn deleted_ephemeral_leaves_the_owner_index() {
    let mut t = T::new();
    t.session = 9;
    t.create_mode("/e", CreateMode::Ephemeral).unwrap();
    t.delete("/e", -1).unwrap();
    assert!(t.tree.ephemerals(9, "/").is_empty());
    let a = t.apply(Txn::CloseSession { session_id: 9 });
    assert!(a.triggers.is_empty());
}

#[test]
fn get_ephemerals_prefix_is_a_string_prefix() {
    // Measured: prefix "/p2/c" matches "/p2/c/x"; "" and "/" mean all; "/nope" none.
    let mut t = T::new();
    t.create("/p2").unwrap();
    t.create("/p2/c").unwrap();
    t.session = 4;
    t.create_mode("/p2/c/x", CreateMode::Ephemeral).unwrap();
    t.create_mode("/p2/cx", CreateMode::Ephemeral).unwrap();
    assert_eq!(t.tree.ephemerals(4, "/p2/c"), vec!["/p2/c/x", "/p2/cx"]);
    assert_eq!(t.tree.ephemerals(4, "").len(), 2);
    assert_eq!(t.tree.ephemerals(4, "/").len(), 2);
    assert!(t.tree.ephemerals(4, "/nope").is_empty());
    assert!(t.tree.ephemerals(5, "/").is_empty());
}

#[test]
fn system_txn_ephemeral_is_plain() {
    // ZooKeeper stores owner 0 for a session-less ephemeral: it is an ordinary node.
    let mut t = T::new();
    t.session = 0;
    t.create_mode("/e", CreateMode::Ephemeral).unwrap();
    assert_eq!(t.stat("/e").ephemeral_owner, 0);
    assert!(t.create("/e/child").is_ok());
}
