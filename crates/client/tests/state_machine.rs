//! The session state machine with an injected clock and a scripted server: exact timings
//! (ping at 1/3, drop at 2/3, connect timeout = timeout / servers, back-off between rounds),
//! the CONNECTING → CONNECTED → CLOSED paths, SetWatches batching and chroot stripping.

use std::time::{Duration, Instant};

use zk_client::machine::{Config, ConnId, Core, Output, Submit};
use zk_client::{
    Chroot, CloseReason, Error, EventType, HostPort, KeeperState, State, WatchedEvent,
};
use zk_wire::{
    encode_frame, AddWatchRequest, AuthPacket, ConnectRequest, ConnectResponse, ExistsRequest,
    FrameDecoder, GetDataRequest, GetDataResponse, Record, ReplyHeader, Request, RequestHeader,
    Response, WatcherEvent,
};

const DEFAULT: u32 = 0;

fn servers(n: u16) -> Vec<HostPort> {
    (0..n)
        .map(|i| HostPort {
            host: "127.0.0.1".into(),
            port: 2181 + i,
        })
        .collect()
}

/// A core, its clock origin and everything it has output so far, not yet inspected.
struct H {
    core: Core<u32, u32>,
    t0: Instant,
    out: Vec<Output<u32, u32>>,
}

/// One frame the core sent.
#[derive(Debug)]
enum Sent {
    Connect(ConnectRequest),
    Req(RequestHeader, Request),
}

impl H {
    fn new(n: u16, timeout_ms: u64, chroot: Option<&str>) -> H {
        let mut cfg = Config::new(servers(n));
        cfg.session_timeout = Duration::from_millis(timeout_ms);
        cfg.chroot = Chroot::new(chroot.map(str::to_string));
        H::with(cfg)
    }

    fn with(cfg: Config) -> H {
        H {
            core: Core::new(cfg, DEFAULT),
            t0: Instant::now(),
            out: Vec::new(),
        }
    }

    fn at(&self, ms: u64) -> Instant {
        self.t0 + Duration::from_millis(ms)
    }

    fn pump(&mut self) {
        while let Some(o) = self.core.poll_output() {
            self.out.push(o);
        }
    }

    fn take(&mut self) -> Vec<Output<u32, u32>> {
        self.pump();
        std::mem::take(&mut self.out)
    }

    fn start(&mut self, ms: u64) {
        let t = self.at(ms);
        self.core.start(t);
    }

    fn tick(&mut self, ms: u64) {
        let t = self.at(ms);
        self.core.tick(t);
    }

    /// The connect the core asked for: (conn, server index by port).
    fn expect_connect(&mut self) -> (ConnId, u16) {
        let out = self.take();
        let c = out.iter().find_map(|o| match o {
            Output::Connect { conn, server } => Some((*conn, server.port - 2181)),
            _ => None,
        });
        c.unwrap_or_else(|| panic!("no Connect in {out:?}"))
    }

    /// Frames sent on `conn` since the last take, decoded.
    fn sent(out: &[Output<u32, u32>], conn: ConnId) -> Vec<Sent> {
        let mut frames = Vec::new();
        for o in out {
            if let Output::Send { conn: c, bytes } = o {
                assert_eq!(*c, conn, "send on the wrong connection");
                let dec = FrameDecoder::default();
                let mut rest: &[u8] = bytes;
                while let Some(f) = dec.decode(rest).unwrap() {
                    let body = f.body.to_vec();
                    rest = &rest[f.consumed..];
                    match Request::decode_frame(&body) {
                        Ok((h, r)) => frames.push(Sent::Req(h, r)),
                        _ => frames.push(Sent::Connect(ConnectRequest::from_bytes(&body).unwrap())),
                    }
                }
            }
        }
        frames
    }

    /// TCP up, handshake answered with `timeout_ms` and session `id`: returns what was output.
    fn establish(
        &mut self,
        conn: ConnId,
        ms: u64,
        timeout_ms: i32,
        id: i64,
    ) -> Vec<Output<u32, u32>> {
        let t = self.at(ms);
        self.core.connected(conn, t);
        let out = self.take();
        let sent = H::sent(&out, conn);
        assert!(matches!(sent.as_slice(), [Sent::Connect(_)]), "{sent:?}");
        let resp = ConnectResponse {
            protocol_version: 0,
            time_out: timeout_ms,
            session_id: id,
            passwd: vec![7; 16],
            read_only: Some(false),
        };
        self.core.data(conn, &frame_of(&resp), t);
        self.take()
    }

