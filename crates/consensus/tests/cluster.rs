//! Three in-process nodes on loopback over the real gRPC network: bootstrap in any start
//! order, ordered forwarding from followers, failover, rejoin after restart, catch-up by
//! snapshot from an empty disk, refusal of other peers, a hung peer never blocking the
//! others, and durability of acknowledged writes across a restart of every node.
//! Every wait has a deadline; nothing sleeps to synchronise.

mod ensemble;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;
use std::time::Instant;

use ensemble::create;
use ensemble::init_tracing;
use ensemble::Ensemble;
use ensemble::DEADLINE;
use zk_consensus::now_ms;
use zk_consensus::ClusterError;
use zk_consensus::Command;
use zk_consensus::CommandOp;
use zk_consensus::MetaError;
use zk_consensus::NodeId;
use zk_consensus::Origin;
use zk_consensus::Outcome;
use zk_consensus::ProposeError;
use zk_consensus::RaftTiming;
use zk_consensus::StartError;
use zk_store::OpResult;

/// Request numbers of the ordering test (above those `Ensemble` hands out).
const BASE: u64 = 1_000_000;

/// The request numbers (from [`BASE`] on) of `node_id`'s commands in the order `log`
/// applied them.
fn origins_of(log: &[ensemble::Applied], node_id: NodeId) -> Vec<u64> {
    log.iter()
        .filter_map(|a| a.origin.filter(|o| o.node_id == node_id && o.seq > BASE))
        .map(|o| o.seq - BASE)
        .collect()
}

/// The (zxid, origin) sequence a node applied, from `from_zxid` on.
fn history(log: &[ensemble::Applied], from_zxid: i64) -> Vec<(i64, Option<Origin>)> {
    log.iter()
        .filter(|a| a.zxid >= from_zxid)
        .map(|a| (a.zxid, a.origin))
        .collect()
}

/// A fresh ensemble forms by itself whatever the start order: node 3 alone first (it
/// campaigns in vain), then node 1 (a leader appears), then node 2 much later (it joins and
/// catches up). Exactly one leader; the secret is committed once and the same everywhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forms_one_ensemble_whatever_the_start_order() {
    init_tracing();
    let mut ens = Ensemble::new(3);
    ens.start(3).await;
    // Node 3 alone cannot win: wait until it has at least campaigned once.
    let mut role3 = ens.node(3).role();
    tokio::time::timeout(DEADLINE, role3.wait_for(|r| r.term >= 1))
        .await
        .expect("node 3 campaigns")
        .expect("role alive");
    assert!(
        ens.node(3).role().borrow().leader.is_none(),
        "one node has no quorum"
    );

    ens.start(1).await;
    let leader = ens.wait_leader().await;
    assert!(
        leader == 1 || leader == 3,
        "leader {leader} among the started nodes"
    );
    let session = ens.create_session(1).await;
    ens.propose_op(3, create(session, "/before-2")).await;

    let term = ens.node(leader).role().borrow().term;
    ens.start(2).await;
    assert_eq!(ens.wait_leader().await, leader);
    let zxid = ens.wait_converged().await;
    for (id, n) in &ens.nodes {
        assert_eq!(
            n.role().borrow().term,
            term,
            "node {id}: the late node caused no election"
        );
    }
    assert!(zxid > 0);
    for (id, n) in &ens.nodes {
        let st = n.state.read();
        assert!(st.secret.is_some(), "node {id} has the secret");
        assert!(
            st.tree.exists("/before-2").unwrap().is_some(),
            "node {id} has the znode"
        );
    }
    let set = ens
        .log(2)
        .snapshot()
        .iter()
        .filter(|a| a.outcome == Outcome::SecretSet)
        .count();
    assert_eq!(set, 1, "exactly one secret was set");
    ens.shutdown_all().await;
}

/// All three started at once (the usual docker-compose case) also form one ensemble.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forms_one_ensemble_when_started_together() {
    init_tracing();
    let mut ens = Ensemble::new(3);
    let configs: Vec<_> = [2, 3, 1].iter().map(|&id| (id, ens.config(id))).collect();
    let dirs: BTreeMap<_, _> = ens
        .dirs
        .iter()
        .map(|(id, d)| (*id, d.path().to_path_buf()))
        .collect();
    let starts = configs.into_iter().map(|(id, c)| {
        let dir = dirs[&id].clone();
        tokio::spawn(async move { (id, zk_consensus::start_cluster(dir, c).await) })
    });
    for s in starts {
        let (id, node) = s.await.expect("join");
        let node = node.unwrap_or_else(|e| panic!("start {id}: {e}"));
        ens.nodes.insert(id, node);
    }
    ens.wait_leader().await;
    ens.wait_converged().await;
    ens.shutdown_all().await;
}

