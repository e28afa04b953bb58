//! Sessions across a three-node ensemble (sessions.md S3.2, S3.3, S9): any node checks a
//! session's id and password by itself; a follower's clients survive its kill -9 by moving;
//! the whole ensemble restarted keeps data, sessions and the cluster secret.

mod common;

use std::time::Duration;
use std::time::Instant;

use common::cluster::Cluster;
use common::connect_request;
use common::req::create;
use common::req::exists;
use common::req::sync;
use common::Frame;
use common::Raw;
use zk_wire::ConnectResponse;
use zk_wire::ExistsResponse;
use zk_wire::Record;

const TIMEOUT_MS: i32 = 4000;

/// Resumes `session` on member `id`, retrying (like a client) while that node is not up or
/// not serving yet; the raw connection and the answer.
fn resume_on(c: &Cluster, id: u64, session: &ConnectResponse, zxid: i64) -> (Raw, ConnectResponse) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let req = connect_request(session.session_id, session.passwd.clone(), TIMEOUT_MS, zxid);
        if let Some(mut raw) = Raw::try_connect(c.members[(id - 1) as usize].client) {
            if let Some(answer) = raw.handshake(&req) {
                return (raw, answer);
            }
        }
        assert!(
            Instant::now() < deadline,
            "member {id} never answered\n{}",
            c.logs()
        );
        std::thread::sleep(Duration::from_millis(50)); // a client's back-off
    }
}

fn owner_of(raw: &mut Raw, path: &str) -> Option<i64> {
    let (h, body) = raw.call(&exists(path, false));
    (h.err == 0).then(|| {
        ExistsResponse::from_bytes(&body)
            .expect("stat")
            .stat
            .ephemeral_owner
    })
}

/// S3.2, S3.3: every node refuses a forged session id and a wrong password with the
/// "expired" answer (timeout 0, id 0), and resumes a valid pair (same id, same password);
/// each resume takes the session from the node that held it.
#[test]
fn s3_2_every_node_checks_the_pair_by_itself() {
    let c = Cluster::start(3, &[1, 2, 3]);
    let (mut first, session) = Raw::new_session_retrying(c.members[0].client, TIMEOUT_MS);
    let (h, _) = first.call(&create("/mine", 1));
    assert_eq!(h.err, 0);
    let mut wrong = session.passwd.clone();
    wrong[0] ^= 1;
    // A session id that was never handed out (ids are log indexes: far beyond the log),
    // with the password a forger would guess.
    let forged = session.session_id + (1 << 40);
    let mut holder = first;
    for id in [2, 3, 1, 2] {
        for (sid, passwd) in [
            (forged, session.passwd.clone()),
            (session.session_id, wrong.clone()),
        ] {
            let mut raw = Raw::connect(c.members[(id - 1) as usize].client);
            let answer = raw
                .handshake(&connect_request(sid, passwd, TIMEOUT_MS, 0))
                .expect("refusals are answered");
            assert_eq!(
                (answer.session_id, answer.time_out),
                (0, 0),
                "member {id} refuses {sid:#x}"
            );
            assert!(raw.closed_without_data(), "then closes");
        }
        let (mut raw, answer) = resume_on(&c, id, &session, h.zxid);
        assert_eq!(
            (answer.session_id, &answer.passwd),
            (session.session_id, &session.passwd),
            "member {id} resumes the valid pair"
        );
        assert!(
            matches!(holder.read(), Frame::Closed),
            "the old connection ends"
        );
        assert_eq!(owner_of(&mut raw, "/mine"), Some(session.session_id));
        holder = raw;
    }
}

