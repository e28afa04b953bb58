//! Running zk-node the way ZooKeeper is run: the zoo.cfg of a working three-node Apache
//! ZooKeeper starts a three-node ensemble unchanged (`--config` and `myid` files only), a
//! bad value stops the start naming its line and an unknown key is a warning, the superDigest
//! user passes every ACL, and `--log-format json` writes one JSON object per line.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::path::PathBuf;
use std::process::Child;
use std::process::Command;
use std::process::Stdio;
use std::time::Duration;
use std::time::Instant;

use common::four_letter;
use common::free_port;
use common::req::create;
use common::req::sync;
use common::Raw;
use common::ZkNode;
use common::DEADLINE;
use zk_wire::perms;
use zk_wire::Acl;
use zk_wire::AuthPacket;
use zk_wire::CreateRequest;
use zk_wire::ErrorCode;
use zk_wire::GetDataRequest;
use zk_wire::GetDataResponse;
use zk_wire::Id;
use zk_wire::Record;
use zk_wire::Request;

/// `digest_id("super:test")`, as ZooKeeper's DigestAuthenticationProvider prints it.
const SUPER_DIGEST: &str = "super:D/InIHSb7yEEbrWz8b9l71RjZJU=";

/// A zk-node started with `--config` alone; killed when dropped.
struct Member {
    child: Child,
    client: SocketAddr,
    log: PathBuf,
}

