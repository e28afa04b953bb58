//! Known-good and known-bad register histories, and properties against a brute-force checker.

use proptest::prelude::*;
use zk_history::linearizable::synth::{linearizable_history, SynthParams};
use zk_history::linearizable::{
    check_register, RegisterCall, RegisterOp, RegisterResult, RegisterState, Verdict,
    DEFAULT_BUDGET,
};

const INITIAL: RegisterState = RegisterState {
    value: 0,
    version: 0,
};

fn read(client: u32, invoke: u64, complete: u64, value: u64, version: i32) -> RegisterOp {
    RegisterOp {
        client,
        invoke,
        complete: Some(complete),
        call: RegisterCall::Read,
        result: RegisterResult::Read { value, version },
    }
}

fn write(client: u32, invoke: u64, complete: u64, value: u64, version: i32) -> RegisterOp {
    RegisterOp {
        client,
        invoke,
        complete: Some(complete),
        call: RegisterCall::Write { value },
        result: RegisterResult::Written { version },
    }
}

fn cas(
    client: u32,
    (invoke, complete): (u64, u64),
    expected_version: i32,
    value: u64,
    result: RegisterResult,
) -> RegisterOp {
    RegisterOp {
        client,
        invoke,
        complete: Some(complete),
        call: RegisterCall::Cas {
            expected_version,
            value,
        },
        result,
    }
}

fn lost(client: u32, invoke: u64, call: RegisterCall) -> RegisterOp {
    RegisterOp {
        client,
        invoke,
        complete: None,
        call,
        result: RegisterResult::Unknown,
    }
}

fn written(version: i32) -> RegisterResult {
    RegisterResult::Written { version }
}

fn check(ops: &[RegisterOp]) -> Verdict {
    check_register(INITIAL, ops, DEFAULT_BUDGET)
}

#[track_caller]
fn assert_linearizable(ops: &[RegisterOp]) {
    let verdict = check(ops);
    assert_eq!(verdict, Verdict::Linearizable, "history: {ops:#?}");
}

/// The explanation, after checking it names what it should.
#[track_caller]
fn assert_violation(ops: &[RegisterOp], mentions: &[&str]) -> String {
    match check(ops) {
        Verdict::NotLinearizable { explanation } => {
            for m in mentions {
                assert!(
                    explanation.contains(m),
                    "explanation lacks {m:?}:\n{explanation}"
                );
            }
            explanation
        }
        other => panic!("expected NotLinearizable, got {other:?} for {ops:#?}"),
    }
}

#[test]
fn empty_history_is_linearizable() {
    // Nothing happened, nothing to contradict.
    assert_linearizable(&[]);
}

#[test]
fn sequential_history_is_linearizable() {
    // One operation after another, each seeing the previous one's effect.
    assert_linearizable(&[
        read(1, 0, 10, 0, 0),
        write(1, 20, 30, 5, 1),
        read(2, 40, 50, 5, 1),
        cas(2, (60, 70), 1, 6, written(2)),
        cas(1, (80, 90), 1, 7, RegisterResult::BadVersion),
        read(1, 100, 110, 6, 2),
    ]);
}

#[test]
fn concurrent_writes_with_reads_seeing_either_order_are_linearizable() {
    // Two overlapping writes may take effect in either order; both readers agree on
    // versions, and each read overlaps the write it observes.
    let a_first = [
        write(1, 0, 100, 10, 1),
        write(2, 0, 100, 20, 2),
        read(3, 10, 50, 10, 1),
        read(4, 60, 90, 20, 2),
    ];
    assert_linearizable(&a_first);
    let b_first = [
        write(1, 0, 100, 10, 2),
        write(2, 0, 100, 20, 1),
        read(3, 10, 50, 20, 1),
        read(4, 60, 90, 10, 2),
    ];
    assert_linearizable(&b_first);
}

#[test]
fn stale_read_after_acknowledged_write_is_not_linearizable() {
    // The read starts after the write was acknowledged, yet sees the initial state.
    assert_violation(
        &[write(1, 0, 10, 5, 1), read(2, 20, 30, 0, 0)],
        &["stale read", "op #1", "op #0", "version 1"],
    );
}

