//! The durable Raft log and vote: openraft's `RaftLogStorage` over our write-ahead log
//! (`wal`; docs/storage.md says why neither sled nor the `raft-log` crate).
//!
//! Every record (entry, vote, commit, truncation, purge) goes into the log's pending frame
//! under a mutex (readable at once, the entries from the in-memory tail, `recent`); one thread
//! of ours (`flusher`) then writes the frame with one `pwrite` and one `fdatasync`, and only
//! after that acknowledges: openraft's `IOFlushed` callback, `save_vote`, `truncate_after` and
//! `purge` never return before their record is durable. `save_committed` rides on the next
//! sync (the committed id is a hint).

use std::fmt::Debug;
use std::io;
use std::marker::PhantomData;
use std::ops::Bound;
use std::ops::RangeBounds;
use std::path::Path;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use openraft::entry::RaftEntry;
use openraft::storage::IOFlushed;
use openraft::storage::LogState;
use openraft::storage::RaftLogStorage;
use openraft::type_config::alias::LogIdOf;
use openraft::type_config::alias::VoteOf;
use openraft::OptionalSend;
use openraft::RaftLogReader;
use openraft::RaftTypeConfig;
use parking_lot::Mutex;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::codec;
use crate::error::io_err;
use crate::error::Corruption;
use crate::error::OpenError;
use crate::flusher::Flusher;
use crate::metrics::ConsensusMetrics;
use crate::recent::RecentEntries;
use crate::storage::SledStorage;
use crate::wal;
use crate::wal::Wal;

/// The directory, inside the data dir, of the Raft log's segment files.
pub(crate) const LOG_DIR: &str = "wal";

/// Most entries the in-memory tail keeps (see `recent`).
const RECENT_ENTRIES: usize = 4096;
/// Most encoded bytes the in-memory tail keeps: replication and apply read entries a few
/// rounds old at most; a follower further behind reads from the segment files.
const RECENT_BYTES: usize = 1 << 20;

/// What a log entry type must offer to be stored in the log (any serde type will do).
pub trait StoredEntry: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {}
impl<E: Serialize + DeserializeOwned + Clone + Send + Sync + 'static> StoredEntry for E {}

/// What the store and its readers share. Field order is drop order: the flusher thread (it
/// holds the log) is joined first, and the sled handle, whose release signal says the
/// directory is free, goes last.
pub(crate) struct Shared<C>
where
    C: RaftTypeConfig,
    C::Entry: StoredEntry,
{
    flusher: Flusher,
    pub(crate) wal: Arc<Mutex<Wal<C>>>,
    /// The last entries appended, and every one not yet in a file. Locked after `wal` when
    /// both are.
    recent: Arc<Mutex<RecentEntries<C::Entry>>>,
    /// The index of the last entry in the log (appended, flushed or not; 0: none).
    accepted: AcceptedIndex,
    storage: SledStorage,
}

/// The index of the last entry a member's log holds, appended whether or not flushed yet:
/// what it has *accepted* from its leader (0: none). A follower applies an accepted entry as
/// soon as it learns the entry is committed, so a read that sees an accepted entry not yet
/// applied knows a write may have been acknowledged that it does not show yet.
#[derive(Debug, Clone, Default)]
pub struct AcceptedIndex(Arc<AtomicU64>);

impl AcceptedIndex {
    /// The index now.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    fn set<C: RaftTypeConfig>(&self, last: Option<&LogIdOf<C>>) {
        self.0
            .store(last.map_or(0, |l| l.index()), Ordering::Release);
    }
}

/// The durable Raft log and vote store (openraft `RaftLogStorage`).
pub struct LogStore<C>
where
    C: RaftTypeConfig,
    C::Entry: StoredEntry,
{
    pub(crate) shared: Arc<Shared<C>>,
}

/// A read-only view of the log, handed to openraft's replication tasks.
pub struct LogReader<C>
where
    C: RaftTypeConfig,
    C::Entry: StoredEntry,
{
    shared: Arc<Shared<C>>,
    _c: PhantomData<fn() -> C>,
}

impl<C> Clone for LogReader<C>
where
    C: RaftTypeConfig,
    C::Entry: StoredEntry,
{
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
            _c: PhantomData,
        }
    }
}

/// Syncs `wal` and tells the tail what is in files now.
fn sync_wal<C>(
    wal: &Mutex<Wal<C>>,
    recent: &Mutex<RecentEntries<C::Entry>>,
    metrics: &ConsensusMetrics,
) -> io::Result<wal::Synced>
where
    C: RaftTypeConfig,
    C::Entry: StoredEntry,
{
    let synced = wal::sync(wal)?;
    // A sync with nothing pending does no fsync: nothing to time.
    if let Some((segment, _)) = synced.end {
        metrics.record_fsync(synced.fsync, segment);
    }
    let written = wal.lock().written_upto();
    recent.lock().written_upto(written);
    Ok(synced)
}

