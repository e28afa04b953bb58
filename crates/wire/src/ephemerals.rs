//! getEphemerals(103).

use crate::field::record;

record! {
    /// getEphemerals(103): the session's ephemeral nodes under a prefix.
    pub struct GetEphemeralsRequest {
        /// Path prefix ("/" for all).
        pub prefix_path: String => ustring,
    }
}

record! {
    /// The reply to getEphemerals.
    pub struct GetEphemeralsResponse {
        /// Full paths of the matching ephemerals.
        pub ephemerals: Vec<String> => strings,
    }
}