#[test]
fn read_at_exactly_the_acknowledgement_time_is_concurrent() {
    // Equal times count as concurrent: the read may be linearized before the write.
    assert_linearizable(&[write(1, 0, 10, 5, 1), read(2, 10, 30, 0, 0)]);
}

#[test]
fn lost_acknowledged_write_is_not_linearizable() {
    // The write was acknowledged as version 1; no later write overwrote it, but later reads
    // (on two clients) still see the initial state.
    assert_violation(
        &[
            write(1, 0, 10, 5, 1),
            read(2, 20, 30, 0, 0),
            read(3, 40, 50, 0, 0),
        ],
        &["stale read", "op #0"],
    );
}

#[test]
fn cas_succeeding_while_the_version_differs_is_not_linearizable() {
    // The register was already at version 2 when the CAS expecting version 0 started, yet it
    // succeeded (as version 1).
    assert_violation(
        &[
            write(1, 0, 10, 5, 1),
            write(1, 20, 30, 6, 2),
            cas(2, (40, 50), 0, 7, written(1)),
        ],
        &["op #2", "version"],
    );
}

#[test]
fn cas_producing_a_version_other_than_expected_plus_one_is_not_linearizable() {
    // Success means the version was 0 and became 1, never 3.
    assert_violation(
        &[cas(1, (0, 10), 0, 7, written(3))],
        &["impossible result", "expecting version 0", "not 3"],
    );
}

#[test]
fn two_cas_with_the_same_expected_version_both_succeeding_is_not_linearizable() {
    // Only one of two concurrent CAS(expected 0) can find version 0.
    assert_violation(
        &[
            cas(1, (0, 10), 0, 7, written(1)),
            cas(2, (0, 10), 0, 8, written(1)),
        ],
        &["two writes both got version 1", "op #0", "op #1"],
    );
}

#[test]
fn unknown_write_that_later_shows_up_in_a_read_is_linearizable() {
    // The client lost the reply, but the write took effect.
    assert_linearizable(&[
        lost(1, 0, RegisterCall::Write { value: 5 }),
        read(2, 100, 110, 5, 1),
        write(2, 120, 130, 6, 2),
    ]);
}

#[test]
fn unknown_write_taking_effect_long_after_its_client_gave_up_is_linearizable() {
    // Other operations completed before the lost write became visible.
    assert_linearizable(&[
        lost(1, 0, RegisterCall::Write { value: 5 }),
        read(2, 100, 110, 0, 0),
        write(2, 120, 130, 6, 1),
        read(3, 140, 150, 5, 2),
    ]);
}

#[test]
fn unknown_write_that_never_shows_up_is_linearizable() {
    // Linearized at +infinity, i.e. never applied.
    assert_linearizable(&[
        lost(1, 0, RegisterCall::Write { value: 5 }),
        read(2, 100, 110, 0, 0),
        write(2, 120, 130, 6, 1),
        read(3, 140, 150, 6, 1),
    ]);
}

#[test]
fn unknown_write_read_before_it_was_invoked_is_not_linearizable() {
    // The read completed before the write was even sent.
    assert_violation(
        &[
            read(2, 0, 10, 5, 1),
            lost(1, 20, RegisterCall::Write { value: 5 }),
        ],
        &["read from the future", "op #0", "op #1"],
    );
}

#[test]
fn unknown_cas_applied_or_not_is_linearizable() {
    let cas_0_to_5 = RegisterCall::Cas {
        expected_version: 0,
        value: 5,
    };
    // Applied: a later read sees it.
    assert_linearizable(&[lost(1, 0, cas_0_to_5), read(2, 100, 110, 5, 1)]);
    // Not applied: nothing sees it.
    assert_linearizable(&[lost(1, 0, cas_0_to_5), read(2, 100, 110, 0, 0)]);
    // Not applied because another write got there first (its version no longer matched).
    assert_linearizable(&[
        lost(1, 0, cas_0_to_5),
        write(2, 10, 20, 6, 1),
        read(2, 100, 110, 6, 1),
    ]);
}

