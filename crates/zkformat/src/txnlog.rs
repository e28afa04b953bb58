//! ZooKeeper's transaction log file (`FileTxnLog`):
//!
//! ```text
//! FileHeader "ZKLG" 2 dbid
//! record*: long Adler32(bytes), int len, bytes (TxnHeader, txn, [TxnDigest]), byte 'B'
//! zeros (preallocated): a record of length 0 is the end
//! ```
//!
//! A record the file cannot complete (it ends inside it, or its end-of-record byte is not
//! `'B'`) is how a crash in the middle of a write looks. ZooKeeper takes it for the end of
//! the log; here it is the end only where the caller allows a torn tail (the newest log) and
//! no intact record follows it. Anything else, and every checksum mismatch, is an error.

use crate::error::{At, ErrorKind, FormatError};
use crate::jute::{adler32, Reader, Writer};
use crate::records::FileHeader;
use crate::txn::{decode_entry, encode_entry, Txn, TxnDigest, TxnHeader};

/// The end-of-record byte (`Util.writeTxnBytes`).
const EOR: u8 = b'B';
/// crc, length, and the end-of-record byte around each record's bytes.
const FRAMING: usize = 8 + 4 + 1;

/// One transaction read from a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnEntry {
    /// Where its record starts in the file.
    pub offset: u64,
    /// Its header.
    pub header: TxnHeader,
    /// Its record.
    pub txn: Txn,
    /// Its digest, if logged with one.
    pub digest: Option<TxnDigest>,
}

/// How the log ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogEnd {
    /// At the end of the file, after a whole record.
    Eof {
        /// The file's length.
        offset: u64,
    },
    /// At the preallocated zeros.
    Preallocated {
        /// Where they start.
        offset: u64,
    },
    /// At a torn last record (allowed only for the newest log).
    Torn {
        /// Where the torn record starts.
        offset: u64,
        /// What was incomplete.
        reason: String,
    },
}

impl LogEnd {
    /// Where the readable log ends.
    pub fn offset(&self) -> u64 {
        match self {
            LogEnd::Eof { offset }
            | LogEnd::Preallocated { offset }
            | LogEnd::Torn { offset, .. } => *offset,
        }
    }
}

/// A whole transaction log file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnLog {
    /// Its header.
    pub header: FileHeader,
    /// Its transactions, in file order.
    pub entries: Vec<TxnEntry>,
    /// How it ended.
    pub end: LogEnd,
    /// The file's length.
    pub len: u64,
}

/// A record that could not be completed, and why.
enum Frame<'a> {
    Whole(&'a [u8], i64),
    End(LogEnd),
    Incomplete(String),
}

/// Reads the record at `at`: its bytes and stored crc, the end, or why it is incomplete.
fn frame(bytes: &[u8], at: usize) -> Result<Frame<'_>, At> {
    let rest = &bytes[at..];
    if rest.is_empty() {
        return Ok(Frame::End(LogEnd::Eof { offset: at as u64 }));
    }
    if rest.len() < 12 {
        return Ok(Frame::Incomplete(format!(
            "{} bytes where a record's crc and length take 12",
            rest.len()
        )));
    }
    let crc = i64::from_be_bytes(rest[..8].try_into().unwrap_or_default());
    let len = i32::from_be_bytes(rest[8..12].try_into().unwrap_or_default());
    if len == 0 {
        return Ok(Frame::End(LogEnd::Preallocated { offset: at as u64 }));
    }
    if len < 0 {
        return Err(ErrorKind::Invalid(format!("negative record length {len}")).at(at + 8));
    }
    let len = len as usize;
    if rest.len() < 12 + len + 1 {
        return Ok(Frame::Incomplete(format!(
            "a {len}-byte record, but the file ends {} bytes after its start",
            rest.len()
        )));
    }
    if rest[12 + len] != EOR {
        return Ok(Frame::Incomplete(format!(
            "the record's end byte is {:#04x}, not 'B'",
            rest[12 + len]
        )));
    }
    Ok(Frame::Whole(&rest[12..12 + len], crc))
}

/// True if an intact record (length > 0, checksum and end byte right) starts after `at`.
fn intact_record_after(bytes: &[u8], at: usize) -> Option<usize> {
    (at + 1..bytes.len().saturating_sub(FRAMING))
        .find(|&o| matches!(frame(bytes, o), Ok(Frame::Whole(b, crc)) if adler32(b) == crc))
}

