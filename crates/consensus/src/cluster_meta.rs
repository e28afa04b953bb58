//! The identity and peers a node's data directory was created with, so that starting the
//! same directory with another `--id` or `--peers` is refused instead of silently forking.

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
    /// Every initial member of the ensemble, this node included: id -> "host:port".
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

    /// Records `given` on first start; afterwards refuses (`Mismatch`) anything different.
    pub fn check_or_init(&self, given: &ClusterMeta) -> Result<(), MetaError> {
        match self.get()? {
            None => self.put(given),
            Some(stored) if stored == *given => Ok(()),
            Some(stored) => Err(MetaError::Mismatch {
                stored: Box::new(stored),
                given: Box::new(given.clone()),
            }),
        }
    }
}
