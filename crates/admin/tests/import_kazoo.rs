//! Moving in from Apache ZooKeeper 3.8 (Debian's package) with a client of another language
//! holding a session across the move: kazoo (`kazoo_import.py build`) gives a standalone
//! ZooKeeper (TTL nodes on) a tree with digest and world ACLs, sequential nodes, a container,
//! TTL nodes, a transaction, and a session that stays open with an ephemeral and an ephemeral
//! sequential node, and dumps every znode's data, ACL and stat as ZooKeeper answers them.
//! ZooKeeper is killed with that session open, its dataDir imported with `zk-admin
//! import-zookeeper`, and a one-node zk-node started on the result. A second kazoo process
//! (`kazoo_import.py resume`) reconnects with the open session's id and password: it gets
//! that session back (not an expired or a new one), finds its ephemerals owned by it, and
//! dumps every znode again; the two dumps must agree field by field. Closing the resumed
//! session then deletes its ephemerals.
//!
//! Needs the venv of `tests/setup-python.sh` (`$VENV`, default `<repo>/.venv`; tests/run.sh
//! makes it before the tests run). `ZK_ADMIN_SKIP_ZOOKEEPER=1` skips it with a message;
//! otherwise a missing ZooKeeper or venv fails it.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Instant;

use common::{import, wait_until_whole, CONFIG, DEADLINE};
use serde_json::Value;
use zk_testkit::zk_node::Single;
use zk_testkit::zookeeper::Options;

const SKIP: &str = "ZK_ADMIN_SKIP_ZOOKEEPER";

/// The venv's interpreter, or a failure saying how to make it.
fn python() -> PathBuf {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let venv = match std::env::var_os("VENV") {
        Some(v) if Path::new(&v).is_absolute() => PathBuf::from(v),
        Some(v) => repo.join(v),
        None => repo.join(".venv"),
    };
    let python = venv.join("bin/python");
    assert!(
        python.exists(),
        "{} is missing: make the kazoo venv with `bash tests/setup-python.sh`; set {SKIP}=1 to \
         skip these tests",
        python.display()
    );
    python
}

/// A kazoo process: its stdout lines arrive on a channel (so every wait has a deadline), its
/// stderr goes to a file shown on failure. Killed on drop.
struct Kazoo {
    child: Child,
    lines: mpsc::Receiver<String>,
    stderr: PathBuf,
}

impl Kazoo {
    fn spawn(python: &Path, args: &[&str], stderr: PathBuf) -> Kazoo {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kazoo_import.py");
        let mut child = Command::new(python)
            .arg(script)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).expect("stderr file"))
            .spawn()
            .expect("start python");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Kazoo {
            child,
            lines,
            stderr,
        }
    }

    /// The lines printed up to and including the one starting with `marker`, within
    /// [`DEADLINE`]; fails with its stderr if it ends or stalls first.
    fn until(&mut self, marker: &str) -> Vec<String> {
        let deadline = Instant::now() + DEADLINE;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let done = line.starts_with(marker);
                    seen.push(line);
                    if done {
                        return seen;
                    }
                }
                Err(e) => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    panic!(
                        "kazoo printed no {marker} ({e}); stdout {seen:?}; stderr:\n{}",
                        std::fs::read_to_string(&self.stderr).unwrap_or_default()
                    );
                }
            }
        }
    }

    /// Waits (bounded) for a clean exit.
    fn wait_success(&mut self) {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait python") {
                assert!(
                    status.success(),
                    "kazoo exited {status}; stderr:\n{}",
                    std::fs::read_to_string(&self.stderr).unwrap_or_default()
                );
                return;
            }
            assert!(Instant::now() < deadline, "kazoo did not exit");
            // The channel closes when it exits (its stdout ends): a bounded wait on that.
            let _ = self
                .lines
                .recv_timeout(std::time::Duration::from_millis(100));
        }
    }

    /// SIGKILL: no closeSession is sent, so the session stays open in the data.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Kazoo {
    fn drop(&mut self) {
        self.kill();
    }
}

