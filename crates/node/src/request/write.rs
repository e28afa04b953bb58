//! Writes: a client request becomes a store transaction to replicate, and the applied result
//! becomes the reply the client's opcode expects.

use zk_consensus::Outcome;
use zk_store::create_mode_for;
use zk_store::OpResult;
use zk_store::Txn;
use zk_wire::Create2Response;
use zk_wire::CreateRequest;
use zk_wire::CreateResponse;
use zk_wire::CreateTtlRequest;
use zk_wire::ErrorCode;
use zk_wire::ErrorResponse;
use zk_wire::GetDataResponse;
use zk_wire::MultiOp;
use zk_wire::MultiResponse;
use zk_wire::MultiResult;
use zk_wire::OpCode;
use zk_wire::Response;
use zk_wire::SetAclResponse;
use zk_wire::SetDataResponse;
use zk_wire::Stat;

/// The reply shape a write's opcode expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteKind {
    /// create: the path only.
    Create,
    /// create2, createContainer, createTTL: path and stat.
    Create2,
    /// delete.
    Delete,
    /// setData: the new stat.
    SetData,
    /// setACL: the new stat.
    SetAcl,
    /// check: answered like setData, with the node's stat (read at reply time: the check
    /// changes nothing); inside a multi only its success shows.
    Check {
        /// The checked node.
        path: String,
    },
    /// multi: one result per op.
    Multi(Vec<WriteKind>),
    /// closeSession: no body.
    CloseSession,
    /// reconfig: `/zookeeper/config`'s data and stat, as getData answers it.
    Reconfig,
}

fn create(op: OpCode, r: CreateRequest, ttl: Option<i64>) -> Result<Txn, ErrorCode> {
    let mode = create_mode_for(op, r.flags)?;
    Ok(Txn::Create {
        path: r.path,
        data: r.data,
        acl: r.acl,
        mode,
        ttl,
    })
}

fn create_ttl(r: CreateTtlRequest) -> Result<Txn, ErrorCode> {
    let CreateTtlRequest {
        path,
        data,
        acl,
        flags,
        ttl,
    } = r;
    create(
        OpCode::CreateTtl,
        CreateRequest {
            path,
            data,
            acl,
            flags,
        },
        Some(ttl),
    )
}

/// One op of a multi as a transaction, or the error it fails with before reaching the log.
pub fn multi_op(op: MultiOp) -> Result<(Txn, WriteKind), ErrorCode> {
    Ok(match op {
        MultiOp::Create(r) => (create(OpCode::Create, r, None)?, WriteKind::Create),
        MultiOp::Create2(r) => (create(OpCode::Create2, r, None)?, WriteKind::Create2),
        MultiOp::CreateContainer(r) => (
            create(OpCode::CreateContainer, r, None)?,
            WriteKind::Create2,
        ),
        MultiOp::CreateTtl(r) => (create_ttl(r)?, WriteKind::Create2),
        MultiOp::Delete(r) => (
            Txn::Delete {
                path: r.path,
                version: r.version,
            },
            WriteKind::Delete,
        ),
        MultiOp::SetData(r) => (
            Txn::SetData {
                path: r.path,
                data: r.data,
                version: r.version,
            },
            WriteKind::SetData,
        ),
        MultiOp::Check(r) => (
            Txn::Check {
                path: r.path.clone(),
                version: r.version,
            },
            WriteKind::Check { path: r.path },
        ),
        // A read inside a write multi: ZooKeeper's PrepRequestProcessor refuses the op type.
        MultiOp::GetChildren(_) | MultiOp::GetData(_) => return Err(ErrorCode::BadArguments),
    })
}

/// Builds the transaction of a create-family request.
pub fn create_txn(op: OpCode, r: CreateRequest) -> Result<Txn, ErrorCode> {
    create(op, r, None)
}

/// Builds the transaction of a createTTL request.
pub fn create_ttl_txn(r: CreateTtlRequest) -> Result<Txn, ErrorCode> {
    create_ttl(r)
}

/// A multi that failed before reaching the log (an op that cannot even be built): the
/// failing op gets its error, those before it Ok (kazoo's RolledBackError), those after
/// RuntimeInconsistency, as R7 describes a failed multi.
pub fn failed_multi(count: usize, failing: usize, err: ErrorCode) -> Response {
    let results = (0..count)
        .map(|i| {
            let code = match i.cmp(&failing) {
                std::cmp::Ordering::Less => ErrorCode::Ok,
                std::cmp::Ordering::Equal => err,
                std::cmp::Ordering::Greater => ErrorCode::RuntimeInconsistency,
            };
            MultiResult::Error(ErrorResponse { err: code.code() })
        })
        .collect();
    Response::Multi(MultiResponse { results })
}

/// The reply to a write from what applying it did: `(err, body)`; `check_stat` is the
/// node's stat for a standalone check (the store's result for it carries none), `config`
/// the data of `/zookeeper/config` for a reconfig.
pub fn reply(
    kind: &WriteKind,
    outcome: &Outcome,
    check_stat: Option<Stat>,
    config: Option<&[u8]>,
) -> (ErrorCode, Option<Response>) {
    match outcome {
        Outcome::Txn(applied) => match &applied.result {
            Ok(OpResult::DataSet(stat)) if *kind == WriteKind::Reconfig => (
                ErrorCode::Ok,
                Some(Response::GetData(GetDataResponse {
                    data: config.map(<[u8]>::to_vec),
                    stat: *stat,
                })),
            ),
            Ok(res) => match single(kind, res, check_stat) {
                Some(resp) => (ErrorCode::Ok, Some(resp)),
                None => (ErrorCode::SystemError, None),
            },
            Err(code) => (*code, None),
        },
        Outcome::SessionsClosed { .. } if *kind == WriteKind::CloseSession => {
            (ErrorCode::Ok, Some(Response::CloseSession))
        }
        Outcome::Rejected(code) => (*code, None),
        // An outcome that does not belong to this request: a bug, answered honestly.
        _ => (ErrorCode::SystemError, None),
    }
}

