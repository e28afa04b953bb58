//! The peer gRPC server: hands Raft's RPCs to the local Raft, serves forwarding streams,
//! activity reports and the read index. Every request's caller is checked first.

use std::io::Cursor;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::BoxStream;
use openraft::async_runtime::WatchReceiver;
use openraft::error::LinearizableReadError;
use openraft::error::RaftError;
use openraft::raft::AppendEntriesRequest;
use openraft::ReadPolicy;
use openraft::ServerState;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::sync::oneshot;
use tokio::sync::watch;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_stream::StreamExt;
use tonic::Request;
use tonic::Response;
use tonic::Status;
use tonic::Streaming;

use crate::cluster::prevote;
use crate::cluster::Role;
use crate::grpc::activity::ActivitySlot;
use crate::grpc::channels::MAX_MESSAGE;
use crate::grpc::conn::CuttableStream;
use crate::grpc::forward_in;
use crate::grpc::identity::Identity;
use crate::grpc::pb;
use crate::grpc::pb::peer_server::Peer;
use crate::grpc::pb::peer_server::PeerServer;
use crate::grpc::tls::accept;
use crate::grpc::tls::Gate;
use crate::grpc::tls::ServerTls;
use crate::grpc::wire;
use crate::submitter::Submitter;
use crate::types::LogId;
use crate::types::Snapshot;
use crate::types::SnapshotMeta;
use crate::types::TypeConfig;
use crate::types::Vote;
use crate::types::ZkRaft;

/// Largest snapshot a member accepts: more than any tree a node can hold in memory. The
/// sender declares the size up front; this bounds what a forged declaration can reserve.
const MAX_SNAPSHOT_BYTES: u64 = 64 << 30;
/// What is reserved up front for an incoming snapshot at most; the rest grows as it comes.
const RESERVE_SNAPSHOT_BYTES: u64 = 64 << 20;

/// Acknowledgements buffered towards one follower.
const ACK_BUFFER: usize = 64;
/// HTTP/2 pings from the server side too, so a dead follower's streams are dropped.
const KEEPALIVE: Duration = Duration::from_secs(1);

/// The `Peer` service over the local Raft.
struct PeerService {
    raft: ZkRaft,
    submitter: Submitter,
    /// Checks every request's caller (and, with TLS, its certificate).
    gate: Gate,
    activity: ActivitySlot,
    /// The leader lease a pre-vote answer respects.
    lease: Duration,
    /// Tells this node's election driver to stand at once (a pre-vote from a candidate
    /// whose log is behind, see `prevote::Answer::NoStandInstead`).
    stand_now: Arc<Notify>,
    /// This node's role, for holding `Follow` streams open while it leads.
    role: watch::Receiver<Role>,
    stop: watch::Receiver<bool>,
}

#[tonic::async_trait]
impl Peer for PeerService {
    async fn vote(&self, req: Request<pb::RaftRequest>) -> Result<Response<pb::RaftReply>, Status> {
        let admit = self.gate.admit(&req);
        let req = req.into_inner();
        admit.check(req.caller.as_ref())?;
        let rpc = wire::decode_request("vote request", &req.payload)?;
        Ok(Response::new(wire::reply(self.raft.vote(rpc).await)?))
    }

    async fn pre_vote(
        &self,
        req: Request<pb::PreVoteRequest>,
    ) -> Result<Response<pb::PreVoteReply>, Status> {
        let admit = self.gate.admit(&req);
        let req = req.into_inner();
        let from = admit.check(req.caller.as_ref())?;
        let last_log: Option<LogId> =
            wire::decode_request("pre-vote last log id", &req.last_log_id)?;
        // Held at most twice: a leader heard again meanwhile renews the lease by more than
        // `HOLD` (a heartbeat's worth of lease left is far more than it).
        for held in 0..3 {
            let view = prevote::local_view(&self.raft, self.lease)
                .await
                .ok_or_else(|| Status::unavailable("raft stopped"))?;
            let answer = prevote::answer(&view, req.term, last_log.as_ref());
            tracing::debug!(
                from,
                term = req.term,
                ?answer,
                held,
                ?view,
                "pre-vote asked"
            );
            match answer {
                prevote::Answer::After(wait) if held < 2 => tokio::time::sleep(wait).await,
                answer => {
                    if answer == prevote::Answer::NoStandInstead {
                        self.stand_now.notify_one();
                    }
                    return Ok(Response::new(pb::PreVoteReply {
                        granted: answer == prevote::Answer::Yes,
                    }));
                }
            }
        }
        // The last round answers whatever it finds (an `After` then is a no, above).
        Ok(Response::new(pb::PreVoteReply { granted: false }))
    }

