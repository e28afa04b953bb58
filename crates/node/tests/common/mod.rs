//! Test support: the real `zk-node` binary on free loopback ports (the shared test kit's
//! launchers, `zk_testkit::zk_node`), and a raw protocol client (blocking sockets, zk-wire
//! records) to check exactly what goes over the wire.

// Each test binary uses its own part of this module.
#![allow(dead_code, unused_imports)]

pub mod cluster;
pub mod membership;
pub mod req;
pub mod zookeeper;

use std::io::Read;
use std::io::Write;
use std::net::SocketAddr;
use std::net::TcpStream;
use std::time::Duration;
use std::time::Instant;

use zk_wire::encode_frame;
use zk_wire::ConnectRequest;
use zk_wire::ConnectResponse;
use zk_wire::Record;
use zk_wire::ReplyHeader;
use zk_wire::Request;

/// How long any single wait in these tests may take.
pub const DEADLINE: Duration = Duration::from_secs(20);

pub use zk_chaos::ports::free_port;

/// One zk-node process on its own (the kit's, shared by every crate's tests).
pub use zk_testkit::zk_node::Single as ZkNode;

pub use zk_testkit::four_letter;
pub use zk_testkit::http_get;

/// A raw ZooKeeper protocol connection.
pub struct Raw {
    pub stream: TcpStream,
    next_xid: i32,
}

/// What the server sent next.
#[derive(Debug)]
pub enum Frame {
    /// A reply (or notification, xid -1) header and its body bytes.
    Reply(ReplyHeader, Vec<u8>),
    /// The server closed the connection.
    Closed,
}

impl Raw {
    /// Connects (no handshake yet).
    pub fn connect(addr: SocketAddr) -> Raw {
        Raw::try_connect(addr).expect("connect")
    }

    /// Connects, or `None` if nothing listens there (yet).
    pub fn try_connect(addr: SocketAddr) -> Option<Raw> {
        let stream = TcpStream::connect_timeout(&addr, DEADLINE).ok()?;
        stream.set_read_timeout(Some(DEADLINE)).expect("timeout");
        stream.set_nodelay(true).expect("nodelay");
        Some(Raw {
            stream,
            next_xid: 1,
        })
    }

    /// Sends raw bytes.
    pub fn send_bytes(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send");
    }

    /// Sends a ConnectRequest and reads the ConnectResponse (None if the server closed).
    pub fn handshake(&mut self, req: &ConnectRequest) -> Option<ConnectResponse> {
        let mut out = Vec::new();
        encode_frame(req, &mut out);
        self.send_bytes(&out);
        let body = self.read_frame_bytes()?;
        Some(ConnectResponse::from_bytes(&body).expect("decode ConnectResponse"))
    }

    /// A new session with `timeout_ms`.
    pub fn new_session(addr: SocketAddr, timeout_ms: i32) -> (Raw, ConnectResponse) {
        let mut raw = Raw::connect(addr);
        let resp = raw
            .handshake(&connect_request(0, vec![0; 16], timeout_ms, 0))
            .expect("handshake answered");
        assert_ne!(resp.session_id, 0, "session created");
        (raw, resp)
    }

