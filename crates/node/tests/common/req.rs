//! Request builders the ensemble tests share.

use zk_wire::Acl;
use zk_wire::CreateRequest;
use zk_wire::ExistsRequest;
use zk_wire::GetChildrenRequest;
use zk_wire::GetChildrenResponse;
use zk_wire::Record;
use zk_wire::Request;
use zk_wire::SyncRequest;

use super::Raw;

/// Create `path` (data: the path itself) with `flags` (1 = ephemeral), open ACL.
pub fn create(path: &str, flags: i32) -> Request {
    Request::Create(CreateRequest {
        path: path.into(),
        data: Some(path.as_bytes().to_vec()),
        acl: Acl::open_unsafe(),
        flags,
    })
}

/// exists(path, watch).
pub fn exists(path: &str, watch: bool) -> Request {
    Request::Exists(ExistsRequest {
        path: path.into(),
        watch,
    })
}

/// sync(path).
pub fn sync(path: &str) -> Request {
    Request::Sync(SyncRequest { path: path.into() })
}

/// The children of `path` (must succeed), sorted.
pub fn children(raw: &mut Raw, path: &str) -> std::collections::BTreeSet<String> {
    let (h, body) = raw.call(&Request::GetChildren(GetChildrenRequest {
        path: path.into(),
        watch: false,
    }));
    assert_eq!(h.err, 0, "getChildren {path}");
    let resp = GetChildrenResponse::from_bytes(&body).expect("children");
    resp.children.into_iter().collect()
}
