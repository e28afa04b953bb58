//! Snapshots and digests: round trips, rejection of bad bytes with a clear error (never a
//! panic), and determinism: the same txns give equal trees, digests and snapshot bytes.

mod common;

use common::*;
use proptest::prelude::*;
use zk_store::snapshot::{FORMAT_VERSION, MAGIC};
use zk_store::{DataTree, SnapshotError, TreeConfig, Txn, TxnContext};
use zk_wire::{Acl, CreateMode, Id};

fn sample() -> T {
    let mut t = T::ttl();
    t.create("/a").unwrap();
    t.create_full(
        "/a/b",
        b"data",
        Acl::open_unsafe(),
        CreateMode::PersistentSequential,
        None,
    )
    .unwrap();
    t.create_acl(
        "/d",
        vec![acl(31, "digest", "u:h"), acl(1, "world", "anyone")],
    )
    .unwrap();
    t.create_mode("/c", CreateMode::Container).unwrap();
    t.create_full(
        "/t",
        b"",
        Acl::open_unsafe(),
        CreateMode::PersistentWithTtl,
        Some(5000),
    )
    .unwrap();
    t.session = 42;
    t.create_mode("/a/e", CreateMode::Ephemeral).unwrap();
    t.apply(Txn::Create {
        path: "/null".into(),
        data: None,
        acl: Acl::read_unsafe(),
        mode: CreateMode::Persistent,
        ttl: None,
    });
    t.delete("/a/b0000000000", -1).unwrap();
    t
}

fn cfg() -> TreeConfig {
    TreeConfig { ttl_enabled: true }
}

#[test]
fn round_trip_gives_an_equal_tree() {
    let t = sample();
    let bytes = t.tree.encode_snapshot();
    let back = DataTree::decode_snapshot(&bytes, cfg()).unwrap();
    assert_eq!(back, t.tree);
    assert_eq!(back.digest(), t.tree.digest());
    assert_eq!(back.encode_snapshot(), bytes);
    assert_eq!(back.ephemerals(42, "/"), vec!["/a/e"]);
    assert_eq!(back.get_data("/null", &[]).unwrap().0, None);
    assert_eq!(back.last_zxid(), t.tree.last_zxid());
    // Indexes come back too: container/TTL cleanup and the ephemeral owner index.
    let mut back = back;
    let a = back.apply(
        &TxnContext::system(100, 0),
        &Txn::CloseSession { session_id: 42 },
    );
    assert_eq!(a.triggers.len(), 2);
}

#[test]
fn fresh_tree_round_trips() {
    let t = DataTree::default();
    let back = DataTree::decode_snapshot(&t.encode_snapshot(), TreeConfig::default()).unwrap();
    assert_eq!(back, t);
    assert_eq!(back.stat("/zookeeper/config").unwrap().aversion, -1);
}

#[test]
fn rejects_bad_magic_version_checksum_length() {
    let bytes = sample().tree.encode_snapshot();
    let mut b = bytes.clone();
    b[0] ^= 0xff;
    assert_eq!(
        DataTree::decode_snapshot(&b, cfg()),
        Err(SnapshotError::BadMagic)
    );
    let mut b = bytes.clone();
    b[4..8].copy_from_slice(&(FORMAT_VERSION + 1).to_be_bytes());
    assert_eq!(
        DataTree::decode_snapshot(&b, cfg()),
        Err(SnapshotError::UnsupportedVersion(FORMAT_VERSION + 1))
    );
    let mut b = bytes.clone();
    let last = b.len() - 1;
    b[last] ^= 1;
    assert!(matches!(
        DataTree::decode_snapshot(&b, cfg()),
        Err(SnapshotError::Checksum { .. })
    ));
    let b = &bytes[..bytes.len() - 1];
    assert!(matches!(
        DataTree::decode_snapshot(b, cfg()),
        Err(SnapshotError::LengthMismatch { .. })
    ));
    assert!(matches!(
        DataTree::decode_snapshot(&bytes[..10], cfg()),
        Err(SnapshotError::Truncated { .. })
    ));
    assert!(matches!(
        DataTree::decode_snapshot(&[], cfg()),
        Err(SnapshotError::Truncated { .. })
    ));
    assert_eq!(&bytes[..4], &MAGIC);
    // Errors read well.
    assert!(SnapshotError::BadMagic.to_string().contains("magic"));
}

/// Rewrites the header so the body passes the length and crc checks: exercises the parser.
fn reseal(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_be_bytes());
    out.extend_from_slice(&(body.len() as u64).to_be_bytes());
    out.extend_from_slice(&crc32fast::hash(body).to_be_bytes());
    out.extend_from_slice(body);
    out
}

