//! Apache ZooKeeper 3.8 (Debian's package) as a three-node ensemble through
//! `../shared/tools/zk-anchor.sh` (fixed client ports 21811-21813, tickTime 2000); stopped on
//! drop.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::Servers;

/// The env var that skips the Apache ZooKeeper runs (with a printed message).
pub const SKIP_VAR: &str = "ZK_CLIENT_SKIP_ZOOKEEPER";

/// zk-anchor.sh, found from the workspace root.
pub fn anchor() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.join("../shared/tools/zk-anchor.sh")
}

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
    assert!(anchor().exists(), "{} is missing", anchor().display());
    false
}

/// The ports are fixed and other suites (kazoo's) use them too: wait, bounded, until no
/// ZooKeeper answers on them.
fn wait_ports_free() {
    let deadline = std::time::Instant::now() + Duration::from_secs(600);
    loop {
        let busy: Vec<String> = (1..=3)
            .map(|i| format!("127.0.0.1:2181{i}"))
            .filter(|a| super::four_letter(a, "ruok").is_some_and(|r| !r.is_empty()))
            .collect();
        if busy.is_empty() {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "ZooKeeper ports {busy:?} stayed busy (another suite's ensemble?)"
        );
        eprintln!("zookeeper: ports {busy:?} busy (another suite?), waiting");
        std::thread::sleep(Duration::from_secs(2)); // polling someone else's processes
    }
}

fn run(args: &[&str]) -> String {
    let out = Command::new("bash")
        .arg(anchor())
        .args(args)
        .output()
        .expect("run zk-anchor.sh");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "zk-anchor.sh {args:?} failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// A three-node Apache ZooKeeper ensemble.
pub struct ZooKeeper {
    dir: tempfile::TempDir,
}

impl ZooKeeper {
    /// Starts the ensemble and waits for a leader.
    pub fn start3() -> ZooKeeper {
        wait_ports_free();
        let dir = tempfile::Builder::new()
            .prefix("zk-client-zookeeper")
            .tempdir()
            .expect("tempdir");
        run(&["start3", &dir.path().to_string_lossy()]);
        ZooKeeper { dir }
    }

    fn d(&self) -> String {
        self.dir.path().to_string_lossy().to_string()
    }

    fn pid(&self, i: usize) -> Option<String> {
        std::fs::read_to_string(self.dir.path().join(format!("n{}/pid", i + 1)))
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
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
        }
        run(&["restart-down", &self.d()]);
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
        let out = run(&["leader", &self.d()]);
        // "n2 21812 PID"
        out.split_whitespace()
            .next()
            .and_then(|n| n.strip_prefix('n'))
            .and_then(|n| n.parse::<usize>().ok())
            .map(|n| n - 1)
            .unwrap_or_else(|| panic!("no leader: {out:?}"))
    }

    fn kill(&mut self, i: usize) {
        if let Some(pid) = self.pid(i) {
            let _ = Command::new("kill").args(["-CONT", &pid]).status();
            let _ = Command::new("kill").args(["-KILL", &pid]).status();
            let deadline = std::time::Instant::now() + super::DEADLINE;
            while Path::new(&format!("/proc/{pid}")).exists()
                && std::time::Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(20)); // polling a process
            }
            // zk-anchor's launch waits for a non-empty pid file: a stale one would make it
            // check the dead process and report the restarted node as died.
            let _ = std::fs::remove_file(self.dir.path().join(format!("n{}/pid", i + 1)));
        }
    }

    fn restart(&mut self, i: usize) {
        run(&["restart", &(i + 1).to_string(), &self.d()]);
    }

    fn min_timeout(&self) -> Duration {
        Duration::from_millis(4000)
    }

    fn max_timeout(&self) -> Duration {
        Duration::from_millis(40_000)
    }

    fn test_timeout(&self) -> Duration {
        Duration::from_millis(4000)
    }
}

impl Drop for ZooKeeper {
    fn drop(&mut self) {
        for i in 0..3 {
            self.signal(i, "CONT");
        }
        let _ = Command::new("bash")
            .arg(anchor())
            .args(["stop", &self.d()])
            .output();
    }
}
