//! The Raft adapter of the state: entries in, the hook told of every command in log order,
//! the applied point, determinism across batching, snapshots; without a running Raft. The
//! rules of apply themselves are unit tests of the pure state (src/state/tests.rs).

use std::io::Cursor;
use std::sync::Arc;
use std::sync::Mutex;

use openraft::impls::leader_id_adv::LeaderId;
use openraft::storage::RaftStateMachine;
use openraft::vote::RaftLeaderId;
use openraft::EntryPayload;
use openraft::RaftSnapshotBuilder;
use zk_consensus::decode_state;
use zk_consensus::encode_state;
use zk_consensus::AppliedPoint;
use zk_consensus::ApplyEvent;
use zk_consensus::Batch;
use zk_consensus::Command;
use zk_consensus::CommandOp;
use zk_consensus::CommandResponse;
use zk_consensus::Entry;
use zk_consensus::LogId;
use zk_consensus::Origin;
use zk_consensus::Outcome;
use zk_consensus::SharedState;
use zk_consensus::SledStorage;
use zk_consensus::SnapshotMeta;
use zk_consensus::ZkStateMachine;
use zk_session::ClusterSecret;
use zk_session::SessionId;
use zk_store::TreeConfig;
use zk_store::Txn;
use zk_wire::Acl;
use zk_wire::CreateMode;

fn log_id(index: u64) -> LogId {
    LogId::new(LeaderId::new(1, 1), index)
}

fn entry(index: u64, op: CommandOp) -> Entry {
    Entry {
        log_id: log_id(index),
        payload: EntryPayload::Normal(Batch::from(Command {
            time_ms: 1_700_000_000_000 + index as i64,
            origin: Some(Origin {
                node_id: 1,
                seq: index * 10,
            }),
            op,
        })),
    }
}

fn create(session_id: i64, path: &str, mode: CreateMode) -> CommandOp {
    CommandOp::Write {
        session_id,
        owner: None,
        auth: Vec::new(),
        txn: Txn::Create {
            path: path.to_string(),
            data: Some(b"x".to_vec()),
            acl: Acl::open_unsafe(),
            mode,
            ttl: None,
        },
    }
}

fn secret(byte: u8) -> ClusterSecret {
    ClusterSecret::from_bytes([byte; 32])
}

/// Every event the apply hook was told of, in order.
type Recorded = Arc<Mutex<Vec<ApplyEvent>>>;

struct Sm {
    sm: ZkStateMachine,
    shared: SharedState,
    events: Recorded,
    _dir: tempfile::TempDir,
}

/// A state machine on a fresh data dir, without a hook.
fn open_bare() -> (ZkStateMachine, SharedState, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let storage = SledStorage::open(dir.path()).unwrap();
    let (sm, shared) = ZkStateMachine::open(&storage, TreeConfig::default()).unwrap();
    (sm, shared, dir)
}

/// A state machine whose hook records every event.
fn open_sm() -> Sm {
    let (sm, shared, dir) = open_bare();
    let events = Recorded::default();
    let sink = events.clone();
    shared
        .set_apply_hook(Arc::new(move |ev: &ApplyEvent, _: &zk_consensus::State| {
            sink.lock().expect("recorder lock").push(ev.clone());
        }))
        .expect("first hook");
    Sm {
        sm,
        shared,
        events,
        _dir: dir,
    }
}

async fn apply(sm: &mut ZkStateMachine, e: Entry) -> CommandResponse {
    let mut r = sm.apply_entries([e]).await;
    assert_eq!(r.len(), 1);
    let mut answers = r.remove(0).0;
    assert_eq!(answers.len(), 1, "one answer per command");
    answers.remove(0)
}

fn drain(events: &Recorded) -> Vec<ApplyEvent> {
    std::mem::take(&mut *events.lock().expect("recorder lock"))
}

