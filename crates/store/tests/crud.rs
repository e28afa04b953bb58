//! CRUD, stat fields, versions and the errors of create/delete/setData/setACL/check, as
//! ZooKeeper 3.8.0 answers them (measured against the reference with kazoo).

mod common;

use common::*;
use zk_store::{DataTree, OpResult, Txn};
use zk_wire::{Acl, CreateMode, ErrorCode, Stat};

#[test]
fn fresh_tree_matches_a_new_zookeeper() {
    // Measured: ls / = [zookeeper]; ls /zookeeper = [config, quota]; / has cversion -1 and
    // /zookeeper -2 (2*creations - children); /zookeeper/config is READ-only with aversion -1.
    let t = DataTree::default();
    assert_eq!(t.get_children("/", &[]).unwrap().0, vec!["zookeeper"]);
    assert_eq!(
        t.get_children("/zookeeper", &[]).unwrap().0,
        vec!["config", "quota"]
    );
    let root = t.stat("/").unwrap();
    assert_eq!(root.cversion, -1);
    assert_eq!(root.num_children, 1);
    assert_eq!(root.czxid, 0);
    assert_eq!(t.stat("/zookeeper").unwrap().cversion, -2);
    assert_eq!(t.stat("/zookeeper/quota").unwrap().cversion, 0);
    let (acl, stat) = t.get_acl("/zookeeper/config", &[]).unwrap();
    assert_eq!(&*acl, &Acl::read_unsafe()[..]);
    assert_eq!(stat.aversion, -1);
    assert_eq!(
        t.get_acl("/", &[]).unwrap().0.as_ref(),
        &Acl::open_unsafe()[..]
    );
    assert_eq!(t.all_children_number("/", &[]).unwrap(), 3);
    assert_eq!(t.node_count(), 4);
}

#[test]
fn create_sets_every_stat_field() {
    let mut t = T::new();
    t.zxid = 41;
    let (p, s) = t
        .create_full(
            "/a",
            b"hello",
            Acl::open_unsafe(),
            CreateMode::Persistent,
            None,
        )
        .unwrap();
    assert_eq!(p, "/a");
    assert_eq!(
        s,
        Stat {
            czxid: 42,
            mzxid: 42,
            ctime: 42_000,
            mtime: 42_000,
            version: 0,
            cversion: 0,
            aversion: 0,
            ephemeral_owner: 0,
            data_length: 5,
            num_children: 0,
            pzxid: 42,
        }
    );
    // The parent's child list changed: pzxid and cversion move, mzxid does not.
    let root = t.stat("/");
    assert_eq!(root.pzxid, 42);
    assert_eq!(root.cversion, 0); // 2*1 creations - 2 children
    assert_eq!(root.mzxid, 0);
    assert_eq!(root.num_children, 2);
    let (data, st) = t.tree.get_data("/a", &[]).unwrap();
    assert_eq!(data, Some(&b"hello"[..]));
    assert_eq!(st, s);
}

#[test]
fn set_data_moves_version_mzxid_mtime_only() {
    let mut t = T::new();
    t.create("/a").unwrap();
    let before = t.stat("/a");
    t.time = Some(777);
    let s = t.set("/a", b"xyz", 0).unwrap();
    assert_eq!(s.version, 1);
    assert_eq!(s.mzxid, t.zxid);
    assert_eq!(s.mtime, 777);
    assert_eq!(s.data_length, 3);
    assert_eq!(s.czxid, before.czxid);
    assert_eq!(s.ctime, before.ctime);
    assert_eq!(s.pzxid, before.pzxid);
    assert_eq!(s.cversion, before.cversion);
    // Version check: -1 is any; a stale version is BadVersion and changes nothing.
    assert_eq!(t.set("/a", b"q", 0), Err(ErrorCode::BadVersion));
    assert_eq!(t.stat("/a"), s);
    assert_eq!(t.set("/a", b"q", -1).unwrap().version, 2);
    assert_eq!(t.set("/a", b"q", 2).unwrap().version, 3);
}

#[test]
fn null_data_stays_null() {
    let mut t = T::new();
    let a = t.apply(Txn::Create {
        path: "/n".into(),
        data: None,
        acl: Acl::open_unsafe(),
        mode: CreateMode::Persistent,
        ttl: None,
    });
    assert!(a.result.is_ok());
    let (d, s) = t.tree.get_data("/n", &[]).unwrap();
    assert_eq!(d, None);
    assert_eq!(s.data_length, 0);
}

