//! Membership that changes while the ensemble serves (issue 20 items 1 and 2), with real
//! `zk-node` processes: `/zookeeper/config` in ZooKeeper's format with its version and
//! watch, `reconfig` refused without permission or on a stale version, growing 3 → 5 under a
//! write load with every acknowledged write kept, shrinking 5 → 3, and replacing a member
//! lost for good by a new one at a new address.

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;

use common::cluster::set_flags;
use common::cluster::start_joining;
use common::cluster::tls_flags;
use common::cluster::wait_log;
use common::cluster::wait_mode;
use common::cluster::Cluster;
use common::cluster::CLUSTER_DEADLINE;
use common::membership::as_super;
use common::membership::config_of;
use common::membership::enabled;
use common::membership::get_config;
use common::membership::peers_with_clients;
use common::membership::reconfig;
use common::membership::reconfig_answered;
use common::membership::server_ids;
use common::membership::server_lines;
use common::membership::session;
use common::membership::version_of;
use common::membership::wait_config;
use common::membership::CONFIG;
use common::membership::SUPER_DIGEST;
use common::req::children;
use common::req::create;
use common::req::sync;
use common::Frame;
use common::Raw;
use zk_testkit::zk_node::Single;
use zk_wire::ErrorCode;
use zk_wire::EventType;
use zk_wire::ReconfigRequest;
use zk_wire::Record;
use zk_wire::Request;
use zk_wire::WatcherEvent;

/// A single node: reconfig is off unless enabled (ReconfigDisabled, ZooKeeper's default),
/// and a standalone server cannot be reconfigured (Unimplemented), as in ZooKeeper.
#[test]
fn reconfig_is_off_by_default_and_standalone_cannot() {
    for (flags, want) in [
        (vec![], ErrorCode::ReconfigDisabled),
        (enabled(), ErrorCode::Unimplemented),
    ] {
        let node = Single::start_with(&flags);
        let (mut raw, _) = Raw::new_session(node.addr, 4000);
        as_super(&mut raw);
        let (err, _) = reconfig(&mut raw, None, Some("2"), None, -1);
        assert_eq!(err, want, "{flags:?}");
    }
}

/// `/zookeeper/config` holds the membership in ZooKeeper's format, its version the zxid
/// that wrote it; `conf` shows the same lines and this node's id. Founding members started
/// with whole server specs in `--peers` show their election port and client address as
/// ZooKeeper shows those of its `server.N` lines, so the lines can be given back to
/// `reconfig` (here as `-members`: the same members, a new version). Only the superuser may
/// reconfig (the node's ACL is world:anyone READ), and a stale version is BadVersion.
#[test]
fn config_shows_the_members_and_reconfig_needs_the_superuser() {
    let mut c = Cluster::new(3, &enabled());
    let peers = peers_with_clients(&c);
    for id in 1..=3 {
        c.start_member_with_peers(id, &peers);
    }
    c.wait_leader();
    let mut raw = session(&c, 2);
    let (text, stat) = wait_config(&c, &mut raw, &[1, 2, 3]);
    let specs: Vec<String> = (1..=3).map(|id| c.server_spec(id)).collect();
    assert_eq!(server_lines(&text), specs, "{text}");
    assert_eq!(
        version_of(&text),
        stat.mzxid,
        "version = the zxid that wrote it"
    );
    let conf = zk_testkit::four_letter(c.members[1].client, "conf").expect("conf");
    assert!(conf.contains("serverId=2\n"), "{conf}");
    for line in text.lines() {
        assert!(conf.contains(line), "conf shows {line}: {conf}");
    }

    let (err, _) = reconfig(&mut raw, None, Some("3"), None, -1);
    assert_eq!(err, ErrorCode::NoAuth, "without the superuser");
    as_super(&mut raw);
    let (err, _) = reconfig(&mut raw, None, Some("3"), None, version_of(&text) + 1);
    assert_eq!(err, ErrorCode::BadVersion);
    let (err, _) = reconfig(&mut raw, Some("server.9=nonsense".into()), None, None, -1);
    assert_eq!(err, ErrorCode::BadArguments);
    let (again, _) = get_config(&mut raw, false);
    assert_eq!(again, text, "nothing changed");

    // The lines given back as they are (what failed before: no client address).
    let members = server_lines(&text).join(",");
    let (err, body) = reconfig(&mut raw, None, None, Some(members), version_of(&text));
    assert_eq!(err, ErrorCode::Ok, "{}", c.logs());
    let same = config_of(body);
    assert_eq!(server_lines(&same), server_lines(&text), "{same}");
    assert!(version_of(&same) > version_of(&text), "{same}");
}

