//! The state machine: `zk-store`'s data tree + `zk-session`'s session table + the cluster
//! secret, applied from the Raft log, snapshotted through the [`SnapshotStore`].
//!
//! Apply is deterministic: everything a command needs (time, session, auth) comes in with it,
//! and its zxid is the next value of a counter kept in the state, so every replica that
//! applies the same log holds the same state and produces the same [`ApplyEvent`]s.

use std::io::Cursor;
use std::sync::Arc;
use std::sync::OnceLock;

use openraft::storage::RaftStateMachine;
use openraft::storage::Snapshot;
use openraft::AnyError;
use openraft::BasicNode;
use openraft::Entry;
use openraft::EntryPayload;
use openraft::ErrorSubject;
use openraft::ErrorVerb;
use openraft::LogId;
use openraft::OptionalSend;
use openraft::RaftSnapshotBuilder;
use openraft::SnapshotMeta;
use openraft::StorageError;
use openraft::StorageIOError;
use openraft::StoredMembership;
use parking_lot::RwLock;
use parking_lot::RwLockReadGuard;
use parking_lot::RwLockWriteGuard;
use tokio::sync::mpsc;
use tokio::sync::watch;
use zk_session::ClusterSecret;
use zk_session::SessionId;
use zk_session::SessionTable;
use zk_store::Applied;
use zk_store::DataTree;
use zk_store::TreeConfig;
use zk_store::Txn;
use zk_store::TxnContext;
use zk_wire::ErrorCode;

use crate::command::Batch;
use crate::command::BatchResponse;
use crate::command::Command;
use crate::command::CommandOp;
use crate::command::CommandResponse;
use crate::command::Origin;
use crate::command::Outcome;
use crate::snapshot::decode_state;
use crate::snapshot::encode_state;
use crate::snapshot_store::SnapshotStore;
use crate::storage::SledStorage;
use crate::types::NodeId;
use crate::types::TypeConfig;

/// The replicated state, as every node holds it.
#[derive(Debug, Clone)]
pub struct State {
    /// The data tree.
    pub tree: DataTree,
    /// Live sessions and their negotiated timeouts.
    pub sessions: SessionTable,
    /// The cluster secret, once the bootstrap `SetSecret` is applied.
    pub secret: Option<ClusterSecret>,
    /// The last applied entry (any kind).
    pub last_applied: Option<LogId<NodeId>>,
    /// The zxid of the last applied command (0 before any). Every command of every entry
    /// takes the next one, so zxids count commands, contiguously, as ZooKeeper's counter does;
    /// blank and membership entries take none.
    pub last_zxid: i64,
    /// The last applied membership config.
    pub last_membership: StoredMembership<NodeId, BasicNode>,
}

impl State {
    /// A fresh state: a new tree, no sessions, no secret, nothing applied.
    pub fn new(config: TreeConfig) -> Self {
        State {
            tree: DataTree::new(config),
            sessions: SessionTable::new(),
            secret: None,
            last_applied: None,
            last_zxid: 0,
            last_membership: StoredMembership::default(),
        }
    }

    /// The zxid of the last applied command (0 before any).
    pub fn applied_zxid(&self) -> i64 {
        self.last_zxid
    }

    /// Where the state stands: the last applied entry's index and command's zxid.
    pub fn applied_point(&self) -> AppliedPoint {
        AppliedPoint {
            index: self.last_applied.map_or(0, |l| l.index),
            zxid: self.last_zxid,
        }
    }