fn single(kind: &WriteKind, res: &OpResult, check_stat: Option<Stat>) -> Option<Response> {
    Some(match (kind, res) {
        (WriteKind::Create, OpResult::Created { path, .. }) => {
            Response::Create(CreateResponse { path: path.clone() })
        }
        (WriteKind::Create2, OpResult::Created { path, stat }) => {
            Response::Create2(Create2Response {
                path: path.clone(),
                stat: *stat,
            })
        }
        (WriteKind::Delete, OpResult::Deleted) => Response::Delete,
        (WriteKind::SetData, OpResult::DataSet(stat)) => {
            Response::SetData(SetDataResponse { stat: *stat })
        }
        (WriteKind::SetAcl, OpResult::AclSet(stat)) => {
            Response::SetAcl(SetAclResponse { stat: *stat })
        }
        (WriteKind::Check { .. }, OpResult::Checked) => Response::Check(SetDataResponse {
            stat: check_stat.unwrap_or_default(),
        }),
        (WriteKind::Multi(kinds), OpResult::Multi(results)) => {
            let results = kinds
                .iter()
                .zip(results)
                .map(|(k, r)| multi_result(k, r))
                .collect::<Option<Vec<_>>>()?;
            Response::Multi(MultiResponse { results })
        }
        _ => return None,
    })
}

fn multi_result(kind: &WriteKind, res: &OpResult) -> Option<MultiResult> {
    Some(match (kind, res) {
        (_, OpResult::Error(code)) => MultiResult::Error(ErrorResponse { err: code.code() }),
        (WriteKind::Create, OpResult::Created { path, .. }) => {
            MultiResult::Create(CreateResponse { path: path.clone() })
        }
        (WriteKind::Create2, OpResult::Created { path, stat }) => {
            MultiResult::Create2(Create2Response {
                path: path.clone(),
                stat: *stat,
            })
        }
        (WriteKind::Delete, OpResult::Deleted) => MultiResult::Delete,
        (WriteKind::SetData, OpResult::DataSet(stat)) => {
            MultiResult::SetData(SetDataResponse { stat: *stat })
        }
        (WriteKind::Check { .. }, OpResult::Checked) => MultiResult::Check,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use zk_store::Applied;

    use super::*;

    fn applied(result: Result<OpResult, ErrorCode>) -> Outcome {
        Outcome::Txn(Applied {
            result,
            triggers: vec![],
        })
    }

    /// create answers the path only; create2 the path and the stat.
    #[test]
    fn create_replies_by_opcode() {
        let res = applied(Ok(OpResult::Created {
            path: "/a0000000001".into(),
            stat: Stat::default(),
        }));
        assert_eq!(
            reply(&WriteKind::Create, &res, None, None),
            (
                ErrorCode::Ok,
                Some(Response::Create(CreateResponse {
                    path: "/a0000000001".into()
                }))
            )
        );
        assert!(matches!(
            reply(&WriteKind::Create2, &res, None, None),
            (ErrorCode::Ok, Some(Response::Create2(_)))
        ));
    }

    /// reconfig answers as getData of /zookeeper/config: its data and the stat the change left.
    #[test]
    fn reconfig_replies_with_the_config() {
        let stat = Stat {
            mzxid: 0x1_0000_0005,
            version: -1,
            ..Stat::default()
        };
        let res = applied(Ok(OpResult::DataSet(stat)));
        let text = b"server.1=h:1:2:participant\nversion=100000005".as_slice();
        assert_eq!(
            reply(&WriteKind::Reconfig, &res, None, Some(text)),
            (
                ErrorCode::Ok,
                Some(Response::GetData(GetDataResponse {
                    data: Some(text.to_vec()),
                    stat
                }))
            )
        );
        let refused = Outcome::Rejected(ErrorCode::NewConfigNoQuorum);
        assert_eq!(
            reply(&WriteKind::Reconfig, &refused, None, None),
            (ErrorCode::NewConfigNoQuorum, None)
        );
    }

    /// A store error is the reply's error, with no body.
    #[test]
    fn errors_have_no_body() {
        let res = applied(Err(ErrorCode::NodeExists));
        assert_eq!(
            reply(&WriteKind::Create, &res, None, None),
            (ErrorCode::NodeExists, None)
        );
    }

    /// R7 for a multi that fails before the log: Ok, the error, RuntimeInconsistency.
    #[test]
    fn failed_multi_shape() {
        let Response::Multi(m) = failed_multi(3, 1, ErrorCode::BadArguments) else {
            panic!("not a multi")
        };
        let codes: Vec<i32> = m
            .results
            .iter()
            .map(|r| match r {
                MultiResult::Error(e) => e.err,
                _ => 1,
            })
            .collect();
        assert_eq!(codes, vec![0, -8, -2]);
    }

    /// A multi's bad create flags are caught before the log.
    #[test]
    fn bad_flags_are_bad_arguments() {
        let op = MultiOp::Create(CreateRequest {
            path: "/x".into(),
            data: None,
            acl: vec![],
            flags: 99,
        });
        assert_eq!(multi_op(op).err(), Some(ErrorCode::BadArguments));
    }
}
