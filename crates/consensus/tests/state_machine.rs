//! Apply, determinism and snapshots of the state machine, without a running Raft.

use std::io::Cursor;

use openraft::storage::RaftStateMachine;
use openraft::CommittedLeaderId;
use openraft::Entry;
use openraft::EntryPayload;
use openraft::LogId;
use openraft::RaftSnapshotBuilder;
use openraft::SnapshotMeta;
use zk_consensus::decode_state;
use zk_consensus::encode_state;
use zk_consensus::AppliedPoint;
use zk_consensus::ApplyEvent;
use zk_consensus::ApplyEvents;
use zk_consensus::Batch;
use zk_consensus::Command;
use zk_consensus::CommandOp;
use zk_consensus::CommandResponse;
use zk_consensus::Origin;
use zk_consensus::Outcome;
use zk_consensus::SharedState;
use zk_consensus::SledStorage;
use zk_consensus::TypeConfig;
use zk_consensus::ZkStateMachine;
use zk_session::ClusterSecret;
use zk_session::SessionId;
use zk_store::OpResult;
use zk_store::TreeConfig;
use zk_store::Trigger;
use zk_store::Txn;
use zk_wire::Acl;
use zk_wire::CreateMode;
use zk_wire::ErrorCode;
use zk_wire::EventType;

fn log_id(index: u64) -> LogId<u64> {
    LogId::new(CommittedLeaderId::new(1, 1), index)
}

