//! The state machine's snapshot format: a small versioned, checksummed envelope around the
//! session table, the secret, the applied position and the store's own tree snapshot.
//!
//! Layout: `ZKSM` magic, format version (u32 BE), body length (u64 BE), crc32 of the body
//! (u32 BE), body. The body is postcard; the tree inside it is `DataTree::encode_snapshot`
//! (itself checksummed). Every field is written in a fixed order, so equal states give equal
//! bytes on every replica.

use openraft::BasicNode;
use openraft::LogId;
use openraft::StoredMembership;
use serde::Deserialize;
use serde::Serialize;
use zk_session::ClusterSecret;
use zk_session::SessionTable;
use zk_store::DataTree;
use zk_store::SnapshotError;
use zk_store::TreeConfig;

use crate::state_machine::State;
use crate::types::NodeId;

/// The first bytes of every state-machine snapshot.
pub const SNAPSHOT_MAGIC: [u8; 4] = *b"ZKSM";
/// The envelope version this build writes and reads (2: each session records its owning
/// connection; 3: the last applied zxid, now a command counter apart from the log index;
/// older snapshots are refused, not misread).
pub const SNAPSHOT_VERSION: u32 = 3;
const HEADER_LEN: usize = 4 + 4 + 8 + 4;

/// Why state-machine snapshot bytes were rejected (or could not be written).
#[derive(Debug, thiserror::Error)]
pub enum StateSnapshotError {
    /// Shorter than the header.
    #[error("state snapshot truncated: {0} bytes, header needs {HEADER_LEN}")]
    Truncated(usize),
    /// Not our magic.
    #[error("not a state-machine snapshot (bad magic)")]
    BadMagic,
    /// Another envelope version.
    #[error("unsupported state snapshot version {0}")]
    UnsupportedVersion(u32),
    /// The body is not as long as the header says.
    #[error("state snapshot body is {actual} bytes, header says {declared}")]
    LengthMismatch {
        /// From the header.
        declared: u64,
        /// Present.
        actual: usize,
    },
    /// The body's crc32 differs from the header's.
    #[error("state snapshot checksum mismatch: header {expected:#010x}, body {actual:#010x}")]
    Checksum {
        /// From the header.
        expected: u32,
        /// Computed.
        actual: u32,
    },
    /// The body does not decode (or encode).
    #[error("state snapshot body: {0}")]
    Body(#[from] postcard::Error),
    /// The tree inside is rejected by zk-store.
    #[error("state snapshot tree: {0}")]
    Tree(#[from] SnapshotError),
}

/// The body, borrowed for encoding.
#[derive(Serialize)]
struct BodyRef<'a> {
    last_applied: &'a Option<LogId<NodeId>>,
    last_zxid: i64,
    last_membership: &'a StoredMembership<NodeId, BasicNode>,
    sessions: &'a SessionTable,
    secret: &'a Option<ClusterSecret>,
    tree: Vec<u8>,
}

/// The body, owned for decoding (same field order as [`BodyRef`]).
#[derive(Deserialize)]
struct Body {
    last_applied: Option<LogId<NodeId>>,
    last_zxid: i64,
    last_membership: StoredMembership<NodeId, BasicNode>,
    sessions: SessionTable,
    secret: Option<ClusterSecret>,
    tree: Vec<u8>,
}

/// Encodes the whole state into snapshot bytes.
pub fn encode_state(state: &State) -> Result<Vec<u8>, StateSnapshotError> {
    let body = postcard::to_stdvec(&BodyRef {
        last_applied: &state.last_applied,
        last_zxid: state.last_zxid,
        last_membership: &state.last_membership,
        sessions: &state.sessions,
        secret: &state.secret,
        tree: state.tree.encode_snapshot(),
    })?;
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.extend_from_slice(&SNAPSHOT_MAGIC);
    out.extend_from_slice(&SNAPSHOT_VERSION.to_be_bytes());
    out.extend_from_slice(&(body.len() as u64).to_be_bytes());
    out.extend_from_slice(&crc32fast::hash(&body).to_be_bytes());
    out.extend_from_slice(&body);
    Ok(out)
}

/// Decodes snapshot bytes; any damage is an error, never a panic.
pub fn decode_state(bytes: &[u8], config: TreeConfig) -> Result<State, StateSnapshotError> {
    let (header, body) = bytes
        .split_at_checked(HEADER_LEN)
        .ok_or(StateSnapshotError::Truncated(bytes.len()))?;
    let (magic, rest) = header.split_at(4);
    let (version, rest) = rest.split_at(4);
    let (len, crc) = rest.split_at(8);
    if magic != SNAPSHOT_MAGIC {
        return Err(StateSnapshotError::BadMagic);
    }
    let version = u32::from_be_bytes(version.try_into().unwrap_or_default());
    if version != SNAPSHOT_VERSION {
        return Err(StateSnapshotError::UnsupportedVersion(version));
    }
    let declared = u64::from_be_bytes(len.try_into().unwrap_or_default());
    if declared != body.len() as u64 {
        return Err(StateSnapshotError::LengthMismatch {
            declared,
            actual: body.len(),
        });
    }
    let expected = u32::from_be_bytes(crc.try_into().unwrap_or_default());
    let actual = crc32fast::hash(body);
    if expected != actual {
        return Err(StateSnapshotError::Checksum { expected, actual });
    }
    let body: Body = postcard::from_bytes(body)?;
    let tree = DataTree::decode_snapshot(&body.tree, config)?;
    Ok(State {
        tree,
        sessions: body.sessions,
        secret: body.secret,
        last_applied: body.last_applied,
        last_zxid: body.last_zxid,
        last_membership: body.last_membership,
    })
}
