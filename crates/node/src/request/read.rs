//! Local requests: reads of the applied state and the watch requests, answered on this node.
//!
//! Each runs under the state's read lock, and sets its watch under it too (see `hub`), so the
//! answer and the watch describe the same applied zxid.

use zk_consensus::State;
use zk_session::SessionId;
use zk_store::WatchMode;
use zk_store::WatchRegistry;
use zk_store::WatcherKind;
use zk_wire::ClientInfo;
use zk_wire::ErrorCode;
use zk_wire::ErrorResponse;
use zk_wire::ExistsResponse;
use zk_wire::GetAclResponse;
use zk_wire::GetAllChildrenNumberResponse;
use zk_wire::GetChildren2Response;
use zk_wire::GetChildrenResponse;
use zk_wire::GetDataResponse;
use zk_wire::GetEphemeralsResponse;
use zk_wire::Id;
use zk_wire::MultiOp;
use zk_wire::MultiResponse;
use zk_wire::MultiResult;
use zk_wire::Request;
use zk_wire::Response;
use zk_wire::SyncResponse;
use zk_wire::WatcherEvent;
use zk_wire::WhoAmIResponse;

use crate::hub::ConnId;
use crate::hub::Hub;

/// Who is reading.
#[derive(Debug, Clone, Copy)]
pub struct Reader<'a> {
    /// The connection (the watcher of any watch set).
    pub conn: ConnId,
    /// Its session.
    pub session: SessionId,
    /// Its authenticated ids, as they were when the request arrived.
    pub auth: &'a [Id],
}

/// A local request's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadAnswer {
    /// The applied zxid it was answered at (the reply header's zxid).
    pub zxid: i64,
    /// The reply's error code.
    pub err: ErrorCode,
    /// The reply body (None with an error).
    pub body: Option<Response>,
    /// Events to send before the reply (setWatches for changes the client missed).
    pub events: Vec<WatcherEvent>,
}

/// True for the requests answered here rather than replicated.
pub fn is_local(req: &Request) -> bool {
    matches!(
        req,
        Request::GetData(_)
            | Request::Exists(_)
            | Request::GetChildren(_)
            | Request::GetChildren2(_)
            | Request::GetAllChildrenNumber(_)
            | Request::GetAcl(_)
            | Request::GetEphemerals(_)
            | Request::WhoAmI
            | Request::CheckWatches(_)
            | Request::RemoveWatches(_)
            | Request::AddWatch(_)
            | Request::SetWatches(_)
            | Request::SetWatches2(_)
            | Request::Sync(_)
            | Request::MultiRead(_)
            | Request::Ping
    )
}

/// Answers a local request from `state`, registering watches in `hub`.
pub fn answer(state: &State, hub: &Hub, who: Reader<'_>, req: &Request) -> ReadAnswer {
    let zxid = state.applied_zxid();
    let mut events = Vec::new();
    let result = run(state, hub, who, req, &mut events);
    let (err, body) = match result {
        Ok(body) => (ErrorCode::Ok, Some(body)),
        Err(e) => (e, None),
    };
    ReadAnswer {
        zxid,
        err,
        body,
        events,
    }
}

