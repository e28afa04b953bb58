//! TEST ONLY: the deliberately broken build (feature `unsafe-ack-before-flush`) and its model
//! of a machine crash. Normal builds never run anything in here.
//!
//! The broken build acknowledges log appends before they are written or synced
//! (`LogStore::append` calls back at once; its periodic sync writes them). On its own that
//! loses little in a chaos run: what was written is in the OS page cache, which a kill -9 of
//! the process leaves intact. A missing fsync only loses data when the machine or the OS crashes, which
//! a process-level harness cannot do. So this build models such a crash at every start:
//!
//! - it syncs the log only every [`FLUSH_EVERY`], and whenever something else waits on a
//!   sync (the vote, a truncation, a purge: those stay durable, only appends are broken);
//! - after each of those syncs it records, in a file of its own, the segment and offset up to
//!   which that sync made the log durable;
//! - opening the log cuts that segment at the recorded offset and removes the segments after
//!   it, i.e. throws away what the crash would have thrown away, and says so at ERROR level.
//!   The log then opens like any other (what was cut is zeros, the end of its frames).

use std::io;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

/// How often the broken build syncs when nothing else asks it to.
pub(crate) const FLUSH_EVERY: Duration = Duration::from_millis(500);

/// The file, in the data dir, holding the durable mark: the segment (its first frame's
/// number) and offset up to which the latest sync made the log durable, as decimal text.
const MARK_FILE: &str = "broken-durable-upto";

/// Runs `sync` (which returns the end of what it wrote, if anything) and records that as
/// durable.
pub(crate) fn sync_and_mark(
    data_dir: &Path,
    sync: impl FnOnce() -> io::Result<Option<(u64, u64)>>,
) -> io::Result<()> {
    let Some((segment, offset)) = sync()? else {
        // Nothing written by this sync: the mark on disk still holds.
        return Ok(());
    };
    let tmp = data_dir.join(format!("{MARK_FILE}.tmp"));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(format!("{segment} {offset}").as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, data_dir.join(MARK_FILE))?;
    std::fs::File::open(data_dir)?.sync_all()
}

/// Called before the log is opened: cuts the log at the durable mark (nothing if no mark was
/// ever recorded).
pub(crate) fn model_crash(data_dir: &Path, log_dir: &Path) -> io::Result<()> {
    let text = match std::fs::read_to_string(data_dir.join(MARK_FILE)) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            tracing::warn!("BROKEN TEST BUILD: no durable mark yet; modeled crash drops nothing");
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    let bad = || io::Error::other(format!("broken-build durable mark {text:?}"));
    let (segment, offset) = text.trim().split_once(' ').ok_or_else(bad)?;
    let segment: u64 = segment.parse().map_err(|_| bad())?;
    let offset: u64 = offset.parse().map_err(|_| bad())?;
    let mut dropped = 0u64;
    for entry in std::fs::read_dir(log_dir)? {
        let entry = entry?;
        let Some(seq) = entry
            .file_name()
            .to_str()
            .and_then(crate::wal::parse_segment_name)
        else {
            continue;
        };
        if seq > segment {
            dropped += 1;
            std::fs::remove_file(entry.path())?;
        } else if seq == segment {
            let f = std::fs::OpenOptions::new().write(true).open(entry.path())?;
            let len = f.metadata()?.len();
            // Zeros from the mark on: the end of the frames, as in a preallocated segment.
            f.set_len(offset)?;
            f.set_len(len.max(offset))?;
            f.sync_all()?;
        }
    }
    std::fs::File::open(log_dir)?.sync_all()?;
    tracing::error!(
        "BROKEN TEST BUILD: modeled crash cut the raft log at segment {segment} offset \
         {offset} (and removed {dropped} later segments): what was acknowledged after the \
         last sync is gone"
    );
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
            // Written to the file, not synced (`sync` alone would not record the mark).
            crate::wal::sync(&log.shared.wal).unwrap();
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
        let wal = crate::wal::Wal::<Cfg>::open(raw.path()).unwrap();
        assert_eq!(wal.state.last.as_ref().map(|l| l.index), Some(9));
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
