//! Who a node is on the wire. Every request names its sender, the node id it means to reach
//! and the ensemble's id; the receiver refuses a mismatch loudly, so a node of another
//! ensemble (or sitting at another member's address) never takes part.
//!
//! The ensemble's id is the fingerprint of the peer list it was formed with (what every
//! founding member computes from the same `--peers`: the members' records, which are their
//! addresses alone unless the list gave election ports or client addresses), kept in each
//! member's data dir. It is
//! not the current membership: members see a membership change at slightly different
//! moments, and a member must keep talking to the others while it does. A member that joins
//! later learns the id from the member that answers its probe (`Probe`, the one request
//! checked for its target only).

use std::collections::BTreeMap;

use tonic::Status;

use crate::grpc::pb;
use crate::types::NodeId;

/// This node's id and the fingerprint of its peer list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Identity {
    pub(crate) id: NodeId,
    pub(crate) cluster: u64,
}

impl Identity {
    pub(crate) fn new(id: NodeId, peers: &BTreeMap<NodeId, String>) -> Self {
        Identity {
            id,
            cluster: fingerprint(peers),
        }
    }

    /// Node `id` of the ensemble with this id.
    pub(crate) fn of_ensemble(id: NodeId, ensemble: u64) -> Self {
        Identity {
            id,
            cluster: ensemble,
        }
    }

    /// Checks only that a request is meant for this node (a probe from a node that does not
    /// know the ensemble's id yet); returns the sender's id.
    pub(crate) fn check_target(&self, caller: Option<&pb::Caller>) -> Result<NodeId, Status> {
        let Some(c) = caller else {
            return Err(Status::invalid_argument("request without a caller"));
        };
        if c.to != self.id {
            return Err(Status::failed_precondition(format!(
                "this is node {}, not node {}: node {} has this node's address for node {}",
                self.id, c.to, c.from, c.to
            )));
        }
        Ok(c.from)
    }

    /// The caller record of a request from this node to `to`.
    pub(crate) fn caller(&self, to: NodeId) -> pb::Caller {
        pb::Caller {
            from: self.id,
            to,
            cluster: self.cluster,
        }
    }

    /// Checks an incoming request's caller; returns the sender's id.
    pub(crate) fn check(&self, caller: Option<&pb::Caller>) -> Result<NodeId, Status> {
        let Some(c) = caller else {
            return Err(Status::invalid_argument("request without a caller"));
        };
        let from = self.check_target(caller)?;
        if c.cluster != self.cluster {
            return Err(Status::failed_precondition(format!(
                "node {} belongs to another ensemble than node {} (ensemble id {:016x} vs \
                 {:016x}: formed from other --peers)",
                c.from, self.id, c.cluster, self.cluster
            )));
        }
        Ok(from)
    }
}

/// FNV-1a (64-bit) over `id=addr\n` per member in id order. Stable across builds and
/// platforms, unlike std's hasher, because two builds of the ensemble must agree on it.
pub(crate) fn fingerprint(peers: &BTreeMap<NodeId, String>) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0100_0000_01b3;
    peers
        .iter()
        .flat_map(|(id, addr)| format!("{id}={addr}\n").into_bytes())
        .fold(OFFSET, |h, b| (h ^ u64::from(b)).wrapping_mul(PRIME))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peers(addr3: &str) -> BTreeMap<NodeId, String> {
        BTreeMap::from([
            (1, "a:1".to_string()),
            (2, "b:2".to_string()),
            (3, addr3.to_string()),
        ])
    }

    #[test]
    fn same_peers_pass_and_return_the_sender() {
        let me = Identity::new(2, &peers("c:3"));
        let them = Identity::new(1, &peers("c:3"));
        assert_eq!(me.check(Some(&them.caller(2))).unwrap(), 1);
    }

    #[test]
    fn other_peers_wrong_target_or_no_caller_are_refused() {
        let me = Identity::new(2, &peers("c:3"));
        let other = Identity::new(1, &peers("c:4"));
        let e = me.check(Some(&other.caller(2))).unwrap_err();
        assert_eq!(e.code(), tonic::Code::FailedPrecondition);
        assert!(e.message().contains("another ensemble"), "{}", e.message());
        let same = Identity::new(1, &peers("c:3"));
        let e = me.check(Some(&same.caller(3))).unwrap_err();
        assert!(e.message().contains("not node 3"), "{}", e.message());
        assert_eq!(
            me.check(None).unwrap_err().code(),
            tonic::Code::InvalidArgument
        );
    }

    #[test]
    fn fingerprint_is_stable() {
        // A change here breaks mixed-version ensembles: keep the function as it is.
        assert_eq!(fingerprint(&peers("c:3")), fingerprint(&peers("c:3")));
        assert_ne!(fingerprint(&peers("c:3")), fingerprint(&peers("c:33")));
        assert_eq!(fingerprint(&BTreeMap::new()), 0xcbf2_9ce4_8422_2325);
    }
}
