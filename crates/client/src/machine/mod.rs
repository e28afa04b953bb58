//! The session state machine: a pure, deterministic core with no sockets, no tasks and no
//! clock of its own. Inputs are "connection up/down", "bytes arrived", "tick at time T",
//! "submit/close"; outputs ([`Output`]) are "connect to server X", "send these bytes",
//! "drop the connection", "deliver event", "complete request". The tokio layer (`io.rs`)
//! only carries these out, so every timing rule here is tested with an injected clock.
//!
//! The rules, after ZooKeeper's `ClientCnxn`: ping after a third of the negotiated timeout
//! with nothing sent (S5.2); drop a connection that was silent for two thirds (S5.3); a
//! connect attempt (TCP + handshake) may take timeout / number of servers; servers tried
//! round-robin with back-off between full rounds (S2.2); a server that closes without
//! answering the handshake (behind, S3.4) is just the next server's turn.

mod hosts;
mod set_watches;

use std::collections::VecDeque;
use std::hash::Hash;
use std::time::{Duration, Instant};

use tracing::{debug, info, warn};
use zk_wire::jute::Reader;
use zk_wire::{
    write_frame, AuthPacket, ConnectRequest, ConnectResponse, ErrorCode, EventType, FrameDecoder,
    KeeperState, OpCode, Record, ReplyHeader, Request, Response, WatcherEvent, WatcherType,
};

pub use hosts::{HostCycle, Next};
pub use set_watches::{batches as set_watches_batches, DEFAULT_BATCH_BYTES};

use crate::chroot::Chroot;
use crate::connect_string::HostPort;
use crate::error::Error;
use crate::state::{CloseReason, SessionInfo, State, WatchedEvent};
use crate::watches::{WatchKind, WatchRegistry};

/// Identifies one connection attempt; inputs for an attempt that is no longer current are
/// ignored, so a late "connected" or stray bytes from an old socket cannot confuse the core.
pub type ConnId = u64;

/// What the core needs to know up front.
#[derive(Debug, Clone)]
pub struct Config {
    /// The servers in the order to try them (the caller shuffles: the core has no randomness).
    pub servers: Vec<HostPort>,
    /// The chroot of the connect string.
    pub chroot: Chroot,
    /// The requested session timeout; the negotiated one replaces it after the handshake.
    pub session_timeout: Duration,
    /// The first back-off after a full round of failed servers.
    pub backoff_initial: Duration,
    /// The largest back-off.
    pub backoff_max: Duration,
    /// The largest frame accepted from a server (jute.maxbuffer).
    pub max_frame: usize,
    /// The encoded-size limit of one SetWatches batch.
    pub set_watches_batch: usize,
    /// An existing session to resume (id, password), as ZooKeeper's constructor allows.
    pub session: Option<(i64, Vec<u8>)>,
}

impl Config {
    /// Defaults for `servers`: no chroot, 30 s timeout, back-off 100 ms doubling to 1 s.
    pub fn new(servers: Vec<HostPort>) -> Config {
        Config {
            servers,
            chroot: Chroot::default(),
            session_timeout: Duration::from_secs(30),
            backoff_initial: Duration::from_millis(100),
            backoff_max: Duration::from_secs(1),
            max_frame: zk_wire::DEFAULT_MAX_FRAME,
            set_watches_batch: DEFAULT_BATCH_BYTES,
            session: None,
        }
    }
}

/// A request handed to the core. `T` completes it; `W` is the watcher to register if the
/// request leaves a watch (`watch: true` in getData/exists/getChildren, or addWatch).
#[derive(Debug)]
pub struct Submit<T, W> {
    /// The request, paths in the client's namespace (the core applies the chroot).
    pub request: Request,
    /// The watcher for a watch the request leaves.
    pub watcher: Option<W>,
    /// Handed back in [`Output::Complete`].
    pub tag: T,
}

