//! A one-node zk-node on a free loopback port with `--tick-ms 200` (sessions expire fast)
//! and TTL nodes on; killed on drop.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use super::{four_letter, free_port, poll};

pub use zk_testkit::zk_node::binary;

/// A running zk-node.
pub struct ZkNode {
    /// Its client address, `127.0.0.1:port`.
    pub addr: String,
    child: Option<Child>,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl ZkNode {
    /// Starts one node and waits until it serves.
    pub fn start() -> ZkNode {
        ZkNode::start_with(&[])
    }

    /// Starts one node with `extra` flags and waits until it serves.
    pub fn start_with(extra: &[&str]) -> ZkNode {
        let dir = tempfile::tempdir().expect("tempdir");
        let addr = format!("127.0.0.1:{}", free_port());
        let log = dir.path().join("zk-node.log");
        let log_file = std::fs::File::create(&log).expect("log file");
        let child = Command::new(binary())
            .args(["--client-addr", &addr])
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .args(["--tick-ms", "200", "--ttl-nodes"])
            .args(["--log-level", "info,openraft=warn"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("spawn zk-node");
        let mut node = ZkNode {
            addr,
            child: Some(child),
            log,
            _dir: dir,
        };
        let log = node.log.clone();
        poll(
            "zk-node serving",
            || {
                if let Some(Ok(Some(status))) = node.child.as_mut().map(Child::try_wait) {
                    panic!("zk-node exited: {status}\n{}", tail(&log));
                }
                let mode = four_letter(&node.addr, "srvr")?;
                (mode.contains("Mode: standalone") || mode.contains("Mode: leader")).then_some(())
            },
            || tail(&log),
        );
        node
    }

    /// The end of its log, for failure messages.
    pub fn logs(&self) -> String {
        tail(&self.log)
    }
}

fn tail(log: &std::path::Path) -> String {
    let t = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = t.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

impl Drop for ZkNode {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
