//! Test-only pieces: a tiny type config and an in-memory state machine whose snapshots go
//! through the crate's `SnapshotStore` (the real adapter over zk-store comes later).

#![allow(dead_code)] // each test binary uses a different part of this module
#![allow(clippy::result_large_err)] // openraft's StorageError, as its traits require

use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::Path;

use openraft::storage::RaftStateMachine;
use openraft::storage::Snapshot;
use openraft::BasicNode;
use openraft::Entry;
use openraft::EntryPayload;
use openraft::ErrorSubject;
use openraft::ErrorVerb;
use openraft::LogId;
use openraft::OptionalSend;
use openraft::RaftSnapshotBuilder;
use openraft::SnapshotMeta;
use openraft::StorageError;
use openraft::StorageIOError;
use openraft::StoredMembership;
use serde::Deserialize;
use serde::Serialize;
use zk_consensus::SledStorage;
use zk_consensus::SnapshotStore;

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

/// State machine contents, also the snapshot format.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct SmState {
    last_applied: Option<LogId<NodeId>>,
    last_membership: StoredMembership<NodeId, BasicNode>,
    data: BTreeMap<String, Vec<u8>>,
}

/// In-memory state machine; snapshots are kept durably in the `SnapshotStore`.
pub struct MemStateMachine {
    state: SmState,
    snapshots: SnapshotStore<TC>,
    next_snapshot: u64,
}

impl MemStateMachine {
    /// Rebuilds from the latest stored snapshot, as a restarting node would.
    pub fn open(storage: &SledStorage) -> Result<Self, StorageError<NodeId>> {
        let snapshots = storage.snapshot_store::<TC>();
        let state = match snapshots.load()? {
            Some((_, bytes)) => decode_state(&bytes)?,
            None => SmState::default(),
        };
        Ok(Self {
            state,
            snapshots,
            next_snapshot: 0,
        })
    }
}

fn decode_state(bytes: &[u8]) -> Result<SmState, StorageError<NodeId>> {
    postcard::from_bytes(bytes).map_err(|e| {
        StorageIOError::new(
            ErrorSubject::Snapshot(None),
            ErrorVerb::Read,
            openraft::AnyError::new(&e),
        )
        .into()
    })
}

/// Builds a snapshot of a copy of the state.
pub struct MemSnapshotBuilder {
    state: SmState,
    snapshots: SnapshotStore<TC>,
    id: u64,
}

impl RaftSnapshotBuilder<TC> for MemSnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TC>, StorageError<NodeId>> {
        let bytes =
            postcard::to_stdvec(&self.state).map_err(|e| StorageIOError::read_state_machine(&e))?;
        let snapshot_id = match &self.state.last_applied {
            Some(l) => format!("{}-{}-{}", l.leader_id, l.index, self.id),
            None => format!("--{}", self.id),
        };
        let meta = SnapshotMeta {
            last_log_id: self.state.last_applied,
            last_membership: self.state.last_membership.clone(),
            snapshot_id,
        };
        self.snapshots.save(&meta, &bytes).await?;
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(bytes)),
        })
    }
}

impl RaftStateMachine<TC> for MemStateMachine {
    type SnapshotBuilder = MemSnapshotBuilder;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId<NodeId>>, StoredMembership<NodeId, BasicNode>), StorageError<NodeId>>
    {
        Ok((self.state.last_applied, self.state.last_membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Option<Vec<u8>>>, StorageError<NodeId>>
    where
        I: IntoIterator<Item = Entry<TC>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut replies = Vec::new();
        for entry in entries {
            self.state.last_applied = Some(entry.log_id);
            match entry.payload {
                EntryPayload::Blank => replies.push(None),
                EntryPayload::Normal(put) => {
                    replies.push(self.state.data.insert(put.key, put.value))
                }
                EntryPayload::Membership(m) => {
                    self.state.last_membership = StoredMembership::new(Some(entry.log_id), m);
                    replies.push(None);
                }
            }
        }
        Ok(replies)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.next_snapshot += 1;
        MemSnapshotBuilder {
            state: self.state.clone(),
            snapshots: self.snapshots.clone(),
            id: self.next_snapshot,
        }
    }

    async fn begin_receiving_snapshot(
        &mut self,
    ) -> Result<Box<Cursor<Vec<u8>>>, StorageError<NodeId>> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<NodeId, BasicNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError<NodeId>> {
        let bytes = snapshot.into_inner();
        self.state = decode_state(&bytes)?;
        self.snapshots.save(meta, &bytes).await
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TC>>, StorageError<NodeId>> {
        Ok(self.snapshots.load()?.map(|(meta, bytes)| Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(bytes)),
        }))
    }
}

/// Opens the storage in `dir`, panicking with the error (tests only).
pub fn open(dir: &Path) -> SledStorage {
    SledStorage::open(dir).unwrap_or_else(|e| panic!("open {dir:?}: {e}"))
}