#[test]
fn unknown_cas_cannot_apply_at_a_mismatched_version() {
    // The CAS expects version 0, so it can only ever produce version 1, which the write
    // produced; (5, version 2) was never possible.
    assert_violation(
        &[
            write(2, 0, 10, 6, 1),
            lost(
                1,
                20,
                RegisterCall::Cas {
                    expected_version: 0,
                    value: 5,
                },
            ),
            read(3, 30, 40, 5, 2),
        ],
        &["no write with unknown outcome could have written 5"],
    );
}

#[test]
fn unknown_cas_that_matched_must_have_applied() {
    // The BadVersion proves the version left 0, which only the lost CAS can have done; that
    // CAS matched, so it applied: the final read of the initial state is impossible. The
    // pre-check cannot see this; the search explains it.
    let lost_cas = lost(
        1,
        0,
        RegisterCall::Cas {
            expected_version: 0,
            value: 5,
        },
    );
    let bad = cas(2, (10, 20), 0, 9, RegisterResult::BadVersion);
    assert_linearizable(&[lost_cas, bad, read(3, 30, 40, 5, 1)]);
    let explanation = assert_violation(
        &[lost_cas, bad, read(3, 30, 40, 0, 0)],
        &[
            "Longest linearizable prefix",
            "op #1",
            "needs a version other than 0",
        ],
    );
    assert!(explanation.contains("op #2"), "{explanation}");
}

#[test]
fn read_of_a_value_never_written_is_not_linearizable() {
    // 42 is neither the initial value nor written by anyone.
    assert_violation(
        &[write(1, 0, 10, 5, 1), read(2, 20, 30, 42, 1)],
        &["never written", "42", "op #1"],
    );
}

#[test]
fn read_pairing_a_value_with_another_writes_version_is_not_linearizable() {
    // Version 1 was produced by the write of 5, so (6, 1) never existed.
    assert_violation(
        &[
            write(1, 0, 10, 5, 1),
            write(1, 20, 30, 6, 2),
            read(2, 40, 50, 6, 1),
        ],
        &["no write produced", "which wrote 5"],
    );
}

#[test]
fn new_old_inversion_is_not_linearizable() {
    // A slow write overlaps two reads on different clients; the first read sees the new value
    // and completes before the second starts, which then sees the old value.
    assert_violation(
        &[
            write(1, 0, 100, 5, 1),
            read(2, 10, 20, 5, 1),
            read(3, 30, 40, 0, 0),
        ],
        &["new-old inversion", "op #1", "op #2"],
    );
}

#[test]
fn missing_version_without_unknown_writes_is_not_linearizable() {
    // Version 3 needs three writes after version 0; only two were made.
    assert_violation(
        &[write(1, 0, 10, 5, 1), write(1, 20, 30, 6, 3)],
        &["missing writes", "version 2"],
    );
}

#[test]
fn budget_exhaustion_is_inconclusive_never_a_pass() {
    // Twelve lost writes of distinct values and a read of the last: the search must find which
    // subsets and orders fit, far more than 10 steps.
    let mut ops: Vec<RegisterOp> = (0..12)
        .map(|i| {
            lost(
                i,
                0,
                RegisterCall::Write {
                    value: 100 + u64::from(i),
                },
            )
        })
        .collect();
    ops.push(read(20, 1_000, 1_010, 100, 12));
    ops.push(read(21, 1_000, 1_010, 111, 11));
    let verdict = check_register(INITIAL, &ops, 10);
    assert!(
        matches!(verdict, Verdict::Inconclusive { explored: 10 }),
        "{verdict:?}"
    );
    assert!(!verdict.is_linearizable());
    // With room, the search settles it (111 as version 11, then 100 as version 12).
    assert_eq!(
        check_register(INITIAL, &ops, DEFAULT_BUDGET),
        Verdict::Linearizable
    );
}

