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
//! One hash per lookup: a path is hashed once (foldhash, keyed at random per map and kept by
//! its copies, so a path lands in the same shard of every copy), bits 32..42 of that hash
//! pick the shard and the shard's table (hashbrown's `HashTable`) uses the same hash for its
//! buckets (low bits) and tags (top bits), which the shard bits do not overlap. Before, a
//! lookup ran SipHash twice (once for the shard, once in the shard's `HashMap`): under sets on
//! a 300k-znode tree `NodeMap::get` was 9-14 % of every member's CPU, most of it in the
//! snapshot encoder's lookup of each child (bench/profile.sh set --fill 300000).
//! A client choosing paths that collide gains nothing it could plan: the key is random per
//! process and never shown (ZooKeeper's own `HashMap` hashes paths with `String.hashCode`,
//! which is not keyed at all); colliding paths only make their shard's copy larger and its
//! lookups longer, never a wrong answer.

use std::hash::BuildHasher;
use std::sync::Arc;

use foldhash::quality::RandomState;
use hashbrown::hash_table::Entry;
use hashbrown::HashTable;

use crate::node::Node;

/// How many shards: 1024 keeps a shard's copy at ~500 nodes for a 500k-node tree.
pub(crate) const SHARDS: usize = 1024;

/// Where the shard index sits in a path's hash: above the bits a shard's table uses for its
/// buckets (its low bits; a shard would need 2^32 buckets to reach these) and below the
/// seven top bits it uses as tags.
const SHARD_SHIFT: u32 = 32;

type Shard = HashTable<(Arc<str>, Arc<Node>)>;

/// Path -> node, in [`SHARDS`] shared, copy-on-write shards.
#[derive(Clone)]
pub(crate) struct NodeMap {
    shards: Box<[Arc<Shard>]>,
    len: usize,
    hasher: RandomState,
}

impl std::fmt::Debug for NodeMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Every entry, as the `HashMap` it replaced printed (a failed tree comparison in a
        // test shows them); not the hasher's key.
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Default for NodeMap {
    fn default() -> Self {
        NodeMap {
            shards: (0..SHARDS).map(|_| Arc::new(Shard::new())).collect(),
            len: 0,
            hasher: RandomState::default(),
        }
    }
}

fn shard_of(hash: u64) -> usize {
    ((hash >> SHARD_SHIFT) as usize) % SHARDS
}

impl NodeMap {
    fn hash(&self, path: &str) -> u64 {
        self.hasher.hash_one(path)
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(crate) fn get(&self, path: &str) -> Option<&Arc<Node>> {
        let h = self.hash(path);
        self.shards[shard_of(h)]
            .find(h, |(p, _)| **p == *path)
            .map(|(_, n)| n)
    }

    pub(crate) fn contains_key(&self, path: &str) -> bool {
        self.get(path).is_some()
    }

    /// The node at `path` to change in place. Copies its shard first if another map (a
    /// frozen snapshot) still holds it, but not the node: [`Arc::make_mut`] on the node does
    /// that.
    pub(crate) fn get_mut(&mut self, path: &str) -> Option<&mut Arc<Node>> {
        let h = self.hash(path);
        let shard = &mut self.shards[shard_of(h)];
        // Do not copy a shared shard for a miss.
        shard.find(h, |(p, _)| **p == *path)?;
        Arc::make_mut(shard)
            .find_mut(h, |(p, _)| **p == *path)
            .map(|(_, n)| n)
    }

    pub(crate) fn insert(&mut self, path: Arc<str>, node: Arc<Node>) -> Option<Arc<Node>> {
        let h = self.hash(&path);
        let hasher = &self.hasher;
        let shard = Arc::make_mut(&mut self.shards[shard_of(h)]);
        match shard.entry(h, |(p, _)| *p == path, |(p, _)| hasher.hash_one(&**p)) {
            Entry::Occupied(mut e) => Some(std::mem::replace(&mut e.get_mut().1, node)),
            Entry::Vacant(e) => {
                e.insert((path, node));
                self.len += 1;
                None
            }
        }
    }

    pub(crate) fn remove(&mut self, path: &str) -> Option<Arc<Node>> {
        let h = self.hash(path);
        let shard = &mut self.shards[shard_of(h)];
        shard.find(h, |(p, _)| **p == *path)?;
        let Ok(e) = Arc::make_mut(shard).find_entry(h, |(p, _)| **p == *path) else {
            return None;
        };
        let ((_, old), _) = e.remove();
        self.len -= 1;
        Some(old)
    }

    /// Room for `additional` more nodes, spread evenly (a snapshot being decoded).
    pub(crate) fn reserve(&mut self, additional: usize) {
        let each = additional.div_ceil(SHARDS);
        let hasher = &self.hasher;
        for shard in self.shards.iter_mut() {
            Arc::make_mut(shard).reserve(each, |(p, _)| hasher.hash_one(&**p));
        }
    }

    /// Every (path, node), in no particular order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&Arc<str>, &Arc<Node>)> {
        self.shards
            .iter()
            .flat_map(|s| s.iter().map(|(p, n)| (p, n)))
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
