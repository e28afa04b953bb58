//! `mntr` (ZooKeeper's MonitorCommand).
//!
//! ZooKeeper prints `zk_version` and `zk_server_state` (and `zk_peer_state` in an ensemble)
//! first, then its registered gauges in the iteration order of a hash map, which is the
//! same on every 3.8 server: the order below is copied from a leader's output, the
//! superset of the standalone and follower ones. Its counters and summaries come after the
//! gauges and are not printed here: zk-node has no honest values for them.

use std::fmt::Write;

use super::format::avg_latency;
use super::stats::Mode;
use super::stats::ServerStats;

/// `mntr`.
pub(crate) fn mntr(s: &ServerStats) -> String {
    let quorum = match s.mode {
        Mode::Standalone => None,
        Mode::Leader | Mode::Follower => s.quorum.as_ref(),
    };
    let leader = match s.mode {
        Mode::Leader => s.leader.as_ref(),
        Mode::Standalone | Mode::Follower => None,
    };
    let num = |v: u64| Some(v.to_string());
    let int = |v: i64| Some(v.to_string());
    let sizes = s.client_response_sizes;
    let proposals = leader.map(|l| l.proposal_sizes);

    let entries: Vec<(&str, Option<String>)> = vec![
        ("version", Some(s.version.clone())),
        ("server_state", Some(s.mode.as_str().to_string())),
        ("peer_state", quorum.and_then(|q| q.peer_state.clone())),
        ("ephemerals_count", num(s.ephemerals_count)),
        ("num_alive_connections", num(s.alive_connections)),
        ("avg_latency", Some(avg_latency(s.latency.avg_ms))),
        ("min_proposal_size", proposals.and_then(|p| int(p.min))),
        ("outstanding_requests", num(s.outstanding_requests)),
        ("znode_count", num(s.node_count)),
        ("global_sessions", num(s.global_sessions)),
        ("last_client_response_size", sizes.and_then(|b| int(b.last))),
        ("packets_sent", num(s.packets_sent)),
        ("packets_received", num(s.packets_received)),
        ("max_proposal_size", proposals.and_then(|p| int(p.max))),
        ("max_client_response_size", sizes.and_then(|b| int(b.max))),
        (
            "synced_followers",
            leader.and_then(|l| num(l.synced_followers)),
        ),
        ("watch_count", num(s.watch_count)),
        (
            "synced_non_voting_followers",
            leader.and_then(|l| num(l.synced_non_voting_followers)),
        ),
        ("auth_failed_count", s.auth_failed_count.and_then(num)),
        ("min_latency", num(s.latency.min_ms)),
        (
            "max_file_descriptor_count",
            s.max_file_descriptors.and_then(num),
        ),
        ("approximate_data_size", num(s.approximate_data_size)),
        (
            "open_file_descriptor_count",
            s.open_file_descriptors.and_then(num),
        ),
        ("last_proposal_size", proposals.and_then(|p| int(p.last))),
        (
            "pending_syncs",
            leader.and_then(|l| l.pending_syncs).and_then(num),
        ),
        (
            "leader_uptime",
            leader.and_then(|l| num(l.leader_uptime_ms)),
        ),
        ("uptime", num(s.uptime_ms)),
        ("max_latency", num(s.latency.max_ms)),
        ("learners", leader.and_then(|l| num(l.learners))),
        ("min_client_response_size", sizes.and_then(|b| int(b.min))),
        ("quorum_size", quorum.and_then(|q| num(q.quorum_size))),
    ];

    let mut out = String::new();
    for (key, value) in entries.iter() {
        if let Some(v) = value {
            let _ = writeln!(out, "zk_{key}\t{v}");
        }
    }
    out
}
