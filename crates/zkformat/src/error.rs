//! One error type for every damaged or unsupported input: what was wrong, in which file, at
//! which byte.

/// Why bytes were rejected, with the file and the offset where reading stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: at byte {offset}: {kind}")]
pub struct FormatError {
    /// The file, as the caller named it.
    pub file: String,
    /// The byte offset in that file.
    pub offset: u64,
    /// What was wrong.
    pub kind: ErrorKind,
}

/// What was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ErrorKind {
    /// The file ends inside a field.
    #[error("truncated: {needed} more bytes needed")]
    Truncated {
        /// Bytes missing.
        needed: u64,
    },
    /// Not the file kind expected.
    #[error("wrong magic {found:#010x}, expected {expected:#010x} ({name})")]
    BadMagic {
        /// The first int of the file.
        found: i32,
        /// The magic of the kind expected.
        expected: i32,
        /// That kind's name.
        name: &'static str,
    },
    /// A header version other than 2.
    #[error("unsupported file format version {0} (ZooKeeper writes 2)")]
    UnsupportedVersion(i32),
    /// An Adler32 checksum that does not match the bytes it covers.
    #[error("Adler32 checksum mismatch: stored {stored:#x}, computed {computed:#x}")]
    Checksum {
        /// As stored.
        stored: i64,
        /// Computed over the bytes.
        computed: i64,
    },
    /// A transaction type ZooKeeper 3.8 does not write into its log.
    #[error("unsupported transaction type {0}")]
    UnknownTxnType(i32),
    /// Anything else that is not what ZooKeeper writes.
    #[error("{0}")]
    Invalid(String),
}

impl ErrorKind {
    pub(crate) fn at(self, offset: usize) -> At {
        At {
            offset: offset as u64,
            kind: self,
        }
    }
}

/// An error before the file's name is known: offset and kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct At {
    pub(crate) offset: u64,
    pub(crate) kind: ErrorKind,
}

impl At {
    pub(crate) fn in_file(self, file: &str) -> FormatError {
        FormatError {
            file: file.to_owned(),
            offset: self.offset,
            kind: self.kind,
        }
    }

    /// Moves an offset inside a nested buffer to the enclosing file's.
    pub(crate) fn shifted(mut self, by: usize) -> At {
        self.offset = self.offset.saturating_add(by as u64);
        self
    }
}
