//! A 64-bit digest of the tree's logical content, for comparing replicas: the wrapping sum of
//! per-node hashes (so it is independent of insertion and iteration order, as ZooKeeper's own
//! tree digest is), plus the last zxid. A per-node hash is FNV-1a over the node's fields, each
//! step a bijection, so one changed byte always changes it; a final mix spreads the bits.

use crate::node::NodeKind;
use crate::tree::DataTree;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

struct Fnv(u64);

impl Fnv {
    fn bytes(&mut self, b: &[u8]) {
        for &x in b {
            self.0 = (self.0 ^ u64::from(x)).wrapping_mul(FNV_PRIME);
        }
    }
    /// Length-prefixed, so field boundaries cannot shift.
    fn field(&mut self, b: &[u8]) {
        self.bytes(&(b.len() as u64).to_be_bytes());
        self.bytes(b);
    }
    fn i64(&mut self, v: i64) {
        self.bytes(&v.to_be_bytes());
    }
}

/// splitmix64's finalizer (a bijection).
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl DataTree {
    /// Digest of every node (path, data, stat, kind, ACL) and the last zxid. O(nodes + data).
    pub fn digest(&self) -> u64 {
        let mut sum = mix(self.last_zxid as u64);
        for (p, n) in self.nodes.iter() {
            let mut h = Fnv(FNV_OFFSET);
            h.field(p.as_bytes());
            match &n.data {
                None => h.i64(-1),
                Some(d) => h.field(d),
            }
            let s = &n.stat;
            for v in [s.czxid, s.mzxid, s.pzxid, s.ctime, s.mtime] {
                h.i64(v);
            }
            for v in [s.version, s.cversion, s.aversion] {
                h.i64(i64::from(v));
            }
            let (tag, val) = match n.kind {
                NodeKind::Persistent => (0, 0),
                NodeKind::Ephemeral(sid) => (1, sid),
                NodeKind::Container => (2, 0),
                NodeKind::Ttl(ttl) => (3, ttl),
            };
            h.i64(tag);
            h.i64(val);
            let acl = self.acl_of(n);
            h.i64(acl.len() as i64);
            for a in acl {
                h.i64(i64::from(a.perms));
                h.field(a.id.scheme.as_bytes());
                h.field(a.id.id.as_bytes());
            }
            sum = sum.wrapping_add(mix(h.0));
        }
        sum
    }
}