/// Grow 3 → 5 while a client writes, then shrink back to 3: each change answers with the
/// new config (a watch on it fires), the joining members catch up and serve, and every
/// acknowledged write is there afterwards, read through a new member.
#[test]
fn grow_to_five_under_writes_and_shrink_to_three() {
    let mut c = Cluster::new(3, &enabled());
    c.start_all();
    let (four, five) = (c.add_member(), c.add_member());
    start_joining(&mut c, four);
    start_joining(&mut c, five);

    // The write load: sequential creates through member 1, each acknowledged one recorded.
    let stop = Arc::new(AtomicBool::new(false));
    let writer_addr = c.members[0].client;
    let writer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let (mut w, _) = Raw::new_session_retrying(writer_addr, 10_000);
            assert_eq!(w.call(&create("/load", 0)).0.err, 0);
            let mut acked = BTreeSet::new();
            while !stop.load(Ordering::Relaxed) {
                let (h, body) = w.call(&create("/load/n-", 2));
                if h.err == 0 {
                    let r = zk_wire::CreateResponse::from_bytes(&body).expect("create");
                    acked.insert(r.path);
                }
            }
            acked
        })
    };

    let mut raw = session(&c, 2);
    as_super(&mut raw);
    let (text, _) = wait_config(&c, &mut raw, &[1, 2, 3]);
    // A config watch fires on the change.
    let (mut watcher, _) = Raw::new_session(c.members[2].client, 10_000);
    get_config(&mut watcher, true);
    let joining = format!("{},{}", c.server_spec(four), c.server_spec(five));
    let (err, body) = reconfig(&mut raw, Some(joining), None, None, version_of(&text));
    assert_eq!(err, ErrorCode::Ok, "{}", c.logs());
    let body = body.expect("the new config");
    let grown = String::from_utf8(body.data.unwrap_or_default()).expect("utf-8");
    assert_eq!(server_ids(&grown), vec![1, 2, 3, 4, 5], "{grown}");
    assert_eq!(version_of(&grown), body.stat.mzxid);
    assert!(grown.contains(&c.server_spec(four)[..]), "{grown}");
    let event = loop {
        match watcher.read() {
            Frame::Reply(h, body) if h.xid == -1 => {
                break WatcherEvent::from_bytes(&body).expect("event")
            }
            Frame::Reply(..) => {}
            Frame::Closed => panic!("watcher closed"),
        }
    };
    assert_eq!(
        (event.event_type, event.path.as_str()),
        (EventType::NodeDataChanged, CONFIG)
    );
    c.wait_leader();

    stop.store(true, Ordering::Relaxed);
    let acked = writer.join().expect("writer");
    assert!(!acked.is_empty(), "the load wrote something");
    let mut reader = session(&c, five);
    assert_eq!(reader.call(&sync("/load")).0.err, 0);
    let present = children(&mut reader, "/load");
    let lost: Vec<&String> = acked
        .iter()
        .filter(|p| !present.contains(p.trim_start_matches("/load/")))
        .collect();
    assert!(lost.is_empty(), "acknowledged writes lost: {lost:?}");

    // Shrink back to 3 (non-incremental here, as `reconfig -members`).
    let members: Vec<String> = (1..=3).map(|id| c.server_spec(id)).collect();
    let (err, body) = reconfig_answered(&c, 2, None, None, Some(members.join(",")), -1);
    assert_eq!(err, ErrorCode::Ok, "{}", c.logs());
    let shrunk = config_of(body);
    assert_eq!(server_ids(&shrunk), vec![1, 2, 3], "{shrunk}");
    c.kill9(four);
    c.kill9(five);
    c.wait_leader();
    let mut after = session(&c, 3);
    assert_eq!(after.call(&create("/after-shrink", 0)).0.err, 0);
}

