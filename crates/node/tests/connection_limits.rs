//! A client that pipelines and never reads cannot pin the server's memory (issue 18): the
//! node stops taking its requests once a bounded amount of replies waits to be sent, and
//! closes the connection when the session ends although the client still does not read;
//! the memory comes back. A raw client does exactly what the attacker did.

mod common;

use std::io::Write;
use std::net::Shutdown;
use std::time::Duration;
use std::time::Instant;

use common::four_letter;
use common::Raw;
use common::ZkNode;
use zk_wire::Acl;
use zk_wire::CreateRequest;
use zk_wire::GetDataRequest;
use zk_wire::Request;

/// The node's resident memory in KiB (`VmRSS`).
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The `Connections:` count of `srvr`.
fn connections(n: &ZkNode) -> Option<u64> {
    four_letter(n.addr, "srvr")?
        .lines()
        .find_map(|l| l.strip_prefix("Connections: "))
        .and_then(|v| v.trim().parse().ok())
}

/// 3,000 getData of a 100 KiB znode pipelined on a session of 2 s that then says nothing and
/// reads nothing: the node grows by at most 32 MiB while the replies pile up (before the
/// bound: 300 MB), the connection is closed within a tick (+ slack) of the session's
/// expiry, and the node's memory comes back.
#[test]
fn a_client_that_never_reads_cannot_pin_memory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let n = ZkNode::start_in(&dir.path().join("data"), &[]);
    let (mut setup, _) = Raw::new_session(n.addr, 4000);
    let big = vec![7u8; 100 << 10];
    let created = setup.call(&Request::Create(CreateRequest {
        path: "/big".into(),
        data: Some(big),
        acl: Acl::open_unsafe(),
        flags: 0,
    }));
    assert_eq!(created.0.err, 0);
    let before = connections(&n).expect("srvr");
    let base = rss_kib(n.pid());

    let timeout = Duration::from_millis(2000);
    let (raw, resp) = Raw::new_session(n.addr, 2000);
    assert_eq!(resp.time_out, 2000);
    let started = Instant::now();
    // The attacker's writes, from their own thread: once the node stops reading, they back
    // up into the socket buffers and block until the node closes the connection.
    let mut stream = raw.stream.try_clone().expect("clone the socket");
    let writer = std::thread::spawn(move || {
        let get = Request::GetData(GetDataRequest {
            path: "/big".into(),
            watch: false,
        });
        let mut frames = Vec::new();
        for xid in 1..=3000 {
            zk_wire::write_frame(&mut frames, |o| get.encode_with_header(xid, o));
        }
        let _ = stream.write_all(&frames);
    });

    // Until the node has closed the connection (its count back to what it was), its memory
    // is sampled; the deadline is the session's timeout, a tick and a loaded machine's slack.
    let close_by = started + timeout + Duration::from_millis(200 + 1500);
    let mut peak = base;
    let closed_at = loop {
        peak = peak.max(rss_kib(n.pid()));
        if connections(&n).is_some_and(|c| c <= before) {
            break Instant::now();
        }
        assert!(
            Instant::now() < close_by,
            "the connection of a client that does not read was still open {:?} after it \
             went silent with a {timeout:?} session",
            started.elapsed()
        );
        std::thread::sleep(Duration::from_millis(20)); // sampling a process's memory
    };
    let grew_mib = peak.saturating_sub(base) / 1024;
    eprintln!(
        "non-reading client: RSS {} -> peak {} KiB (+{grew_mib} MiB), closed {:?} after it \
         went silent",
        base,
        peak,
        closed_at - started
    );
    assert!(
        grew_mib <= 32,
        "the node grew by {grew_mib} MiB for one client that does not read"
    );
    assert!(
        closed_at - started >= timeout,
        "closed before the session could expire"
    );
    let _ = raw.stream.shutdown(Shutdown::Both);
    writer.join().expect("writer thread");
    // The node serves others throughout and after.
    assert_eq!(setup.call(&common::req::exists("/big", false)).0.err, 0);
    let after = rss_kib(n.pid());
    assert!(
        after.saturating_sub(base) / 1024 <= 32,
        "memory held after the session ended: {base} -> {after} KiB"
    );
}

