//! Forming the ensemble on first start, with no init step.
//!
//! Every member starting on an empty data dir would call `Raft::initialize` with the same
//! members, which openraft accepts (identical entries at log index 0). But initializing makes
//! a node campaign at once in term 1, and openraft orders votes of one term by node id:
//! a late node's `T1-N3` outranks a sitting leader's `T1-N2` and deposes it. So a node first
//! asks its peers; if any is already initialized, the ensemble exists and its leader brings
//! this node in (by log or snapshot) without an election.

use std::collections::BTreeMap;
use std::time::Duration;

use openraft::error::InitializeError;
use openraft::error::RaftError;
use openraft::BasicNode;

use crate::cluster::ClusterError;
use crate::cluster::ClusterNode;
use crate::cluster::StartError;
use crate::grpc::pb;
use crate::types::NodeId;

/// How long a start waits for each peer's answer: a dead peer refuses at once, a hung one
/// must not hold up the start for long.
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);

/// Forms the ensemble from `peers` if this node has never been part of one and no peer has.
pub(crate) async fn form_if_new(
    node: &ClusterNode,
    peers: &BTreeMap<NodeId, String>,
) -> Result<(), ClusterError> {
    if node.raft.is_initialized().await.map_err(StartError::from)? {
        return Ok(());
    }
    if let Some((peer, term)) = formed_peer(node, peers).await {
        tracing::info!(
            peer,
            term,
            "the ensemble is already formed: waiting for its leader to bring this node in"
        );
        return Ok(());
    }
    let members: BTreeMap<NodeId, BasicNode> = peers
        .iter()
        .map(|(id, addr)| (*id, BasicNode::new(addr.clone())))
        .collect();
    match node.raft.initialize(members).await {
        Ok(()) => {
            tracing::info!(members = ?peers, "new ensemble: initialized");
            Ok(())
        }
        // A peer reached this node in the meantime: the ensemble exists, which is the goal.
        Err(RaftError::APIError(InitializeError::NotAllowed(n))) => {
            tracing::info!("already initialized by a peer: {n}");
            Ok(())
        }
        Err(e) => Err(StartError::Initialize(Box::new(e)).into()),
    }
}

/// A peer that reports an initialized Raft, with its term; asks all peers at once.
async fn formed_peer(
    node: &ClusterNode,
    peers: &BTreeMap<NodeId, String>,
) -> Option<(NodeId, u64)> {
    let mut asks = tokio::task::JoinSet::new();
    for &peer in peers.keys().filter(|&&p| p != node.id) {
        let Some(ch) = node.channels.get(peer) else {
            continue;
        };
        let mut client = ch.client();
        let caller = node.identity.caller(peer);
        asks.spawn(async move {
            let mut req = tonic::Request::new(pb::ProbeRequest {
                caller: Some(caller),
            });
            req.set_timeout(PROBE_TIMEOUT);
            let reply = tokio::time::timeout(PROBE_TIMEOUT, client.probe(req)).await;
            match reply {
                Ok(Ok(r)) => Some((peer, r.into_inner())),
                Ok(Err(status)) => {
                    tracing::debug!(peer, %status, "probe failed");
                    None
                }
                Err(_) => None,
            }
        });
    }
    while let Some(answer) = asks.join_next().await {
        if let Ok(Some((peer, reply))) = answer {
            if reply.initialized {
                return Some((peer, reply.term));
            }
        }
    }
    None
}
