//! `Request` and `Response`: one variant per opcode, so a connection handler matches on a value
//! instead of on integers and bytes.

use crate::acl_ops::{GetAclRequest, GetAclResponse, SetAclRequest, SetAclResponse};
use crate::auth::{AuthPacket, GetSaslRequest, SetSaslResponse};
use crate::children::{
    GetAllChildrenNumberRequest, GetAllChildrenNumberResponse, GetChildren2Request,
    GetChildren2Response, GetChildrenRequest, GetChildrenResponse,
};
use crate::codes::OpCode;
use crate::create::{Create2Response, CreateRequest, CreateResponse, CreateTtlRequest};
use crate::delete::{DeleteContainerRequest, DeleteRequest};
use crate::ephemerals::{GetEphemeralsRequest, GetEphemeralsResponse};
use crate::event::WatcherEvent;
use crate::header::{ErrorResponse, ReplyHeader, RequestHeader};
use crate::jute::{DecodeError, Reader, Record};
use crate::multi::{MultiRequest, MultiResponse};
use crate::node::{
    CheckVersionRequest, ExistsRequest, ExistsResponse, GetDataRequest, GetDataResponse,
    SetDataRequest, SetDataResponse,
};
use crate::reconfig::ReconfigRequest;
use crate::sync::{SyncRequest, SyncResponse};
use crate::watches::{
    AddWatchRequest, CheckWatchesRequest, RemoveWatchesRequest, SetWatches, SetWatches2,
};
use crate::whoami::WhoAmIResponse;

