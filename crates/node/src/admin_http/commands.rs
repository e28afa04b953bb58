//! The admin API's commands: ZooKeeper 3.8's AdminServer names (and its short aliases) and
//! JSON field names, answered from the same numbers as the four-letter words.
//!
//! Every answer carries `command` (the command's primary name) and `error` (null, or why it
//! failed), as ZooKeeper's `CommandResponse` does. ZooKeeper's commands left out here
//! (trace masks, `hash`, `observers`, `system_properties`, `zabstate`,
//! `initial_configuration`) are listed with why in docs/operations.md.

use serde_json::json;
use serde_json::Map;
use serde_json::Value;

use crate::fourlw;
use crate::fourlw::BufferStats;
use crate::fourlw::ConnectionStats;
use crate::fourlw::Mode;
use crate::fourlw::ServerStats;
use crate::fourlw::Word;
use crate::node::Node;
use crate::raft_facts::RaftFacts;
use crate::raft_facts::RaftRole;

/// One command: its name, the aliases it also answers to, and the word whose numbers it
/// reads.
#[derive(Debug, Clone, Copy)]
pub struct Command {
    /// ZooKeeper's primary name.
    pub name: &'static str,
    /// ZooKeeper's other names for it (the four-letter word among them).
    pub aliases: &'static [&'static str],
    word: Word,
}

const fn cmd(name: &'static str, aliases: &'static [&'static str], word: Word) -> Command {
    Command {
        name,
        aliases,
        word,
    }
}

/// Every command served, in ZooKeeper's `/commands` order.
pub const COMMANDS: [Command; 18] = [
    cmd("configuration", &["conf", "config"], Word::Conf),
    cmd("connection_stat_reset", &["crst"], Word::Crst),
    cmd("connections", &["cons"], Word::Cons),
    cmd("dirs", &[], Word::Dirs),
    cmd("dump", &[], Word::Dump),
    cmd("environment", &["env", "envi"], Word::Envi),
    cmd("is_read_only", &["isro"], Word::Isro),
    // Reads no word's numbers: the snapshot's are zk-consensus's.
    cmd("last_snapshot", &["lsnp"], Word::Ruok),
    cmd("leader", &["lead"], Word::Srvr),
    cmd("monitor", &["mntr"], Word::Mntr),
    cmd("ruok", &[], Word::Ruok),
    cmd("server_stats", &["srvr"], Word::Srvr),
    cmd("stat_reset", &["srst"], Word::Srst),
    cmd("stats", &["stat"], Word::Stat),
    cmd("voting_view", &["vote"], Word::Conf),
    cmd("watch_summary", &["wchs"], Word::Wchs),
    cmd("watches", &["wchc"], Word::Wchc),
    cmd("watches_by_path", &["wchp"], Word::Wchp),
];

/// ZooKeeper's answer to a command asked while the server cannot serve.
const NOT_SERVING: &str = "This ZooKeeper instance is not currently serving requests";

/// The command a name (or alias) asks for.
pub fn find(name: &str) -> Option<&'static Command> {
    COMMANDS
        .iter()
        .find(|c| c.name == name || c.aliases.contains(&name))
}

/// The JSON answer to `name`. Blocking: it reads the data dir's size and the state.
pub fn run(name: &str, node: &Node) -> Value {
    let Some(c) = find(name) else {
        return answer(name, Map::new(), Some(format!("Unknown command: {name}")));
    };
    // ZooKeeper answers `environment` whatever the server's state, the others only while
    // it serves.
    if c.word != Word::Envi && !node.serving.get() {
        return answer(c.name, Map::new(), Some(NOT_SERVING.to_string()));
    }
    match c.word {
        Word::Srst => node.stats.reset(),
        Word::Crst => node.hub.connections().iter().for_each(|c| c.reset()),
        _ => {}
    }
    let s = crate::admin::gather(c.word, node, None);
    let facts = node.raft_facts();
    let fields = match c.name {
        "configuration" => configuration(&s),
        "connections" => connections_only(&s),
        "dirs" => obj([
            ("datadir_size", json!(s.config.data_dir_size)),
            ("logdir_size", json!(s.config.data_log_size)),
        ]),
        "dump" => dump(&s),
        "environment" => environment(&s),
        "is_read_only" => obj([("read_only", json!(false))]),
        "last_snapshot" => last_snapshot(node.backend.consensus_metrics().last_snapshot()),
        "leader" => return leader(node, &facts),
        "monitor" => monitor(&s),
        "server_stats" => server_stats(&s),
        "stats" => {
            let mut m = server_stats(&s);
            m.insert(
                "connections".into(),
                brief_connections(&s.connections, false),
            );
            m.insert(
                "secure_connections".into(),
                brief_connections(&s.connections, true),
            );
            m
        }
        "voting_view" => voting_view(node, &facts),
        "watch_summary" => watch_summary(&s),
        "watches" => watches(&s),
        "watches_by_path" => watches_by_path(&s),
        _ => Map::new(),
    };
    answer(c.name, fields, None)
}

