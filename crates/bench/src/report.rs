//! What a run reports: one [`Report`], printed as a human table or as one JSON line. Fields
//! that only some workloads have are left out of the JSON when absent.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::options::{Options, Workload};
use crate::procstat::CpuUsage;
use crate::stats::Tally;

/// A server's resident set size at the end of the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PidRss {
    /// The process.
    pub pid: u32,
    /// VmRSS in KiB.
    pub rss_kib: u64,
}

/// A watched server's RSS over a `non-readers` run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RssPhases {
    /// The process.
    pub pid: u32,
    /// VmRSS before the silent connections opened, KiB.
    pub baseline_kib: u64,
    /// The largest VmRSS sampled while they were open and after, KiB.
    pub peak_kib: u64,
    /// VmRSS at the end (`--duration` after the last was closed), KiB; absent if the process
    /// was gone by then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_kib: Option<u64>,
}

impl RssPhases {
    /// Peak minus baseline.
    pub fn growth_kib(&self) -> u64 {
        self.peak_kib.saturating_sub(self.baseline_kib)
    }
}

/// The result of one run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Workload name.
    pub workload: String,
    /// The servers given.
    pub servers: String,
    /// Clients spread over the servers (else all to the first).
    pub spread: bool,
    /// Clients (sessions).
    pub clients: usize,
    /// Requests in flight per client.
    pub in_flight: usize,
    /// Value size in bytes.
    pub value_size: usize,
    /// Keys picked from (get/set/mixed/failover).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<usize>,
    /// Fraction of reads (mixed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_ratio: Option<f64>,
    /// Warm-up seconds (not measured).
    pub warmup_s: f64,
    /// Measured seconds.
    pub duration_s: f64,
    /// Successful requests in the window.
    pub ops: u64,
    /// ops / duration_s.
    pub ops_per_s: f64,
    /// Failed requests in the window, by error name.
    pub errors: BTreeMap<String, u64>,
    /// Failed requests in the window, all names together.
    pub failed: u64,
    /// Latency median, µs.
    pub p50_us: u64,
    /// Latency 99th percentile, µs.
    pub p99_us: u64,
    /// Latency 99.9th percentile, µs.
    pub p999_us: u64,
    /// Largest latency, µs.
    pub max_us: u64,
    /// Mean latency, µs.
    pub mean_us: f64,

    /// sessions: sessions opened and closed per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sessions_per_s: Option<f64>,

    /// ephemeral: ephemerals per session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ephemerals: Option<usize>,
    /// ephemeral: sessions vanished instead of closing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vanish: Option<bool>,
    /// ephemeral: per round, ms from close (or cut) until the watcher saw every ephemeral
    /// deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gone_ms_rounds: Option<Vec<f64>>,
    /// ephemeral: median over the rounds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gone_ms_median: Option<f64>,
    /// ephemeral: largest over the rounds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gone_ms_max: Option<f64>,

    /// failover: longest gap between two acknowledged writes (all clients), ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub longest_gap_ms: Option<f64>,
    /// failover: when that gap began, seconds into the window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gap_start_s: Option<f64>,
    /// failover: ms from the fault command's end to the first write acknowledged after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resumed_ms: Option<f64>,
    /// failover: ms from the last write acknowledged before the fault command returned to the
    /// first after (the outage the fault caused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault_gap_ms: Option<f64>,
    /// failover: sessions that ended expired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expired: Option<u64>,
    /// failover: when the fault ran, seconds into the window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault_at_s: Option<f64>,
    /// failover: the fault command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault_cmd: Option<String>,
    /// failover: its exit code (-1 if it could not run or was killed by a signal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault_exit: Option<i32>,
    /// failover: how long the fault command took, ms (the gap figures count from its end).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault_took_ms: Option<f64>,
    /// failover: the first line of its output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault_output: Option<String>,

    /// stale: reads through the second server that still saw the value from before the write
    /// just acknowledged through the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stale_reads: Option<u64>,
    /// stale: where the writer was (`first`, `leader`, `follower`: `--writer-on`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stale_writer_on: Option<String>,
    /// stale: the writer's and the reader's server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stale_servers: Option<[String; 2]>,
    /// stale: rounds completed (the reads `stale_reads` is out of).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stale_rounds: Option<usize>,
    /// stale: mean ms from the write's acknowledgement until the second server showed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stale_lag_ms_mean: Option<f64>,
    /// stale: the largest of those, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stale_lag_ms_max: Option<f64>,

    /// fill: znodes requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<usize>,

    /// non-readers: readers (ordinary sessions whose getData latency is the report's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readers: Option<usize>,
    /// non-readers: the second of the window (counted from its start) whose readers' p99 was
    /// the highest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worst_second: Option<u64>,
    /// non-readers: that p99, µs ("p99 under 10 ms throughout" is this under 10 ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worst_second_p99_us: Option<u64>,
    /// non-readers: getData requests each silent connection pipelined.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<usize>,
    /// non-readers: the server every silent connection went to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub non_reader_server: Option<String>,
    /// non-readers: their source addresses (`default`, or a range of 127/8 addresses so a
    /// per-IP connection limit does not refuse them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub non_reader_sources: Option<String>,
    /// non-readers: silent connections whose session was set up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub non_readers_connected: Option<usize>,
    /// non-readers: those whose every request the kernel took (the rest were still blocked in
    /// the write when the server closed them: it had stopped reading).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub non_readers_sent_all: Option<usize>,
    /// non-readers: those the server closed before the deadline (twice the session timeout
    /// plus 10 s after their last write).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub non_readers_closed: Option<usize>,
    /// non-readers: how each close was seen (`reset`: the client's socket got an RST or
    /// hang-up; `fin`: a FIN; `server-socket`: the server's end left ESTABLISHED in
    /// /proc/net/tcp, e.g. a FIN queued behind unsent replies), counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub close_seen_by: Option<BTreeMap<String, usize>>,
    /// non-readers: the session timeout the server negotiated (largest over the connections).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub negotiated_timeout_ms: Option<i64>,
    /// non-readers: ms from a connection's last write until the server closed it, median.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub close_after_last_write_ms_median: Option<f64>,
    /// non-readers: the same, largest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub close_after_last_write_ms_max: Option<f64>,
    /// non-readers: that minus the negotiated session timeout (how long past the session's
    /// end the connection stayed), median.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub close_after_timeout_ms_median: Option<f64>,
    /// non-readers: the same, largest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub close_after_timeout_ms_max: Option<f64>,
    /// non-readers: each watched server's RSS before, at the peak and after.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rss_phases: Vec<RssPhases>,
    /// non-readers: the largest peak-minus-baseline of the watched servers, KiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rss_growth_kib_max: Option<u64>,
    /// non-readers: the largest peak of the watched servers, KiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rss_peak_kib_max: Option<u64>,

    /// CPU seconds of the watched servers over the window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_cpu_s: Option<f64>,
    /// Server CPU µs per successful request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_cpu_us_per_op: Option<f64>,
    /// CPU seconds of zk-bench over the window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bench_cpu_s: Option<f64>,
    /// zk-bench CPU µs per successful request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bench_cpu_us_per_op: Option<f64>,
    /// RSS of each watched server at the end.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rss: Vec<PidRss>,

    /// `--tag KEY=VALUE` pairs.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

