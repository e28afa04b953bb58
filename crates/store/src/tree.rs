//! The data tree: nodes by path, the interned ACLs, and the indexes over ephemerals,
//! containers and TTL nodes. Reads live here; writes are in `apply.rs`.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use zk_wire::{perms, Acl, ErrorCode, Id, Stat};

use crate::acl::{self, AclCache};
use crate::node::{Node, NodeKind, StoredStat};
use crate::node_map::NodeMap;
use crate::path::{self, CONFIG, QUOTA, ROOT, ZOOKEEPER};

/// Tree options that must be equal on every replica.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TreeConfig {
    /// Allow TTL nodes (ZooKeeper's `zookeeper.extendedTypesEnabled`); when off, a TTL create
    /// is Unimplemented, as the reference answers.
    pub ttl_enabled: bool,
}

/// The replicated data tree.
#[derive(Debug, Clone)]
pub struct DataTree {
    /// Shared, copied on write: a snapshot takes a copy of the map's shard handles (no shard
    /// and no node copied) and encodes it without the state's lock, while apply goes on and
    /// copies only the shards and nodes it changes meanwhile ([`Arc::make_mut`]).
    pub(crate) nodes: NodeMap,
    pub(crate) acls: AclCache,
    pub(crate) ephemerals: BTreeMap<i64, BTreeSet<Box<str>>>,
    pub(crate) containers: BTreeSet<Box<str>>,
    pub(crate) ttls: BTreeSet<Box<str>>,
    pub(crate) last_zxid: i64,
    pub(crate) config: TreeConfig,
}

impl Default for DataTree {
    fn default() -> Self {
        DataTree::new(TreeConfig::default())
    }
}

impl DataTree {
    /// A fresh tree as a new ZooKeeper has it: `/`, `/zookeeper`, `/zookeeper/quota` and the
    /// read-only `/zookeeper/config` (aversion -1: ZooKeeper sets its ACL with version -1).
    pub fn new(config: TreeConfig) -> Self {
        let mut t = DataTree::empty(config);
        let open = t.acls.intern(&Acl::open_unsafe());
        let open2 = t.acls.intern(&Acl::open_unsafe());
        let open3 = t.acls.intern(&Acl::open_unsafe());
        let read = t.acls.intern(&Acl::read_unsafe());
        let mk = |acl| Node {
            data: Some(Box::default()),
            stat: StoredStat::default(),
            acl,
            kind: NodeKind::Persistent,
            children: BTreeSet::new(),
        };
        t.nodes.insert(ROOT.into(), Arc::new(mk(open)));
        t.insert_node(ZOOKEEPER, mk(open2));
        t.insert_node(QUOTA, mk(open3));
        let mut config_node = mk(read);
        config_node.stat.aversion = -1;
        t.insert_node(CONFIG, config_node);
        t
    }

    /// A tree with no nodes at all (snapshot decoding fills it).
    pub(crate) fn empty(config: TreeConfig) -> Self {
        DataTree {
            nodes: NodeMap::default(),
            acls: AclCache::default(),
            ephemerals: BTreeMap::new(),
            containers: BTreeSet::new(),
            ttls: BTreeSet::new(),
            last_zxid: 0,
            config,
        }
    }

    /// The options the tree was made with.
    pub fn config(&self) -> TreeConfig {
        self.config
    }

    /// zxid of the last applied txn (0 for a fresh tree).
    pub fn last_zxid(&self) -> i64 {
        self.last_zxid
    }

    /// Number of znodes, the root included.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Number of distinct ACL lists held (interned).
    pub fn acl_list_count(&self) -> usize {
        self.acls.len()
    }

    /// A node by path; `""` is the root's other name, as in ZooKeeper's node map.
    pub(crate) fn node(&self, path: &str) -> Option<&Node> {
        self.nodes
            .get(if path.is_empty() { ROOT } else { path })
            .map(Arc::as_ref)
    }

    pub(crate) fn node_mut(&mut self, path: &str) -> Option<&mut Node> {
        self.cow_mut(if path.is_empty() { ROOT } else { path })
    }

    /// The node at `key` to change: copied first if a snapshot still holds it.
    pub(crate) fn cow_mut(&mut self, key: &str) -> Option<&mut Node> {
        self.nodes.get_mut(key).map(Arc::make_mut)
    }

    /// The ACL list of a node.
    pub(crate) fn acl_of(&self, node: &Node) -> &[Acl] {
        self.acls.get(node.acl)
    }