    /// Applies one command with its `zxid`; never fails, failures are outcomes.
    fn apply_command(&mut self, zxid: i64, cmd: &Command) -> Outcome {
        match &cmd.op {
            CommandOp::CreateSession { timeout_ms } => {
                // A zxid names exactly one command forever, on every node: an id made from it
                // is unique and identical everywhere without coordination.
                let Ok(id) = SessionId::from_raw(zxid) else {
                    return Outcome::Rejected(ErrorCode::BadArguments);
                };
                let owner = cmd.origin.map_or(
                    zk_session::Owner { node: 0, token: 0 },
                    crate::command::Origin::owner,
                );
                match self.sessions.create(id, *timeout_ms, owner) {
                    Ok(()) => Outcome::SessionCreated {
                        session_id: id,
                        timeout_ms: *timeout_ms,
                    },
                    // Unreachable with unique log indexes; an outcome, not a crash.
                    Err(_) => Outcome::Rejected(ErrorCode::SystemError),
                }
            }
            CommandOp::CloseSession { session_id, owner } => {
                let Ok(id) = SessionId::from_raw(*session_id) else {
                    return Outcome::Rejected(ErrorCode::BadArguments);
                };
                if let Err(code) = self.check_owner(id, *owner) {
                    return Outcome::Rejected(code);
                }
                let ids = self.sessions.close(id).map(|_| id).into_iter().collect();
                // Runs even if the session was already gone: it owns no ephemerals then, and
                // the tree stays the single judge of what to delete.
                let ctx = TxnContext {
                    zxid,
                    time_ms: cmd.time_ms,
                    session_id: *session_id,
                    auth: &[],
                };
                let applied = self.tree.apply(
                    &ctx,
                    &Txn::CloseSession {
                        session_id: *session_id,
                    },
                );
                Outcome::SessionsClosed { ids, applied }
            }
            CommandOp::ExpireSessions { ids } => {
                let valid: Vec<SessionId> = ids
                    .iter()
                    .filter_map(|&raw| SessionId::from_raw(raw).ok())
                    .collect();
                let removed = valid
                    .iter()
                    .copied()
                    .filter(|&id| self.sessions.close(id).is_some())
                    .collect();
                let raw: Vec<i64> = valid.iter().map(|id| id.get()).collect();
                let ctx = TxnContext::system(zxid, cmd.time_ms);
                let applied = self.tree.apply(&ctx, &Txn::ExpireSessions(raw));
                Outcome::SessionsClosed {
                    ids: removed,
                    applied,
                }
            }
            CommandOp::Write {
                session_id,
                owner,
                auth,
                txn,
            } => Outcome::Txn(self.apply_write(zxid, cmd.time_ms, *session_id, *owner, auth, txn)),
            CommandOp::ClaimSession { session_id } => {
                let (Ok(id), Some(origin)) = (SessionId::from_raw(*session_id), cmd.origin) else {
                    return Outcome::Rejected(ErrorCode::BadArguments);
                };
                let owner = origin.owner();
                if self.sessions.claim(id, owner) {
                    Outcome::SessionClaimed {
                        session_id: id,
                        owner,
                    }
                } else {
                    Outcome::Rejected(ErrorCode::SessionExpired)
                }
            }
            CommandOp::SetSecret { secret } => {
                if self.secret.is_some() {
                    Outcome::SecretAlreadySet
                } else {
                    self.secret = Some(secret.clone());
                    Outcome::SecretSet
                }
            }
            CommandOp::Noop => Outcome::Noop,
        }
    }

    /// SessionMoved if `owner` is given and another connection owns the live session `id`
    /// (ZooKeeper's `checkSession(id, owner)`); a gone session is left to the caller.
    fn check_owner(
        &self,
        id: SessionId,
        owner: Option<zk_session::Owner>,
    ) -> Result<(), ErrorCode> {
        match (owner, self.sessions.owner(id)) {
            (Some(mine), Some(current)) if mine != current => Err(ErrorCode::SessionMoved),
            _ => Ok(()),
        }
    }

    /// A client (or system) write: the session must be live and owned by the writer's
    /// connection; session txns are not writes.
    fn apply_write(
        &mut self,
        zxid: i64,
        time_ms: i64,
        session_id: i64,
        owner: Option<zk_session::Owner>,
        auth: &[zk_wire::Id],
        txn: &Txn,
    ) -> Applied {
        let refuse = |code| Applied {
            result: Err(code),
            triggers: Vec::new(),
        };
        // Close/expire must go through their own ops, which keep the session table in step.
        if matches!(txn, Txn::CloseSession { .. } | Txn::ExpireSessions(_)) {
            return refuse(ErrorCode::BadArguments);
        }
        match SessionId::from_raw(session_id) {
            // Session 0 is the system: only the cleaner's DeleteContainer.
            Err(_) if !matches!(txn, Txn::DeleteContainer { .. }) => {
                return refuse(ErrorCode::BadArguments)
            }
            Err(_) => {}
            Ok(id) if !self.sessions.contains(id) => return refuse(ErrorCode::SessionExpired),
            Ok(id) => {
                if let Err(code) = self.check_owner(id, owner) {
                    return refuse(code);
                }
            }
        }
        let ctx = TxnContext {
            zxid,
            time_ms,
            session_id,
            auth,
        };
        self.tree.apply(&ctx, txn)
    }
}

