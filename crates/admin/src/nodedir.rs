//! A stopped zk-node data dir, read offline the way the node reads it when it starts: sled's
//! records (cluster meta, the snapshot's record), the latest snapshot (its crc32 checked),
//! the Raft log in `wal/` (every frame's and record's crc32 checked at open), and the log
//! entries after the snapshot applied through zk-consensus's own state machine
//! ([`ZkStateMachine::apply_entries`]), so the tree is exactly the one the node would serve.
//!
//! Opening goes through the same code as the node's start, so it does what that start does
//! and nothing more: a torn last log write is cut (as a crash's leftover), a format-3 dir is
//! upgraded in place. sled's lock refuses a dir a running node holds.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use openraft::storage::RaftLogStorage;
use openraft::{EntryPayload, RaftLogReader};
use zk_consensus::{
    ClusterMeta, Entry, LogId, LogStore, OpenError, SledStorage, State, TypeConfig, ZkStateMachine,
};
use zk_store::TreeConfig;

/// What kind of data dir a path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirKind {
    /// An Apache ZooKeeper dataDir (or its `version-2/`).
    ZooKeeper,
    /// A zk-node data dir (sled's `db` and `conf`, the `wal/` log).
    ZkNode,
}

/// Which kind `dir` is, by the files in it; an error for anything else, and for a dir that
/// does not exist (nothing is created to find out).
pub fn detect(dir: &Path) -> Result<DirKind> {
    if !dir.is_dir() {
        bail!("{} is not a directory", dir.display());
    }
    let is_v2 = dir.file_name().is_some_and(|n| n == "version-2");
    if is_v2 || dir.join("version-2").is_dir() {
        return Ok(DirKind::ZooKeeper);
    }
    if dir.join("db").is_file() && dir.join("conf").is_file() {
        return Ok(DirKind::ZkNode);
    }
    bail!(
        "{} is neither an Apache ZooKeeper dataDir (no version-2/) nor a zk-node data dir \
         (no sled db and conf)",
        dir.display()
    )
}

/// One log entry with the zxids its commands took (`first..=last`; a blank or membership
/// entry takes none: `first == last + 1`).
#[derive(Debug, Clone)]
pub struct LoggedEntry {
    /// The entry.
    pub entry: Entry,
    /// The zxid of its first command.
    pub first_zxid: i64,
    /// The zxid of its last command (the zxid before it, if it has none).
    pub last_zxid: i64,
}

/// The snapshot the node would start from.
#[derive(Debug, Clone)]
pub struct SnapshotInfo {
    /// The last log entry it covers.
    pub last_log_id: Option<LogId>,
    /// The zxid it holds.
    pub zxid: i64,
    /// Its file's size in bytes.
    pub len: u64,
    /// Its file, inside the data dir.
    pub file: Option<PathBuf>,
}

/// A zk-node data dir, loaded.
pub struct NodeDir {
    /// The directory.
    pub path: PathBuf,
    /// This node's id and the peers it was created with.
    pub meta: Option<ClusterMeta>,
    /// The latest snapshot, if the node took or was seeded with one.
    pub snapshot: Option<SnapshotInfo>,
    /// The log's purge point (entries up to it are in the snapshot only).
    pub purged: Option<LogId>,
    /// The last entry in the log.
    pub last: Option<LogId>,
    /// The committed id the log recorded (a hint: may lag).
    pub committed: Option<LogId>,
    /// Every entry the log holds, oldest first.
    pub entries: Vec<LoggedEntry>,
    /// Up to which index entries were applied (see [`NodeDir::open`]).
    pub applied_to: Option<u64>,
    /// Entries after the snapshot applied.
    pub replayed: u64,
    /// Entries past the committed id left out (a member of a larger ensemble only).
    pub not_applied: u64,
    /// TTL creates applied; with TTL nodes off at apply (no `--ttl-nodes`) they fail, as on
    /// a node started without it.
    pub ttl_creates: u64,
    /// The state the node would serve.
    pub state: State,
}

fn open_err(dir: &Path, e: OpenError) -> anyhow::Error {
    let text = e.to_string();
    if text.contains("could not acquire lock") {
        anyhow::anyhow!(
            "{} is in use (sled's lock is held): stop the zk-node that runs on it first",
            dir.display()
        )
    } else {
        anyhow::Error::new(e).context(format!("opening the zk-node data dir {}", dir.display()))
    }
}

fn is_ttl_create(txn: &zk_store::Txn) -> bool {
    match txn {
        zk_store::Txn::Create { mode, .. } => mode.is_ttl(),
        zk_store::Txn::Multi(ops) => ops.iter().any(is_ttl_create),
        _ => false,
    }
}

