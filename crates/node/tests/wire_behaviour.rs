//! The real `zk-node` binary on the wire: handshake answers (S3, S4, R1, R2), bad input (R3,
//! garbage, malformed, unknown opcode), watch-event order, auth (R8), the per-IP limit and
//! four-letter words. A raw client checks the exact bytes.

mod common;

use common::connect_request;
use common::four_letter;
use common::Frame;
use common::Raw;
use common::ZkNode;
use zk_wire::perms;
use zk_wire::Acl;
use zk_wire::AuthPacket;
use zk_wire::CreateRequest;
use zk_wire::ErrorCode;
use zk_wire::EventType;
use zk_wire::GetDataRequest;
use zk_wire::GetDataResponse;
use zk_wire::Id;
use zk_wire::Record;
use zk_wire::Request;
use zk_wire::SetDataRequest;
use zk_wire::WatcherEvent;

fn node(extra: &[&str]) -> (tempfile::TempDir, ZkNode) {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = ZkNode::start_in(&dir.path().join("data"), extra);
    (dir, node)
}

fn create(path: &str, data: &[u8]) -> Request {
    Request::Create(CreateRequest {
        path: path.into(),
        data: Some(data.to_vec()),
        acl: Acl::open_unsafe(),
        flags: 0,
    })
}

fn get(path: &str, watch: bool) -> Request {
    Request::GetData(GetDataRequest {
        path: path.into(),
        watch,
    })
}

/// S3.1, S4/R1: a new session gets an id, a 16-byte password and the clamped timeout
/// (tick 200 → 400..4000 ms).
#[test]
fn s3_1_new_session_and_r1_negotiation() {
    let (_d, n) = node(&[]);
    for (asked, got) in [(100, 400), (1000, 1000), (100_000, 4000)] {
        let (_raw, resp) = Raw::new_session(n.addr, asked);
        assert_eq!(resp.time_out, got, "asked {asked}");
        assert_eq!(resp.passwd.len(), 16);
        assert_eq!(resp.read_only, Some(false));
    }
}

/// S3.3: the id and password resume the session on a new connection, with its ephemerals.
#[test]
fn s3_3_resume_with_id_and_password() {
    let (_d, n) = node(&[]);
    let (mut a, resp) = Raw::new_session(n.addr, 4000);
    let (h, _) = a.call(&Request::Create(CreateRequest {
        path: "/eph".into(),
        data: None,
        acl: Acl::open_unsafe(),
        flags: 1,
    }));
    assert_eq!(h.err, 0);
    let mut b = Raw::connect(n.addr);
    let again = b
        .handshake(&connect_request(
            resp.session_id,
            resp.passwd.clone(),
            4000,
            h.zxid,
        ))
        .expect("answered");
    assert_eq!(again.session_id, resp.session_id);
    assert_eq!(again.passwd, resp.passwd);
    let (h, body) = b.call(&Request::Exists(zk_wire::ExistsRequest {
        path: "/eph".into(),
        watch: false,
    }));
    assert_eq!(h.err, 0);
    let stat = zk_wire::ExistsResponse::from_bytes(&body)
        .expect("exists body")
        .stat;
    assert_eq!(stat.ephemeral_owner, resp.session_id);
    // The older connection is no longer served (ZooKeeper closes it).
    assert!(matches!(a.read(), Frame::Closed));
}

/// R2: a wrong password, an unknown session and a forged id all get timeOut 0, sessionId 0,
/// 16 zero bytes, then the close; the real owner keeps its session.
#[test]
fn r2_wrong_password_unknown_and_forged_sessions() {
    let (_d, n) = node(&[]);
    let (mut owner, resp) = Raw::new_session(n.addr, 4000);
    let mut wrong = resp.passwd.clone();
    wrong[0] ^= 1;
    let cases = [
        (resp.session_id, wrong),
        (resp.session_id + 1000, resp.passwd.clone()),
        (-5, vec![0; 16]),
        (resp.session_id, vec![1, 2, 3]),
    ];
    for (id, pw) in cases {
        let mut raw = Raw::connect(n.addr);
        let answer = raw
            .handshake(&connect_request(id, pw, 4000, 0))
            .expect("answered, not dropped");
        assert_eq!(
            (answer.time_out, answer.session_id, answer.passwd.as_slice()),
            (0, 0, &[0u8; 16][..]),
            "session {id}"
        );
        assert!(raw.closed_without_data(), "closed after the answer");
    }
    let (h, _) = owner.call(&create("/still-mine", b"x"));
    assert_eq!(h.err, 0, "the owner's session is intact");
}

