//! ZooKeeper's database as a snapshot and the transactions after it make it: the tree of
//! `DataTree.processTxn` and the session map of `FileTxnSnapLog.processTransaction`, with
//! their rules for replaying over a fuzzy snapshot (a create of an existing node or a delete
//! of a missing one is skipped, as ZooKeeper skips it).

use std::collections::{BTreeMap, BTreeSet};

use crate::error::{ErrorKind, FormatError};
use crate::records::{Acl, StatPersisted};
use crate::snapshot::{Snapshot, SnapshotNode};
use crate::txn::{OpCode, Txn, TxnHeader};

/// `EphemeralType.CONTAINER_EPHEMERAL_OWNER`.
pub const CONTAINER_OWNER: i64 = i64::MIN;
/// `EphemeralType.EXTENDED_MASK`: the top byte of an extended ephemeral owner.
const EXTENDED_MASK: i64 = 0xff00_0000_0000_0000_u64 as i64;
/// `EphemeralType.EXTENDED_BIT_MASK`: which extended type (0 is TTL).
const EXTENDED_BIT_MASK: i64 = 0x00ff_ff00_0000_0000;
/// `EphemeralType.EXTENDED_FEATURE_VALUE_MASK`: the TTL in ms.
const EXTENDED_VALUE_MASK: i64 = 0x0000_00ff_ffff_ffff;

/// What a node's ephemeral owner says it is (`EphemeralType.get`, extended types on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    /// Owner 0.
    Persistent,
    /// Owned by this session.
    Ephemeral(i64),
    /// A container.
    Container,
    /// A TTL node with this TTL (ms).
    Ttl(i64),
}

impl NodeKind {
    /// The kind an ephemeral owner encodes.
    pub fn of_owner(owner: i64) -> NodeKind {
        if owner == 0 {
            NodeKind::Persistent
        } else if owner == CONTAINER_OWNER {
            NodeKind::Container
        } else if owner & EXTENDED_MASK == EXTENDED_MASK && owner & EXTENDED_BIT_MASK == 0 {
            NodeKind::Ttl(owner & EXTENDED_VALUE_MASK)
        } else {
            NodeKind::Ephemeral(owner)
        }
    }

    /// `EphemeralType.TTL.toEphemeralOwner(ttl)`.
    pub fn ttl_owner(ttl: i64) -> i64 {
        EXTENDED_MASK | (ttl & EXTENDED_VALUE_MASK)
    }
}

/// A node of the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZkNode {
    /// Its data (`None`: null).
    pub data: Option<Vec<u8>>,
    /// Its ACL.
    pub acl: Vec<Acl>,
    /// Its stat.
    pub stat: StatPersisted,
    /// Its children's names.
    pub children: BTreeSet<String>,
}

/// What replaying counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplayStats {
    /// Transactions applied.
    pub applied: u64,
    /// Creates of existing nodes and deletes/updates of missing ones skipped, as ZooKeeper
    /// skips them after a fuzzy snapshot.
    pub skipped: u64,
}

/// The tree (by full path, the root `/`), the live sessions and the last zxid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZkDatabase {
    /// Every node.
    pub nodes: BTreeMap<String, ZkNode>,
    /// Live sessions and their timeouts (ms).
    pub sessions: BTreeMap<i64, i32>,
    /// The zxid of the last transaction in it (the snapshot's, before any).
    pub last_zxid: i64,
    /// What replaying did.
    pub stats: ReplayStats,
    ephemerals: BTreeMap<i64, BTreeSet<String>>,
}

fn parent_of(path: &str) -> Option<(&str, &str)> {
    let i = path.rfind('/')?;
    let parent = if i == 0 { "/" } else { &path[..i] };
    Some((parent, &path[i + 1..]))
}

/// Why a txn did not change the tree (ZooKeeper's `rc.err`); replay goes on.
enum Skip {
    NoNode,
    NodeExists,
}

impl ZkDatabase {
    /// The database a snapshot holds, as of `zxid` (its file name's zxid).
    pub fn from_snapshot(file: &str, snap: &Snapshot, zxid: i64) -> Result<Self, FormatError> {
        let mut db = ZkDatabase {
            nodes: BTreeMap::new(),
            sessions: snap.sessions.iter().copied().collect(),
            last_zxid: zxid,
            stats: ReplayStats::default(),
            ephemerals: BTreeMap::new(),
        };
        for n in &snap.nodes {
            let acl = snap.acl_of(n.acl).ok_or_else(|| FormatError {
                file: file.into(),
                offset: 0,
                kind: ErrorKind::Invalid(format!("node {:?}: unknown ACL {}", n.path, n.acl)),
            })?;
            let path = if n.path.is_empty() {
                "/".to_owned()
            } else {
                n.path.clone()
            };
            db.insert(&path, n.data.clone(), acl, n.stat);
        }
        Ok(db)
    }

