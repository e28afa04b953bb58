//! A one-node ensemble (an ensemble of one, started like any member) on a real data dir:
//! writes, the apply hook, restart (S9.1), snapshots with log purge. Every wait has a
//! deadline; nothing sleeps to synchronise.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use zk_consensus::now_ms;
use zk_consensus::start_cluster;
use zk_consensus::ApplyEvent;
use zk_consensus::ApplyHook;
use zk_consensus::Batch;
use zk_consensus::ClusterConfig;
use zk_consensus::ClusterNode;
use zk_consensus::Command;
use zk_consensus::CommandOp;
use zk_consensus::Origin;
use zk_consensus::Outcome;
use zk_session::ClusterSecret;
use zk_session::SessionId;
use zk_store::OpResult;
use zk_store::Txn;
use zk_wire::Acl;
use zk_wire::CreateMode;

const DEADLINE: Duration = Duration::from_secs(10);

/// Every event the apply hook was told of, in order.
type Recorded = Arc<Mutex<Vec<ApplyEvent>>>;

/// A hook that records every event, and what it recorded.
fn recorder() -> (ApplyHook, Recorded) {
    let seen = Recorded::default();
    let sink = seen.clone();
    let hook: ApplyHook = Arc::new(move |ev: &ApplyEvent, _: &zk_consensus::State| {
        sink.lock().expect("recorder lock").push(ev.clone());
    });
    (hook, seen)
}

/// Node 1 alone, as zk-node runs without --peers.
fn config(snapshot_every: u64, hook: Option<ApplyHook>) -> ClusterConfig {
    let alone = BTreeMap::from([(1, "standalone".to_string())]);
    let mut c = ClusterConfig::new(1, alone).expect("a lone member's config");
    c.snapshot_every = snapshot_every;
    c.keep_log = 0;
    c.start_timeout = DEADLINE;
    c.apply_hook = hook;
    c
}

/// Starts the lone member and waits until it leads with the cluster secret applied (its
/// first leadership commits one).
async fn start(dir: &std::path::Path, config: ClusterConfig) -> ClusterNode {
    let node = start_cluster(dir, config).await.expect("start");
    let mut applied = node.state.subscribe_applied();
    tokio::time::timeout(DEADLINE, async {
        while !(node.is_leader() && node.state.read().secret.is_some()) {
            applied.changed().await.expect("state machine running");
        }
    })
    .await
    .expect("leading with the secret applied in time");
    node
}

fn create(session_id: i64, path: &str, mode: CreateMode) -> CommandOp {
    CommandOp::Write {
        session_id,
        owner: None,
        auth: Vec::new(),
        txn: Txn::Create {
            path: path.to_string(),
            data: Some(path.as_bytes().to_vec()),
            acl: Acl::open_unsafe(),
            mode,
            ttl: None,
        },
    }
}

async fn propose(node: &ClusterNode, seq: u64, op: CommandOp) -> (i64, Outcome) {
    let cmd = Command {
        time_ms: now_ms(),
        origin: Some(Origin { node_id: 1, seq }),
        op,
    };
    let resp = tokio::time::timeout(DEADLINE, node.raft.client_write(Batch::from(cmd)))
        .await
        .expect("client_write in time")
        .expect("client_write");
    let mut answers = resp.data.0;
    assert_eq!(answers.len(), 1, "one answer per command of the entry");
    let answer = answers.pop().expect("one answer");
    (answer.zxid, answer.outcome)
}

