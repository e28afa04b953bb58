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