fn run(
    state: &State,
    hub: &Hub,
    who: Reader<'_>,
    req: &Request,
    events: &mut Vec<WatcherEvent>,
) -> Result<Response, ErrorCode> {
    let tree = &state.tree;
    Ok(match req {
        Request::GetData(r) => Response::GetData(get_data(state, hub, who, &r.path, r.watch)?),
        Request::Exists(r) => {
            let stat = tree.exists(&r.path)?;
            // An exists watch is set whether or not the node exists (it fires on creation).
            if r.watch {
                hub.watches().add_data_watch(&r.path, who.conn);
            }
            let stat = stat.ok_or(ErrorCode::NoNode)?;
            // ZooKeeper's statNode counts the path of a node it found.
            hub.namespaces.read.record(&r.path, 0);
            Response::Exists(ExistsResponse { stat })
        }
        Request::GetChildren(r) => {
            Response::GetChildren(get_children(state, hub, who, &r.path, r.watch)?)
        }
        Request::GetChildren2(r) => {
            let (children, stat) = tree.get_children(&r.path, who.auth)?;
            let children: Vec<String> = children.into_iter().map(str::to_owned).collect();
            if r.watch {
                hub.watches().add_child_watch(&r.path, who.conn);
            }
            record_children_read(hub, &r.path, &children);
            Response::GetChildren2(GetChildren2Response { children, stat })
        }
        Request::GetAllChildrenNumber(r) => {
            Response::GetAllChildrenNumber(GetAllChildrenNumberResponse {
                total_number: tree.all_children_number(&r.path, who.auth)?,
            })
        }
        Request::GetAcl(r) => {
            let (acl, stat) = tree.get_acl(&r.path, who.auth)?;
            Response::GetAcl(GetAclResponse {
                acl: acl.into_owned(),
                stat,
            })
        }
        Request::GetEphemerals(r) => Response::GetEphemerals(GetEphemeralsResponse {
            ephemerals: tree
                .ephemerals(who.session.get(), &r.prefix_path)
                .into_iter()
                .map(str::to_owned)
                .collect(),
        }),
        Request::WhoAmI => Response::WhoAmI(WhoAmIResponse {
            client_info: who
                .auth
                .iter()
                .map(|id| ClientInfo {
                    auth_scheme: id.scheme.clone(),
                    // ZooKeeper's AuthenticationProvider.getUserName: a digest id is
                    // `user:hash`, and only the user is shown.
                    user: match id.scheme.as_str() {
                        "digest" => id.id.split(':').next().unwrap_or_default().to_string(),
                        _ => id.id.clone(),
                    },
                })
                .collect(),
        }),
        Request::CheckWatches(r) => {
            let kind = WatcherKind::from_code(r.watcher_type).ok_or(ErrorCode::MarshallingError)?;
            hub.watches().check_watches(&r.path, kind, who.conn)?;
            Response::CheckWatches
        }
        Request::RemoveWatches(r) => {
            let kind = WatcherKind::from_code(r.watcher_type).ok_or(ErrorCode::MarshallingError)?;
            hub.watches().remove_watches(&r.path, kind, who.conn)?;
            Response::RemoveWatches
        }
        Request::AddWatch(r) => {
            let mode = WatchMode::from_add_watch_mode(r.mode).ok_or(ErrorCode::MarshallingError)?;
            let recursive = mode == WatchMode::PersistentRecursive;
            hub.watches()
                .add_persistent_watch(&r.path, who.conn, recursive);
            Response::AddWatch(ErrorResponse { err: 0 })
        }
        Request::SetWatches(r) => {
            let none: &[String] = &[];
            events.extend(set_watches(
                &mut hub.watches(),
                state,
                who.conn,
                r.relative_zxid,
                [&r.data_watches, &r.exist_watches, &r.child_watches],
                [none, none],
            ));
            Response::SetWatches
        }
        Request::SetWatches2(r) => {
            events.extend(set_watches(
                &mut hub.watches(),
                state,
                who.conn,
                r.relative_zxid,
                [&r.data_watches, &r.exist_watches, &r.child_watches],
                [&r.persistent_watches, &r.persistent_recursive_watches],
            ));
            Response::SetWatches2
        }
        // A one-node ensemble has nothing to catch up with; the connection's FIFO already
        // made every earlier write of the session visible.
        Request::Sync(r) => Response::Sync(SyncResponse {
            path: r.path.clone(),
        }),
        Request::MultiRead(m) => {
            let results = m
                .ops
                .iter()
                .map(|op| {
                    let res = match op {
                        MultiOp::GetData(r) => {
                            get_data(state, hub, who, &r.path, r.watch).map(MultiResult::GetData)
                        }
                        MultiOp::GetChildren(r) => get_children(state, hub, who, &r.path, r.watch)
                            .map(MultiResult::GetChildren),
                        // Writes inside a multiRead: refused per op, like an invalid op type.
                        _ => Err(ErrorCode::BadArguments),
                    };
                    res.unwrap_or_else(|e| MultiResult::Error(ErrorResponse { err: e.code() }))
                })
                .collect();
            Response::MultiRead(MultiResponse { results })
        }
        Request::Ping => Response::Ping,
        // Everything else is replicated; reaching here is a routing bug, answered honestly.
        _ => return Err(ErrorCode::SystemError),
    })
}

fn get_data(
    state: &State,
    hub: &Hub,
    who: Reader<'_>,
    path: &str,
    watch: bool,
) -> Result<GetDataResponse, ErrorCode> {
    // No watch is left behind when the read fails (NoNode, NoAuth), as in ZooKeeper.
    let (data, stat) = state.tree.get_data(path, who.auth)?;
    if watch {
        hub.watches().add_data_watch(path, who.conn);
    }
    hub.namespaces
        .read
        .record(path, data.map_or(0, <[u8]>::len));
    Ok(GetDataResponse {
        data: data.map(<[u8]>::to_vec),
        stat,
    })
}

fn get_children(
    state: &State,
    hub: &Hub,
    who: Reader<'_>,
    path: &str,
    watch: bool,
) -> Result<GetChildrenResponse, ErrorCode> {
    let (children, _) = state.tree.get_children(path, who.auth)?;
    let children: Vec<String> = children.into_iter().map(str::to_owned).collect();
    if watch {
        hub.watches().add_child_watch(path, who.conn);
    }
    record_children_read(hub, path, &children);
    Ok(GetChildrenResponse { children })
}

/// ZooKeeper's getChildren counts the path and the children's names.
fn record_children_read(hub: &Hub, path: &str, children: &[String]) {
    let names: usize = children.iter().map(String::len).sum();
    hub.namespaces.read.record(path, names);
}

fn set_watches(
    reg: &mut WatchRegistry<ConnId>,
    state: &State,
    conn: ConnId,
    relative_zxid: i64,
    [data, exist, child]: [&[String]; 3],
    [persistent, recursive]: [&[String]; 2],
) -> Vec<WatcherEvent> {
    reg.set_watches(
        &state.tree,
        relative_zxid,
        data,
        exist,
        child,
        persistent,
        recursive,
        conn,
    )
}
