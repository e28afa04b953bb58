//! Apache ZooKeeper 3.8's client protocol, written from its jute definitions.
//!
//! This crate owns the bytes: jute primitives, every request/response record, opcodes, error
//! codes, watcher events, and length-prefixed framing with a size limit. It must never do I/O,
//! never panic on input, and never allocate more than the frame limit for any frame, however
//! hostile: every length and count is checked against the bytes actually present first.
//! (Decoded values may take a small constant factor more memory than their encoding, e.g. a
//! `String` header per 4-byte empty string; never an amount chosen by a length field.)

#![warn(missing_docs)]

#[cfg(test)]
mod arb;
mod field;
#[cfg(test)]
mod proptests;

pub mod acl_ops;
pub mod auth;
pub mod children;
pub mod codes;
pub mod connect;
pub mod create;
pub mod data;
pub mod delete;
pub mod ephemerals;
pub mod event;
pub mod frame;
pub mod header;
pub mod jute;
pub mod message;
pub mod multi;
pub mod node;
pub mod reconfig;
pub mod sync;
pub mod watches;
pub mod whoami;

pub use acl_ops::{GetAclRequest, GetAclResponse, SetAclRequest, SetAclResponse};
pub use auth::{AuthPacket, GetSaslRequest, SetSaslResponse};
pub use children::{
    GetAllChildrenNumberRequest, GetAllChildrenNumberResponse, GetChildren2Request,
    GetChildren2Response, GetChildrenRequest, GetChildrenResponse,
};
pub use codes::{ErrorCode, OpCode};
pub use connect::{ConnectRequest, ConnectResponse};
pub use create::{Create2Response, CreateRequest, CreateResponse, CreateTtlRequest};
pub use data::{perms, Acl, CreateMode, Id, Stat};
pub use delete::{DeleteContainerRequest, DeleteRequest};
pub use ephemerals::{GetEphemeralsRequest, GetEphemeralsResponse};
pub use event::{EventType, KeeperState, WatcherEvent};
pub use frame::{encode_frame, write_frame, Frame, FrameDecoder, DEFAULT_MAX_FRAME};
pub use header::{xid, ErrorResponse, MultiHeader, ReplyHeader, RequestHeader};
pub use jute::{DecodeError, JuteWrite, Reader, Record};
pub use message::{Request, Response};
pub use multi::{MultiOp, MultiRequest, MultiResponse, MultiResult};
pub use node::{
    CheckVersionRequest, ExistsRequest, ExistsResponse, GetDataRequest, GetDataResponse,
    SetDataRequest, SetDataResponse,
};
pub use reconfig::ReconfigRequest;
pub use sync::{SyncRequest, SyncResponse};
pub use watches::{
    AddWatchMode, AddWatchRequest, CheckWatchesRequest, RemoveWatchesRequest, SetWatches,
    SetWatches2, WatcherType,
};
pub use whoami::{ClientInfo, WhoAmIResponse};