    /// Whether `ids` hold every permission bit in `perms` on `path`, each bit granted by
    /// some entry of its ACL (the admin server's `handleAuthorization`, which checks the bits
    /// one at a time): NoNode, or NoAuth naming no bit.
    pub fn authorize(&self, path: &str, perms: i32, ids: &[Id]) -> Result<(), ErrorCode> {
        let n = self.node(path).ok_or(ErrorCode::NoNode)?;
        let acl = self.acl_of(n);
        (0..i32::BITS)
            .map(|b| 1i32 << b)
            .filter(|bit| perms & bit != 0)
            .try_for_each(|bit| acl::require(acl, bit, ids))
    }

    fn readable(&self, path: &str, perm: i32, ids: &[Id]) -> Result<&Node, ErrorCode> {
        let n = self.node(path).ok_or(ErrorCode::NoNode)?;
        acl::require(self.acl_of(n), perm, ids)?;
        Ok(n)
    }

    /// ZooKeeper's approximate data size: every node's path length plus data length. Computed
    /// on demand (O(nodes)), for the admin words only.
    pub fn approximate_data_size(&self) -> u64 {
        self.nodes
            .iter()
            .map(|(p, n)| (p.len() + n.data().map_or(0, <[u8]>::len)) as u64)
            .sum()
    }

    /// Number of ephemeral nodes.
    pub fn ephemeral_count(&self) -> usize {
        self.ephemerals.values().map(BTreeSet::len).sum()
    }

    /// getData: the data (None if null) and stat; NoNode, or NoAuth without READ.
    pub fn get_data(&self, path: &str, ids: &[Id]) -> Result<(Option<&[u8]>, Stat), ErrorCode> {
        let n = self.readable(path, perms::READ, ids)?;
        Ok((n.data(), n.stat()))
    }

    /// exists: no ACL check (as in 3.8.0); BadArguments for a path with NUL (measured).
    pub fn exists(&self, path: &str) -> Result<Option<Stat>, ErrorCode> {
        if path.contains('\0') {
            return Err(ErrorCode::BadArguments);
        }
        Ok(self.stat(path))
    }

    /// The length of a node's data (0 for null), with no checks; None without the node.
    pub fn data_len(&self, path: &str) -> Option<usize> {
        self.node(path).map(|n| n.data().map_or(0, <[u8]>::len))
    }

    /// A node's stat, with no checks.
    pub fn stat(&self, path: &str) -> Option<Stat> {
        self.node(path).map(Node::stat)
    }

    /// getChildren/getChildren2: child names (sorted) and the stat; NoNode or NoAuth (READ).
    pub fn get_children(&self, path: &str, ids: &[Id]) -> Result<(Vec<&str>, Stat), ErrorCode> {
        let n = self.readable(path, perms::READ, ids)?;
        Ok((n.children.iter().map(|c| &**c).collect(), n.stat()))
    }

    /// getACL: needs READ or ADMIN; without ADMIN the digest hashes are shown as `user:x`
    /// (measured on 3.8.0).
    pub fn get_acl(&self, path: &str, ids: &[Id]) -> Result<(Cow<'_, [Acl]>, Stat), ErrorCode> {
        let n = self.readable(path, acl::GET_ACL_PERMS, ids)?;
        let list = self.acl_of(n);
        let shown = if acl::check_acl(list, perms::ADMIN, ids) {
            Cow::Borrowed(list)
        } else {
            Cow::Owned(acl::redact(list))
        };
        Ok((shown, n.stat()))
    }

    /// getAllChildrenNumber: every descendant (for `/`, every node but the root); NoNode, or
    /// NoAuth without READ.
    pub fn all_children_number(&self, path: &str, ids: &[Id]) -> Result<i32, ErrorCode> {
        let n = self.readable(path, perms::READ, ids)?;
        if path == ROOT || path.is_empty() {
            return Ok(i32::try_from(self.nodes.len() - 1).unwrap_or(i32::MAX));
        }
        let mut count: usize = 0;
        let mut stack: Vec<String> = n.children.iter().map(|c| path::join(path, c)).collect();
        while let Some(p) = stack.pop() {
            count += 1;
            if let Some(child) = self.nodes.get(p.as_str()) {
                stack.extend(child.children.iter().map(|c| path::join(&p, c)));
            }
        }
        Ok(i32::try_from(count).unwrap_or(i32::MAX))
    }

    /// getEphemerals: the session's ephemerals whose path starts with `prefix` (all of them for
    /// an empty or `/` prefix), sorted.
    pub fn ephemerals(&self, session_id: i64, prefix: &str) -> Vec<&str> {
        let all = prefix.trim().is_empty() || prefix.trim() == ROOT;
        self.ephemerals
            .get(&session_id)
            .into_iter()
            .flatten()
            .filter(|p| all || p.starts_with(prefix))
            .map(|p| &**p)
            .collect()
    }

