//! `zk-admin inspect`: what an Apache ZooKeeper data dir holds, every checksum verified, and
//! `--dump` of the tree (as SnapshotFormatter prints it) or of a zxid range of transactions
//! (as TxnLogToolkit prints them).

use std::fmt::Write as _;

use anyhow::Result;
use zk_format::{OpCode, Txn, TxnEntry, ZkDatabase};

use crate::zkdir::ZkDir;

/// What to dump after the summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Dump {
    /// Every znode of the loaded database: path, stat, ACL, data.
    Tree,
    /// The logged transactions in the zxid range.
    Txns,
}

fn hex(z: i64) -> String {
    format!("{z:#x}")
}

/// What `inspect` found.
pub struct Summary {
    /// The text to print.
    pub text: String,
    /// The database ZooKeeper would load, if it loads.
    pub db: Option<ZkDatabase>,
    /// Files that failed verification.
    pub damaged: usize,
}

/// The summary of every file, then of the database ZooKeeper would load. A damaged file is
/// reported on its line.
pub fn summary(dir: &ZkDir) -> Summary {
    let mut out = String::new();
    let _ = writeln!(out, "Apache ZooKeeper data dir {}", dir.snap_dir.display());
    if dir.log_dir != dir.snap_dir {
        let _ = writeln!(out, "data log dir {}", dir.log_dir.display());
    }
    let mut damaged = 0;
    for f in &dir.snapshots {
        match dir.read_snapshot(f) {
            Ok(s) => {
                let digest = s.digest.map_or("no digest".to_string(), |d| {
                    format!("digest {:#x} at zxid {}", d.digest, hex(d.zxid))
                });
                let _ = writeln!(
                    out,
                    "  {:<24} {:>10} bytes  zxid {}  {} sessions  {} znodes  {} ACL lists  {digest}  checksums OK",
                    f.name,
                    s.len,
                    hex(f.zxid),
                    s.sessions.len(),
                    s.nodes.len(),
                    s.acls.len()
                );
            }
            Err(e) => {
                damaged += 1;
                let _ = writeln!(out, "  {:<24} DAMAGED: {e:#}", f.name);
            }
        }
    }
    for f in &dir.logs {
        match dir.read_log(f) {
            Ok(l) => {
                let range = match (l.entries.first(), l.entries.last()) {
                    (Some(a), Some(b)) => {
                        format!("zxids {}..{}", hex(a.header.zxid), hex(b.header.zxid))
                    }
                    _ => "no transactions".to_string(),
                };
                let end = match &l.end {
                    zk_format::LogEnd::Eof { offset } => format!("ends at byte {offset}"),
                    zk_format::LogEnd::Preallocated { offset } => {
                        format!("ends at byte {offset} (preallocated zeros after)")
                    }
                    zk_format::LogEnd::Torn { offset, reason } => {
                        format!("TORN last record at byte {offset}: {reason}")
                    }
                };
                let _ = writeln!(
                    out,
                    "  {:<24} {:>10} bytes  {} txns  {range}  {end}  checksums OK",
                    f.name,
                    l.len,
                    l.entries.len()
                );
            }
            Err(e) => {
                damaged += 1;
                let _ = writeln!(out, "  {:<24} DAMAGED: {e:#}", f.name);
            }
        }
    }
    match dir.load() {
        Ok((db, report)) => {
            let ephemerals: usize = db
                .sessions
                .keys()
                .map(|s| db.ephemerals_of(*s).count())
                .sum();
            let _ = writeln!(
                out,
                "database: {} + {} txns from {}: last zxid {}, {} znodes, {} sessions, {} ephemerals{}",
                report.snapshot,
                report.replayed,
                if report.logs_read.is_empty() { "no log".to_string() } else { report.logs_read.join(", ") },
                hex(db.last_zxid),
                db.nodes.len(),
                db.sessions.len(),
                ephemerals,
                if damaged > 0 { format!(" ({damaged} damaged files above)") } else { String::new() }
            );
            for s in &report.skipped_snapshots {
                let _ = writeln!(out, "  passed over: {s}");
            }
            if let Some(t) = &report.torn_tail {
                let _ = writeln!(out, "  {t}");
            }
            for (id, timeout) in &db.sessions {
                let _ = writeln!(
                    out,
                    "  session {} timeout {timeout} ms, {} ephemerals",
                    hex(*id),
                    db.ephemerals_of(*id).count()
                );
            }
            Summary {
                text: out,
                db: Some(db),
                damaged,
            }
        }
        Err(e) => {
            let _ = writeln!(out, "database: cannot be loaded: {e:#}");
            Summary {
                text: out,
                db: None,
                damaged,
            }
        }
    }
}

