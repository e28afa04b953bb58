//! TEST ONLY: the deliberately broken build (feature `unsafe-ack-before-flush`) and its model
//! of a machine crash. Normal builds never run anything in here.
//!
//! The broken build acknowledges log appends before they are synced (`LogStore::append`
//! writes them to the OS and calls back at once). On its own that loses nothing in a chaos
//! run: a kill -9 of the process leaves the OS page cache, and with it every acknowledged
//! append, intact. A missing fsync only loses data when the machine or the OS crashes, which
//! a process-level harness cannot do. So this build models such a crash at every start:
//!
//! - it syncs the log only every [`FLUSH_EVERY`], and whenever something else waits on a
//!   sync (the vote, a truncation, a purge: those stay durable, only appends are broken);
//! - after each of those syncs it records, in a file of its own, the byte offset in the log
//!   up to which that sync made it durable;
//! - opening the log cuts its chunk files at the recorded offset (removing whole chunks past
//!   it), i.e. throws away what the crash would have thrown away, and says so at ERROR level.
//!   `raft-log` then opens the cut log like any other torn one.

use std::io;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

/// How often the broken build syncs when nothing else asks it to.
pub(crate) const FLUSH_EVERY: Duration = Duration::from_millis(500);

/// The file, in the data dir, holding the durable mark: the log's global byte offset (as
/// decimal text) up to which the latest sync made it durable.
const MARK_FILE: &str = "broken-durable-upto";

/// Runs `sync` (which returns the offset it covered) and records that offset as durable.
pub(crate) fn sync_and_mark(
    data_dir: &Path,
    sync: impl FnOnce() -> io::Result<u64>,
) -> io::Result<()> {
    let covered = sync()?;
    if covered == 0 {
        // Nothing written since this start: the mark on disk still holds.
        return Ok(());
    }
    let tmp = data_dir.join(format!("{MARK_FILE}.tmp"));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(covered.to_string().as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, data_dir.join(MARK_FILE))?;
    std::fs::File::open(data_dir)?.sync_all()
}

/// Called before the log is opened: cuts the log's chunk files at the durable mark (nothing
/// if no mark was ever recorded).
pub(crate) fn model_crash(data_dir: &Path, log_dir: &Path) -> io::Result<()> {
    let mark = match std::fs::read_to_string(data_dir.join(MARK_FILE)) {
        Ok(text) => text
            .trim()
            .parse::<u64>()
            .map_err(|e| io::Error::other(format!("broken-build durable mark: {e}")))?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            tracing::warn!("BROKEN TEST BUILD: no durable mark yet; modeled crash drops nothing");
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    let entries = match std::fs::read_dir(log_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let mut dropped = 0u64;
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let Some(start) = name
            .to_str()
            .and_then(|n| raft_log::chunked_wal::Config::parse_chunk_file_name(n).ok())
        else {
            continue;
        };
        let len = entry.metadata()?.len();
        if start >= mark {
            dropped += len;
            std::fs::remove_file(entry.path())?;
        } else if start + len > mark {
            dropped += start + len - mark;
            let f = std::fs::OpenOptions::new().write(true).open(entry.path())?;
            f.set_len(mark - start)?;
            f.sync_all()?;
        }
    }
    std::fs::File::open(log_dir)?.sync_all()?;
    if dropped > 0 {
        tracing::error!(
            "BROKEN TEST BUILD: modeled crash dropped {dropped} bytes of the raft log past \
             offset {mark} (acknowledged but never synced)"
        );
    } else {
        tracing::warn!("BROKEN TEST BUILD: modeled crash dropped nothing (durable up to {mark})");
    }
    Ok(())
}

#[cfg(all(test, feature = "unsafe-ack-before-flush"))]
mod tests {
    use openraft::storage::RaftLogStorage;
    use openraft::storage::RaftLogStorageExt;
    use openraft::CommittedLeaderId;
    use openraft::Entry;
    use openraft::EntryPayload;
    use openraft::LogId;
    use openraft::RaftLogReader;

    use crate::log_store::LogStore;

    openraft::declare_raft_types!(
        Cfg: D = Vec<u8>, R = (),
    );
    use std::io::Cursor;

    fn entries(range: std::ops::RangeInclusive<u64>) -> Vec<Entry<Cfg>> {
        range
            .map(|i| Entry {
                log_id: LogId::new(CommittedLeaderId::new(1, 0), i),
                payload: EntryPayload::Normal(vec![i as u8; 8]),
            })
            .collect()
    }

    /// Acknowledged appends that no sync covered are gone at the next open; everything a
    /// sync covered (here: the vote's) stays.
    #[tokio::test]
    async fn appends_after_the_last_sync_are_lost_at_the_next_open() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut log = LogStore::<Cfg>::open(dir.path()).unwrap();
            log.blocking_append(entries(1..=5)).await.unwrap();
            log.save_vote(&openraft::Vote::new(1, 1)).await.unwrap();
            log.blocking_append(entries(6..=9)).await.unwrap();
            log.shared.log.lock().wait_worker_idle().unwrap();
            // Dropped without a sync covering 6..=9 being recorded? Dropping syncs once more
            // on the way out, like a clean stop; a kill -9 would not. So model the kill by
            // leaking the store: nothing of ours runs after this.
            std::mem::forget(log);
        }
        // The leaked store still holds the directory's locks; copy what is on disk. Entries
        // 6..=9 were written to the file (a process crash keeps them), just never synced.
        let copy = tempfile::tempdir().unwrap();
        copy_dir(dir.path(), copy.path());
        let raw = tempfile::tempdir().unwrap();
        copy_dir(&copy.path().join(crate::log_store::LOG_DIR), raw.path());
        let wal = crate::log_store::open_wal::<Cfg>(raw.path()).unwrap();
        assert_eq!(wal.log_state().last().map(|l| l.0.index), Some(9));
        drop(wal);
        let mut log = LogStore::<Cfg>::open(copy.path()).unwrap();
        let got = log.try_get_log_entries(..).await.unwrap();
        assert_eq!(got, entries(1..=5));
        assert_eq!(
            log.read_vote().await.unwrap(),
            Some(openraft::Vote::new(1, 1))
        );
    }

    fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let target = to.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                std::fs::create_dir_all(&target).unwrap();
                copy_dir(&entry.path(), &target);
            } else if entry.file_name() != "LOCK" {
                std::fs::copy(entry.path(), &target).unwrap();
            }
        }
    }
}
