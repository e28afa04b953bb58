//! Apache ZooKeeper 3.8 (Debian's package: the jars in /usr/share/java), started by the test
//! itself: a three-member ensemble with zk-anchor.sh's settings (client ports 21811-21813,
//! quorum 21888-21890, election 31888-31890), or one standalone server on a free loopback
//! port. Options: the tickTime (2000 unless a case needs short sessions), the AdminServer
//! on free loopback ports, TTL and container nodes. Every four-letter word is allowed.
//! Everything started is killed on Drop.
//!
//! The ensemble's ports are fixed (other suites, kazoo's, use them too), so the tests that
//! start one are in the nextest test-group `apache-zookeeper` (.config/nextest.toml) and run
//! one at a time; the start still waits, bounded, until nobody holds those ports.
//!
//! Each crate names the env var that skips its ZooKeeper runs (`ZK_CLIENT_SKIP_ZOOKEEPER`,
//! `ZK_NODE_SKIP_ZOOKEEPER`): set to 1 it skips with a printed message; otherwise a missing
//! install fails the test rather than passing it silently.

use std::net::SocketAddr;
use std::net::TcpListener;
use std::net::TcpStream;
use std::path::Path;
use std::path::PathBuf;
use std::process::Child;
use std::process::Command;
use std::process::Stdio;
use std::time::Duration;
use std::time::Instant;

/// The ensemble's client ports (zk-anchor.sh's).
pub const CLIENT_PORTS: [u16; 3] = [21811, 21812, 21813];
const QUORUM_PORTS: [u16; 3] = [21888, 21889, 21890];
const ELECTION_PORTS: [u16; 3] = [31888, 31889, 31890];

/// Debian's zookeeper.jar names its dependencies in its manifest; slf4j needs a binding.
const JARS: [&str; 3] = [
    "/usr/share/java/zookeeper.jar",
    "/usr/share/java/slf4j-log4j12.jar",
    "/usr/share/java/log4j-1.2.jar",
];

/// Debian's zookeeper.jar names Jetty in its manifest but not the servlet API Jetty needs,
/// so without it ZooKeeper logs "Unable to load jetty, not starting JettyAdminServer":
/// servlet-api.jar (libservlet-api-java, which Jetty's package depends on) goes on the class
/// path when the AdminServer is on.
const SERVLET_API_JAR: &str = "/usr/share/java/servlet-api.jar";

/// How long a start (or a restart) may take before the test fails: a JVM start and an
/// election each, on a loaded two-core machine.
const READY_DEADLINE: Duration = Duration::from_secs(90);

/// How long to wait for another suite to let go of the fixed ports.
const PORTS_DEADLINE: Duration = Duration::from_secs(600);

/// What to start.
#[derive(Clone, Debug)]
pub struct Options {
    skip_var: &'static str,
    members: usize,
    tick_ms: u64,
    admin_server: bool,
    extended_types: bool,
    snap_count: Option<u64>,
}

impl Options {
    /// A three-member ensemble on the fixed ports, tickTime 2000, no AdminServer; `skip_var`
    /// is the env var that skips the caller's ZooKeeper runs.
    pub fn ensemble(skip_var: &'static str) -> Options {
        Options {
            skip_var,
            members: 3,
            tick_ms: 2000,
            admin_server: false,
            extended_types: false,
            snap_count: None,
        }
    }

    /// One standalone server on a free loopback port, tickTime 2000, no AdminServer.
    pub fn standalone(skip_var: &'static str) -> Options {
        Options {
            members: 1,
            ..Options::ensemble(skip_var)
        }
    }

    /// This tickTime (sessions' bounds are 2 and 20 ticks).
    pub fn tick_ms(mut self, tick_ms: u64) -> Options {
        self.tick_ms = tick_ms;
        self
    }

    /// The AdminServer on, each member's on a free loopback port (see [`ZooKeeper::admin`]).
    pub fn admin_server(mut self) -> Options {
        self.admin_server = true;
        self
    }

    /// TTL nodes allowed (`zookeeper.extendedTypesEnabled`).
    pub fn extended_types(mut self) -> Options {
        self.extended_types = true;
        self
    }

    /// `snapCount`: a snapshot after every half to whole of this many transactions
    /// (ZooKeeper's default is 100,000).
    pub fn snap_count(mut self, n: u64) -> Options {
        self.snap_count = Some(n);
        self
    }