/// What the driver must do.
#[derive(Debug)]
pub enum Output<T, W> {
    /// Open a TCP connection to `server` and report [`Core::connected`] or
    /// [`Core::connect_failed`] for `conn`.
    Connect {
        /// The attempt.
        conn: ConnId,
        /// Where to.
        server: HostPort,
    },
    /// Write these bytes (whole frames) on `conn`.
    Send {
        /// The connection.
        conn: ConnId,
        /// One or more frames.
        bytes: Vec<u8>,
    },
    /// Close `conn` (or abandon the attempt).
    Disconnect {
        /// The connection.
        conn: ConnId,
    },
    /// The handle's state changed.
    State(State),
    /// The server granted (or confirmed) the session.
    Session(SessionInfo),
    /// Deliver `event` to `watcher`.
    Event {
        /// Who.
        watcher: W,
        /// What.
        event: WatchedEvent,
    },
    /// A request finished.
    Complete {
        /// The request's tag.
        tag: T,
        /// Its reply (chroot stripped) or error. A failed multi is an `Ok` reply whose
        /// results carry the errors.
        result: Result<Response, Error>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Not started, or CLOSED.
    Idle,
    /// Waiting out a back-off.
    Backoff { until: Instant },
    /// TCP connect under way.
    Connecting { conn: ConnId, since: Instant },
    /// ConnectRequest sent, no answer yet.
    Handshaking { conn: ConnId, since: Instant },
    /// Session established on `conn`.
    Open {
        conn: ConnId,
        last_send: Instant,
        last_recv: Instant,
    },
}

/// How a pending request's reply registers a watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WatchOn {
    /// exists: a data watch if the node exists, an exist watch if it does not.
    Exists,
    Data,
    Child,
    Persistent,
    PersistentRecursive,
}

#[derive(Debug)]
struct Pending<T, W> {
    xid: i32,
    op: OpCode,
    tag: T,
    watch: Option<(WatchOn, String, W)>,
    remove: Option<(String, WatcherType)>,
}

