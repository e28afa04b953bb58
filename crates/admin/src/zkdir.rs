//! An Apache ZooKeeper data dir on disk: its `version-2/` files found and read, the newest
//! valid snapshot chosen as `FileSnap.deserialize` chooses it, and the logged transactions
//! after it replayed as `FileTxnSnapLog.restore` replays them, every checksum verified.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use zk_format::{Snapshot, TxnEntry, TxnLog, ZkDatabase};

/// One `snapshot.<zxid>` or `log.<zxid>` file.
#[derive(Debug, Clone)]
pub struct ZkFile {
    /// Its path.
    pub path: PathBuf,
    /// Its name.
    pub name: String,
    /// The zxid in its name.
    pub zxid: i64,
}

/// The files of a ZooKeeper data dir (and data log dir), oldest first.
#[derive(Debug, Clone)]
pub struct ZkDir {
    /// Where the snapshots are (`.../version-2`).
    pub snap_dir: PathBuf,
    /// Where the logs are.
    pub log_dir: PathBuf,
    /// `snapshot.*`, by zxid.
    pub snapshots: Vec<ZkFile>,
    /// `log.*`, by zxid.
    pub logs: Vec<ZkFile>,
}

/// `dir` itself if it is a `version-2` dir, else `dir/version-2`.
fn version2(dir: &Path) -> Result<PathBuf> {
    if dir.file_name().is_some_and(|n| n == "version-2") {
        return Ok(dir.to_path_buf());
    }
    let v2 = dir.join("version-2");
    if !v2.is_dir() {
        bail!(
            "{} has no version-2/ directory: not an Apache ZooKeeper dataDir",
            dir.display()
        );
    }
    Ok(v2)
}

fn list(dir: &Path, prefix: &str) -> Result<Vec<ZkFile>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let e = e.with_context(|| format!("reading {}", dir.display()))?;
        let Ok(name) = e.file_name().into_string() else {
            continue;
        };
        if let Some(zxid) = zk_format::zxid_from_name(&name, prefix) {
            out.push(ZkFile {
                path: e.path(),
                name,
                zxid,
            });
        } else if name.starts_with(&format!("{prefix}.")) {
            // A compressed snapshot (zookeeper.snapshot.compression.method) or a stray.
            bail!(
                "{}: not a file this tool reads (compressed snapshots are not supported: \
                 start ZooKeeper with snapshot compression off and take a snapshot first)",
                e.path().display()
            );
        }
    }
    out.sort_by_key(|f| f.zxid);
    Ok(out)
}

impl ZkDir {
    /// Finds the files of the data dir `data_dir` (and of `log_dir` if the logs are apart,
    /// ZooKeeper's dataLogDir).
    pub fn open(data_dir: &Path, log_dir: Option<&Path>) -> Result<ZkDir> {
        let snap_dir = version2(data_dir)?;
        let log_dir = match log_dir {
            Some(d) => version2(d)?,
            None => snap_dir.clone(),
        };
        Ok(ZkDir {
            snapshots: list(&snap_dir, "snapshot")?,
            logs: list(&log_dir, "log")?,
            snap_dir,
            log_dir,
        })
    }

    /// Reads and verifies one snapshot.
    pub fn read_snapshot(&self, f: &ZkFile) -> Result<Snapshot> {
        let bytes =
            std::fs::read(&f.path).with_context(|| format!("reading {}", f.path.display()))?;
        Ok(Snapshot::parse(&f.path.display().to_string(), &bytes)?)
    }

    /// Reads and verifies one log; only the newest may end in a torn record.
    pub fn read_log(&self, f: &ZkFile) -> Result<TxnLog> {
        let bytes =
            std::fs::read(&f.path).with_context(|| format!("reading {}", f.path.display()))?;
        let newest = self.logs.last().is_some_and(|l| l.path == f.path);
        Ok(TxnLog::parse(
            &f.path.display().to_string(),
            &bytes,
            newest,
        )?)
    }
}

/// What loading found besides the database.
#[derive(Debug, Default)]
pub struct LoadReport {
    /// The snapshot used.
    pub snapshot: String,
    /// Newer snapshots that failed verification and were passed over, with why.
    pub skipped_snapshots: Vec<String>,
    /// Transactions replayed after the snapshot.
    pub replayed: u64,
    /// Log files read.
    pub logs_read: Vec<String>,
    /// A torn last record of the newest log, where it starts.
    pub torn_tail: Option<String>,
}

/// Whether `next` can follow `prev` with nothing missing between: the next counter in the
/// same epoch, or the first transaction of a later epoch (a new leader's epoch starts at
/// counter 0, which is never logged).
fn follows(prev: i64, next: i64) -> bool {
    let (pe, ne) = (prev >> 32, next >> 32);
    next == prev + 1 || (ne > pe && next & 0xffff_ffff == 1)
}