impl TxnLog {
    /// Parses a log file's bytes; `torn_tail_ok` for the newest log, whose last record may
    /// have been cut by a crash. `file` names it in errors.
    pub fn parse(file: &str, bytes: &[u8], torn_tail_ok: bool) -> Result<TxnLog, FormatError> {
        parse(bytes, torn_tail_ok).map_err(|e| e.in_file(file))
    }

    /// A log file's bytes as ZooKeeper writes them, with `preallocate` zero bytes after the
    /// last record.
    pub fn encode(
        header: &FileHeader,
        entries: &[(TxnHeader, Txn, Option<TxnDigest>)],
        preallocate: usize,
    ) -> Vec<u8> {
        let mut w = Writer::default();
        header.write(&mut w);
        for (h, txn, digest) in entries {
            let bytes = encode_entry(h, txn, digest.as_ref());
            w.long(adler32(&bytes));
            w.buffer(Some(&bytes));
            w.byte(EOR);
        }
        w.buf.resize(w.buf.len() + preallocate, 0);
        w.buf
    }
}

fn parse(bytes: &[u8], torn_tail_ok: bool) -> Result<TxnLog, At> {
    // ZooKeeper killed between creating its next log and writing the header leaves an empty
    // file, which holds no transaction (ZOOKEEPER-2332; 3.9.3 deletes it at start).
    if torn_tail_ok && bytes.is_empty() {
        return Ok(TxnLog {
            header: FileHeader {
                magic: crate::TXNLOG_MAGIC,
                version: crate::VERSION,
                dbid: 0,
            },
            entries: Vec::new(),
            end: LogEnd::Torn {
                offset: 0,
                reason: "an empty file (created, never written)".into(),
            },
            len: 0,
        });
    }
    let mut r = Reader::new(bytes);
    let header = FileHeader::read(&mut r, crate::TXNLOG_MAGIC, "transaction log")?;
    let mut at = r.pos();
    let mut entries = Vec::new();
    let end = loop {
        match frame(bytes, at)? {
            Frame::End(end) => {
                // Zeros follow the last record; an intact record after a zero length means
                // the length was damaged, not preallocated.
                if let Some(next) = intact_record_after(bytes, at) {
                    return Err(ErrorKind::Invalid(format!(
                        "a zero record length with an intact record after it at byte {next}"
                    ))
                    .at(at));
                }
                break end;
            }
            Frame::Incomplete(reason) => {
                if let Some(next) = intact_record_after(bytes, at) {
                    return Err(ErrorKind::Invalid(format!(
                        "damaged record ({reason}) with an intact record after it at byte {next}"
                    ))
                    .at(at));
                }
                if !torn_tail_ok {
                    return Err(ErrorKind::Invalid(format!(
                        "truncated record ({reason}) in a log that is not the newest"
                    ))
                    .at(at));
                }
                break LogEnd::Torn {
                    offset: at as u64,
                    reason,
                };
            }
            Frame::Whole(record, stored) => {
                let computed = adler32(record);
                if computed != stored {
                    return Err(ErrorKind::Checksum { stored, computed }.at(at));
                }
                let (header, txn, digest) = decode_entry(record).map_err(|e| e.shifted(at + 12))?;
                if let Some(prev) = entries.last().map(|e: &TxnEntry| e.header.zxid) {
                    if header.zxid <= prev {
                        return Err(ErrorKind::Invalid(format!(
                            "zxid {:#x} after {prev:#x}: not increasing",
                            header.zxid
                        ))
                        .at(at));
                    }
                }
                entries.push(TxnEntry {
                    offset: at as u64,
                    header,
                    txn,
                    digest,
                });
                at += FRAMING + record.len();
            }
        }
    };
    Ok(TxnLog {
        header,
        entries,
        end,
        len: bytes.len() as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::Acl;
    use crate::txn::OpCode;

    fn h(zxid: i64, op: i32) -> TxnHeader {
        TxnHeader {
            client_id: 0x100,
            cxid: zxid as i32,
            zxid,
            time: 1000 + zxid,
            op,
        }
    }

    pub(crate) fn sample_entries() -> Vec<(TxnHeader, Txn, Option<TxnDigest>)> {
        let d = Some(TxnDigest {
            version: 2,
            tree_digest: 77,
        });
        vec![
            (
                h(1, OpCode::CREATE_SESSION),
                Txn::CreateSession { timeout: 30000 },
                d,
            ),
            (
                h(2, OpCode::CREATE2),
                Txn::Create {
                    path: "/a".into(),
                    data: Some(b"x".to_vec()),
                    acl: Acl::open_unsafe(),
                    ephemeral: false,
                    parent_cversion: 1,
                },
                d,
            ),
            (
                h(3, OpCode::MULTI),
                Txn::Multi(vec![
                    (
                        OpCode::CHECK,
                        Txn::Check {
                            path: "/a".into(),
                            version: 0,
                        },
                    ),
                    (
                        OpCode::SET_DATA,
                        Txn::SetData {
                            path: "/a".into(),
                            data: None,
                            version: 1,
                        },
                    ),
                ]),
                d,
            ),
            (
                h(4, OpCode::CLOSE_SESSION),
                Txn::CloseSession {
                    paths: Some(vec![]),
                },
                None,
            ),
        ]
    }

    fn sample(prealloc: usize) -> Vec<u8> {
        let header = FileHeader {
            magic: crate::TXNLOG_MAGIC,
            version: 2,
            dbid: 0,
        };
        TxnLog::encode(&header, &sample_entries(), prealloc)
    }

    #[test]
    fn round_trip() {
        let bytes = sample(64);
        let log = TxnLog::parse("log.1", &bytes, false).unwrap();
        let got: Vec<_> = log
            .entries
            .iter()
            .map(|e| (e.header, e.txn.clone(), e.digest))
            .collect();
        assert_eq!(got, sample_entries());
        assert!(matches!(log.end, LogEnd::Preallocated { .. }));
    }

    fn record_ends(bytes: &[u8]) -> Vec<usize> {
        let log = TxnLog::parse("log.1", bytes, false).unwrap();
        let mut ends: Vec<usize> = log
            .entries
            .iter()
            .skip(1)
            .map(|e| e.offset as usize)
            .collect();
        ends.insert(0, 16);
        ends.push(log.end.offset() as usize);
        ends
    }

    #[test]
    fn every_truncation_is_an_error_or_a_reported_torn_tail() {
        let bytes = sample(0);
        let ends = record_ends(&bytes);
        for cut in 0..bytes.len() {
            let part = &bytes[..cut];
            let whole = ends.iter().filter(|&&e| e <= cut).count().saturating_sub(1);
            if ends.contains(&cut) {
                let log = TxnLog::parse("log.1", part, false).unwrap();
                assert_eq!(log.entries.len(), whole);
                continue;
            }
            let strict = TxnLog::parse("log.1", part, false).unwrap_err();
            assert_eq!(strict.file, "log.1");
            if cut == 0 {
                let log = TxnLog::parse("log.1", part, true).unwrap();
                assert!(log.entries.is_empty() && matches!(log.end, LogEnd::Torn { .. }));
                continue;
            }
            if cut < 16 {
                assert!(TxnLog::parse("log.1", part, true).is_err());
                continue;
            }
            let log = TxnLog::parse("log.1", part, true).unwrap();
            assert_eq!(log.entries.len(), whole, "cut {cut}");
            assert!(matches!(log.end, LogEnd::Torn { .. }), "cut {cut}");
        }
    }

    #[test]
    fn every_flipped_byte_before_the_last_record_is_an_error() {
        let bytes = sample(32);
        let ends = record_ends(&bytes);
        let last_start = ends[ends.len() - 2];
        // Bytes 8..16 are the dbid, which no checksum covers and nothing reads.
        for i in (0..8).chain(16..last_start) {
            let mut b = bytes.clone();
            b[i] ^= 0x41;
            assert!(TxnLog::parse("log.1", &b, true).is_err(), "flip at {i}");
        }
    }

    #[test]
    fn unknown_type_names_file_and_offset() {
        let header = FileHeader {
            magic: crate::TXNLOG_MAGIC,
            version: 2,
            dbid: 0,
        };
        let bytes = TxnLog::encode(
            &header,
            &[(h(1, 9), Txn::Delete { path: "/a".into() }, None)],
            0,
        );
        let e = TxnLog::parse("log.1", &bytes, true).unwrap_err();
        assert!(matches!(e.kind, ErrorKind::UnknownTxnType(9)), "{e}");
        assert_eq!(e.offset, 16 + 12 + 32);
    }

    #[test]
    fn wrong_magic() {
        let mut bytes = sample(0);
        bytes[..4].copy_from_slice(b"ZKSN");
        let e = TxnLog::parse("log.1", &bytes, true).unwrap_err();
        assert!(matches!(e.kind, ErrorKind::BadMagic { .. }));
    }
}
