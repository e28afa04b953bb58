//! whoAmI(107): no request body; the reply lists the connection's identities.

use crate::field::record;

record! {
    /// One authenticated identity of the connection (`data.ClientInfo`).
    pub struct ClientInfo {
        /// The auth scheme ("ip", "digest", "sasl", ...).
        pub auth_scheme: String => ustring,
        /// The user name or other id (for example the ip).
        pub user: String => ustring,
    }
}

record! {
    /// The reply to whoAmI.
    pub struct WhoAmIResponse {
        /// Every identity of the connection.
        pub client_info: Vec<ClientInfo> => client_infos,
    }
}
