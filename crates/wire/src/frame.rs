//! Length-prefixed framing: a 4-byte big-endian length, then that many bytes. Sans-I/O: the
//! caller owns the buffer and the socket; this only says whether a whole frame is there.

use crate::jute::{DecodeError, Record};

/// ZooKeeper's default `jute.maxbuffer` (0xfffff): the largest frame body accepted, counted
/// after the length prefix.
pub const DEFAULT_MAX_FRAME: usize = 1_048_575;

/// Size of the length prefix.
pub const PREFIX_LEN: usize = 4;

/// One complete frame found at the start of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The frame's bytes after the length prefix.
    pub body: &'a [u8],
    /// Bytes the frame occupies in the buffer, prefix included: what to advance by.
    pub consumed: usize,
}

/// Splits frames off a byte stream, refusing lengths over a limit before waiting for (or
/// allocating) their bytes, so a peer cannot make us buffer more than `max` per frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameDecoder {
    max: usize,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        FrameDecoder {
            max: DEFAULT_MAX_FRAME,
        }
    }
}

impl FrameDecoder {
    /// A decoder refusing bodies longer than `max` bytes.
    pub const fn new(max: usize) -> Self {
        FrameDecoder { max }
    }

    /// The configured limit.
    pub const fn max(&self) -> usize {
        self.max
    }

    /// The body length announced by the prefix at the start of `buf`: `Ok(None)` until 4 bytes
    /// are there; an error for a negative length or one over the limit (like ZooKeeper's
    /// "Len error", e.g. an HTTP request's "HTTP" read as 1,213,486,160). A reader can use this
    /// to size its buffer, which is then bounded by the limit.
    pub fn body_len(&self, buf: &[u8]) -> Result<Option<usize>, DecodeError> {
        let Some(prefix) = buf.first_chunk::<PREFIX_LEN>() else {
            return Ok(None);
        };
        let len = i32::from_be_bytes(*prefix);
        match usize::try_from(len) {
            Ok(n) if n <= self.max => Ok(Some(n)),
            _ => Err(DecodeError::FrameTooLarge {
                len: len.into(),
                max: self.max,
            }),
        }
    }

    /// The first complete frame of `buf`, `Ok(None)` if more bytes are needed, or an error for
    /// a bad length (after which the stream cannot be resynchronised: close the connection).
    pub fn decode<'a>(&self, buf: &'a [u8]) -> Result<Option<Frame<'a>>, DecodeError> {
        let Some(len) = self.body_len(buf)? else {
            return Ok(None);
        };
        let consumed = PREFIX_LEN + len;
        Ok(buf
            .get(PREFIX_LEN..consumed)
            .map(|body| Frame { body, consumed }))
    }
}

/// Appends a frame whose body is whatever `body` writes: reserves the prefix, lets `body`
/// encode in place (no intermediate buffer), then patches the length. Returns the body length.
///
/// Panics if the body exceeds `i32::MAX` bytes, which only a caller bug can produce; use
/// [`FrameDecoder::max`] on the peer's side to bound what is accepted.
pub fn write_frame(out: &mut Vec<u8>, body: impl FnOnce(&mut Vec<u8>)) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0; PREFIX_LEN]);
    body(out);
    let len = out.len() - start - PREFIX_LEN;
    let prefix = i32::try_from(len).expect("frame body longer than i32::MAX");
    out[start..start + PREFIX_LEN].copy_from_slice(&prefix.to_be_bytes());
    len
}

/// Appends one record as a frame (the handshake records are framed this way).
pub fn encode_frame<R: Record>(record: &R, out: &mut Vec<u8>) -> usize {
    write_frame(out, |o| record.encode(o))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::ConnectRequest;

    /// An HTTP client talking to the ZooKeeper port: "HTTP" as a length is far over the limit
    /// and must be refused from the prefix alone, not buffered.
    #[test]
    fn http_probe_is_frame_too_large() {
        let d = FrameDecoder::default();
        assert_eq!(
            d.decode(b"HTTP/1.1 GET /"),
            Err(DecodeError::FrameTooLarge {
                len: 0x4854_5450,
                max: DEFAULT_MAX_FRAME
            })
        );
        assert!(d.decode(b"HTTP").is_err());
    }

    /// ZooKeeper closes the connection on a negative length.
    #[test]
    fn negative_length_is_an_error() {
        let d = FrameDecoder::default();
        for len in [-1i32, -2, i32::MIN] {
            assert!(matches!(
                d.decode(&len.to_be_bytes()),
                Err(DecodeError::FrameTooLarge { .. })
            ));
        }
    }

    /// jute.maxbuffer is inclusive: exactly max is fine, max + 1 is not.
    #[test]
    fn limit_is_inclusive() {
        let d = FrameDecoder::new(10);
        assert_eq!(d.body_len(&10i32.to_be_bytes()), Ok(Some(10)));
        assert!(d.body_len(&11i32.to_be_bytes()).is_err());
        assert_eq!(FrameDecoder::default().max(), 0xfffff);
    }

    /// A frame split across reads: need more until the last byte arrives.
    #[test]
    fn truncated_frames_need_more() {
        let mut buf = Vec::new();
        encode_frame(&ConnectRequest::default(), &mut buf);
        let d = FrameDecoder::default();
        for n in 0..buf.len() {
            assert_eq!(d.decode(&buf[..n]), Ok(None), "{n}");
        }
        let f = d.decode(&buf).unwrap().unwrap();
        assert_eq!(f.consumed, buf.len());
        assert_eq!(
            ConnectRequest::from_bytes(f.body),
            Ok(ConnectRequest::default())
        );
    }

    /// Two frames back to back: the first is returned, the rest left for the next call.
    #[test]
    fn back_to_back_frames() {
        let mut buf = Vec::new();
        write_frame(&mut buf, |o| o.extend_from_slice(b"ab"));
        write_frame(&mut buf, |o| o.extend_from_slice(b""));
        let d = FrameDecoder::default();
        let f = d.decode(&buf).unwrap().unwrap();
        assert_eq!((f.body, f.consumed), (&b"ab"[..], 6));
        let g = d.decode(&buf[f.consumed..]).unwrap().unwrap();
        assert_eq!((g.body, g.consumed), (&b""[..], 4));
    }

    /// The prefix counts the body only.
    #[test]
    fn write_frame_patches_length() {
        let mut out = vec![9];
        let n = write_frame(&mut out, |o| o.extend_from_slice(&[1, 2, 3]));
        assert_eq!(n, 3);
        assert_eq!(out, [9, 0, 0, 0, 3, 1, 2, 3]);
    }
}