/// Writes proposed on followers (two of them, each one after another) enter the log in the
/// order each proposed them, and every node applies the same history.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn follower_writes_keep_their_order_on_every_node() {
    init_tracing();
    let mut ens = Ensemble::new(3);
    ens.start_all().await;
    let leader = ens.wait_leader().await;
    let followers: Vec<NodeId> = ens.nodes.keys().copied().filter(|&i| i != leader).collect();
    let session = ens.create_session(followers[0]).await;
    let start_zxid = ens.node(leader).state.applied_zxid();

    // Each follower proposes 150 creates in sequence, concurrently with the other.
    const N: u64 = 150;
    let mut tasks = Vec::new();
    for &f in &followers {
        let node = &ens.nodes[&f];
        let cmds: Vec<Command> = (1..=N)
            .map(|seq| Command {
                time_ms: now_ms(),
                origin: Some(Origin {
                    node_id: f,
                    seq: BASE + seq,
                }),
                op: create(session, &format!("/f{f}-{seq:04}")),
            })
            .collect();
        tasks.push(async move {
            for cmd in cmds {
                node.propose(cmd)
                    .await
                    .expect("no election during this test");
            }
        });
    }
    tokio::time::timeout(DEADLINE, futures_join(tasks))
        .await
        .expect("proposals accepted in time");

    let last = Origin {
        node_id: followers[1],
        seq: BASE + N,
    };
    let first_last = Origin {
        node_id: followers[0],
        seq: BASE + N,
    };
    for id in [1, 2, 3] {
        ens.log(id).wait_origin(last).await;
        ens.log(id).wait_origin(first_last).await;
    }
    let reference = history(&ens.log(leader).snapshot(), start_zxid + 1);
    for id in [1, 2, 3] {
        let log = ens.log(id).snapshot();
        for &f in &followers {
            assert_eq!(
                origins_of(&log, f),
                (1..=N).collect::<Vec<_>>(),
                "node {id} applied follower {f}'s writes in its order"
            );
        }
        assert_eq!(
            history(&log, start_zxid + 1),
            reference,
            "node {id} applied the same history"
        );
        // Every create succeeded; commands' zxids are strictly increasing (blank and
        // membership entries take none and repeat the last one).
        assert!(log
            .iter()
            .filter(|a| a.origin.is_some_and(|o| o.seq > BASE))
            .all(|a| matches!(&a.outcome, Outcome::Txn(t) if matches!(t.result, Ok(OpResult::Created { .. })))));
        assert!(log.windows(2).all(|w| w[0].zxid <= w[1].zxid));
        let commands: Vec<i64> = log
            .iter()
            .filter(|a| a.origin.is_some())
            .map(|a| a.zxid)
            .collect();
        assert!(commands.windows(2).all(|w| w[0] < w[1]));
    }
    ens.wait_converged().await;
    ens.shutdown_all().await;
}

/// The leader goes away: a new one is elected and writes proposed on a survivor resume.
/// Prints the time from the shutdown call to the first write applied after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn leader_loss_elects_a_new_leader_and_writes_resume() {
    init_tracing();
    let mut ens = Ensemble::new(3);
    ens.start_all().await;
    let old = ens.wait_leader().await;
    let survivor = ens.a_follower().await;
    let session = ens.create_session(survivor).await;
    ens.propose_op(survivor, create(session, "/before")).await;

    let t0 = Instant::now();
    ens.stop(old).await;
    ens.commit_op(survivor, create(session, "/after")).await;
    let resumed = t0.elapsed();
    println!("writes resumed {resumed:?} after the leader was stopped");
    assert!(
        resumed < Duration::from_secs(5),
        "failover took {resumed:?}"
    );

    let new = ens.wait_leader().await;
    assert_ne!(new, old);
    ens.wait_converged().await;
    ens.shutdown_all().await;
}

