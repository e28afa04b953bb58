//! One zk-node process: spawned with its stderr appended to a log file, signalled, waited for
//! under a bound, and killed and reaped on drop.

use std::path::Path;
use std::path::PathBuf;
use std::process::Child;
use std::process::Command;
use std::process::ExitStatus;
use std::process::Stdio;
use std::time::Duration;
use std::time::Instant;

/// A running (or exited) zk-node process.
pub struct Process {
    child: Option<Child>,
    log: PathBuf,
}

impl Process {
    /// Starts `bin` with `args`, its stderr appended to `log` (kept across restarts, so a
    /// failure message shows every run of the member).
    pub fn spawn(bin: &Path, args: &[String], log: &Path) -> Process {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap_or_else(|e| panic!("log file {}: {e}", log.display()));
        let child = Command::new(bin)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", bin.display()));
        Process {
            child: Some(child),
            log: log.to_path_buf(),
        }
    }

    /// A process not started yet, whose log will be `log`.
    pub fn not_started(log: &Path) -> Process {
        Process {
            child: None,
            log: log.to_path_buf(),
        }
    }

    /// Whether the process was started and has not been reaped (it may have exited since).
    pub fn started(&self) -> bool {
        self.child.is_some()
    }

    /// Its exit status if it has exited (reaped then), None while it runs or if never started.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        let status = self.child.as_mut()?.try_wait().ok()??;
        self.child = None;
        Some(status)
    }

    /// The process id, None once reaped.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Sends `signal` (`STOP`, `CONT`, `TERM`, ...); false if it is not running or `kill`
    /// failed.
    pub fn signal(&self, signal: &str) -> bool {
        let Some(pid) = self.pid() else {
            return false;
        };
        Command::new("kill")
            .args([&format!("-{signal}"), &pid.to_string()])
            .status()
            .is_ok_and(|s| s.success())
    }

    /// kill -9 and reap (a stopped process is continued first, so it dies at once).
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-CONT", &c.id().to_string()])
                .status();
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Waits up to `bound` for the process to exit; its status (reaped then), or None.
    pub fn wait_exit(&mut self, bound: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + bound;
        loop {
            if let Some(status) = self.exited() {
                return Some(status);
            }
            if self.child.is_none() || Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5)); // polling a process
        }
    }

    /// SIGTERM, then its exit status within `bound` (the test fails if it does not exit).
    pub fn terminate(&mut self, bound: Duration) -> ExitStatus {
        assert!(self.signal("TERM"), "zk-node is not running");
        match self.wait_exit(bound) {
            Some(status) => status,
            None => panic!("zk-node ignored SIGTERM for {bound:?}:\n{}", self.tail(40)),
        }
    }

    /// Its whole log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The last `lines` lines of its log, for failure messages.
    pub fn tail(&self, lines: usize) -> String {
        let text = self.log();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill9();
    }
}
