//! The S-line tests, written once against [`Servers`] and run unchanged against zk-node and
//! Apache ZooKeeper 3.8. Each case names the lines it checks.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use tokio::task::block_in_place;
use zk_client::{
    AddWatchMode, CloseReason, ConnectOptions, CreateMode, CreateOptions, Error, EventType,
    KeeperState, Multi, MultiRead, OpResult, ReadResult, State, WatchedEvent, WatcherType,
};

use super::{connected, join_in_order, unique, wait_event, wait_state, BoxFut, Servers, DEADLINE};
use zk_testkit::proxy::LinkProxy;

/// One case of the suite.
pub type Case = for<'a> fn(&'a mut dyn Servers) -> Pin<Box<dyn Future<Output = ()> + 'a>>;

/// Every case, by name.
pub fn cases() -> Vec<(&'static str, Case)> {
    vec![
        ("s1_s4_states_and_negotiated_timeout", |s| {
            Box::pin(s1_s4_states_and_negotiated_timeout(s))
        }),
        ("s2_4_malformed_connect_string_refused", |s| {
            Box::pin(s2_4_malformed_connect_string_refused(s))
        }),
        ("r_protocol_edges_answered_as_zookeeper_does", |s| {
            Box::pin(super::edges::r_protocol_edges_answered_as_zookeeper_does(s))
        }),
        ("s2_3_chroot_in_and_out", |s| {
            Box::pin(s2_3_chroot_in_and_out(s))
        }),
        ("s2_2_s3_3_s6_1_failover_keeps_the_session", |s| {
            Box::pin(s2_2_s3_3_s6_1_failover_keeps_the_session(s))
        }),
        ("s3_4_behind_server_is_skipped", |s| {
            Box::pin(s3_4_behind_server_is_skipped(s))
        }),
        ("s5_1_s5_2_idle_session_kept_alive_by_pings", |s| {
            Box::pin(s5_1_s5_2_idle_session_kept_alive_by_pings(s))
        }),
        ("s5_3_silent_server_dropped_and_next_tried", |s| {
            Box::pin(s5_3_silent_server_dropped_and_next_tried(s))
        }),
        ("s6_2_s6_3_s6_4_expiry_learned_only_on_reconnect", |s| {
            Box::pin(s6_2_s6_3_s6_4_expiry_learned_only_on_reconnect(s))
        }),
        ("s8_1_s6_5_pending_ops_get_connection_loss", |s| {
            Box::pin(s8_1_s6_5_pending_ops_get_connection_loss(s))
        }),
        ("s7_1_s7_2_default_watcher_in_order_slow_consumer", |s| {
            Box::pin(s7_1_s7_2_default_watcher_in_order_slow_consumer(s))
        }),
        ("s1_4_s6_3_close_is_final_and_ephemerals_go", |s| {
            Box::pin(s1_4_s6_3_close_is_final_and_ephemerals_go(s))
        }),
        ("pipelined_requests_keep_order", |s| {
            Box::pin(pipelined_requests_keep_order(s))
        }),
        ("pipelined_reads_see_exactly_the_writes_before_them", |s| {
            Box::pin(pipelined_reads_see_exactly_the_writes_before_them(s))
        }),
        ("api_every_call", |s| Box::pin(api_every_call(s))),
        ("watches_every_kind", |s| Box::pin(watches_every_kind(s))),
        ("r8_s1_4_auth_failed_closes", |s| {
            Box::pin(r8_s1_4_auth_failed_closes(s))
        }),
    ]
}

fn opts(s: &dyn Servers) -> ConnectOptions {
    ConnectOptions::new().session_timeout(s.test_timeout())
}

/// S1.1, S1.2, S1.3, S4.1, S4.2 (R1): a handle starts CONNECTING, becomes CONNECTED with
/// SyncConnected first; the negotiated timeout is the request clamped to [2, 20] ticks and is
/// the one the client reports and uses.
pub async fn s1_s4_states_and_negotiated_timeout(s: &mut dyn Servers) {
    let cs = s.connect_string();
    let (c, _ev) = zk_client::connect(&cs, opts(s)).expect("connect");
    assert_eq!(c.state(), State::Connecting, "S1.2 starts CONNECTING");
    c.wait_connected(DEADLINE).await.expect("S1.2 CONNECTED");
    assert_eq!(c.state(), State::Connected);
    assert_ne!(c.session().id, 0, "S3.1 a session id");
    assert_eq!(c.session().password.len(), 16, "S3.1 a 16-byte password");
    assert_eq!(c.session().timeout, s.test_timeout());
    for (asked, want) in [
        (s.min_timeout() / 2, s.min_timeout()),
        (s.min_timeout() - Duration::from_millis(1), s.min_timeout()),
        (s.max_timeout() * 3, s.max_timeout()),
    ] {
        let (c, _ev) = connected(&cs, ConnectOptions::new().session_timeout(asked)).await;
        assert_eq!(c.session().timeout, want, "S4.2 {asked:?} -> {want:?}");
        c.close().await.expect("close");
    }
    c.close().await.expect("close");
}

