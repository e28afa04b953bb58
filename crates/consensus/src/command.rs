//! The replicated command: what goes into a Raft log entry, and what applying it produced.

use std::sync::Arc;
use std::time::SystemTime;

use serde::Deserialize;
use serde::Serialize;
use zk_session::ClusterSecret;
use zk_session::Owner;
use zk_session::SessionId;
use zk_store::Applied;
use zk_store::OpResult;
use zk_store::Trigger;
use zk_store::Txn;
use zk_wire::ErrorCode;
use zk_wire::Id;

/// One replicated command: the payload of a normal Raft log entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Command {
    /// The proposer's wall clock (ms) when it accepted the request; becomes ctime/mtime.
    /// Apply never reads a clock, so every replica stamps the same time.
    pub time_ms: i64,
    /// Who is waiting for this command's outcome, if anyone.
    pub origin: Option<Origin>,
    /// What to do.
    pub op: CommandOp,
}

/// The node that accepted a client request and its request number there.
///
/// Every node applies every entry and publishes an [`ApplyEvent`](crate::ApplyEvent) carrying
/// the origin, so the accepting node finds its request's result even when a follower
/// forwarded it to the leader. `seq` must stay unique across restarts of that node (e.g. start
/// it from the boot time): entries proposed before a restart can be applied after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Origin {
    /// The accepting node.
    pub node_id: u64,
    /// That node's request number.
    pub seq: u64,
}

impl Origin {
    /// The session owner this origin stands for: a connection's token is the request number
    /// of the create or resume that gave it the session (unique per node, across restarts).
    pub fn owner(self) -> Owner {
        Owner {
            node: self.node_id,
            token: self.seq,
        }
    }
}

/// The operation of a [`Command`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CommandOp {
    /// Create a session with an already negotiated timeout; its id is the entry's log index,
    /// its owner the command's origin.
    CreateSession {
        /// Negotiated timeout (ms).
        timeout_ms: u32,
    },
    /// closeSession: remove the session and delete its ephemerals (S6.3).
    CloseSession {
        /// The session.
        session_id: i64,
        /// The closing connection; SessionMoved if another connection owns the session now.
        owner: Option<Owner>,
    },
    /// The leader's expiry batch: removes every session and deletes their ephemerals
    /// atomically with the expiry (S6.3, S9.2).
    ExpireSessions {
        /// Sessions to expire, in the tracker's (sorted) order.
        ids: Vec<i64>,
    },
    /// A client write of a live session (SessionExpired otherwise). Session 0 is the system
    /// (the leader's container/TTL cleaner) and may only carry `Txn::DeleteContainer`.
    Write {
        /// The requesting session.
        session_id: i64,
        /// The requesting connection; SessionMoved (nothing applied) if another connection
        /// owns the session now. `None` for the system.
        owner: Option<Owner>,
        /// The connection's authenticated ids, for ACL checks.
        auth: Vec<Id>,
        /// The write.
        txn: Txn,
    },
    /// Bootstrap of the cluster secret; ignored once a secret exists (set once).
    SetSecret {
        /// The secret every node derives session passwords with.
        secret: ClusterSecret,
    },
    /// Nothing; still uses up a zxid.
    Noop,
    /// A resume on some connection: the command's origin owns the session from now on, and
    /// every node stops serving it on any other connection (SessionMoved).
    ClaimSession {
        /// The session.
        session_id: i64,
    },
    /// A client's `reconfig`: judged at apply as ZooKeeper's PrepRequestProcessor judges it
    /// (session, a change under way, `curConfigId`, the request's servers, WRITE on
    /// `/zookeeper/config`); if it passes, the leader that logged it carries it out as Raft
    /// membership changes and answers with [`CommandOp::ReconfigDone`] (same origin).
    Reconfig {
        /// The requesting session.
        session_id: i64,
        /// The requesting connection.
        owner: Option<Owner>,
        /// The connection's authenticated ids, for the ACL check.
        auth: Vec<Id>,
        /// The servers asked for.
        spec: crate::membership::ReconfigSpec,
        /// The config version the client based it on, -1 for any.
        cur_config_id: i64,
    },
    /// The end of a `reconfig` (its origin is the request's): on success `/zookeeper/config`
    /// is written from the membership now applied, at this command's zxid (the new config's
    /// version); else the request fails with `error`.
    ReconfigDone {
        /// Why the change was not made.
        error: Option<ErrorCode>,
    },
    /// Writes `/zookeeper/config` from the applied membership if its members differ from it
    /// (a leader's duty: the first config of an ensemble, or a change whose leader failed
    /// before it wrote it).
    SyncConfig,
}

