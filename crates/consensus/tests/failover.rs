//! kill -9 of the leader of a three-process ensemble on loopback: how long until a write
//! proposed on a survivor is applied again, and that every acknowledged write survives
//! (the killed node restarts on its data dir and catches up).
//!
//! Each node is a child process: this very test binary re-run with `FAILOVER_CHILD` set and
//! filtered to the `failover_child` test. The parent talks to it over stdin/stdout lines
//! (markers may follow libtest's own text on a line). No sleeps synchronise anything: the
//! parent waits for the children's lines, with deadlines.

mod ensemble;

use std::collections::BTreeMap;
use std::collections::HashMap;
use std::io::BufRead;
use std::io::BufReader;
use std::io::Write;
use std::process::Child;
use std::process::ChildStdin;
use std::process::Stdio;
use std::sync::mpsc;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;
use std::time::Instant;

use zk_consensus::now_ms;
use zk_consensus::start_cluster;
use zk_consensus::ClusterConfig;
use zk_consensus::Command;
use zk_consensus::CommandOp;
use zk_consensus::NodeId;
use zk_consensus::Origin;
use zk_consensus::Outcome;

const CHILD_ENV: &str = "FAILOVER_CHILD";
/// A child stops by itself after this long, so a stuck parent never leaves it behind.
const CHILD_LIFETIME: Duration = Duration::from_secs(90);
/// How long the parent waits for any one answer.
const WAIT: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------------------
// The child: one ensemble member driven over stdin.

/// A child's body; a no-op (passing) test in a normal run.
#[test]
fn failover_child() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let _ = tokio::time::timeout(CHILD_LIFETIME, child_main(&spec)).await;
    });
    // The runtime's drop would wait for nothing useful; a killed sibling must not hang us.
    rt.shutdown_timeout(Duration::from_secs(1));
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "\n{line}");
    let _ = out.flush();
}

/// `spec` = "id;dir;1=addr,2=addr,3=addr".
async fn child_main(spec: &str) {
    let mut parts = spec.splitn(3, ';');
    let (Some(id), Some(dir), Some(peers)) = (parts.next(), parts.next(), parts.next()) else {
        panic!("bad child spec {spec}");
    };
    let id: NodeId = id.parse().expect("id");
    let peers: BTreeMap<NodeId, String> = peers
        .split(',')
        .map(|p| {
            let (i, a) = p.split_once('=').expect("id=addr");
            (i.parse().expect("peer id"), a.to_string())
        })
        .collect();
    let mut config = ClusterConfig::new(id, peers.clone()).expect("config");
    config.listen = peers[&id].parse().expect("addr");
    config.start_timeout = Duration::ZERO;
    // origin seq -> (zxid, outcome) of every entry applied with an origin of this node.
    let applied: Arc<Mutex<HashMap<u64, (i64, Outcome)>>> = Arc::default();
    let (bump, _) = tokio::sync::watch::channel(0u64);
    let bump = Arc::new(bump);
    {
        let applied = applied.clone();
        let bump = bump.clone();
        config.apply_hook = Some(Arc::new(move |ev, _| {
            if let Some(o) = ev.origin.filter(|o| o.node_id == id) {
                applied
                    .lock()
                    .unwrap()
                    .insert(o.seq, (ev.zxid, ev.outcome.clone()));
                bump.send_modify(|n| *n += 1);
            }
        }));
    }
    let node = start_cluster(dir, config).await.expect("start");
    let mut role = node.role();
    let role_task = tokio::spawn(async move {
        loop {
            let r = *role.borrow_and_update();
            say(&format!(
                "ROLE {} {} {}",
                r.leader.unwrap_or(0),
                u8::from(r.is_leader),
                r.term
            ));
            if role.changed().await.is_err() {
                return;
            }
        }
    });
    say("READY");

    // stdin is read on a thread of its own (blocking reads), lines handed over in order.
    let (tx, mut lines) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    while let Some(line) = lines.recv().await {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["SESSION", seq] => {
                let seq: u64 = seq.parse().expect("seq");
                let op = CommandOp::CreateSession { timeout_ms: 60_000 };
                let (_, outcome) = propose_and_wait(&node, &applied, &bump, id, seq, op).await;
                let Outcome::SessionCreated { session_id, .. } = outcome else {
                    panic!("session: {outcome:?}");
                };
                say(&format!("SESSION {}", session_id.get()));
            }
            ["W", seq, session] => {
                let seq: u64 = seq.parse().expect("seq");
                let session: i64 = session.parse().expect("session");
                let op = ensemble::create(session, &format!("/w{seq}"));
                let (zxid, outcome) = propose_and_wait(&node, &applied, &bump, id, seq, op).await;
                assert!(
                    matches!(outcome, Outcome::Txn(ref t) if t.result.is_ok()),
                    "{outcome:?}"
                );
                say(&format!("APPLIED {seq} {zxid}"));
            }
            ["CHECK", list] => {
                // Catch up with the leader's commit point first, then look.
                let point = loop {
                    match node.sync_point().await {
                        Ok(p) => break p,
                        Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                    }
                };
                node.state.wait_applied_index(point).await.expect("applied");
                let st = node.state.read();
                let missing = list
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .filter(|s| st.tree.exists(&format!("/w{s}")).ok().flatten().is_none())
                    .count();
                say(&format!("CHECKED {missing}"));
            }
            _ => say(&format!("UNKNOWN {line}")),
        }
    }
    role_task.abort();
    let _ = node.shutdown(Duration::from_secs(5)).await;
}