/// A member lost for good (killed, its disk gone) is replaced by a new one with a new id at
/// a new address; the ensemble keeps its data and serves through the new member.
#[test]
fn replace_a_lost_member() {
    let mut c = Cluster::new(3, &enabled());
    let leader = c.start_all();
    let lost = (1..=3).find(|&i| i != leader).expect("a follower");
    let mut raw = session(&c, leader);
    as_super(&mut raw);
    assert_eq!(raw.call(&create("/kept", 0)).0.err, 0);
    c.kill9(lost);
    c.wipe(lost);

    let new = c.add_member();
    start_joining(&mut c, new);
    let (err, body) = reconfig(
        &mut raw,
        Some(c.server_spec(new)),
        Some(&lost.to_string()),
        None,
        -1,
    );
    assert_eq!(err, ErrorCode::Ok, "{}", c.logs());
    let text = config_of(body);
    let mut want: Vec<u64> = (1..=3).filter(|&i| i != lost).collect();
    want.push(new);
    assert_eq!(server_ids(&text), want, "{text}");
    c.wait_leader();
    let mut reader = session(&c, new);
    assert_eq!(reader.call(&sync("/kept")).0.err, 0);
    assert!(children(&mut reader, "/").contains("kept"));
}

/// NewConfigNoQuorum as ZooKeeper's leader answers it: at once, not after the reconfig
/// timeout (10 s; Debian's ZooKeeper 3.8.0 answers such a request as fast as a `config`).
/// With a follower down, adding a server that is not running would leave two connected
/// voters of four: refused within 5 s, nothing changed. A joining server that runs is then
/// added with the follower still down (three of four connected).
#[test]
fn a_reconfig_without_a_connected_quorum_is_refused_at_once() {
    let mut c = Cluster::new(3, &enabled());
    let leader = c.start_all();
    let mut raw = session(&c, leader);
    as_super(&mut raw);
    let (before, _) = wait_config(&c, &mut raw, &[1, 2, 3]);
    c.kill9(c.others(leader)[0]);
    let absent = c.add_member(); // never started

    let asked = Instant::now();
    let (err, _) = reconfig(&mut raw, Some(c.server_spec(absent)), None, None, -1);
    let took = asked.elapsed();
    assert_eq!(err, ErrorCode::NewConfigNoQuorum, "{}", c.logs());
    assert!(
        took < Duration::from_secs(5),
        "answered after {took:?} (the reconfig timeout is 10 s)"
    );
    let (after, _) = get_config(&mut raw, false);
    assert_eq!(after, before, "nothing changed");

    let joiner = c.add_member();
    start_joining(&mut c, joiner);
    let (err, body) = reconfig_answered(&c, leader, Some(c.server_spec(joiner)), None, None, -1);
    assert_eq!(err, ErrorCode::Ok, "{}", c.logs());
    let survivors: Vec<u64> = server_ids(&config_of(body));
    assert_eq!(survivors, vec![1, 2, 3, joiner]);
}

/// A reconfig through member `through` as the superuser, with a stale version: BadVersion
/// if it passed the reconfigEnabled check (which comes first), else ReconfigDisabled.
fn stale_reconfig(c: &Cluster, through: u64) -> ErrorCode {
    let mut raw = session(c, through);
    as_super(&mut raw);
    let (text, _) = wait_config(c, &mut raw, &[1, 2, 3]);
    reconfig(&mut raw, None, Some("2"), None, version_of(&text) + 1).0
}

/// Restarts member `id` with `flags` as its own and waits until it follows again.
fn restart_with(c: &mut Cluster, id: u64, flags: &[&str]) {
    c.kill9(id);
    c.set_member_flags(id, flags);
    c.start_member(id);
    wait_mode(c, id, Some("follower"));
}