fn entry(index: u64, op: CommandOp) -> Entry<TypeConfig> {
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

struct Sm {
    sm: ZkStateMachine,
    shared: SharedState,
    events: ApplyEvents,
    _dir: tempfile::TempDir,
}

fn open_sm() -> Sm {
    let dir = tempfile::tempdir().unwrap();
    let storage = SledStorage::open(dir.path()).unwrap();
    let (sm, shared, events) = ZkStateMachine::open(&storage, TreeConfig::default()).unwrap();
    Sm {
        sm,
        shared,
        events,
        _dir: dir,
    }
}

async fn apply(sm: &mut ZkStateMachine, e: Entry<TypeConfig>) -> CommandResponse {
    let mut r = sm.apply([e]).await.unwrap();
    assert_eq!(r.len(), 1);
    let mut answers = r.remove(0).0;
    assert_eq!(answers.len(), 1, "one answer per command");
    answers.remove(0)
}

fn drain(events: &mut ApplyEvents) -> Vec<ApplyEvent> {
    let mut out = Vec::new();
    while let Ok(e) = events.try_recv() {
        out.push(e);
    }
    out
}

#[tokio::test]
async fn create_session_id_is_zxid_and_password_verifies() {
    // S3.1, S3.2: id from the command's zxid; any node's secret verifies the password.
    let mut s = open_sm();
    assert_eq!(
        apply(
            &mut s.sm,
            entry(1, CommandOp::SetSecret { secret: secret(7) })
        )
        .await
        .outcome,
        Outcome::SecretSet
    );
    let r = apply(
        &mut s.sm,
        entry(2, CommandOp::CreateSession { timeout_ms: 4000 }),
    )
    .await;
    let id = SessionId::from_raw(2).unwrap();
    assert_eq!(
        r,
        CommandResponse {
            zxid: 2,
            outcome: Outcome::SessionCreated {
                session_id: id,
                timeout_ms: 4000
            }
        }
    );
    let st = s.shared.read();
    assert_eq!(st.sessions.get(id), Some(4000));
    let stored = st.secret.clone().expect("secret applied");
    let password = secret(7).password(id);
    assert!(stored.verify(id, &password));
    assert!(!stored.verify(SessionId::from_raw(3).unwrap(), &password));
}

#[tokio::test]
async fn write_on_missing_session_is_session_expired_and_uses_a_zxid() {
    // S8.2; a failed write uses up its zxid as in ZooKeeper.
    let mut s = open_sm();
    let r = apply(
        &mut s.sm,
        entry(1, create(99, "/a", CreateMode::Persistent)),
    )
    .await;
    assert_eq!(r.zxid, 1);
    match &r.outcome {
        Outcome::Txn(a) => {
            assert_eq!(a.result, Err(ErrorCode::SessionExpired));
            assert!(a.triggers.is_empty());
        }
        o => panic!("unexpected {o:?}"),
    }
    assert_eq!(s.shared.applied_zxid(), 1);
    assert!(s.shared.read().tree.exists("/a").unwrap().is_none());

    // A failed write of a live session also takes a zxid; a blank entry takes none.
    apply(
        &mut s.sm,
        entry(2, CommandOp::CreateSession { timeout_ms: 4000 }),
    )
    .await;
    let r = apply(
        &mut s.sm,
        entry(3, create(2, "/no/parent", CreateMode::Persistent)),
    )
    .await;
    assert_eq!(r.zxid, 3);
    assert_eq!(r.outcome.applied().unwrap().result, Err(ErrorCode::NoNode));
    let blank = Entry {
        log_id: log_id(4),
        payload: EntryPayload::Blank,
    };
    assert_eq!(apply(&mut s.sm, blank).await.zxid, 3);
    assert_eq!(s.shared.applied_zxid(), 3);
    assert_eq!(s.shared.wait_applied(3).await, Ok(3));
    assert_eq!(s.shared.wait_applied_index(4).await, Ok(3));

    // Session txns cannot be smuggled in a Write; session 0 may only delete containers.
    let smuggled = CommandOp::Write {
        session_id: 2,
        owner: None,
        auth: Vec::new(),
        txn: Txn::ExpireSessions(vec![2]),
    };
    let r = apply(&mut s.sm, entry(5, smuggled)).await;
    assert_eq!(
        r.outcome.applied().unwrap().result,
        Err(ErrorCode::BadArguments)
    );
    let r = apply(
        &mut s.sm,
        entry(6, create(0, "/sys", CreateMode::Persistent)),
    )
    .await;
    assert_eq!(
        r.outcome.applied().unwrap().result,
        Err(ErrorCode::BadArguments)
    );
    assert!(s
        .shared
        .read()
        .sessions
        .contains(SessionId::from_raw(2).unwrap()));
}

#[tokio::test]
async fn close_and_expire_delete_ephemerals_and_report_triggers() {
    // S6.3, S9.1: ephemerals go with their session, atomically, with their watch triggers.
    let mut s = open_sm();
    apply(
        &mut s.sm,
        entry(1, CommandOp::CreateSession { timeout_ms: 4000 }),
    )
    .await;
    apply(
        &mut s.sm,
        entry(2, CommandOp::CreateSession { timeout_ms: 4000 }),
    )
    .await;
    for (i, op) in [
        create(1, "/e1", CreateMode::Ephemeral),
        create(2, "/e2", CreateMode::Ephemeral),
        create(2, "/p", CreateMode::Persistent),
    ]
    .into_iter()
    .enumerate()
    {
        let r = apply(&mut s.sm, entry(3 + i as u64, op)).await;
        assert!(r.outcome.applied().unwrap().result.is_ok(), "{r:?}");
    }

    let r = apply(
        &mut s.sm,
        entry(
            6,
            CommandOp::CloseSession {
                session_id: 1,
                owner: None,
            },
        ),
    )
    .await;
    let Outcome::SessionsClosed { ids, applied } = &r.outcome else {
        panic!("unexpected {r:?}")
    };
    assert_eq!(ids, &vec![SessionId::from_raw(1).unwrap()]);
    assert_eq!(
        applied.result,
        Ok(OpResult::SessionsClosed(vec!["/e1".to_string()]))
    );
    assert!(applied.triggers.contains(&Trigger {
        path: "/e1".into(),
        event: EventType::NodeDeleted
    }));
    assert!(applied.triggers.contains(&Trigger {
        path: "/".into(),
        event: EventType::NodeChildrenChanged
    }));

    // Expiry batch: unknown ids are left out of `ids`, not errors.
    let r = apply(
        &mut s.sm,
        entry(7, CommandOp::ExpireSessions { ids: vec![2, 77] }),
    )
    .await;
    let Outcome::SessionsClosed { ids, applied } = &r.outcome else {
        panic!("unexpected {r:?}")
    };
    assert_eq!(ids, &vec![SessionId::from_raw(2).unwrap()]);
    assert_eq!(
        applied.result,
        Ok(OpResult::SessionsClosed(vec!["/e2".to_string()]))
    );
    assert_eq!(r.outcome.triggers(), applied.triggers.as_slice());
    {
        let st = s.shared.read();
        assert!(st.sessions.is_empty());
        assert!(st.tree.exists("/e1").unwrap().is_none());
        assert!(st.tree.exists("/e2").unwrap().is_none());
        assert!(st.tree.exists("/p").unwrap().is_some());
    }

    // Every entry was published, in order, with its origin.
    let events = drain(&mut s.events);
    assert_eq!(
        events.iter().map(|e| e.zxid).collect::<Vec<_>>(),
        (1..=7).collect::<Vec<_>>()
    );
    assert!(events.iter().all(|e| e.origin
        == Some(Origin {
            node_id: 1,
            seq: e.log_id.index * 10
        })));
    assert_eq!(events[6].outcome, r.outcome);
}

#[tokio::test]
async fn secret_is_set_once() {
    let mut s = open_sm();
    let first = apply(
        &mut s.sm,
        entry(1, CommandOp::SetSecret { secret: secret(1) }),
    )
    .await;
    let second = apply(
        &mut s.sm,
        entry(2, CommandOp::SetSecret { secret: secret(2) }),
    )
    .await;
    assert_eq!(first.outcome, Outcome::SecretSet);
    assert_eq!(second.outcome, Outcome::SecretAlreadySet);
    assert_eq!(s.shared.read().secret, Some(secret(1)));
}

/// SessionMoved: a resume (ClaimSession, owner = its origin) moves the session; a write or a
/// close from the previous connection is refused and changes nothing; the new one works.
#[tokio::test]
async fn claim_moves_the_session_and_refuses_the_old_connection() {
    let mut s = open_sm();
    // Created at index 1 by origin (node 1, seq 10): that is its first owner.
    let r = apply(
        &mut s.sm,
        entry(1, CommandOp::CreateSession { timeout_ms: 4000 }),
    )
    .await;
    let Outcome::SessionCreated { session_id, .. } = r.outcome else {
        panic!("{r:?}")
    };
    let first = Origin {
        node_id: 1,
        seq: 10,
    }
    .owner();
    assert_eq!(s.shared.read().sessions.owner(session_id), Some(first));
    let write = |owner, path: &str| {
        let CommandOp::Write {
            session_id,
            auth,
            txn,
            ..
        } = create(session_id.get(), path, CreateMode::Persistent)
        else {
            unreachable!()
        };
        CommandOp::Write {
            session_id,
            owner: Some(owner),
            auth,
            txn,
        }
    };
    let r = apply(&mut s.sm, entry(2, write(first, "/a"))).await;
    assert!(r.outcome.applied().is_some_and(|a| a.result.is_ok()));

    // Resumed elsewhere: entry 3's origin (node 1, seq 30) owns it now.
    let r = apply(
        &mut s.sm,
        entry(
            3,
            CommandOp::ClaimSession {
                session_id: session_id.get(),
            },
        ),
    )
    .await;
    let second = Origin {
        node_id: 1,
        seq: 30,
    }
    .owner();
    assert_eq!(
        r.outcome,
        Outcome::SessionClaimed {
            session_id,
            owner: second
        }
    );
    let r = apply(&mut s.sm, entry(4, write(first, "/b"))).await;
    assert_eq!(
        r.outcome.applied().map(|a| a.result.clone()),
        Some(Err(ErrorCode::SessionMoved))
    );
    assert!(s.shared.read().tree.stat("/b").is_none(), "nothing applied");
    let r = apply(
        &mut s.sm,
        entry(
            5,
            CommandOp::CloseSession {
                session_id: session_id.get(),
                owner: Some(first),
            },
        ),
    )
    .await;
    assert_eq!(r.outcome, Outcome::Rejected(ErrorCode::SessionMoved));
    assert!(s.shared.read().sessions.contains(session_id), "still live");
    let r = apply(&mut s.sm, entry(6, write(second, "/c"))).await;
    assert!(r.outcome.applied().is_some_and(|a| a.result.is_ok()));

    // A claim of a session that does not exist is SessionExpired.
    let r = apply(
        &mut s.sm,
        entry(7, CommandOp::ClaimSession { session_id: 999 }),
    )
    .await;
    assert_eq!(r.outcome, Outcome::Rejected(ErrorCode::SessionExpired));
}

/// A mixed log: secret, sessions, writes (some failing), a close, an expiry, noops.
fn mixed_log() -> Vec<Entry<TypeConfig>> {
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
    let ra = a.sm.apply(log.clone()).await.unwrap();
    let mut rb = Vec::new();
    for chunk in log.chunks(7) {
        rb.extend(b.sm.apply(chunk.to_vec()).await.unwrap());
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
    a.sm.apply(mixed_log()).await.unwrap();
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
    b.sm.install_snapshot(&snap.meta, Box::new(Cursor::new(bytes.clone())))
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
    let events = drain(&mut b.events);
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
        .install_snapshot(&snap.meta, Box::new(Cursor::new(bad)))
        .await
        .is_err());
    assert!(c
        .sm
        .install_snapshot(&snap.meta, Box::new(Cursor::new(b"garbage".to_vec())))
        .await
        .is_err());
    // Metadata naming another position than the bytes hold is refused too.
    let wrong = SnapshotMeta {
        last_log_id: Some(log_id(1)),
        ..snap.meta.clone()
    };
    assert!(c
        .sm
        .install_snapshot(&wrong, Box::new(Cursor::new(bytes)))
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
        let (mut sm, shared, _ev) = ZkStateMachine::open(&storage, TreeConfig::default()).unwrap();
        sm.apply(mixed_log()).await.unwrap();
        sm.get_snapshot_builder()
            .await
            .build_snapshot()
            .await
            .unwrap();
        digest = shared.read().tree.digest();
    }
    let storage = SledStorage::open(dir.path()).unwrap();
    let (mut sm, shared, _ev) = ZkStateMachine::open(&storage, TreeConfig::default()).unwrap();
    assert_eq!(shared.read().tree.digest(), digest);
    assert_eq!(shared.applied_zxid(), mixed_log().len() as i64);
    let (applied, _) = sm.applied_state().await.unwrap();
    assert_eq!(applied, Some(log_id(mixed_log().len() as u64)));
    assert_eq!(shared.read().secret, Some(secret(9)));
}

/// One entry at `index` carrying `ops` in order, from node 1's requests 1, 2, 3, ...
fn batch_entry(index: u64, ops: Vec<CommandOp>) -> Entry<TypeConfig> {
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
    let answers = s.sm.apply([batch]).await.unwrap();
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
    let events = drain(&mut s.events);
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
    s.sm.apply([blank]).await.unwrap();
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
    use std::sync::Arc;
    use std::sync::Mutex;

    let mut s = open_sm();
    /// (zxid, state's zxid, /a exists, /b exists) as the hook saw them.
    type Seen = Vec<(i64, i64, bool, bool)>;
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let sink = seen.clone();
    s.shared
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
    s.sm.apply([batch]).await.unwrap();
    assert_eq!(
        *seen.lock().expect("lock"),
        vec![
            (1, 1, false, false),
            (2, 2, true, false),
            (3, 3, true, true)
        ]
    );
}
