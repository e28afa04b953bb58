//! The identity a node's data directory was created with, so that starting the same
//! directory as another member is refused instead of silently forking, and the id of the
//! ensemble it belongs to.
//!
//! The peers it was first started with are recorded too, but a restart with other `--peers`
//! is fine: the membership lives in the replicated state (Raft's membership entries), and
//! `--peers` only tells a new node whom to ask first.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::Serialize;

use crate::codec;
use crate::error::MetaError;
use crate::storage::SledStorage;

/// What a data directory belongs to: this node's id and the ensemble's peers (id -> address).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterMeta {
    /// This node's Raft id.
    pub node_id: u64,
    /// The peers it was first started with (`--peers`): id -> "host:port".
    pub peers: BTreeMap<u64, String>,
}

/// Get/put of the `ClusterMeta` record. Blocking calls: meant for node start-up.
#[derive(Clone, Debug)]
pub struct ClusterMetaStore {
    storage: SledStorage,
}

impl ClusterMetaStore {
    pub(crate) fn from_storage(storage: SledStorage) -> Self {
        Self { storage }
    }

    /// The recorded cluster meta, if the directory has one.
    pub fn get(&self) -> Result<Option<ClusterMeta>, MetaError> {
        let Some(bytes) = self.storage.meta.get(codec::KEY_CLUSTER)? else {
            return Ok(None);
        };
        codec::decode("cluster meta", &bytes)
            .map(Some)
            .map_err(|e| MetaError::Corrupt(e.to_string()))
    }

    /// Records `meta` durably (write, then flush), replacing any previous record.
    pub fn put(&self, meta: &ClusterMeta) -> Result<(), MetaError> {
        let bytes = codec::encode(meta).map_err(|e| MetaError::Corrupt(e.to_string()))?;
        self.storage.meta.insert(codec::KEY_CLUSTER, bytes)?;
        self.storage.db.flush()?;
        Ok(())
    }

    /// Records `given` on first start and returns `None`; afterwards returns what was recorded,
    /// and refuses (`Mismatch`) a start as another node.
    pub fn check_or_init(&self, given: &ClusterMeta) -> Result<Option<ClusterMeta>, MetaError> {
        match self.get()? {
            None => self.put(given).map(|()| None),
            Some(stored) if stored.node_id == given.node_id => Ok(Some(stored)),
            Some(stored) => Err(MetaError::Mismatch {
                stored: Box::new(stored),
                given: Box::new(given.clone()),
            }),
        }
    }

    /// The ensemble's id, if recorded.
    pub fn ensemble(&self) -> Result<Option<u64>, MetaError> {
        let Some(bytes) = self.storage.meta.get(codec::KEY_ENSEMBLE)? else {
            return Ok(None);
        };
        codec::decode("ensemble id", &bytes)
            .map(Some)
            .map_err(|e| MetaError::Corrupt(e.to_string()))
    }

    /// Records the ensemble's id durably.
    pub fn put_ensemble(&self, id: u64) -> Result<(), MetaError> {
        let bytes = codec::encode(&id).map_err(|e| MetaError::Corrupt(e.to_string()))?;
        self.storage.meta.insert(codec::KEY_ENSEMBLE, bytes)?;
        self.storage.db.flush()?;
        Ok(())
    }
}
