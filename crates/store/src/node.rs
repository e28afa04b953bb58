//! One znode as stored: its data, persisted stat, interned ACL, kind and child names.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use zk_wire::Stat;

use crate::acl::AclId;

/// What kind of node this is; replaces ZooKeeper's encoding of containers and TTLs inside
/// `ephemeralOwner`, so any session id is safe as an owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum NodeKind {
    /// A plain node.
    Persistent,
    /// Owned by a session and deleted with it.
    Ephemeral(i64),
    /// Deleted by the cleaner once it has had children and has none.
    Container,
    /// Deleted by the cleaner once childless and unmodified for this many ms.
    Ttl(i64),
}

impl NodeKind {
    /// The `ephemeralOwner` a client sees (`DataNode.getClientEphemeralOwner`: 0 unless a
    /// session owns the node).
    pub fn client_owner(self) -> i64 {
        match self {
            NodeKind::Ephemeral(s) => s,
            _ => 0,
        }
    }
}

/// The stat ZooKeeper persists (`StatPersisted`). `cversion` here counts child creations
/// only; it is also the sequential-suffix counter (R6).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StoredStat {
    /// zxid of the create.
    pub czxid: i64,
    /// zxid of the last data change.
    pub mzxid: i64,
    /// zxid of the last child-list change.
    pub pzxid: i64,
    /// Creation time (ms).
    pub ctime: i64,
    /// Last data change time (ms).
    pub mtime: i64,
    /// Data version.
    pub version: i32,
    /// Number of children ever created.
    pub cversion: i32,
    /// ACL version.
    pub aversion: i32,
}

impl StoredStat {
    /// `DataTree.createStat`.
    pub fn new(zxid: i64, time: i64) -> Self {
        StoredStat {
            czxid: zxid,
            mzxid: zxid,
            pzxid: zxid,
            ctime: time,
            mtime: time,
            version: 0,
            cversion: 0,
            aversion: 0,
        }
    }
}

/// A znode.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    /// `None` when created with null data (the wire keeps the difference).
    pub(crate) data: Option<Box<[u8]>>,
    pub(crate) stat: StoredStat,
    pub(crate) acl: AclId,
    pub(crate) kind: NodeKind,
    /// Names, not paths: the full path is the map key.
    pub(crate) children: BTreeSet<Box<str>>,
}

impl Node {
    /// The client-visible stat (`DataNode.copyStat`): the visible cversion counts creations and
    /// deletions, i.e. `2 * creations - children still present`.
    pub(crate) fn stat(&self) -> Stat {
        let n = i32::try_from(self.children.len()).unwrap_or(i32::MAX);
        Stat {
            czxid: self.stat.czxid,
            mzxid: self.stat.mzxid,
            ctime: self.stat.ctime,
            mtime: self.stat.mtime,
            version: self.stat.version,
            cversion: self.stat.cversion.wrapping_mul(2).wrapping_sub(n),
            aversion: self.stat.aversion,
            ephemeral_owner: self.kind.client_owner(),
            data_length: self.data.as_ref().map_or(0, |d| d.len() as i32),
            num_children: n,
            pzxid: self.stat.pzxid,
        }
    }

    /// The data as a slice (`None` for null data).
    pub(crate) fn data(&self) -> Option<&[u8]> {
        self.data.as_deref()
    }
}
