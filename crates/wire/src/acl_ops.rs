//! getACL(6) and setACL(7).

use crate::data::{Acl, Stat};
use crate::field::record;

record! {
    /// getACL(6).
    pub struct GetAclRequest {
        /// The node.
        pub path: String => ustring,
    }
}

record! {
    /// The reply to getACL.
    pub struct GetAclResponse {
        /// The node's ACL.
        pub acl: Vec<Acl> => acls,
        /// The node's metadata.
        pub stat: Stat => stat,
    }
}

record! {
    /// setACL(7).
    pub struct SetAclRequest {
        /// The node.
        pub path: String => ustring,
        /// The new ACL.
        pub acl: Vec<Acl> => acls,
        /// Expected ACL version (aversion), or -1 for any.
        pub version: i32 => int,
    }
}

record! {
    /// The reply to setACL.
    pub struct SetAclResponse {
        /// The node's metadata after the change.
        pub stat: Stat => stat,
    }
}
