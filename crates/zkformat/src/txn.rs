//! Transactions as ZooKeeper logs them (`SerializeUtils.deserializeTxn`): a `TxnHeader`, the
//! record its type names, then a `TxnDigest` when digests are on (3.8's default).

use crate::error::{At, ErrorKind};
use crate::jute::{Reader, Writer};
use crate::records::{read_acl_list, write_acl_list, Acl};

/// The opcodes that appear in ZooKeeper 3.8's transaction logs (`ZooDefs.OpCode`).
pub struct OpCode;

#[allow(missing_docs)]
impl OpCode {
    pub const CREATE: i32 = 1;
    pub const DELETE: i32 = 2;
    pub const SET_DATA: i32 = 5;
    pub const SET_ACL: i32 = 7;
    pub const CHECK: i32 = 13;
    pub const MULTI: i32 = 14;
    pub const CREATE2: i32 = 15;
    pub const RECONFIG: i32 = 16;
    pub const CREATE_CONTAINER: i32 = 19;
    pub const DELETE_CONTAINER: i32 = 20;
    pub const CREATE_TTL: i32 = 21;
    pub const CREATE_SESSION: i32 = -10;
    pub const CLOSE_SESSION: i32 = -11;
    pub const ERROR: i32 = -1;

    /// ZooKeeper's name for a logged type (TxnLogToolkit's `op2String`).
    pub fn name(op: i32) -> &'static str {
        match op {
            Self::CREATE => "create",
            Self::DELETE => "delete",
            Self::SET_DATA => "setData",
            Self::SET_ACL => "setACL",
            Self::CHECK => "check",
            Self::MULTI => "multi",
            Self::CREATE2 => "create2",
            Self::RECONFIG => "reconfig",
            Self::CREATE_CONTAINER => "createContainer",
            Self::DELETE_CONTAINER => "deleteContainer",
            Self::CREATE_TTL => "createTtl",
            Self::CREATE_SESSION => "createSession",
            Self::CLOSE_SESSION => "closeSession",
            Self::ERROR => "error",
            _ => "unknown",
        }
    }
}

/// `TxnHeader { long clientId; int cxid; long zxid; long time; int type; }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxnHeader {
    /// The session.
    pub client_id: i64,
    /// The session's request number.
    pub cxid: i32,
    /// This transaction's zxid.
    pub zxid: i64,
    /// The leader's clock when it was proposed (ms).
    pub time: i64,
    /// Its opcode.
    pub op: i32,
}

const HEADER_LEN: usize = 8 + 4 + 8 + 8 + 4;

/// `TxnDigest { int version; long treeDigest; }`: the tree's digest after the txn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxnDigest {
    /// Digest version (2 in 3.8).
    pub version: i32,
    /// The digest.
    pub tree_digest: i64,
}

/// One transaction record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Txn {
    /// `CreateTxn` (create and create2; `parent_cversion` -1 for a version-0 record).
    Create {
        /// Path.
        path: String,
        /// Data.
        data: Option<Vec<u8>>,
        /// ACL.
        acl: Vec<Acl>,
        /// Owned by the header's session.
        ephemeral: bool,
        /// The parent's cversion after this create.
        parent_cversion: i32,
    },
    /// `CreateTTLTxn`.
    CreateTtl {
        /// Path.
        path: String,
        /// Data.
        data: Option<Vec<u8>>,
        /// ACL.
        acl: Vec<Acl>,
        /// The parent's cversion after this create.
        parent_cversion: i32,
        /// Time to live (ms).
        ttl: i64,
    },
    /// `CreateContainerTxn`.
    CreateContainer {
        /// Path.
        path: String,
        /// Data.
        data: Option<Vec<u8>>,
        /// ACL.
        acl: Vec<Acl>,
        /// The parent's cversion after this create.
        parent_cversion: i32,
    },
    /// `DeleteTxn` (delete and deleteContainer).
    Delete {
        /// Path.
        path: String,
    },
    /// `SetDataTxn` (setData and reconfig).
    SetData {
        /// Path.
        path: String,
        /// Data.
        data: Option<Vec<u8>>,
        /// The new data version.
        version: i32,
    },
    /// `SetACLTxn`.
    SetAcl {
        /// Path.
        path: String,
        /// ACL.
        acl: Vec<Acl>,
        /// The new ACL version.
        version: i32,
    },
    /// `CheckVersionTxn` (inside a multi).
    Check {
        /// Path.
        path: String,
        /// The version checked.
        version: i32,
    },
    /// `CreateSessionTxn`.
    CreateSession {
        /// The negotiated timeout (ms).
        timeout: i32,
    },
    /// `CloseSessionTxn` (`None`: a record from before 3.6, without the paths).
    CloseSession {
        /// The ephemerals to delete.
        paths: Option<Vec<String>>,
    },
    /// `ErrorTxn`.
    Error {
        /// The error code.
        err: i32,
    },
    /// `MultiTxn`: each sub-transaction with its own type.
    Multi(Vec<(i32, Txn)>),
}