/// The session state machine (see the module docs).
#[derive(Debug)]
pub struct Core<T, W> {
    cfg: Config,
    default_watcher: W,
    state: State,
    phase: Phase,
    next_conn: ConnId,
    hosts: HostCycle,
    session: SessionInfo,
    last_zxid: i64,
    next_xid: i32,
    pending: VecDeque<Pending<T, W>>,
    auth: Vec<AuthPacket>,
    pending_auth: VecDeque<Option<T>>,
    watches: WatchRegistry<W>,
    inbuf: Vec<u8>,
    /// A CloseSession in flight: who waits, until when, and its xid.
    closing: Option<(Option<T>, Instant, i32)>,
    out: VecDeque<Output<T, W>>,
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl<T, W: Clone + Eq + Hash> Core<T, W> {
    /// A core in CONNECTING that has not tried any server yet: call [`Core::start`].
    pub fn new(cfg: Config, default_watcher: W) -> Core<T, W> {
        let hosts = HostCycle::new(cfg.servers.len(), cfg.backoff_initial, cfg.backoff_max);
        let session = match &cfg.session {
            Some((id, pw)) => SessionInfo {
                id: *id,
                password: pw.clone(),
                timeout: Duration::ZERO,
            },
            None => SessionInfo::default(),
        };
        Core {
            cfg,
            default_watcher,
            state: State::Connecting,
            phase: Phase::Idle,
            next_conn: 1,
            hosts,
            session,
            last_zxid: 0,
            next_xid: 1,
            pending: VecDeque::new(),
            auth: Vec::new(),
            pending_auth: VecDeque::new(),
            watches: WatchRegistry::default(),
            inbuf: Vec::new(),
            closing: None,
            out: VecDeque::new(),
        }
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The session as last granted.
    pub fn session(&self) -> &SessionInfo {
        &self.session
    }

    /// The highest zxid seen in a reply (sent as lastZxidSeen, S3.4).
    pub fn last_zxid(&self) -> i64 {
        self.last_zxid
    }

    /// The watch registry (for inspection).
    pub fn watches(&self) -> &WatchRegistry<W> {
        &self.watches
    }

    /// Requests sent and not yet answered.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// The timeout in force: the negotiated one once known (S4.1), else the requested one.
    pub fn timeout(&self) -> Duration {
        if self.session.timeout.is_zero() {
            self.cfg.session_timeout
        } else {
            self.session.timeout
        }
    }

    /// Idle time after which a ping is sent: a third of the timeout (S5.2).
    pub fn ping_interval(&self) -> Duration {
        Duration::from_millis(ms(self.timeout()) / 3)
    }

    /// Silence after which the connection is dropped: two thirds of the timeout (S5.3).
    pub fn read_timeout(&self) -> Duration {
        Duration::from_millis(ms(self.timeout()) * 2 / 3)
    }

    /// Time one server gets to connect and answer the handshake: timeout / servers.
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(ms(self.timeout()) / self.cfg.servers.len().max(1) as u64)
    }

    /// The next output, if any.
    pub fn poll_output(&mut self) -> Option<Output<T, W>> {
        self.out.pop_front()
    }

    /// When [`Core::tick`] must be called next, if any timer runs.
    pub fn next_deadline(&self) -> Option<Instant> {
        let phase = match self.phase {
            Phase::Idle => None,
            Phase::Backoff { until } => Some(until),
            Phase::Connecting { since, .. } | Phase::Handshaking { since, .. } => {
                Some(since + self.connect_timeout())
            }
            Phase::Open {
                last_send,
                last_recv,
                ..
            } => Some((last_send + self.ping_interval()).min(last_recv + self.read_timeout())),
        };
        match (phase, &self.closing) {
            (Some(p), Some((_, d, _))) => Some(p.min(*d)),
            (p, Some((_, d, _))) => p.or(Some(*d)),
            (p, None) => p,
        }
    }

    /// Starts looking for a server (S1.2).
    pub fn start(&mut self, now: Instant) {
        if self.phase == Phase::Idle && !self.state.is_closed() {
            self.attempt(now);
        }
    }

    fn current_conn(&self) -> Option<ConnId> {
        match self.phase {
            Phase::Connecting { conn, .. }
            | Phase::Handshaking { conn, .. }
            | Phase::Open { conn, .. } => Some(conn),
            _ => None,
        }
    }

    fn attempt(&mut self, now: Instant) {
        match self.hosts.next_step() {
            Next::Try(i) => {
                let conn = self.next_conn;
                self.next_conn += 1;
                let server = self.cfg.servers[i].clone();
                debug!(%server, conn, "connecting");
                self.phase = Phase::Connecting { conn, since: now };
                self.out.push_back(Output::Connect { conn, server });
            }
            Next::Wait(d) => {
                debug!(?d, "no server in a full round; backing off");
                self.phase = Phase::Backoff { until: now + d };
            }
        }
    }

    /// TCP connection `conn` is up: send the handshake with session id, password and
    /// lastZxidSeen (S3.3, S3.4).
    pub fn connected(&mut self, conn: ConnId, _now: Instant) {
        let Phase::Connecting { conn: c, since } = self.phase else {
            return;
        };
        if c != conn {
            return;
        }
        let req = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: self.last_zxid,
            time_out: i32::try_from(ms(self.cfg.session_timeout)).unwrap_or(i32::MAX),
            session_id: self.session.id,
            passwd: if self.session.password.is_empty() {
                vec![0; 16]
            } else {
                self.session.password.clone()
            },
            read_only: Some(false),
        };
        let mut bytes = Vec::new();
        write_frame(&mut bytes, |o| req.encode(o));
        self.inbuf.clear();
        self.phase = Phase::Handshaking { conn, since };
        self.out.push_back(Output::Send { conn, bytes });
    }

    /// The attempt `conn` failed to connect.
    pub fn connect_failed(&mut self, conn: ConnId, now: Instant) {
        if self.current_conn() == Some(conn) {
            self.lose_connection(now, "connect failed");
        }
    }

