//! multi(14) and multiRead(22): a sequence of (`MultiHeader`, op record) pairs ended by
//! `MultiHeader { type: -1, done: true, err: -1 }` (`MultiOperationRecord`, `MultiResponse`).

use crate::children::{GetChildrenRequest, GetChildrenResponse};
use crate::codes::OpCode;
use crate::create::{Create2Response, CreateRequest, CreateResponse, CreateTtlRequest};
use crate::delete::DeleteRequest;
use crate::header::{ErrorResponse, MultiHeader};
use crate::jute::{DecodeError, Reader, Record};
use crate::node::{
    CheckVersionRequest, GetDataRequest, GetDataResponse, SetDataRequest, SetDataResponse,
};

/// One op of a multi (writes and check) or multiRead (getData, getChildren) request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum MultiOp {
    /// create(1).
    Create(CreateRequest),
    /// create2(15).
    Create2(CreateRequest),
    /// createContainer(19).
    CreateContainer(CreateRequest),
    /// createTTL(21).
    CreateTtl(CreateTtlRequest),
    /// delete(2).
    Delete(DeleteRequest),
    /// setData(5).
    SetData(SetDataRequest),
    /// check(13).
    Check(CheckVersionRequest),
    /// getChildren(8), multiRead only.
    GetChildren(GetChildrenRequest),
    /// getData(4), multiRead only.
    GetData(GetDataRequest),
}

impl MultiOp {
    /// The opcode written in the op's header.
    pub fn opcode(&self) -> OpCode {
        match self {
            MultiOp::Create(_) => OpCode::Create,
            MultiOp::Create2(_) => OpCode::Create2,
            MultiOp::CreateContainer(_) => OpCode::CreateContainer,
            MultiOp::CreateTtl(_) => OpCode::CreateTtl,
            MultiOp::Delete(_) => OpCode::Delete,
            MultiOp::SetData(_) => OpCode::SetData,
            MultiOp::Check(_) => OpCode::Check,
            MultiOp::GetChildren(_) => OpCode::GetChildren,
            MultiOp::GetData(_) => OpCode::GetData,
        }
    }

    /// True for the ops multiRead carries (ZooKeeper refuses to mix them with writes).
    pub fn is_read(&self) -> bool {
        matches!(self, MultiOp::GetChildren(_) | MultiOp::GetData(_))
    }

    fn encode_body(&self, out: &mut Vec<u8>) {
        match self {
            MultiOp::Create(r) | MultiOp::Create2(r) | MultiOp::CreateContainer(r) => r.encode(out),
            MultiOp::CreateTtl(r) => r.encode(out),
            MultiOp::Delete(r) => r.encode(out),
            MultiOp::SetData(r) => r.encode(out),
            MultiOp::Check(r) => r.encode(out),
            MultiOp::GetChildren(r) => r.encode(out),
            MultiOp::GetData(r) => r.encode(out),
        }
    }

    fn decode_body(op_type: i32, r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(match OpCode::from_code(op_type) {
            Some(OpCode::Create) => MultiOp::Create(CreateRequest::decode(r)?),
            Some(OpCode::Create2) => MultiOp::Create2(CreateRequest::decode(r)?),
            Some(OpCode::CreateContainer) => MultiOp::CreateContainer(CreateRequest::decode(r)?),
            Some(OpCode::CreateTtl) => MultiOp::CreateTtl(CreateTtlRequest::decode(r)?),
            Some(OpCode::Delete) => MultiOp::Delete(DeleteRequest::decode(r)?),
            Some(OpCode::SetData) => MultiOp::SetData(SetDataRequest::decode(r)?),
            Some(OpCode::Check) => MultiOp::Check(CheckVersionRequest::decode(r)?),
            Some(OpCode::GetChildren) => MultiOp::GetChildren(GetChildrenRequest::decode(r)?),
            Some(OpCode::GetData) => MultiOp::GetData(GetDataRequest::decode(r)?),
            // MultiOperationRecord throws "Invalid type of op" for anything else.
            _ => {
                return Err(DecodeError::InvalidValue {
                    field: "multi op type",
                    value: op_type.into(),
                })
            }
        })
    }
}

/// The body of multi(14) and multiRead(22).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct MultiRequest {
    /// The ops, applied atomically (multi) or read in order (multiRead).
    pub ops: Vec<MultiOp>,
}

impl Record for MultiRequest {
    /// Each op header carries err -1, as every ZooKeeper client writes it.
    fn encode(&self, out: &mut Vec<u8>) {
        for op in &self.ops {
            MultiHeader {
                op_type: op.opcode().code(),
                done: false,
                err: -1,
            }
            .encode(out);
            op.encode_body(out);
        }
        MultiHeader::DONE.encode(out);
    }

