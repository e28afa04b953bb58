//! Monitoring as ZooKeeper's operators have it: the real Prometheus server (Debian's
//! package) scrapes `/metrics` of a three-node ensemble and its query API answers with
//! ZooKeeper's metric names; the admin API's JSON and `mntr`'s keys are checked against
//! Apache ZooKeeper 3.8's own answers, taken in the same run.

mod common;

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Child;
use std::process::Command;
use std::process::Stdio;
use std::time::Duration;
use std::time::Instant;

use common::cluster::Cluster;
use common::four_letter;
use common::free_port;
use common::http_get;
use common::req::create;
use common::req::exists;
use common::Raw;
use serde_json::Value;
use zk_wire::GetDataRequest;
use zk_wire::Request;

const PROMETHEUS: &str = "/usr/bin/prometheus";

/// A Prometheus server of its own (temp config and storage, a loopback port); killed on
/// drop.
struct Prometheus {
    child: Child,
    addr: SocketAddr,
    dir: tempfile::TempDir,
}

impl Prometheus {
    fn start(targets: &[SocketAddr]) -> Prometheus {
        assert!(
            Path::new(PROMETHEUS).exists(),
            "Prometheus is not installed (apt-get install prometheus; tests/run.sh does)"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let targets: Vec<String> = targets.iter().map(|t| format!("'{t}'")).collect();
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
                 scrape_configs:\n  - job_name: zookeeper\n    static_configs:\n      \
                 - targets: [{}]\n",
                targets.join(", ")
            ),
        )
        .expect("prometheus.yml");
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let log = std::fs::File::create(dir.path().join("prometheus.log")).expect("log");
        let child = Command::new(PROMETHEUS)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start prometheus");
        Prometheus { child, addr, dir }
    }

    /// An instant query's series: (labels, value); None until Prometheus answers.
    fn query(&self, q: &str) -> Option<Vec<(BTreeMap<String, String>, f64)>> {
        let (status, body) = http_get(self.addr, &format!("/api/v1/query?query={q}"))?;
        if status != 200 {
            return None;
        }
        let v: Value = serde_json::from_str(&body).ok()?;
        let series = v["data"]["result"].as_array()?;
        Some(
            series
                .iter()
                .filter_map(|s| {
                    let labels = s["metric"]
                        .as_object()?
                        .iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                        .collect();
                    let value = s["value"][1].as_str()?.parse().ok()?;
                    Some((labels, value))
                })
                .collect(),
        )
    }

    /// Waits (bounded) until `q` answers what `ok` accepts; the answer.
    fn wait_for(
        &self,
        q: &str,
        ok: impl Fn(&[(BTreeMap<String, String>, f64)]) -> bool,
    ) -> Vec<(BTreeMap<String, String>, f64)> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let got = self.query(q);
            if let Some(got) = got.filter(|g| ok(g)) {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "Prometheus' {q}: {:?}\n{}",
                self.query(q),
                std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200)); // polling another process
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn three_nodes() -> (Cluster, u64) {
    let mut c = Cluster::new(3, &[]);
    let leader = c.start_all();
    (c, leader)
}

