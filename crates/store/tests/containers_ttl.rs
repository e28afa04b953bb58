//! Containers and TTL nodes: create-mode mapping and TTL validation as measured on 3.8.0,
//! cleanup candidates (ContainerManager.getCandidates), and DeleteContainer's re-check.

mod common;

use common::*;
use zk_store::{create_mode_for, OpResult, Txn, MAX_TTL_MS};
use zk_wire::{Acl, CreateMode, ErrorCode, OpCode};

fn create_ttl(
    t: &mut T,
    path: &str,
    mode: CreateMode,
    ttl: Option<i64>,
) -> Result<String, ErrorCode> {
    t.create_full(path, b"", Acl::open_unsafe(), mode, ttl)
        .map(|r| r.0)
}

#[test]
fn ttl_disabled_is_unimplemented() {
    // Measured with extendedTypesEnabled off: createTTL → Unimplemented, and a plain create with
    // flags 5 → Unimplemented too.
    let mut t = T::new();
    assert_eq!(
        create_ttl(&mut t, "/t", CreateMode::PersistentWithTtl, Some(1000)),
        Err(ErrorCode::Unimplemented)
    );
    assert_eq!(
        create_ttl(&mut t, "/t", CreateMode::PersistentWithTtl, None),
        Err(ErrorCode::Unimplemented)
    );
    // Non-TTL mode with a ttl: BadArguments (measured: createTTL with flags 0).
    assert_eq!(
        create_ttl(&mut t, "/t", CreateMode::Persistent, Some(1000)),
        Err(ErrorCode::BadArguments)
    );
}

#[test]
fn ttl_range() {
    // Measured: 0, -1, 2^40, 2^40+1 → BadArguments; 1 and 2^40-1 accepted.
    let mut t = T::ttl();
    for bad in [0, -1, 1 << 40, (1 << 40) + 1] {
        assert_eq!(
            create_ttl(&mut t, "/t", CreateMode::PersistentWithTtl, Some(bad)),
            Err(ErrorCode::BadArguments),
            "{bad}"
        );
    }
    assert_eq!(
        create_ttl(&mut t, "/t", CreateMode::PersistentWithTtl, None),
        Err(ErrorCode::BadArguments)
    );
    assert!(create_ttl(&mut t, "/t1", CreateMode::PersistentWithTtl, Some(1)).is_ok());
    assert!(create_ttl(
        &mut t,
        "/tmax",
        CreateMode::PersistentWithTtl,
        Some(MAX_TTL_MS)
    )
    .is_ok());
    // TTL nodes show ephemeralOwner 0 and accept children, ephemeral ones too (measured).
    assert_eq!(t.stat("/t1").ephemeral_owner, 0);
    assert!(t.create_mode("/t1/x", CreateMode::Ephemeral).is_ok());
    let p = create_ttl(
        &mut t,
        "/ts-",
        CreateMode::PersistentSequentialWithTtl,
        Some(5000),
    )
    .unwrap();
    assert_eq!(p, "/ts-0000000002"); // two creations under / before it
}

#[test]
fn create_mode_mapping_follows_the_opcode() {
    // Measured: create/create2 with flags 4 makes a plain persistent node; createContainer with
    // flags 0 or 1 makes a container; flags 7 or -1 → BadArguments; createTTL needs a TTL mode.
    assert_eq!(
        create_mode_for(OpCode::Create, 4),
        Ok(CreateMode::Persistent)
    );
    assert_eq!(
        create_mode_for(OpCode::Create2, 3),
        Ok(CreateMode::EphemeralSequential)
    );
    assert_eq!(
        create_mode_for(OpCode::CreateContainer, 0),
        Ok(CreateMode::Container)
    );
    assert_eq!(
        create_mode_for(OpCode::CreateContainer, 1),
        Ok(CreateMode::Container)
    );
    assert_eq!(
        create_mode_for(OpCode::CreateContainer, 5),
        Ok(CreateMode::PersistentWithTtl)
    );
    assert_eq!(
        create_mode_for(OpCode::Create, 7),
        Err(ErrorCode::BadArguments)
    );
    assert_eq!(
        create_mode_for(OpCode::Create, -1),
        Err(ErrorCode::BadArguments)
    );
    assert_eq!(
        create_mode_for(OpCode::CreateTtl, 0),
        Err(ErrorCode::BadArguments)
    );
    assert_eq!(
        create_mode_for(OpCode::CreateTtl, 6),
        Ok(CreateMode::PersistentSequentialWithTtl)
    );
    assert_eq!(
        create_mode_for(OpCode::Delete, 0),
        Err(ErrorCode::BadArguments)
    );
}