    /// Reads until a header with `done`; like ZooKeeper it ignores the headers' err fields and
    /// the end marker's type. Each op costs at least its 9-byte header, so the op count is
    /// bounded by the frame and no count is trusted up front.
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut ops = Vec::new();
        loop {
            let h = MultiHeader::decode(r)?;
            if h.done {
                return Ok(MultiRequest { ops });
            }
            ops.push(MultiOp::decode_body(h.op_type, r)?);
        }
    }
}

/// The outcome of one op in a multi/multiRead response.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum MultiResult {
    /// A create(1) succeeded.
    Create(CreateResponse),
    /// A create2, createContainer or createTTL succeeded (ZooKeeper reports them all as create2).
    Create2(Create2Response),
    /// A delete succeeded (no body).
    Delete,
    /// A setData succeeded.
    SetData(SetDataResponse),
    /// A check succeeded (no body).
    Check,
    /// A getChildren in multiRead.
    GetChildren(GetChildrenResponse),
    /// A getData in multiRead.
    GetData(GetDataResponse),
    /// The op failed, or was not applied because another op failed (err 0 for ops before the
    /// failing one, RuntimeInconsistency after it).
    Error(ErrorResponse),
}

impl MultiResult {
    /// The type written in the result's header (-1 for an error).
    pub fn op_type(&self) -> i32 {
        match self {
            MultiResult::Create(_) => OpCode::Create.code(),
            MultiResult::Create2(_) => OpCode::Create2.code(),
            MultiResult::Delete => OpCode::Delete.code(),
            MultiResult::SetData(_) => OpCode::SetData.code(),
            MultiResult::Check => OpCode::Check.code(),
            MultiResult::GetChildren(_) => OpCode::GetChildren.code(),
            MultiResult::GetData(_) => OpCode::GetData.code(),
            MultiResult::Error(_) => OpCode::Error.code(),
        }
    }
}

/// The body of a multi/multiRead reply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct MultiResponse {
    /// One result per op, in order.
    pub results: Vec<MultiResult>,
}

impl Record for MultiResponse {
    /// Headers as `MultiResponse.serialize` writes them: err 0 on success, the error code on
    /// an error result.
    fn encode(&self, out: &mut Vec<u8>) {
        for res in &self.results {
            let err = match res {
                MultiResult::Error(e) => e.err,
                _ => 0,
            };
            MultiHeader {
                op_type: res.op_type(),
                done: false,
                err,
            }
            .encode(out);
            match res {
                MultiResult::Create(b) => b.encode(out),
                MultiResult::Create2(b) => b.encode(out),
                MultiResult::Delete | MultiResult::Check => {}
                MultiResult::SetData(b) => b.encode(out),
                MultiResult::GetChildren(b) => b.encode(out),
                MultiResult::GetData(b) => b.encode(out),
                MultiResult::Error(b) => b.encode(out),
            }
        }
        MultiHeader::DONE.encode(out);
    }

    /// Like the Java client, the header's err is not used: an error result's code is its body.
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut results = Vec::new();
        loop {
            let h = MultiHeader::decode(r)?;
            if h.done {
                return Ok(MultiResponse { results });
            }
            let res = match OpCode::from_code(h.op_type) {
                Some(OpCode::Create) => MultiResult::Create(CreateResponse::decode(r)?),
                Some(OpCode::Create2) => MultiResult::Create2(Create2Response::decode(r)?),
                Some(OpCode::Delete) => MultiResult::Delete,
                Some(OpCode::SetData) => MultiResult::SetData(SetDataResponse::decode(r)?),
                Some(OpCode::Check) => MultiResult::Check,
                Some(OpCode::GetChildren) => {
                    MultiResult::GetChildren(GetChildrenResponse::decode(r)?)
                }
                Some(OpCode::GetData) => MultiResult::GetData(GetDataResponse::decode(r)?),
                Some(OpCode::Error) => MultiResult::Error(ErrorResponse::decode(r)?),
                _ => {
                    return Err(DecodeError::InvalidValue {
                        field: "multi result type",
                        value: h.op_type.into(),
                    })
                }
            };
            results.push(res);
        }
    }
}

#[cfg(test)]
impl MultiOp {
    pub(crate) fn arb() -> proptest::strategy::BoxedStrategy<Self> {
        use proptest::prelude::*;
        prop_oneof![
            CreateRequest::arb().prop_map(MultiOp::Create),
            CreateRequest::arb().prop_map(MultiOp::Create2),
            CreateRequest::arb().prop_map(MultiOp::CreateContainer),
            CreateTtlRequest::arb().prop_map(MultiOp::CreateTtl),
            DeleteRequest::arb().prop_map(MultiOp::Delete),
            SetDataRequest::arb().prop_map(MultiOp::SetData),
            CheckVersionRequest::arb().prop_map(MultiOp::Check),
            GetChildrenRequest::arb().prop_map(MultiOp::GetChildren),
            GetDataRequest::arb().prop_map(MultiOp::GetData),
        ]
        .boxed()
    }
}

