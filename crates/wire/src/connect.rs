//! The session handshake: `ConnectRequest` and `ConnectResponse`, the first frame each way,
//! sent without a header.

use crate::jute::{DecodeError, JuteWrite, Reader, Record};

/// Smallest `ConnectRequest`: ints, longs and an empty password, no readOnly flag.
const CONNECT_REQUEST_MIN: usize = 4 + 8 + 4 + 8 + 4;

/// The client's handshake: a new session (id 0) or a reconnect with id and password.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ConnectRequest {
    /// Always 0 in every released client.
    pub protocol_version: i32,
    /// The highest zxid the client has seen; a server behind it must refuse the client.
    pub last_zxid_seen: i64,
    /// Requested session timeout in ms; the server negotiates it into its bounds.
    pub time_out: i32,
    /// 0 for a new session.
    pub session_id: i64,
    /// The session password (16 zero bytes for a new session); a null reads as empty.
    pub passwd: Vec<u8>,
    /// Whether the client accepts a read-only server. `None` when the client omitted the byte
    /// (pre-3.4 clients do), so re-encoding gives back exactly what was received.
    pub read_only: Option<bool>,
}

impl ConnectRequest {
    /// `readOnly`, with an omitted flag meaning false as in ZooKeeper.
    pub fn can_be_read_only(&self) -> bool {
        self.read_only.unwrap_or(false)
    }
}

impl Record for ConnectRequest {
    fn encode(&self, out: &mut Vec<u8>) {
        out.write_i32(self.protocol_version);
        out.write_i64(self.last_zxid_seen);
        out.write_i32(self.time_out);
        out.write_i64(self.session_id);
        out.write_bytes(&self.passwd);
        if let Some(ro) = self.read_only {
            out.write_bool(ro);
        }
    }

    /// Reads the optional flag only if a byte is left, as ZooKeeperServer does: the handshake
    /// frame carries nothing else.
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        if r.remaining() < CONNECT_REQUEST_MIN {
            return Err(DecodeError::Truncated {
                needed: CONNECT_REQUEST_MIN,
                remaining: r.remaining(),
            });
        }
        Ok(ConnectRequest {
            protocol_version: r.read_i32()?,
            last_zxid_seen: r.read_i64()?,
            time_out: r.read_i32()?,
            session_id: r.read_i64()?,
            passwd: r.read_bytes()?,
            read_only: optional_bool(r)?,
        })
    }
}

/// The server's answer to the handshake; a time_out of 0 means the session is refused/expired.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ConnectResponse {
    /// Always 0.
    pub protocol_version: i32,
    /// Negotiated session timeout in ms; 0 if the session is invalid.
    pub time_out: i32,
    /// The session id (0 if invalid).
    pub session_id: i64,
    /// The password to present on reconnect; a null reads as empty.
    pub passwd: Vec<u8>,
    /// True from a read-only server; `None` when the byte was omitted (pre-3.4 servers).
    pub read_only: Option<bool>,
}

impl Record for ConnectResponse {
    fn encode(&self, out: &mut Vec<u8>) {
        out.write_i32(self.protocol_version);
        out.write_i32(self.time_out);
        out.write_i64(self.session_id);
        out.write_bytes(&self.passwd);
        if let Some(ro) = self.read_only {
            out.write_bool(ro);
        }
    }

    /// Like `ClientCnxnSocket.readConnectResult`: the flag is read only if present.
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(ConnectResponse {
            protocol_version: r.read_i32()?,
            time_out: r.read_i32()?,
            session_id: r.read_i64()?,
            passwd: r.read_bytes()?,
            read_only: optional_bool(r)?,
        })
    }
}

fn optional_bool(r: &mut Reader<'_>) -> Result<Option<bool>, DecodeError> {
    if r.remaining() == 0 {
        Ok(None)
    } else {
        r.read_bool().map(Some)
    }
}

#[cfg(test)]
impl ConnectRequest {
    pub(crate) fn arb() -> proptest::strategy::BoxedStrategy<Self> {
        use proptest::prelude::*;
        (
            any::<i32>(),
            any::<i64>(),
            any::<i32>(),
            any::<i64>(),
            proptest::collection::vec(any::<u8>(), 0..20),
            proptest::option::of(any::<bool>()),
        )
            .prop_map(
                |(protocol_version, last_zxid_seen, time_out, session_id, passwd, read_only)| {
                    ConnectRequest {
                        protocol_version,
                        last_zxid_seen,
                        time_out,
                        session_id,
                        passwd,
                        read_only,
                    }
                },
            )
            .boxed()
    }
}

#[cfg(test)]
impl ConnectResponse {
    pub(crate) fn arb() -> proptest::strategy::BoxedStrategy<Self> {
        use proptest::prelude::*;
        (
            any::<i32>(),
            any::<i32>(),
            any::<i64>(),
            proptest::collection::vec(any::<u8>(), 0..20),
            proptest::option::of(any::<bool>()),
        )
            .prop_map(
                |(protocol_version, time_out, session_id, passwd, read_only)| ConnectResponse {
                    protocol_version,
                    time_out,
                    session_id,
                    passwd,
                    read_only,
                },
            )
            .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(read_only: Option<bool>) -> ConnectRequest {
        ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0,
            time_out: 30_000,
            session_id: 0,
            passwd: vec![0; 16],
            read_only,
        }
    }

    /// Pre-3.4 clients end the handshake after the password; ZooKeeper accepts that.
    #[test]
    fn connect_request_without_read_only_flag_round_trips() {
        let bytes = request(None).to_bytes();
        assert_eq!(bytes.len(), 44);
        assert_eq!(ConnectRequest::from_bytes(&bytes), Ok(request(None)));
    }

    /// 3.4+ clients append the readOnly boolean.
    #[test]
    fn connect_request_with_read_only_flag_round_trips() {
        let bytes = request(Some(true)).to_bytes();
        assert_eq!(bytes.len(), 45);
        assert_eq!(bytes[44], 1);
        assert_eq!(ConnectRequest::from_bytes(&bytes), Ok(request(Some(true))));
    }

    /// Anything after the flag is not a ConnectRequest.
    #[test]
    fn connect_request_trailing_bytes_are_rejected() {
        let mut bytes = request(Some(false)).to_bytes();
        bytes.push(0);
        assert_eq!(
            ConnectRequest::from_bytes(&bytes),
            Err(DecodeError::TrailingBytes(1))
        );
    }

    /// A handshake cut short (e.g. a 4-byte probe) is truncated, not a default session.
    #[test]
    fn connect_request_truncated_is_an_error() {
        let bytes = request(None).to_bytes();
        for n in 0..bytes.len() {
            assert!(ConnectRequest::from_bytes(&bytes[..n]).is_err(), "{n}");
        }
    }
}
