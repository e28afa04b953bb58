//! getChildren(8), getChildren2(12) and getAllChildrenNumber(104).

use crate::data::Stat;
use crate::field::record;

record! {
    /// getChildren(8); also an op of multiRead.
    pub struct GetChildrenRequest {
        /// The parent node.
        pub path: String => ustring,
        /// Leave a child watch.
        pub watch: bool => boolean,
    }
}

/// getChildren2(12) sends a record with the same fields as getChildren.
pub type GetChildren2Request = GetChildrenRequest;

record! {
    /// The reply to getChildren.
    pub struct GetChildrenResponse {
        /// Child names (not full paths).
        pub children: Vec<String> => strings,
    }
}

record! {
    /// The reply to getChildren2: the children and the parent's Stat.
    pub struct GetChildren2Response {
        /// Child names.
        pub children: Vec<String> => strings,
        /// The parent's metadata.
        pub stat: Stat => stat,
    }
}

record! {
    /// getAllChildrenNumber(104): the count of all descendants.
    pub struct GetAllChildrenNumberRequest {
        /// The subtree's root.
        pub path: String => ustring,
    }
}

record! {
    /// The reply to getAllChildrenNumber.
    pub struct GetAllChildrenNumberResponse {
        /// Number of descendants.
        pub total_number: i32 => int,
    }
}