    fn reply(&mut self, conn: ConnId, ms: u64, xid: i32, zxid: i64, err: i32, body: &[u8]) {
        let mut b = Vec::new();
        ReplyHeader { xid, zxid, err }.encode(&mut b);
        b.extend_from_slice(body);
        let mut frame = (b.len() as i32).to_be_bytes().to_vec();
        frame.extend_from_slice(&b);
        let t = self.at(ms);
        self.core.data(conn, &frame, t);
    }

    fn submit(&mut self, ms: u64, request: Request, watcher: Option<u32>, tag: u32) {
        let t = self.at(ms);
        self.core.submit(
            Submit {
                request,
                watcher,
                tag,
            },
            t,
        );
    }
}

fn frame_of(r: &impl Record) -> Vec<u8> {
    let mut b = Vec::new();
    encode_frame(r, &mut b);
    b
}

fn states(out: &[Output<u32, u32>]) -> Vec<State> {
    out.iter()
        .filter_map(|o| match o {
            Output::State(s) => Some(*s),
            _ => None,
        })
        .collect()
}

fn events(out: &[Output<u32, u32>]) -> Vec<(u32, WatchedEvent)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Event { watcher, event } => Some((*watcher, event.clone())),
            _ => None,
        })
        .collect()
}

fn completions(out: &[Output<u32, u32>]) -> Vec<(u32, Result<Response, Error>)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Complete { tag, result } => Some((*tag, result.clone())),
            _ => None,
        })
        .collect()
}

fn disconnects(out: &[Output<u32, u32>]) -> Vec<ConnId> {
    out.iter()
        .filter_map(|o| match o {
            Output::Disconnect { conn } => Some(*conn),
            _ => None,
        })
        .collect()
}

fn get_data(path: &str, watch: bool) -> Request {
    Request::GetData(GetDataRequest {
        path: path.into(),
        watch,
    })
}

fn data_body() -> Vec<u8> {
    Response::GetData(GetDataResponse {
        data: Some(b"v".to_vec()),
        stat: Default::default(),
    })
    .to_bytes()
}

fn notification(conn: ConnId, h: &mut H, ms: u64, ty: EventType, path: &str) {
    let ev = WatcherEvent {
        event_type: ty,
        state: KeeperState::SyncConnected,
        path: path.into(),
    };
    h.reply(conn, ms, -1, -1, 0, &ev.to_bytes());
}

/// S1.2: CONNECTING until a server accepts the handshake, then CONNECTED with a
/// SyncConnected event; the handshake carries no session, 16 zero bytes and the requested
/// timeout.
#[test]
fn s1_2_connecting_then_connected_on_handshake() {
    let mut h = H::new(1, 30_000, None);
    assert_eq!(h.core.state(), State::Connecting);
    h.start(0);
    let (conn, _) = h.expect_connect();
    h.core.connected(conn, h.at(5));
    let out = h.take();
    let Sent::Connect(req) = &H::sent(&out, conn)[0] else {
        panic!()
    };
    assert_eq!(req.session_id, 0);
    assert_eq!(req.passwd, vec![0; 16]);
    assert_eq!(req.time_out, 30_000);
    assert_eq!(req.last_zxid_seen, 0);
    assert_eq!(h.core.state(), State::Connecting);
    let resp = ConnectResponse {
        protocol_version: 0,
        time_out: 6000,
        session_id: 0x55,
        passwd: vec![7; 16],
        read_only: Some(false),
    };
    h.core.data(conn, &frame_of(&resp), h.at(6));
    let out = h.take();
    assert_eq!(states(&out), vec![State::Connected]);
    assert_eq!(
        events(&out),
        vec![(DEFAULT, WatchedEvent::state(KeeperState::SyncConnected))]
    );
    assert_eq!(h.core.session().id, 0x55);
}

/// S1.3: in normal operation (pings answered, a drop, a reconnect) the handle is only ever
/// CONNECTING or CONNECTED.
#[test]
fn s1_3_only_connecting_or_connected_in_normal_operation() {
    let mut h = H::new(2, 6000, None);
    h.start(0);
    let (c1, _) = h.expect_connect();
    let mut seen = states(&h.establish(c1, 0, 6000, 1));
    for i in 1..=5u64 {
        h.tick(i * 2000);
        h.reply(c1, i * 2000 + 1, -2, 0, 0, &[]);
    }
    h.core.disconnected(c1, h.at(11_000));
    let out = h.take();
    seen.extend(states(&out));
    let c2 = out.iter().find_map(|o| match o {
        Output::Connect { conn, .. } => Some(*conn),
        _ => None,
    });
    seen.extend(states(&h.establish(c2.unwrap(), 11_001, 6000, 1)));
    assert_eq!(
        seen,
        vec![State::Connected, State::Connecting, State::Connected]
    );
}

