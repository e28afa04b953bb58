//! The latest state-machine snapshot, kept durably so that a restart rebuilds the in-memory
//! data tree from it plus the log after it.
//!
//! The bytes live in a file of their own under `<data-dir>/snapshots/`, and only a small
//! record (openraft's metadata, the file's name, length and crc32) lives in sled. A snapshot
//! of a large tree is tens of MB: written through sled, its flush held up every log flush
//! queued behind it, and openraft's core waits on each append's flush (heartbeats included),
//! so the node looked silent and elections followed. Now the file is written and fsynced on a
//! blocking thread, renamed into place, and only then the record is flushed: a crash leaves
//! the old record (and its file) or the new one, and files no record names are removed at
//! the next open.

use std::io::Write;
use std::marker::PhantomData;
use std::path::Path;
use std::path::PathBuf;

use openraft::type_config::alias::SnapshotMetaOf;
use openraft::RaftTypeConfig;
use serde::Deserialize;
use serde::Serialize;

use crate::codec;
use crate::error::io_err;
use crate::error::Corruption;
use crate::storage::SledStorage;

/// A snapshot as stored: its openraft metadata and the state machine's encoded bytes.
pub type StoredSnapshot<C> = (SnapshotMetaOf<C>, Vec<u8>);

/// openraft's snapshot metadata for a type config.
type Meta<C> = SnapshotMetaOf<C>;

/// A stored record: the metadata and where its bytes are.
type Record<C> = (Meta<C>, SnapshotFile);

/// The directory, inside the data dir, holding snapshot files.
pub(crate) const SNAPSHOT_DIR: &str = "snapshots";

/// Where a snapshot's bytes are and what they must look like.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct SnapshotFile {
    /// The file's name inside [`SNAPSHOT_DIR`].
    name: String,
    /// Its length in bytes.
    len: u64,
    /// The crc32 of its bytes.
    crc32: u32,
}

/// Keeps only the latest snapshot (by last log id); saving replaces it atomically.
pub struct SnapshotStore<C: RaftTypeConfig> {
    storage: SledStorage,
    dir: PathBuf,
    _c: PhantomData<fn() -> C>,
}

impl<C: RaftTypeConfig> Clone for SnapshotStore<C> {
    fn clone(&self) -> Self {
        Self::from_storage(self.storage.clone())
    }
}

impl<C: RaftTypeConfig> SnapshotStore<C> {
    pub(crate) fn from_storage(storage: SledStorage) -> Self {
        let dir = storage.path().join(SNAPSHOT_DIR);
        Self {
            storage,
            dir,
            _c: PhantomData,
        }
    }

    /// Durably stores `meta` + `data` (returns after the file's fsync and the record's flush),
    /// unless the stored snapshot is newer (a greater last log id), which is then kept. The
    /// bytes are handed back: they travel to a blocking thread for the write.
    ///
    /// Why the check: a snapshot built from an older state can finish after a newer one was
    /// installed; replacing the newer one would lose the entries its install let be purged.
    pub async fn save(&self, meta: &SnapshotMetaOf<C>, data: Vec<u8>) -> std::io::Result<Vec<u8>> {
        self.save_if_newer(meta, data).await.map(|(data, _)| data)
    }

    /// [`SnapshotStore::save`], also saying whether it was stored (false: the stored one is
    /// newer and was kept).
    pub(crate) async fn save_if_newer(
        &self,
        meta: &SnapshotMetaOf<C>,
        data: Vec<u8>,
    ) -> std::io::Result<(Vec<u8>, bool)> {
        let write_err =
            |e: &dyn std::error::Error| io_err(format_args!("storing snapshot {meta}"), e);
        // Held across the whole save (saves are rare): the newer-or-not check and the
        // replacement must not interleave with another save.
        let _serial = self.storage.snapshot_lock.lock().await;
        let stored = self.load_record()?;
        if stored
            .as_ref()
            .is_some_and(|(stored, _)| stored.last_log_id > meta.last_log_id)
        {
            tracing::info!(snapshot = %meta, "not storing a snapshot older than the stored one");
            return Ok((data, false));
        }
        let name = file_name::<C>(meta);
        let file = SnapshotFile {
            name: name.clone(),
            len: data.len() as u64,
            crc32: crc32fast::hash(&data),
        };
        let record = codec::encode(&(&file, meta)).map_err(|e| write_err(&e))?;
        let dir = self.dir.clone();
        let data =
            tokio::task::spawn_blocking(move || write_file(&dir, &name, &data).map(|()| data))
                .await
                .map_err(|e| write_err(&e))?
                .map_err(|e| write_err(&e))?;
        self.storage
            .snapshots
            .insert(codec::KEY_SNAPSHOT_META, record)
            .map_err(|e| write_err(&e))?;
        self.storage
            .flusher
            .flush()
            .await
            .map_err(|e| write_err(&e))?;
        // The record no longer names the old file; a reader that read the old record just
        // before looks again when the file is gone (see `load`).
        if let Some((_, old)) = stored.filter(|(_, old)| old.name != file.name) {
            if let Err(e) = std::fs::remove_file(self.dir.join(&old.name)) {
                tracing::warn!(file = %old.name, error = %e, "could not remove the replaced snapshot file");
            }
        }
        Ok((data, true))
    }