/// Proposes until accepted (retrying through the election), then waits until applied here.
async fn propose_and_wait(
    node: &zk_consensus::ClusterNode,
    applied: &Mutex<HashMap<u64, (i64, Outcome)>>,
    bump: &tokio::sync::watch::Sender<u64>,
    id: NodeId,
    seq: u64,
    op: CommandOp,
) -> (i64, Outcome) {
    let mut seen = bump.subscribe();
    let cmd = Command {
        time_ms: now_ms(),
        origin: Some(Origin { node_id: id, seq }),
        op,
    };
    let mut role = node.role();
    loop {
        match node.propose(cmd.clone()).await {
            Ok(()) => break,
            // A retry interval, not synchronisation: resume at once on a role change.
            Err(_) => {
                let _ = tokio::time::timeout(Duration::from_millis(10), role.changed()).await;
            }
        }
    }
    loop {
        if let Some(done) = applied.lock().unwrap().get(&seq) {
            return done.clone();
        }
        seen.changed().await.expect("hook alive");
    }
}

// ---------------------------------------------------------------------------------------
// The parent.

struct Proc {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
    /// (leader, is_leader, term) from its last ROLE line.
    role: (NodeId, bool, u64),
}

impl Proc {
    fn spawn(id: NodeId, dir: &std::path::Path, peers: &str) -> Proc {
        let mut child = std::process::Command::new(std::env::current_exe().expect("exe"))
            .args([
                "failover_child",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, format!("{id};{};{peers}", dir.display()))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn child");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let mut p = Proc {
            child,
            stdin,
            lines,
            role: (0, false, 0),
        };
        p.expect("READY");
        p
    }

    fn send(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").expect("child stdin");
        self.stdin.flush().expect("flush");
    }

