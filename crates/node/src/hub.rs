//! The node's meeting point of connections and applied entries: which connection serves which
//! session, the node-local watch registry, and the writes waiting for their entry to apply.
//!
//! [`Hub::on_apply`] runs as the state machine's apply hook, under the state's write lock;
//! reads register their watches under the state's read lock (see [`Hub::watches`]), so a
//! watch is fired exactly for the changes after the read that set it. The hook's work is
//! bounded: it pushes the fired events, and a connection's write outcome, onto the
//! connection's channel; the only work of a connection it runs is the few cheap reads the
//! connection attached to its write ([`Hub::after`], bounded by the session order's core:
//! `zk_session::order`), right after that write.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::AtomicI32;
use std::sync::atomic::AtomicI64;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::MutexGuard;

use tokio::sync::mpsc;
use tokio::sync::oneshot;
use zk_consensus::ApplyEvent;
use zk_consensus::Outcome;
use zk_consensus::State;
use zk_session::Owner;
use zk_session::SessionId;
use zk_store::WatchRegistry;
use zk_wire::EventType;
use zk_wire::WatcherEvent;

use crate::expiry::Expiry;

/// A connection's number on this node (the watch registry's watcher).
pub type ConnId = u64;

/// What the node pushes to a connection outside its request/reply flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Push {
    /// A watch fired, at the command with this zxid (a connection sends it before any reply
    /// showing a later state, after any reply showing an earlier one).
    Event {
        /// The zxid of the change that fired it.
        zxid: i64,
        /// The event.
        event: WatcherEvent,
    },
    /// The session was closed or expired: answer what is queued for a closeSession, then stop.
    SessionEnded,
    /// Stop serving this connection: its session moved to another connection, or the node
    /// is shutting down or cut off from the quorum.
    Close,
    /// This connection's oldest waiting write was applied here at `zxid` (sent after the
    /// events of that change and before those of any later one: see [`Hub::expect_for`]).
    Applied {
        /// The write's zxid.
        zxid: i64,
        /// What applying it did.
        outcome: Outcome,
    },
    /// A write of this connection will not be applied here (Raft refused it or stopped).
    Failed(WriteFailed),
}

/// A write's fate, delivered to the connection that proposed it.
pub type Done = Result<(i64, Outcome), WriteFailed>;

/// Reads a connection attached to one of its waiting writes: run by the apply hook right
/// after that write is applied here, on the state as it is then (see [`Hub::after`]).
pub type AfterApply = Box<dyn FnOnce(&State) + Send>;

/// Who waits for a write to be applied here.
enum Waiter {
    /// A task (a handshake's session create or claim).
    Task(oneshot::Sender<Done>),
    /// A connection: its outcome goes on the connection's push channel, in order with the
    /// watch events ([`Push::Applied`]), after the reads it attached ran.
    Conn(ConnId, Vec<AfterApply>),
}

/// A proposed write will not be answered from the log (Raft refused it or stopped).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("write not committed: {0}")]
pub struct WriteFailed(pub String);

/// Live numbers of one connection, for `cons`/`stat`.
#[derive(Debug)]
pub struct ConnStats {
    /// The client's address.
    pub peer: SocketAddr,
    /// Packets received.
    pub received: AtomicU64,
    /// Packets sent (replies and events).
    pub sent: AtomicU64,
    /// Requests received and not yet answered.
    pub outstanding: AtomicU64,
    /// The session it serves (0 before the handshake).
    pub session_id: AtomicU64,
    /// The negotiated timeout (ms).
    pub timeout_ms: AtomicU64,
    /// The zxid of the last reply.
    pub last_zxid: AtomicI64,
    /// The opcode of the last request (-1 before any).
    pub last_op: AtomicI32,
    /// The xid of the last request (-1 before any).
    pub last_cxid: AtomicI64,
    /// Wall-clock ms when the session was established here (0 before).
    pub established_ms: AtomicI64,
    /// Wall-clock ms of the last reply (0 before).
    pub last_response_ms: AtomicI64,
    /// Per-connection request latency.
    pub latency: crate::stats::LatencyStats,
    /// Accepted on the secure (TLS) client port.
    pub secure: bool,
}

