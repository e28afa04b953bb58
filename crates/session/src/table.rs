//! The replicated registry of live sessions, kept by the state machine and saved in snapshots.
//!
//! Every node applies the same create/claim/close commands in log order, so every node's table
//! is the same (S9.1). Only what must agree across nodes lives here: which sessions exist, their
//! negotiated timeouts, and which connection currently owns each (so a write from a session's
//! older connection, on any node, is refused with SessionMoved). Deadlines are the leader's
//! business ([`crate::ExpiryTracker`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::id::SessionId;

/// Why a command could not be applied to the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    /// Ids come from unique log indexes, so this means a replayed or corrupt command.
    #[error("session {0} already exists")]
    AlreadyExists(SessionId),
}

/// The connection that currently serves a session: the node it is on and a token that node
/// never reuses (not even across its restarts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Owner {
    /// The node holding the connection.
    pub node: u64,
    /// The node's token for that connection.
    pub token: u64,
}

/// What the ensemble agrees on about one session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// The negotiated timeout (ms), needed by any node that becomes leader.
    pub timeout_ms: u32,
    /// The connection serving it (set at creation, moved by each resume).
    pub owner: Owner,
}

/// Live sessions by id; a BTreeMap so iteration and snapshots are identical on every node.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionTable {
    sessions: BTreeMap<SessionId, SessionInfo>,
}

impl SessionTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies a create-session command; an existing id is an error and leaves it unchanged.
    pub fn create(
        &mut self,
        id: SessionId,
        timeout_ms: u32,
        owner: Owner,
    ) -> Result<(), TableError> {
        match self.sessions.entry(id) {
            std::collections::btree_map::Entry::Occupied(_) => Err(TableError::AlreadyExists(id)),
            std::collections::btree_map::Entry::Vacant(v) => {
                v.insert(SessionInfo { timeout_ms, owner });
                Ok(())
            }
        }
    }

    /// Applies a resume: `owner` serves the session from now on. False if it is not live.
    pub fn claim(&mut self, id: SessionId, owner: Owner) -> bool {
        match self.sessions.get_mut(&id) {
            Some(info) => {
                info.owner = owner;
                true
            }
            None => false,
        }
    }

    /// The connection currently serving `id`, if it is live.
    pub fn owner(&self, id: SessionId) -> Option<Owner> {
        self.sessions.get(&id).map(|s| s.owner)
    }

    /// Applies a close or expiry; returns what was removed, `None` if the session was already
    /// gone (a close racing an expiry is normal, not an error).
    pub fn close(&mut self, id: SessionId) -> Option<SessionInfo> {
        self.sessions.remove(&id)
    }

    /// Whether `id` is a live session (checked on every reconnect, S3.3).
    pub fn contains(&self, id: SessionId) -> bool {
        self.sessions.contains_key(&id)
    }

    /// The session's negotiated timeout (ms), if it is live.
    pub fn get(&self, id: SessionId) -> Option<u32> {
        self.sessions.get(&id).map(|s| s.timeout_ms)
    }

    /// Live sessions as (id, timeout ms) in id order, e.g. for a new leader to seed its tracker.
    pub fn iter(&self) -> impl Iterator<Item = (SessionId, u32)> + '_ {
        self.sessions.iter().map(|(&id, s)| (id, s.timeout_ms))
    }

    /// Number of live sessions.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Whether there are no live sessions.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(raw: i64) -> SessionId {
        SessionId::from_raw(raw).unwrap()
    }

    const O: Owner = Owner { node: 1, token: 7 };

    #[test]
    fn create_close_lookup() {
        // S9.1: create/close applied from the log; S3.3: existence checked on reconnect.
        let mut t = SessionTable::new();
        assert!(t.is_empty());
        t.create(id(3), 4000, O).unwrap();
        t.create(id(1), 10_000, O).unwrap();
        assert_eq!(
            t.create(id(3), 5000, O),
            Err(TableError::AlreadyExists(id(3)))
        );
        assert_eq!(t.get(id(3)), Some(4000), "failed create changed nothing");
        assert!(t.contains(id(1)));
        assert_eq!(t.len(), 2);
        assert_eq!(
            t.iter().collect::<Vec<_>>(),
            vec![(id(1), 10_000), (id(3), 4000)]
        );
        assert_eq!(
            t.close(id(1)),
            Some(SessionInfo {
                timeout_ms: 10_000,
                owner: O
            })
        );
        assert_eq!(t.close(id(1)), None, "close after expiry is a no-op");
        assert!(!t.contains(id(1)));
        assert_eq!(t.get(id(1)), None);
    }

    #[test]
    fn claim_moves_the_owner_of_live_sessions_only() {
        // S3.3 / SessionMoved: a resume moves the session to the new connection.
        let mut t = SessionTable::new();
        t.create(id(4), 4000, O).unwrap();
        let moved = Owner { node: 2, token: 9 };
        assert!(t.claim(id(4), moved));
        assert_eq!(t.owner(id(4)), Some(moved));
        assert_eq!(t.get(id(4)), Some(4000), "the timeout stays");
        assert!(!t.claim(id(5), moved), "no such session");
        assert_eq!(t.owner(id(5)), None);
    }

    #[test]
    fn snapshot_round_trip() {
        // S9.1: the table goes into snapshots and comes back identical.
        let mut t = SessionTable::new();
        t.create(id(5), 4000, O).unwrap();
        t.create(id(-2), 40_000, O).unwrap();
        let json = serde_json::to_string(&t).unwrap();
        let back: SessionTable = serde_json::from_str(&json).unwrap();
        assert_eq!(back, t);
        // Ids are keyed as plain numbers.
        assert!(json.contains("\"5\""), "{json}");
    }
}
