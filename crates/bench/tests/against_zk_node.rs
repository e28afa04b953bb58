//! Runs the `zk-bench` binary for ~2 s per workload against a one-node zk-node it starts on
//! a free loopback port (the test kit's, killed on drop), and checks the JSON line: requests
//! done, none failed; for `non-readers`, issue 18's figures.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use zk_testkit::zk_node::Single;

const DEADLINE: Duration = Duration::from_secs(30);

/// One zk-node (the shared test kit's), killed on drop; no per-address connection limit, as
/// a benchmark's clients all come from one address.
struct ZkNode {
    node: Single,
    addr: String,
}

impl ZkNode {
    fn start() -> ZkNode {
        ZkNode::start_with(&[])
    }

    fn start_with(extra: &[&str]) -> ZkNode {
        let mut flags = vec!["--max-connections-per-ip", "0", "--log-level", "warn"];
        flags.extend_from_slice(extra);
        let node = Single::start_with(&flags);
        ZkNode {
            addr: node.addr.to_string(),
            node,
        }
    }
}

/// Runs zk-bench with `args`, bounded in time; its stdout.
fn zk_bench(args: &[&str]) -> String {
    zk_bench_within(args, DEADLINE)
}

/// Runs zk-bench with `args`, killed (and the test failed) after `deadline`; its stdout.
fn zk_bench_within(args: &[&str], deadline: Duration) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_zk-bench"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn zk-bench");
    let until = Instant::now() + deadline;
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if Instant::now() > until {
            let _ = child.kill();
            let _ = child.wait();
            panic!("zk-bench {args:?} did not finish within {deadline:?}");
        }
        std::thread::sleep(Duration::from_millis(50)); // polling a process
    }
    let out = child.wait_with_output().expect("output");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "zk-bench {args:?} failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn check(workload: &str, json: &str) {
    let line = json.trim();
    assert_eq!(line.lines().count(), 1, "one JSON line: {json}");
    let v: serde_json::Value = serde_json::from_str(line).expect("JSON");
    assert_eq!(v["workload"], workload);
    assert!(v["ops"].as_u64().unwrap_or(0) > 0, "no ops: {line}");
    assert!(v["ops_per_s"].as_f64().unwrap_or(0.0) > 0.0, "{line}");
    assert_eq!(v["failed"], 0, "{line}");
    assert_eq!(v["errors"], serde_json::json!({}), "{line}");
    assert!(v["p99_us"].as_u64().unwrap_or(0) > 0, "{line}");
    assert!(v["duration_s"].as_f64().unwrap_or(0.0) >= 1.9, "{line}");
    assert_eq!(v["tags"]["system"], "zk-node", "{line}");
    assert!(v["server_cpu_s"].is_number(), "--watch-pids read: {line}");
}

#[test]
fn get_and_create_against_one_zk_node() {
    let node = ZkNode::start();
    let pid = node.node.pid().to_string();
    for workload in ["get", "create"] {
        let out = zk_bench(&[
            "--servers",
            &node.addr,
            workload,
            "--clients",
            "4",
            "--in-flight",
            "4",
            "--keys",
            "100",
            "--duration",
            "2",
            "--warmup",
            "0.5",
            "--json",
            "--quiet",
            "--tag",
            "system=zk-node",
            "--watch-pids",
            &pid,
        ]);
        check(workload, &out);
    }
}

/// `stale` with both sessions on one member: a member answers a write only once it applied
/// it, so the read right after never sees the old value (the figure itself comes from two
/// members of an ensemble: bench/compare.sh).
#[test]
fn stale_reads_through_the_writers_own_member_are_none() {
    let node = ZkNode::start();
    let servers = format!("{0},{0}", node.addr);
    let out = zk_bench(&[
        "--servers",
        &servers,
        "stale",
        "--rounds",
        "30",
        "--json",
        "--quiet",
    ]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("JSON");
    assert_eq!(v["workload"], "stale", "{out}");
    assert_eq!(v["stale_rounds"], 30, "every round completed: {out}");
    assert_eq!(v["stale_reads"], 0, "{out}");
    assert_eq!(v["ops"], 30, "{out}");
    assert!(v["stale_lag_ms_max"].as_f64().is_some(), "{out}");
}

/// `zk-bench non-readers` briefly against one node: the JSON line has issue 18's figures,
/// every silent connection set up and closed by the server after its session's timeout, the
/// node's RSS before/peak/after, and the readers' latency with no errors.
#[test]
fn non_readers_reports_rss_close_delay_and_reader_latency() {
    // A short tick, so sessions of 1 s are allowed and the run takes seconds.
    let node = ZkNode::start_with(&["--tick-ms", "500"]);
    let pid = node.node.pid().to_string();
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
    let line = zk_bench_within(&args, Duration::from_secs(60));
    let line = line.trim();
    let v: serde_json::Value = serde_json::from_str(line).expect("one JSON line");
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
