//! Cost of checking one register's history of chaos-run shape: clients issuing operations
//! back to back (concurrency about the number of clients), some replies lost.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use zk_history::linearizable::synth::{linearizable_history, SynthParams};
use zk_history::linearizable::{check_register, Verdict, DEFAULT_BUDGET};

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("linearizable");
    for (ops, clients, unknown_percent) in [(5_000, 16, 5), (10_000, 30, 3), (10_000, 30, 10)] {
        let (initial, history) = linearizable_history(&SynthParams {
            ops,
            clients,
            unknown_percent,
            read_percent: 50,
            cas_percent: 25,
            seed: 1,
        });
        assert_eq!(
            check_register(initial, &history, DEFAULT_BUDGET),
            Verdict::Linearizable
        );
        g.throughput(Throughput::Elements(ops as u64));
        g.bench_function(
            format!("{ops}_ops_{clients}_clients_{unknown_percent}pct_unknown"),
            |b| b.iter(|| check_register(initial, black_box(&history), DEFAULT_BUDGET)),
        );
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