/// S2.4: malformed connect strings are refused when the handle is created, naming the problem.
pub async fn s2_4_malformed_connect_string_refused(s: &mut dyn Servers) {
    let good = s.addrs()[0].clone();
    for (bad, why) in [
        (String::new(), "empty host list"),
        (format!("{good},"), "empty entry"),
        ("127.0.0.1:70000".to_string(), "bad port"),
        (format!("{good}/app/"), "chroot"),
        (format!("{good}/app/../x"), "chroot"),
    ] {
        match zk_client::connect(&bad, ConnectOptions::new()) {
            Err(e @ Error::InvalidConnectString(_)) => {
                assert!(e.to_string().contains(why), "{bad:?}: {e}")
            }
            Err(e) => panic!("{bad:?}: wrong error {e}"),
            Ok(_) => panic!("{bad:?} accepted"),
        }
    }
}

/// S2.3: every path in is under the chroot, every path out has it stripped (created names,
/// sequential names, multi results, ephemerals, watch events); the chroot need not exist.
pub async fn s2_3_chroot_in_and_out(s: &mut dyn Servers) {
    let root = unique("chroot");
    let (plain, _) = connected(&s.connect_string(), opts(s)).await;
    plain
        .create(&root, b"", &CreateOptions::persistent())
        .await
        .expect("create root");
    let cs = format!("{}{root}", s.connect_string());
    let (c, mut ev) = connected(&cs, opts(s)).await;
    assert_eq!(c.chroot(), Some(root.as_str()));

    let (p, _) = c
        .create("/a", b"1", &CreateOptions::persistent())
        .await
        .expect("create");
    assert_eq!(p, "/a");
    let (p, _) = c
        .create(
            "/s-",
            b"",
            &CreateOptions::new(CreateMode::PersistentSequential),
        )
        .await
        .expect("sequential");
    assert_eq!(
        p, "/s-0000000001",
        "R6 suffix counts children ever created; chroot stripped"
    );
    plain.sync("/").await.expect("sync");
    assert!(plain
        .exists(&format!("{root}/a"))
        .await
        .expect("exists")
        .is_some());
    let mut kids = c.get_children("/").await.expect("children");
    kids.sort();
    assert_eq!(kids, vec!["a".to_string(), "s-0000000001".to_string()]);

    let (_, _, mut w) = c.get_data_watch("/a").await.expect("watch");
    plain
        .set_data(&format!("{root}/a"), b"2", None)
        .await
        .expect("set");
    let e = w.recv_timeout(DEADLINE).await.expect("data event");
    assert_eq!(e, WatchedEvent::node(EventType::NodeDataChanged, "/a"));

    assert_eq!(c.exists_watch_default("/new").await.expect("exists"), None);
    plain
        .create(&format!("{root}/new"), b"", &CreateOptions::persistent())
        .await
        .expect("create");
    let (e, _) = wait_event(&mut ev, "NodeCreated /new", |e| e.path.is_some()).await;
    assert_eq!(e, WatchedEvent::node(EventType::NodeCreated, "/new"));

    let r = c
        .multi(
            Multi::new()
                .create("/m", b"", &CreateOptions::persistent())
                .check("/a", 1),
        )
        .await
        .expect("multi");
    assert!(
        matches!(&r[0], OpResult::Create { path, .. } if path == "/m"),
        "{r:?}"
    );
    c.create("/e", b"", &CreateOptions::ephemeral())
        .await
        .expect("ephemeral");
    assert_eq!(
        c.get_ephemerals("/").await.expect("ephemerals"),
        vec!["/e".to_string()]
    );

    let missing = format!("{}{}", s.connect_string(), unique("absent"));
    let (m, _) = connected(&missing, opts(s)).await;
    assert_eq!(
        m.exists("/").await.expect("exists"),
        None,
        "S2.3 chroot need not exist"
    );
    m.close().await.expect("close");
    c.close().await.expect("close");
    plain.close().await.expect("close");
}

/// S2.1, S2.2, S3.2, S3.3, S6.1, S6.5: with a several-server connect string, kill -9 of the
/// connected server: Disconnected, then CONNECTED on another server by itself with the same
/// session (that server verified the id/password pair it never issued): ephemerals and
/// watches kept.
pub async fn s2_2_s3_3_s6_1_failover_keeps_the_session(s: &mut dyn Servers) {
    let f = s.follower();
    let mut addrs = s.addrs();
    addrs.swap(0, f);
    let cs = addrs.join(",");
    let (c, mut ev) = connected(&cs, opts(s).in_order()).await;
    // The other client must not be on the member that is killed.
    let (other, _) = connected(&s.addrs()[s.leader()], opts(s)).await;
    let id = c.session().id;
    let e = unique("failover");
    c.create(&e, b"x", &CreateOptions::ephemeral())
        .await
        .expect("ephemeral");
    let (_, _, mut w) = c.get_data_watch(&e).await.expect("watch");

    block_in_place(|| s.kill(f));
    let (d, _) = wait_event(&mut ev, "Disconnected", |e| {
        e.state == KeeperState::Disconnected
    })
    .await;
    assert_eq!(d, WatchedEvent::state(KeeperState::Disconnected), "S6.1");
    let (r, _) = wait_event(&mut ev, "SyncConnected", |e| {
        e.state == KeeperState::SyncConnected
    })
    .await;
    assert_eq!(r.event_type, EventType::None);
    assert_eq!(c.state(), State::Connected);
    assert_eq!(c.session().id, id, "S3.3 the same session");
    let stat = c
        .exists(&e)
        .await
        .expect("exists")
        .expect("S6.5 ephemeral kept");
    assert_eq!(stat.ephemeral_owner, id);
    other.set_data(&e, b"y", None).await.expect("set");
    let got = w
        .recv_timeout(DEADLINE)
        .await
        .expect("S3.3 watch re-registered");
    assert_eq!(
        got,
        WatchedEvent::node(EventType::NodeDataChanged, e.clone())
    );
    block_in_place(|| s.restart(f));
    c.close().await.expect("close");
    other.close().await.expect("close");
}

