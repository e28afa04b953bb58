//! The checks the fuzzer runs on each input of the `handshake` target, shared with the stable
//! replay of the kept corpus (`crates/session/tests/fuzz_corpus.rs`, which includes this
//! file): the pure pieces of the node's first-frame path (`crates/node/src/connection/mod.rs`
//! `open`, then `handshake.rs`), in its order:
//!
//! 1. the length prefix, read with the connect size limit (`FrameDecoder::body_len`): a
//!    negative or too long length is refused before any body is read;
//! 2. the ConnectRequest, decoded as the server does (`Record::from_bytes`: the readOnly
//!    flag optional, so pre-3.4 clients' shorter requests decode);
//! 3. what its session fields ask for (`zk_session::admit`) under a fixed cluster secret: a
//!    new session gets a timeout within the bounds, a resume is claimed only with exactly the
//!    session's password, and nothing panics;
//! 4. the timeout negotiation itself, under bounds the input may choose.
//!
//! Left out, being the node's and not pure: the four-letter words and the TLS-record check on
//! the first four bytes, and the waits (serving, lastZxidSeen).
//!
//! The input's first byte chooses the server's configuration (see [`Config`]); the rest is
//! what the client sent.

use zk_session::admit;
use zk_session::Admission;
use zk_session::ClusterSecret;
use zk_session::SessionId;
use zk_session::TimeoutBounds;
use zk_session::TimeoutError;
use zk_session::PASSWORD_LEN;
use zk_wire::ConnectRequest;
use zk_wire::FrameDecoder;
use zk_wire::Record;

/// The ensemble's secret in every run (its passwords are what the seeds present).
pub const SECRET: [u8; 32] = *b"zk-raft fuzz: the cluster secret";

/// Another secret: a password of the first is never one of this one.
const OTHER: [u8; 32] = *b"zk-raft fuzz: a different secret";

/// The server's configuration, from the input's first byte.
struct Config {
    /// The connect size limit (`--max-frame-bytes`, jute.maxbuffer).
    max_frame: usize,
    bounds: TimeoutBounds,
}

/// Bounds as operators configure them: (tick, min override, max override).
const BOUNDS: [(u32, Option<u32>, Option<u32>); 6] = [
    (2000, None, None),
    (200, None, None),
    (1, None, None),
    (2000, Some(1), Some(i32::MAX as u32)),
    (100, Some(5000), Some(5000)),
    (i32::MAX as u32 / 20, Some(1), None),
];

/// Reads the configuration byte, and for its last choice three u32s (tick, min, max; the
/// all-ones value means "not set"), checking `TimeoutBounds::new` on the way.
fn config(data: &[u8]) -> (Config, &[u8]) {
    let Some((&b, rest)) = data.split_first() else {
        return (
            Config {
                max_frame: zk_wire::DEFAULT_MAX_FRAME,
                bounds: TimeoutBounds::default(),
            },
            data,
        );
    };
    let max_frame = if b & 1 == 0 {
        zk_wire::DEFAULT_MAX_FRAME
    } else {
        64
    };
    let pick = usize::from(b >> 1) % (BOUNDS.len() + 1);
    let (bounds, rest) = match BOUNDS.get(pick) {
        Some(&(tick, min, max)) => (
            TimeoutBounds::new(tick, min, max).expect("a configuration operators may use"),
            rest,
        ),
        None => {
            let mut words = rest.chunks_exact(4).map(|c| {
                let v = u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
                (v != u32::MAX).then_some(v)
            });
            let tick = words.next().flatten().unwrap_or(0);
            let min = words.next().flatten();
            let max = words.next().flatten();
            let rest = rest.get(12..).unwrap_or_default();
            (bounds_checked(tick, min, max), rest)
        }
    };
    (Config { max_frame, bounds }, rest)
}

/// `TimeoutBounds::new`, checked: it refuses exactly the configurations it says it does, and
/// what it accepts is usable (0 < min <= max <= i32::MAX). A refused one is replaced by the
/// default, as the node would not start with it.
fn bounds_checked(tick: u32, min: Option<u32>, max: Option<u32>) -> TimeoutBounds {
    let lo = min.map_or(u64::from(tick) * 2, u64::from);
    let hi = max.map_or(u64::from(tick) * 20, u64::from);
    match TimeoutBounds::new(tick, min, max) {
        Ok(b) => {
            assert!(tick > 0 && b.tick_ms().get() == tick);
            assert_eq!((u64::from(b.min_ms()), u64::from(b.max_ms())), (lo, hi));
            assert!(0 < b.min_ms() && b.min_ms() <= b.max_ms());
            assert!(i32::try_from(b.max_ms()).is_ok());
            b
        }
        Err(TimeoutError::ZeroTick) => {
            assert_eq!(tick, 0);
            TimeoutBounds::default()
        }
        Err(TimeoutError::ZeroMin) => {
            assert_eq!(lo, 0);
            TimeoutBounds::default()
        }
        Err(TimeoutError::MinAboveMax { min, max }) => {
            assert!((min, max) == (lo, hi) && lo > hi && lo > 0);
            TimeoutBounds::default()
        }
        Err(TimeoutError::TooLarge(m)) => {
            assert!(m == hi && hi > i32::MAX as u64 && lo > 0 && lo <= hi);
            TimeoutBounds::default()
        }
    }
}

