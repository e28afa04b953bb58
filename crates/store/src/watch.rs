//! The node-local watch registry (never replicated), with ZooKeeper 3.8.0's `WatchManager`
//! rules: a data table (getData/exists watches) and a child table (getChildren watches), each
//! holding one mode per (path, watcher); persistent watches (addWatch) go in both tables.
//!
//! Measured 3.8.0 quirk kept on purpose: the mode is per (table, path, watcher) and the last
//! registration wins, so a one-shot getData watch set on a path that already has a persistent
//! watch from the same connection turns the data side of it into a one-shot watch.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::hash::Hash;

use serde::{Deserialize, Serialize};
use zk_wire::{ErrorCode, EventType, KeeperState, WatcherEvent};

use crate::path;
use crate::tree::DataTree;
use crate::txn::Trigger;

/// How a watch fires (`WatcherMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum WatchMode {
    /// One-shot: removed when it fires.
    Standard,
    /// Stays; fires for its own path only.
    Persistent,
    /// Stays; fires for its path and every descendant, never NodeChildrenChanged.
    PersistentRecursive,
}

impl WatchMode {
    /// The addWatch request's mode (0 persistent, 1 persistent recursive).
    pub fn from_add_watch_mode(mode: i32) -> Option<Self> {
        match mode {
            0 => Some(WatchMode::Persistent),
            1 => Some(WatchMode::PersistentRecursive),
            _ => None,
        }
    }
}

/// Which watches a removeWatches/checkWatches request means (`WatcherType` of 3.8.0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum WatcherKind {
    /// Child table.
    Children,
    /// Data table.
    Data,
    /// Either.
    Any,
}