/// The same over TLS: a client on the secure port that pipelines 3,000 getData of a
/// 100 KiB znode and never reads is held to the same bound (rustls buffers at most 64 KiB
/// more), and is closed once its session ends.
#[test]
fn a_tls_client_that_never_reads_cannot_pin_memory() {
    use std::io::Read;
    use std::sync::Arc;
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = zk_testkit::tls::Pki::new("limits");
    let (store, ca) = pki.write_server(dir.path());
    let secure = std::net::SocketAddr::from(([127, 0, 0, 1], common::free_port()));
    let flags = [
        "--secure-client-addr".to_string(),
        secure.to_string(),
        "--ssl-keystore".into(),
        store.display().to_string(),
        "--ssl-client-auth".into(),
        "none".into(),
    ];
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let n = ZkNode::start_in(&dir.path().join("data"), &flags);
    let (mut setup, _) = Raw::new_session(n.addr, 4000);
    let created = setup.call(&Request::Create(CreateRequest {
        path: "/big".into(),
        data: Some(vec![7u8; 100 << 10]),
        acl: Acl::open_unsafe(),
        flags: 0,
    }));
    assert_eq!(created.0.err, 0);
    let before = connections(&n).expect("srvr");
    let base = rss_kib(n.pid());

    let mut roots = rustls::RootCertStore::empty();
    let ca_pem = std::fs::read(&ca).expect("CA file");
    for cert in rustls_pki_types::pem::PemObject::pem_slice_iter(&ca_pem) {
        roots.add(cert.expect("CA PEM")).expect("CA certificate");
    }
    #[allow(deprecated)] // ring, as zk-node itself uses
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls_pki_types::ServerName::try_from("localhost").expect("name");
    let conn = rustls::ClientConnection::new(Arc::new(config), name).expect("TLS client");
    let tcp = std::net::TcpStream::connect(secure).expect("connect");
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let mut hello = Vec::new();
    zk_wire::encode_frame(
        &common::connect_request(0, vec![0; 16], 2000, 0),
        &mut hello,
    );
    tls.write_all(&hello).expect("ConnectRequest");
    let mut len = [0u8; 4];
    tls.read_exact(&mut len).expect("ConnectResponse length");
    let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
    tls.read_exact(&mut body).expect("ConnectResponse");
    let started = Instant::now();
    // The connection stays open (unread) until the test is done with it.
    let (done, wait) = std::sync::mpsc::channel::<()>();
    let writer = std::thread::spawn(move || {
        let get = Request::GetData(GetDataRequest {
            path: "/big".into(),
            watch: false,
        });
        let mut frames = Vec::new();
        for xid in 1..=3000 {
            zk_wire::write_frame(&mut frames, |o| get.encode_with_header(xid, o));
        }
        // Blocks once the node stops reading; fails when it closes the connection.
        let _ = tls.write_all(&frames);
        let _ = wait.recv();
        drop(tls);
    });
    let timeout = Duration::from_millis(2000);
    let close_by = started + timeout + Duration::from_millis(200 + 1500);
    let mut peak = base;
    let closed_at = loop {
        peak = peak.max(rss_kib(n.pid()));
        if connections(&n).is_some_and(|c| c <= before) {
            break Instant::now();
        }
        assert!(
            Instant::now() < close_by,
            "the TLS connection of a client that does not read was still open {:?} after it \
             went silent with a {timeout:?} session",
            started.elapsed()
        );
        std::thread::sleep(Duration::from_millis(20)); // sampling a process's memory
    };
    let grew_mib = peak.saturating_sub(base) / 1024;
    eprintln!(
        "non-reading TLS client: RSS {base} -> peak {peak} KiB (+{grew_mib} MiB), closed {:?} \
         after it went silent",
        closed_at - started
    );
    assert!(
        closed_at - started >= timeout,
        "closed before the session could expire:\n{}",
        n.log_tail()
    );
    assert!(
        grew_mib <= 32,
        "the node grew by {grew_mib} MiB for one TLS client that does not read"
    );
    let _ = done.send(());
    writer.join().expect("writer thread");
    assert_eq!(setup.call(&common::req::exists("/big", false)).0.err, 0);
}

/// A socket that never completes its first frame (sends nothing, or a length prefix and no
/// body) is closed after ZooKeeper's 10 s (`zookeeper.nio.sessionlessCnxnTimeout`), not
/// held for the largest session timeout (40 s by default).
#[test]
fn a_socket_that_never_completes_its_handshake_is_dropped_after_10_s() {
    use std::io::Read;
    let dir = tempfile::tempdir().expect("tempdir");
    let n = ZkNode::start_in(&dir.path().join("data"), &[]);
    let silent = Raw::connect(n.addr);
    let mut partial = Raw::connect(n.addr);
    partial.send_bytes(&[0, 0, 0, 45, 0, 0]);
    let opened = Instant::now();
    for (what, mut raw) in [("silent", silent), ("partial", partial)] {
        raw.stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .expect("read timeout");
        let mut buf = [0u8; 16];
        let got = raw.stream.read(&mut buf);
        let after = opened.elapsed();
        assert!(
            matches!(got, Ok(0))
                || got.is_err_and(|e| !matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                )),
            "{what}: the node sent something"
        );
        assert!(
            after >= Duration::from_millis(9_500) && after <= Duration::from_secs(15),
            "{what}: closed after {after:?}"
        );
    }
}