/// Prometheus scrapes every member's `/metrics`; its query API gives each member's
/// `znode_count` and the leader's `synced_followers` (2), under ZooKeeper's names.
#[test]
fn prometheus_scrapes_a_three_node_ensemble() {
    let (c, leader) = three_nodes();
    let (mut raw, _) = Raw::new_session_retrying(c.members[(leader - 1) as usize].client, 6000);
    for i in 0..5 {
        assert_eq!(raw.call(&create(&format!("/m{i}"), 0)).0.err, 0);
    }
    // conf and srvr show the real id and membership.
    let leader_client = c.members[(leader - 1) as usize].client;
    let conf = four_letter(leader_client, "conf").unwrap_or_default();
    assert!(conf.contains(&format!("serverId={leader}\n")), "{conf}");
    for m in &c.members {
        let line = format!(
            "server.{}=127.0.0.1:{}:{}:participant",
            m.id,
            m.peer.port(),
            m.peer.port()
        );
        assert!(conf.contains(&line), "{line} not in\n{conf}");
    }
    let srvr = four_letter(leader_client, "srvr").unwrap_or_default();
    assert!(srvr.contains("Mode: leader\nNode count: "), "{srvr}");
    assert!(
        !srvr.contains("Proposal sizes last/min/max: -1/-1/-1"),
        "{srvr}"
    );
    let admins: Vec<SocketAddr> = c.members.iter().map(|m| m.admin).collect();
    let leader_admin = admins[(leader - 1) as usize];
    let own = http_get(leader_admin, "/metrics");
    let Some((200, text)) = own else {
        panic!("/metrics: {own:?}\n{}", c.logs())
    };
    for line in [
        "# TYPE znode_count gauge",
        "# TYPE readlatency summary",
        "quorum_size 3",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
    }

    let prom = Prometheus::start(&admins);
    // Every member holds the 5 znodes plus ZooKeeper's own (/, /zookeeper, ...): once the
    // followers applied the creates, all three agree.
    let counts = prom.wait_for("znode_count", |s| {
        s.len() == 3 && s.iter().all(|(_, v)| *v >= 6.0 && *v == s[0].1)
    });
    let instances: BTreeSet<String> = counts.iter().map(|(l, _)| l["instance"].clone()).collect();
    let want: BTreeSet<String> = admins.iter().map(|a| a.to_string()).collect();
    assert_eq!(instances, want);
    let synced = prom.wait_for("synced_followers", |s| s.len() == 1 && s[0].1 == 2.0);
    assert_eq!(synced[0].0["instance"], leader_admin.to_string());
    assert_eq!(synced[0].0["job"], "zookeeper");
    // Raft's own, and a summary's count (ZooKeeper's names, so its dashboards work).
    prom.wait_for("raft_term", |s| {
        s.len() == 3 && s.iter().all(|(_, v)| *v >= 1.0)
    });
    prom.wait_for("updatelatency_count", |s| s.iter().any(|(_, v)| *v >= 5.0));
    prom.wait_for("raft_follower_lag", |s| s.len() == 2);
    prom.wait_for("raft_leader_changes", |s| {
        s.len() == 3 && s.iter().all(|(_, v)| *v >= 1.0)
    });
}

