//! Network partitions between real `zk-node` processes (sessions.md S9.4), made by cutting
//! the loopback proxies every peer link runs through (`--peer-dial`): the processes keep
//! running and only the network between them fails, silently, as in a real partition.
//!
//! A follower cut off stops serving, its clients move to the majority with their sessions,
//! and it serves again after healing, caught up. A leader cut off alone stops serving, the
//! majority elects another, nothing the old leader acknowledged is lost, and nothing it
//! could not commit survives.

mod common;

use std::sync::mpsc;
use std::time::Duration;
use std::time::Instant;

use common::cluster::Cluster;
use common::connect_request;
use common::pipelined_creates;
use common::req::children;
use common::req::create;
use common::req::exists;
use common::req::sync;
use common::Frame;
use common::Raw;
use zk_wire::ConnectResponse;
use zk_wire::GetDataRequest;
use zk_wire::GetDataResponse;
use zk_wire::Record;
use zk_wire::Request;

/// Session timeout the clients ask for (the ensemble runs with --tick-ms 200: max 4 s).
const TIMEOUT_MS: i32 = 4000;
/// Bound on how long a cut-off node may keep serving (cut-off is max(tick/2, 500 ms); a
/// follower notices the silent leader after an election timeout).
const STOPS_SERVING_WITHIN: Duration = Duration::from_secs(3);

/// Waits until `raw`'s server closes the connection, answering pings meanwhile; how long.
fn wait_closed(raw: &mut Raw, since: Instant) -> Duration {
    loop {
        raw.send_xid(-2, &Request::Ping);
        match raw.read() {
            Frame::Closed => return since.elapsed(),
            Frame::Reply(..) => {}
        }
        assert!(
            since.elapsed() < Duration::from_secs(10),
            "the cut-off node kept serving its client"
        );
        std::thread::sleep(Duration::from_millis(50)); // a client's ping interval
    }
}

/// Resumes `session` on the first of `ids` that takes it (a client going round its list).
fn resume_somewhere(
    c: &Cluster,
    ids: &[u64],
    session: &ConnectResponse,
    last_zxid: i64,
) -> (u64, Raw) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        for &id in ids {
            let mut raw = Raw::connect(c.members[(id - 1) as usize].client);
            let req = connect_request(
                session.session_id,
                session.passwd.clone(),
                TIMEOUT_MS,
                last_zxid,
            );
            if let Some(answer) = raw.handshake(&req) {
                assert_eq!(answer.session_id, session.session_id, "the same session");
                assert!(answer.time_out > 0, "the session is alive");
                return (id, raw);
            }
        }
        assert!(
            Instant::now() < deadline,
            "no node took the session\n{}",
            c.logs()
        );
        std::thread::sleep(Duration::from_millis(50)); // a client's back-off
    }
}

/// Until `id` says `mode` in `srvr` (None: not serving); how long.
fn wait_mode(c: &Cluster, id: u64, mode: Option<&str>, since: Instant) -> Duration {
    loop {
        if c.mode(id).as_deref() == mode {
            return since.elapsed();
        }
        assert!(
            since.elapsed() < Duration::from_secs(15),
            "member {id} never became {mode:?}\n{}",
            c.logs()
        );
        std::thread::sleep(Duration::from_millis(20)); // polling a process
    }
}

/// A follower cut off from both others stops serving; its client resumes the same session
/// on the majority with its ephemeral (no watcher hears it vanish); writes go on there;
/// healed, the follower serves again and shows every write made while it was away.
#[test]
fn s9_4_partitioned_follower_sheds_its_clients_and_catches_up_after_healing() {
    let mut c = Cluster::new_with_proxies(3, &[]);
    for id in 1..=3 {
        c.start_member(id);
    }
    let leader = c.wait_leader();
    let f = c.others(leader)[0];
    let client_of = |id: u64| c.members[(id - 1) as usize].client;

    let (mut a, session) = Raw::new_session_retrying(client_of(f), TIMEOUT_MS);
    let (h, _) = a.call(&create("/owned-by-a", 1));
    assert_eq!(h.err, 0);
    let (mut watcher, _) = Raw::new_session_retrying(client_of(leader), TIMEOUT_MS);
    assert_eq!(watcher.call(&sync("/")).0.err, 0);
    assert_eq!(watcher.call(&exists("/owned-by-a", true)).0.err, 0);

    let cut = Instant::now();
    c.isolate(f);
    let took = wait_closed(&mut a, cut);
    eprintln!("partitioned follower stopped serving {took:?} after the cut");
    assert!(took < STOPS_SERVING_WITHIN, "took {took:?}");

    // The client moves: the majority takes the session, ephemeral included.
    let (moved_to, mut a) = resume_somewhere(&c, &c.others(f), &session, h.zxid);
    eprintln!(
        "session resumed on member {moved_to} {:?} after the cut",
        cut.elapsed()
    );
    assert_eq!(a.call(&exists("/owned-by-a", false)).0.err, 0);
    let mut last = 0;
    for i in 0..20 {
        let (h, _) = a.call(&create(&format!("/while-cut-{i:02}"), 0));
        assert_eq!(h.err, 0, "writes go on in the majority");
        last = h.zxid;
    }
    // The cut-off node answers no handshake meanwhile: clients skip it.
    let mut b = Raw::connect(client_of(f));
    assert!(b
        .handshake(&connect_request(0, vec![0; 16], TIMEOUT_MS, 0))
        .is_none());

    c.rejoin(f);
    let healed = Instant::now();
    // Serves again once caught up: a client that has seen the majority's last write is
    // taken (a node behind it would refuse, S3.4).
    let (_, mut back) = resume_somewhere(&c, &[f], &session, last);
    eprintln!("healed follower served again after {:?}", healed.elapsed());
    let seen = children(&mut back, "/");
    for i in 0..20 {
        assert!(seen.contains(&format!("while-cut-{i:02}")), "{seen:?}");
    }
    assert_eq!(back.call(&exists("/owned-by-a", false)).0.err, 0);
    // Healing deposed nobody (pre-vote: the cut-off node never raised its term), so the
    // leader's clients were never cut off...
    assert_eq!(c.wait_leader(), leader, "the leader stays\n{}", c.logs());
    // ...and the session lived through it all: its ephemeral's watcher heard nothing.
    watcher.send_xid(-2, &Request::Ping);
    match watcher.read() {
        Frame::Reply(h, _) => assert_eq!(h.xid, -2, "no watch event, only the ping's reply"),
        Frame::Closed => panic!("watcher's connection closed\n{}", c.logs()),
    }
}

