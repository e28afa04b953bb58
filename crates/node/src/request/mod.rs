//! What a decoded client request becomes: a local answer ([`read`]), a replicated write
//! ([`write`]), the end of the session, an auth packet, or an error answered at once.

pub mod read;
pub mod write;

use zk_store::Txn;
use zk_wire::AuthPacket;
use zk_wire::ErrorCode;
use zk_wire::OpCode;
use zk_wire::ReconfigRequest;
use zk_wire::Request;
use zk_wire::Response;

use self::write::WriteKind;

/// The route of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Answered from the local applied state (after the session's earlier writes).
    Local(Request),
    /// Replicated: propose `txn`, reply in the `kind`'s shape.
    Write(Txn, WriteKind),
    /// closeSession.
    CloseSession,
    /// addAuth.
    Auth(AuthPacket),
    /// Answered at once (in order) with this error and body.
    Fail(ErrorCode, Option<Response>),
    /// reconfig: replicated, then carried out by the leader (see `zk_consensus::CommandOp::Reconfig`).
    Reconfig(ReconfigRequest),
}

/// Routes a request.
pub fn plan(req: Request) -> Plan {
    if read::is_local(&req) {
        return Plan::Local(req);
    }
    let built = match req {
        Request::Create(r) => write::create_txn(OpCode::Create, r).map(|t| (t, WriteKind::Create)),
        Request::Create2(r) => {
            write::create_txn(OpCode::Create2, r).map(|t| (t, WriteKind::Create2))
        }
        Request::CreateContainer(r) => {
            write::create_txn(OpCode::CreateContainer, r).map(|t| (t, WriteKind::Create2))
        }
        Request::CreateTtl(r) => write::create_ttl_txn(r).map(|t| (t, WriteKind::Create2)),
        Request::Delete(r) => Ok((
            Txn::Delete {
                path: r.path,
                version: r.version,
            },
            WriteKind::Delete,
        )),
        // ZooKeeper accepts it from clients too; the store re-checks it is an empty container.
        Request::DeleteContainer(r) => {
            Ok((Txn::DeleteContainer { path: r.path }, WriteKind::Delete))
        }
        Request::SetData(r) => Ok((
            Txn::SetData {
                path: r.path,
                data: r.data,
                version: r.version,
            },
            WriteKind::SetData,
        )),
        Request::SetAcl(r) => Ok((
            Txn::SetAcl {
                path: r.path,
                acl: r.acl,
                version: r.version,
            },
            WriteKind::SetAcl,
        )),
        Request::Check(r) => Ok((
            Txn::Check {
                path: r.path.clone(),
                version: r.version,
            },
            WriteKind::Check { path: r.path },
        )),
        Request::Multi(m) => {
            let count = m.ops.len();
            let mut txns = Vec::with_capacity(count);
            let mut kinds = Vec::with_capacity(count);
            for (i, op) in m.ops.into_iter().enumerate() {
                match write::multi_op(op) {
                    Ok((t, k)) => {
                        txns.push(t);
                        kinds.push(k);
                    }
                    Err(e) => {
                        return Plan::Fail(ErrorCode::Ok, Some(write::failed_multi(count, i, e)))
                    }
                }
            }
            Ok((Txn::Multi(txns), WriteKind::Multi(kinds)))
        }
        Request::CloseSession => return Plan::CloseSession,
        Request::Auth(a) => return Plan::Auth(a),
        Request::Reconfig(r) => return Plan::Reconfig(r),
        // No SASL here.
        Request::Sasl(_) => Err(ErrorCode::Unimplemented),
        // Local requests returned above.
        _ => Err(ErrorCode::SystemError),
    };
    match built {
        Ok((txn, kind)) => Plan::Write(txn, kind),
        Err(e) => Plan::Fail(e, None),
    }
}

#[cfg(test)]
mod tests {
    use zk_wire::CreateRequest;
    use zk_wire::GetDataRequest;
    use zk_wire::MultiOp;
    use zk_wire::MultiRequest;

    use super::*;

    #[test]
    fn reads_are_local_writes_replicated() {
        let get = Request::GetData(GetDataRequest {
            path: "/a".into(),
            watch: false,
        });
        assert!(matches!(plan(get), Plan::Local(_)));
        let create = Request::Create(CreateRequest {
            path: "/a".into(),
            data: None,
            acl: vec![],
            flags: 0,
        });
        assert!(matches!(plan(create), Plan::Write(_, WriteKind::Create)));
        assert_eq!(plan(Request::CloseSession), Plan::CloseSession);
    }

    /// A multi with an op that cannot be built fails whole, before the log, in R7's shape.
    #[test]
    fn multi_with_a_read_fails_whole() {
        let m = Request::Multi(MultiRequest {
            ops: vec![MultiOp::GetData(GetDataRequest {
                path: "/a".into(),
                watch: false,
            })],
        });
        assert!(matches!(
            plan(m),
            Plan::Fail(ErrorCode::Ok, Some(Response::Multi(_)))
        ));
    }
}
