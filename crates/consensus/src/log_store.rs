//! The durable Raft log and vote: openraft's `RaftLogStorage` over sled.
//!
//! Entries live in their own tree under big-endian index keys, postcard-encoded. The vote,
//! the last purged log id and the committed log id live in the meta tree. Every write is
//! acknowledged only after a sled flush covering it has returned Ok (see `flusher`).
//!
//! A purge is the exception that is not done when it returns: its purge point is durable and
//! reads stop below it at once, but the entries leave sled on a blocking thread afterwards.
//! Removing them means paging in every leaf below the point (ten thousand entries of batched
//! commands, tens of MB), 260-430 ms measured with 400k znodes; openraft's core awaits the
//! purge, so done inline it sent no heartbeat meanwhile and the followers elected another
//! leader under load (elections in two of three rounds of `bench/compare.sh`'s mixed load,
//! one of them failing all 512 requests in flight). Entries left below the point by a crash
//! are ignored the same way.

use std::fmt::Debug;
use std::marker::PhantomData;
use std::ops::Bound;
use std::ops::RangeBounds;
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;
use std::sync::Arc;

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
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::codec;
use crate::error::storage_err;
use crate::error::Corruption;
use crate::error::OpenError;
use crate::recent::RecentEntries;
use crate::storage::ReleaseSignal;
use crate::storage::SledStorage;

type StResult<C, T> = Result<T, StorageError<<C as RaftTypeConfig>::NodeId>>;

/// Most entries the in-memory tail keeps (see `recent`).
const RECENT_ENTRIES: usize = 4096;
/// Most encoded bytes the in-memory tail keeps: replication and apply read entries a few
/// rounds old at most; a follower further behind reads from sled.
const RECENT_BYTES: usize = 1 << 20;

/// The durable Raft log and vote store (openraft `RaftLogStorage`) over sled.
pub struct SledLogStore<C: RaftTypeConfig> {
    storage: SledStorage,
    reader: SledLogReader<C>,
    /// Held by a purge's removal of entries while it runs (see `purge`).
    purging: Arc<Mutex<()>>,
}

/// A read-only view of the log, handed to openraft's replication tasks.
pub struct SledLogReader<C: RaftTypeConfig> {
    logs: sled::Tree,
    /// The last entries appended, shared with the store that appends them.
    recent: Arc<Mutex<RecentEntries<C::Entry>>>,
    /// The first index reads may return: one past the purge point (entries below it may
    /// still be in sled, see the module docs). Shared with the store that purges.
    floor: Arc<AtomicU64>,
    _c: PhantomData<fn() -> C>,
    /// After `logs`: signals the database's release only once this tree handle is gone.
    _release: Arc<ReleaseSignal>,
}

impl<C: RaftTypeConfig> Clone for SledLogReader<C> {
    fn clone(&self) -> Self {
        Self {
            logs: self.logs.clone(),
            recent: self.recent.clone(),
            floor: self.floor.clone(),
            _c: PhantomData,
            _release: self._release.clone(),
        }
    }
}