/// A lone node's admin API: the listing, a command, an unknown one; `/metrics` also on
/// `--metrics-addr` (zoo.cfg's metricsProvider.httpPort), which serves nothing else.
#[test]
fn admin_api_and_metrics_port_of_a_lone_node() {
    let dir = tempfile::tempdir().expect("tempdir");
    let metrics = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let node = common::ZkNode::start_in(
        &dir.path().join("data"),
        &["--metrics-addr", &metrics.to_string()],
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while http_get(node.admin, "/commands").is_none() {
        assert!(
            Instant::now() < deadline,
            "no admin server:\n{}",
            node.log_tail()
        );
        std::thread::sleep(Duration::from_millis(20)); // polling a process, not syncing
    }
    let list = http_get(node.admin, "/commands")
        .map(|(_, b)| b)
        .unwrap_or_default();
    assert!(
        list.contains("<a href=\"/commands/monitor\">monitor</a>"),
        "{list}"
    );
    let ruok = json(node.admin, "ruok");
    assert_eq!(ruok, serde_json::json!({"command": "ruok", "error": null}));
    let srvr = json(node.admin, "srvr");
    assert_eq!(srvr["command"], "server_stats");
    assert_eq!(srvr["server_stats"]["server_state"], "standalone");
    let conf = json(node.admin, "configuration");
    assert_eq!(conf["client_port"], Value::from(node.addr.port()));
    assert_eq!(
        conf["server_id"],
        Value::from(0),
        "standalone, as ZooKeeper prints it"
    );
    let unknown = json(node.admin, "nosuch");
    assert_eq!(unknown["error"], "Unknown command: nosuch");
    let page = http_get(metrics, "/metrics");
    let Some((200, text)) = page else {
        panic!("{page:?}")
    };
    assert!(
        text.lines().any(|l| l.starts_with("znode_count ")),
        "{text}"
    );
    assert!(
        !text.contains("synced_followers"),
        "a lone node has no followers"
    );
    assert_eq!(
        http_get(metrics, "/commands/ruok").map(|(s, _)| s),
        Some(404)
    );
}

/// Two sessions, an ephemeral each, data watches and an exists watch: so dump, watches and
/// connections have something to show. The connections stay open while the caller looks.
fn workload(addr: SocketAddr) -> Vec<Raw> {
    let (mut a, _) = Raw::new_session_retrying(addr, 10_000);
    let (mut b, _) = Raw::new_session_retrying(addr, 10_000);
    assert_eq!(a.call(&create("/app", 0)).0.err, 0);
    assert_eq!(a.call(&create("/app/e1", 1)).0.err, 0);
    assert_eq!(b.call(&create("/app/e2", 1)).0.err, 0);
    let get = |path: &str| {
        Request::GetData(GetDataRequest {
            path: path.into(),
            watch: true,
        })
    };
    assert_eq!(b.call(&get("/app/e1")).0.err, 0);
    a.call(&exists("/nope", true));
    vec![a, b]
}

fn json(addr: SocketAddr, command: &str) -> Value {
    let got = http_get(addr, &format!("/commands/{command}"));
    let Some((200, body)) = got else {
        panic!("{addr} /commands/{command}: {got:?}")
    };
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{command}: {e}\n{body}"))
}

/// The kind of a JSON value (ZooKeeper's longs and doubles are both numbers).
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Objects whose keys are data (session ids, paths, times, server ids), not field names.
const DATA_MAPS: [&str; 5] = [
    "expiry_time_to_session_ids",
    "session_id_to_ephemeral_paths",
    "session_id_to_watched_paths",
    "path_to_session_ids",
    "current_config",
];

/// ZooKeeper's fields zk-node leaves out (docs/operations.md says why), by path.
const LEFT_OUT_FIELDS: [&str; 1] = ["server_stats.provider_null"];

/// Compares field by field: every ZooKeeper field is ours (or left out on purpose) with a
/// value of the same kind, and we have no field ZooKeeper lacks.
fn same_fields(at: &str, theirs: &Value, ours: &Value, problems: &mut Vec<String>) {
    if kind(theirs) != kind(ours) && !theirs.is_null() {
        problems.push(format!("{at}: ZooKeeper {theirs}, zk-node {ours}"));
        return;
    }
    let leaf = at.rsplit('/').next().unwrap_or(at);
    match (theirs, ours) {
        (Value::Object(t), Value::Object(o)) if DATA_MAPS.iter().any(|m| leaf.ends_with(m)) => {
            if let (Some(tv), Some(ov)) = (t.values().next(), o.values().next()) {
                same_fields(&format!("{at}.*"), tv, ov, problems);
            }
        }
        (Value::Object(t), Value::Object(o)) => {
            for (k, tv) in t {
                let path = format!("{at}.{k}");
                let field = path.split_once('/').map_or(path.as_str(), |(_, f)| f);
                let field = field.split_once('.').map_or(field, |(_, f)| f);
                match o.get(k) {
                    Some(ov) => same_fields(&path, tv, ov, problems),
                    None if LEFT_OUT_FIELDS.contains(&field) => {}
                    None if leaf.ends_with("monitor") => {} // checked with mntr's keys below
                    None => problems.push(format!("{path}: missing")),
                }
            }
            for k in o.keys().filter(|k| !t.contains_key(*k)) {
                problems.push(format!("{at}.{k}: not a ZooKeeper field"));
            }
        }
        (Value::Array(t), Value::Array(o)) => {
            if let (Some(tv), Some(ov)) = (t.first(), o.first()) {
                same_fields(&format!("{at}[0]"), tv, ov, problems);
            }
        }
        _ => {}
    }
}

/// ZooKeeper 3.8's admin commands zk-node does not serve (docs/operations.md says why).
const LEFT_OUT_COMMANDS: [&str; 8] = [
    "get_trace_mask",
    "set_trace_mask",
    "hash",
    "initial_configuration",
    "observer_connection_stat_reset",
    "observers",
    "system_properties",
    "zabstate",
];

/// ZooKeeper 3.8 leader's mntr keys zk-node leaves out (summaries by their base name, with
/// a per-follower `N_` prefix dropped); docs/operations.md gives the reasons.
const LEFT_OUT_MNTR: &[&str] = &[
    // TLS: no handshake throttling; no HTTPS on the admin port.
    "tls_handshake_exceeded",
    "insecure_admin_count",
    // Replication inside openraft, which has no counterpart of Zab's packets and phases.
    "quorum_ack_latency",
    "proposal_latency",
    "proposal_ack_creation_latency",
    "commit_propagation_latency",
    "propagation_latency",
    "learner_proposal_received_count",
    "learner_commit_received_count",
    "follower_sync_time",
    "diff_count",
    "inflight_diff_count",
    "inflight_snap_count",
    "learner_handler_qp_size",
    "learner_handler_qp_time_ms",
    "sync_processor_request_queued",
    "sync_processor_queue_size",
    "sync_processor_batch_size",
    "sync_processor_queue_and_flush_time_ms",
    "sync_processor_queue_time_ms",
    "sync_processor_queue_flush_time_ms",
    "sync_process_time",
    "digest_mismatches_count",
    "quit_leading_due_to_disloyal_voter",
    "ensemble_auth_success",
    "ensemble_auth_fail",
    "ensemble_auth_skip",
    // ZooKeeper's request-processor chain, caches and JVM, with no counterpart here.
    "prep_processor_request_queued",
    "prep_processor_queue_size",
    "prep_processor_queue_time_ms",
    "prep_process_time",
    "close_session_prep_time",
    "outstanding_changes_queued",
    "outstanding_changes_removed",
    "request_commit_queued",
    "read_commit_proc_req_queued",
    "write_commit_proc_req_queued",
    "commit_commit_proc_req_queued",
    "read_commit_proc_issued",
    "write_commit_proc_issued",
    "read_commitproc_time_ms",
    "write_commitproc_time_ms",
    "local_write_committed_time_ms",
    "server_write_committed_time_ms",
    "commit_process_time",
    "read_final_proc_time_ms",
    "write_final_proc_time_ms",
    "concurrent_request_processing_in_commit_processor",
    "time_waiting_empty_pool_in_commit_processor_read_ms",
    "write_batch_time_in_commit_processor",
    "requests_in_session_queue",
    "pending_session_queue_size",
    "reads_after_write_in_session_queue",
    "reads_issued_from_session_queue",
    "session_queues_drained",
    "requests_not_forwarded_to_commit_processor",
    "skip_learner_request_to_next_processor_count",
    "learner_request_processor_queue_size",
    "proposal_process_time",
    "om_proposal_process_time_ms",
    "om_commit_process_time_ms",
    "observer_sync_time",
    "response_packet_cache_hits",
    "response_packet_cache_misses",
    "response_packet_get_children_cache_hits",
    "response_packet_get_children_cache_misses",
    "netty_queued_buffer_capacity",
    "socket_closing_time",
    "jvm_pause_time_ms",
    "stale_replies",
    "stale_requests",
    "stale_requests_dropped",
    "dead_watchers_queued",
    "dead_watchers_cleared",
    "dead_watchers_cleaner_latency",
    "add_dead_watcher_stall_time",
    "watch_bytes",
    "unrecoverable_error_count",
    "cnxn_closed_without_zk_server_running",
    // Features zk-node does not have: connection and request throttling, local sessions'
    // revalidation.
    "connection_drop_probability",
    "connection_rejected",
    "connection_token_deficit",
    "connection_drop_count",
    "throttled_ops",
    "request_throttle_wait_count",
    "request_throttle_queue_time_ms",
    "large_requests_rejected",
    "revalidate_count",
    "connection_revalidate_count",
    "sessionless_connections_expired",
];

/// Namespaces only ZooKeeper's leader writes to: it stores its dynamic configuration in
/// `/zookeeper/config` whenever it starts leading (zk-node writes it only when the membership
/// changed, docs/membership.md), so its mntr may have `zookeeper_write_per_namespace` keys
/// zk-node's has not.
const ZOOKEEPER_ONLY_NAMESPACES: [&str; 1] = ["zookeeper_write_per_namespace"];

/// A ZooKeeper mntr key's base name: without `zk_`, a summary's prefix and the key of a
/// labelled summary (a follower's id, `1_learner_handler_qp_size`; a namespace,
/// `app_write_per_namespace`).
fn base(key: &str) -> &str {
    let key = key.strip_prefix("zk_").unwrap_or(key);
    for prefix in [
        "avg_", "min_", "max_", "cnt_", "sum_", "p50_", "p95_", "p99_", "p999_",
    ] {
        if let Some(rest) = key.strip_prefix(prefix) {
            let labelled = LEFT_OUT_MNTR.iter().find(|name| {
                rest == **name
                    || rest
                        .strip_suffix(**name)
                        .is_some_and(|label| label.ends_with('_'))
            });
            if let Some(name) = labelled {
                return name;
            }
        }
    }
    key
}

/// A key of ZooKeeper's that only its own writes produce (see [`ZOOKEEPER_ONLY_NAMESPACES`]).
fn zookeeper_only(key: &str) -> bool {
    ZOOKEEPER_ONLY_NAMESPACES
        .iter()
        .any(|set| key.ends_with(&format!("_{set}")))
}

/// The number `mntr` prints for `key`.
fn mntr_value(text: &str, key: &str) -> Option<i64> {
    text.lines()
        .filter_map(|l| l.split_once('\t'))
        .find(|(k, _)| *k == key)
        .and_then(|(_, v)| v.trim().parse().ok())
}

fn mntr_keys(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(k, _)| k.to_string())
        .collect()
}

