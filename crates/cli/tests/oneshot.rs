//! One-shot mode (`zk-cli --server HOSTS COMMAND ARGS...`) against a one-node zk-node and a
//! standalone Apache ZooKeeper 3.8, with the same test body: outputs as zkCli prints them,
//! exit statuses, error names on stderr, chroot, ephemerals dying with the one-shot session,
//! and a `-w` watch waited for. `ZK_CLIENT_SKIP_ZOOKEEPER=1` skips the Apache ZooKeeper run.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::zk_node::ZkNode;
use common::zookeeper;
use common::{free_port, unique, zk_cli, zk_cli_bin, Run, DEADLINE};

/// Runs a command against `server`.
fn cli(server: &str, cmd: &[&str]) -> Run {
    let mut args = vec!["--server", server];
    args.extend_from_slice(cmd);
    zk_cli(&args)
}

/// Runs a command that must succeed; its stdout.
fn ok(server: &str, cmd: &[&str]) -> String {
    let r = cli(server, cmd);
    assert_eq!(r.code, 0, "{cmd:?} failed: {r:?}");
    assert_eq!(r.stderr, "", "{cmd:?} wrote to stderr");
    r.stdout
}

/// Runs a command that must fail with exit status `code` and stderr starting `name: `.
fn fails(server: &str, cmd: &[&str], code: i32, name: &str) -> Run {
    let r = cli(server, cmd);
    assert_eq!(r.code, code, "{cmd:?}: {r:?}");
    assert!(
        r.stderr.starts_with(&format!("{name}: ")),
        "{cmd:?}: stderr should start with {name}: {r:?}"
    );
    r
}

fn stat_value<'a>(out: &'a str, name: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} = ")))
        .unwrap_or_else(|| panic!("no {name} in\n{out}"))
}

/// The stat block exactly as zkCli prints it: eleven `name = value` lines in its order.
fn assert_stat_block(out: &str) {
    let names: Vec<&str> = out
        .lines()
        .filter_map(|l| l.split_once(" = ").map(|(n, _)| n))
        .collect();
    assert_eq!(
        names,
        [
            "cZxid",
            "ctime",
            "mZxid",
            "mtime",
            "pZxid",
            "cversion",
            "dataVersion",
            "aclVersion",
            "ephemeralOwner",
            "dataLength",
            "numChildren"
        ],
        "{out}"
    );
    assert!(stat_value(out, "cZxid").starts_with("0x"), "{out}");
    // Java's Date.toString(), e.g. "Wed Nov 25 00:02:48 UTC 2026".
    let ctime: Vec<&str> = stat_value(out, "ctime").split(' ').collect();
    assert!(ctime.len() == 6 && ctime[4] == "UTC", "{out}");
}