impl<C> LogStore<C>
where
    C: RaftTypeConfig,
    C::Entry: StoredEntry,
{
    /// Opens (creating if needed) the data directory `dir` and returns its log store.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, OpenError> {
        SledStorage::open(dir)?.log_store()
    }

    /// Opens the log of `storage`'s data directory, upgrading a log that an older release
    /// kept in sled first.
    pub(crate) fn open_in(storage: SledStorage) -> Result<Self, OpenError> {
        let dir: PathBuf = storage.path().join(LOG_DIR);
        let log_err = |source: io::Error| OpenError::Log {
            path: dir.clone(),
            source,
        };
        crate::upgrade::upgrade_if_needed::<C>(&storage, &dir)?;
        if cfg!(feature = "unsafe-ack-before-flush") {
            // The deliberately broken test build loses, at every start, what a machine crash
            // would have lost of its unsynced appends (see `broken`).
            crate::broken::model_crash(storage.path(), &dir).map_err(log_err)?;
        }
        let wal = Wal::<C>::open(&dir).map_err(|e| log_err(io::Error::other(e)))?;
        let mut recent = RecentEntries::new(RECENT_ENTRIES, RECENT_BYTES);
        recent.written_upto(wal.written_upto());
        let accepted = AcceptedIndex::default();
        accepted.set::<C>(wal.state.last.as_ref());
        let wal = Arc::new(Mutex::new(wal));
        let recent = Arc::new(Mutex::new(recent));
        let flusher = {
            let wal = wal.clone();
            let recent = recent.clone();
            let metrics = storage.metrics().clone();
            if cfg!(feature = "unsafe-ack-before-flush") {
                let data_dir = storage.path().to_path_buf();
                Flusher::start(
                    "raft-log-sync",
                    move || {
                        crate::broken::sync_and_mark(&data_dir, || {
                            sync_wal(&wal, &recent, &metrics).map(|s| s.end)
                        })
                    },
                    Some(crate::broken::FLUSH_EVERY),
                )
            } else {
                Flusher::start(
                    "raft-log-sync",
                    move || sync_wal(&wal, &recent, &metrics).map(|_| ()),
                    None,
                )
            }
        }
        .map_err(OpenError::Flusher)?;
        Ok(Self {
            shared: Arc::new(Shared {
                flusher,
                wal,
                recent,
                accepted,
                storage,
            }),
        })
    }

    /// A handle on the index of the last entry this log holds.
    pub fn accepted_index(&self) -> AcceptedIndex {
        self.shared.accepted.clone()
    }

    /// The data directory's sled database, to reach the snapshot and cluster-meta stores.
    pub fn storage(&self) -> &SledStorage {
        &self.shared.storage
    }

    /// Waits until every write so far is durable.
    async fn flush(&self, what: &str) -> io::Result<()> {
        self.shared
            .flusher
            .flush()
            .await
            .map_err(|e| io_err(format_args!("syncing the raft log ({what})"), &e))
    }

    fn reader(&self) -> LogReader<C> {
        LogReader {
            shared: self.shared.clone(),
            _c: PhantomData,
        }
    }
}

/// The half-open index range `[lo, hi)` of `range`; `None` when it holds no index.
fn index_range<RB: RangeBounds<u64>>(range: &RB) -> Option<(u64, u64)> {
    let lo = match range.start_bound() {
        Bound::Included(&s) => s,
        Bound::Excluded(&s) => s.checked_add(1)?,
        Bound::Unbounded => 0,
    };
    let hi = match range.end_bound() {
        Bound::Included(&e) => e.saturating_add(1),
        Bound::Excluded(&e) => e,
        Bound::Unbounded => u64::MAX,
    };
    (lo < hi).then_some((lo, hi))
}