/// How far the state has been applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AppliedPoint {
    /// The last applied entry's log index (every command in it applied).
    pub index: u64,
    /// The last applied command's zxid.
    pub zxid: i64,
}

/// One applied command's outcome (or a blank, membership or snapshot event), published to the
/// node layer on every node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyEvent {
    /// The entry it came in (for `SnapshotInstalled`: the snapshot's last log id).
    pub log_id: LogId<NodeId>,
    /// The command's zxid (for an event without a command: the last zxid applied so far).
    pub zxid: i64,
    /// The node and request waiting for it, if any.
    pub origin: Option<Origin>,
    /// What applying it did (results and watch triggers).
    pub outcome: Outcome,
}

/// Receives every [`ApplyEvent`], in log order.
pub type ApplyEvents = mpsc::UnboundedReceiver<ApplyEvent>;

/// Called with every [`ApplyEvent`] right after its command was applied (before the next
/// command of the same entry), with the state as it is then, while the state's write lock is
/// still held.
///
/// Why under the lock: a node fires its connections' watches from here, and a local read
/// registers its watch under the read lock, so "read, then register" and "apply, then fire"
/// never interleave: a watch never misses a change made after its read, and never fires for
/// a change its read already showed (ZooKeeper gets the same from triggering inside its
/// DataTree). Why per command with the state: a read queued behind a session's write can be
/// answered here, exactly after that write and before the session's next one, so the
/// session's later writes need not wait for it. It must be quick and must not touch the
/// state lock (it would deadlock): the state it may read is the one passed in.
pub type ApplyHook = Arc<dyn Fn(&ApplyEvent, &State) + Send + Sync>;

/// An apply hook was already installed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an apply hook is already installed")]
pub struct HookAlreadySet;

/// Read access to the applied state for the node's local reads; cheap to clone.
#[derive(Clone)]
pub struct SharedState {
    state: Arc<RwLock<State>>,
    applied: watch::Receiver<AppliedPoint>,
    hook: Arc<OnceLock<ApplyHook>>,
}

/// The state machine is gone (Raft shut down) while waiting for a zxid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the state machine has shut down")]
pub struct StateMachineGone;

impl SharedState {
    /// A read guard on the applied state; hold it briefly (apply waits for it).
    ///
    /// Recursive: a read goes ahead while another read holds the lock even if apply waits
    /// for it, so a long reader (a snapshot being encoded) holds up apply only, never the
    /// node's other reads (with a writer-first lock they queued behind apply, and every
    /// runtime worker could end up blocked: no heartbeats, elections).
    pub fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read_recursive()
    }

    /// Installs the [`ApplyHook`] (once): every entry applied from now on is passed to it.
    pub fn set_apply_hook(&self, hook: ApplyHook) -> Result<(), HookAlreadySet> {
        self.hook.set(hook).map_err(|_| HookAlreadySet)
    }

    /// The zxid of the last applied command.
    pub fn applied_zxid(&self) -> i64 {
        self.applied.borrow().zxid
    }

    /// A watch of the applied point (changes after each entry's [`ApplyEvent`]s were
    /// published).
    pub fn subscribe_applied(&self) -> watch::Receiver<AppliedPoint> {
        self.applied.clone()
    }

    /// Waits until `zxid` has been applied locally; returns the applied zxid then.
    pub async fn wait_applied(&self, zxid: i64) -> Result<i64, StateMachineGone> {
        let mut rx = self.applied.clone();
        let seen = rx
            .wait_for(|p| p.zxid >= zxid)
            .await
            .map_err(|_| StateMachineGone)?;
        Ok(seen.zxid)
    }

    /// Waits until the entry at log `index` (all of it) has been applied locally, e.g. a
    /// leader's read index for `sync`; returns the applied zxid then.
    pub async fn wait_applied_index(&self, index: u64) -> Result<i64, StateMachineGone> {
        let mut rx = self.applied.clone();
        let seen = rx
            .wait_for(|p| p.index >= index)
            .await
            .map_err(|_| StateMachineGone)?;
        Ok(seen.zxid)
    }
}