impl Txn {
    /// The path this txn is about, if any.
    pub fn path(&self) -> Option<&str> {
        match self {
            Txn::Create { path, .. }
            | Txn::CreateTtl { path, .. }
            | Txn::CreateContainer { path, .. }
            | Txn::Delete { path }
            | Txn::SetData { path, .. }
            | Txn::SetAcl { path, .. }
            | Txn::Check { path, .. } => Some(path),
            _ => None,
        }
    }

    /// Reads the record of type `op`; `sub` for a multi's sub-transaction (where setACL,
    /// sessions and nested multis never appear).
    pub(crate) fn read(op: i32, r: &mut Reader<'_>, sub: bool) -> Result<Txn, At> {
        let top_only = matches!(
            op,
            OpCode::CREATE_SESSION
                | OpCode::CLOSE_SESSION
                | OpCode::SET_ACL
                | OpCode::MULTI
                | OpCode::RECONFIG
        );
        if (sub && top_only) || (!sub && op == OpCode::CHECK) {
            return Err(ErrorKind::UnknownTxnType(op).at(r.pos()));
        }
        Ok(match op {
            OpCode::CREATE | OpCode::CREATE2 => {
                let path = r.string()?;
                let data = r.buffer()?.map(<[u8]>::to_vec);
                let acl = read_acl_list(r)?;
                let ephemeral = r.bool()?;
                // A version-0 create ends here (SerializeUtils' EOF fallback): the parent's
                // cversion is then fixed up as one more.
                let parent_cversion = if op == OpCode::CREATE && r.remaining() < 4 {
                    if r.remaining() != 0 {
                        return Err(ErrorKind::Truncated {
                            needed: (4 - r.remaining()) as u64,
                        }
                        .at(r.pos() + r.remaining()));
                    }
                    -1
                } else {
                    r.int()?
                };
                Txn::Create {
                    path,
                    data,
                    acl,
                    ephemeral,
                    parent_cversion,
                }
            }
            OpCode::CREATE_TTL => Txn::CreateTtl {
                path: r.string()?,
                data: r.buffer()?.map(<[u8]>::to_vec),
                acl: read_acl_list(r)?,
                parent_cversion: r.int()?,
                ttl: r.long()?,
            },
            OpCode::CREATE_CONTAINER => Txn::CreateContainer {
                path: r.string()?,
                data: r.buffer()?.map(<[u8]>::to_vec),
                acl: read_acl_list(r)?,
                parent_cversion: r.int()?,
            },
            OpCode::DELETE | OpCode::DELETE_CONTAINER => Txn::Delete { path: r.string()? },
            OpCode::SET_DATA | OpCode::RECONFIG => Txn::SetData {
                path: r.string()?,
                data: r.buffer()?.map(<[u8]>::to_vec),
                version: r.int()?,
            },
            OpCode::SET_ACL => Txn::SetAcl {
                path: r.string()?,
                acl: read_acl_list(r)?,
                version: r.int()?,
            },
            OpCode::CHECK => Txn::Check {
                path: r.string()?,
                version: r.int()?,
            },
            OpCode::CREATE_SESSION => Txn::CreateSession { timeout: r.int()? },
            OpCode::CLOSE_SESSION => {
                // Before 3.6 a closeSession had no record (SerializeUtils: EOF -> null).
                if r.at_end() {
                    Txn::CloseSession { paths: None }
                } else {
                    let n = r.vector_len(4)?.unwrap_or(0);
                    let paths = (0..n).map(|_| r.string()).collect::<Result<_, _>>()?;
                    Txn::CloseSession { paths: Some(paths) }
                }
            }
            OpCode::ERROR => Txn::Error { err: r.int()? },
            OpCode::MULTI => {
                let n = r.vector_len(8)?.unwrap_or(0);
                let mut subs = Vec::with_capacity(n);
                for _ in 0..n {
                    let sub_op = r.int()?;
                    let at = r.pos() + 4;
                    let bytes = r
                        .buffer()?
                        .ok_or_else(|| r.invalid("multi sub-transaction without data"))?;
                    let mut sr = Reader::new(bytes);
                    let txn = Txn::read(sub_op, &mut sr, true).map_err(|e| e.shifted(at))?;
                    subs.push((sub_op, txn));
                }
                Txn::Multi(subs)
            }
            other => return Err(ErrorKind::UnknownTxnType(other).at(r.pos())),
        })
    }

