//! Linearizability of single registers: one znode's data (a `u64`) and its version.
//!
//! This module owns the register model (ZooKeeper's `getData` / `setData` semantics), the
//! validation of recorded histories, a cheap pre-check that names the common violations in
//! plain words, and the exhaustive search (Wing & Gong with Lowe's improvements) that decides
//! everything else. Znodes are independent registers (P-compositionality): callers split a
//! run's history per znode and call [`check_register`] once per znode.
//!
//! Conventions, chosen so that the checker never reports a violation that did not happen:
//! - Times are nanoseconds on one clock shared by all clients. Two operations are ordered in
//!   real time only when one's `complete` is *strictly* before the other's `invoke`; equal
//!   times count as concurrent.
//! - An operation whose result is [`RegisterResult::Unknown`] may have taken effect at any
//!   instant after its `invoke`, or never. Its `complete` is ignored even when present: a
//!   request the client gave up on (timeout, ConnectionLoss) can still be applied later.
//!   A `getData` with an unknown result has no effect and is dropped.
//! - Operations of one client are not assumed to be sequential (ZooKeeper clients may
//!   pipeline), so overlapping operations of one client are simply concurrent.
//! - A compare-and-set expecting version -1 is ZooKeeper's unconditional `setData`; such a
//!   write answered BadVersion is a violation (no server may say that), not malformed input.
//! - Histories the checker cannot interpret (a completion before the invocation, a result
//!   of the wrong kind, an answer without a completion time) yield [`Verdict::Malformed`]
//!   rather than a panic or a guess.
//!
//! The search is exponential in the worst case, hence the step budget and
//! [`Verdict::Inconclusive`]. Its reductions make the common case linear; what still costs
//! is many lost replies among writes that reuse values, so workloads should write distinct
//! values.

mod explain;
mod precheck;
mod prepared;
mod search;
pub mod synth;

use std::fmt;

use serde::{Deserialize, Serialize};

/// A budget for [`check_register`]: a linearizable chaos history needs about one search step
/// per operation, so this leaves ample room while capping a hopeless search at a few seconds.
pub const DEFAULT_BUDGET: u64 = 5_000_000;

/// A register's state: the znode's data (a u64 written as decimal text by the workload) and its version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RegisterState {
    /// The znode's data, parsed as a decimal `u64`.
    pub value: u64,
    /// The znode's data version (`Stat.version`).
    pub version: i32,
}

/// What a client asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RegisterCall {
    /// `getData`.
    Read,
    /// `setData` with version -1: always applies.
    Write {
        /// The data written.
        value: u64,
    },
    /// `setData` with a version: applies only if the znode is at `expected_version`.
    Cas {
        /// The version the znode must be at for the write to apply.
        expected_version: i32,
        /// The data written.
        value: u64,
    },
}

/// What it got back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RegisterResult {
    /// Indeterminate (ConnectionLoss, timeout, never answered): may or may not have taken effect.
    Unknown,
    /// `getData` answered with this data and version.
    Read {
        /// The data read.
        value: u64,
        /// The version read.
        version: i32,
    },
    /// `setData` succeeded; `version` is the new version from the reply's `Stat`.
    Written {
        /// The znode's version after this write.
        version: i32,
    },
    /// `setData` failed with BadVersion: the znode was not at the expected version.
    BadVersion,
}

/// One operation as one client saw it; times are nanoseconds on one monotonic clock shared by all clients of the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RegisterOp {
    /// The client (session) that issued the operation.
    pub client: u32,
    /// When the request was sent.
    pub invoke: u64,
    /// When the reply arrived; `None` iff `result` is `Unknown`.
    pub complete: Option<u64>,
    /// The request.
    pub call: RegisterCall,
    /// The reply.
    pub result: RegisterResult,
}

/// The checker's answer for one register.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verdict {
    /// Some total order of the operations respects real time and the register's semantics.
    Linearizable,
    /// No linearization exists; `explanation` is human-readable: the longest linearizable prefix found, and the operation(s) that could not be placed, with times, clients, calls and results.
    NotLinearizable {
        /// Why, naming the operations involved.
        explanation: String,
    },
    /// The search gave up (budget exhausted) without an answer: never reported as a pass.
    Inconclusive {
        /// Search steps taken before giving up.
        explored: u64,
    },
    /// The history itself is inconsistent (e.g. completed before it was invoked): nothing was checked.
    Malformed {
        /// What is wrong, naming the operation.
        reason: String,
    },
}

impl Verdict {
    /// True only for [`Verdict::Linearizable`]: every other verdict must fail a test run.
    pub fn is_linearizable(&self) -> bool {
        matches!(self, Verdict::Linearizable)
    }
}

