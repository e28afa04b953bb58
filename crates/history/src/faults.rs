//! When faults were in force, so time bounds can allow for the recovery they cause.

use serde::{Deserialize, Serialize};

use crate::Nanos;

/// One injected fault, from its injection to its repair (a kill: until the restart; a
/// pause: until the resume; a partition: until healed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultWindow {
    /// What it was, e.g. `kill -9 node 2 (leader)`.
    pub kind: String,
    /// When it was injected.
    pub start: Nanos,
    /// When it was repaired.
    pub end: Nanos,
    /// Whether no quorum could hear sessions while it lasted (every member killed, a
    /// majority paused, a spell without a serving leader): no session may expire for silence
    /// then, and whoever leads afterwards gives every session a fresh full timeout (S9.5).
    #[serde(default)]
    pub quorum_lost: bool,
}

/// The latest moment by which something due `budget` after `from` must have happened, when
/// a fault in force in between restarts the clock: a new leader gives every session a fresh
/// full timeout and a restarted or healed member needs an election, so a deadline that a
/// fault overlaps runs again from the fault's repair plus `recovery`.
pub fn deadline(from: Nanos, budget: Nanos, recovery: Nanos, faults: &[FaultWindow]) -> Nanos {
    let mut due = from.saturating_add(budget);
    // Each pass can only move the deadline later; stop when no fault moves it further.
    loop {
        let moved = faults
            .iter()
            .filter(|f| f.start <= due && f.end >= from)
            .map(|f| f.end.saturating_add(recovery).saturating_add(budget))
            .filter(|&d| d > due)
            .max();
        match moved {
            Some(d) => due = d,
            None => return due,
        }
    }
}

/// Whether any fault was in force at some moment of `[from, to]`.
pub fn any_during(from: Nanos, to: Nanos, faults: &[FaultWindow]) -> bool {
    faults.iter().any(|f| f.start <= to && f.end >= from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(start: Nanos, end: Nanos) -> FaultWindow {
        FaultWindow {
            kind: "kill".into(),
            start,
            end,
            quorum_lost: false,
        }
    }

    #[test]
    fn no_fault_leaves_the_plain_budget() {
        assert_eq!(deadline(100, 50, 7, &[]), 150);
        assert_eq!(deadline(100, 50, 7, &[w(0, 99), w(151, 300)]), 150);
    }

    #[test]
    fn an_overlapping_fault_restarts_the_budget_from_its_repair() {
        assert_eq!(deadline(100, 50, 10, &[w(120, 130)]), 190);
        // A fault already in force when the clock starts counts too.
        assert_eq!(deadline(100, 50, 10, &[w(90, 110)]), 170);
    }

    #[test]
    fn faults_chain_when_one_falls_inside_the_extended_deadline() {
        // The first extends to 190, which the second (starting at 180) overlaps.
        assert_eq!(deadline(100, 50, 10, &[w(120, 130), w(180, 200)]), 260);
    }

    #[test]
    fn during() {
        assert!(any_during(10, 20, &[w(15, 30)]));
        assert!(!any_during(10, 20, &[w(21, 30), w(0, 9)]));
    }
}
