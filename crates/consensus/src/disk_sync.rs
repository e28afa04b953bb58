//! What makes a sled flush durable: sled 0.34's own `flush` is not an fsync.
//!
//! It writes its log buffers with `pwrite` and then calls `sync_file_range` on the written
//! range. That starts and waits for the write-back of those pages, but it flushes neither the
//! disk's volatile write cache nor the file's metadata (its new size and extents, when the
//! write grew the file), so after a power loss the data it "flushed" can be gone. And a value
//! too large for a log segment (over ~128 KiB: a big batch of commands, a 1 MiB znode) is
//! written to a file of its own under `blobs/` that sled never syncs at all.
//!
//! So every flush goes through [`DiskSync::flush`]: it lists `blobs/`, calls sled's `flush`,
//! `fdatasync`s the database file (fsync works on the inode, so our own descriptor covers
//! sled's writes), then `fsync`s every blob file of the listing it has not synced before, and
//! the `blobs/` directory. Only then is an append acknowledged.
//!
//! Why listing *before* sled's flush is enough, and each blob needs syncing only once: sled
//! names a blob after its reservation's LSN and raises its "max reserved LSN" before it creates
//! the file; its `flush` waits until everything up to the max reserved LSN it read at its
//! start is written, which includes every reservation's blob being completely written (a
//! reservation holds its buffer until its blob is written). So a blob listed before the flush
//! is complete when the flush returns, and sled never writes to a blob again. A blob created
//! after the listing belongs to a later flush, whose listing will see it. Opening and checking
//! every blob on every flush instead cost a fifth of the leader's CPU under load (a busy log
//! keeps a few hundred blobs: sled writes its leaf pages of more than ~128 KiB as blobs).

use std::collections::HashSet;
use std::fs::File;
use std::io;
use std::path::Path;
use std::path::PathBuf;

use crate::error::to_io;

/// sled 0.34's file names inside its directory.
const DB_FILE: &str = "db";
const BLOBS_DIR: &str = "blobs";

/// Syncs what a sled flush leaves unsynced.
pub(crate) struct DiskSync {
    db_file: File,
    blobs: PathBuf,
    /// Blob files synced so far.
    synced_blobs: HashSet<u64>,
}

impl DiskSync {
    /// Opens the database file of the sled directory `dir` (sled must have opened it) and
    /// syncs the directory entries sled created.
    pub(crate) fn open(dir: &Path) -> io::Result<Self> {
        let db_file = File::open(dir.join(DB_FILE))?;
        let mut sync = DiskSync {
            db_file,
            blobs: dir.join(BLOBS_DIR),
            synced_blobs: HashSet::new(),
        };
        let listed = sync.list_blobs()?;
        sync.db_file.sync_data()?;
        sync.sync_blobs(listed)?;
        sync_dir(dir)?;
        Ok(sync)
    }

    /// sled's `flush`, made durable: everything written to `db` before the call is on disk
    /// when it returns `Ok`.
    pub(crate) fn flush(&mut self, db: &sled::Db) -> io::Result<()> {
        let listed = self.list_blobs()?;
        db.flush().map_err(to_io)?;
        self.db_file.sync_data()?;
        self.sync_blobs(listed)
    }

    /// The names of the blob files now.
    fn list_blobs(&self) -> io::Result<Vec<u64>> {
        let entries = match std::fs::read_dir(&self.blobs) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut ids = Vec::new();
        for entry in entries {
            if let Some(id) = entry?.file_name().to_str().and_then(|n| n.parse().ok()) {
                ids.push(id);
            }
        }
        Ok(ids)
    }

    /// Syncs the blobs of `listed` not synced before (each is complete: see the module docs).
    fn sync_blobs(&mut self, listed: Vec<u64>) -> io::Result<()> {
        let mut synced_any = false;
        for &id in &listed {
            if self.synced_blobs.contains(&id) {
                continue;
            }
            // sled removes blobs it no longer needs at any time.
            match File::open(self.blobs.join(id.to_string())) {
                Ok(f) => f.sync_all()?,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            }
            self.synced_blobs.insert(id);
            synced_any = true;
        }
        if synced_any {
            sync_dir(&self.blobs)?;
        }
        if self.synced_blobs.len() > listed.len() {
            let listed: HashSet<u64> = listed.into_iter().collect();
            self.synced_blobs.retain(|id| listed.contains(id));
        }
        Ok(())
    }
}

/// fsync of a directory: makes the names created in it durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A value over sled's blob threshold lands in `blobs/`; the flush after the one that
    /// wrote it syncs it, once.
    #[test]
    fn a_blob_is_synced_once_by_the_flush_after_it_was_written() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let mut sync = DiskSync::open(dir.path()).unwrap();
        assert!(sync.synced_blobs.is_empty());

        db.insert(b"small", vec![1u8; 100]).unwrap();
        sync.flush(&db).unwrap();
        assert!(sync.synced_blobs.is_empty(), "a small value is no blob");

        db.insert(b"big", vec![2u8; 1 << 20]).unwrap();
        let blobs = sync.list_blobs().unwrap();
        assert_eq!(blobs.len(), 1, "the 1 MiB value is a blob file");
        sync.flush(&db).unwrap();
        assert_eq!(sync.synced_blobs, blobs.iter().copied().collect());
        sync.flush(&db).unwrap();
        assert_eq!(sync.synced_blobs.len(), 1);

        db.remove(b"big").unwrap();
        sync.flush(&db).unwrap();
        drop(db);
        // Whatever sled left or removed, a flush's blob pass over the directory as it is now
        // succeeds and forgets what is gone.
        let listed = sync.list_blobs().unwrap();
        sync.sync_blobs(listed.clone()).unwrap();
        assert!(sync.synced_blobs.iter().all(|id| listed.contains(id)));
    }

    #[test]
    fn a_directory_without_a_database_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(DiskSync::open(dir.path()).is_err());
    }
}
