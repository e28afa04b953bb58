//! TLS end to end: a real zk-node with a secure client port (certificates made by the test,
//! `zk_testkit::tls`), and zk-client over TLS. What a client without the CA, without a
//! certificate the server needs, or speaking the wrong protocol on either port gets; the
//! `x509` id of a client certificate and ACLs naming it; certificates replaced on disk
//! reaching new connections. Every wait is bounded; the node is killed on drop.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use zk_client::{
    connect, perms, Acl, Client, ConnectOptions, CreateOptions, Error, Id, TlsOptions,
};
use zk_testkit::tls::Pki;
use zk_testkit::zk_node::Single;

const DEADLINE: Duration = Duration::from_secs(20);

/// A zk-node (the test kit's) with a secure port, its certificates from `pki` in its own
/// directory.
struct SecureNode {
    node: Single,
    plain: String,
    secure: String,
    dir: tempfile::TempDir,
}

impl SecureNode {
    fn start(pki: &Pki, client_auth: &str) -> SecureNode {
        SecureNode::start_with(pki, client_auth, &[])
    }

    fn start_with(pki: &Pki, client_auth: &str, extra: &[&str]) -> SecureNode {
        let dir = tempfile::tempdir().expect("tempdir");
        let (key_store, ca) = pki.write_server(dir.path());
        let secure = format!("127.0.0.1:{}", zk_chaos::ports::free_port());
        let (key_store, ca) = (key_store.display().to_string(), ca.display().to_string());
        let mut flags = vec![
            "--secure-client-addr",
            &secure,
            "--ssl-keystore",
            &key_store,
            "--ssl-truststore",
            &ca,
            "--ssl-client-auth",
            client_auth,
            "--ssl-reload-ms",
            "100",
            "--log-level",
            "info,openraft=warn",
        ];
        flags.extend_from_slice(extra);
        let node = Single::start_in(&dir.path().join("data"), &flags);
        SecureNode {
            plain: node.addr.to_string(),
            node,
            secure,
            dir,
        }
    }

    /// The body of the admin API's `/commands/<name>`.
    fn admin_command(&self, name: &str) -> String {
        zk_testkit::http_get(self.node.admin, &format!("/commands/{name}"))
            .map(|(_, body)| body)
            .unwrap_or_default()
    }

    fn log(&self) -> String {
        self.node.log()
    }

    /// Waits (bounded) until the node's log has `needle`.
    fn wait_log(&self, needle: &str) {
        self.node.wait_log(needle);
    }
}