/// The recorded events with an origin, by its seq.
fn by_seq(seen: &Recorded) -> BTreeMap<u64, ApplyEvent> {
    let seen = seen.lock().expect("recorder lock");
    seen.iter()
        .filter_map(|e| e.origin.map(|o| (o.seq, e.clone())))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_are_applied_with_origins_and_survive_restart() {
    // S9.1: sessions, ephemerals and the secret are replicated state; a restart keeps them.
    let dir = tempfile::tempdir().unwrap();
    let (hook, seen) = recorder();
    let node = start(dir.path(), config(1000, Some(hook))).await;
    let secret: ClusterSecret = node.state.read().secret.clone().expect("bootstrap secret");

    let (zxid, outcome) = propose(&node, 1, CommandOp::CreateSession { timeout_ms: 4000 }).await;
    let sid = SessionId::from_log_index(zxid as u64).unwrap();
    assert_eq!(
        outcome,
        Outcome::SessionCreated {
            session_id: sid,
            timeout_ms: 4000
        }
    );
    let (_, eph) = propose(&node, 2, create(sid.get(), "/eph", CreateMode::Ephemeral)).await;
    let (last, per) = propose(&node, 3, create(sid.get(), "/p", CreateMode::Persistent)).await;
    assert!(matches!(
        eph.applied().unwrap().result,
        Ok(OpResult::Created { .. })
    ));

    // Every node tells its hook the outcome with the origin, so a forwarding node finds it;
    // a leader's hook has it before the write returns.
    let events = by_seq(&seen);
    assert_eq!(events[&1].zxid, zxid);
    assert_eq!(events[&2].outcome, eph);
    assert_eq!(events[&3].outcome, per);
    assert_eq!(events[&3].zxid, last);
    assert_eq!(node.state.wait_applied(last).await, Ok(last));

    let digest = node.state.read().tree.digest();
    let eph_stat = node.state.read().tree.stat("/eph").expect("ephemeral");
    node.shutdown(DEADLINE).await.unwrap();

    let node = start(dir.path(), config(1000, None)).await;
    {
        let st = node.state.read();
        assert_eq!(st.tree.digest(), digest, "tree restored");
        assert_eq!(st.tree.stat("/eph"), Some(eph_stat));
        assert!(st.tree.exists("/p").unwrap().is_some());
        assert_eq!(st.sessions.get(sid), Some(4000), "session restored");
        assert_eq!(
            st.secret.as_ref(),
            Some(&secret),
            "secret kept, not replaced"
        );
        assert!(st.applied_zxid() >= last);
    }
    // The restored session still owns its ephemeral: closing it deletes it.
    let (_, closed) = propose(
        &node,
        4,
        CommandOp::CloseSession {
            session_id: sid.get(),
            owner: None,
        },
    )
    .await;
    assert_eq!(
        closed.applied().unwrap().result,
        Ok(OpResult::SessionsClosed(vec!["/eph".to_string()]))
    );
    node.shutdown(DEADLINE).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_purge_and_restart_from_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path(), config(10, None)).await;
    let (sid, _) = propose(&node, 1, CommandOp::CreateSession { timeout_ms: 4000 }).await;
    let mut last = 0;
    for i in 0..50 {
        let (zxid, out) = propose(
            &node,
            i + 2,
            create(sid, &format!("/n{i}"), CreateMode::Persistent),
        )
        .await;
        assert!(out.applied().unwrap().result.is_ok(), "{out:?}");
        last = zxid as u64;
    }
    let metrics = node
        .raft
        .wait(Some(DEADLINE))
        .metrics(
            |m| {
                m.snapshot.is_some_and(|s| s.index + 10 > last)
                    && m.purged.is_some_and(|p| p.index >= 40)
            },
            "snapshot taken and log purged",
        )
        .await
        .expect("snapshot and purge in time");
    let snapshot_index = metrics.snapshot.map(|s| s.index).unwrap_or_default();
    let digest = node.state.read().tree.digest();
    node.shutdown(DEADLINE).await.unwrap();

    let node = start(dir.path(), config(10, None)).await;
    let m = openraft::async_runtime::WatchReceiver::borrow_watched(&node.raft.metrics()).clone();
    assert!(
        m.purged.is_some_and(|p| p.index >= 40),
        "log stays purged: {m:?}"
    );
    assert!(m.snapshot.is_some_and(|s| s.index >= snapshot_index));
    {
        let st = node.state.read();
        assert_eq!(st.tree.digest(), digest);
        for i in 0..50 {
            assert!(
                st.tree.exists(&format!("/n{i}")).unwrap().is_some(),
                "/n{i}"
            );
        }
        assert!(st.sessions.contains(SessionId::from_raw(sid).unwrap()));
        assert!(st.secret.is_some());
    }
    node.shutdown(DEADLINE).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raft_new_reapplies_the_committed_log_before_any_election() {
    // openraft (0.9.25 and 0.10): `Raft::new` reads the stored committed log id (`read_committed`) and
    // re-applies the log up to it into the state machine, before electing anyone. So a
    // restarted node serves its whole committed state even while it is not (yet) leader.
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path(), config(1000, None)).await;
    let (sid, _) = propose(&node, 1, CommandOp::CreateSession { timeout_ms: 4000 }).await;
    let (last, _) = propose(&node, 2, create(sid, "/eph", CreateMode::Ephemeral)).await;
    let digest = node.state.read().tree.digest();
    node.shutdown(DEADLINE).await.unwrap();

    let storage = zk_consensus::SledStorage::open(dir.path()).unwrap();
    let (sm, state) = zk_consensus::ZkStateMachine::open(&storage, Default::default()).unwrap();
    assert_eq!(
        state.applied_zxid(),
        0,
        "no snapshot: nothing applied before Raft starts"
    );
    let (hook, seen) = recorder();
    state.set_apply_hook(hook).expect("first hook");
    let cfg = openraft::Config {
        enable_elect: false,
        enable_tick: false,
        ..Default::default()
    };
    let raft = zk_consensus::ZkRaft::new(
        1,
        Arc::new(cfg.validate().unwrap()),
        NoPeers,
        storage.log_store().unwrap(),
        sm,
    )
    .await
    .unwrap();
    assert!(state.applied_zxid() >= last, "re-applied inside Raft::new");
    assert_eq!(state.read().tree.digest(), digest);
    // The re-applied entries reached the hook again, in order, with their original origins.
    let replayed: Vec<ApplyEvent> = seen.lock().expect("recorder lock").clone();
    // openraft puts the initial membership at log index 0, so the first zxid is 0.
    assert_eq!(replayed.first().map(|e| e.zxid), Some(0));
    assert_eq!(replayed.first().map(|e| &e.outcome), Some(&Outcome::Noop));
    assert!(replayed
        .iter()
        .any(|e| e.origin == Some(Origin { node_id: 1, seq: 2 }) && e.zxid == last));
    raft.shutdown().await.unwrap();
}

