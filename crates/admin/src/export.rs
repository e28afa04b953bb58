//! `zk-admin export-zookeeper`: the state a stopped zk-node serves (see `nodedir`) written as
//! an Apache ZooKeeper 3.8 dataDir: `version-2/snapshot.<zxid>` holding every znode with its
//! data, ACL and every stat field, the sessions with their timeouts (their ephemerals are the
//! nodes they own), named after zk-node's last zxid, from which ZooKeeper's zxids go on.
//!
//! Nothing else is needed: a standalone ZooKeeper loads the newest snapshot and finds no log
//! after it; a quorum member writes `currentEpoch`/`acceptedEpoch` from the snapshot's zxid
//! when they are missing (`QuorumPeer.loadDataBase`). No digest is written (it is optional:
//! ZooKeeper's tree digest is its own CRC32 scheme, which zk-node does not keep).
//!
//! Written whole or not at all (`fresh`): into a temporary sibling, the file and directories
//! synced, then renamed.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use zk_consensus::{zookeeper_snapshot as snapshot_of, State};
use zk_format::Snapshot;

/// What an export wrote, for its summary line.
#[derive(Debug)]
pub struct Exported {
    /// The snapshot file.
    pub file: PathBuf,
    /// Znodes, the root included.
    pub znodes: usize,
    /// Sessions.
    pub sessions: usize,
    /// Ephemerals.
    pub ephemerals: usize,
    /// The snapshot's zxid.
    pub zxid: i64,
    /// Its size in bytes.
    pub len: usize,
}

/// Writes `state` as the ZooKeeper dataDir `target` (missing or empty).
pub fn export(state: &State, target: &Path) -> Result<Exported> {
    let snap = snapshot_of(state)?;
    let bytes = snap.encode();
    // What ZooKeeper will read back, checked before anything is written.
    let name = zk_format::snapshot_name(state.last_zxid);
    Snapshot::parse(&name, &bytes).context("the snapshot just encoded does not read back")?;
    let staging = crate::fresh::begin(target, "export")?;
    let written = (|| {
        let v2 = staging.tmp.join("version-2");
        std::fs::create_dir_all(&v2).with_context(|| format!("creating {}", v2.display()))?;
        crate::fresh::write_synced(&v2.join(&name), &bytes)?;
        crate::fresh::sync_dir(&v2)?;
        crate::fresh::sync_dir(&staging.tmp)
    })();
    if let Err(e) = written {
        staging.abandon();
        return Err(e);
    }
    staging.commit()?;
    Ok(Exported {
        file: target.join("version-2").join(name),
        znodes: snap.nodes.len(),
        sessions: snap.sessions.len(),
        ephemerals: state.tree.ephemeral_count(),
        zxid: state.last_zxid,
        len: bytes.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use zk_format::replay::NodeKind as ZkKind;
    use zk_format::Acl as WireAcl;
    use zk_format::ZkDatabase;
    use zk_session::{Owner, SessionId};
    use zk_store::NodeKind;
    use zk_store::{DataTree, NodeImage, StoredStat, TreeConfig};

    fn image(path: &str, kind: NodeKind, acl: Vec<WireAcl>) -> NodeImage {
        NodeImage {
            path: path.into(),
            data: Some(path.as_bytes().to_vec()),
            acl,
            stat: StoredStat {
                cversion: 3,
                aversion: 2,
                version: 1,
                ..StoredStat::new(7, 1000)
            },
            kind,
        }
    }

    fn state() -> State {
        let digest = vec![WireAcl {
            perms: 31,
            id: zk_format::Id {
                scheme: "digest".into(),
                id: "u:h".into(),
            },
        }];
        let mut images = DataTree::new(TreeConfig::default()).images();
        images.extend([
            image("/a", NodeKind::Persistent, digest.clone()),
            image("/a/box", NodeKind::Container, WireAcl::open_unsafe()),
            image("/a/e", NodeKind::Ephemeral(0x55), digest),
            image("/t", NodeKind::Ttl(3_600_000), WireAcl::open_unsafe()),
        ]);
        let mut st = State::new(TreeConfig::default());
        st.tree = DataTree::from_images(images, 0x1_0000_0009, TreeConfig::default()).unwrap();
        st.last_zxid = 0x1_0000_0009;
        st.sessions
            .create(
                SessionId::from_raw(0x55).unwrap(),
                30_000,
                Owner { node: 1, token: 1 },
            )
            .unwrap();
        st
    }

    #[test]
    fn the_snapshot_reads_back_as_zookeeper_reads_it() {
        let st = state();
        let snap = snapshot_of(&st).unwrap();
        let bytes = snap.encode();
        let parsed = Snapshot::parse("snapshot.100000009", &bytes).unwrap();
        assert_eq!(parsed.sessions, vec![(0x55, 30_000)]);
        // Each distinct list once: digest, open, and /zookeeper/config's read-only one.
        assert_eq!(parsed.acls.len(), 3);
        assert_eq!(parsed.nodes[0].path, "");
        let db = ZkDatabase::from_snapshot("s", &parsed, 0x1_0000_0009).unwrap();
        for img in st.tree.images() {
            let n = &db.nodes[&img.path];
            assert_eq!(n.data, img.data, "{}", img.path);
            assert_eq!(n.stat.cversion, img.stat.cversion);
            assert_eq!(n.stat.pzxid, img.stat.pzxid);
            assert_eq!(n.acl, img.acl, "{}", img.path);
            let kind = ZkKind::of_owner(n.stat.ephemeral_owner);
            let want = match img.kind {
                NodeKind::Persistent => ZkKind::Persistent,
                NodeKind::Ephemeral(s) => ZkKind::Ephemeral(s),
                NodeKind::Container => ZkKind::Container,
                NodeKind::Ttl(t) => ZkKind::Ttl(t),
            };
            assert_eq!(kind, want, "{}", img.path);
        }
        assert_eq!(db.ephemerals_of(0x55).collect::<Vec<_>>(), ["/a/e"]);
        assert_eq!(db.nodes.len(), st.tree.node_count());
    }

    #[test]
    fn export_writes_whole_and_refuses_a_non_empty_target() {
        let scratch = tempfile::tempdir().unwrap();
        let target = scratch.path().join("zk");
        let done = export(&state(), &target).unwrap();
        assert_eq!(
            done.file,
            target.join("version-2").join("snapshot.100000009")
        );
        let bytes = std::fs::read(&done.file).unwrap();
        assert_eq!(bytes.len(), done.len);
        Snapshot::parse("x", &bytes).unwrap();
        let e = export(&state(), &target).unwrap_err();
        assert!(e.to_string().contains("not empty"), "{e}");
        // Only the target: no temporary directory left.
        assert_eq!(std::fs::read_dir(scratch.path()).unwrap().count(), 1);
    }
}