impl ConnStats {
    /// Zeroes the counters (`crst`).
    pub fn reset(&self) {
        self.received.store(0, Ordering::Relaxed);
        self.sent.store(0, Ordering::Relaxed);
        self.latency.reset();
    }

    /// Fresh numbers for a connection from `peer` (on the secure port if `secure`).
    pub fn new(peer: SocketAddr, secure: bool) -> Self {
        ConnStats {
            peer,
            received: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            outstanding: AtomicU64::new(0),
            session_id: AtomicU64::new(0),
            timeout_ms: AtomicU64::new(0),
            last_zxid: AtomicI64::new(-1),
            last_op: AtomicI32::new(-1),
            last_cxid: AtomicI64::new(-1),
            established_ms: AtomicI64::new(0),
            last_response_ms: AtomicI64::new(0),
            latency: crate::stats::LatencyStats::default(),
            secure,
        }
    }
}

struct Registered {
    tx: mpsc::UnboundedSender<Push>,
    session: SessionId,
    owner: Owner,
    stats: Arc<ConnStats>,
}

#[derive(Default)]
struct Tables {
    watches: WatchRegistry<ConnId>,
    conns: HashMap<ConnId, Registered>,
    by_session: HashMap<SessionId, ConnId>,
}

/// See the module docs.
pub struct Hub {
    node_id: u64,
    next_conn: AtomicU64,
    tables: Mutex<Tables>,
    pending: Mutex<HashMap<u64, Waiter>>,
    expiry: Arc<Expiry>,
    /// Commands applied here since start (ZooKeeper's `commit_count`).
    pub applied: AtomicU64,
    /// Watches each event fired, by its type (ZooKeeper's `node_*_watch_count`).
    pub watches_fired: crate::metrics::WatchesFired,
    /// Bytes read and written per top-level znode (ZooKeeper's `read_per_namespace`,
    /// `write_per_namespace`).
    pub namespaces: crate::metrics::Namespaces,
}

impl Hub {
    /// A hub for node `node_id`, telling `expiry` about created and ended sessions.
    pub fn new(node_id: u64, expiry: Arc<Expiry>) -> Self {
        Hub {
            node_id,
            next_conn: AtomicU64::new(1),
            tables: Mutex::new(Tables::default()),
            pending: Mutex::new(HashMap::new()),
            expiry,
            applied: AtomicU64::new(0),
            watches_fired: Default::default(),
            namespaces: Default::default(),
        }
    }

    fn tables(&self) -> MutexGuard<'_, Tables> {
        // Nothing here panics while holding the lock; recover rather than poison every
        // connection if something ever does.
        self.tables.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn pending(&self) -> MutexGuard<'_, HashMap<u64, Waiter>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a connection serving `session`; a connection that served it before is told
    /// to stop ([`Push::Close`]), as ZooKeeper closes a session's older connection.
    pub fn register(
        &self,
        session: SessionId,
        owner: Owner,
        tx: mpsc::UnboundedSender<Push>,
        stats: Arc<ConnStats>,
    ) -> ConnId {
        let id = self.next_conn.fetch_add(1, Ordering::Relaxed);
        let mut t = self.tables();
        if let Some(old) = t.by_session.insert(session, id) {
            if let Some(old) = t.conns.get(&old) {
                let _ = old.tx.send(Push::Close);
            }
        }
        t.conns.insert(
            id,
            Registered {
                tx,
                session,
                owner,
                stats,
            },
        );
        id
    }

    /// Forgets a connection and its watches.
    pub fn unregister(&self, conn: ConnId) {
        let mut t = self.tables();
        t.watches.remove_watcher(conn);
        if let Some(r) = t.conns.remove(&conn) {
            if t.by_session.get(&r.session) == Some(&conn) {
                t.by_session.remove(&r.session);
            }
        }
    }