/// The entries `lo..hi` of the log (clamped to what it holds): from the tail when it has
/// them, else read from the segment files. `wal` is locked by the caller.
fn read_entries<C>(
    wal: &Wal<C>,
    recent: &Mutex<RecentEntries<C::Entry>>,
    lo: u64,
    hi: u64,
) -> io::Result<Vec<C::Entry>>
where
    C: RaftTypeConfig,
    C::Entry: StoredEntry,
{
    let lo = lo.max(wal.first_index());
    let hi = hi.min(wal.next_index());
    if lo >= hi {
        return Ok(Vec::new());
    }
    let recent = recent.lock();
    // The tail holds a run ending at the last entry, and every unwritten one: what is
    // below it is in files.
    let split = recent.first().unwrap_or(hi).clamp(lo, hi);
    let mut entries = Vec::with_capacity((hi - lo) as usize);
    if lo < split {
        let read_err =
            |i: u64, e: &dyn std::error::Error| io_err(format_args!("reading log entry {i}"), e);
        let locs = wal
            .locate(lo, split)
            .map_err(|e| io_err(format_args!("reading log entries {lo}..{split}"), &e))?;
        for (i, (file, at, len)) in (lo..).zip(locs) {
            let bytes = wal::read_entry::<C>(&file, at, len).map_err(|e| read_err(i, &e))?;
            let entry: C::Entry =
                codec::decode("log entry", &bytes).map_err(|e| read_err(i, &e))?;
            let found = entry.index();
            if found != i {
                return Err(read_err(i, &Corruption::IndexMismatch { key: i, found }));
            }
            entries.push(entry);
        }
    }
    if split < hi {
        let tail = recent.get(split, Some(hi)).ok_or_else(|| {
            io::Error::other(format!(
                "log entries {split}..{hi} are neither in memory nor in files"
            ))
        })?;
        entries.extend(tail);
    }
    Ok(entries)
}

/// The log id of the entry at `index`, if the log holds it. `wal` is locked by the caller.
fn log_id_at<C>(
    wal: &Wal<C>,
    recent: &Mutex<RecentEntries<C::Entry>>,
    index: u64,
) -> io::Result<Option<LogIdOf<C>>>
where
    C: RaftTypeConfig,
    C::Entry: StoredEntry,
{
    if wal.state.purged.as_ref().is_some_and(|p| p.index == index) {
        return Ok(wal.state.purged.clone());
    }
    let found = read_entries(wal, recent, index, index.saturating_add(1))?;
    Ok(found.first().map(|e| e.log_id()))
}

impl<C> RaftLogReader<C> for LogReader<C>
where
    C: RaftTypeConfig,
    C::Entry: StoredEntry,
{
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> io::Result<Vec<C::Entry>> {
        let Some((lo, hi)) = index_range(&range) else {
            return Ok(Vec::new());
        };
        let wal = self.shared.wal.lock();
        read_entries(&wal, &self.shared.recent, lo, hi)
    }

    async fn read_vote(&mut self) -> io::Result<Option<VoteOf<C>>> {
        Ok(self.shared.wal.lock().state.vote.clone())
    }
}

impl<C> RaftLogReader<C> for LogStore<C>
where
    C: RaftTypeConfig,
    C::Entry: StoredEntry,
{
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> io::Result<Vec<C::Entry>> {
        self.reader().try_get_log_entries(range).await
    }

    async fn read_vote(&mut self) -> io::Result<Option<VoteOf<C>>> {
        self.reader().read_vote().await
    }
}

fn write_err(what: std::fmt::Arguments<'_>, e: &Corruption) -> io::Error {
    io_err(format_args!("writing {what} to the raft log"), e)
}

