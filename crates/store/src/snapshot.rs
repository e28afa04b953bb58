//! Snapshot encoding: header (magic, format version, body length, crc32 of the body) and a body
//! with the last zxid, the ACL lists, then every node parents-first in path order. The bytes
//! depend only on the tree's logical content, so equal trees give equal snapshots.
//! Decoding checks everything and never panics or over-allocates on hostile input.

use std::collections::BTreeSet;
use std::sync::Arc;

use zk_wire::{Acl, Id};

use crate::acl::AclCache;
use crate::error::SnapshotError;
use crate::node::{Node, NodeKind, StoredStat};
use crate::node_map::NodeMap;
use crate::path;
use crate::tree::{DataTree, TreeConfig};

/// First bytes of every snapshot.
pub const MAGIC: [u8; 4] = *b"ZKSN";
/// Format written by this build.
pub const FORMAT_VERSION: u32 = 1;
const HEADER_LEN: usize = 4 + 4 + 8 + 4;
/// Smallest encoded node: path length, data length, stat, acl index, kind.
const MIN_NODE: usize = 4 + 4 + (5 * 8 + 3 * 4) + 4 + 1;
const MIN_ACL_LIST: usize = 4;
const MIN_ACL: usize = 4 + 4 + 4;

struct W(Vec<u8>);

impl W {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn i32(&mut self, v: i32) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn bytes(&mut self, b: &[u8]) {
        self.u32(b.len() as u32);
        self.0.extend_from_slice(b);
    }
}

struct R<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> R<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], SnapshotError> {
        let rest = self.buf.len() - self.pos;
        if n > rest {
            return Err(SnapshotError::Truncated {
                offset: self.pos,
                needed: n - rest,
            });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn arr<const N: usize>(&mut self) -> Result<[u8; N], SnapshotError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, SnapshotError> {
        Ok(self.arr::<1>()?[0])
    }
    fn u32(&mut self) -> Result<u32, SnapshotError> {
        Ok(u32::from_be_bytes(self.arr()?))
    }
    fn i32(&mut self) -> Result<i32, SnapshotError> {
        Ok(i32::from_be_bytes(self.arr()?))
    }
    fn i64(&mut self) -> Result<i64, SnapshotError> {
        Ok(i64::from_be_bytes(self.arr()?))
    }
    fn u64(&mut self) -> Result<u64, SnapshotError> {
        Ok(u64::from_be_bytes(self.arr()?))
    }
    fn bytes(&mut self) -> Result<&'a [u8], SnapshotError> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    fn str(&mut self) -> Result<&'a str, SnapshotError> {
        std::str::from_utf8(self.bytes()?)
            .map_err(|_| SnapshotError::Invalid("string is not UTF-8".into()))
    }
    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }
    /// A count whose items take at least `min` bytes each: bounded by the bytes left, so a
    /// hostile count cannot make us allocate.
    fn count(&mut self, min: usize, what: &str) -> Result<usize, SnapshotError> {
        let n = self.u64()?;
        let max = (self.remaining() / min) as u64;
        if n > max {
            return Err(SnapshotError::Invalid(format!(
                "{what} count {n} exceeds what {} bytes can hold",
                self.remaining()
            )));
        }
        Ok(n as usize)
    }
}

impl DataTree {
    /// Encodes the whole tree.
    pub fn encode_snapshot(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_snapshot_into(&mut out);
        out
    }

    /// Appends the whole tree's snapshot to `out` (what [`DataTree::encode_snapshot`] returns).
    pub fn encode_snapshot_into(&self, out: &mut Vec<u8>) {
        encode_into(&self.nodes, &self.acls, self.last_zxid, out);
    }

    /// The tree as it is now, to encode later without holding up changes to this one: the
    /// node map's shard handles are copied (no shard and no node: a change while a snapshot
    /// holds them copies the one shard, and [`DataTree::cow_mut`] the one node) and so are the
    /// interned ACLs. Its time does not grow with the tree; only the freeze needs the state's
    /// lock, the encoding (about a second at 500k nodes) runs after it.
    pub fn freeze(&self) -> FrozenTree {
        FrozenTree {
            nodes: self.nodes.clone(),
            acls: self.acls.clone(),
            last_zxid: self.last_zxid,
        }
    }
}

/// A tree as it was at [`DataTree::freeze`]: encodes to the same bytes the tree then would.
#[derive(Debug, Clone)]
pub struct FrozenTree {
    nodes: NodeMap,
    acls: AclCache,
    last_zxid: i64,
}

