//! Watch management: SetWatches(101)/SetWatches2(105) on reconnect, addWatch(106),
//! checkWatches(17), removeWatches(18), and their mode/type enumerations.

use crate::field::record;

/// The kind of watch a persistent `addWatch` leaves (`ZooDefs.AddWatchModes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum AddWatchMode {
    /// Data and child events on the node; survives firing.
    Persistent,
    /// Events on the node and its whole subtree; survives firing.
    PersistentRecursive,
}

impl AddWatchMode {
    /// The wire integer.
    pub const fn code(self) -> i32 {
        match self {
            AddWatchMode::Persistent => 0,
            AddWatchMode::PersistentRecursive => 1,
        }
    }

    /// The mode for a wire integer.
    pub const fn from_code(code: i32) -> Option<Self> {
        match code {
            0 => Some(AddWatchMode::Persistent),
            1 => Some(AddWatchMode::PersistentRecursive),
            _ => None,
        }
    }
}

/// Which watches checkWatches/removeWatches address (`Watcher.WatcherType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum WatcherType {
    /// Child watches.
    Children,
    /// Data (and exists) watches.
    Data,
    /// All of them.
    Any,
    /// Persistent watches; ZooKeeper 3.9+ only (3.8 knows 1..=3), accepted for newer clients.
    Persistent,
    /// Persistent recursive watches; ZooKeeper 3.9+ only.
    PersistentRecursive,
}

impl WatcherType {
    /// The wire integer.
    pub const fn code(self) -> i32 {
        match self {
            WatcherType::Children => 1,
            WatcherType::Data => 2,
            WatcherType::Any => 3,
            WatcherType::Persistent => 4,
            WatcherType::PersistentRecursive => 5,
        }
    }

    /// The type for a wire integer.
    pub const fn from_code(code: i32) -> Option<Self> {
        match code {
            1 => Some(WatcherType::Children),
            2 => Some(WatcherType::Data),
            3 => Some(WatcherType::Any),
            4 => Some(WatcherType::Persistent),
            5 => Some(WatcherType::PersistentRecursive),
            _ => None,
        }
    }
}

record! {
    /// setWatches(101), xid -8: re-registers a reconnecting client's watches; the server fires
    /// those whose node changed after `relative_zxid`. The reply has no body.
    pub struct SetWatches {
        /// The last zxid the client saw.
        pub relative_zxid: i64 => long,
        /// getData watches.
        pub data_watches: Vec<String> => strings,
        /// exists watches on nodes that did not exist.
        pub exist_watches: Vec<String> => strings,
        /// getChildren watches.
        pub child_watches: Vec<String> => strings,
    }
}

record! {
    /// setWatches2(105), xid -8: SetWatches plus the persistent watches (3.6+ clients that
    /// hold any). The reply has no body.
    pub struct SetWatches2 {
        /// The last zxid the client saw.
        pub relative_zxid: i64 => long,
        /// getData watches.
        pub data_watches: Vec<String> => strings,
        /// exists watches.
        pub exist_watches: Vec<String> => strings,
        /// getChildren watches.
        pub child_watches: Vec<String> => strings,
        /// addWatch PERSISTENT watches.
        pub persistent_watches: Vec<String> => strings,
        /// addWatch PERSISTENT_RECURSIVE watches.
        pub persistent_recursive_watches: Vec<String> => strings,
    }
}

record! {
    /// addWatch(106); ZooKeeper replies with `ErrorResponse { err: 0 }`.
    pub struct AddWatchRequest {
        /// The node (it need not exist).
        pub path: String => ustring,
        /// An [`AddWatchMode`] as an integer, kept raw for the server to judge.
        pub mode: i32 => int,
    }
}

impl AddWatchRequest {
    /// The mode, if the integer names one.
    pub fn watch_mode(&self) -> Option<AddWatchMode> {
        AddWatchMode::from_code(self.mode)
    }
}

record! {
    /// checkWatches(17): does the client hold such a watch (NoWatcher if not). No reply body.
    pub struct CheckWatchesRequest {
        /// The node.
        pub path: String => ustring,
        /// A [`WatcherType`] as an integer.
        pub watcher_type: i32 => int,
    }
}

impl CheckWatchesRequest {
    /// The watcher type, if the integer names one.
    pub fn kind(&self) -> Option<WatcherType> {
        WatcherType::from_code(self.watcher_type)
    }
}

record! {
    /// removeWatches(18): drop the client's watches of a type. No reply body.
    pub struct RemoveWatchesRequest {
        /// The node.
        pub path: String => ustring,
        /// A [`WatcherType`] as an integer.
        pub watcher_type: i32 => int,
    }
}

impl RemoveWatchesRequest {
    /// The watcher type, if the integer names one.
    pub fn kind(&self) -> Option<WatcherType> {
        WatcherType::from_code(self.watcher_type)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `ZooDefs.AddWatchModes`: persistent = 0, persistentRecursive = 1.
    #[test]
    fn add_watch_modes_match_zookeeper() {
        assert_eq!(AddWatchMode::Persistent.code(), 0);
        assert_eq!(AddWatchMode::PersistentRecursive.code(), 1);
        assert_eq!(AddWatchMode::from_code(2), None);
    }

    /// `Watcher.WatcherType`: Children 1, Data 2, Any 3 (3.8); Persistent 4, PersistentRecursive 5 (3.9).
    #[test]
    fn watcher_types_match_zookeeper() {
        let all = [
            (WatcherType::Children, 1),
            (WatcherType::Data, 2),
            (WatcherType::Any, 3),
            (WatcherType::Persistent, 4),
            (WatcherType::PersistentRecursive, 5),
        ];
        for (t, c) in all {
            assert_eq!(t.code(), c);
            assert_eq!(WatcherType::from_code(c), Some(t));
        }
        assert_eq!(WatcherType::from_code(0), None);
    }
}