/// The one test body, run against each server.
fn suite(addr: &str) {
    let root = unique("zkcli");
    let r = root.as_str();
    let p = |s: &str| format!("{root}{s}");

    // create: plain, with data that has spaces, and its errors.
    assert_eq!(ok(addr, &["create", r]), format!("Created {r}\n"));
    assert_eq!(
        ok(addr, &["create", &p("/a"), "hello world"]),
        format!("Created {r}/a\n")
    );
    fails(addr, &["create", &p("/a"), "x"], 1, "NodeExists");
    assert_eq!(
        cli(addr, &["create", &p("/a"), "x"]).stderr,
        format!("NodeExists: {r}/a\n")
    );
    fails(addr, &["create", &p("/none/child")], 1, "NoNode");

    // get, get -s.
    assert_eq!(ok(addr, &["get", &p("/a")]), "hello world\n");
    let got = ok(addr, &["get", "-s", &p("/a")]);
    let (data, stat) = got.split_once('\n').expect("data line");
    assert_eq!(data, "hello world");
    assert_stat_block(stat);
    assert_eq!(stat_value(stat, "dataLength"), "11");
    assert_eq!(stat_value(stat, "dataVersion"), "0");
    assert_eq!(stat_value(stat, "ephemeralOwner"), "0x0");
    assert_eq!(
        cli(addr, &["get", &p("/missing")]).stderr,
        format!("NoNode: {r}/missing\n")
    );
    fails(addr, &["get", &p("/missing")], 1, "NoNode");

    // set, set -s, set -v.
    assert_eq!(ok(addr, &["set", &p("/a"), "v1"]), "");
    let set = ok(addr, &["set", "-s", &p("/a"), "v2"]);
    assert_stat_block(&set);
    assert_eq!(stat_value(&set, "dataVersion"), "2");
    assert_eq!(stat_value(&set, "dataLength"), "2");
    let bad = fails(addr, &["set", "-v", "0", &p("/a"), "v3"], 1, "BadVersion");
    assert_eq!(bad.stderr, format!("BadVersion: {r}/a\n"));
    assert_eq!(bad.stdout, "");
    assert_eq!(ok(addr, &["set", "-v", "2", &p("/a"), "v3"]), "");
    assert_eq!(ok(addr, &["get", &p("/a")]), "v3\n");
    fails(addr, &["set", &p("/missing"), "x"], 1, "NoNode");

    // stat.
    let st = ok(addr, &["stat", &p("/a")]);
    assert_stat_block(&st);
    assert_eq!(stat_value(&st, "dataVersion"), "3");
    assert_eq!(stat_value(&st, "numChildren"), "0");
    fails(addr, &["stat", &p("/missing")], 1, "NoNode");

    // Sequential nodes print the name made.
    let seq = ok(addr, &["create", "-s", &p("/seq-"), "s"]);
    let seq_name = seq
        .strip_prefix(&format!("Created {r}/seq-"))
        .and_then(|s| s.strip_suffix('\n'))
        .unwrap_or_else(|| panic!("sequential create printed {seq:?}"));
    assert!(
        seq_name.len() == 10 && seq_name.chars().all(|c| c.is_ascii_digit()),
        "{seq:?}"
    );
    let seq_path = format!("{r}/seq-{seq_name}");

    // Ephemerals (plain and sequential) die with the one-shot session.
    assert_eq!(
        ok(addr, &["create", "-e", &p("/eph"), "e"]),
        format!("Created {r}/eph\n")
    );
    fails(addr, &["stat", &p("/eph")], 1, "NoNode");
    let es = ok(addr, &["create", "-e", "-s", &p("/es-")]);
    let es_path = es
        .strip_prefix("Created ")
        .and_then(|s| s.strip_suffix('\n'))
        .unwrap_or_else(|| panic!("{es:?}"))
        .to_string();
    assert!(es_path.starts_with(&p("/es-")) && es_path.len() == p("/es-").len() + 10);
    fails(addr, &["stat", &es_path], 1, "NoNode");

    // ls, ls -s, ls -R.
    ok(addr, &["create", &p("/a/b")]);
    ok(addr, &["create", &p("/a/b/c"), "deep"]);
    assert_eq!(ok(addr, &["ls", r]), format!("[a, seq-{seq_name}]\n"));
    let ls = ok(addr, &["ls", "-s", r]);
    let (list, stat) = ls.split_once('\n').expect("list line");
    assert_eq!(list, format!("[a, seq-{seq_name}]"));
    assert_stat_block(stat);
    assert_eq!(stat_value(stat, "numChildren"), "2");
    assert_eq!(
        ok(addr, &["ls", "-R", r]),
        format!("{r}\n{r}/a\n{r}/a/b\n{r}/a/b/c\n{seq_path}\n")
    );
    assert_eq!(ok(addr, &["ls", &p("/a/b/c")]), "[]\n");
    fails(addr, &["ls", &p("/missing")], 1, "NoNode");
    fails(addr, &["ls", "-R", &p("/missing")], 1, "NoNode");

    // delete: with children, with a version, then deleteall.
    assert_eq!(
        fails(addr, &["delete", &p("/a")], 1, "NotEmpty").stderr,
        format!("NotEmpty: {r}/a\n")
    );
    fails(addr, &["delete", "-v", "5", &p("/a/b/c")], 1, "BadVersion");
    assert_eq!(ok(addr, &["delete", "-v", "0", &p("/a/b/c")]), "");
    fails(addr, &["stat", &p("/a/b/c")], 1, "NoNode");
    fails(addr, &["delete", &p("/a/b/c")], 1, "NoNode");
    ok(addr, &["create", &p("/a/b/c2")]);
    assert_eq!(ok(addr, &["deleteall", &p("/a")]), "");
    fails(addr, &["stat", &p("/a")], 1, "NoNode");
    fails(addr, &["stat", &p("/a/b")], 1, "NoNode");
    fails(addr, &["deleteall", &p("/a")], 1, "NoNode");
    assert_eq!(ok(addr, &["ls", r]), format!("[seq-{seq_name}]\n"));

    // Container and TTL modes (both servers run with TTL nodes enabled).
    assert_eq!(
        ok(addr, &["create", "-c", &p("/cont")]),
        format!("Created {r}/cont\n")
    );
    assert_eq!(
        ok(addr, &["create", "-t", "600000", &p("/ttl"), "t"]),
        format!("Created {r}/ttl\n")
    );
    assert_eq!(ok(addr, &["get", &p("/ttl")]), "t\n");

    // ACLs: set, read back, enforced, and refused when malformed.
    ok(addr, &["create", &p("/acl"), "x", "world:anyone:ra"]);
    assert_eq!(ok(addr, &["getAcl", &p("/acl")]), "'world,'anyone\n: ra\n");
    fails(addr, &["set", &p("/acl"), "y"], 1, "NoAuth");
    assert_eq!(
        ok(
            addr,
            &["setAcl", &p("/acl"), "ip:127.0.0.1:cdrwa,world:anyone:r"]
        ),
        ""
    );
    assert_eq!(
        ok(addr, &["getAcl", &p("/acl")]),
        "'ip,'127.0.0.1\n: cdrwa\n'world,'anyone\n: r\n"
    );
    assert_eq!(ok(addr, &["set", &p("/acl"), "y"]), "");
    let bad_acl = fails(
        addr,
        &["setAcl", &p("/acl"), "world:anyone"],
        2,
        "InvalidACL",
    );
    assert!(bad_acl.stderr.contains("usage: setAcl"), "{bad_acl:?}");
    fails(
        addr,
        &["setAcl", &p("/acl"), "auth::cdrwa"],
        1,
        "InvalidACL",
    );

    // sync, whoami.
    assert_eq!(ok(addr, &["sync", r]), "Sync is OK\n");
    assert!(ok(addr, &["whoami"]).starts_with("Auth scheme: User\n"));

    // A chroot in --server: paths are relative to it, results too.
    let chrooted = format!("{addr}{r}");
    assert_eq!(
        ok(&chrooted, &["ls", "/"]),
        format!("[acl, cont, seq-{seq_name}, ttl]\n")
    );
    assert_eq!(
        ok(&chrooted, &["create", "/in-chroot", "c"]),
        "Created /in-chroot\n"
    );
    assert_eq!(
        ok(&chrooted, &["create", "-s", "/cs-"]).len(),
        "Created /cs-0000000000\n".len()
    );
    assert_eq!(ok(addr, &["get", &p("/in-chroot")]), "c\n");
    assert_eq!(
        fails(&chrooted, &["get", "/nothing"], 1, "NoNode").stderr,
        "NoNode: /nothing\n"
    );

    // -w: the output first, then the one event; --wait-ms bounds the wait (status 3).
    ok(addr, &["create", &p("/w"), "before"]);
    watch_fires(addr, &p("/w"));
    interrupt_ends_the_wait(addr, &p("/w"));
    let waited = fails(
        addr,
        &["--wait-ms", "200", "stat", "-w", &p("/w")],
        3,
        "WaitTimeout",
    );
    assert_stat_block(&waited.stdout);

    // Usage errors: status 2, the reason and the usage, nothing sent.
    let unknown = fails(addr, &["frobnicate", r], 2, "BadArguments");
    assert!(
        unknown.stderr.contains("unknown command \"frobnicate\""),
        "{unknown:?}"
    );
    assert!(
        unknown.stderr.contains("\tls [-s] [-w] [-R] path\n"),
        "{unknown:?}"
    );
    let flag = fails(addr, &["get", "-x", r], 2, "BadArguments");
    assert!(
        flag.stderr.contains("usage: get [-s] [-w] path"),
        "{flag:?}"
    );
    fails(addr, &["set", "-v", "abc", r, "x"], 2, "BadArguments");
    fails(addr, &["create", "-c", "-e", &p("/x")], 2, "BadArguments");
    fails(addr, &["get", "relative"], 2, "BadArguments");

    assert_eq!(ok(addr, &["deleteall", r]), "");
    fails(addr, &["stat", r], 1, "NoNode");
}

