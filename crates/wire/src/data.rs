//! The data records shared by requests, responses and the store: `Id`, `ACL`, `Stat`, and the
//! create modes and permission bits of `ZooDefs`/`CreateMode`.

use crate::jute::{DecodeError, JuteWrite, Reader, Record};

/// Permission bits of an ACL entry (`ZooDefs.Perms`).
pub mod perms {
    /// Read data and list children.
    pub const READ: i32 = 1;
    /// Set data.
    pub const WRITE: i32 = 2;
    /// Create children.
    pub const CREATE: i32 = 4;
    /// Delete children.
    pub const DELETE: i32 = 8;
    /// Set the ACL.
    pub const ADMIN: i32 = 16;
    /// Everything.
    pub const ALL: i32 = READ | WRITE | CREATE | DELETE | ADMIN;
}

/// An identity under an auth scheme: `world:anyone`, `digest:user:hash`, `ip:10.0.0.1`, ...
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Id {
    /// The auth scheme.
    pub scheme: String,
    /// The identity within the scheme.
    pub id: String,
}

impl Id {
    /// An id from its two parts.
    pub fn new(scheme: impl Into<String>, id: impl Into<String>) -> Self {
        Id {
            scheme: scheme.into(),
            id: id.into(),
        }
    }

    /// `world:anyone`.
    pub fn anyone() -> Self {
        Id::new("world", "anyone")
    }
}

impl Record for Id {
    fn encode(&self, out: &mut Vec<u8>) {
        out.write_str(&self.scheme);
        out.write_str(&self.id);
    }

    /// A null part reads as empty: kazoo writes every empty string as null (-1), e.g. the
    /// `auth:` id of its CREATOR_ALL_ACL, and ZooKeeper accepts it.
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut part = || -> Result<String, DecodeError> {
            Ok(r.read_ustring()?.map(str::to_owned).unwrap_or_default())
        };
        Ok(Id {
            scheme: part()?,
            id: part()?,
        })
    }
}

/// One ACL entry: the permissions an identity has.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Acl {
    /// Bits from [`perms`].
    pub perms: i32,
    /// Who gets them.
    pub id: Id,
}

impl Acl {
    /// Smallest encoded size of an ACL entry (perms + two empty strings).
    pub const MIN_ENCODED: usize = 12;

    /// `world:anyone` with every permission (`ZooDefs.Ids.OPEN_ACL_UNSAFE`).
    pub fn open_unsafe() -> Vec<Acl> {
        vec![Acl {
            perms: perms::ALL,
            id: Id::anyone(),
        }]
    }

    /// `world:anyone` may read (`ZooDefs.Ids.READ_ACL_UNSAFE`).
    pub fn read_unsafe() -> Vec<Acl> {
        vec![Acl {
            perms: perms::READ,
            id: Id::anyone(),
        }]
    }

    /// Every permission for whoever created the node (`ZooDefs.Ids.CREATOR_ALL_ACL`).
    pub fn creator_all() -> Vec<Acl> {
        vec![Acl {
            perms: perms::ALL,
            id: Id::new("auth", ""),
        }]
    }
}

impl Record for Acl {
    fn encode(&self, out: &mut Vec<u8>) {
        out.write_i32(self.perms);
        self.id.encode(out);
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Acl {
            perms: r.read_i32()?,
            id: Id::decode(r)?,
        })
    }
}

/// Reads a vector of ACL entries.
pub fn read_acls(r: &mut Reader<'_>) -> Result<Vec<Acl>, DecodeError> {
    r.read_vec(Acl::MIN_ENCODED, Acl::decode)
}

/// Writes a vector of ACL entries.
pub fn write_acls(out: &mut Vec<u8>, acls: &[Acl]) {
    out.write_vec(acls, |w, a| a.encode(w));
}

/// A node's metadata as the client sees it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Stat {
    /// zxid of the create.
    pub czxid: i64,
    /// zxid of the last data change.
    pub mzxid: i64,
    /// Creation time, ms since the epoch.
    pub ctime: i64,
    /// Last modification time, ms since the epoch.
    pub mtime: i64,
    /// Number of data changes.
    pub version: i32,
    /// Number of child-list changes (creates and deletes).
    pub cversion: i32,
    /// Number of ACL changes.
    pub aversion: i32,
    /// Owning session of an ephemeral node, 0 otherwise.
    pub ephemeral_owner: i64,
    /// Length of the data.
    pub data_length: i32,
    /// Number of children.
    pub num_children: i32,
    /// zxid of the last child-list change.
    pub pzxid: i64,
}

