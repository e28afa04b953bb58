//! Jute's binary primitives: big-endian ints and longs, one-byte booleans, length-prefixed
//! buffers, strings and vectors where a length of -1 means null.

use thiserror::Error;

/// Why a byte sequence is not a valid record.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// The input ended before the record did.
    #[error("truncated: needed {needed} more bytes, {remaining} left")]
    Truncated {
        /// Bytes the next read needed.
        needed: usize,
        /// Bytes that were left.
        remaining: usize,
    },
    /// A buffer, string or vector length below -1.
    #[error("invalid length {0}")]
    InvalidLength(i32),
    /// A length or count larger than what the frame can possibly hold.
    #[error("length {len} exceeds the {available} bytes available")]
    TooLong {
        /// The announced length or count.
        len: usize,
        /// How many (bytes or minimal elements) could fit in what is left.
        available: usize,
    },
    /// A ustring that is not UTF-8.
    #[error("string is not valid UTF-8")]
    InvalidUtf8,
    /// A null where the protocol needs a value.
    #[error("unexpected null {0}")]
    UnexpectedNull(&'static str),
    /// Bytes left over after a record that should fill its frame.
    #[error("{0} trailing bytes after the record")]
    TrailingBytes(usize),
    /// A frame length prefix over the configured limit (or negative).
    #[error("frame length {len} is over the limit of {max} bytes")]
    FrameTooLarge {
        /// The announced length.
        len: i64,
        /// The configured limit.
        max: usize,
    },
    /// An opcode this protocol version does not define.
    #[error("unknown opcode {0}")]
    UnknownOpCode(i32),
    /// A field value outside its enumeration (create flags, watch modes, ...).
    #[error("invalid {field}: {value}")]
    InvalidValue {
        /// Which field.
        field: &'static str,
        /// The value found.
        value: i64,
    },
}

/// A cursor over a borrowed byte slice that reads jute primitives without ever panicking.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// The unread bytes.
    pub fn rest(&self) -> &'a [u8] {
        self.buf
    }

    /// Takes every unread byte (for bodies with no length prefix of their own).
    pub fn read_rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.buf)
    }

    /// Fails with `TrailingBytes` if anything is left: a record must fill its frame exactly.
    pub fn finish(&self) -> Result<(), DecodeError> {
        match self.buf.len() {
            0 => Ok(()),
            n => Err(DecodeError::TrailingBytes(n)),
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.buf.len() {
            return Err(DecodeError::Truncated {
                needed: n,
                remaining: self.buf.len(),
            });
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// A 4-byte big-endian int.
    pub fn read_i32(&mut self) -> Result<i32, DecodeError> {
        self.array().map(i32::from_be_bytes)
    }

    /// An 8-byte big-endian long.
    pub fn read_i64(&mut self) -> Result<i64, DecodeError> {
        self.array().map(i64::from_be_bytes)
    }

    /// A one-byte boolean; like Java's `DataInput.readBoolean`, any non-zero byte is true.
    pub fn read_bool(&mut self) -> Result<bool, DecodeError> {
        self.array::<1>().map(|b| b[0] != 0)
    }

    /// A length prefix: `None` for -1 (null); an error for other negatives or for a length
    /// that exceeds `remaining / unit` (so no caller ever allocates for bytes that are not there).
    fn read_len(&mut self, unit: usize) -> Result<Option<usize>, DecodeError> {
        let len = self.read_i32()?;
        if len == -1 {
            return Ok(None);
        }
        let len = usize::try_from(len).map_err(|_| DecodeError::InvalidLength(len))?;
        let available = self.buf.len() / unit.max(1);
        if len > available {
            return Err(DecodeError::TooLong { len, available });
        }
        Ok(Some(len))
    }

    /// A length-prefixed byte buffer, borrowed; `None` for null.
    pub fn read_buffer(&mut self) -> Result<Option<&'a [u8]>, DecodeError> {
        match self.read_len(1)? {
            None => Ok(None),
            Some(n) => self.take(n).map(Some),
        }
    }

    /// A length-prefixed byte buffer where null reads as empty.
    pub fn read_bytes(&mut self) -> Result<Vec<u8>, DecodeError> {
        Ok(self.read_buffer()?.map(<[u8]>::to_vec).unwrap_or_default())
    }

    /// A length-prefixed UTF-8 string, borrowed; `None` for null.
    pub fn read_ustring(&mut self) -> Result<Option<&'a str>, DecodeError> {
        match self.read_buffer()? {
            None => Ok(None),
            Some(b) => std::str::from_utf8(b)
                .map(Some)
                .map_err(|_| DecodeError::InvalidUtf8),
        }
    }

    /// A string that must not be null (paths, schemes).
    pub fn read_string(&mut self, field: &'static str) -> Result<String, DecodeError> {
        self.read_ustring()?
            .map(str::to_owned)
            .ok_or(DecodeError::UnexpectedNull(field))
    }

    /// A vector; null reads as empty. `min_elem` is the smallest encoded size of one element,
    /// used to refuse counts the remaining bytes cannot hold before anything is allocated.
    pub fn read_vec<T>(
        &mut self,
        min_elem: usize,
        mut elem: impl FnMut(&mut Self) -> Result<T, DecodeError>,
    ) -> Result<Vec<T>, DecodeError> {
        let Some(n) = self.read_len(min_elem)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(elem(self)?);
        }
        Ok(out)
    }

    /// A vector of non-null strings.
    pub fn read_string_vec(&mut self, field: &'static str) -> Result<Vec<String>, DecodeError> {
        self.read_vec(4, |r| r.read_string(field))
    }
}