/// reconfigEnabled is the leader's, as in ZooKeeper (its PrepRequestProcessor runs on the
/// leader; measured with Debian's 3.8.0: a follower without it forwards the request and the
/// change is made, one with it behind a leader without it answers ReconfigDisabled). Here a
/// follower with it, behind a leader without it, is refused; then the followers have it and
/// the leader, killed and back without it, forwards the request it would have refused
/// itself.
#[test]
fn reconfig_enabled_is_the_leaders_setting() {
    let mut c = Cluster::new(3, &["--super-digest", SUPER_DIGEST]);
    let leader = c.start_all();
    let (f, g) = (c.others(leader)[0], c.others(leader)[1]);
    restart_with(&mut c, f, &["--reconfig-enabled"]);
    assert_eq!(
        c.wait_leader(),
        leader,
        "a follower's restart moved leadership"
    );
    assert_eq!(
        stale_reconfig(&c, f),
        ErrorCode::ReconfigDisabled,
        "through {f} (enabled), leader {leader} (not)\n{}",
        c.logs()
    );

    restart_with(&mut c, g, &["--reconfig-enabled"]);
    c.kill9(leader);
    let next = c.wait_leader();
    assert!(next == f || next == g, "{next}");
    c.start_member(leader);
    wait_mode(&c, leader, Some("follower"));
    assert_eq!(c.wait_leader(), next);
    assert_eq!(
        stale_reconfig(&c, leader),
        ErrorCode::BadVersion,
        "through {leader} (not enabled), leader {next} (enabled)\n{}",
        c.logs()
    );
}

const ZKCLI: &str = "/usr/share/zookeeper/bin/zkCli.sh";

/// Debian's zkCli.sh against zk-node: `config` shows the members, `reconfig -add` lets a
/// waiting node in and `reconfig -remove` takes it out again, each printing the new config.
#[test]
fn zkcli_sh_config_and_reconfig() {
    if !std::path::Path::new(ZKCLI).exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{ZKCLI} missing on CI: apt-get install zookeeper"
        );
        eprintln!("skipping: {ZKCLI} not installed");
        return;
    }
    let mut c = Cluster::new(3, &enabled());
    c.start_all();
    let mut raw = session(&c, 1);
    wait_config(&c, &mut raw, &[1, 2, 3]);
    let four = c.add_member();
    start_joining(&mut c, four);
    let spec = c.server_spec(four);
    let script = format!(
        "addauth digest super:test\nconfig\nreconfig -add {spec}\nconfig\nreconfig -remove {four}\nconfig\nquit\n"
    );
    let mut child = std::process::Command::new("timeout")
        .args(["90", ZKCLI, "-server", &c.members[0].client.to_string()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run zkCli.sh");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(script.as_bytes()).expect("script");
    }
    let out = child.wait_with_output().expect("zkCli.sh output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let all = format!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        all.matches("Committed new configuration").count(),
        2,
        "{all}\n{}",
        c.logs()
    );
    let line4 = format!("server.{four}=");
    assert!(
        stdout.contains(&spec[..]),
        "config shows the new member: {all}"
    );
    assert!(stdout.contains("server.1=127.0.0.1:"), "{all}");
    assert!(!all.contains("Exception"), "{all}");
    let (text, _) = wait_config(&c, &mut raw, &[1, 2, 3]);
    assert!(!text.contains(&line4), "{text}");
}