/// Apache ZooKeeper 3.8 and zk-node, three members each, with the same workload: every
/// admin command zk-node serves answers with ZooKeeper's fields and kinds of value, on the
/// leader and on a follower; ZooKeeper's other commands are the documented ones; and every
/// key of ZooKeeper's leader `mntr` is in zk-node's or in the documented list.
#[test]
fn apache_zookeeper_admin_commands_and_mntr_keys() {
    if common::zookeeper::skip() {
        return;
    }
    let zk = common::zookeeper::start3();
    let (c, leader) = three_nodes();
    let zl = zk.leader();
    let zf = (zl + 1) % 3;
    let nl = (leader - 1) as usize;
    let nf = (nl + 1) % 3;
    let _theirs = workload(zk.client(zl));
    let _ours = workload(c.members[nl].client);

    // The listing: ZooKeeper's HTML links; each of its commands is ours or documented.
    let list = |addr| {
        http_get(addr, "/commands")
            .map(|(_, b)| b)
            .unwrap_or_default()
    };
    let names = |html: String| -> BTreeSet<String> {
        html.split("href=\"/commands/")
            .skip(1)
            .filter_map(|s| s.split_once('"').map(|(n, _)| n.to_string()))
            .collect()
    };
    let theirs = names(list(zk.admin(zl)));
    let ours = names(list(c.members[nl].admin));
    assert!(!ours.is_empty());
    for name in &theirs {
        assert!(
            ours.contains(name) || LEFT_OUT_COMMANDS.contains(&name.as_str()),
            "ZooKeeper's {name} is neither served nor documented as left out"
        );
    }
    assert!(
        ours.is_subset(&theirs),
        "{ours:?} vs ZooKeeper's {theirs:?}"
    );

    let mut problems = Vec::new();
    for (role, z, n) in [("leader", zl, nl), ("follower", zf, nf)] {
        for name in &ours {
            // stat_reset and the like reset counters: harmless here, both sides alike.
            let t = json(zk.admin(z), name);
            let o = json(c.members[n].admin, name);
            same_fields(&format!("{role}/{name}"), &t, &o, &mut problems);
            assert_eq!(o["error"], Value::Null, "{role} {name}: {o}");
            assert_eq!(o["command"], t["command"]);
        }
    }
    // Aliases and an unknown command answer as ZooKeeper's do.
    for alias in ["mntr", "srvr", "conf", "isro"] {
        let t = json(zk.admin(zl), alias);
        let o = json(c.members[nl].admin, alias);
        assert_eq!(o["command"], t["command"], "{alias}");
    }
    let t = json(zk.admin(zl), "nosuch");
    let o = json(c.members[nl].admin, "nosuch");
    assert_eq!(o, t);
    // The leader view: who leads, and the followers it counts as synced.
    let lead = json(c.members[nf].admin, "leader");
    assert_eq!(lead["leader_id"], Value::from(leader));
    assert_eq!(lead["is_leader"], Value::Bool(false));
    let conf = json(c.members[nl].admin, "configuration");
    assert_eq!(conf["server_id"], Value::from(leader));
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    // mntr (the four-letter word) on both leaders.
    let theirs = mntr_keys(&four_letter(zk.client(zl), "mntr").unwrap_or_default());
    let ours_text = four_letter(c.members[nl].client, "mntr").unwrap_or_default();
    let ours = mntr_keys(&ours_text);
    assert!(theirs.len() > 400, "{theirs:?}");
    let missing: Vec<&String> = theirs
        .iter()
        .filter(|k| !ours.contains(*k) && !LEFT_OUT_MNTR.contains(&base(k)) && !zookeeper_only(k))
        .collect();
    assert!(missing.is_empty(), "not in zk-node's mntr: {missing:?}");
    let invented: Vec<&String> = ours.iter().filter(|k| !theirs.contains(*k)).collect();
    assert!(invented.is_empty(), "not ZooKeeper's: {invented:?}");
    // The workload's keys that only exist once counted: the namespace its writes and reads
    // went to, on both sides.
    for key in [
        "zk_cnt_app_write_per_namespace",
        "zk_cnt_app_read_per_namespace",
        "zk_cnt_fsynctime",
        "zk_cnt_dbinittime",
        "zk_non_mtls_local_conn_count",
        "zk_stale_sessions_expired",
    ] {
        assert!(theirs.contains(key), "ZooKeeper's mntr has no {key}");
        assert!(ours.contains(key), "zk-node's mntr has no {key}");
    }
    let ours_value = |key: &str| mntr_value(&ours_text, key);
    assert_eq!(
        ours_value("zk_cnt_app_write_per_namespace"),
        Some(3),
        "/app, /app/e1, /app/e2"
    );
    assert!(ours_value("zk_cnt_fsynctime") >= Some(3), "{ours_text}");
    assert!(
        ours_value("zk_non_mtls_local_conn_count") >= Some(2),
        "the workload's two plain connections from loopback"
    );
    // last_snapshot: field by field above; no snapshot yet on either side here, or one
    // ZooKeeper took at start: the zxid is hex and the time is seconds.
    let ls = json(c.members[nl].admin, "last_snapshot");
    assert_eq!(ls["zxid"], "ffffffffffffffff", "no snapshot yet: {ls}");
    assert_eq!(ls["timestamp"], -1, "{ls}");
    for key in [
        "zk_peer_state\tleading - broadcast",
        "zk_synced_followers\t2",
        "zk_learners\t2",
        "zk_quorum_size\t3",
        "zk_pending_syncs\t0",
        "zk_synced_observers\t0",
    ] {
        assert!(
            ours_text.lines().any(|l| l == key),
            "{key} not in\n{ours_text}"
        );
    }
    // Every key left out is named in the operations guide.
    let docs = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/operations.md"),
    )
    .expect("docs/operations.md");
    for key in LEFT_OUT_MNTR
        .iter()
        .chain(&LEFT_OUT_COMMANDS)
        .chain(&LEFT_OUT_FIELDS)
    {
        let name = key.rsplit('.').next().unwrap_or(key);
        assert!(
            docs.contains(&format!("`{name}`")),
            "docs/operations.md does not name `{name}`"
        );
    }
}