/// `get -w` prints the data, then waits for and prints the data-change event.
fn watch_fires(addr: &str, path: &str) {
    let (mut child, rx) = spawn_watch(addr, path);
    // The data is printed once the watch is set: only then change the node.
    assert_eq!(
        rx.recv_timeout(DEADLINE).expect("get -w printed the data"),
        "before"
    );
    ok(addr, &["set", path, "after"]);
    assert_eq!(
        rx.recv_timeout(DEADLINE).expect("get -w printed the event"),
        format!("WatchedEvent state:SyncConnected type:NodeDataChanged path:{path}")
    );
    assert_eq!(child.wait_exit(), 0);
}

/// Ctrl-C (SIGINT) while `get -w` waits: status 130, named on stderr.
fn interrupt_ends_the_wait(addr: &str, path: &str) {
    let (mut child, rx) = spawn_watch(addr, path);
    assert_eq!(
        rx.recv_timeout(DEADLINE).expect("get -w printed the data"),
        "after"
    );
    let sent = Command::new("kill")
        .args(["-INT", &child.0.id().to_string()])
        .status()
        .is_ok_and(|s| s.success());
    assert!(sent, "kill -INT");
    assert_eq!(child.wait_exit(), 130);
    let mut err = String::new();
    if let Some(mut e) = child.0.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut err);
    }
    assert!(err.starts_with("Interrupted: "), "{err:?}");
}

