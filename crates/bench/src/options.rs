//! The command line: one workload, the load shape (clients, in flight, values, keys), the
//! timing (warm-up, duration) and the workload-specific knobs; `validate` refuses
//! inconsistent combinations with a message naming the option.

use std::time::Duration;

use clap::{Parser, ValueEnum};

/// What to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Workload {
    /// Sequential persistent creates (`PERSISTENT_SEQUENTIAL`) under a fresh parent.
    Create,
    /// setData of a random key (`--keys` nodes of `--value-size` bytes, made beforehand).
    Set,
    /// getData of a random key.
    Get,
    /// getData with probability `--read-ratio`, setData otherwise.
    Mixed,
    /// Each client loops: open a session, wait until CONNECTED, close it (one op per loop).
    Sessions,
    /// Per round: `--clients` sessions create `--ephemerals` ephemerals each, then close
    /// (or vanish with `--vanish`); the figure is the time until a watcher saw them all gone.
    Ephemeral,
    /// Continuous setData while `--fault-cmd` runs at `--fault-at`; the figure is the longest
    /// gap between two acknowledged writes (all clients together).
    Failover,
    /// Creates `--count` znodes of `--value-size` bytes (pipelined) and stops; with
    /// `--watch-pids` it then reports each server's RSS.
    Fill,
    /// Per `--rounds`: a write through the first server, then at once a read of it through the
    /// second; the figure is how many reads still saw the old value, and how long until the
    /// second server showed the write.
    Stale,
    /// Issue 18's slow readers: `--clients` raw connections to the first server each
    /// pipeline `--requests` getData of a `--value-size` znode and never read a reply, while
    /// `--readers` ordinary sessions on the same server getData a small znode (their latency
    /// is the report's); the servers' RSS before, at its peak and after (`--watch-pids`), and
    /// how long after its session's timeout each silent connection was closed.
    NonReaders,
}

/// `stale`: where the writer's session is (`--writer-on`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WriterOn {
    /// The first of `--servers`; the reader on the second.
    First,
    /// The member that leads; the reader on a follower.
    Leader,
    /// A follower; the reader on another follower.
    Follower,
}

impl WriterOn {
    /// The name used on the command line and in the JSON line.
    pub fn name(self) -> &'static str {
        match self {
            WriterOn::First => "first",
            WriterOn::Leader => "leader",
            WriterOn::Follower => "follower",
        }
    }
}

impl Workload {
    /// The name used on the command line and in the JSON line.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Create => "create",
            Workload::Set => "set",
            Workload::Get => "get",
            Workload::Mixed => "mixed",
            Workload::Sessions => "sessions",
            Workload::Ephemeral => "ephemeral",
            Workload::Failover => "failover",
            Workload::Fill => "fill",
            Workload::Stale => "stale",
            Workload::NonReaders => "non-readers",
        }
    }

    /// True for the workloads that run for `--duration` after `--warmup`.
    pub fn is_timed(self) -> bool {
        !matches!(self, Workload::Ephemeral | Workload::Fill | Workload::Stale)
    }
}

/// `zk-bench`: load generator for ZooKeeper-compatible servers (zk-node, Apache ZooKeeper).
///
/// Each client is its own session; each runs `--in-flight` requests at a time on it. Latency
/// is measured per request from invoke to completion into HDR histograms; requests of the
/// setup and the warm-up are not counted. Output: a human table on stdout, or with `--json`
/// one JSON line on stdout and the table on stderr. A progress line goes to stderr once a
/// second unless `--quiet`.
///
/// Examples:
///
///   zk-bench --servers 127.0.0.1:2181,127.0.0.1:2182,127.0.0.1:2183 --spread get
///
///   zk-bench --servers 127.0.0.1:2181 mixed --read-ratio 0.9 --duration 10 --json
///
///   zk-bench --servers H1,H2,H3 --spread failover --clients 8 --in-flight 1
///            --fault-at 3 --duration 10 --fault-cmd 'kill -9 1234'
#[derive(Debug, Clone, Parser)]
#[command(
    name = "zk-bench",
    version,
    about,
    long_about,
    verbatim_doc_comment,
    allow_negative_numbers = true
)]
pub struct Options {
    /// The workload to run.
    #[arg(value_enum)]
    pub workload: Workload,

