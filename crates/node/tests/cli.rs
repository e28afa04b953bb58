//! The command line as other tools drive it: every flag documented with its default, the
//! same settings from `ZK_NODE_*` environment variables, and clear refusals of bad flags.

mod common;

use std::process::Command;
use std::process::Stdio;
use std::time::Duration;
use std::time::Instant;

use common::four_letter;
use common::free_port;

const BIN: &str = env!("CARGO_BIN_EXE_zk-node");

/// `--help` names every flag of the interface with its default.
#[test]
fn help_explains_every_flag_with_its_default() {
    let out = Command::new(BIN)
        .arg("--help")
        .output()
        .expect("run --help");
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for (flag, default) in [
        ("--client-addr", "127.0.0.1:2181"),
        ("--data-dir", "./zk-data"),
        ("--tick-ms", "2000"),
        ("--min-session-timeout-ms", "2 × tick-ms"),
        ("--max-session-timeout-ms", "20 × tick-ms"),
        ("--max-frame-bytes", "1048575"),
        ("--max-connections-per-ip", "60"),
        ("--snapshot-every", "100000"),
        ("--log-level", "info"),
        ("--4lw", "*"),
        ("--id", "1"),
        // No default value: the help says what happens without it.
        ("--peers", "one-node ensemble"),
        ("--peer-listen", "0.0.0.0"),
    ] {
        let at = help
            .find(flag)
            .unwrap_or_else(|| panic!("{flag} missing:\n{help}"));
        let entry = &help[at..];
        let end = entry[2..].find("\n  -").map_or(entry.len(), |i| i + 2);
        let entry = &entry[..end];
        assert!(
            entry.contains(default),
            "{flag}: no default {default:?} in {entry:?}"
        );
        let env = format!(
            "ZK_NODE_{}",
            flag.trim_start_matches('-')
                .replace('-', "_")
                .to_uppercase()
        );
        let env = if flag == "--4lw" {
            "ZK_NODE_4LW".to_string()
        } else {
            env
        };
        assert!(entry.contains(&env), "{flag}: no {env} in {entry:?}");
    }
}

/// A flag typo or a bad value is refused with a message naming it, exit status 2.
#[test]
fn bad_flags_are_refused_by_name() {
    for (args, needle) in [
        (&["--tick-msec", "5"][..], "--tick-msec"),
        (&["--client-addr", "nowhere"][..], "--client-addr"),
        (&["--4lw", "ruok,nope"][..], "nope"),
        (&["--snapshot-every", "many"][..], "--snapshot-every"),
    ] {
        let out = Command::new(BIN).args(args).output().expect("run");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    // Values that parse but do not fit together: a clear error, non-zero exit, nothing served.
    let out = Command::new(BIN)
        .args([
            "--min-session-timeout-ms",
            "9000",
            "--max-session-timeout-ms",
            "100",
        ])
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("session timeout"), "{err}");
}

/// The same settings from the environment (for containers).
#[test]
fn settings_from_environment_variables() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut child = Command::new(BIN)
        .env("ZK_NODE_CLIENT_ADDR", addr.to_string())
        .env("ZK_NODE_DATA_DIR", dir.path().join("env-data"))
        .env("ZK_NODE_TICK_MS", "300")
        .env("ZK_NODE_MAX_CONNECTIONS_PER_IP", "7")
        .env("ZK_NODE_ADMIN_PORT", free_port().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(20);
    let conf = loop {
        // Answered, and serving (a node serves once caught up, S9.6).
        if let Some(c) = four_letter(addr, "conf")
            .filter(|c| !c.is_empty() && !c.contains("not currently serving"))
        {
            break c;
        }
        assert!(Instant::now() < deadline, "node did not come up");
        std::thread::sleep(Duration::from_millis(20)); // polling a process, not syncing
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(conf.contains(&format!("clientPort={port}")), "{conf}");
    assert!(conf.contains("tickTime=300"), "{conf}");
    assert!(conf.contains("minSessionTimeout=600"), "{conf}");
    assert!(conf.contains("maxClientCnxns=7"), "{conf}");
    assert!(dir.path().join("env-data").is_dir());
}

/// `--health-check ADDR` (the container healthcheck): exit 0 while a node answers `imok`
/// there, 1 with the reason on stderr when nothing does.
#[test]
fn health_check_exits_0_for_a_live_node_and_1_otherwise() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = common::ZkNode::start_in(&dir.path().join("data"), &[]);
    let check = |addr: std::net::SocketAddr| {
        Command::new(BIN)
            .args(["--health-check", &addr.to_string()])
            .output()
            .expect("run --health-check")
    };
    let ok = check(node.addr);
    assert!(ok.status.success(), "{ok:?}");
    let gone = std::net::SocketAddr::from(([127, 0, 0, 1], free_port()));
    let bad = check(gone);
    assert_eq!(bad.status.code(), Some(1));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("unhealthy") && err.contains(&gone.to_string()),
        "{err}"
    );
}

/// `zk-node` with no arguments serves a one-node ensemble on 127.0.0.1:2181 with its data in
/// ./zk-data (the README's first command). Needs port 2181 free, as CI has it.
#[test]
fn no_arguments_serves_on_2181_with_data_in_zk_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 2181));
    assert!(
        four_letter(addr, "ruok").is_none(),
        "something already listens on 127.0.0.1:2181; stop it to run this test"
    );
    let mut child = Command::new(BIN)
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(20);
    let srvr = loop {
        if let Some(s) = four_letter(addr, "srvr").filter(|s| s.contains("Mode:")) {
            break s;
        }
        assert!(Instant::now() < deadline, "node did not come up on 2181");
        std::thread::sleep(Duration::from_millis(20)); // polling a process, not syncing
    };
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().expect("wait");
    assert!(srvr.contains("Mode: standalone"), "{srvr}");
    assert!(dir.path().join("zk-data").is_dir(), "data in ./zk-data");
    assert!(status.success(), "SIGTERM exits 0: {status:?}");
}
