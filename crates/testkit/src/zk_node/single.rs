//! One zk-node on its own (no `--peers`): the server most tests need.

use std::net::SocketAddr;
use std::path::Path;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Instant;

use super::binary;
use super::command_line;
use super::free_loopback;
use super::mode;
use super::Process;
use super::DEADLINE;
use super::LOG_LEVEL;
use super::TICK_MS;

/// A running zk-node on free loopback ports, with `--tick-ms 200` (sessions expire fast) and
/// its admin server on a port of its own; killed on drop.
pub struct Single {
    /// Its client address.
    pub addr: SocketAddr,
    /// Its admin HTTP server's address.
    pub admin: SocketAddr,
    /// Its data directory (kept across restarts).
    pub data_dir: PathBuf,
    process: Process,
    log: PathBuf,
    extra: Vec<String>,
    _dir: Option<tempfile::TempDir>,
}

impl Single {
    /// Starts a node in a fresh directory and waits until it serves.
    pub fn start() -> Single {
        Single::start_with(&[])
    }

    /// Starts a node in a fresh directory with `extra` flags (after the defaults, so they
    /// win) and waits until it serves.
    pub fn start_with(extra: &[&str]) -> Single {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut node = Single::prepare(&dir.path().join("data"), extra);
        node._dir = Some(dir);
        node.spawn();
        node
    }

    /// Starts a node on `data_dir` (its log beside it, `<data_dir>.log`) with `extra` flags
    /// and waits until it serves.
    pub fn start_in(data_dir: &Path, extra: &[&str]) -> Single {
        let mut node = Single::prepare(data_dir, extra);
        node.spawn();
        node
    }

    fn prepare(data_dir: &Path, extra: &[&str]) -> Single {
        Single {
            addr: free_loopback(),
            admin: free_loopback(),
            data_dir: data_dir.to_path_buf(),
            process: Process::not_started(&data_dir.with_extension("log")),
            log: data_dir.with_extension("log"),
            extra: extra.iter().map(|s| s.to_string()).collect(),
            _dir: None,
        }
    }

    /// Starts the process on new free ports and waits until it serves; a port taken between
    /// the probe and the bind is tried again on others.
    fn spawn(&mut self) {
        let deadline = Instant::now() + DEADLINE;
        loop {
            self.addr = free_loopback();
            self.admin = free_loopback();
            let defaults = [
                ("--client-addr", self.addr.to_string()),
                ("--data-dir", self.data_dir.display().to_string()),
                ("--admin-port", self.admin.port().to_string()),
                ("--tick-ms", TICK_MS.to_string()),
                ("--log-level", LOG_LEVEL.to_string()),
            ];
            let args = command_line(&defaults, &self.extra);
            self.process = Process::spawn(&binary(), &args, &self.log);
            if self.wait_serving(deadline) {
                return;
            }
            self.process.kill9();
            assert!(
                Instant::now() < deadline,
                "zk-node did not start:\n{}",
                self.log_tail()
            );
        }
    }

    /// Waits until `srvr` names a mode (a node serves once caught up, S9.6); false if the
    /// process exited first (its port was taken, say) or the deadline passed.
    fn wait_serving(&mut self, deadline: Instant) -> bool {
        while Instant::now() < deadline {
            if self.process.exited().is_some() {
                return false;
            }
            if mode(self.addr).is_some() {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(20)); // polling a process
        }
        false
    }

    /// Starts the node again on the same data dir (new ports) and waits until it serves.
    pub fn restart(&mut self) {
        self.process.kill9();
        self.spawn();
    }

    /// SIGTERM, then its exit status (bounded).
    pub fn terminate(&mut self) -> ExitStatus {
        self.process.terminate(DEADLINE)
    }

    /// kill -9 and reap.
    pub fn kill9(&mut self) {
        self.process.kill9();
    }

    /// Sends `signal` to the process (false if it is not running).
    pub fn signal(&self, signal: &str) -> bool {
        self.process.signal(signal)
    }

    /// The process id (0 once it is gone).
    pub fn pid(&self) -> u32 {
        self.process.pid().unwrap_or(0)
    }

    /// Its whole log.
    pub fn log(&self) -> String {
        self.process.log()
    }

    /// The end of its log, for failure messages.
    pub fn log_tail(&self) -> String {
        self.process.tail(40)
    }

    /// Waits (bounded) until its log has `needle`.
    pub fn wait_log(&self, needle: &str) {
        let deadline = Instant::now() + DEADLINE;
        while !self.log().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "no {needle:?} in the log:\n{}",
                self.log_tail()
            );
            std::thread::sleep(std::time::Duration::from_millis(20)); // polling a file
        }
    }
}