impl<C> SledLogStore<C>
where
    C: RaftTypeConfig,
    C::Entry: Serialize + DeserializeOwned + Clone,
{
    /// Opens (creating if needed) the raft database in `dir` and returns its log store.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, OpenError> {
        Ok(SledStorage::open(dir)?.log_store())
    }

    pub(crate) fn from_storage(storage: SledStorage) -> Self {
        // A purge point that cannot be read leaves no floor; `get_log_state` reports it.
        let floor = storage
            .meta
            .get(codec::KEY_LAST_PURGED)
            .ok()
            .flatten()
            .and_then(|b| codec::decode::<LogId<C::NodeId>>("last purged log id", &b).ok())
            .map_or(0, |l| l.index.saturating_add(1));
        let reader = SledLogReader {
            logs: storage.logs.clone(),
            recent: Arc::new(Mutex::new(RecentEntries::new(RECENT_ENTRIES, RECENT_BYTES))),
            floor: Arc::new(AtomicU64::new(floor)),
            _c: PhantomData,
            _release: storage.release.clone(),
        };
        Self {
            storage,
            reader,
            purging: Arc::new(Mutex::new(())),
        }
    }

    /// The database this store lives in, to reach the snapshot and cluster-meta stores.
    pub fn storage(&self) -> &SledStorage {
        &self.storage
    }

    /// Reads one postcard record of the meta tree; `subject` names it in errors.
    fn get_meta<T: DeserializeOwned>(
        &self,
        key: &[u8],
        what: &'static str,
        subject: ErrorSubject<C::NodeId>,
    ) -> StResult<C, Option<T>> {
        let Some(bytes) = self
            .storage
            .meta
            .get(key)
            .map_err(|e| storage_err(subject.clone(), ErrorVerb::Read, &e))?
        else {
            return Ok(None);
        };
        codec::decode(what, &bytes)
            .map(Some)
            .map_err(|e| storage_err(subject, ErrorVerb::Read, &e))
    }

    /// Writes one postcard record of the meta tree (not yet durable).
    fn put_meta<T: Serialize>(
        &self,
        key: &[u8],
        value: &T,
        subject: ErrorSubject<C::NodeId>,
    ) -> StResult<C, ()> {
        let bytes =
            codec::encode(value).map_err(|e| storage_err(subject.clone(), ErrorVerb::Write, &e))?;
        self.storage
            .meta
            .insert(key, bytes)
            .map_err(|e| storage_err(subject, ErrorVerb::Write, &e))?;
        Ok(())
    }

    /// Waits until every write so far is durable.
    async fn flush(&self, subject: ErrorSubject<C::NodeId>, verb: ErrorVerb) -> StResult<C, ()> {
        self.storage
            .flusher
            .flush()
            .await
            .map_err(|e| storage_err(subject, verb, &e))
    }

    /// Removes every entry whose index lies in `range`, atomically.
    fn remove_range(&self, range: (Bound<[u8; 8]>, Bound<[u8; 8]>)) -> StResult<C, ()> {
        remove_range(&self.storage.logs, range)
            .map_err(|e| storage_err(ErrorSubject::Logs, ErrorVerb::Delete, &e))
    }
}

/// Removes every entry whose key lies in `range`, atomically.
fn remove_range(logs: &sled::Tree, range: (Bound<[u8; 8]>, Bound<[u8; 8]>)) -> sled::Result<()> {
    let mut batch = sled::Batch::default();
    for key in logs.range(range).keys() {
        batch.remove(key?);
    }
    logs.apply_batch(batch)
}

impl<C> SledLogReader<C>
where
    C: RaftTypeConfig,
    C::Entry: Serialize + DeserializeOwned + Clone,
{
    /// Decodes one stored entry, checking it sits under its own index.
    fn decode_entry(key: &[u8], value: &[u8]) -> StResult<C, C::Entry> {
        let index = codec::key_index(key)
            .map_err(|e| storage_err(ErrorSubject::Logs, ErrorVerb::Read, &e))?;
        let read_err =
            |e: &Corruption| storage_err(ErrorSubject::LogIndex(index), ErrorVerb::Read, e);
        let entry: C::Entry = codec::decode("log entry", value).map_err(|e| read_err(&e))?;
        let found = entry.get_log_id().index;
        if found != index {
            return Err(read_err(&Corruption::IndexMismatch { key: index, found }));
        }
        Ok(entry)
    }

    /// The entries of `range` from the in-memory tail, if it holds all of them.
    fn recent_range<RB: RangeBounds<u64>>(&self, range: &RB) -> Option<Vec<C::Entry>> {
        let lo = match range.start_bound() {
            Bound::Included(&s) => s,
            Bound::Excluded(&s) => s.checked_add(1)?,
            Bound::Unbounded => return None,
        };
        let hi = match range.end_bound() {
            Bound::Included(&e) => Some(e.checked_add(1)?),
            Bound::Excluded(&e) => Some(e),
            Bound::Unbounded => None,
        };
        self.recent.lock().get(lo, hi)
    }

    /// The log id of the last stored entry, if any.
    fn last_log_id(&self) -> StResult<C, Option<LogId<C::NodeId>>> {
        let last = self
            .logs
            .last()
            .map_err(|e| storage_err(ErrorSubject::Logs, ErrorVerb::Read, &e))?;
        match last {
            None => Ok(None),
            Some((key, value)) => Ok(Some(Self::decode_entry(&key, &value)?.get_log_id().clone())),
        }
    }
}

