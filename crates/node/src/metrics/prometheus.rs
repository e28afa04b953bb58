//! `/metrics`: this node's numbers in Prometheus' text format 0.0.4, the one ZooKeeper's
//! PrometheusMetricsProvider writes (its Java client 0.9: counters keep their names, no
//! `_total`), under ZooKeeper's metric names, so its Grafana dashboard and alerts work as
//! they are; Raft's own numbers under `raft_*`; the process under the `process_*` names
//! Prometheus clients use.
//!
//! Built at scrape time from what the four-letter words read ([`ServerStats`]) and from
//! [`RaftFacts`]: a scrape costs what a `mntr` costs.

use prometheus::proto::Counter;
use prometheus::proto::Gauge;
use prometheus::proto::LabelPair;
use prometheus::proto::Metric;
use prometheus::proto::MetricFamily;
use prometheus::proto::MetricType;
use prometheus::proto::Quantile;
use prometheus::proto::Summary;
use prometheus::TextEncoder;

use crate::fourlw::mntr;
use crate::fourlw::ServerStats;
use crate::fourlw::SummaryStats;
use crate::raft_facts::RaftFacts;
use crate::raft_facts::RaftRole;

/// The content type of what [`render`] writes.
pub const CONTENT_TYPE: &str = prometheus::TEXT_FORMAT;