impl std::fmt::Debug for SharedState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedState")
            .field("applied_zxid", &self.applied_zxid())
            .finish()
    }
}

/// openraft's state machine over [`State`]; snapshots are kept in the [`SnapshotStore`].
///
/// Events go out on an unbounded channel: apply must never wait for the node layer (a slow
/// consumer would stall Raft itself), and the node drains it continuously; its memory is
/// bounded by how far the consumer lags behind the log.
pub struct ZkStateMachine {
    state: Arc<RwLock<State>>,
    applied: watch::Sender<AppliedPoint>,
    events: mpsc::UnboundedSender<ApplyEvent>,
    hook: Arc<OnceLock<ApplyHook>>,
    snapshots: SnapshotStore<TypeConfig>,
    tree_config: TreeConfig,
    builds: u64,
    /// True while a snapshot is being encoded (its builder holds a read guard meanwhile).
    building: Arc<watch::Sender<bool>>,
}

impl ZkStateMachine {
    /// Opens the state machine of a data dir: the latest stored snapshot, or a fresh state.
    /// openraft then re-applies the committed log after it.
    pub fn open(
        storage: &SledStorage,
        tree_config: TreeConfig,
    ) -> Result<(Self, SharedState, ApplyEvents), StorageError<NodeId>> {
        let snapshots = storage.snapshot_store::<TypeConfig>();
        let state = match snapshots.load()? {
            Some((meta, bytes)) => {
                let state = decode_state(&bytes, tree_config).map_err(|e| {
                    StorageIOError::read_snapshot(Some(meta.signature()), AnyError::new(&e))
                })?;
                check_meta(&meta, &state)?;
                state
            }
            None => State::new(tree_config),
        };
        let (applied, applied_rx) = watch::channel(state.applied_point());
        let (events, events_rx) = mpsc::unbounded_channel();
        let state = Arc::new(RwLock::new(state));
        let hook = Arc::new(OnceLock::new());
        let shared = SharedState {
            state: state.clone(),
            applied: applied_rx,
            hook: hook.clone(),
        };
        let sm = ZkStateMachine {
            state,
            applied,
            events,
            hook,
            snapshots,
            tree_config,
            builds: 0,
            building: Arc::new(watch::channel(false).0),
        };
        Ok((sm, shared, events_rx))
    }

    /// Another read handle on the state.
    pub fn shared(&self) -> SharedState {
        SharedState {
            state: self.state.clone(),
            applied: self.applied.subscribe(),
            hook: self.hook.clone(),
        }
    }

