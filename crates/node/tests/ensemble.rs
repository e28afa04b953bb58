//! Three real `zk-node` processes on loopback (sessions.md S3, S6, S9): the ensemble forms by
//! itself in any start order; a session created on one node resumes on another (any node
//! checks the HMAC); a follower's writes keep their order through the forwarding stream;
//! expiry is decided by the leader from every node's activity; kill -9 of the leader loses
//! no session and writes resume; a data dir follows the replicated membership, not --peers.

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
use zk_wire::CreateResponse;
use zk_wire::ErrorCode;
use zk_wire::EventType;
use zk_wire::GetDataRequest;
use zk_wire::Record;
use zk_wire::Request;
use zk_wire::WatcherEvent;

fn next_event(raw: &mut Raw) -> WatcherEvent {
    loop {
        match raw.read() {
            Frame::Reply(h, body) if h.xid == -1 => {
                return WatcherEvent::from_bytes(&body).expect("event")
            }
            Frame::Reply(..) => {}
            Frame::Closed => panic!("connection closed while waiting for an event"),
        }
    }
}

fn follower_of(c: &Cluster, leader: u64) -> u64 {
    (1..=c.members.len() as u64)
        .find(|&id| id != leader)
        .expect("a follower")
}

/// Bootstrap: started in the order 3, 1, 2 with the same --peers, the nodes form one
/// ensemble with exactly one leader, no init step.
#[test]
fn forms_by_itself_in_any_start_order() {
    let c = Cluster::start(3, &[3, 1, 2]);
    let leader = c.wait_leader();
    assert!((1..=3).contains(&leader));
}

/// Peers named by host name (`localhost` here, docker service names in deploy/) work as well
/// as IP addresses.
#[test]
fn forms_with_host_names_in_peers() {
    let mut c = Cluster::new_on_host(3, &[], "localhost");
    assert!(c.peers().contains("localhost:"));
    for id in [2, 3, 1] {
        c.start_member(id);
    }
    let leader = c.wait_leader();
    let (mut raw, _) = Raw::new_session_retrying(c.members[(leader % 3) as usize].client, 4000);
    assert_eq!(raw.call(&create("/named", 0)).0.err, 0);
}

/// S3.2, S3.3, S9.1: a session made on one node resumes on another with the same id and
/// password (that node checks the HMAC itself); its ephemeral is there; the old connection
/// stops being served; a write through the new node is seen on the third after sync.
#[test]
fn s3_3_session_resumes_on_another_node() {
    let c = Cluster::start(3, &[1, 2, 3]);
    let (mut a, resp) = Raw::new_session_retrying(c.members[0].client, 4000);
    let (h, _) = a.call(&create("/eph", 1));
    assert_eq!(h.err, 0, "{}", c.logs());
    let mut b = Raw::connect(c.members[1].client);
    let again = b
        .handshake(&connect_request(
            resp.session_id,
            resp.passwd.clone(),
            4000,
            h.zxid,
        ))
        .expect("answered");
    assert_eq!(
        (again.session_id, &again.passwd),
        (resp.session_id, &resp.passwd)
    );
    assert!(
        matches!(a.read(), Frame::Closed),
        "the old connection is closed"
    );
    assert_eq!(b.call(&create("/via-b", 0)).0.err, 0);
    let (mut third, _) = Raw::new_session_retrying(c.members[2].client, 4000);
    assert_eq!(third.call(&sync("/")).0.err, 0);
    let (h, body) = third.call(&exists("/eph", false));
    assert_eq!(h.err, 0);
    let stat = zk_wire::ExistsResponse::from_bytes(&body)
        .expect("stat")
        .stat;
    assert_eq!(
        stat.ephemeral_owner, resp.session_id,
        "still owned by the session"
    );
    assert_eq!(third.call(&exists("/via-b", false)).0.err, 0);
    // A wrong password is refused by every node.
    let mut wrong = resp.passwd.clone();
    wrong[3] ^= 0x40;
    let mut w = Raw::connect(c.members[2].client);
    let answer = w
        .handshake(&connect_request(resp.session_id, wrong, 4000, 0))
        .expect("answered");
    assert_eq!(answer.session_id, 0);
}

