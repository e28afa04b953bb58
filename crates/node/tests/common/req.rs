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

/// FIFO and event order with reads and writes interleaved on one connection: `rounds` of
/// setData(`path`, i), getData(`path`, watch), getData(`path`) sent in one go. Each read must
/// show exactly the set before it (not the next one, which is already proposed when the read
/// is answered), and the event the next set fires must arrive after the reads' replies (the
/// watch was set by the first of them) and before that set's reply. `path` must exist.
pub fn interleaved_reads_and_writes(raw: &mut Raw, path: &str, rounds: usize) {
    use zk_wire::EventType;
    use zk_wire::GetDataRequest;
    use zk_wire::GetDataResponse;
    use zk_wire::SetDataRequest;
    use zk_wire::WatcherEvent;

    let get = |watch: bool| {
        Request::GetData(GetDataRequest {
            path: path.into(),
            watch,
        })
    };
    let mut reqs = Vec::new();
    for i in 0..rounds {
        reqs.push(Request::SetData(SetDataRequest {
            path: path.into(),
            data: Some(i.to_string().into_bytes()),
            version: -1,
        }));
        reqs.push(get(true));
        reqs.push(get(false));
    }
    let xids = raw.send_all(&reqs);
    let mut last_zxid = 0;
    for (i, round) in xids.chunks(3).enumerate() {
        if i > 0 {
            let (h, body) = raw.reply();
            assert_eq!(
                h.xid, -1,
                "round {i}: the event fired by the set comes first"
            );
            let ev = WatcherEvent::from_bytes(&body).expect("event");
            assert_eq!(
                (ev.event_type, ev.path.as_str()),
                (EventType::NodeDataChanged, path),
                "round {i}"
            );
        }
        let (h, _) = raw.reply();
        assert_eq!((h.xid, h.err), (round[0], 0), "round {i}: the set's reply");
        assert!(h.zxid > last_zxid, "round {i}: zxids go forward");
        let set_zxid = h.zxid;
        last_zxid = h.zxid;
        for &xid in &round[1..] {
            let (h, body) = raw.reply();
            assert_eq!(
                (h.xid, h.err),
                (xid, 0),
                "round {i}: the reads' replies, in order"
            );
            let data = GetDataResponse::from_bytes(&body).expect("data").data;
            assert_eq!(
                data.as_deref(),
                Some(i.to_string().as_bytes()),
                "round {i}: a read shows the set before it and not the one after"
            );
            assert!(
                h.zxid >= set_zxid,
                "round {i}: read zxid {} < {set_zxid}",
                h.zxid
            );
        }
    }
}
