//! create, create2, createContainer (`CreateRequest`), createTTL (`CreateTTLRequest`) and their
//! responses.

use crate::data::{Acl, CreateMode, Stat};
use crate::field::record;

record! {
    /// create(1), create2(15) and createContainer(19) all send this record.
    pub struct CreateRequest {
        /// The node to create (a prefix for sequential nodes).
        pub path: String => ustring,
        /// The initial data; `None` (jute null) is kept apart from empty because ZooKeeper
        /// stores and returns it as null.
        pub data: Option<Vec<u8>> => buffer,
        /// The node's ACL.
        pub acl: Vec<Acl> => acls,
        /// [`CreateMode`] flags, kept raw: ZooKeeper answers an unknown value with BadArguments
        /// rather than dropping the connection.
        pub flags: i32 => int,
    }
}

impl CreateRequest {
    /// The create mode, if `flags` names one.
    pub fn mode(&self) -> Option<CreateMode> {
        CreateMode::from_flags(self.flags)
    }
}

record! {
    /// createTTL(21): a create with a time-to-live in ms.
    pub struct CreateTtlRequest {
        /// The node to create.
        pub path: String => ustring,
        /// The initial data (null kept apart from empty).
        pub data: Option<Vec<u8>> => buffer,
        /// The node's ACL.
        pub acl: Vec<Acl> => acls,
        /// [`CreateMode`] flags (must be a TTL mode, checked by the server).
        pub flags: i32 => int,
        /// Time-to-live in ms.
        pub ttl: i64 => long,
    }
}

impl CreateTtlRequest {
    /// The create mode, if `flags` names one.
    pub fn mode(&self) -> Option<CreateMode> {
        CreateMode::from_flags(self.flags)
    }
}

record! {
    /// The reply to create(1): the actual path (with any sequence suffix).
    pub struct CreateResponse {
        /// The created node's path.
        pub path: String => ustring,
    }
}

record! {
    /// The reply to create2, createContainer and createTTL: path and the new node's Stat.
    pub struct Create2Response {
        /// The created node's path.
        pub path: String => ustring,
        /// The new node's metadata.
        pub stat: Stat => stat,
    }
}
