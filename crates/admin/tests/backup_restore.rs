//! Online backup and restore, end to end: a three-node zk-node ensemble under a write load
//! (a client creating distinct nodes, recording each acknowledged create's zxid) is backed up
//! from a follower's admin HTTP port mid-load (`zk-admin backup`); the load goes on past it,
//! then stops. `zk-admin restore` prepares a new data dir from the backup, a one-node zk-node
//! starts on it, and its tree must be exactly the source's at the backup's zxid: every
//! acknowledged create with zxid <= it and none after, every other znode's data, ACL and stat
//! as the source has them.
//!
//! The snapshot command asks for auth as ZooKeeper 3.9 does (ALL on `/`, whose ACL the test
//! closes to the admin's digest): without an `Authorization` header it is refused (401), with
//! a wrong password or an id the ACL does not name too (403), and the refusals leave no file
//! and do not spend the rate limit.
//!
//! Also: a second snapshot request right after is rate-limited (429), and restores of a
//! backup with a flipped byte, cut short, or given a zxid older than its nodes are refused
//! with a clear error and write nothing.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{
    assert_refused_writing_nothing, client, opts, read_tree, runtime, zk_admin, zk_admin_with_env,
    Tree,
};
use zk_client::{Acl, CreateOptions, Id};
use zk_testkit::zk_node::{Ensemble, Single};

/// The data of a node whose bytes the corruption case flips (found by content).
const MARKER: &[u8] = b"backup-marker-data";
/// The serving ensemble's membership, written by its leader: not data that moves with the
/// tree (the restored node's own membership is written there), so only its ACL is compared.
const CONFIG: &str = "/zookeeper/config";
const LOAD_BOUND: Duration = Duration::from_secs(60);

fn text(o: &[u8]) -> String {
    String::from_utf8_lossy(o).into_owned()
}

/// A restore that must fail with `expect` in its message and leave nothing behind.
fn refused(file: &Path, extra: &[&str], target: &Path, expect: &str) {
    let mut args = vec![
        "restore",
        file.to_str().expect("utf-8"),
        "--data-dir",
        target.to_str().expect("utf-8"),
    ];
    args.extend_from_slice(extra);
    assert_refused_writing_nothing(&zk_admin(&args), target, ".import-", expect);
}

/// The zxid `zk-admin backup` printed (`zxid 0x...,`).
fn printed_zxid(stdout: &str) -> i64 {
    let z = stdout
        .split("zxid 0x")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .unwrap_or_else(|| panic!("no zxid in {stdout:?}"));
    i64::from_str_radix(z, 16).expect("hex zxid")
}

/// `got` (a restored node's tree) holds exactly the creates acknowledged at or before `zxid`
/// and every other znode as `expected` (the source at `zxid`).
fn assert_restored(got: &Tree, expected: &Tree, before: &[&(String, i64)], zxid: i64) {
    let got_load: Vec<String> = got
        .keys()
        .filter(|p| p.starts_with("/load/"))
        .cloned()
        .collect();
    let want_load: Vec<String> = before.iter().map(|(p, _)| p.clone()).collect();
    assert_eq!(got_load, want_load, "the creates up to {zxid:#x}");
    for (path, want) in expected {
        let Some(have) = got.get(path) else {
            panic!("{path} missing from the restored tree");
        };
        if path == CONFIG {
            assert_eq!(have.1, want.1, "ACL of {CONFIG}");
            continue;
        }
        assert_eq!(
            have, want,
            "{path}: restored (left) vs source at {zxid:#x} (right)"
        );
    }
    assert_eq!(got.len(), expected.len());
}