/// S4.1 + S5.2: the negotiated timeout (6 s, not the requested 30 s) is used, and a ping is
/// sent exactly one third of it after the last send, not a millisecond earlier.
#[test]
fn s5_2_ping_at_exactly_a_third_of_the_negotiated_timeout() {
    let mut h = H::new(1, 30_000, None);
    h.start(0);
    let (c, _) = h.expect_connect();
    h.establish(c, 100, 6000, 9);
    assert_eq!(h.core.timeout(), Duration::from_millis(6000));
    assert_eq!(h.core.next_deadline(), Some(h.at(2100)));
    h.tick(2099);
    assert!(H::sent(&h.take(), c).is_empty());
    h.tick(2100);
    let sent = H::sent(&h.take(), c);
    assert!(
        matches!(sent.as_slice(), [Sent::Req(hd, Request::Ping)] if hd.xid == -2),
        "{sent:?}"
    );
    // Traffic resets the ping timer: a request at 3000 puts the next ping at 5000.
    h.reply(c, 2101, -2, 0, 0, &[]);
    h.submit(3000, get_data("/a", false), None, 1);
    h.take();
    h.reply(c, 3001, 1, 5, 0, &data_body());
    h.tick(4999);
    assert!(H::sent(&h.take(), c).is_empty());
    h.tick(5000);
    assert!(matches!(
        H::sent(&h.take(), c).as_slice(),
        [Sent::Req(_, Request::Ping)]
    ));
}

/// S5.1: pings are ordinary traffic for the timer: with a ping every third, the connection
/// stays up as long as the server answers.
#[test]
fn s5_1_answered_pings_keep_the_connection() {
    let mut h = H::new(1, 3000, None);
    h.start(0);
    let (c, _) = h.expect_connect();
    h.establish(c, 0, 3000, 9);
    let mut pings = 0;
    for step in 1..=30u64 {
        let t = step * 1000;
        h.tick(t);
        let out = h.take();
        assert!(disconnects(&out).is_empty(), "dropped at {t}");
        pings += H::sent(&out, c).len();
        h.reply(c, t, -2, 0, 0, &[]);
    }
    assert_eq!(pings, 30);
    assert_eq!(h.core.state(), State::Connected);
}

/// S5.3: nothing heard for exactly two thirds of the negotiated timeout: the connection is
/// dropped (Disconnected, CONNECTING) and the next server is tried at once.
#[test]
fn s5_3_drop_at_exactly_two_thirds_then_next_server() {
    let mut h = H::new(3, 6000, None);
    h.start(0);
    let (c, first) = h.expect_connect();
    assert_eq!(first, 0);
    h.establish(c, 0, 6000, 9);
    h.tick(2000); // ping, never answered
    h.take();
    h.tick(3999);
    assert!(disconnects(&h.take()).is_empty());
    h.tick(4000);
    let out = h.take();
    assert_eq!(disconnects(&out), vec![c]);
    assert_eq!(states(&out), vec![State::Connecting]);
    assert_eq!(
        events(&out),
        vec![(DEFAULT, WatchedEvent::state(KeeperState::Disconnected))]
    );
    let next = out.iter().find_map(|o| match o {
        Output::Connect { server, .. } => Some(server.port - 2181),
        _ => None,
    });
    assert_eq!(next, Some(1));
}