/// S3.4, S2.2: a server behind the client's lastZxidSeen (a fresh zk-node, zxid 0x2) closes
/// the handshake; the client skips it, keeps going round, and resumes its session on an
/// up-to-date server. Had the behind server served it, it would have answered "expired"
/// (it does not know the session) and the handle would be CLOSED.
pub async fn s3_4_behind_server_is_skipped(s: &mut dyn Servers) {
    let behind = block_in_place(super::zk_node::ZkNodes::single);
    let proxy = proxy_to(&s.addrs()[0]);
    let cs = format!("{},{}", proxy.addr, behind.addrs()[0]);
    let (c, mut ev) = connected(&cs, opts(s).in_order()).await;
    let id = c.session().id;
    let n = unique("behind");
    c.create(&n, b"", &CreateOptions::persistent())
        .await
        .expect("create");
    for i in 0..50 {
        c.set_data(&n, format!("{i}").as_bytes(), None)
            .await
            .expect("write");
    }
    proxy.refuse();
    wait_event(&mut ev, "Disconnected", |e| {
        e.state == KeeperState::Disconnected
    })
    .await;
    // Long enough for several rounds over both servers (back-off 100 ms doubling).
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        c.state(),
        State::Connecting,
        "S3.4 the behind server did not take the client"
    );
    proxy.heal();
    let (e, skipped) = wait_event(&mut ev, "SyncConnected", |e| {
        e.state == KeeperState::SyncConnected
    })
    .await;
    assert_eq!(e, WatchedEvent::state(KeeperState::SyncConnected));
    assert!(skipped.is_empty(), "nothing between: {skipped:?}");
    assert_eq!(c.session().id, id);
    let (d, _) = c.get_data(&n).await.expect("read");
    assert_eq!(d, b"49", "S3.4 no state going backwards");
    c.close().await.expect("close");
}

/// S5.1, S5.2: an idle client's pings keep its session alive well past the timeout: no
/// disconnect, the same session, its ephemeral still there.
pub async fn s5_1_s5_2_idle_session_kept_alive_by_pings(s: &mut dyn Servers) {
    let t = s.test_timeout();
    let (c, mut ev) = connected(&s.connect_string(), opts(s)).await;
    let (other, _) = connected(&s.connect_string(), opts(s)).await;
    let e = unique("idle");
    c.create(&e, b"", &CreateOptions::ephemeral())
        .await
        .expect("ephemeral");
    let idle = (t * 3 / 2).max(Duration::from_secs(3));
    let heard = ev.recv_timeout(idle).await;
    assert_eq!(heard, None, "S5.2 no event while idle for {idle:?}");
    assert_eq!(c.state(), State::Connected);
    other.sync(&e).await.expect("sync");
    let stat = other
        .exists(&e)
        .await
        .expect("exists")
        .expect("S5.1 session alive");
    assert_eq!(stat.ephemeral_owner, c.session().id);
    c.close().await.expect("close");
    other.close().await.expect("close");
}

/// S5.3: a server that goes silent (connection open, nothing answered) is dropped once
/// nothing was heard for 2/3 of the timeout, the next server is tried, the session survives.
pub async fn s5_3_silent_server_dropped_and_next_tried(s: &mut dyn Servers) {
    let t = s.test_timeout();
    let addrs = s.addrs();
    let proxy = proxy_to(&addrs[0]);
    let cs = format!("{},{}", proxy.addr, addrs[addrs.len() - 1]);
    let (c, mut ev) = connected(&cs, opts(s).in_order()).await;
    let id = c.session().id;
    let e = unique("silent");
    c.create(&e, b"", &CreateOptions::ephemeral())
        .await
        .expect("ephemeral");
    let silent_at = Instant::now();
    proxy.cut();
    let (d, _) = wait_event(&mut ev, "Disconnected", |e| {
        e.state == KeeperState::Disconnected
    })
    .await;
    let after = silent_at.elapsed();
    assert_eq!(d, WatchedEvent::state(KeeperState::Disconnected));
    // Last heard at most a third before the silence (the ping interval), so the drop comes
    // between 1/3 and 2/3 of the timeout after it, plus scheduling slack.
    assert!(
        after >= t / 3 && after <= t * 2 / 3 + Duration::from_millis(500),
        "S5.3 dropped {after:?} after the silence began (timeout {t:?})"
    );
    wait_event(&mut ev, "SyncConnected", |e| {
        e.state == KeeperState::SyncConnected
    })
    .await;
    assert_eq!(
        c.session().id,
        id,
        "S5.3 session resumed on the next server"
    );
    assert!(c.exists(&e).await.expect("exists").is_some());
    c.close().await.expect("close");
}