/// Every command reaches the hook once, in log order, with its zxid and origin, and its
/// answer to Raft is the outcome the hook saw; the applied point moves after the hook, so
/// a waiter woken by it finds the commands done. A blank entry takes no zxid.
#[tokio::test]
async fn the_hook_hears_every_command_in_log_order() {
    let mut s = open_sm();
    let mut answers = Vec::new();
    answers.push(
        apply(
            &mut s.sm,
            entry(1, CommandOp::CreateSession { timeout_ms: 4000 }),
        )
        .await,
    );
    answers.push(apply(&mut s.sm, entry(2, create(1, "/e", CreateMode::Ephemeral))).await);
    answers.push(
        apply(
            &mut s.sm,
            entry(3, create(1, "/no/parent", CreateMode::Persistent)),
        )
        .await,
    );
    let blank = Entry {
        log_id: log_id(4),
        payload: EntryPayload::Blank,
    };
    assert_eq!(
        apply(&mut s.sm, blank).await.zxid,
        3,
        "a blank takes no zxid"
    );
    answers.push(
        apply(
            &mut s.sm,
            entry(5, CommandOp::ExpireSessions { ids: vec![1] }),
        )
        .await,
    );
    let events = drain(&s.events);
    assert_eq!(
        events
            .iter()
            .map(|e| (e.log_id.index, e.zxid))
            .collect::<Vec<_>>(),
        vec![(1, 1), (2, 2), (3, 3), (4, 3), (5, 4)]
    );
    let commands: Vec<&ApplyEvent> = events.iter().filter(|e| e.origin.is_some()).collect();
    assert!(commands.iter().all(|e| e.origin
        == Some(Origin {
            node_id: 1,
            seq: e.log_id.index * 10
        })));
    for (e, a) in commands.iter().zip(&answers) {
        assert_eq!((e.zxid, &e.outcome), (a.zxid, &a.outcome));
    }
    assert_eq!(s.shared.applied_zxid(), 4);
    assert_eq!(s.shared.wait_applied(4).await, Ok(4));
    assert_eq!(s.shared.wait_applied_index(5).await, Ok(4));
    assert!(s.shared.read().tree.exists("/e").unwrap().is_none());
}

/// A mixed log: secret, sessions, writes (some failing), a close, an expiry, noops.
fn mixed_log() -> Vec<Entry> {
    let mut ops = vec![
        CommandOp::SetSecret { secret: secret(9) },
        CommandOp::CreateSession { timeout_ms: 4000 },
        CommandOp::CreateSession { timeout_ms: 10_000 },
    ];
    for i in 0..20 {
        ops.push(create(2, &format!("/n{i}"), CreateMode::Persistent));
        ops.push(create(3, &format!("/n{i}/e"), CreateMode::Ephemeral));
        ops.push(create(3, &format!("/n{i}"), CreateMode::Persistent)); // NodeExists
        ops.push(create(2, "/s-", CreateMode::PersistentSequential));
    }
    ops.push(CommandOp::CloseSession {
        session_id: 3,
        owner: None,
    });
    ops.push(CommandOp::Noop);
    ops.push(CommandOp::CreateSession { timeout_ms: 6000 });
    ops.push(create(ops.len() as i64, "/last", CreateMode::Ephemeral));
    ops.push(CommandOp::ExpireSessions { ids: vec![2] });
    ops.into_iter()
        .enumerate()
        .map(|(i, op)| entry(i as u64 + 1, op))
        .collect()
}

#[tokio::test]
async fn same_log_gives_same_state_and_snapshot_bytes() {
    let mut a = open_sm();
    let mut b = open_sm();
    let log = mixed_log();
    // Different batching must not matter either.
    let ra = a.sm.apply_entries(log.clone()).await;
    let mut rb = Vec::new();
    for chunk in log.chunks(7) {
        rb.extend(b.sm.apply_entries(chunk.to_vec()).await);
    }
    assert_eq!(ra, rb);
    let (sa, sb) = (a.shared.read(), b.shared.read());
    assert_eq!(sa.tree.digest(), sb.tree.digest());
    assert_eq!(encode_state(&sa).unwrap(), encode_state(&sb).unwrap());
    assert_eq!(sa.applied_zxid(), log.len() as i64);
    assert!(sa.tree.node_count() > 20);
}

