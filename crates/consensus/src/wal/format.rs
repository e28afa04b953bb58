//! The bytes of the log's segment files: frames of records, each with its crc32.
//!
//! A segment is a sequence of frames, then zeros (it is preallocated). A frame is what one
//! group commit writes with one `write` and makes durable with one `fdatasync`:
//!
//! ```text
//! frame:  len u32 | seq u64 | crc u32 (of the records) | hcrc u32 (of the 16 bytes before) | records
//! record: kind u8 | len u32 | crc u32 (of the body) | body
//! ```
//!
//! (little-endian). Frames are numbered one after another across segments, so at open a
//! damaged frame can be told from a torn last write: if any intact frame with a later number
//! follows it, the damaged one was synced before that one was written (one writer thread,
//! write then sync then the next frame) and its damage is corruption, never a torn tail. The
//! header's own crc means a length is never trusted before it is checked, so a flipped length
//! can neither hide the records after it nor make open allocate what the file does not hold.

use crate::error::Corruption;

/// Bytes of a frame header.
pub(crate) const FRAME_HEADER: usize = 20;
/// Bytes of a record header.
pub(crate) const RECORD_HEADER: usize = 9;

/// What a record says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Kind {
    /// An entry: postcard log id, then the postcard entry.
    Entry = 1,
    /// The vote: postcard `Vote`.
    Vote = 2,
    /// The committed log id: postcard `LogId`.
    Commit = 3,
    /// Entries from an index on are gone: postcard `(index, new last log id)`.
    Truncate = 4,
    /// Entries up to a log id are gone: postcard `LogId`.
    Purge = 5,
    /// The whole state (vote, committed, purged, last), first in every segment, so that the
    /// segments before it can be deleted.
    Checkpoint = 6,
}

impl Kind {
    fn from_u8(b: u8) -> Option<Self> {
        Some(match b {
            1 => Kind::Entry,
            2 => Kind::Vote,
            3 => Kind::Commit,
            4 => Kind::Truncate,
            5 => Kind::Purge,
            6 => Kind::Checkpoint,
            _ => return None,
        })
    }
}

/// Appends one record to `buf`; returns its offset in `buf` and its total length.
pub(crate) fn put_record(buf: &mut Vec<u8>, kind: Kind, body: &[u8]) -> (usize, usize) {
    let at = buf.len();
    buf.push(kind as u8);
    buf.extend_from_slice(&(body.len() as u32).to_le_bytes());
    buf.extend_from_slice(&crc32fast::hash(body).to_le_bytes());
    buf.extend_from_slice(body);
    (at, RECORD_HEADER + body.len())
}

/// Fills in the frame header in the first [`FRAME_HEADER`] bytes of `frame` (the records
/// follow it).
pub(crate) fn seal_frame(frame: &mut [u8], seq: u64) {
    let len = (frame.len() - FRAME_HEADER) as u32;
    let crc = crc32fast::hash(&frame[FRAME_HEADER..]);
    frame[0..4].copy_from_slice(&len.to_le_bytes());
    frame[4..12].copy_from_slice(&seq.to_le_bytes());
    frame[12..16].copy_from_slice(&crc.to_le_bytes());
    let hcrc = crc32fast::hash(&frame[0..16]);
    frame[16..20].copy_from_slice(&hcrc.to_le_bytes());
}

/// A frame header that passed its own crc.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FrameHeader {
    pub(crate) len: usize,
    pub(crate) seq: u64,
    pub(crate) crc: u32,
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut x = [0u8; 4];
    x.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(x)
}

/// Parses a frame header; `None` when its crc does not match (or it is all zeros: the
/// preallocated space after the last frame).
pub(crate) fn frame_header(b: &[u8; FRAME_HEADER]) -> Option<FrameHeader> {
    if b.iter().all(|&x| x == 0) || crc32fast::hash(&b[0..16]) != u32_at(b, 16) {
        return None;
    }
    let mut seq = [0u8; 8];
    seq.copy_from_slice(&b[4..12]);
    Some(FrameHeader {
        len: u32_at(b, 0) as usize,
        seq: u64::from_le_bytes(seq),
        crc: u32_at(b, 12),
    })
}

/// One record of a frame: its kind, its body, and its offset in the frame's records.
pub(crate) struct Record<'a> {
    pub(crate) kind: Kind,
    pub(crate) body: &'a [u8],
    pub(crate) at: usize,
}

/// The records of a frame whose crc matched. A record that does not parse is corruption (the
/// frame's crc matched, so the writer wrote it so: a bug, or a collision).
pub(crate) fn records(mut b: &[u8]) -> Result<Vec<Record<'_>>, Corruption> {
    let mut out = Vec::new();
    let mut at = 0;
    while !b.is_empty() {
        let (kind, body) = record(b)?;
        out.push(Record { kind, body, at });
        let n = RECORD_HEADER + body.len();
        at += n;
        b = &b[n..];
    }
    Ok(out)
}

/// Parses the record at the start of `b` (which may hold more after it), checking its crc.
pub(crate) fn record(b: &[u8]) -> Result<(Kind, &[u8]), Corruption> {
    let bad = |reason: String| Corruption::Record { reason };
    if b.len() < RECORD_HEADER {
        return Err(bad(format!(
            "{} bytes, shorter than a record header",
            b.len()
        )));
    }
    let kind = Kind::from_u8(b[0]).ok_or_else(|| bad(format!("unknown record kind {}", b[0])))?;
    let len = u32_at(b, 1) as usize;
    let body = b
        .get(RECORD_HEADER..RECORD_HEADER + len)
        .ok_or_else(|| bad(format!("record of {len} bytes past its end")))?;
    let crc = crc32fast::hash(body);
    if crc != u32_at(b, 5) {
        return Err(bad(format!(
            "{kind:?} record crc32 {crc:#010x}, its header says {:#010x}",
            u32_at(b, 5)
        )));
    }
    Ok((kind, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_round_trips_and_any_flipped_byte_is_caught() {
        let mut frame = vec![0u8; FRAME_HEADER];
        put_record(&mut frame, Kind::Vote, b"vote");
        put_record(&mut frame, Kind::Entry, &[7u8; 40]);
        seal_frame(&mut frame, 42);
        let header: [u8; FRAME_HEADER] = frame[..FRAME_HEADER].try_into().unwrap();
        let h = frame_header(&header).unwrap();
        assert_eq!((h.len, h.seq), (frame.len() - FRAME_HEADER, 42));
        assert_eq!(crc32fast::hash(&frame[FRAME_HEADER..]), h.crc);
        let recs = records(&frame[FRAME_HEADER..]).unwrap();
        assert_eq!(recs.len(), 2);
        assert_eq!((recs[0].kind, recs[0].body), (Kind::Vote, &b"vote"[..]));
        assert_eq!((recs[1].kind, recs[1].at), (Kind::Entry, RECORD_HEADER + 4));
        for i in 0..frame.len() {
            let mut bad = frame.clone();
            bad[i] ^= 0x01;
            let header: [u8; FRAME_HEADER] = bad[..FRAME_HEADER].try_into().unwrap();
            let caught = match frame_header(&header) {
                None => true,
                Some(h) => h.crc != crc32fast::hash(&bad[FRAME_HEADER..]),
            };
            assert!(caught, "flip at {i} not caught");
        }
    }

    #[test]
    fn zeros_are_no_frame() {
        assert!(frame_header(&[0u8; FRAME_HEADER]).is_none());
    }
}
