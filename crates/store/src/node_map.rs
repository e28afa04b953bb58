//! The tree's path -> node map, split into shards that are each shared and copied on their
//! first change, so that a snapshot's freeze is a constant-time copy of the shard handles.
//!
//! Why: a snapshot is encoded from a frozen copy while apply goes on, and only the freeze
//! holds the state's lock. With one `HashMap` the freeze copied the whole map (two reference
//! counts and a cache miss per node): 115-960 ms at 500k znodes, a write stall. Here the
//! freeze copies [`SHARDS`] `Arc`s (27 µs); the first change to a shard that a snapshot still
//! holds copies that shard alone (1/[`SHARDS`] of the map, its nodes shared: 42 µs at 500k
//! znodes), so the cost is spread over the writes that follow (`cargo bench -p zk-store
//! --bench snapshot`; docs/consensus.md has the run).
//!
//! A path's shard comes from a fixed hash (SipHash with zero keys), so that the same path
//! lands in the same shard in every copy of the map; each shard's own `HashMap` keeps std's
//! random keys. A client choosing paths that all fall in one shard only makes that shard's
//! copy larger, never a wrong answer.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::Hash;
use std::hash::Hasher;
use std::sync::Arc;

use crate::node::Node;

/// How many shards: 1024 keeps a shard's copy at ~500 nodes for a 500k-node tree.
pub(crate) const SHARDS: usize = 1024;

type Shard = HashMap<Arc<str>, Arc<Node>>;

/// Path -> node, in [`SHARDS`] shared, copy-on-write shards.
#[derive(Debug, Clone)]
pub(crate) struct NodeMap {
    shards: Box<[Arc<Shard>]>,
    len: usize,
}

impl Default for NodeMap {
    fn default() -> Self {
        NodeMap {
            shards: (0..SHARDS).map(|_| Arc::new(Shard::new())).collect(),
            len: 0,
        }
    }
}

fn shard_of(path: &str) -> usize {
    let mut h = DefaultHasher::new();
    path.hash(&mut h);
    // The low bits of SipHash are as good as any.
    (h.finish() as usize) % SHARDS
}

impl NodeMap {
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(crate) fn get(&self, path: &str) -> Option<&Arc<Node>> {
        self.shards[shard_of(path)].get(path)
    }

    pub(crate) fn contains_key(&self, path: &str) -> bool {
        self.shards[shard_of(path)].contains_key(path)
    }

    /// The node at `path` to change in place. Copies its shard first if another map (a
    /// frozen snapshot) still holds it, but not the node: [`Arc::make_mut`] on the node does
    /// that.
    pub(crate) fn get_mut(&mut self, path: &str) -> Option<&mut Arc<Node>> {
        let shard = &mut self.shards[shard_of(path)];
        if !shard.contains_key(path) {
            // Do not copy a shared shard for a miss.
            return None;
        }
        Arc::make_mut(shard).get_mut(path)
    }

    pub(crate) fn insert(&mut self, path: Arc<str>, node: Arc<Node>) -> Option<Arc<Node>> {
        let old = Arc::make_mut(&mut self.shards[shard_of(&path)]).insert(path, node);
        if old.is_none() {
            self.len += 1;
        }
        old
    }

    pub(crate) fn remove(&mut self, path: &str) -> Option<Arc<Node>> {
        let shard = &mut self.shards[shard_of(path)];
        if !shard.contains_key(path) {
            return None;
        }
        let old = Arc::make_mut(shard).remove(path);
        if old.is_some() {
            self.len -= 1;
        }
        old
    }

    /// Room for `additional` more nodes, spread evenly (a snapshot being decoded).
    pub(crate) fn reserve(&mut self, additional: usize) {
        let each = additional.div_ceil(SHARDS);
        for shard in self.shards.iter_mut() {
            Arc::make_mut(shard).reserve(each);
        }
    }

    /// Every (path, node), in no particular order.
    pub(crate) fn iter(&self) -> <&NodeMap as IntoIterator>::IntoIter {
        self.into_iter()
    }
}

type ShardIter<'a> = std::collections::hash_map::Iter<'a, Arc<str>, Arc<Node>>;