/// Connect timeout = session timeout / number of servers: the requested one before the
/// first handshake, the negotiated one after; it covers TCP connect and handshake.
#[test]
fn connect_timeout_is_timeout_divided_by_servers() {
    let mut h = H::new(3, 9000, None);
    h.start(0);
    let (c1, s1) = h.expect_connect();
    assert_eq!(
        (s1, h.core.connect_timeout()),
        (0, Duration::from_millis(3000))
    );
    h.tick(2999);
    assert!(disconnects(&h.take()).is_empty());
    h.tick(3000);
    let out = h.take();
    assert_eq!(disconnects(&out), vec![c1]);
    let (c2, s2) = out
        .iter()
        .find_map(|o| match o {
            Output::Connect { conn, server } => Some((*conn, server.port - 2181)),
            _ => None,
        })
        .unwrap();
    assert_eq!(s2, 1);
    // TCP up at 3500 but no handshake answer: the attempt still ends at 3000 + 3000.
    h.core.connected(c2, h.at(3500));
    h.take();
    h.tick(5999);
    assert!(disconnects(&h.take()).is_empty());
    h.tick(6000);
    let out = h.take();
    assert_eq!(disconnects(&out), vec![c2]);
    let (c3, _) = out
        .iter()
        .find_map(|o| match o {
            Output::Connect { conn, server } => Some((*conn, server.port)),
            _ => None,
        })
        .unwrap();
    h.establish(c3, 6001, 4500, 1);
    assert_eq!(h.core.connect_timeout(), Duration::from_millis(1500));
}

/// S2.2: servers in the given order, round-robin; after a full round of failures the core
/// waits (100 ms, then 200 ms: doubling) before the next round, never a hot loop.
#[test]
fn s2_2_round_robin_with_backoff_between_full_rounds() {
    let mut h = H::new(2, 6000, None);
    h.start(0);
    let mut tried = Vec::new();
    let (c, s) = h.expect_connect();
    tried.push(s);
    h.core.connect_failed(c, h.at(1));
    let (c, s) = h.expect_connect();
    tried.push(s);
    h.core.connect_failed(c, h.at(2));
    assert!(h
        .take()
        .iter()
        .all(|o| !matches!(o, Output::Connect { .. })));
    assert_eq!(h.core.next_deadline(), Some(h.at(102)));
    h.tick(101);
    assert!(h
        .take()
        .iter()
        .all(|o| !matches!(o, Output::Connect { .. })));
    h.tick(102);
    let (c, s) = h.expect_connect();
    tried.push(s);
    h.core.connect_failed(c, h.at(103));
    let (c, s) = h.expect_connect();
    tried.push(s);
    h.core.disconnected(c, h.at(104));
    assert_eq!(h.core.next_deadline(), Some(h.at(304)));
    h.tick(304);
    let (_, s) = h.expect_connect();
    tried.push(s);
    assert_eq!(tried, vec![0, 1, 0, 1, 0]);
    assert_eq!(h.core.state(), State::Connecting);
}

/// S3.4: a server that closes the connection without answering the handshake (it is behind
/// the client's lastZxidSeen) is skipped: no event, no state change, next server.
#[test]
fn s3_4_server_closing_the_handshake_is_skipped() {
    let mut h = H::new(2, 6000, None);
    h.start(0);
    let (c1, _) = h.expect_connect();
    h.establish(c1, 0, 6000, 3);
    h.reply(c1, 10, -2, 500, 0, &[]);
    h.core.disconnected(c1, h.at(20));
    let (c2, s2) = h.expect_connect();
    assert_eq!(s2, 1);
    h.core.connected(c2, h.at(21));
    let out = h.take();
    let Sent::Connect(req) = &H::sent(&out, c2)[0] else {
        panic!()
    };
    assert_eq!(req.last_zxid_seen, 500);
    h.core.disconnected(c2, h.at(22));
    let out = h.take();
    assert!(
        states(&out).is_empty() && events(&out).is_empty(),
        "{out:?}"
    );
    let next = out.iter().find_map(|o| match o {
        Output::Connect { server, .. } => Some(server.port - 2181),
        _ => None,
    });
    assert_eq!(next, Some(0));
}