/// Writing jute primitives onto a byte vector (infallible: the vector grows).
pub trait JuteWrite {
    /// A 4-byte big-endian int.
    fn write_i32(&mut self, v: i32);
    /// An 8-byte big-endian long.
    fn write_i64(&mut self, v: i64);
    /// A one-byte boolean (0 or 1).
    fn write_bool(&mut self, v: bool);
    /// A length-prefixed buffer; `None` writes the null length -1.
    fn write_buffer(&mut self, v: Option<&[u8]>);
    /// A non-null length-prefixed buffer.
    fn write_bytes(&mut self, v: &[u8]) {
        self.write_buffer(Some(v));
    }
    /// A non-null length-prefixed UTF-8 string.
    fn write_str(&mut self, v: &str) {
        self.write_buffer(Some(v.as_bytes()));
    }
    /// A vector: its count, then each element.
    fn write_vec<T>(&mut self, items: &[T], elem: impl FnMut(&mut Self, &T))
    where
        Self: Sized;
    /// A vector of strings.
    fn write_string_vec<S: AsRef<str>>(&mut self, items: &[S])
    where
        Self: Sized,
    {
        self.write_vec(items, |w, s| w.write_str(s.as_ref()));
    }
}

impl JuteWrite for Vec<u8> {
    fn write_i32(&mut self, v: i32) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn write_i64(&mut self, v: i64) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn write_bool(&mut self, v: bool) {
        self.push(u8::from(v));
    }
    fn write_buffer(&mut self, v: Option<&[u8]>) {
        match v {
            None => self.write_i32(-1),
            Some(b) => {
                // Frames are bounded far below 2 GiB; a longer buffer is a caller bug.
                let len = i32::try_from(b.len()).expect("jute buffer longer than i32::MAX");
                self.write_i32(len);
                self.extend_from_slice(b);
            }
        }
    }
    fn write_vec<T>(&mut self, items: &[T], mut elem: impl FnMut(&mut Self, &T)) {
        let len = i32::try_from(items.len()).expect("jute vector longer than i32::MAX");
        self.write_i32(len);
        for item in items {
            elem(self, item);
        }
    }
}

/// A jute record: a fixed sequence of primitives and nested records.
pub trait Record: Sized {
    /// Appends the record's encoding to `out`.
    fn encode(&self, out: &mut Vec<u8>);
    /// Reads one record from `r`, leaving any following bytes unread.
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError>;

    /// The record's encoding as a new vector.
    fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }

    /// Decodes a record that must fill `buf` exactly.
    fn from_bytes(buf: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(buf);
        let v = Self::decode(&mut r)?;
        r.finish()?;
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_buffer_is_minus_one() {
        let mut out = Vec::new();
        out.write_buffer(None);
        assert_eq!(out, [0xff, 0xff, 0xff, 0xff]);
        assert_eq!(Reader::new(&out).read_buffer(), Ok(None));
    }

    #[test]
    fn hostile_lengths_are_errors_not_allocations() {
        // "HTTP" read as a length: far more than the 4 bytes that follow.
        let mut r = Reader::new(b"HTTP/1.1");
        assert!(matches!(r.read_buffer(), Err(DecodeError::TooLong { .. })));
        // A vector count of 2^31 - 1 with nothing behind it.
        let mut r = Reader::new(&[0x7f, 0xff, 0xff, 0xff]);
        assert!(matches!(
            r.read_vec(4, |r| r.read_i32()),
            Err(DecodeError::TooLong { .. })
        ));
        // i32::MIN is negative: not a length.
        let mut r = Reader::new(&[0x80, 0, 0, 0]);
        assert_eq!(r.read_buffer(), Err(DecodeError::InvalidLength(i32::MIN)));
    }

    #[test]
    fn truncated_ints_are_errors() {
        assert!(matches!(
            Reader::new(&[0, 0, 1]).read_i32(),
            Err(DecodeError::Truncated {
                needed: 4,
                remaining: 3
            })
        ));
        assert!(Reader::new(&[]).read_bool().is_err());
    }

    #[test]
    fn invalid_utf8_is_an_error() {
        let mut out = Vec::new();
        out.write_bytes(&[0xc3, 0x28]);
        assert_eq!(
            Reader::new(&out).read_ustring(),
            Err(DecodeError::InvalidUtf8)
        );
    }
}
