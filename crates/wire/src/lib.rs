//! Apache ZooKeeper 3.8's client protocol, written from its jute definitions.
//!
//! This crate owns the bytes: jute primitives, every request/response record, opcodes, error
//! codes, watcher events, and length-prefixed framing with a size limit. It must never do I/O,
//! never panic on input, and never allocate more than the frame limit for any frame, however
//! hostile: every length and count is checked against the bytes actually present first.

pub mod codes;
pub mod data;
pub mod event;
pub mod jute;

pub use codes::{ErrorCode, OpCode};
pub use data::{perms, Acl, CreateMode, Id, Stat};
pub use event::{EventType, KeeperState, WatcherEvent};
pub use jute::{DecodeError, JuteWrite, Reader, Record};