/// A stopped leader's followers see their `Follow` lines end and stand as soon as the leader
/// lease runs out, without the random election timeout on top. The timers are stretched so
/// the two paths cannot be confused: lease 2 s, random timeout 1.5-2 s, so the timer alone
/// would stand no earlier than 3.5 s after the leader was last heard; the line stands at
/// ~2 s. The leader is last heard before its shutdown returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn followers_of_a_stopped_leader_stand_when_the_lease_runs_out() {
    init_tracing();
    let mut ens = Ensemble::new(3);
    ens.timing = RaftTiming {
        heartbeat: Duration::from_millis(50),
        election_min: Duration::from_millis(1500),
        election_max: Duration::from_millis(2000),
        ..RaftTiming::default()
    };
    ens.start_all().await;
    let old = ens.wait_leader().await;
    let survivor = ens.a_follower().await;
    let session = ens.create_session(survivor).await;
    ens.commit_op(survivor, create(session, "/before")).await;

    ens.stop(old).await;
    let stopped = Instant::now();
    let new = ens.wait_leader().await;
    let elected = stopped.elapsed();
    println!("new leader {new} elected {elected:?} after the old one stopped");
    assert_ne!(new, old);
    let timer_alone = ens.timing.election_max + ens.timing.election_min;
    assert!(
        elected < timer_alone,
        "elected {elected:?} after the stop: the election timer's path ({timer_alone:?} at the \
         earliest), not the broken line's"
    );
    ens.commit_op(survivor, create(session, "/after")).await;
    ens.shutdown_all().await;
}

/// A follower restarted with its data dir rejoins and catches up on what it missed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn restarted_node_rejoins_and_catches_up() {
    init_tracing();
    let mut ens = Ensemble::new(3);
    ens.start_all().await;
    let follower = ens.a_follower().await;
    let session = ens.create_session(follower).await;
    ens.propose_op(follower, create(session, "/a")).await;
    ens.wait_converged().await;

    ens.stop(follower).await;
    let other = ens.a_follower().await;
    let leader = ens.wait_leader().await;
    for i in 0..20 {
        let at = if i % 2 == 0 { other } else { leader };
        ens.propose_op(at, create(session, &format!("/missed-{i}")))
            .await;
    }
    ens.start(follower).await;
    ens.wait_leader().await;
    let zxid = ens.wait_converged().await;
    assert_eq!(ens.node(follower).state.applied_zxid(), zxid);
    assert!(ens
        .node(follower)
        .state
        .read()
        .tree
        .exists("/missed-19")
        .unwrap()
        .is_some());
    ens.shutdown_all().await;
}

/// A client value of almost 1 MiB (ZooKeeper's jute.maxbuffer) is replicated and applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_one_megabyte_value_commits() {
    init_tracing();
    let mut ens = Ensemble::new(3);
    ens.start_all().await;
    let at = ens.a_follower().await;
    let session = ens.create_session(at).await;
    let t = Instant::now();
    let op = CommandOp::Write {
        session_id: session,
        owner: None,
        auth: Vec::new(),
        txn: zk_store::Txn::Create {
            path: "/mib".to_string(),
            data: Some(vec![1u8; (1 << 20) - 1024]),
            acl: zk_wire::Acl::open_unsafe(),
            mode: zk_wire::CreateMode::Persistent,
            ttl: None,
        },
    };
    ens.commit_op(at, op).await;
    println!("a 1 MiB write committed in {:?}", t.elapsed());
    ens.wait_converged().await;
    ens.shutdown_all().await;
}

/// A follower that missed several megabytes of large entries catches up from the log: the
/// network splits AppendEntries batches over its byte budget (openraft's PayloadTooLarge).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn large_entries_catch_up_in_split_batches() {
    init_tracing();
    let mut ens = Ensemble::new(3);
    ens.start_all().await;
    let lagging = ens.a_follower().await;
    let session = ens.create_session(lagging).await;
    ens.stop(lagging).await;

    let at = ens.a_follower().await;
    // 1.8 MB in all: more than one AppendEntries may carry.
    let big = vec![7u8; 300 << 10];
    for i in 0..6 {
        let op = CommandOp::Write {
            session_id: session,
            owner: None,
            auth: Vec::new(),
            txn: zk_store::Txn::Create {
                path: format!("/big-{i}"),
                data: Some(big.clone()),
                acl: zk_wire::Acl::open_unsafe(),
                mode: zk_wire::CreateMode::Persistent,
                ttl: None,
            },
        };
        ens.commit_op(at, op).await;
    }
    ens.start(lagging).await;
    ens.wait_converged().await;
    {
        let st = ens.node(lagging).state.read();
        let (data, _) = st.tree.get_data("/big-5", &[]).expect("replicated");
        assert_eq!(data.map(<[u8]>::len), Some(300 << 10));
    }
    ens.shutdown_all().await;
}

