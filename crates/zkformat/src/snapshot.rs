//! ZooKeeper's snapshot file (`FileSnap.serialize`):
//!
//! ```text
//! FileHeader "ZKSN" 2 dbid
//! int count, then count x (long sessionId, int timeout)         SerializeUtils.serializeSnapshot
//! int count, then count x (long ref, vector<ACL>)               ReferenceCountedACLCache
//! (ustring path, buffer data, long aclRef, StatPersisted)*      DataTree.serializeNode, parents first
//! ustring "/"                                                   end of the tree
//! long Adler32 of everything before, ustring "/"                SnapStream.sealStream
//! [long zxid, int digestVersion, long digest, long Adler32, ustring "/"]   3.6+ digest
//! ```
//!
//! The root is written with the path `""`. ACL reference -1 is `OPEN_ACL_UNSAFE`.

use std::collections::BTreeMap;

use crate::error::{At, ErrorKind, FormatError};
use crate::jute::{adler32, Reader, Writer};
use crate::records::{read_acl, write_acl_list, Acl, FileHeader, StatPersisted, MIN_ACL, STAT_LEN};

/// One node as the snapshot holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotNode {
    /// Its path (`""` for the root, as ZooKeeper writes it).
    pub path: String,
    /// Its data (`None`: null).
    pub data: Option<Vec<u8>>,
    /// Its ACL reference into [`Snapshot::acls`] (-1: open).
    pub acl: i64,
    /// Its stat.
    pub stat: StatPersisted,
}

/// `ZxidDigest`: the tree's digest at a zxid, written after the first checksum since 3.6.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZxidDigest {
    /// The zxid the digest was taken at.
    pub zxid: i64,
    /// The digest's version (2 in 3.8).
    pub version: i32,
    /// The digest.
    pub digest: i64,
}

/// A whole snapshot file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// Its header.
    pub header: FileHeader,
    /// Sessions: id and timeout (ms), as written.
    pub sessions: Vec<(i64, i32)>,
    /// The ACL lists by reference.
    pub acls: BTreeMap<i64, Vec<Acl>>,
    /// Every node, parents before their children.
    pub nodes: Vec<SnapshotNode>,
    /// The digest, if the file has one.
    pub digest: Option<ZxidDigest>,
    /// The file's length in bytes (when read).
    pub len: u64,
}

impl Snapshot {
    /// Parses a snapshot file's bytes, verifying its checksums; `file` names it in errors.
    pub fn parse(file: &str, bytes: &[u8]) -> Result<Snapshot, FormatError> {
        parse(bytes).map_err(|e| e.in_file(file))
    }

    /// The ACL list a node's reference stands for.
    pub fn acl_of(&self, reference: i64) -> Option<Vec<Acl>> {
        if reference == -1 {
            return Some(Acl::open_unsafe());
        }
        self.acls.get(&reference).cloned()
    }

    /// The snapshot's bytes as ZooKeeper writes them (with a digest if `self.digest` is set).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        self.header.write(&mut w);
        w.int(self.sessions.len() as i32);
        for (id, timeout) in &self.sessions {
            w.long(*id);
            w.int(*timeout);
        }
        w.int(self.acls.len() as i32);
        for (reference, list) in &self.acls {
            w.long(*reference);
            write_acl_list(list, &mut w);
        }
        for n in &self.nodes {
            w.string(&n.path);
            w.buffer(n.data.as_deref());
            w.long(n.acl);
            n.stat.write(&mut w);
        }
        w.string("/");
        seal(&mut w);
        if let Some(d) = &self.digest {
            w.long(d.zxid);
            w.int(d.version);
            w.long(d.digest);
            seal(&mut w);
        }
        w.buf
    }
}

/// `SnapStream.sealStream`: the Adler32 of every byte so far, then `"/"`.
fn seal(w: &mut Writer) {
    let sum = adler32(&w.buf);
    w.long(sum);
    w.string("/");
}

/// `SnapStream.checkSealIntegrity`.
fn check_seal(r: &mut Reader<'_>, bytes: &[u8]) -> Result<(), At> {
    let at = r.pos();
    let computed = adler32(&bytes[..at]);
    let stored = r.long()?;
    let slash = r.string()?;
    if stored != computed {
        return Err(ErrorKind::Checksum { stored, computed }.at(at));
    }
    if slash != "/" {
        return Err(ErrorKind::Invalid(format!("seal ends with {slash:?}, not \"/\"")).at(at + 8));
    }
    Ok(())
}