#[tokio::test]
async fn snapshot_round_trip_and_bad_bytes_are_errors() {
    let mut a = open_sm();
    a.sm.apply_entries(mixed_log()).await;
    let snap =
        a.sm.get_snapshot_builder()
            .await
            .build_snapshot()
            .await
            .unwrap();
    let bytes = snap.snapshot.get_ref().clone();
    assert_eq!(snap.meta.last_log_id, a.shared.read().last_applied);
    // Stored durably: the current snapshot is the one just built.
    let current = a.sm.get_current_snapshot().await.unwrap().unwrap();
    assert_eq!(current.meta, snap.meta);
    assert_eq!(current.snapshot.get_ref(), &bytes);

    let mut b = open_sm();
    b.sm.install_snapshot(&snap.meta, Cursor::new(bytes.clone()))
        .await
        .unwrap();
    {
        let (sa, sb) = (a.shared.read(), b.shared.read());
        assert_eq!(sa.tree.digest(), sb.tree.digest());
        assert_eq!(sa.sessions, sb.sessions);
        assert_eq!(sa.secret, sb.secret);
        assert_eq!(encode_state(&sb).unwrap(), bytes);
    }
    assert_eq!(b.shared.applied_zxid(), a.shared.applied_zxid());
    let events = drain(&b.events);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].outcome, Outcome::SnapshotInstalled);

    // Damaged bytes: every truncation and a flipped bit in each region are errors.
    for len in 0..bytes.len() {
        assert!(decode_state(&bytes[..len], TreeConfig::default()).is_err());
    }
    for pos in (0..bytes.len()).step_by(bytes.len() / 50 + 1) {
        let mut bad = bytes.clone();
        bad[pos] ^= 0x40;
        assert!(
            decode_state(&bad, TreeConfig::default()).is_err(),
            "flip at {pos}"
        );
    }
    let mut c = open_sm();
    let mut bad = bytes.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    assert!(c
        .sm
        .install_snapshot(&snap.meta, Cursor::new(bad))
        .await
        .is_err());
    assert!(c
        .sm
        .install_snapshot(&snap.meta, Cursor::new(b"garbage".to_vec()))
        .await
        .is_err());
    // Metadata naming another position than the bytes hold is refused too.
    let wrong = SnapshotMeta {
        last_log_id: Some(log_id(1)),
        ..snap.meta.clone()
    };
    assert!(c
        .sm
        .install_snapshot(&wrong, Cursor::new(bytes))
        .await
        .is_err());
    assert_eq!(
        c.shared.applied_zxid(),
        0,
        "a refused snapshot changes nothing"
    );
    assert!(c.sm.get_current_snapshot().await.unwrap().is_none());
}

#[tokio::test]
async fn reopen_loads_the_stored_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let digest;
    {
        let storage = SledStorage::open(dir.path()).unwrap();
        let (mut sm, shared) = ZkStateMachine::open(&storage, TreeConfig::default()).unwrap();
        sm.apply_entries(mixed_log()).await;
        sm.get_snapshot_builder()
            .await
            .build_snapshot()
            .await
            .unwrap();
        digest = shared.read().tree.digest();
    }
    let storage = SledStorage::open(dir.path()).unwrap();
    let (mut sm, shared) = ZkStateMachine::open(&storage, TreeConfig::default()).unwrap();
    assert_eq!(shared.read().tree.digest(), digest);
    assert_eq!(shared.applied_zxid(), mixed_log().len() as i64);
    let (applied, _) = sm.applied_state().await.unwrap();
    assert_eq!(applied, Some(log_id(mixed_log().len() as u64)));
    assert_eq!(shared.read().secret, Some(secret(9)));
}

/// One entry at `index` carrying `ops` in order, from node 1's requests 1, 2, 3, ...
fn batch_entry(index: u64, ops: Vec<CommandOp>) -> Entry {
    let cmds: Vec<Command> = (1..)
        .zip(ops)
        .map(|(seq, op)| Command {
            time_ms: 1_700_000_000_000,
            origin: Some(Origin { node_id: 1, seq }),
            op,
        })
        .collect();
    Entry {
        log_id: log_id(index),
        payload: EntryPayload::Normal(Batch(cmds.into())),
    }
}