impl<'a> IntoIterator for &'a NodeMap {
    type Item = (&'a Arc<str>, &'a Arc<Node>);
    type IntoIter = std::iter::FlatMap<
        std::slice::Iter<'a, Arc<Shard>>,
        ShardIter<'a>,
        fn(&'a Arc<Shard>) -> ShardIter<'a>,
    >;

    fn into_iter(self) -> Self::IntoIter {
        let each: fn(&'a Arc<Shard>) -> ShardIter<'a> = |s| s.iter();
        self.shards.iter().flat_map(each)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::collections::BTreeSet;

    use crate::node::NodeKind;
    use crate::node::StoredStat;

    fn node(version: i32) -> Arc<Node> {
        Arc::new(Node {
            data: None,
            stat: StoredStat {
                version,
                ..StoredStat::default()
            },
            acl: 0,
            kind: NodeKind::Persistent,
            children: BTreeSet::new(),
        })
    }

    #[test]
    fn insert_get_remove_and_len() {
        let mut m = NodeMap::default();
        for i in 0..1000 {
            assert!(m.insert(format!("/n{i}").into(), node(i)).is_none());
        }
        assert_eq!(m.len(), 1000);
        assert_eq!(m.iter().count(), 1000);
        assert_eq!(m.get("/n7").map(|n| n.stat.version), Some(7));
        assert!(m.insert("/n7".into(), node(70)).is_some(), "a replace");
        assert_eq!(m.len(), 1000, "a replace is not a new node");
        assert!(m.contains_key("/n7"));
        assert_eq!(m.remove("/n7").map(|n| n.stat.version), Some(70));
        assert!(m.remove("/n7").is_none());
        assert!(!m.contains_key("/n7"));
        assert!(m.get_mut("/n7").is_none());
        assert_eq!(m.len(), 999);
        assert!(!m.is_empty());
        assert!(NodeMap::default().is_empty());
    }

    #[test]
    fn a_frozen_copy_keeps_what_it_saw() {
        let mut m = NodeMap::default();
        for i in 0..1000 {
            m.insert(format!("/n{i}").into(), node(i));
        }
        let frozen = m.clone();
        // Every kind of change after the freeze.
        if let Some(n) = m.get_mut("/n1") {
            Arc::make_mut(n).stat.version = 100;
        }
        m.remove("/n2");
        m.insert("/new".into(), node(-1));
        m.insert("/n3".into(), node(300));

        assert_eq!(frozen.len(), 1000);
        assert_eq!(frozen.get("/n1").map(|n| n.stat.version), Some(1));
        assert_eq!(frozen.get("/n2").map(|n| n.stat.version), Some(2));
        assert_eq!(frozen.get("/n3").map(|n| n.stat.version), Some(3));
        assert!(frozen.get("/new").is_none());

        assert_eq!(m.len(), 1000);
        assert_eq!(m.get("/n1").map(|n| n.stat.version), Some(100));
        assert!(m.get("/n2").is_none());
        assert_eq!(m.get("/n3").map(|n| n.stat.version), Some(300));
    }

    #[test]
    fn a_miss_copies_no_shared_shard() {
        let mut m = NodeMap::default();
        m.insert("/a".into(), node(1));
        let frozen = m.clone();
        let before: Vec<*const Shard> = m.shards.iter().map(Arc::as_ptr).collect();
        assert!(m.get_mut("/absent").is_none());
        assert!(m.remove("/absent").is_none());
        let after: Vec<*const Shard> = m.shards.iter().map(Arc::as_ptr).collect();
        assert_eq!(before, after);
        drop(frozen);
    }

    #[test]
    fn a_change_copies_one_shard_only() {
        let mut m = NodeMap::default();
        for i in 0..10_000 {
            m.insert(format!("/n{i}").into(), node(i));
        }
        let frozen = m.clone();
        m.insert("/n5".into(), node(5));
        let copied = m
            .shards
            .iter()
            .zip(frozen.shards.iter())
            .filter(|(a, b)| !Arc::ptr_eq(a, b))
            .count();
        assert_eq!(copied, 1);
    }
}