/// Whether a range of indexes holds no index at all (sled is not asked about such ranges).
fn is_empty_range(start: Bound<u64>, end: Bound<u64>) -> bool {
    let lo = match start {
        Bound::Included(s) => s,
        Bound::Excluded(s) => match s.checked_add(1) {
            Some(s) => s,
            None => return true,
        },
        Bound::Unbounded => 0,
    };
    match end {
        Bound::Included(e) => lo > e,
        Bound::Excluded(e) => lo >= e,
        Bound::Unbounded => false,
    }
}

fn key_bound(b: Bound<&u64>) -> Bound<[u8; 8]> {
    match b {
        Bound::Included(i) => Bound::Included(codec::index_key(*i)),
        Bound::Excluded(i) => Bound::Excluded(codec::index_key(*i)),
        Bound::Unbounded => Bound::Unbounded,
    }
}

impl<C> RaftLogReader<C> for SledLogReader<C>
where
    C: RaftTypeConfig,
    C::Entry: Serialize + DeserializeOwned + Clone,
{
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> StResult<C, Vec<C::Entry>> {
        let floor = self.floor.load(Ordering::Acquire);
        let start = match range.start_bound().cloned() {
            Bound::Included(s) if s >= floor => Bound::Included(s),
            Bound::Excluded(s) if s >= floor => Bound::Excluded(s),
            _ => Bound::Included(floor),
        };
        let end = range.end_bound().cloned();
        if is_empty_range(start, end) {
            return Ok(Vec::new());
        }
        let range = (start, end);
        if let Some(entries) = self.recent_range(&range) {
            return Ok(entries);
        }
        let keys = (key_bound(range.start_bound()), key_bound(range.end_bound()));
        let mut entries = Vec::new();
        for item in self.logs.range(keys) {
            let (key, value) =
                item.map_err(|e| storage_err(ErrorSubject::Logs, ErrorVerb::Read, &e))?;
            entries.push(Self::decode_entry(&key, &value)?);
        }
        Ok(entries)
    }
}

impl<C> RaftLogReader<C> for SledLogStore<C>
where
    C: RaftTypeConfig,
    C::Entry: Serialize + DeserializeOwned + Clone,
{
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> StResult<C, Vec<C::Entry>> {
        self.reader.try_get_log_entries(range).await
    }
}