    /// The watch registry, for a read that sets or inspects watches. Call it while holding
    /// the state's read lock, so the read and the registration are one step for apply.
    pub fn watches(&self) -> impl std::ops::DerefMut<Target = WatchRegistry<ConnId>> + '_ {
        WatchesGuard(self.tables())
    }

    /// Stats of every live connection.
    pub fn connections(&self) -> Vec<Arc<ConnStats>> {
        self.tables()
            .conns
            .values()
            .map(|r| r.stats.clone())
            .collect()
    }

    /// The data watches (what `wchs`/`wchc`/`wchp` list) by session, sorted.
    pub fn data_watches_by_session(&self) -> Vec<(i64, Vec<String>)> {
        let t = self.tables();
        let mut out: Vec<(i64, Vec<String>)> = t
            .watches
            .data_watches()
            .into_iter()
            .filter_map(|(conn, paths)| t.conns.get(&conn).map(|r| (r.session.get(), paths)))
            .collect();
        out.sort();
        out
    }

    /// Number of watches (data and child tables).
    pub fn watch_count(&self) -> usize {
        self.tables().watches.len()
    }

    /// Tells every connection to stop (node shutdown).
    pub fn close_all(&self) {
        for r in self.tables().conns.values() {
            let _ = r.tx.send(Push::Close);
        }
    }

    /// Reserves request number `seq` and returns where its outcome will arrive.
    pub fn expect(&self, seq: u64) -> oneshot::Receiver<Done> {
        let (tx, rx) = oneshot::channel();
        self.pending().insert(seq, Waiter::Task(tx));
        rx
    }

    /// Reserves request number `seq` for connection `conn`: its outcome is pushed to the
    /// connection ([`Push::Applied`], or [`Push::Failed`]) on the channel its watch events
    /// take, by the apply hook right after the command is applied and its events were
    /// pushed. So the connection sees events and its writes' outcomes in apply order, and
    /// nothing of the connection runs inside apply: it answers the reads queued behind the
    /// write itself, on its own task, as ZooKeeper's CommitProcessor hands a session's
    /// committed write back to it.
    pub fn expect_for(&self, seq: u64, conn: ConnId) {
        self.pending().insert(seq, Waiter::Conn(conn, Vec::new()));
    }

    /// Hands `work` (the reads connection `conn` attached to its waiting write `seq`) to that
    /// write: it runs right after the write is applied here and before the next command, on
    /// the state as it is then, before the write's [`Push::Applied`] is sent. Gives it back if
    /// `seq` is not waiting any more (applied already: the caller runs it itself); dropped
    /// unrun if the write fails.
    pub fn after(&self, seq: u64, work: AfterApply) -> Result<(), AfterApply> {
        match self.pending().get_mut(&seq) {
            Some(Waiter::Conn(_, after)) => {
                after.push(work);
                Ok(())
            }
            _ => Err(work),
        }
    }

    /// Tells the waiter of `w` what happened to its write.
    fn complete(&self, w: Waiter, done: Done) {
        match w {
            Waiter::Task(tx) => {
                let _ = tx.send(done);
            }
            Waiter::Conn(conn, _) => {
                let push = match done {
                    Ok((zxid, outcome)) => Push::Applied { zxid, outcome },
                    Err(e) => Push::Failed(e),
                };
                if let Some(r) = self.tables().conns.get(&conn) {
                    let _ = r.tx.send(push);
                }
            }
        }
    }

    /// Answers request `seq` with a failure (its entry will never be applied here).
    pub fn fail(&self, seq: u64, why: WriteFailed) {
        let waiter = self.pending().remove(&seq);
        if let Some(w) = waiter {
            self.complete(w, Err(why));
        }
    }

    /// Fails every waiting write (Raft stopped).
    pub fn fail_all(&self, why: &str) {
        let waiters: Vec<Waiter> = self.pending().drain().map(|(_, w)| w).collect();
        for w in waiters {
            self.complete(w, Err(WriteFailed(why.to_string())));
        }
    }

    /// The apply hook: fires watches, ends the connections of closed sessions, keeps the
    /// expiry tracker in step, runs the reads a connection attached to this node's waiting
    /// write, then hands the outcome to the request waiting here for it, if any (in that
    /// order, so a connection finds the events and the reads' answers before the outcome of
    /// the change). Its work is bounded: the attached reads are few and cheap (see
    /// `zk_session::order`); every other read runs on its connection's task.
    pub fn on_apply(&self, ev: &ApplyEvent, state: &State) {
        // A snapshot replacing the state is not a command.
        if !matches!(ev.outcome, Outcome::SnapshotInstalled) {
            self.applied
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        let triggers = ev.outcome.triggers();
        // ZooKeeper's DataTree counts each create, setData and delete it applies: path
        // length plus the data written (none for a delete). Every write leaves its trigger.
        for t in triggers {
            let data = match t.event {
                EventType::NodeCreated | EventType::NodeDataChanged => {
                    state.tree.data_len(&t.path).unwrap_or(0)
                }
                EventType::NodeDeleted => 0,
                _ => continue,
            };
            self.namespaces.write.record(&t.path, data);
        }
        let ended: &[SessionId] = match &ev.outcome {
            Outcome::SessionsClosed { ids, .. } => ids,
            _ => &[],
        };
        // A resume anywhere in the ensemble: a local connection with another owner token
        // serves the session no more (SessionMoved).
        if let Outcome::SessionClaimed { session_id, owner } = &ev.outcome {
            let t = self.tables();
            for r in t.conns.values() {
                if r.session == *session_id && r.owner != *owner {
                    let _ = r.tx.send(Push::Close);
                }
            }
        }
        if !triggers.is_empty() || !ended.is_empty() {
            let mut t = self.tables();
            let fired = &self.watches_fired;
            for (conn, event) in t
                .watches
                .trigger_counting(triggers, |event, n| fired.record(event, n))
            {
                if let Some(r) = t.conns.get(&conn) {
                    let _ = r.tx.send(Push::Event {
                        zxid: ev.zxid,
                        event,
                    });
                }
            }
            for id in ended {
                if let Some(r) = t.by_session.get(id).and_then(|c| t.conns.get(c)) {
                    let _ = r.tx.send(Push::SessionEnded);
                }
            }
        }
        match &ev.outcome {
            Outcome::SessionCreated {
                session_id,
                timeout_ms,
            } => self.expiry.add(*session_id, *timeout_ms),
            Outcome::SessionsClosed { ids, .. } => {
                for &id in ids {
                    self.expiry.remove(id);
                }
            }
            // Found by the chaos run: a session resumed on another node 1.4 s before it
            // expired, judged on its last ping through the node it left.
            Outcome::SessionClaimed { session_id, .. } => self.expiry.refresh(*session_id),
            _ => {}
        }
        // A reconfig that passed its checks is answered later, by its ReconfigDone.
        let answered = !matches!(ev.outcome, Outcome::ReconfigStarted { .. });
        if let Some(origin) = ev.origin.filter(|o| answered && o.node_id == self.node_id) {
            let waiter = self.pending().remove(&origin.seq);
            if let Some(mut w) = waiter {
                if let Waiter::Conn(conn, after) = &mut w {
                    let conn = *conn;
                    for work in after.drain(..) {
                        work(state);
                    }
                    // The connection may have gone while its reads ran (its watches were
                    // removed with it): drop whatever they registered for it since.
                    let mut t = self.tables();
                    if !t.conns.contains_key(&conn) {
                        t.watches.remove_watcher(conn);
                    }
                }
                self.complete(w, Ok((ev.zxid, ev.outcome.clone())));
            }
        }
    }
}

struct WatchesGuard<'a>(MutexGuard<'a, Tables>);

impl std::ops::Deref for WatchesGuard<'_> {
    type Target = WatchRegistry<ConnId>;
    fn deref(&self) -> &Self::Target {
        &self.0.watches
    }
}

impl std::ops::DerefMut for WatchesGuard<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0.watches
    }
}
