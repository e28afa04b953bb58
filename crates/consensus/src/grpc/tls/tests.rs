//! The peer port with sslQuorum: one member of a two-member ensemble is started with TLS
//! (the other never is); the tests speak to it as member 2 with various certificates, on
//! every RPC of the `Peer` service.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rcgen::BasicConstraints;
use rcgen::CertificateParams;
use rcgen::IsCa;
use rcgen::Issuer;
use rcgen::KeyPair;
use rcgen::SanType;
use rustls::server::WebPkiClientVerifier;
use rustls::ClientConfig;
use rustls::RootCertStore;
use rustls::ServerConfig;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::PrivateKeyDer;
use tonic::transport::Channel;
use tonic::transport::Endpoint;
use tonic::Code;
use tonic::Status;
use zk_wire::data::CreateMode;
use zk_wire::data::Id;

use super::connect::MemberConnector;
use super::PeerTls;
use crate::grpc::identity::Identity;
use crate::grpc::pb;
use crate::grpc::pb::peer_client::PeerClient;
use crate::start_cluster;
use crate::ClusterConfig;
use crate::ClusterNode;
use crate::Command;
use crate::CommandOp;

const DEADLINE: Duration = Duration::from_secs(10);

/// A CA and the member certificates it signs.
struct Ca {
    cert: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let key = KeyPair::generate().expect("key");
        let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name.push(rcgen::DnType::CommonName, name);
        let cert = p.self_signed(&key).expect("self-sign").der().clone();
        Ca {
            cert,
            issuer: Issuer::new(p, key),
        }
    }

    /// A certificate for 127.0.0.1 naming member `id` (no id: the host alone).
    fn member(&self, id: Option<u64>) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        let key = KeyPair::generate().expect("key");
        let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
        p.subject_alt_names = vec![SanType::IpAddress([127, 0, 0, 1].into())];
        if let Some(id) = id {
            let uri = format!("zk-raft:server.{id}");
            p.subject_alt_names
                .push(SanType::URI(uri.as_str().try_into().expect("uri")));
        }
        let cert = p.signed_by(&key, &self.issuer).expect("sign").der().clone();
        let key = PrivateKeyDer::try_from(key.serialize_der()).expect("key der");
        (vec![cert], key)
    }
}

#[allow(deprecated)]
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Both configurations of a member trusting `trust`, presenting `cert` (a client without
/// one when `None`).
fn tls(
    trust: &Ca,
    cert: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
) -> PeerTls {
    let mut roots = RootCertStore::empty();
    roots.add(trust.cert.clone()).expect("root");
    let roots = Arc::new(roots);
    let (chain, key) = cert.unwrap_or_else(|| trust.member(None));
    let verifier = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider())
        .build()
        .expect("verifier");
    let server = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain.clone(), key.clone_key())
        .expect("server config");
    let client = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .expect("client config");
    PeerTls::new(&server, &client)
}

