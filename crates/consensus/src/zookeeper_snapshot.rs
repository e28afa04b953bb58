//! The applied state as an Apache ZooKeeper 3.8 snapshot (zk-format's records; its writer
//! encodes them): every znode with its data, ACL and every stat field, the sessions with
//! their timeouts. `zk-admin export-zookeeper` writes it as a dataDir; the node streams it
//! as an online backup (the admin HTTP `snapshot` command). It lives here, where [`State`]
//! is visible, so that zk-format stays pure and zk-node need not depend on zk-admin.

use std::collections::BTreeMap;

use zk_format::replay::{NodeKind as ZkKind, CONTAINER_OWNER};
use zk_format::{Acl, FileHeader, Snapshot, SnapshotNode, StatPersisted};
use zk_store::NodeKind;

use crate::state::State;

/// The largest TTL ZooKeeper's ephemeral-owner encoding holds
/// (`EphemeralType.EXTENDED_FEATURE_VALUE_MASK`).
const MAX_TTL_MS: i64 = 0x0000_00ff_ffff_ffff;

/// Why the state cannot be written as a ZooKeeper snapshot.
#[derive(Debug, thiserror::Error)]
pub enum ZkSnapshotError {
    /// A TTL too large for ZooKeeper's encoding.
    #[error("{path}: TTL {ttl} ms does not fit ZooKeeper's encoding")]
    Ttl {
        /// The node.
        path: String,
        /// Its TTL.
        ttl: i64,
    },
    /// An ephemeral owner ZooKeeper would read as a container or TTL marker.
    #[error(
        "{path}: session {session:#x} reads as a container or TTL owner in ZooKeeper's encoding"
    )]
    Owner {
        /// The node.
        path: String,
        /// Its owner.
        session: i64,
    },
    /// A session timeout past ZooKeeper's int.
    #[error("session {session:#x}: timeout {timeout} ms does not fit ZooKeeper's int")]
    Timeout {
        /// The session.
        session: i64,
        /// Its timeout.
        timeout: u32,
    },
}

/// The ephemeral owner ZooKeeper stores for a node of this kind (`EphemeralType`).
fn owner_of(path: &str, kind: NodeKind) -> Result<i64, ZkSnapshotError> {
    Ok(match kind {
        NodeKind::Persistent => 0,
        NodeKind::Container => CONTAINER_OWNER,
        NodeKind::Ttl(ttl) => {
            if !(0..=MAX_TTL_MS).contains(&ttl) {
                return Err(ZkSnapshotError::Ttl {
                    path: path.to_string(),
                    ttl,
                });
            }
            ZkKind::ttl_owner(ttl)
        }
        NodeKind::Ephemeral(session) => {
            // zk-node keeps the kind apart from the owner; ZooKeeper reads it from the
            // owner's top bits, so an id that looks like a container or TTL marker would
            // come back as one.
            if ZkKind::of_owner(session) != ZkKind::Ephemeral(session) {
                return Err(ZkSnapshotError::Owner {
                    path: path.to_string(),
                    session,
                });
            }
            session
        }
    })
}

/// ZooKeeper's snapshot of `state`: every node parents first (the root as `""`, as
/// `DataTree.serialize` writes it), each distinct ACL list once in the ACL cache. Its zxid is
/// `state.last_zxid` (ZooKeeper names the file after it; the body does not hold it).
pub fn zookeeper_snapshot(state: &State) -> Result<Snapshot, ZkSnapshotError> {
    let mut refs: BTreeMap<Vec<Acl>, i64> = BTreeMap::new();
    let mut nodes = Vec::new();
    for img in state.tree.images() {
        let next = refs.len() as i64 + 1;
        let reference = *refs.entry(img.acl).or_insert(next);
        let s = img.stat;
        nodes.push(SnapshotNode {
            stat: StatPersisted {
                czxid: s.czxid,
                mzxid: s.mzxid,
                ctime: s.ctime,
                mtime: s.mtime,
                version: s.version,
                cversion: s.cversion,
                aversion: s.aversion,
                ephemeral_owner: owner_of(&img.path, img.kind)?,
                pzxid: s.pzxid,
            },
            path: if img.path == "/" {
                String::new()
            } else {
                img.path
            },
            data: img.data,
            acl: reference,
        });
    }
    let mut sessions = Vec::new();
    for (id, timeout) in state.sessions.iter() {
        let t = i32::try_from(timeout).map_err(|_| ZkSnapshotError::Timeout {
            session: id.get(),
            timeout,
        })?;
        sessions.push((id.get(), t));
    }
    sessions.sort_unstable();
    Ok(Snapshot {
        header: FileHeader {
            magic: zk_format::SNAP_MAGIC,
            version: zk_format::VERSION,
            // `FileSnap` writes -1.
            dbid: -1,
        },
        sessions,
        acls: refs.into_iter().map(|(list, r)| (r, list)).collect(),
        nodes,
        digest: None,
        len: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_owner_zookeeper_would_misread_is_refused() {
        assert!(owner_of("/e", NodeKind::Ephemeral(CONTAINER_OWNER)).is_err());
        assert!(owner_of("/e", NodeKind::Ephemeral(ZkKind::ttl_owner(5))).is_err());
        assert!(owner_of("/t", NodeKind::Ttl(MAX_TTL_MS + 1)).is_err());
        assert_eq!(
            owner_of("/t", NodeKind::Ttl(5)).unwrap(),
            ZkKind::ttl_owner(5)
        );
    }
}
