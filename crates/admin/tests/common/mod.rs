//! What the zk-admin suites share: clients that read every znode, the workload that makes
//! every kind of node and transaction, and running zk-admin.

#![allow(dead_code)] // each suite uses its own part

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use zk_client::{connect, Acl, Client, ConnectOptions, CreateMode, CreateOptions, Id, Multi, Stat};

pub const DEADLINE: Duration = Duration::from_secs(30);

pub type Tree = BTreeMap<String, (Vec<u8>, Vec<Acl>, Stat)>;

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

pub async fn client(addr: &str, options: ConnectOptions) -> Client {
    let (c, _events) = connect(addr, options).expect("connect");
    c.wait_connected(DEADLINE).await.expect("connected");
    c.add_auth("digest", b"admin:secret").await.expect("auth");
    c
}

pub fn opts() -> ConnectOptions {
    ConnectOptions::new().session_timeout(Duration::from_secs(30))
}

/// Every znode below and at `/`: data, ACL and stat, read with the admin's digest auth.
pub async fn read_tree(c: &Client) -> Tree {
    let mut out = Tree::new();
    let mut stack = vec!["/".to_string()];
    while let Some(p) = stack.pop() {
        let (data, stat) = c
            .get_data(&p)
            .await
            .unwrap_or_else(|e| panic!("get {p}: {e}"));
        let (acl, _) = c
            .get_acl(&p)
            .await
            .unwrap_or_else(|e| panic!("acl {p}: {e}"));
        for child in c
            .get_children(&p)
            .await
            .unwrap_or_else(|e| panic!("ls {p}: {e}"))
        {
            stack.push(if p == "/" {
                format!("/{child}")
            } else {
                format!("{p}/{child}")
            });
        }
        out.insert(p, (data, acl, stat));
    }
    out
}

/// The workload: every kind of node and transaction ZooKeeper 3.8 logs. Returns the
/// session that stays open, with its ephemerals.
pub async fn fill(addr: &str) -> (Client, Vec<String>) {
    let c = client(addr, opts()).await;
    let admin_only = vec![Acl {
        perms: zk_client::perms::ALL,
        id: Id {
            scheme: "auth".into(),
            id: String::new(),
        },
    }];
    let read_only = vec![Acl {
        perms: zk_client::perms::READ,
        id: Id {
            scheme: "world".into(),
            id: "anyone".into(),
        },
    }];
    let p = CreateOptions::persistent();
    c.create("/app", b"root of the app", &p)
        .await
        .expect("create");
    c.create(
        "/app/secret",
        b"digest only",
        &p.clone().with_acl(admin_only),
    )
    .await
    .expect("create");
    c.create(
        "/app/frozen",
        b"read only",
        &p.clone().with_acl(read_only.clone()),
    )
    .await
    .expect("create");
    c.create("/app/empty", b"", &p).await.expect("create");
    c.create("/app/bulk", b"", &p).await.expect("create");
    for i in 0..40 {
        c.create(
            &format!("/app/bulk/n{i:02}"),
            format!("v{i}").as_bytes(),
            &p,
        )
        .await
        .expect("create");
    }
    for i in (0..40).step_by(3) {
        c.delete(&format!("/app/bulk/n{i:02}"), None)
            .await
            .expect("delete");
    }
    for i in 0..10 {
        c.set_data("/app/bulk/n01", format!("again {i}").as_bytes(), None)
            .await
            .expect("set");
    }
    let seq = CreateOptions::new(CreateMode::PersistentSequential);
    let mut seqs = Vec::new();
    for _ in 0..4 {
        seqs.push(c.create("/app/seq-", b"s", &seq).await.expect("seq").0);
    }
    c.delete(&seqs[1], None).await.expect("delete seq");
    c.create(
        "/app/box",
        b"container",
        &CreateOptions::new(CreateMode::Container),
    )
    .await
    .expect("container");
    c.create("/app/box/in", b"", &p)
        .await
        .expect("create in container");
    c.create(
        "/app/ttl",
        b"lives an hour",
        &CreateOptions::new(CreateMode::PersistentWithTtl).with_ttl(Duration::from_secs(3600)),
    )
    .await
    .expect("ttl");
    c.create(
        "/app/ttl-seq-",
        b"",
        &CreateOptions::new(CreateMode::PersistentSequentialWithTtl)
            .with_ttl(Duration::from_secs(7200)),
    )
    .await
    .expect("ttl seq");
    c.multi(
        Multi::new()
            .check("/app", 0)
            .create("/app/m1", b"from a multi", &p)
            .set_data("/app/empty", b"set in a multi", Some(0))
            .delete("/app/bulk/n02", None),
    )
    .await
    .expect("multi");
    // A failing multi is logged (as error txns) and changes nothing.
    assert!(c
        .multi(Multi::new().create("/app/m2", b"", &p).check("/app", 99))
        .await
        .is_err());
    let mut shared = read_only.clone();
    shared.push(Acl {
        perms: zk_client::perms::ALL,
        id: Id {
            scheme: "auth".into(),
            id: String::new(),
        },
    });
    c.set_acl("/app/empty", &shared, Some(0))
        .await
        .expect("set acl");

    // A session that ends with ephemerals: its close deletes them.
    let gone = client(addr, opts()).await;
    gone.create("/app/gone", b"", &CreateOptions::ephemeral())
        .await
        .expect("eph");
    gone.close().await.expect("close");

    // The session that stays open.
    let keeper = client(addr, opts()).await;
    let mut ephemerals = vec![
        keeper
            .create("/app/lock", b"held", &CreateOptions::ephemeral())
            .await
            .expect("eph")
            .0,
        keeper
            .create(
                "/app/bulk/member-",
                b"",
                &CreateOptions::new(CreateMode::EphemeralSequential),
            )
            .await
            .expect("eph seq")
            .0,
    ];
    ephemerals.sort();
    c.close().await.expect("close");
    (keeper, ephemerals)
}

