//! Opening the data directory: the node's sled database of small records (format version,
//! cluster meta, snapshot record), checked for its format version. The Raft log lives beside
//! it in `wal/` (see `log_store`); a release that kept the log in sled is upgraded when
//! the log is opened (see `upgrade`).

use std::path::Path;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use openraft::RaftTypeConfig;
use serde::Deserialize;
use serde::Serialize;
use tokio::sync::watch;

use crate::cluster_meta::ClusterMetaStore;
use crate::codec;
use crate::disk_sync::DiskSync;
use crate::error::OpenError;
use crate::flusher::Flusher;
use crate::log_store::LogStore;
use crate::log_store::StoredEntry;
use crate::metrics::ConsensusMetrics;
use crate::snapshot_store::remove_strays;
use crate::snapshot_store::SnapshotStore;

/// The on-disk format this build writes (2: a log entry carries a batch of commands; 3:
/// snapshot bytes in files of their own; 4: the Raft log in `wal/`, no longer in sled).
/// Version 3 is upgraded in place when the log is opened; any other version is refused.
pub const FORMAT_VERSION: u32 = 4;

/// The last format that kept the Raft log in sled; opening its log upgrades it.
pub(crate) const SLED_LOG_FORMAT: u32 = 3;

/// The "store meta" record: lets a later build recognise (or refuse) what it finds on disk.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct StoreMeta {
    pub(crate) format_version: u32,
}

/// The node's sled database in one data directory; cheap to clone, hands out the stores.
///
/// sled locks the directory, so a process opens it once and shares this handle; the lock is
/// released only when every handle (stores and log readers included) has been dropped.
/// Nothing on the write path touches it: it holds the cluster meta and snapshot records.
#[derive(Clone)]
pub struct SledStorage {
    pub(crate) db: sled::Db,
    pub(crate) meta: sled::Tree,
    pub(crate) snapshots: sled::Tree,
    pub(crate) flusher: Arc<Flusher>,
    /// Serialises snapshot saves: each compares with the stored one before replacing it,
    /// and holds this across its file write and flush.
    pub(crate) snapshot_lock: Arc<tokio::sync::Mutex<()>>,
    path: PathBuf,
    /// What the stores on this directory measure for monitoring.
    pub(crate) metrics: Arc<ConsensusMetrics>,
    /// Declared last so it drops after every sled handle of the last clone (see `Released`).
    pub(crate) release: Arc<ReleaseSignal>,
}

/// Signals, when dropped, that no handle on the database is left (sled's directory lock is
/// free). Every struct holding sled handles also holds an `Arc` of it, declared after them.
#[derive(Debug)]
pub(crate) struct ReleaseSignal(watch::Sender<bool>);

impl Drop for ReleaseSignal {
    fn drop(&mut self) {
        self.0.send_replace(true);
    }
}

/// Resolves once every handle on a database (stores, readers, the flusher) has been dropped,
/// so the directory can be opened again, e.g. by a restart in the same process.
#[derive(Debug, Clone)]
pub struct Released(watch::Receiver<bool>);

impl Released {
    /// Waits until the database is released.
    pub async fn wait(mut self) {
        // The sender is dropped right after sending `true`; either way it is released.
        let _ = self.0.wait_for(|&released| released).await;
    }

    /// Whether it is released now.
    pub fn is_released(&self) -> bool {
        *self.0.borrow() || self.0.has_changed().is_err()
    }
}

impl std::fmt::Debug for SledStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledStorage")
            .field("path", &self.path)
            .finish()
    }
}

