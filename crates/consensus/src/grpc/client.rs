//! openraft's network over gRPC: one [`RaftPeer`] per target and purpose (replication,
//! heartbeats, snapshots), made by [`GrpcNetwork`].
//!
//! Failures map onto what openraft acts on: a peer that cannot be reached (or whose Raft has
//! stopped) is `Unreachable` (openraft then backs off, with [`RaftPeer::backoff`]), a call that
//! outlives its deadline is `Timeout`. Every call has a deadline, and each target has its own
//! replication task and connection, so a slow or dead peer never holds up the others.
//!
//! Replication is a pipelined stream (`AppendStream`): openraft's requests go out as it makes
//! them and the results come back in order, so the leader never waits for one result before it
//! sends the next entries or a new commit index. Before, one request at a time: a follower
//! whose append was still being flushed learned of a commit only after it answered, while the
//! other follower already applied it (a read through it right after an acknowledged write saw
//! the old value 160 times in 200). Heartbeats, on openraft's heartbeat worker, stay single
//! calls.
//!
//! Deadlines: openraft 0.10 offers every AppendEntries one heartbeat interval (`RPCOption`)
//! and enforces nothing itself. A heartbeat keeps that deadline (openraft's heartbeat worker
//! sends the next one anyway). A replication stream has none: moving and flushing a large
//! batch to a busy follower can take longer than a heartbeat interval, and a stream cut at
//! that length would resend the same batch forever; HTTP/2 keep-alives end the stream of a
//! dead peer.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use openraft::base::BoxFuture;
use openraft::base::BoxStream;
use openraft::entry::RaftEntry;
use openraft::error::NetworkError;
use openraft::error::RPCError;
use openraft::error::ReplicationClosed;
use openraft::error::StreamingError;
use openraft::error::Timeout;
use openraft::error::Unreachable;
use openraft::network::stream_append_sequential;
use openraft::network::Backoff;
use openraft::network::RPCOption;
use openraft::network::RPCTypes;
use openraft::network::RaftNetworkFactory;
use openraft::raft::AppendEntriesRequest;
use openraft::raft::AppendEntriesResponse;
use openraft::raft::SnapshotResponse;
use openraft::raft::StreamAppendResult;
use openraft::raft::VoteRequest;
use openraft::raft::VoteResponse;
use openraft::BasicNode;
use openraft::RaftNetworkV2;
use serde::de::DeserializeOwned;
use tokio::sync::watch;
use tonic::transport::Channel;
use tonic::Code;
use tonic::Status;

use crate::cluster::RaftTiming;
use crate::grpc::channels::Channels;
use crate::grpc::channels::APPEND_BUDGET;
use crate::grpc::channels::SNAPSHOT_CHUNK;
use crate::grpc::identity::Identity;
use crate::grpc::pb;
use crate::grpc::pb::peer_client::PeerClient;
use crate::grpc::wire;
use crate::metrics::ConsensusMetrics;
use crate::types::NodeId;
use crate::types::Snapshot;
use crate::types::SnapshotData;
use crate::types::TypeConfig;
use crate::types::Vote;

/// The first retry delay after a peer turned out unreachable; it doubles up to
/// [`RaftTiming::max_backoff`].
const FIRST_BACKOFF: Duration = Duration::from_millis(20);

/// openraft's network factory over the peers' gRPC channels.
#[derive(Debug, Clone)]
pub(crate) struct GrpcNetwork {
    identity: Identity,
    channels: Channels,
    timing: RaftTiming,
    metrics: Arc<ConsensusMetrics>,
}

impl GrpcNetwork {
    pub(crate) fn new(
        identity: Identity,
        channels: Channels,
        timing: RaftTiming,
        metrics: Arc<ConsensusMetrics>,
    ) -> Self {
        GrpcNetwork {
            identity,
            channels,
            timing,
            metrics,
        }
    }
}

impl GrpcNetwork {
    fn peer(&self, target: NodeId, node: &BasicNode, heartbeats: bool) -> RaftPeer {
        RaftPeer {
            target,
            addr: node.addr.clone(),
            channels: self.channels.clone(),
            identity: self.identity,
            timing: self.timing,
            heartbeats,
            metrics: self.metrics.clone(),
            failed_opens: 0,
        }
    }
}