/// kill -9 of the leader while it carries out a reconfig (3 → 5): whatever point the change
/// had reached, the survivors elect a leader that brings `/zookeeper/config` in line with the
/// membership (finishing a change left joint), the ensemble serves, and a reconfig to five
/// then succeeds (or finds it done).
#[test]
fn leader_killed_in_the_middle_of_a_reconfig() {
    let mut c = Cluster::new(3, &enabled());
    let leader = c.start_all();
    let (four, five) = (c.add_member(), c.add_member());
    start_joining(&mut c, four);
    start_joining(&mut c, five);
    let mut raw = session(&c, leader);
    as_super(&mut raw);
    assert_eq!(raw.call(&create("/before", 0)).0.err, 0);
    let joining = format!("{},{}", c.server_spec(four), c.server_spec(five));
    raw.send(&Request::Reconfig(ReconfigRequest {
        joining_servers: Some(joining.clone()),
        leaving_servers: None,
        new_members: None,
        cur_config_id: -1,
    }));
    c.kill9(leader);

    let survivor = (1..=3).find(|&i| i != leader).expect("a survivor");
    let mut raw = session(&c, survivor);
    as_super(&mut raw);
    let deadline = Instant::now() + CLUSTER_DEADLINE;
    let grown = loop {
        let (err, body) = reconfig(&mut raw, Some(joining.clone()), None, None, -1);
        if err == ErrorCode::Ok {
            break config_of(body);
        }
        // A change still under way (being finished) or no leader yet: ask again.
        assert!(
            matches!(
                err,
                ErrorCode::ReconfigInProgress
                    | ErrorCode::NewConfigNoQuorum
                    | ErrorCode::ConnectionLoss
            ) && Instant::now() < deadline,
            "{err:?}\n{}",
            c.logs()
        );
        std::thread::sleep(Duration::from_millis(200)); // retry interval of a client
    };
    assert_eq!(server_ids(&grown), vec![1, 2, 3, 4, 5], "{grown}");
    c.start_member(leader);
    c.wait_leader();
    let mut reader = session(&c, four);
    assert_eq!(reader.call(&sync("/")).0.err, 0);
    assert!(children(&mut reader, "/").contains("before"));
    let (text, _) = wait_config(&c, &mut reader, &[1, 2, 3, 4, 5]);
    assert_eq!(text, grown, "every member shows the same config");
}

/// Recovery from a lost quorum (issue 20 item 4): two of three members are lost for good;
/// the survivor refuses `--force-recovery` without `--accept-data-loss`, then with it
/// restarts as the only voter of a new ensemble from its own data (every write it had is
/// there, new writes commit, `/zookeeper/config` lists it alone), stays so across a restart
/// with and without the flag, refuses a lost member that comes back with its old data (a
/// new ensemble id: the old members cannot make it step down or rejoin it), and grows back
/// to three by reconfig with two new members that then serve every write.
#[test]
fn force_recovery_after_losing_the_quorum() {
    let mut c = Cluster::new(3, &enabled());
    let leader = c.start_all();
    let mut raw = session(&c, leader);
    for i in 0..20 {
        assert_eq!(raw.call(&create(&format!("/before-{i}"), 0)).0.err, 0);
    }
    // The survivor must hold every acknowledged write for this test's count to hold: a
    // sync through it waits until it has applied the leader's log as of the sync.
    let survivor = (1..=3).find(|&i| i != leader).expect("a follower");
    let mut through = session(&c, survivor);
    assert_eq!(through.call(&sync("/")).0.err, 0);
    assert_eq!(
        children(&mut through, "/")
            .iter()
            .filter(|n| n.starts_with("before-"))
            .count(),
        20
    );
    drop(through);
    drop(raw);
    for id in 1..=3 {
        c.kill9(id);
    }
    let others: Vec<u64> = c.others(survivor);
    let (wiped, stale) = (others[0], others[1]);
    c.wipe(wiped);

    // Refused without the confirmation: the process exits, saying what it would cost.
    c.set_member_flags(survivor, &["--force-recovery"]);
    c.start_member(survivor);
    let status = c.wait_exit(survivor);
    assert!(!status.success(), "started without --accept-data-loss");
    assert!(
        c.log_of(survivor).contains("--accept-data-loss"),
        "{}",
        c.log_of(survivor)
    );

    c.set_member_flags(survivor, &["--force-recovery", "--accept-data-loss"]);
    c.start_member(survivor);
    assert_eq!(c.wait_leader(), survivor);
    let mut raw = session(&c, survivor);
    wait_config(&c, &mut raw, &[survivor]);
    let kept = children(&mut raw, "/");
    assert_eq!(
        kept.iter().filter(|n| n.starts_with("before-")).count(),
        20,
        "{kept:?}"
    );
    assert_eq!(raw.call(&create("/after-recovery", 0)).0.err, 0);
    drop(raw);

    // A restart that still carries the flag changes nothing; one without it neither.
    for flags in [&["--force-recovery", "--accept-data-loss"][..], &[]] {
        c.kill9(survivor);
        c.set_member_flags(survivor, flags);
        c.start_member(survivor);
        assert_eq!(c.wait_leader(), survivor);
        let mut raw = session(&c, survivor);
        let (text, _) = wait_config(&c, &mut raw, &[survivor]);
        assert!(children(&mut raw, "/").contains("after-recovery"), "{text}");
    }

    // A lost member back with its old data belongs to the old ensemble: refused.
    c.start_member(stale);
    wait_log(
        &c,
        survivor,
        &format!("node {stale} belongs to another ensemble"),
    );
    let mut raw = session(&c, survivor);
    assert_eq!(raw.call(&create("/despite-the-stale-member", 0)).0.err, 0);
    assert_eq!(c.mode(survivor).as_deref(), Some("leader"));
    c.kill9(stale);

    // Grow back to three with two new members (the lost ones' hosts, wiped, as new ids).
    let a = c.add_member();
    let b = c.add_member();
    start_joining(&mut c, a);
    start_joining(&mut c, b);
    as_super(&mut raw);
    let (err, body) = reconfig(
        &mut raw,
        Some(format!("{},{}", c.server_spec(a), c.server_spec(b))),
        None,
        None,
        -1,
    );
    assert_eq!(err, ErrorCode::Ok, "{}", c.logs());
    let text = config_of(body);
    assert_eq!(server_ids(&text), vec![survivor, a, b], "{text}");
    let mut reader = session(&c, b);
    assert_eq!(reader.call(&sync("/")).0.err, 0);
    let seen = children(&mut reader, "/");
    for name in ["after-recovery", "despite-the-stale-member", "before-19"] {
        assert!(seen.contains(name), "{name} through member {b}: {seen:?}");
    }
}

