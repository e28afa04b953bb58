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
    /// Reads handed to the write before them: the apply hook answers them right after that
    /// write and before any later one (FIFO: a read sees exactly the session's writes sent
    /// before it), so the writes behind them need not wait. Their answers arrive before the
    /// write's own outcome.
    Attached {
        /// (reply xid, arrival) of each read, in order.
        reads: Vec<(i32, Instant)>,
        rx: oneshot::Receiver<Vec<read::ReadAnswer>>,
    },
    /// A write held back, not proposed yet: a local request before it still waits for an
    /// earlier write and could not be handed to it, and must not see this one. Proposed once
    /// no local request is ahead of it.
    Held {
        xid: i32,
        op: CommandOp,
        kind: WriteKind,
        at: Instant,
    },
    /// A proposed write, answered once applied.
    Write {
        xid: i32,
        /// Its request number (where reads behind it can be handed, see [`Hub::after`]).
        ///
        /// [`Hub::after`]: crate::hub::Hub::after
        seq: u64,
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

/// Unsent reply bytes past which the connection stops taking requests (it reads no more of
/// the socket, so the client's own writes back up: ZooKeeper throttles the same way). A
/// client that pipelined 3,000 getData of a 100 KiB znode and never read grew a node by
/// 300 MB, held past its session's end, before this bound.
const MAX_UNSENT: usize = 1 << 20;

/// Unsent bytes past which the client is cut off (the session lives on; it reconnects).
/// Requests stop at [`MAX_UNSENT`]; only pushed events (a persistent watch under a write
/// flood, say) can take a connection that does not read this far.
const MAX_UNSENT_HARD: usize = 4 << 20;

/// Requests of one connection in the pipeline at once; past it the socket is not read.
const MAX_OUTSTANDING: usize = 256;

/// Whether a connection may take another request now (see [`Pipeline::run`]). Past
/// [`MAX_UNSENT`] unsent bytes or [`MAX_OUTSTANDING`] requests of its own it may not; past
/// the node-wide `global_limit` (ZooKeeper's `globalOutstandingLimit`; 0: none) it may not
/// either, unless it has none in flight: every throttled connection then still has an
/// answer of its own coming, which wakes it, so throttling never stalls a connection
/// forever, and the node holds at most the limit plus one request per connection.
pub(crate) fn may_take(unsent: usize, in_flight: usize, global: u64, global_limit: u64) -> bool {
    unsent < MAX_UNSENT
        && in_flight < MAX_OUTSTANDING
        && (in_flight == 0 || global_limit == 0 || global < global_limit)
}

/// How long the last replies may take to leave when the connection ends (its session ended
/// or moved, the node stops): a client that does not read must not hold the socket open.
const CLOSE_FLUSH: Duration = Duration::from_millis(200);

/// A read buffer that grew past this for a large frame is given back afterwards.
const KEEP_BUFFER: usize = 64 << 10;

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
    pushes: mpsc::UnboundedReceiver<Push>,
    /// Pushes taken off the channel and not written yet; events leave in zxid order with the
    /// replies (see [`Pipeline::write_pushes`]).
    inbox: VecDeque<Push>,
    /// A push said this connection must stop.
    stop: bool,
    queue: VecDeque<Slot>,
    /// `Local` slots in `queue` (a write behind any of them is held).
    locals: usize,
    /// `Held` slots in `queue`.
    held: usize,
    /// Encoded replies and events; `out[..sent]` has left already.
    out: Vec<u8>,
    sent: usize,
    ending: Ending,
    /// Requests taken and not answered yet (this pipeline's own count: `stats.outstanding`
    /// is for the words, and the node-wide count is shared).
    in_flight: usize,
}

