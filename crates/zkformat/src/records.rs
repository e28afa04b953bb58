//! The jute records shared by snapshots and logs (`zookeeper.jute`: `FileHeader`, `Id`,
//! `ACL`, `StatPersisted`); `Id` and `ACL` are zk-wire's types, read and written here.

use crate::error::{At, ErrorKind};
use crate::jute::{Reader, Writer};

/// `FileHeader { int magic; int version; long dbid; }`, the first 16 bytes of both files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileHeader {
    /// `ZKSN` or `ZKLG`.
    pub magic: i32,
    /// 2.
    pub version: i32,
    /// The database id (-1 in snapshots, 0 in logs as ZooKeeper writes them; never read).
    pub dbid: i64,
}

impl FileHeader {
    pub(crate) fn read(r: &mut Reader<'_>, magic: i32, name: &'static str) -> Result<Self, At> {
        let found = r.int()?;
        if found != magic {
            return Err(ErrorKind::BadMagic {
                found,
                expected: magic,
                name,
            }
            .at(0));
        }
        let version = r.int()?;
        if version != crate::VERSION {
            return Err(ErrorKind::UnsupportedVersion(version).at(4));
        }
        Ok(FileHeader {
            magic: found,
            version,
            dbid: r.long()?,
        })
    }

    pub(crate) fn write(&self, w: &mut Writer) {
        w.int(self.magic);
        w.int(self.version);
        w.long(self.dbid);
    }
}

/// `Id` and `ACL` are zk-wire's types: the same jute records as on the client wire.
pub use zk_wire::{Acl, Id};

/// The smallest ACL on the wire: perms and two empty strings.
pub(crate) const MIN_ACL: usize = 12;

/// `ACL { int perms; Id id; }`.
pub(crate) fn read_acl(r: &mut Reader<'_>) -> Result<Acl, At> {
    let perms = r.int()?;
    let scheme = r.string()?;
    let id = r.string()?;
    Ok(Acl {
        perms,
        id: Id { scheme, id },
    })
}

pub(crate) fn write_acl(a: &Acl, w: &mut Writer) {
    w.int(a.perms);
    w.string(&a.id.scheme);
    w.string(&a.id.id);
}

/// A `vector<ACL>`; null reads as empty (ZooKeeper never writes a null list).
pub(crate) fn read_acl_list(r: &mut Reader<'_>) -> Result<Vec<Acl>, At> {
    let n = r.vector_len(MIN_ACL)?.unwrap_or(0);
    (0..n).map(|_| read_acl(r)).collect()
}

pub(crate) fn write_acl_list(list: &[Acl], w: &mut Writer) {
    w.int(list.len() as i32);
    for a in list {
        write_acl(a, w);
    }
}

/// `StatPersisted`: the stat as the tree keeps it (cversion counts child creates only;
/// the client sees `cversion * 2 - numChildren`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatPersisted {
    /// Created by.
    pub czxid: i64,
    /// Last modified by.
    pub mzxid: i64,
    /// Created at (ms).
    pub ctime: i64,
    /// Last modified at (ms).
    pub mtime: i64,
    /// Data version.
    pub version: i32,
    /// Child creates.
    pub cversion: i32,
    /// ACL version.
    pub aversion: i32,
    /// The owning session, or a container/TTL marker, or 0.
    pub ephemeral_owner: i64,
    /// Last child change.
    pub pzxid: i64,
}

pub(crate) const STAT_LEN: usize = 8 * 4 + 4 * 3 + 8 * 2;

impl StatPersisted {
    /// The stat of a node created at `zxid`, `time` (`DataTree.createStat`).
    pub fn created(zxid: i64, time: i64, ephemeral_owner: i64) -> Self {
        StatPersisted {
            czxid: zxid,
            mzxid: zxid,
            ctime: time,
            mtime: time,
            version: 0,
            cversion: 0,
            aversion: 0,
            ephemeral_owner,
            pzxid: zxid,
        }
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, At> {
        Ok(StatPersisted {
            czxid: r.long()?,
            mzxid: r.long()?,
            ctime: r.long()?,
            mtime: r.long()?,
            version: r.int()?,
            cversion: r.int()?,
            aversion: r.int()?,
            ephemeral_owner: r.long()?,
            pzxid: r.long()?,
        })
    }

    pub(crate) fn write(&self, w: &mut Writer) {
        w.long(self.czxid);
        w.long(self.mzxid);
        w.long(self.ctime);
        w.long(self.mtime);
        w.int(self.version);
        w.int(self.cversion);
        w.int(self.aversion);
        w.long(self.ephemeral_owner);
        w.long(self.pzxid);
    }
}
