//! ACLs: world, digest ids, the auth scheme, ip, super, and which op needs which permission
//! (measured on 3.8.0: a node with perms 0 refuses getData/getChildren/getACL/
//! getAllChildrenNumber/check/setACL/setData/create-child but not exists).

mod common;

use common::*;
use zk_store::Txn;
use zk_wire::{perms, Acl, ErrorCode, Id};

#[test]
fn perms_zero_node() {
    let mut t = T::new();
    t.create("/p2").unwrap();
    t.create_acl("/p2/p0", vec![acl(0, "world", "anyone")])
        .unwrap();
    let ids = t.ids.clone();
    assert_eq!(t.tree.get_data("/p2/p0", &ids), Err(ErrorCode::NoAuth));
    assert!(t.tree.exists("/p2/p0").unwrap().is_some());
    assert_eq!(
        t.tree.get_acl("/p2/p0", &ids).unwrap_err(),
        ErrorCode::NoAuth
    );
    assert_eq!(
        t.tree.get_children("/p2/p0", &ids).unwrap_err(),
        ErrorCode::NoAuth
    );
    assert_eq!(
        t.tree.all_children_number("/p2/p0", &ids),
        Err(ErrorCode::NoAuth)
    );
    // check: the ACL is checked before the version.
    let c = t.apply(Txn::Check {
        path: "/p2/p0".into(),
        version: 5,
    });
    assert_eq!(c.result, Err(ErrorCode::NoAuth));
    assert_eq!(
        t.set_acl("/p2/p0", Acl::open_unsafe(), -1),
        Err(ErrorCode::NoAuth)
    );
    assert_eq!(t.set("/p2/p0", b"", 3), Err(ErrorCode::NoAuth));
    assert_eq!(t.create("/p2/p0/x"), Err(ErrorCode::NoAuth));
    // An invalid ACL is reported before the parent's CREATE check.
    assert_eq!(t.create_acl("/p2/p0/x", vec![]), Err(ErrorCode::InvalidAcl));
    // delete needs DELETE on the parent (open here), so the node's version decides.
    assert_eq!(t.delete("/p2/p0", 7), Err(ErrorCode::BadVersion));
    t.delete("/p2/p0", -1).unwrap();
}

#[test]
fn delete_needs_delete_on_the_parent() {
    let mut t = T::new();
    t.create_acl(
        "/locked",
        vec![acl(perms::ALL & !perms::DELETE, "world", "anyone")],
    )
    .unwrap();
    t.create("/locked/c").unwrap();
    assert_eq!(t.delete("/locked/c", -1), Err(ErrorCode::NoAuth));
    assert_eq!(t.delete("/locked/missing", -1), Err(ErrorCode::NoAuth));
}

#[test]
fn invalid_acls() {
    // Measured: empty, world:bob, auth without credentials, unknown scheme, super, bad digest
    // ids, bad ip ids and IPv6 are InvalidACL.
    let mut t = T::new();
    let bad = [
        vec![],
        vec![acl(31, "world", "bob")],
        vec![acl(31, "auth", "")],
        vec![acl(31, "bogus", "x")],
        vec![acl(31, "super", "")],
        vec![acl(31, "digest", "user")],
        vec![acl(31, "digest", "user:")],
        vec![acl(31, "digest", "a:b:c")],
        vec![acl(31, "ip", "10.0.0.0/33")],
        vec![acl(31, "ip", "10.0.0")],
        vec![acl(31, "ip", "::1")],
        vec![acl(31, "world", "anyone"), acl(31, "bogus", "x")],
    ];
    for (i, a) in bad.into_iter().enumerate() {
        assert_eq!(
            t.create_acl(&format!("/x{i}"), a.clone()),
            Err(ErrorCode::InvalidAcl),
            "{a:?}"
        );
    }
    t.create("/ok").unwrap();
    assert_eq!(t.set_acl("/ok", vec![], -1), Err(ErrorCode::InvalidAcl));
    // Valid: digest ":h", ip v4 with and without mask.
    assert!(t.create_acl("/d", vec![acl(31, "digest", ":h")]).is_ok());
    assert!(t
        .create_acl("/i", vec![acl(31, "ip", "10.0.0.0/8")])
        .is_ok());
}

#[test]
fn duplicates_are_dropped() {
    // Measured: OPEN + OPEN reads back as one entry.
    let mut t = T::new();
    let mut a = Acl::open_unsafe();
    a.extend(Acl::open_unsafe());
    t.create_acl("/dup", a).unwrap();
    assert_eq!(t.tree.get_acl("/dup", &[]).unwrap().0.len(), 1);
}

#[test]
fn auth_scheme_expands_to_authenticated_ids() {
    // Measured: with digest u:pw, ACL auth → digest:u:<hash>; the ip id is not used.
    let mut t = T::new();
    let digest = Id::new("digest", "u:BvFaefuhWURhnvpD7ipe45CKTpk=");
    t.ids = vec![Id::new("ip", "127.0.0.1"), digest.clone()];
    t.create_acl("/aa", vec![acl(31, "auth", "whatever")])
        .unwrap();
    let ids = t.ids.clone();
    let (list, _) = t.tree.get_acl("/aa", &ids).unwrap();
    assert_eq!(
        list.as_ref(),
        &[Acl {
            perms: 31,
            id: digest.clone()
        }][..]
    );
    // Someone else: no READ/ADMIN → NoAuth.
    assert_eq!(
        t.tree
            .get_acl("/aa", &[Id::new("ip", "127.0.0.1")])
            .unwrap_err(),
        ErrorCode::NoAuth
    );
    assert_eq!(
        t.tree.get_data("/aa", &[Id::new("digest", "v:zz")]),
        Err(ErrorCode::NoAuth)
    );
    assert!(t.tree.get_data("/aa", &[digest]).is_ok());
    // Only ip ids → nothing to expand → InvalidACL.
    t.ids = vec![Id::new("ip", "127.0.0.1")];
    assert_eq!(
        t.create_acl("/ab", vec![acl(31, "auth", "")]),
        Err(ErrorCode::InvalidAcl)
    );
}

