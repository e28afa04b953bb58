//! `zk-bench`: a load generator for ZooKeeper-compatible servers (zk-node, Apache ZooKeeper
//! 3.8), built on `zk-client`, so every figure comes from the same tool on both sides.
//!
//! This crate owns: the workloads (`create`, `set`, `get`, `mixed`, `sessions`, `ephemeral`,
//! `failover`, `fill`, `stale`, `non-readers`), their measurement window (setup and warm-up are never measured), the
//! latency histograms (one HDR histogram per in-flight loop, merged at the end), the CPU and
//! RSS readings of the watched server processes, the report (a human table and one JSON line),
//! and turning the JSON lines of `bench/compare.sh` into `docs/benchmarks.md` and its chart.
//!
//! It must never: panic or unwrap on anything a server or the network does (a failed request
//! is counted under its error's name and the run goes on); create a session behind the
//! measurement's back (each client is one session, opened before the window); count a request
//! that started before the window opened or ended after it closed; talk to anything but the
//! servers it was given (`--servers`) and the processes it was told to watch (`--watch-pids`,
//! read from `/proc` only); or change the servers' settings.
//!
//! The pure parts (options validation, histogram merging, report formatting, figure
//! aggregation) are reachable from unit tests without a server.

pub mod chart;
pub mod clients;
pub mod compare;
pub mod options;
pub mod procstat;
pub mod progress;
pub mod proxy;
pub mod report;
pub mod rng;
pub mod stats;
pub mod window;
pub mod workload;

pub use options::{Options, Workload};
pub use report::Report;
