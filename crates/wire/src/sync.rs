//! sync(9).

use crate::field::record;

record! {
    /// sync(9): catch this server up with the leader before later reads.
    pub struct SyncRequest {
        /// The path (ZooKeeper echoes it back).
        pub path: String => ustring,
    }
}

record! {
    /// The reply to sync.
    pub struct SyncResponse {
        /// The request's path.
        pub path: String => ustring,
    }
}