    async fn append_entries(
        &self,
        req: Request<pb::AppendRequest>,
    ) -> Result<Response<pb::RaftReply>, Status> {
        let admit = self.gate.admit(&req);
        let req = req.into_inner();
        admit.check(req.caller.as_ref())?;
        let raft = self.raft.clone();
        // On a task of its own: if the leader gives up waiting (its deadline), the decoding
        // and appending done so far still count, and its retry finds the entries in place
        // instead of starting over (under heavy load, starting over could repeat forever).
        let work = tokio::spawn(async move {
            let rpc = decode_append(&req)?;
            wire::reply(raft.append_entries(rpc).await)
        });
        let reply = work.await.map_err(|e| Status::internal(e.to_string()))??;
        Ok(Response::new(reply))
    }

    type AppendStreamStream = BoxStream<'static, Result<pb::RaftReply, Status>>;

    async fn append_stream(
        &self,
        req: Request<Streaming<pb::AppendRequest>>,
    ) -> Result<Response<Self::AppendStreamStream>, Status> {
        let admit = self.gate.admit(&req);
        let input = req.into_inner();
        let raft = self.raft.clone();
        // Answered at once, the caller checked on the first request inside the stream. The
        // leader waits for this answer (its rpc timeout) before it reads replies, and
        // openraft yields a stream's first request only once there is something to send: a
        // follower already as far as the leader's log (it got the entries of a stream that
        // failed late, under load) held the answer back until the next write, and every
        // attempt in between timed out after 2 s as "AppendEntries 3->1 timeout"
        // (bench/non_readers.sh, 60 silent clients on the leader, the deposed leader).
        let replies = futures_util::StreamExt::flatten(futures_util::stream::once(async move {
            let mut input = input;
            let first = match input.message().await {
                Ok(Some(m)) => m,
                Ok(None) => return refused(Status::invalid_argument("empty append stream")),
                Err(status) => return refused(status),
            };
            if let Err(status) = admit.check(first.caller.as_ref()) {
                return refused(status);
            }
            append_replies(raft, input, first)
        }));
        Ok(Response::new(Box::pin(replies)))
    }

    async fn install_snapshot(
        &self,
        req: Request<Streaming<pb::SnapshotChunk>>,
    ) -> Result<Response<pb::RaftReply>, Status> {
        let admit = self.gate.admit(&req);
        let mut chunks = req.into_inner();
        let first = chunks
            .message()
            .await?
            .ok_or_else(|| Status::invalid_argument("empty snapshot stream"))?;
        admit.check(first.caller.as_ref())?;
        let (vote, meta, len): (Vote, SnapshotMeta, u64) =
            wire::decode_request("snapshot header", &first.header)?;
        if len > MAX_SNAPSHOT_BYTES {
            return Err(Status::resource_exhausted(format!(
                "a snapshot of {len} bytes is over the limit of {MAX_SNAPSHOT_BYTES}"
            )));
        }
        let mut data = Vec::with_capacity(len.min(RESERVE_SNAPSHOT_BYTES) as usize);
        data.extend_from_slice(&first.data);
        while let Some(chunk) = chunks.message().await? {
            if (data.len() + chunk.data.len()) as u64 > len {
                return Err(Status::invalid_argument(format!(
                    "snapshot stream longer than the {len} bytes it declared"
                )));
            }
            data.extend_from_slice(&chunk.data);
        }
        if data.len() as u64 != len {
            return Err(Status::invalid_argument(format!(
                "snapshot stream of {} bytes, {len} declared",
                data.len()
            )));
        }
        let snapshot = Snapshot {
            meta,
            snapshot: Cursor::new(data),
        };
        let raft = self.raft.clone();
        // Not cancelled with the call: installing a large snapshot takes a while, and the
        // work done counts even if the leader stopped waiting.
        let work = tokio::spawn(async move {
            let installed = raft.install_full_snapshot(vote, snapshot).await;
            wire::reply(installed.map_err(RaftError::<TypeConfig>::Fatal))
        });
        let reply = work.await.map_err(|e| Status::internal(e.to_string()))??;
        Ok(Response::new(reply))
    }