    fn insert(&mut self, path: &str, data: Option<Vec<u8>>, acl: Vec<Acl>, stat: StatPersisted) {
        if let NodeKind::Ephemeral(owner) = NodeKind::of_owner(stat.ephemeral_owner) {
            self.ephemerals
                .entry(owner)
                .or_default()
                .insert(path.to_owned());
        }
        if path != "/" {
            if let Some((parent, name)) = parent_of(path) {
                if let Some(p) = self.nodes.get_mut(parent) {
                    p.children.insert(name.to_owned());
                }
            }
        }
        self.nodes.insert(
            path.to_owned(),
            ZkNode {
                data,
                acl,
                stat,
                children: BTreeSet::new(),
            },
        );
    }

    /// The nodes a session owns.
    pub fn ephemerals_of(&self, session: i64) -> impl Iterator<Item = &str> {
        self.ephemerals
            .get(&session)
            .into_iter()
            .flatten()
            .map(String::as_str)
    }

    /// Applies one logged transaction (`FileTxnSnapLog.processTransaction`).
    pub fn apply(&mut self, header: &TxnHeader, txn: &Txn) {
        match txn {
            Txn::CreateSession { timeout } => {
                self.sessions.insert(header.client_id, *timeout);
            }
            Txn::CloseSession { .. } => {
                self.sessions.remove(&header.client_id);
            }
            _ => {}
        }
        match self.process(header, header.op, txn) {
            Ok(()) => self.stats.applied += 1,
            Err(_) => self.stats.skipped += 1,
        }
        if header.zxid > self.last_zxid {
            self.last_zxid = header.zxid;
        }
    }

    /// `DataTree.processTxn` for one (sub-)transaction of type `op`.
    fn process(&mut self, h: &TxnHeader, op: i32, txn: &Txn) -> Result<(), Skip> {
        let result = match txn {
            Txn::Create {
                path,
                data,
                acl,
                ephemeral,
                parent_cversion,
            } => {
                let owner = if *ephemeral { h.client_id } else { 0 };
                self.create(path, data, acl, owner, *parent_cversion, h)
            }
            Txn::CreateTtl {
                path,
                data,
                acl,
                parent_cversion,
                ttl,
            } => self.create(
                path,
                data,
                acl,
                NodeKind::ttl_owner(*ttl),
                *parent_cversion,
                h,
            ),
            Txn::CreateContainer {
                path,
                data,
                acl,
                parent_cversion,
            } => self.create(path, data, acl, CONTAINER_OWNER, *parent_cversion, h),
            Txn::Delete { path } => self.delete(path, h.zxid),
            Txn::SetData {
                path,
                data,
                version,
            } => {
                let n = self.nodes.get_mut(path).ok_or(Skip::NoNode)?;
                n.data = data.clone();
                n.stat.mtime = h.time;
                n.stat.mzxid = h.zxid;
                n.stat.version = *version;
                Ok(())
            }
            Txn::SetAcl { path, acl, version } => {
                let n = self.nodes.get_mut(path).ok_or(Skip::NoNode)?;
                n.acl = acl.clone();
                n.stat.aversion = *version;
                Ok(())
            }
            Txn::CloseSession { paths } => {
                // DataTree.killSession: the paths in the txn, then any ephemeral left.
                for p in paths.iter().flatten() {
                    let _ = self.delete(p, h.zxid);
                }
                let left: Vec<String> =
                    self.ephemerals_of(h.client_id).map(str::to_owned).collect();
                for p in left {
                    let _ = self.delete(&p, h.zxid);
                }
                Ok(())
            }
            Txn::CreateSession { .. } | Txn::Error { .. } | Txn::Check { .. } => Ok(()),
            Txn::Multi(subs) => {
                // A multi with a failed op logs every op as an error and changes nothing.
                if subs.iter().any(|(op, _)| *op == OpCode::ERROR) {
                    return Ok(());
                }
                for (sub_op, sub) in subs {
                    let _ = self.process(h, *sub_op, sub);
                }
                Ok(())
            }
        };
        // DataTree.processTxn: a plain create of an existing node (replay over a fuzzy
        // snapshot) still moves the parent's cversion and pzxid forward.
        if let (
            Err(Skip::NodeExists),
            OpCode::CREATE,
            Txn::Create {
                path,
                parent_cversion,
                ..
            },
        ) = (&result, op, txn)
        {
            if let Some((parent, _)) = parent_of(path) {
                if let Some(p) = self.nodes.get_mut(parent) {
                    let v = if *parent_cversion == -1 {
                        p.stat.cversion + 1
                    } else {
                        *parent_cversion
                    };
                    if v > p.stat.cversion {
                        p.stat.cversion = v;
                        p.stat.pzxid = h.zxid;
                    }
                }
            }
        }
        result
    }