/// With sslQuorum, a member added by reconfig is admitted on the others' peer ports without a
/// restart: certificates are checked against the replicated membership, which names it once
/// the change reaches them. Its own RPCs prove it: a write through it is forwarded to the
/// leader (refused there if the leader did not know its certificate's member), before and
/// after a leader kill; a joining node's probe is answered with only a CA's certificate.
#[test]
fn ssl_quorum_members_admit_a_member_added_by_reconfig() {
    let certs = tempfile::tempdir().expect("tempdir");
    let pki = zk_testkit::tls::Pki::new("cluster");
    let ca = pki.write_ca(certs.path());
    let mut c = Cluster::new(3, &enabled());
    let with_cert = |c: &mut Cluster, id: u64| {
        let key_store = pki.write_member(certs.path(), id, &["127.0.0.1"], Some(id));
        set_flags(c, id, &tls_flags(&key_store, &ca));
    };
    for id in 1..=3 {
        with_cert(&mut c, id);
        c.start_member(id);
    }
    let leader = c.wait_leader();
    let new = c.add_member();
    with_cert(&mut c, new);
    start_joining(&mut c, new);
    let mut raw = session(&c, leader);
    as_super(&mut raw);
    let (err, body) = reconfig(&mut raw, Some(c.server_spec(new)), None, None, -1);
    assert_eq!(err, ErrorCode::Ok, "{}", c.logs());
    let text = config_of(body);
    assert_eq!(server_ids(&text), vec![1, 2, 3, new], "{text}");

    let mut through_new = session(&c, new);
    assert_eq!(
        through_new.call(&create("/through-new", 0)).0.err,
        0,
        "{}",
        c.logs()
    );
    drop(through_new);
    c.kill9(leader);
    c.wait_leader();
    let mut through_new = session(&c, new);
    assert_eq!(
        through_new.call(&create("/through-new-again", 0)).0.err,
        0,
        "{}",
        c.logs()
    );
    let seen = children(&mut through_new, "/");
    assert!(
        seen.contains("through-new") && seen.contains("through-new-again"),
        "{seen:?}"
    );
}
