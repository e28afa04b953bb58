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

/// openraft's snapshot metadata for a type config.
type Meta<C> = SnapshotMeta<<C as RaftTypeConfig>::NodeId, <C as RaftTypeConfig>::Node>;

/// Keeps only the latest snapshot (by last log id); saving replaces it atomically.
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

    /// Durably stores `meta` + `data` (returns after the flush), unless the stored snapshot
    /// is newer (a greater last log id), which is then kept.
    ///
    /// Why the check: a snapshot built from an older state can finish after a newer one was
    /// installed; replacing the newer one would lose the entries its install let be purged.
    pub async fn save(
        &self,
        meta: &SnapshotMeta<C::NodeId, C::Node>,
        data: &[u8],
    ) -> Result<(), StorageError<C::NodeId>> {
        let subject = || ErrorSubject::Snapshot(Some(meta.signature()));
        let meta_bytes =
            codec::encode(meta).map_err(|e| storage_err(subject(), ErrorVerb::Write, &e))?;
        {
            // Held only around the compare-and-write, never across an await. The guarded
            // value is (), so a poisoned lock carries no broken state.
            let _guard = self
                .storage
                .snapshot_lock
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let stored = self.load_meta()?;
            if stored.is_some_and(|stored| stored.last_log_id > meta.last_log_id) {
                tracing::info!(snapshot = %meta, "not storing a snapshot older than the stored one");
            } else {
                // Both keys in one batch: a crash leaves the old pair or the new pair.
                let mut batch = sled::Batch::default();
                batch.insert(codec::KEY_SNAPSHOT_META, meta_bytes);
                batch.insert(codec::KEY_SNAPSHOT_DATA, data);
                self.storage
                    .snapshots
                    .apply_batch(batch)
                    .map_err(|e| storage_err(subject(), ErrorVerb::Write, &e))?;
            }
        }
        self.storage
            .flusher
            .flush()
            .await
            .map_err(|e| storage_err(subject(), ErrorVerb::Write, &e))
    }

    /// The stored snapshot's metadata alone.
    fn load_meta(&self) -> Result<Option<Meta<C>>, StorageError<C::NodeId>> {
        let tree = &self.storage.snapshots;
        match tree
            .get(codec::KEY_SNAPSHOT_META)
            .map_err(|e| read_err(&e))?
        {
            None => Ok(None),
            Some(meta) => codec::decode("snapshot meta", &meta)
                .map(Some)
                .map_err(|e| read_err(&e)),
        }
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
