//! Several zk-node processes forming one ensemble on loopback, optionally with every peer
//! link (each direction) through its own [`LinkProxy`] so tests can partition members.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;
use std::time::Instant;

use super::binary;
use super::command_line;
use super::free_loopback;
use super::mode;
use super::Process;
use super::DEADLINE;
use super::LOG_LEVEL;
use super::TICK_MS;
use crate::proxy::LinkProxy;

/// One member of an [`Ensemble`].
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
    process: Process,
}

impl Member {
    /// Whether its process was started and not reaped.
    pub fn running(&self) -> bool {
        self.process.started()
    }

    /// Its process id, None when it is not running.
    pub fn pid(&self) -> Option<u32> {
        self.process.pid()
    }
}

/// An ensemble of real processes with `--tick-ms 200`; dropped, it kills them all.
pub struct Ensemble {
    /// The members, index = id - 1.
    pub members: Vec<Member>,
    peers: String,
    extra: Vec<String>,
    /// Flags of one member only (after `extra`): its own certificate, say.
    member_extra: BTreeMap<u64, Vec<String>>,
    /// Members started without the default `--peer-listen` (zk-node's own default then).
    own_listen: bool,
    /// `(from, to)` → the proxy `from` dials `to` through, when links are proxied.
    links: BTreeMap<(u64, u64), LinkProxy>,
    _dir: tempfile::TempDir,
}

impl Ensemble {
    /// Prepares `n` members (nothing started) with `extra` flags after the defaults.
    pub fn new(n: u64, extra: &[&str]) -> Ensemble {
        Ensemble::new_on_host(n, extra, "127.0.0.1")
    }

    /// Like [`Ensemble::new`], naming every peer by `host` in `--peers` (e.g. `localhost`,
    /// as docker service names are).
    pub fn new_on_host(n: u64, extra: &[&str], host: &str) -> Ensemble {
        let dir = tempfile::tempdir().expect("tempdir");
        let members: Vec<Member> = (1..=n)
            .map(|id| Member {
                id,
                client: free_loopback(),
                peer: free_loopback(),
                admin: free_loopback(),
                data_dir: dir.path().join(format!("n{id}")),
                process: Process::not_started(&dir.path().join(format!("n{id}.log"))),
            })
            .collect();
        let peers = members
            .iter()
            .map(|m| format!("{}={host}:{}", m.id, m.peer.port()))
            .collect::<Vec<_>>()
            .join(",");
        Ensemble {
            members,
            peers,
            extra: extra.iter().map(|s| s.to_string()).collect(),
            member_extra: BTreeMap::new(),
            own_listen: false,
            links: BTreeMap::new(),
            _dir: dir,
        }
    }

    /// Like [`Ensemble::new`], with every peer link (each direction) through its own
    /// [`LinkProxy`], so tests can partition members with [`Ensemble::cut`].
    pub fn new_with_proxies(n: u64, extra: &[&str]) -> Ensemble {
        let mut e = Ensemble::new(n, extra);
        for from in 1..=n {
            for to in (1..=n).filter(|&to| to != from) {
                let target = e.members[index(to)].peer;
                e.links.insert(
                    (from, to),
                    LinkProxy::start(target).expect("start a link proxy"),
                );
            }
        }
        e
    }

    /// Starts `n` members in the order given by `order` (ids), then waits for one leader.
    pub fn start(n: u64, order: &[u64]) -> Ensemble {
        let mut e = Ensemble::new(n, &[]);
        for &id in order {
            e.start_member(id);
        }
        e.wait_leader();
        e
    }