impl RegisterState {
    /// The state after `call` answered with `result`, or `None` if that answer is impossible
    /// in this state. For an `Unknown` result this is the state if the operation takes effect now.
    pub fn apply(self, call: RegisterCall, result: RegisterResult) -> Option<RegisterState> {
        let set = |value: u64, expected: Option<i32>| {
            let matches = expected.is_none_or(|e| e == self.version);
            let bumped = self.version.checked_add(1);
            match result {
                RegisterResult::Written { version } if matches && bumped == Some(version) => {
                    Some(RegisterState { value, version })
                }
                RegisterResult::BadVersion if !matches => Some(self),
                RegisterResult::Unknown if matches => {
                    bumped.map(|version| RegisterState { value, version })
                }
                RegisterResult::Unknown => Some(self),
                _ => None,
            }
        };
        match call {
            RegisterCall::Read => match result {
                RegisterResult::Read { value, version }
                    if value == self.value && version == self.version =>
                {
                    Some(self)
                }
                RegisterResult::Unknown => Some(self),
                _ => None,
            },
            RegisterCall::Write { value } => set(value, None),
            RegisterCall::Cas {
                expected_version,
                value,
            } => set(value, (expected_version != -1).then_some(expected_version)),
        }
    }
}

impl fmt::Display for RegisterState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "(value {}, version {})", self.value, self.version)
    }
}

impl fmt::Display for RegisterCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegisterCall::Read => write!(f, "getData"),
            RegisterCall::Write { value } => write!(f, "setData({value}, version -1)"),
            RegisterCall::Cas {
                expected_version,
                value,
            } => write!(f, "setData({value}, version {expected_version})"),
        }
    }
}

impl fmt::Display for RegisterResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegisterResult::Unknown => write!(f, "unknown outcome"),
            RegisterResult::Read { value, version } => {
                write!(f, "(value {value}, version {version})")
            }
            RegisterResult::Written { version } => write!(f, "ok, new version {version}"),
            RegisterResult::BadVersion => write!(f, "BadVersion"),
        }
    }
}

/// Check one register's history from `initial`. `budget` bounds the number of search steps.
///
/// Malformed histories give [`Verdict::Malformed`]; violations the pre-check recognises are
/// explained in its words; the rest is decided by the search, which gives up with
/// [`Verdict::Inconclusive`] after `budget` steps.
pub fn check_register(initial: RegisterState, ops: &[RegisterOp], budget: u64) -> Verdict {
    let history = match prepared::Prepared::prepare(initial, ops) {
        Ok(h) => h,
        Err(reason) => return Verdict::Malformed { reason },
    };
    if let Some(explanation) = precheck::find_violation(&history) {
        return Verdict::NotLinearizable { explanation };
    }
    search::search(&history, budget)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: RegisterState = RegisterState {
        value: 7,
        version: 3,
    };

    #[test]
    fn apply_follows_zookeeper_set_data() {
        type C = RegisterCall;
        type R = RegisterResult;
        let at = |value, version| Some(RegisterState { value, version });
        let read = |value, version| R::Read { value, version };
        let ok = |version| R::Written { version };
        let write = C::Write { value: 9 };
        let cas = |expected_version| C::Cas {
            expected_version,
            value: 9,
        };
        // Reads must match exactly; an unanswered read changes nothing.
        assert_eq!(S.apply(C::Read, read(7, 3)), at(7, 3));
        assert_eq!(S.apply(C::Read, read(7, 2)), None);
        assert_eq!(S.apply(C::Read, R::Unknown), at(7, 3));
        // Unconditional writes always bump the version by one, and never fail on it.
        assert_eq!(S.apply(write, ok(4)), at(9, 4));
        assert_eq!(S.apply(write, ok(5)), None);
        assert_eq!(S.apply(write, R::BadVersion), None);
        assert_eq!(S.apply(write, R::Unknown), at(9, 4));
        // CAS applies iff the version matches; -1 means unconditional.
        assert_eq!(S.apply(cas(3), ok(4)), at(9, 4));
        assert_eq!(S.apply(cas(2), ok(4)), None);
        assert_eq!(S.apply(cas(2), R::BadVersion), at(7, 3));
        assert_eq!(S.apply(cas(3), R::BadVersion), None);
        assert_eq!(S.apply(cas(-1), ok(4)), at(9, 4));
        assert_eq!(S.apply(cas(-1), R::BadVersion), None);
        // An unknown CAS that takes effect where it matches must apply.
        assert_eq!(S.apply(cas(3), R::Unknown), at(9, 4));
        assert_eq!(S.apply(cas(2), R::Unknown), at(7, 3));
        // Kinds that cannot go together.
        assert_eq!(S.apply(C::Read, ok(4)), None);
        assert_eq!(S.apply(write, read(7, 3)), None);
    }

    #[test]
    fn apply_never_overflows_the_version() {
        let top = RegisterState {
            value: 1,
            version: i32::MAX,
        };
        let w = RegisterCall::Write { value: 2 };
        assert_eq!(top.apply(w, RegisterResult::Unknown), None);
        assert_eq!(
            top.apply(w, RegisterResult::Written { version: i32::MIN }),
            None
        );
    }
}
