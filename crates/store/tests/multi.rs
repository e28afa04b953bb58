//! multi (R7): all or nothing; failed multis report Ok (kazoo's RolledBackError) for earlier
//! ops, the real error, RuntimeInconsistency after, fire no watches and change nothing.

mod common;

use common::*;
use zk_store::{OpResult, Txn};
use zk_wire::{Acl, CreateMode, ErrorCode, EventType};

fn del(p: &str) -> Txn {
    Txn::Delete {
        path: p.into(),
        version: -1,
    }
}
fn set(p: &str, v: i32) -> Txn {
    Txn::SetData {
        path: p.into(),
        data: Some(b"x".to_vec()),
        version: v,
    }
}
fn check(p: &str, v: i32) -> Txn {
    Txn::Check {
        path: p.into(),
        version: v,
    }
}

#[test]
fn r7_failed_multi_results() {
    // Measured: [create a, create b, create a, delete zz, setData] →
    // [RolledBack, RolledBack, NodeExists, RuntimeInconsistency, RuntimeInconsistency].
    let mut t = T::new();
    t.create("/m").unwrap();
    let before = t.tree.clone();
    let a = t.apply(Txn::Multi(vec![
        create_txn("/m/a"),
        create_txn("/m/b"),
        create_txn("/m/a"),
        del("/m/zz"),
        set("/m", -1),
    ]));
    assert_eq!(
        a.result,
        Ok(OpResult::Multi(vec![
            OpResult::Error(ErrorCode::Ok),
            OpResult::Error(ErrorCode::Ok),
            OpResult::Error(ErrorCode::NodeExists),
            OpResult::Error(ErrorCode::RuntimeInconsistency),
            OpResult::Error(ErrorCode::RuntimeInconsistency),
        ]))
    );
    assert_eq!(a.error(), ErrorCode::NodeExists);
    assert!(a.triggers.is_empty());
    // Nothing changed but the last zxid.
    assert!(t.tree.stat("/m/a").is_none());
    assert!(t.tree.stat("/m/b").is_none());
    assert_eq!(t.tree.stat("/m"), before.stat("/m"));
    assert_eq!(t.tree.node_count(), before.node_count());
}

#[test]
fn r7_failure_on_first_op() {
    // Measured: [check /m v5, create] → [BadVersion, RuntimeInconsistency].
    let mut t = T::new();
    t.create("/m").unwrap();
    let a = t.apply(Txn::Multi(vec![check("/m", 5), create_txn("/m/a")]));
    assert_eq!(
        a.result,
        Ok(OpResult::Multi(vec![
            OpResult::Error(ErrorCode::BadVersion),
            OpResult::Error(ErrorCode::RuntimeInconsistency),
        ]))
    );
}

#[test]
fn successful_multi_sees_its_own_effects() {
    // Measured: [seq create, seq create, setData, check v1, delete first] →
    // [/m/s0000000000, /m/s0000000001, stat{version 1, cversion 2}, ok, ok]; then cversion 3.
    let mut t = T::new();
    t.create("/m").unwrap();
    let seq = Txn::Create {
        path: "/m/s".into(),
        data: None,
        acl: Acl::open_unsafe(),
        mode: CreateMode::PersistentSequential,
        ttl: None,
    };
    let a = t.apply(Txn::Multi(vec![
        seq.clone(),
        seq,
        set("/m", -1),
        check("/m", 1),
        del("/m/s0000000000"),
    ]));
    let Ok(OpResult::Multi(rs)) = &a.result else {
        panic!("{a:?}")
    };
    assert!(matches!(&rs[0], OpResult::Created { path, .. } if path == "/m/s0000000000"));
    assert!(matches!(&rs[1], OpResult::Created { path, .. } if path == "/m/s0000000001"));
    let OpResult::DataSet(s) = &rs[2] else {
        panic!()
    };
    assert_eq!((s.version, s.cversion, s.num_children), (1, 2, 2));
    assert_eq!(rs[3], OpResult::Checked);
    assert_eq!(rs[4], OpResult::Deleted);
    assert_eq!(a.error(), ErrorCode::Ok);
    assert_eq!(t.stat("/m").cversion, 3);
    // Every op of a multi has the multi's zxid.
    assert_eq!(t.stat("/m/s0000000001").czxid, t.zxid);
    assert_eq!(t.stat("/m").mzxid, t.zxid);
}