/// FIFO through forwarding: 200 creates pipelined on a follower's connection enter the log
/// in request order (their czxids increase with the request order), and the read sent right
/// after them sees the last one.
#[test]
fn follower_writes_keep_their_order() {
    let c = Cluster::start(3, &[1, 2, 3]);
    let leader = c.wait_leader();
    let f = follower_of(&c, leader);
    let (mut raw, _) = Raw::new_session_retrying(c.members[(f - 1) as usize].client, 4000);
    let xids: Vec<i32> = (0..200)
        .map(|i| raw.send(&create(&format!("/o{i:03}"), 0)))
        .collect();
    let last = raw.send(&Request::GetData(GetDataRequest {
        path: "/o199".into(),
        watch: false,
    }));
    let mut zxids = Vec::new();
    for &xid in &xids {
        let Frame::Reply(h, body) = raw.read() else {
            panic!("no reply for xid {xid}: {}", c.logs())
        };
        assert_eq!((h.xid, h.err), (xid, 0), "{}", c.logs());
        let path = CreateResponse::from_bytes(&body).expect("create").path;
        assert_eq!(path, format!("/o{:03}", xid - xids[0]));
        zxids.push(h.zxid);
    }
    assert!(
        zxids.windows(2).all(|w| w[0] < w[1]),
        "log order = request order"
    );
    let (h, _) = raw.reply();
    assert_eq!(
        (h.xid, h.err),
        (last, 0),
        "the read saw the session's writes"
    );
}

/// FIFO and event order with reads and writes interleaved on one connection, on the leader
/// and through a follower's forwarding (the reads are answered when the write is applied on
/// the node serving them).
#[test]
fn interleaved_reads_and_writes_keep_fifo_and_event_order() {
    let c = Cluster::start(3, &[1, 2, 3]);
    let leader = c.wait_leader();
    let f = follower_of(&c, leader);
    for (id, path) in [(leader, "/on-leader"), (f, "/on-follower")] {
        let (mut raw, _) = Raw::new_session_retrying(c.members[(id - 1) as usize].client, 4000);
        assert_eq!(raw.call(&create(path, 0)).0.err, 0, "{}", c.logs());
        common::req::interleaved_reads_and_writes(&mut raw, path, 200);
    }
}

/// S6.2, S9.2: a silent session connected to a follower expires (the leader decides), its
/// ephemeral goes and a watcher on another node is told; a session on a follower that keeps
/// pinging lives on (the follower's activity reports reach the leader).
#[test]
fn s9_2_leader_expires_silent_sessions_of_followers_only() {
    let c = Cluster::start(3, &[1, 2, 3]);
    let leader = c.wait_leader();
    let f = follower_of(&c, leader);
    let fc = c.members[(f - 1) as usize].client;
    let (mut quiet, _) = Raw::new_session_retrying(fc, 400);
    let (mut busy, _) = Raw::new_session_retrying(fc, 400);
    assert_eq!(quiet.call(&create("/quiet", 1)).0.err, 0);
    assert_eq!(busy.call(&create("/busy", 1)).0.err, 0);
    let (mut watcher, _) = Raw::new_session_retrying(c.members[(leader - 1) as usize].client, 4000);
    assert_eq!(watcher.call(&sync("/")).0.err, 0);
    assert_eq!(watcher.call(&exists("/quiet", true)).0.err, 0);
    let start = Instant::now();
    // The busy client pings every ~130 ms (a third of its timeout) for 2.5 s; the quiet one
    // says nothing. The pings are the behaviour under test, not synchronisation.
    let pinger = std::thread::spawn(move || {
        while start.elapsed() < Duration::from_millis(2500) {
            busy.send_xid(-2, &Request::Ping);
            assert_eq!(busy.reply().0.xid, -2, "busy session alive");
            std::thread::sleep(Duration::from_millis(130));
        }
        busy
    });
    let ev = next_event(&mut watcher);
    let took = start.elapsed();
    assert_eq!(
        (ev.event_type, ev.path.as_str()),
        (EventType::NodeDeleted, "/quiet")
    );
    // Timeout 400 + one tick 200 + a report interval 100, plus slack for a loaded machine.
    assert!(
        took <= Duration::from_millis(1700),
        "expired after {took:?}"
    );
    let mut busy = pinger.join().expect("pinger");
    assert_eq!(
        busy.call(&exists("/busy", false)).0.err,
        0,
        "busy ephemeral kept"
    );
}