fn tls(dir: &Path, pki: &Pki, client: Option<(&str, &str)>) -> TlsOptions {
    let ca = dir.join(format!("trust-{}.pem", rand_suffix()));
    zk_testkit::tls::write(&ca, pki.ca_pem());
    let files = client.map(|(cn, org)| pki.write_client(dir, cn, org));
    let files = files.as_ref().map(|(c, k)| (c.as_path(), k.as_path()));
    TlsOptions::from_pem_files(&ca, files).expect("client TLS options")
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// Connects to `addr` with `tls`; the handle if it reaches CONNECTED within `within`.
async fn session(addr: &str, tls: Option<TlsOptions>, within: Duration) -> Result<Client, Error> {
    let mut options = ConnectOptions::new().session_timeout(Duration::from_secs(4));
    if let Some(tls) = tls {
        options = options.tls(tls);
    }
    let (zk, _events) = connect(addr, options)?;
    match zk.wait_connected(within).await {
        Ok(()) => Ok(zk),
        Err(e) => {
            let _ = tokio::time::timeout(Duration::from_secs(1), zk.close()).await;
            Err(e)
        }
    }
}

fn x509(id: &str) -> Id {
    Id::new("x509", id)
}

/// A client trusting the server's CA creates and reads over TLS; one trusting another CA
/// never connects, and the node says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_client_creates_and_reads_and_a_client_without_the_ca_is_refused() {
    let pki = Pki::new("main");
    let node = SecureNode::start(&pki, "none");
    let dir = node.dir.path();
    let zk = session(&node.secure, Some(tls(dir, &pki, None)), DEADLINE)
        .await
        .expect("TLS session");
    zk.create("/tls", b"over TLS", &CreateOptions::persistent())
        .await
        .expect("create");
    let (data, _) = zk.get_data("/tls").await.expect("get");
    assert_eq!(data, b"over TLS");
    // The plain port serves the same tree.
    let plain = session(&node.plain, None, DEADLINE)
        .await
        .expect("plain session");
    assert_eq!(plain.get_data("/tls").await.expect("get").0, b"over TLS");
    // The admin API lists each port's connections apart, as ZooKeeper's; conf shows the port.
    let conns = node.admin_command("connections");
    let (plain_part, secure_part) = conns
        .split_once("\"secure_connections\"")
        .unwrap_or_default();
    let session_id = |zk: &Client| format!("\"session_id\": {},", zk.session().id);
    assert!(secure_part.contains(&session_id(&zk)), "{conns}");
    assert!(plain_part.contains(&session_id(&plain)), "{conns}");
    assert!(!secure_part.contains(&session_id(&plain)), "{conns}");
    let port = node.secure.rsplit(':').next().unwrap_or_default();
    let conf = zk_testkit::four_letter(&node.plain, "conf").unwrap_or_default();
    assert!(conf.contains(&format!("secureClientPort={port}")), "{conf}");

    let stranger = Pki::new("stranger");
    let refused = session(
        &node.secure,
        Some(tls(dir, &stranger, None)),
        Duration::from_secs(2),
    )
    .await;
    assert!(matches!(refused, Err(Error::ConnectionLoss)), "{refused:?}");
    node.wait_log("TLS handshake failed");
    // Nothing else is affected.
    assert_eq!(zk.get_data("/tls").await.expect("get").0, b"over TLS");
    let _ = zk.close().await;
    let _ = plain.close().await;
}

/// ssl.clientAuth=need refuses a client without a certificate, and one whose certificate
/// another CA signed; want serves a client without one (with no x509 id).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_auth_need_refuses_a_client_without_a_certificate() {
    let pki = Pki::new("main");
    let node = SecureNode::start(&pki, "need");
    let dir = node.dir.path();
    let bare = session(
        &node.secure,
        Some(tls(dir, &pki, None)),
        Duration::from_secs(2),
    )
    .await;
    assert!(matches!(bare, Err(Error::ConnectionLoss)), "{bare:?}");
    node.wait_log("peer sent no certificates");
    // A certificate from a CA the server does not trust (the client trusts the server).
    let other = Pki::new("other");
    let (cert, key) = other.write_client(dir, "mallory", "Elsewhere");
    let ca = dir.join("main-ca.pem");
    zk_testkit::tls::write(&ca, pki.ca_pem());
    let forged = TlsOptions::from_pem_files(&ca, Some((&cert, &key))).expect("options");
    let refused = session(&node.secure, Some(forged), Duration::from_secs(2)).await;
    assert!(matches!(refused, Err(Error::ConnectionLoss)), "{refused:?}");
    let good = session(
        &node.secure,
        Some(tls(dir, &pki, Some(("alice", "Example")))),
        DEADLINE,
    )
    .await
    .expect("a client with a certificate");
    let _ = good.close().await;
    drop(node);

    let node = SecureNode::start(&pki, "want");
    let dir = node.dir.path();
    let zk = session(&node.secure, Some(tls(dir, &pki, None)), DEADLINE)
        .await
        .expect("want: served without a certificate");
    let ids = zk.whoami().await.expect("whoami");
    assert!(ids.iter().all(|i| i.auth_scheme != "x509"), "{ids:?}");
    let _ = zk.close().await;
}

