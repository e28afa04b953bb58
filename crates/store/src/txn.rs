//! Replicated transactions, their context, and what applying one produces.

use serde::{Deserialize, Serialize};
use zk_wire::{Acl, CreateMode, ErrorCode, EventType, Id, OpCode, Stat};

/// Everything about a txn that does not come from the tree: fixed by the leader when it
/// proposes, so every replica applies the same thing.
#[derive(Debug, Clone, Copy)]
pub struct TxnContext<'a> {
    /// The txn's zxid; becomes czxid/mzxid/pzxid.
    pub zxid: i64,
    /// Wall-clock time chosen by the proposer (ms); becomes ctime/mtime.
    pub time_ms: i64,
    /// The requesting session (0 for system txns); owner of ephemerals it creates.
    pub session_id: i64,
    /// The requester's authenticated ids (ip, digest, super...), for ACL checks and `auth`.
    pub auth: &'a [Id],
}

impl<'a> TxnContext<'a> {
    /// A system context (no session, no ids): the cleaner, session expiry.
    pub fn system(zxid: i64, time_ms: i64) -> Self {
        TxnContext {
            zxid,
            time_ms,
            session_id: 0,
            auth: &[],
        }
    }
}

/// A write request as it travels through the Raft log; validated when applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Txn {
    /// create/create2/createContainer/createTTL.
    Create {
        /// Requested path (without the sequential suffix).
        path: String,
        /// Null data stays null.
        data: Option<Vec<u8>>,
        /// Requested ACL (before `auth` expansion).
        acl: Vec<Acl>,
        /// Mode (see [`create_mode_for`] for mapping a request).
        mode: CreateMode,
        /// Only from createTTL.
        ttl: Option<i64>,
    },
    /// delete.
    Delete {
        /// Path.
        path: String,
        /// Expected version, -1 for any.
        version: i32,
    },
    /// setData.
    SetData {
        /// Path.
        path: String,
        /// New data.
        data: Option<Vec<u8>>,
        /// Expected version, -1 for any.
        version: i32,
    },
    /// setACL.
    SetAcl {
        /// Path.
        path: String,
        /// New ACL (before `auth` expansion).
        acl: Vec<Acl>,
        /// Expected aversion, -1 for any.
        version: i32,
    },
    /// check (inside a multi).
    Check {
        /// Path.
        path: String,
        /// Expected version, -1 for any.
        version: i32,
    },
    /// multi: all or nothing, of Create/Delete/SetData/Check.
    Multi(Vec<Txn>),
    /// closeSession: deletes every ephemeral of the session.
    CloseSession {
        /// The session.
        session_id: i64,
    },
    /// The leader's batched expiry: like CloseSession for each, in order.
    ExpireSessions(Vec<i64>),
    /// deleteContainer from the cleaner; conditions are checked again here.
    DeleteContainer {
        /// Path.
        path: String,
    },
}

/// A create's mode from the request's opcode and flags, as ZooKeeper 3.8 treats them:
/// bad flags are BadArguments; a plain create with the container flag makes a persistent node
/// (its CreateTxn has no container marker); createContainer makes a container whatever the
/// non-TTL flags; createTTL needs a TTL mode (ZooKeeper crashes on other modes with a negative
/// ttl, so we answer BadArguments for all of them).
pub fn create_mode_for(op: OpCode, flags: i32) -> Result<CreateMode, ErrorCode> {
    let mode = CreateMode::from_flags(flags).ok_or(ErrorCode::BadArguments)?;
    match op {
        OpCode::Create | OpCode::Create2 => Ok(match mode {
            CreateMode::Container => CreateMode::Persistent,
            m => m,
        }),
        OpCode::CreateContainer => Ok(if mode.is_ttl() {
            mode
        } else {
            CreateMode::Container
        }),
        OpCode::CreateTtl if mode.is_ttl() => Ok(mode),
        _ => Err(ErrorCode::BadArguments),
    }
}

/// The successful result of one op.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OpResult {
    /// Create: the actual path (with any sequential suffix) and the new node's stat.
    Created {
        /// Actual path.
        path: String,
        /// New node's stat.
        stat: Stat,
    },
    /// Delete or deleteContainer.
    Deleted,
    /// SetData: the new stat.
    DataSet(Stat),
    /// SetAcl: the new stat.
    AclSet(Stat),
    /// Check passed.
    Checked,
    /// One op of a failed multi (`ErrorResult`): `Ok` for ops before the failing one (kazoo's
    /// RolledBackError), the real code for it, RuntimeInconsistency after it (R7).
    Error(ErrorCode),
    /// A multi's per-op results; a failed multi has only `Error` entries.
    Multi(Vec<OpResult>),
    /// Close/expire: the ephemerals deleted, in deletion order.
    SessionsClosed(Vec<String>),
}

/// One watch trigger: ZooKeeper's `triggerWatch(path, type)` on the data and/or child watch
/// tables (NodeCreated/NodeDataChanged: data; NodeChildrenChanged: child; NodeDeleted: both).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Trigger {
    /// Path of the event (the root is `/`).
    pub path: String,
    /// The event.
    pub event: EventType,
}

/// What applying a txn did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The op result, or the error code ZooKeeper answers. A multi is always `Ok(Multi(..))`;
    /// see [`Applied::error`] for its overall code.
    pub result: Result<OpResult, ErrorCode>,
    /// Watch triggers in firing order (none for failed txns).
    pub triggers: Vec<Trigger>,
}

impl Applied {
    pub(crate) fn err(code: ErrorCode) -> Self {
        Applied {
            result: Err(code),
            triggers: Vec::new(),
        }
    }

    /// The txn's overall code: `Ok`, the error, or for a multi the first failing op's code.
    pub fn error(&self) -> ErrorCode {
        match &self.result {
            Err(e) => *e,
            Ok(OpResult::Multi(rs)) => rs
                .iter()
                .find_map(|r| match r {
                    OpResult::Error(e) if !e.is_ok() => Some(*e),
                    _ => None,
                })
                .unwrap_or(ErrorCode::Ok),
            Ok(_) => ErrorCode::Ok,
        }
    }
}
