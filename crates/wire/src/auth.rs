//! addauth (`AuthPacket`, opcode 100, xid -4) and SASL (opcode 102).

use crate::field::record;

record! {
    /// auth(100), sent with xid -4; an unknown scheme or bad credential gets AuthFailed and the
    /// connection is closed.
    pub struct AuthPacket {
        /// Always 0 in ZooKeeper's clients.
        pub auth_type: i32 => int,
        /// The scheme ("digest", ...).
        pub scheme: String => ustring,
        /// The credential ("user:password" for digest); a null reads as empty.
        pub auth: Vec<u8> => bytes,
    }
}

record! {
    /// sasl(102): one client step of a SASL exchange.
    pub struct GetSaslRequest {
        /// The client's token; null kept apart from empty.
        pub token: Option<Vec<u8>> => buffer,
    }
}

record! {
    /// The reply to sasl: the server's challenge; ZooKeeper sends null when it has none.
    pub struct SetSaslResponse {
        /// The server's token.
        pub token: Option<Vec<u8>> => buffer,
    }
}
