//! Forming the ensemble on first start, with no init step.
//!
//! Every member starting on an empty data dir would call `Raft::initialize` with the same
//! members, which openraft accepts (identical entries at log index 0). But initializing makes
//! a node campaign at once in term 1, and openraft orders votes of one term by node id:
//! a late node's `T1-N3` outranks a sitting leader's `T1-N2` and deposes it. So a node first
//! asks its peers; if any is already initialized, the ensemble exists and its leader brings
//! this node in (by log or snapshot) without an election.

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::time::Duration;

use openraft::error::InitializeError;
use openraft::error::RaftError;
use openraft::BasicNode;

use crate::cluster::ClusterError;
use crate::cluster::ClusterNode;
use crate::cluster::StartError;
use crate::grpc::channels::Channels;
use crate::grpc::identity::fingerprint;
use crate::grpc::identity::Identity;
use crate::grpc::pb;
use crate::types::NodeId;

/// How long a start waits for each peer's answer: a dead peer refuses at once, a hung one
/// must not hold up the start for long.
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);

/// How often a joining node asks again while no member answers.
const JOIN_RETRY: Duration = Duration::from_millis(500);

/// The ensemble's id for a node starting on an empty data dir: the one a formed ensemble's
/// member gives, else (a founding member) the fingerprint of `peers` (the founding members'
/// records). A joining node (not in `peers`) never forms one: it asks until a member
/// answers, saying so now and then.
pub(crate) async fn discover(
    channels: &Channels,
    id: NodeId,
    peers: &BTreeMap<NodeId, String>,
    joining: bool,
) -> u64 {
    let provisional = Identity::new(id, peers);
    let mut asked = 0u32;
    loop {
        if let Some((peer, reply)) = formed_peer(channels, &provisional, peers).await {
            tracing::info!(peer, term = reply.term, "found the formed ensemble");
            // 0: a member of a build that did not send it, whose id is the fingerprint of
            // its peers' addresses (that build kept nothing more in their records).
            return if reply.ensemble == 0 {
                let addrs = peers
                    .iter()
                    .map(|(p, r)| (*p, crate::membership::dial_addr(r)));
                fingerprint(&addrs.collect())
            } else {
                reply.ensemble
            };
        }
        if !joining {
            return fingerprint(peers);
        }
        if asked.is_multiple_of(20) {
            tracing::info!(
                id,
                peers = ?peers,
                "joining: no member of the ensemble answers yet; asking again"
            );
        }
        asked = asked.wrapping_add(1);
        // A retry interval against peers that are down, not a wait for an event of ours.
        tokio::time::sleep(JOIN_RETRY).await;
    }
}

/// Forms the ensemble from `peers` if this node has never been part of one and no peer has;
/// a joining node never does (the leader adds it by reconfig), nor does an observer (Raft
/// forms an ensemble from voters: the first leader adds the founding observers, see
/// `founding`). The ensemble is formed with the participants of `peers` (the founding
/// members' records) as voters.
pub(crate) async fn form_if_new(
    node: &ClusterNode,
    peers: &BTreeMap<NodeId, String>,
    observers: &BTreeSet<NodeId>,
    joining: bool,
) -> Result<(), ClusterError> {
    if node.raft.is_initialized().await.map_err(StartError::from)? {
        return Ok(());
    }
    if joining {
        tracing::info!(
            id = node.id,
            "joining: not a member yet; serving nothing until a reconfig adds this node"
        );
        return Ok(());
    }
    if observers.contains(&node.id) {
        tracing::info!(
            id = node.id,
            "observer: waiting for the ensemble's leader to add this node"
        );
        return Ok(());
    }
    if let Some((peer, reply)) = formed_peer(&node.channels, &node.identity, peers).await {
        let term = reply.term;
        tracing::info!(
            peer,
            term,
            "the ensemble is already formed: waiting for its leader to bring this node in"
        );
        return Ok(());
    }
    let members: BTreeMap<NodeId, BasicNode> = peers
        .iter()
        .filter(|(id, _)| !observers.contains(id))
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

/// A peer that reports an initialized Raft, with its answer; asks all peers at once.
async fn formed_peer(
    channels: &Channels,
    identity: &Identity,
    peers: &BTreeMap<NodeId, String>,
) -> Option<(NodeId, pb::ProbeReply)> {
    let mut asks = tokio::task::JoinSet::new();
    for &peer in peers.keys().filter(|&&p| p != identity.id) {
        let Some(ch) = channels.get(peer) else {
            continue;
        };
        let mut client = ch.client();
        let caller = identity.caller(peer);
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
                return Some((peer, reply));
            }
        }
    }
    None
}