/// `--global-outstanding-limit 1` (ZooKeeper's globalOutstandingLimit at its smallest): four
/// clients that each pipeline 200 creates before reading any reply all get every answer, in
/// order. The node stops taking requests past the limit, but a connection with none in flight
/// may always send one, so no connection waits for a wake-up that never comes.
#[test]
fn the_global_outstanding_limit_throttles_without_stalling_anyone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let n = ZkNode::start_in(
        &dir.path().join("data"),
        &["--global-outstanding-limit", "1"],
    );
    let clients: Vec<_> = (0..4)
        .map(|c| {
            let addr = n.addr;
            std::thread::spawn(move || {
                let (mut raw, _) = Raw::new_session(addr, 10_000);
                raw.stream
                    .set_read_timeout(Some(Duration::from_secs(30)))
                    .expect("read timeout");
                let xids: Vec<i32> = (0..200)
                    .map(|i| {
                        raw.send(&Request::Create(CreateRequest {
                            path: format!("/c{c}-{i:03}"),
                            data: Some(vec![1]),
                            acl: Acl::open_unsafe(),
                            flags: 0,
                        }))
                    })
                    .collect();
                let answered: Vec<(i32, i32)> = xids
                    .iter()
                    .map(|_| match raw.read() {
                        common::Frame::Reply(h, _) => (h.xid, h.err),
                        common::Frame::Closed => (0, -1),
                    })
                    .collect();
                (xids, answered)
            })
        })
        .collect();
    for (c, client) in clients.into_iter().enumerate() {
        let (xids, answered) = client.join().expect("client thread");
        let expected: Vec<(i32, i32)> = xids.iter().map(|&x| (x, 0)).collect();
        assert_eq!(
            answered, expected,
            "client {c}: every create answered, in order"
        );
    }
    let (mut check, _) = Raw::new_session(n.addr, 4000);
    assert_eq!(check.call(&common::req::exists("/c3-199", false)).0.err, 0);
}

/// A client with a persistent recursive watch that stops reading while its events pile up
/// (the one way past the 1 MiB bound: pushed events are not requests) is cut off once 4 MiB
/// wait unsent, without waiting for its session to end; the session itself lives on and
/// resumes on a new connection, as after any connection loss.
#[test]
fn a_client_that_never_reads_its_events_is_cut_off_past_4_mib() {
    let dir = tempfile::tempdir().expect("tempdir");
    let n = ZkNode::start_in(&dir.path().join("data"), &[]);
    let (mut watcher, session) = Raw::new_session(n.addr, 30_000);
    let (mut writer, _) = Raw::new_session(n.addr, 30_000);
    let created = writer.call(&Request::Create(CreateRequest {
        path: "/w".into(),
        data: None,
        acl: Acl::open_unsafe(),
        flags: 0,
    }));
    assert_eq!(created.0.err, 0);
    let added = watcher.call(&Request::AddWatch(zk_wire::AddWatchRequest {
        path: "/w".into(),
        mode: 1, // PersistentRecursive
    }));
    assert_eq!(added.0.err, 0);
    let with_both = connections(&n).expect("srvr");

    // Each create under /w is a ~4 KiB NodeCreated event for the watcher, which reads none
    // of them. 10,000 would be 40 MiB of events; the cut comes after the kernel's socket
    // buffers and the node's 4 MiB are full.
    let name = "x".repeat(4000);
    let started = Instant::now();
    let mut in_flight = 0;
    let mut cut_after = None;
    for i in 0..10_000 {
        writer.send(&Request::Create(CreateRequest {
            path: format!("/w/{name}-{i:05}"),
            data: None,
            acl: Acl::open_unsafe(),
            flags: 0,
        }));
        in_flight += 1;
        while in_flight >= 32 {
            match writer.read() {
                common::Frame::Reply(h, _) => assert_eq!(h.err, 0, "create {i}"),
                common::Frame::Closed => panic!("the writer was cut off"),
            }
            in_flight -= 1;
        }
        if i % 100 == 99 && connections(&n).is_some_and(|c| c < with_both) {
            cut_after = Some(i + 1);
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "flood took too long"
        );
    }
    let Some(cut_after) = cut_after else {
        panic!("a watcher that reads nothing was still connected after 40 MiB of events")
    };
    eprintln!(
        "non-reading watcher cut off after {cut_after} events (~{} MiB), {:?}",
        cut_after * 4 / 1024,
        started.elapsed()
    );
    // Well past the bound and the kernel's buffers, well before the end of the flood.
    assert!(cut_after >= 1000, "cut off after only {cut_after} events");
    let mut resumed = Raw::connect(n.addr);
    let again = resumed
        .handshake(&common::connect_request(
            session.session_id,
            session.passwd.clone(),
            30_000,
            0,
        ))
        .expect("resume answered");
    assert_eq!(
        (again.session_id, again.time_out),
        (session.session_id, session.time_out),
        "the session lives on"
    );
}
