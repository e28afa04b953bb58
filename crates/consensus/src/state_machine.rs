//! openraft's state machine over the pure [`State`]: applies log entries under the
//! shared-state lock ([`SharedState`] is the node's read side), tells the apply hook what each
//! command did, and snapshots through the [`SnapshotStore`].
//!
//! Apply is deterministic (see `state`): every replica that applies the same log holds the
//! same state and produces the same [`ApplyEvent`]s.

use std::io;
use std::io::Cursor;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::sync::OnceLock;

use openraft::storage::EntryResponder;
use openraft::storage::RaftStateMachine;
use openraft::EntryPayload;
use openraft::OptionalSend;
use openraft::RaftSnapshotBuilder;
use parking_lot::RwLock;
use parking_lot::RwLockReadGuard;
use parking_lot::RwLockWriteGuard;
use tokio::sync::watch;
use tokio_stream::Stream;
use tokio_stream::StreamExt;
use zk_store::TreeConfig;

use crate::command::Batch;
use crate::command::BatchResponse;
use crate::command::CommandResponse;
use crate::command::Origin;
use crate::command::Outcome;
use crate::error::io_err;
use crate::metrics::ConsensusMetrics;
use crate::snapshot::decode_state;
use crate::snapshot::freeze_state;
use crate::snapshot_store::SnapshotStore;
use crate::state::AppliedPoint;
use crate::state::State;
use crate::storage::SledStorage;
use crate::types::Entry;
use crate::types::LogId;
use crate::types::Snapshot;
use crate::types::SnapshotData;
use crate::types::SnapshotMeta;
use crate::types::StoredMembership;
use crate::types::TypeConfig;

/// One applied command's outcome (or a blank, membership or snapshot event), passed to the
/// node layer's [`ApplyHook`] on every node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyEvent {
    /// The entry it came in (for `SnapshotInstalled`: the snapshot's last log id).
    pub log_id: LogId,
    /// The command's zxid (for an event without a command: the last zxid applied so far).
    pub zxid: i64,
    /// The node and request waiting for it, if any.
    pub origin: Option<Origin>,
    /// What applying it did (results and watch triggers).
    pub outcome: Outcome,
}

/// Called with every [`ApplyEvent`] right after its command was applied (before the next
/// command of the same entry), with the state as it is then, while the state's write lock is
/// still held.
///
/// Why under the lock: a node fires its connections' watches from here, and a local read
/// registers its watch under the read lock, so "read, then register" and "apply, then fire"
/// never interleave: a watch never misses a change made after its read, and never fires for
/// a change its read already showed (ZooKeeper gets the same from triggering inside its
/// DataTree). Why per command with the state: a few reads queued behind a session's write can
/// be answered here, exactly after that write and before the session's next one, so the
/// session's later writes need not wait for them (the node bounds how many: its session-order
/// core attaches at most a handful of cheap reads to a write; the rest it runs itself, off
/// this lock). It must be quick and must not touch the state lock (it would deadlock): the
/// state it may read is the one passed in.
pub type ApplyHook = Arc<dyn Fn(&ApplyEvent, &State) + Send + Sync>;

/// A `reconfig` that passed its checks at apply, for the leader that logged it to carry out.
#[derive(Debug, Clone)]
pub(crate) struct ReconfigIntent {
    /// The entry it came in: only the leader of that entry's term carries it out.
    pub(crate) log_id: LogId,
    /// The request waiting for its answer.
    pub(crate) origin: Option<Origin>,
    /// The members asked for (id -> membership record; observers marked).
    pub(crate) members: std::collections::BTreeMap<u64, String>,
}

/// Where applied reconfig intents go (the member's reconfig task).
pub(crate) type IntentSink = tokio::sync::mpsc::UnboundedSender<ReconfigIntent>;

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
    installs: Arc<AtomicU64>,
}

/// The state machine is gone (Raft shut down) while waiting for a zxid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the state machine has shut down")]
pub struct StateMachineGone;

