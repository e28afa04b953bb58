//! `zk-admin import-zookeeper`: Apache ZooKeeper's database (newest valid snapshot plus the
//! logged transactions after it) written as a zk-node data dir holding the same tree, the
//! same sessions, and ZooKeeper's last zxid, from which zk-node's zxids go on.
//!
//! Nothing is written unless the whole import succeeds: the data dir is seeded into a
//! temporary sibling directory and renamed into place at the end.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context, Result};
use zk_consensus::State;
use zk_format::replay::NodeKind as ZkKind;
use zk_format::ZkDatabase;
use zk_session::{Owner, SessionId};
use zk_store::{DataTree, NodeImage, NodeKind, StoredStat, TreeConfig};

/// What an import produced, for its summary line.
#[derive(Debug)]
pub struct Imported {
    /// Znodes, the root included.
    pub znodes: usize,
    /// Live sessions.
    pub sessions: usize,
    /// Ephemerals.
    pub ephemerals: usize,
    /// ZooKeeper's last zxid, zk-node's from now on.
    pub last_zxid: i64,
}

impl Imported {
    /// `N znodes, N sessions, N ephemerals, last zxid 0x..`, as import and restore print it.
    pub fn summary(&self) -> String {
        format!(
            "{} znodes, {} sessions, {} ephemerals, last zxid {:#x}",
            self.znodes, self.sessions, self.ephemerals, self.last_zxid
        )
    }
}

/// zk-node's state holding ZooKeeper's database.
pub fn state_of(db: &ZkDatabase) -> Result<State> {
    let images = db.nodes.iter().map(|(path, n)| NodeImage {
        path: path.clone(),
        data: n.data.clone(),
        acl: n.acl.clone(),
        stat: StoredStat {
            czxid: n.stat.czxid,
            mzxid: n.stat.mzxid,
            pzxid: n.stat.pzxid,
            ctime: n.stat.ctime,
            mtime: n.stat.mtime,
            version: n.stat.version,
            cversion: n.stat.cversion,
            aversion: n.stat.aversion,
        },
        kind: match ZkKind::of_owner(n.stat.ephemeral_owner) {
            ZkKind::Persistent => NodeKind::Persistent,
            ZkKind::Ephemeral(s) => NodeKind::Ephemeral(s),
            ZkKind::Container => NodeKind::Container,
            ZkKind::Ttl(ttl) => NodeKind::Ttl(ttl),
        },
    });
    // BTreeMap order puts every parent (a prefix) before its children.
    let tree = DataTree::from_images(images, db.last_zxid, TreeConfig::default())
        .context("building zk-node's tree from ZooKeeper's")?;
    let mut state = State::new(TreeConfig::default());
    state.tree = tree;
    for (&id, &timeout) in &db.sessions {
        let sid = SessionId::from_raw(id).context("ZooKeeper's session 0")?;
        let timeout = u32::try_from(timeout)
            .with_context(|| format!("session {id:#x} has a negative timeout {timeout}"))?;
        // No connection owns an imported session until its client comes back.
        state
            .sessions
            .create(sid, timeout, Owner { node: 0, token: 0 })
            .with_context(|| format!("session {id:#x}"))?;
        // Its client holds the password ZooKeeper derived from the id.
        state.zookeeper_sessions.insert(id);
    }
    state.last_zxid = db.last_zxid;
    Ok(state)
}

/// Parses `--peers 1=host:port,2=host:port`.
pub fn parse_peers(s: &str) -> Result<BTreeMap<u64, String>> {
    let mut out = BTreeMap::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((id, addr)) = part.split_once('=') else {
            bail!("--peers: {part:?} is not ID=HOST:PORT");
        };
        let id: u64 = id
            .trim()
            .parse()
            .with_context(|| format!("--peers: bad id in {part:?}"))?;
        if out.insert(id, addr.trim().to_string()).is_some() {
            bail!("--peers: id {id} twice");
        }
    }
    if out.is_empty() {
        bail!("--peers is empty");
    }
    Ok(out)
}

/// Writes `state` as the zk-node data dir `target` (which must not exist, or be empty) for
/// node `id` of `peers`, through a temporary sibling renamed at the end.
pub fn write_data_dir(
    target: &Path,
    id: u64,
    peers: BTreeMap<u64, String>,
    state: State,
) -> Result<()> {
    let staging = crate::fresh::begin(target, "import")?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let seeded = rt.block_on(zk_consensus::seed_data_dir(&staging.tmp, id, peers, state));
    if let Err(e) = seeded {
        staging.abandon();
        return Err(e).context("writing the zk-node data dir");
    }
    staging.commit()
}

/// Imports ZooKeeper's database into the new data dir `target`.
pub fn import(
    db: &ZkDatabase,
    target: &Path,
    id: u64,
    peers: BTreeMap<u64, String>,
) -> Result<Imported> {
    let state = state_of(db)?;
    let imported = Imported {
        znodes: state.tree.node_count(),
        sessions: state.sessions.len(),
        ephemerals: state.tree.ephemeral_count(),
        last_zxid: state.last_zxid,
    };
    write_data_dir(target, id, peers, state)?;
    Ok(imported)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_parse() {
        let p = parse_peers("1=a:1,2=b:2").unwrap();
        assert_eq!(p.get(&2).map(String::as_str), Some("b:2"));
        assert!(parse_peers("1=a,1=b").is_err());
        assert!(parse_peers("x=a").is_err());
        assert!(parse_peers("").is_err());
    }
}
