//! How openraft's types go into `raft-log`'s records: the binding of its `Types` trait for a
//! Raft type config, and the byte encoding (`codeq`) of log ids, votes and entries.
//!
//! Every value is postcard-encoded behind a big-endian u32 length (codeq's `Vec<u8>` codec);
//! `raft-log` frames each record and puts a crc32 after it, so a value that does not decode
//! here is either a bug or a record whose checksum matched by chance.

use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;

use openraft::LogId;
use openraft::RaftLogId;
use openraft::RaftTypeConfig;
use openraft::Vote;
use raft_log::codeq::Decode;
use raft_log::codeq::Encode;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The `raft-log` types of the Raft type config `C`.
pub(crate) struct WalTypes<C>(PhantomData<fn() -> C>);

impl<C> fmt::Debug for WalTypes<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WalTypes")
    }
}
impl<C> Default for WalTypes<C> {
    fn default() -> Self {
        Self(PhantomData)
    }
}
impl<C> Clone for WalTypes<C> {
    fn clone(&self) -> Self {
        Self(PhantomData)
    }
}
impl<C> PartialEq for WalTypes<C> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl<C> Eq for WalTypes<C> {}

/// What a log entry type must offer to be stored in the log (any serde type will do).
pub trait StoredEntry:
    Serialize + DeserializeOwned + Clone + fmt::Debug + Send + Sync + 'static
{
}
impl<E: Serialize + DeserializeOwned + Clone + fmt::Debug + Send + Sync + 'static> StoredEntry
    for E
{
}

impl<C> raft_log::Types for WalTypes<C>
where
    C: RaftTypeConfig,
    C::Entry: StoredEntry,
{
    type LogId = WalLogId<C>;
    type LogPayload = WalEntry<C>;
    type Vote = WalVote<C>;
    // Every flush waits on a channel: group commit is ours (`flusher`), not raft-log's.
    type Callback = std::sync::mpsc::SyncSender<io::Result<()>>;
    type UserData = ();

    fn log_index(log_id: &Self::LogId) -> u64 {
        log_id.0.index
    }

    fn payload_size(payload: &Self::LogPayload) -> u64 {
        payload.size()
    }
}

/// openraft's log id, as `raft-log` stores and compares it.
pub(crate) struct WalLogId<C: RaftTypeConfig>(pub(crate) LogId<C::NodeId>);

/// openraft's vote, as `raft-log` stores and compares it.
pub(crate) struct WalVote<C: RaftTypeConfig>(pub(crate) Vote<C::NodeId>);

/// One whole openraft entry (its log id included) and its encoded size.
///
/// The size is what bounds `raft-log`'s payload cache in bytes. It is known only once the
/// entry has been encoded (when it is written) or read back, so it is recorded then instead
/// of encoding every entry a second time to measure it.
pub(crate) struct WalEntry<C: RaftTypeConfig> {
    pub(crate) entry: C::Entry,
    size: AtomicU64,
}

impl<C: RaftTypeConfig> WalEntry<C> {
    pub(crate) fn new(entry: C::Entry) -> Self {
        Self {
            entry,
            size: AtomicU64::new(0),
        }
    }

    /// Its encoded size, once it was encoded or decoded (0 before).
    pub(crate) fn size(&self) -> u64 {
        self.size.load(Ordering::Relaxed)
    }
}

impl<C> Clone for WalEntry<C>
where
    C: RaftTypeConfig,
    C::Entry: StoredEntry,
{
    fn clone(&self) -> Self {
        Self {
            entry: self.entry.clone(),
            size: AtomicU64::new(self.size()),
        }
    }
}
impl<C: RaftTypeConfig> fmt::Debug for WalEntry<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("WalEntry")
            .field(&self.entry.get_log_id())
            .finish()
    }
}

impl<C: RaftTypeConfig> Clone for WalLogId<C> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}
impl<C: RaftTypeConfig> fmt::Debug for WalLogId<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
impl<C: RaftTypeConfig> PartialEq for WalLogId<C> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}
impl<C: RaftTypeConfig> Eq for WalLogId<C> {}
impl<C: RaftTypeConfig> PartialOrd for WalLogId<C> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<C: RaftTypeConfig> Ord for WalLogId<C> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.cmp(&other.0)
    }
}

impl<C: RaftTypeConfig> Clone for WalVote<C> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}
impl<C: RaftTypeConfig> fmt::Debug for WalVote<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
impl<C: RaftTypeConfig> PartialEq for WalVote<C> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}
impl<C: RaftTypeConfig> Eq for WalVote<C> {}
impl<C: RaftTypeConfig> PartialOrd for WalVote<C> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        self.0.partial_cmp(&other.0)
    }
}

/// Writes `value` postcard-encoded behind its length; returns the bytes written.
fn encode_value<T: Serialize, W: io::Write>(value: &T, w: W) -> io::Result<usize> {
    let bytes = postcard::to_stdvec(value).map_err(io::Error::other)?;
    bytes.encode(w)
}

/// Reads a value written by [`encode_value`]; returns it and its encoded length.
fn decode_value<T: DeserializeOwned, R: io::Read>(what: &str, r: R) -> io::Result<(T, usize)> {
    let bytes = Vec::<u8>::decode(r)?;
    let value = postcard::from_bytes(&bytes).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("undecodable {what}: {e}"),
        )
    })?;
    Ok((value, bytes.len()))
}

impl<C: RaftTypeConfig> Encode for WalLogId<C> {
    fn encode<W: io::Write>(&self, w: W) -> io::Result<usize> {
        encode_value(&self.0, w)
    }
}
impl<C: RaftTypeConfig> Decode for WalLogId<C> {
    fn decode<R: io::Read>(r: R) -> io::Result<Self> {
        decode_value("log id", r).map(|(v, _)| Self(v))
    }
}

impl<C: RaftTypeConfig> Encode for WalVote<C> {
    fn encode<W: io::Write>(&self, w: W) -> io::Result<usize> {
        encode_value(&self.0, w)
    }
}
impl<C: RaftTypeConfig> Decode for WalVote<C> {
    fn decode<R: io::Read>(r: R) -> io::Result<Self> {
        decode_value("vote", r).map(|(v, _)| Self(v))
    }
}

impl<C> Encode for WalEntry<C>
where
    C: RaftTypeConfig,
    C::Entry: StoredEntry,
{
    fn encode<W: io::Write>(&self, w: W) -> io::Result<usize> {
        let n = encode_value(&self.entry, w)?;
        self.size.store(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}
impl<C> Decode for WalEntry<C>
where
    C: RaftTypeConfig,
    C::Entry: StoredEntry,
{
    fn decode<R: io::Read>(r: R) -> io::Result<Self> {
        let (entry, len) = decode_value("log entry", r)?;
        Ok(Self {
            entry,
            size: AtomicU64::new(len as u64 + 4),
        })
    }
}
