//! The state machine's snapshot format: a small versioned, checksummed envelope around the
//! session table, the secret, the applied position and the store's own tree snapshot.
//!
//! Layout: `ZKSM` magic, format version (u32 BE), length of the small part (u64 BE), crc32 of
//! the small part (u32 BE), the small part (postcard: applied position, sessions, secret),
//! then the tree to the end (`DataTree::encode_snapshot`, with its own length and crc32).
//! The tree is not inside the postcard part: postcard writes and reads a byte vector one
//! element at a time, and the tree is tens of MB. The tree is encoded from a frozen copy
//! ([`freeze_state`]) after the state's lock is released, so apply does not wait for it. Every field is
//! written in a fixed order, so equal states give equal bytes on every replica.

use std::collections::BTreeSet;

use crate::types::LogId;
use crate::types::StoredMembership;
use serde::Deserialize;
use serde::Serialize;
use zk_session::ClusterSecret;
use zk_session::SessionTable;
use zk_store::DataTree;
use zk_store::FrozenTree;
use zk_store::SnapshotError;
use zk_store::TreeConfig;

use crate::state::State;

/// The first bytes of every state-machine snapshot.
pub const SNAPSHOT_MAGIC: [u8; 4] = *b"ZKSM";
/// The envelope version this build writes and reads (2: each session records its owning
/// connection; 3: the last applied zxid, now a command counter apart from the log index;
/// 4: the tree after the postcard part instead of inside it; 5: the sessions imported from
/// Apache ZooKeeper; 4 is still read, older snapshots are refused, not misread).
pub const SNAPSHOT_VERSION: u32 = 5;
/// The previous version, read as 5 without imported sessions.
const SNAPSHOT_VERSION_4: u32 = 4;
const HEADER_LEN: usize = 4 + 4 + 8 + 4;

/// Why state-machine snapshot bytes were rejected (or could not be written).
#[derive(Debug, thiserror::Error)]
pub enum StateSnapshotError {
    /// Shorter than the header, or than the small part the header declares.
    #[error("state snapshot truncated: {0} bytes, the header needs more")]
    Truncated(usize),
    /// Not our magic.
    #[error("not a state-machine snapshot (bad magic)")]
    BadMagic,
    /// Another envelope version.
    #[error("unsupported state snapshot version {0}")]
    UnsupportedVersion(u32),
    /// The small part's crc32 differs from the header's.
    #[error("state snapshot checksum mismatch: header {expected:#010x}, body {actual:#010x}")]
    Checksum {
        /// From the header.
        expected: u32,
        /// Computed.
        actual: u32,
    },
    /// The small part does not decode (or encode).
    #[error("state snapshot body: {0}")]
    Body(#[from] postcard::Error),
    /// The tree inside is rejected by zk-store.
    #[error("state snapshot tree: {0}")]
    Tree(#[from] SnapshotError),
}

/// The small part, borrowed for encoding.
#[derive(Serialize)]
struct BodyRef<'a> {
    last_applied: &'a Option<LogId>,
    last_zxid: i64,
    last_membership: &'a StoredMembership,
    sessions: &'a SessionTable,
    secret: &'a Option<ClusterSecret>,
    zookeeper_sessions: &'a BTreeSet<i64>,
}

/// The small part, owned for decoding (same field order as [`BodyRef`]).
#[derive(Deserialize)]
struct Body {
    last_applied: Option<LogId>,
    last_zxid: i64,
    last_membership: StoredMembership,
    sessions: SessionTable,
    secret: Option<ClusterSecret>,
    zookeeper_sessions: BTreeSet<i64>,
}

/// Version 4's small part: version 5's without the imported sessions.
#[derive(Deserialize)]
struct BodyV4 {
    last_applied: Option<LogId>,
    last_zxid: i64,
    last_membership: StoredMembership,
    sessions: SessionTable,
    secret: Option<ClusterSecret>,
}

impl From<BodyV4> for Body {
    fn from(b: BodyV4) -> Body {
        Body {
            last_applied: b.last_applied,
            last_zxid: b.last_zxid,
            last_membership: b.last_membership,
            sessions: b.sessions,
            secret: b.secret,
            zookeeper_sessions: BTreeSet::new(),
        }
    }
}

/// Encodes the whole state into snapshot bytes, in one buffer with no copy of the tree.
pub fn encode_state(state: &State) -> Result<Vec<u8>, StateSnapshotError> {
    Ok(freeze_state(state)?.encode())
}

/// The state as it is now, ready to encode without the state: the small part already
/// encoded, the tree frozen ([`DataTree::freeze`]: a copy of its node map, each node shared).
/// Only this needs the state's lock; [`FrozenState::encode`] runs after it is released.
pub fn freeze_state(state: &State) -> Result<FrozenState, StateSnapshotError> {
    let small = postcard::to_stdvec(&BodyRef {
        last_applied: &state.last_applied,
        last_zxid: state.last_zxid,
        last_membership: &state.last_membership,
        sessions: &state.sessions,
        secret: &state.secret,
        zookeeper_sessions: &state.zookeeper_sessions,
    })?;
    Ok(FrozenState {
        small,
        tree: state.tree.freeze(),
    })
}

/// A state frozen by [`freeze_state`].
pub struct FrozenState {
    small: Vec<u8>,
    tree: FrozenTree,
}

impl FrozenState {
    /// The snapshot bytes the state had at the freeze.
    pub fn encode(self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&SNAPSHOT_MAGIC);
        out.extend_from_slice(&SNAPSHOT_VERSION.to_be_bytes());
        out.extend_from_slice(&(self.small.len() as u64).to_be_bytes());
        out.extend_from_slice(&crc32fast::hash(&self.small).to_be_bytes());
        out.extend_from_slice(&self.small);
        self.tree.encode_snapshot_into(&mut out);
        out
    }
}