    type ForwardStream = ReceiverStream<Result<pb::ForwardAck, Status>>;

    async fn forward(
        &self,
        req: Request<Streaming<pb::ForwardItem>>,
    ) -> Result<Response<Self::ForwardStream>, Status> {
        let (acks, rx) = mpsc::channel(ACK_BUFFER);
        tokio::spawn(forward_in::serve(
            self.raft.clone(),
            self.submitter.clone(),
            self.gate.admit(&req),
            req.into_inner(),
            acks,
            self.stop.clone(),
        ));
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn report_activity(
        &self,
        req: Request<pb::ActivityReport>,
    ) -> Result<Response<pb::ActivityReply>, Status> {
        let admit = self.gate.admit(&req);
        let req = req.into_inner();
        let from = admit.check(req.caller.as_ref())?;
        let leader = self.raft.metrics().borrow_watched().state == ServerState::Leader;
        let touches: Vec<(i64, u32)> = req
            .sessions
            .iter()
            .enumerate()
            .map(|(i, &id)| (id, req.ages_ms.get(i).copied().unwrap_or(0)))
            .collect();
        self.activity.deliver(from, &touches);
        Ok(Response::new(pb::ActivityReply { leader }))
    }

    async fn read_index(
        &self,
        req: Request<pb::ReadIndexRequest>,
    ) -> Result<Response<pb::ReadIndexReply>, Status> {
        let admit = self.gate.admit(&req);
        let req = req.into_inner();
        admit.check(req.caller.as_ref())?;
        match self.raft.get_read_log_id(ReadPolicy::ReadIndex).await {
            Ok((read, _applied)) => Ok(Response::new(pb::ReadIndexReply {
                index: read.index(),
            })),
            Err(e) => Err(read_index_status(e)),
        }
    }

    async fn probe(
        &self,
        req: Request<pb::ProbeRequest>,
    ) -> Result<Response<pb::ProbeReply>, Status> {
        let admit = self.gate.admit(&req);
        let req = req.into_inner();
        // A joining node does not know the ensemble's id yet: it learns it here.
        admit.check_target(req.caller.as_ref())?;
        let initialized = self
            .raft
            .is_initialized()
            .await
            .map_err(|f| Status::unavailable(format!("raft stopped: {f}")))?;
        let (term, leader) = {
            let m = self.raft.metrics();
            let m = m.borrow_watched();
            (m.current_term, m.current_leader)
        };
        Ok(Response::new(pb::ProbeReply {
            initialized,
            term,
            leader: leader.unwrap_or(0),
            ensemble: self.gate.ensemble(),
        }))
    }

    type FollowStream = ReceiverStream<Result<pb::FollowNotice, Status>>;

    async fn follow(
        &self,
        req: Request<pb::FollowRequest>,
    ) -> Result<Response<Self::FollowStream>, Status> {
        let admit = self.gate.admit(&req);
        let req = req.into_inner();
        let from = admit.check(req.caller.as_ref())?;
        let role = *self.role.borrow();
        if !role.is_leader || role.term != req.term {
            return Err(Status::failed_precondition(format!(
                "node {} does not lead in term {} (role: {role:?})",
                self.gate.id(),
                req.term
            )));
        }
        tracing::debug!(from, term = req.term, "follower holds a line");
        let (tx, rx) = mpsc::channel(1);
        tokio::spawn(hold_follow(
            req.term,
            self.role.clone(),
            self.stop.clone(),
            tx,
        ));
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}

/// Holds a follower's `Follow` stream: one notice, then silence until this node no longer
/// leads in `term`, the server stops, or the follower hangs up.
async fn hold_follow(
    term: u64,
    mut role: watch::Receiver<Role>,
    mut stop: watch::Receiver<bool>,
    tx: mpsc::Sender<Result<pb::FollowNotice, Status>>,
) {
    if tx.send(Ok(pb::FollowNotice { term })).await.is_err() {
        return;
    }
    let leading = |r: &Role| r.is_leader && r.term == term;
    tokio::select! {
        _ = tx.closed() => {}
        _ = stop.wait_for(|&s| s) => {}
        _ = role.wait_for(|r| !leading(r)) => {}
    }
}

/// A reply stream that is only `status`.
fn refused(status: Status) -> BoxStream<'static, Result<pb::RaftReply, Status>> {
    Box::pin(futures_util::stream::once(async move { Err(status) }))
}

/// The replies to an append stream whose caller was checked on `first`.
fn append_replies(
    raft: ZkRaft,
    input: Streaming<pb::AppendRequest>,
    first: pb::AppendRequest,
) -> BoxStream<'static, Result<pb::RaftReply, Status>> {
    // No task of ours between the socket and Raft, either way: openraft's stream task
    // decodes each request as it pulls it, and tonic pulls each result as it sends it.
    // Measured: a commit reached a follower about 0.5 ms after the leader had applied
    // it in the rounds where a read through that follower saw the old value, and each
    // task hand-off on the way is a wake-up that waits for a core under load.
    let (undecodable, undecodable_rx) = oneshot::channel::<Status>();
    let requests = futures_util::stream::unfold(
        (input, Some(first), Some(undecodable)),
        |(mut input, mut next, mut undecodable)| async move {
            let msg = match next.take() {
                Some(m) => m,
                None => input.message().await.ok().flatten()?,
            };
            match decode_append(&msg) {
                Ok(rpc) => Some((rpc, (input, None, undecodable))),
                Err(status) => {
                    // Ends the requests here; the error goes out after the results of
                    // those before it.
                    if let Some(tx) = undecodable.take() {
                        let _ = tx.send(status);
                    }
                    None
                }
            }
        },
    );
    let results = Box::pin(raft.stream_append(requests));
    Box::pin(futures_util::stream::unfold(
        Some((results, undecodable_rx)),
        |state| async move {
            let (mut results, undecodable_rx) = state?;
            match results.next().await {
                Some(result) => {
                    // A refusal or a stopped Raft is the last result of the stream.
                    let last = !matches!(result, Ok(Ok(_)));
                    let reply = wire::reply(result.map_err(RaftError::<TypeConfig>::Fatal));
                    Some((reply, (!last).then_some((results, undecodable_rx))))
                }
                None => {
                    let status = undecodable_rx.await.ok()?;
                    Some((Err(status), None))
                }
            }
        },
    ))
}

