//! One lazily connected gRPC channel per peer. A channel reconnects by itself on the next call
//! after a failure (and resolves the host name again, so a restarted container's new address
//! is found); Raft's own back-off spaces the retries to a dead peer. Snapshot chunks get a
//! connection of their own, so a long transfer never queues heartbeats behind it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;
use tonic::transport::Channel;
use tonic::transport::Endpoint;

use crate::cluster::ClusterError;
use crate::cluster::RaftTiming;
use crate::grpc::pb::peer_client::PeerClient;
use crate::grpc::tls::connect::MemberConnector;
use crate::grpc::tls::PeerTls;
use crate::types::NodeId;

/// Largest gRPC message accepted either way: an AppendEntries batch is cut to
/// [`APPEND_BUDGET`] (one entry may exceed it; client packets are at most ~1 MiB).
pub(crate) const MAX_MESSAGE: usize = 64 << 20;
/// Bytes an AppendEntries request should stay under; the entries past it go in the next
/// request (the target is told to have matched up to the last one sent), so one RPC and the
/// follower's flush of it stay short.
pub(crate) const APPEND_BUDGET: usize = 1 << 20;
/// Bytes of snapshot data per message of a snapshot stream.
pub(crate) const SNAPSHOT_CHUNK: usize = 1 << 20;
/// Requests a channel queues while its connection is not ready. A peer that accepts TCP
/// but never answers (hung) keeps every request queued; this bounds the memory they hold
/// (callers time out and openraft retries).
const QUEUE: usize = 64;
/// HTTP/2 pings on idle connections, so a silently dead peer (no RST, e.g. a partition) is
/// noticed and its streams fail instead of hanging.
const KEEPALIVE: Duration = Duration::from_secs(1);

/// The connections to one peer.
#[derive(Debug, Clone)]
pub(crate) struct PeerChannel {
    /// Raft's small RPCs, forwarding, activity, read index.
    pub(crate) rpc: Channel,
    /// Snapshot chunks.
    pub(crate) bulk: Channel,
}

impl PeerChannel {
    /// A client on the RPC connection.
    pub(crate) fn client(&self) -> PeerClient<Channel> {
        limits(PeerClient::new(self.rpc.clone()))
    }

    /// A client on the bulk (snapshot) connection.
    pub(crate) fn bulk_client(&self) -> PeerClient<Channel> {
        limits(PeerClient::new(self.bulk.clone()))
    }
}

fn limits(c: PeerClient<Channel>) -> PeerClient<Channel> {
    c.max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE)
}

/// Every other member's channels, following the membership: a member added by a reconfig
/// gets its channels when Raft first addresses it (or the membership shows it), one whose
/// address changed gets new ones.
#[derive(Debug, Clone)]
pub(crate) struct Channels {
    by_id: Arc<RwLock<BTreeMap<NodeId, (String, PeerChannel)>>>,
    dial: Arc<BTreeMap<NodeId, String>>,
    me: NodeId,
    timing: RaftTiming,
    tls: Option<PeerTls>,
}

impl Channels {
    /// Lazy channels to every peer but `me` (nothing connects before the first call), at its
    /// `dial` address if it has one, else at its `peers` address; over TLS with `tls` (the
    /// certificate checked against the `peers` host and id, wherever it is dialed). Must run
    /// inside the tokio runtime (each channel spawns its connection worker).
    pub(crate) fn new(
        peers: &BTreeMap<NodeId, String>,
        dial: &BTreeMap<NodeId, String>,
        me: NodeId,
        timing: &RaftTiming,
        tls: Option<&PeerTls>,
    ) -> Result<Self, ClusterError> {
        let channels = Channels {
            by_id: Arc::default(),
            dial: Arc::new(dial.clone()),
            me,
            timing: *timing,
            tls: tls.cloned(),
        };
        for (&id, addr) in peers {
            channels.connect(id, addr)?;
        }
        Ok(channels)
    }

    /// Makes (or remakes, if its address changed) the channels to member `id` whose
    /// membership record is `record`; nothing for this node itself.
    pub(crate) fn learn(&self, id: NodeId, record: &str) {
        if let Err(e) = self.connect(id, record) {
            tracing::warn!(id, record, "no channel to this member: {e}");
        }
    }

    fn connect(&self, id: NodeId, record: &str) -> Result<(), ClusterError> {
        if id == self.me {
            return Ok(());
        }
        let addr = match self.dial.get(&id) {
            Some(d) => d.clone(),
            None => crate::membership::dial_addr(record),
        };
        if self
            .by_id
            .read()
            .get(&id)
            .is_some_and(|(known, _)| *known == addr)
        {
            return Ok(());
        }
        let endpoint = endpoint(&addr, &self.timing)?;
        let ch = match &self.tls {
            None => PeerChannel {
                rpc: endpoint.connect_lazy(),
                bulk: endpoint.connect_lazy(),
            },
            Some(tls) => {
                // The certificate is checked against the member's own address (its
                // membership record), wherever it is dialed.
                let own = crate::membership::dial_addr(record);
                let connector = MemberConnector::new(tls.clone(), id, &addr, &own)
                    .ok_or_else(|| ClusterError::BadAddress(own.clone()))?;
                PeerChannel {
                    rpc: endpoint.connect_with_connector_lazy(connector.clone()),
                    bulk: endpoint.connect_with_connector_lazy(connector),
                }
            }
        };
        self.by_id.write().insert(id, (addr, ch));
        Ok(())
    }

    /// The channels to `id`, if it is a known member.
    pub(crate) fn get(&self, id: NodeId) -> Option<PeerChannel> {
        self.by_id.read().get(&id).map(|(_, ch)| ch.clone())
    }
}

fn endpoint(addr: &str, timing: &RaftTiming) -> Result<Endpoint, ClusterError> {
    let endpoint = Endpoint::from_shared(format!("http://{addr}"))
        .map_err(|_| ClusterError::BadAddress(addr.to_string()))?;
    Ok(endpoint
        .connect_timeout(timing.rpc_timeout)
        .tcp_nodelay(true)
        .http2_keep_alive_interval(KEEPALIVE)
        .keep_alive_timeout(timing.rpc_timeout)
        .keep_alive_while_idle(true)
        .buffer_size(QUEUE))
}