#[test]
fn malformed_histories_are_reported_not_checked() {
    let backwards = [read(1, 10, 5, 0, 0)];
    let mismatched = [RegisterOp {
        result: RegisterResult::Read {
            value: 0,
            version: 0,
        },
        ..write(1, 0, 10, 5, 1)
    }];
    let untimed = [RegisterOp {
        complete: None,
        ..write(1, 0, 10, 5, 1)
    }];
    for (ops, why) in [
        (&backwards[..], "completed before it was invoked"),
        (&mismatched[..], "cannot return a getData's result"),
        (&untimed[..], "no completion time"),
    ] {
        match check(ops) {
            Verdict::Malformed { reason } => {
                assert!(reason.contains(why) && reason.contains("op #0"), "{reason}")
            }
            other => panic!("expected Malformed, got {other:?}"),
        }
    }
}

#[test]
fn unknown_result_with_a_completion_time_is_still_unknown() {
    // A timed-out request may apply after the client gave up: its give-up time is ignored.
    let op = RegisterOp {
        complete: Some(10),
        ..lost(1, 0, RegisterCall::Write { value: 5 })
    };
    assert_linearizable(&[op, read(2, 20, 30, 0, 0), read(2, 40, 50, 5, 1)]);
}

#[test]
fn unconditional_write_failing_with_bad_version_is_not_linearizable() {
    // setData with version -1 cannot fail on the version, whether sent as Write or Cas(-1).
    let mut op = write(1, 0, 10, 5, 1);
    op.result = RegisterResult::BadVersion;
    assert_violation(&[op], &["impossible result", "version -1"]);
    assert_violation(
        &[cas(1, (0, 10), -1, 5, RegisterResult::BadVersion)],
        &["impossible result"],
    );
}

#[test]
fn extreme_values_do_not_panic() {
    let top = RegisterState {
        value: u64::MAX,
        version: i32::MAX,
    };
    let ops = [
        write(1, 0, u64::MAX, 5, i32::MIN),
        cas(2, (0, 1), i32::MAX, 1, written(i32::MIN)),
        read(3, u64::MAX, u64::MAX, u64::MAX, i32::MAX),
        lost(4, u64::MAX, RegisterCall::Write { value: 0 }),
    ];
    for initial in [INITIAL, top] {
        for n in 0..=ops.len() {
            let _ = check_register(initial, &ops[..n], 1_000);
        }
    }
    assert_eq!(
        check_register(top, &[read(1, 0, 1, u64::MAX, i32::MAX)], 10),
        Verdict::Linearizable
    );
}

#[test]
fn large_synthetic_histories_are_linearizable_and_corruptions_are_caught() {
    // Chaos-sized: 10k operations, up to 30 clients, a few percent to a tenth lost.
    for (clients, unknown_percent, seed) in [(30, 3, 7), (16, 5, 8), (30, 10, 9)] {
        let (initial, ops) = linearizable_history(&SynthParams {
            ops: 10_000,
            clients,
            unknown_percent,
            read_percent: 50,
            cas_percent: 25,
            seed,
        });
        assert_eq!(
            check_register(initial, &ops, DEFAULT_BUDGET),
            Verdict::Linearizable,
            "clients {clients}, {unknown_percent}% lost"
        );
        // The last read rewound to the first write's state: long stale by then.
        let first_write = ops
            .iter()
            .find_map(|op| match (op.call, op.result) {
                (RegisterCall::Write { value } | RegisterCall::Cas { value, .. }, r)
                    if r == written(1) =>
                {
                    Some(value)
                }
                _ => None,
            })
            .expect("a write of version 1");
        let last_read = ops
            .iter()
            .rposition(|op| matches!(op.result, RegisterResult::Read { .. }))
            .expect("a read");
        let mut bad = ops.clone();
        bad[last_read].result = RegisterResult::Read {
            value: first_write,
            version: 1,
        };
        assert!(matches!(
            check_register(initial, &bad, DEFAULT_BUDGET),
            Verdict::NotLinearizable { .. }
        ));
    }
}

// ---------------------------------------------------------------------------------------
// Properties against a brute-force checker.