/// S3.4: a client that has seen a later zxid than the node applied is not served: the
/// connection closes without an answer.
#[test]
fn s3_4_client_ahead_of_node_is_refused() {
    let (_d, n) = node(&[]);
    let mut raw = Raw::connect(n.addr);
    assert!(raw
        .handshake(&connect_request(0, vec![0; 16], 4000, 1 << 40))
        .is_none());
}

/// R3: a packet over the limit closes the connection with nothing written; the client's
/// session and the node carry on; exactly the limit is fine.
#[test]
fn r3_oversized_packet_closes_connection_nothing_written() {
    let (_d, n) = node(&["--max-frame-bytes", "4096"]);
    let (mut a, resp) = Raw::new_session(n.addr, 4000);
    // A create whose frame is just over the limit.
    let mut big = Vec::new();
    zk_wire::write_frame(&mut big, |o| {
        create("/big", &[7u8; 4096]).encode_with_header(1, o)
    });
    a.send_bytes(&big);
    assert!(a.closed_without_data(), "closed, no reply");
    let mut b = Raw::connect(n.addr);
    b.handshake(&connect_request(resp.session_id, resp.passwd, 4000, 0))
        .expect("same session resumes");
    let (h, _) = b.call(&get("/big", false));
    assert_eq!(h.err, ErrorCode::NoNode.code(), "nothing was written");
    // A frame of exactly the limit is accepted.
    let mut empty = Vec::new();
    create("/fits", b"").encode_with_header(2, &mut empty);
    let n_data = 4096 - empty.len();
    let (h, _) = b.call(&create("/fits", &vec![1u8; n_data]));
    assert_eq!(h.err, 0, "a frame of exactly the limit is accepted");
}

