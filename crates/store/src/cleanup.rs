//! What the leader's cleaner should propose (`ContainerManager.getCandidates` of 3.8):
//! containers that have had children and have none, and TTL nodes with no children whose
//! last modification is older than their TTL. Read-only; the DeleteContainer txn re-checks.

use crate::node::NodeKind;
use crate::tree::DataTree;

impl DataTree {
    /// Paths to propose DeleteContainer for at `now_ms`, containers first, each in path order.
    pub fn cleanup_candidates(&self, now_ms: i64) -> Vec<String> {
        let mut out = Vec::new();
        for p in &self.containers {
            if let Some(n) = self.nodes.get(p) {
                if n.stat.cversion > 0 && n.children.is_empty() {
                    out.push(p.to_string());
                }
            }
        }
        for p in &self.ttls {
            if let Some(n) = self.nodes.get(p) {
                if let NodeKind::Ttl(ttl) = n.kind {
                    if n.children.is_empty() && now_ms.saturating_sub(n.stat.mtime) > ttl {
                        out.push(p.to_string());
                    }
                }
            }
        }
        out
    }
}