/// S3.3 + S6.5: a reconnect presents the same id and password; the session resumes with its
/// watches re-registered (SetWatches with the last zxid seen).
#[test]
fn s3_3_reconnect_resumes_with_id_password_and_watches() {
    let mut h = H::new(2, 6000, None);
    h.start(0);
    let (c1, _) = h.expect_connect();
    h.establish(c1, 0, 6000, 0x77);
    h.submit(1, get_data("/w", true), Some(5), 1);
    h.reply(c1, 2, 1, 40, 0, &data_body());
    h.core.disconnected(c1, h.at(3));
    let (c2, _) = h.expect_connect();
    h.core.connected(c2, h.at(4));
    let out = h.take();
    let Sent::Connect(req) = &H::sent(&out, c2)[0] else {
        panic!()
    };
    assert_eq!((req.session_id, req.passwd.clone()), (0x77, vec![7; 16]));
    let resp = ConnectResponse {
        protocol_version: 0,
        time_out: 6000,
        session_id: 0x77,
        passwd: vec![7; 16],
        read_only: Some(false),
    };
    h.core.data(c2, &frame_of(&resp), h.at(5));
    let out = h.take();
    assert_eq!(states(&out), vec![State::Connected]);
    let sent = H::sent(&out, c2);
    match sent.as_slice() {
        [Sent::Req(hd, Request::SetWatches(sw))] => {
            assert_eq!(hd.xid, -8);
            assert_eq!(sw.relative_zxid, 40);
            assert_eq!(sw.data_watches, vec!["/w".to_string()]);
        }
        other => panic!("{other:?}"),
    }
    // The re-registered watch still fires.
    notification(c2, &mut h, 6, EventType::NodeDataChanged, "/w");
    assert_eq!(
        events(&h.take()),
        vec![(5, WatchedEvent::node(EventType::NodeDataChanged, "/w"))]
    );
}

/// S6.4 + S3.3 + S1.4 + S8.2: the expiry is learned only from the handshake answer
/// (timeOut 0): CLOSED(SessionExpired), Expired to the default watcher and to every
/// watcher; later calls fail at once with SessionExpired.
#[test]
fn s6_4_expired_learned_on_reconnect_then_closed_for_good() {
    let mut h = H::new(1, 6000, None);
    h.start(0);
    let (c1, _) = h.expect_connect();
    h.establish(c1, 0, 6000, 0x99);
    h.submit(1, get_data("/w", true), Some(4), 1);
    h.reply(c1, 2, 1, 3, 0, &data_body());
    h.core.disconnected(c1, h.at(3));
    h.take();
    // Disconnected for ten minutes of failing servers: still CONNECTING, the client never
    // decides expiry by itself.
    let mut c2 = None;
    while c2.is_none() {
        let d = h
            .core
            .next_deadline()
            .expect("a timer runs while CONNECTING");
        h.core.tick(d);
        h.pump();
        let connect = h.out.iter().find_map(|o| match o {
            Output::Connect { conn, .. } => Some(*conn),
            _ => None,
        });
        h.out.clear();
        assert_eq!(h.core.state(), State::Connecting);
        if let Some(conn) = connect {
            if d < h.at(600_000) {
                h.core.connect_failed(conn, d);
            } else {
                c2 = Some(conn);
            }
        }
    }
    let c2 = c2.unwrap();
    h.core.connected(c2, h.at(600_101));
    h.take();
    let expired = ConnectResponse {
        protocol_version: 0,
        time_out: 0,
        session_id: 0,
        passwd: vec![0; 16],
        read_only: Some(false),
    };
    h.core.data(c2, &frame_of(&expired), h.at(600_102));
    let out = h.take();
    assert_eq!(
        states(&out),
        vec![State::Closed(CloseReason::SessionExpired)]
    );
    assert_eq!(
        events(&out),
        vec![
            (DEFAULT, WatchedEvent::state(KeeperState::Expired)),
            (4, WatchedEvent::state(KeeperState::Expired))
        ]
    );
    assert_eq!(disconnects(&out), vec![c2]);
    assert_eq!(h.core.next_deadline(), None);
    h.submit(600_200, get_data("/a", false), None, 2);
    assert_eq!(
        completions(&h.take()),
        vec![(2, Err(Error::SessionExpired))]
    );
}

/// S8.1: pending requests fail with ConnectionLoss when the connection drops; calls while
/// not connected fail with ConnectionLoss at once.
#[test]
fn s8_1_connection_loss_for_pending_and_while_disconnected() {
    let mut h = H::new(2, 6000, None);
    h.start(0);
    let (c1, _) = h.expect_connect();
    h.submit(0, get_data("/early", false), None, 1);
    assert_eq!(
        completions(&h.take()),
        vec![(1, Err(Error::ConnectionLoss))]
    );
    h.establish(c1, 1, 6000, 5);
    for tag in 2..=4 {
        h.submit(2, get_data("/p", false), None, tag);
    }
    h.reply(c1, 3, 1, 9, 0, &data_body());
    let done = completions(&h.take());
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].0, 2);
    h.core.disconnected(c1, h.at(4));
    let done = completions(&h.take());
    assert_eq!(
        done,
        vec![
            (3, Err(Error::ConnectionLoss)),
            (4, Err(Error::ConnectionLoss))
        ]
    );
    h.submit(5, get_data("/late", false), None, 5);
    assert_eq!(
        completions(&h.take()),
        vec![(5, Err(Error::ConnectionLoss))]
    );
}

