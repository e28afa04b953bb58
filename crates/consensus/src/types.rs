//! openraft's type configuration for the ensemble.

use std::io::Cursor;

use openraft::BasicNode;

use crate::command::Batch;
use crate::command::BatchResponse;

openraft::declare_raft_types!(
    /// The ensemble's Raft types: a [`Batch`] of commands in, a [`BatchResponse`] out, u64 node ids,
    /// nodes addressed by a `host:port` string; entries and snapshot data (an in-memory
    /// `Cursor<Vec<u8>>`) are openraft's defaults.
    pub TypeConfig:
        D = Batch,
        R = BatchResponse,
        NodeId = u64,
        Node = BasicNode,
        SnapshotData = Cursor<Vec<u8>>,
);

/// A node's id in the ensemble (`zk-node --id`).
pub type NodeId = u64;

/// The Raft instance of the ensemble.
pub type ZkRaft = openraft::Raft<TypeConfig>;