#[cfg(test)]
impl MultiRequest {
    pub(crate) fn arb() -> proptest::strategy::BoxedStrategy<Self> {
        use proptest::prelude::*;
        proptest::collection::vec(MultiOp::arb(), 0..5)
            .prop_map(|ops| MultiRequest { ops })
            .boxed()
    }
}

#[cfg(test)]
impl MultiResult {
    pub(crate) fn arb() -> proptest::strategy::BoxedStrategy<Self> {
        use proptest::prelude::*;
        prop_oneof![
            CreateResponse::arb().prop_map(MultiResult::Create),
            Create2Response::arb().prop_map(MultiResult::Create2),
            Just(MultiResult::Delete),
            SetDataResponse::arb().prop_map(MultiResult::SetData),
            Just(MultiResult::Check),
            GetChildrenResponse::arb().prop_map(MultiResult::GetChildren),
            GetDataResponse::arb().prop_map(MultiResult::GetData),
            ErrorResponse::arb().prop_map(MultiResult::Error),
        ]
        .boxed()
    }
}

#[cfg(test)]
impl MultiResponse {
    pub(crate) fn arb() -> proptest::strategy::BoxedStrategy<Self> {
        use proptest::prelude::*;
        proptest::collection::vec(MultiResult::arb(), 0..5)
            .prop_map(|results| MultiResponse { results })
            .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Acl;

    /// `MultiOperationRecord.serialize`: (type, done=false, err=-1) + op, then (-1, true, -1).
    #[test]
    fn multi_request_bytes_match_zookeeper_layout() {
        let req = MultiRequest {
            ops: vec![MultiOp::Check(CheckVersionRequest {
                path: "/a".into(),
                version: 3,
            })],
        };
        let bytes = req.to_bytes();
        let expected: Vec<u8> = [
            &[0, 0, 0, 13, 0, 0xff, 0xff, 0xff, 0xff][..],
            &[0, 0, 0, 2, b'/', b'a', 0, 0, 0, 3],
            &[0xff, 0xff, 0xff, 0xff, 1, 0xff, 0xff, 0xff, 0xff],
        ]
        .concat();
        assert_eq!(bytes, expected);
        assert_eq!(MultiRequest::from_bytes(&bytes), Ok(req));
    }

    /// `MultiResponse.serialize`: an error result is (-1, false, err) + ErrorResponse{err}.
    #[test]
    fn multi_response_error_result_layout() {
        let rsp = MultiResponse {
            results: vec![
                MultiResult::Error(ErrorResponse { err: 0 }),
                MultiResult::Error(ErrorResponse { err: -101 }),
            ],
        };
        let bytes = rsp.to_bytes();
        assert_eq!(&bytes[9..13], &[0, 0, 0, 0]);
        assert_eq!(&bytes[13..18], &[0xff, 0xff, 0xff, 0xff, 0]);
        assert_eq!(&bytes[18..22], &(-101i32).to_be_bytes());
        assert_eq!(&bytes[22..26], &(-101i32).to_be_bytes());
        assert_eq!(MultiResponse::from_bytes(&bytes), Ok(rsp));
    }

    /// A multi with no end marker is truncated, however many ops precede the cut.
    #[test]
    fn multi_request_without_done_header_is_truncated() {
        let req = MultiRequest {
            ops: vec![MultiOp::Create(CreateRequest {
                path: "/x".into(),
                data: None,
                acl: Acl::open_unsafe(),
                flags: 0,
            })],
        };
        let bytes = req.to_bytes();
        let cut = &bytes[..bytes.len() - 9];
        assert!(matches!(
            MultiRequest::from_bytes(cut),
            Err(DecodeError::Truncated { .. })
        ));
    }

    /// `MultiOperationRecord.deserialize` throws "Invalid type of op" for e.g. sync inside multi.
    #[test]
    fn multi_request_rejects_ops_zookeeper_does_not_allow() {
        let mut bytes = Vec::new();
        MultiHeader {
            op_type: OpCode::Sync.code(),
            done: false,
            err: -1,
        }
        .encode(&mut bytes);
        crate::sync::SyncRequest { path: "/".into() }.encode(&mut bytes);
        MultiHeader::DONE.encode(&mut bytes);
        assert_eq!(
            MultiRequest::from_bytes(&bytes),
            Err(DecodeError::InvalidValue {
                field: "multi op type",
                value: 9
            })
        );
    }
}
