//! The request pipeline of one established session: frames in, replies and events out, in
//! the order the module docs of `connection` promise.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;

use tokio::io::AsyncReadExt;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::mpsc;
use tokio::sync::oneshot;
use tokio::sync::watch;
use zk_consensus::CommandOp;
use zk_session::Owner;
use zk_session::SessionId;
use zk_wire::write_frame;
use zk_wire::xid;
use zk_wire::DecodeError;
use zk_wire::ErrorCode;
use zk_wire::FrameDecoder;
use zk_wire::Id;
use zk_wire::Reader;
use zk_wire::Record;
use zk_wire::ReplyHeader;
use zk_wire::Request;
use zk_wire::RequestHeader;
use zk_wire::Response;
use zk_wire::WatcherEvent;

use super::ConnError;
use crate::auth;
use crate::auth::AuthResult;
use crate::backend::Backend;
use crate::hub::ConnId;
use crate::hub::ConnStats;
use crate::hub::Done;
use crate::hub::Push;
use crate::node::Node;
use crate::request;
use crate::request::read;
use crate::request::write::WriteKind;
use crate::request::Plan;

/// One request waiting for its turn to be answered.
enum Slot {
    /// A local request, answered when it reaches the front (after earlier writes).
    Local {
        xid: i32,
        req: Request,
        auth: Arc<Vec<Id>>,
        at: Instant,
    },
    /// A write held back, not proposed yet: a local request before it still waits for an
    /// earlier write, and must not see this one (FIFO: a read sees exactly the session's
    /// writes sent before it). Proposed once no local request is ahead of it.
    Held {
        xid: i32,
        op: CommandOp,
        kind: WriteKind,
        at: Instant,
    },
    /// A proposed write, answered once applied.
    Write {
        xid: i32,
        kind: WriteKind,
        rx: oneshot::Receiver<Done>,
        at: Instant,
    },
    /// Holds back the slots behind it until this node has caught up with the leader's
    /// commit point (a `sync` in an ensemble); sends nothing itself.
    Gate {
        rx: oneshot::Receiver<Result<(), String>>,
    },
    /// An answer known at once, still sent in order.
    Ready {
        header: ReplyHeader,
        body: Option<Response>,
        at: Instant,
    },
}

/// Why the pipeline stops reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// Serving normally.
    No,
    /// Answer what is queued, then close (closeSession, failed auth).
    AfterQueue,
}

/// See the module docs.
pub(super) struct Pipeline<'a> {
    node: &'a Node,
    conn: ConnId,
    session: SessionId,
    owner: Owner,
    timeout_ms: u32,
    peer: SocketAddr,
    stats: Arc<ConnStats>,
    decoder: FrameDecoder,
    auth: Arc<Vec<Id>>,
    queue: VecDeque<Slot>,
    /// `Local` slots in `queue` (a write behind any of them is held).
    locals: usize,
    /// `Held` slots in `queue`.
    held: usize,
    out: Vec<u8>,
    ending: Ending,
}