    /// Servers, comma-separated `host:port` (no chroot).
    #[arg(long, env = "ZK_BENCH_SERVERS")]
    pub servers: String,

    /// Clients; each is its own session (for `sessions`: concurrent open+close loops; for
    /// `ephemeral`: sessions per round; for `non-readers`: the connections that never read).
    #[arg(long, default_value_t = 32)]
    pub clients: usize,

    /// Requests in flight per client (pipelined on its one connection).
    #[arg(long, default_value_t = 16)]
    pub in_flight: usize,

    /// Bytes per value written (create, set, mixed, failover, fill, ephemeral, key setup).
    #[arg(long, default_value_t = 100)]
    pub value_size: usize,

    /// Number of keys that get/set/mixed/failover pick from at random (created beforehand).
    #[arg(long, default_value_t = 1000)]
    pub keys: usize,

    /// Measured seconds (timed workloads; for `non-readers`: how long the window stays open
    /// after the last silent connection was closed, for the RSS "after").
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,

    /// Seconds of load before the measurement starts (not counted).
    #[arg(long, default_value_t = 2.0)]
    pub warmup: f64,

    /// Spread the clients over the servers: client i tries server i mod n first. Without it
    /// every client tries the first server first (all-to-one).
    #[arg(long)]
    pub spread: bool,

    /// Fraction of reads in `mixed` (0..=1).
    #[arg(long, default_value_t = 0.9)]
    pub read_ratio: f64,

    /// Requested session timeout in milliseconds (the server may negotiate another).
    #[arg(long, default_value_t = 10_000)]
    pub session_timeout_ms: u64,

    /// Parent of everything zk-bench creates (created if missing).
    #[arg(long, default_value = "/zk-bench")]
    pub root: String,

    /// `fill`: how many znodes to create.
    #[arg(long, default_value_t = 100_000)]
    pub count: usize,

    /// `non-readers`: getData requests each silent connection pipelines.
    #[arg(long, default_value_t = 3000)]
    pub requests: usize,

    /// `non-readers`: ordinary sessions (on the first server, or spread with `--spread`) whose
    /// getData latency of a small znode is measured meanwhile, `--in-flight` each.
    #[arg(long, default_value_t = 4)]
    pub readers: usize,

    /// `ephemeral`: ephemerals per session.
    #[arg(long, default_value_t = 10)]
    pub ephemerals: usize,

    /// `ephemeral`, `stale`: rounds (`ephemeral`'s figure is the median over them).
    #[arg(long, default_value_t = 5)]
    pub rounds: usize,

    /// `stale`: which member the writer uses. `first`: the first of `--servers`, the reader
    /// the second. `leader`: the one whose `srvr` says `Mode: leader`, the reader a follower.
    /// `follower`: a follower, the reader the other follower (the leader if there is none).
    #[arg(long, value_enum, default_value_t = WriterOn::First)]
    pub writer_on: WriterOn,

    /// `ephemeral`: make the sessions vanish (their connections cut, no closeSession) instead
    /// of closing them; the ephemerals then go when the server expires the sessions.
    #[arg(long)]
    pub vanish: bool,

    /// `failover`: seconds after the measurement starts at which `--fault-cmd` runs.
    #[arg(long)]
    pub fault_at: Option<f64>,

    /// `failover`: shell command (`sh -c`) run at `--fault-at`, e.g. `kill -9 <leader pid>`.
    #[arg(long)]
    pub fault_cmd: Option<String>,

    /// Server process ids (comma-separated) whose CPU time (utime+stime from /proc/PID/stat)
    /// over the measured window, and whose RSS at the end (VmRSS), go into the report.
    #[arg(long, value_delimiter = ',')]
    pub watch_pids: Vec<u32>,

