//! Starting a member: open the data dir, check its recorded peers, start Raft over the gRPC
//! network, serve peers, and form the ensemble if this data dir has never been part of one.
//!
//! A one-node ensemble is an ensemble of one: the same start, tasks and shutdown, with no
//! peer to serve (so no peer port is bound) and no peer to ask before forming.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use tokio::net::TcpListener;

use crate::cluster::address_book::spawn_address_book;
use crate::cluster::bootstrap;
use crate::cluster::config::staggered_snapshot_threshold;
use crate::cluster::duties::spawn_config_sync;
use crate::cluster::duties::spawn_leader_duties;
use crate::cluster::founding::spawn_founding_observers;
use crate::cluster::leader_link::spawn_leader_link;
use crate::cluster::node::Tasks;
use crate::cluster::prevote::spawn_election_driver;
use crate::cluster::reconfig::spawn_reconfigurer;
use crate::cluster::recovery;
use crate::cluster::recovery::Recovery;
use crate::cluster::role::spawn_role_watch;
use crate::cluster::snapshots::spawn_snapshot_trigger;
use crate::cluster::stored_membership::stored_membership;
use crate::cluster::ClusterConfig;
use crate::cluster::ClusterError;
use crate::cluster::ClusterNode;
use crate::cluster::StartError;
use crate::cluster_meta::ClusterMeta;
use crate::grpc::activity::ActivitySlot;
use crate::grpc::channels::Channels;
use crate::grpc::client::GrpcNetwork;
use crate::grpc::forward_out::Forwarder;
use crate::grpc::identity::fingerprint;
use crate::grpc::identity::Identity;
use crate::grpc::server::PeerParts;
use crate::grpc::server::ServerHandle;
use crate::grpc::submit::Proposer;
use crate::grpc::tls::MemberList;
use crate::grpc::tls::ServerTls;
use crate::metrics::Startup;
use crate::state_machine::ZkStateMachine;
use crate::storage::SledStorage;
use crate::submitter::Submitter;
use crate::types::NodeId;
use crate::types::TypeConfig;
use crate::types::ZkRaft;

