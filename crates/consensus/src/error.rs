//! The crate's own errors, and the `io::Error`s openraft's storage traits carry.

use std::io;
use std::path::PathBuf;

use crate::cluster_meta::ClusterMeta;

/// Why the data directory could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The directory does not exist and could not be created, or is not a directory.
    #[error("raft data dir {path:?} is unusable: {source}")]
    Dir {
        /// The directory given to `open`.
        path: PathBuf,
        /// What the file system said.
        source: io::Error,
    },
    /// sled refused to open the database (held by another process, unreadable, ...).
    #[error("cannot open the raft database in {path:?}: {source}")]
    Sled {
        /// The directory given to `open`.
        path: PathBuf,
        /// sled's error.
        source: sled::Error,
    },
    /// The database was written by a format this build does not understand.
    #[error(
        "raft database in {path:?} has format version {found}; this build reads version \
         {supported} (Raft log in wal/, metadata in sled) and upgrades version 3 (Raft \
         log in sled) in place; start it with the release that wrote it, or move the \
         directory away and let the node rejoin the ensemble with an empty one"
    )]
    UnsupportedFormat {
        /// The directory given to `open`.
        path: PathBuf,
        /// The version recorded in the database.
        found: u32,
        /// The version this build writes and reads.
        supported: u32,
    },
    /// The store-meta record exists but cannot be decoded.
    #[error("raft database in {path:?} has a corrupt store-meta record: {reason}")]
    CorruptMeta {
        /// The directory given to `open`.
        path: PathBuf,
        /// What was wrong with it.
        reason: String,
    },
    /// The Raft log (`wal/`) could not be opened: unreadable, locked, or damaged in a
    /// way that is not a torn tail (a torn tail is cut off at open).
    #[error("cannot open the raft log in {path:?}: {source}")]
    Log {
        /// The log's directory.
        path: PathBuf,
        /// What went wrong.
        source: io::Error,
    },
    /// Moving a Raft log that format version 3 kept in sled into `wal/` failed; the sled
    /// log is untouched and the next start tries again.
    #[error("cannot upgrade the raft log in {path:?} from format 3 (sled) to 4 (wal): {reason}")]
    Upgrade {
        /// The data directory.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The background flusher thread could not be started.
    #[error("cannot start the raft storage flusher thread: {0}")]
    Flusher(io::Error),
}

/// Errors of the cluster-meta record (the peers a node was created with).
#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    /// sled failed to read, write or flush.
    #[error("raft database I/O error: {0}")]
    Sled(#[from] sled::Error),
    /// The stored record cannot be decoded.
    #[error("corrupt cluster-meta record: {0}")]
    Corrupt(String),
    /// The node was created with other peers than the ones it is started with now.
    #[error("this data dir belongs to node {} with peers {:?}; refusing to start as node {} with peers {:?}", stored.node_id, stored.peers, given.node_id, given.peers)]
    Mismatch {
        /// What the data dir records.
        stored: Box<ClusterMeta>,
        /// What the node was started with.
        given: Box<ClusterMeta>,
    },
}

/// Data on disk that does not decode to what was written: never a panic, always this.
#[derive(Debug, thiserror::Error)]
pub enum Corruption {
    /// A log key is not an 8-byte big-endian index.
    #[error("log key has {len} bytes, expected 8")]
    BadKey {
        /// Length of the key found.
        len: usize,
    },
    /// The value does not decode with postcard.
    #[error("undecodable {what}: {source}")]
    Decode {
        /// Which record.
        what: &'static str,
        /// postcard's error.
        source: postcard::Error,
    },
    /// An entry is stored under another index than its own log id's.
    #[error("entry stored under index {key} carries log index {found}")]
    IndexMismatch {
        /// Index of the key.
        key: u64,
        /// Index inside the entry.
        found: u64,
    },
    /// A record of the Raft log does not parse or fails its crc32.
    #[error("raft log record: {reason}")]
    Record {
        /// What is wrong with it.
        reason: String,
    },
    /// The snapshot file the record names is missing or not what the record says.
    #[error("snapshot file {name}: {reason}")]
    SnapshotFile {
        /// The file's name in the snapshot directory.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// The `io::Error` openraft's storage traits return: what was being done, and why it failed.
pub(crate) fn io_err(
    doing: std::fmt::Arguments<'_>,
    e: &(dyn std::error::Error + '_),
) -> io::Error {
    io::Error::other(format!("{doing}: {e}"))
}

/// Converts an error into the `io::Error` that openraft's flush callback carries.
pub(crate) fn to_io(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}