/// The AppendEntries request a message carries; garbage is INVALID_ARGUMENT.
fn decode_append(req: &pb::AppendRequest) -> Result<AppendEntriesRequest<TypeConfig>, Status> {
    let (vote, prev_log_id, leader_commit) =
        wire::decode_request("append-entries header", &req.header)?;
    let entries = req
        .entries
        .iter()
        .map(|e| wire::decode_request("log entry", e))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(AppendEntriesRequest {
        vote,
        prev_log_id,
        leader_commit,
        entries,
    })
}

/// "Not the leader" is FAILED_PRECONDITION (the caller asks elsewhere); anything else means
/// this Raft cannot answer at all.
fn read_index_status(e: RaftError<TypeConfig, LinearizableReadError<TypeConfig>>) -> Status {
    match e {
        RaftError::APIError(LinearizableReadError::ForwardToLeader(f)) => {
            Status::failed_precondition(format!("not the leader (leader: {:?})", f.leader_id))
        }
        RaftError::APIError(LinearizableReadError::QuorumNotEnough(q)) => {
            Status::unavailable(format!("leadership not confirmed by a quorum: {q}"))
        }
        RaftError::Fatal(f) => Status::unavailable(format!("raft stopped: {f}")),
    }
}

/// What the `Peer` service answers from.
pub(crate) struct PeerParts {
    /// The local Raft.
    pub(crate) raft: ZkRaft,
    /// Where forwarded writes are queued.
    pub(crate) submitter: Submitter,
    /// This node, for checking callers.
    pub(crate) identity: Identity,
    /// Mutual TLS with the members (sslQuorum); `None`: plain text.
    pub(crate) tls: Option<ServerTls>,
    /// Where activity reports go.
    pub(crate) activity: ActivitySlot,
    /// The leader lease a pre-vote answer respects.
    pub(crate) lease: Duration,
    /// The election driver's prompt to stand at once.
    pub(crate) stand_now: Arc<Notify>,
    /// This node's role (`Follow` streams are held while it leads).
    pub(crate) role: watch::Receiver<Role>,
}

