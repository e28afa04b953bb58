//! Several real `zk-node` processes forming one ensemble on loopback.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Child;
use std::process::Command;
use std::process::Stdio;
use std::time::Duration;
use std::time::Instant;

use super::four_letter;
use super::free_port;
use super::DEADLINE;
use zk_chaos::proxy::LinkProxy;

/// One member of a test ensemble.
pub struct Member {
    /// Its id (1-based).
    pub id: u64,
    /// Its client address.
    pub client: SocketAddr,
    /// Its peer address.
    pub peer: SocketAddr,
    /// Its admin HTTP server's address.
    pub admin: SocketAddr,
    data_dir: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

/// An ensemble of real processes; dropped, it kills them all.
pub struct Cluster {
    /// The members, index = id - 1.
    pub members: Vec<Member>,
    peers: String,
    extra: Vec<String>,
    /// `(from, to)` → the proxy `from` dials `to` through, when links are proxied.
    links: BTreeMap<(u64, u64), LinkProxy>,
    _dir: tempfile::TempDir,
}

impl Cluster {
    /// Prepares `n` members (nothing started) with `--tick-ms 200` plus `extra`.
    pub fn new(n: u64, extra: &[&str]) -> Cluster {
        Cluster::new_on_host(n, extra, "127.0.0.1")
    }

    /// Like [`Cluster::new`], naming every peer by `host` in `--peers` (e.g. `localhost`, as
    /// docker service names are).
    pub fn new_on_host(n: u64, extra: &[&str], host: &str) -> Cluster {
        let dir = tempfile::tempdir().expect("tempdir");
        let members: Vec<Member> = (1..=n)
            .map(|id| Member {
                id,
                client: SocketAddr::from(([127, 0, 0, 1], free_port())),
                peer: SocketAddr::from(([127, 0, 0, 1], free_port())),
                admin: SocketAddr::from(([127, 0, 0, 1], free_port())),
                data_dir: dir.path().join(format!("n{id}")),
                log: dir.path().join(format!("n{id}.log")),
                child: None,
            })
            .collect();
        let peers = members
            .iter()
            .map(|m| format!("{}={host}:{}", m.id, m.peer.port()))
            .collect::<Vec<_>>()
            .join(",");
        Cluster {
            members,
            peers,
            extra: extra.iter().map(|s| s.to_string()).collect(),
            links: BTreeMap::new(),
            _dir: dir,
        }
    }

    /// Like [`Cluster::new`], with every peer link (each direction) through its own
    /// [`LinkProxy`], so tests can partition members with [`Cluster::cut`].
    pub fn new_with_proxies(n: u64, extra: &[&str]) -> Cluster {
        let mut c = Cluster::new(n, extra);
        for from in 1..=n {
            for to in (1..=n).filter(|&to| to != from) {
                let target = c.members[(to - 1) as usize].peer;
                c.links.insert(
                    (from, to),
                    LinkProxy::start(target).expect("start a link proxy"),
                );
            }
        }
        c
    }

    /// Cuts the links between `a` and `b`, both ways (they must be proxied).
    pub fn cut(&self, a: u64, b: u64) {
        self.links[&(a, b)].cut();
        self.links[&(b, a)].cut();
    }

    /// Heals the links between `a` and `b`.
    pub fn heal(&self, a: u64, b: u64) {
        self.links[&(a, b)].heal();
        self.links[&(b, a)].heal();
    }

    /// Cuts `x` off from every other member.
    pub fn isolate(&self, x: u64) {
        for other in self.others(x) {
            self.cut(x, other);
        }
    }

    /// Heals every link of `x`.
    pub fn rejoin(&self, x: u64) {
        for other in self.others(x) {
            self.heal(x, other);
        }
    }

    /// Every member id but `x`.
    pub fn others(&self, x: u64) -> Vec<u64> {
        (1..=self.members.len() as u64)
            .filter(|&i| i != x)
            .collect()
    }

    /// Starts `n` members in the order given by `order` (ids), then waits for one leader.
    pub fn start(n: u64, order: &[u64]) -> Cluster {
        let mut c = Cluster::new(n, &[]);
        for &id in order {
            c.start_member(id);
        }
        c.wait_leader();
        c
    }

    /// The `--peers` value.
    pub fn peers(&self) -> &str {
        &self.peers
    }

    fn member(&mut self, id: u64) -> &mut Member {
        &mut self.members[(id - 1) as usize]
    }

    /// Starts member `id` (again) with its data dir.
    pub fn start_member(&mut self, id: u64) {
        let peers = self.peers.clone();
        self.start_member_with_peers(id, &peers);
    }