/// ZooKeeper's setData/getData, written independently of the crate's model.
fn model(s: (u64, i32), op: &RegisterOp) -> Option<(u64, i32)> {
    let next = s.1.checked_add(1);
    let matches = |e: i32| e == -1 || e == s.1;
    match (op.call, op.result) {
        (RegisterCall::Read, RegisterResult::Read { value, version }) => {
            (s == (value, version)).then_some(s)
        }
        (RegisterCall::Read, RegisterResult::Unknown) => Some(s),
        (RegisterCall::Write { value }, RegisterResult::Written { version }) => {
            (next == Some(version)).then_some((value, version))
        }
        (RegisterCall::Write { value }, RegisterResult::Unknown) => next.map(|v| (value, v)),
        (
            RegisterCall::Cas {
                expected_version,
                value,
            },
            RegisterResult::Written { version },
        ) => (matches(expected_version) && next == Some(version)).then_some((value, version)),
        (
            RegisterCall::Cas {
                expected_version, ..
            },
            RegisterResult::BadVersion,
        ) => (!matches(expected_version)).then_some(s),
        (
            RegisterCall::Cas {
                expected_version,
                value,
            },
            RegisterResult::Unknown,
        ) => {
            if matches(expected_version) {
                next.map(|v| (value, v))
            } else {
                Some(s)
            }
        }
        _ => None,
    }
}

/// Tries every order of the operations (an unknown-outcome one may also be left out, which
/// is the same as putting it last).
fn brute_force(initial: RegisterState, ops: &[RegisterOp]) -> bool {
    fn go(s: (u64, i32), ops: &[RegisterOp], used: &mut Vec<bool>) -> bool {
        let all_known_placed = ops
            .iter()
            .zip(used.iter())
            .all(|(op, &u)| u || op.result == RegisterResult::Unknown);
        if all_known_placed {
            return true;
        }
        for i in 0..ops.len() {
            if used[i] {
                continue;
            }
            // Anything that returned before this one was invoked must already be placed.
            let blocked = (0..ops.len()).any(|j| {
                !used[j]
                    && j != i
                    && ops[j].result != RegisterResult::Unknown
                    && ops[j].complete.is_some_and(|c| c < ops[i].invoke)
            });
            if blocked {
                continue;
            }
            if let Some(next) = model(s, &ops[i]) {
                used[i] = true;
                if go(next, ops, used) {
                    return true;
                }
                used[i] = false;
            }
        }
        false
    }
    go(
        (initial.value, initial.version),
        ops,
        &mut vec![false; ops.len()],
    )
}

#[derive(Clone, Debug)]
struct Planned {
    client: u32,
    kind: u8,
    /// `None`: a value no other operation writes; otherwise one of a few shared values.
    value: Option<u64>,
    expected_delta: i32,
    lost: bool,
    applied: bool,
    before: u64,
    after: u64,
}

fn planned() -> impl Strategy<Value = Planned> {
    (
        0u32..3,
        0u8..3,
        prop::option::of(1u64..4),
        -1i32..2,
        prop::bool::weighted(0.3),
        any::<bool>(),
        0u64..250,
        0u64..250,
    )
        .prop_map(
            |(client, kind, value, expected_delta, lost, applied, before, after)| Planned {
                client,
                kind,
                value,
                expected_delta,
                lost,
                applied,
                before,
                after,
            },
        )
}

/// A sequential execution of the model, each operation taking effect at 100·(i+1), with its
/// interval stretched around that instant so that neighbours often overlap: linearizable by
/// construction.
fn execute(plan: &[Planned]) -> Vec<RegisterOp> {
    let mut s = (0u64, 0i32);
    let mut ops = Vec::new();
    for (i, p) in plan.iter().enumerate() {
        let at = 100 * (i as u64 + 1);
        let value = p.value.unwrap_or(100 + i as u64);
        let call = match p.kind {
            0 => RegisterCall::Read,
            1 => RegisterCall::Write { value },
            _ => RegisterCall::Cas {
                expected_version: (s.1 + p.expected_delta).max(0),
                value,
            },
        };
        let taken = !p.lost || p.applied;
        let result = if p.lost {
            RegisterResult::Unknown
        } else {
            match call {
                RegisterCall::Read => RegisterResult::Read {
                    value: s.0,
                    version: s.1,
                },
                _ => match model(
                    s,
                    &RegisterOp {
                        client: 0,
                        invoke: 0,
                        complete: None,
                        call,
                        result: RegisterResult::Written { version: s.1 + 1 },
                    },
                ) {
                    Some(_) => RegisterResult::Written { version: s.1 + 1 },
                    None => RegisterResult::BadVersion,
                },
            }
        };
        let op = RegisterOp {
            client: p.client,
            invoke: at.saturating_sub(p.before),
            complete: (!p.lost).then_some(at + p.after),
            call,
            result,
        };
        if taken {
            s = model(s, &op).unwrap_or(s);
        }
        ops.push(op);
    }
    ops
}