impl ZkDir {
    /// The database ZooKeeper would load: the newest snapshot that verifies (newer broken
    /// ones are passed over, as ZooKeeper does, and reported), then every logged
    /// transaction after it, which must follow on with no zxid missing.
    pub fn load(&self) -> Result<(ZkDatabase, LoadReport)> {
        let mut report = LoadReport::default();
        let mut chosen = None;
        for f in self.snapshots.iter().rev() {
            match self.read_snapshot(f) {
                Ok(s) => {
                    chosen = Some((f, s));
                    break;
                }
                Err(e) => report.skipped_snapshots.push(format!("{e:#}")),
            }
        }
        let Some((file, snap)) = chosen else {
            if self.snapshots.is_empty() {
                bail!("{}: no snapshot.* file", self.snap_dir.display());
            }
            bail!(
                "no valid snapshot in {}: {}",
                self.snap_dir.display(),
                report.skipped_snapshots.join("; ")
            );
        };
        report.snapshot = file.name.clone();
        let mut db = ZkDatabase::from_snapshot(&file.path.display().to_string(), &snap, file.zxid)?;
        // FileTxnLog.getLogFiles: the log that starts at or before the snapshot's zxid + 1,
        // and every later one.
        let start = self
            .logs
            .iter()
            .rposition(|l| l.zxid <= file.zxid + 1)
            .unwrap_or(0);
        let mut prev = file.zxid;
        for log in &self.logs[start..] {
            let parsed = self.read_log(log)?;
            report.logs_read.push(log.name.clone());
            for TxnEntry {
                offset,
                header,
                txn,
                ..
            } in &parsed.entries
            {
                if header.zxid <= file.zxid {
                    continue;
                }
                if !follows(prev, header.zxid) {
                    bail!(
                        "{}: at byte {offset}: zxid {:#x} does not follow {prev:#x}: \
                         transactions are missing (a log file deleted?)",
                        log.path.display(),
                        header.zxid
                    );
                }
                db.apply(header, txn);
                report.replayed += 1;
                prev = header.zxid;
            }
            if let zk_format::LogEnd::Torn { offset, reason } = &parsed.end {
                report.torn_tail = Some(format!(
                    "{}: at byte {offset}: torn last record ({reason}), taken as the end of the log",
                    log.path.display()
                ));
            }
        }
        Ok((db, report))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zk_format::{FileHeader, OpCode, SnapshotNode, StatPersisted, Txn, TxnHeader};

    /// A dataDir with an empty tree at zxid 0 and one log holding sessions at `zxids`.
    fn data_dir(zxids: &[i64], cut: usize) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let v2 = dir.path().join("version-2");
        std::fs::create_dir(&v2).unwrap();
        let snap = Snapshot {
            header: FileHeader {
                magic: zk_format::SNAP_MAGIC,
                version: 2,
                dbid: -1,
            },
            sessions: vec![],
            acls: Default::default(),
            nodes: vec![SnapshotNode {
                path: String::new(),
                data: None,
                acl: -1,
                stat: StatPersisted::default(),
            }],
            digest: None,
            len: 0,
        };
        std::fs::write(v2.join("snapshot.0"), snap.encode()).unwrap();
        let entries: Vec<_> = zxids
            .iter()
            .map(|&z| {
                let h = TxnHeader {
                    client_id: z,
                    cxid: 0,
                    zxid: z,
                    time: z,
                    op: OpCode::CREATE_SESSION,
                };
                (h, Txn::CreateSession { timeout: 5000 }, None)
            })
            .collect();
        let header = FileHeader {
            magic: zk_format::TXNLOG_MAGIC,
            version: 2,
            dbid: 0,
        };
        let mut log = TxnLog::encode(&header, &entries, 0);
        log.truncate(log.len() - cut);
        std::fs::write(v2.join("log.1"), log).unwrap();
        dir
    }

    #[test]
    fn replays_the_log_after_the_snapshot() {
        let dir = data_dir(&[1, 2, 3], 0);
        let (db, report) = ZkDir::open(dir.path(), None).unwrap().load().unwrap();
        assert_eq!(
            (db.last_zxid, db.sessions.len(), report.replayed),
            (3, 3, 3)
        );
        assert!(report.torn_tail.is_none());
    }

    #[test]
    fn a_torn_last_record_is_the_end_and_reported() {
        let dir = data_dir(&[1, 2, 3], 5);
        let (db, report) = ZkDir::open(dir.path(), None).unwrap().load().unwrap();
        assert_eq!(db.last_zxid, 2);
        assert!(report.torn_tail.is_some_and(|t| t.contains("torn")));
    }

    #[test]
    fn a_missing_txn_is_refused() {
        let dir = data_dir(&[1, 2, 4], 0);
        let e = ZkDir::open(dir.path(), None).unwrap().load().unwrap_err();
        assert!(format!("{e:#}").contains("does not follow"), "{e:#}");
    }

    #[test]
    fn zxid_succession() {
        assert!(follows(0x1_0000_0005, 0x1_0000_0006));
        assert!(follows(0x1_0000_0005, 0x2_0000_0001));
        assert!(!follows(0x1_0000_0005, 0x1_0000_0007));
        assert!(!follows(0x1_0000_0005, 0x2_0000_0002));
        assert!(follows(0, 1));
    }
}