/// A network with nobody on it, for a Raft started by hand with elections off (it never
/// sends an RPC: it campaigns for nobody and leads nobody).
struct NoPeers;

impl openraft::network::RaftNetworkFactory<zk_consensus::TypeConfig> for NoPeers {
    type Network = NoPeers;

    async fn new_client(&mut self, _: u64, _: &openraft::BasicNode) -> NoPeers {
        NoPeers
    }
}

type Tc = zk_consensus::TypeConfig;

impl openraft::RaftNetworkV2<Tc> for NoPeers {
    type SnapshotData = std::io::Cursor<Vec<u8>>;

    async fn append_entries(
        &mut self,
        _: openraft::raft::AppendEntriesRequest<Tc>,
        _: openraft::network::RPCOption,
    ) -> Result<openraft::raft::AppendEntriesResponse<Tc>, openraft::error::RPCError<Tc>> {
        Err(nobody())
    }

    async fn vote(
        &mut self,
        _: openraft::raft::VoteRequest<Tc>,
        _: openraft::network::RPCOption,
    ) -> Result<openraft::raft::VoteResponse<Tc>, openraft::error::RPCError<Tc>> {
        Err(nobody())
    }

    async fn full_snapshot(
        &mut self,
        _: openraft::type_config::alias::VoteOf<Tc>,
        _: openraft::type_config::alias::SnapshotOf<Tc, Self::SnapshotData>,
        _: impl std::future::Future<Output = openraft::error::ReplicationClosed> + Send + 'static,
        _: openraft::network::RPCOption,
    ) -> Result<openraft::raft::SnapshotResponse<Tc>, openraft::error::StreamingError<Tc>> {
        let e = std::io::Error::new(std::io::ErrorKind::NotConnected, "no peers in this test");
        Err(openraft::error::StreamingError::Unreachable(
            openraft::error::Unreachable::new(&e),
        ))
    }
}

fn nobody() -> openraft::error::RPCError<Tc> {
    let e = std::io::Error::new(std::io::ErrorKind::NotConnected, "no peers in this test");
    openraft::error::RPCError::Unreachable(openraft::error::Unreachable::new(&e))
}

/// The apply hook sees every applied entry, in log order, with the state right after it,
/// and before `client_write` returns; it can be installed once only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_hook_sees_every_entry_in_order_before_the_reply() {
    let dir = tempfile::tempdir().expect("tempdir");
    let seen: Recorded = Arc::default();
    let sink = seen.clone();
    let hook: ApplyHook = Arc::new(move |ev: &ApplyEvent, st: &zk_consensus::State| {
        // The state passed in must be the one right after this event's command.
        if st.applied_zxid() == ev.zxid {
            sink.lock().expect("hook lock").push(ev.clone())
        }
    });
    let node = start(dir.path(), config(1000, Some(hook))).await;
    assert!(node
        .state
        .set_apply_hook(Arc::new(|_: &ApplyEvent, _: &zk_consensus::State| {}))
        .is_err());

    let (_, created) = propose(&node, 1, CommandOp::CreateSession { timeout_ms: 4000 }).await;
    let Outcome::SessionCreated { session_id, .. } = created else {
        panic!("{created:?}")
    };
    let mut zxids = Vec::new();
    for (seq, p) in [(2, "/a"), (3, "/b"), (4, "/c")] {
        let (zxid, _) = propose(
            &node,
            seq,
            create(session_id.get(), p, CreateMode::Persistent),
        )
        .await;
        // Already seen by the hook when the write returns.
        assert!(seen.lock().expect("lock").iter().any(|e| e.zxid == zxid));
        zxids.push(zxid);
    }
    let seen = seen.lock().expect("lock").clone();
    // Installed before Raft started, the hook also saw the membership and blank entries,
    // which take no zxid (they repeat the last one); every command took the next.
    let mut hooked: Vec<i64> = seen.iter().map(|e| e.zxid).collect();
    hooked.dedup();
    assert!(
        hooked.windows(2).all(|w| w[1] == w[0] + 1),
        "consecutive: {hooked:?}"
    );
    assert_eq!(&hooked[hooked.len() - 3..], zxids.as_slice());
    let seqs: Vec<u64> = seen
        .iter()
        .filter_map(|e| e.origin.map(|o| o.seq))
        .collect();
    assert_eq!(seqs, vec![1, 2, 3, 4]);
    node.shutdown(DEADLINE).await.expect("shutdown");
}
