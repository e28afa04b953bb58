//! The way back, end to end: a zk-node (one node, TTL nodes on, a snapshot every 20 commands
//! so that the export reads a snapshot and the log after it) is given the same workload as
//! the import suite's ZooKeeper (ACLs, sequential, ephemeral, container and TTL nodes, multis,
//! deletes, setACL, a closed session and one that stays open); every znode is read back as
//! zk-node answers it; the node is stopped and `zk-admin export-zookeeper` writes a ZooKeeper
//! dataDir from its data dir; Debian's Apache ZooKeeper 3.8 (standalone) started on it must
//! answer every znode's data, ACL and stat exactly as zk-node did, list the open session
//! with its ephemerals, and go on from zk-node's zxid.
//!
//! Also: `inspect` of the zk-node data dir (summary, `--dump tree`, `--dump txns`), an
//! export refused while the node runs, into a non-empty dir, and from copies with a flipped
//! byte in the snapshot or in the log, each with a clear error and nothing written.
//!
//! `ZK_ADMIN_SKIP_ZOOKEEPER=1` skips it with a message; otherwise a missing install fails.

mod common;

use std::path::{Path, PathBuf};

use common::{client, copy_dir, fill, opts, read_tree, runtime, zk_admin, Tree};
use zk_client::CreateOptions;
use zk_testkit::zk_node::Single;
use zk_testkit::zookeeper::Options;

const SKIP: &str = "ZK_ADMIN_SKIP_ZOOKEEPER";

fn export(node_dir: &Path, target: &Path) -> std::process::Output {
    zk_admin(&[
        "export-zookeeper",
        "--ttl-nodes",
        "--data-dir",
        node_dir.to_str().expect("utf-8"),
        target.to_str().expect("utf-8"),
    ])
}

fn text(o: &[u8]) -> String {
    String::from_utf8_lossy(o).into_owned()
}

/// An export that must fail with `expect` in its message and leave nothing behind: neither
/// the target nor a temporary sibling.
fn refused(out: std::process::Output, target: &Path, expect: &str) {
    common::assert_refused_writing_nothing(&out, target, ".export-", expect);
}

/// The only file in `dir` whose name ends with `suffix`, the first by name.
fn first_file(dir: &Path, suffix: &str) -> PathBuf {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read dir")
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    v.sort();
    v.into_iter()
        .next()
        .unwrap_or_else(|| panic!("no *{suffix} in {}", dir.display()))
}

fn flip(file: &Path, at: usize) {
    let mut b = std::fs::read(file).expect("read");
    assert!(b.len() > at, "{} has {} bytes", file.display(), b.len());
    b[at] ^= 0x5a;
    std::fs::write(file, b).expect("write");
}

/// The largest zxid any stat shows.
fn max_zxid(t: &Tree) -> i64 {
    t.values()
        .map(|(_, _, s)| s.czxid.max(s.mzxid).max(s.pzxid))
        .max()
        .unwrap_or(0)
}

