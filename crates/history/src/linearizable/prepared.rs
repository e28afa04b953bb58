//! Validation and normalisation of a recorded history into the form both checkers use.

use super::explain::describe;
use super::{RegisterCall, RegisterOp, RegisterResult, RegisterState};

/// How a `setData` ended, as far as the client knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Outcome {
    Written(i32),
    BadVersion,
    Unknown,
}

/// An operation stripped of the distinctions the model does not care about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// A `getData` that was answered (unanswered reads are dropped: they have no effect).
    Read { value: u64, version: i32 },
    /// A `setData`; `expected` is `None` for version -1, whether sent as `Write` or `Cas`.
    Set {
        expected: Option<i32>,
        value: u64,
        outcome: Outcome,
    },
}

/// One operation the checkers must place.
#[derive(Clone, Copy, Debug)]
pub(super) struct Op {
    /// Index into the caller's slice, so explanations can point back at the input.
    pub input: usize,
    pub invoke: u64,
    /// `None` for operations with an unknown outcome: their return time is +infinity.
    pub complete: Option<u64>,
    pub kind: Kind,
}

impl Op {
    /// The version the register must be at when this operation takes effect, if fixed.
    ///
    /// Versions never decrease, so no state newer than this may precede the operation.
    pub fn required_version(&self) -> Option<i32> {
        match self.kind {
            Kind::Read { version, .. } => Some(version),
            Kind::Set {
                outcome: Outcome::Written(v),
                ..
            } => v.checked_sub(1),
            Kind::Set { .. } => None,
        }
    }

    /// The version the register is known to hold right after this operation, if any.
    pub fn observed_version(&self) -> Option<i32> {
        match self.kind {
            Kind::Read { version, .. } => Some(version),
            Kind::Set {
                outcome: Outcome::Written(v),
                ..
            } => Some(v),
            Kind::Set { .. } => None,
        }
    }

    pub fn is_unknown(&self) -> bool {
        self.complete.is_none()
    }
}

/// A validated history of one register.
pub(super) struct Prepared<'a> {
    pub initial: RegisterState,
    pub ops: Vec<Op>,
    pub source: &'a [RegisterOp],
}

impl<'a> Prepared<'a> {
    /// Validates `source` and normalises it; `Err` carries the reason it is malformed.
    pub fn prepare(initial: RegisterState, source: &'a [RegisterOp]) -> Result<Self, String> {
        let mut ops = Vec::with_capacity(source.len());
        for (input, raw) in source.iter().enumerate() {
            let bad = |why: &str| Err(format!("{}: {why}", describe(input, raw)));
            if let Some(complete) = raw.complete {
                if complete < raw.invoke {
                    return bad("completed before it was invoked");
                }
            }
            let complete = match (raw.result, raw.complete) {
                // The client's give-up time does not bound when the request takes effect.
                (RegisterResult::Unknown, _) => None,
                (_, None) => return bad("has a result but no completion time"),
                (_, Some(t)) => Some(t),
            };
            let kind = match (raw.call, raw.result) {
                (RegisterCall::Read, RegisterResult::Unknown) => continue,
                (RegisterCall::Read, RegisterResult::Read { value, version }) => {
                    Kind::Read { value, version }
                }
                (RegisterCall::Read, _) => return bad("a getData cannot return a write's result"),
                (_, RegisterResult::Read { .. }) => {
                    return bad("a setData cannot return a getData's result")
                }
                (RegisterCall::Write { value }, result) => Kind::Set {
                    expected: None,
                    value,
                    outcome: outcome(result),
                },
                (
                    RegisterCall::Cas {
                        expected_version,
                        value,
                    },
                    result,
                ) => Kind::Set {
                    expected: (expected_version != -1).then_some(expected_version),
                    value,
                    outcome: outcome(result),
                },
            };
            ops.push(Op {
                input,
                invoke: raw.invoke,
                complete,
                kind,
            });
        }
        Ok(Prepared {
            initial,
            ops,
            source,
        })
    }

    /// A one-line description of internal operation `i`, as the caller recorded it.
    pub fn describe(&self, i: usize) -> String {
        let input = self.ops[i].input;
        describe(input, &self.source[input])
    }
}

fn outcome(result: RegisterResult) -> Outcome {
    match result {
        RegisterResult::Written { version } => Outcome::Written(version),
        RegisterResult::BadVersion => Outcome::BadVersion,
        // `Read` was rejected by the caller; anything else is indeterminate.
        RegisterResult::Unknown | RegisterResult::Read { .. } => Outcome::Unknown,
    }
}
