//! Append throughput with durability: batches of 1, 16 and 256 entries of ~128 bytes, each
//! batch acknowledged only after its flush (one fsync per batch: group commit).
//! Run: `cargo bench -p zk-consensus --bench append -- --warm-up-time 1 --measurement-time 3`

use std::io::Cursor;

use criterion::criterion_group;
use criterion::criterion_main;
use criterion::BenchmarkId;
use criterion::Criterion;
use criterion::Throughput;
use openraft::storage::RaftLogStorageExt;
use openraft::CommittedLeaderId;
use openraft::Entry;
use openraft::EntryPayload;
use openraft::LogId;
use zk_consensus::LogStore;

openraft::declare_raft_types!(
    /// Bench type config: opaque byte commands.
    Cfg: D = Vec<u8>, R = (),
);

/// Encoded size of one entry is ~128 bytes: 120 payload bytes plus log id and tags.
const PAYLOAD: usize = 120;

fn bench_append(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("append_flushed");
    for batch in [1u64, 16, 256] {
        let dir = tempfile::tempdir().unwrap();
        let mut log = LogStore::<Cfg>::open(dir.path()).unwrap();
        let mut next = 1u64;
        group.throughput(Throughput::Elements(batch));
        group.bench_with_input(BenchmarkId::from_parameter(batch), &batch, |b, &batch| {
            b.iter(|| {
                let entries: Vec<Entry<Cfg>> = (next..next + batch)
                    .map(|i| Entry {
                        log_id: LogId::new(CommittedLeaderId::new(1, 0), i),
                        payload: EntryPayload::Normal(vec![i as u8; PAYLOAD]),
                    })
                    .collect();
                next += batch;
                rt.block_on(log.blocking_append(entries)).unwrap();
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_append);
criterion_main!(benches);
