//! The single-node data ops: exists(3), getData(4), setData(5) and check(13).

use crate::data::Stat;
use crate::field::record;

record! {
    /// exists(3).
    pub struct ExistsRequest {
        /// The node.
        pub path: String => ustring,
        /// Leave a data watch (set even if the node does not exist yet).
        pub watch: bool => boolean,
    }
}

record! {
    /// The reply to exists when the node exists (otherwise NoNode with no body).
    pub struct ExistsResponse {
        /// The node's metadata.
        pub stat: Stat => stat,
    }
}

record! {
    /// getData(4); also an op of multiRead.
    pub struct GetDataRequest {
        /// The node.
        pub path: String => ustring,
        /// Leave a data watch.
        pub watch: bool => boolean,
    }
}

record! {
    /// The reply to getData (and reconfig, which returns the new config this way).
    pub struct GetDataResponse {
        /// The data; `None` for a node created with null data, which ZooKeeper returns as -1.
        pub data: Option<Vec<u8>> => buffer,
        /// The node's metadata.
        pub stat: Stat => stat,
    }
}

record! {
    /// setData(5).
    pub struct SetDataRequest {
        /// The node.
        pub path: String => ustring,
        /// The new data (null kept apart from empty).
        pub data: Option<Vec<u8>> => buffer,
        /// Expected data version, or -1 for any.
        pub version: i32 => int,
    }
}

record! {
    /// The reply to setData, and to a standalone check (ZooKeeper answers check with it too).
    pub struct SetDataResponse {
        /// The node's metadata after the change.
        pub stat: Stat => stat,
    }
}

record! {
    /// check(13): a version precondition, mostly inside multi.
    pub struct CheckVersionRequest {
        /// The node.
        pub path: String => ustring,
        /// The required data version.
        pub version: i32 => int,
    }
}