#[test]
fn multi_triggers_in_op_order() {
    // Measured: [create /m/new, setData /m, delete /m/new] fired NodeCreated /m/new,
    // NodeChildrenChanged /m, NodeDataChanged /m for a client with those watches.
    let mut t = T::new();
    t.create("/m").unwrap();
    let a = t.apply(Txn::Multi(vec![
        create_txn("/m/new"),
        set("/m", -1),
        del("/m/new"),
    ]));
    let kinds: Vec<(&str, EventType)> = a
        .triggers
        .iter()
        .map(|x| (x.path.as_str(), x.event))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("/m/new", EventType::NodeCreated),
            ("/m", EventType::NodeChildrenChanged),
            ("/m", EventType::NodeDataChanged),
            ("/m/new", EventType::NodeDeleted),
            ("/m", EventType::NodeChildrenChanged),
        ]
    );
}

#[test]
fn rollback_restores_deleted_nodes_acls_and_ephemerals() {
    let mut t = T::new();
    t.create("/r").unwrap();
    t.create_acl("/r/odd", vec![common::acl(31, "digest", "u:h")])
        .unwrap();
    t.session = 5;
    t.create_mode("/r/e", CreateMode::Ephemeral).unwrap();
    t.set("/r", b"before", -1).unwrap();
    let before = t.tree.clone();
    let digest_before = before.digest();
    // Delete the only node with the digest ACL (frees its slot), create nodes with a new ACL
    // (may reuse the slot), change data, then fail.
    t.ids.push(zk_wire::Id::new("digest", "u:h"));
    let a = t.apply(Txn::Multi(vec![
        del("/r/odd"),
        del("/r/e"),
        Txn::Create {
            path: "/r/n".into(),
            data: None,
            acl: Acl::read_unsafe(),
            mode: CreateMode::Ephemeral,
            ttl: None,
        },
        set("/r", -1),
        create_txn("/r/n"),
    ]));
    assert_eq!(a.error(), ErrorCode::NodeExists);
    // Logically identical except the zxid that the failed txn consumed.
    assert_eq!(t.tree.get_acl("/r/odd", &t.ids).unwrap().0[0].id.id, "u:h");
    assert_eq!(t.tree.ephemerals(5, "/"), vec!["/r/e"]);
    assert_eq!(t.tree.get_data("/r", &[]).unwrap().0, Some(&b"before"[..]));
    assert_eq!(t.stat("/r"), before.stat("/r").unwrap());
    assert!(t.tree.stat("/r/n").is_none());
    let mut t2 = before.clone();
    t2.apply(
        &zk_store::TxnContext::system(t.zxid, 0),
        &Txn::Check {
            path: "/".into(),
            version: -1,
        },
    );
    assert_eq!(t.tree, t2);
    assert_eq!(t.tree.digest(), t2.digest());
    assert_ne!(digest_before, t2.digest());
}

#[test]
fn multi_rejects_ops_it_cannot_carry() {
    let mut t = T::new();
    let a = t.apply(Txn::Multi(vec![Txn::CloseSession { session_id: 1 }]));
    assert_eq!(a.result, Err(ErrorCode::MarshallingError));
    let a = t.apply(Txn::Multi(vec![Txn::Multi(vec![])]));
    assert_eq!(a.result, Err(ErrorCode::MarshallingError));
}

#[test]
fn empty_multi_is_ok() {
    // Measured: an empty transaction returns [].
    let mut t = T::new();
    let a = t.apply(Txn::Multi(vec![]));
    assert_eq!(a.result, Ok(OpResult::Multi(vec![])));
}
