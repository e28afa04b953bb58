//! The tokio layer against scripted fake servers on loopback (TcpListeners speaking the wire
//! protocol through zk-wire): what the state machine decides really happens on sockets.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use zk_client::{
    connect, CloseReason, ConnectOptions, Error, EventType, KeeperState, State, WatchedEvent,
};
use zk_wire::{
    encode_frame, ConnectRequest, ConnectResponse, FrameDecoder, GetDataResponse, Record,
    ReplyHeader, Request, RequestHeader, Response, WatcherEvent,
};

const DEADLINE: Duration = Duration::from_secs(10);

/// One accepted client connection on the fake server.
struct Conn {
    s: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    async fn accept(l: &TcpListener) -> Conn {
        let (s, _) = tokio::time::timeout(DEADLINE, l.accept())
            .await
            .expect("client connects in time")
            .expect("accept");
        Conn { s, buf: Vec::new() }
    }

    async fn frame(&mut self) -> Option<Vec<u8>> {
        let dec = FrameDecoder::default();
        loop {
            if let Some(f) = dec.decode(&self.buf).expect("frame") {
                let body = f.body.to_vec();
                self.buf.drain(..f.consumed);
                return Some(body);
            }
            let mut chunk = [0u8; 4096];
            let n = tokio::time::timeout(DEADLINE, self.s.read(&mut chunk))
                .await
                .expect("client sends in time")
                .ok()?;
            if n == 0 {
                return None;
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    async fn handshake_request(&mut self) -> ConnectRequest {
        let body = self.frame().await.expect("ConnectRequest");
        ConnectRequest::from_bytes(&body).expect("decode ConnectRequest")
    }

    async fn answer(&mut self, timeout_ms: i32, id: i64) {
        let resp = ConnectResponse {
            protocol_version: 0,
            time_out: timeout_ms,
            session_id: id,
            passwd: vec![9; 16],
            read_only: Some(false),
        };
        let mut b = Vec::new();
        encode_frame(&resp, &mut b);
        self.s.write_all(&b).await.expect("write");
    }

    async fn request(&mut self) -> Option<(RequestHeader, Request)> {
        let body = self.frame().await?;
        Some(Request::decode_frame(&body).expect("decode request"))
    }

    async fn reply(&mut self, xid: i32, zxid: i64, err: i32, body: Option<&Response>) {
        let mut b = Vec::new();
        ReplyHeader { xid, zxid, err }.encode(&mut b);
        if let Some(r) = body {
            r.encode(&mut b);
        }
        let mut f = (b.len() as i32).to_be_bytes().to_vec();
        f.extend_from_slice(&b);
        self.s.write_all(&f).await.expect("write");
    }

    async fn notify(&mut self, ty: EventType, path: &str) {
        let ev = WatcherEvent {
            event_type: ty,
            state: KeeperState::SyncConnected,
            path: path.into(),
        };
        self.reply(-1, -1, 0, Some(&Response::Notification(ev)))
            .await;
    }
}

async fn listener() -> (TcpListener, String) {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let a = l.local_addr().expect("addr").to_string();
    (l, a)
}

fn data(v: &[u8]) -> Response {
    Response::GetData(GetDataResponse {
        data: Some(v.to_vec()),
        stat: Default::default(),
    })
}

/// S1.2, S4.1, S5.2 on a socket: CONNECTED after the handshake, the negotiated timeout
/// reported, and pings every third of it (not of the requested one) while idle.
#[tokio::test]
async fn s5_2_pings_on_the_socket_at_a_third_of_the_negotiated_timeout() {
    let (l, addr) = listener().await;
    let (c, mut ev) = connect(
        &addr,
        ConnectOptions::new().session_timeout(Duration::from_secs(30)),
    )
    .expect("connect");
    let mut s = Conn::accept(&l).await;
    let req = s.handshake_request().await;
    assert_eq!(req.time_out, 30_000);
    s.answer(900, 0x42).await;
    c.wait_connected(DEADLINE).await.expect("connected");
    assert_eq!(c.session().timeout, Duration::from_millis(900));
    assert_eq!(
        ev.recv_timeout(DEADLINE).await,
        Some(WatchedEvent::state(KeeperState::SyncConnected))
    );
    let t0 = Instant::now();
    let mut gaps = Vec::new();
    let mut last = t0;
    for _ in 0..4 {
        let (h, r) = s.request().await.expect("ping");
        assert_eq!((h.xid, r), (-2, Request::Ping));
        gaps.push(last.elapsed());
        last = Instant::now();
        s.reply(-2, 5, 0, None).await;
    }
    for g in &gaps {
        assert!(
            *g >= Duration::from_millis(280) && *g < Duration::from_millis(600),
            "ping gaps {gaps:?} (expected ~300 ms)"
        );
    }
    assert_eq!(c.state(), State::Connected);
}

/// S3.4, S2.2, S3.3 on sockets: the first server closes without answering the handshake; the
/// client tries the next one at once, presenting the session, password and lastZxidSeen.
#[tokio::test]
async fn s3_4_a_server_that_closes_the_handshake_is_skipped() {
    let (l1, a1) = listener().await;
    let (l2, a2) = listener().await;
    let (c, mut ev) =
        connect(&format!("{a1},{a2}"), ConnectOptions::new().in_order()).expect("connect");
    let mut s1 = Conn::accept(&l1).await;
    s1.handshake_request().await;
    s1.answer(3000, 0x77).await;
    c.wait_connected(DEADLINE).await.expect("connected");
    // A reply carrying zxid 500, then the server dies.
    let get = tokio::spawn({
        let c = c.clone();
        async move { c.get_data("/a").await }
    });
    let (h, _) = s1.request().await.expect("getData");
    s1.reply(h.xid, 500, 0, Some(&data(b"v"))).await;
    assert_eq!(get.await.expect("join").expect("get").0, b"v");
    drop(s1);
    assert_eq!(
        ev.recv_timeout(DEADLINE).await,
        Some(WatchedEvent::state(KeeperState::SyncConnected))
    );
    assert_eq!(
        ev.recv_timeout(DEADLINE).await,
        Some(WatchedEvent::state(KeeperState::Disconnected))
    );
    // Server 2 is "behind": it closes without answering.
    let mut s2 = Conn::accept(&l2).await;
    let req = s2.handshake_request().await;
    assert_eq!(req.last_zxid_seen, 500);
    drop(s2);
    // Back to server 1 (restarted, listening again), which accepts the same session.
    let mut s1 = Conn::accept(&l1).await;
    let req = s1.handshake_request().await;
    assert_eq!(
        (req.session_id, req.passwd.clone(), req.last_zxid_seen),
        (0x77, vec![9; 16], 500)
    );
    s1.answer(3000, 0x77).await;
    assert_eq!(
        ev.recv_timeout(DEADLINE).await,
        Some(WatchedEvent::state(KeeperState::SyncConnected))
    );
    assert_eq!(c.session().id, 0x77);
}

/// S6.4, S1.4, S8.2 on a socket: the expired answer (timeOut 0) closes the handle with an
/// Expired event; calls then fail at once.
#[tokio::test]
async fn s6_4_expired_answer_closes_the_handle() {
    let (l, addr) = listener().await;
    let (c, mut ev) =
        connect(&addr, ConnectOptions::new().resume(0x5, vec![1; 16])).expect("connect");
    let mut s = Conn::accept(&l).await;
    let req = s.handshake_request().await;
    assert_eq!(req.session_id, 0x5);
    s.answer(0, 0).await;
    assert_eq!(
        ev.recv_timeout(DEADLINE).await,
        Some(WatchedEvent::state(KeeperState::Expired))
    );
    let mut st = c.state_watch();
    let _ = tokio::time::timeout(DEADLINE, st.wait_for(|s| s.is_closed())).await;
    assert_eq!(c.state(), State::Closed(CloseReason::SessionExpired));
    assert_eq!(c.get_data("/a").await, Err(Error::SessionExpired));
    assert_eq!(
        ev.recv_timeout(DEADLINE).await,
        None,
        "stream ends after CLOSED"
    );
}

/// S7.2 on a socket: 20,000 notifications nobody reads do not stall replies; S2.3: their
/// paths lose the chroot; they arrive in order.
#[tokio::test]
async fn s7_2_unread_events_never_stall_replies() {
    let (l, addr) = listener().await;
    let (c, mut ev) = connect(&format!("{addr}/root"), ConnectOptions::new()).expect("connect");
    let mut s = Conn::accept(&l).await;
    s.handshake_request().await;
    s.answer(5000, 1).await;
    c.wait_connected(DEADLINE).await.expect("connected");
    let set = tokio::spawn({
        let c = c.clone();
        async move { c.get_data_watch_default("/w").await }
    });
    let (h, r) = s.request().await.expect("getData");
    assert_eq!(
        r,
        Request::GetData(zk_wire::GetDataRequest {
            path: "/root/w".into(),
            watch: true
        })
    );
    s.reply(h.xid, 2, 0, Some(&data(b""))).await;
    set.await.expect("join").expect("watch set");
    let n = 20_000;
    let get = tokio::spawn({
        let c = c.clone();
        async move { c.get_data("/x").await }
    });
    for i in 0..n {
        // The watch was one-shot, but the server may send what it likes; only the first
        // reaches the watcher. Persistent-like streams are tested elsewhere.
        s.notify(
            EventType::NodeDataChanged,
            if i == 0 { "/root/w" } else { "/root/other" },
        )
        .await;
    }
    let (h, _) = s.request().await.expect("getData");
    s.reply(h.xid, 3, 0, Some(&data(b"x"))).await;
    let got = tokio::time::timeout(DEADLINE, get)
        .await
        .expect("not stalled");
    assert_eq!(got.expect("join").expect("get").0, b"x");
    assert_eq!(
        ev.recv_timeout(DEADLINE).await,
        Some(WatchedEvent::state(KeeperState::SyncConnected))
    );
    assert_eq!(
        ev.recv_timeout(DEADLINE).await,
        Some(WatchedEvent::node(EventType::NodeDataChanged, "/w"))
    );
}

/// S8.1 on a socket: requests pending when the server drops the connection fail with
/// ConnectionLoss; the reconnect re-registers the watch (SetWatches, chroot prefixed).
#[tokio::test]
async fn s8_1_pending_fail_and_watches_come_back_on_the_next_connection() {
    let (l, addr) = listener().await;
    let (c, _ev) = connect(&format!("{addr}/app"), ConnectOptions::new()).expect("connect");
    let mut s = Conn::accept(&l).await;
    s.handshake_request().await;
    s.answer(5000, 3).await;
    c.wait_connected(DEADLINE).await.expect("connected");
    let w = tokio::spawn({
        let c = c.clone();
        async move { c.exists_watch("/n").await }
    });
    let (h, _) = s.request().await.expect("exists");
    s.reply(h.xid, 10, -101, None).await;
    let (stat, mut watch) = w.await.expect("join").expect("exists");
    assert_eq!(stat, None);
    let pending: Vec<_> = (0..5)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move { c.get_data("/p").await })
        })
        .collect();
    for _ in 0..5 {
        s.request().await.expect("request");
    }
    drop(s);
    for p in pending {
        assert_eq!(p.await.expect("join"), Err(Error::ConnectionLoss));
    }
    let mut s = Conn::accept(&l).await;
    s.handshake_request().await;
    s.answer(5000, 3).await;
    let (h, r) = s.request().await.expect("SetWatches");
    assert_eq!(h.xid, -8);
    match r {
        Request::SetWatches(sw) => {
            assert_eq!(sw.relative_zxid, 10);
            assert_eq!(sw.exist_watches, vec!["/app/n".to_string()]);
        }
        other => panic!("{other:?}"),
    }
    s.reply(-8, 10, 0, None).await;
    s.notify(EventType::NodeCreated, "/app/n").await;
    assert_eq!(
        watch.recv_timeout(DEADLINE).await,
        Some(WatchedEvent::node(EventType::NodeCreated, "/n"))
    );
}

/// S2.2: servers are tried in a random order: over 24 handles on three servers, the first
/// server tried is not always the same one.
#[tokio::test]
async fn s2_2_servers_tried_in_random_order() {
    let ls = [listener().await, listener().await, listener().await];
    let cs = ls
        .iter()
        .map(|(_, a)| a.clone())
        .collect::<Vec<_>>()
        .join(",");
    let mut firsts = std::collections::BTreeSet::new();
    for _ in 0..24 {
        let (c, _ev) = connect(&cs, ConnectOptions::new()).expect("connect");
        let accepted = tokio::time::timeout(DEADLINE, async {
            tokio::select! {
                r = ls[0].0.accept() => (0, r),
                r = ls[1].0.accept() => (1, r),
                r = ls[2].0.accept() => (2, r),
            }
        })
        .await
        .expect("some server tried");
        firsts.insert(accepted.0);
        drop(c);
    }
    assert!(firsts.len() > 1, "always server {firsts:?} first");
}
