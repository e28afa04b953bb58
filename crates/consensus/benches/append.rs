//! Append throughput with durability: batches of 1, 16 and 256 entries of ~128 bytes, each
//! batch acknowledged only after its flush (one fsync per batch: group commit).
//! Run: `cargo bench -p zk-consensus --bench append -- --warm-up-time 1 --measurement-time 3`

use criterion::criterion_group;
use criterion::criterion_main;
use criterion::BenchmarkId;
use criterion::Criterion;
use criterion::Throughput;
use openraft::impls::leader_id_adv::LeaderId;
use openraft::storage::RaftLogStorageExt;
use openraft::type_config::alias::EntryOf;
use openraft::vote::RaftLeaderId;
use openraft::EntryPayload;
use openraft::LogId;
use zk_consensus::LogStore;

openraft::declare_raft_types!(
    /// Bench type config: opaque commands (a string of payload bytes).
    Cfg: D = String, R = (),
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
                let entries: Vec<EntryOf<Cfg>> = (next..next + batch)
                    .map(|i| EntryOf::<Cfg> {
                        log_id: LogId::new(LeaderId::new(1, 0), i),
                        payload: EntryPayload::Normal("x".repeat(PAYLOAD)),
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