/// Pipelining: many requests in flight complete in the order sent, each with its own reply;
/// a reply out of order is a broken connection (ConnectionLoss), as in ZooKeeper's client.
#[test]
fn pipelined_requests_complete_in_order() {
    let mut h = H::new(1, 6000, None);
    h.start(0);
    let (c, _) = h.expect_connect();
    h.establish(c, 0, 6000, 5);
    for tag in 1..=16 {
        h.submit(1, get_data(&format!("/n{tag}"), false), None, tag);
    }
    let sent = H::sent(&h.take(), c);
    let xids: Vec<i32> = sent
        .iter()
        .map(|s| match s {
            Sent::Req(hd, _) => hd.xid,
            Sent::Connect(_) => 0,
        })
        .collect();
    assert_eq!(xids, (1..=16).collect::<Vec<_>>());
    assert_eq!(h.core.pending_len(), 16);
    for xid in 1..=8 {
        h.reply(c, 2, xid, 10 + xid as i64, 0, &data_body());
    }
    let done: Vec<u32> = completions(&h.take()).iter().map(|(t, _)| *t).collect();
    assert_eq!(done, (1..=8).collect::<Vec<_>>());
    assert_eq!(h.core.last_zxid(), 18);
    h.reply(c, 3, 10, 20, 0, &data_body());
    let out = h.take();
    assert_eq!(disconnects(&out), vec![c]);
    assert_eq!(completions(&out).len(), 8);
    assert!(completions(&out)
        .iter()
        .all(|(_, r)| *r == Err(Error::ConnectionLoss)));
}

/// S1.4: close sends CloseSession; its reply makes the handle CLOSED with a Closed event;
/// every later call fails at once with Closed.
#[test]
fn s1_4_close_is_final() {
    let mut h = H::new(1, 6000, None);
    h.start(0);
    let (c, _) = h.expect_connect();
    h.establish(c, 0, 6000, 5);
    h.core.close(Some(100), h.at(10));
    let out = h.take();
    let sent = H::sent(&out, c);
    let close_xid = match sent.as_slice() {
        [Sent::Req(hd, Request::CloseSession)] => hd.xid,
        other => panic!("{other:?}"),
    };
    h.submit(11, get_data("/a", false), None, 1);
    assert_eq!(completions(&h.take()), vec![(1, Err(Error::Closed))]);
    h.reply(c, 12, close_xid, 30, 0, &[]);
    let out = h.take();
    assert_eq!(states(&out), vec![State::Closed(CloseReason::Closed)]);
    assert_eq!(
        events(&out),
        vec![(DEFAULT, WatchedEvent::state(KeeperState::Closed))]
    );
    assert_eq!(completions(&out), vec![(100, Ok(Response::CloseSession))]);
    h.submit(13, get_data("/a", false), None, 2);
    assert_eq!(completions(&h.take()), vec![(2, Err(Error::Closed))]);
    // Closing while disconnected is immediate.
    let mut h = H::new(1, 6000, None);
    h.start(0);
    h.take();
    h.core.close(None, h.at(1));
    assert_eq!(states(&h.take()), vec![State::Closed(CloseReason::Closed)]);
}

