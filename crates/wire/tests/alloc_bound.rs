//! Decoding allocates in proportion to the bytes actually present, never to a length or count
//! field: ZooKeeper's jute.maxbuffer check exists because a hostile 4-byte length would
//! otherwise make the server allocate up to 2 GiB. A counting global allocator measures the
//! peak heap growth of each decode.
//!
//! One #[test] only: the counters are process-wide, so tests must not run concurrently here.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use zk_wire::{
    Acl, CheckVersionRequest, ConnectRequest, CreateRequest, FrameDecoder, JuteWrite, MultiOp,
    MultiRequest, OpCode, Record, Request, RequestHeader, Response,
};

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Relaxed) + layout.size();
            PEAK.fetch_max(now, Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Relaxed);
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Peak heap growth while `f` runs (its result is dropped inside the measurement).
fn peak_during<T>(f: impl FnOnce() -> T) -> usize {
    let base = CURRENT.load(Relaxed);
    PEAK.store(base, Relaxed);
    drop(std::hint::black_box(f()));
    PEAK.load(Relaxed) - base
}

/// A constant factor: decoded values are bigger than their encoding (a 24-byte `String` per
/// 4-byte empty string, an enum slot per 17-byte multi op, plus `Vec` doubling), but never
/// by an amount a length field chooses.
const MAX_FACTOR: usize = 12;

#[test]
fn decoding_allocates_in_proportion_to_the_frame_only() {
    // 1. Hostile lengths allocate (next to) nothing.
    let hostile: Vec<(&str, Vec<u8>, OpCode)> = {
        let mut v = Vec::new();
        let mut b = Vec::new();
        b.write_i32(i32::MAX); // children count 2^31-1
        v.push(("children count 2^31-1", b, OpCode::GetChildren));
        let mut b = Vec::new();
        b.write_i32(i32::MIN);
        v.push(("children count i32::MIN", b, OpCode::GetChildren));
        let mut b = Vec::new();
        b.write_i32(0x4854_5450); // "HTTP" as a data length
        b.write_i32(0);
        v.push(("data length HTTP", b, OpCode::GetData));
        v
    };
    for (what, body, op) in &hostile {
        let used = peak_during(|| Response::decode(*op, body));
        assert!(used < 256, "{what}: {used} bytes");
        let h = RequestHeader::new(1, *op);
        let used = peak_during(|| Request::decode(&h, body));
        assert!(used < 256, "{what}: {used} bytes");
    }
    let used = peak_during(|| FrameDecoder::default().decode(b"HTTP/1.1 200 OK\r\n"));
    assert_eq!(used, 0, "frame prefix HTTP");

    // 2. Worst-case legitimate shapes: many minimal elements in one frame.
    let mut worst: Vec<(&str, usize, usize)> = Vec::new();
    let n = 50_000;

    let children: Vec<String> = vec![String::new(); n];
    let body = Response::GetChildren(zk_wire::GetChildrenResponse { children }).to_bytes();
    let used = peak_during(|| Response::decode(OpCode::GetChildren, &body));
    worst.push(("empty child names", body.len(), used));

    let mut body = Vec::new();
    body.write_str("/");
    body.write_buffer(None);
    body.write_vec(&vec![(); n], |w, _| {
        w.write_i32(0);
        w.write_str("");
        w.write_str("");
    });
    body.write_i32(0);
    let h = RequestHeader::new(1, OpCode::Create);
    let used = peak_during(|| Request::decode(&h, &body));
    worst.push(("empty ACL entries", body.len(), used));

    let ops = vec![
        MultiOp::Check(CheckVersionRequest {
            path: String::new(),
            version: 0
        });
        n / 4
    ];
    let body = MultiRequest { ops }.to_bytes();
    let h = RequestHeader::new(1, OpCode::Multi);
    let used = peak_during(|| Request::decode(&h, &body));
    worst.push(("minimal multi ops", body.len(), used));

    let big = CreateRequest {
        path: "/x".into(),
        data: Some(vec![7; 1_000_000]),
        acl: Acl::open_unsafe(),
        flags: 0,
    };
    let body = big.to_bytes();
    let used = peak_during(|| CreateRequest::from_bytes(&body));
    worst.push(("1 MB create", body.len(), used));

    let body = ConnectRequest::default().to_bytes();
    let used = peak_during(|| ConnectRequest::from_bytes(&body));
    worst.push(("handshake", body.len(), used));

    for (what, len, used) in &worst {
        println!("{what}: {len} encoded bytes, peak {used} heap bytes");
        assert!(
            *used <= MAX_FACTOR * len + 1024,
            "{what}: {used} bytes for a {len}-byte frame"
        );
    }
}