/// S9.3: kill -9 of a follower: its client resumes the same session on another node with
/// its ephemeral; the follower restarts with its disk and serves every write made while it
/// was down (a client that saw them is accepted there, S3.4).
#[test]
fn s9_3_follower_kill_9_its_clients_move_and_it_catches_up() {
    let mut c = Cluster::start(3, &[1, 2, 3]);
    let leader = c.wait_leader();
    let f = c.others(leader)[0];
    let (mut a, session) =
        Raw::new_session_retrying(c.members[(f - 1) as usize].client, TIMEOUT_MS);
    let (h, _) = a.call(&create("/on-follower", 1));
    assert_eq!(h.err, 0);
    c.kill9(f);
    assert!(matches!(a.read(), Frame::Closed));
    let (mut moved, answer) = resume_on(&c, leader, &session, h.zxid);
    assert_eq!(answer.session_id, session.session_id, "same session");
    assert_eq!(
        owner_of(&mut moved, "/on-follower"),
        Some(session.session_id)
    );
    let mut last = 0;
    for i in 0..50 {
        let (h, _) = moved.call(&create(&format!("/while-down-{i:02}"), 0));
        assert_eq!(h.err, 0);
        last = h.zxid;
    }
    c.start_member(f);
    let (mut back, answer) = resume_on(&c, f, &session, last);
    assert_eq!(answer.session_id, session.session_id);
    for i in 0..50 {
        assert_eq!(
            back.call(&exists(&format!("/while-down-{i:02}"), false))
                .0
                .err,
            0
        );
    }
    assert_eq!(
        owner_of(&mut back, "/on-follower"),
        Some(session.session_id)
    );
}

/// S9.3: a client of a follower reconnects there right after kill -9 of the leader, while the
/// ensemble has no leader yet: its resume waits for the new leader and is answered, where it
/// used to be refused at once (the forwarding stream to the dead leader cannot open), which
/// sent the client into its reconnect back-off: write gaps of ~365 ms instead of ~180 in
/// 8 of 12 kills (`bench/ab.sh --kills 3`, docs/performance.md, "Reconnecting during an
/// election").
#[test]
fn s9_3_a_resume_during_the_election_waits_for_the_new_leader() {
    let mut c = Cluster::start(3, &[1, 2, 3]);
    let leader = c.wait_leader();
    let f = c.others(leader)[0];
    let addr = c.members[(f - 1) as usize].client;
    let (mut a, session) = Raw::new_session_retrying(addr, TIMEOUT_MS);
    let (h, _) = a.call(&create("/before", 0));
    assert_eq!(h.err, 0);
    c.kill9(leader);
    let killed = Instant::now();
    let mut raw = Raw::connect(addr);
    let req = connect_request(
        session.session_id,
        session.passwd.clone(),
        TIMEOUT_MS,
        h.zxid,
    );
    let answer = raw.handshake(&req);
    let took = killed.elapsed();
    assert_eq!(
        answer.map(|a| a.session_id),
        Some(session.session_id),
        "the resume sent {took:?} after the kill was not answered\n{}",
        c.logs()
    );
    eprintln!("resume answered {took:?} after kill -9 of the leader");
    let (h, _) = raw.call(&create("/after", 0));
    assert_eq!(h.err, 0, "a write on the resumed session");
}

/// All three nodes killed (-9) and restarted: the data, the session (its id and password:
/// the cluster secret survived, so every node still verifies it) and its ephemeral remain.
#[test]
fn all_three_restarted_keep_data_sessions_and_the_secret() {
    let mut c = Cluster::start(3, &[1, 2, 3]);
    let (mut a, session) = Raw::new_session_retrying(c.members[0].client, TIMEOUT_MS);
    assert_eq!(a.call(&create("/kept", 0)).0.err, 0);
    let (h, _) = a.call(&create("/kept-eph", 1));
    assert_eq!(h.err, 0);
    for id in [1, 2, 3] {
        c.kill9(id);
    }
    for id in [3, 1, 2] {
        c.start_member(id);
    }
    let _ = c.wait_leader();
    for id in [1, 2, 3] {
        let (mut raw, answer) = resume_on(&c, id, &session, h.zxid);
        assert_eq!(
            (answer.session_id, &answer.passwd),
            (session.session_id, &session.passwd),
            "member {id} verifies the pair after the restart"
        );
        assert_eq!(raw.call(&sync("/")).0.err, 0);
        assert_eq!(raw.call(&exists("/kept", false)).0.err, 0);
        assert_eq!(owner_of(&mut raw, "/kept-eph"), Some(session.session_id));
    }
}