#[test]
fn get_acl_redacts_digests_without_admin() {
    // Measured: [world READ, digest u:abcdef ALL] read by an anonymous client shows "u:x".
    let mut t = T::new();
    t.create_acl(
        "/red",
        vec![acl(1, "world", "anyone"), acl(31, "digest", "u:abcdef")],
    )
    .unwrap();
    let (shown, _) = t.tree.get_acl("/red", &[]).unwrap();
    assert_eq!(shown[1].id, Id::new("digest", "u:x"));
    let (full, _) = t
        .tree
        .get_acl("/red", &[Id::new("digest", "u:abcdef")])
        .unwrap();
    assert_eq!(full[1].id, Id::new("digest", "u:abcdef"));
    // ADMIN alone is enough to read the ACL (measured).
    t.create_acl("/adm", vec![acl(perms::ADMIN, "world", "anyone")])
        .unwrap();
    assert!(t.tree.get_acl("/adm", &[]).is_ok());
    assert_eq!(t.tree.get_data("/adm", &[]), Err(ErrorCode::NoAuth));
}

#[test]
fn ip_acls() {
    // Measured: ip:127.0.0.1 READ lets a local client read but not write.
    let mut t = T::new();
    t.create_acl("/ip", vec![acl(perms::READ, "ip", "127.0.0.1")])
        .unwrap();
    t.create_acl("/net", vec![acl(perms::ALL, "ip", "10.0.0.0/8")])
        .unwrap();
    assert!(t.tree.get_data("/ip", &t.ids).is_ok());
    assert_eq!(t.set("/ip", b"x", -1), Err(ErrorCode::NoAuth));
    assert_eq!(t.tree.get_data("/net", &t.ids), Err(ErrorCode::NoAuth));
    t.ids = vec![Id::new("ip", "10.9.8.7")];
    assert!(t.set("/net", b"x", -1).is_ok());
    assert_eq!(t.tree.get_data("/ip", &t.ids), Err(ErrorCode::NoAuth));
}

#[test]
fn super_may_do_anything() {
    let mut t = T::new();
    t.create_acl("/s", vec![acl(0, "world", "anyone")]).unwrap();
    t.ids = vec![Id::new("super", "")];
    assert!(t.tree.get_data("/s", &t.ids).is_ok());
    assert!(t.set("/s", b"x", -1).is_ok());
    assert!(t.set_acl("/s", Acl::open_unsafe(), -1).is_ok());
}

#[test]
fn acl_lists_are_interned() {
    let mut t = T::new();
    let base = t.tree.acl_list_count();
    for i in 0..100 {
        t.create(&format!("/n{i}")).unwrap();
    }
    assert_eq!(t.tree.acl_list_count(), base);
    t.create_acl("/d", vec![acl(31, "digest", "u:h")]).unwrap();
    assert_eq!(t.tree.acl_list_count(), base + 1);
    assert_eq!(
        t.set_acl("/d", Acl::open_unsafe(), -1),
        Err(ErrorCode::NoAuth)
    );
    t.ids.push(Id::new("digest", "u:h"));
    t.set_acl("/d", Acl::open_unsafe(), -1).unwrap();
    assert_eq!(t.tree.acl_list_count(), base);
}

/// The admin server's authorization: every bit asked for must be granted, each by any entry
/// (ZooKeeper checks the bits one at a time), and `super` passes.
#[test]
fn authorize_needs_every_bit() {
    let mut t = T::new();
    let alice = Id::new("digest", "alice:a");
    let bob = Id::new("digest", "bob:b");
    // alice: READ|WRITE from one entry, CREATE|DELETE|ADMIN from another; bob: all but ADMIN.
    t.create_acl(
        "/guarded",
        vec![
            acl(perms::READ | perms::WRITE, "digest", "alice:a"),
            acl(
                perms::CREATE | perms::DELETE | perms::ADMIN,
                "digest",
                "alice:a",
            ),
            acl(perms::ALL & !perms::ADMIN, "digest", "bob:b"),
        ],
    )
    .unwrap();
    assert_eq!(t.tree.authorize("/guarded", perms::ALL, &[alice]), Ok(()));
    assert_eq!(
        t.tree
            .authorize("/guarded", perms::ALL, std::slice::from_ref(&bob)),
        Err(ErrorCode::NoAuth)
    );
    assert_eq!(
        t.tree
            .authorize("/guarded", perms::READ | perms::WRITE, &[bob]),
        Ok(())
    );
    assert_eq!(
        t.tree.authorize("/guarded", perms::READ, &[]),
        Err(ErrorCode::NoAuth)
    );
    assert_eq!(
        t.tree
            .authorize("/guarded", perms::ALL, &[Id::new("super", "")]),
        Ok(())
    );
    assert_eq!(
        t.tree.authorize("/absent", perms::READ, &[]),
        Err(ErrorCode::NoNode)
    );
    // The default root ACL (world:anyone ALL) lets anyone through.
    assert_eq!(t.tree.authorize("/", perms::ALL, &[]), Ok(()));
}
