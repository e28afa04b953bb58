//! Sessions over time and across restarts, with the real binary: expiry (S6.2, S6.3, R4),
//! closeSession, SIGTERM (exit 0, everything kept), a restart giving live sessions a fresh
//! full timeout, and kill -9 in the middle of a write load losing nothing acknowledged.

mod common;

use std::sync::mpsc;
use std::time::Duration;
use std::time::Instant;

use common::connect_request;
use common::Frame;
use common::Raw;
use common::ZkNode;
use zk_wire::Acl;
use zk_wire::CreateRequest;
use zk_wire::ErrorCode;
use zk_wire::EventType;
use zk_wire::ExistsRequest;
use zk_wire::GetDataRequest;
use zk_wire::GetDataResponse;
use zk_wire::Record;
use zk_wire::Request;
use zk_wire::WatcherEvent;

fn create(path: &str, data: &[u8], flags: i32) -> Request {
    Request::Create(CreateRequest {
        path: path.into(),
        data: Some(data.to_vec()),
        acl: Acl::open_unsafe(),
        flags,
    })
}

fn exists_watch(path: &str) -> Request {
    Request::Exists(ExistsRequest {
        path: path.into(),
        watch: true,
    })
}

/// Reads frames until a notification arrives; returns it and when it arrived.
fn next_event(raw: &mut Raw) -> (WatcherEvent, Instant) {
    loop {
        match raw.read() {
            Frame::Reply(h, body) if h.xid == -1 => {
                return (
                    WatcherEvent::from_bytes(&body).expect("event"),
                    Instant::now(),
                )
            }
            Frame::Reply(..) => {}
            Frame::Closed => panic!("watcher's connection closed"),
        }
    }
}

/// S6.2, S6.3, R4: a silent session expires within timeout + 1 tick (+ slack for the
/// scheduler), its ephemeral vanishes, and a watcher on another session is told; its
/// connection is closed and a resume is answered "expired".
#[test]
fn s6_2_silent_session_expires_ephemerals_go_watchers_told() {
    let dir = tempfile::tempdir().expect("tempdir");
    let n = ZkNode::start_in(&dir.path().join("data"), &[]);
    let (mut b, _) = Raw::new_session(n.addr, 4000);
    let (mut a, resp) = Raw::new_session(n.addr, 400);
    assert_eq!(resp.time_out, 400);
    // B watches first (exists on a missing node sets the watch), so A's create, its last
    // request, is what starts A's silence.
    assert_eq!(
        b.call(&exists_watch("/gone")).0.err,
        ErrorCode::NoNode.code()
    );
    let sent = Instant::now();
    assert_eq!(a.call(&create("/gone", b"", 1)).0.err, 0);
    let acked = Instant::now();
    // From here A says nothing (no pings). B first hears of the create, then of the expiry.
    let (ev, _) = next_event(&mut b);
    assert_eq!(ev.event_type, EventType::NodeCreated);
    // The exists watch was one-shot: set it again for the deletion.
    assert_eq!(b.call(&exists_watch("/gone")).0.err, 0);
    let (ev, at) = next_event(&mut b);
    assert_eq!(
        (ev.event_type, ev.path.as_str()),
        (EventType::NodeDeleted, "/gone")
    );
    // Never before the timeout has passed since A's last request was sent...
    assert!(
        at - sent >= Duration::from_millis(400),
        "expired too early: {:?}",
        at - sent
    );
    // ...and within timeout 400 + one tick 200 of its answer, plus 1 s of slack for a
    // loaded CI machine.
    assert!(
        at - acked <= Duration::from_millis(1600),
        "expired after {:?}",
        at - acked
    );
    // A's connection was closed by the expiry...
    assert!(matches!(a.read(), Frame::Closed));
    // ...and a resume gets the expired answer (S6.4).
    let mut again = Raw::connect(n.addr);
    let answer = again
        .handshake(&connect_request(resp.session_id, resp.passwd, 400, 0))
        .expect("answered");
    assert_eq!(answer.session_id, 0);
}

/// S5.1: pings keep a session alive well past its timeout.
#[test]
fn s5_1_pings_keep_the_session() {
    let dir = tempfile::tempdir().expect("tempdir");
    let n = ZkNode::start_in(&dir.path().join("data"), &[]);
    let (mut a, _) = Raw::new_session(n.addr, 400);
    assert_eq!(a.call(&create("/kept", b"", 1)).0.err, 0);
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(1500) {
        // A ping every third of the timeout, as clients do (the interval is the behaviour
        // under test, not a synchronisation).
        std::thread::sleep(Duration::from_millis(130));
        a.send_xid(-2, &Request::Ping);
        let (h, _) = a.reply();
        assert_eq!(h.xid, -2);
    }
    let (h, _) = a.call(&Request::Exists(ExistsRequest {
        path: "/kept".into(),
        watch: false,
    }));
    assert_eq!(h.err, 0, "the ephemeral is still there");
}

