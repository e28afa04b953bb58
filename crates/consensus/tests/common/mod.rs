//! Test-only pieces for the storage tests: a tiny type config whose entries are easy to make
//! and check, and a panicking open.

#![allow(dead_code)] // each test binary uses a different part of this module

use std::path::Path;

use openraft::impls::leader_id_adv::LeaderId;
use openraft::type_config::alias;
use openraft::vote::RaftLeaderId;
use openraft::BasicNode;
use openraft::EntryPayload;
use serde::Deserialize;
use serde::Serialize;
use zk_consensus::SledStorage;

/// The tiny replicated command of these tests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Put {
    pub key: String,
    pub value: Vec<u8>,
}

impl std::fmt::Display for Put {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "put {}", self.key)
    }
}

openraft::declare_raft_types!(
    /// Type config of the tests.
    pub TC:
        D = Put,
        R = Option<Vec<u8>>,
        Node = BasicNode,
);

pub type NodeId = u64;
/// The tests' log entry.
pub type Entry = alias::EntryOf<TC>;
/// The tests' log id.
pub type LogId = alias::LogIdOf<TC>;
/// The tests' vote.
pub type Vote = alias::VoteOf<TC>;
/// What a snapshot covers.
pub type SnapshotMeta = alias::SnapshotMetaOf<TC>;
/// A membership with the id of the entry that set it.
pub type StoredMembership = alias::StoredMembershipOf<TC>;

/// The log id of `index` in `term` (proposed by node 0).
pub fn log_id(term: u64, index: u64) -> LogId {
    LogId::new(LeaderId::new(term, 0), index)
}

/// A normal entry carrying `Put { key: "k<index>", value }`.
pub fn put_entry(term: u64, index: u64, value: Vec<u8>) -> Entry {
    Entry {
        log_id: log_id(term, index),
        payload: EntryPayload::Normal(Put {
            key: format!("k{index}"),
            value,
        }),
    }
}

/// Opens the storage in `dir`, panicking with the error (tests only).
pub fn open(dir: &Path) -> SledStorage {
    SledStorage::open(dir).unwrap_or_else(|e| panic!("open {dir:?}: {e}"))
}
