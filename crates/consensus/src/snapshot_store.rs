//! The latest state-machine snapshot (metadata + bytes), kept durably so that a restart
//! rebuilds the in-memory data tree from it plus the log after it.

use std::marker::PhantomData;

use openraft::ErrorSubject;
use openraft::ErrorVerb;
use openraft::NodeId;
use openraft::RaftTypeConfig;
use openraft::SnapshotMeta;
use openraft::StorageError;

use crate::codec;
use crate::error::storage_err;
use crate::error::Corruption;
use crate::storage::SledStorage;

/// A snapshot as stored: its openraft metadata and the state machine's encoded bytes.
pub type StoredSnapshot<C> = (
    SnapshotMeta<<C as RaftTypeConfig>::NodeId, <C as RaftTypeConfig>::Node>,
    Vec<u8>,
);

/// Keeps only the latest snapshot; saving replaces the previous one atomically.
pub struct SnapshotStore<C: RaftTypeConfig> {
    storage: SledStorage,
    _c: PhantomData<fn() -> C>,
}

impl<C: RaftTypeConfig> Clone for SnapshotStore<C> {
    fn clone(&self) -> Self {
        Self::from_storage(self.storage.clone())
    }
}

impl<C: RaftTypeConfig> SnapshotStore<C> {
    pub(crate) fn from_storage(storage: SledStorage) -> Self {
        Self {
            storage,
            _c: PhantomData,
        }
    }

    /// Durably replaces the stored snapshot with `meta` + `data` (returns after the flush).
    pub async fn save(
        &self,
        meta: &SnapshotMeta<C::NodeId, C::Node>,
        data: &[u8],
    ) -> Result<(), StorageError<C::NodeId>> {
        let subject = || ErrorSubject::Snapshot(Some(meta.signature()));
        let meta_bytes =
            codec::encode(meta).map_err(|e| storage_err(subject(), ErrorVerb::Write, &e))?;
        // Both keys in one batch: a crash leaves the old pair or the new pair, never a mix.
        let mut batch = sled::Batch::default();
        batch.insert(codec::KEY_SNAPSHOT_META, meta_bytes);
        batch.insert(codec::KEY_SNAPSHOT_DATA, data);
        self.storage
            .snapshots
            .apply_batch(batch)
            .map_err(|e| storage_err(subject(), ErrorVerb::Write, &e))?;
        self.storage
            .flusher
            .flush()
            .await
            .map_err(|e| storage_err(subject(), ErrorVerb::Write, &e))
    }

    /// The latest saved snapshot, if any.
    pub fn load(&self) -> Result<Option<StoredSnapshot<C>>, StorageError<C::NodeId>> {
        let tree = &self.storage.snapshots;
        let meta = tree
            .get(codec::KEY_SNAPSHOT_META)
            .map_err(|e| read_err(&e))?;
        let data = tree
            .get(codec::KEY_SNAPSHOT_DATA)
            .map_err(|e| read_err(&e))?;
        match (meta, data) {
            (None, None) => Ok(None),
            (Some(meta), Some(data)) => {
                let meta: SnapshotMeta<C::NodeId, C::Node> =
                    codec::decode("snapshot meta", &meta).map_err(|e| read_err(&e))?;
                Ok(Some((meta, data.to_vec())))
            }
            (Some(_), None) => Err(read_err(&Corruption::IncompleteSnapshot("data missing"))),
            (None, Some(_)) => Err(read_err(&Corruption::IncompleteSnapshot("meta missing"))),
        }
    }
}

/// A read failure of the snapshot, as openraft's error.
fn read_err<NID: NodeId>(e: &(impl std::error::Error + 'static)) -> StorageError<NID> {
    storage_err(ErrorSubject::Snapshot(None), ErrorVerb::Read, e)
}