/// S6.2, S6.3, S6.4, S8.1, S8.2, S1.4: a client cut off from every server stays CONNECTING
/// and is not told anything while the ensemble expires its session (its ephemeral deleted,
/// watchers of it and of its parent notified); it learns of the expiry only when it reaches
/// a server again: Expired, CLOSED, every call SessionExpired at once.
pub async fn s6_2_s6_3_s6_4_expiry_learned_only_on_reconnect(s: &mut dyn Servers) {
    let addrs = s.addrs();
    let proxy = proxy_to(&addrs[addrs.len() - 1]);
    let (a, mut ev) = connected(&proxy.addr.to_string(), opts(s)).await;
    let (b, _) = connected(&s.connect_string(), opts(s)).await;
    let parent = unique("expiry");
    b.create(&parent, b"", &CreateOptions::persistent())
        .await
        .expect("parent");
    let e = format!("{parent}/eph");
    a.create(&e, b"", &CreateOptions::ephemeral())
        .await
        .expect("ephemeral");
    b.sync(&e).await.expect("sync");
    let (_, mut node_w) = b.exists_watch(&e).await.expect("watch");
    let (_, mut kids_w) = b.get_children_watch(&parent).await.expect("child watch");

    proxy.refuse();
    let cut = Instant::now();
    wait_event(&mut ev, "Disconnected", |e| {
        e.state == KeeperState::Disconnected
    })
    .await;
    assert_eq!(a.state(), State::Connecting, "S6.1");
    let t0 = Instant::now();
    assert_eq!(
        a.get_data(&e).await,
        Err(Error::ConnectionLoss),
        "S8.1 not connected"
    );
    assert!(
        t0.elapsed() < Duration::from_millis(500),
        "S8.1 fails at once"
    );

    let deleted = node_w
        .recv_timeout(DEADLINE)
        .await
        .expect("S6.3 NodeDeleted");
    assert_eq!(
        deleted,
        WatchedEvent::node(EventType::NodeDeleted, e.clone())
    );
    let kids = kids_w
        .recv_timeout(DEADLINE)
        .await
        .expect("S6.3 parent's child watch");
    assert_eq!(
        kids,
        WatchedEvent::node(EventType::NodeChildrenChanged, parent.clone())
    );
    let expired_after = cut.elapsed();
    assert!(
        expired_after >= s.test_timeout() / 2,
        "S6.2 expired only {expired_after:?} after the cut"
    );
    // S6.4: still CONNECTING, nothing but Disconnected told.
    assert_eq!(a.state(), State::Connecting, "S6.4");
    assert_eq!(
        ev.try_recv(),
        None,
        "S6.4 no event before reaching a server"
    );

    proxy.heal();
    let (x, _) = wait_event(&mut ev, "Expired", |e| e.state == KeeperState::Expired).await;
    assert_eq!(x, WatchedEvent::state(KeeperState::Expired));
    wait_state(&a, State::Closed(CloseReason::SessionExpired)).await;
    let t0 = Instant::now();
    assert_eq!(
        a.get_data(&parent).await,
        Err(Error::SessionExpired),
        "S8.2"
    );
    assert_eq!(
        a.create("/x", b"", &CreateOptions::persistent()).await,
        Err(Error::SessionExpired),
        "S1.4"
    );
    assert!(t0.elapsed() < Duration::from_millis(100), "S1.4 at once");
    b.close().await.expect("close");
}