impl Drop for Pipeline<'_> {
    /// Requests never answered (the connection ended) leave the node-wide count.
    fn drop(&mut self) {
        let n = u64::try_from(self.in_flight).unwrap_or(u64::MAX);
        let _ =
            self.node
                .stats
                .outstanding
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |g| {
                    Some(g.saturating_sub(n))
                });
    }
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
        pushes: mpsc::UnboundedReceiver<Push>,
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
            pushes,
            inbox: VecDeque::new(),
            stop: false,
            queue: VecDeque::new(),
            locals: 0,
            held: 0,
            out,
            sent: 0,
            ending: Ending::No,
            in_flight: 0,
        }
    }

    /// Serves until the client leaves, the session ends, or the node shuts down.
    ///
    /// Memory is bounded by design: replies are written as the socket takes them (inside the
    /// select, so a session ending or a shutdown is seen while the client does not read),
    /// requests are taken only while less than [`MAX_UNSENT`] bytes wait to be sent and
    /// fewer than [`MAX_OUTSTANDING`] requests are in the pipeline, and a buffer that grew
    /// for one large frame is given back.
    pub(super) async fn run(
        &mut self,
        mut rd: OwnedReadHalf,
        mut wr: OwnedWriteHalf,
        mut inbuf: Vec<u8>,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<(), ConnError> {
        loop {
            // Frames already read (behind the ConnectRequest, or held back while the
            // connection was saturated) are taken as soon as there is room.
            self.take_frames(&mut inbuf)?;
            self.advance()?;
            self.propose_held();
            self.tidy_buffers(&mut inbuf);
            if self.stop {
                break;
            }
            let unsent = self.unsent();
            if self.ending == Ending::AfterQueue && self.queue.is_empty() && unsent == 0 {
                break;
            }
            if unsent > MAX_UNSENT_HARD {
                return Err(ConnError::Refused(format!(
                    "client not reading: {unsent} bytes unsent"
                )));
            }
            if let Ok(Some(n)) = self.decoder.body_len(&inbuf) {
                inbuf.reserve((n + 4).saturating_sub(inbuf.len()));
            }
            let reading = self.ending == Ending::No && !self.saturated();
            let writing = unsent > 0;
            tokio::select! {
                biased;
                () = crate::shutdown::stopped(&mut shutdown) => break,
                push = self.pushes.recv() => match push {
                    // Written by `advance`, in order with the replies.
                    Some(p) => self.inbox.push_back(p),
                    None => break,
                },
                n = wr.write(&self.out[self.sent..]), if writing => {
                    let n = n?;
                    if n == 0 {
                        return Err(ConnError::Io(std::io::ErrorKind::WriteZero.into()));
                    }
                    self.sent += n;
                }
                waited = front_wait(&mut self.queue) => match waited {
                    Waited::Write(done) => self.finish_write(done)?,
                    Waited::Attached(answers) => self.finish_attached(answers)?,
                    Waited::Gate(passed) => self.pass_gate(passed)?,
                },
                n = rd.read_buf(&mut inbuf), if reading => {
                    let n = n?;
                    if n == 0 {
                        break;
                    }
                    self.node.stats.bytes_received.fetch_add(n as u64, Ordering::Relaxed);
                }
            }
        }
        // What is answered goes out if the client takes it promptly (a closeSession's reply,
        // the replies before an expiry); a client that does not read is not waited for.
        let rest = &self.out[self.sent.min(self.out.len())..];
        if !rest.is_empty() {
            let _ = tokio::time::timeout(CLOSE_FLUSH, wr.write_all(rest)).await;
        }
        let _ = wr.shutdown().await;
        Ok(())
    }

    /// Bytes encoded and not yet sent.
    fn unsent(&self) -> usize {
        self.out.len().saturating_sub(self.sent)
    }

    /// True while no more requests may be taken (see [`may_take`]).
    fn saturated(&self) -> bool {
        !may_take(
            self.unsent(),
            self.in_flight,
            self.node.stats.outstanding.load(Ordering::Relaxed),
            self.node.settings.global_outstanding_limit,
        )
    }

    /// Drops what has been sent from the output buffer, and gives back memory either buffer
    /// took for a large frame once it is no longer needed.
    fn tidy_buffers(&mut self, inbuf: &mut Vec<u8>) {
        if self.sent >= self.out.len() {
            self.out.clear();
            self.sent = 0;
        } else if self.sent >= KEEP_BUFFER && self.sent * 2 >= self.out.len() {
            self.out.drain(..self.sent);
            self.sent = 0;
        }
        if self.out.capacity() > MAX_UNSENT && self.out.len() <= KEEP_BUFFER {
            self.out.shrink_to(KEEP_BUFFER);
        }
        if inbuf.capacity() > KEEP_BUFFER && inbuf.len() <= KEEP_BUFFER {
            inbuf.shrink_to(KEEP_BUFFER);
        }
    }

    /// Takes every push waiting on the channel into the inbox.
    fn pull(&mut self) {
        while let Ok(p) = self.pushes.try_recv() {
            self.inbox.push_back(p);
        }
    }

    /// Writes the inbox's pushes in order up to the first event fired after `zxid`.
    ///
    /// Why by zxid: a reply shows the state at its zxid, so an event fired at or before it
    /// goes first (the client sees the event before the change) and one fired after it goes
    /// later (a watch set by that very reply must not fire before the reply arrives: the
    /// client would not know the watch yet and would lose the event).
    fn write_pushes(&mut self, zxid: i64) {
        while let Some(p) = self.inbox.front() {
            if matches!(p, Push::Event { zxid: z, .. } if *z > zxid) {
                break;
            }
            let Some(p) = self.inbox.pop_front() else {
                break;
            };
            match p {
                Push::Event { event, .. } => self.event(&event),
                // A queued closeSession still gets its answer; an expired session's
                // connection just closes (the client learns "expired" when it reconnects,
                // S6.4).
                Push::SessionEnded => self.stop |= self.ending != Ending::AfterQueue,
                Push::Close => self.stop = true,
            }
        }
    }

    /// Answers every slot at the front that can be answered now, each after the events
    /// fired up to the state it shows.
    fn advance(&mut self) -> Result<(), ConnError> {
        loop {
            // Taken before looking at the front: a push fired after the front's write was
            // applied is only on the channel once that write's outcome is.
            self.pull();
            match self.queue.front_mut() {
                None => break,
                Some(Slot::Write { rx, .. }) => match rx.try_recv() {
                    Ok(done) => self.finish_write(Ok(done))?,
                    Err(oneshot::error::TryRecvError::Empty) => break,
                    Err(oneshot::error::TryRecvError::Closed) => {
                        return Err(ConnError::WriteFailed("write dropped".into()))
                    }
                },
                Some(Slot::Attached { rx, .. }) => match rx.try_recv() {
                    Ok(answers) => self.finish_attached(Ok(answers))?,
                    Err(oneshot::error::TryRecvError::Empty) => break,
                    Err(oneshot::error::TryRecvError::Closed) => {
                        return Err(ConnError::WriteFailed("read dropped".into()))
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
                    self.answer_now(slot);
                }
            }
        }
        // What is still queued will show a later state than any event taken so far.
        self.write_pushes(i64::MAX);
        Ok(())
    }

    /// Answers a local or ready slot.
    fn answer_now(&mut self, slot: Slot) {
        match slot {
            Slot::Local { xid, req, auth, at } => {
                self.locals -= 1;
                let answer = {
                    let st = self.node.state.read();
                    // Under the read lock every event fired up to this state is on the
                    // channel, and none after it.
                    self.pull();
                    let who = read::Reader {
                        conn: self.conn,
                        session: self.session,
                        auth: &auth,
                    };
                    read::answer(&st, &self.node.hub, who, &req)
                };
                self.answer_read(reply_xid(xid, &req), answer, at);
            }
            Slot::Ready { header, body, at } => {
                self.write_pushes(header.zxid);
                self.reply(header, body.as_ref(), at, false)
            }
            Slot::Held { .. } | Slot::Write { .. } | Slot::Gate { .. } | Slot::Attached { .. } => {}
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

    /// Writes a read's events and reply, after the events fired up to the state it shows.
    fn answer_read(&mut self, xid: i32, answer: read::ReadAnswer, at: Instant) {
        self.write_pushes(answer.zxid);
        for e in &answer.events {
            self.event(e);
        }
        let header = ReplyHeader {
            xid,
            zxid: answer.zxid,
            err: answer.err.code(),
        };
        self.reply(header, answer.body.as_ref(), at, false);
    }

    /// Answers the front reads handed to the write before them.
    fn finish_attached(
        &mut self,
        answers: Result<Vec<read::ReadAnswer>, oneshot::error::RecvError>,
    ) -> Result<(), ConnError> {
        let Some(Slot::Attached { reads, .. }) = self.queue.pop_front() else {
            return Ok(());
        };
        let answers = answers.map_err(|_| ConnError::WriteFailed("read dropped".into()))?;
        if answers.len() != reads.len() {
            return Err(ConnError::WriteFailed("reads answered in part".into()));
        }
        self.pull();
        for ((xid, at), answer) in reads.into_iter().zip(answers) {
            self.answer_read(xid, answer, at);
        }
        Ok(())
    }

    /// Answers the front write with its fate.
    fn finish_write(
        &mut self,
        done: Result<Done, oneshot::error::RecvError>,
    ) -> Result<(), ConnError> {
        let Some(Slot::Write { xid, kind, at, .. }) = self.queue.pop_front() else {
            return Ok(());
        };
        let (zxid, outcome) = match done {
            Ok(Ok(v)) => v,
            Ok(Err(e)) => return Err(ConnError::WriteFailed(e.to_string())),
            Err(_) => return Err(ConnError::WriteFailed("write dropped".into())),
        };
        // Every event fired up to this write was on the channel before its outcome was.
        self.pull();
        self.write_pushes(zxid);
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
        self.reply(header, body.as_ref(), at, true);
        Ok(())
    }

    /// Writes a reply; `write` says whether it answers a replicated write (ZooKeeper's
    /// `updatelatency`) or anything answered locally (`readlatency`, pings included as in
    /// ZooKeeper).
    fn reply(&mut self, header: ReplyHeader, body: Option<&Response>, at: Instant, write: bool) {
        let before = self.out.len();
        write_frame(&mut self.out, |o| {
            header.encode(o);
            if let Some(b) = body {
                b.encode(o);
            }
        });
        self.node.stats.count_response(self.out.len() - before);
        let took = at.elapsed();
        if write {
            self.node.stats.update_latency.record(took);
        } else {
            self.node.stats.read_latency.record(took);
        }
        self.stats.last_zxid.store(header.zxid, Ordering::Relaxed);
        self.stats.sent.fetch_add(1, Ordering::Relaxed);
        self.stats.outstanding.fetch_sub(1, Ordering::Relaxed);
        if self.in_flight > 0 {
            self.in_flight -= 1;
            self.node.stats.outstanding.fetch_sub(1, Ordering::Relaxed);
        }
        self.stats
            .last_response_ms
            .store(zk_consensus::now_ms(), Ordering::Relaxed);
        self.stats.latency.record(took);
        self.node.stats.sent.fetch_add(1, Ordering::Relaxed);
        self.node.stats.latency.record(took);
    }

    fn event(&mut self, e: &WatcherEvent) {
        let before = self.out.len();
        write_frame(&mut self.out, |o| {
            ReplyHeader {
                xid: xid::NOTIFICATION,
                zxid: -1,
                err: 0,
            }
            .encode(o);
            e.encode(o);
        });
        self.node.stats.count_response(self.out.len() - before);
        self.stats.sent.fetch_add(1, Ordering::Relaxed);
        self.node.stats.sent.fetch_add(1, Ordering::Relaxed);
    }

    /// Takes complete frames out of `inbuf` while the connection is not saturated, answering
    /// what can be answered after each (so one read holding thousands of small requests
    /// cannot encode thousands of large replies at once); a bad frame is an error (close).
    fn take_frames(&mut self, inbuf: &mut Vec<u8>) -> Result<(), ConnError> {
        let mut start = 0;
        while self.ending == Ending::No && !self.stop && !self.saturated() {
            let Some(frame) = self.decoder.decode(&inbuf[start..])? else {
                break;
            };
            let consumed = frame.consumed;
            let mut r = Reader::new(frame.body);
            let header = RequestHeader::decode(&mut r)?;
            let decoded = Request::decode_lenient(&header, r.rest());
            start += consumed;
            // The edges answer as ZooKeeper 3.8 does (measured with raw frames against
            // Debian's 3.8.0: docs/protocol.md, "Malformed requests").
            match decoded {
                Ok(req) => self.on_request(header.xid, req),
                // An opcode this server does not know (a second ConnectRequest reads as
                // opcode 0): Unimplemented with zxid -1, then the connection closes.
                Err(DecodeError::UnknownOpCode(op)) => {
                    tracing::info!(peer = %self.peer, op, "unknown opcode: closing");
                    self.count_request();
                    self.queue.push_back(Slot::Ready {
                        header: ReplyHeader {
                            xid: header.xid,
                            zxid: -1,
                            err: ErrorCode::Unimplemented.code(),
                        },
                        body: None,
                        at: Instant::now(),
                    });
                    self.ending = Ending::AfterQueue;
                }
                // A known opcode whose record does not decode (cut short, a bad length):
                // MarshallingError, and the connection goes on.
                Err(e) => {
                    tracing::info!(peer = %self.peer, op = header.op_type, "malformed request: {e}");
                    self.count_request();
                    self.queue.push_back(Slot::Ready {
                        header: ReplyHeader {
                            xid: header.xid,
                            zxid: self.node.state.applied_zxid(),
                            err: ErrorCode::MarshallingError.code(),
                        },
                        body: None,
                        at: Instant::now(),
                    });
                }
            }
            self.advance()?;
        }
        inbuf.drain(..start);
        Ok(())
    }

    fn count_request(&mut self) {
        self.in_flight += 1;
        self.stats.received.fetch_add(1, Ordering::Relaxed);
        self.stats.outstanding.fetch_add(1, Ordering::Relaxed);
        self.node.stats.received.fetch_add(1, Ordering::Relaxed);
        self.node.stats.outstanding.fetch_add(1, Ordering::Relaxed);
    }

    /// A task that asks the leader for its commit point (read index) and waits until this
    /// node has applied it, bounded by the largest session timeout. None on a lone voter,
    /// whose applied state is the commit point.
    fn sync_gate(&self) -> Option<oneshot::Receiver<Result<(), String>>> {
        if self.node.backend.standing().voters() <= 1 {
            return None;
        }
        let backend = self.node.backend.clone();
        let state = self.node.state.clone();
        let bound = Duration::from_millis(u64::from(self.node.settings.timeouts.max_ms()));
        let (tx, rx) = oneshot::channel();
        // Shared with the task, which may outlive this connection.
        let pending = Arc::clone(&self.node.stats.pending_syncs);
        pending.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(async move {
            let caught_up = tokio::time::timeout(bound, async {
                let point = backend.commit_point().await?;
                state
                    .wait_applied_index(point)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            })
            .await
            .unwrap_or_else(|_| Err(format!("not caught up within {bound:?}")));
            pending.fetch_sub(1, Ordering::Relaxed);
            let _ = tx.send(caught_up);
        });
        Some(rx)
    }

    /// Proposes a write now, or holds it while a local request is queued that could not be
    /// handed to the write before it (that request must be answered from the state before
    /// this write).
    fn write(&mut self, xid: i32, op: CommandOp, kind: WriteKind, at: Instant) {
        if self.held == 0 && (self.locals == 0 || self.attach_locals()) {
            self.propose(xid, op, kind, at);
        } else {
            self.held += 1;
            self.queue.push_back(Slot::Held { xid, op, kind, at });
        }
    }

    fn propose(&mut self, xid: i32, op: CommandOp, kind: WriteKind, at: Instant) {
        let proposal = self.node.propose(op);
        self.queue.push_back(Slot::Write {
            xid,
            seq: proposal.origin.seq,
            kind,
            rx: proposal.done,
            at,
        });
    }

    /// Hands every queued local request to the write just before them, when they are all
    /// that follows it: the apply hook answers them right after that write, so a later write
    /// can be proposed now (ZooKeeper's commit processor likewise answers a session's reads
    /// queued behind a write right after that write commits). False if the queue has
    /// another shape (a sync gate, an answer in between); the caller then holds the write.
    fn attach_locals(&mut self) -> bool {
        let Some(w) = self.queue.len().checked_sub(self.locals + 1) else {
            return false;
        };
        let Slot::Write { seq, .. } = self.queue[w] else {
            return false;
        };
        if !self
            .queue
            .range(w + 1..)
            .all(|s| matches!(s, Slot::Local { .. }))
        {
            return false;
        }
        let mut reads = Vec::with_capacity(self.locals);
        let mut requests = Vec::with_capacity(self.locals);
        for slot in self.queue.drain(w + 1..) {
            if let Slot::Local { xid, req, auth, at } = slot {
                reads.push((reply_xid(xid, &req), at));
                requests.push((req, auth));
            }
        }
        self.locals = 0;
        let (tx, rx) = oneshot::channel();
        let hub = self.node.hub.clone();
        let (conn, session) = (self.conn, self.session);
        let work: crate::hub::AfterApply = Box::new(move |st| {
            let answers = requests
                .iter()
                .map(|(req, auth)| {
                    let who = read::Reader {
                        conn,
                        session,
                        auth,
                    };
                    read::answer(st, &hub, who, req)
                })
                .collect();
            let _ = tx.send(answers);
        });
        if let Err(work) = self.node.hub.after(seq, self.conn, work) {
            // Already applied here: the state holds that write and none of this session's
            // later ones (the next is proposed only after this), which is what these reads
            // must see.
            let st = self.node.state.read();
            work(&st);
        }
        self.queue.push_back(Slot::Attached { reads, rx });
        true
    }

    /// Proposes, in order, the held writes no local request is ahead of any more.
    fn propose_held(&mut self) {
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
                    let proposal = self.node.propose(op);
                    self.queue.insert(
                        i,
                        Slot::Write {
                            xid,
                            seq: proposal.origin.seq,
                            kind,
                            rx: proposal.done,
                            at,
                        },
                    );
                }
                _ => {}
            }
        }
    }

    fn on_request(&mut self, xid: i32, req: Request) {
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
                self.write(xid, op, kind, at);
            }
            Plan::CloseSession => {
                let op = CommandOp::CloseSession {
                    session_id: self.session.get(),
                    owner: Some(self.owner),
                };
                self.write(xid, op, WriteKind::CloseSession, at);
                self.ending = Ending::AfterQueue;
            }
            Plan::Auth(packet) => {
                let super_digest = self.node.settings.super_digest.as_ref();
                let added =
                    auth::authenticate(&packet.scheme, &packet.auth, self.peer.ip(), super_digest);
                let err = match added {
                    AuthResult::Added(ids) => {
                        for id in ids {
                            if !self.auth.contains(&id) {
                                Arc::make_mut(&mut self.auth).push(id);
                            }
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

/// The xid a local request's reply carries (a ping's reply has its own).
fn reply_xid(xid: i32, req: &Request) -> i32 {
    if matches!(req, Request::Ping) {
        xid::PING
    } else {
        xid
    }
}

/// What the front slot was waiting for.
enum Waited {
    /// A write's fate.
    Write(Result<Done, oneshot::error::RecvError>),
    /// The answers of reads handed to a write.
    Attached(Result<Vec<read::ReadAnswer>, oneshot::error::RecvError>),
    /// A sync gate's catch-up.
    Gate(Result<Result<(), String>, oneshot::error::RecvError>),
}

/// Resolves when the front slot is a write or gate whose wait is over; pends otherwise.
async fn front_wait(queue: &mut VecDeque<Slot>) -> Waited {
    match queue.front_mut() {
        Some(Slot::Write { rx, .. }) => Waited::Write(rx.await),
        Some(Slot::Attached { rx, .. }) => Waited::Attached(rx.await),
        Some(Slot::Gate { rx }) => Waited::Gate(rx.await),
        _ => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 18: a connection stops taking requests at its own bounds (unsent bytes,
    /// requests in flight) and at the node-wide limit, but never while it has nothing in
    /// flight of its own (nothing would wake it), and 0 is no node-wide limit.
    #[test]
    fn a_connection_takes_requests_within_its_own_and_the_nodes_bounds() {
        assert!(may_take(0, 0, 0, 1000));
        assert!(!may_take(MAX_UNSENT, 0, 0, 1000), "too much unsent");
        assert!(may_take(MAX_UNSENT - 1, MAX_OUTSTANDING - 1, 999, 1000));
        assert!(
            !may_take(0, MAX_OUTSTANDING, 0, 1000),
            "too many of its own"
        );
        assert!(!may_take(0, 1, 1000, 1000), "the node is at its limit");
        assert!(may_take(0, 0, 5000, 1000), "none in flight: one may go in");
        assert!(may_take(0, 1, 5000, 0), "0: no node-wide limit");
    }
}