    /// Starts every member, in id order, and waits for one leader: its id.
    pub fn start_all(&mut self) -> u64 {
        for id in 1..=self.members.len() as u64 {
            self.start_member(id);
        }
        self.wait_leader()
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

    /// Flags member `id` gets after the common ones from its next start on (replacing any
    /// given before).
    pub fn set_member_flags(&mut self, id: u64, flags: &[&str]) {
        self.member_extra
            .insert(id, flags.iter().map(|s| s.to_string()).collect());
    }

    /// From the next start on, members get no `--peer-listen`: each listens where zk-node
    /// decides (its own address in `--peers`, or what a member's flags say).
    pub fn use_default_peer_listen(&mut self) {
        self.own_listen = true;
    }

    /// The `--peers` value.
    pub fn peers(&self) -> &str {
        &self.peers
    }

    /// Prepares one more member (the next id, its own free ports, nothing started). Started
    /// with [`Ensemble::start_member`] it joins: its id is not in [`Ensemble::peers`], so it
    /// asks them for the ensemble and waits, serving nothing, until a reconfig adds it
    /// (see [`Ensemble::server_spec`]).
    pub fn add_member(&mut self) -> u64 {
        let id = self.members.len() as u64 + 1;
        let dir = self._dir.path();
        self.members.push(Member {
            id,
            client: free_loopback(),
            peer: free_loopback(),
            admin: free_loopback(),
            data_dir: dir.join(format!("n{id}")),
            process: Process::not_started(&dir.join(format!("n{id}.log"))),
        });
        id
    }

    /// Member `id` as ZooKeeper's reconfig names a server:
    /// `server.N=host:peerPort:electionPort:participant;clientHost:clientPort` (zk-node binds
    /// no election port; the peer port stands in for it).
    pub fn server_spec(&self, id: u64) -> String {
        let m = &self.members[index(id)];
        format!(
            "server.{id}={}:{}:{}:participant;{}",
            m.peer.ip(),
            m.peer.port(),
            m.peer.port(),
            m.client
        )
    }

    fn member(&mut self, id: u64) -> &mut Member {
        &mut self.members[index(id)]
    }

    /// Starts member `id` (again) with its data dir.
    pub fn start_member(&mut self, id: u64) {
        let peers = self.peers.clone();
        self.start_member_with_peers(id, &peers);
    }

    /// Starts member `id` with another `--peers` value.
    pub fn start_member_with_peers(&mut self, id: u64, peers: &str) {
        let dial: Vec<String> = self
            .links
            .iter()
            .filter(|((from, _), _)| *from == id)
            .map(|((_, to), proxy)| format!("{to}={}", proxy.addr))
            .collect();
        let m = &self.members[index(id)];
        let defaults = [
            ("--id", id.to_string()),
            ("--peers", peers.to_string()),
            ("--peer-listen", m.peer.to_string()),
            ("--client-addr", m.client.to_string()),
            ("--admin-port", m.admin.port().to_string()),
            ("--data-dir", m.data_dir.display().to_string()),
            ("--tick-ms", TICK_MS.to_string()),
            ("--log-level", LOG_LEVEL.to_string()),
        ];
        let mut extra = self.extra.clone();
        extra.extend(self.member_extra.get(&id).into_iter().flatten().cloned());
        let defaults: Vec<(&str, String)> = defaults
            .into_iter()
            .filter(|(flag, _)| !(self.own_listen && *flag == "--peer-listen"))
            .collect();
        let mut args = command_line(&defaults, &extra);
        if !dial.is_empty() {
            args.extend(["--peer-dial".to_string(), dial.join(",")]);
        }
        let log = self.log_path(id);
        let m = self.member(id);
        m.process.kill9();
        m.process = Process::spawn(&binary(), &args, &log);
    }

    /// Member `id`'s data dir (made when it first starts; a test may fill it before).
    pub fn data_dir(&self, id: u64) -> &Path {
        &self.members[index(id)].data_dir
    }

    fn log_path(&self, id: u64) -> PathBuf {
        self.members[index(id)].data_dir.with_extension("log")
    }

    /// kill -9 member `id`.
    pub fn kill9(&mut self, id: u64) {
        self.member(id).process.kill9();
    }

    /// Deletes member `id`'s data dir (it must be stopped): an empty disk.
    pub fn wipe(&mut self, id: u64) {
        let m = self.member(id);
        assert!(!m.process.started(), "stop member {id} first");
        let _ = std::fs::remove_dir_all(&m.data_dir);
    }

    /// Sends `signal` (e.g. "STOP", "CONT") to member `id`'s process; the test fails if it
    /// is not running.
    pub fn signal(&self, id: u64, signal: &str) {
        assert!(self.try_signal(id, signal), "kill -{signal} member {id}");
    }

    /// Sends `signal` to member `id`'s process if it runs; whether it was sent.
    pub fn try_signal(&self, id: u64, signal: &str) -> bool {
        self.members[index(id)].process.signal(signal)
    }

    /// Waits (bounded) for member `id`'s process to exit; its status.
    pub fn wait_exit(&mut self, id: u64) -> ExitStatus {
        self.wait_exit_within(id, DEADLINE)
            .unwrap_or_else(|| panic!("member {id} did not exit"))
    }

    /// Waits up to `bound` for member `id`'s process to exit; its status, or None.
    pub fn wait_exit_within(&mut self, id: u64, bound: Duration) -> Option<ExitStatus> {
        self.member(id).process.wait_exit(bound)
    }

    /// What `srvr` says of member `id`'s mode (None if it does not answer or serve).
    pub fn mode(&self, id: u64) -> Option<String> {
        mode(self.members[index(id)].client)
    }

    /// Waits until exactly one running member leads (`leader`, or `standalone` for an
    /// ensemble of one) and every other running one follows (as a follower or an observer);
    /// returns the leader's id.
    pub fn wait_leader(&self) -> u64 {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let modes: Vec<(u64, Option<String>)> = self
                .members
                .iter()
                .filter(|m| m.running())
                .map(|m| (m.id, self.mode(m.id)))
                .collect();
            let leaders: Vec<u64> = modes
                .iter()
                .filter(|(_, m)| matches!(m.as_deref(), Some("leader" | "standalone")))
                .map(|(id, _)| *id)
                .collect();
            let followers = modes
                .iter()
                .filter(|(_, m)| matches!(m.as_deref(), Some("follower" | "observer")))
                .count();
            if leaders.len() == 1 && followers + 1 == modes.len() {
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
        self.members[index(id)].process.log()
    }

    /// The tail of every member's log, for failure messages.
    pub fn logs(&self) -> String {
        self.members
            .iter()
            .map(|m| format!("--- member {} ---\n{}", m.id, m.process.tail(25)))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Member `id`'s index in [`Ensemble::members`].
fn index(id: u64) -> usize {
    usize::try_from(id - 1).expect("a member id")
}
