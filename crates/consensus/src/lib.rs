//! Raft for the ensemble, built on openraft 0.9 (storage-v2 API).
//!
//! This crate owns: the Raft type config ([`TypeConfig`]), the replicated [`Command`], the
//! durable Raft log and vote in a write-ahead log of its own ([`LogStore`]), the node's
//! small records in sled ([`SledStorage`]: format version, [`SnapshotStore`]'s record,
//! [`ClusterMetaStore`]), the state machine over `zk-store` + `zk-session`
//! ([`ZkStateMachine`]: data tree, session table, cluster secret) with its versioned,
//! checksummed snapshots, a one-node ensemble ([`start_single`]) whose network
//! ([`OneNodeNetwork`]) has no peers, and a member of a multi-node ensemble
//! ([`start_cluster`], [`ClusterNode`]) over the gRPC (tonic) network of `proto/peer.proto`.
//!
//! What the node layer gets: every applied command's outcome as an [`ApplyEvent`] (its zxid,
//! the [`Origin`] of the request, results and watch triggers) on every node, and read access
//! to the applied [`State`] through [`SharedState`], with the applied zxid and log index to
//! wait on. Proposals go in without waiting ([`ClusterNode::submit`], [`Submitter`]); a log
//! entry carries a [`Batch`] of commands, so one fsync covers everything queued meanwhile.
//!
//! It must never speak the ZooKeeper client protocol: that is `zk-wire` and the node's job.
//! Apply never reads a clock or draws randomness: time comes in the command, so every replica
//! applying the same log holds the same state.
//!
//! Durability rule: nothing is acknowledged (openraft's `LogFlushed` callback, `save_vote`,
//! `truncate`, `purge`, `SnapshotStore::save`) before a sync covering it returned Ok. Syncs
//! run on a background thread per store that groups every write waiting for it into one
//! `fdatasync`, so the async runtime never blocks on disk.

// openraft's `StorageError` is large (~190 bytes) and is what its storage traits must return;
// boxing it in our helpers would only add conversions at every trait method.
#![allow(clippy::result_large_err)]
#![warn(missing_docs)]

mod broken;
mod cluster;
mod cluster_meta;
mod codec;
mod command;
mod disk_sync;
mod error;
mod flusher;
mod grpc;
mod log_store;
mod network;
mod recent;
mod single;
mod snapshot;
mod snapshot_store;
mod state_machine;
mod storage;
mod submitter;
mod types;
mod upgrade;
mod wal;

pub use cluster::leader_heard_ago;
pub use cluster::start_cluster;
pub use cluster::ClusterConfig;
pub use cluster::ClusterError;
pub use cluster::ClusterNode;
pub use cluster::ProposeError;
pub use cluster::RaftTiming;
pub use cluster::Role;
pub use cluster_meta::ClusterMeta;
pub use cluster_meta::ClusterMetaStore;
pub use command::Batch;
pub use command::BatchResponse;
pub use command::Command;
pub use command::CommandOp;
pub use command::CommandResponse;
pub use command::Origin;
pub use command::Outcome;
pub use error::Corruption;
pub use error::MetaError;
pub use error::OpenError;
pub use grpc::activity::{ActivityHandler, Touch};
pub use log_store::LogReader;
pub use log_store::LogStore;
pub use log_store::StoredEntry;
pub use network::OneNodeNetwork;
pub use network::UnreachablePeer;
pub use single::now_ms;
pub use single::single_node_config;
pub use single::start_single;
pub use single::SingleConfig;
pub use single::SingleNode;
pub use single::StartError;
pub use snapshot::decode_state;
pub use snapshot::encode_state;
pub use snapshot::StateSnapshotError;
pub use snapshot::SNAPSHOT_MAGIC;
pub use snapshot::SNAPSHOT_VERSION;
pub use snapshot_store::SnapshotStore;
pub use snapshot_store::StoredSnapshot;
pub use state_machine::AppliedPoint;
pub use state_machine::ApplyEvent;
pub use state_machine::ApplyEvents;
pub use state_machine::ApplyHook;
pub use state_machine::HookAlreadySet;
pub use state_machine::SharedState;
pub use state_machine::State;
pub use state_machine::StateMachineGone;
pub use state_machine::ZkSnapshotBuilder;
pub use state_machine::ZkStateMachine;
pub use storage::open_sled;
pub use storage::Released;
pub use storage::SledStorage;
pub use storage::FORMAT_VERSION;
pub use submitter::OnRefused;
pub use submitter::Submitter;
pub use types::NodeId;
pub use types::TypeConfig;
pub use types::ZkRaft;
