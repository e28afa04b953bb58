//! The durable Raft log and vote: openraft's `RaftLogStorage` over `raft-log`, a write-ahead
//! log made for Raft (see docs/storage.md for why it replaced sled).
//!
//! `raft-log` keeps every record (append, vote, commit, truncate, purge) in one sequence of
//! chunk files under `<data-dir>/raft-log/`, each record with its crc32, and replays them at
//! open into an in-memory index (log id and file position per entry) plus a bounded cache of
//! recent entries. Writes go into its buffer under a mutex (readable at once); one thread of
//! ours (`flusher`) then hands everything pending to its I/O thread for one `write` and one
//! `fdatasync`, and only after that acknowledges: openraft's `LogFlushed` callback,
//! `save_vote`, `truncate` and `purge` never return before their record is durable.
//! `save_committed` rides on the next sync (the committed id is a hint).

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
use std::time::Duration;

use openraft::storage::LogFlushed;
use openraft::storage::LogState;
use openraft::storage::RaftLogStorage;
use openraft::ErrorSubject;
use openraft::ErrorVerb;
use openraft::LogId;
use openraft::OptionalSend;
use openraft::RaftLogId;
use openraft::RaftLogReader;
use openraft::RaftTypeConfig;
use openraft::StorageError;
use openraft::Vote;
use parking_lot::Mutex;
use raft_log::api::raft_log_writer::RaftLogWriter;
use raft_log::codeq::Span;

use crate::error::storage_err;
use crate::error::Corruption;
use crate::error::OpenError;
use crate::flusher::Flusher;
use crate::storage::SledStorage;
use crate::wal_types::StoredEntry;
use crate::wal_types::WalEntry;
use crate::wal_types::WalLogId;
use crate::wal_types::WalTypes;
use crate::wal_types::WalVote;

type StResult<C, T> = Result<T, StorageError<<C as RaftTypeConfig>::NodeId>>;

/// The `raft-log` instance of a type config.
pub(crate) type Wal<C> = raft_log::RaftLog<WalTypes<C>>;

/// The directory, inside the data dir, of the Raft log's chunk files.
pub(crate) const LOG_DIR: &str = "raft-log";

/// Largest chunk file. `raft-log` never evicts from its cache an entry of the chunk still
/// being written, so this bounds the cache's memory together with [`CACHE_BYTES`]; it is also
/// the unit a purge deletes.
const CHUNK_BYTES: usize = 8 << 20;
/// Most entries and most encoded bytes of entries the cache keeps beyond the open chunk.
/// Replication and apply read entries a few rounds old at most; a follower further behind
/// reads from disk.
const CACHE_ENTRIES: usize = 4096;
const CACHE_BYTES: usize = 4 << 20;
/// `raft-log`'s reader buffer when it replays chunks at open (its default is 64 MiB).
const READ_BUFFER: usize = 1 << 20;

/// `raft-log`'s configuration for the log in `dir`.
pub(crate) fn wal_config(dir: &Path) -> raft_log::Config {
    let mut wal = raft_log::chunked_wal::Config::new(dir.display());
    wal.chunk_max_size = Some(CHUNK_BYTES);
    wal.read_buffer_size = Some(READ_BUFFER);
    // Its I/O thread would wait this long for more requests before each sync (1 ms by
    // default); we send it one request per group of appends already (`flusher`), so
    // waiting would only add latency.
    wal.flush_batch_wait = Some(Duration::ZERO);
    wal.truncate_incomplete_record = Some(true);
    raft_log::Config {
        wal,
        log_cache_max_items: Some(CACHE_ENTRIES),
        log_cache_capacity: Some(CACHE_BYTES),
    }
}

/// Opens `raft-log` in `dir`, creating the directory (durably) if needed.
pub(crate) fn open_wal<C>(dir: &Path) -> io::Result<Wal<C>>
where
    C: RaftTypeConfig,
    C::Entry: StoredEntry,
{
    if !dir.is_dir() {
        std::fs::create_dir_all(dir)?;
        if let Some(parent) = dir.parent() {
            std::fs::File::open(parent)?.sync_all()?;
        }
    }
    Wal::<C>::open(Arc::new(wal_config(dir)))
}

/// Hands everything pending in `log` to its I/O thread and waits for its write and
/// `fdatasync`. Returns the end offset that sync covers.
pub(crate) fn sync_wal<C>(log: &Mutex<Wal<C>>, end: &AtomicU64) -> io::Result<u64>
where
    C: RaftTypeConfig,
    C::Entry: StoredEntry,
{
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let covered = {
        let mut log = log.lock();
        log.flush(true, Some(tx))?;
        end.load(Ordering::Acquire)
    };
    rx.recv()
        .map_err(|_| io::Error::other("raft-log's I/O thread dropped a sync"))??;
    Ok(covered)
}