    /// The write guard, awaited (not blocked on) while a snapshot is being encoded.
    ///
    /// Encoding a large tree holds a read guard for hundreds of ms. Blocking on the lock
    /// meanwhile took one of the runtime's two workers, and the tasks queued on it (a
    /// replication stream's next heartbeat among them) with it: followers heard nothing for
    /// longer than the election timeout and elected another leader under load. Other readers
    /// hold the lock for microseconds; for them blocking is cheaper than a wake-up. The
    /// builder announces itself before it takes its guard, and takes it fairly (behind a
    /// waiting writer), so a writer that finds the lock taken and no build announced waits
    /// for short readers only.
    async fn write(&self) -> RwLockWriteGuard<'_, State> {
        loop {
            if let Some(guard) = self.state.try_write() {
                return guard;
            }
            let mut building = self.building.subscribe();
            if *building.borrow_and_update() {
                // Err only if the sender is gone, and we hold it.
                let _ = building.wait_for(|b| !*b).await;
                continue;
            }
            return self.state.write();
        }
    }

    /// Runs the apply hook, if any, on the state as it is now (the caller holds the write
    /// lock).
    fn run_hook(&self, event: &ApplyEvent, state: &State) {
        if let Some(hook) = self.hook.get() {
            hook(event, state);
        }
    }

    /// The event of what was just applied (its zxid is the state's last), after the hook has
    /// seen it.
    fn event(
        &self,
        state: &State,
        log_id: LogId<NodeId>,
        origin: Option<Origin>,
        outcome: Outcome,
    ) -> ApplyEvent {
        let event = ApplyEvent {
            log_id,
            zxid: state.last_zxid,
            origin,
            outcome,
        };
        self.run_hook(&event, state);
        event
    }

    /// Publishes an entry's events, then the applied point: a reader woken by the point finds
    /// the events queued.
    fn publish(&self, events: impl IntoIterator<Item = ApplyEvent>, point: AppliedPoint) {
        for event in events {
            // No receiver means the node layer is gone (shutting down); the state advances.
            let _ = self.events.send(event);
        }
        self.applied.send_replace(point);
    }
}

/// The snapshot's bytes must describe the state its metadata names.
fn check_meta(
    meta: &SnapshotMeta<NodeId, BasicNode>,
    state: &State,
) -> Result<(), StorageError<NodeId>> {
    if meta.last_log_id != state.last_applied {
        let e = AnyError::error(format!(
            "snapshot {} holds state applied up to {:?}",
            meta.snapshot_id, state.last_applied
        ));
        return Err(StorageIOError::read_snapshot(Some(meta.signature()), e).into());
    }
    Ok(())
}

/// Builds a snapshot of the state at the time `build_snapshot` runs.
pub struct ZkSnapshotBuilder {
    state: Arc<RwLock<State>>,
    snapshots: SnapshotStore<TypeConfig>,
    build: u64,
    building: Arc<watch::Sender<bool>>,
}

/// Marks a snapshot build for [`ZkStateMachine::write`] while it lives.
struct Building(Arc<watch::Sender<bool>>);

impl Building {
    fn start(flag: &Arc<watch::Sender<bool>>) -> Building {
        flag.send_replace(true);
        Building(flag.clone())
    }
}

impl Drop for Building {
    fn drop(&mut self) {
        self.0.send_replace(false);
    }
}

impl RaftSnapshotBuilder<TypeConfig> for ZkSnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError<NodeId>> {
        // Encoded under one read guard so bytes and metadata describe the same state; apply
        // waits meanwhile (the tree is in memory, encoding is a copy). On a blocking thread:
        // encoding a few hundred thousand znodes takes a few hundred ms, and on a runtime
        // worker it left the other worker as the only one while apply waited on the lock
        // (found by bench/compare.sh: elections nobody asked for during snapshots).
        let state = self.state.clone();
        let build = self.build;
        let building = Building::start(&self.building);
        let encoded = tokio::task::spawn_blocking(move || {
            // Declared before the guard, so dropped after it: the mark goes with the guard.
            let _building = building;
            // Fair: behind a writer already waiting (see `ZkStateMachine::write`).
            let st = state.read();
            let bytes = encode_state(&st)?;
            let snapshot_id = match st.last_applied {
                Some(l) => format!("{}-{}-{}", l.leader_id, l.index, build),
                None => format!("--{build}"),
            };
            let meta = SnapshotMeta {
                last_log_id: st.last_applied,
                last_membership: st.last_membership.clone(),
                snapshot_id,
            };
            Ok::<_, crate::snapshot::StateSnapshotError>((meta, bytes))
        })
        .await
        .map_err(|e| StorageIOError::read_state_machine(AnyError::new(&e)))?;
        let (meta, bytes) =
            encoded.map_err(|e| StorageIOError::read_state_machine(AnyError::new(&e)))?;
        let bytes = self.snapshots.save(&meta, bytes).await?;
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(bytes)),
        })
    }
}

