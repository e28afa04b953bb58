//! Opcodes (`ZooDefs.OpCode`) and error codes (`KeeperException.Code`).

use std::fmt;

macro_rules! int_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $var:ident = $val:expr,)+ }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
        pub enum $name {
            $(
                $(#[$vm])*
                #[doc = concat!("`", stringify!($var), "`: ", stringify!($val), " on the wire.")]
                $var,
            )+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$var,)+];

            /// The value's integer on the wire.
            pub const fn code(self) -> i32 {
                match self { $($name::$var => $val,)+ }
            }

            /// The value for a wire integer, if it is one.
            pub const fn from_code(code: i32) -> Option<Self> {
                match code { $($val => Some($name::$var),)+ _ => None }
            }

            /// The name as ZooKeeper spells it in `KeeperException`/`ZooDefs`.
            pub const fn name(self) -> &'static str {
                match self { $($name::$var => stringify!($var),)+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

int_enum! {
    /// A request type (`ZooDefs.OpCode`).
    OpCode {
        /// Server-to-client watch notification (never sent by a client).
        Notification = 0,
        Create = 1,
        Delete = 2,
        Exists = 3,
        GetData = 4,
        SetData = 5,
        GetAcl = 6,
        SetAcl = 7,
        GetChildren = 8,
        Sync = 9,
        Ping = 11,
        GetChildren2 = 12,
        Check = 13,
        Multi = 14,
        Create2 = 15,
        Reconfig = 16,
        CheckWatches = 17,
        RemoveWatches = 18,
        CreateContainer = 19,
        DeleteContainer = 20,
        CreateTtl = 21,
        MultiRead = 22,
        Auth = 100,
        SetWatches = 101,
        Sasl = 102,
        GetEphemerals = 103,
        GetAllChildrenNumber = 104,
        SetWatches2 = 105,
        AddWatch = 106,
        WhoAmI = 107,
        CreateSession = -10,
        CloseSession = -11,
        /// Marks a failed op inside a multi response.
        Error = -1,
    }
}

int_enum! {
    /// A result code (`KeeperException.Code`); `Ok` is success.
    ErrorCode {
        Ok = 0,
        SystemError = -1,
        RuntimeInconsistency = -2,
        DataInconsistency = -3,
        ConnectionLoss = -4,
        MarshallingError = -5,
        Unimplemented = -6,
        OperationTimeout = -7,
        BadArguments = -8,
        UnknownSession = -12,
        NewConfigNoQuorum = -13,
        ReconfigInProgress = -14,
        ApiError = -100,
        NoNode = -101,
        NoAuth = -102,
        BadVersion = -103,
        NoChildrenForEphemerals = -108,
        NodeExists = -110,
        NotEmpty = -111,
        SessionExpired = -112,
        InvalidCallback = -113,
        InvalidAcl = -114,
        AuthFailed = -115,
        SessionMoved = -118,
        NotReadOnly = -119,
        EphemeralOnLocalSession = -120,
        NoWatcher = -121,
        RequestTimeout = -122,
        ReconfigDisabled = -123,
        SessionClosedRequireSaslAuth = -124,
        QuotaExceeded = -125,
        ThrottledOp = -127,
    }
}

impl ErrorCode {
    /// True for `Ok`.
    pub const fn is_ok(self) -> bool {
        matches!(self, ErrorCode::Ok)
    }
}

impl std::error::Error for ErrorCode {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for op in OpCode::ALL {
            assert_eq!(OpCode::from_code(op.code()), Some(*op));
        }
        for e in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_code(e.code()), Some(*e));
        }
        assert_eq!(OpCode::from_code(10), None);
        assert_eq!(ErrorCode::from_code(-126), None);
    }

    /// Every value, checked against ZooKeeper 3.8.6's `ZooDefs.OpCode` and
    /// `KeeperException.Code` (the complete lists: nothing missing, nothing extra).
    #[test]
    fn every_value_matches_zookeeper_3_8() {
        let ops: &[(OpCode, i32)] = &[
            (OpCode::Notification, 0),
            (OpCode::Create, 1),
            (OpCode::Delete, 2),
            (OpCode::Exists, 3),
            (OpCode::GetData, 4),
            (OpCode::SetData, 5),
            (OpCode::GetAcl, 6),
            (OpCode::SetAcl, 7),
            (OpCode::GetChildren, 8),
            (OpCode::Sync, 9),
            (OpCode::Ping, 11),
            (OpCode::GetChildren2, 12),
            (OpCode::Check, 13),
            (OpCode::Multi, 14),
            (OpCode::Create2, 15),
            (OpCode::Reconfig, 16),
            (OpCode::CheckWatches, 17),
            (OpCode::RemoveWatches, 18),
            (OpCode::CreateContainer, 19),
            (OpCode::DeleteContainer, 20),
            (OpCode::CreateTtl, 21),
            (OpCode::MultiRead, 22),
            (OpCode::Auth, 100),
            (OpCode::SetWatches, 101),
            (OpCode::Sasl, 102),
            (OpCode::GetEphemerals, 103),
            (OpCode::GetAllChildrenNumber, 104),
            (OpCode::SetWatches2, 105),
            (OpCode::AddWatch, 106),
            (OpCode::WhoAmI, 107),
            (OpCode::CreateSession, -10),
            (OpCode::CloseSession, -11),
            (OpCode::Error, -1),
        ];
        assert_eq!(ops.len(), OpCode::ALL.len());
        for (op, code) in ops {
            assert_eq!(op.code(), *code, "{op}");
        }
        let errs: &[(ErrorCode, i32)] = &[
            (ErrorCode::Ok, 0),
            (ErrorCode::SystemError, -1),
            (ErrorCode::RuntimeInconsistency, -2),
            (ErrorCode::DataInconsistency, -3),
            (ErrorCode::ConnectionLoss, -4),
            (ErrorCode::MarshallingError, -5),
            (ErrorCode::Unimplemented, -6),
            (ErrorCode::OperationTimeout, -7),
            (ErrorCode::BadArguments, -8),
            (ErrorCode::UnknownSession, -12),
            (ErrorCode::NewConfigNoQuorum, -13),
            (ErrorCode::ReconfigInProgress, -14),
            (ErrorCode::ApiError, -100),
            (ErrorCode::NoNode, -101),
            (ErrorCode::NoAuth, -102),
            (ErrorCode::BadVersion, -103),
            (ErrorCode::NoChildrenForEphemerals, -108),
            (ErrorCode::NodeExists, -110),
            (ErrorCode::NotEmpty, -111),
            (ErrorCode::SessionExpired, -112),
            (ErrorCode::InvalidCallback, -113),
            (ErrorCode::InvalidAcl, -114),
            (ErrorCode::AuthFailed, -115),
            (ErrorCode::SessionMoved, -118),
            (ErrorCode::NotReadOnly, -119),
            (ErrorCode::EphemeralOnLocalSession, -120),
            (ErrorCode::NoWatcher, -121),
            (ErrorCode::RequestTimeout, -122),
            (ErrorCode::ReconfigDisabled, -123),
            (ErrorCode::SessionClosedRequireSaslAuth, -124),
            (ErrorCode::QuotaExceeded, -125),
            (ErrorCode::ThrottledOp, -127),
        ];
        assert_eq!(errs.len(), ErrorCode::ALL.len());
        for (e, code) in errs {
            assert_eq!(e.code(), *code, "{e}");
        }
    }

    #[test]
    fn values_match_zookeeper() {
        assert_eq!(OpCode::CloseSession.code(), -11);
        assert_eq!(OpCode::WhoAmI.code(), 107);
        assert_eq!(ErrorCode::NoNode.code(), -101);
        assert_eq!(ErrorCode::SessionExpired.code(), -112);
        assert_eq!(ErrorCode::SessionMoved.to_string(), "SessionMoved");
    }
}