#[test]
fn set_acl_moves_aversion_only() {
    let mut t = T::new();
    t.create("/a").unwrap();
    let before = t.stat("/a");
    let s = t.set_acl("/a", Acl::read_unsafe(), 0).unwrap();
    assert_eq!(s.aversion, 1);
    assert_eq!(s.mzxid, before.mzxid);
    assert_eq!(s.version, before.version);
    assert_eq!(
        t.set_acl("/a", Acl::read_unsafe(), 0),
        Err(ErrorCode::NoAuth)
    );
}

#[test]
fn set_acl_version_mismatch_is_bad_version() {
    let mut t = T::new();
    t.create("/a").unwrap();
    assert_eq!(
        t.set_acl("/a", Acl::open_unsafe(), 3),
        Err(ErrorCode::BadVersion)
    );
    assert_eq!(t.set_acl("/a", Acl::open_unsafe(), 0).unwrap().aversion, 1);
}

#[test]
fn delete_errors_in_zookeeper_order() {
    let mut t = T::new();
    t.create("/p").unwrap();
    t.create("/p/c").unwrap();
    // Measured: non-empty with -1 → NotEmpty; non-empty with a wrong version → BadVersion
    // (the version is checked first); missing → NoNode; missing parent → NoNode.
    assert_eq!(t.delete("/p", -1), Err(ErrorCode::NotEmpty));
    assert_eq!(t.delete("/p", 99), Err(ErrorCode::BadVersion));
    assert_eq!(t.delete("/p/missing", 99), Err(ErrorCode::NoNode));
    assert_eq!(t.delete("/nope/missing", 99), Err(ErrorCode::NoNode));
    let before = t.stat("/p");
    t.delete("/p/c", 0).unwrap();
    let after = t.stat("/p");
    assert_eq!(after.pzxid, t.zxid);
    assert_eq!(after.num_children, 0);
    // Visible cversion counts the deletion too: 2*1 - 0.
    assert_eq!(after.cversion, before.cversion + 1);
    assert_eq!(after.mzxid, before.mzxid);
    t.delete("/p", -1).unwrap();
    assert!(t.tree.stat("/p").is_none());
}

#[test]
fn special_paths_cannot_be_deleted() {
    // Measured: delete of /, /zookeeper, /zookeeper/quota, /zookeeper/config → BadArguments.
    let mut t = T::new();
    for p in ["/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"] {
        assert_eq!(t.delete(p, -1), Err(ErrorCode::BadArguments), "{p}");
    }
}

#[test]
fn writes_under_zookeeper() {
    // Measured: creating under /zookeeper and /zookeeper/quota works, setData on /zookeeper
    // works; /zookeeper/config is READ-only so create under it and setData on it are NoAuth.
    let mut t = T::new();
    assert_eq!(t.create("/zookeeper/foo").unwrap(), "/zookeeper/foo");
    assert_eq!(
        t.create("/zookeeper/quota/foo").unwrap(),
        "/zookeeper/quota/foo"
    );
    assert_eq!(t.create("/zookeeper/config/foo"), Err(ErrorCode::NoAuth));
    assert_eq!(t.set("/zookeeper/config", b"x", -1), Err(ErrorCode::NoAuth));
    let s = t.set("/zookeeper", b"x", -1).unwrap();
    assert_eq!(s.cversion, -1); // 1 creation * 2 - 3 children, as measured
    assert_eq!(s.num_children, 3);
}

#[test]
fn create_errors() {
    let mut t = T::new();
    assert_eq!(t.create("/"), Err(ErrorCode::NodeExists)); // measured
    t.create("/a").unwrap();
    assert_eq!(t.create("/a"), Err(ErrorCode::NodeExists));
    assert_eq!(t.create("/missing/x"), Err(ErrorCode::NoNode));
    // Trailing slash under a missing parent is NoNode (the parent is looked up first), under
    // an existing one BadArguments (measured).
    assert_eq!(t.create("/nope/"), Err(ErrorCode::NoNode));
    assert_eq!(t.create("/a/"), Err(ErrorCode::BadArguments));
    assert_eq!(t.create("a"), Err(ErrorCode::BadArguments));
    assert_eq!(t.create(""), Err(ErrorCode::BadArguments));
    assert_eq!(t.create("/a\0b"), Err(ErrorCode::BadArguments));
    // Failed creates change nothing.
    assert_eq!(t.stat("/").num_children, 2);
}

