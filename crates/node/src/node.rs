//! What every connection of this node shares: the settings, Raft and the applied state, the
//! hub (connections, watches, waiting writes), the expiry tracker and the counters; and how a
//! request becomes a proposed command.

use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::oneshot;
use zk_consensus::now_ms;
use zk_consensus::Command;
use zk_consensus::CommandOp;
use zk_consensus::Origin;
use zk_consensus::SharedState;

use crate::config::Settings;
use crate::expiry::Expiry;
use crate::hub::Done;
use crate::hub::Hub;
use crate::hub::WriteFailed;
use crate::stats::Stats;

/// A proposed command: who it came from (for a session's create or resume, the owner it
/// gives the session) and where its outcome arrives.
#[derive(Debug)]
pub struct Proposal {
    /// The command's origin.
    pub origin: Origin,
    /// Its zxid and outcome once applied here (or why not).
    pub done: oneshot::Receiver<Done>,
}

/// See the module docs.
pub struct Node {
    /// This node's id in the ensemble.
    pub id: u64,
    /// Checked settings.
    pub settings: Settings,
    /// How proposals reach the leader's log.
    pub backend: crate::backend::Backend,
    /// The applied state, for local reads.
    pub state: SharedState,
    /// Connections, watches and waiting writes.
    pub hub: Arc<Hub>,
    /// The session expiry tracker.
    pub expiry: Arc<Expiry>,
    /// Server-wide counters.
    pub stats: Stats,
    /// When the node started serving.
    pub started: Instant,
    /// Whether clients may be served now (S9.4).
    pub serving: Arc<crate::serving::Serving>,
    /// Sessions touched here since the last report to the leader.
    pub activity: Arc<crate::activity::Activity>,
    /// The leader and term this node follows, published once the writes left waiting on the
    /// one before have been failed (`server::fail_writes_on_leader_change`, which also
    /// publishes the first): a proposal made after it names a new leader is not failed for
    /// that change. `(None, 0)` until that task has run.
    pub led: tokio::sync::watch::Sender<(Option<u64>, u64)>,
    seq: AtomicU64,
}

impl Node {
    /// Assembles a node around a running Raft.
    pub fn new(
        id: u64,
        settings: Settings,
        backend: crate::backend::Backend,
        state: SharedState,
        hub: Arc<Hub>,
        expiry: Arc<Expiry>,
    ) -> Self {
        // Request numbers must never repeat across restarts: entries proposed before a
        // restart can be applied after it, and must not complete a new request.
        let first_seq = u64::try_from(now_ms())
            .unwrap_or(0)
            .saturating_mul(1_000_000);
        Node {
            led: tokio::sync::watch::Sender::new((None, 0)),
            id,
            settings,
            backend,
            state,
            hub,
            expiry,
            stats: Stats::default(),
            started: Instant::now(),
            serving: Arc::default(),
            activity: Arc::default(),
            seq: AtomicU64::new(first_seq),
        }
    }

    /// Proposes `op` for a waiting requester: its receiver gets the zxid and outcome once
    /// applied here. Proposals made one after another by one task enter the log in that order
    /// (a session's writes keep their order).
    pub fn propose(&self, op: CommandOp) -> Proposal {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let done = self.hub.expect(seq);
        let origin = self.submit(seq, op);
        Proposal { origin, done }
    }

    /// Proposes `op` for connection `conn`: its outcome is pushed to the connection in order
    /// with its watch events ([`Hub::expect_for`]). A connection's proposals enter the log in
    /// the order it made them.
    pub fn propose_for(&self, conn: crate::hub::ConnId, op: CommandOp) -> Origin {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        self.hub.expect_for(seq, conn);
        self.submit(seq, op)
    }

    /// Submits `op` as request `seq` (its waiter registered already).
    fn submit(&self, seq: u64, op: CommandOp) -> Origin {
        let origin = Origin {
            node_id: self.id,
            seq,
        };
        let cmd = Command {
            time_ms: now_ms(),
            origin: Some(origin),
            op,
        };
        self.count_proposal(&cmd);
        // Success arrives through the apply hook; only a refusal comes back here.
        let hub = self.hub.clone();
        self.backend
            .submit(cmd, move |why| hub.fail(seq, WriteFailed(why)));
        origin
    }

    /// Activity on a session (S5.1): the leader's tracker hears of it now, a follower's
    /// report carries it to the leader within half a tick.
    pub fn touch(&self, session: zk_session::SessionId, timeout_ms: u32) {
        if self.is_leader() {
            self.expiry.touch(session, timeout_ms);
        } else {
            self.activity.record(session, self.expiry.now_ms());
        }
    }

    /// The leader's side of an activity report: each live session is touched as of when it
    /// was heard (`age` ms ago), with its replicated timeout; invalid ids and sessions
    /// already gone are ignored.
    pub fn on_reported_activity(&self, touches: &[(i64, u32)]) {
        let now = self.expiry.now_ms();
        let st = self.state.read();
        for &(raw, age) in touches {
            let Ok(id) = zk_session::SessionId::from_raw(raw) else {
                continue;
            };
            if let Some(timeout_ms) = st.sessions.get(id) {
                self.expiry
                    .touch_at(id, timeout_ms, now.saturating_sub(u64::from(age)));
            }
        }
    }

    /// Raft's state for monitoring: every such read goes through [`crate::raft_facts`].
    pub fn raft_facts(&self) -> crate::raft_facts::RaftFacts {
        crate::raft_facts::RaftFacts::read(&self.backend)
    }

    /// Records a proposal's size as the log stores it (ZooKeeper's proposal sizes); sizing
    /// walks the command without allocating.
    fn count_proposal(&self, cmd: &Command) {
        count_proposal(&self.stats.proposal_sizes, cmd);
    }

    /// True while this node is the Raft leader (a one-node ensemble always is, once started).
    pub fn is_leader(&self) -> bool {
        self.backend.is_leader()
    }

    /// A handle that proposes the node's own commands (expiry, cleaner): all a background
    /// loop needs to write.
    pub(crate) fn system_proposer(&self) -> SystemProposer {
        SystemProposer {
            backend: self.backend.clone(),
            sizes: self.stats.proposal_sizes.clone(),
        }
    }
}

/// Counts a command's serialized size among the proposals' (ZooKeeper's proposal sizes).
fn count_proposal(sizes: &crate::metrics::Sizes, cmd: &Command) {
    if let Ok(n) = postcard::experimental::serialized_size(cmd) {
        sizes.record(n);
    }
}

/// Proposes commands nobody waits for, the node's own (see [`Node::system_proposer`]).
#[derive(Clone)]
pub(crate) struct SystemProposer {
    backend: crate::backend::Backend,
    sizes: Arc<crate::metrics::Sizes>,
}

impl SystemProposer {
    /// Proposes `op`; its effects arrive through the apply hook, and only a refusal is worth
    /// a log line.
    pub(crate) fn propose(&self, op: CommandOp) {
        let cmd = Command {
            time_ms: now_ms(),
            origin: None,
            op,
        };
        count_proposal(&self.sizes, &cmd);
        self.backend.submit(
            cmd,
            |why| tracing::warn!(error = %why, "system command not committed"),
        );
    }
}