/// Mutual TLS: the session has the x509 id of its certificate's subject (Java's RFC 2253
/// form) from the start; an ACL naming that id admits it (and the x509 superuser) and
/// refuses another certificate's client and a plain client; `auth` ACLs expand to it;
/// addAuth x509 works on the secure port only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_gives_the_x509_id_and_x509_acls_admit_only_that_client() {
    let pki = Pki::new("main");
    let node = SecureNode::start_with(&pki, "need", &["--x509-super-user", "CN=root,O=Example"]);
    let dir = node.dir.path();
    let alice = session(
        &node.secure,
        Some(tls(dir, &pki, Some(("alice", "Example")))),
        DEADLINE,
    )
    .await
    .expect("alice");
    let bob = session(
        &node.secure,
        Some(tls(dir, &pki, Some(("bob", "Example")))),
        DEADLINE,
    )
    .await
    .expect("bob");
    let plain = session(&node.plain, None, DEADLINE).await.expect("plain");

    let ids = alice.whoami().await.expect("whoami");
    assert!(
        ids.iter()
            .any(|i| i.auth_scheme == "x509" && i.user == "CN=alice,O=Example"),
        "{ids:?}"
    );
    let only_alice = vec![Acl {
        perms: perms::ALL,
        id: x509("CN=alice,O=Example"),
    }];
    alice
        .create(
            "/secret",
            b"alice's",
            &CreateOptions::persistent().with_acl(only_alice),
        )
        .await
        .expect("create with an x509 ACL");
    assert_eq!(
        alice.get_data("/secret").await.expect("alice reads").0,
        b"alice's"
    );
    assert_eq!(bob.get_data("/secret").await.err(), Some(Error::NoAuth));
    assert_eq!(plain.get_data("/secret").await.err(), Some(Error::NoAuth));
    let root = session(
        &node.secure,
        Some(tls(dir, &pki, Some(("root", "Example")))),
        DEADLINE,
    )
    .await
    .expect("root");
    assert_eq!(
        root.get_data("/secret")
            .await
            .expect("the superuser reads")
            .0,
        b"alice's"
    );
    let root_ids = root.whoami().await.expect("whoami");
    assert!(
        root_ids.iter().any(|i| i.auth_scheme == "super"),
        "{root_ids:?}"
    );

    let auth_acl = vec![Acl {
        perms: perms::ALL,
        id: Id::new("auth", ""),
    }];
    alice
        .create(
            "/mine",
            b"",
            &CreateOptions::persistent().with_acl(auth_acl),
        )
        .await
        .expect("create with an auth ACL");
    let (acl, _) = alice.get_acl("/mine").await.expect("getAcl");
    assert_eq!(
        acl.iter().map(|a| a.id.clone()).collect::<Vec<_>>(),
        vec![x509("CN=alice,O=Example")]
    );

    alice
        .add_auth("x509", b"")
        .await
        .expect("addAuth x509 with a certificate");
    // Without a certificate it fails (and the server closes, as for any failed addAuth).
    assert_eq!(
        plain.add_auth("x509", b"").await.err(),
        Some(Error::AuthFailed)
    );
    for zk in [alice, bob, root] {
        let _ = zk.close().await;
    }
}

/// New certificate files are used by new connections without a restart; connections open
/// before keep working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replaced_certificates_reach_new_connections() {
    let first = Pki::new("first");
    let node = SecureNode::start(&first, "none");
    let dir = node.dir.path();
    let old = session(&node.secure, Some(tls(dir, &first, None)), DEADLINE)
        .await
        .expect("first certificate");
    old.create("/before", b"", &CreateOptions::persistent())
        .await
        .expect("create");

    let second = Pki::new("second");
    second.write_server(dir);
    let deadline = Instant::now() + DEADLINE;
    let renewed = loop {
        match session(
            &node.secure,
            Some(tls(dir, &second, None)),
            Duration::from_secs(1),
        )
        .await
        {
            Ok(zk) => break zk,
            Err(e) => assert!(
                Instant::now() < deadline,
                "never reloaded ({e}):\n{}",
                node.log()
            ),
        }
    };
    node.wait_log("TLS certificates reloaded");
    assert!(renewed.exists("/before").await.expect("exists").is_some());
    // The old certificate is gone for new connections; the open one carries on.
    let stale = session(
        &node.secure,
        Some(tls(dir, &first, None)),
        Duration::from_secs(2),
    )
    .await;
    assert!(
        stale.is_err(),
        "a new connection still got the old certificate"
    );
    assert!(old
        .exists("/before")
        .await
        .expect("old connection")
        .is_some());

    // A broken file keeps the second certificate and says so.
    zk_testkit::tls::write(&dir.join("server.pem"), "not PEM at all");
    node.wait_log("cannot be loaded, keeping the previous ones");
    let still = session(&node.secure, Some(tls(dir, &second, None)), DEADLINE)
        .await
        .expect("the second certificate still served");
    for zk in [old, renewed, still] {
        let _ = zk.close().await;
    }
}