/// A node whose disk is lost comes back empty, far behind a leader that snapshotted and
/// purged its log: it catches up by snapshot and holds the same state.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn empty_disk_catches_up_by_snapshot() {
    init_tracing();
    let mut ens = Ensemble::new(3);
    ens.snapshot_every = 20;
    ens.keep_log = 0;
    ens.start_all().await;
    let victim = ens.a_follower().await;
    let session = ens.create_session(victim).await;
    for i in 0..30 {
        ens.propose_op(victim, create(session, &format!("/early-{i}")))
            .await;
    }
    ens.wait_converged().await;

    ens.stop(victim).await;
    ens.wipe(victim);
    let at = ens.a_follower().await;
    for i in 0..60 {
        ens.propose_op(at, create(session, &format!("/late-{i}")))
            .await;
    }
    let leader = ens.wait_leader().await;
    // Snapshots and purges run in the background after apply: wait for one past the
    // victim's whole log.
    ens.node(leader)
        .raft
        .wait(Some(DEADLINE))
        .metrics(
            |m| m.purged.is_some_and(|p| p.index > 40),
            "the leader purged its log past the victim's",
        )
        .await
        .expect("purged in time");
    let term = ens.node(leader).role().borrow().term;
    ens.start(victim).await;
    ens.log(victim)
        .wait_for("a snapshot install", |a| {
            a.outcome == Outcome::SnapshotInstalled
        })
        .await;
    let zxid = ens.wait_converged().await;
    assert_eq!(
        ens.node(leader).role().borrow().term,
        term,
        "the empty node joined without an election"
    );
    {
        let st = ens.node(victim).state.read();
        assert_eq!(st.applied_zxid(), zxid);
        assert!(st.tree.exists("/early-0").unwrap().is_some());
        assert!(st.tree.exists("/late-59").unwrap().is_some());
        assert!(st.secret.is_some(), "the secret came with the snapshot");
    }
    ens.shutdown_all().await;
}

/// The membership lives in the replicated state: a member restarted with other `--peers`
/// (one of them wrong) starts and follows again, while its data dir started as another
/// node is refused, saying why.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn restart_with_other_peers_follows_the_membership() {
    init_tracing();
    let mut ens = Ensemble::new(3);
    ens.start_all().await;
    ens.wait_leader().await;
    let victim = ens.a_follower().await;
    ens.stop(victim).await;

    let moved = ens
        .peers
        .keys()
        .copied()
        .find(|&i| i != victim)
        .expect("another");
    let mut as_other = ens.config(victim);
    as_other.node_id = moved;
    let err = ens
        .try_start_with(victim, as_other)
        .await
        .expect_err("refused");
    assert!(
        matches!(
            err,
            ClusterError::Start(StartError::Meta(MetaError::Mismatch { .. }))
        ),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains("refusing to start"), "{msg}");

    let mut config = ens.config(victim);
    config.peers.insert(moved, "127.0.0.1:1".to_string());
    ens.try_start_with(victim, config)
        .await
        .expect("other peers start");
    ens.wait_leader().await;
    let standing = ens.node(victim).standing();
    assert!(
        standing
            .members
            .get(&moved)
            .is_some_and(|m| m.addr == ens.peers[&moved]),
        "the membership, not --peers: {standing:?}"
    );
    ens.shutdown_all().await;
}

/// Node 3's address is a socket that accepts connections and never answers (a hung peer):
/// nodes 1 and 2 still form the ensemble and commit every write promptly.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hung_peer_never_blocks_the_other_two() {
    init_tracing();
    let black_hole = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let hole: SocketAddr = black_hole.local_addr().expect("addr");
    // Accept and hold every connection, reading nothing.
    let held = Arc::new(Mutex::new(Vec::new()));
    let holder = held.clone();
    let hole_task = tokio::spawn(async move {
        while let Ok((s, _)) = black_hole.accept().await {
            holder.lock().unwrap().push(s);
        }
    });
    let ports = ensemble::free_ports(2);
    let peers = BTreeMap::from([
        (1, format!("127.0.0.1:{}", ports[0])),
        (2, format!("127.0.0.1:{}", ports[1])),
        (3, hole.to_string()),
    ]);
    let mut ens = Ensemble::with_peers(peers);
    ens.start(1).await;
    ens.start(2).await;
    let leader = ens.wait_leader().await;
    let follower = if leader == 1 { 2 } else { 1 };
    let session = ens.create_session(follower).await;

    let mut slowest = Duration::ZERO;
    for i in 0..50 {
        let t = Instant::now();
        let at = if i % 2 == 0 { follower } else { leader };
        ens.commit_op(at, create(session, &format!("/n{i}"))).await;
        slowest = slowest.max(t.elapsed());
    }
    println!("slowest of 50 writes with a hung peer: {slowest:?}");
    assert!(slowest < Duration::from_secs(1), "a write took {slowest:?}");
    assert!(
        !held.lock().unwrap().is_empty(),
        "the hung peer was contacted"
    );
    ens.wait_converged().await;
    ens.shutdown_all().await;
    hole_task.abort();
}

