//! The driver of one established session's connection: framing, socket I/O, stats, auth
//! and the memory bounds are here; the order of requests, replies and events is the pure
//! core's ([`Order`], `zk_session::order`), whose steps this carries out.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;

use tokio::io::AsyncRead;
use tokio::io::AsyncReadExt;
use tokio::io::AsyncWrite;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tokio::sync::oneshot;
use tokio::sync::watch;
use zk_consensus::CommandOp;
use zk_consensus::Outcome;
use zk_session::order::Carry;
use zk_session::order::Close;
use zk_session::order::Order;
use zk_session::order::Step;
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
use super::Ends;
use crate::auth;
use crate::auth::AuthResult;
use crate::hub::AfterApply;
use crate::hub::ConnId;
use crate::hub::ConnStats;
use crate::hub::Push;
use crate::node::Node;
use crate::request;
use crate::request::read;
use crate::request::write::WriteKind;
use crate::request::Plan;

/// What this connection's requests carry through the [`Order`] core.
struct Io;

impl Carry for Io {
    type Read = LocalRead;
    type Proposal = CommandOp;
    type WriteMeta = WriteMeta;
    type Outcome = Outcome;
    type Answer = Answer;
    type Event = WatcherEvent;

    fn attach_cost(read: &LocalRead) -> Option<usize> {
        read.cost
    }
}

/// A read's estimated reply bytes besides what it reads (a stat, the header, the framing).
const READ_OVERHEAD: usize = 128;

/// A child's estimated reply bytes in a getChildren (its name and its length prefix): only
/// the count is known without listing them.
const CHILD_ESTIMATE: usize = 64;

/// A proposed write of this connection, waiting for its outcome.
struct Proposed {
    /// Its request number (where reads behind it are attached, see [`Hub::after`]).
    ///
    /// [`Hub::after`]: crate::hub::Hub::after
    seq: u64,
    /// Batches of reads attached to it, in order.
    attached: Vec<Attached>,
}

/// Reads attached to a write: the apply hook answers them right after it ([`Step::Attach`]).
struct Attached {
    /// (reply xid, arrival) of each read, in order.
    reads: Vec<(i32, Instant)>,
    /// Their answers, sent before the write's [`Push::Applied`].
    rx: oneshot::Receiver<Vec<read::ReadAnswer>>,
}

/// A local request, answered from the applied state when its turn comes.
struct LocalRead {
    xid: i32,
    req: Request,
    /// The connection's ids when it arrived (a later addAuth does not change them).
    auth: Arc<Vec<Id>>,
    at: Instant,
    /// Its estimated reply bytes if it may be attached to a write ([`Carry::attach_cost`]).
    cost: Option<usize>,
}

/// What a write's reply needs besides its outcome.
struct WriteMeta {
    xid: i32,
    kind: WriteKind,
    at: Instant,
}

/// A reply ready to send, with the events that go right before it (setWatches' events for
/// changes the client missed).
struct Answer {
    header: ReplyHeader,
    body: Option<Response>,
    events: Vec<WatcherEvent>,
    at: Instant,
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

/// The longest a follower holds a read for entries it holds and has not applied
/// ([`Pipeline::catch_up_gate`]): a commit normally follows within a round trip.
const CATCH_UP_BOUND: Duration = Duration::from_millis(50);

/// The pause before a sync asks the leader's commit point again after a failed ask.
const SYNC_RETRY: Duration = Duration::from_millis(20);

/// A read buffer that grew past this for a large frame is given back afterwards.
const KEEP_BUFFER: usize = 64 << 10;

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
    /// The ids the client's certificate gave (secure port), for an addAuth `x509`.
    x509: Vec<Id>,
    pushes: mpsc::UnboundedReceiver<Push>,
    order: Order<Io>,
    /// The gates' catch-ups (a sync's, a follower read's), in the order the gates were
    /// queued (they pass in order).
    gates: VecDeque<Gate>,
    /// The proposed writes whose outcome has not come, in proposal order.
    proposed: VecDeque<Proposed>,
    /// Encoded replies and events; `out[..sent]` has left already.
    out: Vec<u8>,
    sent: usize,
    /// The core closed the connection once what is encoded has left.
    drained: bool,
    /// The core closed the connection at once (the session ended, told to stop).
    stop: bool,
}

