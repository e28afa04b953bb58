//! Existing clients use zk-node unchanged: Rust's `zookeeper-client` crate, Apache
//! ZooKeeper's own `zkCli.sh` (Debian's `zookeeper` package) and its C client (`cli_mt`,
//! Debian's `zookeeper-bin`) each create, get, set, list and delete. kazoo is driven from
//! `tests/kazoo/`.

mod common;

use std::path::Path;
use std::process::Command;
use std::process::Stdio;
use std::time::Duration;

use common::ZkNode;
use zookeeper_client as zk;

fn node() -> (tempfile::TempDir, ZkNode) {
    let dir = tempfile::tempdir().expect("tempdir");
    let n = ZkNode::start_in(&dir.path().join("data"), &[]);
    (dir, n)
}

/// Rust's zookeeper-client: create/get/set/ls/delete, a watch and a sequential node.
#[test]
fn rust_zookeeper_client_crud() {
    let (_d, n) = node();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(30), async {
            let client = zk::Client::connect(&n.addr.to_string())
                .await
                .expect("connect");
            let opts = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
            let (_, watcher) = client.check_and_watch_stat("/rc").await.expect("watch");
            let (stat, _) = client.create("/rc", b"one", &opts).await.expect("create");
            let event = watcher.changed().await;
            assert_eq!(event.event_type, zk::EventType::NodeCreated);
            assert_eq!(
                client.get_data("/rc").await.expect("get"),
                (b"one".to_vec(), stat)
            );
            let stat2 = client.set_data("/rc", b"two", Some(0)).await.expect("set");
            assert_eq!(stat2.version, 1);
            assert!(matches!(
                client.set_data("/rc", b"x", Some(0)).await,
                Err(zk::Error::BadVersion)
            ));
            let seq_opts = zk::CreateMode::PersistentSequential.with_acls(zk::Acls::anyone_all());
            let (_, seq) = client
                .create("/rc/s-", b"", &seq_opts)
                .await
                .expect("sequential");
            assert_eq!(seq.into_i64(), 0);
            assert_eq!(
                client.list_children("/rc").await.expect("ls"),
                vec!["s-0000000000".to_string()]
            );
            client
                .delete("/rc/s-0000000000", None)
                .await
                .expect("delete child");
            client.delete("/rc", Some(1)).await.expect("delete");
            assert!(matches!(
                client.get_data("/rc").await,
                Err(zk::Error::NoNode)
            ));
        })
        .await
        .expect("within 30 s");
    });
}

const ZKCLI: &str = "/usr/share/zookeeper/bin/zkCli.sh";