/// Every write acknowledged (applied on the proposing node) survives stopping all three
/// nodes and starting them again in another order.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_writes_survive_a_restart_of_every_node() {
    init_tracing();
    let mut ens = Ensemble::new(3);
    ens.snapshot_every = 25;
    ens.start_all().await;
    let follower = ens.a_follower().await;
    let session = ens.create_session(follower).await;
    let mut acknowledged = Vec::new();
    for i in 0..60 {
        let at = [1, 2, 3][i % 3];
        let path = format!("/durable-{i}");
        ens.commit_op(at, create(session, &path)).await;
        acknowledged.push(path);
    }
    let before = ens.wait_converged().await;
    let znodes = ens.node(1).state.read().tree.node_count();

    for id in [2, 1, 3] {
        ens.stop(id).await;
    }
    for id in [3, 2, 1] {
        ens.start(id).await;
    }
    ens.wait_leader().await;
    ens.wait_all_applied(before).await;
    for (id, n) in &ens.nodes {
        let st = n.state.read();
        for p in &acknowledged {
            assert!(st.tree.exists(p).unwrap().is_some(), "node {id} lost {p}");
        }
        assert!(st.sessions.len() == 1, "node {id} kept the session");
    }
    // Nothing was written since (the new leader's blank entries take no zxid).
    ens.wait_converged().await;
    assert_eq!(ens.node(2).state.read().tree.node_count(), znodes);
    ens.shutdown_all().await;
}

/// Activity reports from a follower reach the leader's handler with each touch's age, and
/// the follower learns they were delivered; on the leader they are handed over directly.
/// `sync_point` on a follower names an index covering every write committed before it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn activity_reaches_the_leader_and_sync_point_covers_commits() {
    init_tracing();
    let mut ens = Ensemble::new(3);
    ens.start_all().await;
    let leader = ens.wait_leader().await;
    let follower = ens.a_follower().await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    ens.node(leader)
        .set_activity_handler(Arc::new(move |from, touches: &[(i64, u32)]| {
            let _ = tx.send((from, touches.to_vec()));
        }));
    assert!(
        ens.node(follower)
            .report_activity(&[(7, 0), (8, 120)])
            .await
    );
    let got = tokio::time::timeout(DEADLINE, rx.recv())
        .await
        .expect("in time");
    assert_eq!(got, Some((follower, vec![(7, 0), (8, 120)])));
    assert!(ens.node(leader).report_activity(&[(9, 5)]).await);
    let got = tokio::time::timeout(DEADLINE, rx.recv())
        .await
        .expect("in time");
    assert_eq!(got, Some((leader, vec![(9, 5)])));

    let session = ens.create_session(leader).await;
    let index = ens
        .commit_op(leader, create(session, "/synced"))
        .await
        .index;
    let point = ens.node(follower).sync_point().await.expect("sync point");
    assert!(point >= index, "sync point {point} covers entry {index}");
    ens.node(follower)
        .state
        .wait_applied_index(point)
        .await
        .expect("applied");
    assert!(ens
        .node(follower)
        .state
        .read()
        .tree
        .exists("/synced")
        .unwrap()
        .is_some());
    let on_leader = ens
        .node(leader)
        .sync_point()
        .await
        .expect("leader sync point");
    assert!(on_leader >= index);
    ens.shutdown_all().await;
}

/// With no quorum there is no leader, and proposals fail at once instead of hanging.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_a_leader_proposals_fail_fast() {
    init_tracing();
    let mut ens = Ensemble::new(3);
    ens.start(1).await;
    let cmd = Command {
        time_ms: now_ms(),
        origin: None,
        op: CommandOp::Noop,
    };
    let t = Instant::now();
    assert_eq!(ens.node(1).propose(cmd).await, Err(ProposeError::NoLeader));
    assert_eq!(ens.node(1).sync_point().await, Err(ProposeError::NoLeader));
    assert!(t.elapsed() < Duration::from_secs(1));
    ens.shutdown_all().await;
}

/// Runs the futures concurrently on this task and waits for all.
async fn futures_join<F: std::future::Future<Output = ()>>(futs: Vec<F>) {
    let mut futs: Vec<_> = futs.into_iter().map(Box::pin).map(Some).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for slot in &mut futs {
            if let Some(f) = slot {
                if f.as_mut().poll(cx).is_ready() {
                    *slot = None;
                } else {
                    pending = true;
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await
}