impl Member {
    fn start(config: &Path, log: PathBuf, client: SocketAddr) -> Member {
        let out = std::fs::File::create(&log).expect("log file");
        // zoo.cfg's admin server defaults to 0.0.0.0:8080, as ZooKeeper's; tests keep to
        // loopback and a port of their own.
        let child = Command::new(env!("CARGO_BIN_EXE_zk-node"))
            .arg("--config")
            .arg(config)
            .env("ZK_NODE_ADMIN_ADDR", "127.0.0.1")
            .env("ZK_NODE_ADMIN_PORT", free_port().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(out)
            .spawn()
            .expect("spawn zk-node");
        Member { child, client, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// What `srvr` says the mode is (srvr is answered whatever the allow-list says).
    fn mode(&self) -> Option<String> {
        let text = four_letter(self.client, "srvr")?;
        text.lines()
            .find_map(|l| l.strip_prefix("Mode: "))
            .map(str::to_string)
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn get(path: &str) -> Request {
    Request::GetData(GetDataRequest {
        path: path.into(),
        watch: false,
    })
}

fn auth(raw: &mut Raw, user_password: &str) {
    raw.send_xid(
        -4,
        &Request::Auth(AuthPacket {
            auth_type: 0,
            scheme: "digest".into(),
            auth: user_password.as_bytes().to_vec(),
        }),
    );
    assert_eq!(raw.reply().0.err, 0, "addauth digest {user_password}");
}

/// Waits until the ensemble has one leader and two followers.
fn wait_for_leader(members: &[Member]) {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let modes: Vec<Option<String>> = members.iter().map(Member::mode).collect();
        let count = |m: &str| modes.iter().filter(|x| x.as_deref() == Some(m)).count();
        if count("leader") == 1 && count("follower") == members.len() - 1 {
            return;
        }
        if Instant::now() > deadline {
            let logs: Vec<String> = members.iter().map(Member::log).collect();
            panic!("no leader: {modes:?}\n{}", logs.join("\n----\n"));
        }
        std::thread::sleep(Duration::from_millis(50)); // polling processes, not syncing
    }
}

/// Three members started with `--config` alone: `zoo_cfg(id, data_dir)` is member `id`'s
/// file; each dataDir gets its `myid`.
fn start_ensemble(
    dir: &Path,
    client: &[u16],
    zoo_cfg: impl Fn(usize, &Path) -> String,
) -> Vec<Member> {
    (1..=3usize)
        .map(|id| {
            let data = dir.join(format!("zk{id}/data"));
            std::fs::create_dir_all(&data).expect("data dir");
            std::fs::write(data.join("myid"), format!("{id}\n")).expect("myid");
            let cfg = dir.join(format!("zk{id}/zoo.cfg"));
            std::fs::write(&cfg, zoo_cfg(id, &data)).expect("zoo.cfg");
            let addr = SocketAddr::from(([127, 0, 0, 1], client[id - 1]));
            Member::start(&cfg, dir.join(format!("zk{id}.log")), addr)
        })
        .collect()
}

/// Writes through member 1 and reads the znode back through members 3 and 2.
fn use_the_ensemble(members: &[Member], path: &str) {
    let (mut one, _) = Raw::new_session_retrying(members[0].client, 6000);
    assert_eq!(one.call(&create(path, 0)).0.err, 0);
    for m in [&members[2], &members[1]] {
        let (mut other, _) = Raw::new_session_retrying(m.client, 6000);
        assert_eq!(other.call(&sync(path)).0.err, 0);
        let (h, body) = other.call(&get(path));
        assert_eq!(h.err, 0);
        let data = GetDataResponse::from_bytes(&body).expect("data").data;
        assert_eq!(data.as_deref(), Some(path.as_bytes()));
    }
}

fn server_lines(client_parts: [&str; 3]) -> String {
    client_parts
        .iter()
        .enumerate()
        .map(|(i, client)| {
            let (peer, election) = (free_port(), free_port());
            format!("server.{}=127.0.0.1:{peer}:{election}{client}\n", i + 1)
        })
        .collect()
}

/// The zoo.cfg the project runs Apache ZooKeeper 3.8 with for the benchmarks
/// (../shared/tools/zk-anchor.sh, `write_cfg` for an ensemble), key for key: zk-node starts a
/// three-node ensemble from it with nothing else but the `myid` files.
#[test]
fn a_three_node_zookeeper_zoo_cfg_runs_unchanged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let client: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let servers = server_lines(["", "", ""]);
    let members = start_ensemble(dir.path(), &client, |id, data| {
        format!(
            "tickTime=2000\n\
             initLimit=10\n\
             syncLimit=5\n\
             dataDir={}\n\
             clientPort={}\n\
             clientPortAddress=127.0.0.1\n\
             forceSync=yes\n\
             maxClientCnxns=0\n\
             admin.enableServer=false\n\
             4lw.commands.whitelist=*\n\
             autopurge.snapRetainCount=3\n\
             autopurge.purgeInterval=1\n\
             {servers}",
            data.display(),
            client[id - 1]
        )
    });
    wait_for_leader(&members);
    for m in &members {
        // Nothing in ZooKeeper's file was unknown, and nothing in it needed a warning.
        let log = m.log();
        let warned = log
            .lines()
            .filter(|l| l.contains("zoo.cfg") && l.contains("WARN"));
        assert_eq!(warned.count(), 0, "{log}");
        assert!(log.contains("zoo.cfg line 7: forceSync"), "{log}");
        assert_eq!(four_letter(m.client, "ruok").as_deref(), Some("imok"));
    }
    use_the_ensemble(&members, "/from-zoo-cfg");
}

/// `/zookeeper/config`'s server lines as ZooKeeper 3.8 writes them for these `server.N`
/// lines: the election port given, and the client address where the line has one (a bare
/// port as `0.0.0.0:port`), none where only `clientPort` gives it (measured with Debian's
/// 3.8.0: `clientPort`/`clientPortAddress` alone show no client address on any line).
fn zookeeper_config_lines(servers: &str) -> Vec<String> {
    servers
        .lines()
        .map(|line| match line.split_once(';') {
            Some((server, client)) if client.contains(':') => {
                format!("{server}:participant;{client}")
            }
            Some((server, port)) => format!("{server}:participant;0.0.0.0:{port}"),
            None => format!("{line}:participant"),
        })
        .collect()
}

/// Waits until `/zookeeper/config`, read through `member`, lists servers; returns its
/// server lines.
fn config_lines(member: &Member) -> Vec<String> {
    let (mut raw, _) = Raw::new_session_retrying(member.client, 6000);
    let deadline = Instant::now() + DEADLINE;
    loop {
        let (h, body) = raw.call(&get("/zookeeper/config"));
        assert_eq!(h.err, 0, "getData /zookeeper/config");
        let data = GetDataResponse::from_bytes(&body).expect("data").data;
        let text = String::from_utf8(data.unwrap_or_default()).expect("utf-8");
        let lines: Vec<String> = text
            .lines()
            .filter(|l| l.starts_with("server."))
            .map(str::to_string)
            .collect();
        if !lines.is_empty() {
            return lines;
        }
        assert!(Instant::now() < deadline, "no config yet: {text:?}");
        std::thread::sleep(Duration::from_millis(50)); // polling another process's state
    }
}

/// ZooKeeper 3.5+'s form: the client address at the end of `server.N` (a bare port or
/// `host:port`), mixed with one member that keeps `clientPortAddress`/`clientPort`; no
/// 4lw.commands.whitelist, so ZooKeeper's default (srvr only) holds. The `server.N` lines
/// are the same in every file. `/zookeeper/config` shows them as ZooKeeper does: the
/// election ports given, the client addresses of the lines that have one (a bare port as
/// every interface's), none for the member whose client port only `clientPort` gives.
#[test]
fn client_ports_in_server_lines() {
    let dir = tempfile::tempdir().expect("tempdir");
    let client: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let parts = [
        format!(";127.0.0.1:{}", client[0]),
        String::new(),
        format!(";{}", client[2]),
    ];
    let servers = server_lines([&parts[0], &parts[1], &parts[2]]);
    let members = start_ensemble(dir.path(), &client, |id, data| {
        let own_port = if id == 2 {
            format!("clientPortAddress=127.0.0.1\nclientPort={}\n", client[1])
        } else {
            String::new()
        };
        format!(
            "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir={}\n{own_port}{servers}",
            data.display()
        )
    });
    wait_for_leader(&members);
    for m in &members {
        let ruok = four_letter(m.client, "ruok").unwrap_or_default();
        assert!(ruok.contains("not in the whitelist"), "{ruok}");
    }
    use_the_ensemble(&members, "/from-server-lines");
    assert_eq!(config_lines(&members[1]), zookeeper_config_lines(&servers));
}

/// A value zk-node cannot use stops the start: the exit status says so and stderr names the
/// file, the line, the key and the value. An unknown key is only a warning naming it.
#[test]
fn bad_values_stop_the_start_and_unknown_keys_warn() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let cfg = dir.path().join("zoo.cfg");
    let good = format!(
        "tickTime=2000\ndataDir={}\nclientPortAddress=127.0.0.1\nclientPort={port}\n\
         4lw.commands.whitelist=ruok\nnoSuchZooKeeperKey=1000\n",
        dir.path().join("data").display()
    );
    std::fs::write(&cfg, format!("{good}maxClientCnxns=lots\n")).expect("write");
    let mut bad = Member::start(
        &cfg,
        dir.path().join("bad.log"),
        "127.0.0.1:1".parse().expect("addr"),
    );
    let status = wait_exit(&mut bad.child);
    assert!(!status.success(), "{status:?}");
    let log = std::fs::read_to_string(dir.path().join("bad.log")).unwrap_or_default();
    let want = format!(
        "{}: line 7: maxClientCnxns=lots: not a number",
        cfg.display()
    );
    assert!(log.contains(&want), "{log}");

    std::fs::write(&cfg, &good).expect("write");
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let node = Member::start(&cfg, dir.path().join("good.log"), addr);
    let deadline = Instant::now() + DEADLINE;
    while four_letter(addr, "ruok").as_deref() != Some("imok") {
        assert!(Instant::now() < deadline, "not serving:\n{}", node.log());
        std::thread::sleep(Duration::from_millis(20)); // polling a process, not syncing
    }
    assert!(
        node.log()
            .contains("line 6: noSuchZooKeeperKey: unknown key, ignored"),
        "{}",
        node.log()
    );
}

/// `ZK_NODE_*` variables, like flags, win over the file: the node serves on the variable's
/// client address and answers the words the variable allows, not the file's.
#[test]
fn variables_win_over_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (file_port, env_port) = (free_port(), free_port());
    let cfg = dir.path().join("zoo.cfg");
    std::fs::write(
        &cfg,
        format!(
            "tickTime=2000\ndataDir={}\nclientPortAddress=127.0.0.1\nclientPort={file_port}\n\
             4lw.commands.whitelist=srvr\n",
            dir.path().join("data").display()
        ),
    )
    .expect("write");
    let addr = SocketAddr::from(([127, 0, 0, 1], env_port));
    let log = dir.path().join("node.log");
    let child = Command::new(env!("CARGO_BIN_EXE_zk-node"))
        .env("ZK_NODE_CONFIG", &cfg)
        .env("ZK_NODE_CLIENT_ADDR", addr.to_string())
        .env("ZK_NODE_4LW", "ruok")
        .env("ZK_NODE_ADMIN_ADDR", "127.0.0.1")
        .env("ZK_NODE_ADMIN_PORT", free_port().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log"))
        .spawn()
        .expect("spawn zk-node");
    let node = Member {
        child,
        client: addr,
        log,
    };
    let deadline = Instant::now() + DEADLINE;
    while four_letter(addr, "ruok").as_deref() != Some("imok") {
        assert!(Instant::now() < deadline, "not serving:\n{}", node.log());
        std::thread::sleep(Duration::from_millis(20)); // polling a process, not syncing
    }
    let file_addr = SocketAddr::from(([127, 0, 0, 1], file_port));
    assert!(
        four_letter(file_addr, "srvr").is_none(),
        "the file's port is not used"
    );
}

fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("zk-node did not stop on a bad zoo.cfg");
        }
        std::thread::sleep(Duration::from_millis(20)); // polling a process, not syncing
    }
}

