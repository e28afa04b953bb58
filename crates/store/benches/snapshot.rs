//! `encode_snapshot` and `decode_snapshot` of a tree like the one `bench/compare.sh` leaves:
//! 500k znodes of 100 bytes under 32 parents. Only `freeze` runs while the state machine
//! holds its lock (apply waits): its time is the write stall; the encoding runs after.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use zk_store::{DataTree, TreeConfig, Txn, TxnContext};
use zk_wire::{Acl, CreateMode};

const PARENTS: usize = 32;
const NODES: usize = 500_000;

fn build() -> DataTree {
    let mut t = DataTree::default();
    let acl = Acl::open_unsafe();
    let mut zxid = 0i64;
    let mut create = |t: &mut DataTree, path: String| {
        zxid += 1;
        let txn = Txn::Create {
            path,
            data: Some(vec![7u8; 100]),
            acl: acl.clone(),
            mode: CreateMode::Persistent,
            ttl: None,
        };
        let a = t.apply(&TxnContext::system(zxid, zxid), &txn);
        debug_assert!(a.result.is_ok());
    };
    for p in 0..PARENTS {
        create(&mut t, format!("/bench{p:02}"));
    }
    for i in 0..NODES {
        create(&mut t, format!("/bench{:02}/n{i:010}", i % PARENTS));
    }
    t
}

fn bench(c: &mut Criterion) {
    let tree = build();
    let bytes = tree.encode_snapshot();
    eprintln!(
        "{} nodes, snapshot {} bytes",
        tree.node_count(),
        bytes.len()
    );
    let mut g = c.benchmark_group("snapshot_500k");
    g.sample_size(10);
    g.bench_function("encode", |b| b.iter(|| black_box(tree.encode_snapshot())));
    // What apply waits for since snapshots are encoded from a frozen copy.
    g.bench_function("freeze", |b| b.iter(|| black_box(tree.freeze())));
    // What the first write after a freeze pays instead: its shard is copied (1/256 of the
    // map, nodes shared) and so is its node. Each later write to another held shard pays
    // the same once.
    let set = Txn::SetData {
        path: "/bench07/n0000000007".into(),
        data: Some(vec![8u8; 100]),
        version: -1,
    };
    g.bench_function("first_write_after_freeze", |b| {
        b.iter_batched(
            || {
                let t = tree.clone();
                let frozen = t.freeze();
                (t, frozen)
            },
            |(mut t, frozen)| {
                let a = t.apply(&TxnContext::system(1 << 40, 1), &set);
                black_box((a, frozen))
            },
            criterion::BatchSize::LargeInput,
        )
    });
    g.bench_function("decode", |b| {
        b.iter(|| black_box(DataTree::decode_snapshot(&bytes, TreeConfig::default())))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