    /// Connection `conn` was closed by the peer or failed.
    pub fn disconnected(&mut self, conn: ConnId, now: Instant) {
        if self.current_conn() == Some(conn) {
            self.lose_connection(now, "connection closed");
        }
    }

    fn lose_connection(&mut self, now: Instant, why: &str) {
        let Some(conn) = self.current_conn() else {
            return;
        };
        self.out.push_back(Output::Disconnect { conn });
        self.inbuf.clear();
        let was_open = matches!(self.phase, Phase::Open { .. });
        self.phase = Phase::Idle;
        if was_open {
            info!(conn, why, "disconnected");
            self.fail_pending(|| Error::ConnectionLoss);
            if self.closing.is_some() {
                self.close_unacknowledged();
                return;
            }
            self.set_state(State::Connecting);
            self.event_default(KeeperState::Disconnected);
        } else {
            debug!(conn, why, "connection attempt failed");
        }
        self.attempt(now);
    }

    fn fail_pending(&mut self, err: impl Fn() -> Error) {
        for p in std::mem::take(&mut self.pending) {
            self.out.push_back(Output::Complete {
                tag: p.tag,
                result: Err(err()),
            });
        }
        for tag in std::mem::take(&mut self.pending_auth).into_iter().flatten() {
            self.out.push_back(Output::Complete {
                tag,
                result: Err(err()),
            });
        }
    }

    fn set_state(&mut self, s: State) {
        if self.state != s {
            self.state = s;
            self.out.push_back(Output::State(s));
        }
    }

    fn event_default(&mut self, state: KeeperState) {
        self.out.push_back(Output::Event {
            watcher: self.default_watcher.clone(),
            event: WatchedEvent::state(state),
        });
    }

    /// Time passed: back-off over, connect timeout, ping due, silence too long.
    pub fn tick(&mut self, now: Instant) {
        if let Some((_, deadline, _)) = &self.closing {
            if now >= *deadline {
                self.close_unacknowledged();
                return;
            }
        }
        match self.phase {
            Phase::Idle => {}
            Phase::Backoff { until } => {
                if now >= until {
                    self.attempt(now);
                }
            }
            Phase::Connecting { since, .. } | Phase::Handshaking { since, .. } => {
                if now >= since + self.connect_timeout() {
                    self.lose_connection(now, "connect timeout");
                }
            }
            Phase::Open {
                last_send,
                last_recv,
                ..
            } => {
                if now >= last_recv + self.read_timeout() {
                    warn!(
                        silent_ms = ms(now - last_recv),
                        "nothing heard from the server for 2/3 of the session timeout"
                    );
                    self.lose_connection(now, "read timeout");
                } else if now >= last_send + self.ping_interval() {
                    self.send(zk_wire::xid::PING, &Request::Ping, now);
                }
            }
        }
    }

    fn send(&mut self, xid: i32, req: &Request, now: Instant) {
        let Phase::Open {
            conn, last_recv, ..
        } = self.phase
        else {
            return;
        };
        let mut bytes = Vec::new();
        write_frame(&mut bytes, |o| req.encode_with_header(xid, o));
        self.phase = Phase::Open {
            conn,
            last_send: now,
            last_recv,
        };
        self.out.push_back(Output::Send { conn, bytes });
    }

    fn take_xid(&mut self) -> i32 {
        let x = self.next_xid;
        self.next_xid = if x >= i32::MAX - 1 { 1 } else { x + 1 };
        x
    }