#[test]
fn rejects_well_sealed_nonsense() {
    assert!(matches!(
        DataTree::decode_snapshot(&reseal(&[]), cfg()),
        Err(SnapshotError::Truncated { .. })
    ));
    // zxid, 0 ACL lists, 0 nodes → no root.
    let mut body = vec![0u8; 8];
    body.extend_from_slice(&0u64.to_be_bytes());
    body.extend_from_slice(&0u64.to_be_bytes());
    assert!(matches!(
        DataTree::decode_snapshot(&reseal(&body), cfg()),
        Err(SnapshotError::Invalid(_))
    ));
    // A huge node count is refused before any allocation.
    let mut body = vec![0u8; 8];
    body.extend_from_slice(&0u64.to_be_bytes());
    body.extend_from_slice(&u64::MAX.to_be_bytes());
    assert!(matches!(
        DataTree::decode_snapshot(&reseal(&body), cfg()),
        Err(SnapshotError::Invalid(_))
    ));
}

#[test]
fn digest_changes_with_one_byte_and_ignores_map_order() {
    let t = sample();
    let d = t.tree.digest();
    let mut t2 = sample();
    t2.apply(Txn::SetData {
        path: "/a".into(),
        data: Some(b"x".to_vec()),
        version: -1,
    });
    let mut t3 = sample();
    t3.apply(Txn::SetData {
        path: "/a".into(),
        data: Some(b"y".to_vec()),
        version: -1,
    });
    assert_ne!(t2.tree.digest(), t3.tree.digest());
    assert_ne!(d, t2.tree.digest());
    // ACL content counts.
    let mut t4 = sample();
    t4.ids.push(Id::new("super", ""));
    t4.set_acl("/a", Acl::read_unsafe(), -1).unwrap();
    let mut t5 = sample();
    t5.ids.push(Id::new("super", ""));
    t5.set_acl("/a", vec![acl(2, "world", "anyone")], -1)
        .unwrap();
    assert_ne!(t4.tree.digest(), t5.tree.digest());
    // A decoded copy has a different hash-map layout but the same digest.
    let back = DataTree::decode_snapshot(&t.tree.encode_snapshot(), cfg()).unwrap();
    assert_eq!(back.digest(), d);
}

// ---- determinism and hostile bytes (proptest) ----

fn arb_path() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "/a", "/b", "/a/x", "/a/y", "/b/z", "/a/x/q", "/c", "/a/",
    ])
    .prop_map(String::from)
}

fn arb_create() -> impl Strategy<Value = Txn> {
    (
        arb_path(),
        prop::option::of(prop::collection::vec(any::<u8>(), 0..4)),
        0..7i32,
        any::<bool>(),
    )
        .prop_map(|(path, data, flags, open)| Txn::Create {
            path,
            data,
            acl: if open {
                Acl::open_unsafe()
            } else {
                vec![acl(31, "auth", "")]
            },
            mode: CreateMode::from_flags(flags).unwrap_or(CreateMode::Persistent),
            ttl: if (5..7).contains(&flags) {
                Some(1000)
            } else {
                None
            },
        })
}

fn arb_simple() -> impl Strategy<Value = Txn> {
    prop_oneof![
        (arb_path(), -1..2i32).prop_map(|(path, version)| Txn::Delete { path, version }),
        (
            arb_path(),
            prop::collection::vec(any::<u8>(), 0..4),
            -1..2i32
        )
            .prop_map(|(path, d, version)| Txn::SetData {
                path,
                data: Some(d),
                version
            }),
        (arb_path(), -1..2i32).prop_map(|(path, version)| Txn::SetAcl {
            path,
            acl: Acl::open_unsafe(),
            version
        }),
        (arb_path(), -1..2i32).prop_map(|(path, version)| Txn::Check { path, version }),
    ]
}

fn arb_txn() -> impl Strategy<Value = Txn> {
    let op = prop_oneof![4 => arb_create(), 4 => arb_simple()];
    prop_oneof![
        4 => arb_create(),
        4 => arb_simple(),
        1 => prop::collection::vec(op, 0..4).prop_map(Txn::Multi),
        1 => (1..4i64).prop_map(|session_id| Txn::CloseSession { session_id }),
        1 => arb_path().prop_map(|path| Txn::DeleteContainer { path }),
    ]
}

