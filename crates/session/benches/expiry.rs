//! Expiry tracker cost at scale: touching 100k sessions (the leader's steady load from
//! activity reports) and sweeping a tick's worth of expired sessions.

use std::hint::black_box;
use std::num::NonZeroU32;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use zk_session::{ExpiryTracker, SessionId};

const N: i64 = 100_000;
const TICK: u32 = 2000;
const TIMEOUT: u32 = 10_000;

fn ids() -> Vec<SessionId> {
    (1..=N)
        .filter_map(|raw| SessionId::from_raw(raw).ok())
        .collect()
}

/// A tracker holding every id, touched at `now` (all in one bucket).
fn filled(ids: &[SessionId], now: u64) -> ExpiryTracker {
    let mut t = ExpiryTracker::new(NonZeroU32::new(TICK).unwrap_or(NonZeroU32::MIN));
    for &id in ids {
        t.touch(id, TIMEOUT, now);
    }
    t
}

fn bench(c: &mut Criterion) {
    let ids = ids();
    let mut g = c.benchmark_group("expiry");
    g.throughput(Throughput::Elements(N as u64));

    // Touches that move every session to the next bucket: the expensive path.
    g.bench_function("touch_100k_move_bucket", |b| {
        let mut t = filled(&ids, 0);
        let mut now = 0u64;
        b.iter(|| {
            now += u64::from(TICK);
            for &id in &ids {
                black_box(t.touch(id, TIMEOUT, now));
            }
        })
    });

    // Touches within the same tick: the common path (no bucket change).
    g.bench_function("touch_100k_same_bucket", |b| {
        let mut t = filled(&ids, 0);
        b.iter(|| {
            for &id in &ids {
                black_box(t.touch(id, TIMEOUT, 1));
            }
        })
    });

    // First touches of new sessions into an empty tracker.
    g.bench_function("insert_100k", |b| {
        b.iter_batched(
            || ExpiryTracker::new(NonZeroU32::new(TICK).unwrap_or(NonZeroU32::MIN)),
            |mut t| {
                for &id in &ids {
                    t.touch(id, TIMEOUT, 0);
                }
                t
            },
            BatchSize::LargeInput,
        )
    });

    // One sweep that expires all 100k (one bucket).
    g.bench_function("expired_sweep_100k", |b| {
        b.iter_batched(
            || filled(&ids, 0),
            |mut t| black_box(t.expired(u64::from(TIMEOUT + TICK))),
            BatchSize::LargeInput,
        )
    });
    g.finish();

    // A sweep that finds nothing due among 100k tracked: must not depend on the 100k.
    c.bench_function("expiry/expired_sweep_nothing_due", |b| {
        let mut t = filled(&ids, 0);
        b.iter(|| black_box(t.expired(black_box(5_000))))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