    /// The rest of the next line carrying `marker`, noting ROLE lines on the way.
    fn expect(&mut self, marker: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no {marker} from the child within {WAIT:?}"));
            self.note_role(&line);
            if let Some((_, rest)) = line.split_once(marker) {
                return rest.trim().to_string();
            }
        }
    }

    /// Reads what the child printed so far (ROLE lines), without waiting.
    fn drain(&mut self) {
        while let Ok(line) = self.lines.try_recv() {
            self.note_role(&line);
        }
    }

    fn note_role(&mut self, line: &str) {
        if let Some((_, rest)) = line.split_once("ROLE ") {
            let v: Vec<u64> = rest
                .split_whitespace()
                .filter_map(|w| w.parse().ok())
                .collect();
            if let [leader, is_leader, term] = v[..] {
                self.role = (leader, is_leader == 1, term);
            }
        }
    }

    fn kill(mut self) {
        self.child.kill().expect("SIGKILL"); // SIGKILL on Unix
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until every process agrees on one leader that says it leads; returns it.
fn wait_leader(procs: &mut BTreeMap<NodeId, Proc>) -> NodeId {
    let deadline = Instant::now() + WAIT;
    loop {
        for p in procs.values_mut() {
            p.drain();
        }
        let roles: Vec<_> = procs.iter().map(|(id, p)| (*id, p.role)).collect();
        let leader = roles[0].1 .0;
        let agreed = leader != 0
            && roles.iter().all(|(_, r)| r.0 == leader)
            && roles.iter().any(|(id, r)| *id == leader && r.1);
        if agreed {
            return leader;
        }
        assert!(Instant::now() < deadline, "no agreed leader: {roles:?}");
        // Block on one child's next line rather than spinning.
        if let Some(p) = procs.values_mut().next() {
            if let Ok(line) = p.lines.recv_timeout(Duration::from_millis(50)) {
                p.note_role(&line);
            }
        }
    }
}

#[test]
fn kill_9_of_the_leader_writes_resume_and_nothing_acknowledged_is_lost() {
    let ports = ensemble::free_ports(3);
    let peers: BTreeMap<NodeId, String> = (1..=3)
        .zip(ports)
        .map(|(id, p)| (id, format!("127.0.0.1:{p}")))
        .collect();
    let peer_list = peers
        .iter()
        .map(|(id, a)| format!("{id}={a}"))
        .collect::<Vec<_>>()
        .join(",");
    let dirs: BTreeMap<NodeId, tempfile::TempDir> = peers
        .keys()
        .map(|&id| (id, tempfile::tempdir().expect("tempdir")))
        .collect();
    let mut procs: BTreeMap<NodeId, Proc> = dirs
        .iter()
        .map(|(&id, d)| (id, Proc::spawn(id, d.path(), &peer_list)))
        .collect();

    let leader = wait_leader(&mut procs);
    let follower = *procs.keys().find(|&&i| i != leader).expect("follower");
    let mut seq = 0u64;
    let mut next = || {
        seq += 1;
        seq
    };
    let p = procs.get_mut(&follower).expect("follower");
    p.send(&format!("SESSION {}", next()));
    let session: i64 = p.expect("SESSION ").parse().expect("session id");

    let mut acknowledged = Vec::new();
    let mut times = Vec::new();
    for round in 0..3 {
        // Some writes through every node before the kill.
        for &id in peers.keys() {
            let s = next();
            let p = procs.get_mut(&id).expect("proc");
            p.send(&format!("W {s} {session}"));
            p.expect("APPLIED ");
            acknowledged.push(s);
        }
        let leader = wait_leader(&mut procs);
        let survivor = *procs.keys().find(|&&i| i != leader).expect("survivor");

        let victim = procs.remove(&leader).expect("leader proc");
        let t0 = Instant::now();
        victim.kill();
        let s = next();
        let p = procs.get_mut(&survivor).expect("survivor");
        p.send(&format!("W {s} {session}"));
        p.expect("APPLIED ");
        let resumed = t0.elapsed();
        acknowledged.push(s);
        times.push(resumed);
        println!("round {round}: writes resumed {resumed:?} after kill -9 of leader {leader}");

        // The killed node restarts on its data dir and rejoins.
        procs.insert(
            leader,
            Proc::spawn(leader, dirs[&leader].path(), &peer_list),
        );
        wait_leader(&mut procs);
    }

    let list = acknowledged
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(",");
    for (id, p) in procs.iter_mut() {
        p.send(&format!("CHECK {list}"));
        assert_eq!(
            p.expect("CHECKED "),
            "0",
            "node {id} lost acknowledged writes"
        );
    }
    times.sort();
    println!(
        "failover after kill -9: min {:?}, median {:?}, max {:?}",
        times[0],
        times[times.len() / 2],
        times[times.len() - 1]
    );
    for t in &times {
        assert!(*t < Duration::from_secs(5), "failover took {t:?}");
    }
}