/// The running server.
pub(crate) struct ServerHandle {
    stop: watch::Sender<bool>,
    task: JoinHandle<Result<(), tonic::transport::Error>>,
    local_addr: SocketAddr,
}

impl ServerHandle {
    /// Serves the `Peer` service over `parts` on `listener` until [`ServerHandle::stop`].
    pub(crate) fn spawn(listener: TcpListener, local_addr: SocketAddr, parts: PeerParts) -> Self {
        let (stop, stop_rx) = watch::channel(false);
        let PeerParts {
            raft,
            submitter,
            identity,
            tls,
            activity,
            lease,
            stand_now,
            role,
        } = parts;
        let service = PeerService {
            raft,
            submitter,
            gate: Gate::new(identity, tls.as_ref()),
            activity,
            lease,
            stand_now,
            role,
            stop: stop_rx.clone(),
        };
        let svc = PeerServer::new(service)
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE);
        let mut stopped = stop_rx.clone();
        let shutdown = async move {
            let _ = stopped.wait_for(|&s| s).await;
        };
        let server = tonic::transport::Server::builder().http2_keepalive_interval(Some(KEEPALIVE));
        let task = match tls {
            Some(tls) => {
                let incoming = accept::incoming(listener, tls.tls, stop_rx.clone(), stop_rx);
                tokio::spawn(server.serve_with_incoming_shutdown(svc, incoming, shutdown))
            }
            None => {
                // tonic ignores its own tcp_nodelay with a custom listener: set it per
                // connection, or Nagle would hold back small RPCs (heartbeats, acks).
                let incoming = TcpListenerStream::new(listener).map(move |conn| {
                    conn.map(|s| {
                        if let Err(e) = s.set_nodelay(true) {
                            tracing::debug!("set_nodelay on a peer connection: {e}");
                        }
                        CuttableStream::new(s, stop_rx.clone())
                    })
                });
                tokio::spawn(server.serve_with_incoming_shutdown(svc, incoming, shutdown))
            }
        };
        ServerHandle {
            stop,
            task,
            local_addr,
        }
    }

    /// The address the server listens on.
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops serving: closes the listener, ends forwarding streams and cuts every peer
    /// connection (in-flight RPCs fail; Raft retries them elsewhere or later); gives up
    /// waiting for the server task after `timeout`.
    pub(crate) async fn stop(mut self, timeout: Duration) {
        self.stop.send_replace(true);
        match tokio::time::timeout(timeout, &mut self.task).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => tracing::warn!("peer server ended with an error: {e}"),
            Ok(Err(e)) => tracing::warn!("peer server task failed: {e}"),
            Err(_) => {
                tracing::warn!("peer server still draining after {timeout:?}; dropping it");
                self.task.abort();
            }
        }
    }
}

impl Drop for ServerHandle {
    /// A node dropped without `shutdown` still stops serving (no graceful wait).
    fn drop(&mut self) {
        self.stop.send_replace(true);
        if !self.task.is_finished() {
            self.task.abort();
        }
    }
}

#[cfg(test)]
mod tests;
