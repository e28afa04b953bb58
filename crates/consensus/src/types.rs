//! openraft's type configuration for the ensemble, and short names for the openraft types
//! this crate uses with it.

use std::io::Cursor;

use openraft::type_config::alias;
use openraft::BasicNode;

use crate::command::Batch;
use crate::command::BatchResponse;
use crate::state_machine::ZkStateMachine;

openraft::declare_raft_types!(
    /// The ensemble's Raft types: a [`Batch`] of commands in, a [`BatchResponse`] out, u64 node
    /// ids, nodes addressed by a `host:port` string; terms, leader ids (openraft's "advanced"
    /// ones: term and node), votes and entries are openraft's defaults.
    pub TypeConfig:
        D = Batch,
        R = BatchResponse,
        NodeId = u64,
        Node = BasicNode,
);

/// A node's id in the ensemble (`zk-node --id`).
pub type NodeId = u64;

/// The Raft instance of the ensemble.
pub type ZkRaft = openraft::Raft<TypeConfig, ZkStateMachine>;

/// A snapshot's bytes, in memory (the state machine's and the network's `SnapshotData`).
pub type SnapshotData = Cursor<Vec<u8>>;

/// A log entry's id: the term and node that proposed it, and its index.
pub type LogId = alias::LogIdOf<TypeConfig>;
/// A vote (or a leader's granted vote).
pub type Vote = alias::VoteOf<TypeConfig>;
/// A log entry.
pub type Entry = alias::EntryOf<TypeConfig>;
/// The membership config, with the id of the entry that set it.
pub type StoredMembership = alias::StoredMembershipOf<TypeConfig>;
/// What a snapshot covers.
pub type SnapshotMeta = alias::SnapshotMetaOf<TypeConfig>;
/// A snapshot: its meta and bytes.
pub type Snapshot = alias::SnapshotOf<TypeConfig, SnapshotData>;