    fn jars(&self) -> Vec<&'static str> {
        let mut jars = JARS.to_vec();
        if self.admin_server {
            jars.push(SERVLET_API_JAR);
        }
        jars
    }

    /// Whether the test must be skipped: only when its skip variable is 1 (with a printed
    /// message). A missing install fails here, naming the packages and the variable.
    pub fn skip(&self) -> bool {
        let var = self.skip_var;
        if std::env::var(var).as_deref() == Ok("1") {
            eprintln!("SKIPPED: Apache ZooKeeper runs ({var}=1)");
            return true;
        }
        for jar in self.jars() {
            assert!(
                Path::new(jar).exists(),
                "{jar} is missing: Apache ZooKeeper is not installed (apt-get install zookeeper \
                 zookeeper-bin); set {var}=1 to skip these tests"
            );
        }
        false
    }

    /// Starts the servers and waits (bounded) until each serves, one leading (an
    /// ensemble); starts again if a member exited at once (another suite took a fixed port
    /// between the check and the bind).
    pub fn start(&self) -> ZooKeeper {
        for _ in 0..3 {
            if let Some(zk) = ZooKeeper::try_start(self.clone()) {
                return zk;
            }
        }
        panic!("Apache ZooKeeper did not start: a member exited at start three times");
    }
}

/// Running Apache ZooKeeper servers (members, indexed from 0).
pub struct ZooKeeper {
    opts: Options,
    dir: tempfile::TempDir,
    members: Vec<Option<Child>>,
    clients: Vec<SocketAddr>,
    admins: Vec<SocketAddr>,
}

impl ZooKeeper {
    fn try_start(opts: Options) -> Option<ZooKeeper> {
        let loopback = |port| SocketAddr::from(([127, 0, 0, 1], port));
        let clients: Vec<SocketAddr> = if opts.members == 1 {
            vec![loopback(zk_chaos::ports::free_port())]
        } else {
            wait_ports_free();
            CLIENT_PORTS.iter().map(|p| loopback(*p)).collect()
        };
        let admins = if opts.admin_server {
            (0..opts.members)
                .map(|_| loopback(zk_chaos::ports::free_port()))
                .collect()
        } else {
            Vec::new()
        };
        let dir = tempfile::Builder::new()
            .prefix("zk-testkit-zookeeper")
            .tempdir()
            .expect("tempdir for Apache ZooKeeper");
        let mut zk = ZooKeeper {
            members: (0..opts.members).map(|_| None).collect(),
            opts,
            dir,
            clients,
            admins,
        };
        for i in 0..zk.len() {
            zk.configure(i);
            zk.launch(i);
        }
        zk.wait_ready(true).then_some(zk)
    }

    /// How many members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Never: there is at least one member (for clippy's `len_without_is_empty`).
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The tickTime, in milliseconds.
    pub fn tick_ms(&self) -> u64 {
        self.opts.tick_ms
    }

    /// Member `i`'s client address.
    pub fn client(&self, i: usize) -> SocketAddr {
        self.clients[i]
    }

    /// Member `i`'s AdminServer address (with [`Options::admin_server`] only).
    pub fn admin(&self, i: usize) -> SocketAddr {
        assert!(
            self.opts.admin_server,
            "started without Options::admin_server"
        );
        self.admins[i]
    }

    /// Every client address, `127.0.0.1:port`, member order.
    pub fn addrs(&self) -> Vec<String> {
        self.clients.iter().map(SocketAddr::to_string).collect()
    }

    /// Member `i`'s dataDir (its `version-2/` holds the snapshots and logs).
    pub fn data_dir(&self, i: usize) -> PathBuf {
        self.node_dir(i).join("data")
    }

