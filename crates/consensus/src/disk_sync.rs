//! What makes a sled flush durable: sled 0.34's own `flush` is not an fsync.
//!
//! It writes its log buffers with `pwrite` and then calls `sync_file_range` on the written
//! range. That starts and waits for the write-back of those pages, but it flushes neither the
//! disk's volatile write cache nor the file's metadata (its new size and extents, when the
//! write grew the file), so after a power loss the data it "flushed" can be gone. And a value
//! too large for a log segment (over ~128 KiB: a big batch of commands, a 1 MiB znode) is
//! written to a file of its own under `blobs/` that sled never syncs at all.
//!
//! So after every sled flush the flusher thread calls [`DiskSync::sync`]: `fdatasync` of the
//! database file (fsync works on the inode, so our own descriptor covers sled's writes), and
//! `fsync` of every blob file that is new or has grown since it was last synced, then of the
//! `blobs/` directory. Only then is an append acknowledged.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::path::Path;
use std::path::PathBuf;

/// sled 0.34's file names inside its directory.
const DB_FILE: &str = "db";
const BLOBS_DIR: &str = "blobs";

/// Syncs what a sled flush leaves unsynced.
pub(crate) struct DiskSync {
    db_file: File,
    blobs: PathBuf,
    /// Blob files synced so far (name → length then).
    synced_blobs: HashMap<u64, u64>,
}

impl DiskSync {
    /// Opens the database file of the sled directory `dir` (sled must have opened it) and
    /// syncs the directory entries sled created.
    pub(crate) fn open(dir: &Path) -> io::Result<Self> {
        let db_file = File::open(dir.join(DB_FILE))?;
        let mut sync = DiskSync {
            db_file,
            blobs: dir.join(BLOBS_DIR),
            synced_blobs: HashMap::new(),
        };
        sync.sync()?;
        sync_dir(dir)?;
        Ok(sync)
    }

    /// Makes everything sled has flushed so far durable.
    pub(crate) fn sync(&mut self) -> io::Result<()> {
        self.db_file.sync_data()?;
        self.sync_blobs()
    }

    fn sync_blobs(&mut self) -> io::Result<()> {
        let entries = match std::fs::read_dir(&self.blobs) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        let mut present = Vec::new();
        let mut synced_any = false;
        for entry in entries {
            let entry = entry?;
            let Some(id) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            present.push(id);
            // sled removes blobs it no longer needs at any time.
            let file = match File::open(entry.path()) {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            let len = file.metadata()?.len();
            if self.synced_blobs.get(&id) == Some(&len) {
                continue;
            }
            file.sync_all()?;
            self.synced_blobs.insert(id, len);
            synced_any = true;
        }
        if synced_any {
            sync_dir(&self.blobs)?;
        }
        if self.synced_blobs.len() > present.len() {
            self.synced_blobs.retain(|id, _| present.contains(id));
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

    /// A value over sled's blob threshold lands in `blobs/`; the sync picks it up once, and
    /// again only when it changes.
    #[test]
    fn new_and_grown_blobs_are_synced_once() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let mut sync = DiskSync::open(dir.path()).unwrap();
        assert!(sync.synced_blobs.is_empty());

        db.insert(b"small", vec![1u8; 100]).unwrap();
        db.flush().unwrap();
        sync.sync().unwrap();
        assert!(sync.synced_blobs.is_empty(), "a small value is no blob");

        db.insert(b"big", vec![2u8; 1 << 20]).unwrap();
        db.flush().unwrap();
        sync.sync().unwrap();
        assert_eq!(sync.synced_blobs.len(), 1, "the 1 MiB value is a blob file");
        let before = sync.synced_blobs.clone();
        sync.sync().unwrap();
        assert_eq!(sync.synced_blobs, before);

        db.remove(b"big").unwrap();
        db.flush().unwrap();
        drop(db);
        // Whatever sled left or removed, a sync of the directory as it is now succeeds.
        sync.sync().unwrap();
    }

    #[test]
    fn a_directory_without_a_database_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(DiskSync::open(dir.path()).is_err());
    }
}
