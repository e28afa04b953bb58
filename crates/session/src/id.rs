//! Session ids: 64-bit, assigned when the create-session command is applied from the Raft log.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a raw value or log index cannot be a session id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// 0 means "no session" in a ConnectRequest, so it can never name one.
    #[error("session id 0 is reserved for \"no session\"")]
    Zero,
    /// Ids are signed 64-bit on the wire; a log index past i64::MAX has no id.
    #[error("log index {0} does not fit in a signed 64-bit session id")]
    IndexTooLarge(u64),
}

/// A live-or-once-live session's 64-bit id; never 0 (0 means "no session" on the wire).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct SessionId(i64);

impl SessionId {
    /// The id of the session created by the log entry at `index`.
    ///
    /// A committed Raft log index names exactly one entry forever, on every node, so an id
    /// derived from it is unique forever and identical everywhere without coordination.
    /// Index 0 is rejected because 0 means "no session".
    pub fn from_log_index(index: u64) -> Result<Self, IdError> {
        let raw = i64::try_from(index).map_err(|_| IdError::IndexTooLarge(index))?;
        Self::from_raw(raw)
    }

    /// Wraps an id read from the wire or a snapshot; 0 is rejected ("no session").
    pub fn from_raw(raw: i64) -> Result<Self, IdError> {
        if raw == 0 {
            Err(IdError::Zero)
        } else {
            Ok(SessionId(raw))
        }
    }

    /// The raw value to put on the wire.
    pub const fn get(self) -> i64 {
        self.0
    }

    /// The 8 big-endian bytes that the password HMAC is computed over (S3.2).
    pub const fn to_be_bytes(self) -> [u8; 8] {
        self.0.to_be_bytes()
    }
}

impl TryFrom<i64> for SessionId {
    type Error = IdError;
    fn try_from(raw: i64) -> Result<Self, IdError> {
        Self::from_raw(raw)
    }
}

impl From<SessionId> for i64 {
    fn from(id: SessionId) -> i64 {
        id.0
    }
}

/// Hex like ZooKeeper's logs (`0x` + Long.toHexString, i.e. the bits as unsigned).
impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:x}", self.0 as u64)
    }
}

/// Same as Display, so logs and assertion messages read the same way.
impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_from_log_index_and_never_zero() {
        // S3.1: a 64-bit id per created session, unique because log indexes are.
        assert_eq!(SessionId::from_log_index(7).unwrap().get(), 7);
        assert_eq!(SessionId::from_log_index(0), Err(IdError::Zero));
        assert_eq!(
            SessionId::from_log_index(u64::MAX),
            Err(IdError::IndexTooLarge(u64::MAX))
        );
        assert_eq!(SessionId::from_raw(0), Err(IdError::Zero));
        assert_eq!(SessionId::from_raw(-5).unwrap().get(), -5);
    }

    #[test]
    fn displays_like_zookeeper() {
        assert_eq!(SessionId::from_raw(0x1f).unwrap().to_string(), "0x1f");
        // Long.toHexString(-1) is ffffffffffffffff.
        assert_eq!(
            SessionId::from_raw(-1).unwrap().to_string(),
            "0xffffffffffffffff"
        );
        assert_eq!(
            format!("{:?}", SessionId::from_raw(255).unwrap()),
            "SessionId(0xff)"
        );
    }

    #[test]
    fn big_endian_bytes() {
        let id = SessionId::from_raw(0x0102030405060708).unwrap();
        assert_eq!(id.to_be_bytes(), [1, 2, 3, 4, 5, 6, 7, 8]);
    }

    #[test]
    fn serde_is_a_plain_number_and_rejects_zero() {
        let id = SessionId::from_raw(42).unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "42");
        assert_eq!(serde_json::from_str::<SessionId>("42").unwrap(), id);
        assert!(serde_json::from_str::<SessionId>("0").is_err());
    }
}