    /// Sessions that own at least one ephemeral.
    pub fn sessions_with_ephemerals(&self) -> impl Iterator<Item = i64> + '_ {
        self.ephemerals.keys().copied()
    }

    /// Adds a node under its (existing) parent and indexes its kind. The caller owns the ACL
    /// reference and the parent's stat.
    pub(crate) fn insert_node(&mut self, p: &str, node: Node) {
        let key: Box<str> = p.into();
        match node.kind {
            NodeKind::Ephemeral(s) => {
                self.ephemerals.entry(s).or_default().insert(key.clone());
            }
            NodeKind::Container => {
                self.containers.insert(key.clone());
            }
            NodeKind::Ttl(_) => {
                self.ttls.insert(key.clone());
            }
            NodeKind::Persistent => {}
        }
        if let Some(parent) = self.cow_mut(path::parent_of(p)) {
            parent.children.insert(path::name_of(p).into());
        }
        self.nodes.insert(p.into(), Arc::new(node));
    }

    /// Removes a node from the map, its parent's children and the kind indexes. The ACL
    /// reference is still counted: the caller releases it.
    pub(crate) fn remove_node(&mut self, p: &str) -> Option<Node> {
        let node = Arc::unwrap_or_clone(self.nodes.remove(p)?);
        match node.kind {
            NodeKind::Ephemeral(s) => {
                if let Some(set) = self.ephemerals.get_mut(&s) {
                    set.remove(p);
                    if set.is_empty() {
                        self.ephemerals.remove(&s);
                    }
                }
            }
            NodeKind::Container => {
                self.containers.remove(p);
            }
            NodeKind::Ttl(_) => {
                self.ttls.remove(p);
            }
            NodeKind::Persistent => {}
        }
        if let Some(parent) = self.cow_mut(path::parent_of(p)) {
            parent.children.remove(path::name_of(p));
        }
        Some(node)
    }
}

impl PartialEq for DataTree {
    /// Logical equality: same nodes (data, stat, kind, children, ACL contents) and last zxid;
    /// the ACL interning indexes may differ.
    fn eq(&self, other: &Self) -> bool {
        self.last_zxid == other.last_zxid
            && self.nodes.len() == other.nodes.len()
            && self.nodes.iter().all(|(p, a)| {
                other.nodes.get(p).is_some_and(|b| {
                    a.data == b.data
                        && a.stat == b.stat
                        && a.kind == b.kind
                        && a.children == b.children
                        && self.acl_of(a) == other.acl_of(b)
                })
            })
    }
}

impl Eq for DataTree {}

/// `/zookeeper/config`: the ensemble's membership, written by the replicated state only
/// (clients can only read it; `reconfig` changes it through Raft).
impl DataTree {
    /// The text `/zookeeper/config` holds (empty until the ensemble's first write of it).
    pub fn config_data(&self) -> &[u8] {
        self.node(CONFIG).and_then(Node::data).unwrap_or_default()
    }

    /// The config's version, as `reconfig`'s `curConfigId` is compared with it: the zxid that
    /// last wrote it (its mzxid, as ZooKeeper's config version is its reconfig's zxid), 0 while
    /// it is empty.
    pub fn config_version(&self) -> i64 {
        match self.node(CONFIG) {
            Some(n) if n.data().is_some_and(|d| !d.is_empty()) => n.stat.mzxid,
            _ => 0,
        }
    }

    /// Ok if `ids` may do `perm` on the node at `path` (`ZooKeeperServer.checkACL`); NoNode
    /// or NoAuth otherwise.
    pub fn check_perm(&self, path: &str, perm: i32, ids: &[Id]) -> Result<(), ErrorCode> {
        self.readable(path, perm, ids).map(|_| ())
    }

    /// Writes `/zookeeper/config` as ZooKeeper's reconfig txn does (`SetDataTxn` with version
    /// -1: the node's version stays -1, its mzxid becomes the config's version), with no ACL
    /// check: the caller decided. Fires NodeDataChanged for config watchers.
    pub fn set_config(&mut self, zxid: i64, time_ms: i64, data: &[u8]) -> crate::Applied {
        self.last_zxid = self.last_zxid.max(zxid);
        let Some(node) = self.cow_mut(CONFIG) else {
            return crate::Applied {
                result: Err(ErrorCode::NoNode),
                triggers: Vec::new(),
            };
        };
        node.data = Some(Box::from(data));
        node.stat.version = -1;
        node.stat.mtime = time_ms;
        node.stat.mzxid = zxid;
        let stat = node.stat();
        crate::Applied {
            result: Ok(crate::OpResult::DataSet(stat)),
            triggers: vec![crate::Trigger {
                path: CONFIG.to_string(),
                event: zk_wire::EventType::NodeDataChanged,
            }],
        }
    }
}
