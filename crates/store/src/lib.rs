//! The replicated ZooKeeper data tree and the node-local watch registry, with Apache ZooKeeper
//! 3.8's semantics: znodes with their Stat, ACLs, sequential counters, ephemerals, containers
//! and TTL nodes; deterministic `apply` of write txns (validation included, ZooKeeper's error
//! codes out, watch triggers listed); reads with ACL checks; snapshots and a digest.
//!
//! This crate must never do networking, read a clock, use tokio, or draw random numbers:
//! everything a txn needs (zxid, time, session, ids) comes in its [`TxnContext`], so replicas
//! applying the same log stay identical.

pub mod acl;
mod apply;
mod cleanup;
mod digest;
pub mod error;
mod image;
mod multi;
pub mod node;
mod node_map;
pub mod path;
pub mod snapshot;
mod tree;
pub mod txn;
pub mod watch;

pub use apply::MAX_TTL_MS;
pub use error::SnapshotError;
pub use image::NodeImage;
pub use node::{NodeKind, StoredStat};
pub use snapshot::FrozenTree;
pub use tree::{DataTree, TreeConfig};
pub use txn::{create_mode_for, Applied, OpResult, Trigger, Txn, TxnContext};
pub use watch::{WatchMode, WatchRegistry, WatcherKind};
