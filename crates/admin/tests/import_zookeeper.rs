//! Moving in from Apache ZooKeeper 3.8 (Debian's package), end to end: a standalone ZooKeeper
//! is given a tree with ACLs, sequential, ephemeral, container and TTL nodes, multis (one
//! failing), deletes, closed sessions and one session that stays open, with snapshots taken
//! along the way (snapCount 16); it is killed, its dataDir imported with `zk-admin
//! import-zookeeper`, and zk-node started on the result (one node, then a three-node
//! ensemble) must answer every znode's data, ACL and stat exactly as ZooKeeper did. The open
//! session's client then reconnects to zk-node with its id and password and finds its
//! ephemerals. Damaged copies of the dataDir (a truncated snapshot, a flipped byte in a
//! transaction, a wrong magic) are refused with a clear error and write nothing.
//!
//! `ZK_ADMIN_SKIP_ZOOKEEPER=1` skips it with a message; otherwise a missing install fails.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{
    assert_refused_writing_nothing, client, copy_dir, fill, import, opts, read_tree, runtime,
    wait_until_whole, zk_admin, Tree, CONFIG,
};
use zk_client::{connect, CreateOptions};
use zk_testkit::zk_node::{Ensemble, Single};
use zk_testkit::zookeeper::Options;

const SKIP: &str = "ZK_ADMIN_SKIP_ZOOKEEPER";

/// `version-2`'s files with `prefix`, by zxid.
fn files(zk_dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut v: Vec<(u64, PathBuf)> = std::fs::read_dir(zk_dir.join("version-2"))
        .expect("version-2")
        .filter_map(|e| {
            let e = e.ok()?;
            let name = e.file_name().into_string().ok()?;
            let zxid = u64::from_str_radix(name.strip_prefix(&format!("{prefix}."))?, 16).ok()?;
            Some((zxid, e.path()))
        })
        .collect();
    v.sort();
    v.into_iter().map(|(_, p)| p).collect()
}

/// A damaged copy of `zk_dir` must be refused with `expect` in the message, and nothing
/// written at the target.
fn refused(zk_dir: &Path, scratch: &Path, name: &str, damage: impl Fn(&Path), expect: &str) {
    let copy = scratch.join(name);
    copy_dir(zk_dir, &copy);
    damage(&copy);
    let target = scratch.join(format!("{name}-target"));
    let out = import(&copy, &target, &[]);
    assert_refused_writing_nothing(&out, &target, "import-", expect);
}