impl SharedState {
    /// How many snapshots from the leader this member has installed since it opened. It is
    /// raised before the applied point of the installed state is published, so a watcher of
    /// [`SharedState::subscribe_applied`] that sees a jump can tell a snapshot made it.
    pub fn snapshot_installs(&self) -> u64 {
        self.installs.load(Ordering::SeqCst)
    }

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

    /// The log index of the last applied entry.
    pub fn applied_index(&self) -> u64 {
        self.applied.borrow().index
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
/// The one way out of apply is the [`ApplyHook`] (called in place, never waited on by a
/// queue) and the applied point; apply never waits for the node layer.
pub struct ZkStateMachine {
    state: Arc<RwLock<State>>,
    applied: watch::Sender<AppliedPoint>,
    hook: Arc<OnceLock<ApplyHook>>,
    /// Applied reconfig intents go here (every member's; only a leader acts on them).
    intents: Arc<OnceLock<IntentSink>>,
    /// Snapshots installed from the leader since the member opened; raised before the
    /// applied point that shows the installed state is published.
    installs: Arc<AtomicU64>,
    snapshots: SnapshotStore<TypeConfig>,
    tree_config: TreeConfig,
    /// True while a snapshot is being encoded (its builder holds a read guard meanwhile).
    building: Arc<watch::Sender<bool>>,
    metrics: Arc<ConsensusMetrics>,
}

impl ZkStateMachine {
    /// Opens the state machine of a data dir: the latest stored snapshot, or a fresh state.
    /// openraft then re-applies the committed log after it.
    pub fn open(storage: &SledStorage, tree_config: TreeConfig) -> io::Result<(Self, SharedState)> {
        let snapshots = storage.snapshot_store::<TypeConfig>();
        let metrics = storage.metrics().clone();
        let state = match snapshots.load()? {
            Some((meta, bytes)) => {
                let state = decode_state(&bytes, tree_config)
                    .map_err(|e| io_err(format_args!("decoding snapshot {meta}"), &e))?;
                check_meta(&meta, &state)?;
                // Until this node saves one, `last_snapshot` names the one it started from,
                // with its file's time, as ZooKeeper's does.
                if let Some(modified) = snapshots.file_modified() {
                    let ms = modified
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
                    metrics.snapshot_saved(state.last_zxid, ms);
                }
                state
            }
            None => State::new(tree_config),
        };
        let (applied, applied_rx) = watch::channel(state.applied_point());
        let state = Arc::new(RwLock::new(state));
        let hook = Arc::new(OnceLock::new());
        let installs = Arc::new(AtomicU64::new(0));
        let shared = SharedState {
            state: state.clone(),
            applied: applied_rx,
            hook: hook.clone(),
            installs: installs.clone(),
        };
        let sm = ZkStateMachine {
            state,
            applied,
            hook,
            intents: Arc::new(OnceLock::new()),
            installs,
            snapshots,
            tree_config,
            building: Arc::new(watch::channel(false).0),
            metrics,
        };
        Ok((sm, shared))
    }

    /// Sends every reconfig that passes its checks at apply to `sink` (set once, before Raft
    /// starts).
    pub(crate) fn set_intent_sink(&self, sink: IntentSink) {
        let _ = self.intents.set(sink);
    }

    /// Another read handle on the state.
    pub fn shared(&self) -> SharedState {
        SharedState {
            state: self.state.clone(),
            applied: self.applied.subscribe(),
            hook: self.hook.clone(),
            installs: self.installs.clone(),
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

    /// Tells the apply hook, if any, what was just applied (its zxid is the state's last),
    /// with the state as it is now (the caller holds the write lock); the answer for Raft.
    fn tell(
        &self,
        state: &State,
        log_id: LogId,
        origin: Option<Origin>,
        outcome: Outcome,
    ) -> CommandResponse {
        let event = ApplyEvent {
            log_id,
            zxid: state.last_zxid,
            origin,
            outcome,
        };
        if let Some(hook) = self.hook.get() {
            hook(&event, state);
        }
        CommandResponse {
            zxid: event.zxid,
            outcome: event.outcome,
        }
    }

    /// Applies `entries` in order, as openraft's `apply` does, and returns each one's answer
    /// (what its responder gets); for driving the state machine without a Raft (tests).
    pub async fn apply_entries(
        &mut self,
        entries: impl IntoIterator<Item = Entry>,
    ) -> Vec<BatchResponse> {
        let mut answers = Vec::new();
        for entry in entries {
            answers.push(self.apply_entry(entry).await);
        }
        answers
    }

    /// Applies one entry: every command of its batch in order, the apply hook told of each
    /// right after it; then publishes the applied point.
    async fn apply_entry(&mut self, entry: Entry) -> BatchResponse {
        let log_id = entry.log_id;
        // The lock is taken per entry, so local reads interleave with a long run of
        // entries, and never see an entry half applied.
        let (answers, point) = {
            let mut st = self.write().await;
            st.last_applied = Some(log_id);
            let mut answers = Vec::new();
            match entry.payload {
                EntryPayload::Blank => answers.push(self.tell(&st, log_id, None, Outcome::Noop)),
                EntryPayload::Membership(m) => {
                    st.last_membership = StoredMembership::new(Some(log_id), m);
                    answers.push(self.tell(&st, log_id, None, Outcome::Noop));
                }
                EntryPayload::Normal(Batch(cmds)) => {
                    answers.reserve(cmds.len());
                    for cmd in cmds.iter() {
                        let (_, outcome) = st.apply(cmd);
                        if let Outcome::ReconfigStarted { members } = &outcome {
                            if let Some(sink) = self.intents.get() {
                                // The receiver lives as long as the member; a closed one
                                // means it is shutting down.
                                let _ = sink.send(ReconfigIntent {
                                    log_id,
                                    origin: cmd.origin,
                                    members: members.clone(),
                                });
                            }
                        }
                        // The hook sees the state right after this command and before the
                        // next: what a read answered "just after this write" shows.
                        answers.push(self.tell(&st, log_id, cmd.origin, outcome));
                    }
                }
            }
            (answers, st.applied_point())
        };
        // After the hook saw every command: a waiter woken by the point finds them done.
        self.applied.send_replace(point);
        BatchResponse(answers)
    }
}

/// The snapshot's bytes must describe the state its metadata names.
fn check_meta(meta: &SnapshotMeta, state: &State) -> io::Result<()> {
    if meta.last_log_id != state.last_applied {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "snapshot {meta} holds state applied up to {:?}",
                state.last_applied
            ),
        ));
    }
    Ok(())
}

/// Builds a snapshot of the state at the time `build_snapshot` runs.
pub struct ZkSnapshotBuilder {
    state: Arc<RwLock<State>>,
    snapshots: SnapshotStore<TypeConfig>,
    building: Arc<watch::Sender<bool>>,
    metrics: Arc<ConsensusMetrics>,
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
    type SnapshotData = SnapshotData;