    /// `DataTree.createNode`.
    fn create(
        &mut self,
        path: &str,
        data: &Option<Vec<u8>>,
        acl: &[Acl],
        owner: i64,
        parent_cversion: i32,
        h: &TxnHeader,
    ) -> Result<(), Skip> {
        let (parent, name) = parent_of(path).ok_or(Skip::NoNode)?;
        let p = self.nodes.get_mut(parent).ok_or(Skip::NoNode)?;
        if p.children.contains(name) {
            return Err(Skip::NodeExists);
        }
        let v = if parent_cversion == -1 {
            p.stat.cversion + 1
        } else {
            parent_cversion
        };
        if v > p.stat.cversion {
            p.stat.cversion = v;
            p.stat.pzxid = h.zxid;
        }
        self.insert(
            path,
            data.clone(),
            acl.to_vec(),
            StatPersisted::created(h.zxid, h.time, owner),
        );
        Ok(())
    }

    /// `DataTree.deleteNode`: the parent's pzxid moves forward, its cversion does not.
    fn delete(&mut self, path: &str, zxid: i64) -> Result<(), Skip> {
        let (parent, name) = parent_of(path).ok_or(Skip::NoNode)?;
        let p = self.nodes.get_mut(parent).ok_or(Skip::NoNode)?;
        p.children.remove(name);
        if zxid > p.stat.pzxid {
            p.stat.pzxid = zxid;
        }
        let node = self.nodes.remove(path).ok_or(Skip::NoNode)?;
        if let NodeKind::Ephemeral(owner) = NodeKind::of_owner(node.stat.ephemeral_owner) {
            if let Some(set) = self.ephemerals.get_mut(&owner) {
                set.remove(path);
                if set.is_empty() {
                    self.ephemerals.remove(&owner);
                }
            }
        }
        Ok(())
    }

