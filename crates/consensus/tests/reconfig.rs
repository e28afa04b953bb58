//! A `reconfig` carried out by an in-process ensemble on loopback: one whose new voters
//! cannot form a connected quorum (joining servers that are not running) is answered
//! NewConfigNoQuorum as soon as the leader has given them the peer RPC timeout to answer it,
//! not after the reconfig timeout (set far beyond this test's deadline here, so only the
//! prompt answer can arrive in time); a joining server that runs is added. Every wait has a
//! deadline; nothing sleeps to synchronise.

mod ensemble;

use std::net::SocketAddr;
use std::time::Duration;

use ensemble::free_ports;
use ensemble::init_tracing;
use ensemble::Ensemble;
use zk_consensus::membership::ReconfigSpec;
use zk_consensus::ClusterConfig;
use zk_consensus::CommandOp;
use zk_consensus::NodeId;
use zk_consensus::Outcome;
use zk_wire::ErrorCode;

/// A reconfig timeout no answer in this test may wait out (its waits give up at 20 s).
const NEVER: Duration = Duration::from_secs(600);

fn config(ens: &Ensemble, id: NodeId) -> ClusterConfig {
    let mut c = ens.config(id);
    c.reconfig_enabled = true;
    c.reconfig_timeout = NEVER;
    c
}

/// A reconfig adding `joining` (ZooKeeper's server specs) as the superuser, any version.
fn add(session_id: i64, joining: String) -> CommandOp {
    CommandOp::Reconfig {
        session_id,
        owner: None,
        auth: vec![zk_wire::Id {
            scheme: "super".into(),
            id: "super".into(),
        }],
        spec: ReconfigSpec {
            joining: Some(joining),
            leaving: None,
            new_members: None,
        },
        cur_config_id: -1,
    }
}

/// Proposes `op` at node `at` and waits there for its answer (its `ReconfigDone`, after the
/// `ReconfigStarted` of a request that passed its checks).
async fn answer(ens: &mut Ensemble, at: NodeId, op: CommandOp) -> Outcome {
    let origin = ens.propose_op(at, op).await;
    ens.log(at)
        .wait_for("the reconfig's answer", |a| {
            a.origin == Some(origin) && !matches!(a.outcome, Outcome::ReconfigStarted { .. })
        })
        .await
        .outcome
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_connected_quorum_is_answered_without_waiting_and_a_running_joiner_is_added() {
    init_tracing();
    let mut ens = Ensemble::new(3);
    for id in 1..=3 {
        let c = config(&ens, id);
        ens.try_start_with(id, c).await.expect("start");
    }
    let leader = ens.wait_leader().await;
    let session = ens.create_session(leader).await;

    // Three servers nobody runs: six voters, only three of them connected.
    let absent: Vec<String> = free_ports(3)
        .into_iter()
        .zip(4..)
        .map(|(p, id)| format!("server.{id}=127.0.0.1:{p}:{p}:participant;127.0.0.1:{p}"))
        .collect();
    let refused = answer(&mut ens, leader, add(session, absent.join(","))).await;
    assert_eq!(refused, Outcome::Rejected(ErrorCode::NewConfigNoQuorum));
    let members = ens.node(leader).state.read().members();
    assert_eq!(
        members.map(|m| m.into_keys().collect::<Vec<_>>()),
        Some(vec![1, 2, 3]),
        "nothing changed"
    );

    // A joining server that runs is added (it answers the leader, then catches up).
    let port = free_ports(1)[0];
    let listen = SocketAddr::from(([127, 0, 0, 1], port));
    ens.dirs.insert(4, tempfile::tempdir().expect("tempdir"));
    let mut joiner = ClusterConfig::joining(4, ens.peers.clone(), listen).expect("config");
    joiner.timing = ens.timing;
    joiner.start_timeout = Duration::ZERO;
    ens.try_start_with(4, joiner)
        .await
        .expect("start the joiner");
    let spec = format!("server.4=127.0.0.1:{port}:{port}:participant;127.0.0.1:{port}");
    let added = answer(&mut ens, leader, add(session, spec)).await;
    assert!(matches!(added, Outcome::Txn(_)), "{added:?}");
    let members = ens.node(leader).state.read().members();
    assert_eq!(
        members.map(|m| m.into_keys().collect::<Vec<_>>()),
        Some(vec![1, 2, 3, 4])
    );
    ens.shutdown_all().await;
}