/// S1.4: a close the ensemble never acknowledged still makes the handle CLOSED, but the
/// caller learns the session may live on (ConnectionLoss): closed while disconnected, the
/// connection lost before the reply, or no reply within the read timeout. With no session
/// ever granted there is nothing to live on.
#[test]
fn s1_4_an_unacknowledged_close_says_so() {
    // Never connected: nothing granted.
    let mut h = H::new(1, 6000, None);
    h.start(0);
    h.take();
    h.core.close(Some(1), h.at(1));
    assert_eq!(
        completions(&h.take()),
        vec![(1, Ok(Response::CloseSession))]
    );

    // Disconnected after a session was granted.
    let mut h = H::new(1, 6000, None);
    h.start(0);
    let (c, _) = h.expect_connect();
    h.establish(c, 0, 6000, 5);
    h.core.disconnected(c, h.at(20));
    h.take();
    h.core.close(Some(2), h.at(21));
    let out = h.take();
    assert_eq!(completions(&out), vec![(2, Err(Error::ConnectionLoss))]);
    assert_eq!(states(&out), vec![State::Closed(CloseReason::Closed)]);

    // The connection goes before the reply.
    let mut h = H::new(1, 6000, None);
    h.start(0);
    let (c, _) = h.expect_connect();
    h.establish(c, 0, 6000, 5);
    h.core.close(Some(3), h.at(10));
    h.take();
    h.core.disconnected(c, h.at(11));
    let out = h.take();
    assert_eq!(completions(&out), vec![(3, Err(Error::ConnectionLoss))]);
    assert_eq!(states(&out), vec![State::Closed(CloseReason::Closed)]);

    // No reply within the read timeout (2/3 of 6 s, counted from the last thing heard, the
    // handshake at 0).
    let mut h = H::new(1, 6000, None);
    h.start(0);
    let (c, _) = h.expect_connect();
    h.establish(c, 0, 6000, 5);
    h.core.close(Some(4), h.at(10));
    h.take();
    h.core.tick(h.at(3999));
    assert!(completions(&h.take()).is_empty());
    h.core.tick(h.at(4000));
    let out = h.take();
    assert_eq!(completions(&out), vec![(4, Err(Error::ConnectionLoss))]);
    assert_eq!(states(&out), vec![State::Closed(CloseReason::Closed)]);
}

/// R8 + S1.4: an auth reply with AuthFailed closes the handle (AuthFailed event); calls then
/// fail with AuthFailed.
#[test]
fn r8_auth_failed_closes_the_handle() {
    let mut h = H::new(1, 6000, None);
    h.start(0);
    let (c, _) = h.expect_connect();
    h.establish(c, 0, 6000, 5);
    let auth = Request::Auth(AuthPacket {
        auth_type: 0,
        scheme: "nope".into(),
        auth: b"x".to_vec(),
    });
    h.submit(1, auth, None, 1);
    let sent = H::sent(&h.take(), c);
    assert!(matches!(sent.as_slice(), [Sent::Req(hd, Request::Auth(_))] if hd.xid == -4));
    h.reply(c, 2, -4, 0, -115, &[]);
    let out = h.take();
    assert_eq!(completions(&out), vec![(1, Err(Error::AuthFailed))]);
    assert_eq!(states(&out), vec![State::Closed(CloseReason::AuthFailed)]);
    assert_eq!(
        events(&out),
        vec![(DEFAULT, WatchedEvent::state(KeeperState::AuthFailed))]
    );
    h.submit(3, get_data("/a", false), None, 2);
    assert_eq!(completions(&h.take()), vec![(2, Err(Error::AuthFailed))]);
}

