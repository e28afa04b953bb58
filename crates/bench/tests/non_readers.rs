//! Runs `zk-bench non-readers` briefly against a one-node zk-node (a short tick, so sessions
//! of 1 s are allowed and the run takes seconds) and checks that the JSON line has issue 18's
//! figures: every silent connection set up and closed by the server after its session's
//! timeout, the node's RSS before/peak/after, and the readers' latency with no errors.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use zk_chaos::ports::free_port;
use zk_testkit::zk_node::binary as zk_node_binary;

const DEADLINE: Duration = Duration::from_secs(60);

fn srvr_mode(addr: &str) -> Option<String> {
    let addr: SocketAddr = addr.parse().ok()?;
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(b"srvr").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    out.lines()
        .find_map(|l| l.strip_prefix("Mode: "))
        .map(str::to_string)
}

/// One zk-node with a 500 ms tick, killed on drop.
struct ZkNode {
    child: Child,
    addr: String,
    _dir: tempfile::TempDir,
}

impl ZkNode {
    fn start() -> ZkNode {
        let dir = tempfile::tempdir().expect("tempdir");
        let addr = format!("127.0.0.1:{}", free_port());
        let child = Command::new(zk_node_binary())
            .args(["--client-addr", &addr, "--tick-ms", "500"])
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .args(["--log-level", "warn"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn zk-node");
        let node = ZkNode {
            child,
            addr,
            _dir: dir,
        };
        let deadline = Instant::now() + DEADLINE;
        while !matches!(
            srvr_mode(&node.addr).as_deref(),
            Some("standalone" | "leader")
        ) {
            assert!(Instant::now() < deadline, "zk-node did not start");
            std::thread::sleep(Duration::from_millis(50)); // polling a process
        }
        node
    }
}

impl Drop for ZkNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn non_readers_reports_rss_close_delay_and_reader_latency() {
    let node = ZkNode::start();
    let pid = node.child.id().to_string();
    let args = [
        "--servers",
        &node.addr,
        "non-readers",
        "--clients",
        "3",
        "--requests",
        "3000",
        "--value-size",
        "102400",
        "--session-timeout-ms",
        "1000",
        "--readers",
        "2",
        "--in-flight",
        "1",
        "--warmup",
        "0.2",
        "--duration",
        "0.5",
        "--json",
        "--quiet",
        "--watch-pids",
        &pid,
    ];
    let mut child = Command::new(env!("CARGO_BIN_EXE_zk-bench"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn zk-bench");
    let deadline = Instant::now() + DEADLINE;
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("zk-bench non-readers did not finish within {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(50)); // polling a process
    }
    let out = child.wait_with_output().expect("output");
    let line = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        out.status.success(),
        "zk-bench failed: {}\n{line}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(&line).expect("one JSON line");
    assert_eq!(v["workload"], "non-readers", "{line}");
    assert_eq!(v["clients"], 3, "{line}");
    assert_eq!(v["requests"], 3000, "{line}");
    assert_eq!(v["non_readers_connected"], 3, "{line}");
    assert_eq!(v["non_readers_closed"], 3, "closed by the server: {line}");
    assert_eq!(v["negotiated_timeout_ms"], 1000, "{line}");
    // Closed after the session's end, and within a few ticks of it (a loaded machine).
    let past = v["close_after_timeout_ms_max"]
        .as_f64()
        .expect("close figure");
    let after_write = v["close_after_last_write_ms_median"]
        .as_f64()
        .expect("close figure");
    assert!(
        after_write >= 900.0,
        "closed before the session ended: {line}"
    );
    assert!(past <= 5_000.0, "closed {past} ms past the timeout: {line}");
    // The node's memory before, at the peak and after, and the largest growth.
    let phases = v["rss_phases"].as_array().expect("rss_phases");
    assert_eq!(phases.len(), 1, "{line}");
    for k in ["baseline_kib", "peak_kib", "after_kib"] {
        assert!(phases[0][k].as_u64().unwrap_or(0) > 0, "{k}: {line}");
    }
    let growth = v["rss_growth_kib_max"].as_u64().expect("growth");
    assert!(
        growth <= 64 * 1024,
        "3 clients that never read grew the node by {growth} KiB: {line}"
    );
    // The readers were served throughout.
    assert!(v["ops"].as_u64().unwrap_or(0) > 0, "{line}");
    assert_eq!(v["failed"], 0, "{line}");
    assert!(v["p99_us"].as_u64().unwrap_or(0) > 0, "{line}");
}
