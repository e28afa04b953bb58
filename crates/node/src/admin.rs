//! The four-letter words' answers: gathers this node's numbers into
//! [`fourlw::ServerStats`](crate::fourlw::ServerStats) and renders the word, doing `srst`'s
//! and `crst`'s resets first.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::Ordering;

use std::time::Duration;

use zk_consensus::membership::MemberAddr;
use zk_consensus::metrics::Startup;
use zk_consensus::now_ms;

use crate::fourlw;
use crate::fourlw::ConfStats;
use crate::fourlw::ConnectionSession;
use crate::fourlw::ConnectionStats;
use crate::fourlw::LeaderStats;
use crate::fourlw::MetricStats;
use crate::fourlw::Mode;
use crate::fourlw::QuorumConf;
use crate::fourlw::QuorumMember;
use crate::fourlw::QuorumStats;
use crate::fourlw::ServerStats;
use crate::fourlw::SessionEphemerals;
use crate::fourlw::SessionInfo;
use crate::fourlw::SessionWatches;
use crate::fourlw::Word;
use crate::metrics;
use crate::node::Node;
use crate::raft_facts::RaftFacts;

/// The version string the words print: the ZooKeeper release whose protocol and behaviour
/// this node follows, then ours (clients such as kazoo parse the leading `x.y.z`).
pub const VERSION: &str = concat!("3.8.0-zk-node-", env!("CARGO_PKG_VERSION"));

/// The text to send for `word`, asked by a client at `asker`.
pub fn answer(word: Word, node: &Node, asker: SocketAddr) -> String {
    if !node.settings.four_letter_words.allows(word) {
        return fourlw::not_allowed(word);
    }
    match word {
        Word::Srst => node.stats.reset(),
        Word::Crst => {
            for c in node.hub.connections() {
                c.reset();
            }
        }
        _ => {}
    }
    fourlw::render(word, &gather(word, node, Some(asker)))
}

/// ZooKeeper's detailed peer state: zk-node's members serve only once caught up with the
/// leader (S9.6), which is ZooKeeper's broadcast phase.
fn peer_state(mode: Mode) -> &'static str {
    match mode {
        Mode::Leader => "leading - broadcast",
        Mode::Observer => "observing - broadcast",
        Mode::Follower | Mode::Standalone => "following - broadcast",
    }
}

/// The leader's view of its followers. A follower counts as synced once the leader matched
/// its log and while it is at most `--log-keep` entries behind (what it can catch up from
/// the log); openraft 0.9 publishes no per-follower heartbeat time, so one that stopped while
/// nothing was written still counts until writes leave it that far behind.
fn leader_stats(node: &Node, facts: &RaftFacts) -> LeaderStats {
    let keep = node.settings.log_keep;
    let synced = |id: &u64| {
        facts.matched.get(id).copied().flatten().is_some()
            && facts
                .lag()
                .any(|(peer, behind)| peer == *id && behind <= keep)
    };
    let voters = facts
        .voters
        .keys()
        .filter(|id| facts.matched.contains_key(id));
    let learners = facts
        .learners
        .keys()
        .filter(|id| facts.matched.contains_key(id));
    LeaderStats {
        learners: facts.matched.len() as u64,
        synced_followers: voters.filter(|id| synced(id)).count() as u64,
        synced_non_voting_followers: learners.filter(|id| synced(id)).count() as u64,
        pending_syncs: Some(node.stats.pending_syncs.load(Ordering::Relaxed)),
        leader_uptime_ms: node
            .stats
            .raft
            .leader_uptime()
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        proposal_sizes: node.stats.proposal_sizes.get(),
    }
}