    /// Print one JSON line on stdout (the human table goes to stderr).
    #[arg(long)]
    pub json: bool,

    /// No progress line and no table on stderr.
    #[arg(long)]
    pub quiet: bool,

    /// `KEY=VALUE` copied into the JSON line's `tags` (repeatable), e.g. `system=zk-node`.
    #[arg(long = "tag", value_name = "KEY=VALUE")]
    pub tags: Vec<String>,

    /// Tokio worker threads [default: the number of CPUs].
    #[arg(long)]
    pub threads: Option<usize>,

    /// Seconds to wait for every client to be CONNECTED before giving up.
    #[arg(long, default_value_t = 30.0)]
    pub connect_timeout: f64,
}

/// The largest value accepted (ZooKeeper's default jute.maxbuffer is 1 MiB, headers included).
pub const MAX_VALUE_SIZE: usize = 1_000_000;

/// `non-readers`: the most requests per silent connection (about 60 bytes each, encoded once
/// before they are sent and shared by the connections).
pub const MAX_NON_READER_REQUESTS: usize = 1_000_000;

fn positive_secs(name: &str, v: f64) -> Result<(), String> {
    if !v.is_finite() || v <= 0.0 {
        return Err(format!(
            "--{name} must be a positive number of seconds, got {v}"
        ));
    }
    Ok(())
}

impl Options {
    /// Checks the options together; the message names the offending option.
    pub fn validate(&self) -> Result<(), String> {
        self.server_list()?;
        if self.clients == 0 {
            return Err("--clients must be at least 1".into());
        }
        if self.in_flight == 0 {
            return Err("--in-flight must be at least 1".into());
        }
        if self.keys == 0 {
            return Err("--keys must be at least 1".into());
        }
        if self.value_size > MAX_VALUE_SIZE {
            return Err(format!(
                "--value-size must be at most {MAX_VALUE_SIZE} bytes (the servers' jute.maxbuffer), got {}",
                self.value_size
            ));
        }
        if !(0.0..=1.0).contains(&self.read_ratio) {
            return Err(format!(
                "--read-ratio must be between 0 and 1 (the fraction of reads, e.g. 0.9), got {}",
                self.read_ratio
            ));
        }
        positive_secs("duration", self.duration)?;
        positive_secs("connect-timeout", self.connect_timeout)?;
        if !self.warmup.is_finite() || self.warmup < 0.0 {
            return Err(format!(
                "--warmup must be 0 or more seconds, got {}",
                self.warmup
            ));
        }
        if self.session_timeout_ms == 0 {
            return Err("--session-timeout-ms must be greater than 0".into());
        }
        if !self.root.starts_with('/') || self.root.len() < 2 || self.root.ends_with('/') {
            return Err(format!(
                "--root must be an absolute znode path such as /zk-bench, got {:?}",
                self.root
            ));
        }
        if self.count == 0 {
            return Err("--count must be at least 1".into());
        }
        if self.ephemerals == 0 {
            return Err("--ephemerals must be at least 1".into());
        }
        if self.requests == 0 {
            return Err("--requests must be at least 1".into());
        }
        if self.readers == 0 {
            return Err(
                "--readers must be at least 1 (their latency is what non-readers reports)".into(),
            );
        }
        if self.requests > MAX_NON_READER_REQUESTS {
            return Err(format!(
                "--requests must be at most {MAX_NON_READER_REQUESTS} (they are encoded before \
                 they are sent), got {}",
                self.requests
            ));
        }
        if self.rounds == 0 {
            return Err("--rounds must be at least 1".into());
        }
        if self.threads == Some(0) {
            return Err("--threads must be at least 1".into());
        }
        if self.workload == Workload::Stale && self.server_list()?.len() < 2 {
            return Err("stale needs two --servers: the writer's first, then the reader's".into());
        }
        if self.vanish && self.workload != Workload::Ephemeral {
            return Err("--vanish only applies to the ephemeral workload".into());
        }
        for t in &self.tags {
            if !t.contains('=') || t.starts_with('=') {
                return Err(format!("--tag must be KEY=VALUE, got {t:?}"));
            }
        }
        match (self.fault_at, &self.fault_cmd) {
            (None, None) => {}
            _ if self.workload != Workload::Failover => {
                return Err("--fault-at and --fault-cmd only apply to the failover workload".into())
            }
            (Some(at), Some(_)) => {
                if !at.is_finite() || at <= 0.0 || at >= self.duration {
                    return Err(format!(
                        "--fault-at must be inside the measured window (0 < fault-at < --duration {}), got {at}",
                        self.duration
                    ));
                }
            }
            (Some(_), None) => return Err("--fault-at needs --fault-cmd".into()),
            (None, Some(_)) => return Err("--fault-cmd needs --fault-at".into()),
        }
        Ok(())
    }