    /// A new session, retried like a client does when a server closes the handshake
    /// without an answer (an ensemble member that is catching up or electing).
    pub fn new_session_retrying(addr: SocketAddr, timeout_ms: i32) -> (Raw, ConnectResponse) {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let mut raw = Raw::connect(addr);
            if let Some(resp) = raw.handshake(&connect_request(0, vec![0; 16], timeout_ms, 0)) {
                assert_ne!(resp.session_id, 0, "session created");
                return (raw, resp);
            }
            assert!(Instant::now() < deadline, "no session from {addr}");
            std::thread::sleep(Duration::from_millis(50)); // a client's back-off
        }
    }

    /// Sends `req` with the next xid; returns that xid.
    pub fn send(&mut self, req: &Request) -> i32 {
        let xid = self.next_xid;
        self.next_xid += 1;
        self.send_xid(xid, req);
        xid
    }

    /// Sends all of `reqs` in one write (so the server takes them in one read); returns
    /// their xids.
    pub fn send_all(&mut self, reqs: &[Request]) -> Vec<i32> {
        let mut out = Vec::new();
        let mut xids = Vec::with_capacity(reqs.len());
        for req in reqs {
            let xid = self.next_xid;
            self.next_xid += 1;
            zk_wire::write_frame(&mut out, |o| req.encode_with_header(xid, o));
            xids.push(xid);
        }
        self.send_bytes(&out);
        xids
    }

    /// Sends `req` with a given xid.
    pub fn send_xid(&mut self, xid: i32, req: &Request) {
        let mut out = Vec::new();
        zk_wire::write_frame(&mut out, |o| req.encode_with_header(xid, o));
        self.send_bytes(&out);
    }

    fn read_frame_bytes(&mut self) -> Option<Vec<u8>> {
        let mut len = [0u8; 4];
        if self.stream.read_exact(&mut len).is_err() {
            return None;
        }
        let n = i32::from_be_bytes(len);
        let mut body = vec![0u8; usize::try_from(n).expect("sane length")];
        self.stream.read_exact(&mut body).ok()?;
        Some(body)
    }

    /// The next frame from the server.
    pub fn read(&mut self) -> Frame {
        match self.read_frame_bytes() {
            None => Frame::Closed,
            Some(body) => {
                let mut r = zk_wire::Reader::new(&body);
                let h = ReplyHeader::decode(&mut r).expect("reply header");
                Frame::Reply(h, r.rest().to_vec())
            }
        }
    }

    /// The next frame, which must be a reply.
    pub fn reply(&mut self) -> (ReplyHeader, Vec<u8>) {
        match self.read() {
            Frame::Reply(h, b) => (h, b),
            Frame::Closed => panic!("server closed the connection"),
        }
    }

    /// Sends `req` and reads its reply (skipping nothing: the next frame must be it).
    pub fn call(&mut self, req: &Request) -> (ReplyHeader, Vec<u8>) {
        let xid = self.send(req);
        let (h, b) = self.reply();
        assert_eq!(h.xid, xid, "reply in order");
        (h, b)
    }

    /// True if the server closed the connection without sending anything more.
    pub fn closed_without_data(&mut self) -> bool {
        let mut buf = [0u8; 1];
        matches!(self.stream.read(&mut buf), Ok(0))
    }
}

/// A ConnectRequest as clients send it (with the readOnly byte).
pub fn connect_request(
    session_id: i64,
    passwd: Vec<u8>,
    timeout_ms: i32,
    last_zxid: i64,
) -> ConnectRequest {
    ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: last_zxid,
        time_out: timeout_ms,
        session_id,
        passwd,
        read_only: Some(false),
    }
}

/// Creates `/{prefix}{i:06}` with data `value-{i}` for i = 0, 1, ... on `raw`, keeping 16
/// requests in flight, and sends each acknowledged (path, data) to `acked`, until the
/// connection closes (e.g. the node is killed) or `acked`'s receiver is gone. For crash
/// tests: the receiver's list is exactly what the server acknowledged.
pub fn pipelined_creates(
    mut raw: Raw,
    prefix: &str,
    acked: std::sync::mpsc::Sender<(String, Vec<u8>)>,
) {
    let mut in_flight = std::collections::BTreeMap::new();
    for i in 0..1_000_000u32 {
        let path = format!("/{prefix}{i:06}");
        let data = format!("value-{i}").into_bytes();
        let xid = raw.send(&Request::Create(zk_wire::CreateRequest {
            path: path.clone(),
            data: Some(data.clone()),
            acl: zk_wire::Acl::open_unsafe(),
            flags: 0,
        }));
        in_flight.insert(xid, (path, data));
        while in_flight.len() >= 16 {
            match raw.read() {
                Frame::Reply(h, _) => {
                    if let Some(w) = in_flight.remove(&h.xid) {
                        if h.err == 0 && acked.send(w).is_err() {
                            return;
                        }
                    }
                }
                Frame::Closed => return,
            }
        }
    }
}
