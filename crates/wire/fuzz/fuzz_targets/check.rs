//! The checks the fuzzer runs on each input, shared with the stable replay of the kept corpus
//! (`crates/wire/tests/fuzz_corpus.rs`, which includes this file): every decoder a server or
//! client runs on untrusted input: the frame splitter, the handshake records, RequestHeader +
//! Request (strict, and lenient as the server reads it), and every opcode's Response. None
//! may panic, and whatever decodes must re-encode to bytes that decode to the same value.

use zk_wire::{
    ConnectRequest, ConnectResponse, FrameDecoder, OpCode, Reader, Record, ReplyHeader, Request,
    RequestHeader, Response,
};

fn record_round_trip<R: Record + PartialEq + std::fmt::Debug>(data: &[u8]) {
    if let Ok(v) = R::from_bytes(data) {
        assert_eq!(R::from_bytes(&v.to_bytes()).as_ref(), Ok(&v));
    }
}

fn request_round_trip(body: &[u8]) {
    if let Ok((h, req)) = Request::decode_frame(body) {
        let mut buf = Vec::new();
        req.encode_with_header(h.xid, &mut buf);
        let (h2, req2) = Request::decode_frame(&buf).expect("re-encoded request must decode");
        assert_eq!(h2, h);
        assert_eq!(req2, req);
    }
    // The server's reading: a request that decodes strictly decodes the same leniently, and
    // whatever decodes leniently re-encodes to a strict frame of the same request.
    let mut r = Reader::new(body);
    if let Ok(h) = RequestHeader::decode(&mut r) {
        let lenient = Request::decode_lenient(&h, r.rest());
        if let Ok(strict) = Request::decode(&h, r.rest()) {
            assert_eq!(lenient.as_ref(), Ok(&strict));
        }
        if let Ok(req) = lenient {
            let mut buf = Vec::new();
            req.encode_with_header(h.xid, &mut buf);
            let (_, again) = Request::decode_frame(&buf).expect("re-encoded request must decode");
            assert_eq!(again, req);
        }
    }
}

fn response_round_trip(body: &[u8]) {
    for &op in OpCode::ALL {
        if let Ok(rsp) = Response::decode(op, body) {
            assert_eq!(rsp.opcode(), op);
            assert_eq!(Response::decode(op, &rsp.to_bytes()), Ok(rsp));
        }
    }
    let mut r = Reader::new(body);
    if let Ok(h) = ReplyHeader::decode(&mut r) {
        for &op in OpCode::ALL {
            let _ = Response::decode_reply(op, &h, r.rest());
        }
    }
}

/// Runs every check on `data`; panics on a failure.
pub fn check(data: &[u8]) {
    // As a stream: split frames with a small limit too, so over-limit lengths are exercised.
    for max in [64, zk_wire::DEFAULT_MAX_FRAME] {
        let dec = FrameDecoder::new(max);
        let mut rest = data;
        while let Ok(Some(f)) = dec.decode(rest) {
            assert!(f.body.len() <= max && f.consumed == f.body.len() + 4);
            request_round_trip(f.body);
            rest = &rest[f.consumed..];
        }
    }
    // As one frame body of each kind.
    record_round_trip::<ConnectRequest>(data);
    record_round_trip::<ConnectResponse>(data);
    request_round_trip(data);
    response_round_trip(data);
}
