//! `zk-admin inspect` of a zk-node data dir: what its snapshot and log hold (indexes, zxids,
//! sizes, the membership, sessions, znodes, whether every checksum held), and `--dump` of
//! the tree (in the same form as a ZooKeeper dataDir's) or of the log entries in a zxid range.

use std::fmt::Write as _;

use anyhow::Result;
use openraft::EntryPayload;
use zk_consensus::CommandOp;
use zk_format::ZkDatabase;

use crate::nodedir::{LoggedEntry, NodeDir};

fn hex(z: i64) -> String {
    format!("{z:#x}")
}

fn opt<T: std::fmt::Display>(v: &Option<T>) -> String {
    v.as_ref().map_or("none".to_string(), ToString::to_string)
}

/// The size of the files under `dir` (one level), and how many.
fn files_size(dir: &std::path::Path) -> (usize, u64) {
    std::fs::read_dir(dir).map_or((0, 0), |d| {
        d.filter_map(|e| e.ok()?.metadata().ok())
            .filter(|m| m.is_file())
            .fold((0, 0), |(n, b), m| (n + 1, b + m.len()))
    })
}

/// The summary `inspect` prints.
pub fn summary(d: &NodeDir) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "zk-node data dir {}", d.path.display());
    match &d.meta {
        Some(m) => {
            let peers: Vec<String> = m.peers.iter().map(|(i, a)| format!("{i}={a}")).collect();
            let _ = writeln!(
                out,
                "  node {} (created with peers {})",
                m.node_id,
                peers.join(",")
            );
        }
        None => {
            let _ = writeln!(out, "  no cluster meta (the node never started on it)");
        }
    }
    match &d.snapshot {
        Some(s) => {
            let file = s.file.as_ref().map_or("?".to_string(), |f| {
                f.strip_prefix(&d.path).unwrap_or(f).display().to_string()
            });
            let _ = writeln!(
                out,
                "  snapshot {file}: {} bytes, log index {} ({}), zxid {}, crc32 OK",
                s.len,
                s.last_log_id.map_or("none".into(), |l| l.index.to_string()),
                opt(&s.last_log_id),
                hex(s.zxid)
            );
        }
        None => {
            let _ = writeln!(out, "  no snapshot: the state is the whole log's");
        }
    }
    let (segments, bytes) = files_size(&d.path.join("wal"));
    let range = match (d.entries.first(), d.entries.last()) {
        (Some(a), Some(b)) => format!(
            "entries {}..={} (zxids {}..={})",
            a.entry.log_id.index,
            b.entry.log_id.index,
            hex(a.first_zxid),
            hex(b.last_zxid)
        ),
        _ => "no entries".to_string(),
    };
    let _ = writeln!(
        out,
        "  log wal/: {segments} segment files, {bytes} bytes; {range}; purged through {}, last {}, committed {}",
        opt(&d.purged),
        opt(&d.last),
        opt(&d.committed),
    );
    let voters: Vec<String> = d.voters().iter().map(|(i, a)| format!("{i}={a}")).collect();
    let _ = writeln!(out, "  members (voters): {}", voters.join(","));
    let st = &d.state;
    let mut line = format!(
        "database: last zxid {}, log index {}, {} znodes, {} sessions, {} ephemerals; {} entries applied after the snapshot",
        hex(st.last_zxid),
        opt(&d.applied_to),
        st.tree.node_count(),
        st.sessions.len(),
        st.tree.ephemeral_count(),
        d.replayed,
    );
    if d.not_applied > 0 {
        let _ = write!(
            line,
            "; {} entries past the committed id not applied (this member may not have learnt they were committed: export from the member with the highest committed index)",
            d.not_applied
        );
    }
    let _ = writeln!(out, "{line}");
    if d.ttl_creates > 0 {
        let _ = writeln!(
            out,
            "  {} TTL creates replayed with TTL nodes {}: give --ttl-nodes exactly when the node ran with it",
            d.ttl_creates,
            if st.tree.config().ttl_enabled { "on" } else { "off" }
        );
    }
    let mut sessions: Vec<(i64, u32)> = st.sessions.iter().map(|(s, t)| (s.get(), t)).collect();
    sessions.sort_unstable();
    for (id, timeout) in sessions {
        let _ = writeln!(
            out,
            "  session {} timeout {timeout} ms, {} ephemerals{}",
            hex(id),
            st.tree.ephemerals(id, "/").len(),
            if st.zookeeper_sessions.contains(&id) {
                " (imported from ZooKeeper)"
            } else {
                ""
            }
        );
    }
    let _ = writeln!(
        out,
        "checksums OK: the snapshot's crc32, every log frame's and record's crc32"
    );
    out
}