fn parse(bytes: &[u8]) -> Result<Snapshot, At> {
    let mut r = Reader::new(bytes);
    let header = FileHeader::read(&mut r, crate::SNAP_MAGIC, "snapshot")?;
    let n = r.vector_len(12)?.unwrap_or(0);
    let mut sessions = Vec::with_capacity(n);
    for _ in 0..n {
        sessions.push((r.long()?, r.int()?));
    }
    let n = r.vector_len(8 + 4)?.unwrap_or(0);
    let mut acls = BTreeMap::new();
    for _ in 0..n {
        let at = r.pos();
        let reference = r.long()?;
        let len = r
            .vector_len(MIN_ACL)?
            .ok_or_else(|| r.invalid("null ACL list in the ACL cache"))?;
        let list = (0..len)
            .map(|_| read_acl(&mut r))
            .collect::<Result<_, _>>()?;
        if acls.insert(reference, list).is_some() {
            return Err(ErrorKind::Invalid(format!("ACL reference {reference} twice")).at(at));
        }
    }
    let mut nodes = Vec::new();
    let mut known = std::collections::HashSet::new();
    loop {
        let at = r.pos();
        let path = r.string()?;
        if path == "/" {
            break;
        }
        if path.is_empty() {
            if !nodes.is_empty() {
                return Err(ErrorKind::Invalid("the root appears twice".into()).at(at));
            }
        } else {
            let parent = match path.rfind('/') {
                Some(i) => &path[..i],
                None => return Err(ErrorKind::Invalid(format!("bad node path {path:?}")).at(at)),
            };
            if !known.contains(parent) {
                return Err(ErrorKind::Invalid(format!(
                    "node {path} comes before its parent {parent:?}"
                ))
                .at(at));
            }
            if known.contains(path.as_str()) {
                return Err(ErrorKind::Invalid(format!("node {path} appears twice")).at(at));
            }
        }
        let data = r.buffer()?.map(<[u8]>::to_vec);
        let acl = r.long()?;
        if acl != -1 && !acls.contains_key(&acl) {
            return Err(ErrorKind::Invalid(format!(
                "node {path:?} refers to ACL {acl}, which the snapshot does not hold"
            ))
            .at(at));
        }
        if r.remaining() < STAT_LEN {
            let _ = r.take(STAT_LEN)?;
        }
        let stat = StatPersisted::read(&mut r)?;
        known.insert(path.clone());
        nodes.push(SnapshotNode {
            path,
            data,
            acl,
            stat,
        });
    }
    if nodes.first().is_none_or(|n| !n.path.is_empty()) {
        return Err(r.invalid("the snapshot has no root node"));
    }
    check_seal(&mut r, bytes)?;
    // The digest is optional (3.6+); a file ending at the seal has none.
    let digest = if r.at_end() {
        None
    } else {
        let d = ZxidDigest {
            zxid: r.long()?,
            version: r.int()?,
            digest: r.long()?,
        };
        check_seal(&mut r, bytes)?;
        Some(d)
    };
    if !r.at_end() {
        return Err(r.invalid(format!("{} bytes after the end", r.remaining())));
    }
    Ok(Snapshot {
        header,
        sessions,
        acls,
        nodes,
        digest,
        len: bytes.len() as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::Id;

    pub(crate) fn sample() -> Snapshot {
        let digest_acl = vec![Acl {
            perms: 31,
            id: Id {
                scheme: "digest".into(),
                id: "u:hash".into(),
            },
        }];
        let node = |path: &str, acl, owner| SnapshotNode {
            path: path.into(),
            data: Some(path.as_bytes().to_vec()),
            acl,
            stat: StatPersisted::created(5, 1000, owner),
        };
        Snapshot {
            header: FileHeader {
                magic: crate::SNAP_MAGIC,
                version: 2,
                dbid: -1,
            },
            sessions: vec![(0x100, 30000)],
            acls: [(1, digest_acl)].into_iter().collect(),
            nodes: vec![
                node("", -1, 0),
                node("/a", 1, 0),
                node("/a/e", -1, 0x100),
                node("/zookeeper", -1, 0),
            ],
            digest: Some(ZxidDigest {
                zxid: 5,
                version: 2,
                digest: 1234,
            }),
            len: 0,
        }
    }

    #[test]
    fn round_trip_with_and_without_digest() {
        let mut s = sample();
        let bytes = s.encode();
        s.len = bytes.len() as u64;
        assert_eq!(Snapshot::parse("snapshot.5", &bytes).unwrap(), s);
        s.digest = None;
        let bytes = s.encode();
        s.len = bytes.len() as u64;
        assert_eq!(Snapshot::parse("snapshot.5", &bytes).unwrap(), s);
    }

    #[test]
    fn every_truncation_is_an_error() {
        let bytes = sample().encode();
        // Cutting at the seal's end drops only the digest, which ZooKeeper reads as absent.
        let without_digest = {
            let mut s = sample();
            s.digest = None;
            s.encode().len()
        };
        for cut in 0..bytes.len() {
            let r = Snapshot::parse("snapshot.5", &bytes[..cut]);
            if cut == without_digest {
                assert!(r.unwrap().digest.is_none());
            } else {
                let e = r.unwrap_err();
                assert_eq!(e.file, "snapshot.5");
                assert!(e.offset <= cut as u64, "{e} at cut {cut}");
            }
        }
    }

    #[test]
    fn every_flipped_byte_is_an_error() {
        let bytes = sample().encode();
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x41;
            assert!(Snapshot::parse("s", &b).is_err(), "flip at {i} not caught");
        }
    }

    #[test]
    fn wrong_magic_is_named() {
        let mut bytes = sample().encode();
        bytes[..4].copy_from_slice(b"ZKLG");
        let e = Snapshot::parse("snapshot.5", &bytes).unwrap_err();
        assert!(matches!(e.kind, ErrorKind::BadMagic { .. }));
        assert_eq!(e.offset, 0);
        assert!(e.to_string().contains("snapshot.5"));
    }
}