/// Apache ZooKeeper's zkCli.sh: create/get/set/ls/delete in one scripted session.
#[test]
fn zkcli_sh_crud() {
    if !Path::new(ZKCLI).exists() {
        // CI installs Debian's zookeeper package (.ci/run); a developer machine may not have it.
        assert!(
            std::env::var_os("CI").is_none(),
            "{ZKCLI} missing on CI: apt-get install zookeeper"
        );
        eprintln!("skipping: {ZKCLI} not installed");
        return;
    }
    let (_d, n) = node();
    let script = "create /cli hello\nget /cli\nset /cli world\nget /cli\ncreate /cli/child x\nls /cli\ndelete /cli/child\ndelete /cli\nls /\nquit\n";
    let mut child = Command::new("timeout")
        .args(["60", ZKCLI, "-server", &n.addr.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run zkCli.sh");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(script.as_bytes()).expect("script");
    }
    let out = child.wait_with_output().expect("zkCli.sh output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let all = format!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    // zkCli.sh prints "Created" on stderr.
    assert!(all.contains("Created /cli"), "{all}");
    assert!(all.contains("Created /cli/child"), "{all}");
    assert!(stdout.contains("hello"), "{all}");
    assert!(stdout.contains("world"), "{all}");
    assert!(stdout.contains("[child]"), "{all}");
    // After the deletes, the root lists only /zookeeper.
    assert!(stdout.contains("[zookeeper]"), "{all}");
    assert!(!all.contains("Exception"), "{all}");
}

/// Apache ZooKeeper's zkCli.sh over TLS, as ZooKeeper 3.8 documents it: the Netty client
/// socket, `zookeeper.client.secure`, PEM key and trust stores; mutual TLS gives the session
/// the x509 id of its certificate. Debian's zookeeper.jar manifest leaves out two jars the
/// Netty socket needs (netty-resolver, netty-codec), so the class path is given again in
/// CLIENT_JVMFLAGS (a later -cp wins over zkEnv.sh's).
#[test]
fn zkcli_sh_over_tls_with_a_client_certificate() {
    if !Path::new(ZKCLI).exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{ZKCLI} missing on CI: apt-get install zookeeper"
        );
        eprintln!("skipping: {ZKCLI} not installed");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = zk_testkit::tls::Pki::new("zkcli");
    let (key_store, ca) = pki.write_server(dir.path());
    let (cert, key) = pki.client("zkcli", "Example");
    let client_store = dir.path().join("client.pem");
    zk_testkit::tls::write(&client_store, &format!("{key}{cert}"));
    let secure = format!("127.0.0.1:{}", common::free_port());
    let flags = [
        "--secure-client-addr",
        secure.as_str(),
        "--ssl-keystore",
        key_store.to_str().expect("utf-8 path"),
        "--ssl-truststore",
        ca.to_str().expect("utf-8 path"),
    ];
    let _n = ZkNode::start_in(&dir.path().join("data"), &flags);
    let jvm = format!(
        "-cp /etc/zookeeper/conf:/usr/share/java/zookeeper.jar:\
         /usr/share/java/netty-resolver.jar:/usr/share/java/netty-codec.jar \
         -Dzookeeper.clientCnxnSocket=org.apache.zookeeper.ClientCnxnSocketNetty \
         -Dzookeeper.client.secure=true \
         -Dzookeeper.ssl.keyStore.location={} -Dzookeeper.ssl.keyStore.type=PEM \
         -Dzookeeper.ssl.trustStore.location={} -Dzookeeper.ssl.trustStore.type=PEM",
        client_store.display(),
        ca.display()
    );
    let server = secure.replace("127.0.0.1", "localhost");
    let mut child = Command::new("timeout")
        .args(["60", ZKCLI, "-server", &server])
        .env("CLIENT_JVMFLAGS", jvm)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run zkCli.sh");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        let script = "create /tls hello\nget /tls\nwhoami\nquit\n";
        stdin.write_all(script.as_bytes()).expect("script");
    }
    let out = child.wait_with_output().expect("zkCli.sh output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let all = format!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(all.contains("Created /tls"), "{all}");
    assert!(stdout.contains("hello"), "{all}");
    assert!(stdout.contains("x509: CN=zkcli,O=Example"), "{all}");
    assert!(!all.contains("Exception"), "{all}");
}

const CLI_MT: &str = "/usr/lib/zookeeper/bin/cli_mt";

/// Apache ZooKeeper's C client (`cli_mt` from Debian's zookeeper-bin): create, set, get, ls,
/// delete, each command sent once the previous answer has arrived.
#[test]
fn c_client_cli_mt_crud() {
    if !Path::new(CLI_MT).exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{CLI_MT} missing on CI: apt-get install zookeeper-bin"
        );
        eprintln!("skipping: {CLI_MT} not installed");
        return;
    }
    use std::io::BufRead;
    use std::io::Write;
    let (_d, n) = node();
    let mut child = Command::new("timeout")
        .args(["60", CLI_MT, &n.addr.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        // cli_mt prints its answers on stderr (unbuffered), next to the C client's log.
        .stderr(Stdio::piped())
        .spawn()
        .expect("run cli_mt");
    let mut stdin = child.stdin.take().expect("stdin");
    let stdout = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let mut seen = Vec::new();
    // Waits (bounded) until a line containing `want` arrives.
    let mut expect = |want: &str| {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            if seen.iter().any(|l: &String| l.contains(want)) {
                seen.clear();
                return;
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => seen.push(line),
                Err(_) => panic!("cli_mt never printed {want:?}; got {seen:#?}"),
            }
        }
    };
    expect("state = CONNECTED_STATE");
    for (cmd, want) in [
        ("create /cm", "name = /cm"),
        ("set /cm hello", "version=1"),
        ("get /cm", "hello"),
        ("ls /", "cm"),
        ("delete /cm", "/cm: rc = 0"),
        ("get /cm", "/cm: rc = -101"),
    ] {
        writeln!(stdin, "{cmd}").expect("send command");
        expect(want);
    }
    writeln!(stdin, "quit").expect("quit");
    drop(stdin);
    let _ = child.wait();
}