impl RaftNetworkFactory<TypeConfig> for GrpcNetwork {
    type Network = RaftPeer;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> RaftPeer {
        self.peer(target, node, false)
    }

    async fn new_heartbeat_client(&mut self, target: NodeId, node: &BasicNode) -> RaftPeer {
        self.peer(target, node, true)
    }
}

/// The Raft RPCs to one target.
#[derive(Clone)]
pub(crate) struct RaftPeer {
    target: NodeId,
    addr: String,
    channels: Channels,
    identity: Identity,
    timing: RaftTiming,
    /// Made for openraft's heartbeat worker: its one-request streams go as single calls.
    heartbeats: bool,
    metrics: Arc<ConsensusMetrics>,
    /// Replication streams in a row that could not even be opened (see [`open_backoff`]).
    failed_opens: u32,
}

type RpcResult<T> = Result<T, RPCError<TypeConfig>>;

impl RaftPeer {
    /// A client to the target (`bulk`: on the snapshot connection).
    fn client(&self, bulk: bool) -> RpcResult<PeerClient<Channel>> {
        // A member Raft addresses before the membership watch saw it (a new learner).
        if self.channels.get(self.target).is_none() {
            self.channels.learn(self.target, &self.addr);
        }
        let Some(ch) = self.channels.get(self.target) else {
            let e = std::io::Error::other(format!(
                "node {} ({}) is not in this node's --peers",
                self.target, self.addr
            ));
            return Err(RPCError::Unreachable(Unreachable::new(&e)));
        };
        Ok(if bulk { ch.bulk_client() } else { ch.client() })
    }

    /// Runs one call with a deadline and maps every failure onto openraft's error kinds.
    async fn call<T, F, Fut>(&self, action: RPCTypes, ttl: Duration, f: F) -> RpcResult<T>
    where
        T: DeserializeOwned,
        F: FnOnce(PeerClient<Channel>, pb::Caller) -> Fut,
        Fut: Future<Output = Result<tonic::Response<pb::RaftReply>, Status>>,
    {
        let client = self.client(false)?;
        let caller = self.identity.caller(self.target);
        let reply = match tokio::time::timeout(ttl, f(client, caller)).await {
            Err(_elapsed) => return Err(self.timeout(action, ttl)),
            Ok(Err(status)) => return Err(self.status_error(action, ttl, status)),
            Ok(Ok(reply)) => reply.into_inner(),
        };
        self.parse(reply)
    }

