//! Chaos testing for zk-node ensembles: a recorded workload, seeded faults, a verdict.
//!
//! This crate owns running a workload (compare-and-set registers, sequential creates,
//! sessions owning ephemerals and an observer of them) against an [`Ensemble`] while a
//! seeded schedule of faults (kill -9, leader kill, pause, partition, restart of all, and on
//! request a member removed and added back by reconfig) runs,
//! recording every operation with one monotonic clock, then repairing everything, reading
//! the final state and handing the record to `zk-history`'s checkers. The same run works on
//! local processes ([`ensemble::Processes`]) and on the docker-compose cluster
//! ([`ensemble::Docker`]); on processes the ensemble may have observers (non-voting
//! members), with a share of the clients connected to them only ([`observers`]). It must
//! never judge anything itself (the checkers do), never retry a write behind the record's
//! back, and never touch anything but its own processes, containers and loopback ports.

pub mod clock;
pub mod ensemble;
pub mod faults;
pub mod fourlw;
pub mod leadership;
pub mod membership;
pub mod observers;
pub mod ports;
pub mod proxy;
pub mod run;
pub mod workload;

pub use ensemble::Ensemble;
pub use run::{run, RunConfig, RunOutcome};