/// Generates the opcode mapping, body codec and proptest strategy of a message enum from one
/// table, so the three cannot disagree.
macro_rules! message_enum {
    (
        $(#[$m:meta])*
        pub enum $name:ident {
            $( $(#[$vm:meta])* $var:ident $( ( $body:ty ) )? = $op:ident, )*
        }
    ) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        #[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
        pub enum $name {
            $( $(#[$vm])* $var $( ($body) )?, )*
        }

        impl $name {
            /// The opcode this message belongs to.
            pub fn opcode(&self) -> OpCode {
                match self {
                    $( message_enum!(@pat $name $var $($body)?) => OpCode::$op, )*
                }
            }

            /// Appends the body (no header) to `out`.
            #[allow(unused_variables)]
            pub fn encode(&self, out: &mut Vec<u8>) {
                match self {
                    $( message_enum!(@bind $name $var b $($body)?) => {
                        message_enum!(@enc b out $($body)?)
                    } )*
                }
            }

            /// The body as a new vector.
            pub fn to_bytes(&self) -> Vec<u8> {
                let mut out = Vec::new();
                self.encode(&mut out);
                out
            }

            /// Decodes a body of `op`, which must be consumed exactly.
            pub fn decode_op(op: OpCode, body: &[u8]) -> Result<Self, DecodeError> {
                let (v, rest) = Self::decode_op_prefix(op, body)?;
                match rest {
                    0 => Ok(v),
                    n => Err(DecodeError::TrailingBytes(n)),
                }
            }

            /// Decodes the record of `op` at the start of `body`; the value and how many
            /// bytes followed it.
            pub fn decode_op_prefix(op: OpCode, body: &[u8]) -> Result<(Self, usize), DecodeError> {
                let mut r = Reader::new(body);
                let v = match op {
                    $( OpCode::$op => message_enum!(@dec $name $var r $($body)?), )*
                    #[allow(unreachable_patterns)]
                    other => return Err(DecodeError::UnknownOpCode(other.code())),
                };
                Ok((v, r.rest().len()))
            }

            #[cfg(test)]
            pub(crate) fn arb() -> proptest::strategy::BoxedStrategy<Self> {
                use proptest::prelude::*;
                proptest::strategy::Union::new(vec![
                    $( message_enum!(@arb $name $var $($body)?), )*
                ]).boxed()
            }
        }
    };
    (@pat $name:ident $var:ident) => { $name::$var };
    (@pat $name:ident $var:ident $body:ty) => { $name::$var(_) };
    (@bind $name:ident $var:ident $b:ident) => { $name::$var };
    (@bind $name:ident $var:ident $b:ident $body:ty) => { $name::$var($b) };
    (@enc $b:ident $out:ident) => { () };
    (@enc $b:ident $out:ident $body:ty) => { $b.encode($out) };
    (@dec $name:ident $var:ident $r:ident) => { $name::$var };
    (@dec $name:ident $var:ident $r:ident $body:ty) => { $name::$var(<$body>::decode(&mut $r)?) };
    (@arb $name:ident $var:ident) => { Just($name::$var).boxed() };
    (@arb $name:ident $var:ident $body:ty) => { <$body>::arb().prop_map($name::$var).boxed() };
}

message_enum! {
    /// A client request after the handshake, one variant per opcode.
    pub enum Request {
        /// create(1).
        Create(CreateRequest) = Create,
        /// delete(2).
        Delete(DeleteRequest) = Delete,
        /// exists(3).
        Exists(ExistsRequest) = Exists,
        /// getData(4).
        GetData(GetDataRequest) = GetData,
        /// setData(5).
        SetData(SetDataRequest) = SetData,
        /// getACL(6).
        GetAcl(GetAclRequest) = GetAcl,
        /// setACL(7).
        SetAcl(SetAclRequest) = SetAcl,
        /// getChildren(8).
        GetChildren(GetChildrenRequest) = GetChildren,
        /// sync(9).
        Sync(SyncRequest) = Sync,
        /// ping(11), xid -2, no body.
        Ping = Ping,
        /// getChildren2(12).
        GetChildren2(GetChildren2Request) = GetChildren2,
        /// check(13) outside a multi.
        Check(CheckVersionRequest) = Check,
        /// multi(14).
        Multi(MultiRequest) = Multi,
        /// create2(15).
        Create2(CreateRequest) = Create2,
        /// reconfig(16).
        Reconfig(ReconfigRequest) = Reconfig,
        /// checkWatches(17).
        CheckWatches(CheckWatchesRequest) = CheckWatches,
        /// removeWatches(18).
        RemoveWatches(RemoveWatchesRequest) = RemoveWatches,
        /// createContainer(19).
        CreateContainer(CreateRequest) = CreateContainer,
        /// deleteContainer(20).
        DeleteContainer(DeleteContainerRequest) = DeleteContainer,
        /// createTTL(21).
        CreateTtl(CreateTtlRequest) = CreateTtl,
        /// multiRead(22).
        MultiRead(MultiRequest) = MultiRead,
        /// auth(100), xid -4.
        Auth(AuthPacket) = Auth,
        /// setWatches(101), xid -8.
        SetWatches(SetWatches) = SetWatches,
        /// sasl(102).
        Sasl(GetSaslRequest) = Sasl,
        /// getEphemerals(103).
        GetEphemerals(GetEphemeralsRequest) = GetEphemerals,
        /// getAllChildrenNumber(104).
        GetAllChildrenNumber(GetAllChildrenNumberRequest) = GetAllChildrenNumber,
        /// setWatches2(105), xid -8.
        SetWatches2(SetWatches2) = SetWatches2,
        /// addWatch(106).
        AddWatch(AddWatchRequest) = AddWatch,
        /// whoAmI(107), no body.
        WhoAmI = WhoAmI,
        /// closeSession(-11), no body.
        CloseSession = CloseSession,
    }
}

impl Request {
    /// Decodes the body that followed `header`. Never panics; an opcode clients may not send
    /// (including notification, error and createSession) is `UnknownOpCode`, leftover bytes
    /// are `TrailingBytes`.
    pub fn decode(header: &RequestHeader, body: &[u8]) -> Result<Self, DecodeError> {
        let op = header
            .opcode()
            .ok_or(DecodeError::UnknownOpCode(header.op_type))?;
        Self::decode_op(op, body)
    }

    /// [`Request::decode`] as ZooKeeper's server reads a request: the record, and whatever
    /// follows it in the frame ignored (a newer client's extra fields, say; ZooKeeper 3.8
    /// answers such a request normally).
    pub fn decode_lenient(header: &RequestHeader, body: &[u8]) -> Result<Self, DecodeError> {
        let op = header
            .opcode()
            .ok_or(DecodeError::UnknownOpCode(header.op_type))?;
        Self::decode_op_prefix(op, body).map(|(v, _)| v)
    }

    /// Decodes a whole frame body (after the length prefix): header, then request.
    pub fn decode_frame(frame: &[u8]) -> Result<(RequestHeader, Self), DecodeError> {
        let mut r = Reader::new(frame);
        let header = RequestHeader::decode(&mut r)?;
        let req = Self::decode(&header, r.rest())?;
        Ok((header, req))
    }

    /// Appends a header with `xid` and this request's opcode, then the body.
    pub fn encode_with_header(&self, xid: i32, out: &mut Vec<u8>) {
        RequestHeader::new(xid, self.opcode()).encode(out);
        self.encode(out);
    }
}

message_enum! {
    /// A server reply body, one variant per opcode (plus watch notifications). Replies do not
    /// name their opcode: the client knows it from the xid it sent.
    pub enum Response {
        /// create(1).
        Create(CreateResponse) = Create,
        /// delete(2): no body.
        Delete = Delete,
        /// exists(3).
        Exists(ExistsResponse) = Exists,
        /// getData(4).
        GetData(GetDataResponse) = GetData,
        /// setData(5).
        SetData(SetDataResponse) = SetData,
        /// getACL(6).
        GetAcl(GetAclResponse) = GetAcl,
        /// setACL(7).
        SetAcl(SetAclResponse) = SetAcl,
        /// getChildren(8).
        GetChildren(GetChildrenResponse) = GetChildren,
        /// sync(9).
        Sync(SyncResponse) = Sync,
        /// ping(11): no body.
        Ping = Ping,
        /// getChildren2(12).
        GetChildren2(GetChildren2Response) = GetChildren2,
        /// check(13): ZooKeeper answers a standalone check with a SetDataResponse.
        Check(SetDataResponse) = Check,
        /// multi(14).
        Multi(MultiResponse) = Multi,
        /// create2(15).
        Create2(Create2Response) = Create2,
        /// reconfig(16): the new config as a GetDataResponse.
        Reconfig(GetDataResponse) = Reconfig,
        /// checkWatches(17): no body.
        CheckWatches = CheckWatches,
        /// removeWatches(18): no body.
        RemoveWatches = RemoveWatches,
        /// createContainer(19).
        CreateContainer(Create2Response) = CreateContainer,
        /// deleteContainer(20): no body.
        DeleteContainer = DeleteContainer,
        /// createTTL(21).
        CreateTtl(Create2Response) = CreateTtl,
        /// multiRead(22).
        MultiRead(MultiResponse) = MultiRead,
        /// auth(100): no body.
        Auth = Auth,
        /// setWatches(101): no body.
        SetWatches = SetWatches,
        /// sasl(102).
        Sasl(SetSaslResponse) = Sasl,
        /// getEphemerals(103).
        GetEphemerals(GetEphemeralsResponse) = GetEphemerals,
        /// getAllChildrenNumber(104).
        GetAllChildrenNumber(GetAllChildrenNumberResponse) = GetAllChildrenNumber,
        /// setWatches2(105): no body.
        SetWatches2 = SetWatches2,
        /// addWatch(106): ZooKeeper sends `ErrorResponse { err: 0 }`.
        AddWatch(ErrorResponse) = AddWatch,
        /// whoAmI(107).
        WhoAmI(WhoAmIResponse) = WhoAmI,
        /// closeSession(-11): no body.
        CloseSession = CloseSession,
        /// A watch notification (xid -1).
        Notification(WatcherEvent) = Notification,
    }
}

impl Response {
    /// Decodes the body of a reply to `op`. Never panics; `op` values that have no reply
    /// (error, createSession) are `UnknownOpCode`.
    pub fn decode(op: OpCode, body: &[u8]) -> Result<Self, DecodeError> {
        Self::decode_op(op, body)
    }

    /// Decodes a reply given its header: a failed request (err != 0) carries no body, which
    /// is `None`; a body is decoded even then, because a failed multi may still carry results.
    pub fn decode_reply(
        op: OpCode,
        header: &ReplyHeader,
        body: &[u8],
    ) -> Result<Option<Self>, DecodeError> {
        if header.err != 0 && body.is_empty() {
            return Ok(None);
        }
        Self::decode_op(op, body).map(Some)
    }

    /// Appends the reply header, then the body.
    pub fn encode_with_header(&self, header: &ReplyHeader, out: &mut Vec<u8>) {
        header.encode(out);
        self.encode(out);
    }
}

#[cfg(test)]
impl WatcherEvent {
    pub(crate) fn arb() -> proptest::strategy::BoxedStrategy<Self> {
        use crate::event::{EventType, KeeperState};
        use proptest::prelude::*;
        (
            proptest::sample::select(EventType::ALL.to_vec()),
            proptest::sample::select(KeeperState::ALL.to_vec()),
            crate::field::strat::string(),
        )
            .prop_map(|(event_type, state, path)| WatcherEvent {
                event_type,
                state,
                path,
            })
            .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jute::JuteWrite;

    /// ZooKeeper's server rejects opcodes it does not know; so do we, without panicking.
    #[test]
    fn unknown_opcode_is_an_error() {
        for op in [10, 23, 99, 108, -12, i32::MIN, i32::MAX] {
            let h = RequestHeader {
                xid: 1,
                op_type: op,
            };
            assert_eq!(
                Request::decode(&h, &[]),
                Err(DecodeError::UnknownOpCode(op))
            );
        }
        // Defined opcodes that a client never sends.
        for op in [OpCode::Notification, OpCode::Error, OpCode::CreateSession] {
            let h = RequestHeader::new(1, op);
            assert_eq!(
                Request::decode(&h, &[]),
                Err(DecodeError::UnknownOpCode(op.code()))
            );
        }
    }

    /// A request must fill its frame: ZooKeeper's jute reader would leave junk behind, we refuse it.
    #[test]
    fn trailing_bytes_after_request_are_an_error() {
        let mut body = Vec::new();
        GetDataRequest {
            path: "/a".into(),
            watch: false,
        }
        .encode(&mut body);
        body.push(0);
        let h = RequestHeader::new(5, OpCode::GetData);
        assert_eq!(
            Request::decode(&h, &body),
            Err(DecodeError::TrailingBytes(1))
        );
        let h = RequestHeader::new(-2, OpCode::Ping);
        assert_eq!(
            Request::decode(&h, &[0]),
            Err(DecodeError::TrailingBytes(1))
        );
    }

    /// A server reads a request as ZooKeeper's does: the record, the rest of the frame
    /// ignored; a record cut short is still an error.
    #[test]
    fn lenient_decoding_ignores_what_follows_the_record() {
        let get = GetDataRequest {
            path: "/a".into(),
            watch: true,
        };
        let mut body = Vec::new();
        get.encode(&mut body);
        let whole = body.len();
        body.extend_from_slice(b"EXTRA");
        let h = RequestHeader::new(5, OpCode::GetData);
        assert_eq!(
            Request::decode_lenient(&h, &body),
            Ok(Request::GetData(get))
        );
        assert!(matches!(
            Request::decode_lenient(&h, &body[..whole - 1]),
            Err(DecodeError::Truncated { .. })
        ));
        let h = RequestHeader::new(5, OpCode::Notification);
        assert_eq!(
            Request::decode_lenient(&h, &body),
            Err(DecodeError::UnknownOpCode(0))
        );
    }

    /// Negative lengths other than -1 (null) are invalid, for paths and for data.
    #[test]
    fn negative_lengths_other_than_minus_one_are_errors() {
        for len in [-2, -100, i32::MIN] {
            let mut body = Vec::new();
            body.write_i32(len);
            body.write_bool(false);
            let h = RequestHeader::new(1, OpCode::GetData);
            assert_eq!(
                Request::decode(&h, &body),
                Err(DecodeError::InvalidLength(len))
            );

            let mut body = Vec::new();
            body.write_str("/a");
            body.write_i32(len);
            body.write_i32(-1);
            let h = RequestHeader::new(1, OpCode::SetData);
            assert_eq!(
                Request::decode(&h, &body),
                Err(DecodeError::InvalidLength(len))
            );
        }
    }

    /// A null path (-1) is not a path.
    #[test]
    fn null_path_is_an_error() {
        let mut body = Vec::new();
        body.write_buffer(None);
        body.write_bool(false);
        let h = RequestHeader::new(1, OpCode::Exists);
        assert!(matches!(
            Request::decode(&h, &body),
            Err(DecodeError::UnexpectedNull(_))
        ));
    }

    /// Hostile vector counts in an ACL list or children list are refused before allocation.
    #[test]
    fn hostile_vector_counts_are_errors() {
        for count in [i32::MAX, i32::MIN, 1 << 20] {
            let mut body = Vec::new();
            body.write_str("/a");
            body.write_buffer(None);
            body.write_i32(count);
            body.write_i32(0);
            let h = RequestHeader::new(1, OpCode::Create);
            let err = Request::decode(&h, &body).unwrap_err();
            assert!(
                matches!(
                    err,
                    DecodeError::TooLong { .. } | DecodeError::InvalidLength(_)
                ),
                "{err:?}"
            );

            let mut body = Vec::new();
            body.write_i32(count);
            let err = Response::decode(OpCode::GetChildren, &body).unwrap_err();
            assert!(
                matches!(
                    err,
                    DecodeError::TooLong { .. } | DecodeError::InvalidLength(_)
                ),
                "{err:?}"
            );
        }
    }

    /// Paths are ustrings: invalid UTF-8 is refused.
    #[test]
    fn invalid_utf8_path_is_an_error() {
        let mut body = Vec::new();
        body.write_bytes(&[b'/', 0xff, 0xfe]);
        body.write_i32(-1);
        let h = RequestHeader::new(1, OpCode::Delete);
        assert_eq!(Request::decode(&h, &body), Err(DecodeError::InvalidUtf8));
        let h = RequestHeader::new(1, OpCode::DeleteContainer);
        assert_eq!(
            Request::decode(&h, &[b'/', 0xc3]),
            Err(DecodeError::InvalidUtf8)
        );
    }

    /// Every prefix of a valid request is an error, never a panic or a wrong value.
    #[test]
    fn truncated_requests_are_errors() {
        let req = Request::Create(CreateRequest {
            path: "/node".into(),
            data: Some(vec![1, 2, 3]),
            acl: crate::data::Acl::open_unsafe(),
            flags: 1,
        });
        let body = req.to_bytes();
        let h = RequestHeader::new(1, OpCode::Create);
        for n in 0..body.len() {
            assert!(Request::decode(&h, &body[..n]).is_err(), "{n}");
        }
        assert_eq!(Request::decode(&h, &body), Ok(req));
    }

    /// getData on a node created with null data: ZooKeeper replies with data length -1, and we
    /// must hand that back unchanged rather than as an empty array.
    #[test]
    fn get_data_null_and_empty_stay_distinct() {
        let null = GetDataResponse {
            data: None,
            stat: Default::default(),
        };
        let empty = GetDataResponse {
            data: Some(Vec::new()),
            stat: Default::default(),
        };
        assert_eq!(&null.to_bytes()[..4], &[0xff; 4]);
        assert_eq!(&empty.to_bytes()[..4], &[0; 4]);
        for v in [null, empty] {
            let r = Response::GetData(v);
            assert_eq!(Response::decode(OpCode::GetData, &r.to_bytes()), Ok(r));
        }
    }

    /// An error reply is a bare ReplyHeader (e.g. NoNode for exists).
    #[test]
    fn error_reply_has_no_body() {
        let h = ReplyHeader {
            xid: 7,
            zxid: 10,
            err: -101,
        };
        assert_eq!(Response::decode_reply(OpCode::Exists, &h, &[]), Ok(None));
        let ok = ReplyHeader { err: 0, ..h };
        assert!(Response::decode_reply(OpCode::Exists, &ok, &[]).is_err());
        assert_eq!(
            Response::decode_reply(OpCode::Delete, &ok, &[]),
            Ok(Some(Response::Delete))
        );
    }

    /// A whole frame body: header then request.
    #[test]
    fn decode_frame_reads_header_then_body() {
        let req = Request::Sync(SyncRequest { path: "/".into() });
        let mut buf = Vec::new();
        req.encode_with_header(42, &mut buf);
        let (h, got) = Request::decode_frame(&buf).unwrap();
        assert_eq!(h, RequestHeader::new(42, OpCode::Sync));
        assert_eq!(got, req);
        assert!(Request::decode_frame(&buf[..7]).is_err());
    }
}