impl Report {
    /// The common part from the options, the merged tally and the measured seconds.
    pub fn new(opts: &Options, tally: &Tally, measured_s: f64) -> Report {
        let s = tally.summary();
        let ops = tally.ops();
        let w = opts.workload;
        Report {
            workload: w.name().to_string(),
            servers: opts.servers.clone(),
            spread: opts.spread,
            clients: opts.clients,
            in_flight: opts.in_flight,
            value_size: opts.value_size,
            keys: matches!(
                w,
                Workload::Get | Workload::Set | Workload::Mixed | Workload::Failover
            )
            .then_some(opts.keys),
            read_ratio: (w == Workload::Mixed).then_some(opts.read_ratio),
            warmup_s: if w.is_timed() { opts.warmup } else { 0.0 },
            duration_s: round3(measured_s),
            ops,
            ops_per_s: if measured_s > 0.0 {
                round1(ops as f64 / measured_s)
            } else {
                0.0
            },
            errors: tally.errors.clone(),
            failed: tally.failed(),
            p50_us: s.p50_us,
            p99_us: s.p99_us,
            p999_us: s.p999_us,
            max_us: s.max_us,
            mean_us: round1(s.mean_us),
            tags: opts.tag_pairs().into_iter().collect(),
            ..Report::default()
        }
    }