/// S6.3: closeSession deletes the ephemerals at once and tells watchers; the close is
/// answered, then the connection ends.
#[test]
fn s6_3_close_session_deletes_ephemerals_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let n = ZkNode::start_in(&dir.path().join("data"), &[]);
    let (mut a, _) = Raw::new_session(n.addr, 4000);
    assert_eq!(a.call(&create("/mine", b"", 1)).0.err, 0);
    let (mut b, _) = Raw::new_session(n.addr, 4000);
    assert_eq!(b.call(&exists_watch("/mine")).0.err, 0);
    let t0 = Instant::now();
    let (h, _) = a.call(&Request::CloseSession);
    assert_eq!(h.err, 0);
    assert!(matches!(a.read(), Frame::Closed));
    let (ev, at) = next_event(&mut b);
    assert_eq!(ev.event_type, EventType::NodeDeleted);
    assert!(at - t0 < Duration::from_secs(2));
}

/// SIGTERM: exit 0; a restart keeps every znode, every live session (with a fresh full
/// timeout, even though the node was down longer than it) and the cluster secret (the
/// same password resumes the session).
#[test]
fn sigterm_then_restart_keeps_znodes_sessions_and_secret() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut n = ZkNode::start_in(&dir.path().join("data"), &[]);
    let (mut a, resp) = Raw::new_session(n.addr, 1000);
    assert_eq!(a.call(&create("/p", b"persistent", 0)).0.err, 0);
    let (h, _) = a.call(&create("/e", b"ephemeral", 1));
    assert_eq!(h.err, 0);
    let status = n.terminate();
    assert!(status.success(), "exit status {status:?}\n{}", n.log_tail());
    assert!(
        matches!(a.read(), Frame::Closed),
        "clients are disconnected"
    );
    // Down for longer than the session timeout: the restart must not expire it at once.
    std::thread::sleep(Duration::from_millis(1300));
    n.restart();
    let mut b = Raw::connect(n.addr);
    let again = b
        .handshake(&connect_request(
            resp.session_id,
            resp.passwd.clone(),
            1000,
            h.zxid,
        ))
        .expect("answered");
    assert_eq!(
        again.session_id,
        resp.session_id,
        "session kept:\n{}",
        n.log_tail()
    );
    assert_eq!(again.passwd, resp.passwd, "same secret");
    for (path, want) in [("/p", &b"persistent"[..]), ("/e", &b"ephemeral"[..])] {
        let (h, body) = b.call(&Request::GetData(GetDataRequest {
            path: path.into(),
            watch: false,
        }));
        assert_eq!(h.err, 0, "{path}");
        let data = GetDataResponse::from_bytes(&body).expect("data").data;
        assert_eq!(data.as_deref(), Some(want));
    }
    // The session still expires normally afterwards.
    let (mut w, _) = Raw::new_session(n.addr, 4000);
    assert_eq!(w.call(&exists_watch("/e")).0.err, 0);
    drop(b);
    let (ev, _) = next_event(&mut w);
    assert_eq!(
        (ev.event_type, ev.path.as_str()),
        (EventType::NodeDeleted, "/e")
    );
}

/// Crash test: kill -9 in the middle of a pipelined write load; after a restart every write
/// that was acknowledged is there with its data.
#[test]
fn kill_9_mid_load_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut n = ZkNode::start_in(&dir.path().join("data"), &[]);
    let addr = n.addr;
    let (acked_tx, acked_rx) = mpsc::channel::<(String, Vec<u8>)>();
    let writer = std::thread::spawn(move || {
        let (raw, _) = Raw::new_session(addr, 4000);
        common::pipelined_creates(raw, "k", acked_tx);
    });
    let mut acked = Vec::new();
    while acked.len() < 300 {
        acked.push(
            acked_rx
                .recv_timeout(Duration::from_secs(20))
                .expect("writes acknowledged"),
        );
    }
    n.kill9();
    let _ = writer.join();
    acked.extend(acked_rx.try_iter());
    n.restart();
    let (mut c, _) = Raw::new_session(n.addr, 4000);
    for (path, data) in &acked {
        let (h, body) = c.call(&Request::GetData(GetDataRequest {
            path: path.clone(),
            watch: false,
        }));
        assert_eq!(h.err, ErrorCode::Ok.code(), "acknowledged {path} lost");
        let got = GetDataResponse::from_bytes(&body).expect("data").data;
        assert_eq!(got.as_deref(), Some(data.as_slice()), "{path}");
    }
}
