//! Apache ZooKeeper 3.8 (Debian's package) as a three-node ensemble with its AdminServer on,
//! for comparing answers: zk-anchor.sh's ports (client 21811-21813, quorum 21888-21890,
//! election 31888-31890), the admin servers on free loopback ports. Stopped on drop.
//!
//! Debian's zookeeper.jar names Jetty in its manifest but not the servlet API Jetty needs,
//! so ZooKeeper logs "Unable to load jetty, not starting JettyAdminServer" without it:
//! servlet-api.jar (libservlet-api-java, which Jetty's package depends on) goes on the class
//! path too.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Child;
use std::process::Command;
use std::process::Stdio;
use std::time::Duration;
use std::time::Instant;

use super::four_letter;
use super::free_port;

/// The env var that skips the Apache ZooKeeper runs (with a printed message).
pub const SKIP_VAR: &str = "ZK_NODE_SKIP_ZOOKEEPER";

const CLASSPATH: &str = "/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-log4j12.jar:\
     /usr/share/java/log4j-1.2.jar:/usr/share/java/servlet-api.jar";
const CLIENT_PORTS: [u16; 3] = [21811, 21812, 21813];
const QUORUM_PORTS: [u16; 3] = [21888, 21889, 21890];
const ELECTION_PORTS: [u16; 3] = [31888, 31889, 31890];

/// Whether to skip (only when asked to): a missing install is a failure.
pub fn skip() -> bool {
    if std::env::var(SKIP_VAR).as_deref() == Ok("1") {
        eprintln!("SKIPPED: Apache ZooKeeper runs ({SKIP_VAR}=1)");
        return true;
    }
    for jar in CLASSPATH.split(':') {
        assert!(
            Path::new(jar).exists(),
            "{jar} is missing (apt-get install zookeeper zookeeper-bin); set {SKIP_VAR}=1 to \
             skip the comparisons with Apache ZooKeeper"
        );
    }
    false
}

/// A three-node Apache ZooKeeper ensemble with admin servers.
pub struct ZooKeeper {
    dir: tempfile::TempDir,
    members: Vec<Child>,
    /// Each member's client address.
    pub clients: Vec<SocketAddr>,
    /// Each member's admin server address.
    pub admins: Vec<SocketAddr>,
}

impl ZooKeeper {
    /// Starts the ensemble and waits (bounded) for one leader and two followers; starts
    /// again if a member could not bind its fixed ports (another suite took them meanwhile).
    pub fn start3() -> ZooKeeper {
        for _ in 0..3 {
            if let Some(zk) = ZooKeeper::try_start3() {
                return zk;
            }
        }
        panic!("Apache ZooKeeper did not start (its fixed ports stayed taken)");
    }

    fn try_start3() -> Option<ZooKeeper> {
        wait_ports_free();
        let dir = tempfile::Builder::new()
            .prefix("zk-node-zookeeper")
            .tempdir()
            .expect("tempdir");
        let clients: Vec<SocketAddr> = CLIENT_PORTS
            .iter()
            .map(|p| SocketAddr::from(([127, 0, 0, 1], *p)))
            .collect();
        let admins: Vec<SocketAddr> = (0..3)
            .map(|_| SocketAddr::from(([127, 0, 0, 1], free_port())))
            .collect();
        let members = (0..3)
            .map(|i| launch(dir.path(), i, admins[i].port()))
            .collect();
        let mut zk = ZooKeeper {
            dir,
            members,
            clients,
            admins,
        };
        zk.wait_ready().then_some(zk)
    }

    /// The leader's index.
    pub fn leader(&self) -> usize {
        (0..3)
            .find(|&i| mode(self.clients[i]).as_deref() == Some("leader"))
            .unwrap_or_else(|| panic!("no leader\n{}", self.logs()))
    }

    /// True once ready; false if a member exited (its ports were taken).
    fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if self
                .members
                .iter_mut()
                .any(|c| matches!(c.try_wait(), Ok(Some(_))))
            {
                eprintln!("zookeeper: a member exited at start\n{}", self.logs());
                return false;
            }
            let modes: Vec<Option<String>> = self.clients.iter().map(|a| mode(*a)).collect();
            let leaders = modes
                .iter()
                .filter(|m| m.as_deref() == Some("leader"))
                .count();
            let followers = modes
                .iter()
                .filter(|m| m.as_deref() == Some("follower"))
                .count();
            let admin_up = self
                .admins
                .iter()
                .all(|a| std::net::TcpStream::connect_timeout(a, Duration::from_secs(1)).is_ok());
            if leaders == 1 && followers == 2 && admin_up {
                return true;
            }
            assert!(
                Instant::now() < deadline,
                "ZooKeeper not ready: {modes:?}, admin servers up: {admin_up}\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(100)); // polling processes
        }
    }

    /// The end of every member's log, for failure messages.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        for i in 1..=3 {
            let p = self.dir.path().join(format!("n{i}/zookeeper.log"));
            let t = std::fs::read_to_string(&p).unwrap_or_default();
            let lines: Vec<&str> = t.lines().collect();
            out += &format!(
                "--- n{i} ---\n{}\n",
                lines[lines.len().saturating_sub(15)..].join("\n")
            );
        }
        out
    }
}

impl Drop for ZooKeeper {
    fn drop(&mut self) {
        for c in &mut self.members {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn mode(addr: SocketAddr) -> Option<String> {
    let text = four_letter(addr, "srvr")?;
    text.lines()
        .find_map(|l| l.strip_prefix("Mode: "))
        .map(|m| m.trim().to_string())
}

/// The ports are fixed and other suites use them too: wait, bounded, until all can be
/// bound.
fn wait_ports_free() {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let busy: Vec<u16> = CLIENT_PORTS
            .iter()
            .chain(&QUORUM_PORTS)
            .chain(&ELECTION_PORTS)
            .copied()
            .filter(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_err())
            .collect();
        if busy.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "ZooKeeper ports {busy:?} stayed busy"
        );
        eprintln!("zookeeper: ports {busy:?} busy (another suite?), waiting");
        std::thread::sleep(Duration::from_secs(2)); // polling someone else's processes
    }
}

fn launch(dir: &Path, i: usize, admin_port: u16) -> Child {
    let nd = dir.join(format!("n{}", i + 1));
    std::fs::create_dir_all(nd.join("data")).expect("node dir");
    let mut cfg = vec![
        "tickTime=2000".to_string(),
        "initLimit=10".to_string(),
        "syncLimit=5".to_string(),
        format!("dataDir={}", nd.join("data").display()),
        format!("clientPort={}", CLIENT_PORTS[i]),
        "clientPortAddress=127.0.0.1".to_string(),
        "maxClientCnxns=0".to_string(),
        "admin.enableServer=true".to_string(),
        "admin.serverAddress=127.0.0.1".to_string(),
        format!("admin.serverPort={admin_port}"),
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
    let out = std::fs::File::create(nd.join("out.log")).expect("out.log");
    let err = out.try_clone().expect("out.log");
    Command::new("java")
        .arg("-Xmx256m")
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
        .current_dir(&nd)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("start java (Apache ZooKeeper)")
}