/// Reads from `s` until the peer closes; true if it did within the deadline.
fn closed_by_peer(mut s: TcpStream) -> bool {
    let _ = s.set_read_timeout(Some(DEADLINE));
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) => {
                return matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
                )
            }
        }
    }
}

/// The wrong protocol on either port: plain text on the secure port and garbage TLS records
/// are closed by the TLS layer, a socket that never starts its handshake after 10 s; a TLS
/// client on the plain port is closed with a message saying so; the node and its other
/// clients carry on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_protocol_on_either_port_is_closed_and_nothing_else_is_affected() {
    let pki = Pki::new("main");
    let node = SecureNode::start(&pki, "none");
    let dir = node.dir.path();
    let zk = session(&node.secure, Some(tls(dir, &pki, None)), DEADLINE)
        .await
        .expect("TLS session");
    zk.create("/alive", b"", &CreateOptions::persistent())
        .await
        .expect("create");
    // A socket that never starts its TLS handshake, checked at the end (closed after 10 s).
    let silent = TcpStream::connect(&node.secure).expect("connect");
    let opened = Instant::now();

    // A plain ZooKeeper ConnectRequest on the secure port.
    let mut s = TcpStream::connect(&node.secure).expect("connect");
    let mut frame = 44u32.to_be_bytes().to_vec();
    frame.extend([0u8; 44]);
    s.write_all(&frame).expect("write");
    assert!(
        closed_by_peer(s),
        "plain text on the secure port was not closed"
    );
    // A TLS record header with garbage behind it.
    let mut s = TcpStream::connect(&node.secure).expect("connect");
    s.write_all(&[0x16, 0x03, 0x01, 0x00, 0x08, 1, 2, 3, 4, 5, 6, 7, 8])
        .expect("write");
    assert!(closed_by_peer(s), "garbage TLS was not closed");
    // A four-letter word in plain text on the secure port: closed too.
    let mut s = TcpStream::connect(&node.secure).expect("connect");
    s.write_all(b"ruok").expect("write");
    assert!(closed_by_peer(s));
    // A TLS client on the plain port.
    let wrong = session(
        &node.plain,
        Some(tls(dir, &pki, None)),
        Duration::from_secs(2),
    )
    .await;
    assert!(matches!(wrong, Err(Error::ConnectionLoss)), "{wrong:?}");
    node.wait_log("a TLS handshake on the plain client port");

    assert!(zk.exists("/alive").await.expect("exists").is_some());
    let again = session(&node.secure, Some(tls(dir, &pki, None)), DEADLINE)
        .await
        .expect("a new TLS session");
    let plain = session(&node.plain, None, DEADLINE).await.expect("plain");
    assert!(plain.exists("/alive").await.expect("exists").is_some());
    assert_eq!(
        zk_testkit::four_letter(&node.plain, "ruok").as_deref(),
        Some("imok")
    );
    assert!(closed_by_peer(silent), "a silent socket was never closed");
    let after = opened.elapsed();
    assert!(
        (Duration::from_secs(9)..Duration::from_secs(19)).contains(&after),
        "a socket without a TLS handshake closed after {after:?}, not ~10 s"
    );
    node.wait_log("no TLS handshake within 10s");
    for zk in [zk, again, plain] {
        let _ = zk.close().await;
    }
}
