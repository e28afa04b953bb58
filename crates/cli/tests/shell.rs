//! The interactive shell in a real terminal (tmux) against a one-node zk-node: the prompt,
//! commands, a watch event printed while a line is being edited (and that line redrawn),
//! history recall with Up, `history`, the history file, expiry shown and `connect` opening
//! a new session, addauth/whoami, Ctrl-C and Ctrl-D, `quit`.

mod common;

use common::tmux::Tmux;
use common::zk_node::ZkNode;
use common::{poll, zk_cli, zk_cli_bin};

fn shell_argv(home: &std::path::Path, extra: &[&str]) -> Vec<String> {
    let mut argv = vec![
        "env".to_string(),
        format!("HOME={}", home.display()),
        zk_cli_bin().to_string(),
    ];
    argv.extend(extra.iter().map(|s| s.to_string()));
    argv
}

#[test]
fn shell_edits_lines_prints_watch_events_and_keeps_history() {
    let node = ZkNode::start();
    let addr = node.addr.as_str();
    let home = tempfile::tempdir().expect("home");
    let t = Tmux::start(
        "shell",
        &shell_argv(home.path(), &["--server", addr]),
        200,
        50,
    );
    let prompt = |n: usize| format!("[zk: {addr}(CONNECTED) {n}]");

    t.wait_for("WatchedEvent state:SyncConnected type:None path:null");
    t.wait_for(&prompt(0));
    t.line("create /w \"before it\"");
    t.wait_for("Created /w");
    t.wait_for(&prompt(1));
    t.line("get -w /w");
    t.wait_for(&prompt(2));
    assert!(t.screen().contains("\nbefore it\n"), "{}", t.screen());

    // An event arriving while a line is being typed is printed above it; the line survives.
    t.type_text("stat /w");
    t.wait_last_line("the typed line", |l| {
        l.ends_with(&format!("{} stat /w", prompt(2)))
    });
    let set = zk_cli(&["--server", addr, "set", "/w", "after"]);
    assert_eq!(set.code, 0, "{set:?}");
    let event = "WatchedEvent state:SyncConnected type:NodeDataChanged path:/w";
    t.wait_for(event);
    let last = t.wait_last_line("the typed line redrawn below the event", |l| {
        l.ends_with(&format!("{} stat /w", prompt(2)))
    });
    let screen = t.screen();
    assert!(
        screen.find(event) < screen.rfind(&last),
        "the event should be above the line being edited:\n{screen}"
    );
    t.keys(&["Enter"]);
    t.wait_for("dataVersion = 1");
    t.wait_for(&prompt(3));

    // Up recalls the previous line; Enter runs it again.
    t.line("create /w/c1");
    t.wait_for(&prompt(4));
    t.line("ls /w");
    t.wait_for("[c1]");
    t.wait_for(&prompt(5));
    t.keys(&["Up"]);
    t.wait_last_line("ls /w recalled by Up", |l| {
        l.ends_with(&format!("{} ls /w", prompt(5)))
    });
    t.keys(&["Enter"]);
    t.wait_for_n("[c1]", 2);
    t.wait_for(&prompt(6));

    // Errors are shown and the shell goes on.
    t.line("frobnicate /w");
    t.wait_for("Command not found: frobnicate");
    t.line("delete /w");
    t.wait_for("Node not empty: /w");
    t.line("get -x /w");
    t.wait_for("usage: get [-s] [-w] path");
    t.wait_for(&prompt(9));

    // The session's identity: added, used in an ACL, shown by whoami; others lack it.
    t.line("addauth digest user:pw");
    t.wait_for(&prompt(10));
    t.line("create /secret s auth::cdrwa");
    t.wait_for("Created /secret");
    t.line("whoami");
    t.wait_for("digest: user");
    t.wait_for(&prompt(12));
    let other = zk_cli(&["--server", addr, "get", "/secret"]);
    assert_eq!(other.code, 1, "{other:?}");
    assert_eq!(other.stderr, "NoAuth: /secret\n");

    // zkCli's `history`: the current command and the ten before it, numbered.
    t.line("history");
    for entry in [
        "\n2 - stat /w\n",
        "\n5 - ls /w\n",
        "\n6 - frobnicate /w\n",
        "\n10 - create /secret s auth::cdrwa\n",
        "\n12 - history\n",
    ] {
        t.wait_for(entry);
    }
    assert!(!t.screen().contains("\n1 - get -w /w\n"), "{}", t.screen());

    t.line("quit");
    assert_eq!(t.wait_exit(), 0, "{}", t.screen());
    let saved = std::fs::read_to_string(home.path().join(".zk-cli_history"))
        .expect("~/.zk-cli_history written");
    for entry in ["create /w \"before it\"", "get -w /w", "history", "quit"] {
        assert!(
            saved.lines().any(|l| l == entry),
            "{entry:?} not in the history file:\n{saved}"
        );
    }
}

#[test]
fn shell_shows_expiry_and_connect_opens_a_new_session() {
    let node = ZkNode::start();
    let addr = node.addr.as_str();
    let home = tempfile::tempdir().expect("home");
    let t = Tmux::start(
        "expiry",
        &shell_argv(
            home.path(),
            &[
                "--server",
                addr,
                "--session-timeout-ms",
                "1000",
                "--no-history-file",
            ],
        ),
        200,
        50,
    );
    t.wait_for(&format!("[zk: {addr}(CONNECTED) 0]"));
    t.line("create -e /eph x");
    t.wait_for("Created /eph");
    t.wait_for(&format!("[zk: {addr}(CONNECTED) 1]"));

    // Stopped, the shell cannot ping: the server expires the session and drops /eph.
    t.signal("STOP");
    poll(
        "the stopped shell's session to expire on the server",
        || {
            let r = zk_cli(&["--server", addr, "stat", "/eph"]);
            (r.code == 1 && r.stderr.starts_with("NoNode")).then_some(())
        },
        || node.logs(),
    );
    t.signal("CONT");
    t.wait_for("WatchedEvent state:Expired type:None path:null");
    t.keys(&["Enter"]);
    t.wait_for(&format!("[zk: {addr}(CLOSED) 1]"));
    t.line("ls /");
    t.wait_for("Not connected (session expired)");

    // Ctrl-C drops the line being typed; the shell stays.
    t.type_text("this is abandoned");
    t.wait_last_line("the typed line", |l| l.ends_with("this is abandoned"));
    t.keys(&["C-c"]);
    t.wait_last_line("a fresh prompt after Ctrl-C", |l| {
        l.trim_end().ends_with(&format!("[zk: {addr}(CLOSED) 2]"))
    });

    // A bare `connect` opens a new session to the same servers.
    t.line("connect");
    t.wait_for_n("WatchedEvent state:SyncConnected type:None path:null", 2);
    t.wait_for(&format!("[zk: {addr}(CONNECTED) 3]"));
    t.line("create -e /eph2 y");
    t.wait_for("Created /eph2");
    t.wait_for(&format!("[zk: {addr}(CONNECTED) 4]"));

    // Ctrl-D at an empty prompt leaves, closing the session (its ephemeral goes at once).
    t.keys(&["C-d"]);
    assert_eq!(t.wait_exit(), 0, "{}", t.screen());
    let r = zk_cli(&["--server", addr, "stat", "/eph2"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.starts_with("NoNode"), "{r:?}");
}
