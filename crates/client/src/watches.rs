//! The client's watch registry, like ZooKeeper's `ZKWatchManager`: which watchers wait on which
//! path, per kind. One-shot watches (data, exist, child) leave when they fire; persistent and
//! persistent-recursive ones stay until removed. Generic over the watcher so the state machine
//! stays free of channels.

use std::collections::BTreeMap;
use std::hash::Hash;

use zk_wire::{EventType, WatcherType};

/// The kinds of watch a client holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WatchKind {
    /// getData, or exists on a node that exists: fires on change or delete.
    Data,
    /// exists on a node that does not exist: fires on create.
    Exist,
    /// getChildren: fires on a child list change or delete.
    Child,
    /// addWatch PERSISTENT: data and child events of the node, until removed.
    Persistent,
    /// addWatch PERSISTENT_RECURSIVE: data events of the node and its subtree, until removed.
    PersistentRecursive,
}

/// Watchers per kind per client path (chroot already stripped).
#[derive(Debug, Clone)]
pub struct WatchRegistry<W> {
    data: BTreeMap<String, Vec<W>>,
    exist: BTreeMap<String, Vec<W>>,
    child: BTreeMap<String, Vec<W>>,
    persistent: BTreeMap<String, Vec<W>>,
    recursive: BTreeMap<String, Vec<W>>,
}

impl<W> Default for WatchRegistry<W> {
    fn default() -> Self {
        WatchRegistry {
            data: BTreeMap::new(),
            exist: BTreeMap::new(),
            child: BTreeMap::new(),
            persistent: BTreeMap::new(),
            recursive: BTreeMap::new(),
        }
    }
}

/// The paths of every watch, per kind, in the order SetWatches2 lists them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WatchLists {
    /// Data watches.
    pub data: Vec<String>,
    /// Exist watches.
    pub exist: Vec<String>,
    /// Child watches.
    pub child: Vec<String>,
    /// Persistent watches.
    pub persistent: Vec<String>,
    /// Persistent recursive watches.
    pub persistent_recursive: Vec<String>,
}

fn push_unique<W: PartialEq>(to: &mut Vec<W>, w: W) {
    if !to.contains(&w) {
        to.push(w);
    }
}

fn take_into<W: PartialEq>(from: Option<Vec<W>>, to: &mut Vec<W>) {
    for w in from.into_iter().flatten() {
        push_unique(to, w);
    }
}

/// `path` and every ancestor up to `/`, like `PathParentIterator.forAll`.
fn self_and_ancestors(path: &str) -> impl Iterator<Item = &str> {
    let mut next = Some(path);
    std::iter::from_fn(move || {
        let cur = next?;
        next = match cur.rfind('/') {
            _ if cur == "/" => None,
            Some(0) => Some("/"),
            Some(i) => Some(&cur[..i]),
            None => None,
        };
        Some(cur)
    })
}

impl<W: Clone + Eq + Hash> WatchRegistry<W> {
    fn map(&mut self, kind: WatchKind) -> &mut BTreeMap<String, Vec<W>> {
        match kind {
            WatchKind::Data => &mut self.data,
            WatchKind::Exist => &mut self.exist,
            WatchKind::Child => &mut self.child,
            WatchKind::Persistent => &mut self.persistent,
            WatchKind::PersistentRecursive => &mut self.recursive,
        }
    }

    /// Registers `w` for `kind` on `path` (a watcher is held once per path and kind).
    pub fn add(&mut self, kind: WatchKind, path: &str, w: W) {
        push_unique(self.map(kind).entry(path.to_string()).or_default(), w);
    }

    /// The watchers a node event reaches, one-shot ones removed, each watcher once
    /// (`ZKWatchManager.materialize`). Recursive watches get no child events.
    pub fn materialize(&mut self, event: EventType, path: &str) -> Vec<W> {
        let mut out = Vec::new();
        match event {
            EventType::NodeCreated | EventType::NodeDataChanged => {
                take_into(self.data.remove(path), &mut out);
                take_into(self.exist.remove(path), &mut out);
            }
            EventType::NodeChildrenChanged => take_into(self.child.remove(path), &mut out),
            EventType::NodeDeleted => {
                take_into(self.data.remove(path), &mut out);
                take_into(self.exist.remove(path), &mut out);
                take_into(self.child.remove(path), &mut out);
            }
            _ => return out,
        }
        take_into(self.persistent.get(path).cloned(), &mut out);
        if event != EventType::NodeChildrenChanged {
            for p in self_and_ancestors(path) {
                take_into(self.recursive.get(p).cloned(), &mut out);
            }
        }
        out
    }

    /// True if any watch of `ty` is held on `path`.
    pub fn contains(&self, path: &str, ty: WatcherType) -> bool {
        self.kinds(ty).iter().any(|k| match k {
            WatchKind::Data => self.data.contains_key(path),
            WatchKind::Exist => self.exist.contains_key(path),
            WatchKind::Child => self.child.contains_key(path),
            WatchKind::Persistent => self.persistent.contains_key(path),
            WatchKind::PersistentRecursive => self.recursive.contains_key(path),
        })
    }

