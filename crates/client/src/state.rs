//! The handle's states (S1): CONNECTING → CONNECTED ↔ CONNECTING → CLOSED, and the events the
//! default watcher receives (S7).

use std::fmt;

pub use zk_wire::{EventType, KeeperState};

use crate::error::Error;

/// Why a handle is CLOSED; CLOSED is final (S1.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CloseReason {
    /// The application closed it (or dropped every handle).
    Closed,
    /// The ensemble expired the session, or refused its id/password (S3.3, S6.4).
    SessionExpired,
    /// Authentication failed (R8).
    AuthFailed,
}

impl CloseReason {
    /// The error every call on a handle closed for this reason fails with (S1.4, S8.2).
    pub fn error(self) -> Error {
        match self {
            CloseReason::Closed => Error::Closed,
            CloseReason::SessionExpired => Error::SessionExpired,
            CloseReason::AuthFailed => Error::AuthFailed,
        }
    }

    /// The connection state the default watcher is told.
    pub fn keeper_state(self) -> KeeperState {
        match self {
            CloseReason::Closed => KeeperState::Closed,
            CloseReason::SessionExpired => KeeperState::Expired,
            CloseReason::AuthFailed => KeeperState::AuthFailed,
        }
    }
}

/// The state of a handle (S1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Looking for a server (at start and after a disconnect).
    Connecting,
    /// A server accepted the handshake; calls are sent.
    Connected,
    /// Final: every call fails at once with the reason's error.
    Closed(CloseReason),
}

impl State {
    /// True in CONNECTED.
    pub fn is_connected(self) -> bool {
        self == State::Connected
    }

    /// True in CLOSED.
    pub fn is_closed(self) -> bool {
        matches!(self, State::Closed(_))
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            State::Connecting => f.write_str("CONNECTING"),
            State::Connected => f.write_str("CONNECTED"),
            State::Closed(r) => write!(f, "CLOSED ({r:?})"),
        }
    }
}

/// An event for a watcher: a connection-state change (`event_type` None, no path) or a node
/// event (path in the client's namespace, chroot stripped).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WatchedEvent {
    /// What happened (`None` for state changes).
    pub event_type: EventType,
    /// The connection state.
    pub state: KeeperState,
    /// The node, for node events.
    pub path: Option<String>,
}

impl WatchedEvent {
    /// A connection-state event.
    pub fn state(state: KeeperState) -> WatchedEvent {
        WatchedEvent {
            event_type: EventType::None,
            state,
            path: None,
        }
    }

    /// A node event.
    pub fn node(event_type: EventType, path: impl Into<String>) -> WatchedEvent {
        WatchedEvent {
            event_type,
            state: KeeperState::SyncConnected,
            path: Some(path.into()),
        }
    }
}

/// The session as the server granted it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionInfo {
    /// The 64-bit session id (0 before the first handshake).
    pub id: i64,
    /// The 16-byte password.
    pub password: Vec<u8>,
    /// The negotiated timeout (S4.1), zero before the first handshake.
    pub timeout: std::time::Duration,
}