/// S9.3, R5: kill -9 of the leader: the ensemble elects another, sessions are not expired,
/// and a client of the dead leader resumes on another node and writes again. Prints how long
/// writes were unavailable.
#[test]
fn s9_3_leader_kill_9_keeps_sessions_and_writes_resume() {
    let mut c = Cluster::start(3, &[1, 2, 3]);
    let leader = c.wait_leader();
    let (mut a, resp) = Raw::new_session_retrying(c.members[(leader - 1) as usize].client, 2000);
    let (h, _) = a.call(&create("/kept", 1));
    assert_eq!(h.err, 0);
    let mut last_zxid = h.zxid;
    let killed = Instant::now();
    c.kill9(leader);
    // Like a client: try the other nodes until one takes the session and a write succeeds.
    let others: Vec<u64> = (1..=3).filter(|&i| i != leader).collect();
    let resumed = 'outer: loop {
        assert!(
            killed.elapsed() < Duration::from_secs(10),
            "writes never resumed\n{}",
            c.logs()
        );
        for &id in &others {
            let mut raw = Raw::connect(c.members[(id - 1) as usize].client);
            let req = connect_request(resp.session_id, resp.passwd.clone(), 2000, last_zxid);
            let Some(answer) = raw.handshake(&req) else {
                continue;
            };
            assert_eq!(
                answer.session_id, resp.session_id,
                "session kept across failover"
            );
            if let Frame::Reply(h, _) = {
                raw.send(&create(&format!("/after-{id}"), 0));
                raw.read()
            } {
                if h.err == 0 {
                    last_zxid = h.zxid;
                    break 'outer raw;
                }
            }
        }
    };
    let took = killed.elapsed();
    eprintln!("writes resumed {took:?} after kill -9 of the leader");
    let mut raw = resumed;
    assert_eq!(raw.call(&exists("/kept", false)).0.err, 0, "ephemeral kept");
    assert!(last_zxid > 0);
    let _ = c.wait_leader();
    // Healthy sessions survive the new leader's first judgement (S9.3): keep pinging past
    // two timeouts.
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(4) {
        raw.send_xid(-2, &Request::Ping);
        assert_eq!(raw.reply().0.xid, -2);
        std::thread::sleep(Duration::from_millis(300));
    }
    assert_eq!(raw.call(&exists("/kept", false)).0.err, 0);
}

/// Bootstrap: the membership is replicated, so a node restarted with its data dir and a
/// different (here: wrong) --peers starts, finds the members at the addresses the membership
/// gives, rejoins and serves (a data dir started as another node id is still refused:
/// `zk-consensus`'s `restart_with_other_peers_follows_the_membership`).
#[test]
fn restart_with_other_peers_follows_the_replicated_membership() {
    let mut c = Cluster::start(3, &[1, 2, 3]);
    let leader = c.wait_leader();
    let f = follower_of(&c, leader);
    c.kill9(f);
    let other = "1=127.0.0.1:1,2=127.0.0.1:2,3=127.0.0.1:3";
    c.start_member_with_peers(f, other);
    let _ = c.wait_leader();
    let log = c.log_of(f);
    assert!(
        log.contains("--peers differs from the replicated membership"),
        "{log}"
    );
    let (mut raw, _) = Raw::new_session_retrying(c.members[(f - 1) as usize].client, 4000);
    assert_eq!(raw.call(&sync("/")).0.err, 0);
    assert_eq!(raw.call(&create("/rejoined", 0)).0.err, 0);
    assert_ne!(
        raw.call(&exists("/rejoined", false)).0.err,
        ErrorCode::NoNode.code()
    );
}

/// S9.4: a node cut off from the quorum (here: both others frozen with SIGSTOP) stops serving
/// its clients within about a second: their connection is closed and new handshakes get no
/// answer, so clients move on. Once the others run again it serves again, and the session
/// is still there.
#[test]
fn s9_4_cut_off_follower_stops_serving_then_serves_again() {
    let c = Cluster::start(3, &[1, 2, 3]);
    let leader = c.wait_leader();
    cut_off(&c, follower_of(&c, leader));
}

/// S9.4 for the leader: cut off, it stops serving once no quorum acknowledged it for the
/// cut-off (max(tick/2, 500 ms)), even though it still believes it leads.
#[test]
fn s9_4_cut_off_leader_stops_serving_then_serves_again() {
    let c = Cluster::start(3, &[1, 2, 3]);
    let leader = c.wait_leader();
    cut_off(&c, leader);
}

