//! Raft for the ensemble, built on openraft 0.10 (alpha, pinned exactly in the workspace).
//!
//! This crate owns: the Raft type config ([`TypeConfig`]), the replicated [`Command`], the
//! durable Raft log and vote in a write-ahead log of its own ([`LogStore`]), the node's
//! small records in sled ([`SledStorage`]: format version, [`SnapshotStore`]'s record,
//! [`ClusterMetaStore`]), the replicated [`State`] (data tree, session table, cluster secret)
//! and the pure rules that apply a command to it, openraft's state machine over it
//! ([`ZkStateMachine`]) with its versioned, checksummed snapshots, and a member of an
//! ensemble ([`start_cluster`], [`ClusterNode`]) over the gRPC (tonic) network of
//! `proto/peer.proto`, in plain text or mutual TLS where each certificate speaks for one
//! member ([`PeerTls`]; the rustls configurations come from the caller). A one-node ensemble
//! is an ensemble of one: the same start and member, with no peer port.
//!
//! What the node layer gets: every applied command's outcome as an [`ApplyEvent`] (its zxid,
//! the [`Origin`] of the request, results and watch triggers) through the [`ApplyHook`] on
//! every node, read access to the applied [`State`] through [`SharedState`], with the applied
//! zxid and log index to wait on, and how the member stands in Raft ([`Standing`]) without
//! openraft's types, and what this crate measures for monitoring ([`ConsensusMetrics`]: log
//! syncs, snapshots, the start's load), read when the node renders its metrics. Proposals go
//! in without waiting ([`ClusterNode::submit`],
//! [`Submitter`]); a log entry carries a [`Batch`] of commands, so one fsync covers everything
//! queued meanwhile.
//!
//! It must never speak the ZooKeeper client protocol: that is `zk-wire` and the node's job.
//! Apply never reads a clock or draws randomness: time comes in the command, so every replica
//! applying the same log holds the same state.
//!
//! Durability rule: nothing is acknowledged (openraft's `IOFlushed` callback, `save_vote`,
//! `truncate_after`, `purge`, `SnapshotStore::save`) before a sync covering it returned Ok. Syncs
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
pub mod membership;
pub mod metrics;
mod recent;
mod seed;
mod snapshot;
mod snapshot_store;
mod state;
mod state_machine;
mod storage;
mod submitter;
mod types;
mod upgrade;
mod wal;
mod zookeeper_snapshot;

pub use cluster::start_cluster;
pub use cluster::ClusterConfig;
pub use cluster::ClusterError;
pub use cluster::ClusterNode;
pub use cluster::Member;
pub use cluster::ProposeError;
pub use cluster::RaftRole;
pub use cluster::RaftTiming;
pub use cluster::RecoveryError;
pub use cluster::Role;
pub use cluster::RoleChanges;
pub use cluster::Standing;
pub use cluster::StandingWatch;
pub use cluster::StartError;
pub use cluster_meta::ClusterMeta;
pub use cluster_meta::ClusterMetaStore;
pub use command::now_ms;
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
pub use grpc::tls::PeerTls;
pub use log_store::AcceptedIndex;
pub use log_store::LogReader;
pub use log_store::LogStore;
pub use log_store::StoredEntry;
pub use metrics::ConsensusMetrics;
pub use seed::seed_data_dir;
pub use seed::seed_log_id;
pub use seed::SeedError;
pub use snapshot::decode_state;
pub use snapshot::encode_state;
pub use snapshot::StateSnapshotError;
pub use snapshot::SNAPSHOT_MAGIC;
pub use snapshot::SNAPSHOT_VERSION;
pub use snapshot_store::SnapshotStore;
pub use snapshot_store::StoredSnapshot;
pub use state::AppliedPoint;
pub use state::State;
pub use state_machine::ApplyEvent;
pub use state_machine::ApplyHook;
pub use state_machine::HookAlreadySet;
pub use state_machine::SharedState;
pub use state_machine::StateMachineGone;
pub use state_machine::ZkSnapshotBuilder;
pub use state_machine::ZkStateMachine;
pub use storage::open_sled;
pub use storage::Released;
pub use storage::SledStorage;
pub use storage::FORMAT_VERSION;
pub use submitter::OnRefused;
pub use submitter::Submitter;
pub use types::Entry;
pub use types::LogId;
pub use types::NodeId;
pub use types::Snapshot;
pub use types::SnapshotData;
pub use types::SnapshotMeta;
pub use types::StoredMembership;
pub use types::TypeConfig;
pub use types::Vote;
pub use types::ZkRaft;
pub use zookeeper_snapshot::zookeeper_snapshot;
pub use zookeeper_snapshot::ZkSnapshotError;
