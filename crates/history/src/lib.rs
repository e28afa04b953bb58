//! Operation histories of a chaos run and the checks that judge them.
//!
//! This crate owns the record of what clients saw (invocation and completion times on one
//! monotonic clock, and results) and the pure checkers over it: registers linearizable, no
//! acknowledged create lost or duplicated, sequential names unique and increasing, ephemerals
//! gone in time after their session stops and never while it lives, no client seeing the
//! state go back in time. It must never do I/O, read a clock or decide anything by chance:
//! a history and its faults in, a verdict out, the same every time.

pub mod ephemeral;
pub mod faults;
pub mod history;
pub mod linearizable;
pub mod report;
pub mod sequential;
pub mod zxid;

pub use faults::FaultWindow;
pub use history::History;
pub use report::{CheckResult, Report};

/// Nanoseconds since the start of a run, on the recorder's monotonic clock.
pub type Nanos = u64;

/// One second in [`Nanos`].
pub const SECOND: Nanos = 1_000_000_000;