impl Stat {
    /// Encoded size: 6 longs and 5 ints.
    pub const ENCODED_LEN: usize = 6 * 8 + 5 * 4;
}

impl Record for Stat {
    fn encode(&self, out: &mut Vec<u8>) {
        out.write_i64(self.czxid);
        out.write_i64(self.mzxid);
        out.write_i64(self.ctime);
        out.write_i64(self.mtime);
        out.write_i32(self.version);
        out.write_i32(self.cversion);
        out.write_i32(self.aversion);
        out.write_i64(self.ephemeral_owner);
        out.write_i32(self.data_length);
        out.write_i32(self.num_children);
        out.write_i64(self.pzxid);
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Stat {
            czxid: r.read_i64()?,
            mzxid: r.read_i64()?,
            ctime: r.read_i64()?,
            mtime: r.read_i64()?,
            version: r.read_i32()?,
            cversion: r.read_i32()?,
            aversion: r.read_i32()?,
            ephemeral_owner: r.read_i64()?,
            data_length: r.read_i32()?,
            num_children: r.read_i32()?,
            pzxid: r.read_i64()?,
        })
    }
}

/// How a node is created (`CreateMode`), from the `flags` of a create request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum CreateMode {
    /// Lives until deleted (flags 0).
    Persistent,
    /// Deleted with its owning session (flags 1).
    Ephemeral,
    /// Persistent with a counter suffix (flags 2).
    PersistentSequential,
    /// Ephemeral with a counter suffix (flags 3).
    EphemeralSequential,
    /// Deleted by the server once its last child is gone.
    Container,
    /// Deleted by the server after its TTL with no children and no change.
    PersistentWithTtl,
    /// A TTL node with a counter suffix.
    PersistentSequentialWithTtl,
}

impl CreateMode {
    /// Every mode.
    pub const ALL: [CreateMode; 7] = [
        CreateMode::Persistent,
        CreateMode::Ephemeral,
        CreateMode::PersistentSequential,
        CreateMode::EphemeralSequential,
        CreateMode::Container,
        CreateMode::PersistentWithTtl,
        CreateMode::PersistentSequentialWithTtl,
    ];

    /// The `flags` integer on the wire.
    pub const fn flags(self) -> i32 {
        match self {
            CreateMode::Persistent => 0,
            CreateMode::Ephemeral => 1,
            CreateMode::PersistentSequential => 2,
            CreateMode::EphemeralSequential => 3,
            CreateMode::Container => 4,
            CreateMode::PersistentWithTtl => 5,
            CreateMode::PersistentSequentialWithTtl => 6,
        }
    }

    /// The mode for a `flags` integer; ZooKeeper answers other values with BadArguments.
    pub fn from_flags(flags: i32) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.flags() == flags)
    }

    /// Owned by a session and deleted with it.
    pub const fn is_ephemeral(self) -> bool {
        matches!(
            self,
            CreateMode::Ephemeral | CreateMode::EphemeralSequential
        )
    }

    /// Gets a 10-digit counter suffix.
    pub const fn is_sequential(self) -> bool {
        matches!(
            self,
            CreateMode::PersistentSequential
                | CreateMode::EphemeralSequential
                | CreateMode::PersistentSequentialWithTtl
        )
    }

    /// A container node.
    pub const fn is_container(self) -> bool {
        matches!(self, CreateMode::Container)
    }

    /// Has a time-to-live.
    pub const fn is_ttl(self) -> bool {
        matches!(
            self,
            CreateMode::PersistentWithTtl | CreateMode::PersistentSequentialWithTtl
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_is_68_bytes() {
        assert_eq!(Stat::default().to_bytes().len(), Stat::ENCODED_LEN);
        assert_eq!(Stat::ENCODED_LEN, 68);
    }

    #[test]
    fn create_flags_match_zookeeper() {
        assert_eq!(
            CreateMode::from_flags(3),
            Some(CreateMode::EphemeralSequential)
        );
        assert_eq!(CreateMode::from_flags(7), None);
        assert!(CreateMode::PersistentSequentialWithTtl.is_ttl());
    }

    /// kazoo sends `Id("auth", "")` with the id as a null string (-1).
    #[test]
    fn null_id_parts_read_as_empty() {
        let mut bytes = Vec::new();
        bytes.write_str("auth");
        bytes.write_buffer(None);
        assert_eq!(Id::from_bytes(&bytes), Ok(Id::new("auth", "")));
    }
}
