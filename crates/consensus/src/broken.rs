//! TEST ONLY: the deliberately broken build (feature `unsafe-ack-before-flush`) and its model
//! of a machine crash. Normal builds never run anything in here.
//!
//! The broken build acknowledges log appends before they are fsynced (`Flusher::submit`). On
//! its own that loses nothing in a chaos run: sled hands its writes to the OS at once, and a
//! kill -9 of the process leaves the OS page cache, and with it every acknowledged append,
//! intact. A missing fsync only loses data when the machine or the OS crashes, which a
//! process-level harness cannot do. So this build models such a crash at every start:
//!
//! - it fsyncs only every [`FLUSH_EVERY`], and whenever something else waits on a flush (the
//!   vote, a truncation, a purge, a snapshot: those stay durable, only appends are broken);
//! - each of those flushes first records, in the meta tree, the last log index at that moment
//!   (so the record itself is covered by the flush that makes that index durable);
//! - opening the database removes every log entry above the recorded index, i.e. what the
//!   crash would have thrown away, says so at ERROR level, and flushes.

use std::io;
use std::sync::mpsc;
use std::sync::mpsc::RecvTimeoutError;
use std::time::Duration;

use crate::codec;
use crate::error::to_io;
use crate::flusher::Completion;

/// How often the broken build fsyncs when nothing else asks it to.
pub(crate) const FLUSH_EVERY: Duration = Duration::from_millis(500);

/// Meta key of the durable mark: `Option<u64>`, the last log index the latest flush covers
/// (`None`: the log was empty then).
const KEY_DURABLE_UPTO: &[u8] = b"broken-durable-upto";

/// The broken build's flusher thread: one flush at least every [`FLUSH_EVERY`], and one for
/// whatever is queued (`Flusher::flush` callers); each first records the durable mark. Ends,
/// after a last flush (sled flushes when its last handle goes anyway), when the queue closes.
pub(crate) fn run_flusher(db: sled::Db, rx: mpsc::Receiver<Completion>) {
    let mut batch: Vec<Completion> = Vec::new();
    loop {
        let closed = match rx.recv_timeout(FLUSH_EVERY) {
            Ok(first) => {
                batch.push(first);
                false
            }
            Err(RecvTimeoutError::Timeout) => false,
            Err(RecvTimeoutError::Disconnected) => true,
        };
        batch.extend(rx.try_iter());
        let res = record_and_flush(&db);
        if let Err(e) = &res {
            tracing::error!(error = %e, "raft storage flush failed");
        }
        for done in batch.drain(..) {
            done(res.as_ref().map(|_| ()).map_err(to_io));
        }
        if closed {
            return;
        }
    }
}

/// Records the last log index as durable, then flushes (which covers the record too).
fn record_and_flush(db: &sled::Db) -> io::Result<()> {
    let logs = db.open_tree(codec::LOG_TREE).map_err(to_io)?;
    let meta = db.open_tree(codec::META_TREE).map_err(to_io)?;
    let last = match logs.last().map_err(to_io)? {
        Some((key, _)) => Some(codec::key_index(&key).map_err(to_io)?),
        None => None,
    };
    let mark = codec::encode(&last).map_err(to_io)?;
    meta.insert(KEY_DURABLE_UPTO, mark).map_err(to_io)?;
    db.flush().map_err(to_io)?;
    Ok(())
}

/// Called when the database is opened: drops every log entry above the durable mark (nothing
/// if no mark was ever recorded), then records the mark anew and flushes.
pub(crate) fn model_crash(db: &sled::Db) -> io::Result<()> {
    let logs = db.open_tree(codec::LOG_TREE).map_err(to_io)?;
    let meta = db.open_tree(codec::META_TREE).map_err(to_io)?;
    let mark: Option<Option<u64>> = match meta.get(KEY_DURABLE_UPTO).map_err(to_io)? {
        Some(bytes) => Some(codec::decode("broken-build durable mark", &bytes).map_err(to_io)?),
        None => None,
    };
    if let Some(durable) = mark {
        let first_lost = durable.map_or(0, |index| index.saturating_add(1));
        let mut dropped: Vec<u64> = Vec::new();
        let mut batch = sled::Batch::default();
        for item in logs.range(codec::index_key(first_lost)..) {
            let (key, _) = item.map_err(to_io)?;
            let index = codec::key_index(&key).map_err(to_io)?;
            if Some(index) != durable {
                // (only false for a mark of u64::MAX, where `first_lost` saturated)
                dropped.push(index);
                batch.remove(key);
            }
        }
        logs.apply_batch(batch).map_err(to_io)?;
        match (dropped.first(), dropped.last()) {
            (Some(first), Some(last)) => tracing::error!(
                "BROKEN TEST BUILD: modeled crash dropped log entries {first}..={last} \
                 ({} acknowledged but never fsynced; durable up to {durable:?})",
                dropped.len()
            ),
            _ => tracing::warn!(
                "BROKEN TEST BUILD: modeled crash dropped no log entries (durable up to {durable:?})"
            ),
        }
    }
    record_and_flush(db)
}

#[cfg(all(test, feature = "unsafe-ack-before-flush"))]
mod tests {
    use super::*;

    fn put(logs: &sled::Tree, range: std::ops::RangeInclusive<u64>) {
        for i in range {
            logs.insert(codec::index_key(i), vec![i as u8]).unwrap();
        }
    }

    fn indexes(logs: &sled::Tree) -> Vec<u64> {
        logs.iter()
            .keys()
            .map(|k| codec::key_index(&k.unwrap()).unwrap())
            .collect()
    }

    #[test]
    fn entries_above_the_mark_are_dropped_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::storage::open_sled(dir.path()).unwrap();
        let logs = db.open_tree(codec::LOG_TREE).unwrap();
        put(&logs, 0..=5);
        // Never recorded: nothing is dropped (and the mark is recorded now).
        model_crash(&db).unwrap();
        assert_eq!(indexes(&logs), (0..=5).collect::<Vec<_>>());
        put(&logs, 6..=9);
        model_crash(&db).unwrap();
        assert_eq!(indexes(&logs), (0..=5).collect::<Vec<_>>());
        put(&logs, 6..=7);
        record_and_flush(&db).unwrap();
        put(&logs, 8..=9);
        model_crash(&db).unwrap();
        assert_eq!(indexes(&logs), (0..=7).collect::<Vec<_>>());
    }

    #[test]
    fn an_empty_log_at_the_mark_drops_every_later_entry() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::storage::open_sled(dir.path()).unwrap();
        let logs = db.open_tree(codec::LOG_TREE).unwrap();
        record_and_flush(&db).unwrap();
        put(&logs, 0..=3);
        model_crash(&db).unwrap();
        assert!(indexes(&logs).is_empty());
    }
}
