//! openraft's network over gRPC: one [`RaftPeer`] per target, made by [`GrpcNetwork`].
//!
//! Failures map onto what openraft acts on: a peer that cannot be reached is `Unreachable`
//! (openraft then backs off, with [`RaftPeer::backoff`]), a call that outlives its deadline
//! is `Timeout`, the remote Raft's refusal is `RemoteError`. Every call has a deadline, and
//! each target has its own replication task and connection, so a slow or dead peer never
//! holds up the others.

use std::future::Future;
use std::time::Duration;

use openraft::error::InstallSnapshotError;
use openraft::error::NetworkError;
use openraft::error::PayloadTooLarge;
use openraft::error::RPCError;
use openraft::error::RaftError;
use openraft::error::RemoteError;
use openraft::error::Timeout;
use openraft::error::Unreachable;
use openraft::network::Backoff;
use openraft::network::RPCOption;
use openraft::network::RPCTypes;
use openraft::network::RaftNetwork;
use openraft::network::RaftNetworkFactory;
use openraft::raft::AppendEntriesRequest;
use openraft::raft::AppendEntriesResponse;
use openraft::raft::InstallSnapshotRequest;
use openraft::raft::InstallSnapshotResponse;
use openraft::raft::VoteRequest;
use openraft::raft::VoteResponse;
use openraft::BasicNode;
use serde::de::DeserializeOwned;
use tonic::transport::Channel;
use tonic::Code;
use tonic::Status;

use crate::cluster::RaftTiming;
use crate::grpc::channels::Channels;
use crate::grpc::channels::APPEND_BUDGET;
use crate::grpc::identity::Identity;
use crate::grpc::inflight::InFlight;
use crate::grpc::inflight::Span;
use crate::grpc::pb;
use crate::grpc::pb::peer_client::PeerClient;
use crate::grpc::wire;
use crate::types::NodeId;
use crate::types::TypeConfig;

/// The first retry delay after a peer turned out unreachable; it doubles up to
/// [`RaftTiming::max_backoff`].
const FIRST_BACKOFF: Duration = Duration::from_millis(20);

/// openraft's network factory over the peers' gRPC channels.
#[derive(Debug, Clone)]
pub(crate) struct GrpcNetwork {
    identity: Identity,
    channels: Channels,
    timing: RaftTiming,
}

impl GrpcNetwork {
    pub(crate) fn new(identity: Identity, channels: Channels, timing: RaftTiming) -> Self {
        GrpcNetwork {
            identity,
            channels,
            timing,
        }
    }
}

impl RaftNetworkFactory<TypeConfig> for GrpcNetwork {
    type Network = RaftPeer;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> RaftPeer {
        RaftPeer {
            target,
            addr: node.addr.clone(),
            channels: self.channels.clone(),
            identity: self.identity,
            timing: self.timing,
            in_flight: None,
        }
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
    /// The AppendEntries with entries that is (or was last) running, if unanswered.
    in_flight: Option<InFlight>,
}

type RpcResult<T, E = openraft::error::Infallible> =
    Result<T, RPCError<NodeId, BasicNode, RaftError<NodeId, E>>>;

impl RaftPeer {
    /// Runs one call with a deadline and maps every failure onto openraft's error kinds.
    async fn call<T, E, F, Fut>(
        &self,
        action: RPCTypes,
        ttl: Duration,
        bulk: bool,
        f: F,
    ) -> RpcResult<T, E>
    where
        T: DeserializeOwned,
        E: serde::de::DeserializeOwned + std::error::Error,
        F: FnOnce(PeerClient<Channel>, pb::Caller) -> Fut,
        Fut: Future<Output = Result<tonic::Response<pb::RaftReply>, Status>>,
    {
        let Some(ch) = self.channels.get(self.target) else {
            let e = std::io::Error::other(format!(
                "node {} ({}) is not in this node's --peers",
                self.target, self.addr
            ));
            return Err(RPCError::Unreachable(Unreachable::new(&e)));
        };
        let client = if bulk { ch.bulk_client() } else { ch.client() };
        let caller = self.identity.caller(self.target);
        let reply = match tokio::time::timeout(ttl, f(client, caller)).await {
            Err(_elapsed) => return Err(self.timeout(action, ttl)),
            Ok(Err(status)) => return Err(self.status_error(action, ttl, status)),
            Ok(Ok(reply)) => reply.into_inner(),
        };
        match wire::parse_reply::<T, E>(reply) {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(refused)) => Err(RPCError::RemoteError(RemoteError::new(
                self.target,
                refused,
            ))),
            Err(bad) => Err(RPCError::Network(NetworkError::new(&bad))),
        }
    }

    /// Sends one encoded AppendEntries.
    async fn send_append(
        self,
        msg: pb::AppendRequest,
        ttl: Duration,
    ) -> RpcResult<AppendEntriesResponse<NodeId>> {
        self.call(
            RPCTypes::AppendEntries,
            ttl,
            false,
            |mut c, _caller| async move {
                let mut req = tonic::Request::new(msg);
                req.set_timeout(ttl);
                c.append_entries(req).await
            },
        )
        .await
    }

