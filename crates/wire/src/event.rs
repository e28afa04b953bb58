//! Watcher events (`Watcher.Event.EventType`, `Watcher.Event.KeeperState`, `WatcherEvent`).

use crate::codes::ErrorCode;
use crate::jute::{DecodeError, JuteWrite, Reader, Record};

/// What happened to a watched node (`Watcher.Event.EventType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum EventType {
    /// A connection-state change, not a node event.
    None,
    /// The watched node was created (exists watch).
    NodeCreated,
    /// The watched node was deleted.
    NodeDeleted,
    /// The watched node's data changed.
    NodeDataChanged,
    /// A child was created or deleted.
    NodeChildrenChanged,
    /// A data watch was removed by removeWatches.
    DataWatchRemoved,
    /// A child watch was removed by removeWatches.
    ChildWatchRemoved,
    /// A persistent watch was removed by removeWatches.
    PersistentWatchRemoved,
}

impl EventType {
    /// Every event type.
    pub const ALL: [EventType; 8] = [
        EventType::None,
        EventType::NodeCreated,
        EventType::NodeDeleted,
        EventType::NodeDataChanged,
        EventType::NodeChildrenChanged,
        EventType::DataWatchRemoved,
        EventType::ChildWatchRemoved,
        EventType::PersistentWatchRemoved,
    ];

    /// The wire integer.
    pub const fn code(self) -> i32 {
        match self {
            EventType::None => -1,
            EventType::NodeCreated => 1,
            EventType::NodeDeleted => 2,
            EventType::NodeDataChanged => 3,
            EventType::NodeChildrenChanged => 4,
            EventType::DataWatchRemoved => 5,
            EventType::ChildWatchRemoved => 6,
            EventType::PersistentWatchRemoved => 7,
        }
    }

    /// The event type for a wire integer.
    pub fn from_code(code: i32) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.code() == code)
    }
}

/// The client's connection state carried with an event (`Watcher.Event.KeeperState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum KeeperState {
    /// Deprecated in ZooKeeper, still decodable.
    Unknown,
    /// The client lost its connection.
    Disconnected,
    /// Deprecated in ZooKeeper, still decodable.
    NoSyncConnected,
    /// Connected to a server of the quorum.
    SyncConnected,
    /// Authentication failed.
    AuthFailed,
    /// Connected to a read-only server.
    ConnectedReadOnly,
    /// SASL authentication succeeded.
    SaslAuthenticated,
    /// The session expired.
    Expired,
    /// The client closed the session.
    Closed,
}

impl KeeperState {
    /// Every state.
    pub const ALL: [KeeperState; 9] = [
        KeeperState::Unknown,
        KeeperState::Disconnected,
        KeeperState::NoSyncConnected,
        KeeperState::SyncConnected,
        KeeperState::AuthFailed,
        KeeperState::ConnectedReadOnly,
        KeeperState::SaslAuthenticated,
        KeeperState::Expired,
        KeeperState::Closed,
    ];

    /// The wire integer.
    pub const fn code(self) -> i32 {
        match self {
            KeeperState::Unknown => -1,
            KeeperState::Disconnected => 0,
            KeeperState::NoSyncConnected => 1,
            KeeperState::SyncConnected => 3,
            KeeperState::AuthFailed => 4,
            KeeperState::ConnectedReadOnly => 5,
            KeeperState::SaslAuthenticated => 6,
            KeeperState::Expired => ErrorCode::SessionExpired.code(),
            KeeperState::Closed => 7,
        }
    }

    /// The state for a wire integer.
    pub fn from_code(code: i32) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.code() == code)
    }
}

/// A watch notification as sent with xid -1.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct WatcherEvent {
    /// What happened.
    pub event_type: EventType,
    /// The connection state at the time.
    pub state: KeeperState,
    /// The node's path (empty for state-only events).
    pub path: String,
}

impl Record for WatcherEvent {
    fn encode(&self, out: &mut Vec<u8>) {
        out.write_i32(self.event_type.code());
        out.write_i32(self.state.code());
        out.write_str(&self.path);
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let t = r.read_i32()?;
        let event_type = EventType::from_code(t).ok_or(DecodeError::InvalidValue {
            field: "event type",
            value: t.into(),
        })?;
        let s = r.read_i32()?;
        let state = KeeperState::from_code(s).ok_or(DecodeError::InvalidValue {
            field: "keeper state",
            value: s.into(),
        })?;
        // Java writes a null path as -1 for state events; read it as empty.
        let path = r.read_ustring()?.unwrap_or_default().to_owned();
        Ok(WatcherEvent {
            event_type,
            state,
            path,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Watcher.Event.EventType` and `Watcher.Event.KeeperState` in ZooKeeper 3.8.6.
    #[test]
    fn codes_match_zookeeper_3_8() {
        let events = [
            (EventType::None, -1),
            (EventType::NodeCreated, 1),
            (EventType::NodeDeleted, 2),
            (EventType::NodeDataChanged, 3),
            (EventType::NodeChildrenChanged, 4),
            (EventType::DataWatchRemoved, 5),
            (EventType::ChildWatchRemoved, 6),
            (EventType::PersistentWatchRemoved, 7),
        ];
        for (e, c) in events {
            assert_eq!(e.code(), c);
            assert_eq!(EventType::from_code(c), Some(e));
        }
        let states = [
            (KeeperState::Unknown, -1),
            (KeeperState::Disconnected, 0),
            (KeeperState::NoSyncConnected, 1),
            (KeeperState::SyncConnected, 3),
            (KeeperState::AuthFailed, 4),
            (KeeperState::ConnectedReadOnly, 5),
            (KeeperState::SaslAuthenticated, 6),
            (KeeperState::Expired, -112),
            (KeeperState::Closed, 7),
        ];
        for (s, c) in states {
            assert_eq!(s.code(), c);
            assert_eq!(KeeperState::from_code(c), Some(s));
        }
        assert_eq!(KeeperState::from_code(2), None);
    }

    /// A notification as ZooKeeper sends it for a data change.
    #[test]
    fn watcher_event_layout() {
        let ev = WatcherEvent {
            event_type: EventType::NodeDataChanged,
            state: KeeperState::SyncConnected,
            path: "/a".into(),
        };
        let bytes = ev.to_bytes();
        assert_eq!(bytes, [0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 2, b'/', b'a']);
        assert_eq!(WatcherEvent::from_bytes(&bytes), Ok(ev));
        assert!(matches!(
            WatcherEvent::from_bytes(&[0, 0, 0, 9, 0, 0, 0, 3, 0, 0, 0, 0]),
            Err(DecodeError::InvalidValue { .. })
        ));
    }
}