fn answer(name: &str, mut fields: Map<String, Value>, error: Option<String>) -> Value {
    fields.insert("command".into(), json!(name));
    fields.insert("error".into(), json!(error));
    Value::Object(fields)
}

fn obj<const N: usize>(pairs: [(&str, Value); N]) -> Map<String, Value> {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

fn configuration(s: &ServerStats) -> Map<String, Value> {
    let c = &s.config;
    let mut m = obj([
        ("client_port", json!(c.client_port)),
        ("data_dir", json!(c.data_dir)),
        ("data_log_dir", json!(c.data_log_dir)),
        ("tick_time", json!(c.tick_time_ms)),
        ("max_client_cnxns", json!(c.max_client_cnxns)),
        ("min_session_timeout", json!(c.min_session_timeout_ms)),
        ("max_session_timeout", json!(c.max_session_timeout_ms)),
        ("server_id", json!(c.server_id)),
        (
            "client_port_listen_backlog",
            json!(c.client_port_listen_backlog),
        ),
    ]);
    if let Some(p) = c.secure_client_port {
        m.insert("secure_client_port".into(), json!(p));
    }
    m
}

/// `ip:port`, as Jackson writes an `InetSocketAddress`'s host string and port.
fn remote(c: &ConnectionStats) -> String {
    // The 4lw spelling (Java's toString) starts with a slash.
    fourlw::socket_addr_string(&c.remote)
        .trim_start_matches('/')
        .to_string()
}

/// The connections of one port (plain, or secure when `secure`), as ZooKeeper's admin API
/// lists each connection factory's apart.
fn of_port(conns: &[ConnectionStats], secure: bool) -> impl Iterator<Item = &ConnectionStats> {
    conns.iter().filter(move |c| c.secure == secure)
}

fn brief_connections(conns: &[ConnectionStats], secure: bool) -> Value {
    Value::Array(
        of_port(conns, secure)
            .map(|c| {
                Value::Object(obj([
                    ("remote_socket_address", json!(remote(c))),
                    ("interest_ops", json!(c.interest_ops)),
                    ("outstanding_requests", json!(c.queued)),
                    ("packets_received", json!(c.received)),
                    ("packets_sent", json!(c.sent)),
                ]))
            })
            .collect(),
    )
}

fn full_connections(conns: &[ConnectionStats], secure: bool) -> Value {
    let full = of_port(conns, secure)
        .map(|c| {
            let mut m = obj([
                ("remote_socket_address", json!(remote(c))),
                ("interest_ops", json!(c.interest_ops)),
                ("outstanding_requests", json!(c.queued)),
                ("packets_received", json!(c.received)),
                ("packets_sent", json!(c.sent)),
            ]);
            if let Some(x) = c.session.as_ref().filter(|x| x.session_id != 0) {
                m.extend(obj([
                    ("session_id", json!(x.session_id)),
                    ("last_operation", json!(x.last_op)),
                    ("established", json!(x.established_ms)),
                    ("session_timeout", json!(x.timeout_ms)),
                    ("last_cxid", json!(x.last_cxid)),
                    ("last_zxid", json!(x.last_zxid)),
                    ("last_response_time", json!(x.last_response_ms)),
                    ("last_latency", json!(x.last_latency_ms)),
                    ("min_latency", json!(x.min_latency_ms)),
                    ("avg_latency", json!(x.avg_latency_ms)),
                    ("max_latency", json!(x.max_latency_ms)),
                ]));
            }
            Value::Object(m)
        })
        .collect();
    Value::Array(full)
}

fn connections_only(s: &ServerStats) -> Map<String, Value> {
    obj([
        ("connections", full_connections(&s.connections, false)),
        ("secure_connections", full_connections(&s.connections, true)),
    ])
}

fn dump(s: &ServerStats) -> Map<String, Value> {
    let mut expiry: Map<String, Value> = Map::new();
    // A follower does not own expiry (ZooKeeper's learners list no expiry times either).
    if !matches!(s.mode, Mode::Follower | Mode::Observer) {
        for x in &s.sessions {
            let ids = expiry
                .entry(x.expires_at_ms.to_string())
                .or_insert_with(|| json!([]));
            if let Value::Array(ids) = ids {
                ids.push(json!(x.session_id));
            }
        }
    }
    let ephemerals: Map<String, Value> = s
        .ephemerals
        .iter()
        .map(|e| (e.session_id.to_string(), json!(e.paths)))
        .collect();
    obj([
        ("expiry_time_to_session_ids", Value::Object(expiry)),
        ("session_id_to_ephemeral_paths", Value::Object(ephemerals)),
    ])
}

fn environment(s: &ServerStats) -> Map<String, Value> {
    fourlw::environment(s)
        .into_iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect()
}

fn leader(node: &Node, f: &RaftFacts) -> Value {
    let Some(id) = f.leader_id else {
        return answer("leader", Map::new(), Some("Leader is not available".into()));
    };
    // The leader's host, from its peer address (ZooKeeper gives its quorum address' host).
    let ip = f
        .voters
        .get(&id)
        .and_then(|a| a.rsplit_once(':'))
        .map(|(h, _)| h.trim_matches(['[', ']']).to_string())
        .unwrap_or_default();
    let fields = obj([
        (
            "is_leader",
            json!(id == node.id && f.role == RaftRole::Leader),
        ),
        ("leader_id", json!(id)),
        ("leader_ip", json!(ip)),
    ]);
    answer("leader", fields, None)
}

fn monitor(s: &ServerStats) -> Map<String, Value> {
    fourlw::mntr::entries(s)
        .into_iter()
        .map(|(k, v)| {
            let v = match v {
                fourlw::mntr::Value::Int(i) => json!(i),
                fourlw::mntr::Value::Float(f) => json!(f),
                fourlw::mntr::Value::Text(t) => json!(t),
            };
            (k, v)
        })
        .collect()
}

/// ZooKeeper's LastSnapshotCommand: the zxid in hex (as Java's `Long.toHexString`, so -1 is
/// `ffffffffffffffff`) and the time in seconds, -1 for both before any snapshot.
fn last_snapshot(s: Option<zk_consensus::metrics::LastSnapshot>) -> Map<String, Value> {
    obj([
        ("zxid", json!(format!("{:x}", s.map_or(-1, |s| s.zxid)))),
        ("timestamp", json!(s.map_or(-1, |s| s.timestamp_secs))),
    ])
}

fn buffer(b: BufferStats) -> Value {
    Value::Object(obj([
        ("last_buffer_size", json!(b.last)),
        ("min_buffer_size", json!(b.min)),
        ("max_buffer_size", json!(b.max)),
    ]))
}

fn server_stats(s: &ServerStats) -> Map<String, Value> {
    let sizes = s.client_response_sizes.unwrap_or_default();
    let stats = obj([
        ("packets_sent", json!(s.packets_sent)),
        ("packets_received", json!(s.packets_received)),
        ("client_response_stats", buffer(sizes)),
        ("server_state", json!(s.mode.as_str())),
        ("outstanding_requests", json!(s.outstanding_requests)),
        ("min_latency", json!(s.latency.min_ms)),
        ("avg_latency", json!(s.latency.avg_ms)),
        ("max_latency", json!(s.latency.max_ms)),
        ("data_dir_size", json!(s.config.data_dir_size)),
        ("log_dir_size", json!(s.config.data_log_size)),
        ("last_processed_zxid", json!(s.last_zxid)),
        ("num_alive_client_connections", json!(s.alive_connections)),
        ("auth_failed_count", json!(s.auth_failed_count.unwrap_or(0))),
        (
            "fsync_threshold_exceed_count",
            json!(s.fsync_threshold_exceed_count.unwrap_or(0)),
        ),
        (
            "non_mtlsremote_conn_count",
            json!(s.tls.map_or(0, |t| t.non_mtls_remote)),
        ),
        (
            "non_mtlslocal_conn_count",
            json!(s.tls.map_or(0, |t| t.non_mtls_local)),
        ),
        ("uptime", json!(s.uptime_ms)),
    ]);
    let mut m = obj([
        ("version", json!(s.version)),
        ("read_only", json!(false)),
        ("server_stats", Value::Object(stats)),
        ("client_response", buffer(sizes)),
        ("node_count", json!(s.node_count)),
    ]);
    if let (Mode::Leader, Some(l)) = (s.mode, &s.leader) {
        m.insert("proposal_stats".into(), buffer(l.proposal_sizes));
    }
    m
}

fn voting_view(node: &Node, f: &RaftFacts) -> Map<String, Value> {
    let keys = &node.settings.quorum_conf;
    let view: Map<String, Value> = f
        .voters
        .iter()
        .map(|(id, addr)| {
            let election = match (addr.rsplit_once(':'), keys.election_ports.get(id)) {
                (Some((host, _)), Some(port)) => format!("{host}:{port}"),
                _ => addr.clone(),
            };
            // A member knows its own client address only, as in ZooKeeper.
            let client = if *id == node.id {
                node.settings.client_addr.to_string()
            } else {
                String::new()
            };
            let member = obj([
                ("server_addresses", json!([addr])),
                ("election_addresses", json!([election])),
                ("client_address", json!(client)),
                ("learner_type", json!("participant")),
            ]);
            (id.to_string(), Value::Object(member))
        })
        .collect();
    obj([("current_config", Value::Object(view))])
}

fn watching(s: &ServerStats) -> impl Iterator<Item = &fourlw::SessionWatches> {
    s.watches.iter().filter(|w| !w.paths.is_empty())
}

fn watch_summary(s: &ServerStats) -> Map<String, Value> {
    let paths: std::collections::HashSet<&str> = watching(s)
        .flat_map(|w| w.paths.iter().map(String::as_str))
        .collect();
    obj([
        ("num_connections", json!(watching(s).count())),
        ("num_paths", json!(paths.len())),
        (
            "num_total_watches",
            json!(watching(s).map(|w| w.paths.len()).sum::<usize>()),
        ),
    ])
}

fn watches(s: &ServerStats) -> Map<String, Value> {
    let by_session: Map<String, Value> = watching(s)
        .map(|w| (w.session_id.to_string(), json!(w.paths)))
        .collect();
    obj([("session_id_to_watched_paths", Value::Object(by_session))])
}

fn watches_by_path(s: &ServerStats) -> Map<String, Value> {
    let mut by_path: std::collections::BTreeMap<&str, Vec<i64>> = Default::default();
    for w in watching(s) {
        for p in &w.paths {
            by_path.entry(p).or_default().push(w.session_id);
        }
    }
    let by_path: Map<String, Value> = by_path
        .into_iter()
        .map(|(p, ids)| (p.to_string(), json!(ids)))
        .collect();
    obj([("path_to_session_ids", Value::Object(by_path))])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_aliases_find_their_command() {
        assert_eq!(find("mntr").map(|c| c.name), Some("monitor"));
        assert_eq!(find("srvr").map(|c| c.name), Some("server_stats"));
        assert_eq!(find("config").map(|c| c.name), Some("configuration"));
        assert_eq!(find("watches").map(|c| c.name), Some("watches"));
        assert!(find("stmk").is_none());
        let mut names: Vec<&str> = COMMANDS.iter().map(|c| c.name).collect();
        let sorted = {
            let mut n = names.clone();
            n.sort_unstable();
            n
        };
        assert_eq!(names, sorted, "ZooKeeper lists them sorted");
        names.dedup();
        assert_eq!(names.len(), COMMANDS.len());
    }

    #[test]
    fn answers_carry_command_and_error() {
        let v = answer("ruok", Map::new(), None);
        assert_eq!(v, json!({"command": "ruok", "error": null}));
        let s = fourlw::tests::standalone();
        let m = server_stats(&s);
        assert_eq!(m["server_stats"]["packets_received"], json!(22));
        assert_eq!(m["client_response"]["max_buffer_size"], json!(93));
        assert_eq!(m["node_count"], json!(8));
        let w = watch_summary(&s);
        assert_eq!(w["num_connections"], json!(2));
        assert_eq!(w["num_total_watches"], json!(6));
    }

    #[test]
    fn last_snapshot_as_zookeeper_prints_it() {
        assert_eq!(
            Value::Object(last_snapshot(None)),
            json!({"zxid": "ffffffffffffffff", "timestamp": -1})
        );
        let s = zk_consensus::metrics::LastSnapshot {
            zxid: 0x1_0000_002a,
            timestamp_secs: 1_765_000_000,
        };
        assert_eq!(
            Value::Object(last_snapshot(Some(s))),
            json!({"zxid": "10000002a", "timestamp": 1_765_000_000})
        );
        assert_eq!(find("lsnp").map(|c| c.name), Some("last_snapshot"));
    }
}