    fn node_dir(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("n{}", i + 1))
    }

    fn configure(&self, i: usize) {
        let nd = self.node_dir(i);
        std::fs::create_dir_all(nd.join("data")).expect("ZooKeeper member dir");
        let mut cfg = vec![
            format!("tickTime={}", self.opts.tick_ms),
            format!("dataDir={}", nd.join("data").display()),
            format!("clientPort={}", self.clients[i].port()),
            "clientPortAddress=127.0.0.1".to_string(),
            "maxClientCnxns=0".to_string(),
            "4lw.commands.whitelist=*".to_string(),
        ];
        if let Some(n) = self.opts.snap_count {
            cfg.push(format!("snapCount={n}"));
        }
        if self.opts.admin_server {
            cfg.push("admin.enableServer=true".to_string());
            cfg.push("admin.serverAddress=127.0.0.1".to_string());
            cfg.push(format!("admin.serverPort={}", self.admins[i].port()));
        } else {
            cfg.push("admin.enableServer=false".to_string());
        }
        if self.len() > 1 {
            cfg.push("initLimit=10".to_string());
            cfg.push("syncLimit=5".to_string());
            for j in 0..self.len() {
                cfg.push(format!(
                    "server.{}=127.0.0.1:{}:{}",
                    j + 1,
                    QUORUM_PORTS[j],
                    ELECTION_PORTS[j]
                ));
            }
            std::fs::write(nd.join("data/myid"), format!("{}\n", i + 1)).expect("myid");
        }
        std::fs::write(nd.join("zoo.cfg"), cfg.join("\n") + "\n").expect("zoo.cfg");
        std::fs::write(
            nd.join("log4j.properties"),
            "log4j.rootLogger=INFO, F\n\
             log4j.appender.F=org.apache.log4j.FileAppender\n\
             log4j.appender.F.File=${zookeeper.log.dir}/zookeeper.log\n\
             log4j.appender.F.layout=org.apache.log4j.PatternLayout\n\
             log4j.appender.F.layout.ConversionPattern=%d{ISO8601} %-5p [%t] %m%n\n",
        )
        .expect("log4j.properties");
    }

    fn launch(&mut self, i: usize) {
        let nd = self.node_dir(i);
        let out = std::fs::File::create(nd.join("out.log")).expect("out.log");
        let err = out.try_clone().expect("out.log");
        let main = if self.len() > 1 {
            "org.apache.zookeeper.server.quorum.QuorumPeerMain"
        } else {
            "org.apache.zookeeper.server.ZooKeeperServerMain"
        };
        let mut java = Command::new("java");
        java.arg("-Xmx512m")
            .arg(format!("-Dzookeeper.log.dir={}", nd.display()))
            .arg(format!(
                "-Dlog4j.configuration=file:{}",
                nd.join("log4j.properties").display()
            ));
        if self.opts.extended_types {
            java.arg("-Dzookeeper.extendedTypesEnabled=true");
        }
        let child = java
            .args(["-cp", &self.opts.jars().join(":"), main])
            .arg(nd.join("zoo.cfg"))
            .current_dir(&nd)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("start java (Apache ZooKeeper)");
        self.members[i] = Some(child);
    }

    /// Member `i`'s `Mode:` (`leader`, `follower`, `standalone`), if it serves.
    fn mode_of(&self, i: usize) -> Option<String> {
        zk_chaos::fourlw::mode(&self.clients[i].to_string()).map(|m| m.trim().to_string())
    }

    fn running(&self) -> Vec<usize> {
        (0..self.len())
            .filter(|&i| self.members[i].is_some())
            .collect()
    }

    /// Until every running member serves (its AdminServer too) and, in an ensemble, exactly
    /// one leads (bounded). At start a member that exited makes it false (a port was
    /// taken: the caller starts again); later it fails the test with the logs.
    fn wait_ready(&mut self, at_start: bool) -> bool {
        let deadline = Instant::now() + READY_DEADLINE;
        loop {
            let running = self.running();
            for &i in &running {
                if let Some(Ok(Some(status))) = self.members[i].as_mut().map(Child::try_wait) {
                    assert!(
                        at_start,
                        "ZooKeeper n{} exited: {status}\n{}",
                        i + 1,
                        self.logs()
                    );
                    eprintln!("zookeeper: n{} exited at start\n{}", i + 1, self.logs());
                    return false;
                }
            }
            let modes: Vec<Option<String>> = running.iter().map(|&i| self.mode_of(i)).collect();
            let count = |want: &str| modes.iter().filter(|m| m.as_deref() == Some(want)).count();
            let serving = if self.len() == 1 {
                count("standalone") == running.len()
            } else {
                count("leader") == 1 && count("leader") + count("follower") == running.len()
            };
            let admin_up = !self.opts.admin_server
                || running.iter().all(|&i| {
                    TcpStream::connect_timeout(&self.admins[i], Duration::from_secs(1)).is_ok()
                });
            if serving && admin_up {
                return true;
            }
            assert!(
                Instant::now() < deadline,
                "ZooKeeper not ready within {READY_DEADLINE:?}: modes {modes:?}, admin \
                 servers up: {admin_up}\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(100)); // polling processes
        }
    }

    /// Waits (bounded) until every running member serves and exactly one leads.
    pub fn await_ready(&mut self) {
        self.wait_ready(false);
    }

    /// The index of the member that leads (0 for a standalone server), waiting for one
    /// (bounded).
    pub fn leader(&self) -> usize {
        if self.len() == 1 {
            return 0;
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(i) = self
                .running()
                .into_iter()
                .find(|&i| self.mode_of(i).as_deref() == Some("leader"))
            {
                return i;
            }
            assert!(Instant::now() < deadline, "no leader\n{}", self.logs());
            std::thread::sleep(Duration::from_millis(50)); // polling processes
        }
    }

    /// Sends a signal (`STOP`, `CONT`, `TERM`) to member `i`, if it runs.
    pub fn signal(&self, i: usize, sig: &str) {
        if let Some(c) = &self.members[i] {
            let _ = Command::new("kill")
                .args([&format!("-{sig}"), &c.id().to_string()])
                .status();
        }
    }

    /// kill -9 member `i` (continued first, in case it was stopped) and reaps it.
    pub fn kill(&mut self, i: usize) {
        self.signal(i, "CONT");
        if let Some(mut child) = self.members[i].take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts member `i` again (after [`ZooKeeper::kill`]) without waiting for anything.
    pub fn start_member(&mut self, i: usize) {
        if self.members[i].is_none() {
            drop_empty_tail_txn_log(&self.node_dir(i).join("data/version-2"));
            self.launch(i);
        }
    }

    /// Starts member `i` again and waits until the servers are ready.
    pub fn restart(&mut self, i: usize) {
        self.start_member(i);
        self.await_ready();
    }

    /// Waits up to `bound` for member `i`'s process to exit; true if it did (it is then
    /// stopped, as after [`ZooKeeper::kill`]).
    pub fn wait_exit(&mut self, i: usize, bound: Duration) -> bool {
        let deadline = Instant::now() + bound;
        while let Some(c) = self.members[i].as_mut() {
            if let Ok(Some(_)) = c.try_wait() {
                self.members[i] = None;
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5)); // polling a process
        }
        true
    }

    /// Puts every member back: continued, running, and ready.
    pub fn heal(&mut self) {
        for i in 0..self.len() {
            self.signal(i, "CONT");
            self.start_member(i);
        }
        self.await_ready();
    }

    /// The end of every member's logs, for failure messages.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        for i in 0..self.len() {
            for f in ["out.log", "zookeeper.log"] {
                let t = std::fs::read_to_string(self.node_dir(i).join(f)).unwrap_or_default();
                let lines: Vec<&str> = t.lines().collect();
                out += &format!(
                    "--- n{}/{f} ---\n{}\n",
                    i + 1,
                    lines[lines.len().saturating_sub(15)..].join("\n")
                );
            }
        }
        out
    }
}

