//! The in-place upgrade of a data directory written by format version 3, which kept the Raft
//! log (entries, vote, committed id, purge point) in sled, to version 4 (the log in
//! `wal/`).
//!
//! Done once, when the log is first opened: the old log is read from sled and written to a
//! fresh `wal/` and synced; only then does sled record version 4 and drop the old log,
//! in one flush. A crash before that flush leaves version 3 and the whole sled log: the next
//! start removes the half-written `wal/` and starts over. A crash after it leaves
//! version 4 and a complete `wal/`.

use std::path::Path;

use openraft::entry::RaftEntry;
use openraft::type_config::alias::LogIdOf;
use openraft::type_config::alias::VoteOf;
use openraft::RaftTypeConfig;

use crate::codec;
use crate::error::OpenError;
use crate::log_store::StoredEntry;
use crate::storage::SledStorage;
use crate::storage::StoreMeta;
use crate::storage::FORMAT_VERSION;
use crate::storage::SLED_LOG_FORMAT;
use crate::wal::Wal;

/// Entries appended between two syncs while copying: bounds the memory the copy holds.
const COPY_BATCH: u64 = 4096;

/// Upgrades `storage`'s directory to [`FORMAT_VERSION`] if it holds format 3; `log_dir` is
/// where the log goes.
pub(crate) fn upgrade_if_needed<C>(storage: &SledStorage, log_dir: &Path) -> Result<(), OpenError>
where
    C: RaftTypeConfig,
    C::Entry: StoredEntry,
{
    if storage.format_version()? != SLED_LOG_FORMAT {
        return Ok(());
    }
    let fail = |reason: String| OpenError::Upgrade {
        path: storage.path().to_path_buf(),
        reason,
    };
    tracing::warn!(dir = %storage.path().display(), "upgrading the raft log from format 3 (sled) to 4 (wal)");
    let copied = copy_log::<C>(storage, log_dir).map_err(&fail)?;
    switch_format(storage).map_err(&fail)?;
    tracing::warn!(
        dir = %storage.path().display(),
        entries = copied,
        "raft log upgraded to format 4; sled keeps only metadata now"
    );
    Ok(())
}

/// Reads one postcard record of sled's meta tree.
fn meta_get<T: serde::de::DeserializeOwned>(
    storage: &SledStorage,
    key: &[u8],
    what: &'static str,
) -> Result<Option<T>, String> {
    let Some(bytes) = storage.meta.get(key).map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    codec::decode(what, &bytes)
        .map(Some)
        .map_err(|e| e.to_string())
}

/// Copies sled's log into a fresh log in `log_dir` and syncs it; returns how many
/// entries it copied.
fn copy_log<C>(storage: &SledStorage, log_dir: &Path) -> Result<u64, String>
where
    C: RaftTypeConfig,
    C::Entry: StoredEntry,
{
    match std::fs::remove_dir_all(log_dir) {
        Ok(()) => {
            tracing::warn!(dir = %log_dir.display(), "removed the log of an upgrade that did not finish")
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("removing {}: {e}", log_dir.display())),
    }
    let vote: Option<VoteOf<C>> = meta_get(storage, codec::KEY_VOTE, "vote")?;
    let purged: Option<LogIdOf<C>> =
        meta_get(storage, codec::KEY_LAST_PURGED, "last purged log id")?;
    let committed: Option<Option<LogIdOf<C>>> =
        meta_get(storage, codec::KEY_COMMITTED, "committed log id")?;
    let logs = storage
        .db
        .open_tree(codec::LOG_TREE)
        .map_err(|e| e.to_string())?;

    let wal = parking_lot::Mutex::new(
        Wal::<C>::open(log_dir).map_err(|e| format!("creating the log: {e}"))?,
    );
    let sync = || crate::wal::sync(&wal).map_err(|e| format!("syncing the log: {e}"));
    let mut copied = 0u64;
    {
        let mut w = wal.lock();
        if let Some(vote) = &vote {
            w.save_vote(vote).map_err(|e| e.to_string())?;
        }
        if let Some(purged) = &purged {
            w.purge(purged).map_err(|e| e.to_string())?;
        }
    }
    // Entries at or below the purge point may linger in sled (its removal ran after the
    // purge point was flushed): they are not part of the log.
    let first = purged.as_ref().map_or(0, |p| p.index.saturating_add(1));
    for item in logs.range(codec::index_key(first)..) {
        let (key, value) = item.map_err(|e| e.to_string())?;
        let index = codec::key_index(&key).map_err(|e| e.to_string())?;
        let entry: C::Entry = codec::decode("log entry", &value)
            .map_err(|e| format!("entry {index} in sled: {e}"))?;
        let log_id = entry.log_id();
        if log_id.index != index {
            return Err(format!(
                "entry stored under index {index} carries log index {}",
                log_id.index
            ));
        }
        // The bytes sled held are the entry's postcard bytes, as the new log stores them.
        wal.lock()
            .append(&log_id, &value)
            .map_err(|e| format!("entry {index}: {e}"))?;
        copied += 1;
        if copied.is_multiple_of(COPY_BATCH) {
            sync()?;
        }
    }
    if let Some(Some(committed)) = committed {
        // A committed id past the copied log is a hint nobody can use; leave it out.
        let mut w = wal.lock();
        if w.state.last.as_ref().is_some_and(|last| committed <= *last) {
            w.commit(&committed).map_err(|e| e.to_string())?;
        }
    }
    sync()?;
    drop(wal);
    // The new directory's name must be durable before sled forgets the old log.
    let parent = log_dir.parent().unwrap_or(log_dir);
    std::fs::File::open(parent)
        .and_then(|d| d.sync_all())
        .map_err(|e| format!("syncing {}: {e}", parent.display()))?;
    Ok(copied)
}

/// Records format 4 in sled and drops the old log, durably in one flush.
fn switch_format(storage: &SledStorage) -> Result<(), String> {
    let record = codec::encode(&StoreMeta {
        format_version: FORMAT_VERSION,
    })
    .map_err(|e| e.to_string())?;
    let mut batch = sled::Batch::default();
    batch.insert(codec::KEY_STORE_META, record);
    for key in [
        codec::KEY_VOTE,
        codec::KEY_LAST_PURGED,
        codec::KEY_COMMITTED,
    ] {
        batch.remove(key);
    }
    storage.meta.apply_batch(batch).map_err(|e| e.to_string())?;
    storage
        .flusher
        .flush_blocking()
        .map_err(|e| e.to_string())?;
    // The entries go after the version: a crash in between leaves format 4 with stale
    // entries in a tree nobody reads, which the next upgrade-free start leaves alone.
    storage
        .db
        .drop_tree(codec::LOG_TREE)
        .map_err(|e| e.to_string())?;
    storage
        .flusher
        .flush_blocking()
        .map_err(|e| e.to_string())?;
    Ok(())
}