/// S8.1, S6.5: requests pending when the connection drops fail with ConnectionLoss (saying a
/// write may or may not have been applied); after a short cut the session comes back intact.
pub async fn s8_1_s6_5_pending_ops_get_connection_loss(s: &mut dyn Servers) {
    let proxy = proxy_to(&s.addrs()[0]);
    let (c, mut ev) = connected(&proxy.addr.to_string(), opts(s)).await;
    let id = c.session().id;
    let n = unique("pending");
    c.create(&n, b"0", &CreateOptions::persistent())
        .await
        .expect("create");
    let e = unique("pending-eph");
    c.create(&e, b"", &CreateOptions::ephemeral())
        .await
        .expect("ephemeral");
    proxy.cut();
    let mut futs: Vec<BoxFut<'_, zk_client::Result<()>>> = Vec::new();
    for i in 0..10 {
        let c = &c;
        let n = &n;
        futs.push(Box::pin(async move {
            c.set_data(n, format!("{i}").as_bytes(), None)
                .await
                .map(|_| ())
        }));
        futs.push(Box::pin(async move { c.get_data(n).await.map(|_| ()) }));
    }
    let cut = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        proxy.refuse();
    };
    let (results, ()) = tokio::join!(join_in_order(futs), cut);
    assert_eq!(results.len(), 20);
    for r in &results {
        assert_eq!(*r, Err(Error::ConnectionLoss), "S8.1");
    }
    let msg = Error::ConnectionLoss.to_string();
    assert!(msg.contains("may or may not have been applied"), "{msg}");
    wait_event(&mut ev, "Disconnected", |e| {
        e.state == KeeperState::Disconnected
    })
    .await;
    proxy.heal();
    wait_event(&mut ev, "SyncConnected", |e| {
        e.state == KeeperState::SyncConnected
    })
    .await;
    assert_eq!(c.session().id, id, "S6.5 same session");
    let (d, _) = c.get_data(&n).await.expect("read");
    assert_eq!(d, b"0", "silenced writes never reached the server");
    assert!(
        c.exists(&e).await.expect("exists").is_some(),
        "S6.5 nothing lost"
    );
    c.close().await.expect("close");
}

/// S7.1, S7.2: node events of default watches reach the default watcher in the order they
/// happened; a consumer that reads nothing does not stall the connection.
pub async fn s7_1_s7_2_default_watcher_in_order_slow_consumer(s: &mut dyn Servers) {
    let (a, mut ev) = connected(&s.connect_string(), opts(s)).await;
    let (b, _) = connected(&s.connect_string(), opts(s)).await;
    let base = unique("order");
    b.create(&base, b"", &CreateOptions::persistent())
        .await
        .expect("base");
    let paths: Vec<String> = (0..40).map(|i| format!("{base}/n{i:02}")).collect();
    for p in &paths {
        b.create(p, b"", &CreateOptions::persistent())
            .await
            .expect("create");
    }
    // a may be on another server than b: catch it up first.
    a.sync(&base).await.expect("sync");
    for p in &paths {
        a.get_data_watch_default(p).await.expect("watch");
    }
    let missing = format!("{base}/later");
    assert_eq!(
        a.exists_watch_default(&missing).await.expect("exists"),
        None
    );
    // Changed in reverse order; the events must come in that order.
    for p in paths.iter().rev() {
        b.set_data(p, b"x", None).await.expect("set");
    }
    b.create(&missing, b"", &CreateOptions::persistent())
        .await
        .expect("create");
    // Nobody reads `ev` yet: the connection must go on serving.
    type Read = zk_client::Result<(Vec<u8>, zk_client::Stat)>;
    let mut futs: Vec<BoxFut<'_, Read>> = Vec::new();
    for p in &paths {
        futs.push(Box::pin(a.get_data(p)));
    }
    let got = tokio::time::timeout(DEADLINE, join_in_order(futs))
        .await
        .expect("S7.2 not stalled");
    assert!(got.iter().all(|r| matches!(r, Ok((d, _)) if d == b"x")));
    let mut events = Vec::new();
    while events.len() < paths.len() + 1 {
        let e = ev.recv_timeout(DEADLINE).await.expect("S7.1 node events");
        events.push(e);
    }
    let mut want: Vec<WatchedEvent> = paths
        .iter()
        .rev()
        .map(|p| WatchedEvent::node(EventType::NodeDataChanged, p.clone()))
        .collect();
    want.push(WatchedEvent::node(EventType::NodeCreated, missing.clone()));
    assert_eq!(events, want, "S7.2 in order");
    a.close().await.expect("close");
    let closed = ev.recv_timeout(DEADLINE).await;
    assert_eq!(
        closed,
        Some(WatchedEvent::state(KeeperState::Closed)),
        "S7.1 Closed"
    );
    b.close().await.expect("close");
}

/// S1.4, S6.3: close: the Closed event, CLOSED for good (calls fail at once), and the
/// session's ephemerals deleted with their watchers told at once.
pub async fn s1_4_s6_3_close_is_final_and_ephemerals_go(s: &mut dyn Servers) {
    let (a, mut ev) = connected(&s.connect_string(), opts(s)).await;
    let (b, _) = connected(&s.connect_string(), opts(s)).await;
    let e = unique("close");
    a.create(&e, b"", &CreateOptions::ephemeral())
        .await
        .expect("ephemeral");
    b.sync(&e).await.expect("sync");
    let (st, mut w) = b.exists_watch(&e).await.expect("watch");
    assert!(st.is_some());
    let t0 = Instant::now();
    a.close().await.expect("close");
    assert_eq!(a.state(), State::Closed(CloseReason::Closed));
    let (closed, _) = wait_event(&mut ev, "Closed", |e| e.state == KeeperState::Closed).await;
    assert_eq!(closed, WatchedEvent::state(KeeperState::Closed));
    let deleted = w.recv_timeout(DEADLINE).await.expect("S6.3 NodeDeleted");
    assert_eq!(
        deleted,
        WatchedEvent::node(EventType::NodeDeleted, e.clone())
    );
    assert!(
        t0.elapsed() < s.test_timeout(),
        "R4 deleted with the close, not by expiry"
    );
    let t0 = Instant::now();
    assert_eq!(a.exists(&e).await, Err(Error::Closed));
    assert_eq!(a.close().await, Ok(()));
    assert!(t0.elapsed() < Duration::from_millis(100), "S1.4 at once");
    b.close().await.expect("close");
}