    pub(crate) fn write(&self, w: &mut Writer) {
        match self {
            Txn::Create {
                path,
                data,
                acl,
                ephemeral,
                parent_cversion,
            } => {
                w.string(path);
                w.buffer(data.as_deref());
                write_acl_list(acl, w);
                w.bool(*ephemeral);
                w.int(*parent_cversion);
            }
            Txn::CreateTtl {
                path,
                data,
                acl,
                parent_cversion,
                ttl,
            } => {
                w.string(path);
                w.buffer(data.as_deref());
                write_acl_list(acl, w);
                w.int(*parent_cversion);
                w.long(*ttl);
            }
            Txn::CreateContainer {
                path,
                data,
                acl,
                parent_cversion,
            } => {
                w.string(path);
                w.buffer(data.as_deref());
                write_acl_list(acl, w);
                w.int(*parent_cversion);
            }
            Txn::Delete { path } => w.string(path),
            Txn::SetData {
                path,
                data,
                version,
            } => {
                w.string(path);
                w.buffer(data.as_deref());
                w.int(*version);
            }
            Txn::SetAcl { path, acl, version } => {
                w.string(path);
                write_acl_list(acl, w);
                w.int(*version);
            }
            Txn::Check { path, version } => {
                w.string(path);
                w.int(*version);
            }
            Txn::CreateSession { timeout } => w.int(*timeout),
            Txn::CloseSession { paths } => {
                if let Some(paths) = paths {
                    w.int(paths.len() as i32);
                    for p in paths {
                        w.string(p);
                    }
                }
            }
            Txn::Error { err } => w.int(*err),
            Txn::Multi(subs) => {
                w.int(subs.len() as i32);
                for (op, txn) in subs {
                    w.int(*op);
                    let mut inner = Writer::default();
                    txn.write(&mut inner);
                    w.buffer(Some(&inner.buf));
                }
            }
        }
    }
}

/// Decodes the bytes of one log record: header, txn, optional digest.
pub(crate) fn decode_entry(bytes: &[u8]) -> Result<(TxnHeader, Txn, Option<TxnDigest>), At> {
    let mut r = Reader::new(bytes);
    if bytes.len() < HEADER_LEN {
        return Err(r.invalid(format!(
            "a {}-byte record is shorter than a txn header",
            bytes.len()
        )));
    }
    let header = TxnHeader {
        client_id: r.long()?,
        cxid: r.int()?,
        zxid: r.long()?,
        time: r.long()?,
        op: r.int()?,
    };
    let txn = Txn::read(header.op, &mut r, false)?;
    // SerializeUtils reads a digest if one follows and takes a short read for none.
    let digest = if r.remaining() >= 12 {
        Some(TxnDigest {
            version: r.int()?,
            tree_digest: r.long()?,
        })
    } else {
        None
    };
    Ok((header, txn, digest))
}

/// Encodes one log record's bytes (`Util.marshallTxnEntry`).
pub(crate) fn encode_entry(header: &TxnHeader, txn: &Txn, digest: Option<&TxnDigest>) -> Vec<u8> {
    let mut w = Writer::default();
    w.long(header.client_id);
    w.int(header.cxid);
    w.long(header.zxid);
    w.long(header.time);
    w.int(header.op);
    txn.write(&mut w);
    if let Some(d) = digest {
        w.int(d.version);
        w.long(d.tree_digest);
    }
    w.buf
}
