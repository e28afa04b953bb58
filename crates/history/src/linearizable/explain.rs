//! Wording shared by the pre-check and the search, so every message names operations the same way.

use super::{RegisterOp, RegisterResult};

/// How an operation is named in every message: its index in the caller's slice, who, when, what.
pub(super) fn describe(input: usize, op: &RegisterOp) -> String {
    let when = match (op.result, op.complete) {
        (RegisterResult::Unknown, _) => format!("invoked {} ns, never answered", op.invoke),
        (_, Some(c)) => format!("invoked {} ns, completed {c} ns", op.invoke),
        (_, None) => format!("invoked {} ns, no completion time", op.invoke),
    };
    // Bracketed so a description reads as one noun inside a sentence.
    format!(
        "[op #{input}, client {}, {when}: {} -> {}]",
        op.client, op.call, op.result
    )
}