/// What the store and its readers share. Field order is drop order: the flusher thread (it
/// holds the log) is joined first, then the log is closed (its lock released), and the sled
/// handle, whose release signal says the directory is free, goes last.
pub(crate) struct Shared<C>
where
    C: RaftTypeConfig,
    C::Entry: StoredEntry,
{
    flusher: Flusher,
    pub(crate) log: Arc<Mutex<Wal<C>>>,
    /// Global offset of the end of the last record written (0: none since open).
    end: Arc<AtomicU64>,
    storage: SledStorage,
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
        let log = Arc::new(Mutex::new(open_wal::<C>(&dir).map_err(log_err)?));
        let end = Arc::new(AtomicU64::new(0));
        let flusher = {
            let log = log.clone();
            let end = end.clone();
            if cfg!(feature = "unsafe-ack-before-flush") {
                let data_dir = storage.path().to_path_buf();
                Flusher::start(
                    "raft-log-sync",
                    move || crate::broken::sync_and_mark(&data_dir, || sync_wal(&log, &end)),
                    Some(crate::broken::FLUSH_EVERY),
                )
            } else {
                Flusher::start(
                    "raft-log-sync",
                    move || sync_wal(&log, &end).map(|_| ()),
                    None,
                )
            }
        }
        .map_err(OpenError::Flusher)?;
        Ok(Self {
            shared: Arc::new(Shared {
                flusher,
                log,
                end,
                storage,
            }),
        })
    }

    /// The data directory's sled database, to reach the snapshot and cluster-meta stores.
    pub fn storage(&self) -> &SledStorage {
        &self.shared.storage
    }

    /// Runs `write` on the log and records where the log now ends.
    fn write(
        &self,
        subject: ErrorSubject<C::NodeId>,
        verb: ErrorVerb,
        write: impl FnOnce(&mut Wal<C>) -> io::Result<raft_log::Segment>,
    ) -> StResult<C, ()> {
        let mut log = self.shared.log.lock();
        let segment = write(&mut log).map_err(|e| storage_err(subject, verb, &e))?;
        self.shared.end.store(segment.end().0, Ordering::Release);
        Ok(())
    }

    /// Waits until every write so far is durable.
    async fn flush(&self, subject: ErrorSubject<C::NodeId>, verb: ErrorVerb) -> StResult<C, ()> {
        self.shared
            .flusher
            .flush()
            .await
            .map_err(|e| storage_err(subject, verb, &e))
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

/// The part of `entries` that must be appended: an entry at or below the purge point is
/// already covered by a snapshot, and an entry whose log id the log already holds at its
/// index is that very entry (Raft's log matching property), so both are skipped; at the first
/// one that differs the log is truncated. openraft truncates conflicting entries itself
/// before it appends, so this only runs for callers that do not (its storage suite).
fn skip_present<C, I>(log: &mut Wal<C>, entries: I) -> io::Result<std::iter::Peekable<I>>
where
    C: RaftTypeConfig,
    C::Entry: StoredEntry,
    I: Iterator<Item = C::Entry>,
{
    let mut entries = entries.peekable();
    let Some(last) = log.log_state().last().map(|l| l.0.index) else {
        return Ok(entries);
    };
    let purged = log.log_state().purged().map(|l| l.0.index);
    while let Some(entry) = entries.peek() {
        let id = entry.get_log_id();
        if id.index > last {
            break;
        }
        if purged.is_some_and(|p| id.index <= p) {
            entries.next();
            continue;
        }
        let stored = log.read(id.index, id.index + 1).next().transpose()?;
        if stored.is_some_and(|(stored, _)| stored.0 == *id) {
            entries.next();
            continue;
        }
        log.truncate(id.index)?;
        break;
    }
    Ok(entries)
}

impl<C> RaftLogReader<C> for LogReader<C>
where
    C: RaftTypeConfig,
    C::Entry: StoredEntry,
{
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> StResult<C, Vec<C::Entry>> {
        let Some((lo, hi)) = index_range(&range) else {
            return Ok(Vec::new());
        };
        let log = self.shared.log.lock();
        let mut entries = Vec::new();
        for item in log.read(lo, hi) {
            let (log_id, stored) =
                item.map_err(|e| storage_err(ErrorSubject::Logs, ErrorVerb::Read, &e))?;
            let index = log_id.0.index;
            let found = stored.entry.get_log_id().index;
            if found != index {
                return Err(storage_err(
                    ErrorSubject::LogIndex(index),
                    ErrorVerb::Read,
                    &Corruption::IndexMismatch { key: index, found },
                ));
            }
            entries.push(stored.entry);
        }
        Ok(entries)
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
    ) -> StResult<C, Vec<C::Entry>> {
        self.reader().try_get_log_entries(range).await
    }
}

impl<C> RaftLogStorage<C> for LogStore<C>
where
    C: RaftTypeConfig,
    C::Entry: StoredEntry,
{
    type LogReader = LogReader<C>;

    async fn get_log_state(&mut self) -> StResult<C, LogState<C>> {
        let log = self.shared.log.lock();
        let state = log.log_state();
        Ok(LogState {
            last_purged_log_id: state.purged().map(|l| l.0.clone()),
            last_log_id: state.last().map(|l| l.0.clone()),
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.reader()
    }

    async fn save_vote(&mut self, vote: &Vote<C::NodeId>) -> StResult<C, ()> {
        self.write(ErrorSubject::Vote, ErrorVerb::Write, |log| {
            log.save_vote(WalVote(vote.clone()))
        })?;
        // openraft requires the vote on disk before this returns: a node that forgets its
        // vote after a crash could vote twice in one term.
        self.flush(ErrorSubject::Vote, ErrorVerb::Write).await
    }

    async fn read_vote(&mut self) -> StResult<C, Option<Vote<C::NodeId>>> {
        Ok(self
            .shared
            .log
            .lock()
            .log_state()
            .vote()
            .map(|v| v.0.clone()))
    }

    async fn save_committed(&mut self, committed: Option<LogId<C::NodeId>>) -> StResult<C, ()> {
        let Some(committed) = committed else {
            return Ok(());
        };
        // No sync of its own: the committed id is only a hint that lets a restart re-apply
        // sooner, losing it is safe, and it becomes durable with the next sync. raft-log
        // refuses a committed id that goes back or points past the last entry; such a hint
        // is not recorded (it would only be ignored at the next start).
        let mut log = self.shared.log.lock();
        let state = log.log_state();
        let behind = state.committed().is_some_and(|c| c.0 >= committed);
        let past = state.last().is_none_or(|l| l.0 < committed);
        if behind || past {
            tracing::debug!(%committed, behind, past, "committed id not recorded");
            return Ok(());
        }
        let segment = log
            .commit(WalLogId(committed))
            .map_err(|e| storage_err(ErrorSubject::Store, ErrorVerb::Write, &e))?;
        self.shared.end.store(segment.end().0, Ordering::Release);
        Ok(())
    }

    async fn read_committed(&mut self) -> StResult<C, Option<LogId<C::NodeId>>> {
        let log = self.shared.log.lock();
        let state = log.log_state();
        let committed = state.committed().map(|c| c.0.clone());
        // Defence in depth: never point past the log we actually have (it is only a hint, and
        // openraft would try to apply entries that are not there).
        let last = state.last().map(|l| l.0.index);
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

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<C>) -> StResult<C, ()>
    where
        I: IntoIterator<Item = C::Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        self.write(ErrorSubject::Logs, ErrorVerb::Write, |log| {
            let entries = skip_present(log, entries.into_iter())?;
            log.append(entries.map(|e| (WalLogId(e.get_log_id().clone()), WalEntry::new(e))))
        })?;
        if cfg!(feature = "unsafe-ack-before-flush") {
            // The deliberately broken test build (see `broken`): written to the OS at once,
            // acknowledged before any sync.
            let res = self.shared.log.lock().flush(false, None);
            callback.log_io_completed(res);
            return Ok(());
        }
        // Readable now; acknowledged to openraft only once the sync has returned Ok.
        self.shared
            .flusher
            .submit(Box::new(move |res| callback.log_io_completed(res)));
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId<C::NodeId>) -> StResult<C, ()> {
        tracing::debug!(%log_id, "truncate log from (inclusive)");
        let last = self.shared.log.lock().log_state().last().map(|l| l.0.index);
        if last.is_none_or(|last| last < log_id.index) {
            // Nothing there to remove; raft-log would not find the entry before the cut.
            return Ok(());
        }
        self.write(ErrorSubject::Logs, ErrorVerb::Delete, |log| {
            log.truncate(log_id.index)
        })?;
        self.flush(ErrorSubject::Logs, ErrorVerb::Delete).await
    }

    async fn purge(&mut self, log_id: LogId<C::NodeId>) -> StResult<C, ()> {
        tracing::debug!(%log_id, "purge log up to (inclusive)");
        // Reads stop below the purge point at once; its record is durable when this returns,
        // and chunk files wholly below it are deleted by raft-log's I/O thread after that
        // sync (one unlink per 8 MiB chunk: nothing like sled's removal of every entry).
        self.write(ErrorSubject::Store, ErrorVerb::Write, |log| {
            log.purge(WalLogId(log_id))
        })?;
        self.flush(ErrorSubject::Store, ErrorVerb::Write).await
    }
}
