//! Apache ZooKeeper 3.8 (Debian's package: the jars in /usr/share/java) as a three-node
//! ensemble started by this harness itself, with zk-anchor.sh's settings (client ports
//! 21811-21813, quorum 21888-21890, election 31888-31890, tickTime 2000, or another tick for
//! cases that need short sessions); stopped on drop.

use std::path::Path;
use std::path::PathBuf;
use std::process::Child;
use std::process::Command;
use std::process::Stdio;
use std::time::Duration;
use std::time::Instant;

use super::Servers;

/// The env var that skips the Apache ZooKeeper runs (with a printed message).
pub const SKIP_VAR: &str = "ZK_CLIENT_SKIP_ZOOKEEPER";

/// Debian's zookeeper.jar names its dependencies in its manifest; slf4j needs a binding.
const CLASSPATH: &str =
    "/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-log4j12.jar:/usr/share/java/log4j-1.2.jar";
const CLIENT_PORTS: [u16; 3] = [21811, 21812, 21813];
const QUORUM_PORTS: [u16; 3] = [21888, 21889, 21890];
const ELECTION_PORTS: [u16; 3] = [31888, 31889, 31890];

/// Whether the tests must be skipped (only when asked to): a missing install is a failure.
pub fn skip() -> bool {
    if std::env::var(SKIP_VAR).as_deref() == Ok("1") {
        eprintln!("SKIPPED: Apache ZooKeeper runs ({SKIP_VAR}=1)");
        return true;
    }
    assert!(
        Path::new("/usr/share/java/zookeeper.jar").exists(),
        "Apache ZooKeeper is not installed (apt-get install zookeeper zookeeper-bin); \
         set {SKIP_VAR}=1 to skip these tests"
    );
    false
}

/// The ports are fixed and other suites (kazoo's) use them too: wait, bounded, until no
/// ZooKeeper answers on them.
fn wait_ports_free() {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let busy: Vec<String> = (1..=3)
            .map(|i| format!("127.0.0.1:2181{i}"))
            .filter(|a| super::four_letter(a, "ruok").is_some_and(|r| !r.is_empty()))
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

fn mode_of(i: usize) -> Option<String> {
    let text = super::four_letter(&format!("127.0.0.1:{}", CLIENT_PORTS[i]), "srvr")?;
    text.lines()
        .find_map(|l| l.strip_prefix("Mode: "))
        .map(|m| m.trim().to_string())
}

/// A three-node Apache ZooKeeper ensemble.
pub struct ZooKeeper {
    dir: tempfile::TempDir,
    members: [Option<Child>; 3],
    tick_ms: u64,
}

impl ZooKeeper {
    /// Starts the ensemble (tickTime 2000) and waits for a leader.
    pub fn start3() -> ZooKeeper {
        ZooKeeper::start3_with_tick(2000)
    }

    /// Starts the ensemble with this tickTime and waits for a leader.
    pub fn start3_with_tick(tick_ms: u64) -> ZooKeeper {
        wait_ports_free();
        let dir = tempfile::Builder::new()
            .prefix("zk-client-zookeeper")
            .tempdir()
            .expect("tempdir");
        let mut zk = ZooKeeper {
            dir,
            members: [None, None, None],
            tick_ms,
        };
        for i in 0..3 {
            zk.configure(i);
            zk.launch(i);
        }
        zk.wait_ready();
        zk
    }

    fn node_dir(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("n{}", i + 1))
    }

    fn configure(&self, i: usize) {
        let nd = self.node_dir(i);
        std::fs::create_dir_all(nd.join("data")).expect("node dir");
        let mut cfg = vec![
            format!("tickTime={}", self.tick_ms),
            "initLimit=10".to_string(),
            "syncLimit=5".to_string(),
            format!("dataDir={}", nd.join("data").display()),
            format!("clientPort={}", CLIENT_PORTS[i]),
            "clientPortAddress=127.0.0.1".to_string(),
            "maxClientCnxns=0".to_string(),
            "admin.enableServer=false".to_string(),
            "4lw.commands.whitelist=*".to_string(),
        ];
        for j in 0..3 {
            cfg.push(format!(
                "server.{}=127.0.0.1:{}:{}",
                j + 1,
                QUORUM_PORTS[j],
                ELECTION_PORTS[j]
            ));
        }
        std::fs::write(nd.join("zoo.cfg"), cfg.join("\n") + "\n").expect("zoo.cfg");
        std::fs::write(nd.join("data/myid"), format!("{}\n", i + 1)).expect("myid");
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
        let child = Command::new("java")
            .arg("-Xmx512m")
            .arg(format!("-Dzookeeper.log.dir={}", nd.display()))
            .arg(format!(
                "-Dlog4j.configuration=file:{}",
                nd.join("log4j.properties").display()
            ))
            .args([
                "-cp",
                CLASSPATH,
                "org.apache.zookeeper.server.quorum.QuorumPeerMain",
            ])
            .arg(nd.join("zoo.cfg"))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("start java (Apache ZooKeeper)");
        self.members[i] = Some(child);
    }

    /// Until every running member serves and exactly one leads (bounded).
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let running: Vec<usize> = (0..3).filter(|&i| self.members[i].is_some()).collect();
            let modes: Vec<Option<String>> = running.iter().map(|&i| mode_of(i)).collect();
            let leaders = modes
                .iter()
                .filter(|m| m.as_deref() == Some("leader"))
                .count();
            let followers = modes
                .iter()
                .filter(|m| m.as_deref() == Some("follower"))
                .count();
            if leaders == 1 && leaders + followers == running.len() {
                return;
            }
            for i in running {
                if let Some(Ok(Some(status))) = self.members[i].as_mut().map(Child::try_wait) {
                    panic!("ZooKeeper n{} exited: {status}\n{}", i + 1, self.logs());
                }
            }
            assert!(
                Instant::now() < deadline,
                "ZooKeeper not ready: {modes:?}\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(100)); // polling processes
        }
    }

    fn pid(&self, i: usize) -> Option<String> {
        self.members[i].as_ref().map(|c| c.id().to_string())
    }

    /// Sends a signal (STOP/CONT) to member `i`.
    pub fn signal(&self, i: usize, sig: &str) {
        if let Some(pid) = self.pid(i) {
            let _ = Command::new("kill")
                .args([&format!("-{sig}"), &pid])
                .status();
        }
    }

    /// The end of every member's logs, for failure messages.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        for i in 1..=3 {
            for f in ["out.log", "zookeeper.log"] {
                let p = self.dir.path().join(format!("n{i}/{f}"));
                let t = std::fs::read_to_string(&p).unwrap_or_default();
                let lines: Vec<&str> = t.lines().collect();
                out += &format!(
                    "--- n{i}/{f} ---\n{}\n",
                    lines[lines.len().saturating_sub(15)..].join("\n")
                );
            }
        }
        out
    }

    /// Puts every member back: continued and running.
    pub fn heal(&mut self) {
        for i in 0..3 {
            self.signal(i, "CONT");
            if self.members[i].is_none() {
                self.launch(i);
            }
        }
        self.wait_ready();
    }
}