    async fn build_snapshot(&mut self) -> io::Result<Snapshot> {
        // Frozen under one read guard so bytes and metadata describe the same state, then
        // encoded after the guard is gone: apply waits only for the freeze (a copy of the
        // node map, each node shared), not for the encoding (about a second for 500k nodes;
        // `cargo bench -p zk-store --bench snapshot`). On a blocking thread: on a runtime
        // worker a long encoding left the other worker as the only one (found by
        // bench/compare.sh: elections nobody asked for during snapshots).
        let started = std::time::Instant::now();
        let state = self.state.clone();
        let building = Building::start(&self.building);
        let encoded = tokio::task::spawn_blocking(move || {
            let frozen = {
                // Declared before the guard, so dropped after it: apply waits (without
                // blocking a worker) only while the mark and the guard last, the freeze.
                let _building = building;
                // Fair: behind a writer already waiting (see `ZkStateMachine::write`).
                let st = state.read();
                let meta = SnapshotMeta {
                    last_log_id: st.last_applied,
                    last_membership: st.last_membership.clone(),
                };
                (meta, st.last_zxid, freeze_state(&st)?)
            };
            let (meta, zxid, frozen) = frozen;
            Ok::<_, crate::snapshot::StateSnapshotError>((meta, zxid, frozen.encode()))
        })
        .await
        .map_err(|e| io_err(format_args!("encoding a snapshot"), &e))?;
        let (meta, zxid, bytes) =
            encoded.map_err(|e| io_err(format_args!("encoding a snapshot"), &e))?;
        let (bytes, stored) = self.snapshots.save_if_newer(&meta, bytes).await?;
        // ZooKeeper's `snapshottime` times a snapshot from its start to its file written. A
        // build the store did not keep (a newer snapshot was installed meanwhile) was still
        // taken, so it is timed too; it is not the last snapshot, though.
        self.metrics.snapshot_time.record(started.elapsed());
        if stored {
            self.metrics.snapshot_saved(zxid, crate::now_ms());
        }
        Ok(Snapshot {
            meta,
            snapshot: Cursor::new(bytes),
        })
    }
}

impl RaftStateMachine<TypeConfig> for ZkStateMachine {
    type SnapshotData = SnapshotData;
    type SnapshotBuilder = ZkSnapshotBuilder;