/// ZooKeeper's counters and summaries that zk-node keeps.
fn metric_stats(node: &Node) -> MetricStats {
    let st = &node.stats;
    let cm = node.backend.consensus_metrics();
    let load = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    let basic = |h: &metrics::Histogram| metrics::summary(&h.snapshot(), false);
    let values = |h: &metrics::Histogram| metrics::value_summary(&h.snapshot());
    let fired = &node.hub.watches_fired;
    let mut summaries = vec![
        (
            "leader_unavailable_time",
            basic(&st.raft.leader_unavailable_time),
        ),
        ("node_created_watch_count", values(&fired.created)),
        ("node_deleted_watch_count", values(&fired.deleted)),
        ("fsynctime", basic(&cm.fsync_time)),
        ("snapshottime", basic(&cm.snapshot_time)),
        ("unavailable_time", basic(&st.raft.unavailable_time)),
        ("node_children_watch_count", values(&fired.children)),
        ("node_changed_watch_count", values(&fired.changed)),
    ];
    summaries.extend(startup_summaries(cm.startup()));
    let set = |s: &metrics::NamespaceSet| -> Vec<(String, fourlw::SummaryStats)> {
        s.snapshot()
            .into_iter()
            .map(|(ns, snap)| (ns, metrics::value_summary(&snap)))
            .collect()
    };
    MetricStats {
        local_sessions: 0,
        synced_observers: 0,
        counters: vec![
            (
                "proposal_count",
                st.raft.proposal_count(node.backend.accepted_index()),
            ),
            ("looking_count", load(&st.raft.looking_count)),
            ("bytes_received_count", load(&st.bytes_received)),
            ("connection_request_count", load(&st.connection_requests)),
            ("response_bytes", load(&st.response_bytes)),
            ("snap_count", load(&cm.snapshots_sent)),
            (
                "unsuccessful_handshake",
                load(&st.tls.unsuccessful_handshakes),
            ),
            ("commit_count", load(&node.hub.applied)),
            ("stale_sessions_expired", load(&st.stale_sessions_expired)),
        ],
        summary_sets: vec![
            ("read_per_namespace", set(&node.hub.namespaces.read)),
            ("write_per_namespace", set(&node.hub.namespaces.write)),
        ],
        summaries: summaries
            .into_iter()
            .chain([
                (
                    "election_time",
                    metrics::summary(&st.raft.election_time.snapshot(), false),
                ),
                (
                    "updatelatency",
                    metrics::summary(&st.update_latency.snapshot(), true),
                ),
                (
                    "readlatency",
                    metrics::summary(&st.read_latency.snapshot(), true),
                ),
            ])
            .collect(),
    }
}

/// ZooKeeper's start-up summaries, one value each: the database's load (`dbinittime`), its
/// snapshot part, and the transactions replayed after it (left empty when there were none,
/// as ZooKeeper leaves them).
fn startup_summaries(s: Option<Startup>) -> Vec<(&'static str, fourlw::SummaryStats)> {
    let once = |d: Duration| {
        let h = metrics::Histogram::default();
        h.record(d);
        metrics::summary(&h.snapshot(), false)
    };
    let empty = || metrics::summary(&metrics::Histogram::default().snapshot(), false);
    let Some(s) = s else {
        return Vec::new();
    };
    let (txns_time, txns) = if s.txns_loaded > 0 {
        let count = metrics::Histogram::default();
        count.record_value(s.txns_loaded);
        (once(s.txns_load), metrics::value_summary(&count.snapshot()))
    } else {
        (empty(), empty())
    };
    vec![
        ("startup_txns_load_time", txns_time),
        ("startup_txns_loaded", txns),
        ("dbinittime", once(s.db_init())),
        ("startup_snap_load_time", once(s.snap_load)),
    ]
}

/// `conf`'s ensemble part: the members Raft has, participants and observers by id as
/// `/zookeeper/config` lists them (a learner not marked observer is a joining server, not a
/// member yet), with their election ports and client addresses as a reconfig gave them, else
/// zoo.cfg's election port, else the peer port (Raft elects over it); this node's
/// `peerType` (1: observer); and the version of `/zookeeper/config`.
fn quorum_conf(node: &Node, facts: &RaftFacts, mode: Mode) -> QuorumConf {
    let keys = &node.settings.quorum_conf;
    let mut listed: Vec<(&u64, &String, bool)> = facts
        .voters
        .iter()
        .map(|(id, addr)| (id, addr, false))
        .chain(
            facts
                .learners
                .iter()
                .filter(|(_, addr)| zk_consensus::membership::is_observer(addr))
                .map(|(id, addr)| (id, addr, true)),
        )
        .collect();
    listed.sort_by_key(|(id, _, _)| **id);
    let members: Vec<QuorumMember> = listed
        .into_iter()
        .map(|(id, addr, observer)| match MemberAddr::parse(addr) {
            Some(m) => QuorumMember {
                id: *id,
                host: m.host.trim_matches(['[', ']']).to_string(),
                quorum_port: m.peer_port,
                election_port: m
                    .election_port
                    .or_else(|| keys.election_ports.get(id).copied())
                    .unwrap_or(m.peer_port),
                observer,
                client_addr: m.client.clone(),
            },
            None => QuorumMember {
                id: *id,
                host: addr.clone(),
                quorum_port: 0,
                election_port: 0,
                observer,
                client_addr: None,
            },
        })
        .collect();
    let own = members.iter().find(|m| m.id == node.id);
    let version = node.state.read().tree.config_version();
    QuorumConf {
        init_limit: keys.init_limit.unwrap_or(0),
        sync_limit: keys.sync_limit.unwrap_or(0),
        election_alg: 3,
        election_port: own.map_or(0, |m| m.election_port).to_string(),
        quorum_port: own.map_or(0, |m| m.quorum_port).to_string(),
        peer_type: u32::from(mode == Mode::Observer),
        members,
        version: u64::try_from(version).unwrap_or(0),
    }
}