impl Drop for ZooKeeper {
    fn drop(&mut self) {
        for i in 0..self.len() {
            self.kill(i);
        }
    }
}

/// A ZooKeeper 3.8 member killed between creating a new transaction log file and writing
/// its header leaves an empty `log.<zxid>`, and then never starts again (EOFException in
/// `FileTxnIterator.inStreamCreated`; CI met it once in a restart case). ZOOKEEPER-2332
/// (fixed in 3.9.3) makes ZooKeeper delete that file itself, since an empty file holds no
/// transaction; Debian's 3.8 lacks the fix, so the kit does what 3.9.3 does before a
/// restart: the newest log file, and only when it is empty.
fn drop_empty_tail_txn_log(version2: &Path) {
    let Ok(entries) = std::fs::read_dir(version2) else {
        return; // never started: nothing written yet
    };
    let newest = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let zxid = u64::from_str_radix(name.strip_prefix("log.")?, 16).ok()?;
            Some((zxid, e.path()))
        })
        .max_by_key(|(zxid, _)| *zxid);
    if let Some((_, path)) = newest {
        if std::fs::metadata(&path).is_ok_and(|m| m.len() == 0) {
            eprintln!(
                "zookeeper: removing the empty tail log {} (ZOOKEEPER-2332)",
                path.display()
            );
            let _ = std::fs::remove_file(&path);
        }
    }
}

/// The ensemble's ports are fixed and other suites use them too: wait, bounded, until all
/// can be bound (the standard library sets SO_REUSEADDR, so a closed connection's
/// TIME_WAIT does not count as busy).
fn wait_ports_free() {
    let deadline = Instant::now() + PORTS_DEADLINE;
    loop {
        let busy: Vec<u16> = CLIENT_PORTS
            .iter()
            .chain(&QUORUM_PORTS)
            .chain(&ELECTION_PORTS)
            .copied()
            .filter(|p| TcpListener::bind(("127.0.0.1", *p)).is_err())
            .collect();
        if busy.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "ZooKeeper ports {busy:?} stayed busy (another suite's ensemble?)"
        );
        eprintln!("zookeeper: ports {busy:?} busy (another suite?), waiting");
        std::thread::sleep(Duration::from_secs(2)); // polling someone else's processes
    }
}
