//! Compare-and-set on a few registers: read a register, then setData with the version read
//! (sometimes unconditionally), every value unique so a read names the write it saw.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use zk_client::{Client, Error};
use zk_history::history::{Call, Outcome, RegisterRecord};

use super::{indeterminate, lock, Ctx};

/// The value a register starts with.
pub const INITIAL: u64 = 0;

/// Parses a register's data; the workload only ever writes decimal u64s.
fn value_of(data: &[u8]) -> Option<u64> {
    std::str::from_utf8(data).ok()?.parse().ok()
}

/// One register client: until the run stops, reads and writes random registers of `paths`.
pub async fn client(ctx: Ctx, id: u32, paths: Vec<String>, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut counter: u64 = 0;
    // The version this client last saw of each register, for its next compare-and-set.
    let mut known: Vec<Option<i32>> = vec![None; paths.len()];
    let Some(mut zk) = ctx.session().await else {
        return;
    };
    while !ctx.stopping() {
        if zk.state().is_closed() {
            match ctx.session().await {
                Some(z) => zk = z,
                None => break,
            }
        }
        ctx.wait_usable(&zk).await;
        let r = rng.random_range(0..paths.len());
        let path = &paths[r];
        let roll: f64 = rng.random();
        let call = match known[r] {
            Some(expected_version) if roll < 0.5 => {
                counter += 1;
                Call::Cas {
                    expected_version,
                    value: unique(id, counter),
                }
            }
            _ if roll > 0.93 => {
                counter += 1;
                Call::Write {
                    value: unique(id, counter),
                }
            }
            _ => Call::Read,
        };
        let synced = call != Call::Read || rng.random_bool(0.7);
        let op = one(&ctx, &zk, id, path, call, synced).await;
        known[r] = match op.outcome {
            Outcome::Read { version, .. } | Outcome::Written { version } => Some(version),
            Outcome::BadVersion | Outcome::Unknown => None,
        };
        // A failed read has no effect and no result: nothing to record.
        if !(op.call == Call::Read && op.outcome == Outcome::Unknown) {
            lock(&ctx.rec.registers)
                .entry(path.clone())
                .or_default()
                .push(op);
        }
    }
    let _ = zk.close().await;
}

/// A value no other write of the run uses (never 0, the initial value).
fn unique(client: u32, counter: u64) -> u64 {
    (u64::from(client) + 1) << 40 | counter
}

/// Runs and records one call; a `synced` read is a sync followed by getData (the pair is
/// linearizable), a plain one only getData.
pub async fn one(
    ctx: &Ctx,
    zk: &Client,
    id: u32,
    path: &str,
    call: Call,
    synced: bool,
) -> RegisterRecord {
    let seen_before = zk.last_zxid();
    let invoke = ctx.rec.clock.now();
    let read = async {
        if synced {
            ctx.call(zk.sync(path)).await?;
        }
        ctx.call(zk.get_data(path)).await
    };
    let (outcome, mzxid) = match call {
        Call::Read => match read.await {
            Ok((data, stat)) => match value_of(&data) {
                Some(value) => (
                    Outcome::Read {
                        value,
                        version: stat.version,
                    },
                    Some(stat.mzxid),
                ),
                // Data the workload never wrote: record it as a value no write produced,
                // so the checker reports it.
                None => (
                    Outcome::Read {
                        value: u64::MAX,
                        version: stat.version,
                    },
                    Some(stat.mzxid),
                ),
            },
            Err(_) => (Outcome::Unknown, None),
        },
        Call::Write { value } | Call::Cas { value, .. } => {
            let version = match call {
                Call::Cas {
                    expected_version, ..
                } => Some(expected_version),
                _ => None,
            };
            let data = value.to_string();
            match ctx.call(zk.set_data(path, data.as_bytes(), version)).await {
                Ok(stat) => (
                    Outcome::Written {
                        version: stat.version,
                    },
                    Some(stat.mzxid),
                ),
                Err(Error::BadVersion) => (Outcome::BadVersion, None),
                Err(e) if indeterminate(&e) => (Outcome::Unknown, None),
                // No other refusal is expected of setData on an existing node: the run
                // fails on it, and the checker treats the write as maybe applied.
                // Not applied; recorded as maybe applied, the weaker claim, which every check
                // accepts either way.
                Err(e) if super::failover_refusal(&e) => (Outcome::Unknown, None),
                Err(e) => {
                    ctx.anomaly(format!(
                        "setData {path} refused with {}",
                        super::error_name(&e)
                    ));
                    (Outcome::Unknown, None)
                }
            }
        }
    };
    let complete = (outcome != Outcome::Unknown).then(|| ctx.rec.clock.now());
    RegisterRecord {
        client: id,
        invoke,
        complete,
        call,
        outcome,
        mzxid,
        seen_before,
        synced: synced || call != Call::Read,
    }
}