impl FrozenTree {
    /// Appends the snapshot to `out` (what [`DataTree::encode_snapshot_into`] would have
    /// appended at the freeze).
    pub fn encode_snapshot_into(&self, out: &mut Vec<u8>) {
        encode_into(&self.nodes, &self.acls, self.last_zxid, out);
    }
}

/// One pass over the tree writing straight into `out`: no path strings built per node, the
/// header filled in place at the end, no copy of the body.
fn encode_into(nodes: &NodeMap, acls: &AclCache, last_zxid: i64, out: &mut Vec<u8>) {
    {
        // ACL lists numbered by content, so the bytes do not depend on the cache's history.
        // One pass over the nodes also sizes the output. Ids index a table (no hashing per
        // node: a `HashSet` and a `HashMap` of ids cost a SipHash each per node).
        let mut used = vec![false; acls.id_bound()];
        let mut size = 8 + 8;
        for (p, n) in nodes.iter() {
            if let Some(u) = used.get_mut(n.acl as usize) {
                *u = true;
            }
            size += p.len() + n.data.as_ref().map_or(0, |d| d.len()) + MIN_NODE + 8;
        }
        let mut lists: Vec<(&[Acl], u32)> = (0..used.len() as u32)
            .filter(|&id| used[id as usize])
            .map(|id| (&**acls.get(id), id))
            .collect();
        lists.sort_unstable();
        let mut acl_index = vec![0u32; used.len()];
        for (i, (_, id)) in lists.iter().enumerate() {
            acl_index[*id as usize] = i as u32;
        }

        let start = out.len();
        out.reserve(HEADER_LEN + size);
        out.resize(start + HEADER_LEN, 0);
        let mut b = W(std::mem::take(out));
        b.i64(last_zxid);
        b.u64(lists.len() as u64);
        for (list, _) in &lists {
            b.u32(list.len() as u32);
            for a in list.iter() {
                b.i32(a.perms);
                b.bytes(a.id.scheme.as_bytes());
                b.bytes(a.id.id.as_bytes());
            }
        }
        let count_at = b.0.len();
        b.u64(0);
        // Parents first, children in name order: depth-first with one path buffer and a stack
        // of child iterators (no recursion: a deep tree must not overflow the stack).
        let mut count = 0u64;
        let mut path = String::from(path::ROOT);
        if let Some(root) = nodes.get(path::ROOT) {
            write_node(&mut b, &path, root, &acl_index);
            count += 1;
            let mut stack = vec![(root.children.iter(), path.len())];
            while let Some((children, len)) = stack.last_mut() {
                let len = *len;
                let Some(child) = children.next() else {
                    stack.pop();
                    continue;
                };
                path.truncate(len);
                if len > 1 {
                    path.push('/');
                }
                path.push_str(child);
                if let Some(n) = nodes.get(path.as_str()) {
                    write_node(&mut b, &path, n, &acl_index);
                    count += 1;
                    if !n.children.is_empty() {
                        stack.push((n.children.iter(), path.len()));
                    }
                }
            }
        }
        let mut buf = b.0;
        buf[count_at..count_at + 8].copy_from_slice(&count.to_be_bytes());
        let body_len = (buf.len() - start - HEADER_LEN) as u64;
        let crc = crc32fast::hash(&buf[start + HEADER_LEN..]);
        let header = &mut buf[start..start + HEADER_LEN];
        header[..4].copy_from_slice(&MAGIC);
        header[4..8].copy_from_slice(&FORMAT_VERSION.to_be_bytes());
        header[8..16].copy_from_slice(&body_len.to_be_bytes());
        header[16..20].copy_from_slice(&crc.to_be_bytes());
        *out = buf;
    }
}

impl DataTree {
    /// Decodes a snapshot made by [`DataTree::encode_snapshot`].
    pub fn decode_snapshot(bytes: &[u8], config: TreeConfig) -> Result<DataTree, SnapshotError> {
        let mut h = R { buf: bytes, pos: 0 };
        if h.take(4)? != MAGIC {
            return Err(SnapshotError::BadMagic);
        }
        let version = h.u32()?;
        if version != FORMAT_VERSION {
            return Err(SnapshotError::UnsupportedVersion(version));
        }
        let declared = h.u64()?;
        let crc = h.u32()?;
        let body = &bytes[HEADER_LEN..];
        if declared != body.len() as u64 {
            return Err(SnapshotError::LengthMismatch {
                declared,
                actual: body.len(),
            });
        }
        let actual = crc32fast::hash(body);
        if actual != crc {
            return Err(SnapshotError::Checksum {
                expected: crc,
                actual,
            });
        }
        decode_body(body, config)
    }
}

