//! Test-only pieces for the storage tests: a tiny type config whose entries are easy to make
//! and check, and a panicking open.

#![allow(dead_code)] // each test binary uses a different part of this module

// `declare_raft_types!` in openraft 0.9.25 names `Cursor` unqualified (its default SnapshotData).
use std::io::Cursor;
use std::path::Path;

use openraft::BasicNode;
use openraft::Entry;
use openraft::EntryPayload;
use openraft::LogId;
use serde::Deserialize;
use serde::Serialize;
use zk_consensus::SledStorage;

/// The tiny replicated command of these tests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Put {
    pub key: String,
    pub value: Vec<u8>,
}

openraft::declare_raft_types!(
    /// Type config of the tests.
    pub TC:
        D = Put,
        R = Option<Vec<u8>>,
        Node = BasicNode,
);

pub type NodeId = u64;

/// A normal entry carrying `Put { key: "k<index>", value }`.
pub fn put_entry(term: u64, index: u64, value: Vec<u8>) -> Entry<TC> {
    Entry {
        log_id: LogId::new(openraft::CommittedLeaderId::new(term, 0), index),
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