fn cut_off(c: &Cluster, x: u64) {
    let xc = c.members[(x - 1) as usize].client;
    let (mut a, resp) = Raw::new_session_retrying(xc, 4000);
    let (h, _) = a.call(&create("/cut", 1));
    assert_eq!(h.err, 0);
    for id in (1..=3).filter(|&i| i != x) {
        c.signal(id, "STOP");
    }
    let frozen = Instant::now();
    // The client's connection is closed (it would move to another server)...
    assert!(
        matches!(a.read(), Frame::Closed),
        "cut-off node closed its client"
    );
    let took = frozen.elapsed();
    eprintln!("cut-off node stopped serving {took:?} after losing the quorum");
    assert!(took < Duration::from_secs(3), "took {took:?}");
    // ...and a new handshake is not answered.
    let mut b = Raw::connect(xc);
    assert!(b
        .handshake(&connect_request(
            resp.session_id,
            resp.passwd.clone(),
            4000,
            h.zxid
        ))
        .is_none());
    for id in (1..=3).filter(|&i| i != x) {
        c.signal(id, "CONT");
    }
    // Serving again: the same session resumes here (retrying like a client).
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut again = loop {
        let mut raw = Raw::connect(xc);
        let req = connect_request(resp.session_id, resp.passwd.clone(), 4000, h.zxid);
        if let Some(answer) = raw.handshake(&req) {
            assert_eq!(answer.session_id, resp.session_id, "session kept");
            break raw;
        }
        assert!(
            Instant::now() < deadline,
            "never served again\n{}",
            c.logs()
        );
        std::thread::sleep(Duration::from_millis(50)); // a client's back-off
    };
    assert_eq!(again.call(&exists("/cut", false)).0.err, 0);
}

/// Catch-up: a member that lost its disk while the others took snapshots (and purged the log
/// before them) comes back empty and catches up by snapshot: after a sync it serves every
/// node written while it was gone.
#[test]
fn empty_disk_member_catches_up_by_snapshot() {
    let mut c = Cluster::new(3, &["--snapshot-every", "20", "--log-keep", "0"]);
    let leader = c.start_all();
    let f = follower_of(&c, leader);
    c.kill9(f);
    c.wipe(f);
    let (mut w, _) = Raw::new_session_retrying(c.members[(leader - 1) as usize].client, 4000);
    for i in 0..150 {
        assert_eq!(
            w.call(&create(&format!("/s{i:03}"), 0)).0.err,
            0,
            "{}",
            c.logs()
        );
    }
    c.start_member(f);
    let _ = c.wait_leader();
    let (mut r, _) = Raw::new_session_retrying(c.members[(f - 1) as usize].client, 4000);
    assert_eq!(r.call(&sync("/")).0.err, 0);
    for i in [0, 75, 149] {
        assert_eq!(
            r.call(&exists(&format!("/s{i:03}"), false)).0.err,
            0,
            "/s{i:03} on the rebuilt member\n{}",
            c.logs()
        );
    }
    let log = c.log_of(f);
    assert!(
        log.contains("installed a snapshot"),
        "caught up by snapshot:\n{log}"
    );
}

/// Durability: kill -9 of every member in the middle of a pipelined write load, one of them
/// also losing its disk (a minority), then a restart: every acknowledged write is there, read
/// through the member that lost its disk.
#[test]
fn acknowledged_writes_survive_kill_9_of_all_with_a_minority_disk_lost() {
    use std::sync::mpsc;

    let mut c = Cluster::start(3, &[1, 2, 3]);
    let leader = c.wait_leader();
    let f = follower_of(&c, leader);
    let addr = c.members[(f - 1) as usize].client;
    let (acked_tx, acked_rx) = mpsc::channel::<(String, Vec<u8>)>();
    let writer = std::thread::spawn(move || {
        let (raw, _) = Raw::new_session_retrying(addr, 4000);
        common::pipelined_creates(raw, "d", acked_tx);
    });
    let mut acked = Vec::new();
    while acked.len() < 300 {
        acked.push(
            acked_rx
                .recv_timeout(common::DEADLINE)
                .unwrap_or_else(|_| panic!("writes acknowledged\n{}", c.logs())),
        );
    }
    for id in [1, 2, 3] {
        c.kill9(id);
    }
    let _ = writer.join();
    acked.extend(acked_rx.try_iter());
    c.wipe(f);
    for id in [1, 2, 3] {
        c.start_member(id);
    }
    let _ = c.wait_leader();
    let (mut r, _) = Raw::new_session_retrying(c.members[(f - 1) as usize].client, 4000);
    assert_eq!(r.call(&sync("/")).0.err, 0);
    for (path, _) in &acked {
        assert_eq!(
            r.call(&exists(path, false)).0.err,
            0,
            "acknowledged {path} lost\n{}",
            c.logs()
        );
    }
}