/// One node's record: path, data, stat, ACL list index, kind.
fn write_node(b: &mut W, p: &str, n: &Node, acl_index: &[u32]) {
    b.bytes(p.as_bytes());
    match &n.data {
        None => b.i32(-1),
        Some(d) => {
            b.i32(d.len() as i32);
            b.0.extend_from_slice(d);
        }
    }
    let s = &n.stat;
    b.i64(s.czxid);
    b.i64(s.mzxid);
    b.i64(s.pzxid);
    b.i64(s.ctime);
    b.i64(s.mtime);
    b.i32(s.version);
    b.i32(s.cversion);
    b.i32(s.aversion);
    b.u32(acl_index.get(n.acl as usize).copied().unwrap_or(0));
    match n.kind {
        NodeKind::Persistent => b.u8(0),
        NodeKind::Ephemeral(sid) => {
            b.u8(1);
            b.i64(sid);
        }
        NodeKind::Container => b.u8(2),
        NodeKind::Ttl(ttl) => {
            b.u8(3);
            b.i64(ttl);
        }
    }
}

fn invalid(msg: impl Into<String>) -> SnapshotError {
    SnapshotError::Invalid(msg.into())
}

fn decode_body(body: &[u8], config: TreeConfig) -> Result<DataTree, SnapshotError> {
    let mut r = R { buf: body, pos: 0 };
    let mut t = DataTree::empty(config);
    t.last_zxid = r.i64()?;
    let n_lists = r.count(MIN_ACL_LIST, "ACL list")?;
    let mut lists: Vec<Vec<Acl>> = Vec::with_capacity(n_lists);
    for _ in 0..n_lists {
        let n = r.u32()? as usize;
        if n > r.remaining() / MIN_ACL {
            return Err(invalid("ACL list longer than the bytes left"));
        }
        let mut list = Vec::with_capacity(n);
        for _ in 0..n {
            let perms = r.i32()?;
            let scheme = r.str()?.to_owned();
            let id = r.str()?.to_owned();
            list.push(Acl {
                perms,
                id: Id { scheme, id },
            });
        }
        lists.push(list);
    }
    let n_nodes = r.count(MIN_NODE, "node")?;
    if n_nodes == 0 {
        return Err(invalid("no root node"));
    }
    t.nodes.reserve(n_nodes);
    for i in 0..n_nodes {
        let p = r.str()?;
        let data_len = r.i32()?;
        let data = match data_len {
            -1 => None,
            n if n >= 0 => Some(Box::<[u8]>::from(r.take(n as usize)?)),
            n => return Err(invalid(format!("negative data length {n}"))),
        };
        let stat = StoredStat {
            czxid: r.i64()?,
            mzxid: r.i64()?,
            pzxid: r.i64()?,
            ctime: r.i64()?,
            mtime: r.i64()?,
            version: r.i32()?,
            cversion: r.i32()?,
            aversion: r.i32()?,
        };
        let acl_ix = r.u32()? as usize;
        let list = lists
            .get(acl_ix)
            .ok_or_else(|| invalid(format!("ACL index {acl_ix} out of range at {p}")))?;
        let kind = match r.u8()? {
            0 => NodeKind::Persistent,
            1 => NodeKind::Ephemeral(r.i64()?),
            2 => NodeKind::Container,
            3 => NodeKind::Ttl(r.i64()?),
            k => return Err(invalid(format!("unknown node kind {k} at {p}"))),
        };
        if i == 0 {
            if p != path::ROOT {
                return Err(invalid("first node is not the root"));
            }
        } else {
            if p == path::ROOT || path::validate_path(p).is_err() {
                return Err(invalid(format!("bad node path {p:?}")));
            }
            if t.nodes.contains_key(p) {
                return Err(invalid(format!("duplicate node {p}")));
            }
            match t.nodes.get(path::parent_of(p)) {
                None => return Err(invalid(format!("node {p} comes before its parent"))),
                Some(parent) if matches!(parent.kind, NodeKind::Ephemeral(_)) => {
                    return Err(invalid(format!("node {p} is the child of an ephemeral")))
                }
                Some(_) => {}
            }
        }
        let acl = t.acls.intern(list);
        let node = Node {
            data,
            stat,
            acl,
            kind,
            children: BTreeSet::new(),
        };
        if i == 0 {
            t.nodes.insert(path::ROOT.into(), Arc::new(node));
        } else {
            t.insert_node(p, node);
        }
    }
    if r.remaining() != 0 {
        return Err(invalid(format!("{} trailing bytes", r.remaining())));
    }
    Ok(t)
}