/// What applying one entry did. Also the Raft response, hence serde (the store's [`Applied`]
/// goes through a field-for-field mirror).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// A `Write`: the store's result and watch triggers (SessionExpired for a dead session).
    Txn(#[serde(with = "AppliedDef")] Applied),
    /// `CreateSession`.
    SessionCreated {
        /// The new session's id (the command's zxid).
        session_id: SessionId,
        /// Its negotiated timeout (ms).
        timeout_ms: u32,
    },
    /// `CloseSession` / `ExpireSessions`.
    SessionsClosed {
        /// The sessions actually removed (ids already gone are left out).
        ids: Vec<SessionId>,
        /// The store's result: `SessionsClosed(deleted ephemeral paths)` and their triggers.
        #[serde(with = "AppliedDef")]
        applied: Applied,
    },
    /// `ClaimSession`: the session now belongs to `owner`.
    SessionClaimed {
        /// The session.
        session_id: SessionId,
        /// Its new owner.
        owner: Owner,
    },
    /// `SetSecret` stored the secret.
    SecretSet,
    /// `SetSecret` when a secret already exists: ignored.
    SecretAlreadySet,
    /// `Noop`, a blank (leader) entry or a membership entry.
    Noop,
    /// A command that could not be applied (e.g. a session id out of range); changed nothing.
    Rejected(ErrorCode),
    /// The whole state was replaced by an installed snapshot (no entry of its own).
    SnapshotInstalled,
    /// A `reconfig` passed its checks: the leader that logged it now changes Raft's
    /// membership to these members (id -> membership record; observers are marked in
    /// theirs); its answer comes with [`CommandOp::ReconfigDone`].
    ReconfigStarted {
        /// The members asked for, participants and observers.
        members: std::collections::BTreeMap<u64, String>,
    },
}

/// serde mirror of [`Applied`] (its fields are public; zk-store keeps it serde-free).
#[derive(Serialize, Deserialize)]
#[serde(remote = "Applied")]
struct AppliedDef {
    result: Result<OpResult, ErrorCode>,
    triggers: Vec<Trigger>,
}

/// One command's zxid and outcome, as openraft's response to `client_write` lists them (the
/// leader only; the accepting node of a forwarded request uses the
/// [`ApplyEvent`](crate::ApplyEvent) instead).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandResponse {
    /// The command's zxid.
    pub zxid: i64,
    /// What applying it did.
    pub outcome: Outcome,
}

/// The payload of a normal Raft entry: commands applied in order, each with a zxid of its own.
///
/// Why several per entry: openraft 0.9's core appended one entry at a time and waited for its
/// flush before it took the next message, so a leader proposing one entry per request was
/// bound to one request per fsync. Whatever queues up during a flush goes into the next entry
/// together, and one fsync then covers all of it; each entry also costs its own encoding,
/// record and apply bookkeeping, so fewer, larger entries are cheaper with 0.10 too.
///
/// The commands sit behind an `Arc`: an entry is cloned, not decoded again, each time Raft
/// reads it back for replication or apply (see `recent`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batch(pub Arc<[Command]>);

impl From<Command> for Batch {
    fn from(cmd: Command) -> Self {
        Batch(Arc::from([cmd]))
    }
}

/// How openraft's logs show an entry's payload: its size, not its contents.
impl std::fmt::Display for Batch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "batch of {} commands", self.0.len())
    }
}

/// openraft's response to `client_write`: one [`CommandResponse`] per command of the batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchResponse(pub Vec<CommandResponse>);

impl Outcome {
    /// The store's `Applied`, for outcomes that have one.
    pub fn applied(&self) -> Option<&Applied> {
        match self {
            Outcome::Txn(a) | Outcome::SessionsClosed { applied: a, .. } => Some(a),
            _ => None,
        }
    }

    /// The watch triggers to fire on every node, in order.
    pub fn triggers(&self) -> &[Trigger] {
        self.applied().map_or(&[], |a| a.triggers.as_slice())
    }
}

/// The proposer's wall clock in ms (only ever read when proposing, never at apply).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