/// `standalone` without peers (as ZooKeeper prints it for one server), else this node's role.
fn mode(node: &Node) -> Mode {
    match &node.settings.ensemble {
        // A node joining an ensemble is not standalone either, whatever its --peers.
        Some(e) if e.peers.len() > 1 || e.peers.get(node.id).is_none() => {
            if node.is_leader() {
                Mode::Leader
            } else if node.backend.standing().role == zk_consensus::RaftRole::Observer {
                Mode::Observer
            } else {
                Mode::Follower
            }
        }
        _ => Mode::Standalone,
    }
}

fn ms_floor(ms: f64) -> u64 {
    ms.max(0.0) as u64
}

/// Bytes under `dir` (files only, recursively; unreadable entries count as 0).
fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// This node's numbers for `word` (the admin API and /metrics ask with the word whose
/// answer they give; `asker` is listed among the connections as ZooKeeper lists the
/// connection a word came on, `None` from HTTP).
pub fn gather(word: Word, node: &Node, asker: Option<SocketAddr>) -> ServerStats {
    let needs = word.needs();
    let facts = node.raft_facts();
    let mode = mode(node);
    let latency = node.stats.latency.summary();
    let conns = node.hub.connections();
    let (open_fds, max_fds) = fourlw::fd_counts();
    let s = &node.settings;
    let data_dir = std::path::absolute(&s.data_dir).unwrap_or_else(|_| s.data_dir.clone());

    let (last_zxid, node_count, ephemerals_count, data_size, global_sessions, sessions, ephemerals) = {
        let st = node.state.read();
        let tree = &st.tree;
        let (sessions, ephemerals) = if needs.sessions {
            let now_mono = node.expiry.now_ms();
            let now_wall = now_ms();
            let sessions = st
                .sessions
                .iter()
                .map(|(id, timeout_ms)| SessionInfo {
                    session_id: id.get(),
                    timeout_ms,
                    expires_at_ms: node.expiry.deadline(id).map_or(0, |d| {
                        now_wall.saturating_add_unsigned(d.saturating_sub(now_mono))
                    }),
                })
                .collect();
            let ephemerals = tree
                .sessions_with_ephemerals()
                .map(|sid| SessionEphemerals {
                    session_id: sid,
                    paths: tree
                        .ephemerals(sid, "/")
                        .into_iter()
                        .map(str::to_owned)
                        .collect(),
                })
                .collect();
            (sessions, ephemerals)
        } else {
            (Vec::new(), Vec::new())
        };
        (
            st.applied_zxid(),
            tree.node_count() as u64,
            tree.ephemeral_count() as u64,
            tree.approximate_data_size(),
            st.sessions.len() as u64,
            sessions,
            ephemerals,
        )
    };

    let mut connections = Vec::new();
    if needs.connections {
        for c in &conns {
            let l = c.latency.summary();
            connections.push(ConnectionStats {
                remote: c.peer,
                interest_ops: 1,
                queued: c.outstanding.load(Ordering::Relaxed),
                received: c.received.load(Ordering::Relaxed),
                sent: c.sent.load(Ordering::Relaxed),
                session: Some(ConnectionSession {
                    session_id: c.session_id.load(Ordering::Relaxed) as i64,
                    last_op: fourlw::last_op_name(c.last_op.load(Ordering::Relaxed)).to_string(),
                    established_ms: c.established_ms.load(Ordering::Relaxed),
                    timeout_ms: u32::try_from(c.timeout_ms.load(Ordering::Relaxed))
                        .unwrap_or(u32::MAX),
                    last_cxid: c.last_cxid.load(Ordering::Relaxed),
                    last_zxid: c.last_zxid.load(Ordering::Relaxed),
                    last_response_ms: c.last_response_ms.load(Ordering::Relaxed),
                    last_latency_ms: ms_floor(l.last_ms),
                    min_latency_ms: ms_floor(l.min_ms),
                    avg_latency_ms: ms_floor(l.avg_ms),
                    max_latency_ms: ms_floor(l.max_ms),
                }),
                secure: c.secure,
            });
        }
        // ZooKeeper lists the asking connection too.
        if let Some(asker) = asker {
            connections.push(ConnectionStats {
                remote: asker,
                interest_ops: 0,
                queued: 0,
                received: 1,
                sent: 0,
                session: None,
                secure: false,
            });
        }
    }

    let watches = if needs.watches {
        node.hub
            .data_watches_by_session()
            .into_iter()
            .map(|(session_id, paths)| SessionWatches { session_id, paths })
            .collect()
    } else {
        Vec::new()
    };

    let data_dir_size = dir_size(&data_dir);
    ServerStats {
        version: VERSION.to_string(),
        serving: node.serving.get(),
        mode,
        latency: fourlw::Latency {
            min_ms: ms_floor(latency.min_ms),
            avg_ms: latency.avg_ms,
            max_ms: ms_floor(latency.max_ms),
        },
        packets_received: node.stats.received.load(Ordering::Relaxed),
        packets_sent: node.stats.sent.load(Ordering::Relaxed),
        alive_connections: conns.len() as u64 + u64::from(asker.is_some()),
        outstanding_requests: conns
            .iter()
            .map(|c| c.outstanding.load(Ordering::Relaxed))
            .sum(),
        last_zxid,
        node_count,
        watch_count: node.hub.watch_count() as u64,
        ephemerals_count,
        approximate_data_size: data_size,
        global_sessions,
        uptime_ms: u64::try_from(node.started.elapsed().as_millis()).unwrap_or(u64::MAX),
        open_file_descriptors: open_fds,
        max_file_descriptors: max_fds,
        auth_failed_count: Some(node.stats.auth_failed.load(Ordering::Relaxed)),
        fsync_threshold_exceed_count: Some(
            node.backend
                .consensus_metrics()
                .fsync_threshold_exceeded
                .load(Ordering::Relaxed),
        ),
        tls: Some(fourlw::TlsStats {
            non_mtls_remote: node.stats.tls.non_mtls_remote.load(Ordering::Relaxed),
            non_mtls_local: node.stats.tls.non_mtls_local.load(Ordering::Relaxed),
            outstanding_handshakes: node
                .stats
                .tls
                .outstanding_handshakes
                .load(Ordering::Relaxed),
        }),
        client_response_sizes: Some(node.stats.response_sizes.get()),
        quorum: (mode != Mode::Standalone).then(|| QuorumStats {
            quorum_size: facts.quorum_size(),
            peer_state: Some(peer_state(mode).to_string()),
        }),
        leader: (mode == Mode::Leader).then(|| leader_stats(node, &facts)),
        metrics: Some(metric_stats(node)),
        config: ConfStats {
            client_port: s.client_addr.port(),
            secure_client_port: s.secure_client.as_ref().map(|(addr, _)| addr.port()),
            data_dir: data_dir.display().to_string(),
            data_dir_size,
            // The Raft log (its write-ahead log, segments preallocated as ZooKeeper's txn logs
            // are) lives in the same data dir as the snapshots; ZooKeeper, with both in one
            // directory, prints the same size twice.
            data_log_dir: data_dir.display().to_string(),
            data_log_size: data_dir_size,
            tick_time_ms: u32::try_from(s.tick.as_millis()).unwrap_or(u32::MAX),
            max_client_cnxns: s.max_connections_per_ip,
            min_session_timeout_ms: s.timeouts.min_ms(),
            max_session_timeout_ms: s.timeouts.max_ms(),
            client_port_listen_backlog: -1,
            // ZooKeeper prints 0 for a standalone server.
            server_id: if mode == Mode::Standalone { 0 } else { s.id },
            quorum: (mode != Mode::Standalone).then(|| quorum_conf(node, &facts, mode)),
        },
        env: fourlw::EnvInfo::from_process(),
        connections,
        watches,
        sessions,
        ephemerals,
    }
}