/// Several commands in one entry: each takes the next zxid (sessions get distinct ids from
/// them), each has its own event and answer, in order; the applied point moves once, to the
/// entry's index and its last zxid; a blank entry takes no zxid; a snapshot keeps the counter.
#[tokio::test]
async fn a_batch_gives_each_command_its_own_zxid() {
    let mut s = open_sm();
    let batch = batch_entry(
        1,
        vec![
            CommandOp::CreateSession { timeout_ms: 4000 },
            CommandOp::CreateSession { timeout_ms: 5000 },
            create(1, "/a", CreateMode::Persistent),
        ],
    );
    let answers = s.sm.apply_entries([batch]).await;
    assert_eq!(answers.len(), 1, "one answer per entry");
    let zxids: Vec<i64> = answers[0].0.iter().map(|a| a.zxid).collect();
    assert_eq!(zxids, vec![1, 2, 3]);
    assert_eq!(
        answers[0].0[1].outcome,
        Outcome::SessionCreated {
            session_id: SessionId::from_raw(2).unwrap(),
            timeout_ms: 5000
        }
    );
    let events = drain(&s.events);
    assert_eq!(
        events
            .iter()
            .map(|e| (e.log_id.index, e.zxid, e.origin.map(|o| o.seq)))
            .collect::<Vec<_>>(),
        vec![(1, 1, Some(1)), (1, 2, Some(2)), (1, 3, Some(3))]
    );
    {
        let st = s.shared.read();
        assert_eq!(st.sessions.len(), 2);
        assert!(st.tree.exists("/a").unwrap().is_some());
        assert_eq!(st.applied_point(), AppliedPoint { index: 1, zxid: 3 });
    }
    assert_eq!(s.shared.applied_zxid(), 3);
    assert_eq!(s.shared.wait_applied_index(1).await, Ok(3));

    let blank = Entry {
        log_id: log_id(2),
        payload: EntryPayload::Blank,
    };
    s.sm.apply_entries([blank]).await;
    assert_eq!(
        s.shared.read().applied_point(),
        AppliedPoint { index: 2, zxid: 3 }
    );
    let next = apply(&mut s.sm, entry(3, CommandOp::Noop)).await;
    assert_eq!(next.zxid, 4, "the counter goes on after the blank entry");

    let bytes = encode_state(&s.shared.read()).unwrap();
    let back = decode_state(&bytes, TreeConfig::default()).unwrap();
    assert_eq!(back.applied_point(), AppliedPoint { index: 3, zxid: 4 });
}

/// The apply hook runs after each command of an entry, before the next, and sees the state
/// exactly then: a read answered there shows the command's write and none of the later ones
/// (what lets a node answer a session's read queued behind its write without holding back the
/// session's next write).
#[tokio::test]
async fn the_hook_sees_the_state_between_the_commands_of_an_entry() {
    let (mut sm, shared, _dir) = open_bare();
    /// (zxid, state's zxid, /a exists, /b exists) as the hook saw them.
    type Seen = Vec<(i64, i64, bool, bool)>;
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let sink = seen.clone();
    shared
        .set_apply_hook(Arc::new(
            move |ev: &ApplyEvent, st: &zk_consensus::State| {
                let has = |p: &str| st.tree.exists(p).ok().flatten().is_some();
                sink.lock().expect("hook lock").push((
                    ev.zxid,
                    st.applied_zxid(),
                    has("/a"),
                    has("/b"),
                ));
            },
        ))
        .expect("first hook");
    let batch = batch_entry(
        1,
        vec![
            CommandOp::CreateSession { timeout_ms: 4000 },
            create(1, "/a", CreateMode::Persistent),
            create(1, "/b", CreateMode::Persistent),
        ],
    );
    sm.apply_entries([batch]).await;
    assert_eq!(
        *seen.lock().expect("lock"),
        vec![
            (1, 1, false, false),
            (2, 2, true, false),
            (3, 3, true, true)
        ]
    );
}