impl RaftStateMachine<TypeConfig> for ZkStateMachine {
    type SnapshotBuilder = ZkSnapshotBuilder;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId<NodeId>>, StoredMembership<NodeId, BasicNode>), StorageError<NodeId>>
    {
        let st = self.state.read_recursive();
        Ok((st.last_applied, st.last_membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<BatchResponse>, StorageError<NodeId>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut replies = Vec::new();
        for entry in entries {
            let log_id = entry.log_id;
            // The lock is taken per entry, so local reads interleave with a long run of
            // entries, and never see an entry half applied.
            let (events, point) = {
                let mut st = self.write().await;
                st.last_applied = Some(log_id);
                let mut events = Vec::new();
                match entry.payload {
                    EntryPayload::Blank => {
                        events.push(self.event(&st, log_id, None, Outcome::Noop))
                    }
                    EntryPayload::Membership(m) => {
                        st.last_membership = StoredMembership::new(Some(log_id), m);
                        events.push(self.event(&st, log_id, None, Outcome::Noop));
                    }
                    EntryPayload::Normal(Batch(cmds)) => {
                        events.reserve(cmds.len());
                        for cmd in cmds.iter() {
                            st.last_zxid = st.last_zxid.saturating_add(1);
                            let zxid = st.last_zxid;
                            let outcome = st.apply_command(zxid, cmd);
                            // The hook sees the state right after this command and before
                            // the next: what a read answered "just after this write" shows.
                            events.push(self.event(&st, log_id, cmd.origin, outcome));
                        }
                    }
                }
                (events, st.applied_point())
            };
            replies.push(BatchResponse(
                events
                    .iter()
                    .map(|e| CommandResponse {
                        zxid: e.zxid,
                        outcome: e.outcome.clone(),
                    })
                    .collect(),
            ));
            self.publish(events, point);
        }
        Ok(replies)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.builds += 1;
        ZkSnapshotBuilder {
            state: self.state.clone(),
            snapshots: self.snapshots.clone(),
            build: self.builds,
            building: self.building.clone(),
        }
    }

    async fn begin_receiving_snapshot(
        &mut self,
    ) -> Result<Box<Cursor<Vec<u8>>>, StorageError<NodeId>> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<NodeId, BasicNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError<NodeId>> {
        let bytes = snapshot.into_inner();
        // Decoding a large tree takes hundreds of ms: not on a runtime worker.
        let config = self.tree_config;
        let (state, bytes) = tokio::task::spawn_blocking(move || {
            let state = decode_state(&bytes, config);
            (state, bytes)
        })
        .await
        .map_err(|e| StorageIOError::read_snapshot(Some(meta.signature()), AnyError::new(&e)))?;
        let state = state.map_err(|e| {
            StorageIOError::new(
                ErrorSubject::Snapshot(Some(meta.signature())),
                ErrorVerb::Read,
                AnyError::new(&e),
            )
        })?;
        check_meta(meta, &state)?;
        // Stored before it replaces the state: a crash in between restarts from it.
        let len = self.snapshots.save(meta, bytes).await?.len();
        let log_id = state.last_applied;
        tracing::info!(last = ?log_id, bytes = len, "installed a snapshot from the leader");
        let mut st = self.write().await;
        let old = std::mem::replace(&mut *st, state);
        let published = log_id.map(|log_id| {
            (
                self.event(&st, log_id, None, Outcome::SnapshotInstalled),
                st.applied_point(),
            )
        });
        drop(st);
        if let Some((event, point)) = published {
            self.publish([event], point);
        }
        // Freeing the old tree is work too; not under the lock, not on a runtime worker.
        tokio::task::spawn_blocking(move || drop(old));
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<Snapshot<TypeConfig>>, StorageError<NodeId>> {
        // Reading tens of MB from a file: not on a runtime worker.
        let snapshots = self.snapshots.clone();
        let loaded = tokio::task::spawn_blocking(move || snapshots.load())
            .await
            .map_err(|e| StorageIOError::read_snapshot(None, AnyError::new(&e)))??;
        Ok(loaded.map(|(meta, bytes)| Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(bytes)),
        }))
    }
}
