//! Real `zk-node` processes on free loopback ports (one node, or a three-node ensemble), with
//! `--tick-ms 200` so sessions expire quickly; killed on drop.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{four_letter, mode, Servers, DEADLINE};

pub const TICK_MS: u64 = 200;

pub use zk_testkit::zk_node::binary;

pub use zk_chaos::ports::free_port;

struct Member {
    client: String,
    peer: u16,
    data: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

/// One zk-node, or three forming an ensemble.
pub struct ZkNodes {
    members: Vec<Member>,
    peers: Option<String>,
    _dir: tempfile::TempDir,
}

impl ZkNodes {
    /// A one-node ensemble.
    pub fn single() -> ZkNodes {
        ZkNodes::start(1)
    }

    /// A three-node ensemble with a leader.
    pub fn ensemble() -> ZkNodes {
        ZkNodes::start(3)
    }

    fn start(n: usize) -> ZkNodes {
        let dir = tempfile::tempdir().expect("tempdir");
        let members: Vec<Member> = (0..n)
            .map(|i| Member {
                client: format!("127.0.0.1:{}", free_port()),
                peer: free_port(),
                data: dir.path().join(format!("n{}", i + 1)),
                log: dir.path().join(format!("n{}.log", i + 1)),
                child: None,
            })
            .collect();
        let peers = (n > 1).then(|| {
            members
                .iter()
                .enumerate()
                .map(|(i, m)| format!("{}=127.0.0.1:{}", i + 1, m.peer))
                .collect::<Vec<_>>()
                .join(",")
        });
        let mut s = ZkNodes {
            members,
            peers,
            _dir: dir,
        };
        for i in 0..n {
            s.spawn(i);
        }
        s.wait_ready();
        s
    }

    fn spawn(&mut self, i: usize) {
        let bin = binary();
        let peers = self.peers.clone();
        let m = &mut self.members[i];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&m.log)
            .expect("log file");
        let mut cmd = Command::new(bin);
        cmd.args(["--client-addr", &m.client])
            .arg("--data-dir")
            .arg(&m.data)
            .args(["--tick-ms", &TICK_MS.to_string()])
            .args(["--log-level", "info,openraft=warn"]);
        if let Some(p) = peers {
            cmd.args(["--id", &(i + 1).to_string(), "--peers", &p]);
            cmd.args(["--peer-listen", &format!("127.0.0.1:{}", m.peer)]);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn zk-node");
        m.child = Some(child);
    }

    /// Waits until every running member serves (one leader in an ensemble).
    fn wait_ready(&self) {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let running: Vec<&Member> = self.members.iter().filter(|m| m.child.is_some()).collect();
            let modes: Vec<Option<String>> = running.iter().map(|m| mode(&m.client)).collect();
            let serving = modes.iter().all(|m| {
                matches!(
                    m.as_deref(),
                    Some("standalone") | Some("leader") | Some("follower")
                )
            });
            let leaders = modes
                .iter()
                .filter(|m| matches!(m.as_deref(), Some("leader") | Some("standalone")))
                .count();
            if serving && leaders == 1 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "zk-node not ready: {modes:?}\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(50)); // polling processes
        }
    }

    /// The tail of every member's log.
    pub fn logs(&self) -> String {
        self.members
            .iter()
            .map(|m| {
                let t = std::fs::read_to_string(&m.log).unwrap_or_default();
                let lines: Vec<&str> = t.lines().collect();
                format!(
                    "--- {} ---\n{}",
                    m.client,
                    lines[lines.len().saturating_sub(20)..].join("\n")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Sends a signal (STOP/CONT) to member `i`.
    pub fn signal(&self, i: usize, sig: &str) {
        if let Some(c) = &self.members[i].child {
            let _ = Command::new("kill")
                .args([&format!("-{sig}"), &c.id().to_string()])
                .status();
        }
    }
}

impl Servers for ZkNodes {
    fn name(&self) -> &'static str {
        "zk-node"
    }

    fn addrs(&self) -> Vec<String> {
        self.members.iter().map(|m| m.client.clone()).collect()
    }

    fn leader(&self) -> usize {
        let deadline = Instant::now() + DEADLINE;
        loop {
            for (i, m) in self.members.iter().enumerate() {
                if m.child.is_some()
                    && matches!(
                        mode(&m.client).as_deref(),
                        Some("leader") | Some("standalone")
                    )
                {
                    return i;
                }
            }
            assert!(Instant::now() < deadline, "no leader\n{}", self.logs());
            std::thread::sleep(Duration::from_millis(50)); // polling processes
        }
    }

    fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.members[i].child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn restart(&mut self, i: usize) {
        if self.members[i].child.is_none() {
            self.spawn(i);
        }
        self.wait_ready();
        let _ = four_letter(&self.members[i].client, "ruok");
    }

    fn start_member(&mut self, i: usize) {
        if self.members[i].child.is_none() {
            self.spawn(i);
        }
    }

    fn await_ready(&mut self) {
        self.wait_ready();
    }

    fn send_signal(&self, i: usize, sig: &str) {
        self.signal(i, sig);
    }

    fn wait_exit(&mut self, i: usize, bound: Duration) -> bool {
        wait_child_exit(&mut self.members[i].child, bound)
    }

    fn min_timeout(&self) -> Duration {
        Duration::from_millis(2 * TICK_MS)
    }

    fn max_timeout(&self) -> Duration {
        Duration::from_millis(20 * TICK_MS)
    }

    fn test_timeout(&self) -> Duration {
        Duration::from_millis(2000)
    }
}

/// Waits up to `bound` for `child` to exit; true (and `child` taken) if it did.
pub fn wait_child_exit(child: &mut Option<Child>, bound: Duration) -> bool {
    let deadline = Instant::now() + bound;
    while let Some(c) = child.as_mut() {
        if let Ok(Some(_)) = c.try_wait() {
            *child = None;
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5)); // polling a process
    }
    true
}

impl Drop for ZkNodes {
    fn drop(&mut self) {
        for m in &mut self.members {
            if let Some(mut c) = m.child.take() {
                let _ = Command::new("kill")
                    .args(["-CONT", &c.id().to_string()])
                    .status();
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}