impl NodeDir {
    /// Loads the stopped node's data dir `dir`: the snapshot, then the log entries after it
    /// up to the committed id, applied. A one-member ensemble's node commits its whole log as
    /// soon as it leads again, so for it every entry is applied; a member of a larger
    /// ensemble applies up to the committed id it recorded, and the entries past it are
    /// counted in [`NodeDir::not_applied`]. `ttl_nodes` is the node's `--ttl-nodes`.
    pub fn open(dir: &Path, ttl_nodes: bool) -> Result<NodeDir> {
        if detect(dir)? != DirKind::ZkNode {
            bail!(
                "{} is an Apache ZooKeeper dataDir, not a zk-node data dir",
                dir.display()
            );
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the runtime")?;
        let out = rt.block_on(Self::load(dir, ttl_nodes));
        // Every handle is gone (the stores were dropped inside `load`).
        drop(rt);
        out
    }

    async fn load(dir: &Path, ttl_nodes: bool) -> Result<NodeDir> {
        let config = TreeConfig {
            ttl_enabled: ttl_nodes,
        };
        let storage = SledStorage::open(dir).map_err(|e| open_err(dir, e))?;
        let meta = storage
            .cluster_meta()
            .get()
            .context("reading the cluster meta")?;
        let stored = storage
            .snapshot_store::<TypeConfig>()
            .load()
            .context("reading the snapshot")?;
        let mut log: LogStore<TypeConfig> = storage.log_store().map_err(|e| open_err(dir, e))?;
        let (mut sm, shared) = ZkStateMachine::open(&storage, config)
            .with_context(|| format!("loading the snapshot of {}", dir.display()))?;
        let start = shared.read().clone();
        let snapshot = stored.map(|(m, bytes)| SnapshotInfo {
            last_log_id: m.last_log_id,
            zxid: start.last_zxid,
            len: bytes.len() as u64,
            file: snapshot_file(dir),
        });
        let log_state = log.get_log_state().await.context("reading the log")?;
        let committed = log
            .read_committed()
            .await
            .context("reading the committed id")?;
        let raw = log
            .try_get_log_entries(..)
            .await
            .context("reading the log entries")?;
        let snap_index = start.last_applied.map(|l| l.index);
        let entries = zxids_of(raw, snap_index, start.last_zxid);

        // Which entries the node would apply when it starts: its membership is the last one
        // in its log (openraft uses a membership once appended), else the snapshot's.
        let from_snapshot = start
            .last_membership
            .membership()
            .voter_ids()
            .collect::<Vec<_>>();
        let last_membership = entries
            .iter()
            .rev()
            .find_map(|e| match &e.entry.payload {
                EntryPayload::Membership(m) => Some(m.voter_ids().collect::<Vec<_>>()),
                _ => None,
            })
            .unwrap_or(from_snapshot);
        let alone = last_membership.len() == 1
            && meta
                .as_ref()
                .is_some_and(|m| last_membership[0] == m.node_id);
        let applied_to = if alone {
            log_state.last_log_id.map(|l| l.index)
        } else {
            committed.map(|c| c.index)
        };
        let mut replay = Vec::new();
        let mut not_applied = 0;
        let mut ttl_creates = 0;
        for e in &entries {
            let i = e.entry.log_id.index;
            if snap_index.is_some_and(|s| i <= s) {
                continue;
            }
            if applied_to.is_some_and(|a| i <= a) {
                if let EntryPayload::Normal(batch) = &e.entry.payload {
                    ttl_creates += batch
                        .0
                        .iter()
                        .filter(|c| {
                            matches!(&c.op, zk_consensus::CommandOp::Write { txn, .. } if is_ttl_create(txn))
                        })
                        .count() as u64;
                }
                replay.push(e.entry.clone());
            } else {
                not_applied += 1;
            }
        }
        let replayed = replay.len() as u64;
        sm.apply_entries(replay).await;
        let state = shared.read().clone();
        drop(sm);
        drop(shared);
        let released = storage.released();
        drop(log);
        drop(storage);
        released.wait().await;
        Ok(NodeDir {
            path: dir.to_path_buf(),
            meta,
            snapshot,
            purged: log_state.last_purged_log_id,
            last: log_state.last_log_id,
            committed,
            entries,
            applied_to,
            replayed,
            not_applied,
            ttl_creates,
            state,
        })
    }

    /// The voters of the membership the loaded state holds, with their addresses.
    pub fn voters(&self) -> BTreeMap<u64, String> {
        let m = self.state.last_membership.membership();
        let voters: Vec<u64> = m.voter_ids().collect();
        m.nodes()
            .filter(|(id, _)| voters.contains(id))
            .map(|(id, n)| (*id, n.addr.clone()))
            .collect()
    }
}

/// The one file in `snapshots/` (the node removes every file its record does not name when
/// it opens, as the open above did).
fn snapshot_file(dir: &Path) -> Option<PathBuf> {
    let mut files = std::fs::read_dir(dir.join("snapshots"))
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()));
    let first = files.next()?;
    files.next().is_none().then_some(first)
}