/// Decodes snapshot bytes; any damage is an error, never a panic.
pub fn decode_state(bytes: &[u8], config: TreeConfig) -> Result<State, StateSnapshotError> {
    let (header, rest) = bytes
        .split_at_checked(HEADER_LEN)
        .ok_or(StateSnapshotError::Truncated(bytes.len()))?;
    let (magic, h) = header.split_at(4);
    let (version, h) = h.split_at(4);
    let (len, crc) = h.split_at(8);
    if magic != SNAPSHOT_MAGIC {
        return Err(StateSnapshotError::BadMagic);
    }
    let version = u32::from_be_bytes(version.try_into().unwrap_or_default());
    if version != SNAPSHOT_VERSION && version != SNAPSHOT_VERSION_4 {
        return Err(StateSnapshotError::UnsupportedVersion(version));
    }
    let declared = u64::from_be_bytes(len.try_into().unwrap_or_default());
    let (small, tree) = usize::try_from(declared)
        .ok()
        .and_then(|n| rest.split_at_checked(n))
        .ok_or(StateSnapshotError::Truncated(bytes.len()))?;
    let expected = u32::from_be_bytes(crc.try_into().unwrap_or_default());
    let actual = crc32fast::hash(small);
    if expected != actual {
        return Err(StateSnapshotError::Checksum { expected, actual });
    }
    let body: Body = if version == SNAPSHOT_VERSION_4 {
        postcard::from_bytes::<BodyV4>(small)?.into()
    } else {
        postcard::from_bytes(small)?
    };
    let tree = DataTree::decode_snapshot(tree, config)?;
    Ok(State {
        tree,
        sessions: body.sessions,
        secret: body.secret,
        last_applied: body.last_applied,
        last_zxid: body.last_zxid,
        last_membership: body.last_membership,
        zookeeper_sessions: body.zookeeper_sessions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Version 4's small part, as the release before wrote it.
    #[derive(Serialize)]
    struct BodyV4Ref<'a> {
        last_applied: &'a Option<LogId>,
        last_zxid: i64,
        last_membership: &'a StoredMembership,
        sessions: &'a SessionTable,
        secret: &'a Option<ClusterSecret>,
    }

    #[test]
    fn version_5_round_trips_and_version_4_is_still_read() {
        let mut state = State::new(TreeConfig::default());
        state.last_zxid = 0x2_0000_0007;
        state.zookeeper_sessions.insert(0x0100_0a2b_3c4d_0000);
        let bytes = encode_state(&state).unwrap();
        let back = decode_state(&bytes, TreeConfig::default()).unwrap();
        assert_eq!(back.zookeeper_sessions, state.zookeeper_sessions);
        assert_eq!(back.last_zxid, state.last_zxid);

        let small = postcard::to_stdvec(&BodyV4Ref {
            last_applied: &state.last_applied,
            last_zxid: state.last_zxid,
            last_membership: &state.last_membership,
            sessions: &state.sessions,
            secret: &state.secret,
        })
        .unwrap();
        let mut v4 = Vec::new();
        v4.extend_from_slice(&SNAPSHOT_MAGIC);
        v4.extend_from_slice(&SNAPSHOT_VERSION_4.to_be_bytes());
        v4.extend_from_slice(&(small.len() as u64).to_be_bytes());
        v4.extend_from_slice(&crc32fast::hash(&small).to_be_bytes());
        v4.extend_from_slice(&small);
        state.tree.freeze().encode_snapshot_into(&mut v4);
        let back = decode_state(&v4, TreeConfig::default()).unwrap();
        assert!(back.zookeeper_sessions.is_empty());
        assert_eq!(back.last_zxid, state.last_zxid);
        assert_eq!(back.tree, state.tree);
    }
}
