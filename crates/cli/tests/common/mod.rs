//! Test support: real servers (a one-node zk-node, a standalone Apache ZooKeeper 3.8), the
//! zk-cli binary run with a deadline, tmux-driven terminals, and bounded polling. Everything
//! started here is killed by a Drop guard.

// Each test binary uses its own part of this module.
#![allow(dead_code, unused_imports)]

pub mod tmux;
pub mod zk_node;
pub mod zookeeper;

use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long any single wait (a server starting, a command, a text on screen) may take.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// The zk-cli binary under test.
pub fn zk_cli_bin() -> &'static str {
    env!("CARGO_BIN_EXE_zk-cli")
}

pub use zk_chaos::ports::free_port;

/// Polls `f` until it returns Some, failing the test after [`DEADLINE`] with `what` and the
/// last value seen (`describe`).
pub fn poll<T>(what: &str, mut f: impl FnMut() -> Option<T>, describe: impl Fn() -> String) -> T {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not within {DEADLINE:?}\n{}",
            describe()
        );
        std::thread::sleep(Duration::from_millis(50)); // polling with a deadline
    }
}

/// What a zk-cli run produced.
#[derive(Debug)]
pub struct Run {
    /// The exit status (-1 if killed by a signal).
    pub code: i32,
    /// Everything on stdout.
    pub stdout: String,
    /// Everything on stderr.
    pub stderr: String,
}

/// Runs `zk-cli ARGS` (no ZK_CLI_* variables inherited), killed if it takes longer than
/// [`DEADLINE`].
pub fn zk_cli(args: &[&str]) -> Run {
    let mut cmd = Command::new(zk_cli_bin());
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for var in [
        "ZK_CLI_SERVER",
        "ZK_CLI_TIMEOUT_MS",
        "ZK_CLI_SESSION_TIMEOUT_MS",
        "ZK_CLI_WAIT_MS",
        "ZK_CLI_TLS_CA",
        "ZK_CLI_TLS_CERT",
        "ZK_CLI_TLS_KEY",
        "ZK_CLI_TLS_SERVER_NAME",
        "ZK_CLI_AUTH",
    ] {
        cmd.env_remove(var);
    }
    let child = cmd.spawn().expect("spawn zk-cli");
    let pid = child.id();
    let (tx, rx) = mpsc::channel::<std::io::Result<Output>>();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(DEADLINE) {
        Ok(Ok(o)) => Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        },
        Ok(Err(e)) => panic!("zk-cli {args:?}: {e}"),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("zk-cli {args:?} did not finish within {DEADLINE:?}");
        }
    }
}

/// A node name unique to this test process.
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("/{prefix}-{}-{nanos}", std::process::id())
}