    /// When the stored snapshot's file was last modified (ZooKeeper's `last_snapshot`
    /// answers a snapshot file's time until the server saves one), if there is one.
    pub(crate) fn file_modified(&self) -> Option<std::time::SystemTime> {
        let (_, file) = self.load_record().ok()??;
        std::fs::metadata(self.dir.join(&file.name))
            .and_then(|m| m.modified())
            .ok()
    }

    /// The stored record: metadata and where the bytes are.
    fn load_record(&self) -> std::io::Result<Option<Record<C>>> {
        match self
            .storage
            .snapshots
            .get(codec::KEY_SNAPSHOT_META)
            .map_err(|e| read_err(&e))?
        {
            None => Ok(None),
            Some(record) => codec::decode::<(SnapshotFile, Meta<C>)>("snapshot record", &record)
                .map(|(file, meta)| Some((meta, file)))
                .map_err(|e| read_err(&e)),
        }
    }

    /// The latest saved snapshot, if any; a missing, short or damaged file is an error.
    pub fn load(&self) -> std::io::Result<Option<StoredSnapshot<C>>> {
        // A save may replace the record and remove the file it named between our reading the
        // record and opening the file; then the record names a newer file: read again.
        let mut attempts = 0;
        loop {
            let Some((meta, file)) = self.load_record()? else {
                return Ok(None);
            };
            match std::fs::read(self.dir.join(&file.name)) {
                Ok(bytes) => {
                    check_file(&file, &bytes).map_err(|e| read_err(&e))?;
                    return Ok(Some((meta, bytes)));
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && attempts < 8 => {
                    attempts += 1;
                    let now = self.load_record()?;
                    if now.as_ref().is_none_or(|(_, f)| f.name == file.name) {
                        return Err(read_err(&Corruption::SnapshotFile {
                            name: file.name,
                            reason: "missing".into(),
                        }));
                    }
                }
                Err(e) => return Err(read_err(&e)),
            }
        }
    }
}

/// Removes every file in the snapshot directory that the stored record does not name: a
/// file written by a save that crashed before its record was flushed, a temporary file, or a
/// replaced file a crash kept from being removed. Creates the directory if needed. Nothing is
/// removed while the record cannot be read (loading will say why).
pub(crate) fn remove_strays(data_dir: &Path, snapshots: &sled::Tree) -> std::io::Result<()> {
    let dir = data_dir.join(SNAPSHOT_DIR);
    std::fs::create_dir_all(&dir)?;
    // The record is postcard `(file, meta)`: the file part decodes on its own.
    let keep = match snapshots.get(codec::KEY_SNAPSHOT_META) {
        Ok(None) => None,
        Ok(Some(record)) => match postcard::take_from_bytes::<SnapshotFile>(&record) {
            Ok((file, _)) => Some(file.name),
            Err(_) => return Ok(()),
        },
        Err(_) => return Ok(()),
    };
    for entry in std::fs::read_dir(&dir)? {
        let entry = entry?;
        let name = entry.file_name();
        if keep.as_deref() != name.to_str() {
            tracing::info!(file = ?name, "removing a snapshot file no record names");
            std::fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

/// A fresh file name for a snapshot: ordered by last log index, unique per save (the same
/// snapshot saved twice must not overwrite the file the current record names).
fn file_name<C: RaftTypeConfig>(meta: &SnapshotMetaOf<C>) -> String {
    let index = meta.last_log_id.as_ref().map_or(0, |l| l.index);
    format!("{index:020}-{:016x}.snap", rand::random::<u64>())
}

/// How much of a snapshot is written before it is synced and the next slice written.
///
/// Why: one fsync of a whole snapshot (40 MB for 400k znodes) puts all of it in the disk's
/// queue at once, and every log `fdatasync` on the node (on the leader, every write's) waits
/// behind it. In slices, a log flush waits for one slice at most. Measured (create at 8
/// clients x 1 after 400k znodes, three runs each): p99 20-25 ms whole, 12-24 ms in slices,
/// 10 ms with no snapshots at all; the rest is the CPU of encoding the tree, see
/// docs/performance.md.
const SYNC_SLICE: usize = 1 << 20;

/// Writes `data` to `dir/name` durably: a temporary file written and synced slice by slice
/// ([`SYNC_SLICE`]), fsync, rename, fsync of the dir.
fn write_file(dir: &Path, name: &str, data: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!("{name}.tmp"));
    let mut f = std::fs::File::create(&tmp)?;
    for slice in data.chunks(SYNC_SLICE) {
        f.write_all(slice)?;
        f.sync_data()?;
    }
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, dir.join(name))?;
    std::fs::File::open(dir)?.sync_all()
}

/// The bytes read must be the ones the record describes.
fn check_file(file: &SnapshotFile, bytes: &[u8]) -> Result<(), Corruption> {
    let bad = |reason: String| Corruption::SnapshotFile {
        name: file.name.clone(),
        reason,
    };
    if bytes.len() as u64 != file.len {
        return Err(bad(format!(
            "{} bytes, the record says {}",
            bytes.len(),
            file.len
        )));
    }
    let crc = crc32fast::hash(bytes);
    if crc != file.crc32 {
        return Err(bad(format!(
            "crc32 {crc:#010x}, the record says {:#010x}",
            file.crc32
        )));
    }
    Ok(())
}

/// A read failure of the snapshot, as openraft's storage traits carry it.
fn read_err(e: &(impl std::error::Error + 'static)) -> std::io::Error {
    io_err(format_args!("reading the stored snapshot"), e)
}