impl<'a> Pipeline<'a> {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        node: &'a Node,
        conn: ConnId,
        session: SessionId,
        owner: Owner,
        timeout_ms: u32,
        peer: SocketAddr,
        stats: Arc<ConnStats>,
        decoder: FrameDecoder,
        out: Vec<u8>,
    ) -> Self {
        Pipeline {
            node,
            conn,
            session,
            owner,
            timeout_ms,
            peer,
            stats,
            decoder,
            auth: Arc::new(vec![auth::ip_id(peer.ip())]),
            queue: VecDeque::new(),
            locals: 0,
            held: 0,
            out,
            ending: Ending::No,
        }
    }

    /// Serves until the client leaves, the session ends, or the node shuts down.
    pub(super) async fn run(
        &mut self,
        mut rd: OwnedReadHalf,
        mut wr: OwnedWriteHalf,
        mut inbuf: Vec<u8>,
        mut pushes: mpsc::UnboundedReceiver<Push>,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<(), ConnError> {
        // Requests pipelined behind the ConnectRequest.
        self.take_frames(&mut inbuf).await?;
        let mut stop = false;
        loop {
            stop |= self.advance(&mut pushes)?;
            self.propose_held().await;
            if !self.out.is_empty() {
                wr.write_all(&self.out).await?;
                self.out.clear();
            }
            if stop || (self.ending == Ending::AfterQueue && self.queue.is_empty()) {
                break;
            }
            if let Ok(Some(n)) = self.decoder.body_len(&inbuf) {
                inbuf.reserve((n + 4).saturating_sub(inbuf.len()));
            }
            let reading = self.ending == Ending::No;
            tokio::select! {
                biased;
                () = crate::server::stopped(&mut shutdown) => break,
                push = pushes.recv() => match push {
                    Some(p) => stop |= self.on_push(p),
                    None => break,
                },
                waited = front_wait(&mut self.queue) => match waited {
                    Waited::Write(done) => stop |= self.finish_write(done, &mut pushes)?,
                    Waited::Gate(passed) => self.pass_gate(passed)?,
                },
                n = rd.read_buf(&mut inbuf), if reading => {
                    if n? == 0 {
                        break;
                    }
                    self.take_frames(&mut inbuf).await?;
                }
            }
        }
        let _ = wr.shutdown().await;
        Ok(())
    }

    /// Handles a push; true if the connection must stop now.
    fn on_push(&mut self, push: Push) -> bool {
        match push {
            Push::Event(e) => {
                self.event(&e);
                false
            }
            // A queued closeSession still gets its answer; an expired session's connection
            // just closes (the client learns "expired" when it reconnects, S6.4).
            Push::SessionEnded => self.ending != Ending::AfterQueue,
            Push::Close => true,
        }
    }

    /// Writes every queued event; true if a push says stop.
    fn drain_pushes(&mut self, pushes: &mut mpsc::UnboundedReceiver<Push>) -> bool {
        let mut stop = false;
        while let Ok(p) = pushes.try_recv() {
            stop |= self.on_push(p);
        }
        stop
    }

    /// Answers every slot at the front that can be answered now; true if the connection must
    /// stop.
    fn advance(&mut self, pushes: &mut mpsc::UnboundedReceiver<Push>) -> Result<bool, ConnError> {
        let mut stop = false;
        loop {
            match self.queue.front_mut() {
                None => break,
                Some(Slot::Write { rx, .. }) => match rx.try_recv() {
                    Ok(done) => {
                        stop |= self.finish_write(Ok(done), pushes)?;
                    }
                    Err(oneshot::error::TryRecvError::Empty) => break,
                    Err(oneshot::error::TryRecvError::Closed) => {
                        return Err(ConnError::WriteFailed("write dropped".into()))
                    }
                },
                Some(Slot::Gate { rx }) => match rx.try_recv() {
                    Ok(passed) => self.pass_gate(Ok(passed))?,
                    Err(oneshot::error::TryRecvError::Empty) => break,
                    Err(oneshot::error::TryRecvError::Closed) => {
                        return Err(ConnError::WriteFailed("sync dropped".into()))
                    }
                },
                Some(Slot::Held { .. }) => break,
                Some(_) => {
                    let Some(slot) = self.queue.pop_front() else {
                        break;
                    };
                    stop |= self.drain_pushes(pushes);
                    self.answer_now(slot);
                }
            }
        }
        Ok(stop)
    }

    /// Answers a local or ready slot.
    fn answer_now(&mut self, slot: Slot) {
        match slot {
            Slot::Local { xid, req, auth, at } => {
                self.locals -= 1;
                let answer = {
                    let st = self.node.state.read();
                    let who = read::Reader {
                        conn: self.conn,
                        session: self.session,
                        auth: &auth,
                    };
                    read::answer(&st, &self.node.hub, who, &req)
                };
                for e in &answer.events {
                    self.event(e);
                }
                let xid = if matches!(req, Request::Ping) {
                    xid::PING
                } else {
                    xid
                };
                let header = ReplyHeader {
                    xid,
                    zxid: answer.zxid,
                    err: answer.err.code(),
                };
                self.reply(header, answer.body.as_ref(), at);
            }
            Slot::Ready { header, body, at } => self.reply(header, body.as_ref(), at),
            Slot::Held { .. } | Slot::Write { .. } | Slot::Gate { .. } => {}
        }
    }

    /// Removes the front gate once it opened; a failed catch-up ends the connection (the
    /// client reconnects, as after any connection loss).
    fn pass_gate(
        &mut self,
        passed: Result<Result<(), String>, oneshot::error::RecvError>,
    ) -> Result<(), ConnError> {
        if matches!(self.queue.front(), Some(Slot::Gate { .. })) {
            self.queue.pop_front();
        }
        match passed {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(ConnError::WriteFailed(format!("sync: {e}"))),
            Err(_) => Err(ConnError::WriteFailed("sync dropped".into())),
        }
    }

    /// Answers the front write with its fate; true if the connection must stop.
    fn finish_write(
        &mut self,
        done: Result<Done, oneshot::error::RecvError>,
        pushes: &mut mpsc::UnboundedReceiver<Push>,
    ) -> Result<bool, ConnError> {
        let Some(Slot::Write { xid, kind, at, .. }) = self.queue.pop_front() else {
            return Ok(false);
        };
        let (zxid, outcome) = match done {
            Ok(Ok(v)) => v,
            Ok(Err(e)) => return Err(ConnError::WriteFailed(e.to_string())),
            Err(_) => return Err(ConnError::WriteFailed("write dropped".into())),
        };
        // Events queued before this outcome was delivered belong before its reply.
        let stop = self.drain_pushes(pushes);
        let check_stat = match &kind {
            WriteKind::Check { path } => self.node.state.read().tree.stat(path),
            _ => None,
        };
        let (err, body) = request::write::reply(&kind, &outcome, check_stat);
        let header = ReplyHeader {
            xid,
            zxid,
            err: err.code(),
        };
        self.reply(header, body.as_ref(), at);
        Ok(stop)
    }

    fn reply(&mut self, header: ReplyHeader, body: Option<&Response>, at: Instant) {
        write_frame(&mut self.out, |o| {
            header.encode(o);
            if let Some(b) = body {
                b.encode(o);
            }
        });
        let took = at.elapsed();
        self.stats.last_zxid.store(header.zxid, Ordering::Relaxed);
        self.stats.sent.fetch_add(1, Ordering::Relaxed);
        self.stats.outstanding.fetch_sub(1, Ordering::Relaxed);
        self.stats
            .last_response_ms
            .store(zk_consensus::now_ms(), Ordering::Relaxed);
        self.stats.latency.record(took);
        self.node.stats.sent.fetch_add(1, Ordering::Relaxed);
        self.node.stats.latency.record(took);
    }

    fn event(&mut self, e: &WatcherEvent) {
        write_frame(&mut self.out, |o| {
            ReplyHeader {
                xid: xid::NOTIFICATION,
                zxid: -1,
                err: 0,
            }
            .encode(o);
            e.encode(o);
        });
        self.stats.sent.fetch_add(1, Ordering::Relaxed);
        self.node.stats.sent.fetch_add(1, Ordering::Relaxed);
    }

    /// Takes every complete frame out of `inbuf`; a bad frame is an error (close).
    async fn take_frames(&mut self, inbuf: &mut Vec<u8>) -> Result<(), ConnError> {
        let mut start = 0;
        while self.ending == Ending::No {
            let Some(frame) = self.decoder.decode(&inbuf[start..])? else {
                break;
            };
            let consumed = frame.consumed;
            let mut r = Reader::new(frame.body);
            let header = RequestHeader::decode(&mut r)?;
            let decoded = Request::decode(&header, r.rest());
            start += consumed;
            match decoded {
                Ok(req) => self.on_request(header.xid, req).await,
                // An opcode this server does not know: answered, not fatal (ZooKeeper's
                // UnimplementedRequestProcessor).
                Err(DecodeError::UnknownOpCode(op)) => {
                    tracing::info!(peer = %self.peer, op, "unknown opcode");
                    self.count_request();
                    self.queue.push_back(Slot::Ready {
                        header: ReplyHeader {
                            xid: header.xid,
                            zxid: self.node.state.applied_zxid(),
                            err: ErrorCode::Unimplemented.code(),
                        },
                        body: None,
                        at: Instant::now(),
                    });
                }
                Err(e) => return Err(e.into()),
            }
        }
        inbuf.drain(..start);
        Ok(())
    }

    fn count_request(&self) {
        self.stats.received.fetch_add(1, Ordering::Relaxed);
        self.stats.outstanding.fetch_add(1, Ordering::Relaxed);
        self.node.stats.received.fetch_add(1, Ordering::Relaxed);
    }

    /// In an ensemble: a task that asks the leader for its commit point (read index) and
    /// waits until this node has applied it, bounded by the largest session timeout. None in
    /// a one-node ensemble, whose applied state is the commit point.
    fn sync_gate(&self) -> Option<oneshot::Receiver<Result<(), String>>> {
        let Backend::Cluster(cluster) = &self.node.backend else {
            return None;
        };
        let cluster = cluster.clone();
        let state = self.node.state.clone();
        let bound = Duration::from_millis(u64::from(self.node.settings.timeouts.max_ms()));
        let (tx, rx) = oneshot::channel();
        tokio::spawn(async move {
            let caught_up = tokio::time::timeout(bound, async {
                let point = cluster.sync_point().await.map_err(|e| e.to_string())?;
                state
                    .wait_applied_index(point)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            })
            .await
            .unwrap_or_else(|_| Err(format!("not caught up within {bound:?}")));
            let _ = tx.send(caught_up);
        });
        Some(rx)
    }

    /// Proposes a write now, or holds it while a local request is queued (that request must
    /// be answered from the state before this write).
    async fn write(&mut self, xid: i32, op: CommandOp, kind: WriteKind, at: Instant) {
        if self.locals > 0 || self.held > 0 {
            self.held += 1;
            self.queue.push_back(Slot::Held { xid, op, kind, at });
        } else {
            let rx = self.node.propose(op).await.done;
            self.queue.push_back(Slot::Write { xid, kind, rx, at });
        }
    }

    /// Proposes, in order, the held writes no local request is ahead of any more.
    async fn propose_held(&mut self) {
        if self.held == 0 {
            return;
        }
        for i in 0..self.queue.len() {
            match self.queue[i] {
                Slot::Local { .. } => return,
                Slot::Held { .. } => {
                    let Some(Slot::Held { xid, op, kind, at }) = self.queue.remove(i) else {
                        return;
                    };
                    self.held -= 1;
                    let rx = self.node.propose(op).await.done;
                    self.queue.insert(i, Slot::Write { xid, kind, rx, at });
                }
                _ => {}
            }
        }
    }

    async fn on_request(&mut self, xid: i32, req: Request) {
        let at = Instant::now();
        self.count_request();
        self.stats
            .last_op
            .store(req.opcode().code(), Ordering::Relaxed);
        self.stats
            .last_cxid
            .store(i64::from(xid), Ordering::Relaxed);
        // S5.1: any request, pings included, keeps the session alive.
        self.node.touch(self.session, self.timeout_ms);
        match request::plan(req) {
            Plan::Local(req) => {
                // In an ensemble, sync first catches this node up with the leader's commit
                // point; everything behind it in the queue waits too.
                if matches!(req, Request::Sync(_)) {
                    if let Some(rx) = self.sync_gate() {
                        self.queue.push_back(Slot::Gate { rx });
                    }
                }
                self.locals += 1;
                self.queue.push_back(Slot::Local {
                    xid,
                    req,
                    auth: self.auth.clone(),
                    at,
                })
            }
            Plan::Write(txn, kind) => {
                let op = CommandOp::Write {
                    session_id: self.session.get(),
                    owner: Some(self.owner),
                    auth: self.auth.to_vec(),
                    txn,
                };
                self.write(xid, op, kind, at).await;
            }
            Plan::CloseSession => {
                let op = CommandOp::CloseSession {
                    session_id: self.session.get(),
                    owner: Some(self.owner),
                };
                self.write(xid, op, WriteKind::CloseSession, at).await;
                self.ending = Ending::AfterQueue;
            }
            Plan::Auth(packet) => {
                let err = match auth::authenticate(&packet.scheme, &packet.auth, self.peer.ip()) {
                    AuthResult::Added(id) => {
                        if !self.auth.contains(&id) {
                            Arc::make_mut(&mut self.auth).push(id);
                        }
                        ErrorCode::Ok
                    }
                    AuthResult::Failed => {
                        self.node.stats.auth_failed.fetch_add(1, Ordering::Relaxed);
                        tracing::info!(peer = %self.peer, scheme = %packet.scheme, "auth failed");
                        // R8: ZooKeeper answers AuthFailed and drops the connection.
                        self.ending = Ending::AfterQueue;
                        ErrorCode::AuthFailed
                    }
                };
                self.queue.push_back(Slot::Ready {
                    header: ReplyHeader {
                        xid: xid::AUTH,
                        zxid: 0,
                        err: err.code(),
                    },
                    body: None,
                    at,
                });
            }
            Plan::Fail(err, body) => self.queue.push_back(Slot::Ready {
                header: ReplyHeader {
                    xid,
                    zxid: self.node.state.applied_zxid(),
                    err: err.code(),
                },
                body,
                at,
            }),
        }
    }
}

/// What the front slot was waiting for.
enum Waited {
    /// A write's fate.
    Write(Result<Done, oneshot::error::RecvError>),
    /// A sync gate's catch-up.
    Gate(Result<Result<(), String>, oneshot::error::RecvError>),
}

/// Resolves when the front slot is a write or gate whose wait is over; pends otherwise.
async fn front_wait(queue: &mut VecDeque<Slot>) -> Waited {
    match queue.front_mut() {
        Some(Slot::Write { rx, .. }) => Waited::Write(rx.await),
        Some(Slot::Gate { rx }) => Waited::Gate(rx.await),
        _ => std::future::pending().await,
    }
}