#[test]
fn apache_zookeeper_data_dir_imported_into_zk_node() {
    let options = Options::standalone(SKIP).extended_types().snap_count(16);
    if options.skip() {
        return;
    }
    let rt = runtime();
    let mut zk = options.start();
    let zk_addr = zk.addrs()[0].clone();
    let (keeper, ephemerals) = rt.block_on(fill(&zk_addr));
    let session = keeper.session();
    let before = rt.block_on(async {
        let c = client(&zk_addr, opts()).await;
        let t = read_tree(&c).await;
        c.close().await.expect("close");
        t
    });
    let tree_zxid = before
        .values()
        .map(|(_, _, s)| s.mzxid.max(s.pzxid))
        .max()
        .unwrap_or(0);
    // ZooKeeper writes a snapshot on a thread of its own once a txn crosses its roll
    // point (every 8-16 txns with snapCount 16): if the session close just above was that
    // txn, the kill would cut the snapshot, and a torn newest snapshot is a crash's
    // damage, not what this test is about. So the kill waits, bounded, until every file in
    // the dir reads whole.
    wait_until_whole(&zk.data_dir(0));
    // Stopped as a crash would stop it: every acknowledged txn is in its log already.
    zk.kill(0);
    drop(keeper);
    let zk_dir = zk.data_dir(0);
    assert!(
        files(&zk_dir, "snapshot").len() >= 2,
        "snapCount should have made snapshots besides snapshot.0"
    );

    let scratch = tempfile::tempdir().expect("tempdir");

    // inspect: a summary of every file, every checksum verified.
    let out = zk_admin(&["inspect", zk_dir.to_str().expect("utf-8")]);
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{summary}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        summary.contains("checksums OK") && !summary.contains("DAMAGED"),
        "{summary}"
    );
    // The last txn is a session's close, which no stat shows: it is at least the tree's.
    let last_zxid = summary
        .split("last zxid 0x")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .and_then(|h| i64::from_str_radix(h, 16).ok())
        .unwrap_or_else(|| panic!("no last zxid in {summary}"));
    assert!(last_zxid >= tree_zxid && tree_zxid > 0, "{summary}");
    let dir_s = zk_dir.to_str().expect("utf-8");
    let out = zk_admin(&["inspect", dir_s, "--dump", "tree"]);
    let tree = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{tree}");
    for p in before.keys() {
        assert!(
            tree.contains(&format!("\n{p}\n")),
            "{p} not in the dump:\n{tree}"
        );
    }
    let out = zk_admin(&[
        "inspect", dir_s, "--dump", "txns", "--from", "0x1", "--to", "0x2",
    ]);
    let txns = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{txns}");
    // The filling client's session, then its first create.
    assert!(
        txns.contains("zxid 0x1 createSession") && txns.contains("zxid 0x2 create2 /app "),
        "{txns}"
    );
    assert!(!txns.contains("zxid 0x3 "), "{txns}");

    // One node.
    let target = scratch.path().join("single");
    let out = import(&zk_dir, &target, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut node = Single::start_in(&target, &["--ttl-nodes"]);
    let node_addr = node.addr.to_string();
    let after = rt.block_on(async {
        let c = client(&node_addr, opts()).await;
        let t = read_tree(&c).await;
        c.close().await.expect("close");
        t
    });
    assert_trees_equal(&before, &after);

    // The open session comes back with its id and ZooKeeper's password.
    rt.block_on(async {
        let resumed = client(
            &node_addr,
            opts().resume(session.id, session.password.clone()),
        )
        .await;
        assert_eq!(resumed.session().id, session.id);
        let mut mine = resumed.get_ephemerals("/").await.expect("ephemerals");
        mine.sort();
        assert_eq!(mine, ephemerals);
        // A wrong password is refused.
        let mut bad = session.password.clone();
        bad[0] ^= 1;
        let (c, _ev) = connect(&node_addr, opts().resume(session.id, bad)).expect("connect");
        assert!(c.wait_connected(Duration::from_secs(5)).await.is_err());
        // zxids go on from ZooKeeper's.
        let (_, stat) = resumed
            .create("/after-import", b"", &CreateOptions::persistent())
            .await
            .expect("create");
        assert!(
            stat.czxid > last_zxid,
            "{:#x} after {last_zxid:#x}",
            stat.czxid
        );
        resumed.close().await.expect("close");
        // Its close deleted its ephemerals.
        let c = client(&node_addr, opts()).await;
        for e in &ephemerals {
            assert_eq!(c.exists(e).await.expect("exists"), None, "{e}");
        }
        c.close().await.expect("close");
    });
    node.terminate();

    // Three nodes: each member imports the same dir with its own id.
    let mut ensemble = Ensemble::new(3, &["--ttl-nodes"]);
    for id in 1..=3u64 {
        let id_s = id.to_string();
        let peers = ensemble.peers().to_string();
        let out = import(
            &zk_dir,
            ensemble.data_dir(id),
            &["--id", &id_s, "--peers", &peers],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for id in 1..=3 {
        ensemble.start_member(id);
    }
    ensemble.wait_leader();
    for m in &ensemble.members {
        let addr = m.client.to_string();
        let after = rt.block_on(async {
            let c = client(&addr, opts()).await;
            c.sync("/").await.expect("sync");
            let t = read_tree(&c).await;
            c.close().await.expect("close");
            t
        });
        assert_trees_equal(&before, &after);
        assert_lists_members(&after, 3);
    }
    drop(ensemble);

    // Damaged inputs: a clear error naming the file, and nothing written.
    refused(
        &zk_dir,
        scratch.path(),
        "truncated-snapshots",
        |d| {
            for s in files(d, "snapshot") {
                let len = std::fs::metadata(&s).expect("len").len();
                let f = std::fs::OpenOptions::new()
                    .write(true)
                    .open(&s)
                    .expect("open");
                f.set_len(len / 2).expect("truncate");
            }
        },
        "no valid snapshot",
    );
    refused(
        &zk_dir,
        scratch.path(),
        "flipped-txn",
        |d| {
            // The newest log: it follows the newest snapshot, so it is read.
            let log = files(d, "log").pop().expect("a log");
            let mut b = std::fs::read(&log).expect("read");
            // Inside the first record's bytes (16 header, 8 crc, 4 length, then the txn).
            b[16 + 12 + 20] ^= 0x5a;
            std::fs::write(&log, b).expect("write");
        },
        "Adler32 checksum mismatch",
    );
    refused(
        &zk_dir,
        scratch.path(),
        "wrong-magic",
        |d| {
            for l in files(d, "log") {
                let mut b = std::fs::read(&l).expect("read");
                b[..4].copy_from_slice(b"ZKSN");
                std::fs::write(&l, b).expect("write");
            }
        },
        "wrong magic",
    );
}

// `/zookeeper/config` ([`CONFIG`]): only its ACL is compared, see there.
fn assert_trees_equal(zk: &Tree, node: &Tree) {
    let missing: Vec<&String> = zk.keys().filter(|p| !node.contains_key(*p)).collect();
    let extra: Vec<&String> = node.keys().filter(|p| !zk.contains_key(*p)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}, extra {extra:?}"
    );
    for (p, want) in zk {
        if p == CONFIG {
            assert_eq!(node[p].1, want.1, "ACL of {CONFIG}: zk-node vs ZooKeeper");
            continue;
        }
        assert_eq!(
            &node[p], want,
            "znode {p}: zk-node (left) vs ZooKeeper (right)"
        );
    }
}

/// `/zookeeper/config` names `n` members (`server.N=` lines) and a version.
fn assert_lists_members(tree: &Tree, n: usize) {
    let text = String::from_utf8_lossy(&tree[CONFIG].0).into_owned();
    let servers = text.lines().filter(|l| l.starts_with("server.")).count();
    assert!(
        servers == n && text.lines().any(|l| l.starts_with("version=")),
        "{CONFIG} should list {n} members: {text:?}"
    );
}