impl Servers for ZooKeeper {
    fn name(&self) -> &'static str {
        "zookeeper"
    }

    fn addrs(&self) -> Vec<String> {
        (1..=3).map(|i| format!("127.0.0.1:2181{i}")).collect()
    }

    fn leader(&self) -> usize {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(i) = (0..3)
                .filter(|&i| self.members[i].is_some())
                .find(|&i| mode_of(i).as_deref() == Some("leader"))
            {
                return i;
            }
            assert!(Instant::now() < deadline, "no leader\n{}", self.logs());
            std::thread::sleep(Duration::from_millis(50)); // polling processes
        }
    }

    fn kill(&mut self, i: usize) {
        self.signal(i, "CONT");
        if let Some(mut child) = self.members[i].take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn restart(&mut self, i: usize) {
        self.launch(i);
        self.wait_ready();
    }

    fn start_member(&mut self, i: usize) {
        if self.members[i].is_none() {
            self.launch(i);
        }
    }

    fn await_ready(&mut self) {
        self.wait_ready();
    }

    fn send_signal(&self, i: usize, sig: &str) {
        self.signal(i, sig);
    }

    fn wait_exit(&mut self, i: usize, bound: Duration) -> bool {
        super::zk_node::wait_child_exit(&mut self.members[i], bound)
    }

    /// No: measured here (`judged_cases_against_apache_zookeeper_3_8` with this always
    /// true), ZooKeeper 3.8 expires every session whose timeout passed while its leader and
    /// a follower were stopped, the moment they run again: its session tracker judges by the
    /// clock as soon as the leader's thread runs, and the follower that woke with it makes
    /// the quorum that commits the closes.
    fn keeps_sessions_through_a_leader_pause(&self) -> bool {
        false
    }

    fn min_timeout(&self) -> Duration {
        Duration::from_millis(2 * self.tick_ms)
    }

    fn max_timeout(&self) -> Duration {
        Duration::from_millis(20 * self.tick_ms)
    }

    fn test_timeout(&self) -> Duration {
        Duration::from_millis((2 * self.tick_ms).max(2000))
    }
}

impl Drop for ZooKeeper {
    fn drop(&mut self) {
        for i in 0..3 {
            self.kill(i);
        }
    }
}
