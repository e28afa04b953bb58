//! A tree built from, or listed as, plain node records: how another system's data (Apache
//! ZooKeeper's snapshot, imported by `zk-admin`) becomes a tree, and how a tree is written
//! out for it. Every stat field is taken as given: nothing is recomputed.

use std::collections::BTreeSet;
use std::sync::Arc;

use zk_wire::Acl;

use crate::error::SnapshotError;
use crate::node::{Node, NodeKind, StoredStat};
use crate::path;
use crate::tree::{DataTree, TreeConfig};

/// One node as a plain record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeImage {
    /// Its full path (`/` for the root).
    pub path: String,
    /// Its data (`None`: null).
    pub data: Option<Vec<u8>>,
    /// Its ACL.
    pub acl: Vec<Acl>,
    /// Its stat as stored (cversion counts child creates, as ZooKeeper's `StatPersisted`).
    pub stat: StoredStat,
    /// Persistent, ephemeral (with its session), container or TTL.
    pub kind: NodeKind,
}

impl DataTree {
    /// The tree holding exactly `nodes`, the root first and every parent before its
    /// children, with `last_zxid` as its last zxid. A node without its parent, a child of an
    /// ephemeral, a bad or repeated path is an error.
    pub fn from_images(
        nodes: impl IntoIterator<Item = NodeImage>,
        last_zxid: i64,
        config: TreeConfig,
    ) -> Result<DataTree, SnapshotError> {
        let invalid = |m: String| SnapshotError::Invalid(m);
        let mut t = DataTree::empty(config);
        t.last_zxid = last_zxid;
        for (i, n) in nodes.into_iter().enumerate() {
            let p = n.path.as_str();
            if i == 0 {
                if p != path::ROOT {
                    return Err(invalid(format!("the first node is {p:?}, not the root")));
                }
            } else {
                if p == path::ROOT || path::validate_path(p).is_err() {
                    return Err(invalid(format!("bad node path {p:?}")));
                }
                if t.nodes.contains_key(p) {
                    return Err(invalid(format!("node {p} appears twice")));
                }
                match t.nodes.get(path::parent_of(p)) {
                    None => return Err(invalid(format!("node {p} comes before its parent"))),
                    Some(parent) if matches!(parent.kind, NodeKind::Ephemeral(_)) => {
                        return Err(invalid(format!("node {p} is the child of an ephemeral")))
                    }
                    Some(_) => {}
                }
            }
            let acl = t.acls.intern(&n.acl);
            let node = Node {
                data: n.data.map(Vec::into_boxed_slice),
                stat: n.stat,
                acl,
                kind: n.kind,
                children: BTreeSet::new(),
            };
            if i == 0 {
                t.nodes.insert(path::ROOT.into(), Arc::new(node));
            } else {
                t.insert_node(p, node);
            }
        }
        if t.nodes.is_empty() {
            return Err(invalid("no root node".into()));
        }
        Ok(t)
    }

    /// Every node as a record, the root first, parents before children, children in name
    /// order.
    pub fn images(&self) -> Vec<NodeImage> {
        let mut out = Vec::with_capacity(self.nodes.len());
        let mut stack = vec![path::ROOT.to_owned()];
        while let Some(p) = stack.pop() {
            let Some(n) = self.nodes.get(p.as_str()) else {
                continue;
            };
            for c in n.children.iter().rev() {
                stack.push(path::join(&p, c));
            }
            out.push(NodeImage {
                data: n.data.as_deref().map(<[u8]>::to_vec),
                acl: self.acl_of(n).to_vec(),
                stat: n.stat,
                kind: n.kind,
                path: p,
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_round_trip_a_fresh_tree_and_more() {
        let t = DataTree::new(TreeConfig::default());
        let mut images = t.images();
        assert_eq!(images[0].path, "/");
        images.push(NodeImage {
            path: "/e".into(),
            data: None,
            acl: Acl::open_unsafe(),
            stat: StoredStat::new(7, 70),
            kind: NodeKind::Ephemeral(0x55),
        });
        let t2 = DataTree::from_images(images.clone(), 7, TreeConfig::default()).unwrap();
        assert_eq!(t2.images(), {
            let mut sorted = images.clone();
            sorted.sort_by(|a, b| a.path.cmp(&b.path));
            sorted
        });
        assert_eq!(t2.ephemerals(0x55, "/"), ["/e"]);
        assert_eq!(t2.last_zxid(), 7);
        assert!(t2.stat("/e").is_some_and(|s| s.ephemeral_owner == 0x55));
    }

    #[test]
    fn orphans_and_bad_orders_are_errors() {
        let root = DataTree::new(TreeConfig::default()).images().remove(0);
        let node = |p: &str, kind| NodeImage {
            path: p.into(),
            data: None,
            acl: Acl::open_unsafe(),
            stat: StoredStat::default(),
            kind,
        };
        let cases = [
            vec![node("/a", NodeKind::Persistent)],
            vec![root.clone(), node("/a/b", NodeKind::Persistent)],
            vec![
                root.clone(),
                node("/a", NodeKind::Ephemeral(1)),
                node("/a/b", NodeKind::Persistent),
            ],
            vec![
                root.clone(),
                node("/a", NodeKind::Persistent),
                node("/a", NodeKind::Persistent),
            ],
            vec![root, node("a", NodeKind::Persistent)],
            vec![],
        ];
        for c in cases {
            assert!(DataTree::from_images(c, 0, TreeConfig::default()).is_err());
        }
    }
}
