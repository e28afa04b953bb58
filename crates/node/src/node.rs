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
    pub serving: crate::serving::Serving,
    /// Sessions touched here since the last report to the leader.
    pub activity: crate::activity::Activity,
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
            id,
            settings,
            backend,
            state,
            hub,
            expiry,
            stats: Stats::default(),
            started: Instant::now(),
            serving: crate::serving::Serving::default(),
            activity: crate::activity::Activity::default(),
            seq: AtomicU64::new(first_seq),
        }
    }

    /// Proposes `op` for a waiting requester: its receiver gets the zxid and outcome once
    /// applied here. Proposals made one after another by one task enter the log in that order
    /// (a session's writes keep their order).
    pub async fn propose(&self, op: CommandOp) -> Proposal {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let origin = Origin {
            node_id: self.id,
            seq,
        };
        let rx = self.hub.expect(seq);
        let cmd = Command {
            time_ms: now_ms(),
            origin: Some(origin),
            op,
        };
        // Success arrives through the apply hook; only a refusal comes back here.
        let hub = self.hub.clone();
        self.backend
            .submit(cmd, move |why| hub.fail(seq, WriteFailed(why)))
            .await;
        Proposal { origin, done: rx }
    }

    /// Activity on a session (S5.1): the leader's tracker hears of it now, a follower's
    /// report carries it to the leader within half a tick.
    pub fn touch(&self, session: zk_session::SessionId, timeout_ms: u32) {
        if self.is_leader() {
            self.expiry.touch(session, timeout_ms);
        } else {
            self.activity.record(session);
        }
    }

    /// Sends touched sessions to the leader (best effort; a lost report only delays an
    /// expiry decision until the next one).
    pub async fn report_activity(&self, ids: &[zk_session::SessionId]) {
        match &self.backend {
            crate::backend::Backend::Single(_) => self.on_activity(ids),
            crate::backend::Backend::Cluster(c) => {
                c.report_activity(ids.iter().map(|id| id.get()).collect())
                    .await
            }
        }
    }

    /// The leader's side of an activity report: touch each live session with its replicated
    /// timeout (sessions already gone are ignored).
    pub fn on_activity(&self, ids: &[zk_session::SessionId]) {
        let st = self.state.read();
        for &id in ids {
            if let Some(timeout_ms) = st.sessions.get(id) {
                self.expiry.touch(id, timeout_ms);
            }
        }
    }

    /// An activity report from a member (on the leader): raw ids, invalid ones ignored.
    pub fn on_reported_activity(&self, ids: &[i64]) {
        let ids: Vec<zk_session::SessionId> = ids
            .iter()
            .filter_map(|&raw| zk_session::SessionId::from_raw(raw).ok())
            .collect();
        self.on_activity(&ids);
    }

    /// True while this node is the Raft leader (a one-node ensemble always is, once started).
    pub fn is_leader(&self) -> bool {
        let m = self.backend.raft().metrics();
        let m = m.borrow();
        m.current_leader == Some(self.id) && m.state.is_leader()
    }

    /// Proposes `op` with nobody waiting for it (expiry, cleaner).
    pub async fn propose_unowned(&self, op: CommandOp) {
        let cmd = Command {
            time_ms: now_ms(),
            origin: None,
            op,
        };
        // Its effects arrive through the apply hook; only a refusal is worth a log line.
        self.backend
            .submit(
                cmd,
                |why| tracing::warn!(error = %why, "system command not committed"),
            )
            .await;
    }
}
