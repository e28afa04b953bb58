//! reconfig(16); its reply is a [`GetDataResponse`](crate::node::GetDataResponse) with the new
//! configuration.

use crate::field::record;

record! {
    /// reconfig(16): incremental (joining/leaving) or bulk (newMembers) membership change.
    pub struct ReconfigRequest {
        /// Servers to add; null when unused (zkCli sends only the lists it was given).
        pub joining_servers: Option<String> => opt_ustring,
        /// Server ids to remove; null when unused.
        pub leaving_servers: Option<String> => opt_ustring,
        /// The complete new membership for a bulk change; null when unused.
        pub new_members: Option<String> => opt_ustring,
        /// Expected current config version, or -1 for any.
        pub cur_config_id: i64 => long,
    }
}