/// A leader cut off alone: it stops serving, the majority elects another; every write the
/// old leader acknowledged (before the cut, or in flight at it) is in the new leader's
/// state, at most the in-flight window is acknowledged after the cut, and what the old
/// leader could not commit is gone from it after healing (it agrees with the majority).
#[test]
fn s9_4_leader_partitioned_alone_steps_down_and_acknowledges_nothing_new() {
    let mut c = Cluster::new_with_proxies(3, &[]);
    for id in 1..=3 {
        c.start_member(id);
    }
    let old = c.wait_leader();
    let client_of = |id: u64| c.members[(id - 1) as usize].client;

    let (writer, _) = Raw::new_session_retrying(client_of(old), TIMEOUT_MS);
    let (tx, rx) = mpsc::channel();
    let load = std::thread::spawn(move || pipelined_creates(writer, "w", tx));
    let mut acked: Vec<(String, Instant)> = Vec::new();
    while acked.len() < 200 {
        let (path, _) = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("writes acknowledged before the cut");
        acked.push((path, Instant::now()));
    }

    let cut = Instant::now();
    c.isolate(old);
    // The writer's connection ends when the old leader stops serving; drain every ack.
    while let Ok((path, _)) = rx.recv_timeout(Duration::from_secs(10)) {
        acked.push((path, Instant::now()));
    }
    let stopped = cut.elapsed();
    load.join().expect("writer thread");
    let after_cut = acked.iter().filter(|(_, at)| *at > cut).count();
    eprintln!(
        "old leader: {} writes acknowledged, {after_cut} after the cut; client dropped {stopped:?} after the cut",
        acked.len()
    );
    assert!(
        after_cut <= 16,
        "only writes already in flight (16) may be acknowledged after the cut: {after_cut}"
    );
    assert!(stopped < STOPS_SERVING_WITHIN + Duration::from_secs(1));

    // The majority elects a new leader; the old one no longer claims to lead.
    let majority = c.others(old);
    let new = loop {
        if let Some(&id) = majority
            .iter()
            .find(|&&id| c.mode(id).as_deref() == Some("leader"))
        {
            break id;
        }
        assert!(cut.elapsed() < Duration::from_secs(10), "{}", c.logs());
        std::thread::sleep(Duration::from_millis(20)); // polling processes
    };
    eprintln!(
        "member {new} leads the majority {:?} after the cut",
        cut.elapsed()
    );
    let _ = wait_mode(&c, old, None, cut);

    // Every acknowledged write is in the majority's state, and the majority takes writes.
    let (mut reader, _) = Raw::new_session_retrying(client_of(new), TIMEOUT_MS);
    assert_eq!(reader.call(&create("/after-the-cut", 0)).0.err, 0);
    let majority_state = children(&mut reader, "/");
    let lost: Vec<&String> = acked
        .iter()
        .map(|(p, _)| p)
        .filter(|p| !majority_state.contains(p.trim_start_matches('/')))
        .collect();
    assert!(lost.is_empty(), "acknowledged writes lost: {lost:?}");

    // Healed, the old leader follows and holds exactly the majority's state: whatever it
    // had appended but could not commit is gone.
    c.rejoin(old);
    let healed = Instant::now();
    let took = wait_mode(&c, old, Some("follower"), healed);
    eprintln!("old leader follows {took:?} after healing");
    let (mut back, _) = Raw::new_session_retrying(client_of(old), TIMEOUT_MS);
    assert_eq!(back.call(&sync("/")).0.err, 0);
    let final_majority = children(&mut reader, "/");
    assert_eq!(children(&mut back, "/"), final_majority);
    let (h, body) = back.call(&Request::GetData(GetDataRequest {
        path: "/after-the-cut".into(),
        watch: false,
    }));
    assert_eq!(h.err, 0);
    let data = GetDataResponse::from_bytes(&body).expect("data");
    assert_eq!(data.data.as_deref(), Some(&b"/after-the-cut"[..]));
    let _ = c.wait_leader();
}