    /// While `running` runs, sends an entry-less AppendEntries from its start (already
    /// matched on the target) every heartbeat interval: openraft sends nothing else to the
    /// target until it has the answer, and a target that hears nothing for an election
    /// timeout deposes a leader that is merely busy sending a large batch.
    fn spawn_keepalive(
        &self,
        rpc: &AppendEntriesRequest<TypeConfig>,
        running: &InFlight,
        every: Duration,
    ) {
        let beat = AppendEntriesRequest::<TypeConfig> {
            vote: rpc.vote,
            prev_log_id: running.prev(),
            leader_commit: rpc.leader_commit,
            entries: Vec::new(),
        };
        let caller = self.identity.caller(self.target);
        let Ok((msg, _)) = encode_append(&beat, caller, APPEND_BUDGET) else {
            return;
        };
        let peer = self.clone();
        let running = running.clone();
        tokio::spawn(async move {
            while tokio::time::timeout(every, running.wait()).await.is_err() {
                if let Err(e) = peer.clone().send_append(msg.clone(), every).await {
                    tracing::debug!(target = peer.target, "keep-alive heartbeat failed: {e}");
                }
            }
        });
    }

    fn timeout<E: std::error::Error>(
        &self,
        action: RPCTypes,
        ttl: Duration,
    ) -> RPCError<NodeId, BasicNode, RaftError<NodeId, E>> {
        RPCError::Timeout(Timeout {
            action,
            id: self.identity.id,
            target: self.target,
            timeout: ttl,
        })
    }

    fn status_error<E: std::error::Error>(
        &self,
        action: RPCTypes,
        ttl: Duration,
        status: Status,
    ) -> RPCError<NodeId, BasicNode, RaftError<NodeId, E>> {
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

impl RaftNetwork<TypeConfig> for RaftPeer {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<AppendEntriesResponse<NodeId>> {
        let span = Span::of(&rpc);
        if let Some(running) = self.in_flight.clone().filter(|r| r.covers(&span)) {
            // openraft gave up on this range and resent it: wait for the RPC still running.
            let waited = running.wait().await;
            self.in_flight = None;
            return waited.map(|resp| running.answer_for(&span, resp));
        }
        let caller = self.identity.caller(self.target);
        let (msg, n) = encode_append(&rpc, caller, APPEND_BUDGET)
            .map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        if n < rpc.entries.len() {
            tracing::debug!(
                target = self.target,
                n,
                of = rpc.entries.len(),
                "append split"
            );
            return Err(RPCError::PayloadTooLarge(
                PayloadTooLarge::new_entries_hint(n as u64),
            ));
        }
        // Runs on a task of its own, so openraft's timeout (one heartbeat) does not cancel it;
        // bounded by the longer RPC timeout instead.
        let ttl = option.hard_ttl().max(self.timing.rpc_timeout);
        let running = InFlight::spawn(span.clone(), self.clone().send_append(msg, ttl));
        if span.has_entries() {
            // Kept until this call returns its answer: if openraft cancels the call first,
            // its resend finds the RPC here.
            self.in_flight = Some(running.clone());
            self.spawn_keepalive(&rpc, &running, option.hard_ttl());
        }
        let waited = running.wait().await;
        if span.has_entries() {
            self.in_flight = None;
        }
        waited
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<InstallSnapshotResponse<NodeId>, InstallSnapshotError> {
        let header = wire::encode(&(&rpc.vote, &rpc.meta, rpc.offset, rpc.done))
            .map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        let ttl = option.hard_ttl();
        self.call(
            RPCTypes::InstallSnapshot,
            ttl,
            true,
            |mut c, caller| async move {
                let mut req = tonic::Request::new(pb::SnapshotChunk {
                    caller: Some(caller),
                    header,
                    data: rpc.data,
                });
                req.set_timeout(ttl);
                c.install_snapshot(req).await
            },
        )
        .await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> RpcResult<VoteResponse<NodeId>> {
        let payload = wire::encode(&rpc).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        let ttl = option.hard_ttl();
        self.call(RPCTypes::Vote, ttl, false, |mut c, caller| async move {
            let mut req = tonic::Request::new(pb::RaftRequest {
                caller: Some(caller),
                payload,
            });
            req.set_timeout(ttl);
            c.vote(req).await
        })
        .await
    }

    /// Exponential from [`FIRST_BACKOFF`] to `max_backoff`: a restarted peer is found again
    /// quickly, a dead one costs a connection attempt every `max_backoff`.
    fn backoff(&self) -> Backoff {
        let max = self.timing.max_backoff;
        Backoff::new(std::iter::successors(
            Some(FIRST_BACKOFF.min(max)),
            move |d| Some((*d * 2).min(max)),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_append_stops_at_the_budget_and_takes_at_least_one() {
        use openraft::CommittedLeaderId;
        use openraft::Entry;
        use openraft::EntryPayload;
        use openraft::LogId;
        use openraft::Vote;

        let entry = |i: u64| Entry::<TypeConfig> {
            log_id: LogId::new(CommittedLeaderId::new(1, 1), i),
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