#[test]
fn container_cleanup_needs_a_past_child() {
    let mut t = T::new();
    t.create_mode("/c", CreateMode::Container).unwrap();
    assert_eq!(t.stat("/c").ephemeral_owner, 0);
    // Never had children: not a candidate, and DeleteContainer refuses.
    assert!(t.tree.cleanup_candidates(i64::MAX).is_empty());
    let dc = |p: &str| Txn::DeleteContainer { path: p.into() };
    assert_eq!(t.apply(dc("/c")).result, Err(ErrorCode::BadVersion));
    t.create("/c/x").unwrap();
    assert!(t.tree.cleanup_candidates(i64::MAX).is_empty());
    assert_eq!(t.apply(dc("/c")).result, Err(ErrorCode::NotEmpty));
    t.delete("/c/x", -1).unwrap();
    assert_eq!(t.tree.cleanup_candidates(0), vec!["/c"]);
    let a = t.apply(dc("/c"));
    assert_eq!(a.result, Ok(OpResult::Deleted));
    assert_eq!(a.triggers.len(), 2);
    assert!(t.tree.stat("/c").is_none());
    assert!(t.tree.cleanup_candidates(0).is_empty());
    assert_eq!(t.apply(dc("/c")).result, Err(ErrorCode::NoNode));
    assert_eq!(t.apply(dc("/")).result, Err(ErrorCode::BadArguments));
}

#[test]
fn delete_container_refuses_ordinary_nodes() {
    let mut t = T::new();
    t.create("/p").unwrap();
    t.session = 3;
    t.create_mode("/e", CreateMode::Ephemeral).unwrap();
    for p in ["/p", "/e"] {
        assert_eq!(
            t.apply(Txn::DeleteContainer { path: p.into() }).result,
            Err(ErrorCode::BadVersion)
        );
    }
}

#[test]
fn ttl_cleanup_after_mtime_plus_ttl() {
    let mut t = T::ttl();
    t.time = Some(10_000);
    create_ttl(&mut t, "/t", CreateMode::PersistentWithTtl, Some(500)).unwrap();
    assert!(t.tree.cleanup_candidates(10_500).is_empty()); // elapsed must exceed the ttl
    assert_eq!(t.tree.cleanup_candidates(10_501), vec!["/t"]);
    // A data change restarts the clock (mtime).
    t.time = Some(20_000);
    t.set("/t", b"x", -1).unwrap();
    assert!(t.tree.cleanup_candidates(20_400).is_empty());
    // Children keep it.
    t.create("/t/c").unwrap();
    assert!(t.tree.cleanup_candidates(99_999).is_empty());
    t.delete("/t/c", -1).unwrap();
    // DeleteContainer re-checks with the txn's own time.
    t.time = Some(20_100);
    assert_eq!(
        t.apply(Txn::DeleteContainer { path: "/t".into() }).result,
        Err(ErrorCode::BadVersion)
    );
    t.time = Some(20_501);
    assert_eq!(
        t.apply(Txn::DeleteContainer { path: "/t".into() }).result,
        Ok(OpResult::Deleted)
    );
}

#[test]
fn containers_first_then_ttls_in_path_order() {
    let mut t = T::ttl();
    t.time = Some(0);
    create_ttl(&mut t, "/tb", CreateMode::PersistentWithTtl, Some(1)).unwrap();
    create_ttl(&mut t, "/ta", CreateMode::PersistentWithTtl, Some(1)).unwrap();
    for c in ["/cb", "/ca"] {
        t.create_mode(c, CreateMode::Container).unwrap();
        t.create(&format!("{c}/x")).unwrap();
        t.delete(&format!("{c}/x"), -1).unwrap();
    }
    assert_eq!(
        t.tree.cleanup_candidates(100),
        vec!["/ca", "/cb", "/ta", "/tb"]
    );
}
