//! Observers (issue 20 item 3), with real `zk-node` processes: a non-voting member that
//! follows the log, serves reads, sessions and ephemerals, forwards writes to the leader,
//! never leads and never counts towards a quorum; one named in the founding `--peers`
//! (`id=host:port:observer`) and one added and removed by `reconfig`.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;
use std::time::Instant;

use common::cluster::start_joining;
use common::cluster::wait_mode;
use common::cluster::Cluster;
use common::cluster::CLUSTER_DEADLINE;
use common::connect_request;
use common::membership::config_of;
use common::membership::enabled;
use common::membership::reconfig_answered;
use common::membership::wait_config_lines;
use common::membership::TIMEOUT_MS;
use common::req::children;
use common::req::create;
use common::req::exists;
use common::req::sync;
use common::Frame;
use common::Raw;
use zk_wire::ConnectResponse;
use zk_wire::CreateResponse;
use zk_wire::ErrorCode;
use zk_wire::ExistsResponse;
use zk_wire::Record;

const OBSERVER: u64 = 4;

/// `--peers` with member 4 an observer.
fn peers_with_observer(c: &Cluster) -> String {
    c.members
        .iter()
        .map(|m| {
            let kind = if m.id == OBSERVER { ":observer" } else { "" };
            format!("{}=127.0.0.1:{}{kind}", m.id, m.peer.port())
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Three voters and an observer, all from the founding `--peers`; waits for a leader and
/// for the observer to observe.
fn ensemble_with_observer() -> (Cluster, String) {
    let mut c = Cluster::new(4, &enabled());
    let peers = peers_with_observer(&c);
    for id in 1..=4 {
        c.start_member_with_peers(id, &peers);
    }
    let leader = c.wait_leader();
    assert_ne!(leader, OBSERVER);
    wait_mode(&c, OBSERVER, Some("observer"));
    (c, peers)
}

/// The server lines of the founding ensemble: observer 4 by id among the participants.
fn founding_lines(c: &Cluster) -> Vec<String> {
    c.members
        .iter()
        .map(|m| {
            let kind = if m.id == OBSERVER {
                "observer"
            } else {
                "participant"
            };
            let p = m.peer.port();
            format!("server.{}=127.0.0.1:{p}:{p}:{kind}", m.id)
        })
        .collect()
}

/// Resumes `session` on member `id`, retrying like a client while it does not serve; the
/// session must still be alive (the same id back, not ZooKeeper's "expired" answer).
fn resume(c: &Cluster, id: u64, session: &ConnectResponse) -> Raw {
    let deadline = Instant::now() + CLUSTER_DEADLINE;
    loop {
        let req = connect_request(session.session_id, session.passwd.clone(), TIMEOUT_MS, 0);
        if let Some(mut raw) = Raw::try_connect(c.members[(id - 1) as usize].client) {
            if let Some(answer) = raw.handshake(&req) {
                assert_eq!(
                    answer.session_id,
                    session.session_id,
                    "the session survived (0: expired)\n{}",
                    c.logs()
                );
                return raw;
            }
        }
        assert!(
            Instant::now() < deadline,
            "member {id} never took the session back\n{}",
            c.logs()
        );
        std::thread::sleep(Duration::from_millis(50)); // a client's back-off
    }
}

/// Writes `n` sequential creates under `/obs` through `raw`, resuming the session on the
/// observer whenever the connection is lost; returns the acknowledged paths (a create whose
/// answer was lost with its connection is not counted: its fate is unknown).
fn write_through_observer(
    c: &Cluster,
    raw: &mut Raw,
    session: &ConnectResponse,
    n: usize,
    acked: &mut BTreeSet<String>,
) {
    let deadline = Instant::now() + CLUSTER_DEADLINE;
    let mut written = 0;
    while written < n {
        assert!(Instant::now() < deadline, "writes stalled\n{}", c.logs());
        let xid = raw.send(&create("/obs/n-", 2));
        match raw.read() {
            Frame::Reply(h, body) if h.xid == xid && h.err == 0 => {
                let r = CreateResponse::from_bytes(&body).expect("create");
                acked.insert(r.path);
                written += 1;
            }
            Frame::Reply(h, _) if h.xid == xid => {
                // Refused while the leader changes (ConnectionLoss): not acknowledged.
                let code = ErrorCode::from_code(h.err);
                assert_eq!(code, Some(ErrorCode::ConnectionLoss), "create refused");
            }
            Frame::Reply(h, _) => panic!("reply to xid {} instead of {xid}", h.xid),
            Frame::Closed => *raw = resume(c, OBSERVER, session),
        }
    }
}

fn ephemeral_owner(raw: &mut Raw, path: &str) -> Option<i64> {
    let (h, body) = raw.call(&exists(path, false));
    (h.err == 0).then(|| {
        ExistsResponse::from_bytes(&body)
            .expect("stat")
            .stat
            .ephemeral_owner
    })
}

/// The observer serves reads, a session and its ephemeral, and forwards writes; through two
/// kill -9s of the leader (leadership moves each time) its client keeps the session and the
/// ephemeral, and reads back every write that was acknowledged; it never leads or stands
/// for election, and shows itself as ZooKeeper's observers do (`srvr`, `mntr`, `conf`,
/// `/zookeeper/config`).
#[test]
fn an_observer_serves_through_leader_failures() {
    let (mut c, peers) = ensemble_with_observer();
    let obs = c.members[(OBSERVER - 1) as usize].client;
    let mntr = zk_testkit::four_letter(obs, "mntr").expect("mntr");
    assert!(mntr.contains("zk_server_state\tobserver\n"), "{mntr}");
    assert!(
        mntr.contains("zk_peer_state\tobserving - broadcast\n"),
        "{mntr}"
    );
    let conf = zk_testkit::four_letter(obs, "conf").expect("conf");
    assert!(conf.contains("peerType=1\n"), "{conf}");
    assert!(conf.contains("serverId=4\n"), "{conf}");

    let (mut raw, session) = Raw::new_session_retrying(obs, TIMEOUT_MS);
    let lines = founding_lines(&c);
    let text = wait_config_lines(&c, &mut raw, &lines);
    for line in text.lines().filter(|l| l.starts_with("server.")) {
        assert!(conf.contains(line), "conf shows {line}: {conf}");
    }
    assert_eq!(raw.call(&create("/obs", 0)).0.err, 0, "a forwarded write");
    assert_eq!(raw.call(&create("/obs/eph", 1)).0.err, 0, "an ephemeral");
    let mut acked = BTreeSet::new();
    write_through_observer(&c, &mut raw, &session, 20, &mut acked);

    let mut leaders = Vec::new();
    for _ in 0..2 {
        let leader = c.wait_leader();
        assert_ne!(leader, OBSERVER, "the observer never leads");
        leaders.push(leader);
        c.kill9(leader);
        // Writes go on through the observer while the voters elect a new leader.
        write_through_observer(&c, &mut raw, &session, 20, &mut acked);
        let next = c.wait_leader();
        assert!(next != leader && next != OBSERVER, "{next}");
        // Back with its data, so the next kill leaves a quorum of voters.
        c.start_member_with_peers(leader, &peers);
        c.wait_leader();
        write_through_observer(&c, &mut raw, &session, 5, &mut acked);
    }
    wait_mode(&c, OBSERVER, Some("observer"));

    assert_eq!(raw.call(&sync("/obs")).0.err, 0);
    let present = children(&mut raw, "/obs");
    let lost: Vec<&String> = acked
        .iter()
        .filter(|p| !present.contains(p.trim_start_matches("/obs/")))
        .collect();
    assert!(lost.is_empty(), "acknowledged writes lost: {lost:?}");
    assert_eq!(
        ephemeral_owner(&mut raw, "/obs/eph"),
        Some(session.session_id),
        "the ephemeral outlived two leaders with its session"
    );
    let log = c.log_of(OBSERVER);
    assert!(!log.contains("standing for election"), "{log}");
    assert!(!log.contains("is_leader=true"), "{log}");
}

/// Only voters count: two of the three voters commit without the observer (were it a
/// voter, two of four would not be a majority); two voters and the observer commit; one
/// voter and the observer do not (the write is never acknowledged).
#[test]
fn the_quorum_is_the_voters_only() {
    let (mut c, peers) = ensemble_with_observer();
    let leader = c.wait_leader();
    let mntr = zk_testkit::four_letter(c.members[(leader - 1) as usize].client, "mntr");
    let mntr = mntr.expect("mntr");
    assert!(mntr.contains("zk_quorum_size\t3\n"), "{mntr}");
    let follower = (1..=3).find(|&i| i != leader).expect("a follower");
    c.kill9(OBSERVER);
    c.kill9(follower);
    let (mut on_leader, _) =
        Raw::new_session_retrying(c.members[(leader - 1) as usize].client, TIMEOUT_MS);
    assert_eq!(
        on_leader.call(&create("/without-observer", 0)).0.err,
        0,
        "two of three voters commit without the observer\n{}",
        c.logs()
    );

    c.start_member_with_peers(OBSERVER, &peers);
    wait_mode(&c, OBSERVER, Some("observer"));
    let obs = c.members[(OBSERVER - 1) as usize].client;
    let (mut raw, session) = Raw::new_session_retrying(obs, TIMEOUT_MS);
    assert_eq!(
        raw.call(&create("/two-voters", 0)).0.err,
        0,
        "two of three voters and the observer commit\n{}",
        c.logs()
    );

    let other = (1..=3)
        .find(|&i| i != leader && i != follower)
        .expect("the other follower");
    c.kill9(other);
    raw.stream
        .set_read_timeout(Some(Duration::from_secs(3)))
        .expect("timeout");
    let xid = raw.send(&create("/one-voter", 0));
    match raw.read() {
        // Closed (the observer stops serving without a leader) or no answer in 3 s.
        Frame::Closed => {}
        Frame::Reply(h, _) => assert!(
            h.xid == xid && h.err != 0,
            "one voter and the observer acknowledged a write\n{}",
            c.logs()
        ),
    }
    // The quorum back: the session on the observer lives on, the earlier writes are there.
    c.start_member_with_peers(other, &peers);
    c.wait_leader();
    let mut raw = resume(&c, OBSERVER, &session);
    assert_eq!(raw.call(&sync("/")).0.err, 0);
    let root = children(&mut raw, "/");
    assert!(
        root.contains("two-voters") && root.contains("without-observer"),
        "{root:?}"
    );
}

/// `reconfig -add` of an observer (a node started outside `--peers`, waiting) and its
/// removal: `/zookeeper/config` lists it with `:observer`, it serves and forwards writes
/// while it is one, and a change that would leave fewer than two voters is BadArguments.
#[test]
fn reconfig_adds_and_removes_an_observer() {
    let mut c = Cluster::new(3, &enabled());
    let leader = c.start_all();
    let four = c.add_member();
    start_joining(&mut c, four);
    let m = &c.members[(four - 1) as usize];
    let spec = format!(
        "server.{four}=127.0.0.1:{}:{}:observer;{}",
        m.peer.port(),
        m.peer.port(),
        m.client
    );
    let (err, body) = reconfig_answered(&c, leader, Some(spec.clone()), None, None, -1);
    assert_eq!(
        err,
        ErrorCode::Ok,
        "reconfig -add an observer\n{}",
        c.logs()
    );
    let text = config_of(body);
    assert!(text.lines().any(|l| l == spec), "{spec} in {text}");
    assert_eq!(
        text.lines().filter(|l| l.ends_with(":participant")).count(),
        3,
        "{text}"
    );

    wait_mode(&c, four, Some("observer"));
    let obs = c.members[(four - 1) as usize].client;
    let (mut on_obs, _) = Raw::new_session_retrying(obs, TIMEOUT_MS);
    assert_eq!(on_obs.call(&create("/via-observer", 0)).0.err, 0);
    assert!(children(&mut on_obs, "/").contains("via-observer"));
    let conf = zk_testkit::four_letter(obs, "conf").expect("conf");
    assert!(
        conf.contains("peerType=1\n") && conf.contains(&spec[..]),
        "{conf}"
    );

    // Only the leader and the observer would remain: observers do not count.
    let others: Vec<String> = (1..=3)
        .filter(|&i| i != leader)
        .map(|i| i.to_string())
        .collect();
    let (err, _) = reconfig_answered(&c, leader, None, Some(&others.join(",")), None, -1);
    assert_eq!(err, ErrorCode::BadArguments);

    let (err, body) = reconfig_answered(&c, leader, None, Some(&four.to_string()), None, -1);
    assert_eq!(
        err,
        ErrorCode::Ok,
        "reconfig -remove the observer\n{}",
        c.logs()
    );
    let text = config_of(body);
    assert!(!text.contains(&format!("server.{four}=")), "{text}");
    // Removed, it is no longer replicated to and stops serving.
    wait_mode(&c, four, None);
}

/// A reconfig changes a member between participant and observer: a follower becomes an
/// observer (it keeps serving, now without a vote), and the founding observer becomes a
/// participant; `/zookeeper/config` and `srvr` follow, and writes go on through both.
#[test]
fn members_change_between_participant_and_observer() {
    let (c, _peers) = ensemble_with_observer();
    let leader = c.wait_leader();
    let f = (1..=3).find(|&i| i != leader).expect("a follower");
    let spec = |id: u64, kind: &str| {
        let m = &c.members[(id - 1) as usize];
        let p = m.peer.port();
        format!("server.{id}=127.0.0.1:{p}:{p}:{kind};{}", m.client)
    };
    let (err, body) = reconfig_answered(&c, leader, Some(spec(f, "observer")), None, None, -1);
    assert_eq!(err, ErrorCode::Ok, "demote {f}: {err:?}\n{}", c.logs());
    let text = config_of(body);
    assert!(text.lines().any(|l| l == spec(f, "observer")), "{text}");
    wait_mode(&c, f, Some("observer"));

    let (err, body) = reconfig_answered(
        &c,
        leader,
        Some(spec(OBSERVER, "participant")),
        None,
        None,
        -1,
    );
    assert_eq!(
        err,
        ErrorCode::Ok,
        "promote {OBSERVER}: {err:?}\n{}",
        c.logs()
    );
    let text = config_of(body);
    assert!(
        text.lines().any(|l| l == spec(OBSERVER, "participant")),
        "{text}"
    );
    assert_eq!(text.matches(":observer").count(), 1, "{text}");
    wait_mode(&c, OBSERVER, Some("follower"));
    for id in [f, OBSERVER] {
        let (mut raw, _) =
            Raw::new_session_retrying(c.members[(id - 1) as usize].client, TIMEOUT_MS);
        assert_eq!(raw.call(&create(&format!("/through-{id}"), 0)).0.err, 0);
    }
}