fn arbitrary_op() -> impl Strategy<Value = RegisterOp> {
    let call = prop_oneof![
        Just(RegisterCall::Read),
        (1u64..3).prop_map(|value| RegisterCall::Write { value }),
        (-1i32..3, 1u64..3).prop_map(|(expected_version, value)| RegisterCall::Cas {
            expected_version,
            value
        }),
    ];
    (
        0u32..3,
        0u64..60,
        prop::option::weighted(0.8, 0u64..30),
        call,
        0u64..3,
        0i32..4,
    )
        .prop_map(|(client, invoke, took, call, value, version)| {
            let result = match (call, took) {
                (_, None) => RegisterResult::Unknown,
                (RegisterCall::Read, _) => RegisterResult::Read { value, version },
                (_, _) if version == 0 => RegisterResult::BadVersion,
                (_, _) => RegisterResult::Written { version },
            };
            RegisterOp {
                client,
                invoke,
                complete: took.map(|d| invoke + d),
                call,
                result,
            }
        })
}

fn decided(verdict: &Verdict) -> bool {
    match verdict {
        Verdict::Linearizable => true,
        Verdict::NotLinearizable { .. } => false,
        other => panic!("undecided: {other:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn consistent_concurrent_histories_are_linearizable(plan in prop::collection::vec(planned(), 0..40)) {
        let ops = execute(&plan);
        prop_assert_eq!(check(&ops), Verdict::Linearizable, "{:#?}", ops);
    }

    #[test]
    fn one_mutated_read_agrees_with_brute_force(
        plan in prop::collection::vec(planned(), 1..8),
        pick in any::<prop::sample::Index>(),
        value in prop_oneof![0u64..4, 100u64..108],
        version in 0i32..5,
    ) {
        let mut ops = execute(&plan);
        let reads: Vec<usize> = (0..ops.len())
            .filter(|&i| matches!(ops[i].result, RegisterResult::Read { .. }))
            .collect();
        prop_assume!(!reads.is_empty());
        ops[reads[pick.index(reads.len())]].result = RegisterResult::Read { value, version };
        let expected = brute_force(INITIAL, &ops);
        prop_assert_eq!(decided(&check(&ops)), expected, "{:#?}", ops);
    }

    #[test]
    fn one_mutated_operation_of_any_kind_agrees_with_brute_force(
        plan in prop::collection::vec(planned(), 1..8),
        pick in any::<prop::sample::Index>(),
        version in 0i32..5,
        flip in any::<bool>(),
        delay in 0u64..400,
    ) {
        let mut ops = execute(&plan);
        let k = pick.index(ops.len());
        let op = &mut ops[k];
        op.result = match op.result {
            RegisterResult::Read { value, .. } => RegisterResult::Read { value, version },
            RegisterResult::Written { .. } if flip => RegisterResult::BadVersion,
            RegisterResult::Written { .. } | RegisterResult::BadVersion => {
                RegisterResult::Written { version }
            }
            RegisterResult::Unknown => {
                // A lost write can only be invoked later than it took effect by mistake.
                op.invoke += delay;
                RegisterResult::Unknown
            }
        };
        let expected = brute_force(INITIAL, &ops);
        prop_assert_eq!(decided(&check(&ops)), expected, "{:#?}", ops);
    }

    #[test]
    fn arbitrary_tiny_histories_agree_with_brute_force(ops in prop::collection::vec(arbitrary_op(), 0..8)) {
        let expected = brute_force(INITIAL, &ops);
        prop_assert_eq!(decided(&check(&ops)), expected, "{:#?}", ops);
    }
}
