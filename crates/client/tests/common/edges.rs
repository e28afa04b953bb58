//! Requests a server cannot take, sent as raw frames on an established session, written once
//! against [`Servers`] and run unchanged against zk-node and Apache ZooKeeper 3.8 (issue 18:
//! the protocol edges the way ZooKeeper answers them; docs/protocol.md, "Malformed
//! requests").

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use tokio::task::block_in_place;
use zk_wire::{
    encode_frame, write_frame, CreateRequest, ExistsRequest, Record, Request, RequestHeader,
};

use super::judged::{connect_request, handshake, Answer};
use super::Servers;

/// How long a reply or a close may take.
const WAIT: Duration = Duration::from_secs(5);

/// A reply header as read off the socket, or the close that came instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Got {
    Reply { xid: i32, zxid: i64, err: i32 },
    Closed,
}

/// A new session on its own connection to `addr`.
fn session(addr: &str) -> TcpStream {
    let addr: SocketAddr = addr.parse().expect("host:port");
    let mut stream = TcpStream::connect_timeout(&addr, WAIT).expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let req = connect_request(None, Duration::from_secs(10));
    let (answer, _) = handshake(&mut stream, &req, "edges");
    assert!(matches!(answer, Answer::Session(_)), "{answer:?}");
    stream
}

fn send(stream: &mut TcpStream, bytes: &[u8]) {
    stream.write_all(bytes).expect("send");
}

/// A frame of `header` and `body` bytes as given.
fn frame(xid: i32, op_type: i32, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    write_frame(&mut out, |o| {
        RequestHeader { xid, op_type }.encode(o);
        o.extend_from_slice(body);
    });
    out
}

/// The next reply's header (its body is skipped), or the close.
fn next(stream: &mut TcpStream) -> Got {
    stream.set_read_timeout(Some(WAIT)).expect("read timeout");
    let mut len = [0u8; 4];
    match stream.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
            panic!("neither a reply nor a close within {WAIT:?}")
        }
        Err(_) => return Got::Closed,
    }
    let n = usize::try_from(i32::from_be_bytes(len)).expect("a positive frame length");
    let mut body = vec![0u8; n];
    stream.read_exact(&mut body).expect("the whole reply");
    let int = |b: &[u8]| i32::from_be_bytes(b.try_into().expect("4 bytes"));
    Got::Reply {
        xid: int(&body[0..4]),
        zxid: i64::from_be_bytes(body[4..12].try_into().expect("8 bytes")),
        err: int(&body[12..16]),
    }
}

/// The err of the next reply; panics on a close.
fn next_err(stream: &mut TcpStream, xid: i32) -> i32 {
    match next(stream) {
        Got::Reply { xid: got, err, .. } => {
            assert_eq!(got, xid, "the reply to xid {xid}");
            err
        }
        Got::Closed => panic!("closed instead of answering xid {xid}"),
    }
}

fn exists_body(path: &str) -> Vec<u8> {
    let mut body = Vec::new();
    Request::Exists(ExistsRequest {
        path: path.into(),
        watch: false,
    })
    .encode(&mut body);
    body
}

const EXISTS: i32 = 3;
const CREATE: i32 = 1;
const UNIMPLEMENTED: i32 = -6;
const MARSHALLING_ERROR: i32 = -5;

/// An unknown opcode, and a second ConnectRequest (it reads as xid 0, opcode 0), are
/// answered Unimplemented with zxid -1 and the connection closes; a body too short for a
/// request header closes it unanswered; a create cut short gets MarshallingError and the
/// connection goes on; bytes after a whole request are ignored.
pub async fn r_protocol_edges_answered_as_zookeeper_does(s: &mut dyn Servers) {
    let addr = s.addrs()[s.leader()].clone();
    block_in_place(|| {
        let mut unknown = session(&addr);
        send(&mut unknown, &frame(7, 999, &[]));
        assert_eq!(
            next(&mut unknown),
            Got::Reply {
                xid: 7,
                zxid: -1,
                err: UNIMPLEMENTED
            },
            "{}: an unknown opcode",
            s.name()
        );
        assert_eq!(next(&mut unknown), Got::Closed, "closed after the answer");

        let mut again = session(&addr);
        let mut second = Vec::new();
        encode_frame(&connect_request(None, Duration::from_secs(10)), &mut second);
        send(&mut again, &second);
        assert_eq!(
            next(&mut again),
            Got::Reply {
                xid: 0,
                zxid: -1,
                err: UNIMPLEMENTED
            },
            "{}: a second ConnectRequest",
            s.name()
        );
        assert_eq!(next(&mut again), Got::Closed, "closed after the answer");

        let mut short = session(&addr);
        send(&mut short, &[0, 0, 0, 2, 0, 0]);
        assert_eq!(
            next(&mut short),
            Got::Closed,
            "a body shorter than a header"
        );

        let mut cut = session(&addr);
        let mut create = Vec::new();
        Request::Create(CreateRequest {
            path: "/edges-never".into(),
            data: Some(b"data".to_vec()),
            acl: zk_wire::Acl::open_unsafe(),
            flags: 0,
        })
        .encode(&mut create);
        create.truncate(create.len() - 6);
        send(&mut cut, &frame(5, CREATE, &create));
        assert_eq!(next_err(&mut cut, 5), MARSHALLING_ERROR, "{}", s.name());
        send(&mut cut, &frame(6, EXISTS, &exists_body("/")));
        assert_eq!(next_err(&mut cut, 6), 0, "the connection goes on");
        let mut extra = exists_body("/");
        extra.extend_from_slice(b"EXTRA");
        send(&mut cut, &frame(8, EXISTS, &extra));
        assert_eq!(
            next_err(&mut cut, 8),
            0,
            "{}: trailing bytes ignored",
            s.name()
        );
        send(&mut cut, &frame(9, EXISTS, &exists_body("/edges-never")));
        assert_eq!(next_err(&mut cut, 9), -101, "nothing was created");
    });
}