/// Opens `dir` and runs this node as a member of the ensemble `config.peers`.
///
/// Bootstrap needs no init step: a data dir that has never been part of an ensemble
/// initializes Raft with every member of `peers` as a voter, unless a peer says the
/// ensemble is already formed (then the leader brings this node in). Every member does the
/// same with the same list (openraft accepts identical initial memberships: they are the
/// same entry at log index 0), whatever order they start in. The first leader commits the
/// cluster secret.
///
/// A data dir records the node it was created for; starting it as another fails with
/// `ClusterError::Start(StartError::Meta(MetaError::Mismatch))`, whose message names both.
/// Other `--peers` are fine once it has been part of the ensemble: the membership is Raft's,
/// replicated, and `peers` only says whom to ask first. A node whose id is not in `peers`
/// is joining: it never forms an ensemble, waits until a member answers, takes the
/// ensemble's id from it and waits to be added by a reconfig.
///
/// Returns once Raft and the peer server run and a leader is known, or after
/// `config.start_timeout` without one (the others may simply not be up yet).
pub async fn start_cluster(
    dir: impl AsRef<Path>,
    config: ClusterConfig,
) -> Result<ClusterNode, ClusterError> {
    let began = Instant::now();
    config.validate()?;
    let raft_config = Arc::new(config.raft_config()?);
    let id = config.node_id;

    let storage = SledStorage::open(dir).map_err(StartError::from)?;
    let meta = storage.cluster_meta();
    let recorded = meta
        .check_or_init(&ClusterMeta {
            node_id: id,
            peers: config.peers.clone(),
        })
        .map_err(StartError::from)?;
    let channels = Channels::new(
        &config.peers,
        &config.dial,
        id,
        &config.timing,
        config.peer_tls.as_ref(),
    )?;
    let joining = !config.peers.contains_key(&id);
    // What a new ensemble is formed with (the peers' addresses, with the election ports and
    // client addresses their specs gave), and so its id.
    let founding = config.founding_records();
    // The ensemble's id: recorded; or, for a data dir from before it was recorded, the
    // fingerprint of the peers it was made with; or, on a first start, the one a formed
    // ensemble's member gives (a joining node waits for one), else that of the founding
    // records (of --peers alone when they say no more than the addresses).
    let mut ensemble = match (meta.ensemble().map_err(StartError::from)?, &recorded) {
        (Some(e), _) => e,
        (None, Some(r)) => fingerprint(&r.peers),
        (None, None) => bootstrap::discover(&channels, id, &founding, joining).await,
    };
    meta.put_ensemble(ensemble).map_err(StartError::from)?;
    let metrics = storage.metrics().clone();
    metrics.set_fsync_warning_threshold(config.fsync_warning_threshold);
    let mut log_store = storage
        .log_store::<TypeConfig>()
        .map_err(StartError::from)?;
    let accepted = log_store.accepted_index();
    // Loading the state is timed in two parts, as ZooKeeper times its database's load: the
    // snapshot (read and decoded here) and the committed log after it (re-applied by
    // openraft while Raft starts, below).
    let snap_started = Instant::now();
    let (mut sm, state) =
        ZkStateMachine::open(&storage, config.tree_config).map_err(StartError::Storage)?;
    if config.force_recovery {
        match recovery::force_alone(&mut log_store, &mut sm, &meta, id, ensemble).await? {
            Recovery::AlreadyAlone => tracing::warn!(
                id,
                "force recovery: this member already is the only one of its ensemble; nothing \
                 to do (start without the flag from now on)"
            ),
            Recovery::Forced {
                term,
                index,
                previous,
                ensemble: recovered,
            } => {
                tracing::warn!(
                    id,
                    term,
                    index,
                    ?previous,
                    ensemble = format_args!("{recovered:016x}"),
                    "force recovery: this member is now the only voter of a new ensemble made \
                     from its own data; what the others had and it had not is lost. Wipe the \
                     other members' data dirs and add them back by reconfig; start this one \
                     without the flag from now on"
                );
                ensemble = recovered;
            }
        }
    }
    let stored = stored_membership(&mut log_store, &mut sm)
        .await
        .map_err(StartError::Storage)?;
    let (intent_sink, intents) = tokio::sync::mpsc::unbounded_channel();
    sm.set_intent_sink(intent_sink);
    let snap_load = snap_started.elapsed();
    let applied_before = state.read().applied_point().index;
    if let Some(hook) = config.apply_hook.clone() {
        // A fresh state machine has none yet, so this cannot fail.
        let _ = state.set_apply_hook(hook);
    }
    // The stores hold their own handles; ours must not keep the directory locked.
    let released = storage.released();
    drop(storage);

    // Bound before Raft starts, so a taken port fails the start instead of a running node.
    // A lone member has no peer to serve.
    // A recovered member keeps its port for the members it will add back.
    let listener = if config.peers.len() > 1 || joining || config.force_recovery {
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| ClusterError::Bind {
                    addr: config.listen,
                    source,
                })?;
        let local_addr = listener.local_addr().map_err(|source| ClusterError::Bind {
            addr: config.listen,
            source,
        })?;
        Some((listener, local_addr))
    } else {
        None
    };

    let identity = Identity::of_ensemble(id, ensemble);
    let network = GrpcNetwork::new(identity, channels.clone(), config.timing, metrics.clone());
    let txns_started = Instant::now();
    let raft = ZkRaft::new(id, raft_config, network, log_store, sm)
        .await
        .map_err(|e| match e {
            openraft::error::Fatal::StorageError(se) => {
                StartError::Storage(std::io::Error::other(se.to_string()))
            }
            other => StartError::Fatal(other),
        })?;
    metrics.started(Startup {
        began,
        snap_load,
        txns_load: txns_started.elapsed(),
        txns_loaded: state
            .read()
            .applied_point()
            .index
            .saturating_sub(applied_before),
    });

    let activity = ActivitySlot::default();
    let (proposer, keeper) = Proposer::spawn(
        raft.clone(),
        id,
        config.timing.election_max,
        config.timing.rpc_timeout,
        config.reconfig_enabled,
    );
    // One queue for the leader's own writes and the forwarded ones (see `submitter`).
    let (submitter, submitting) = Submitter::spawn_on(proposer.clone());
    let (role, role_task) = spawn_role_watch(&raft);
    // Whose certificate may speak on the peer port: followed by the address book.
    let members = MemberList::new(config.peers.clone());
    // The peer server's pre-vote answers prompt the election driver (`prevote::Answer`).
    let stand_now = Arc::new(tokio::sync::Notify::new());
    let server = listener.map(|(listener, local_addr)| {
        let parts = PeerParts {
            raft: raft.clone(),
            submitter: submitter.clone(),
            identity,
            tls: config.peer_tls.clone().map(|tls| ServerTls {
                tls,
                members: members.clone(),
            }),
            activity: activity.clone(),
            lease: config.timing.election_max,
            stand_now: stand_now.clone(),
            role: role.clone(),
        };
        tracing::info!(id, addr = %local_addr, "serving peers");
        ServerHandle::spawn(listener, local_addr, parts)
    });

    let duties = spawn_leader_duties(
        proposer.clone(),
        state.clone(),
        role.clone(),
        config.secret,
        config.timing.election_max,
    );
    let (link, link_task) = spawn_leader_link(
        role.clone(),
        channels.clone(),
        identity,
        config.timing.rpc_timeout,
    );
    let elections = spawn_election_driver(
        raft.clone(),
        channels.clone(),
        identity,
        config.timing,
        link,
        stand_now,
    );
    let config_sync = spawn_config_sync(
        raft.clone(),
        proposer.clone(),
        state.clone(),
        role.clone(),
        accepted.clone(),
        config.timing.election_max,
    );
    let reconfigs = spawn_reconfigurer(
        raft.clone(),
        proposer.clone(),
        id,
        intents,
        config.reconfig_timeout,
        config.timing.rpc_timeout,
    );
    let address_book = spawn_address_book(&raft, channels.clone(), members);
    let founding_observers: std::collections::BTreeMap<NodeId, String> = founding
        .iter()
        .filter(|(p, _)| config.observers.contains(p))
        .map(|(p, record)| (*p, record.clone()))
        .collect();
    let founding_task =
        spawn_founding_observers(raft.clone(), proposer.clone(), founding_observers);
    let snapshots = spawn_snapshot_trigger(
        raft.clone(),
        &state,
        staggered_snapshot_threshold(config.snapshot_every, id),
    );
    let forwarder = Forwarder::new(identity, channels.clone(), role.clone(), config.timing);
    let node = ClusterNode {
        raft,
        state,
        accepted,
        id,
        identity,
        channels,
        timing: config.timing,
        role,
        forwarder,
        proposer,
        submitter,
        activity,
        server,
        tasks: Tasks(vec![
            role_task,
            duties,
            keeper,
            link_task,
            elections,
            submitting,
            snapshots,
            config_sync,
            reconfigs,
            address_book,
            founding_task,
        ]),
        released,
        metrics,
    };

    // The membership Raft restored counts, not --peers: say so where they differ.
    let members: std::collections::BTreeMap<NodeId, String> = stored
        .iter()
        .flat_map(|m| m.nodes())
        .map(|(m, node)| (*m, crate::membership::dial_addr(&node.addr)))
        .collect();
    if !members.is_empty() && !members.contains_key(&id) {
        tracing::warn!(
            id,
            ?members,
            "this node is not in the replicated membership (removed, or not added yet): it \
             serves nothing until a reconfig adds it"
        );
    } else if !members.is_empty() && members != config.peers {
        tracing::info!(
            peers = ?config.peers,
            ?members,
            "--peers differs from the replicated membership, which is the one followed"
        );
    }
    if let Err(e) = bootstrap::form_if_new(&node, &founding, &config.observers, joining).await {
        let _ = node.shutdown(config.timing.rpc_timeout).await;
        return Err(e);
    }
    if !config.start_timeout.is_zero() {
        match node.wait_for_leader(config.start_timeout).await {
            Some(leader) => tracing::info!(id, leader, "joined the ensemble"),
            None => tracing::warn!(
                id,
                "no leader within {:?}; running on, waiting for a quorum of {:?}",
                config.start_timeout,
                config.peers.keys().collect::<Vec<_>>()
            ),
        }
    }
    Ok(node)
}