fn run(txns: &[(i64, Txn)]) -> (DataTree, Vec<zk_store::Applied>) {
    let mut t = DataTree::new(cfg());
    let ids = [Id::new("digest", "u:h")];
    let mut out = Vec::new();
    for (i, (session, txn)) in txns.iter().enumerate() {
        let ctx = TxnContext {
            zxid: i as i64 + 1,
            time_ms: (i as i64) * 700,
            session_id: *session,
            auth: &ids,
        };
        out.push(t.apply(&ctx, txn));
    }
    (t, out)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn same_txns_same_state(txns in prop::collection::vec((0..4i64, arb_txn()), 0..40)) {
        let (a, ra) = run(&txns);
        let (b, rb) = run(&txns);
        prop_assert_eq!(&ra, &rb);
        prop_assert_eq!(a.digest(), b.digest());
        let snap = a.encode_snapshot();
        prop_assert_eq!(&snap, &b.encode_snapshot());
        let back = DataTree::decode_snapshot(&snap, cfg()).unwrap();
        prop_assert_eq!(&back, &a);
        prop_assert_eq!(back.digest(), a.digest());
        // Every visible invariant: numChildren matches the child list.
        for p in ["/", "/a", "/b", "/a/x"] {
            if let Some(s) = a.stat(p) {
                prop_assert_eq!(s.num_children as usize, a.get_children(p, &[Id::new("super", "")]).unwrap().0.len());
            }
        }
    }

    /// A snapshot is encoded from a frozen copy while apply goes on: the copy encodes the
    /// tree as it was at the freeze, and the changes made meanwhile (each copying the nodes
    /// it touches) leave the live tree exactly as if no snapshot had been taken.
    #[test]
    fn a_frozen_tree_encodes_the_tree_as_it_was_and_changes_after_it_are_whole(
        txns in prop::collection::vec((0..4i64, arb_txn()), 0..40),
        at in any::<prop::sample::Index>(),
    ) {
        let k = at.index(txns.len() + 1);
        let (mut live, _) = run(&txns[..k]);
        let expected = live.encode_snapshot();
        let frozen = live.freeze();
        let ids = [Id::new("digest", "u:h")];
        for (i, (session, txn)) in txns.iter().enumerate().skip(k) {
            let ctx = TxnContext {
                zxid: i as i64 + 1,
                time_ms: (i as i64) * 700,
                session_id: *session,
                auth: &ids,
            };
            live.apply(&ctx, txn);
        }
        let mut got = Vec::new();
        frozen.encode_snapshot_into(&mut got);
        prop_assert_eq!(&got, &expected);
        let (unfrozen, _) = run(&txns);
        prop_assert_eq!(&live, &unfrozen);
        prop_assert_eq!(live.encode_snapshot(), unfrozen.encode_snapshot());
        prop_assert_eq!(live.digest(), unfrozen.digest());
    }

    #[test]
    fn failed_multi_changes_nothing(txns in prop::collection::vec((0..4i64, arb_txn()), 0..20),
                                    ops in prop::collection::vec(arb_txn(), 1..5)) {
        let (mut a, _) = run(&txns);
        let before = a.clone();
        let ids = [Id::new("digest", "u:h")];
        let ctx = TxnContext { zxid: 1000, time_ms: 1, session_id: 1, auth: &ids };
        let r = a.apply(&ctx, &Txn::Multi(ops));
        if r.error() != zk_wire::ErrorCode::Ok {
            prop_assert!(r.triggers.is_empty());
            let mut b = before.clone();
            b.apply(&ctx, &Txn::Check { path: "/".into(), version: -1 });
            prop_assert_eq!(&a, &b);
            prop_assert_eq!(a.encode_snapshot(), b.encode_snapshot());
        }
    }

    #[test]
    fn truncated_or_mutated_snapshots_never_panic(cut in any::<prop::sample::Index>(),
                                                  flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
                                                  seal in any::<bool>()) {
        let bytes = sample().tree.encode_snapshot();
        let n = cut.index(bytes.len());
        prop_assert!(DataTree::decode_snapshot(&bytes[..n], cfg()).is_err());
        let mut body = bytes[20..].to_vec();
        for (i, v) in &flips {
            let i = i.index(body.len());
            body[i] ^= v | 1;
        }
        let mutated = if seal { reseal(&body) } else { let mut m = bytes[..20].to_vec(); m.extend_from_slice(&body); m };
        // Either rejected, or (a mutation that still describes a valid tree) decoded.
        if let Ok(t) = DataTree::decode_snapshot(&mutated, cfg()) {
            prop_assert!(seal);
            let _ = t.digest();
            let _ = t.encode_snapshot();
        }
    }
}