impl<C> RaftLogStorage<C> for LogStore<C>
where
    C: RaftTypeConfig,
    C::Entry: StoredEntry,
{
    type LogReader = LogReader<C>;

    async fn get_log_state(&mut self) -> io::Result<LogState<C>> {
        let wal = self.shared.wal.lock();
        Ok(LogState {
            last_purged_log_id: wal.state.purged.clone(),
            last_log_id: wal.state.last.clone(),
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.reader()
    }

    async fn save_vote(&mut self, vote: &VoteOf<C>) -> io::Result<()> {
        self.shared
            .wal
            .lock()
            .save_vote(vote)
            .map_err(|e| write_err(format_args!("the vote"), &e))?;
        // openraft requires the vote on disk before this returns: a node that forgets its
        // vote after a crash could vote twice in one term.
        self.flush("vote").await
    }

    async fn save_committed(&mut self, committed: Option<LogIdOf<C>>) -> io::Result<()> {
        let Some(committed) = committed else {
            return Ok(());
        };
        // No sync of its own: the committed id is only a hint that lets a restart re-apply
        // sooner, losing it is safe, and it becomes durable with the next sync, which covers
        // the entries it points to as well (one file, written in order).
        self.shared
            .wal
            .lock()
            .commit(&committed)
            .map_err(|e| write_err(format_args!("the committed id"), &e))
    }

    async fn read_committed(&mut self) -> io::Result<Option<LogIdOf<C>>> {
        let wal = self.shared.wal.lock();
        let committed = wal.state.committed.clone();
        // Defence in depth: never point past the log we actually have (it is only a hint, and
        // openraft would try to apply entries that are not there).
        let last = wal.state.last.as_ref().map(|l| l.index);
        if committed.as_ref().map(|c| c.index) > last {
            tracing::warn!(
                ?committed,
                ?last,
                "stored committed id is past the log; ignoring it"
            );
            return Ok(None);
        }
        Ok(committed)
    }

    async fn append<I>(&mut self, entries: I, callback: IOFlushed<C>) -> io::Result<()>
    where
        I: IntoIterator<Item = C::Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        {
            let mut wal = self.shared.wal.lock();
            let entries = skip_present(&mut wal, &self.shared.recent, entries.into_iter())?;
            let mut run = Vec::new();
            for entry in entries {
                let log_id = entry.log_id();
                let bytes = codec::encode(&entry)
                    .map_err(|e| io_err(format_args!("encoding log entry {log_id}"), &e))?;
                wal.append(&log_id, &bytes)
                    .map_err(|e| write_err(format_args!("log entry {log_id}"), &e))?;
                run.push((entry, bytes.len()));
            }
            if let Some((first, _)) = run.first() {
                let first = first.index();
                self.shared.recent.lock().append(first, run);
            }
            self.shared.accepted.set::<C>(wal.state.last.as_ref());
        }
        if cfg!(feature = "unsafe-ack-before-flush") {
            // The deliberately broken test build (see `broken`): acknowledged before any
            // sync; written to the file by the next (periodic) one.
            callback.io_completed(Ok(()));
            return Ok(());
        }
        // Readable now; acknowledged to openraft only once the sync has returned Ok.
        self.shared
            .flusher
            .submit(Box::new(move |res| callback.io_completed(res)));
        Ok(())
    }

    async fn truncate_after(&mut self, last: Option<LogIdOf<C>>) -> io::Result<()> {
        tracing::debug!(?last, "truncate the log after (exclusive)");
        let from = last.as_ref().map_or(0, |l| l.index + 1);
        {
            let mut wal = self.shared.wal.lock();
            if wal.next_index() <= from || wal.state.last.is_none() {
                // Nothing there to remove.
                return Ok(());
            }
            // Raft never truncates committed entries, and everything purged was committed:
            // a request to cut into the purged part is a bug, refused before it could leave
            // the log ending below its purge point.
            if let Some(purged) = wal.state.purged.as_ref().filter(|p| from <= p.index) {
                return Err(io::Error::other(format!(
                    "refusing to truncate the raft log after {last:?}: it is purged through {purged}"
                )));
            }
            wal.truncate(from, last)
                .map_err(|e| write_err(format_args!("a truncation from {from}"), &e))?;
            // Out of the tail under the log's lock: no reader sees the removed entries again.
            self.shared.recent.lock().truncate_from(from);
            self.shared.accepted.set::<C>(wal.state.last.as_ref());
        }
        self.flush("truncation").await
    }

    async fn purge(&mut self, log_id: LogIdOf<C>) -> io::Result<()> {
        tracing::debug!(%log_id, "purge log up to (inclusive)");
        // Reads stop below the purge point at once; its record is durable when this returns,
        // and the sync deletes the segment files wholly below it (one unlink per 64 MiB:
        // nothing like sled's removal of every entry, 260-430 ms with 400k znodes).
        {
            let mut wal = self.shared.wal.lock();
            if wal.state.purged.as_ref() >= Some(&log_id) {
                return Ok(());
            }
            wal.purge(&log_id)
                .map_err(|e| write_err(format_args!("a purge through {log_id}"), &e))?;
            self.shared.recent.lock().purge_through(log_id.index);
        }
        self.flush("purge").await
    }
}

/// The part of `entries` that must be appended: an entry at or below the purge point is
/// already covered by a snapshot, and an entry whose log id the log already holds at its
/// index is that very entry (Raft's log matching property), so both are skipped; at the first
/// one that differs the log is truncated. openraft truncates conflicting entries itself
/// before it appends, so this only does anything for callers that do not (its storage suite).
fn skip_present<C, I>(
    wal: &mut Wal<C>,
    recent: &Mutex<RecentEntries<C::Entry>>,
    entries: I,
) -> io::Result<std::iter::Peekable<I>>
where
    C: RaftTypeConfig,
    C::Entry: StoredEntry,
    I: Iterator<Item = C::Entry>,
{
    let mut entries = entries.peekable();
    let purged = wal.state.purged.as_ref().map(|p| p.index);
    while let Some(entry) = entries.peek() {
        let id = entry.log_id();
        if purged.is_some_and(|p| id.index <= p) {
            entries.next();
            continue;
        }
        if id.index >= wal.next_index() || wal.state.last.is_none() {
            break;
        }
        if log_id_at(wal, recent, id.index)?.as_ref() == Some(&id) {
            entries.next();
            continue;
        }
        let before = match id.index.checked_sub(1) {
            Some(i) => log_id_at(wal, recent, i)?,
            None => None,
        };
        wal.truncate(id.index, before)
            .map_err(|e| write_err(format_args!("a truncation from {}", id.index), &e))?;
        recent.lock().truncate_from(id.index);
        break;
    }
    Ok(entries)
}