impl WatcherKind {
    /// From the wire (1, 2, 3); 3.8.0 answers other values with MarshallingError (measured).
    pub fn from_code(code: i32) -> Option<Self> {
        match code {
            1 => Some(WatcherKind::Children),
            2 => Some(WatcherKind::Data),
            3 => Some(WatcherKind::Any),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
struct Table<W> {
    by_path: HashMap<Box<str>, HashMap<W, WatchMode>>,
    by_watcher: HashMap<W, HashSet<Box<str>>>,
    /// Recursive registrations: while zero, triggers look at the exact path only.
    recursive: usize,
}

impl<W> Default for Table<W> {
    fn default() -> Self {
        Table {
            by_path: HashMap::new(),
            by_watcher: HashMap::new(),
            recursive: 0,
        }
    }
}

impl<W: Copy + Eq + Hash + Ord> Table<W> {
    fn add(&mut self, p: &str, w: W, mode: WatchMode) {
        let prev = match self.by_path.get_mut(p) {
            Some(ws) => ws.insert(w, mode),
            None => {
                let mut ws = HashMap::with_capacity(1);
                ws.insert(w, mode);
                self.by_path.insert(p.into(), ws);
                None
            }
        };
        if prev == Some(WatchMode::PersistentRecursive) {
            self.recursive -= 1;
        }
        if mode == WatchMode::PersistentRecursive {
            self.recursive += 1;
        }
        let paths = self.by_watcher.entry(w).or_default();
        if !paths.contains(p) {
            paths.insert(p.into());
        }
    }

    fn contains(&self, p: &str, w: W) -> bool {
        self.by_path.get(p).is_some_and(|ws| ws.contains_key(&w))
    }

    /// Drops the (path, watcher) entry from the per-path side only.
    fn drop_entry(&mut self, p: &str, w: W) -> bool {
        let Some(ws) = self.by_path.get_mut(p) else {
            return false;
        };
        let Some(mode) = ws.remove(&w) else {
            return false;
        };
        if mode == WatchMode::PersistentRecursive {
            self.recursive -= 1;
        }
        if ws.is_empty() {
            self.by_path.remove(p);
        }
        true
    }

    fn unlink(&mut self, p: &str, w: W) {
        if let Some(paths) = self.by_watcher.get_mut(&w) {
            paths.remove(p);
            if paths.is_empty() {
                self.by_watcher.remove(&w);
            }
        }
    }

    fn remove(&mut self, p: &str, w: W) -> bool {
        let removed = self.drop_entry(p, w);
        self.unlink(p, w);
        removed
    }

    fn remove_watcher(&mut self, w: W) {
        if let Some(paths) = self.by_watcher.remove(&w) {
            for p in paths {
                self.drop_entry(&p, w);
            }
        }
    }

    /// `WatchManager.triggerWatch`: the watchers to notify, one-shot ones removed.
    fn trigger(&mut self, p: &str, event: EventType) -> BTreeSet<W> {
        let mut out = BTreeSet::new();
        let mut local = p;
        loop {
            let at_parent = local.len() != p.len();
            let mut fired_once: Vec<W> = Vec::new();
            if let Some(ws) = self.by_path.get(local) {
                for (&w, &mode) in ws {
                    match mode {
                        // Recursive watches never see NodeChildrenChanged.
                        WatchMode::PersistentRecursive
                            if event != EventType::NodeChildrenChanged =>
                        {
                            out.insert(w);
                        }
                        WatchMode::PersistentRecursive => {}
                        _ if !at_parent => {
                            out.insert(w);
                            if mode == WatchMode::Standard {
                                fired_once.push(w);
                            }
                        }
                        _ => {}
                    }
                }
            }
            for w in fired_once {
                self.remove(local, w);
            }
            if self.recursive == 0 || local == path::ROOT || !local.starts_with('/') {
                break;
            }
            local = path::parent_of(local);
        }
        out
    }

    fn len(&self) -> usize {
        self.by_path.values().map(HashMap::len).sum()
    }
}

/// Watches of every connection of one node, keyed by a watcher id `W` (e.g. a connection id).
#[derive(Debug, Clone)]
pub struct WatchRegistry<W> {
    data: Table<W>,
    child: Table<W>,
}

impl<W> Default for WatchRegistry<W> {
    fn default() -> Self {
        WatchRegistry {
            data: Table::default(),
            child: Table::default(),
        }
    }
}

fn event(event_type: EventType, path: &str) -> WatcherEvent {
    WatcherEvent {
        event_type,
        state: KeeperState::SyncConnected,
        path: path.to_owned(),
    }
}

impl<W: Copy + Eq + Hash + Ord> WatchRegistry<W> {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// One-shot data watch: getData (on an existing node) or exists (existing or not).
    pub fn add_data_watch(&mut self, path: &str, w: W) {
        self.data.add(path, w, WatchMode::Standard);
    }

    /// One-shot child watch: getChildren on an existing node.
    pub fn add_child_watch(&mut self, path: &str, w: W) {
        self.child.add(path, w, WatchMode::Standard);
    }

    /// addWatch: a persistent or persistent-recursive watch, registered in both tables as 3.8.0
    /// does (checkWatches of either type then finds it).
    pub fn add_persistent_watch(&mut self, path: &str, w: W, recursive: bool) {
        let mode = if recursive {
            WatchMode::PersistentRecursive
        } else {
            WatchMode::Persistent
        };
        self.data.add(path, w, mode);
        self.child.add(path, w, mode);
    }

    /// checkWatches: Ok if `w` has a watch of that kind on `path`, NoWatcher otherwise.
    pub fn check_watches(&self, path: &str, kind: WatcherKind, w: W) -> Result<(), ErrorCode> {
        let found = match kind {
            WatcherKind::Children => self.child.contains(path, w),
            WatcherKind::Data => self.data.contains(path, w),
            WatcherKind::Any => self.child.contains(path, w) || self.data.contains(path, w),
        };
        if found {
            Ok(())
        } else {
            Err(ErrorCode::NoWatcher)
        }
    }

    /// removeWatches: removes `w`'s watches of that kind on `path` (whatever their mode);
    /// NoWatcher if there were none. The client makes the *WatchRemoved events itself.
    pub fn remove_watches(&mut self, path: &str, kind: WatcherKind, w: W) -> Result<(), ErrorCode> {
        let removed = match kind {
            WatcherKind::Children => self.child.remove(path, w),
            WatcherKind::Data => self.data.remove(path, w),
            WatcherKind::Any => {
                let c = self.child.remove(path, w);
                let d = self.data.remove(path, w);
                c || d
            }
        };
        if removed {
            Ok(())
        } else {
            Err(ErrorCode::NoWatcher)
        }
    }

    /// Drops every watch of a watcher (its connection is gone).
    pub fn remove_watcher(&mut self, w: W) {
        self.data.remove_watcher(w);
        self.child.remove_watcher(w);
    }

    /// Fires triggers in order; each watcher gets at most one event per trigger (NodeDeleted
    /// checks the data table, then the child table without repeating a watcher). Within a
    /// trigger, watchers come in `W` order.
    pub fn trigger(&mut self, triggers: &[Trigger]) -> Vec<(W, WatcherEvent)> {
        self.trigger_counting(triggers, |_, _| {})
    }

    /// [`WatchRegistry::trigger`], telling `fired` how many watchers each trigger fired
    /// (ZooKeeper's metrics count watchers per event): per table, as ZooKeeper's two watch
    /// managers each count theirs, so a NodeDeleted that fired watches in both is told twice
    /// (the child table's count includes watchers the data table already told).
    pub fn trigger_counting(
        &mut self,
        triggers: &[Trigger],
        mut fired: impl FnMut(EventType, usize),
    ) -> Vec<(W, WatcherEvent)> {
        let mut out = Vec::new();
        for t in triggers {
            let ws = match t.event {
                EventType::NodeCreated | EventType::NodeDataChanged => {
                    self.data.trigger(&t.path, t.event)
                }
                EventType::NodeChildrenChanged => self.child.trigger(&t.path, t.event),
                EventType::NodeDeleted => {
                    let mut ws = self.data.trigger(&t.path, t.event);
                    fired(t.event, ws.len());
                    // The child table's one-shot watches are consumed even for suppressed ones.
                    let child = self.child.trigger(&t.path, t.event);
                    fired(t.event, child.len());
                    ws.extend(child);
                    out.extend(ws.into_iter().map(|w| (w, event(t.event, &t.path))));
                    continue;
                }
                _ => BTreeSet::new(),
            };
            fired(t.event, ws.len());
            out.extend(ws.into_iter().map(|w| (w, event(t.event, &t.path))));
        }
        out
    }

    /// setWatches/setWatches2 after a reconnect (`DataTree.setWatches`): returns the events to
    /// send at once and registers the rest. Data watch: node gone → NodeDeleted, mzxid newer
    /// than `relative_zxid` → NodeDataChanged. Exist watch: node there → NodeCreated. Child
    /// watch: gone → NodeDeleted, pzxid newer → NodeChildrenChanged. Persistent ones are
    /// always registered.
    #[allow(clippy::too_many_arguments)]
    pub fn set_watches<S: AsRef<str>>(
        &mut self,
        tree: &DataTree,
        relative_zxid: i64,
        data: &[S],
        exist: &[S],
        child: &[S],
        persistent: &[S],
        persistent_recursive: &[S],
        w: W,
    ) -> Vec<WatcherEvent> {
        let mut out = Vec::new();
        for p in data.iter().map(AsRef::as_ref) {
            match tree.node(p) {
                None => out.push(event(EventType::NodeDeleted, p)),
                Some(n) if n.stat.mzxid > relative_zxid => {
                    out.push(event(EventType::NodeDataChanged, p))
                }
                Some(_) => self.data.add(p, w, WatchMode::Standard),
            }
        }
        for p in exist.iter().map(AsRef::as_ref) {
            match tree.node(p) {
                Some(_) => out.push(event(EventType::NodeCreated, p)),
                None => self.data.add(p, w, WatchMode::Standard),
            }
        }
        for p in child.iter().map(AsRef::as_ref) {
            match tree.node(p) {
                None => out.push(event(EventType::NodeDeleted, p)),
                Some(n) if n.stat.pzxid > relative_zxid => {
                    out.push(event(EventType::NodeChildrenChanged, p))
                }
                Some(_) => self.child.add(p, w, WatchMode::Standard),
            }
        }
        for p in persistent.iter().map(AsRef::as_ref) {
            self.add_persistent_watch(p, w, false);
        }
        for p in persistent_recursive.iter().map(AsRef::as_ref) {
            self.add_persistent_watch(p, w, true);
        }
        out
    }

    /// Number of (table, path, watcher) registrations.
    pub fn len(&self) -> usize {
        self.data.len() + self.child.len()
    }

    /// Every watcher's data-table paths (getData/exists/addWatch), sorted; what ZooKeeper's
    /// `wchc`/`wchp`/`wchs` list (they leave child watches out).
    pub fn data_watches(&self) -> Vec<(W, Vec<String>)> {
        let mut out: Vec<(W, Vec<String>)> = self
            .data
            .by_watcher
            .iter()
            .map(|(w, paths)| {
                let mut paths: Vec<String> = paths.iter().map(|p| p.to_string()).collect();
                paths.sort_unstable();
                (*w, paths)
            })
            .collect();
        out.sort_unstable_by_key(|e| e.0);
        out
    }

    /// True when no watch is registered.
    pub fn is_empty(&self) -> bool {
        self.data.by_path.is_empty() && self.child.by_path.is_empty()
    }
}