impl<C> RaftLogStorage<C> for SledLogStore<C>
where
    C: RaftTypeConfig,
    C::Entry: Serialize + DeserializeOwned + Clone,
{
    type LogReader = SledLogReader<C>;

    async fn get_log_state(&mut self) -> StResult<C, LogState<C>> {
        let last_purged_log_id: Option<LogId<C::NodeId>> = self.get_meta(
            codec::KEY_LAST_PURGED,
            "last purged log id",
            ErrorSubject::Store,
        )?;
        // The larger of the two: after a crash between a purge's two flushes, entries at or
        // below the purge point may linger, and they must not hide the purge point.
        let last_log_id = std::cmp::max(self.reader.last_log_id()?, last_purged_log_id.clone());
        Ok(LogState {
            last_purged_log_id,
            last_log_id,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.reader.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<C::NodeId>) -> StResult<C, ()> {
        self.put_meta(codec::KEY_VOTE, vote, ErrorSubject::Vote)?;
        // openraft requires the vote on disk before this returns: a node that forgets its
        // vote after a crash could vote twice in one term.
        self.flush(ErrorSubject::Vote, ErrorVerb::Write).await
    }

    async fn read_vote(&mut self) -> StResult<C, Option<Vote<C::NodeId>>> {
        self.get_meta(codec::KEY_VOTE, "vote", ErrorSubject::Vote)
    }

    async fn save_committed(&mut self, committed: Option<LogId<C::NodeId>>) -> StResult<C, ()> {
        // No flush of its own: the committed id is only a hint that lets a restart re-apply
        // sooner, losing it is safe, and it becomes durable with the next flush. sled recovers
        // a prefix of its writes, so it can never survive without the entries it points to.
        self.put_meta(codec::KEY_COMMITTED, &committed, ErrorSubject::Store)
    }

    async fn read_committed(&mut self) -> StResult<C, Option<LogId<C::NodeId>>> {
        let stored: Option<Option<LogId<C::NodeId>>> = self.get_meta(
            codec::KEY_COMMITTED,
            "committed log id",
            ErrorSubject::Store,
        )?;
        let committed = stored.flatten();
        // Defence in depth: never point past the log we actually have (it is only a hint, and
        // openraft would try to apply entries that are not there).
        let last = self.get_log_state().await?.last_log_id;
        if committed.as_ref().map(|c| c.index) > last.as_ref().map(|l| l.index) {
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
        // One atomic batch: a crash keeps all of it or none of it, never a hole.
        let mut batch = sled::Batch::default();
        let mut run = Vec::new();
        for entry in entries {
            let log_id = entry.get_log_id().clone();
            let bytes = codec::encode(&entry).map_err(|e| {
                storage_err(ErrorSubject::Log(log_id.clone()), ErrorVerb::Write, &e)
            })?;
            run.push((entry, bytes.len()));
            batch.insert(&codec::index_key(log_id.index), bytes);
        }
        self.storage
            .logs
            .apply_batch(batch)
            .map_err(|e| storage_err(ErrorSubject::Logs, ErrorVerb::Write, &e))?;
        // In sled first, then in the tail: a reader that misses the tail finds it there.
        if let Some((first, _)) = run.first() {
            let first = first.get_log_id().index;
            self.reader.recent.lock().append(first, run);
        }
        // Readable now; acknowledged to openraft only once the flush has returned Ok.
        self.storage
            .flusher
            .submit(Box::new(move |res| callback.log_io_completed(res)));
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId<C::NodeId>) -> StResult<C, ()> {
        tracing::debug!(%log_id, "truncate log from (inclusive)");
        // Out of the tail before sled: no reader may see the removed entries again.
        self.reader.recent.lock().truncate_from(log_id.index);
        self.remove_range((
            Bound::Included(codec::index_key(log_id.index)),
            Bound::Unbounded,
        ))?;
        self.flush(ErrorSubject::Logs, ErrorVerb::Delete).await
    }

    async fn purge(&mut self, log_id: LogId<C::NodeId>) -> StResult<C, ()> {
        tracing::debug!(%log_id, "purge log up to (inclusive)");
        self.reader.recent.lock().purge_through(log_id.index);
        self.reader
            .floor
            .fetch_max(log_id.index.saturating_add(1), Ordering::AcqRel);
        // The purge point goes to disk before any entry leaves: a crash in between leaves
        // stale entries below it (ignored), never a log that starts after a gap.
        self.put_meta(codec::KEY_LAST_PURGED, &log_id, ErrorSubject::Store)?;
        self.flush(ErrorSubject::Store, ErrorVerb::Write).await?;
        // Not awaited (see the module docs); no flush of its own: whether the removal is
        // durable does not matter, the next append's flush carries it. One at a time, each
        // covering everything below its point.
        let logs = self.storage.logs.clone();
        let release = self.storage.release.clone();
        let serial = self.purging.clone();
        let upto = codec::index_key(log_id.index);
        tokio::task::spawn_blocking(move || {
            let one_at_a_time = serial.lock();
            if let Err(e) = remove_range(&logs, (Bound::Unbounded, Bound::Included(upto))) {
                tracing::warn!(error = %e, "removing purged log entries failed; the next purge removes them");
            }
            drop(one_at_a_time);
            // The sled handle before the release signal (see `ReleaseSignal`).
            drop(logs);
            drop(release);
        });
        Ok(())
    }
}