fn read_dump(path: &Path) -> serde_json::Map<String, Value> {
    let text = std::fs::read_to_string(path).expect("dump");
    match serde_json::from_str(&text).expect("dump is JSON") {
        Value::Object(m) => m,
        other => panic!("dump is not an object: {other}"),
    }
}

#[test]
fn apache_zookeeper_kazoo_session_moves_to_zk_node() {
    let options = Options::standalone(SKIP).extended_types();
    if options.skip() {
        return;
    }
    let python = python();
    let scratch = tempfile::tempdir().expect("tempdir");
    let s = scratch.path();
    let mut zk = options.start();
    let zk_addr = zk.addrs()[0].clone();

    let before_path = s.join("zookeeper.json");
    let mut holder = Kazoo::spawn(
        &python,
        &["build", &zk_addr, before_path.to_str().expect("utf-8")],
        s.join("build.stderr"),
    );
    let out = holder.until("READY");
    let session: Vec<&str> = out
        .iter()
        .find_map(|l| l.strip_prefix("SESSION "))
        .unwrap_or_else(|| panic!("no SESSION line in {out:?}"))
        .split(' ')
        .collect();
    let (id_hex, password_hex, ephemerals) = (session[0], session[1], &session[2..]);
    let session_id = i64::from_str_radix(id_hex, 16).expect("session id");
    assert_eq!(ephemerals.len(), 2, "{out:?}");

    // Stopped as the existing import test stops it: once every file reads whole (a snapshot
    // thread may be writing), killed, so the open session is still open in its data.
    wait_until_whole(&zk.data_dir(0));
    zk.kill(0);
    // Then the holder, by SIGKILL: it sends no closeSession, and it can never reach zk-node
    // (which might be given ZooKeeper's freed port) with the session the test resumes.
    holder.kill();

    let target = s.join("imported");
    let out = import(&zk.data_dir(0), &target, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let node = Single::start_in(&target, &["--ttl-nodes"]);
    let node_addr = node.addr.to_string();

    let after_path = s.join("zk-node.json");
    let mut resumed = Kazoo::spawn(
        &python,
        &[
            "resume",
            &node_addr,
            id_hex,
            password_hex,
            after_path.to_str().expect("utf-8"),
        ]
        .into_iter()
        .chain(ephemerals.iter().copied())
        .collect::<Vec<_>>(),
        s.join("resume.stderr"),
    );
    let out = resumed.until("RESUMED");
    assert_eq!(
        out.last().map(String::as_str),
        Some(format!("RESUMED {id_hex}").as_str()),
        "{out:?}"
    );
    resumed.wait_success();

    let before = read_dump(&before_path);
    let after = read_dump(&after_path);
    // What the build made is there, ephemerals owned by the open session.
    for p in [
        "/app/secret",
        "/app/shared",
        "/app/box/in",
        "/app/ttl",
        "/app/m1",
    ] {
        assert!(before.contains_key(p), "{p} not in ZooKeeper's dump");
    }
    for e in ephemerals {
        assert_eq!(
            before[*e]["stat"]["ephemeralOwner"].as_i64(),
            Some(session_id),
            "{e}"
        );
    }
    let missing: Vec<&String> = before.keys().filter(|p| !after.contains_key(*p)).collect();
    let extra: Vec<&String> = after.keys().filter(|p| !before.contains_key(*p)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}, extra {extra:?}"
    );
    for (p, want) in &before {
        let got = &after[p];
        if p == CONFIG {
            // The serving ensemble's membership, not the tree's data (see CONFIG): its ACL.
            assert_eq!(got["acl"], want["acl"], "ACL of {CONFIG}");
            continue;
        }
        for field in ["data", "acl"] {
            assert_eq!(got[field], want[field], "{p} {field}: zk-node vs ZooKeeper");
        }
        let (Value::Object(want_stat), Value::Object(got_stat)) = (&want["stat"], &got["stat"])
        else {
            panic!("{p}: no stat");
        };
        assert_eq!(want_stat.len(), 11, "{p}: {want_stat:?}");
        for (field, w) in want_stat {
            assert_eq!(
                got_stat.get(field),
                Some(w),
                "{p} stat {field}: zk-node vs ZooKeeper"
            );
        }
    }
    drop(node);
    drop(zk);
}