/// What zk-consensus measures reaches mntr, the admin API and /metrics: every write's log
/// sync (`fsynctime`), a snapshot (`snapshottime`, `last_snapshot`), the next start's load
/// (`dbinittime`, `startup_*`); and what the node counts per namespace and per watch event.
#[test]
fn fsyncs_snapshots_start_up_namespaces_and_watches_are_counted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let started_secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let mut node = common::ZkNode::start_in(&dir.path().join("data"), &["--snapshot-every", "20"]);
    let mntr = |node: &common::ZkNode| four_letter(node.addr, "mntr").unwrap_or_default();
    let before = mntr(&node);
    assert_eq!(
        mntr_value(&before, "zk_cnt_snapshottime"),
        Some(0),
        "{before}"
    );
    let ls = json(node.admin, "last_snapshot");
    assert_eq!(ls["zxid"], "ffffffffffffffff", "{ls}");

    let (mut client, _) = Raw::new_session_retrying(node.addr, 10_000);
    // An exists watch on a node the writes then create: one NodeCreated event, one watch.
    client.call(&exists("/ns/w", true));
    let mut written = Vec::new();
    let mut create_all = |client: &mut Raw, paths: Vec<String>| {
        for path in paths {
            assert_eq!(client.call(&create(&path, 0)).0.err, 0, "{path}");
            written.push(path);
        }
    };
    let mut paths = vec!["/ns".to_string()];
    paths.extend((0..24).map(|i| format!("/ns/n{i}")));
    create_all(&mut client, paths);
    // A snapshot is due after 10 to 20 commands: one has been taken, or is being taken.
    let deadline = Instant::now() + Duration::from_secs(20);
    let text = loop {
        let text = mntr(&node);
        if mntr_value(&text, "zk_cnt_snapshottime") >= Some(1) {
            break text;
        }
        assert!(Instant::now() < deadline, "no snapshot counted:\n{text}");
        std::thread::sleep(Duration::from_millis(20)); // polling a process, not syncing
    };
    // From another session: the watcher's event then cannot come before a reply it waits for.
    let (mut other, _) = Raw::new_session_retrying(node.addr, 10_000);
    create_all(&mut other, vec!["/ns/w".to_string()]);
    let reply = other.call(&Request::GetData(GetDataRequest {
        path: "/ns/n0".into(),
        watch: false,
    }));
    assert_eq!(reply.0.err, 0);
    let text_after = mntr(&node);
    let value = |key: &str| mntr_value(&text_after, key);

    // Each acknowledged create waited for a sync of its own: at least one fsync each.
    assert!(
        value("zk_cnt_fsynctime") >= Some(written.len() as i64),
        "{text_after}"
    );
    assert!(value("zk_max_fsynctime") >= value("zk_min_fsynctime"));
    assert_eq!(value("zk_cnt_startup_snap_load_time"), Some(1), "{text}");
    assert_eq!(value("zk_cnt_dbinittime"), Some(1));
    // ZooKeeper's sizes: path plus data for a create (the test's data is the path again),
    // path plus data for a getData.
    let sum: usize = written.iter().map(|p| 2 * p.len()).sum();
    assert_eq!(
        value("zk_cnt_ns_write_per_namespace"),
        Some(written.len() as i64),
        "{text_after}"
    );
    assert_eq!(value("zk_sum_ns_write_per_namespace"), Some(sum as i64));
    assert_eq!(value("zk_cnt_ns_read_per_namespace"), Some(1));
    assert_eq!(
        value("zk_sum_ns_read_per_namespace"),
        Some(2 * "/ns/n0".len() as i64)
    );
    assert_eq!(
        value("zk_cnt_node_created_watch_count"),
        Some(1),
        "{text_after}"
    );
    assert_eq!(value("zk_sum_node_created_watch_count"), Some(1));
    // The parent's children changed 25 times; nobody watched them.
    assert_eq!(value("zk_cnt_node_children_watch_count"), Some(0));
    assert_eq!(
        value("zk_cnt_unavailable_time"),
        Some(1),
        "it serves since its start"
    );

    let ls = json(node.admin, "last_snapshot");
    let zxid = ls["zxid"].as_str().unwrap_or_default();
    let zxid = i64::from_str_radix(zxid, 16).unwrap_or_else(|e| panic!("{ls}: {e}"));
    assert!(zxid > 0, "{ls}");
    let at = ls["timestamp"].as_i64().unwrap_or(-1);
    assert!(at >= started_secs - 1 && at <= started_secs + 120, "{ls}");
    let ss = json(node.admin, "server_stats");
    assert_eq!(
        ss["server_stats"]["fsync_threshold_exceed_count"], 0,
        "{ss}"
    );
    assert!(
        ss["server_stats"]["non_mtlslocal_conn_count"].as_i64() >= Some(1),
        "{ss}"
    );

    let page = http_get(node.admin, "/metrics");
    let Some((200, metrics)) = page else {
        panic!("{page:?}")
    };
    for line in [
        "# TYPE fsynctime summary".to_string(),
        "# TYPE snapshottime summary".to_string(),
        format!("write_per_namespace_count{{key=\"ns\"}} {}", written.len()),
        "node_created_watch_count_count 1".to_string(),
        "# TYPE stale_sessions_expired counter".to_string(),
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "{line} not in\n{metrics}"
        );
    }

    // A clean stop and a start: the snapshot is loaded; it is still the last one.
    drop(client);
    assert!(node.terminate().success(), "{}", node.log_tail());
    node.restart();
    let text = mntr(&node);
    let value = |key: &str| mntr_value(&text, key);
    assert_eq!(value("zk_cnt_dbinittime"), Some(1), "{text}");
    assert_eq!(value("zk_cnt_startup_snap_load_time"), Some(1));
    assert_eq!(
        value("zk_cnt_startup_txns_loaded"),
        value("zk_cnt_startup_txns_load_time")
    );
    let again = json(node.admin, "last_snapshot");
    let again_zxid = again["zxid"]
        .as_str()
        .and_then(|z| i64::from_str_radix(z, 16).ok());
    assert!(again_zxid >= Some(zxid), "{again} after {ls}");
    assert!(
        again["timestamp"].as_i64() >= Some(started_secs - 1),
        "{again}"
    );

    // Without a snapshot, a start replays the whole log: the transactions loaded.
    let mut lone = common::ZkNode::start_in(&dir.path().join("lone"), &[]);
    let (mut client, _) = Raw::new_session_retrying(lone.addr, 10_000);
    for i in 0..3 {
        assert_eq!(client.call(&create(&format!("/t{i}"), 0)).0.err, 0);
    }
    drop(client);
    assert!(lone.terminate().success(), "{}", lone.log_tail());
    lone.restart();
    let text = mntr(&lone);
    let value = |key: &str| mntr_value(&text, key);
    assert_eq!(value("zk_cnt_startup_txns_loaded"), Some(1), "{text}");
    // The session and the three creates, at least (blank and membership entries too).
    assert!(value("zk_sum_startup_txns_loaded") >= Some(4), "{text}");
    assert_eq!(value("zk_cnt_startup_txns_load_time"), Some(1));
    assert_eq!(value("zk_cnt_dbinittime"), Some(1));
    assert_eq!(json(lone.admin, "last_snapshot")["timestamp"], -1);
}

