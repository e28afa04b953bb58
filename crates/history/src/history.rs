//! A whole run's record, and running every check over it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ephemeral::{self, Bounds, Observation, SessionRecord};
use crate::faults::FaultWindow;
use crate::linearizable::{self, RegisterCall, RegisterOp, RegisterResult, RegisterState, Verdict};
use crate::report::{CheckResult, Report};
use crate::sequential::{self, CreateOp, FinalChild};
use crate::zxid::{self, ZxidRead};
use crate::Nanos;

/// What a client asked of a register.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Call {
    /// getData.
    Read,
    /// setData with version -1.
    Write {
        /// The value written.
        value: u64,
    },
    /// setData with an expected version.
    Cas {
        /// The version the client expects.
        expected_version: i32,
        /// The value written if it matches.
        value: u64,
    },
}

/// What came back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// Indeterminate (ConnectionLoss, no answer): may or may not have been applied.
    Unknown,
    /// A read's value and version.
    Read {
        /// The value.
        value: u64,
        /// The version.
        version: i32,
    },
    /// A write applied, giving this version.
    Written {
        /// The new version.
        version: i32,
    },
    /// A compare-and-set refused (BadVersion): nothing applied.
    BadVersion,
}

/// One register operation as its client saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterRecord {
    /// The client.
    pub client: u32,
    /// When asked.
    pub invoke: Nanos,
    /// When answered (`None` iff the outcome is Unknown).
    pub complete: Option<Nanos>,
    /// What was asked.
    pub call: Call,
    /// What came back.
    pub outcome: Outcome,
    /// The mzxid of the Stat that came back (reads and applied writes).
    pub mzxid: Option<i64>,
    /// The highest zxid the client had seen when it asked.
    pub seen_before: i64,
    /// For a read: whether a sync came first (only those are linearizable in ZooKeeper's
    /// contract; a plain read may lag behind writes acknowledged to other clients, though
    /// never behind what its own client saw). Writes: true.
    pub synced: bool,
}

/// Every operation on one register (one znode).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterHistory {
    /// The znode.
    pub path: String,
    /// Its value and version before the first recorded operation.
    pub initial: (u64, i32),
    /// In any order.
    pub ops: Vec<RegisterRecord>,
}

/// The allowances every check uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Params {
    /// The ephemeral checks' time bounds.
    pub bounds: Bounds,
    /// Search steps allowed per register before the linearizability check gives up.
    pub search_budget: u64,
}

/// A whole run: what every client did and saw, what was left, and the faults.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    /// The registers (compare-and-set workload).
    pub registers: Vec<RegisterHistory>,
    /// Sequential creates.
    pub creates: Vec<CreateOp>,
    /// The children of every create parent after the run.
    pub finals: BTreeMap<String, Vec<FinalChild>>,
    /// Sessions that owned ephemerals.
    pub sessions: Vec<SessionRecord>,
    /// Observers' exists calls on those ephemerals.
    pub observations: Vec<Observation>,
    /// The faults injected.
    pub faults: Vec<FaultWindow>,
}

impl History {
    /// Runs every check.
    pub fn check(&self, params: &Params) -> Report {
        Report {
            checks: vec![
                self.check_registers(params.search_budget),
                sequential::check(&self.creates, &self.finals),
                ephemeral::check(
                    &self.sessions,
                    &self.observations,
                    &self.faults,
                    params.bounds,
                ),
                self.check_zxids(),
            ],
        }
    }

    /// Every register linearizable, writes and synced reads (which covers acknowledged
    /// writes lost: the run ends with a synced read of every register).
    fn check_registers(&self, budget: u64) -> CheckResult {
        let mut r = CheckResult::new("registers linearizable");
        for reg in &self.registers {
            r.checked += reg.ops.iter().filter(|op| op.synced).count();
            let ops: Vec<RegisterOp> = reg
                .ops
                .iter()
                .filter(|op| op.synced)
                .map(to_register_op)
                .collect();
            let initial = RegisterState {
                value: reg.initial.0,
                version: reg.initial.1,
            };
            match linearizable::check_register(initial, &ops, budget) {
                Verdict::Linearizable => {}
                Verdict::NotLinearizable { explanation } => {
                    r.violations.push(format!("{}: {explanation}", reg.path))
                }
                Verdict::Inconclusive { explored } => r.undecided.push(format!(
                    "{}: search gave up after {explored} steps ({} ops)",
                    reg.path,
                    reg.ops.len()
                )),
                other => r.violations.push(format!("{}: {other:?}", reg.path)),
            }
        }
        r
    }

    fn check_zxids(&self) -> CheckResult {
        let mut writes: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        let mut reads = Vec::new();
        for reg in &self.registers {
            for op in &reg.ops {
                match (op.outcome, op.mzxid) {
                    (Outcome::Written { .. }, Some(z)) => {
                        writes.entry(reg.path.clone()).or_default().push(z)
                    }
                    (Outcome::Read { .. }, Some(z)) => reads.push(ZxidRead {
                        client: op.client,
                        register: reg.path.clone(),
                        invoke: op.invoke,
                        seen_before: op.seen_before,
                        mzxid: z,
                    }),
                    _ => {}
                }
            }
        }
        zxid::check(&reads, &writes)
    }
}

fn to_register_op(r: &RegisterRecord) -> RegisterOp {
    RegisterOp {
        client: r.client,
        invoke: r.invoke,
        complete: r.complete,
        call: match r.call {
            Call::Read => RegisterCall::Read,
            Call::Write { value } => RegisterCall::Write { value },
            Call::Cas {
                expected_version,
                value,
            } => RegisterCall::Cas {
                expected_version,
                value,
            },
        },
        result: match r.outcome {
            Outcome::Unknown => RegisterResult::Unknown,
            Outcome::Read { value, version } => RegisterResult::Read { value, version },
            Outcome::Written { version } => RegisterResult::Written { version },
            Outcome::BadVersion => RegisterResult::BadVersion,
        },
    }
}