/// Gives each entry the zxids its commands took: every command of a batch takes the next
/// zxid, blank and membership entries none. The snapshot (at index `snap_index`, zxid
/// `snap_zxid`) fixes the count: forward after it, backward for entries it covers.
fn zxids_of(raw: Vec<Entry>, snap_index: Option<u64>, snap_zxid: i64) -> Vec<LoggedEntry> {
    let commands = |e: &Entry| match &e.payload {
        EntryPayload::Normal(b) => b.0.len() as i64,
        _ => 0,
    };
    let split = raw.partition_point(|e| snap_index.is_some_and(|s| e.log_id.index <= s));
    let mut out: Vec<LoggedEntry> = Vec::with_capacity(raw.len());
    // Backward over the entries the snapshot covers.
    let mut last = snap_zxid;
    let mut before = Vec::with_capacity(split);
    for e in raw[..split].iter().rev() {
        let n = commands(e);
        before.push(LoggedEntry {
            entry: e.clone(),
            first_zxid: last - n + 1,
            last_zxid: last,
        });
        last -= n;
    }
    out.extend(before.into_iter().rev());
    let mut last = snap_zxid;
    for e in &raw[split..] {
        let n = commands(e);
        out.push(LoggedEntry {
            entry: e.clone(),
            first_zxid: last + 1,
            last_zxid: last + n,
        });
        last += n;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use openraft::impls::leader_id_adv::LeaderId;
    use openraft::vote::RaftLeaderId;
    use zk_consensus::{Batch, Command, CommandOp};

    fn entry(index: u64, commands: usize) -> Entry {
        let cmds: Vec<Command> = (0..commands)
            .map(|_| Command {
                time_ms: 1,
                origin: None,
                op: CommandOp::Noop,
            })
            .collect();
        Entry {
            log_id: LogId::new(LeaderId::new(1, 1), index),
            payload: if commands == 0 {
                EntryPayload::Blank
            } else {
                EntryPayload::Normal(Batch(cmds.into()))
            },
        }
    }

    #[test]
    fn zxids_count_commands_both_ways_from_the_snapshot() {
        // Entries 3..=7; the snapshot covers up to 5, at zxid 10.
        let raw = vec![
            entry(3, 2),
            entry(4, 0),
            entry(5, 3),
            entry(6, 1),
            entry(7, 2),
        ];
        let z: Vec<(i64, i64)> = zxids_of(raw, Some(5), 10)
            .iter()
            .map(|e| (e.first_zxid, e.last_zxid))
            .collect();
        assert_eq!(z, [(6, 7), (8, 7), (8, 10), (11, 11), (12, 13)]);
        // No snapshot: from zxid 0.
        let z: Vec<(i64, i64)> = zxids_of(vec![entry(0, 0), entry(1, 2)], None, 0)
            .iter()
            .map(|e| (e.first_zxid, e.last_zxid))
            .collect();
        assert_eq!(z, [(1, 0), (1, 2)]);
    }

    #[test]
    fn kinds_are_told_apart_and_nothing_is_created() {
        let scratch = tempfile::tempdir().unwrap();
        let missing = scratch.path().join("missing");
        assert!(detect(&missing).is_err());
        assert!(NodeDir::open(&missing, false).is_err());
        assert!(!missing.exists());
        let empty = scratch.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        let e = detect(&empty).unwrap_err();
        assert!(e.to_string().contains("neither"), "{e}");
        assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 0);
        let zk = scratch.path().join("zk");
        std::fs::create_dir_all(zk.join("version-2")).unwrap();
        assert_eq!(detect(&zk).unwrap(), DirKind::ZooKeeper);
        assert_eq!(detect(&zk.join("version-2")).unwrap(), DirKind::ZooKeeper);
        assert!(NodeDir::open(&zk, false).is_err());
    }

    #[test]
    fn a_seeded_dir_loads_with_its_state() {
        let scratch = tempfile::tempdir().unwrap();
        let dir = scratch.path().join("node");
        let mut state = State::new(TreeConfig::default());
        state.last_zxid = 0x2_0000_0005;
        let peers: BTreeMap<u64, String> = [(1, "standalone".to_string())].into();
        crate::import::write_data_dir(&dir, 1, peers.clone(), state.clone()).unwrap();
        assert_eq!(detect(&dir).unwrap(), DirKind::ZkNode);
        let d = NodeDir::open(&dir, false).unwrap();
        assert_eq!(d.state.tree, state.tree);
        assert_eq!(d.state.last_zxid, 0x2_0000_0005);
        assert_eq!(d.replayed, 0);
        assert_eq!(d.not_applied, 0);
        assert_eq!(d.voters(), peers);
        assert_eq!(d.snapshot.as_ref().map(|s| s.zxid), Some(0x2_0000_0005));
        assert!(d.snapshot.as_ref().is_some_and(|s| s.file.is_some()));
        // Opened again: it was released.
        NodeDir::open(&dir, false).unwrap();
    }
}