/// The secure port's counters: a handshake under way is `outstanding_tls_handshake` until
/// its socket goes; one that fails (a plain-text client) is `unsuccessful_handshake`; plain
/// connections from loopback are `non_mtls_local_conn_count`, as ZooKeeper counts them.
#[test]
fn tls_handshakes_and_plain_connections_are_counted() {
    use std::io::Read;
    use std::io::Write;
    use std::net::TcpStream;
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = zk_testkit::tls::Pki::new("monitoring");
    let (store, _ca) = pki.write_server(dir.path());
    let secure = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let flags = [
        "--secure-client-addr".to_string(),
        secure.to_string(),
        "--ssl-keystore".into(),
        store.display().to_string(),
        "--ssl-client-auth".into(),
        "none".into(),
    ];
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let node = common::ZkNode::start_in(&dir.path().join("data"), &flags);
    let value = |key: &str| mntr_value(&four_letter(node.addr, "mntr").unwrap_or_default(), key);
    let wait_for = |key: &str, want: i64| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while value(key) != Some(want) {
            assert!(
                Instant::now() < deadline,
                "{key} never {want}: {:?}",
                value(key)
            );
            std::thread::sleep(Duration::from_millis(20)); // polling a process, not syncing
        }
    };
    assert_eq!(value("zk_outstanding_tls_handshake"), Some(0));
    assert_eq!(value("zk_unsuccessful_handshake"), Some(0));
    let plain_before = value("zk_non_mtls_local_conn_count").unwrap_or(0);
    assert!(plain_before >= 1, "the readiness probes and this mntr");

    // Connected and silent: its handshake is under way until the socket closes.
    let silent = TcpStream::connect(secure).expect("connect to the secure port");
    wait_for("zk_outstanding_tls_handshake", 1);
    drop(silent);
    wait_for("zk_outstanding_tls_handshake", 0);
    // Closed before finishing it: a failed handshake, as Netty fails ZooKeeper's.
    wait_for("zk_unsuccessful_handshake", 1);
    // So is plain text where a ClientHello belongs.
    let mut plain = TcpStream::connect(secure).expect("connect to the secure port");
    plain.write_all(b"ruokruokruokruok").expect("write");
    let mut buf = [0u8; 64];
    let _ = plain.read(&mut buf); // the server's alert, or the close
    wait_for("zk_unsuccessful_handshake", 2);
    // Four mntr connections since: all plain, all from loopback, none remote.
    assert!(value("zk_non_mtls_local_conn_count") > Some(plain_before));
    assert_eq!(value("zk_non_mtls_remote_conn_count"), Some(0));
    assert_eq!(value("zk_outstanding_tls_handshake"), Some(0));
}