    /// The answer in a reply; the remote Raft having stopped is `Unreachable` (nothing else
    /// refuses these RPCs).
    fn parse<T: DeserializeOwned>(&self, reply: pb::RaftReply) -> RpcResult<T> {
        match wire::parse_reply::<T>(reply) {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(refused)) => {
                let e = std::io::Error::other(format!(
                    "node {} ({}): {refused}",
                    self.target, self.addr
                ));
                Err(RPCError::Unreachable(Unreachable::new(&e)))
            }
            Err(bad) => Err(RPCError::Network(NetworkError::new(&bad))),
        }
    }

    fn timeout(&self, action: RPCTypes, ttl: Duration) -> RPCError<TypeConfig> {
        RPCError::Timeout(Timeout {
            action,
            id: self.identity.id,
            target: self.target,
            timeout: ttl,
        })
    }

    fn status_error(
        &self,
        action: RPCTypes,
        ttl: Duration,
        status: Status,
    ) -> RPCError<TypeConfig> {
        let e = std::io::Error::other(format!(
            "{action} to node {} ({}): {}: {}",
            self.target,
            self.addr,
            status.code(),
            status.message()
        ));
        match status.code() {
            Code::DeadlineExceeded => self.timeout(action, ttl),
            // A misconfigured peer stays unusable until an operator fixes it: say so loudly,
            // and back off like for a dead one.
            Code::FailedPrecondition => {
                tracing::error!(target = self.target, "{e}");
                RPCError::Unreachable(Unreachable::new(&e))
            }
            // Connection refused/reset, name resolution, "service not ready".
            Code::Unavailable | Code::Unknown | Code::Cancelled => {
                RPCError::Unreachable(Unreachable::new(&e))
            }
            _ => RPCError::Network(NetworkError::new(&e)),
        }
    }

    /// Sends a whole snapshot as a stream of chunks; fails when no chunk was taken for
    /// `ttl` (the receiver's flow control holds the stream while it is behind), or the
    /// receiver did not answer `ttl` after the last one (it installs the snapshot first).
    async fn send_snapshot(
        &self,
        vote: Vote,
        snapshot: Snapshot,
        ttl: Duration,
    ) -> Result<SnapshotResponse<TypeConfig>, StreamingError<TypeConfig>> {
        let bytes = snapshot.snapshot.into_inner();
        let header = wire::encode(&(&vote, &snapshot.meta, bytes.len() as u64))
            .map_err(|e| streaming_network(&e))?;
        let caller = self.identity.caller(self.target);
        // Each chunk is copied out as the transport takes it, so a transfer holds the
        // snapshot and one chunk, not the snapshot twice. Chunk 0 carries caller and header
        // (and is sent even for an empty snapshot).
        let n = bytes.len().div_ceil(SNAPSHOT_CHUNK).max(1);
        // Counts the chunks the transport took; dropped with the stream after the last.
        let (taken, mut progress) = watch::channel(0usize);
        let mut header = Some(header);
        let stream = tokio_stream::iter(0..n).map(move |i| {
            taken.send_modify(|t| *t += 1);
            let at = (i * SNAPSHOT_CHUNK).min(bytes.len());
            let end = (at + SNAPSHOT_CHUNK).min(bytes.len());
            pb::SnapshotChunk {
                caller: (i == 0).then_some(caller),
                header: header.take().unwrap_or_default(),
                data: bytes[at..end].to_vec(),
            }
        });
        let mut client = self.client(true).map_err(streaming)?;
        let call = client.install_snapshot(tonic::Request::new(stream));
        tokio::pin!(call);
        let reply = loop {
            tokio::select! {
                reply = &mut call => break reply,
                moved = tokio::time::timeout(ttl, progress.changed()) => match moved {
                    Ok(Ok(())) => continue,
                    // Every chunk is out: the answer comes after the install.
                    Ok(Err(_)) => match tokio::time::timeout(ttl, &mut call).await {
                        Ok(reply) => break reply,
                        Err(_) => return Err(self.snapshot_timeout(ttl)),
                    },
                    Err(_) => {
                        let taken = *progress.borrow();
                        tracing::warn!(target = self.target, taken, of = n, "snapshot transfer stalled");
                        return Err(self.snapshot_timeout(ttl));
                    }
                },
            }
        };
        let reply = reply.map_err(|status| {
            streaming(self.status_error(RPCTypes::InstallSnapshot, ttl, status))
        })?;
        self.parse(reply.into_inner()).map_err(streaming)
    }

    fn snapshot_timeout(&self, ttl: Duration) -> StreamingError<TypeConfig> {
        StreamingError::Timeout(Timeout {
            action: RPCTypes::InstallSnapshot,
            id: self.identity.id,
            target: self.target,
            timeout: ttl,
        })
    }
}

/// An RPC failure as a snapshot transfer's.
fn streaming(e: RPCError<TypeConfig>) -> StreamingError<TypeConfig> {
    match e {
        RPCError::Timeout(t) => StreamingError::Timeout(t),
        RPCError::Unreachable(u) => StreamingError::Unreachable(u),
        RPCError::Network(n) => StreamingError::Network(n),
        RPCError::RemoteError(r) => match r.source {},
    }
}

fn streaming_network(e: &dyn std::error::Error) -> StreamingError<TypeConfig> {
    StreamingError::Network(NetworkError::new(&std::io::Error::other(e.to_string())))
}

/// An AppendEntries request as it travels: the header and each entry encoded on its own,
/// stopping at the byte budget (at least one entry is taken, so an oversized one still
/// travels). Returns the message and how many entries it carries.
fn encode_append(
    rpc: &AppendEntriesRequest<TypeConfig>,
    caller: pb::Caller,
    budget: usize,
) -> Result<(pb::AppendRequest, usize), postcard::Error> {
    let header = wire::encode(&(&rpc.vote, &rpc.prev_log_id, &rpc.leader_commit))?;
    let mut total = header.len();
    let mut entries = Vec::with_capacity(rpc.entries.len());
    for e in &rpc.entries {
        let bytes = wire::encode(e)?;
        total += bytes.len();
        if total > budget && !entries.is_empty() {
            break;
        }
        entries.push(bytes);
    }
    let n = entries.len();
    let msg = pb::AppendRequest {
        caller: Some(caller),
        header,
        entries,
    };
    Ok((msg, n))
}

