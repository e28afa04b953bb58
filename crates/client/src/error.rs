//! The one error type of the crate: ZooKeeper's `KeeperException` codes plus the client-side
//! conditions (connection loss, closed handle, bad arguments, bad connect string).

use zk_wire::ErrorCode;

use crate::multi::OpResult;

/// What can go wrong with a call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The connection dropped while the request was pending, or the handle was not connected.
    #[error(
        "connection lost: the request may or may not have been applied; \
         the client reconnects by itself, check the state before retrying a write"
    )]
    ConnectionLoss,
    /// The session expired (or its password was refused): the handle is CLOSED for good.
    #[error("session expired: the handle is closed, create a new one")]
    SessionExpired,
    /// Authentication failed: the handle is CLOSED for good.
    #[error("authentication failed: the handle is closed")]
    AuthFailed,
    /// The application closed the handle.
    #[error("the client handle is closed")]
    Closed,
    /// The connect string is malformed; the reason names the problem.
    #[error("invalid connect string: {0}")]
    InvalidConnectString(String),
    /// An argument was refused, by this library (with the reason) or by the server.
    #[error("bad arguments: {0}")]
    BadArguments(String),
    /// The server sent something this client cannot decode; the connection is dropped.
    #[error("protocol error: {0}")]
    Protocol(String),

    /// The node does not exist.
    #[error("no node")]
    NoNode,
    /// The node already exists.
    #[error("node exists")]
    NodeExists,
    /// The expected version does not match.
    #[error("bad version")]
    BadVersion,
    /// The node has children.
    #[error("node not empty")]
    NotEmpty,
    /// Ephemeral nodes may not have children.
    #[error("ephemeral nodes may not have children")]
    NoChildrenForEphemerals,
    /// Not authorised by the node's ACL.
    #[error("not authorised (ACL)")]
    NoAuth,
    /// The ACL is invalid.
    #[error("invalid ACL")]
    InvalidAcl,
    /// The session moved to another server.
    #[error("session moved to another server")]
    SessionMoved,
    /// removeWatches found no such watch.
    #[error("no such watcher")]
    NoWatcher,
    /// The server is read-only.
    #[error("server is read-only")]
    NotReadOnly,
    /// Ephemeral nodes need a global session.
    #[error("ephemeral on a local session")]
    EphemeralOnLocalSession,
    /// An op of a multi was not applied because another one failed.
    #[error("runtime inconsistency (rolled back)")]
    RuntimeInconsistency,
    /// The server found inconsistent data.
    #[error("data inconsistency")]
    DataInconsistency,
    /// The server failed to (un)marshal.
    #[error("marshalling error")]
    MarshallingError,
    /// The operation is not implemented by the server.
    #[error("unimplemented")]
    Unimplemented,
    /// The operation timed out on the server.
    #[error("operation timeout")]
    OperationTimeout,
    /// The server does not know the session.
    #[error("unknown session")]
    UnknownSession,
    /// A reconfig found no quorum.
    #[error("new config has no quorum")]
    NewConfigNoQuorum,
    /// A reconfig is already running.
    #[error("reconfig in progress")]
    ReconfigInProgress,
    /// Reconfig is disabled.
    #[error("reconfig disabled")]
    ReconfigDisabled,
    /// Generic API error.
    #[error("API error")]
    ApiError,
    /// A system error on the server.
    #[error("system error")]
    SystemError,
    /// Invalid callback.
    #[error("invalid callback")]
    InvalidCallback,
    /// The request timed out.
    #[error("request timeout")]
    RequestTimeout,
    /// The session was closed because SASL authentication is required.
    #[error("session closed: SASL authentication required")]
    SessionClosedRequireSaslAuth,
    /// A quota was exceeded.
    #[error("quota exceeded")]
    QuotaExceeded,
    /// The server throttled the operation.
    #[error("operation throttled")]
    ThrottledOp,
    /// A code this client does not know.
    #[error("unknown error code {0}")]
    Unknown(i32),

    /// A multi failed: nothing was applied. `index` is the first failing op, `results` holds
    /// one entry per op (RolledBack before it, its error, RuntimeInconsistency after it).
    #[error("multi failed at op {index}: {error}")]
    MultiFailed {
        /// The index of the op that failed.
        index: usize,
        /// Its error.
        error: Box<Error>,
        /// Every op's result.
        results: Vec<OpResult>,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The error for a reply code (`Ok` is not an error: it maps to `Unknown(0)`).
    pub fn from_code(code: i32) -> Error {
        let Some(c) = ErrorCode::from_code(code) else {
            return Error::Unknown(code);
        };
        match c {
            ErrorCode::Ok => Error::Unknown(0),
            ErrorCode::SystemError => Error::SystemError,
            ErrorCode::RuntimeInconsistency => Error::RuntimeInconsistency,
            ErrorCode::DataInconsistency => Error::DataInconsistency,
            ErrorCode::ConnectionLoss => Error::ConnectionLoss,
            ErrorCode::MarshallingError => Error::MarshallingError,
            ErrorCode::Unimplemented => Error::Unimplemented,
            ErrorCode::OperationTimeout => Error::OperationTimeout,
            ErrorCode::BadArguments => Error::BadArguments("refused by the server".into()),
            ErrorCode::UnknownSession => Error::UnknownSession,
            ErrorCode::NewConfigNoQuorum => Error::NewConfigNoQuorum,
            ErrorCode::ReconfigInProgress => Error::ReconfigInProgress,
            ErrorCode::ApiError => Error::ApiError,
            ErrorCode::NoNode => Error::NoNode,
            ErrorCode::NoAuth => Error::NoAuth,
            ErrorCode::BadVersion => Error::BadVersion,
            ErrorCode::NoChildrenForEphemerals => Error::NoChildrenForEphemerals,
            ErrorCode::NodeExists => Error::NodeExists,
            ErrorCode::NotEmpty => Error::NotEmpty,
            ErrorCode::SessionExpired => Error::SessionExpired,
            ErrorCode::InvalidCallback => Error::InvalidCallback,
            ErrorCode::InvalidAcl => Error::InvalidAcl,
            ErrorCode::AuthFailed => Error::AuthFailed,
            ErrorCode::SessionMoved => Error::SessionMoved,
            ErrorCode::NotReadOnly => Error::NotReadOnly,
            ErrorCode::EphemeralOnLocalSession => Error::EphemeralOnLocalSession,
            ErrorCode::NoWatcher => Error::NoWatcher,
            ErrorCode::RequestTimeout => Error::RequestTimeout,
            ErrorCode::ReconfigDisabled => Error::ReconfigDisabled,
            ErrorCode::SessionClosedRequireSaslAuth => Error::SessionClosedRequireSaslAuth,
            ErrorCode::QuotaExceeded => Error::QuotaExceeded,
            ErrorCode::ThrottledOp => Error::ThrottledOp,
        }
    }

    /// ZooKeeper's code for this error, if it has one (client-only errors map to the nearest:
    /// `Closed` to SessionExpired as the Java client reports a dead handle, bad connect strings
    /// to BadArguments, protocol errors to MarshallingError).
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::ConnectionLoss => ErrorCode::ConnectionLoss,
            Error::SessionExpired | Error::Closed => ErrorCode::SessionExpired,
            Error::AuthFailed => ErrorCode::AuthFailed,
            Error::InvalidConnectString(_) | Error::BadArguments(_) => ErrorCode::BadArguments,
            Error::Protocol(_) => ErrorCode::MarshallingError,
            Error::NoNode => ErrorCode::NoNode,
            Error::NodeExists => ErrorCode::NodeExists,
            Error::BadVersion => ErrorCode::BadVersion,
            Error::NotEmpty => ErrorCode::NotEmpty,
            Error::NoChildrenForEphemerals => ErrorCode::NoChildrenForEphemerals,
            Error::NoAuth => ErrorCode::NoAuth,
            Error::InvalidAcl => ErrorCode::InvalidAcl,
            Error::SessionMoved => ErrorCode::SessionMoved,
            Error::NoWatcher => ErrorCode::NoWatcher,
            Error::NotReadOnly => ErrorCode::NotReadOnly,
            Error::EphemeralOnLocalSession => ErrorCode::EphemeralOnLocalSession,
            Error::RuntimeInconsistency => ErrorCode::RuntimeInconsistency,
            Error::DataInconsistency => ErrorCode::DataInconsistency,
            Error::MarshallingError => ErrorCode::MarshallingError,
            Error::Unimplemented => ErrorCode::Unimplemented,
            Error::OperationTimeout => ErrorCode::OperationTimeout,
            Error::UnknownSession => ErrorCode::UnknownSession,
            Error::NewConfigNoQuorum => ErrorCode::NewConfigNoQuorum,
            Error::ReconfigInProgress => ErrorCode::ReconfigInProgress,
            Error::ReconfigDisabled => ErrorCode::ReconfigDisabled,
            Error::ApiError => ErrorCode::ApiError,
            Error::SystemError | Error::Unknown(_) => ErrorCode::SystemError,
            Error::InvalidCallback => ErrorCode::InvalidCallback,
            Error::RequestTimeout => ErrorCode::RequestTimeout,
            Error::SessionClosedRequireSaslAuth => ErrorCode::SessionClosedRequireSaslAuth,
            Error::QuotaExceeded => ErrorCode::QuotaExceeded,
            Error::ThrottledOp => ErrorCode::ThrottledOp,
            Error::MultiFailed { error, .. } => error.code(),
        }
    }

    /// True for errors after which the handle is CLOSED (expired, auth failed, closed).
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            Error::SessionExpired | Error::AuthFailed | Error::Closed
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every ZooKeeper code except Ok maps to an error whose code is itself.
    #[test]
    fn codes_round_trip() {
        for c in ErrorCode::ALL {
            if c.is_ok() {
                continue;
            }
            assert_eq!(Error::from_code(c.code()).code(), *c, "{c}");
        }
        assert_eq!(Error::from_code(-999), Error::Unknown(-999));
    }

    /// S8.1: the ConnectionLoss message says a write may or may not have been applied.
    #[test]
    fn s8_1_connection_loss_says_the_write_may_have_been_applied() {
        let msg = Error::ConnectionLoss.to_string();
        assert!(msg.contains("may or may not have been applied"), "{msg}");
    }
}