/// S2.3: paths go out under the chroot; watch events come back with it stripped (the chroot
/// itself reads as `/`), to the watcher that set the watch.
#[test]
fn s2_3_chroot_applied_to_requests_and_stripped_from_events() {
    let mut h = H::new(1, 6000, Some("/app/a"));
    h.start(0);
    let (c, _) = h.expect_connect();
    h.establish(c, 0, 6000, 5);
    h.submit(1, get_data("/x", true), Some(3), 1);
    h.submit(
        1,
        Request::Exists(ExistsRequest {
            path: "/".into(),
            watch: true,
        }),
        Some(4),
        2,
    );
    let sent = H::sent(&h.take(), c);
    let paths: Vec<String> = sent
        .iter()
        .map(|s| match s {
            Sent::Req(_, Request::GetData(r)) => r.path.clone(),
            Sent::Req(_, Request::Exists(r)) => r.path.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(paths, vec!["/app/a/x", "/app/a"]);
    h.reply(c, 2, 1, 7, 0, &data_body());
    h.reply(c, 2, 2, 7, -101, &[]);
    let done = completions(&h.take());
    assert_eq!(done[1], (2, Err(Error::NoNode)));
    notification(c, &mut h, 3, EventType::NodeDataChanged, "/app/a/x");
    notification(c, &mut h, 3, EventType::NodeCreated, "/app/a");
    assert_eq!(
        events(&h.take()),
        vec![
            (3, WatchedEvent::node(EventType::NodeDataChanged, "/x")),
            (4, WatchedEvent::node(EventType::NodeCreated, "/")),
        ]
    );
}

/// S7.1: node events of watches set without their own watcher go to the default watcher;
/// one-shot watches fire once, persistent ones every time.
#[test]
fn s7_1_default_watcher_gets_node_events_of_default_watches() {
    let mut h = H::new(1, 6000, None);
    h.start(0);
    let (c, _) = h.expect_connect();
    h.establish(c, 0, 6000, 5);
    h.submit(1, get_data("/d", true), Some(DEFAULT), 1);
    h.submit(
        1,
        Request::AddWatch(AddWatchRequest {
            path: "/p".into(),
            mode: 1,
        }),
        Some(DEFAULT),
        2,
    );
    h.reply(c, 2, 1, 7, 0, &data_body());
    h.reply(c, 2, 2, 7, 0, &[0, 0, 0, 0]);
    assert_eq!(completions(&h.take()).len(), 2);
    for _ in 0..2 {
        notification(c, &mut h, 3, EventType::NodeDataChanged, "/d");
        notification(c, &mut h, 3, EventType::NodeCreated, "/p/q");
    }
    assert_eq!(
        events(&h.take()),
        vec![
            (
                DEFAULT,
                WatchedEvent::node(EventType::NodeDataChanged, "/d")
            ),
            (DEFAULT, WatchedEvent::node(EventType::NodeCreated, "/p/q")),
            (DEFAULT, WatchedEvent::node(EventType::NodeCreated, "/p/q")),
        ]
    );
}

/// SetWatches batching: on reconnect the watches are re-registered (chroot prepended) in
/// batches that each stay under the limit, SetWatches2 only where persistent watches are.
#[test]
fn set_watches_batched_under_the_limit_with_chroot() {
    let mut cfg = Config::new(servers(1));
    cfg.session_timeout = Duration::from_millis(6000);
    cfg.chroot = Chroot::new(Some("/r".into()));
    cfg.set_watches_batch = 512;
    let mut h = H::with(cfg);
    h.start(0);
    let (c, _) = h.expect_connect();
    h.establish(c, 0, 6000, 5);
    let n = 100;
    for i in 0..n {
        h.submit(1, get_data(&format!("/node-{i:04}"), true), Some(1), i);
    }
    h.submit(
        1,
        Request::AddWatch(AddWatchRequest {
            path: "/pers".into(),
            mode: 0,
        }),
        Some(2),
        999,
    );
    for i in 0..n {
        h.reply(c, 2, (i + 1) as i32, 9, 0, &data_body());
    }
    h.reply(c, 2, n as i32 + 1, 9, 0, &[0, 0, 0, 0]);
    h.take();
    h.core.disconnected(c, h.at(3));
    h.tick(103);
    let (c2, _) = h.expect_connect();
    let out = h.establish(c2, 104, 6000, 5);
    let sent = H::sent(&out, c2);
    assert!(sent.len() >= 4, "{}", sent.len());
    let mut data = Vec::new();
    let mut persistent = Vec::new();
    for s in &sent {
        let Sent::Req(hd, req) = s else { panic!() };
        assert_eq!(hd.xid, -8);
        assert!(req.to_bytes().len() <= 512);
        match req {
            Request::SetWatches(sw) => data.extend(sw.data_watches.clone()),
            Request::SetWatches2(sw) => {
                data.extend(sw.data_watches.clone());
                persistent.extend(sw.persistent_watches.clone());
            }
            other => panic!("{other:?}"),
        }
    }
    let want: Vec<String> = (0..n).map(|i| format!("/r/node-{i:04}")).collect();
    assert_eq!(data, want);
    assert_eq!(persistent, vec!["/r/pers".to_string()]);
    assert!(matches!(
        sent.last(),
        Some(Sent::Req(_, Request::SetWatches2(_)))
    ));
}

/// Hostile input: a frame over the limit or garbage instead of a ConnectResponse drops the
/// connection (no panic) and the next server is tried.
#[test]
fn garbage_from_a_server_drops_the_connection() {
    let mut h = H::new(2, 6000, None);
    h.start(0);
    let (c, _) = h.expect_connect();
    h.core.connected(c, h.at(1));
    h.take();
    h.core.data(c, b"HTTP/1.1 400 Bad Request\r\n\r\n", h.at(2));
    let out = h.take();
    assert_eq!(disconnects(&out), vec![c]);
    let (c2, _) = out
        .iter()
        .find_map(|o| match o {
            Output::Connect { conn, server } => Some((*conn, server.port)),
            _ => None,
        })
        .unwrap();
    h.establish(c2, 3, 6000, 1);
    h.reply(c2, 4, -1, -1, 0, &[0xff, 0xff]);
    assert_eq!(h.core.state(), State::Connected);
}
