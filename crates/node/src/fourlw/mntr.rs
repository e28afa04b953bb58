//! `mntr` (ZooKeeper's MonitorCommand), and the same entries typed for the admin API's
//! `monitor`.
//!
//! ZooKeeper prints `zk_version` and `zk_server_state` (and `zk_peer_state` in an ensemble)
//! first, then its registered gauges in the iteration order of a hash map, which is the
//! same on every 3.8 server: the order below is copied from a leader's output, the
//! superset of the standalone and follower ones. Its counters and summaries come after the
//! gauges, again in the order a 3.8 leader prints them ([`METRICS_ORDER`]); zk-node prints
//! the ones it keeps (docs/operations.md lists the others and why).

use std::fmt::Write;

use super::format::avg_latency;
use super::stats::Mode;
use super::stats::ServerStats;
use super::stats::SummaryStats;

/// A value as ZooKeeper's metrics hold it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    /// A long.
    Int(i64),
    /// A double (averages), printed as ZooKeeper rounds them.
    Float(f64),
    /// A string (version, states).
    Text(String),
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Int(v) => write!(f, "{v}"),
            Value::Float(v) => f.write_str(&avg_latency(*v)),
            Value::Text(v) => f.write_str(v),
        }
    }
}

/// ZooKeeper 3.8's counters and summaries in the order its leader prints them (the names
/// zk-node keeps; the rest are left out, see docs/operations.md).
pub(crate) const METRICS_ORDER: [&str; 24] = [
    "proposal_count",
    "looking_count",
    "bytes_received_count",
    "connection_request_count",
    "response_bytes",
    "snap_count",
    "unsuccessful_handshake",
    "commit_count",
    "stale_sessions_expired",
    "leader_unavailable_time",
    "node_created_watch_count",
    "node_deleted_watch_count",
    "startup_txns_load_time",
    "fsynctime",
    "snapshottime",
    "unavailable_time",
    "startup_txns_loaded",
    "dbinittime",
    "election_time",
    "node_children_watch_count",
    "node_changed_watch_count",
    "startup_snap_load_time",
    "updatelatency",
    "readlatency",
];

/// The summary sets, after everything else as ZooKeeper prints them: `avg_<key>_<name>`,
/// `min_<key>_<name>`, ... for each key.
const SETS_ORDER: [&str; 2] = ["read_per_namespace", "write_per_namespace"];

/// `mntr`.
pub(crate) fn mntr(s: &ServerStats) -> String {
    let mut out = String::new();
    for (key, value) in entries(s) {
        let _ = writeln!(out, "zk_{key}\t{value}");
    }
    out
}

/// What `mntr` prints, in its order, keys without the `zk_` prefix.
pub(crate) fn entries(s: &ServerStats) -> Vec<(String, Value)> {
    let quorum = match s.mode {
        Mode::Standalone => None,
        Mode::Leader | Mode::Follower | Mode::Observer => s.quorum.as_ref(),
    };
    let leader = match s.mode {
        Mode::Leader => s.leader.as_ref(),
        Mode::Standalone | Mode::Follower | Mode::Observer => None,
    };
    let metrics = s.metrics.as_ref();
    let num = |v: u64| Some(Value::Int(i64::try_from(v).unwrap_or(i64::MAX)));
    let int = |v: i64| Some(Value::Int(v));
    let sizes = s.client_response_sizes;
    let proposals = leader.map(|l| l.proposal_sizes);
    let tls = s.tls;

    let gauges: Vec<(&str, Option<Value>)> = vec![
        ("version", Some(Value::Text(s.version.clone()))),
        (
            "server_state",
            Some(Value::Text(s.mode.as_str().to_string())),
        ),
        (
            "peer_state",
            quorum.and_then(|q| q.peer_state.clone().map(Value::Text)),
        ),
        ("ephemerals_count", num(s.ephemerals_count)),
        ("num_alive_connections", num(s.alive_connections)),
        ("avg_latency", Some(Value::Float(s.latency.avg_ms))),
        ("min_proposal_size", proposals.and_then(|p| int(p.min))),
        ("outstanding_requests", num(s.outstanding_requests)),
        ("znode_count", num(s.node_count)),
        ("global_sessions", num(s.global_sessions)),
        (
            "non_mtls_remote_conn_count",
            tls.and_then(|t| num(t.non_mtls_remote)),
        ),
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
        (
            "synced_observers",
            leader.and(metrics).and_then(|m| num(m.synced_observers)),
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
        (
            "local_sessions",
            metrics.and_then(|m| num(m.local_sessions)),
        ),
        ("uptime", num(s.uptime_ms)),
        ("max_latency", num(s.latency.max_ms)),
        (
            "outstanding_tls_handshake",
            tls.and_then(|t| num(t.outstanding_handshakes)),
        ),
        ("learners", leader.and_then(|l| num(l.learners))),
        ("min_client_response_size", sizes.and_then(|b| int(b.min))),
        (
            "non_mtls_local_conn_count",
            tls.and_then(|t| num(t.non_mtls_local)),
        ),
        ("quorum_size", quorum.and_then(|q| num(q.quorum_size))),
    ];
    let mut out: Vec<(String, Value)> = gauges
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k.to_string(), v)))
        .collect();
    if let Some(m) = metrics {
        for name in METRICS_ORDER {
            if let Some((_, v)) = m.counters.iter().find(|(n, _)| *n == name) {
                out.push((
                    name.to_string(),
                    Value::Int(i64::try_from(*v).unwrap_or(i64::MAX)),
                ));
            }
            if let Some((_, v)) = m.summaries.iter().find(|(n, _)| *n == name) {
                summary(&mut out, name, v);
            }
        }
        for name in SETS_ORDER {
            if let Some((_, set)) = m.summary_sets.iter().find(|(n, _)| *n == name) {
                for (key, v) in set {
                    summary(&mut out, &format!("{key}_{name}"), v);
                }
            }
        }
    }
    out
}

/// A summary's keys: `avg_`, `min_`, `max_`, `cnt_`, `sum_` and, for a detailed one,
/// `p50_`, `p95_`, `p99_`, `p999_`.
fn summary(out: &mut Vec<(String, Value)>, name: &str, s: &SummaryStats) {
    let int = |v: u64| Value::Int(i64::try_from(v).unwrap_or(i64::MAX));
    out.push((format!("avg_{name}"), Value::Float(s.avg)));
    out.push((format!("min_{name}"), int(s.min)));
    out.push((format!("max_{name}"), int(s.max)));
    out.push((format!("cnt_{name}"), int(s.count)));
    out.push((format!("sum_{name}"), int(s.sum)));
    if let Some(p) = s.percentiles {
        for (label, v) in ["p50", "p95", "p99", "p999"].iter().zip(p) {
            out.push((format!("{label}_{name}"), int(v)));
        }
    }
}