#[test]
fn a_backup_under_load_restores_the_tree_at_its_zxid() {
    let mut e = Ensemble::new(3, &[]);
    for id in 1..=3 {
        e.start_member(id);
    }
    let leader = e.wait_leader();
    let follower = e.others(leader)[0];
    let connect = e
        .members
        .iter()
        .map(|m| m.client.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let rt = runtime();

    // A small tree with data, a set, and an ACL beside the load's parent.
    rt.block_on(async {
        let c = client(&connect, opts()).await;
        let digest = vec![Acl {
            perms: zk_client::perms::ALL,
            id: Id {
                scheme: "auth".into(),
                id: String::new(),
            },
        }];
        let mut o = CreateOptions::persistent();
        c.create("/base", b"base", &o).await.expect("create /base");
        o = CreateOptions::persistent().with_acl(digest);
        c.create("/base/secret", MARKER, &o).await.expect("secret");
        c.create("/load", b"", &CreateOptions::persistent())
            .await
            .expect("create /load");
        c.set_data("/base", b"base-v2", None).await.expect("set");
        // Only the admin holds ADMIN on `/`, so only the admin may take a snapshot; everyone
        // may still create below it.
        let root = vec![
            Acl {
                perms: zk_client::perms::ALL,
                id: Id {
                    scheme: "auth".into(),
                    id: String::new(),
                },
            },
            Acl {
                perms: zk_client::perms::ALL & !zk_client::perms::ADMIN,
                id: Id {
                    scheme: "world".into(),
                    id: "anyone".into(),
                },
            },
        ];
        c.set_acl("/", &root, None).await.expect("setACL /");
        c.close().await.expect("close");
    });

    // The load: distinct creates, each acknowledged one recorded with its zxid.
    let (progress_tx, mut progress) = tokio::sync::watch::channel(0usize);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let load_connect = connect.clone();
    let load = rt.spawn(async move {
        let c = client(&load_connect, opts()).await;
        let mut acked: Vec<(String, i64)> = Vec::new();
        let mut i = 0u64;
        while !*stop_rx.borrow() {
            let path = format!("/load/n{i:06}");
            let (p, stat) = c
                .create(
                    &path,
                    format!("v{i}").as_bytes(),
                    &CreateOptions::persistent(),
                )
                .await
                .unwrap_or_else(|e| panic!("create {path}: {e}"));
            acked.push((p, stat.czxid));
            i += 1;
            let _ = progress_tx.send(acked.len());
        }
        c.close().await.expect("close");
        acked
    });
    let wait_for = |rx: &mut tokio::sync::watch::Receiver<usize>, n: usize| {
        rt.block_on(async {
            tokio::time::timeout(LOAD_BOUND, rx.wait_for(|&k| k >= n))
                .await
                .unwrap_or_else(|_| panic!("the load did not reach {n} creates"))
                .expect("load task alive");
        })
    };
    wait_for(&mut progress, 40);

    let scratch = tempfile::tempdir().expect("scratch");
    let backups = scratch.path().join("backups");
    std::fs::create_dir(&backups).expect("mkdir");
    let admin = e.members[(follower - 1) as usize].admin.to_string();
    let backup_args = [
        "backup",
        "--server",
        &admin,
        backups.to_str().expect("utf-8"),
    ];
    // Refused without auth, with a wrong password, and with an id the root's ACL lacks.
    for (auth, status) in [
        (None, "401"),
        (Some("digest admin:wrong"), "403"),
        (Some("ip"), "403"),
        (Some("nosuch x"), "401"),
    ] {
        let env: Vec<(&str, &str)> = auth.map(|a| ("ZK_ADMIN_AUTH", a)).into_iter().collect();
        let out = zk_admin_with_env(&backup_args, &env);
        let stderr = text(&out.stderr);
        assert!(!out.status.success(), "backup with {auth:?} succeeded");
        assert!(
            stderr.contains(&format!("refused the snapshot command ({status}")),
            "{auth:?}: {stderr}"
        );
        assert_eq!(std::fs::read_dir(&backups).expect("ls").count(), 0);
    }
    let out = zk_admin_with_env(&backup_args, &[("ZK_ADMIN_AUTH", "digest admin:secret")]);
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "backup: {}{}",
        stdout,
        text(&out.stderr)
    );
    let zxid = printed_zxid(&stdout);
    let file = backups.join(format!("snapshot.{zxid:x}"));
    assert!(file.is_file(), "no {} after: {stdout}", file.display());
    assert!(stdout.contains("seal OK"), "{stdout}");
    // Only the backup: no temporary file left beside it.
    assert_eq!(std::fs::read_dir(&backups).expect("ls").count(), 1);

    // ZooKeeper's rate limit: a second snapshot right after is refused.
    let (status, _) = zk_testkit::http_get_with(
        e.members[(follower - 1) as usize].admin,
        "/commands/snapshot?streaming=false",
        &[("Authorization", "digest admin:secret")],
    )
    .expect("admin answers");
    assert_eq!(status, 429);
    // ZooKeeper's answer to a caller without auth: 401 and its JSON error.
    let (status, body) = zk_testkit::http_get(
        e.members[(follower - 1) as usize].admin,
        "/commands/snapshot",
    )
    .expect("admin answers");
    assert_eq!(status, 401);
    assert!(
        body.contains("\"error\":\"Auth info is missing for the command\""),
        "{body}"
    );

    // The load goes on past the backup, then stops.
    let seen = *progress.borrow();
    wait_for(&mut progress, seen + 40);
    stop_tx.send(true).expect("stop");
    let acked = rt
        .block_on(async { tokio::time::timeout(LOAD_BOUND, load).await })
        .expect("the load stops")
        .expect("the load task");
    let before: Vec<&(String, i64)> = acked.iter().filter(|(_, z)| *z <= zxid).collect();
    assert!(
        before.len() >= 40,
        "{} creates before the backup",
        before.len()
    );
    assert!(before.len() < acked.len(), "no create after the backup");
    eprintln!(
        "{} creates acknowledged, {} of them at or before the backup's zxid {zxid:#x}",
        acked.len(),
        before.len()
    );

    // The source's final tree; at the backup's zxid it held the same nodes except the creates
    // after it, and /load's child counters as of then.
    let source: Tree = rt.block_on(async {
        let c = client(&connect, opts()).await;
        let t = read_tree(&c).await;
        c.close().await.expect("close");
        t
    });
    let mut expected: Tree = source
        .into_iter()
        .filter(|(_, (_, _, s))| s.czxid <= zxid)
        .collect();
    let load_entry = expected.get_mut("/load").expect("/load");
    load_entry.2.num_children = before.len() as i32;
    load_entry.2.cversion = before.len() as i32;
    load_entry.2.pzxid = before.iter().map(|(_, z)| *z).max().expect("creates");

    // Restore and serve it.
    let restored = scratch.path().join("restored");
    let out = zk_admin(&[
        "restore",
        file.to_str().expect("utf-8"),
        "--data-dir",
        restored.to_str().expect("utf-8"),
    ]);
    assert!(
        out.status.success(),
        "restore: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let node = Single::start_in(&restored, &[]);
    let got: Tree = rt.block_on(async {
        let c = client(&node.addr.to_string(), opts()).await;
        let t = read_tree(&c).await;
        c.close().await.expect("close");
        t
    });
    assert_restored(&got, &expected, &before, zxid);
    drop(node);

    // The same backup restored into a new three-node ensemble, each member with its id.
    let mut e3 = Ensemble::new(3, &[]);
    let peers = e3.peers().to_string();
    for id in 1..=3u64 {
        let dir = e3.data_dir(id).to_path_buf();
        let ids = id.to_string();
        let out = zk_admin(&[
            "restore",
            file.to_str().expect("utf-8"),
            "--data-dir",
            dir.to_str().expect("utf-8"),
            "--id",
            &ids,
            "--peers",
            &peers,
        ]);
        assert!(out.status.success(), "restore {id}: {}", text(&out.stderr));
    }
    for id in 1..=3 {
        e3.start_member(id);
    }
    e3.wait_leader();
    for m in &e3.members {
        let got: Tree = rt.block_on(async {
            let c = client(&m.client.to_string(), opts()).await;
            // A follower answers from what it has applied: sync first.
            c.sync("/").await.expect("sync");
            let t = read_tree(&c).await;
            c.close().await.expect("close");
            t
        });
        assert_restored(&got, &expected, &before, zxid);
    }
    drop(e3);
    drop(e);

    // Damage: each refused with a clear error, nothing written.
    let bytes = std::fs::read(&file).expect("read backup");
    let bad = scratch.path().join("bad");
    std::fs::create_dir(&bad).expect("mkdir");
    let flipped: PathBuf = bad.join(format!("snapshot.{zxid:x}"));
    let at = bytes
        .windows(MARKER.len())
        .position(|w| w == MARKER)
        .expect("the marker node's data");
    let mut b = bytes.clone();
    b[at] ^= 0x5a;
    std::fs::write(&flipped, &b).expect("write");
    refused(
        &flipped,
        &[],
        &scratch.path().join("r1"),
        "Adler32 checksum mismatch",
    );
    let cut = bad.join("cut");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).expect("write");
    let z = format!("{zxid:#x}");
    refused(
        &cut,
        &["--zxid", &z],
        &scratch.path().join("r2"),
        "truncated",
    );
    // A zxid older than the nodes it holds: the wrong zxid for this snapshot.
    refused(
        &file,
        &["--zxid", "0x3"],
        &scratch.path().join("r3"),
        "wrong zxid",
    );
    // No zxid at all: the name does not carry one.
    refused(&cut, &[], &scratch.path().join("r4"), "give --zxid");
}