    /// A request from the application: sent if CONNECTED, else failed at once with
    /// ConnectionLoss (S8.1) or the CLOSED reason's error (S1.4).
    pub fn submit(&mut self, sub: Submit<T, W>, now: Instant) {
        let Submit {
            mut request,
            watcher,
            tag,
        } = sub;
        if let State::Closed(r) = self.state {
            return self.complete(tag, Err(r.error()));
        }
        if self.closing.is_some() {
            return self.complete(tag, Err(Error::Closed));
        }
        if let Request::Auth(a) = &request {
            if !self.auth.contains(a) {
                self.auth.push(a.clone());
            }
        }
        if !matches!(self.phase, Phase::Open { .. }) {
            return self.complete(tag, Err(Error::ConnectionLoss));
        }
        if let Request::Auth(_) = &request {
            self.pending_auth.push_back(Some(tag));
            return self.send(zk_wire::xid::AUTH, &request, now);
        }
        let watch = watch_on(&request).and_then(|(on, path)| watcher.map(|w| (on, path, w)));
        let remove = match &request {
            Request::RemoveWatches(r) => {
                let Some(ty) = r.kind() else {
                    return self.complete(tag, Err(Error::BadArguments("bad watcher type".into())));
                };
                // Like ZooKeeper's client: no such local watch is NoWatcher without asking.
                if !self.watches.contains(&r.path, ty) {
                    return self.complete(tag, Err(Error::NoWatcher));
                }
                Some((r.path.clone(), ty))
            }
            _ => None,
        };
        self.cfg.chroot.apply_to_request(&mut request);
        let xid = self.take_xid();
        let op = request.opcode();
        self.pending.push_back(Pending {
            xid,
            op,
            tag,
            watch,
            remove,
        });
        self.send(xid, &request, now);
    }

    fn complete(&mut self, tag: T, result: Result<Response, Error>) {
        self.out.push_back(Output::Complete { tag, result });
    }

    /// Closes the session: CloseSession if CONNECTED (CLOSED on its reply, a drop, or after
    /// the read timeout), else CLOSED at once. `tag` completes when CLOSED.
    pub fn close(&mut self, tag: Option<T>, now: Instant) {
        if self.state.is_closed() || self.closing.is_some() {
            if let Some(tag) = tag {
                self.complete(tag, Ok(Response::CloseSession));
            }
            return;
        }
        if matches!(self.phase, Phase::Open { .. }) {
            let xid = self.take_xid();
            self.send(xid, &Request::CloseSession, now);
            self.closing = Some((tag, now + self.read_timeout(), xid));
        } else {
            // Not connected: nobody can be told, so a session the ensemble granted lives on
            // until it expires.
            if let Some(tag) = tag {
                let result = if self.session.id == 0 {
                    Ok(Response::CloseSession)
                } else {
                    Err(Error::ConnectionLoss)
                };
                self.complete(tag, result);
            }
            self.finish_close(CloseReason::Closed);
        }
    }

    /// Ends a close whose CloseSession got no reply (connection lost, or no reply within
    /// the read timeout): the handle is CLOSED, but the session may live on at the
    /// ensemble until it expires, and the caller is told so.
    fn close_unacknowledged(&mut self) {
        if let Some((Some(tag), _, _)) = self.closing.take() {
            self.complete(tag, Err(Error::ConnectionLoss));
        }
        self.finish_close(CloseReason::Closed);
    }

    fn finish_close(&mut self, reason: CloseReason) {
        info!(
            ?reason,
            session = format_args!("{:#x}", self.session.id),
            "closed"
        );
        if let Some(conn) = self.current_conn() {
            self.out.push_back(Output::Disconnect { conn });
        }
        self.phase = Phase::Idle;
        self.inbuf.clear();
        if let Some((Some(tag), _, _)) = self.closing.take() {
            self.complete(tag, Ok(Response::CloseSession));
        }
        self.fail_pending(|| reason.error());
        self.set_state(State::Closed(reason));
        let ev = WatchedEvent::state(reason.keeper_state());
        self.out.push_back(Output::Event {
            watcher: self.default_watcher.clone(),
            event: ev.clone(),
        });
        for w in self.watches.all_watchers() {
            if w != self.default_watcher {
                self.out.push_back(Output::Event {
                    watcher: w,
                    event: ev.clone(),
                });
            }
        }
        self.watches.clear();
    }

