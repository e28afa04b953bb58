//! Errors that are not ZooKeeper result codes (those are `zk_wire::ErrorCode`).

use thiserror::Error;

/// Why snapshot bytes were rejected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SnapshotError {
    /// The bytes do not start with the snapshot magic.
    #[error("not a zk-store snapshot (bad magic)")]
    BadMagic,
    /// A format this build cannot read.
    #[error("unsupported snapshot format version {0}")]
    UnsupportedVersion(u32),
    /// The bytes end before the header or body does.
    #[error("snapshot truncated: needed {needed} more bytes at offset {offset}")]
    Truncated {
        /// Where the read started.
        offset: usize,
        /// Bytes missing.
        needed: usize,
    },
    /// The header's body length does not match the bytes present.
    #[error("snapshot body length {declared} does not match the {actual} bytes present")]
    LengthMismatch {
        /// From the header.
        declared: u64,
        /// Present after the header.
        actual: usize,
    },
    /// The body's crc32 is not the one in the header.
    #[error("snapshot checksum mismatch: header {expected:#010x}, body {actual:#010x}")]
    Checksum {
        /// From the header.
        expected: u32,
        /// Computed.
        actual: u32,
    },
    /// The body is well-framed but describes an impossible tree.
    #[error("invalid snapshot: {0}")]
    Invalid(String),
}