/// Every znode, as `inspect --dump tree` prints a ZooKeeper dataDir's.
pub fn dump_tree(d: &NodeDir) -> Result<String> {
    let snap = zk_consensus::zookeeper_snapshot(&d.state)?;
    let db = ZkDatabase::from_snapshot("state", &snap, d.state.last_zxid)?;
    Ok(crate::inspect::dump_tree(&db))
}

fn data_len(d: &Option<Vec<u8>>) -> String {
    d.as_ref()
        .map_or("null".into(), |b| format!("{} bytes", b.len()))
}

fn describe_txn(t: &zk_store::Txn) -> String {
    use zk_store::Txn;
    match t {
        Txn::Create {
            path,
            data,
            acl,
            mode,
            ttl,
        } => format!(
            "create {path} {mode:?} data={} acl={}{}",
            data_len(data),
            acl.len(),
            ttl.map_or(String::new(), |t| format!(" ttl={t}"))
        ),
        Txn::Delete { path, version } => format!("delete {path} version={version}"),
        Txn::SetData {
            path,
            data,
            version,
        } => format!("setData {path} data={} version={version}", data_len(data)),
        Txn::SetAcl { path, acl, version } => {
            format!("setACL {path} acl={} version={version}", acl.len())
        }
        Txn::Check { path, version } => format!("check {path} version={version}"),
        Txn::Multi(ops) => format!(
            "multi [{}]",
            ops.iter().map(describe_txn).collect::<Vec<_>>().join("; ")
        ),
        Txn::CloseSession { session_id } => format!("closeSession {}", hex(*session_id)),
        Txn::ExpireSessions(ids) => format!(
            "expireSessions [{}]",
            ids.iter().map(|i| hex(*i)).collect::<Vec<_>>().join(", ")
        ),
        Txn::DeleteContainer { path } => format!("deleteContainer {path}"),
    }
}

fn describe(op: &CommandOp) -> String {
    match op {
        CommandOp::CreateSession { timeout_ms } => format!("createSession timeout={timeout_ms}"),
        CommandOp::CloseSession { session_id, .. } => format!("closeSession {}", hex(*session_id)),
        CommandOp::ExpireSessions { ids } => format!(
            "expireSessions [{}]",
            ids.iter().map(|i| hex(*i)).collect::<Vec<_>>().join(", ")
        ),
        CommandOp::Write {
            session_id, txn, ..
        } => format!("session {} {}", hex(*session_id), describe_txn(txn)),
        CommandOp::SetSecret { .. } => "setSecret".into(),
        CommandOp::Noop => "noop".into(),
        CommandOp::ClaimSession { session_id } => format!("claimSession {}", hex(*session_id)),
        CommandOp::Reconfig { session_id, .. } => format!("reconfig session {}", hex(*session_id)),
        CommandOp::ReconfigDone { error } => format!("reconfigDone error={error:?}"),
        CommandOp::SyncConfig => "syncConfig".into(),
    }
}

/// The log entries whose commands' zxids fall in `from..=to`, one line per command (blank
/// and membership entries, which take no zxid, when the zxid before them is in the range).
pub fn dump_txns(d: &NodeDir, from: i64, to: i64) -> String {
    let mut out = String::new();
    for LoggedEntry {
        entry,
        first_zxid,
        last_zxid,
    } in &d.entries
    {
        let id = entry.log_id;
        match &entry.payload {
            EntryPayload::Normal(batch) => {
                for (zxid, cmd) in (*first_zxid..=*last_zxid).zip(batch.0.iter()) {
                    if zxid < from || zxid > to {
                        continue;
                    }
                    let _ = writeln!(
                        out,
                        "index {} ({id}) time {} zxid {} {}",
                        id.index,
                        cmd.time_ms,
                        hex(zxid),
                        describe(&cmd.op)
                    );
                }
            }
            other => {
                if *last_zxid < from || *last_zxid > to {
                    continue;
                }
                let what = match other {
                    EntryPayload::Membership(m) => {
                        let v: Vec<String> = m.voter_ids().map(|i| i.to_string()).collect();
                        format!("membership voters [{}]", v.join(","))
                    }
                    _ => "blank (a new leader's first entry)".to_string(),
                };
                let _ = writeln!(out, "index {} ({id}) {what}", id.index);
            }
        }
    }
    out
}