    /// Bytes arrived on `conn`.
    pub fn data(&mut self, conn: ConnId, bytes: &[u8], now: Instant) {
        if self.current_conn() != Some(conn) {
            return;
        }
        if !matches!(self.phase, Phase::Handshaking { .. } | Phase::Open { .. }) {
            return;
        }
        self.inbuf.extend_from_slice(bytes);
        let decoder = FrameDecoder::new(self.cfg.max_frame);
        loop {
            let body = match decoder.decode(&self.inbuf) {
                Ok(Some(f)) => {
                    let body = f.body.to_vec();
                    self.inbuf.drain(..f.consumed);
                    body
                }
                Ok(None) => return,
                Err(e) => {
                    warn!(%e, "bad frame from server");
                    return self.lose_connection(now, "bad frame");
                }
            };
            self.frame(&body, now);
            if self.current_conn() != Some(conn) {
                return;
            }
        }
    }

    fn frame(&mut self, body: &[u8], now: Instant) {
        match self.phase {
            Phase::Handshaking { conn, .. } => self.handshake_reply(conn, body, now),
            Phase::Open {
                conn, last_send, ..
            } => {
                self.phase = Phase::Open {
                    conn,
                    last_send,
                    last_recv: now,
                };
                self.reply(body, now);
            }
            _ => {}
        }
    }

    fn handshake_reply(&mut self, conn: ConnId, body: &[u8], now: Instant) {
        let resp = match ConnectResponse::from_bytes(body) {
            Ok(r) => r,
            Err(e) => {
                warn!(%e, "bad ConnectResponse");
                return self.lose_connection(now, "bad handshake reply");
            }
        };
        if resp.time_out <= 0 {
            // R2: timeOut 0 is ZooKeeper's "session expired" (or wrong password).
            return self.finish_close(CloseReason::SessionExpired);
        }
        let new_session = resp.session_id != self.session.id;
        self.session = SessionInfo {
            id: resp.session_id,
            password: resp.passwd,
            timeout: Duration::from_millis(resp.time_out as u64),
        };
        info!(
            session = format_args!("{:#x}", self.session.id),
            timeout_ms = resp.time_out,
            new_session,
            "session established"
        );
        self.hosts.connected();
        self.phase = Phase::Open {
            conn,
            last_send: now,
            last_recv: now,
        };
        self.out.push_back(Output::Session(self.session.clone()));
        self.set_state(State::Connected);
        self.event_default(KeeperState::SyncConnected);
        // ZooKeeper's client sends auth before SetWatches, so watches set on nodes the
        // identity may read are re-armed with it.
        for a in self.auth.clone() {
            self.pending_auth.push_back(None);
            self.send(zk_wire::xid::AUTH, &Request::Auth(a), now);
        }
        let mut lists = self.watches.lists();
        for v in [
            &mut lists.data,
            &mut lists.exist,
            &mut lists.child,
            &mut lists.persistent,
            &mut lists.persistent_recursive,
        ] {
            for p in v.iter_mut() {
                *p = self.cfg.chroot.prepend(p);
            }
        }
        for req in set_watches_batches(&lists, self.last_zxid, self.cfg.set_watches_batch) {
            self.send(zk_wire::xid::SET_WATCHES, &req, now);
        }
    }