    /// Adds the CPU used over the window (per op over the successful requests).
    pub fn with_cpu(mut self, cpu: &CpuUsage) -> Report {
        let per_op = |s: Option<f64>| match s {
            Some(s) if self.ops > 0 => Some(round3(s * 1e6 / self.ops as f64)),
            _ => None,
        };
        self.server_cpu_us_per_op = per_op(cpu.server_cpu_s);
        self.bench_cpu_us_per_op = per_op(cpu.bench_cpu_s);
        self.server_cpu_s = cpu.server_cpu_s.map(round3);
        self.bench_cpu_s = cpu.bench_cpu_s.map(round3);
        self
    }

    /// One JSON line (no newline).
    pub fn json_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// The human table.
    pub fn table(&self) -> String {
        let mut rows: Vec<(String, String)> = Vec::new();
        let mut shape = format!(
            "{} clients x {} in flight, {} B values",
            self.clients, self.in_flight, self.value_size
        );
        if let Some(k) = self.keys {
            let _ = write!(shape, ", {k} keys");
        }
        if let Some(r) = self.read_ratio {
            let _ = write!(shape, ", {:.0}% reads", r * 100.0);
        }
        rows.push(("load".into(), shape));
        rows.push((
            "servers".into(),
            format!(
                "{} ({})",
                self.servers,
                if self.spread {
                    "clients spread"
                } else {
                    "all to the first"
                }
            ),
        ));
        rows.push((
            "window".into(),
            format!(
                "{:.2} s measured after {:.1} s warm-up",
                self.duration_s, self.warmup_s
            ),
        ));
        rows.push(("ops".into(), self.ops.to_string()));
        rows.push(("ops/s".into(), format!("{:.1}", self.ops_per_s)));
        rows.push((
            "latency us".into(),
            format!(
                "p50 {}  p99 {}  p99.9 {}  max {}  mean {:.0}",
                self.p50_us, self.p99_us, self.p999_us, self.max_us, self.mean_us
            ),
        ));
        rows.push(("errors".into(), errors_text(&self.errors)));
        if let Some(s) = self.sessions_per_s {
            rows.push(("sessions/s".into(), format!("{s:.1}")));
        }
        if let (Some(stale), Some(of)) = (self.stale_reads, self.stale_rounds) {
            rows.push((
                "stale reads".into(),
                format!(
                    "{stale} of {of}; write seen by the other server after mean {} ms, max {} ms{}",
                    opt_ms(self.stale_lag_ms_mean),
                    opt_ms(self.stale_lag_ms_max),
                    match (&self.stale_writer_on, &self.stale_servers) {
                        (Some(on), Some([w, r])) => format!(" (writer on {on} {w}, reader {r})"),
                        _ => String::new(),
                    }
                ),
            ));
        }
        if let Some(v) = &self.gone_ms_rounds {
            let how = if self.vanish == Some(true) {
                "vanish"
            } else {
                "close"
            };
            rows.push((
                format!("gone after {how} ms"),
                format!(
                    "median {}  max {}  rounds {}",
                    opt_ms(self.gone_ms_median),
                    opt_ms(self.gone_ms_max),
                    v.iter()
                        .map(|x| format!("{x:.0}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                ),
            ));
        }
        if self.longest_gap_ms.is_some() || self.fault_cmd.is_some() {
            rows.push((
                "longest write gap".into(),
                format!(
                    "{} ms, starting {} s into the window",
                    opt_ms(self.longest_gap_ms),
                    self.gap_start_s
                        .map_or("-".to_string(), |s| format!("{s:.2}"))
                ),
            ));
            if let Some(cmd) = &self.fault_cmd {
                rows.push((
                    "fault".into(),
                    format!(
                        "at {} s: {cmd} (exit {}){}",
                        self.fault_at_s
                            .map_or("-".to_string(), |s| format!("{s:.2}")),
                        self.fault_exit.map_or("-".to_string(), |c| c.to_string()),
                        self.fault_output
                            .as_deref()
                            .map_or(String::new(), |o| format!(": {o}"))
                    ),
                ));
                rows.push((
                    "gap across the fault".into(),
                    format!("{} ms", opt_ms(self.fault_gap_ms)),
                ));
                rows.push((
                    "writes resumed".into(),
                    format!(
                        "{} ms after the fault command returned (it took {} ms)",
                        opt_ms(self.resumed_ms),
                        opt_ms(self.fault_took_ms)
                    ),
                ));
            }
            rows.push((
                "failed / expired".into(),
                format!("{} / {}", self.failed, self.expired.unwrap_or(0)),
            ));
        }
        if let (Some(s), Some(p99)) = (self.worst_second, self.worst_second_p99_us) {
            rows.push((
                "worst second's p99 us".into(),
                format!("{p99} (second {s} of the window)"),
            ));
        }
        if let (Some(n), Some(req)) = (self.non_readers_connected, self.requests) {
            rows.push((
                "silent connections".into(),
                format!(
                    "{n} of {} to {} (sources {}), {req} getData each; all sent by {}, closed by \
                     the server {} ({})",
                    self.clients,
                    self.non_reader_server.as_deref().unwrap_or("-"),
                    self.non_reader_sources.as_deref().unwrap_or("-"),
                    self.non_readers_sent_all.unwrap_or(0),
                    self.non_readers_closed.unwrap_or(0),
                    self.close_seen_by.as_ref().map_or("-".to_string(), |m| {
                        m.iter()
                            .map(|(k, v)| format!("{k} {v}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                ),
            ));
            rows.push((
                "closed after".into(),
                format!(
                    "last write: median {} max {} ms; session timeout ({} ms): median {} max {} ms",
                    opt_ms(self.close_after_last_write_ms_median),
                    opt_ms(self.close_after_last_write_ms_max),
                    self.negotiated_timeout_ms
                        .map_or("-".to_string(), |t| t.to_string()),
                    opt_ms(self.close_after_timeout_ms_median),
                    opt_ms(self.close_after_timeout_ms_max),
                ),
            ));
        }
        if !self.rss_phases.is_empty() {
            rows.push((
                "RSS MiB base/peak/after".into(),
                self.rss_phases
                    .iter()
                    .map(|r| {
                        format!(
                            "pid {}: {:.1}/{:.1}/{} (+{:.1})",
                            r.pid,
                            mib(r.baseline_kib),
                            mib(r.peak_kib),
                            r.after_kib
                                .map_or("gone".to_string(), |a| format!("{:.1}", mib(a))),
                            mib(r.growth_kib())
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
            ));
        }
        if self.server_cpu_s.is_some() || self.bench_cpu_s.is_some() {
            rows.push((
                "CPU s (servers, zk-bench)".into(),
                format!(
                    "{} ({} us/op), {} ({} us/op)",
                    opt3(self.server_cpu_s),
                    opt3(self.server_cpu_us_per_op),
                    opt3(self.bench_cpu_s),
                    opt3(self.bench_cpu_us_per_op)
                ),
            ));
        }
        if !self.rss.is_empty() {
            rows.push((
                "server RSS MiB".into(),
                self.rss
                    .iter()
                    .map(|r| format!("pid {}: {:.1}", r.pid, r.rss_kib as f64 / 1024.0))
                    .collect::<Vec<_>>()
                    .join(", "),
            ));
        }
        let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        let mut out = format!("zk-bench {}\n", self.workload);
        for (k, v) in rows {
            let _ = writeln!(out, "  {k:<width$}  {v}");
        }
        out
    }
}

/// `none`, or `Name n, Name n` by name.
pub fn errors_text(errors: &BTreeMap<String, u64>) -> String {
    if errors.is_empty() {
        return "none".into();
    }
    errors
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn opt_ms(v: Option<f64>) -> String {
    v.map_or("-".into(), |x| format!("{x:.1}"))
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn opt3(v: Option<f64>) -> String {
    v.map_or("-".into(), |x| format!("{x:.3}"))
}

/// Rounds to 1 decimal.
pub fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// Rounds to 3 decimals.
pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn opts(args: &[&str]) -> Options {
        let mut v = vec!["zk-bench", "--servers", "127.0.0.1:2181,127.0.0.1:2182"];
        v.extend_from_slice(args);
        Options::try_parse_from(v).expect("parses")
    }

    fn tally() -> Tally {
        let mut t = Tally::new();
        for us in [100, 200, 300, 400] {
            t.record(us);
        }
        t.error("ConnectionLoss");
        t
    }

    #[test]
    fn json_line_has_the_fields_the_issue_names() {
        let r = Report::new(
            &opts(&["get", "--tag", "system=zk-node", "--json"]),
            &tally(),
            2.0,
        )
        .with_cpu(&CpuUsage {
            server_cpu_s: Some(0.5),
            bench_cpu_s: Some(0.25),
        });
        let line = r.json_line();
        assert!(!line.contains('\n'));
        let v: serde_json::Value = serde_json::from_str(&line).expect("json");
        assert_eq!(v["workload"], "get");
        assert_eq!(v["clients"], 32);
        assert_eq!(v["in_flight"], 16);
        assert_eq!(v["value_size"], 100);
        assert_eq!(v["ops"], 4);
        assert_eq!(v["ops_per_s"], 2.0);
        assert_eq!(v["errors"]["ConnectionLoss"], 1);
        assert_eq!(v["tags"]["system"], "zk-node");
        assert_eq!(v["server_cpu_us_per_op"], 125_000.0);
        for k in ["p50_us", "p99_us", "p999_us", "max_us", "duration_s"] {
            assert!(v[k].is_number(), "{k} in {line}");
        }
        assert!(
            v.get("longest_gap_ms").is_none(),
            "absent fields are left out"
        );
        let back: Report = serde_json::from_str(&line).expect("round trip");
        assert_eq!(back, r);
    }

    #[test]
    fn table_names_rates_percentiles_and_errors() {
        let mut r = Report::new(&opts(&["failover"]), &tally(), 2.0);
        r.longest_gap_ms = Some(421.5);
        r.fault_cmd = Some("kill -9 1".into());
        r.fault_exit = Some(0);
        r.expired = Some(0);
        let t = r.table();
        assert!(t.starts_with("zk-bench failover"), "{t}");
        assert!(t.contains("ops/s"), "{t}");
        assert!(t.contains("p99"), "{t}");
        assert!(t.contains("ConnectionLoss 1"), "{t}");
        assert!(t.contains("421.5 ms"), "{t}");
        assert!(t.contains("kill -9 1"), "{t}");
        assert_eq!(errors_text(&BTreeMap::new()), "none");
    }
}