/// Why the metrics could not be written (a name Prometheus would refuse: a bug here).
#[derive(Debug, thiserror::Error)]
#[error("encoding metrics: {0}")]
pub struct RenderError(#[from] prometheus::Error);

/// The whole `/metrics` page; `leader_changes` is [`super::RaftCounters::leader_changes`].
pub fn render(
    s: &ServerStats,
    raft: &RaftFacts,
    leader_changes: u64,
) -> Result<String, RenderError> {
    let mut families = zookeeper_families(s);
    families.extend(raft_families(raft));
    families.push(counter(
        "raft_leader_changes",
        "Times the leader this node knows of became another node (the first included).",
        leader_changes as f64,
    ));
    families.extend(process_families(s));
    Ok(TextEncoder::new().encode_to_string(&families)?)
}

/// ZooKeeper's gauges (mntr's numeric entries), counters and summaries.
fn zookeeper_families(s: &ServerStats) -> Vec<MetricFamily> {
    let mut out = Vec::new();
    let counters = s.metrics.as_ref().map(|m| &m.counters[..]).unwrap_or(&[]);
    let summaries = s.metrics.as_ref().map(|m| &m.summaries[..]).unwrap_or(&[]);
    let sets = s
        .metrics
        .as_ref()
        .map(|m| &m.summary_sets[..])
        .unwrap_or(&[]);
    let from_metrics = |key: &str| {
        let summary_key = |matches: &dyn Fn(&str) -> bool| {
            key.split_once('_')
                .is_some_and(|(prefix, rest)| SUMMARY_KEYS.contains(&prefix) && matches(rest))
        };
        counters.iter().any(|(n, _)| *n == key)
            || summaries.iter().any(|(n, _)| summary_key(&|rest| rest == *n))
            // A set's keys are `<prefix>_<key>_<name>`.
            || sets.iter().any(|(n, _)| {
                summary_key(&|rest| {
                    rest.strip_suffix(n)
                        .is_some_and(|label| label.ends_with('_'))
                })
            })
    };
    for (key, value) in mntr::entries(s) {
        let v = match value {
            mntr::Value::Int(v) => v as f64,
            mntr::Value::Float(v) => v,
            mntr::Value::Text(_) => continue,
        };
        if !from_metrics(&key) {
            out.push(gauge(&key, &key, v));
        }
    }
    for (name, v) in counters {
        out.push(counter(name, name, *v as f64));
    }
    for (name, v) in summaries {
        out.push(summary(name, v));
    }
    // A family must have a sample: a set with no key yet is left out.
    for (name, set) in sets.iter().filter(|(_, set)| !set.is_empty()) {
        let mut f = family(name, name, MetricType::SUMMARY);
        f.set_metric(
            set.iter()
                .map(|(key, v)| {
                    let mut m = summary_metric(v);
                    m.set_label(vec![label("key", key)]);
                    m
                })
                .collect(),
        );
        out.push(f);
    }
    out
}

/// The prefixes mntr gives a summary's keys.
const SUMMARY_KEYS: [&str; 9] = [
    "avg", "min", "max", "cnt", "sum", "p50", "p95", "p99", "p999",
];

fn raft_families(f: &RaftFacts) -> Vec<MetricFamily> {
    let mut out = vec![
        gauge("raft_term", "Raft's current term.", f.term as f64),
        gauge(
            "raft_leader_id",
            "The leader this node knows of (0: none).",
            f.leader_id.unwrap_or(0) as f64,
        ),
        gauge(
            "raft_is_leader",
            "1 while this node leads.",
            f64::from(u8::from(f.role == RaftRole::Leader)),
        ),
        gauge(
            "raft_last_log_index",
            "Index of the last entry in this node's log.",
            f.last_log_index as f64,
        ),
        gauge(
            "raft_applied_index",
            "Index of the last entry applied here.",
            f.applied_index as f64,
        ),
        gauge(
            "raft_commit_index",
            "Index known committed (on a follower: the applied index).",
            f.commit_index as f64,
        ),
        gauge(
            "raft_snapshot_index",
            "Last index covered by this node's snapshot (-1: none).",
            f.snapshot_index.map_or(-1.0, |i| i as f64),
        ),
        gauge(
            "raft_log_entries",
            "Entries in this node's Raft log.",
            f.log_entries as f64,
        ),
        gauge("raft_voters", "Voting members.", f.voters.len() as f64),
    ];
    // A family must have a sample: a lone leader has no followers to list.
    if f.role == RaftRole::Leader && !f.matched.is_empty() {
        let mut matched = family(
            "raft_follower_matched_index",
            "On the leader: each member's last index known to match (-1: none yet).",
            MetricType::GAUGE,
        );
        let mut lag = family(
            "raft_follower_lag",
            "On the leader: entries each member is behind its log.",
            MetricType::GAUGE,
        );
        let mut m = Vec::new();
        let mut l = Vec::new();
        for ((id, idx), (_, behind)) in f.matched.iter().zip(f.lag()) {
            let peer = id.to_string();
            m.push(labelled("peer", &peer, idx.map_or(-1.0, |i| i as f64)));
            l.push(labelled("peer", &peer, behind as f64));
        }
        matched.set_metric(m);
        lag.set_metric(l);
        out.push(matched);
        out.push(lag);
    }
    if let (RaftRole::Leader, Some(ms)) = (f.role, f.millis_since_quorum_ack) {
        out.push(gauge(
            "raft_quorum_ack_age_ms",
            "On the leader: ms since a quorum last acknowledged it.",
            ms as f64,
        ));
    }
    out
}

/// The process, as Prometheus clients' standard exports name it.
fn process_families(s: &ServerStats) -> Vec<MetricFamily> {
    let mut out = Vec::new();
    if let Some(n) = s.open_file_descriptors {
        out.push(gauge(
            "process_open_fds",
            "Open file descriptors.",
            n as f64,
        ));
    }
    if let Some(n) = s.max_file_descriptors {
        out.push(gauge(
            "process_max_fds",
            "Maximum number of open file descriptors.",
            n as f64,
        ));
    }
    let p = super::process::read();
    if let Some(v) = p.cpu_seconds {
        out.push(counter(
            "process_cpu_seconds_total",
            "Total user and system CPU time spent in seconds.",
            v,
        ));
    }
    if let Some(v) = p.resident_bytes {
        out.push(gauge(
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
            v as f64,
        ));
    }
    if let Some(v) = p.virtual_bytes {
        out.push(gauge(
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes.",
            v as f64,
        ));
    }
    if let Some(v) = p.start_time_seconds {
        out.push(gauge(
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds.",
            v,
        ));
    }
    out
}

fn family(name: &str, help: &str, kind: MetricType) -> MetricFamily {
    let mut f = MetricFamily::default();
    f.set_name(name.to_string());
    f.set_help(help.to_string());
    f.set_field_type(kind);
    f
}

fn gauge(name: &str, help: &str, v: f64) -> MetricFamily {
    let mut f = family(name, help, MetricType::GAUGE);
    let mut g = Gauge::default();
    g.set_value(v);
    let mut m = Metric::default();
    m.set_gauge(g);
    f.set_metric(vec![m]);
    f
}

fn counter(name: &str, help: &str, v: f64) -> MetricFamily {
    let mut f = family(name, help, MetricType::COUNTER);
    let mut c = Counter::default();
    c.set_value(v);
    let mut m = Metric::default();
    m.set_counter(c);
    f.set_metric(vec![m]);
    f
}

fn label(name: &str, value: &str) -> LabelPair {
    let mut pair = LabelPair::default();
    pair.set_name(name.to_string());
    pair.set_value(value.to_string());
    pair
}

fn labelled(name: &str, value: &str, v: f64) -> Metric {
    let mut g = Gauge::default();
    g.set_value(v);
    let mut m = Metric::default();
    m.set_label(vec![label(name, value)]);
    m.set_gauge(g);
    m
}

fn summary(name: &str, s: &SummaryStats) -> MetricFamily {
    let mut f = family(name, name, MetricType::SUMMARY);
    f.set_metric(vec![summary_metric(s)]);
    f
}

/// One summary sample set (ZooKeeper's provider: count, sum, quantiles).
fn summary_metric(s: &SummaryStats) -> Metric {
    let mut sum = Summary::default();
    sum.set_sample_count(s.count);
    // ZooKeeper adds whole ms; our sum keeps the fraction.
    sum.set_sample_sum(s.avg * s.count as f64);
    sum.set_quantile(
        s.quantiles
            .iter()
            .map(|&(q, v)| {
                let mut quantile = Quantile::default();
                quantile.set_quantile(q);
                quantile.set_value(v);
                quantile
            })
            .collect(),
    );
    let mut m = Metric::default();
    m.set_summary(sum);
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fourlw::MetricStats;

    #[test]
    fn families_render_with_zookeepers_names() {
        let mut s = crate::fourlw::tests::standalone();
        s.metrics = Some(MetricStats {
            local_sessions: 0,
            synced_observers: 0,
            counters: vec![("commit_count", 6)],
            summaries: vec![(
                "readlatency",
                SummaryStats {
                    count: 4,
                    sum: 6,
                    min: 0,
                    max: 3,
                    avg: 1.5,
                    percentiles: Some([1, 3, 3, 3]),
                    quantiles: vec![(0.5, 1.0), (0.9, 3.0), (0.99, 3.0)],
                },
            )],
            summary_sets: vec![
                (
                    "write_per_namespace",
                    vec![(
                        "app".to_string(),
                        SummaryStats {
                            count: 3,
                            sum: 43,
                            min: 9,
                            max: 17,
                            avg: 43.0 / 3.0,
                            percentiles: None,
                            quantiles: vec![(0.5, 17.0)],
                        },
                    )],
                ),
                ("read_per_namespace", Vec::new()),
            ],
        });
        let f = RaftFacts {
            role: RaftRole::Leader,
            term: 3,
            leader_id: Some(1),
            last_log_index: 10,
            applied_index: 10,
            commit_index: 10,
            snapshot_index: None,
            log_entries: 10,
            voters: [(1, "a:1".to_string()), (2, "b:2".to_string())].into(),
            learners: Default::default(),
            matched: [(2, Some(7))].into(),
            millis_since_quorum_ack: Some(5),
        };
        let text = render(&s, &f, 2).unwrap_or_else(|e| panic!("{e}"));
        for line in [
            "# TYPE znode_count gauge",
            "znode_count 8",
            "# TYPE commit_count counter",
            "commit_count 6",
            "# TYPE readlatency summary",
            "readlatency{quantile=\"0.5\"} 1",
            "readlatency_count 4",
            "readlatency_sum 6",
            "raft_term 3",
            "raft_follower_lag{peer=\"2\"} 3",
            "raft_follower_matched_index{peer=\"2\"} 7",
            "# TYPE raft_leader_changes counter",
            "raft_leader_changes 2",
            // ZooKeeper's provider: a summary set is one summary labelled by key.
            "# TYPE write_per_namespace summary",
            "write_per_namespace{key=\"app\",quantile=\"0.5\"} 17",
            "write_per_namespace_count{key=\"app\"} 3",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
        }
        let lone = RaftFacts {
            matched: Default::default(),
            ..f.clone()
        };
        let text_lone = render(&s, &lone, 1).unwrap_or_else(|e| panic!("{e}"));
        assert!(!text_lone.contains("raft_follower_lag"), "{text_lone}");
        // Summary keys are not also gauges; strings are not metrics.
        assert!(!text.contains("avg_readlatency"), "{text}");
        assert!(!text.contains("app_write_per_namespace"), "{text}");
        assert!(
            !text.contains("read_per_namespace"),
            "a set without keys: {text}"
        );
        assert!(!text.contains("version"), "{text}");
    }
}
