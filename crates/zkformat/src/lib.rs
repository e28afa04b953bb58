//! Apache ZooKeeper 3.8's on-disk formats, read and written: the snapshot (`FileSnap`:
//! `snapshot.<zxid>`), the transaction log (`FileTxnLog`: `log.<zxid>`), the jute records in
//! them, ZooKeeper's data tree as replaying a log changes it (`DataTree.processTxn`), and the
//! session passwords ZooKeeper derives from session ids (`java.util.Random`).
//!
//! Pure: it works on byte slices the caller read; no file or socket I/O, no clock, no tokio.
//! Its `Id` and `ACL` are zk-wire's types (the same jute records as on the client wire).
//! It must never panic or allocate beyond the input's size on damaged bytes: every error
//! names the file (as the caller named it) and the byte offset.

mod error;
mod jute;
pub mod password;
pub mod records;
pub mod replay;
pub mod snapshot;
pub mod txn;
pub mod txnlog;

pub use error::{ErrorKind, FormatError};
pub use records::{Acl, FileHeader, Id, StatPersisted};
pub use replay::{NodeKind, ZkDatabase, ZkNode};
pub use snapshot::{Snapshot, SnapshotNode, ZxidDigest};
pub use txn::{OpCode, Txn, TxnDigest, TxnHeader};
pub use txnlog::{LogEnd, TxnEntry, TxnLog};

/// `"ZKSN"`: the first int of every snapshot (`FileSnap.SNAP_MAGIC`).
pub const SNAP_MAGIC: i32 = i32::from_be_bytes(*b"ZKSN");
/// `"ZKLG"`: the first int of every transaction log (`FileTxnLog.TXNLOG_MAGIC`).
pub const TXNLOG_MAGIC: i32 = i32::from_be_bytes(*b"ZKLG");
/// The file format version ZooKeeper 3.x writes in both headers.
pub const VERSION: i32 = 2;

/// The zxid a `snapshot.<hex>` or `log.<hex>` file name carries (`Util.getZxidFromName`).
pub fn zxid_from_name(name: &str, prefix: &str) -> Option<i64> {
    let rest = name.strip_prefix(prefix)?.strip_prefix('.')?;
    u64::from_str_radix(rest, 16).ok().map(|z| z as i64)
}

/// The name ZooKeeper gives the snapshot of `zxid` (`Util.makeSnapshotName`: lower-case hex,
/// no padding).
pub fn snapshot_name(zxid: i64) -> String {
    format!("snapshot.{:x}", zxid as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(zxid_from_name("snapshot.1a", "snapshot"), Some(0x1a));
        assert_eq!(zxid_from_name("log.200000001", "log"), Some(0x2_0000_0001));
        assert_eq!(zxid_from_name("log.xyz", "log"), None);
        assert_eq!(zxid_from_name("snapshot.1a.gz", "snapshot"), None);
        assert_eq!(zxid_from_name("logx.1", "log"), None);
        assert_eq!(snapshot_name(0x1_0000_001a), "snapshot.10000001a");
        assert_eq!(
            zxid_from_name(&snapshot_name(0x1_0000_001a), "snapshot"),
            Some(0x1_0000_001a)
        );
        assert_eq!(SNAP_MAGIC, 0x5A4B_534E);
        assert_eq!(TXNLOG_MAGIC, 0x5A4B_4C47);
    }
}
