//! Bad input on the peer port's streams: a member answers with a clear status and keeps
//! serving, never a panic or an unbounded allocation. One member of a two-member ensemble is
//! started (the other never is); the test speaks as member 2.

use std::collections::BTreeMap;
use std::time::Duration;

use tonic::Code;

use crate::grpc::identity::Identity;
use crate::grpc::pb;
use crate::grpc::pb::peer_client::PeerClient;
use crate::start_cluster;
use crate::ClusterConfig;
use crate::ClusterNode;

const DEADLINE: Duration = Duration::from_secs(10);

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

async fn member_one() -> (ClusterNode, BTreeMap<u64, String>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let peers: BTreeMap<u64, String> = (1..=2)
        .map(|id| (id, format!("127.0.0.1:{}", free_port())))
        .collect();
    let mut config = ClusterConfig::new(1, peers.clone()).expect("config");
    config.listen = peers[&1].parse().expect("addr");
    config.start_timeout = Duration::ZERO;
    let node = start_cluster(dir.path(), config).await.expect("start");
    (node, peers, dir)
}

async fn client(peers: &BTreeMap<u64, String>) -> PeerClient<tonic::transport::Channel> {
    PeerClient::connect(format!("http://{}", peers[&1]))
        .await
        .expect("connect")
}

/// The status a client stream of `items` ends with.
async fn append_stream_status(
    peers: &BTreeMap<u64, String>,
    items: Vec<pb::AppendRequest>,
) -> tonic::Status {
    let mut c = client(peers).await;
    let call = async {
        let mut replies = c
            .append_stream(tokio_stream::iter(items))
            .await?
            .into_inner();
        while replies.message().await?.is_some() {}
        Ok::<(), tonic::Status>(())
    };
    match tokio::time::timeout(DEADLINE, call)
        .await
        .expect("answered")
    {
        Ok(()) => panic!("a bad append stream was accepted"),
        Err(status) => status,
    }
}

async fn snapshot_status(
    peers: &BTreeMap<u64, String>,
    items: Vec<pb::SnapshotChunk>,
) -> tonic::Status {
    let mut c = client(peers).await;
    let call = c.install_snapshot(tokio_stream::iter(items));
    match tokio::time::timeout(DEADLINE, call)
        .await
        .expect("answered")
    {
        Ok(_) => panic!("a bad snapshot stream was accepted"),
        Err(status) => status,
    }
}

fn snapshot_header(len: u64) -> Vec<u8> {
    let vote = crate::types::Vote::new_committed(1, 2);
    let meta = crate::types::SnapshotMeta::default();
    crate::grpc::wire::encode(&(&vote, &meta, len)).expect("encode")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_streams_on_the_peer_port_get_a_clear_status() {
    let (node, peers, _dir) = member_one().await;
    let me = Identity::new(2, &peers).caller(1);
    let stranger = Identity::new(2, &BTreeMap::from([(2, "10.9.9.9:1".to_string())])).caller(1);

    // Replication stream: a caller from another ensemble, then garbage from a member.
    let forged = pb::AppendRequest {
        caller: Some(stranger),
        header: vec![],
        entries: vec![],
    };
    let s = append_stream_status(&peers, vec![forged]).await;
    assert_eq!(s.code(), Code::FailedPrecondition, "{s:?}");
    let garbage = pb::AppendRequest {
        caller: Some(me),
        header: vec![0xff; 7],
        entries: vec![vec![0xff; 3]],
    };
    let s = append_stream_status(&peers, vec![garbage]).await;
    assert_eq!(s.code(), Code::InvalidArgument, "{s:?}");
    let s = append_stream_status(&peers, vec![]).await;
    assert_eq!(s.code(), Code::InvalidArgument, "an empty stream: {s:?}");

    // Snapshot stream: a size over the limit is refused before anything is reserved; more
    // or fewer bytes than declared are refused; garbage in the header too.
    let chunk = |caller, header, data| pb::SnapshotChunk {
        caller,
        header,
        data,
    };
    let s = snapshot_status(
        &peers,
        vec![chunk(Some(me), snapshot_header(u64::MAX), vec![])],
    )
    .await;
    assert_eq!(s.code(), Code::ResourceExhausted, "{s:?}");
    let s = snapshot_status(
        &peers,
        vec![
            chunk(Some(me), snapshot_header(4), vec![1, 2, 3]),
            chunk(None, vec![], vec![4, 5]),
        ],
    )
    .await;
    assert_eq!(
        s.code(),
        Code::InvalidArgument,
        "longer than declared: {s:?}"
    );
    let s = snapshot_status(&peers, vec![chunk(Some(me), snapshot_header(4), vec![1])]).await;
    assert_eq!(
        s.code(),
        Code::InvalidArgument,
        "shorter than declared: {s:?}"
    );
    let s = snapshot_status(&peers, vec![chunk(Some(me), vec![0xff; 9], vec![])]).await;
    assert_eq!(s.code(), Code::InvalidArgument, "{s:?}");
    let s = snapshot_status(
        &peers,
        vec![chunk(Some(stranger), snapshot_header(0), vec![])],
    )
    .await;
    assert_eq!(s.code(), Code::FailedPrecondition, "{s:?}");

    // Still serving: a well-formed probe is answered.
    let mut c = client(&peers).await;
    let probe = c
        .probe(pb::ProbeRequest { caller: Some(me) })
        .await
        .expect("the member still answers");
    assert!(probe.into_inner().initialized);
    node.shutdown(DEADLINE).await.expect("shutdown");
}

/// A leader waits for the answer to an append stream (its rpc timeout) before it sends more,
/// and openraft yields the first request only once there is something to send: the answer
/// must not wait for that request, or a follower already as far as the leader's log times
/// out every attempt until the next write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_append_stream_is_answered_before_its_first_request() {
    let (node, peers, _dir) = member_one().await;
    let mut c = client(&peers).await;
    let (_hold, rx) = tokio::sync::mpsc::channel::<pb::AppendRequest>(1);
    let opened = tokio::time::timeout(
        DEADLINE,
        c.append_stream(tokio_stream::wrappers::ReceiverStream::new(rx)),
    )
    .await
    .expect("the stream is answered without a first request");
    assert!(opened.is_ok(), "{opened:?}");
    node.shutdown(DEADLINE).await.expect("shutdown");
}