impl Drop for Pipeline<'_> {
    /// Requests never answered (the connection ended) leave the node-wide count.
    fn drop(&mut self) {
        let n = u64::try_from(self.order.outstanding()).unwrap_or(u64::MAX);
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
        certified: Vec<Id>,
    ) -> Self {
        // As ZooKeeper: the client address, and the certificate's ids added on connect.
        let mut ids = vec![auth::ip_id(peer.ip())];
        ids.extend(certified.iter().cloned());
        let x509 = certified;
        Pipeline {
            node,
            conn,
            session,
            owner,
            timeout_ms,
            peer,
            stats,
            decoder,
            auth: Arc::new(ids),
            x509,
            pushes,
            order: Order::default(),
            gates: VecDeque::new(),
            proposed: VecDeque::new(),
            out,
            sent: 0,
            drained: false,
            stop: false,
        }
    }

    /// Serves until the client leaves, the session ends, or the node shuts down.
    ///
    /// Memory is bounded by design: replies are written as the socket takes them (inside the
    /// select, so a session ending or a shutdown is seen while the client does not read),
    /// requests are taken only while less than [`MAX_UNSENT`] bytes wait to be sent and
    /// fewer than [`MAX_OUTSTANDING`] requests are in the pipeline, and a buffer that grew
    /// for one large frame is given back.
    ///
    /// A buffering writer (TLS) is flushed whenever everything encoded has been written, so
    /// no reply waits in it while the client waits for it.
    pub(super) async fn run<R, W>(
        &mut self,
        ends: Ends<R, W>,
        mut inbuf: Vec<u8>,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<(), ConnError>
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        let Ends {
            mut rd,
            mut wr,
            buffered,
        } = ends;
        let mut unflushed = false;
        loop {
            // Frames already read (behind the ConnectRequest, or held back while the
            // connection was saturated) are taken as soon as there is room.
            self.take_frames(&mut inbuf)?;
            self.drive()?;
            self.tidy_buffers(&mut inbuf);
            if self.stop {
                break;
            }
            let unsent = self.unsent();
            if self.drained && unsent == 0 {
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
            let reading = self.order.accepting() && !self.saturated();
            let writing = unsent > 0;
            let flushing = unflushed && !writing;
            tokio::select! {
                biased;
                () = crate::shutdown::stopped(&mut shutdown) => break,
                push = self.pushes.recv() => match push {
                    // Handed out by `drive`, in order with the replies.
                    Some(p) => self.on_push(p),
                    None => break,
                },
                n = write_or_flush(&mut wr, &self.out[self.sent..], writing), if writing || flushing => {
                    match n? {
                        Some(0) => {
                            return Err(ConnError::Io(std::io::ErrorKind::WriteZero.into()));
                        }
                        Some(n) => {
                            self.sent += n;
                            unflushed = buffered;
                        }
                        None => unflushed = false,
                    }
                }
                passed = front_gate(&mut self.gates) => {
                    self.gates.pop_front();
                    match passed {
                        Ok(()) => self.order.gate_passed(),
                        Err(e) => self.order.gate_failed(e),
                    }
                }
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
        // Within the same bound: the TLS close_notify (and what a buffering writer holds).
        let _ = tokio::time::timeout(CLOSE_FLUSH, async {
            if !rest.is_empty() {
                wr.write_all(rest).await?;
            }
            wr.shutdown().await
        })
        .await;
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
            self.order.outstanding(),
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

    /// Feeds one push to the core.
    fn on_push(&mut self, p: Push) {
        match p {
            Push::Event { zxid, event } => self.order.event(zxid, event),
            Push::SessionEnded => self.order.session_ended(),
            Push::Close => self.order.told_to_close(),
            Push::Applied { zxid, outcome } => self.on_applied(zxid, outcome),
            Push::Failed(e) => self.order.failed(e.to_string()),
        }
    }

    /// Feeds the outcome of the oldest proposed write to the core, with the answers of the
    /// reads attached to it (the apply hook ran them before it pushed the outcome).
    fn on_applied(&mut self, zxid: i64, outcome: Outcome) {
        let mut answers = Vec::new();
        for mut batch in self
            .proposed
            .pop_front()
            .map(|p| p.attached)
            .unwrap_or_default()
        {
            let Ok(got) = batch.rx.try_recv() else {
                self.order.failed(format!(
                    "the reads attached to the write at {zxid} did not run"
                ));
                return;
            };
            for ((xid, at), a) in batch.reads.into_iter().zip(got) {
                let header = ReplyHeader {
                    xid,
                    zxid: a.zxid,
                    err: a.err.code(),
                };
                let answer = Answer {
                    header,
                    body: a.body,
                    events: a.events,
                    at,
                };
                answers.push((a.zxid, answer));
            }
        }
        self.order.applied(zxid, outcome, answers);
    }

    /// Feeds every push waiting on the channel to the core.
    fn pull(&mut self) {
        while let Ok(p) = self.pushes.try_recv() {
            self.on_push(p);
        }
    }

    /// Carries out the core's steps until it has none; a failed write or sync is an error
    /// (the connection closes: the client cannot know the write's fate, S8.1).
    fn drive(&mut self) -> Result<(), ConnError> {
        loop {
            // The core's contract: every push waiting is fed before it is polled (an answer
            // showing zxid Z then finds every event up to Z).
            self.pull();
            let Some(step) = self.order.poll() else {
                return Ok(());
            };
            match step {
                Step::Propose(op) => {
                    let origin = self.node.propose_for(self.conn, op);
                    self.proposed.push_back(Proposed {
                        seq: origin.seq,
                        attached: Vec::new(),
                    });
                }
                Step::Run(r) => self.run_read(r),
                Step::Attach(reads) => self.attach(reads)?,
                Step::Event(e) => self.event(&e),
                Step::Reply(a) => self.answer(a),
                Step::Written {
                    meta,
                    zxid,
                    outcome,
                } => self.written(meta, zxid, &outcome),
                Step::Close(Close::Drained) => self.drained = true,
                Step::Close(Close::SessionEnded | Close::Told) => self.stop = true,
                Step::Close(Close::Failed(why)) => return Err(ConnError::WriteFailed(why)),
            }
        }
    }

    /// Answers a local request from the applied state as it is now, outside apply: every
    /// write of the session before it has been applied, none after it proposed.
    fn run_read(&mut self, r: LocalRead) {
        let answer = {
            let st = self.node.state.read();
            let who = read::Reader {
                conn: self.conn,
                session: self.session,
                auth: &r.auth,
            };
            read::answer(&st, &self.node.hub, who, &r.req)
        };
        // Every event of a change up to the state the read saw is on the channel now.
        self.pull();
        let header = ReplyHeader {
            xid: reply_xid(r.xid, &r.req),
            zxid: answer.zxid,
            err: answer.err.code(),
        };
        self.order.answered(
            answer.zxid,
            Answer {
                header,
                body: answer.body,
                events: answer.events,
                at: r.at,
            },
        );
    }

    /// Hands `reads` to the write proposed last: the apply hook answers them right after it,
    /// on the state as it is then (under the write lock; the core keeps them few and cheap),
    /// so the write behind them is proposed at once. If that write was applied already, they
    /// are answered now: the state holds it and none of the session's later writes.
    fn attach(&mut self, reads: Vec<LocalRead>) -> Result<(), ConnError> {
        let Some(last) = self.proposed.back_mut() else {
            return Err(ConnError::WriteFailed(
                "reads attached to no proposed write".into(),
            ));
        };
        let mut meta = Vec::with_capacity(reads.len());
        let mut requests = Vec::with_capacity(reads.len());
        for r in reads {
            meta.push((reply_xid(r.xid, &r.req), r.at));
            requests.push((r.req, r.auth));
        }
        let (tx, rx) = oneshot::channel();
        let hub = self.node.hub.clone();
        let (conn, session) = (self.conn, self.session);
        let work: AfterApply = Box::new(move |st| {
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
        if let Err(work) = self.node.hub.after(last.seq, work) {
            let st = self.node.state.read();
            work(&st);
        }
        last.attached.push(Attached { reads: meta, rx });
        Ok(())
    }

    /// What `req` would cost if attached to a write ([`Carry::attach_cost`]): getData,
    /// exists and getChildren of one path may be, estimated from the node's stat; nothing
    /// else is (a sync, a multi-path read, a watch change). Only looked up while a write of
    /// this connection waits (a read may be attached only then).
    fn attach_cost(&self, req: &Request) -> Option<usize> {
        if !self.order.write_waiting() {
            return None;
        }
        let stat = |path: &str| self.node.state.read().tree.stat(path);
        let children = |s: Option<zk_wire::Stat>| {
            s.map_or(0, |s| {
                usize::try_from(s.num_children)
                    .unwrap_or(0)
                    .saturating_mul(CHILD_ESTIMATE)
            })
        };
        let bytes = match req {
            Request::Exists(_) => 0,
            Request::GetData(r) => {
                stat(&r.path).map_or(0, |s| usize::try_from(s.data_length).unwrap_or(0))
            }
            Request::GetChildren(r) => children(stat(&r.path)),
            Request::GetChildren2(r) => children(stat(&r.path)),
            _ => return None,
        };
        Some(bytes.saturating_add(READ_OVERHEAD))
    }

    /// Writes an answer's own events, then its reply.
    fn answer(&mut self, a: Answer) {
        for e in &a.events {
            self.event(e);
        }
        self.reply(a.header, a.body.as_ref(), a.at, false);
    }

    /// Writes the reply to a write applied at `zxid`.
    fn written(&mut self, meta: WriteMeta, zxid: i64, outcome: &Outcome) {
        let check_stat = match &meta.kind {
            WriteKind::Check { path } => self.node.state.read().tree.stat(path),
            _ => None,
        };
        let config = match &meta.kind {
            WriteKind::Reconfig => Some(self.node.state.read().tree.config_data().to_vec()),
            _ => None,
        };
        let (err, body) = request::write::reply(&meta.kind, outcome, check_stat, config.as_deref());
        let header = ReplyHeader {
            xid: meta.xid,
            zxid,
            err: err.code(),
        };
        self.reply(header, body.as_ref(), meta.at, true);
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
        // Every reply answers one request counted in `count_request`.
        self.node.stats.outstanding.fetch_sub(1, Ordering::Relaxed);
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
        while self.order.accepting() && !self.saturated() {
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
                    self.ready(
                        header.xid,
                        -1,
                        ErrorCode::Unimplemented,
                        None,
                        Instant::now(),
                    );
                    self.order.drain();
                }
                // A known opcode whose record does not decode (cut short, a bad length):
                // MarshallingError, and the connection goes on.
                Err(e) => {
                    tracing::info!(peer = %self.peer, op = header.op_type, "malformed request: {e}");
                    self.count_request();
                    let zxid = self.node.state.applied_zxid();
                    let err = ErrorCode::MarshallingError;
                    self.ready(header.xid, zxid, err, None, Instant::now());
                }
            }
            self.drive()?;
        }
        inbuf.drain(..start);
        Ok(())
    }

    /// Queues an answer known at once, sent in its turn.
    fn ready(&mut self, xid: i32, zxid: i64, err: ErrorCode, body: Option<Response>, at: Instant) {
        let header = ReplyHeader {
            xid,
            zxid,
            err: err.code(),
        };
        let answer = Answer {
            header,
            body,
            events: Vec::new(),
            at,
        };
        self.order.ready(zxid, answer);
    }

    fn count_request(&mut self) {
        self.stats.received.fetch_add(1, Ordering::Relaxed);
        self.stats.outstanding.fetch_add(1, Ordering::Relaxed);
        self.node.stats.received.fetch_add(1, Ordering::Relaxed);
        self.node.stats.outstanding.fetch_add(1, Ordering::Relaxed);
    }

    /// A task that asks the leader for its commit point (read index) and waits until this
    /// node has applied it, bounded by the largest session timeout. None on a lone voter,
    /// whose applied state is the commit point. A failed ask (no leader known for a moment,
    /// the read-index call timing out on a loaded machine) is tried again within the bound,
    /// as ZooKeeper's follower holds a sync until its leader answers: failing the gate closes
    /// the client's connection.
    fn sync_gate(&self) -> Option<oneshot::Receiver<Result<(), String>>> {
        // The lone voter itself; an observer of a lone voter still asks it.
        let standing = self.node.backend.standing();
        if standing.voters() <= 1 && standing.role == zk_consensus::RaftRole::Leader {
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
            let mut last = String::new();
            let caught_up = tokio::time::timeout(bound, async {
                let point = loop {
                    match backend.commit_point().await {
                        Ok(point) => break point,
                        Err(e) => {
                            tracing::debug!("sync: asking the commit point again: {e}");
                            last = e;
                            // A retry's pause, not a wait for an event.
                            tokio::time::sleep(SYNC_RETRY).await;
                        }
                    }
                };
                state
                    .wait_applied_index(point)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            })
            .await
            .unwrap_or_else(|_| Err(format!("not caught up within {bound:?} ({last})")));
            pending.fetch_sub(1, Ordering::Relaxed);
            let _ = tx.send(caught_up);
        });
        Some(rx)
    }

    /// On a follower whose log holds entries it has not applied yet, a read waits (at most
    /// [`CATCH_UP_BOUND`]) until they are applied: one of them may be a write its leader has
    /// acknowledged already, whose commit is still on its way here. Without this wait a
    /// client that read through another member right after its write was acknowledged saw
    /// the old value 10-20 % of the time (`zk-bench stale`); ZooKeeper's followers almost
    /// never do, because its leader's own path to the reply is longer. An entry that never
    /// commits (its leader died) holds reads for the bound at most. None on the leader
    /// (it answers a write only once applied) and when nothing is pending.
    fn catch_up_gate(&self) -> Option<Gate> {
        let accepted = self.node.backend.accepted_index();
        if accepted <= self.node.state.applied_index() || self.node.is_leader() {
            return None;
        }
        let mut applied = self.node.state.subscribe_applied();
        Some(Box::pin(async move {
            let caught_up = applied.wait_for(|p| p.index >= accepted);
            // Past the bound the read is answered from the state as it is, as without a gate.
            let _ = tokio::time::timeout(CATCH_UP_BOUND, caught_up).await;
            Ok(())
        }))
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
                let gate = match req {
                    Request::Sync(_) => self.sync_gate().map(|rx| -> Gate {
                        Box::pin(async move {
                            match rx.await {
                                Ok(Ok(())) => Ok(()),
                                Ok(Err(e)) => Err(format!("sync: {e}")),
                                Err(_) => Err("sync dropped".into()),
                            }
                        })
                    }),
                    Request::Ping => None,
                    _ => self.catch_up_gate(),
                };
                if let Some(gate) = gate {
                    self.order.gate();
                    self.gates.push_back(gate);
                }
                let cost = self.attach_cost(&req);
                self.order.read(LocalRead {
                    xid,
                    req,
                    auth: self.auth.clone(),
                    at,
                    cost,
                });
            }
            Plan::Write(txn, kind) => {
                let op = CommandOp::Write {
                    session_id: self.session.get(),
                    owner: Some(self.owner),
                    auth: self.auth.to_vec(),
                    txn,
                };
                self.order.write(op, WriteMeta { xid, kind, at });
            }
            Plan::CloseSession => {
                let op = CommandOp::CloseSession {
                    session_id: self.session.get(),
                    owner: Some(self.owner),
                };
                let kind = WriteKind::CloseSession;
                self.order.write(op, WriteMeta { xid, kind, at });
                self.order.drain();
            }
            Plan::Auth(packet) => {
                let super_digest = self.node.settings.super_digest.as_ref();
                let added = auth::authenticate(
                    &packet.scheme,
                    &packet.auth,
                    self.peer.ip(),
                    super_digest,
                    &self.x509,
                );
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
                        ErrorCode::AuthFailed
                    }
                };
                self.ready(xid::AUTH, 0, err, None, at);
                // R8: ZooKeeper answers AuthFailed and drops the connection.
                if err == ErrorCode::AuthFailed {
                    self.order.drain();
                }
            }
            Plan::Fail(err, body) => {
                let zxid = self.node.state.applied_zxid();
                self.ready(xid, zxid, err, body, at);
            }
            Plan::Reconfig(r) => {
                // As ZooKeeper: the leader judges reconfigEnabled (zk-consensus's proposer
                // logs the refusal in its place), so a member forwards the request whatever
                // its own setting. A standalone server is its own leader: refused unless
                // enabled, and it cannot be reconfigured.
                let refused = match self.node.settings.ensemble {
                    Some(_) => None,
                    None if !self.node.settings.reconfig_enabled => {
                        tracing::warn!(peer = %self.peer, "reconfig requested but reconfigEnabled is off");
                        Some(ErrorCode::ReconfigDisabled)
                    }
                    None => Some(ErrorCode::Unimplemented),
                };
                if let Some(err) = refused {
                    let zxid = self.node.state.applied_zxid();
                    self.ready(xid, zxid, err, None, at);
                    return;
                }
                let op = CommandOp::Reconfig {
                    session_id: self.session.get(),
                    owner: Some(self.owner),
                    auth: self.auth.to_vec(),
                    spec: zk_consensus::membership::ReconfigSpec {
                        joining: r.joining_servers,
                        leaving: r.leaving_servers,
                        new_members: r.new_members,
                    },
                    cur_config_id: r.cur_config_id,
                };
                let kind = WriteKind::Reconfig;
                self.order.write(op, WriteMeta { xid, kind, at });
            }
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

/// Writes what it can of `bytes` (`Some(n)`), or, if `write` is false, flushes what the
/// writer buffered (`None`): one future, as both need the writer.
async fn write_or_flush<W: AsyncWrite + Unpin>(
    wr: &mut W,
    bytes: &[u8],
    write: bool,
) -> std::io::Result<Option<usize>> {
    if write {
        wr.write(bytes).await.map(Some)
    } else {
        wr.flush().await.map(|()| None)
    }
}

/// A gate's catch-up: Ok once the requests behind it may go on, Err (the connection closes)
/// if they may not.
type Gate = std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send>>;

/// Resolves when the oldest gate's catch-up is over; pends while there is none.
async fn front_gate(gates: &mut VecDeque<Gate>) -> Result<(), String> {
    match gates.front_mut() {
        Some(gate) => gate.await,
        None => std::future::pending().await,
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
