//! The headers around every message: `RequestHeader`, `ReplyHeader`, `MultiHeader`, the
//! reserved xids, and `ErrorResponse`.

use crate::codes::{ErrorCode, OpCode};
use crate::field::record;

/// The xids ZooKeeper reserves for messages that answer no numbered request (`ClientCnxn`).
pub mod xid {
    /// A watch notification pushed by the server.
    pub const NOTIFICATION: i32 = -1;
    /// A ping and its reply.
    pub const PING: i32 = -2;
    /// An `AuthPacket` (addauth) and its reply.
    pub const AUTH: i32 = -4;
    /// `SetWatches`/`SetWatches2` sent while re-establishing a session, and its reply.
    pub const SET_WATCHES: i32 = -8;
}

record! {
    /// Precedes every request after the handshake.
    pub struct RequestHeader {
        /// The client's request number, echoed in the reply; or a reserved [`xid`].
        pub xid: i32 => int,
        /// The [`OpCode`] as an integer: kept raw so an unknown one is still a header.
        pub op_type: i32 => int,
    }
}

impl RequestHeader {
    /// A header for `op`.
    pub fn new(xid: i32, op: OpCode) -> Self {
        RequestHeader {
            xid,
            op_type: op.code(),
        }
    }

    /// The opcode, if it is one ZooKeeper defines.
    pub fn opcode(&self) -> Option<OpCode> {
        OpCode::from_code(self.op_type)
    }
}

record! {
    /// Precedes every server-to-client message after the handshake.
    pub struct ReplyHeader {
        /// The request's xid, or a reserved [`xid`].
        pub xid: i32 => int,
        /// The last zxid the server has applied.
        pub zxid: i64 => long,
        /// An [`ErrorCode`] as an integer; kept raw so a newer server's code still decodes.
        pub err: i32 => int,
    }
}

impl ReplyHeader {
    /// A header with a typed error code.
    pub fn new(xid: i32, zxid: i64, err: ErrorCode) -> Self {
        ReplyHeader {
            xid,
            zxid,
            err: err.code(),
        }
    }

    /// The error code, or the raw integer if ZooKeeper does not define it.
    pub fn error(&self) -> Result<ErrorCode, i32> {
        ErrorCode::from_code(self.err).ok_or(self.err)
    }
}

record! {
    /// Precedes each op of a multi request/response, and ends the sequence with `done`.
    pub struct MultiHeader {
        /// The op's opcode, or -1 for an error result and for the end marker.
        pub op_type: i32 => int,
        /// True only on the end marker.
        pub done: bool => boolean,
        /// -1 in requests; the op's error code (0 on success) in responses.
        pub err: i32 => int,
    }
}

impl MultiHeader {
    /// The end marker ZooKeeper writes after the last op, in requests and responses alike.
    pub const DONE: MultiHeader = MultiHeader {
        op_type: -1,
        done: true,
        err: -1,
    };
}

record! {
    /// An error code as a body: a failed op in a multi response, and addWatch's reply.
    pub struct ErrorResponse {
        /// The [`ErrorCode`] as an integer.
        pub err: i32 => int,
    }
}