fn data_text(d: &Option<Vec<u8>>) -> String {
    match d {
        None => "null".into(),
        Some(b) => match std::str::from_utf8(b) {
            Ok(s) if !s.chars().any(char::is_control) => format!("{s:?}"),
            _ => format!(
                "0x{}",
                b.iter().map(|x| format!("{x:02x}")).collect::<String>()
            ),
        },
    }
}

/// Every znode as SnapshotFormatter lists it.
pub fn dump_tree(db: &ZkDatabase) -> String {
    let mut out = String::new();
    for (path, n) in &db.nodes {
        let s = &n.stat;
        let _ = writeln!(out, "{path}");
        let _ = writeln!(
            out,
            "  cZxid = {}\n  ctime = {}\n  mZxid = {}\n  mtime = {}\n  pZxid = {}\n  cversion = {}\n  dataVersion = {}\n  aclVersion = {}\n  ephemeralOwner = {}\n  dataLength = {}",
            hex(s.czxid),
            s.ctime,
            hex(s.mzxid),
            s.mtime,
            hex(s.pzxid),
            s.cversion,
            s.version,
            s.aversion,
            hex(s.ephemeral_owner),
            n.data.as_ref().map_or(0, Vec::len)
        );
        let acl: Vec<String> = n
            .acl
            .iter()
            .map(|a| format!("{}:{}:{}", a.id.scheme, a.id.id, a.perms))
            .collect();
        let _ = writeln!(
            out,
            "  acl = [{}]\n  data = {}",
            acl.join(", "),
            data_text(&n.data)
        );
    }
    out
}

fn describe(op: i32, txn: &Txn) -> String {
    let name = OpCode::name(op);
    match txn {
        Txn::Create {
            path,
            data,
            ephemeral,
            parent_cversion,
            acl,
        } => format!(
            "{name} {path} data={} acl={} ephemeral={ephemeral} parentCVersion={parent_cversion}",
            data_text(data),
            acl.len()
        ),
        Txn::CreateTtl {
            path,
            data,
            ttl,
            parent_cversion,
            ..
        } => {
            format!(
                "{name} {path} data={} ttl={ttl} parentCVersion={parent_cversion}",
                data_text(data)
            )
        }
        Txn::CreateContainer {
            path,
            data,
            parent_cversion,
            ..
        } => {
            format!(
                "{name} {path} data={} parentCVersion={parent_cversion}",
                data_text(data)
            )
        }
        Txn::Delete { path } => format!("{name} {path}"),
        Txn::SetData {
            path,
            data,
            version,
        } => format!("{name} {path} data={} version={version}", data_text(data)),
        Txn::SetAcl { path, acl, version } => {
            format!("{name} {path} acl={} version={version}", acl.len())
        }
        Txn::Check { path, version } => format!("{name} {path} version={version}"),
        Txn::CreateSession { timeout } => format!("{name} timeout={timeout}"),
        Txn::CloseSession { paths } => {
            format!("{name} paths={:?}", paths.as_deref().unwrap_or_default())
        }
        Txn::Error { err } => format!("{name} err={err}"),
        Txn::Multi(subs) => format!(
            "{name} [{}]",
            subs.iter()
                .map(|(o, t)| describe(*o, t))
                .collect::<Vec<_>>()
                .join("; ")
        ),
    }
}

/// The logged transactions with zxids in `from..=to`, one line each.
pub fn dump_txns(dir: &ZkDir, from: i64, to: i64) -> Result<String> {
    let mut out = String::new();
    for f in &dir.logs {
        let log = dir.read_log(f)?;
        for TxnEntry {
            offset,
            header,
            txn,
            digest,
        } in &log.entries
        {
            if header.zxid < from || header.zxid > to {
                continue;
            }
            let _ = writeln!(
                out,
                "{} byte {offset}: time {} session {} cxid {:#x} zxid {} {}{}",
                f.name,
                header.time,
                hex(header.client_id),
                header.cxid,
                hex(header.zxid),
                describe(header.op, txn),
                digest.map_or(String::new(), |d| format!(" digest {:#x}", d.tree_digest))
            );
        }
    }
    Ok(out)
}
