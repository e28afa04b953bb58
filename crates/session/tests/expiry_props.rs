//! Property tests of the expiry tracker and timeout negotiation against simple models.

use std::collections::HashMap;
use std::num::NonZeroU32;

use proptest::prelude::*;
use zk_session::{Clock, ExpiryTracker, ManualClock, SessionId, TimeoutBounds};

#[derive(Debug, Clone)]
enum Op {
    Touch { id: i64, timeout: u32 },
    Advance(u64),
    Remove(i64),
    ResetAll,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (1i64..=12, prop::sample::select(vec![4000u32, 4001, 5999, 6000, 10_000, 40_000]))
            .prop_map(|(id, timeout)| Op::Touch { id, timeout }),
        4 => prop_oneof![0u64..3, 1990u64..2010, 0u64..9000].prop_map(Op::Advance),
        1 => (1i64..=12).prop_map(Op::Remove),
        1 => Just(Op::ResetAll),
    ]
}

/// The model's rounding, written independently: the smallest multiple of the tick that is
/// strictly greater than `now + timeout`.
fn model_deadline(tick: u64, now: u64, timeout: u32) -> u64 {
    let t = now + u64::from(timeout);
    let mut d = t - t % tick;
    while d <= t {
        d += tick;
    }
    d
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// S6.2 / S5.1 / S9.3 / R4: after any sequence of touches, time steps, removals and
    /// leader resets, a session is reported expired iff now >= the latest rounded deadline
    /// any touch (or reset) gave it, exactly once, and never one ms early.
    #[test]
    fn expired_iff_past_last_rounded_deadline(
        tick in prop::sample::select(vec![1u32, 7, 500, 2000]),
        start in 0u64..100_000,
        ops in prop::collection::vec(op(), 1..200),
    ) {
        let clock = ManualClock::new(start);
        let mut tracker = ExpiryTracker::new(NonZeroU32::new(tick).unwrap());
        // id -> (deadline, timeout) of sessions the tracker should still hold.
        let mut model: HashMap<i64, (u64, u32)> = HashMap::new();
        for op in ops {
            let now = clock.now_ms();
            match op {
                Op::Touch { id, timeout } => {
                    let d = tracker.touch(SessionId::from_raw(id).unwrap(), timeout, now);
                    // A touch never brings a deadline forward (a later deadline, from a
                    // longer timeout, stays with its timeout).
                    let fresh = (model_deadline(u64::from(tick), now, timeout), timeout);
                    let kept = match model.get(&id) {
                        Some(&prev) if prev.0 > fresh.0 => prev,
                        _ => fresh,
                    };
                    prop_assert_eq!(d, kept.0);
                    model.insert(id, kept);
                }
                Op::Advance(ms) => clock.advance(ms),
                Op::Remove(id) => {
                    let got = tracker.remove(SessionId::from_raw(id).unwrap());
                    prop_assert_eq!(got, model.remove(&id).map(|(d, _)| d));
                }
                Op::ResetAll => {
                    tracker.reset_all(now);
                    for (d, timeout) in model.values_mut() {
                        *d = model_deadline(u64::from(tick), now, *timeout);
                    }
                }
            }
            // The leader sweeps after every step (it may sweep any time; R4).
            let now = clock.now_ms();
            let got: Vec<i64> = tracker.expired(now).into_iter().map(SessionId::get).collect();
            let mut want: Vec<i64> =
                model.iter().filter(|(_, (d, _))| now >= *d).map(|(&id, _)| id).collect();
            want.sort_unstable();
            prop_assert_eq!(&got, &want, "now={}", now);
            for id in &want {
                model.remove(id);
            }
            prop_assert_eq!(tracker.len(), model.len());
            prop_assert_eq!(tracker.next_deadline(), model.values().map(|(d, _)| *d).min());
            for (&id, &(d, _)) in &model {
                prop_assert!(d > now);
                prop_assert_eq!(tracker.deadline(SessionId::from_raw(id).unwrap()), Some(d));
            }
        }
    }

    /// S4.2: the negotiated timeout is the request clamped to [min, max], for any request
    /// (negative and zero included) and any valid configuration.
    #[test]
    fn negotiation_is_a_clamp(
        tick in 1u32..10_000,
        min in prop::option::of(1u32..100_000),
        max in prop::option::of(1u32..1_000_000),
        requested in any::<i32>(),
    ) {
        match TimeoutBounds::new(tick, min, max) {
            Ok(b) => {
                let got = b.negotiate(requested);
                prop_assert!(b.min_ms() <= got && got <= b.max_ms());
                if requested >= b.min_ms() as i32 && requested <= b.max_ms() as i32 {
                    prop_assert_eq!(got, requested as u32);
                }
                prop_assert_eq!(b.min_ms(), min.unwrap_or(2 * tick));
                prop_assert_eq!(b.max_ms(), max.unwrap_or(20 * tick));
            }
            Err(_) => {
                let lo = u64::from(min.unwrap_or(2 * tick));
                let hi = u64::from(max.unwrap_or(20 * tick));
                prop_assert!(lo > hi);
            }
        }
    }
}