    fn kinds(&self, ty: WatcherType) -> &'static [WatchKind] {
        match ty {
            WatcherType::Children => &[WatchKind::Child],
            WatcherType::Data => &[WatchKind::Data, WatchKind::Exist],
            WatcherType::Persistent => &[WatchKind::Persistent],
            WatcherType::PersistentRecursive => &[WatchKind::PersistentRecursive],
            WatcherType::Any => &[
                WatchKind::Child,
                WatchKind::Data,
                WatchKind::Exist,
                WatchKind::Persistent,
                WatchKind::PersistentRecursive,
            ],
        }
    }

    /// Removes every watch of `ty` on `path`; each removed watcher with the event it is told
    /// (ChildWatchRemoved, DataWatchRemoved, PersistentWatchRemoved).
    pub fn remove(&mut self, path: &str, ty: WatcherType) -> Vec<(W, EventType)> {
        let mut out: Vec<(W, EventType)> = Vec::new();
        for kind in self.kinds(ty) {
            let ev = match kind {
                WatchKind::Child => EventType::ChildWatchRemoved,
                WatchKind::Data | WatchKind::Exist => EventType::DataWatchRemoved,
                WatchKind::Persistent | WatchKind::PersistentRecursive => {
                    EventType::PersistentWatchRemoved
                }
            };
            for w in self.map(*kind).remove(path).into_iter().flatten() {
                if !out.iter().any(|(x, e)| *x == w && *e == ev) {
                    out.push((w, ev));
                }
            }
        }
        out
    }

    /// Every watcher held, each once.
    pub fn all_watchers(&self) -> Vec<W> {
        let mut out = Vec::new();
        for m in [
            &self.data,
            &self.exist,
            &self.child,
            &self.persistent,
            &self.recursive,
        ] {
            for ws in m.values() {
                for w in ws {
                    push_unique(&mut out, w.clone());
                }
            }
        }
        out
    }

    /// Forgets every watch.
    pub fn clear(&mut self) {
        *self = WatchRegistry::default();
    }

    /// True when no watch is held.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
            && self.exist.is_empty()
            && self.child.is_empty()
            && self.persistent.is_empty()
            && self.recursive.is_empty()
    }

    /// The paths to re-register on reconnect.
    pub fn lists(&self) -> WatchLists {
        let keys = |m: &BTreeMap<String, Vec<W>>| m.keys().cloned().collect();
        WatchLists {
            data: keys(&self.data),
            exist: keys(&self.exist),
            child: keys(&self.child),
            persistent: keys(&self.persistent),
            persistent_recursive: keys(&self.recursive),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ancestors_walk_up_to_root() {
        let v: Vec<&str> = self_and_ancestors("/a/b/c").collect();
        assert_eq!(v, ["/a/b/c", "/a/b", "/a", "/"]);
        let v: Vec<&str> = self_and_ancestors("/").collect();
        assert_eq!(v, ["/"]);
    }

    /// One-shot watches fire once; a watcher on two kinds of the same path hears it once.
    #[test]
    fn one_shot_watches_fire_once_and_dedup() {
        let mut r = WatchRegistry::default();
        r.add(WatchKind::Data, "/a", 1);
        r.add(WatchKind::Child, "/a", 1);
        r.add(WatchKind::Child, "/a", 2);
        assert_eq!(r.materialize(EventType::NodeDeleted, "/a"), vec![1, 2]);
        assert!(r.materialize(EventType::NodeDeleted, "/a").is_empty());
        assert!(r.is_empty());
        r.add(WatchKind::Exist, "/b", 3);
        assert!(r
            .materialize(EventType::NodeChildrenChanged, "/b")
            .is_empty());
        assert_eq!(r.materialize(EventType::NodeCreated, "/b"), vec![3]);
    }

    /// Persistent watches stay; recursive ones see the subtree but no child events.
    #[test]
    fn persistent_and_recursive_watches_stay() {
        let mut r = WatchRegistry::default();
        r.add(WatchKind::Persistent, "/p", 1);
        r.add(WatchKind::PersistentRecursive, "/p", 2);
        for _ in 0..2 {
            assert_eq!(r.materialize(EventType::NodeDataChanged, "/p"), vec![1, 2]);
        }
        assert_eq!(r.materialize(EventType::NodeChildrenChanged, "/p"), vec![1]);
        assert_eq!(r.materialize(EventType::NodeCreated, "/p/x/y"), vec![2]);
        assert_eq!(r.lists().persistent, vec!["/p".to_string()]);
        assert_eq!(r.lists().persistent_recursive, vec!["/p".to_string()]);
    }

    /// removeWatches takes the kinds of the type and says what each watcher is told.
    #[test]
    fn remove_reports_each_watcher() {
        let mut r = WatchRegistry::default();
        r.add(WatchKind::Data, "/a", 1);
        r.add(WatchKind::Exist, "/a", 2);
        r.add(WatchKind::Child, "/a", 1);
        assert!(r.contains("/a", WatcherType::Data));
        assert!(!r.contains("/a", WatcherType::Persistent));
        assert_eq!(
            r.remove("/a", WatcherType::Data),
            vec![
                (1, EventType::DataWatchRemoved),
                (2, EventType::DataWatchRemoved)
            ]
        );
        assert_eq!(
            r.remove("/a", WatcherType::Any),
            vec![(1, EventType::ChildWatchRemoved)]
        );
        assert!(r.remove("/a", WatcherType::Any).is_empty());
    }
}