    fn reply(&mut self, body: &[u8], now: Instant) {
        let mut r = Reader::new(body);
        let header = match ReplyHeader::decode(&mut r) {
            Ok(h) => h,
            Err(e) => {
                warn!(%e, "bad reply header");
                return self.lose_connection(now, "bad reply header");
            }
        };
        let rest = r.rest();
        if header.zxid > self.last_zxid {
            self.last_zxid = header.zxid;
        }
        match header.xid {
            zk_wire::xid::NOTIFICATION => self.notification(rest),
            zk_wire::xid::PING => {}
            zk_wire::xid::AUTH => {
                let tag = self.pending_auth.pop_front().flatten();
                if header.err == ErrorCode::AuthFailed.code() || header.err != 0 {
                    warn!(err = header.err, "authentication failed");
                    if let Some(tag) = tag {
                        self.complete(tag, Err(Error::AuthFailed));
                    }
                    return self.finish_close(CloseReason::AuthFailed);
                }
                if let Some(tag) = tag {
                    self.complete(tag, Ok(Response::Auth));
                }
            }
            zk_wire::xid::SET_WATCHES => {
                if header.err != 0 {
                    warn!(err = header.err, "SetWatches refused");
                }
            }
            xid => {
                if matches!(self.closing, Some((_, _, x)) if x == xid) {
                    return self.finish_close(CloseReason::Closed);
                }
                let Some(p) = self.pending.pop_front() else {
                    warn!(xid, "reply with nothing pending");
                    return self.lose_connection(now, "unexpected reply");
                };
                if p.xid != xid {
                    warn!(xid, expected = p.xid, "reply out of order");
                    self.pending.push_front(p);
                    return self.lose_connection(now, "xid out of order");
                }
                self.finish(p, &header, rest);
            }
        }
    }

    fn finish(&mut self, p: Pending<T, W>, header: &ReplyHeader, body: &[u8]) {
        let result = match Response::decode_reply(p.op, header, body) {
            Ok(Some(mut resp)) => {
                self.cfg.chroot.strip_response(&mut resp);
                Ok(resp)
            }
            Ok(None) => Err(Error::from_code(header.err)),
            Err(e) => Err(Error::Protocol(format!("{} reply: {e}", p.op))),
        };
        if let Some((on, path, w)) = p.watch {
            let kind = match (on, &result) {
                (WatchOn::Exists, Ok(_)) => Some(WatchKind::Data),
                (WatchOn::Exists, Err(Error::NoNode)) => Some(WatchKind::Exist),
                (_, Err(_)) => None,
                (WatchOn::Data, _) => Some(WatchKind::Data),
                (WatchOn::Child, _) => Some(WatchKind::Child),
                (WatchOn::Persistent, _) => Some(WatchKind::Persistent),
                (WatchOn::PersistentRecursive, _) => Some(WatchKind::PersistentRecursive),
            };
            if let Some(kind) = kind {
                self.watches.add(kind, &path, w);
            }
        }
        if let (Some((path, ty)), Ok(_)) = (&p.remove, &result) {
            for (w, ev) in self.watches.remove(path, *ty) {
                self.out.push_back(Output::Event {
                    watcher: w,
                    event: WatchedEvent::node(ev, path.clone()),
                });
            }
        }
        self.complete(p.tag, result);
    }

    fn notification(&mut self, body: &[u8]) {
        let ev = match WatcherEvent::from_bytes(body) {
            Ok(ev) => ev,
            Err(e) => {
                warn!(%e, "undecodable notification ignored");
                return;
            }
        };
        if ev.event_type == EventType::None {
            return;
        }
        debug!(?ev, "notification");
        let path = self.cfg.chroot.strip(&ev.path);
        let event = WatchedEvent {
            event_type: ev.event_type,
            state: ev.state,
            path: Some(path.clone()),
        };
        for w in self.watches.materialize(ev.event_type, &path) {
            self.out.push_back(Output::Event {
                watcher: w,
                event: event.clone(),
            });
        }
    }
}

fn watch_on(req: &Request) -> Option<(WatchOn, String)> {
    match req {
        Request::Exists(r) if r.watch => Some((WatchOn::Exists, r.path.clone())),
        Request::GetData(r) if r.watch => Some((WatchOn::Data, r.path.clone())),
        Request::GetChildren(r) | Request::GetChildren2(r) if r.watch => {
            Some((WatchOn::Child, r.path.clone()))
        }
        Request::AddWatch(r) => match r.watch_mode() {
            Some(zk_wire::AddWatchMode::Persistent) => Some((WatchOn::Persistent, r.path.clone())),
            Some(zk_wire::AddWatchMode::PersistentRecursive) => {
                Some((WatchOn::PersistentRecursive, r.path.clone()))
            }
            None => None,
        },
        _ => None,
    }
}