    /// The servers as `host:port` strings, in the order given.
    pub fn server_list(&self) -> Result<Vec<String>, String> {
        parse_servers(&self.servers)
    }

    /// The tags as (key, value) pairs.
    pub fn tag_pairs(&self) -> Vec<(String, String)> {
        self.tags
            .iter()
            .filter_map(|t| t.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// The warm-up as a duration.
    pub fn warmup_duration(&self) -> Duration {
        Duration::from_secs_f64(self.warmup.max(0.0))
    }

    /// The measured window as a duration.
    pub fn measure_duration(&self) -> Duration {
        Duration::from_secs_f64(self.duration.max(0.0))
    }

    /// The requested session timeout.
    pub fn session_timeout(&self) -> Duration {
        Duration::from_millis(self.session_timeout_ms)
    }
}

/// Splits `host:port,host:port`; refuses an empty list, a chroot or a missing port.
pub fn parse_servers(s: &str) -> Result<Vec<String>, String> {
    if s.contains('/') {
        return Err(format!(
            "--servers takes host:port pairs without a chroot, got {s:?}"
        ));
    }
    let list: Vec<String> = s
        .split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect();
    if list.is_empty() {
        return Err("--servers needs at least one host:port".into());
    }
    for hp in &list {
        let port = hp.rsplit_once(':').map(|(_, p)| p.parse::<u16>());
        if !matches!(port, Some(Ok(p)) if p > 0) {
            return Err(format!("--servers: {hp:?} is not host:port"));
        }
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Options {
        let mut v = vec!["zk-bench", "--servers", "127.0.0.1:2181"];
        v.extend_from_slice(args);
        Options::try_parse_from(v).expect("parses")
    }

    #[test]
    fn defaults_are_valid_and_match_the_issue() {
        let o = parse(&["get"]);
        assert_eq!(o.validate(), Ok(()));
        assert_eq!((o.clients, o.in_flight, o.value_size), (32, 16, 100));
        assert!(!o.spread);
    }

    #[test]
    fn stale_needs_a_writer_and_a_reader_server() {
        let err = parse(&["stale"])
            .validate()
            .expect_err("one server refused");
        assert!(err.contains("two --servers"), "{err}");
        let two = Options::try_parse_from([
            "zk-bench",
            "--servers",
            "127.0.0.1:2181,127.0.0.1:2182",
            "stale",
        ])
        .expect("parses");
        assert_eq!(two.validate(), Ok(()));
    }

    #[test]
    fn stale_writer_defaults_to_the_first_server_and_takes_leader_or_follower() {
        let base = [
            "zk-bench",
            "--servers",
            "127.0.0.1:2181,127.0.0.1:2182",
            "stale",
        ];
        let default = Options::try_parse_from(base).expect("parses");
        assert_eq!(default.writer_on, WriterOn::First);
        for (arg, want) in [
            ("leader", WriterOn::Leader),
            ("follower", WriterOn::Follower),
        ] {
            let mut v = base.to_vec();
            v.extend(["--writer-on", arg]);
            let o = Options::try_parse_from(v).expect("parses");
            assert_eq!((o.writer_on, o.validate()), (want, Ok(())));
        }
        let mut v = base.to_vec();
        v.extend(["--writer-on", "observer"]);
        assert!(
            Options::try_parse_from(v).is_err(),
            "an unknown member kind is refused"
        );
    }

    #[test]
    fn read_ratio_out_of_range_is_refused_with_the_option_named() {
        let err = parse(&["mixed", "--read-ratio", "1.5"])
            .validate()
            .expect_err("1.5 refused");
        assert!(err.contains("--read-ratio"), "{err}");
        assert!(err.contains("1.5"), "{err}");
        assert!(parse(&["mixed", "--read-ratio", "-0.1"])
            .validate()
            .is_err());
        assert_eq!(parse(&["mixed", "--read-ratio", "1"]).validate(), Ok(()));
    }

    #[test]
    fn zero_sizes_and_bad_durations_are_refused() {
        for args in [
            &["get", "--clients", "0"][..],
            &["get", "--in-flight", "0"],
            &["get", "--keys", "0"],
            &["get", "--duration", "0"],
            &["get", "--warmup", "-1"],
            &["get", "--value-size", "2000000"],
            &["get", "--root", "zk"],
            &["get", "--root", "/zk/"],
            &["get", "--tag", "novalue"],
            &["fill", "--count", "0"],
        ] {
            assert!(parse(args).validate().is_err(), "{args:?} accepted");
        }
    }

    #[test]
    fn fault_options_belong_to_failover_and_go_together() {
        let ok = parse(&[
            "failover",
            "--fault-at",
            "2",
            "--fault-cmd",
            "true",
            "--duration",
            "5",
        ]);
        assert_eq!(ok.validate(), Ok(()));
        let late = parse(&[
            "failover",
            "--fault-at",
            "6",
            "--fault-cmd",
            "true",
            "--duration",
            "5",
        ]);
        assert!(late.validate().unwrap_err().contains("--fault-at"));
        assert!(parse(&["failover", "--fault-at", "2"]).validate().is_err());
        assert!(parse(&["get", "--fault-at", "2", "--fault-cmd", "true"])
            .validate()
            .is_err());
        assert!(parse(&["get", "--vanish"]).validate().is_err());
    }

    #[test]
    fn non_readers_takes_requests_and_readers() {
        let o = parse(&[
            "non-readers",
            "--clients",
            "60",
            "--requests",
            "3000",
            "--value-size",
            "102400",
            "--readers",
            "4",
        ]);
        assert_eq!(o.workload, Workload::NonReaders);
        assert_eq!(o.workload.name(), "non-readers");
        assert!(o.workload.is_timed());
        assert_eq!((o.clients, o.requests, o.readers), (60, 3000, 4));
        assert_eq!(o.validate(), Ok(()));
        let d = parse(&["non-readers"]);
        assert_eq!(
            (d.requests, d.readers),
            (3000, 4),
            "issue 18's 3,000 by default"
        );
        for args in [
            &["non-readers", "--requests", "0"][..],
            &["non-readers", "--readers", "0"],
            &["non-readers", "--requests", "1000001"],
        ] {
            let err = parse(args).validate().expect_err("refused");
            assert!(err.contains("--re"), "{args:?}: {err}");
        }
    }

    #[test]
    fn servers_are_checked() {
        assert_eq!(
            parse_servers("a:1, b:2").unwrap(),
            vec!["a:1".to_string(), "b:2".to_string()]
        );
        assert!(parse_servers("").is_err());
        assert!(parse_servers("a:1/chroot").is_err());
        assert!(parse_servers("a").is_err());
        assert!(parse_servers("a:x").is_err());
    }

    #[test]
    fn tags_split_at_the_first_equals() {
        let o = parse(&["get", "--tag", "system=zk-node", "--tag", "cmd=a=b"]);
        assert_eq!(
            o.tag_pairs(),
            vec![
                ("system".into(), "zk-node".into()),
                ("cmd".into(), "a=b".into())
            ]
        );
    }
}
