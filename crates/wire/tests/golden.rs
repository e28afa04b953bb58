//! Golden vectors: real traffic between ZooKeeper 3.8 and its clients (kazoo, zkCli, the Java
//! client), captured into `tests/golden/*.txt`. Every frame must split with the frame decoder,
//! decode with the record decoders, and re-encode to exactly the captured bytes: that is what
//! proves we speak ZooKeeper's dialect of jute and not merely our own.
//!
//! Format: `#` lines are comments; `> HEX` is one client→server frame and `< HEX` one
//! server→client frame, each including its 4-byte length prefix. The first `>` of a file is the
//! ConnectRequest, the first `<` the ConnectResponse; later frames carry a RequestHeader or
//! ReplyHeader, and replies are matched to requests by xid.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use zk_wire::{
    xid, ConnectRequest, ConnectResponse, FrameDecoder, OpCode, Reader, Record, ReplyHeader,
    Request, RequestHeader, Response,
};

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn unhex(s: &str) -> Result<Vec<u8>, String> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    if !s.len().is_multiple_of(2) {
        return Err(format!("odd hex length {}", s.len()));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|e| format!("bad hex: {e}")))
        .collect()
}

/// Splits one captured line into exactly one frame, checking the prefix is the frame's own.
fn frame_body(bytes: &[u8]) -> Result<&[u8], String> {
    let f = FrameDecoder::default()
        .decode(bytes)
        .map_err(|e| format!("frame: {e}"))?
        .ok_or("frame: incomplete")?;
    if f.consumed != bytes.len() {
        return Err(format!(
            "line holds {} bytes but its frame is {}",
            bytes.len(),
            f.consumed
        ));
    }
    Ok(f.body)
}

/// Re-frames `body_writer`'s output and compares it with the captured line.
fn check_reencode(captured: &[u8], body_writer: impl FnOnce(&mut Vec<u8>)) -> Result<(), String> {
    let mut out = Vec::new();
    zk_wire::write_frame(&mut out, body_writer);
    if out != captured {
        return Err(format!(
            "re-encoding differs:\n  captured {}\n  ours     {}",
            hex(captured),
            hex(&out)
        ));
    }
    Ok(())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[derive(Default)]
struct Conversation {
    seen_connect_request: bool,
    seen_connect_response: bool,
    /// xid → opcode of the requests sent so far (reserved xids are overwritten on reuse).
    pending: HashMap<i32, OpCode>,
    frames: usize,
}

impl Conversation {
    fn client_frame(&mut self, bytes: &[u8]) -> Result<String, String> {
        let body = frame_body(bytes)?;
        if !self.seen_connect_request {
            self.seen_connect_request = true;
            let req =
                ConnectRequest::from_bytes(body).map_err(|e| format!("ConnectRequest: {e}"))?;
            check_reencode(bytes, |o| req.encode(o))?;
            return Ok(format!("{req:?}"));
        }
        let (header, req) = Request::decode_frame(body).map_err(|e| format!("request: {e}"))?;
        check_reencode(bytes, |o| req.encode_with_header(header.xid, o))?;
        check_reserved_xid(&header)?;
        self.pending.insert(header.xid, req.opcode());
        Ok(format!("{header:?} {req:?}"))
    }

    fn server_frame(&mut self, bytes: &[u8]) -> Result<String, String> {
        let body = frame_body(bytes)?;
        if !self.seen_connect_response {
            self.seen_connect_response = true;
            let rsp =
                ConnectResponse::from_bytes(body).map_err(|e| format!("ConnectResponse: {e}"))?;
            check_reencode(bytes, |o| rsp.encode(o))?;
            return Ok(format!("{rsp:?}"));
        }
        let mut r = Reader::new(body);
        let header = ReplyHeader::decode(&mut r).map_err(|e| format!("reply header: {e}"))?;
        let op = if header.xid == xid::NOTIFICATION {
            OpCode::Notification
        } else {
            *self
                .pending
                .get(&header.xid)
                .ok_or_else(|| format!("reply to unknown xid {}", header.xid))?
        };
        let rsp = Response::decode_reply(op, &header, r.rest())
            .map_err(|e| format!("{op} reply (err {}): {e}", header.err))?;
        check_reencode(bytes, |o| {
            header.encode(o);
            if let Some(rsp) = &rsp {
                rsp.encode(o);
            }
        })?;
        Ok(format!("{header:?} {rsp:?}"))
    }
}

/// The reserved xids of ClientCnxn go with their own opcodes.
fn check_reserved_xid(h: &RequestHeader) -> Result<(), String> {
    let want = match h.xid {
        xid::PING => &[OpCode::Ping][..],
        xid::AUTH => &[OpCode::Auth][..],
        xid::SET_WATCHES => &[OpCode::SetWatches, OpCode::SetWatches2][..],
        _ => return Ok(()),
    };
    match h.opcode() {
        Some(op) if want.contains(&op) => Ok(()),
        _ => Err(format!("xid {} with opcode {}", h.xid, h.op_type)),
    }
}

fn check_file(path: &Path) -> Result<usize, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let mut conv = Conversation::default();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (dir, rest) = line.split_at(1);
        let bytes = unhex(rest).map_err(|e| format!("line {}: {e}", n + 1))?;
        let res = match dir {
            ">" => conv.client_frame(&bytes),
            "<" => conv.server_frame(&bytes),
            _ => Err(format!("unknown line kind {dir:?}")),
        };
        match res {
            Ok(desc) => {
                if std::env::var_os("GOLDEN_VERBOSE").is_some() {
                    println!("{dir} {desc}");
                }
                conv.frames += 1;
            }
            Err(e) => return Err(format!("line {}: {e}\n  {line}", n + 1)),
        }
    }
    if conv.frames == 0 {
        return Err("no frames".into());
    }
    Ok(conv.frames)
}

/// Every captured frame decodes and re-encodes byte for byte.
#[test]
fn golden_frames_decode_and_reencode_exactly() {
    let dir = golden_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no golden files in {}: the capture has not been committed",
        dir.display()
    );
    let mut failures = Vec::new();
    let mut total = 0;
    for f in &files {
        match check_file(f) {
            Ok(n) => total += n,
            Err(e) => failures.push(format!("{}: {e}", f.display())),
        }
    }
    println!("{} files, {total} frames", files.len());
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