impl SledStorage {
    /// Opens (creating if needed) the database in `dir`; blocks for one flush on first creation.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, OpenError> {
        let path = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&path).map_err(|source| OpenError::Dir {
            path: path.clone(),
            source,
        })?;
        let sled_err = |source| OpenError::Sled {
            path: path.clone(),
            source,
        };
        let db = open_sled(&path).map_err(sled_err)?;
        let meta = db.open_tree(codec::META_TREE).map_err(sled_err)?;
        let snapshots = db.open_tree(codec::SNAPSHOT_TREE).map_err(sled_err)?;

        match meta.get(codec::KEY_STORE_META).map_err(sled_err)? {
            Some(bytes) => {
                let found: StoreMeta =
                    codec::decode("store meta", &bytes).map_err(|e| OpenError::CorruptMeta {
                        path: path.clone(),
                        reason: e.to_string(),
                    })?;
                if found.format_version != FORMAT_VERSION && found.format_version != SLED_LOG_FORMAT
                {
                    return Err(OpenError::UnsupportedFormat {
                        path,
                        found: found.format_version,
                        supported: FORMAT_VERSION,
                    });
                }
            }
            None => {
                let record = codec::encode(&StoreMeta {
                    format_version: FORMAT_VERSION,
                })
                .map_err(|e| OpenError::CorruptMeta {
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
                meta.insert(codec::KEY_STORE_META, record)
                    .map_err(sled_err)?;
                db.flush().map_err(sled_err)?;
            }
        }

        remove_strays(&path, &snapshots).map_err(|source| OpenError::Dir {
            path: path.join(crate::snapshot_store::SNAPSHOT_DIR),
            source,
        })?;
        let sync = DiskSync::open(&path).map_err(|source| OpenError::Dir {
            path: path.clone(),
            source,
        })?;
        let flusher = {
            let db = db.clone();
            let mut sync = sync;
            Flusher::start("raft-meta-sync", move || sync.flush(&db), None)
        }
        .map_err(OpenError::Flusher)?;
        Ok(Self {
            db,
            meta,
            snapshots,
            flusher: Arc::new(flusher),
            snapshot_lock: Arc::new(tokio::sync::Mutex::new(())),
            path,
            metrics: Arc::default(),
            release: Arc::new(ReleaseSignal(watch::channel(false).0)),
        })
    }

    /// A signal that resolves when every handle on this database is gone (this one
    /// included: drop it after calling).
    pub fn released(&self) -> Released {
        Released(self.release.0.subscribe())
    }

    /// The directory this database lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What the stores opened on this directory measure (log syncs, snapshots, start-up).
    pub fn metrics(&self) -> &Arc<ConsensusMetrics> {
        &self.metrics
    }

    /// Opens the Raft log and vote store of this data directory (once per process: it locks
    /// its directory), upgrading a log an older release kept in sled.
    pub fn log_store<C>(&self) -> Result<LogStore<C>, OpenError>
    where
        C: RaftTypeConfig,
        C::Entry: StoredEntry,
    {
        LogStore::open_in(self.clone())
    }

    /// The format version recorded in the database.
    pub(crate) fn format_version(&self) -> Result<u32, OpenError> {
        let bytes = self
            .meta
            .get(codec::KEY_STORE_META)
            .map_err(|source| OpenError::Sled {
                path: self.path.clone(),
                source,
            })?
            .ok_or_else(|| OpenError::CorruptMeta {
                path: self.path.clone(),
                reason: "no store-meta record".into(),
            })?;
        codec::decode::<StoreMeta>("store meta", &bytes)
            .map(|m| m.format_version)
            .map_err(|e| OpenError::CorruptMeta {
                path: self.path.clone(),
                reason: e.to_string(),
            })
    }

    /// The latest-snapshot store over this database.
    pub fn snapshot_store<C: RaftTypeConfig>(&self) -> SnapshotStore<C> {
        SnapshotStore::from_storage(self.clone())
    }

    /// The record of the peers this node was created with.
    pub fn cluster_meta(&self) -> ClusterMetaStore {
        ClusterMetaStore::from_storage(self.clone())
    }
}

/// How long `open` waits for another handle's lock on the same directory to go away.
const LOCK_WAIT: Duration = Duration::from_secs(5);

/// Opens sled, waiting up to [`LOCK_WAIT`] while the directory lock is held.
///
/// sled 0.34's background threadpool jobs (log writes, segment work) hold the file and its
/// lock for a moment after the last handle is dropped, and expose nothing to wait on; so a
/// restart in the same process (tests, and `SledStorage::released`) can briefly find the
/// directory locked. Only that error is retried; every other one is returned at once.
pub fn open_sled(path: &Path) -> sled::Result<sled::Db> {
    let deadline = Instant::now() + LOCK_WAIT;
    loop {
        match sled::Config::new().path(path).open() {
            Err(sled::Error::Io(e)) if is_lock_held(&e) && Instant::now() < deadline => {
                tracing::debug!(path = %path.display(), "data dir still locked; retrying");
                std::thread::sleep(Duration::from_millis(5));
            }
            other => return other,
        }
    }
}

/// sled 0.34.7 reports a held lock as a custom io error with this text (its `try_lock`).
fn is_lock_held(e: &std::io::Error) -> bool {
    e.to_string().contains("could not acquire lock")
}