/// ZooKeeper's dynamic config: the membership of the ensemble that serves, not data that
/// moves with the tree. A standalone ZooKeeper's is empty; a zk-node ensemble's first leader
/// writes its own members there. So the suites compare only its ACL with
/// ZooKeeper's (import_zookeeper.rs also checks the members it lists).
pub const CONFIG: &str = "/zookeeper/config";

/// Runs `zk-admin import-zookeeper ZK_DIR --data-dir TARGET EXTRA...`.
pub fn import(zk_dir: &Path, target: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "import-zookeeper",
        zk_dir.to_str().expect("utf-8"),
        "--data-dir",
        target.to_str().expect("utf-8"),
    ];
    args.extend(extra);
    zk_admin(&args)
}

/// Waits until `zk-admin inspect` finds every file of `zk_dir` whole, within [`DEADLINE`].
pub fn wait_until_whole(zk_dir: &Path) {
    let dir = zk_dir.to_str().expect("utf-8");
    let deadline = std::time::Instant::now() + DEADLINE;
    loop {
        let out = zk_admin(&["inspect", dir]);
        let summary = String::from_utf8_lossy(&out.stdout);
        if out.status.success() && summary.contains("checksums OK") && !summary.contains("DAMAGED")
        {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "ZooKeeper's files never read whole: {summary}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn zk_admin(args: &[&str]) -> std::process::Output {
    zk_admin_with_env(args, &[])
}

/// `zk-admin args` with `env` set (and no `ZK_ADMIN_AUTH` from the caller's environment).
pub fn zk_admin_with_env(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_zk-admin"))
        .args(args)
        .env_remove("ZK_ADMIN_AUTH")
        .envs(env.iter().copied())
        .output()
        .expect("run zk-admin")
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read dir") {
        let e = e.expect("entry");
        let dest = to.join(e.file_name());
        if e.file_type().expect("type").is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).expect("copy");
        }
    }
}

/// A zk-admin run that must have failed with `expect` in its stderr and written nothing: not
/// `target`, nor a temporary sibling (a name containing `temp_marker`) in its directory.
pub fn assert_refused_writing_nothing(
    out: &std::process::Output,
    target: &Path,
    temp_marker: &str,
    expect: &str,
) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "succeeded: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(stderr.contains(expect), "expected {expect:?} in: {stderr}");
    assert!(!target.exists(), "wrote {}", target.display());
    let parent = target.parent().expect("parent");
    let leftovers: Vec<_> = std::fs::read_dir(parent)
        .expect("the target's directory")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains(temp_marker))
        .collect();
    assert!(leftovers.is_empty(), "left {leftovers:?}");
}