/// `zk-cli get -w path` with no wait limit, and its stdout lines as they come.
fn spawn_watch(addr: &str, path: &str) -> (ChildGuard, mpsc::Receiver<String>) {
    let mut child = ChildGuard(
        Command::new(zk_cli_bin())
            .args(["--server", addr, "get", "-w", path])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn zk-cli"),
    );
    let stdout = child.0.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    (child, rx)
}

/// Kills the child if it still runs when the test ends.
struct ChildGuard(std::process::Child);

impl ChildGuard {
    /// Waits (bounded) for the child to exit; its status code.
    fn wait_exit(&mut self) -> i32 {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(s) = self.0.try_wait().expect("wait") {
                return s.code().unwrap_or(-1);
            }
            assert!(Instant::now() < deadline, "zk-cli did not exit");
            std::thread::sleep(Duration::from_millis(20)); // polling a process with a deadline
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

#[test]
fn one_shot_commands_against_zk_node() {
    let node = ZkNode::start();
    suite(&node.addr);
}

#[test]
fn one_shot_commands_against_apache_zookeeper() {
    if zookeeper::skip() {
        return;
    }
    let zk = zookeeper::start();
    suite(&zk.addrs()[0]);
}

#[test]
fn no_server_within_the_timeout_is_connection_loss() {
    let addr = format!("127.0.0.1:{}", free_port());
    let t = Instant::now();
    let r = zk_cli(&["--server", &addr, "--timeout-ms", "500", "ls", "/"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(
        r.stderr,
        format!("ConnectionLoss: no connection to {addr} within 500 ms\n")
    );
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
}

#[test]
fn usage_errors_exit_2_without_a_server() {
    // Nothing listens here: a usage error must be reported before connecting.
    let addr = format!("127.0.0.1:{}", free_port());
    for (cmd, expect) in [
        (vec!["nosuchcommand"], "BadArguments: unknown command"),
        (vec!["ls"], "BadArguments: ls: missing arguments"),
        (
            vec!["get", "-q", "/a"],
            "BadArguments: get: unknown flag -q",
        ),
        (
            vec!["delete", "-v", "1x", "/a"],
            "BadArguments: delete: version",
        ),
        (
            vec!["create", "-t", "10", "-e", "/a"],
            "BadArguments: create: TTLs",
        ),
        (vec!["create", "/a", "d", "foo:bar"], "InvalidACL: create:"),
        (
            vec!["connect", "h:1"],
            "BadArguments: connect: only available",
        ),
    ] {
        let mut args = vec!["--server", addr.as_str(), "--timeout-ms", "200"];
        args.extend(cmd.iter());
        let r = zk_cli(&args);
        assert_eq!(r.code, 2, "{cmd:?}: {r:?}");
        assert!(r.stderr.starts_with(expect), "{cmd:?}: {r:?}");
        assert_eq!(r.stdout, "", "{cmd:?}");
    }
    let r = zk_cli(&["--server", "a:b:c", "ls", "/"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r
        .stderr
        .starts_with("BadArguments: --server: invalid connect string"));
    let r = zk_cli(&["--timeout-ms", "zero", "ls", "/"]);
    assert_eq!(r.code, 2, "{r:?}");
}

#[test]
fn help_documents_commands_exit_statuses_and_environment() {
    let r = zk_cli(&["--help"]);
    assert_eq!(r.code, 0, "{r:?}");
    for needle in [
        "create [-s] [-e] [-c] [-t ttl] path [data] [acl]",
        "setAcl [-s] [-v version] [-R] path acl",
        "ls [-s] [-w] [-R] path",
        "Exit status:",
        "  3  -w was given",
        "ZK_CLI_SERVER",
        "ZK_CLI_WAIT_MS",
        "--session-timeout-ms",
        "--no-history-file",
    ] {
        assert!(
            r.stdout.contains(needle),
            "--help lacks {needle:?}:\n{}",
            r.stdout
        );
    }
    let r = zk_cli(&["help"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("\tdeleteall path\n"), "{r:?}");
}

/// The TLS flags: a client certificate's session on a secure port has its x509 id; without
/// the certificate the server needs, the connect timeout says TLS may be why; a CA file that
/// is not one is a usage error before anything connects.
#[test]
fn tls_flags_reach_a_secure_port_with_a_client_certificate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = zk_testkit::tls::Pki::new("cli");
    let (store, ca) = pki.write_server(dir.path());
    let (cert, key) = pki.write_client(dir.path(), "cli-user", "Example");
    let path = |p: &std::path::Path| p.to_str().expect("utf-8 path").to_string();
    let (store, ca, cert, key) = (path(&store), path(&ca), path(&cert), path(&key));
    let secure = format!("127.0.0.1:{}", free_port());
    let _node = ZkNode::start_with(&[
        "--secure-client-addr",
        &secure,
        "--ssl-keystore",
        &store,
        "--ssl-truststore",
        &ca,
    ]);
    let tls = [
        "--tls-ca",
        ca.as_str(),
        "--tls-cert",
        cert.as_str(),
        "--tls-key",
        key.as_str(),
    ];
    let mut args = vec!["--server", secure.as_str()];
    args.extend_from_slice(&tls);
    args.push("whoami");
    let run = zk_cli(&args);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains("x509: CN=cli-user,O=Example"),
        "{run:?}"
    );

    let run = zk_cli(&[
        "--server",
        &secure,
        "--timeout-ms",
        "1500",
        "--tls-ca",
        &ca,
        "whoami",
    ]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("over TLS"), "{run:?}");

    let run = zk_cli(&[
        "--server",
        &secure,
        "--tls-ca",
        &cert,
        "--tls-cert",
        &key,
        "whoami",
    ]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("BadArguments: "), "{run:?}");
}

/// `config` prints the ensemble's membership as zkCli.sh's does: /zookeeper/config's
/// `server.N=` lines and `version=`, and with -s its stat.
#[test]
fn config_prints_the_membership_of_an_ensemble() {
    let c = zk_testkit::zk_node::Ensemble::start(3, &[1, 2, 3]);
    let addr = c.members[0].client.to_string();
    let out = common::poll(
        "the config shows three members",
        || {
            let r = cli(&addr, &["config", "-s"]);
            (r.code == 0 && r.stdout.matches(":participant").count() == 3).then_some(r.stdout)
        },
        || c.logs(),
    );
    for m in &c.members {
        let line = format!(
            "server.{}=127.0.0.1:{}:{}:participant\n",
            m.id,
            m.peer.port(),
            m.peer.port()
        );
        assert!(out.contains(&line), "{line} in {out}");
    }
    let version = out
        .lines()
        .find_map(|l| l.strip_prefix("version="))
        .unwrap_or_else(|| panic!("no version: {out}"));
    let mzxid = stat_value(&out, "mZxid");
    assert_eq!(format!("0x{version}"), mzxid, "{out}");
    assert!(cli(&addr, &["config", "extra"]).code == 2, "no arguments");
}

/// `digest_id("super:test")`, as ZooKeeper's DigestAuthenticationProvider prints it.
const SUPER_DIGEST: &str = "super:D/InIHSb7yEEbrWz8b9l71RjZJU=";

fn config_version(out: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix("version="))
        .unwrap_or_else(|| panic!("no version= line in {out}"))
        .to_string()
}

fn server_lines(out: &str) -> Vec<&str> {
    out.lines().filter(|l| l.starts_with("server.")).collect()
}

/// `reconfig` changes the membership of an ensemble and prints the committed configuration
/// as zkCli.sh's does (-add, -v, -file, -s), and says clearly why when it is refused:
/// NoAuth without the superuser, BadVersion on a stale -v, NewConfigNoQuorum for members
/// that are not running, ReconfigDisabled where the operator did not enable it.
#[test]
fn reconfig_changes_the_membership_and_explains_refusals() {
    // Sessions that outlive a slow reconfig (the test kit's tick allows only 4 s by default).
    let flags = [
        "--reconfig-enabled",
        "--super-digest",
        SUPER_DIGEST,
        "--max-session-timeout-ms",
        "30000",
    ];
    let mut c = zk_testkit::zk_node::Ensemble::new(3, &flags);
    for id in 1..=3 {
        c.start_member(id);
    }
    c.wait_leader();
    let four = c.add_member();
    c.start_member(four);
    // Up and waiting to be added before the reconfig counts on it, as an operator waits.
    common::poll(
        "member 4 waits to be added",
        || {
            c.log_of(four)
                .contains("joining: not a member yet")
                .then_some(())
        },
        || c.logs(),
    );
    let spec = c.server_spec(four);
    let addr = c.members[0].client.to_string();
    let before = common::poll(
        "the config shows three members",
        || {
            let r = cli(&addr, &["config"]);
            (r.code == 0 && server_lines(&r.stdout).len() == 3).then_some(r.stdout)
        },
        || c.logs(),
    );
    let version = config_version(&before);
    let admin = |cmd: &[&str]| {
        let mut args = vec!["--auth", "digest:super:test"];
        args.extend_from_slice(cmd);
        cli(&addr, &args)
    };

    let r = fails(&addr, &["reconfig", "-add", &spec], 1, "NoAuth");
    assert!(r.stderr.contains("superuser"), "{r:?}");
    let stale = format!("{:x}", i64::from_str_radix(&version, 16).unwrap() + 1);
    let r = admin(&["reconfig", "-add", &spec, "-v", &stale]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.starts_with("BadVersion: "), "{r:?}");

    let r = admin(&["reconfig", "-add", &spec, "-v", &version, "-s"]);
    assert_eq!(r.code, 0, "{r:?}\n{}", c.logs());
    assert!(
        r.stdout.starts_with("Committed new configuration:\n"),
        "{r:?}"
    );
    assert!(r.stdout.contains(&format!("{spec}\n")), "{r:?}");
    assert_eq!(server_lines(&r.stdout).len(), 4, "{r:?}");
    assert_stat_block(&r.stdout);
    let grown = ok(&addr, &["config"]);
    assert_eq!(server_lines(&grown).len(), 4, "{grown}");

    // Back to the three founders, from a dynamic config file. (Their lines in `config` carry
    // no client address here, which reconfig requires: they were started with addresses
    // alone in --peers, as ZooKeeper shows members whose client port only clientPort gives.)
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("zoo.cfg.dynamic");
    let founders: Vec<String> = (1..=3).map(|id| c.server_spec(id)).collect();
    std::fs::write(
        &file,
        format!("# the founders\n{}\nversion=1\n", founders.join("\n")),
    )
    .expect("write");
    let r = admin(&["reconfig", "-file", &file.display().to_string()]);
    assert_eq!(r.code, 0, "{r:?}\n{}", c.logs());
    assert_eq!(server_lines(&r.stdout), founders, "{r:?}");

    // Members that are not running cannot form a quorum of the new configuration (answered
    // once the leader has given them the peer RPC timeout to answer it).
    let (p8, c8, p9, c9) = (free_port(), free_port(), free_port(), free_port());
    let dead = format!(
        "{},server.8=127.0.0.1:{p8}:{p8}:participant;127.0.0.1:{c8},\
         server.9=127.0.0.1:{p9}:{p9}:participant;127.0.0.1:{c9}",
        founders[0]
    );
    let r = admin(&["reconfig", "-members", &dead]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.starts_with("NewConfigNoQuorum: "),
        "{r:?}\n{}",
        c.logs()
    );
    assert_eq!(server_lines(&ok(&addr, &["config"])), founders);

    let missing = admin(&["reconfig", "-file", "/nonexistent/zoo.cfg.dynamic"]);
    assert_eq!(missing.code, 2, "{missing:?}");
    assert!(missing.stderr.starts_with("BadArguments: "), "{missing:?}");
    let bad_auth = cli(&addr, &["--auth", "nocolon", "config"]);
    assert_eq!(bad_auth.code, 2, "{bad_auth:?}");

    let single = ZkNode::start();
    let r = fails(
        &single.addr,
        &["reconfig", "-remove", "2"],
        1,
        "ReconfigDisabled",
    );
    assert!(r.stderr.contains("--reconfig-enabled"), "{r:?}");
}