/// Like [`tls`] with a client that presents no certificate.
fn tls_without_client_cert(trust: &Ca) -> PeerTls {
    let mut roots = RootCertStore::empty();
    roots.add(trust.cert.clone()).expect("root");
    let (chain, key) = trust.member(None);
    let server = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("server config");
    let client = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    PeerTls::new(&server, &client)
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

async fn member_one(ca: &Ca) -> (ClusterNode, BTreeMap<u64, String>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let peers: BTreeMap<u64, String> = (1..=2)
        .map(|id| (id, format!("127.0.0.1:{}", free_port())))
        .collect();
    let mut config = ClusterConfig::new(1, peers.clone()).expect("config");
    config.listen = peers[&1].parse().expect("addr");
    config.start_timeout = Duration::ZERO;
    config.peer_tls = Some(tls(ca, Some(ca.member(Some(1)))));
    let node = start_cluster(dir.path(), config).await.expect("start");
    (node, peers, dir)
}

fn client_with(tls: PeerTls, peers: &BTreeMap<u64, String>) -> PeerClient<Channel> {
    let addr = &peers[&1];
    let connector = MemberConnector::new(tls, 1, addr, addr).expect("connector");
    let channel = Endpoint::from_shared(format!("http://{addr}"))
        .expect("endpoint")
        .connect_timeout(DEADLINE)
        .connect_with_connector_lazy(connector);
    PeerClient::new(channel)
}

fn plain_client(peers: &BTreeMap<u64, String>) -> PeerClient<Channel> {
    let channel = Endpoint::from_shared(format!("http://{}", peers[&1]))
        .expect("endpoint")
        .connect_timeout(DEADLINE)
        .connect_lazy();
    PeerClient::new(channel)
}

/// A forwarded write as a follower would send it, claiming the superuser's identity.
fn forged_write() -> Vec<u8> {
    let cmd = Command {
        time_ms: 0,
        origin: None,
        op: CommandOp::Write {
            session_id: 1,
            owner: None,
            auth: vec![Id {
                scheme: "super".into(),
                id: "super".into(),
            }],
            txn: zk_store::Txn::Create {
                path: "/forged".into(),
                data: None,
                acl: vec![],
                mode: CreateMode::Persistent,
                ttl: None,
            },
        },
    };
    postcard::to_allocvec(&cmd).expect("encode")
}

/// `f`'s answer, or DEADLINE_EXCEEDED if it takes longer than [`DEADLINE`].
async fn bound(f: impl std::future::Future<Output = Result<(), Status>>) -> Result<(), Status> {
    tokio::time::timeout(DEADLINE, f)
        .await
        .unwrap_or_else(|_| Err(Status::deadline_exceeded("no answer within the deadline")))
}

/// What each RPC of the `Peer` service answers `c` calling as member 2 (a status, or `Ok`
/// when the RPC was served).
async fn every_rpc(
    c: &mut PeerClient<Channel>,
    peers: &BTreeMap<u64, String>,
) -> Vec<(&'static str, Result<(), Status>)> {
    let me = Some(Identity::new(2, peers).caller(1));
    let raft = |payload| pb::RaftRequest {
        caller: me,
        payload,
    };
    // Payloads are not decoded before the caller is admitted: a member is answered
    // INVALID_ARGUMENT for these, anybody else is refused first.
    let vote = vec![0xff; 3];
    let append = pb::AppendRequest {
        caller: me,
        header: vec![0xff; 3],
        entries: vec![],
    };
    let mut out = Vec::new();
    out.push((
        "vote",
        bound(async { c.clone().vote(raft(vote)).await.map(drop) }).await,
    ));
    out.push((
        "pre_vote",
        bound(async {
            c.clone()
                .pre_vote(pb::PreVoteRequest {
                    caller: me,
                    term: 9,
                    last_log_id: vec![0xff; 3],
                })
                .await
                .map(drop)
        })
        .await,
    ));
    out.push((
        "append_entries",
        bound(async { c.clone().append_entries(append.clone()).await.map(drop) }).await,
    ));
    out.push((
        "append_stream",
        bound(async {
            let mut replies = c
                .clone()
                .append_stream(tokio_stream::iter(vec![append.clone()]))
                .await?
                .into_inner();
            replies.message().await.map(drop)
        })
        .await,
    ));
    out.push((
        "install_snapshot",
        bound(async {
            let chunk = pb::SnapshotChunk {
                caller: me,
                header: vec![0xff; 3],
                data: vec![],
            };
            c.clone()
                .install_snapshot(tokio_stream::iter(vec![chunk]))
                .await
                .map(drop)
        })
        .await,
    ));
    out.push((
        "forward",
        bound(async {
            let item = pb::ForwardItem {
                caller: me,
                seq: 1,
                command: forged_write(),
            };
            let mut acks = c
                .clone()
                .forward(tokio_stream::iter(vec![item]))
                .await?
                .into_inner();
            acks.message().await.map(drop)
        })
        .await,
    ));
    out.push((
        "report_activity",
        bound(async {
            c.clone()
                .report_activity(pb::ActivityReport {
                    caller: me,
                    sessions: vec![1],
                    ages_ms: vec![0],
                })
                .await
                .map(drop)
        })
        .await,
    ));
    out.push((
        "read_index",
        bound(async {
            c.clone()
                .read_index(pb::ReadIndexRequest { caller: me })
                .await
                .map(drop)
        })
        .await,
    ));
    out.push((
        "probe",
        bound(async {
            c.clone()
                .probe(pb::ProbeRequest { caller: me })
                .await
                .map(drop)
        })
        .await,
    ));
    out.push((
        "follow",
        bound(async {
            c.clone()
                .follow(pb::FollowRequest {
                    caller: me,
                    term: 1,
                })
                .await
                .map(drop)
        })
        .await,
    ));
    out
}

/// Every RPC failed with `code`.
fn all_refused(answers: &[(&str, Result<(), Status>)], code: Code, what: &str) {
    assert_eq!(answers.len(), 10, "every RPC of the Peer service");
    for (rpc, answer) in answers {
        match answer {
            Ok(()) => panic!("{what}: {rpc} was served"),
            Err(s) => assert_eq!(s.code(), code, "{what}: {rpc}: {s:?}"),
        }
    }
}

/// Every RPC failed on the connection, before the service saw it: a transport error (the
/// member closed the connection in or right after the handshake; which code the caller
/// sees depends on when it noticed), never a status the service answered.
fn all_cut(answers: &[(&str, Result<(), Status>)], what: &str) {
    assert_eq!(answers.len(), 10, "every RPC of the Peer service");
    for (rpc, answer) in answers {
        match answer {
            Ok(()) => panic!("{what}: {rpc} was served"),
            Err(s) => {
                let transport =
                    std::error::Error::source(s).is_some_and(|e| e.is::<tonic::transport::Error>());
                assert!(
                    transport
                        && matches!(
                            s.code(),
                            Code::Unavailable | Code::Cancelled | Code::Unknown
                        ),
                    "{what}: {rpc}: {s:?}"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_without_the_clusters_certificate_are_refused_on_every_rpc() {
    let ca = Ca::new("cluster");
    let (node, peers, _dir) = member_one(&ca).await;

    // Another CA's certificate for the right host and id (trusting the cluster's CA, so
    // it is the member that refuses, not the caller).
    let other = Ca::new("other");
    let mut stranger = tls(&ca, Some(other.member(Some(2))));
    let answers = every_rpc(&mut client_with(stranger.clone(), &peers), &peers).await;
    all_cut(&answers, "another CA");
    stranger = tls_without_client_cert(&ca);
    let answers = every_rpc(&mut client_with(stranger, &peers), &peers).await;
    all_cut(&answers, "no client certificate");
    let answers = every_rpc(&mut plain_client(&peers), &peers).await;
    all_cut(&answers, "plain text");

    // The cluster's certificate of member 3 speaking as member 2: refused by the member.
    let impostor = tls(&ca, Some(ca.member(Some(3))));
    let answers = every_rpc(&mut client_with(impostor, &peers), &peers).await;
    all_refused(&answers, Code::PermissionDenied, "member 3's certificate");

    // Member 2's own certificate gets through to the service (which then answers each
    // RPC on its merits: this node leads nothing).
    let member = tls(&ca, Some(ca.member(Some(2))));
    let answers = every_rpc(&mut client_with(member, &peers), &peers).await;
    for (rpc, answer) in &answers {
        if let Err(s) = answer {
            assert!(
                !matches!(
                    s.code(),
                    Code::PermissionDenied | Code::Unauthenticated | Code::Unavailable
                ) || *rpc == "read_index",
                "member 2: {rpc}: {s:?}"
            );
        }
    }
    let probe = answers.iter().find(|(rpc, _)| *rpc == "probe");
    assert!(matches!(probe, Some((_, Ok(())))), "{answers:?}");
    node.shutdown(DEADLINE).await.expect("shutdown");
}

/// The dialing side checks the member it reached: a certificate naming another id is
/// refused before any request is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dialed_peer_with_another_members_certificate_is_refused() {
    let ca = Ca::new("cluster");
    let (node, peers, _dir) = member_one(&ca).await;
    // Member 1 serves with member 1's certificate; a connector expecting member 2 there.
    let as_three = tls(&ca, Some(ca.member(Some(3))));
    let addr = &peers[&1];
    let connector = MemberConnector::new(as_three, 2, addr, addr).expect("connector");
    let channel = Endpoint::from_shared(format!("http://{addr}"))
        .expect("endpoint")
        .connect_with_connector_lazy(connector);
    let me = Some(Identity::new(3, &peers).caller(1));
    let answer = tokio::time::timeout(
        DEADLINE,
        PeerClient::new(channel).probe(pb::ProbeRequest { caller: me }),
    )
    .await
    .expect("answered");
    let status = answer.expect_err("the wrong member was not noticed");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    node.shutdown(DEADLINE).await.expect("shutdown");
}