/// `DigestAuthenticationProvider.superDigest` in zoo.cfg: the user with that digest's
/// password reads a znode whose ACL lets only its owner in; nobody else does, the same user
/// with a wrong password included.
#[test]
fn the_super_digest_user_passes_every_acl() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("zoo.cfg");
    std::fs::write(
        &cfg,
        format!(
            "dataDir={}\nclientPort=2181\n4lw.commands.whitelist=*\n\
             DigestAuthenticationProvider.superDigest={SUPER_DIGEST}\n",
            dir.path().join("ignored").display()
        ),
    )
    .expect("write");
    // ZkNode's own --client-addr and --data-dir win over the file's.
    let cfg = cfg.display().to_string();
    let node = ZkNode::start_in(&dir.path().join("data"), &["--config", &cfg]);

    let (mut owner, _) = Raw::new_session(node.addr, 4000);
    auth(&mut owner, "owner:pw");
    let only_owner = Request::Create(CreateRequest {
        path: "/secret".into(),
        data: Some(b"s".to_vec()),
        acl: vec![Acl {
            perms: perms::ALL,
            id: Id {
                scheme: "auth".into(),
                id: String::new(),
            },
        }],
        flags: 0,
    });
    assert_eq!(owner.call(&only_owner).0.err, 0);

    let (mut nobody, _) = Raw::new_session(node.addr, 4000);
    assert_eq!(nobody.call(&get("/secret")).0.err, ErrorCode::NoAuth.code());
    let (mut wrong, _) = Raw::new_session(node.addr, 4000);
    auth(&mut wrong, "super:wrong");
    assert_eq!(wrong.call(&get("/secret")).0.err, ErrorCode::NoAuth.code());

    let (mut root, _) = Raw::new_session(node.addr, 4000);
    auth(&mut root, "super:test");
    let (h, body) = root.call(&get("/secret"));
    assert_eq!(h.err, 0, "{}", node.log_tail());
    let data = GetDataResponse::from_bytes(&body).expect("data").data;
    assert_eq!(data.as_deref(), Some(&b"s"[..]));
}

/// `--log-format json`: every line the node writes is one JSON object with a timestamp,
/// level, target, message and fields.
#[test]
fn json_log_lines() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut node = ZkNode::start_in(&dir.path().join("data"), &["--log-format", "json"]);
    let (mut raw, _) = Raw::new_session(node.addr, 4000);
    assert_eq!(raw.call(&create("/logged", 0)).0.err, 0);
    drop(raw);
    assert!(node.terminate().success());
    let log = std::fs::read_to_string(dir.path().join("data.log")).expect("log");
    let mut messages = Vec::new();
    for line in log.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        for key in ["timestamp", "level", "target", "message"] {
            assert!(v[key].is_string(), "{key} in {line}");
        }
        assert!(v["fields"].is_object(), "fields in {line}");
        messages.push(v);
    }
    let serving = messages
        .iter()
        .find(|v| {
            v["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("serving ZooKeeper clients"))
        })
        .unwrap_or_else(|| panic!("no serving line in\n{log}"));
    assert_eq!(serving["level"], "INFO");
    assert_eq!(serving["target"], "zk_node::server");
    assert_eq!(serving["fields"]["addr"], node.addr.to_string());
    assert!(messages.iter().any(|v| v["message"] == "stopped"), "{log}");
}
