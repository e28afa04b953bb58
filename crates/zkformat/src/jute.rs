//! Jute's binary archive (`BinaryInputArchive`/`BinaryOutputArchive`): big-endian ints and
//! longs, a boolean as one byte, buffers and strings as an int length then the bytes (-1 for
//! null), vectors as an int count (-1 for null) then the elements.
//!
//! Lengths are checked against the bytes left before anything is allocated.

use crate::error::{At, ErrorKind};

/// Reads jute fields from a byte slice; every error carries the offset it stopped at.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos == self.buf.len()
    }

    pub(crate) fn invalid(&self, msg: impl Into<String>) -> At {
        ErrorKind::Invalid(msg.into()).at(self.pos)
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], At> {
        let rest = self.remaining();
        if n > rest {
            return Err(ErrorKind::Truncated {
                needed: (n - rest) as u64,
            }
            .at(self.buf.len()));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn arr<const N: usize>(&mut self) -> Result<[u8; N], At> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    pub(crate) fn byte(&mut self) -> Result<u8, At> {
        Ok(self.arr::<1>()?[0])
    }

    pub(crate) fn bool(&mut self) -> Result<bool, At> {
        Ok(self.byte()? != 0)
    }

    pub(crate) fn int(&mut self) -> Result<i32, At> {
        Ok(i32::from_be_bytes(self.arr()?))
    }

    pub(crate) fn long(&mut self) -> Result<i64, At> {
        Ok(i64::from_be_bytes(self.arr()?))
    }

    /// A buffer; `None` for jute's null (-1).
    pub(crate) fn buffer(&mut self) -> Result<Option<&'a [u8]>, At> {
        let start = self.pos;
        let len = self.int()?;
        match len {
            -1 => Ok(None),
            n if n < 0 => Err(ErrorKind::Invalid(format!("negative length {n}")).at(start)),
            n => self.take(n as usize).map(Some),
        }
    }

    /// A string; null (-1) is an error unless the field allows it (`string_opt`).
    pub(crate) fn string(&mut self) -> Result<String, At> {
        let start = self.pos;
        self.string_opt()?
            .ok_or_else(|| ErrorKind::Invalid("null string".into()).at(start))
    }

    pub(crate) fn string_opt(&mut self) -> Result<Option<String>, At> {
        let start = self.pos;
        match self.buffer()? {
            None => Ok(None),
            Some(b) => String::from_utf8(b.to_vec())
                .map(Some)
                .map_err(|_| ErrorKind::Invalid("string is not UTF-8".into()).at(start)),
        }
    }

    /// A vector's count (`None` for null), checked against what the bytes left can hold at
    /// `min_elem` bytes per element.
    pub(crate) fn vector_len(&mut self, min_elem: usize) -> Result<Option<usize>, At> {
        let start = self.pos;
        match self.int()? {
            -1 => Ok(None),
            n if n < 0 => Err(ErrorKind::Invalid(format!("negative vector count {n}")).at(start)),
            n => {
                let n = n as usize;
                if n.saturating_mul(min_elem.max(1)) > self.remaining() {
                    return Err(ErrorKind::Invalid(format!(
                        "vector count {n} exceeds the {} bytes left",
                        self.remaining()
                    ))
                    .at(start));
                }
                Ok(Some(n))
            }
        }
    }
}

/// Writes jute fields.
#[derive(Default)]
pub(crate) struct Writer {
    pub(crate) buf: Vec<u8>,
}

impl Writer {
    pub(crate) fn byte(&mut self, v: u8) {
        self.buf.push(v);
    }
    pub(crate) fn bool(&mut self, v: bool) {
        self.byte(u8::from(v));
    }
    pub(crate) fn int(&mut self, v: i32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    pub(crate) fn long(&mut self, v: i64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    pub(crate) fn buffer(&mut self, v: Option<&[u8]>) {
        match v {
            None => self.int(-1),
            Some(b) => {
                self.int(b.len() as i32);
                self.buf.extend_from_slice(b);
            }
        }
    }
    pub(crate) fn string(&mut self, s: &str) {
        self.buffer(Some(s.as_bytes()));
    }
}

/// Java's `Adler32.getValue()`: the checksum as a non-negative long.
pub(crate) fn adler32(bytes: &[u8]) -> i64 {
    i64::from(adler2::adler32_slice(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primitives_round_trip() {
        let mut w = Writer::default();
        w.int(-5);
        w.long(1 << 40);
        w.bool(true);
        w.buffer(None);
        w.string("/a");
        let mut r = Reader::new(&w.buf);
        assert_eq!(r.int().unwrap(), -5);
        assert_eq!(r.long().unwrap(), 1 << 40);
        assert!(r.bool().unwrap());
        assert_eq!(r.buffer().unwrap(), None);
        assert_eq!(r.string().unwrap(), "/a");
        assert!(r.at_end());
        assert!(matches!(
            r.int().unwrap_err().kind,
            ErrorKind::Truncated { needed: 4 }
        ));
    }

    #[test]
    fn hostile_lengths_are_errors() {
        let mut r = Reader::new(&[0x7f, 0xff, 0xff, 0xff, 1]);
        assert!(r.buffer().is_err());
        let mut r = Reader::new(&[0xff, 0xff, 0xff, 0xfe]);
        assert!(r.buffer().is_err());
        let mut r = Reader::new(&[0x10, 0, 0, 0]);
        assert!(r.vector_len(1).is_err());
    }

    #[test]
    fn adler32_of_known_input() {
        // Adler-32 of "Wikipedia", from the algorithm's definition.
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
        assert_eq!(adler32(b""), 1);
    }
}