impl RaftPeer {
    /// A replication stream could not be opened (the target refuses connections, say): waits
    /// out [`open_backoff`] before handing `e` to openraft. openraft 0.10 sleeps out its own
    /// backoff ([`RaftPeer::backoff`]) only inside a stream's requests, which a stream that
    /// never opened never asks for; its replication task then asked again at once, and the
    /// leader's one runtime worker spent itself on failed connection attempts to a killed
    /// member: ~5,000 a second (the logs of `bench/ab.sh --kills`), so the new leader's first
    /// append reached the other member 8 ms after its election.
    async fn failed_open(&mut self, e: RPCError<TypeConfig>) -> RPCError<TypeConfig> {
        self.failed_opens = self.failed_opens.saturating_add(1);
        tokio::time::sleep(open_backoff(self.failed_opens, self.timing.max_backoff)).await;
        e
    }
}

/// How long the `n`th replication stream in a row that could not be opened waits before
/// failing: the first not at all (a connection reset under a live member is opened again at
/// once), then [`FIRST_BACKOFF`] doubling up to `max`.
fn open_backoff(n: u32, max: Duration) -> Duration {
    match n {
        0 | 1 => Duration::ZERO,
        n => FIRST_BACKOFF
            .saturating_mul(1u32.checked_shl(n - 2).unwrap_or(u32::MAX))
            .min(max),
    }
}

impl RaftNetworkV2<TypeConfig> for RaftPeer {
    type SnapshotData = SnapshotData;

    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<AppendEntriesResponse<TypeConfig>> {
        let caller = self.identity.caller(self.target);
        let (msg, n) = encode_append(&rpc, caller, APPEND_BUDGET)
            .map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        let ttl = if rpc.entries.is_empty() {
            option.soft_ttl()
        } else {
            self.timing.rpc_timeout.max(option.soft_ttl())
        };
        let resp: AppendEntriesResponse<TypeConfig> = self
            .call(RPCTypes::AppendEntries, ttl, |mut c, _caller| async move {
                let mut req = tonic::Request::new(msg);
                req.set_timeout(ttl);
                c.append_entries(req).await
            })
            .await?;
        if n < rpc.entries.len() && resp.is_success() {
            // Only the first `n` fit the budget: the target now holds the log up to the last
            // of them, and openraft sends the rest in its next request.
            tracing::debug!(
                target = self.target,
                n,
                of = rpc.entries.len(),
                "append split"
            );
            let sent = rpc.entries[n - 1].log_id();
            return Ok(AppendEntriesResponse::PartialSuccess(Some(sent)));
        }
        Ok(resp)
    }