/// Garbage, a negative length and a malformed body each close only that connection.
#[test]
fn garbage_closes_only_that_connection() {
    let (_d, n) = node(&[]);
    let (mut good, _) = Raw::new_session(n.addr, 4000);
    // An HTTP request instead of a handshake ("GET " is not a known word; as a length it
    // is far over the limit).
    let mut http = Raw::connect(n.addr);
    http.send_bytes(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(http.closed_without_data());
    // A negative length after a good handshake.
    let (mut neg, _) = Raw::new_session(n.addr, 4000);
    neg.send_bytes(&(-1i32).to_be_bytes());
    assert!(neg.closed_without_data());
    // A frame too short to hold a request header.
    let (mut short, _) = Raw::new_session(n.addr, 4000);
    short.send_bytes(&[0, 0, 0, 2, 0, 0]);
    assert!(short.closed_without_data());
    // A malformed ConnectRequest.
    let mut hs = Raw::connect(n.addr);
    hs.send_bytes(&[0, 0, 0, 3, 1, 2, 3]);
    assert!(hs.closed_without_data());
    let (h, _) = good.call(&create("/alive", b""));
    assert_eq!(h.err, 0, "other clients carry on");
    assert_eq!(four_letter(n.addr, "ruok").as_deref(), Some("imok"));
}

/// Requests ZooKeeper 3.8 cannot take, answered as it answers them (measured with the same
/// raw frames against Debian's 3.8.0, docs/protocol.md "Malformed requests"): an unknown
/// opcode, and a second ConnectRequest (which reads as opcode 0), get Unimplemented with
/// zxid -1 and the connection closes; a known request cut short gets MarshallingError and the
/// connection goes on; bytes after a whole request are ignored.
#[test]
fn malformed_requests_are_answered_as_zookeeper_does() {
    let (_d, n) = node(&[]);
    let header_only = |op_type: i32| {
        let mut frame = Vec::new();
        zk_wire::write_frame(&mut frame, |o| {
            zk_wire::RequestHeader { xid: 9, op_type }.encode(o);
        });
        frame
    };
    let (mut unknown, _) = Raw::new_session(n.addr, 4000);
    unknown.send_bytes(&header_only(77));
    let (h, _) = unknown.reply();
    assert_eq!(
        (h.xid, h.zxid, h.err),
        (9, -1, ErrorCode::Unimplemented.code())
    );
    assert!(unknown.closed_without_data(), "closed after the answer");

    let (mut again, _) = Raw::new_session(n.addr, 4000);
    let mut second = Vec::new();
    zk_wire::encode_frame(
        &common::connect_request(0, vec![0; 16], 4000, 0),
        &mut second,
    );
    again.send_bytes(&second);
    let (h, _) = again.reply();
    assert_eq!((h.zxid, h.err), (-1, ErrorCode::Unimplemented.code()));
    assert!(again.closed_without_data(), "closed after the answer");

    let (mut cut, _) = Raw::new_session(n.addr, 4000);
    let mut body = Vec::new();
    create("/x", b"data").encode_with_header(5, &mut body);
    body.truncate(body.len() - 6);
    let mut frame = (body.len() as i32).to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    cut.send_bytes(&frame);
    let (h, _) = cut.reply();
    assert_eq!((h.xid, h.err), (5, ErrorCode::MarshallingError.code()));
    let (h, _) = cut.call(&create("/after", b""));
    assert_eq!(h.err, 0, "the connection goes on");
    assert_eq!(cut.call(&get("/x", false)).0.err, ErrorCode::NoNode.code());

    let mut body = Vec::new();
    get("/after", false).encode_with_header(7, &mut body);
    body.extend_from_slice(b"EXTRA");
    let mut frame = (body.len() as i32).to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    cut.send_bytes(&frame);
    let (h, _) = cut.reply();
    assert_eq!((h.xid, h.err), (7, 0), "trailing bytes ignored");
}

/// A watch event reaches its connection before the reply of a read that shows the change,
/// and a read never overtakes the same session's earlier write (FIFO).
#[test]
fn event_before_the_reply_showing_the_change_and_fifo() {
    let (_d, n) = node(&[]);
    let (mut a, _) = Raw::new_session(n.addr, 4000);
    let (mut b, _) = Raw::new_session(n.addr, 4000);
    assert_eq!(a.call(&create("/w", b"v1")).0.err, 0);
    assert_eq!(a.call(&get("/w", true)).0.err, 0);
    // B changes it; A's next read must see the event first.
    let set = Request::SetData(SetDataRequest {
        path: "/w".into(),
        data: Some(b"v2".to_vec()),
        version: -1,
    });
    assert_eq!(b.call(&set).0.err, 0);
    let xid = a.send(&get("/w", false));
    let Frame::Reply(h, body) = a.read() else {
        panic!("closed")
    };
    assert_eq!(h.xid, -1, "the notification comes first");
    let ev = WatcherEvent::from_bytes(&body).expect("event");
    assert_eq!(
        (ev.event_type, ev.path.as_str()),
        (EventType::NodeDataChanged, "/w")
    );
    let (h, body) = a.reply();
    assert_eq!(h.xid, xid);
    let data = GetDataResponse::from_bytes(&body).expect("data").data;
    assert_eq!(data.as_deref(), Some(&b"v2"[..]));

    // FIFO: a write then a read sent back to back; the read sees the write.
    let set3 = Request::SetData(SetDataRequest {
        path: "/w".into(),
        data: Some(b"v3".to_vec()),
        version: -1,
    });
    let x1 = b.send(&set3);
    let x2 = b.send(&get("/w", false));
    let (h1, _) = b.reply();
    let (h2, body) = b.reply();
    assert_eq!((h1.xid, h2.xid), (x1, x2), "replies in request order");
    assert!(h2.zxid >= h1.zxid);
    let data = GetDataResponse::from_bytes(&body).expect("data").data;
    assert_eq!(data.as_deref(), Some(&b"v3"[..]));
}

/// FIFO and event order when a session's reads and writes interleave in one pipeline (the
/// reads behind a write are answered right after it, while the next write is already on its
/// way; see `connection`'s order rules).
#[test]
fn interleaved_reads_and_writes_keep_fifo_and_event_order() {
    let (_d, n) = node(&[]);
    let (mut raw, _) = Raw::new_session(n.addr, 4000);
    assert_eq!(raw.call(&create("/i", b"")).0.err, 0);
    common::req::interleaved_reads_and_writes(&mut raw, "/i", 200);
}

/// R8: an unknown auth scheme gets AuthFailed (xid -4, zxid 0) and the close; digest is
/// accepted and its id enforced by ACLs.
#[test]
fn r8_unknown_auth_scheme_and_digest() {
    let (_d, n) = node(&[]);
    let (mut raw, _) = Raw::new_session(n.addr, 4000);
    raw.send_xid(
        -4,
        &Request::Auth(AuthPacket {
            auth_type: 0,
            scheme: "nosuchscheme".into(),
            auth: b"x".to_vec(),
        }),
    );
    let (h, _) = raw.reply();
    assert_eq!(
        (h.xid, h.zxid, h.err),
        (-4, 0, ErrorCode::AuthFailed.code())
    );
    assert!(raw.closed_without_data());

    let (mut alice, _) = Raw::new_session(n.addr, 4000);
    alice.send_xid(
        -4,
        &Request::Auth(AuthPacket {
            auth_type: 0,
            scheme: "digest".into(),
            auth: b"alice:secret".to_vec(),
        }),
    );
    assert_eq!(alice.reply().0.err, 0);
    let only_alice = Request::Create(CreateRequest {
        path: "/private".into(),
        data: Some(b"p".to_vec()),
        acl: vec![Acl {
            perms: perms::ALL,
            id: Id {
                scheme: "auth".into(),
                id: String::new(),
            },
        }],
        flags: 0,
    });
    assert_eq!(alice.call(&only_alice).0.err, 0);
    assert_eq!(alice.call(&get("/private", false)).0.err, 0);
    let (mut eve, _) = Raw::new_session(n.addr, 4000);
    assert_eq!(
        eve.call(&get("/private", false)).0.err,
        ErrorCode::NoAuth.code()
    );
}

/// maxClientCnxns: a connection over the per-IP limit is closed at once.
#[test]
fn per_ip_connection_limit() {
    let (_d, n) = node(&["--max-connections-per-ip", "2"]);
    let (_a, _) = Raw::new_session(n.addr, 4000);
    let (_b, _) = Raw::new_session(n.addr, 4000);
    let mut c = Raw::connect(n.addr);
    assert!(c
        .handshake(&connect_request(0, vec![0; 16], 4000, 0))
        .is_none());
}

/// Four-letter words: ruok, srvr (Mode and Zxid as ZooKeeper prints them), and a word left
/// out of the allow-list.
#[test]
fn four_letter_words() {
    let (_d, n) = node(&["--4lw", "ruok,srvr,stat"]);
    assert_eq!(four_letter(n.addr, "ruok").as_deref(), Some("imok"));
    let srvr = four_letter(n.addr, "srvr").unwrap_or_default();
    assert!(srvr.contains("Mode: standalone"), "{srvr}");
    assert!(srvr.contains("Zxid: 0x"), "{srvr}");
    let mntr = four_letter(n.addr, "mntr").unwrap_or_default();
    assert!(
        mntr.contains("is not executed because it is not in the whitelist"),
        "{mntr}"
    );
}

/// A bad path is answered with BadArguments (ZooKeeper's answer) and the connection stays.
#[test]
fn bad_paths_are_bad_arguments() {
    let (_d, n) = node(&[]);
    let (mut raw, _) = Raw::new_session(n.addr, 4000);
    assert_eq!(raw.call(&create("/t", b"x")).0.err, 0);
    // A trailing slash under an existing parent (under a missing one ZooKeeper says NoNode).
    for bad in ["relative", "/t/", "//double", "/t/.", "/nul\0byte", ""] {
        let (h, body) = raw.call(&create(bad, b"x"));
        assert_eq!(h.err, ErrorCode::BadArguments.code(), "{bad:?}");
        assert!(body.is_empty(), "no body with an error");
    }
    assert_eq!(raw.call(&create("/fine", b"x")).0.err, 0);
}

/// A standalone check (opcode 13): BadVersion on a mismatch, the node's stat on a match.
#[test]
fn standalone_check_version() {
    let (_d, n) = node(&[]);
    let (mut raw, _) = Raw::new_session(n.addr, 4000);
    assert_eq!(raw.call(&create("/c", b"x")).0.err, 0);
    let check = |version| {
        Request::Check(zk_wire::CheckVersionRequest {
            path: "/c".into(),
            version,
        })
    };
    assert_eq!(raw.call(&check(3)).0.err, ErrorCode::BadVersion.code());
    let (h, body) = raw.call(&check(0));
    assert_eq!(h.err, 0);
    let stat = zk_wire::SetDataResponse::from_bytes(&body)
        .expect("stat")
        .stat;
    assert_eq!((stat.version, stat.data_length), (0, 1));
}