    /// The database as a snapshot ZooKeeper loads (ACL lists interned, parents first, the
    /// root written as `""`).
    pub fn to_snapshot(&self, digest: Option<crate::snapshot::ZxidDigest>) -> Snapshot {
        let mut refs: BTreeMap<Vec<Acl>, i64> = BTreeMap::new();
        let mut nodes = Vec::with_capacity(self.nodes.len());
        // Depth-first from the root, children in name order.
        let mut stack = vec!["/".to_owned()];
        while let Some(path) = stack.pop() {
            let Some(n) = self.nodes.get(&path) else {
                continue;
            };
            let next = refs.len() as i64 + 1;
            let acl = *refs.entry(n.acl.clone()).or_insert(next);
            nodes.push(SnapshotNode {
                path: if path == "/" {
                    String::new()
                } else {
                    path.clone()
                },
                data: n.data.clone(),
                acl,
                stat: n.stat,
            });
            for c in n.children.iter().rev() {
                stack.push(if path == "/" {
                    format!("/{c}")
                } else {
                    format!("{path}/{c}")
                });
            }
        }
        Snapshot {
            header: crate::records::FileHeader {
                magic: crate::SNAP_MAGIC,
                version: crate::VERSION,
                dbid: -1,
            },
            sessions: self.sessions.iter().map(|(k, v)| (*k, *v)).collect(),
            acls: refs.into_iter().map(|(list, r)| (r, list)).collect(),
            nodes,
            digest,
            len: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::FileHeader;

    fn fresh() -> ZkDatabase {
        let open = -1;
        let node = |path: &str| SnapshotNode {
            path: path.into(),
            data: Some(vec![]),
            acl: open,
            stat: StatPersisted::default(),
        };
        let snap = Snapshot {
            header: FileHeader {
                magic: crate::SNAP_MAGIC,
                version: 2,
                dbid: -1,
            },
            sessions: vec![],
            acls: BTreeMap::new(),
            nodes: vec![node(""), node("/zookeeper"), node("/zookeeper/quota")],
            digest: None,
            len: 0,
        };
        ZkDatabase::from_snapshot("s", &snap, 0).unwrap()
    }

    fn hdr(zxid: i64, op: i32, client_id: i64) -> TxnHeader {
        TxnHeader {
            client_id,
            cxid: 0,
            zxid,
            time: 100 * zxid,
            op,
        }
    }

    fn create(path: &str, pcv: i32, eph: bool) -> Txn {
        Txn::Create {
            path: path.into(),
            data: Some(b"d".to_vec()),
            acl: Acl::open_unsafe(),
            ephemeral: eph,
            parent_cversion: pcv,
        }
    }

    #[test]
    fn kinds() {
        assert_eq!(NodeKind::of_owner(0), NodeKind::Persistent);
        assert_eq!(NodeKind::of_owner(i64::MIN), NodeKind::Container);
        assert_eq!(
            NodeKind::of_owner(NodeKind::ttl_owner(5000)),
            NodeKind::Ttl(5000)
        );
        assert_eq!(NodeKind::of_owner(0x1234), NodeKind::Ephemeral(0x1234));
    }

    #[test]
    fn create_set_delete_and_sessions() {
        let mut db = fresh();
        db.apply(
            &hdr(1, OpCode::CREATE_SESSION, 7),
            &Txn::CreateSession { timeout: 4000 },
        );
        db.apply(&hdr(2, OpCode::CREATE2, 7), &create("/a", 1, false));
        db.apply(&hdr(3, OpCode::CREATE, 7), &create("/a/e", 1, true));
        db.apply(
            &hdr(4, OpCode::SET_DATA, 7),
            &Txn::SetData {
                path: "/a".into(),
                data: None,
                version: 1,
            },
        );
        assert_eq!(db.sessions.get(&7), Some(&4000));
        assert_eq!(db.ephemerals_of(7).collect::<Vec<_>>(), ["/a/e"]);
        let a = &db.nodes["/a"];
        assert_eq!(
            (a.stat.mzxid, a.stat.mtime, a.stat.version, a.data.clone()),
            (4, 400, 1, None)
        );
        assert_eq!((a.stat.cversion, a.stat.pzxid), (1, 3));
        db.apply(
            &hdr(5, OpCode::CLOSE_SESSION, 7),
            &Txn::CloseSession {
                paths: Some(vec!["/a/e".into()]),
            },
        );
        assert!(!db.nodes.contains_key("/a/e"));
        assert!(db.sessions.is_empty());
        let a = &db.nodes["/a"];
        assert_eq!((a.stat.cversion, a.stat.pzxid), (1, 5));
        assert_eq!(db.last_zxid, 5);
        assert_eq!(
            db.stats,
            ReplayStats {
                applied: 5,
                skipped: 0
            }
        );
    }

    #[test]
    fn replay_over_fuzzy_snapshot_skips_and_fixes_cversion() {
        let mut db = fresh();
        db.apply(&hdr(2, OpCode::CREATE, 7), &create("/a", 1, false));
        db.apply(&hdr(3, OpCode::CREATE, 7), &create("/a", 5, false));
        assert_eq!(db.stats.skipped, 1);
        assert_eq!(db.nodes["/"].stat.cversion, 5);
        assert_eq!(db.nodes["/"].stat.pzxid, 3);
        db.apply(
            &hdr(4, OpCode::DELETE, 7),
            &Txn::Delete { path: "/b".into() },
        );
        assert_eq!(db.stats.skipped, 2);
    }

    #[test]
    fn failed_multi_changes_nothing() {
        let mut db = fresh();
        let before = db.nodes.clone();
        db.apply(
            &hdr(2, OpCode::MULTI, 7),
            &Txn::Multi(vec![
                (OpCode::CREATE, create("/a", 1, false)),
                (OpCode::ERROR, Txn::Error { err: -101 }),
            ]),
        );
        assert_eq!(db.nodes, before);
        db.apply(
            &hdr(3, OpCode::MULTI, 7),
            &Txn::Multi(vec![
                (OpCode::CREATE, create("/a", 1, false)),
                (OpCode::CREATE, create("/a/b", 1, false)),
            ]),
        );
        assert!(db.nodes.contains_key("/a/b"));
    }

    #[test]
    fn snapshot_round_trip() {
        let mut db = fresh();
        db.apply(&hdr(2, OpCode::CREATE, 7), &create("/a", 1, false));
        db.apply(&hdr(3, OpCode::CREATE, 7), &create("/a/e", 1, true));
        let snap = db.to_snapshot(None);
        let bytes = snap.encode();
        let back = Snapshot::parse("s", &bytes).unwrap();
        let mut db2 = ZkDatabase::from_snapshot("s", &back, db.last_zxid).unwrap();
        db2.stats = db.stats;
        assert_eq!(db2, db);
    }
}