    async fn applied_state(&mut self) -> io::Result<(Option<LogId>, StoredMembership)> {
        let st = self.state.read_recursive();
        Ok((st.last_applied, st.last_membership.clone()))
    }

    async fn apply<Strm>(&mut self, mut entries: Strm) -> io::Result<()>
    where
        Strm: Stream<Item = io::Result<EntryResponder<TypeConfig>>> + Unpin + OptionalSend,
    {
        while let Some(item) = entries.next().await {
            let (entry, responder) = item?;
            let answer = self.apply_entry(entry).await;
            if let Some(responder) = responder {
                responder.send(answer);
            }
        }
        Ok(())
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        ZkSnapshotBuilder {
            state: self.state.clone(),
            snapshots: self.snapshots.clone(),
            building: self.building.clone(),
            metrics: self.metrics.clone(),
        }
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: SnapshotData,
    ) -> io::Result<()> {
        let bytes = snapshot.into_inner();
        // Decoding a large tree takes hundreds of ms: not on a runtime worker.
        let config = self.tree_config;
        let (state, bytes) = tokio::task::spawn_blocking(move || {
            let state = decode_state(&bytes, config);
            (state, bytes)
        })
        .await
        .map_err(|e| io_err(format_args!("decoding snapshot {meta}"), &e))?;
        let state = state.map_err(|e| io_err(format_args!("decoding snapshot {meta}"), &e))?;
        check_meta(meta, &state)?;
        // Stored before it replaces the state: a crash in between restarts from it.
        let (bytes, stored) = self.snapshots.save_if_newer(meta, bytes).await?;
        let len = bytes.len();
        if stored {
            self.metrics
                .snapshot_saved(state.last_zxid, crate::now_ms());
        }
        let log_id = state.last_applied;
        tracing::info!(last = ?log_id, bytes = len, "installed a snapshot from the leader");
        let mut st = self.write().await;
        let old = std::mem::replace(&mut *st, state);
        if let Some(log_id) = log_id {
            self.tell(&st, log_id, None, Outcome::SnapshotInstalled);
        }
        let point = st.applied_point();
        drop(st);
        if log_id.is_some() {
            // Before the point: whoever sees the jump can tell it came from a snapshot.
            self.installs.fetch_add(1, Ordering::SeqCst);
            self.applied.send_replace(point);
        }
        // Freeing the old tree is work too; not under the lock, not on a runtime worker.
        tokio::task::spawn_blocking(move || drop(old));
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> io::Result<Option<Snapshot>> {
        // Reading tens of MB from a file: not on a runtime worker.
        let snapshots = self.snapshots.clone();
        let loaded = tokio::task::spawn_blocking(move || snapshots.load())
            .await
            .map_err(|e| io_err(format_args!("reading the stored snapshot"), &e))??;
        Ok(loaded.map(|(meta, bytes)| Snapshot {
            meta,
            snapshot: Cursor::new(bytes),
        }))
    }
}
