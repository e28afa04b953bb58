//! `apply` of create and of setData on a tree of 1M nodes (1000 parents x 1000 children),
//! built once.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use zk_store::{DataTree, Txn, TxnContext};
use zk_wire::{Acl, CreateMode};

const PARENTS: usize = 1000;
const CHILDREN: usize = 1000;

fn build() -> (DataTree, i64) {
    let mut t = DataTree::default();
    let mut zxid = 0i64;
    let acl = Acl::open_unsafe();
    let create = |t: &mut DataTree, path: String, zxid: i64| {
        let txn = Txn::Create {
            path,
            data: Some(vec![0u8; 16]),
            acl: acl.clone(),
            mode: CreateMode::Persistent,
            ttl: None,
        };
        let a = t.apply(&TxnContext::system(zxid, zxid), &txn);
        debug_assert!(a.result.is_ok());
    };
    for p in 0..PARENTS {
        zxid += 1;
        create(&mut t, format!("/p{p:04}"), zxid);
        for c in 0..CHILDREN {
            zxid += 1;
            create(&mut t, format!("/p{p:04}/c{c:04}"), zxid);
        }
    }
    (t, zxid)
}

fn bench(c: &mut Criterion) {
    let (mut tree, mut zxid) = build();
    eprintln!("tree built: {} nodes", tree.node_count());
    let acl = Acl::open_unsafe();
    let mut i = 0usize;
    c.bench_function("apply_create_1M", |b| {
        b.iter_batched(
            || {
                i += 1;
                zxid += 1;
                let txn = Txn::Create {
                    path: format!("/p{:04}/n{i}", i % PARENTS),
                    data: Some(vec![1u8; 16]),
                    acl: acl.clone(),
                    mode: CreateMode::Persistent,
                    ttl: None,
                };
                (txn, zxid)
            },
            |(txn, z)| black_box(tree.apply(&TxnContext::system(z, z), &txn)),
            BatchSize::SmallInput,
        )
    });
    let mut j = 0usize;
    c.bench_function("apply_set_data_1M", |b| {
        b.iter_batched(
            || {
                j += 1;
                zxid += 1;
                let txn = Txn::SetData {
                    path: format!("/p{:04}/c{:04}", j % PARENTS, (j / PARENTS) % CHILDREN),
                    data: Some(vec![2u8; 16]),
                    version: -1,
                };
                (txn, zxid)
            },
            |(txn, z)| black_box(tree.apply(&TxnContext::system(z, z), &txn)),
            BatchSize::SmallInput,
        )
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