/// Many requests in flight on one connection: replies come back in the order of the calls,
/// each write sees the version after the one before it, and each read is consistent (its
/// data is the write its version names) and not older than the write before it.
pub async fn pipelined_requests_keep_order(s: &mut dyn Servers) {
    pipelined(s, false).await;
}

/// ZooKeeper's FIFO client order, strictly: a pipelined read sees exactly the writes sent
/// before it, none sent after it.
pub async fn pipelined_reads_see_exactly_the_writes_before_them(s: &mut dyn Servers) {
    pipelined(s, true).await;
}

async fn pipelined(s: &mut dyn Servers, exact: bool) {
    let (c, _) = connected(&s.connect_string(), opts(s)).await;
    let n = unique("pipeline");
    c.create(&n, b"start", &CreateOptions::persistent())
        .await
        .expect("create");
    enum R {
        W(zk_client::Result<zk_client::Stat>),
        Rd(zk_client::Result<(Vec<u8>, zk_client::Stat)>),
    }
    let mut futs: Vec<BoxFut<'_, R>> = Vec::new();
    for i in 0..200 {
        let c = &c;
        let n = &n;
        futs.push(Box::pin(async move {
            R::W(c.set_data(n, format!("{i}").as_bytes(), None).await)
        }));
        futs.push(Box::pin(async move { R::Rd(c.get_data(n).await) }));
    }
    let results = join_in_order(futs).await;
    for (k, r) in results.into_iter().enumerate() {
        let i = k / 2;
        match r {
            R::W(Ok(stat)) => assert_eq!(stat.version, i as i32 + 1, "write {i}"),
            R::Rd(Ok((d, stat))) => {
                let v = stat.version;
                assert_eq!(
                    d,
                    format!("{}", v - 1).as_bytes(),
                    "read {i}: data of its version"
                );
                if exact {
                    assert_eq!(v, i as i32 + 1, "read after write {i} saw version {v}");
                } else {
                    assert!(v > i as i32, "read after write {i} saw older version {v}");
                }
            }
            R::W(Err(e)) | R::Rd(Err(e)) => panic!("op {k}: {e}"),
        }
    }
    c.close().await.expect("close");
}

