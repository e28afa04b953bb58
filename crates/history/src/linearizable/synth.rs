//! Synthetic register histories that are linearizable by construction, shaped like a chaos
//! run's (clients issuing operations back to back, some answered, some lost), for tests,
//! benches and checking the checker.

use super::{RegisterCall, RegisterOp, RegisterResult, RegisterState};

/// Shape of a synthetic history; percentages are of all operations.
#[derive(Clone, Copy, Debug)]
pub struct SynthParams {
    /// Number of operations.
    pub ops: usize,
    /// Number of clients issuing operations concurrently (at least one is used).
    pub clients: u32,
    /// Operations whose reply never arrives (half of those sets still take effect).
    pub unknown_percent: u32,
    /// Operations that are `getData`.
    pub read_percent: u32,
    /// Operations that are compare-and-set (the rest are unconditional writes).
    pub cas_percent: u32,
    /// Seed: the same parameters give the same history.
    pub seed: u64,
}

/// Nanoseconds a client waits for a reply before giving up (its next request starts then).
const GIVE_UP_NS: u64 = 1_000_000;

/// A history with a known linearization, from initial state (value 0, version 0).
///
/// Each answered operation takes effect at a random instant inside its interval; a lost
/// one takes effect (or not) at a random instant after its invocation, possibly after its
/// client has moved on. Results are computed from the model in that order, so the history
/// is linearizable; every written value is distinct.
pub fn linearizable_history(p: &SynthParams) -> (RegisterState, Vec<RegisterOp>) {
    let initial = RegisterState {
        value: 0,
        version: 0,
    };
    let mut rng = Rng(p.seed);
    let clients = p.clients.max(1);
    let mut free_at: Vec<u64> = (0..clients)
        .map(|_| rng.below(10_000) + 1_000_000)
        .collect();
    // (effect instant or None for never, operation) in issue order.
    let mut plan: Vec<(Option<u64>, RegisterOp)> = Vec::with_capacity(p.ops);
    for _ in 0..p.ops {
        let (client, &at) = free_at
            .iter()
            .enumerate()
            .min_by_key(|&(_, &t)| t)
            .unwrap_or((0, &0));
        let invoke = at + rng.below(2_000);
        let roll = rng.below(100) as u32;
        let call = if roll < p.read_percent {
            RegisterCall::Read
        } else if roll < p.read_percent.saturating_add(p.cas_percent) {
            // The expected version is settled when the effect instant is known.
            RegisterCall::Cas {
                expected_version: 0,
                value: 0,
            }
        } else {
            RegisterCall::Write { value: 0 }
        };
        let lost = (rng.below(100) as u32) < p.unknown_percent;
        let (complete, effect) = if lost {
            let effect = (rng.below(2) == 0).then(|| invoke + rng.below(3 * GIVE_UP_NS));
            free_at[client] = invoke + GIVE_UP_NS;
            (None, effect)
        } else {
            let complete = invoke + 20_000 + rng.below(180_000);
            free_at[client] = complete;
            (
                Some(complete),
                Some(invoke + rng.below(complete - invoke + 1)),
            )
        };
        plan.push((
            effect,
            RegisterOp {
                client: client as u32,
                invoke,
                complete,
                call,
                result: RegisterResult::Unknown,
            },
        ));
    }

    let mut order: Vec<usize> = (0..plan.len()).filter(|&i| plan[i].0.is_some()).collect();
    order.sort_by_key(|&i| (plan[i].0, i));
    let mut state = initial;
    let mut next_value = 1u64;
    for i in order {
        let op = &mut plan[i].1;
        let answered = op.complete.is_some();
        match op.call {
            RegisterCall::Read => {
                if answered {
                    op.result = RegisterResult::Read {
                        value: state.value,
                        version: state.version,
                    };
                }
            }
            RegisterCall::Write { .. } | RegisterCall::Cas { .. } => {
                let value = next_value;
                next_value += 1;
                op.call = match op.call {
                    RegisterCall::Cas { .. } => RegisterCall::Cas {
                        expected_version: match rng.below(10) {
                            0..=6 => state.version,
                            7 | 8 if state.version > 0 => state.version - 1,
                            _ => state.version + 1,
                        },
                        value,
                    },
                    _ => RegisterCall::Write { value },
                };
                let result = if answered {
                    let bumped = RegisterResult::Written {
                        version: state.version + 1,
                    };
                    match state.apply(op.call, bumped) {
                        Some(_) => bumped,
                        None => RegisterResult::BadVersion,
                    }
                } else {
                    RegisterResult::Unknown
                };
                state = state.apply(op.call, result).unwrap_or(state);
                op.result = result;
            }
        }
    }
    // Sets that never took effect still need distinct values.
    for (effect, op) in &mut plan {
        if effect.is_none() {
            op.call = match op.call {
                RegisterCall::Write { .. } => RegisterCall::Write { value: next_value },
                RegisterCall::Cas { .. } => RegisterCall::Cas {
                    expected_version: state.version,
                    value: next_value,
                },
                RegisterCall::Read => RegisterCall::Read,
            };
            next_value += 1;
        }
    }
    let mut ops: Vec<RegisterOp> = plan.into_iter().map(|(_, op)| op).collect();
    ops.sort_by_key(|op| op.invoke);
    (initial, ops)
}

/// SplitMix64: small, seedable, good enough for shaping test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform-ish in `0..n` (`0` when `n` is 0).
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }
}
