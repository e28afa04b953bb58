//! The rules of apply, one test each, on a bare [`State`]: no Raft, no storage, no runtime.
//! The spec line (../shared/spec/sessions.md) or ZooKeeper behaviour each checks is named.

use zk_session::ClusterSecret;
use zk_session::Owner;
use zk_session::SessionId;
use zk_store::OpResult;
use zk_store::Trigger;
use zk_store::Txn;
use zk_wire::Acl;
use zk_wire::CreateMode;
use zk_wire::ErrorCode;
use zk_wire::EventType;

use super::*;
use crate::command::Origin;

const TIME: i64 = 1_700_000_000_000;

/// A command from node 1's request `seq` (its owner token when it opens a session).
fn cmd(seq: u64, op: CommandOp) -> Command {
    Command {
        time_ms: TIME,
        origin: Some(Origin { node_id: 1, seq }),
        op,
    }
}

fn owner(seq: u64) -> Owner {
    Origin { node_id: 1, seq }.owner()
}

fn create(session_id: i64, owner: Option<Owner>, path: &str, mode: CreateMode) -> CommandOp {
    CommandOp::Write {
        session_id,
        owner,
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

fn sid(raw: i64) -> SessionId {
    SessionId::from_raw(raw).unwrap_or_else(|e| panic!("{raw}: {e:?}"))
}

/// Applies `op` as request `seq`; its zxid and outcome.
fn apply(st: &mut State, seq: u64, op: CommandOp) -> (i64, Outcome) {
    st.apply(&cmd(seq, op))
}

fn result(outcome: &Outcome) -> Result<OpResult, ErrorCode> {
    outcome
        .applied()
        .unwrap_or_else(|| panic!("not a write: {outcome:?}"))
        .result
        .clone()
}

fn fresh() -> State {
    State::new(TreeConfig::default())
}

/// S3.1: a session's id is the zxid of the command that created it, and its first owner is
/// the connection (origin) that asked.
#[test]
fn a_session_id_is_its_creating_zxid_and_its_owner_the_asker() {
    let mut st = fresh();
    apply(&mut st, 1, CommandOp::Noop);
    let (zxid, outcome) = apply(&mut st, 7, CommandOp::CreateSession { timeout_ms: 4000 });
    assert_eq!(zxid, 2);
    assert_eq!(
        outcome,
        Outcome::SessionCreated {
            session_id: sid(2),
            timeout_ms: 4000
        }
    );
    assert_eq!(st.sessions.get(sid(2)), Some(4000));
    assert_eq!(st.sessions.owner(sid(2)), Some(owner(7)));
}

/// S3.2: the cluster secret is set once (the first leader's); a password made with it
/// verifies on any replica, for its session only.
#[test]
fn the_secret_is_set_once_and_verifies_passwords() {
    let mut st = fresh();
    assert_eq!(
        apply(&mut st, 1, CommandOp::SetSecret { secret: secret(1) }).1,
        Outcome::SecretSet
    );
    assert_eq!(
        apply(&mut st, 2, CommandOp::SetSecret { secret: secret(2) }).1,
        Outcome::SecretAlreadySet
    );
    let stored = st.secret.clone().unwrap_or_else(|| panic!("no secret"));
    let password = secret(1).password(sid(9));
    assert!(stored.verify(sid(9), &password));
    assert!(!stored.verify(sid(10), &password));
}

/// S8.2: a write of a session the ensemble does not know is SessionExpired, changes nothing,
/// and (as in ZooKeeper) still takes a zxid.
#[test]
fn a_write_of_an_unknown_session_is_session_expired_and_takes_a_zxid() {
    let mut st = fresh();
    let (zxid, outcome) = apply(&mut st, 1, create(99, None, "/a", CreateMode::Persistent));
    assert_eq!(zxid, 1);
    assert_eq!(result(&outcome), Err(ErrorCode::SessionExpired));
    assert!(outcome.triggers().is_empty());
    assert!(st.tree.exists("/a").ok().flatten().is_none());
    assert_eq!(st.applied_zxid(), 1);
}

/// A failed write of a live session takes its zxid too: zxids count commands.
#[test]
fn a_failed_write_takes_its_zxid() {
    let mut st = fresh();
    apply(&mut st, 1, CommandOp::CreateSession { timeout_ms: 4000 });
    let (zxid, outcome) = apply(
        &mut st,
        2,
        create(1, None, "/no/parent", CreateMode::Persistent),
    );
    assert_eq!((zxid, result(&outcome)), (2, Err(ErrorCode::NoNode)));
    let (zxid, _) = apply(&mut st, 3, CommandOp::Noop);
    assert_eq!(zxid, 3);
}

/// Session txns go through their own ops, which keep the session table in step: one carried
/// in a Write is refused. Session 0 (the system) may only delete containers.
#[test]
fn session_txns_cannot_be_smuggled_and_the_system_only_deletes_containers() {
    let mut st = fresh();
    apply(&mut st, 1, CommandOp::CreateSession { timeout_ms: 4000 });
    let smuggled = CommandOp::Write {
        session_id: 1,
        owner: None,
        auth: Vec::new(),
        txn: Txn::ExpireSessions(vec![1]),
    };
    assert_eq!(
        result(&apply(&mut st, 2, smuggled).1),
        Err(ErrorCode::BadArguments)
    );
    assert!(st.sessions.contains(sid(1)));
    let system = create(0, None, "/sys", CreateMode::Persistent);
    assert_eq!(
        result(&apply(&mut st, 3, system).1),
        Err(ErrorCode::BadArguments)
    );
}

/// S6.3: closeSession removes the session and deletes its ephemerals in the same step, with
/// their watch triggers; another session's ephemerals stay.
#[test]
fn close_deletes_the_sessions_ephemerals_with_their_triggers() {
    let mut st = fresh();
    apply(&mut st, 1, CommandOp::CreateSession { timeout_ms: 4000 });
    apply(&mut st, 2, CommandOp::CreateSession { timeout_ms: 4000 });
    apply(&mut st, 3, create(1, None, "/e1", CreateMode::Ephemeral));
    apply(&mut st, 4, create(2, None, "/e2", CreateMode::Ephemeral));
    let (_, outcome) = apply(
        &mut st,
        5,
        CommandOp::CloseSession {
            session_id: 1,
            owner: None,
        },
    );
    let Outcome::SessionsClosed { ids, applied } = &outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(ids, &vec![sid(1)]);
    assert_eq!(
        applied.result,
        Ok(OpResult::SessionsClosed(vec!["/e1".to_string()]))
    );
    for t in [
        Trigger {
            path: "/e1".into(),
            event: EventType::NodeDeleted,
        },
        Trigger {
            path: "/".into(),
            event: EventType::NodeChildrenChanged,
        },
    ] {
        assert!(applied.triggers.contains(&t), "{t:?}");
    }
    assert!(!st.sessions.contains(sid(1)));
    assert!(st.tree.exists("/e2").ok().flatten().is_some());
}

/// S9.1, S9.2: the leader's expiry batch removes every listed live session and its
/// ephemerals atomically; ids that are not live sessions are skipped, not errors.
#[test]
fn an_expiry_batch_removes_live_sessions_and_skips_the_rest() {
    let mut st = fresh();
    apply(&mut st, 1, CommandOp::CreateSession { timeout_ms: 4000 });
    apply(&mut st, 2, CommandOp::CreateSession { timeout_ms: 4000 });
    apply(&mut st, 3, create(2, None, "/e2", CreateMode::Ephemeral));
    apply(&mut st, 4, create(2, None, "/p", CreateMode::Persistent));
    let (_, outcome) = apply(
        &mut st,
        5,
        CommandOp::ExpireSessions {
            ids: vec![2, 77, -1],
        },
    );
    let Outcome::SessionsClosed { ids, applied } = &outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(ids, &vec![sid(2)]);
    assert_eq!(
        applied.result,
        Ok(OpResult::SessionsClosed(vec!["/e2".to_string()]))
    );
    assert_eq!(outcome.triggers(), applied.triggers.as_slice());
    assert!(st.sessions.contains(sid(1)), "not listed: stays");
    assert!(
        st.tree.exists("/p").ok().flatten().is_some(),
        "persistent stays"
    );
}

/// ZooKeeper's SessionMoved: a resume elsewhere (ClaimSession, owner = its origin) moves the
/// session; the previous connection's writes and close are refused and change nothing; the
/// new owner's work.
#[test]
fn a_claim_moves_the_session_and_refuses_the_old_connection() {
    let mut st = fresh();
    apply(&mut st, 10, CommandOp::CreateSession { timeout_ms: 4000 });
    let (first, second) = (owner(10), owner(30));
    let ok = result(
        &apply(
            &mut st,
            20,
            create(1, Some(first), "/a", CreateMode::Persistent),
        )
        .1,
    );
    assert!(ok.is_ok(), "{ok:?}");
    assert_eq!(
        apply(&mut st, 30, CommandOp::ClaimSession { session_id: 1 }).1,
        Outcome::SessionClaimed {
            session_id: sid(1),
            owner: second
        }
    );
    let moved = apply(
        &mut st,
        40,
        create(1, Some(first), "/b", CreateMode::Persistent),
    )
    .1;
    assert_eq!(result(&moved), Err(ErrorCode::SessionMoved));
    assert!(st.tree.stat("/b").is_none(), "nothing applied");
    let close = CommandOp::CloseSession {
        session_id: 1,
        owner: Some(first),
    };
    assert_eq!(
        apply(&mut st, 50, close).1,
        Outcome::Rejected(ErrorCode::SessionMoved)
    );
    assert!(st.sessions.contains(sid(1)), "still live");
    let ok = result(
        &apply(
            &mut st,
            60,
            create(1, Some(second), "/c", CreateMode::Persistent),
        )
        .1,
    );
    assert!(ok.is_ok(), "{ok:?}");
}

/// S3.3: a resume of a session the log says is gone is SessionExpired; a claim without an
/// origin (no connection to own it) is refused.
#[test]
fn a_claim_of_a_gone_session_is_expired() {
    let mut st = fresh();
    assert_eq!(
        apply(&mut st, 1, CommandOp::ClaimSession { session_id: 999 }).1,
        Outcome::Rejected(ErrorCode::SessionExpired)
    );
    apply(&mut st, 2, CommandOp::CreateSession { timeout_ms: 4000 });
    let anonymous = Command {
        time_ms: TIME,
        origin: None,
        op: CommandOp::ClaimSession { session_id: 2 },
    };
    assert_eq!(
        st.apply(&anonymous).1,
        Outcome::Rejected(ErrorCode::BadArguments)
    );
}

/// Apply is deterministic: the same commands give the same state, byte for byte in a
/// snapshot, on every replica.
#[test]
fn the_same_commands_give_the_same_state() {
    let ops = || {
        let mut ops = vec![
            CommandOp::SetSecret { secret: secret(9) },
            CommandOp::CreateSession { timeout_ms: 4000 },
        ];
        for i in 0..10 {
            ops.push(create(2, None, &format!("/n{i}"), CreateMode::Persistent));
            ops.push(create(2, None, "/s-", CreateMode::PersistentSequential));
        }
        ops.push(CommandOp::ExpireSessions { ids: vec![2] });
        ops
    };
    let (mut a, mut b) = (fresh(), fresh());
    for (seq, op) in (1..).zip(ops()) {
        a.apply(&cmd(seq, op));
    }
    for (seq, op) in (1..).zip(ops()) {
        b.apply(&cmd(seq, op));
    }
    assert_eq!(a.tree.digest(), b.tree.digest());
    let encode = |s: &State| crate::snapshot::encode_state(s).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(encode(&a), encode(&b));
}

/// A state whose applied membership is `voters` (uniform) or, with `joint`, a change from
/// them to `joint` under way.
fn with_members(voters: &[u64], joint: Option<&[u64]>) -> State {
    use std::collections::BTreeMap;
    use std::collections::BTreeSet;
    let mut st = fresh();
    let all: BTreeSet<u64> = voters
        .iter()
        .chain(joint.unwrap_or_default())
        .copied()
        .collect();
    let nodes: BTreeMap<u64, openraft::BasicNode> = all
        .iter()
        .map(|&i| (i, openraft::BasicNode::new(format!("10.0.0.{i}:2888"))))
        .collect();
    let mut configs = vec![voters.iter().copied().collect::<BTreeSet<u64>>()];
    if let Some(j) = joint {
        configs.push(j.iter().copied().collect());
    }
    let m = openraft::Membership::new(configs, nodes).expect("membership");
    st.last_membership = crate::types::StoredMembership::new(None, m);
    st
}

fn reconfig_op(session_id: i64, auth: Vec<zk_wire::Id>, version: i64) -> CommandOp {
    CommandOp::Reconfig {
        session_id,
        owner: Some(owner(1)),
        auth,
        spec: crate::membership::ReconfigSpec {
            joining: Some("server.4=10.0.0.4:2888:3888;2181".into()),
            leaving: Some("1".into()),
            new_members: None,
        },
        cur_config_id: version,
    }
}

fn super_id() -> Vec<zk_wire::Id> {
    vec![zk_wire::Id {
        scheme: "super".into(),
        id: "super".into(),
    }]
}

/// `/zookeeper/config` follows the membership: a sync writes it (version = its zxid, a
/// NodeDataChanged for config watchers) only when the members differ from it.
#[test]
fn the_config_node_shows_the_membership_at_the_zxid_that_wrote_it() {
    let mut st = with_members(&[1, 2, 3], None);
    assert!(st.config_stale());
    let (zxid, outcome) = apply(&mut st, 1, CommandOp::SyncConfig);
    let applied = outcome.applied().expect("written").clone();
    assert_eq!(
        applied.triggers,
        vec![Trigger {
            path: "/zookeeper/config".into(),
            event: EventType::NodeDataChanged
        }]
    );
    let text = String::from_utf8(st.tree.config_data().to_vec()).unwrap();
    assert_eq!(
        text,
        format!(
            "server.1=10.0.0.1:2888:2888:participant\nserver.2=10.0.0.2:2888:2888:participant\n\
             server.3=10.0.0.3:2888:2888:participant\nversion={zxid:x}"
        )
    );
    assert_eq!(st.tree.config_version(), zxid);
    assert!(!st.config_stale());
    assert_eq!(apply(&mut st, 2, CommandOp::SyncConfig).1, Outcome::Noop);
    assert_eq!(st.tree.config_version(), zxid, "unchanged: no new version");
}

/// ZooKeeper's checks of a reconfig, from the replicated state: the session, a change
/// under way (ReconfigInProgress), curConfigId (BadVersion), the servers (BadArguments), and
/// WRITE on /zookeeper/config (world:anyone READ: only the superuser).
#[test]
fn reconfig_is_judged_as_zookeeper_judges_it() {
    let mut st = with_members(&[1, 2, 3], None);
    let (session, _) = apply(&mut st, 1, CommandOp::CreateSession { timeout_ms: 4000 });
    let (v, _) = apply(&mut st, 2, CommandOp::SyncConfig);
    let rejected = |st: &mut State, op| apply(st, 3, op).1;
    assert_eq!(
        rejected(&mut st, reconfig_op(session + 100, super_id(), -1)),
        Outcome::Rejected(ErrorCode::SessionExpired)
    );
    assert_eq!(
        rejected(&mut st, reconfig_op(session, super_id(), v + 1)),
        Outcome::Rejected(ErrorCode::BadVersion)
    );
    assert_eq!(
        rejected(&mut st, reconfig_op(session, Vec::new(), v)),
        Outcome::Rejected(ErrorCode::NoAuth)
    );
    let mut bad = reconfig_op(session, super_id(), -1);
    if let CommandOp::Reconfig { spec, .. } = &mut bad {
        spec.leaving = Some("1,2,3".into());
        spec.joining = None;
    }
    assert_eq!(
        rejected(&mut st, bad),
        Outcome::Rejected(ErrorCode::BadArguments)
    );
    match rejected(&mut st, reconfig_op(session, super_id(), v)) {
        Outcome::ReconfigStarted { members } => {
            assert_eq!(members.keys().copied().collect::<Vec<_>>(), vec![2, 3, 4]);
            assert_eq!(members[&4], "10.0.0.4:2888:3888;0.0.0.0:2181");
        }
        other => panic!("not started: {other:?}"),
    }
    let mut joint = with_members(&[1, 2, 3], Some(&[2, 3, 4]));
    let (session, _) = apply(&mut joint, 1, CommandOp::CreateSession { timeout_ms: 4000 });
    assert_eq!(
        rejected(&mut joint, reconfig_op(session, super_id(), -1)),
        Outcome::Rejected(ErrorCode::ReconfigInProgress)
    );
}

/// The end of a reconfig: on success the config is written at its zxid even if a sync got
/// there first (ZooKeeper's reconfig txn always sets it); a failure is the request's answer.
#[test]
fn a_reconfig_ends_with_the_config_written_or_its_error() {
    let mut st = with_members(&[1, 2, 3], None);
    apply(&mut st, 1, CommandOp::SyncConfig);
    let (zxid, outcome) = apply(&mut st, 2, CommandOp::ReconfigDone { error: None });
    assert!(matches!(
        result(&outcome),
        Ok(OpResult::DataSet(stat)) if stat.mzxid == zxid && stat.version == -1
    ));
    assert_eq!(st.tree.config_version(), zxid);
    let (_, failed) = apply(
        &mut st,
        3,
        CommandOp::ReconfigDone {
            error: Some(ErrorCode::NewConfigNoQuorum),
        },
    );
    assert_eq!(failed, Outcome::Rejected(ErrorCode::NewConfigNoQuorum));
    assert_eq!(st.tree.config_version(), zxid, "a failure writes nothing");
}

/// A membership of voters 1..=3 with member 4 a learner marked observer and member 5 a
/// plain learner (a joining server still catching up).
fn with_observer() -> State {
    use std::collections::BTreeMap;
    let mut st = fresh();
    let nodes: BTreeMap<u64, openraft::BasicNode> = [
        (1, "10.0.0.1:2888"),
        (2, "10.0.0.2:2888"),
        (3, "10.0.0.3:2888"),
        (4, "10.0.0.4:2888:3888:observer;10.0.0.4:2181"),
        (5, "10.0.0.5:2888"),
    ]
    .into_iter()
    .map(|(id, r)| (id, openraft::BasicNode::new(r)))
    .collect();
    let m = openraft::Membership::new(vec![[1, 2, 3].into()], nodes).expect("membership");
    st.last_membership = crate::types::StoredMembership::new(None, m);
    st
}

/// `/zookeeper/config` lists an observer among the participants by id (ZooKeeper's one map
/// of all members), with `:observer`; a joining learner is not listed; the mark survives a
/// snapshot.
#[test]
fn observers_are_listed_and_kept_by_snapshots() {
    let mut st = with_observer();
    let (zxid, _) = apply(&mut st, 1, CommandOp::SyncConfig);
    let text = String::from_utf8(st.tree.config_data().to_vec()).unwrap();
    assert_eq!(
        text,
        format!(
            "server.1=10.0.0.1:2888:2888:participant\nserver.2=10.0.0.2:2888:2888:participant\n\
             server.3=10.0.0.3:2888:2888:participant\n\
             server.4=10.0.0.4:2888:3888:observer;10.0.0.4:2181\nversion={zxid:x}"
        )
    );
    let bytes = crate::snapshot::encode_state(&st).expect("encode");
    let back =
        crate::snapshot::decode_state(&bytes, zk_store::TreeConfig::default()).expect("decode");
    assert_eq!(back.members(), st.members());
    assert!(!back.config_stale());
}

/// A reconfig may add or remove observers; one that would leave fewer than two voters,
/// observers or not, is BadArguments, as in ZooKeeper.
#[test]
fn reconfig_of_observers_is_judged_on_the_voters() {
    let mut st = with_observer();
    let (session, _) = apply(&mut st, 1, CommandOp::CreateSession { timeout_ms: 4000 });
    let op = |joining: Option<&str>, leaving: Option<&str>| CommandOp::Reconfig {
        session_id: session,
        owner: Some(owner(1)),
        auth: super_id(),
        spec: crate::membership::ReconfigSpec {
            joining: joining.map(str::to_string),
            leaving: leaving.map(str::to_string),
            new_members: None,
        },
        cur_config_id: -1,
    };
    match apply(
        &mut st,
        2,
        op(Some("server.6=10.0.0.6:2888:3888:observer;2181"), None),
    )
    .1
    {
        Outcome::ReconfigStarted { members } => {
            assert_eq!(
                members.keys().copied().collect::<Vec<_>>(),
                vec![1, 2, 3, 4, 6]
            );
            assert_eq!(members[&6], "10.0.0.6:2888:3888:observer;0.0.0.0:2181");
            assert_eq!(members[&4], "10.0.0.4:2888:3888:observer;10.0.0.4:2181");
        }
        other => panic!("not started: {other:?}"),
    }
    match apply(&mut st, 3, op(None, Some("4"))).1 {
        Outcome::ReconfigStarted { members } => {
            assert_eq!(members.keys().copied().collect::<Vec<_>>(), vec![1, 2, 3]);
        }
        other => panic!("not started: {other:?}"),
    }
    assert_eq!(
        apply(&mut st, 4, op(None, Some("1,2"))).1,
        Outcome::Rejected(ErrorCode::BadArguments),
        "one voter and an observer"
    );
}