#[test]
fn zk_node_data_dir_exported_to_apache_zookeeper() {
    let options = Options::standalone(SKIP).extended_types();
    if options.skip() {
        return;
    }
    let rt = runtime();
    // tickTime 2000 as ZooKeeper's, so the 30 s sessions are not cut to the kit's 4 s.
    let mut node =
        Single::start_with(&["--ttl-nodes", "--tick-ms", "2000", "--snapshot-every", "20"]);
    let node_addr = node.addr.to_string();
    let (keeper, ephemerals) = rt.block_on(fill(&node_addr));
    let session = keeper.session().id;
    let before = rt.block_on(async {
        let c = client(&node_addr, opts()).await;
        let t = read_tree(&c).await;
        c.close().await.expect("close");
        t
    });
    for e in &ephemerals {
        assert_eq!(before[e].2.ephemeral_owner, session, "{e}");
    }
    let node_dir = node.data_dir.clone();
    let scratch = tempfile::tempdir().expect("tempdir");

    // A running node holds its data dir: refused, nothing written.
    let target = scratch.path().join("while-running");
    refused(export(&node_dir, &target), &target, "in use");

    // Stopped with the keeper's session still open: it stays in the state, with its
    // ephemerals, as it would across any restart.
    let status = node.terminate();
    assert!(status.success(), "zk-node exit: {status}");
    drop(keeper);

    // inspect: the summary, the tree, a zxid range of the log.
    let dir_s = node_dir.to_str().expect("utf-8");
    let out = zk_admin(&["inspect", dir_s, "--ttl-nodes"]);
    let summary = text(&out.stdout);
    assert!(out.status.success(), "{summary}{}", text(&out.stderr));
    for want in [
        "zk-node data dir",
        "snapshot snapshots/",
        "members (voters): 1=",
        &format!("{} znodes, 1 sessions, 2 ephemerals", before.len()),
        &format!("session {session:#x} timeout"),
        "checksums OK",
    ] {
        assert!(summary.contains(want), "no {want:?} in:\n{summary}");
    }
    let out = zk_admin(&["inspect", dir_s, "--ttl-nodes", "--dump", "tree"]);
    let tree = text(&out.stdout);
    assert!(out.status.success(), "{tree}");
    for p in before.keys() {
        assert!(tree.contains(&format!("\n{p}\n")), "{p} not in:\n{tree}");
    }
    // The log after the last snapshot: its last command alone, by its zxid; the member's
    // create if the log still holds it.
    let (first, last) = summary
        .split("(zxids ")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .and_then(|r| r.split_once("..="))
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .unwrap_or_else(|| panic!("no zxid range in:\n{summary}"));
    let out = zk_admin(&[
        "inspect", dir_s, "--dump", "txns", "--from", &last, "--to", &last,
    ]);
    let txns = text(&out.stdout);
    assert!(out.status.success(), "{txns}{}", text(&out.stderr));
    let lines: Vec<&str> = txns.lines().filter(|l| l.starts_with("index ")).collect();
    assert!(
        !lines.is_empty() && lines.iter().all(|l| l.contains(&format!("zxid {last} "))),
        "{txns}"
    );
    let member = ephemerals
        .iter()
        .find(|p| p.contains("member-"))
        .expect("member");
    let czxid = before[member].2.czxid;
    let first = i64::from_str_radix(first.trim_start_matches("0x"), 16).expect("zxid");
    if czxid >= first {
        let out = zk_admin(&["inspect", dir_s, "--dump", "txns"]);
        let all = text(&out.stdout);
        assert!(
            all.contains(&format!(
                "zxid {czxid:#x} session {session:#x} create /app/bulk/member- "
            )),
            "{all}"
        );
    }

    // Damaged copies: a clear error, nothing written.
    let copy = scratch.path().join("flipped-snapshot");
    copy_dir(&node_dir, &copy);
    let snap = first_file(&copy.join("snapshots"), ".snap");
    let len = std::fs::metadata(&snap).expect("len").len() as usize;
    flip(&snap, len / 2);
    let target = scratch.path().join("from-flipped-snapshot");
    refused(export(&copy, &target), &target, "crc32");
    let copy = scratch.path().join("flipped-log");
    copy_dir(&node_dir, &copy);
    // Inside the first frame's records (after its 20-byte header), with frames after it.
    flip(&first_file(&copy.join("wal"), ".wal"), 24);
    let target = scratch.path().join("from-flipped-log");
    refused(export(&copy, &target), &target, "not a torn write");
    // A non-empty target.
    let full = scratch.path().join("full");
    std::fs::create_dir_all(full.join("version-2")).expect("mkdir");
    let out = export(&node_dir, &full);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("is not empty"),
        "{}",
        text(&out.stderr)
    );

    // Apache ZooKeeper on the export: started once for its config, killed, its dataDir
    // replaced by the export, started again.
    let mut zk = options.start();
    zk.kill(0);
    let zk_dir = zk.data_dir(0);
    std::fs::remove_dir_all(&zk_dir).expect("remove ZooKeeper's dataDir");
    let out = export(&node_dir, &zk_dir);
    let said = text(&out.stdout);
    assert!(out.status.success(), "{said}{}", text(&out.stderr));
    let last_zxid = said
        .split("zxid 0x")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|h| i64::from_str_radix(h, 16).ok())
        .unwrap_or_else(|| panic!("no zxid in {said}"));
    assert!(last_zxid >= max_zxid(&before), "{said}");
    assert!(
        zk_dir
            .join("version-2")
            .join(format!("snapshot.{last_zxid:x}"))
            .is_file(),
        "{said}"
    );
    zk.start_member(0);
    zk.await_ready();
    let zk_addr = zk.addrs()[0].clone();
    let after = rt.block_on(async {
        let c = client(&zk_addr, opts()).await;
        let t = read_tree(&c).await;
        // ZooKeeper's zxids go on from zk-node's.
        let (_, stat) = c
            .create("/after-export", b"", &CreateOptions::persistent())
            .await
            .expect("create");
        assert!(
            stat.czxid > last_zxid,
            "{:#x} after {last_zxid:#x}",
            stat.czxid
        );
        c.close().await.expect("close");
        t
    });
    assert_trees_equal(&before, &after);
    // The open session and its ephemerals, as ZooKeeper's `dump` lists them.
    let dump = zk_testkit::four_letter(&zk_addr, "dump").expect("dump");
    let listed = dump
        .split(&format!("{session:#x}:"))
        .nth(1)
        .unwrap_or_else(|| panic!("session {session:#x} not in dump:\n{dump}"));
    for e in &ephemerals {
        assert!(listed.contains(e.as_str()), "{e} not in dump:\n{dump}");
    }
}

/// Every znode, every field, no exception: `/zookeeper/config` too, since a standalone
/// ZooKeeper serves the one it loads (only a quorum member rewrites it from its own config).
fn assert_trees_equal(node: &Tree, zk: &Tree) {
    let missing: Vec<&String> = node.keys().filter(|p| !zk.contains_key(*p)).collect();
    let extra: Vec<&String> = zk.keys().filter(|p| !node.contains_key(*p)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing in ZooKeeper {missing:?}, extra {extra:?}"
    );
    for (p, want) in node {
        assert_eq!(
            &zk[p], want,
            "znode {p}: ZooKeeper (left) vs zk-node (right)"
        );
    }
}