    fn stream_append<'s, S>(
        &'s mut self,
        input: S,
        option: RPCOption,
    ) -> BoxFuture<'s, RpcResult<BoxStream<'s, RpcResult<StreamAppendResult<TypeConfig>>>>>
    where
        S: futures_util::Stream<Item = AppendEntriesRequest<TypeConfig>> + Send + Unpin + 'static,
    {
        if self.heartbeats {
            return stream_append_sequential(self, input, option);
        }
        Box::pin(async move {
            let mut client = match self.client(false) {
                Ok(client) => client,
                Err(e) => return Err(self.failed_open(e).await),
            };
            let caller = self.identity.caller(self.target);
            let target = self.target;
            // A request over the byte budget travels cut to what fits and is the last of this
            // stream: openraft starts the next one from where the target then matches.
            let requests =
                futures_util::stream::unfold((input, false), move |(mut input, done)| async move {
                    if done {
                        return None;
                    }
                    let rpc = input.next().await?;
                    match encode_append(&rpc, caller, APPEND_BUDGET) {
                        Ok((msg, n)) => {
                            let cut = n < rpc.entries.len();
                            if cut {
                                tracing::debug!(target, n, of = rpc.entries.len(), "append cut");
                            }
                            Some((msg, (input, cut)))
                        }
                        Err(e) => {
                            tracing::error!(target, "cannot encode an append: {e}");
                            None
                        }
                    }
                });
            let ttl = self.timing.rpc_timeout;
            let opened =
                tokio::time::timeout(ttl, client.append_stream(tonic::Request::new(requests)))
                    .await;
            let replies = match opened {
                Err(_elapsed) => return Err(self.timeout(RPCTypes::AppendEntries, ttl)),
                Ok(Err(status)) => {
                    let e = self.status_error(RPCTypes::AppendEntries, ttl, status);
                    return Err(self.failed_open(e).await);
                }
                Ok(Ok(replies)) => {
                    self.failed_opens = 0;
                    replies.into_inner()
                }
            };
            let peer = self.clone();
            let results = replies.map(move |reply| match reply {
                Ok(reply) => peer.parse::<StreamAppendResult<TypeConfig>>(reply),
                Err(status) => Err(peer.status_error(RPCTypes::AppendEntries, ttl, status)),
            });
            let results: BoxStream<'s, RpcResult<StreamAppendResult<TypeConfig>>> =
                Box::pin(results);
            Ok(results)
        })
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<VoteResponse<TypeConfig>> {
        let payload = wire::encode(&rpc).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        let ttl = option.soft_ttl();
        self.call(RPCTypes::Vote, ttl, |mut c, caller| async move {
            let mut req = tonic::Request::new(pb::RaftRequest {
                caller: Some(caller),
                payload,
            });
            req.set_timeout(ttl);
            c.vote(req).await
        })
        .await
    }

    async fn full_snapshot(
        &mut self,
        vote: Vote,
        snapshot: Snapshot,
        cancel: impl Future<Output = ReplicationClosed> + Send + 'static,
        _option: RPCOption,
    ) -> Result<SnapshotResponse<TypeConfig>, StreamingError<TypeConfig>> {
        let ttl = self.timing.snapshot_timeout;
        let sent = tokio::select! {
            closed = cancel => Err(StreamingError::Closed(closed)),
            sent = self.send_snapshot(vote, snapshot, ttl) => sent,
        };
        // A follower brought up to date by a whole snapshot (ZooKeeper's `snap_count`
        // counts each SNAP sync of a learner).
        if sent.is_ok() {
            self.metrics
                .snapshots_sent
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        sent
    }

    /// Exponential from [`FIRST_BACKOFF`] to `max_backoff`: a restarted peer is found again
    /// quickly, a dead one costs a connection attempt every `max_backoff`.
    fn backoff(&self) -> Option<Backoff> {
        let max = self.timing.max_backoff;
        Some(Backoff::new(std::iter::successors(
            Some(FIRST_BACKOFF.min(max)),
            move |d| Some((*d * 2).min(max)),
        )))
    }
}

#[cfg(test)]
mod tests {
    use openraft::impls::leader_id_adv::LeaderId;
    use openraft::vote::RaftLeaderId;
    use openraft::EntryPayload;
    use openraft::LogId;

    use super::*;
    use crate::types::Entry;

    #[test]
    fn a_stream_that_cannot_open_is_retried_at_once_then_ever_later_up_to_the_cap() {
        let max = Duration::from_millis(500);
        let waits: Vec<u64> = (1..=8)
            .map(|n| open_backoff(n, max).as_millis() as u64)
            .collect();
        assert_eq!(waits, [0, 20, 40, 80, 160, 320, 500, 500]);
        assert_eq!(open_backoff(u32::MAX, max), max, "no overflow");
        assert_eq!(
            open_backoff(5, Duration::from_millis(30)),
            Duration::from_millis(30)
        );
    }

    #[test]
    fn encode_append_stops_at_the_budget_and_takes_at_least_one() {
        let entry = |i: u64| Entry {
            log_id: LogId::new(LeaderId::new(1, 1), i),
            payload: EntryPayload::Blank,
        };
        let rpc = AppendEntriesRequest::<TypeConfig> {
            vote: Vote::new_committed(1, 1),
            prev_log_id: None,
            leader_commit: None,
            entries: (1..=10).map(entry).collect(),
        };
        let caller = pb::Caller::default();
        let (all, n) = encode_append(&rpc, caller, usize::MAX).unwrap();
        assert_eq!((n, all.entries.len()), (10, 10));
        let one = all.entries[0].len();
        let budget = all.header.len() + 3 * one;
        let (_, n) = encode_append(&rpc, caller, budget).unwrap();
        assert_eq!(n, 3);
        let (msg, n) = encode_append(&rpc, caller, 1).unwrap();
        assert_eq!((n, msg.entries.len()), (1, 1), "one entry always travels");
    }
}
