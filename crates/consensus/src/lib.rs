//! Raft for the ensemble, built on openraft 0.9 (storage-v2 API).
//!
//! This crate owns: the Raft type config, the replicated command, the sled-backed log, vote and
//! snapshot storage, the state-machine adapter over `zk-store` + `zk-session`, and the gRPC
//! (tonic) network between nodes. **Only the storage exists yet**: [`SledLogStore`] (log and
//! vote), [`SnapshotStore`] (latest snapshot) and [`ClusterMetaStore`] (the peers a data dir
//! was created with), all in one sled database opened by [`SledStorage::open`].
//!
//! It must never speak the ZooKeeper client protocol: that is `zk-wire` and the node's job.
//!
//! Durability rule: nothing is acknowledged (openraft's `LogFlushed` callback, `save_vote`,
//! `truncate`, `purge`, `SnapshotStore::save`) before a sled flush covering it returned Ok.
//! Flushes run on one background thread that groups every write waiting for it into one
//! fsync, so the async runtime never blocks on disk.

// openraft's `StorageError` is large (~190 bytes) and is what its storage traits must return;
// boxing it in our helpers would only add conversions at every trait method.
#![allow(clippy::result_large_err)]
#![warn(missing_docs)]

mod cluster_meta;
mod codec;
mod command;
mod error;
mod flusher;
mod log_store;
mod snapshot;
mod snapshot_store;
mod state_machine;
mod storage;
mod types;

pub use cluster_meta::ClusterMeta;
pub use cluster_meta::ClusterMetaStore;
pub use command::Command;
pub use command::CommandOp;
pub use command::CommandResponse;
pub use command::Origin;
pub use command::Outcome;
pub use error::Corruption;
pub use error::MetaError;
pub use error::OpenError;
pub use log_store::SledLogReader;
pub use log_store::SledLogStore;
pub use snapshot::decode_state;
pub use snapshot::encode_state;
pub use snapshot::StateSnapshotError;
pub use snapshot::SNAPSHOT_MAGIC;
pub use snapshot::SNAPSHOT_VERSION;
pub use snapshot_store::SnapshotStore;
pub use snapshot_store::StoredSnapshot;
pub use state_machine::ApplyEvent;
pub use state_machine::ApplyEvents;
pub use state_machine::SharedState;
pub use state_machine::State;
pub use state_machine::StateMachineGone;
pub use state_machine::ZkSnapshotBuilder;
pub use state_machine::ZkStateMachine;
pub use storage::SledStorage;
pub use storage::FORMAT_VERSION;
pub use types::NodeId;
pub use types::TypeConfig;
pub use types::ZkRaft;