    /// Starts member `id` with another `--peers` value.
    pub fn start_member_with_peers(&mut self, id: u64, peers: &str) {
        let peers = peers.to_string();
        let mut extra = self.extra.clone();
        let dial: Vec<String> = self
            .links
            .iter()
            .filter(|((from, _), _)| *from == id)
            .map(|((_, to), proxy)| format!("{to}={}", proxy.addr))
            .collect();
        if !dial.is_empty() {
            extra.extend(["--peer-dial".to_string(), dial.join(",")]);
        }
        let m = self.member(id);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&m.log)
            .expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_zk-node"))
            .args(["--id", &id.to_string(), "--peers", &peers])
            .args(["--peer-listen", &m.peer.to_string()])
            .args(["--client-addr", &m.client.to_string()])
            .args(["--admin-port", &m.admin.port().to_string()])
            .arg("--data-dir")
            .arg(&m.data_dir)
            .args([
                "--tick-ms",
                "200",
                "--log-level",
                "info,openraft=warn,zk_node=debug",
            ])
            .args(&extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn zk-node");
        m.child = Some(child);
    }

    /// kill -9 member `id`.
    pub fn kill9(&mut self, id: u64) {
        if let Some(mut c) = self.member(id).child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Deletes member `id`'s data dir (it must be stopped): an empty disk.
    pub fn wipe(&mut self, id: u64) {
        let m = self.member(id);
        assert!(m.child.is_none(), "stop member {id} first");
        let _ = std::fs::remove_dir_all(&m.data_dir);
    }

    /// Sends `signal` (e.g. "STOP", "CONT") to member `id`'s process.
    pub fn signal(&self, id: u64, signal: &str) {
        let pid = self.members[(id - 1) as usize]
            .child
            .as_ref()
            .map(Child::id)
            .expect("running");
        let ok = Command::new("kill")
            .args([&format!("-{signal}"), &pid.to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill -{signal} {pid}");
    }

    /// Waits (bounded) for member `id`'s process to exit; its status.
    pub fn wait_exit(&mut self, id: u64) -> std::process::ExitStatus {
        let deadline = Instant::now() + DEADLINE;
        let m = self.member(id);
        let child = m.child.as_mut().expect("started");
        loop {
            if let Ok(Some(s)) = child.try_wait() {
                m.child = None;
                return s;
            }
            assert!(Instant::now() < deadline, "member {id} did not exit");
            std::thread::sleep(Duration::from_millis(20)); // polling a process
        }
    }

    /// What `srvr` says of member `id`'s mode (None if it does not answer or serve).
    pub fn mode(&self, id: u64) -> Option<String> {
        let text = four_letter(self.members[(id - 1) as usize].client, "srvr")?;
        text.lines()
            .find_map(|l| l.strip_prefix("Mode: "))
            .map(str::to_string)
    }

    /// Waits until exactly one running member says leader and every other running one
    /// follower; returns the leader's id.
    pub fn wait_leader(&self) -> u64 {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let running: Vec<u64> = self
                .members
                .iter()
                .filter(|m| m.child.is_some())
                .map(|m| m.id)
                .collect();
            let modes: Vec<(u64, Option<String>)> =
                running.iter().map(|&id| (id, self.mode(id))).collect();
            let leaders: Vec<u64> = modes
                .iter()
                .filter(|(_, m)| m.as_deref() == Some("leader"))
                .map(|(id, _)| *id)
                .collect();
            let followers = modes
                .iter()
                .filter(|(_, m)| m.as_deref() == Some("follower"))
                .count();
            if leaders.len() == 1 && followers + 1 == running.len() {
                return leaders[0];
            }
            assert!(
                Instant::now() < deadline,
                "no single leader: {modes:?}\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(20)); // polling processes
        }
    }

    /// Member `id`'s whole log.
    pub fn log_of(&self, id: u64) -> String {
        std::fs::read_to_string(&self.members[(id - 1) as usize].log).unwrap_or_default()
    }

    /// The tail of every member's log, for failure messages.
    pub fn logs(&self) -> String {
        self.members
            .iter()
            .map(|m| {
                let text = std::fs::read_to_string(&m.log).unwrap_or_default();
                let lines: Vec<&str> = text.lines().collect();
                format!(
                    "--- member {} ---\n{}",
                    m.id,
                    lines[lines.len().saturating_sub(25)..].join("\n")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for m in &mut self.members {
            if let Some(mut c) = m.child.take() {
                // A stopped process must run again to die from SIGKILL's reaping side too.
                let _ = Command::new("kill")
                    .args(["-CONT", &c.id().to_string()])
                    .status();
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}