/// Every call of the API against the real server.
pub async fn api_every_call(s: &mut dyn Servers) {
    let (c, _) = connected(&s.connect_string(), opts(s)).await;
    let base = unique("api");
    let (p, stat) = c
        .create(&base, b"root", &CreateOptions::persistent())
        .await
        .expect("create");
    assert_eq!((p.as_str(), stat.version), (base.as_str(), 0));
    assert_eq!(
        c.create(&base, b"", &CreateOptions::persistent()).await,
        Err(Error::NodeExists)
    );
    let (eph, st) = c
        .create(&format!("{base}/e"), b"", &CreateOptions::ephemeral())
        .await
        .expect("eph");
    assert_eq!(st.ephemeral_owner, c.session().id);
    let (seq, _) = c
        .create(
            &format!("{base}/q-"),
            b"",
            &CreateOptions::new(CreateMode::EphemeralSequential),
        )
        .await
        .expect("eseq");
    assert!(
        seq.starts_with(&format!("{base}/q-")) && seq.len() == base.len() + 3 + 10,
        "{seq}"
    );
    let (cont, _) = c
        .create(
            &format!("{base}/c"),
            b"",
            &CreateOptions::new(CreateMode::Container),
        )
        .await
        .expect("container");
    c.create(&format!("{cont}/x"), b"", &CreateOptions::persistent())
        .await
        .expect("child");
    assert!(matches!(
        c.create(
            &format!("{base}/t"),
            b"",
            &CreateOptions::new(CreateMode::PersistentWithTtl)
        )
        .await,
        Err(Error::BadArguments(_))
    ));
    assert_eq!(
        c.create(&format!("{eph}/x"), b"", &CreateOptions::persistent())
            .await,
        Err(Error::NoChildrenForEphemerals)
    );

    let (d, st) = c.get_data(&base).await.expect("get");
    assert_eq!(d, b"root");
    let st2 = c
        .set_data(&base, b"v2", Some(st.version))
        .await
        .expect("set");
    assert_eq!(st2.version, st.version + 1);
    assert_eq!(
        c.set_data(&base, b"v3", Some(st.version)).await,
        Err(Error::BadVersion)
    );
    assert_eq!(c.check(&base, st2.version).await, Ok(()));
    assert_eq!(c.check(&base, 99).await, Err(Error::BadVersion));
    assert_eq!(c.exists(&format!("{base}/none")).await, Ok(None));
    assert_eq!(
        c.get_data(&format!("{base}/none")).await,
        Err(Error::NoNode)
    );

    let mut kids = c.get_children(&base).await.expect("children");
    kids.sort();
    assert_eq!(kids.len(), 3, "{kids:?}");
    let (kids2, st) = c.get_children_with_stat(&base).await.expect("children2");
    assert_eq!((kids2.len() as i32, st.num_children), (3, 3));
    assert_eq!(c.get_all_children_number(&base).await, Ok(4));
    let mut ephs = c.get_ephemerals(&base).await.expect("ephemerals");
    ephs.sort();
    assert_eq!(ephs, vec![eph.clone(), seq.clone()]);

    let (acl, _) = c.get_acl(&base).await.expect("acl");
    assert_eq!(acl, zk_client::Acl::open_unsafe());
    let read_admin = vec![zk_client::Acl {
        perms: zk_client::perms::READ | zk_client::perms::ADMIN,
        id: zk_client::Id::anyone(),
    }];
    let st = c
        .set_acl(&base, &read_admin, Some(0))
        .await
        .expect("set acl");
    assert_eq!(st.aversion, 1);
    assert_eq!(c.set_data(&base, b"no", None).await, Err(Error::NoAuth));
    c.set_acl(&base, &zk_client::Acl::open_unsafe(), None)
        .await
        .expect("reset acl");

    let r = c
        .multi(
            Multi::new()
                .create(&format!("{base}/m1"), b"1", &CreateOptions::persistent())
                .set_data(&base, b"m", None)
                .check(&format!("{base}/m1"), 0)
                .delete(&format!("{base}/m1"), Some(0)),
        )
        .await
        .expect("multi");
    assert!(
        matches!(
            &r[..],
            [
                OpResult::Create { .. },
                OpResult::SetData { .. },
                OpResult::Check,
                OpResult::Delete
            ]
        ),
        "{r:?}"
    );
    let failed = c
        .multi(
            Multi::new()
                .create(&format!("{base}/m2"), b"", &CreateOptions::persistent())
                .delete(&format!("{base}/none"), None)
                .set_data(&base, b"never", None),
        )
        .await;
    match failed {
        Err(Error::MultiFailed {
            index,
            error,
            results,
        }) => {
            assert_eq!((index, *error), (1, Error::NoNode));
            assert_eq!(
                results,
                vec![
                    OpResult::RolledBack,
                    OpResult::Error(Error::NoNode),
                    OpResult::Error(Error::RuntimeInconsistency)
                ],
                "R7"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(c.exists(&format!("{base}/m2")).await, Ok(None));
    let reads = c
        .multi_read(
            MultiRead::new()
                .get_data(&base)
                .get_children(&cont)
                .get_data(&format!("{base}/none")),
        )
        .await
        .expect("multi_read");
    assert!(
        matches!(&reads[0], ReadResult::Data { data, .. } if data == b"m"),
        "{reads:?}"
    );
    assert_eq!(reads[1], ReadResult::Children(vec!["x".into()]));
    assert_eq!(reads[2], ReadResult::Error(Error::NoNode));

    c.sync(&base).await.expect("sync");
    c.add_auth("digest", b"user:secret").await.expect("auth");
    let who = c.whoami().await.expect("whoami");
    // The digest user alone, as ZooKeeper's DigestAuthenticationProvider.getUserName gives.
    assert!(
        who.iter()
            .any(|i| i.auth_scheme == "digest" && i.user == "user"),
        "{who:?}"
    );
    assert!(who.iter().any(|i| i.auth_scheme == "ip"), "{who:?}");
    c.delete(&format!("{cont}/x"), None).await.expect("delete");
    assert_eq!(c.delete(&base, None).await, Err(Error::NotEmpty));
    assert_eq!(
        c.delete(&format!("{base}/none"), None).await,
        Err(Error::NoNode)
    );
    assert!(matches!(
        c.get_data("no-slash").await,
        Err(Error::BadArguments(_))
    ));
    c.close().await.expect("close");
}

/// One-shot data/exist/child watches fire once, persistent ones every time, recursive ones
/// for the subtree; removeWatches removes them (server and client) with a removal event.
/// (The recursive watch is on its own connection: both servers let a connection's recursive
/// watch on a path replace its child watch there.)
pub async fn watches_every_kind(s: &mut dyn Servers) {
    let (c, _) = connected(&s.connect_string(), opts(s)).await;
    let (o, _) = connected(&s.connect_string(), opts(s)).await;
    let (r, _) = connected(&s.connect_string(), opts(s)).await;
    let base = unique("watch");
    c.create(&base, b"", &CreateOptions::persistent())
        .await
        .expect("base");
    let a = format!("{base}/a");

    let (none, mut exist_w) = c.exists_watch(&a).await.expect("exists");
    assert_eq!(none, None);
    let (_, mut child_w) = c.get_children_watch(&base).await.expect("children");
    let mut pers = c
        .add_watch(&base, AddWatchMode::Persistent)
        .await
        .expect("persistent");
    r.sync(&base).await.expect("sync");
    let mut rec = r
        .add_watch(&base, AddWatchMode::PersistentRecursive)
        .await
        .expect("recursive");
    o.create(&a, b"", &CreateOptions::persistent())
        .await
        .expect("create a");
    assert_eq!(
        exist_w.recv_timeout(DEADLINE).await,
        Some(WatchedEvent::node(EventType::NodeCreated, a.clone()))
    );
    assert_eq!(exist_w.recv().await, None, "one-shot: stream ends");
    assert_eq!(
        child_w.recv_timeout(DEADLINE).await,
        Some(WatchedEvent::node(
            EventType::NodeChildrenChanged,
            base.clone()
        ))
    );
    assert_eq!(
        pers.recv_timeout(DEADLINE).await,
        Some(WatchedEvent::node(
            EventType::NodeChildrenChanged,
            base.clone()
        ))
    );
    assert_eq!(
        rec.recv_timeout(DEADLINE).await,
        Some(WatchedEvent::node(EventType::NodeCreated, a.clone()))
    );

    c.sync(&a).await.expect("sync");
    let (_, _, mut data_w) = c.get_data_watch(&a).await.expect("data watch");
    o.set_data(&a, b"1", None).await.expect("set");
    o.set_data(&base, b"1", None).await.expect("set base");
    assert_eq!(
        data_w.recv_timeout(DEADLINE).await,
        Some(WatchedEvent::node(EventType::NodeDataChanged, a.clone()))
    );
    assert_eq!(
        rec.recv_timeout(DEADLINE).await,
        Some(WatchedEvent::node(EventType::NodeDataChanged, a.clone()))
    );
    assert_eq!(
        rec.recv_timeout(DEADLINE).await,
        Some(WatchedEvent::node(EventType::NodeDataChanged, base.clone()))
    );
    assert_eq!(
        pers.recv_timeout(DEADLINE).await,
        Some(WatchedEvent::node(EventType::NodeDataChanged, base.clone()))
    );

    let (_, _, mut gone_w) = c.get_data_watch(&a).await.expect("data watch");
    c.remove_watches(&a, WatcherType::Data)
        .await
        .expect("remove");
    assert_eq!(
        gone_w.recv_timeout(DEADLINE).await,
        Some(WatchedEvent::node(EventType::DataWatchRemoved, a.clone()))
    );
    assert_eq!(gone_w.recv().await, None);
    assert_eq!(
        c.remove_watches(&a, WatcherType::Data).await,
        Err(Error::NoWatcher)
    );
    c.remove_watches(&base, WatcherType::Any)
        .await
        .expect("remove any");
    r.remove_watches(&base, WatcherType::Any)
        .await
        .expect("remove any");
    assert_eq!(
        pers.recv_timeout(DEADLINE).await,
        Some(WatchedEvent::node(
            EventType::PersistentWatchRemoved,
            base.clone()
        ))
    );
    assert_eq!(
        rec.recv_timeout(DEADLINE).await,
        Some(WatchedEvent::node(
            EventType::PersistentWatchRemoved,
            base.clone()
        ))
    );
    o.set_data(&base, b"2", None).await.expect("set base");
    o.delete(&a, None).await.expect("delete");
    let (_, mut probe) = c.exists_watch(&base).await.expect("probe");
    o.set_data(&base, b"3", None).await.expect("set base");
    assert_eq!(
        probe.recv_timeout(DEADLINE).await,
        Some(WatchedEvent::node(EventType::NodeDataChanged, base.clone()))
    );
    assert_eq!(pers.recv().await, None, "removed: no more events");
    assert_eq!(rec.recv().await, None);
    c.close().await.expect("close");
    r.close().await.expect("close");
    o.close().await.expect("close");
}

/// R8, S1.4, S7.1: an unknown auth scheme is AuthFailed; the handle is CLOSED with an
/// AuthFailed event and every later call fails with AuthFailed.
pub async fn r8_s1_4_auth_failed_closes(s: &mut dyn Servers) {
    let (c, mut ev) = connected(&s.connect_string(), opts(s)).await;
    assert_eq!(
        c.add_auth("no-such-scheme", b"x").await,
        Err(Error::AuthFailed)
    );
    let (e, _) = wait_event(&mut ev, "AuthFailed", |e| {
        e.state == KeeperState::AuthFailed
    })
    .await;
    assert_eq!(e, WatchedEvent::state(KeeperState::AuthFailed));
    assert_eq!(c.state(), State::Closed(CloseReason::AuthFailed));
    assert_eq!(c.exists("/").await, Err(Error::AuthFailed));
}

/// A link proxy to the server at `addr` (`host:port`): forward, cut (a black hole: the
/// connection stays open, nothing passes), refuse (closed, new connections closed at once),
/// heal (new connections forward again).
fn proxy_to(addr: &str) -> LinkProxy {
    let target = std::net::ToSocketAddrs::to_socket_addrs(addr)
        .ok()
        .and_then(|mut a| a.next())
        .expect("a server address");
    LinkProxy::start(target).expect("start a link proxy")
}
