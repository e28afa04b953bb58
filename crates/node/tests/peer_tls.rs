//! The peer link with sslQuorum (issue 20 item 5), with real `zk-node` processes: an ensemble
//! whose members present certificates of the cluster's CA serves and survives a kill -9 of
//! its leader; a member with another CA's certificate, with the certificate of another
//! member id, or speaking plain text is refused by the others. (Every RPC of the peer
//! service is refused to such a peer: zk-consensus's grpc::tls tests.) The data dirs are
//! created with mode 0700.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::path::PathBuf;
use std::time::Duration;

use common::cluster::set_flags;
use common::cluster::tls_flags;
use common::cluster::wait_log;
use common::cluster::Cluster;
use common::req::create;
use common::Raw;
use common::DEADLINE;
use zk_testkit::tls::Pki;

/// Three members, each with its own certificate of `pki` (127.0.0.1 and its id).
fn tls_cluster(pki: &Pki, certs: &Path) -> (Cluster, PathBuf) {
    let mut c = Cluster::new(3, &[]);
    let ca = pki.write_ca(certs);
    for id in 1..=3 {
        let key_store = pki.write_member(certs, id, &["127.0.0.1"], Some(id));
        set_flags(&mut c, id, &tls_flags(&key_store, &ca));
    }
    (c, ca)
}

/// Members 1 and 2 of `c` (3 is never started) never form an ensemble: member 1 has
/// logged `refusal` (waited for), and neither serves.
fn refused_pair(c: &Cluster, refusal: &str) {
    wait_log(c, 1, refusal);
    for id in [1, 2] {
        assert_eq!(c.mode(id), None, "member {id} serves:\n{}", c.logs());
    }
}

#[test]
fn an_ssl_quorum_ensemble_serves_and_survives_a_leader_kill() {
    let certs = tempfile::tempdir().expect("tempdir");
    let pki = Pki::new("cluster");
    let (mut c, _) = tls_cluster(&pki, certs.path());
    for id in [1, 2, 3] {
        c.start_member(id);
    }
    let leader = c.wait_leader();
    let (mut raw, _) = Raw::new_session_retrying(c.members[(leader % 3) as usize].client, 4000);
    assert_eq!(raw.call(&create("/before", 0)).0.err, 0, "{}", c.logs());

    // The data dirs are the members' alone.
    for id in 1..=3 {
        let mode = std::fs::metadata(c.data_dir(id))
            .expect("data dir")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700, "member {id}'s data dir");
        for entry in std::fs::read_dir(c.data_dir(id)).expect("read data dir") {
            let entry = entry.expect("entry");
            let mode = entry.metadata().expect("metadata").permissions().mode();
            assert_eq!(
                mode & 0o077,
                0,
                "{} is open to others",
                entry.path().display()
            );
        }
    }

    c.kill9(leader);
    let new_leader = c.wait_leader();
    assert_ne!(new_leader, leader);
    let survivor = c.members[(new_leader - 1) as usize].client;
    let (mut raw, _) = Raw::new_session_retrying(survivor, 4000);
    assert_eq!(raw.call(&create("/after", 0)).0.err, 0, "{}", c.logs());
    // The killed member comes back over TLS and catches up.
    c.start_member(leader);
    c.wait_leader();
}

#[test]
fn a_member_with_another_cas_certificate_is_refused() {
    let certs = tempfile::tempdir().expect("tempdir");
    let pki = Pki::new("cluster");
    let (mut c, ca) = tls_cluster(&pki, certs.path());
    // Member 2 trusts the cluster's CA but presents another CA's certificate.
    let other = tempfile::tempdir().expect("tempdir");
    let forged = Pki::new("other").write_member(other.path(), 2, &["127.0.0.1"], Some(2));
    set_flags(&mut c, 2, &tls_flags(&forged, &ca));
    c.start_member(1);
    c.start_member(2);
    refused_pair(&c, "peer refused: TLS handshake");
}

#[test]
fn a_member_whose_certificate_names_another_id_is_refused() {
    let certs = tempfile::tempdir().expect("tempdir");
    let pki = Pki::new("cluster");
    let (mut c, ca) = tls_cluster(&pki, certs.path());
    // The cluster's own CA, but the certificate is member 3's.
    let other = tempfile::tempdir().expect("tempdir");
    let wrong = pki.write_member(other.path(), 2, &["127.0.0.1"], Some(3));
    set_flags(&mut c, 2, &tls_flags(&wrong, &ca));
    c.start_member(1);
    c.start_member(2);
    // Member 1 refuses member 2's requests (and, dialing member 2, its certificate).
    refused_pair(&c, "is member [3]'s, not member 2's");
}

#[test]
fn plain_text_to_an_ssl_quorum_member_is_refused() {
    let certs = tempfile::tempdir().expect("tempdir");
    let pki = Pki::new("cluster");
    let (mut c, _) = tls_cluster(&pki, certs.path());
    c.set_member_flags(2, &[]);
    c.start_member(1);
    c.start_member(2);
    refused_pair(&c, "peer refused: TLS handshake");
}

#[test]
fn ssl_quorum_without_its_files_does_not_start() {
    let mut c = Cluster::new(3, &["--ssl-quorum"]);
    c.start_member(1);
    let status = c.wait_exit_within(1, DEADLINE).expect("exits");
    assert!(!status.success());
    assert!(
        c.log_of(1).contains("--ssl-quorum-keystore"),
        "{}",
        c.logs()
    );
}

/// Without --peer-listen a member listens on its own address in --peers only (127.0.0.2
/// here, a loopback address of its own), and on every interface with
/// --quorum-listen-on-all-ips; the members form an ensemble either way.
#[test]
fn the_peer_port_listens_on_the_members_own_address() {
    let mut c = Cluster::new_on_host(3, &[], "127.0.0.2");
    c.use_default_peer_listen();
    c.set_member_flags(3, &["--quorum-listen-on-all-ips"]);
    for id in [1, 2, 3] {
        c.start_member(id);
    }
    c.wait_leader();
    let reaches = |ip: [u8; 4], id: u64| {
        let addr = std::net::SocketAddr::from((ip, c.members[(id - 1) as usize].peer.port()));
        std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_ok()
    };
    for id in [1, 2] {
        assert!(
            reaches([127, 0, 0, 2], id),
            "member {id} on its own address"
        );
        assert!(
            !reaches([127, 0, 0, 1], id),
            "member {id} listens beyond its own address"
        );
    }
    assert!(reaches([127, 0, 0, 2], 3));
    assert!(reaches([127, 0, 0, 1], 3), "--quorum-listen-on-all-ips");
}