/// The timeout a client asking for `requested` gets: within the bounds, and its request when
/// that is within them.
fn check_negotiation(bounds: &TimeoutBounds, requested: i32) -> u32 {
    let t = bounds.negotiate(requested);
    assert!(
        bounds.min_ms() <= t && t <= bounds.max_ms(),
        "{t} for {requested}"
    );
    assert!(i32::try_from(t).is_ok());
    if let Ok(r) = u32::try_from(requested) {
        if bounds.min_ms() <= r && r <= bounds.max_ms() {
            assert_eq!(t, r);
        }
    }
    t
}

/// What a decoded ConnectRequest asks for, under the fixed secret, another one and none.
fn check_admission(req: &ConnectRequest, bounds: &TimeoutBounds) {
    let secret = ClusterSecret::from_bytes(SECRET);
    let other = ClusterSecret::from_bytes(OTHER);
    let got = admit(
        req.session_id,
        &req.passwd,
        req.time_out,
        Some(&secret),
        bounds,
    );
    let Ok(id) = SessionId::from_raw(req.session_id) else {
        // Session id 0: a new session, whatever the password, with or without a secret.
        let timeout_ms = check_negotiation(bounds, req.time_out);
        assert_eq!(got, Admission::Create { timeout_ms });
        let without = admit(req.session_id, &req.passwd, req.time_out, None, bounds);
        assert_eq!(without, got);
        return;
    };
    let password = secret.password(id);
    // Claimed with exactly the session's own password under this secret, never otherwise.
    if req.passwd == password {
        assert_eq!(
            got,
            Admission::Claim {
                session: id,
                password
            }
        );
    } else {
        assert_eq!(got, Admission::Invalid);
    }
    // The same request with the right password is claimed, under this secret only; with any
    // one byte of it changed, or one byte short, or no secret yet, it is not.
    let right = admit(
        req.session_id,
        &password,
        req.time_out,
        Some(&secret),
        bounds,
    );
    assert_eq!(
        right,
        Admission::Claim {
            session: id,
            password
        }
    );
    let elsewhere = admit(
        req.session_id,
        &password,
        req.time_out,
        Some(&other),
        bounds,
    );
    assert_eq!(elsewhere, Admission::Invalid);
    let none = admit(req.session_id, &password, req.time_out, None, bounds);
    assert_eq!(none, Admission::Invalid);
    let at = req.passwd.len() % PASSWORD_LEN;
    let flip = req.passwd.first().map_or(1, |b| b | 1);
    let mut wrong = password;
    wrong[at] ^= flip;
    let wrong = admit(req.session_id, &wrong, req.time_out, Some(&secret), bounds);
    assert_eq!(wrong, Admission::Invalid);
    let short = admit(
        req.session_id,
        &password[..PASSWORD_LEN - 1],
        req.time_out,
        Some(&secret),
        bounds,
    );
    assert_eq!(short, Admission::Invalid);
}

/// Runs every check on `data`; panics on a failure.
pub fn check(data: &[u8]) {
    let (cfg, stream) = config(data);
    // The negotiation on its own, for the first four bytes read as a requested timeout.
    if let Some(t) = stream.first_chunk::<4>() {
        check_negotiation(&cfg.bounds, i32::from_be_bytes(*t));
    }
    // As `open` reads the first frame: the length first, with the connect size limit.
    let decoder = FrameDecoder::new(cfg.max_frame);
    let len = match decoder.body_len(stream) {
        // Fewer than four bytes: the node waits for more (bounded by the first-frame wait).
        Ok(None) => return,
        Ok(Some(len)) => len,
        // Refused before any body is read: only a negative or too long length.
        Err(_) => {
            let prefix = stream.first_chunk::<4>().expect("a length was read");
            let len = i32::from_be_bytes(*prefix);
            assert!(usize::try_from(len).map_or(true, |n| n > cfg.max_frame));
            return;
        }
    };
    assert!(len <= cfg.max_frame);
    // The node reads until the whole body is there; a shorter input is a client still
    // sending. Anything after the body stays for the pipeline.
    let Some(body) = stream.get(4..4 + len) else {
        return;
    };
    let Ok(req) = ConnectRequest::from_bytes(body) else {
        return;
    };
    // It re-encodes to a request that reads the same (the readOnly flag kept or left out, as
    // the client sent it; a null password reads as an empty one).
    assert_eq!(
        ConnectRequest::from_bytes(&req.to_bytes()).as_ref(),
        Ok(&req)
    );
    // An older client's request, the same without its readOnly flag, reads as not read-only.
    if req.read_only.is_some() {
        let older = ConnectRequest::from_bytes(&body[..body.len() - 1])
            .expect("the request without its readOnly flag");
        assert_eq!(older.read_only, None);
        assert!(!older.can_be_read_only());
        assert_eq!(
            ConnectRequest {
                read_only: req.read_only,
                ..older
            },
            req
        );
    }
    check_admission(&req, &cfg.bounds);
}