#[test]
fn create_checks_acl_before_parent_and_path() {
    // Measured: an invalid ACL wins over a missing parent and over a bad path.
    let mut t = T::new();
    t.create("/p").unwrap();
    assert_eq!(t.create_acl("/nope/x", vec![]), Err(ErrorCode::InvalidAcl));
    assert_eq!(t.create_acl("/p/", vec![]), Err(ErrorCode::InvalidAcl));
}

#[test]
fn ephemeral_parent_refuses_children() {
    let mut t = T::new();
    t.create_mode("/e", CreateMode::Ephemeral).unwrap();
    assert_eq!(t.create("/e/x"), Err(ErrorCode::NoChildrenForEphemerals));
    assert_eq!(
        t.create_mode("/e/x", CreateMode::EphemeralSequential),
        Err(ErrorCode::NoChildrenForEphemerals)
    );
    // Missing parent stays NoNode.
    assert_eq!(t.create("/nope/x"), Err(ErrorCode::NoNode));
}

#[test]
fn check_op_results() {
    let mut t = T::new();
    t.create("/a").unwrap();
    let check = |path: &str, version| Txn::Check {
        path: path.into(),
        version,
    };
    assert_eq!(t.apply(check("/a", 0)).result, Ok(OpResult::Checked));
    assert_eq!(t.apply(check("/a", -1)).result, Ok(OpResult::Checked));
    assert_eq!(t.apply(check("/a", 1)).result, Err(ErrorCode::BadVersion));
    assert_eq!(t.apply(check("/b", 1)).result, Err(ErrorCode::NoNode));
    assert_eq!(
        t.apply(check("/a/", 1)).result,
        Err(ErrorCode::BadArguments)
    );
}

#[test]
fn set_data_and_set_acl_validate_the_path() {
    // Measured: setData/setACL on "a", "/p2/", "//x", "/p//b", "/." → BadArguments.
    let mut t = T::new();
    for p in ["a", "/a/", "//a", "/a//b", "/.", "/a/..", "/\u{1}"] {
        assert_eq!(t.set(p, b"", -1), Err(ErrorCode::BadArguments), "{p:?}");
        assert_eq!(
            t.set_acl(p, Acl::open_unsafe(), -1),
            Err(ErrorCode::BadArguments),
            "{p:?}"
        );
    }
    assert_eq!(t.set("/missing", b"", -1), Err(ErrorCode::NoNode));
    assert_eq!(
        t.set_acl("/missing", Acl::open_unsafe(), -1),
        Err(ErrorCode::NoNode)
    );
    // Delete does not validate: invalid forms of a missing node are NoNode (measured).
    assert_eq!(t.delete("//a", -1), Err(ErrorCode::NoNode));
    assert_eq!(t.delete("/\u{1}", -1), Err(ErrorCode::NoNode));
    assert_eq!(t.delete("a", -1), Err(ErrorCode::BadArguments));
    assert_eq!(t.delete("/a\0", -1), Err(ErrorCode::BadArguments));
}

#[test]
fn reads_and_their_errors() {
    let mut t = T::new();
    t.create("/r").unwrap();
    t.create("/r/a").unwrap();
    t.create("/r/a/b").unwrap();
    t.create("/r/c").unwrap();
    assert_eq!(t.tree.get_data("/nope", &[]), Err(ErrorCode::NoNode));
    assert_eq!(
        t.tree.get_children("/nope", &[]).unwrap_err(),
        ErrorCode::NoNode
    );
    assert_eq!(t.tree.get_acl("/nope", &[]).unwrap_err(), ErrorCode::NoNode);
    assert_eq!(t.tree.exists("/nope"), Ok(None));
    // Measured: exists with a NUL is BadArguments; getData is just NoNode.
    assert_eq!(t.tree.exists("/a\0b"), Err(ErrorCode::BadArguments));
    assert_eq!(t.tree.get_data("/a\0b", &[]), Err(ErrorCode::NoNode));
    assert_eq!(t.children("/r"), vec!["a", "c"]);
    assert_eq!(t.tree.all_children_number("/r", &[]), Ok(3));
    assert_eq!(
        t.tree.all_children_number("/nope", &[]),
        Err(ErrorCode::NoNode)
    );
    assert_eq!(t.tree.all_children_number("/", &[]), Ok(7));
}

#[test]
fn every_write_records_the_zxid() {
    let mut t = T::new();
    t.create("/a").unwrap();
    assert_eq!(t.tree.last_zxid(), 1);
    assert_eq!(t.create("/a"), Err(ErrorCode::NodeExists));
    // A failed txn still consumes its zxid, as ZooKeeper's error txns do.
    assert_eq!(t.tree.last_zxid(), 2);
}
