//! What the words print, as plain data the server fills in.
//!
//! Units follow ZooKeeper: times in ms, sizes in bytes, ids and zxids as the signed 64-bit
//! values ZooKeeper prints in hex (two's complement, so -1 prints as `ffffffffffffffff`).

use std::net::SocketAddr;

/// Everything the four-letter words print. Lists the server may leave empty for a word that
/// does not read them are named in [`crate::fourlw::Needs`].
#[derive(Debug, Clone, PartialEq)]
pub struct ServerStats {
    /// Full version after `Zookeeper version: `; ZooKeeper prints `3.8.0-<git sha>, built on <date> UTC`.
    pub version: String,
    /// False while the node cannot serve (no leader): most words then print ZooKeeper's "not currently serving" line.
    pub serving: bool,
    /// This node's role.
    pub mode: Mode,
    /// Request latency from receipt to reply, over all requests since start or `srst`.
    pub latency: Latency,
    /// Packets received from clients since start or `srst`.
    pub packets_received: u64,
    /// Packets sent to clients since start or `srst`.
    pub packets_sent: u64,
    /// Open client connections, including the one asking (ZooKeeper counts it).
    pub alive_connections: u64,
    /// Requests received and not yet answered, over all connections.
    pub outstanding_requests: u64,
    /// Zxid of the last transaction applied to this node's tree.
    pub last_zxid: i64,
    /// Znodes in the tree, counting `/` and `/zookeeper…` system nodes as ZooKeeper does.
    pub node_count: u64,
    /// Watches registered: data watches plus child watches (ZooKeeper's `getWatchCount`).
    pub watch_count: u64,
    /// Ephemeral znodes in the tree.
    pub ephemerals_count: u64,
    /// Sum over znodes of path length plus data length, in bytes (ZooKeeper's approximate data size).
    pub approximate_data_size: u64,
    /// Open sessions in the ensemble (ZooKeeper's global sessions).
    pub global_sessions: u64,
    /// Time since this server started, in ms.
    pub uptime_ms: u64,
    /// File descriptors open by this process, if known (see [`crate::fourlw::fd_counts`]).
    pub open_file_descriptors: Option<u64>,
    /// The process's file-descriptor limit, if known.
    pub max_file_descriptors: Option<u64>,
    /// Failed authentications since start, if counted.
    pub auth_failed_count: Option<u64>,
    /// Raft log syncs slower than the warning threshold, if counted (server_stats'
    /// `fsync_threshold_exceed_count`).
    pub fsync_threshold_exceed_count: Option<u64>,
    /// Connections and TLS handshakes, if counted.
    pub tls: Option<TlsStats>,
    /// Sizes of serialized replies to clients, if tracked.
    pub client_response_sizes: Option<BufferStats>,
    /// Ensemble view; printed in leader and follower mode only.
    pub quorum: Option<QuorumStats>,
    /// The leader's view of its followers; printed in leader mode only.
    pub leader: Option<LeaderStats>,
    /// ZooKeeper's metrics beyond its 4lw gauges that zk-node keeps, if gathered.
    pub metrics: Option<MetricStats>,
    /// What `conf` and `dirs` print.
    pub config: ConfStats,
    /// What `envi` prints.
    pub env: EnvInfo,
    /// One entry per open client connection (stat, cons).
    pub connections: Vec<ConnectionStats>,
    /// Data watches by session (wchs, wchc, wchp).
    pub watches: Vec<SessionWatches>,
    /// Open sessions with their expiry (dump).
    pub sessions: Vec<SessionInfo>,
    /// Ephemeral znodes by owning session (dump).
    pub ephemerals: Vec<SessionEphemerals>,
}

/// A node's role, as `Mode:` and `zk_server_state` print it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A single server with no ensemble.
    Standalone,
    /// The ensemble's leader.
    Leader,
    /// A follower of the leader.
    Follower,
    /// A non-voting member following the leader (ZooKeeper's observer).
    Observer,
}

impl Mode {
    /// The lower-case name ZooKeeper prints.
    pub const fn as_str(self) -> &'static str {
        match self {
            Mode::Standalone => "standalone",
            Mode::Leader => "leader",
            Mode::Follower => "follower",
            Mode::Observer => "observer",
        }
    }
}

/// Request latency in ms.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Latency {
    /// Fastest request in whole ms (0 before the first).
    pub min_ms: u64,
    /// Mean in ms; printed rounded half-up to 4 decimals like ZooKeeper (0.0 before the first).
    pub avg_ms: f64,
    /// Slowest request in whole ms (0 before the first).
    pub max_ms: u64,
}

/// ZooKeeper's NettyServerCnxnFactory's counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TlsStats {
    /// Connections accepted without TLS from other hosts since start
    /// (`non_mtls_remote_conn_count`).
    pub non_mtls_remote: u64,
    /// The same from loopback addresses (`non_mtls_local_conn_count`).
    pub non_mtls_local: u64,
    /// TLS handshakes under way (`outstanding_tls_handshake`).
    pub outstanding_handshakes: u64,
}

/// Last/min/max of a size series, ZooKeeper's `BufferStats`; -1 everywhere before the first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferStats {
    /// The most recent size in bytes.
    pub last: i64,
    /// The smallest in bytes.
    pub min: i64,
    /// The largest in bytes.
    pub max: i64,
}

impl Default for BufferStats {
    fn default() -> Self {
        BufferStats {
            last: -1,
            min: -1,
            max: -1,
        }
    }
}

/// ZooKeeper's `ServerMetrics` counters and summaries that have a meaning in zk-node, with
/// the two gauges ZooKeeper registers beside them; `mntr` prints them after its other gauges,
/// in ZooKeeper's order, and `/metrics` serves them under the same names.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MetricStats {
    /// `local_sessions`: zk-node has only global sessions, so 0.
    pub local_sessions: u64,
    /// `synced_observers` on a leader: zk-node has no observers, so 0.
    pub synced_observers: u64,
    /// Counters by ZooKeeper's name.
    pub counters: Vec<(&'static str, u64)>,
    /// Summaries by ZooKeeper's name.
    pub summaries: Vec<(&'static str, SummaryStats)>,
    /// Summary sets (one summary per key) by ZooKeeper's name: `read_per_namespace`,
    /// `write_per_namespace`.
    pub summary_sets: Vec<(&'static str, Vec<(String, SummaryStats)>)>,
}

/// One of ZooKeeper's summaries, in ms.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SummaryStats {
    /// Values recorded.
    pub count: u64,
    /// Their sum.
    pub sum: u64,
    /// The smallest (0 before the first).
    pub min: u64,
    /// The largest.
    pub max: u64,
    /// The mean (0.0 before the first).
    pub avg: f64,
    /// p50, p95, p99 and p999 of recent values, for ZooKeeper's detailed summaries
    /// (`readlatency`, `updatelatency`); `None` for its basic ones.
    pub percentiles: Option<[u64; 4]>,
    /// The quantiles Prometheus gets: (quantile, value), 0.5 for a basic summary and 0.5,
    /// 0.9, 0.99 for a detailed one, as ZooKeeper's provider registers them.
    pub quantiles: Vec<(f64, f64)>,
}

/// Ensemble-wide facts printed by `mntr` on a leader or follower.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumStats {
    /// Voting members in the configuration (`zk_quorum_size`).
    pub quorum_size: u64,
    /// ZooKeeper's detailed peer state (`leading - broadcast`, `following - broadcast`), if the server can say.
    pub peer_state: Option<String>,
}

/// The leader's view of replication, printed by `mntr`, `srvr` and `stat` on a leader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderStats {
    /// Followers (voting or not) the leader is replicating to (`zk_learners`).
    pub learners: u64,
    /// Voting followers caught up and receiving new entries (`zk_synced_followers`).
    pub synced_followers: u64,
    /// Non-voting followers caught up (`zk_synced_non_voting_followers`).
    pub synced_non_voting_followers: u64,
    /// `sync` requests waiting at the leader (`zk_pending_syncs`), if tracked.
    pub pending_syncs: Option<u64>,
    /// Time since this node became leader, in ms (`zk_leader_uptime`).
    pub leader_uptime_ms: u64,
    /// Serialized sizes of proposed entries (`Proposal sizes last/min/max`).
    pub proposal_sizes: BufferStats,
}

/// What `conf` (and `dirs`) print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfStats {
    /// The client port.
    pub client_port: u16,
    /// The TLS client port; `None` prints -1 (not configured).
    pub secure_client_port: Option<u16>,
    /// Absolute path of the snapshot directory (`dataDir`).
    pub data_dir: String,
    /// Bytes in files directly inside `data_dir` (`dataDirSize`, dirs' `datadir_size`).
    pub data_dir_size: u64,
    /// Absolute path of the transaction-log directory (`dataLogDir`).
    pub data_log_dir: String,
    /// Bytes in files directly inside `data_log_dir` (`dataLogSize`, dirs' `logdir_size`).
    pub data_log_size: u64,
    /// tickTime in ms.
    pub tick_time_ms: u32,
    /// Most connections per client IP, 0 for no limit (`maxClientCnxns`).
    pub max_client_cnxns: u32,
    /// Smallest session timeout granted, in ms.
    pub min_session_timeout_ms: u32,
    /// Largest session timeout granted, in ms.
    pub max_session_timeout_ms: u32,
    /// Listen backlog of the client port; -1 when not configured (`clientPortListenBacklog`).
    pub client_port_listen_backlog: i32,
    /// This server's id; 0 when standalone (`serverId`).
    pub server_id: u64,
    /// The ensemble section; printed only when set and the mode is leader or follower.
    pub quorum: Option<QuorumConf>,
}

/// The ensemble part of `conf` (ZooKeeper's `QuorumZooKeeperServer.dumpConf`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumConf {
    /// `initLimit` in ticks.
    pub init_limit: u32,
    /// `syncLimit` in ticks.
    pub sync_limit: u32,
    /// `electionAlg` (ZooKeeper: 3, fast leader election).
    pub election_alg: u32,
    /// This server's election port(s), `|`-joined when several.
    pub election_port: String,
    /// This server's quorum (replication) port(s), `|`-joined when several.
    pub quorum_port: String,
    /// `peerType`: 0 participant, 1 observer.
    pub peer_type: u32,
    /// The members, in the order to print.
    pub members: Vec<QuorumMember>,
    /// Configuration version (`version=`, printed in hex).
    pub version: u64,
}

/// One `server.N=…` line of `conf`'s membership.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumMember {
    /// The server id N.
    pub id: u64,
    /// Host as configured (IPv6 literals without brackets).
    pub host: String,
    /// Quorum (replication) port.
    pub quorum_port: u16,
    /// Election port.
    pub election_port: u16,
    /// Whether the member is an observer rather than a participant.
    pub observer: bool,
    /// Client address `host:port` when given in a dynamic configuration.
    pub client_addr: Option<String>,
}

/// What `envi` prints. A Java property without a value prints `<NA>`, ZooKeeper's own
/// placeholder for a missing property.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvInfo {
    /// This process's counterparts of the JVM's `java.*` properties.
    pub runtime: Runtime,
    /// Host name (`host.name`; Java prints the local host's canonical name).
    pub host_name: String,
    /// Temporary directory (`java.io.tmpdir`).
    pub tmp_dir: String,
    /// Operating system name, as Java spells it (`os.name`, e.g. `Linux`).
    pub os_name: String,
    /// CPU architecture, as Java spells it (`os.arch`, e.g. `amd64`).
    pub os_arch: String,
    /// Kernel release (`os.version`).
    pub os_version: String,
    /// User running the process (`user.name`).
    pub user_name: String,
    /// That user's home directory (`user.home`).
    pub user_home: String,
    /// Working directory (`user.dir`).
    pub user_dir: String,
    /// Free memory in MiB (`os.memory.free`, the JVM's free heap), if the server has a counterpart.
    pub memory_free_mb: Option<u64>,
    /// Most memory the process may use in MiB (`os.memory.max`), if known.
    pub memory_max_mb: Option<u64>,
    /// Memory the process holds in MiB (`os.memory.total`), if known.
    pub memory_total_mb: Option<u64>,
}

/// The `java.*` properties `envi` prints, answered for this process: no JVM runs it, the
/// zk-node executable is what the JVM and its class path are to ZooKeeper.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Runtime {
    /// `java.version`: zk-node's version.
    pub version: Option<String>,
    /// `java.vendor`: who built the runtime (`zk-node (Rust)`).
    pub vendor: Option<String>,
    /// `java.home`: the directory holding the executable.
    pub home: Option<String>,
    /// `java.class.path`: the executable.
    pub class_path: Option<String>,
    /// `java.library.path`: `LD_LIBRARY_PATH`, if set.
    pub library_path: Option<String>,
}

/// One client connection, as `stat` and `cons` print it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionStats {
    /// The client's address.
    pub remote: SocketAddr,
    /// Java NIO interest set: 1 reading, 4 writing, 5 both, 0 neither (e.g. throttled, or the 4lw connection).
    pub interest_ops: u32,
    /// Requests received on this connection and not yet answered.
    pub queued: u64,
    /// Packets received on this connection.
    pub received: u64,
    /// Packets sent on this connection.
    pub sent: u64,
    /// The session, once one is established on this connection.
    pub session: Option<ConnectionSession>,
    /// Accepted on the secure client port (the admin API lists these apart, as ZooKeeper's
    /// two connection factories; `cons` lists both).
    pub secure: bool,
}

/// The session part of a `cons` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionSession {
    /// Session id (`sid`); 0 is treated as no session, as ZooKeeper does.
    pub session_id: i64,
    /// ZooKeeper's short name of the last answered operation (`lop`), see [`crate::fourlw::last_op_name`].
    pub last_op: String,
    /// When the connection was accepted, in ms since the Unix epoch (`est`).
    pub established_ms: i64,
    /// Negotiated session timeout in ms (`to`).
    pub timeout_ms: u32,
    /// Xid of the last answered client request, -1 if none (`lcxid`, omitted when negative).
    pub last_cxid: i64,
    /// Zxid in the last reply, -1 if none (`lzxid`).
    pub last_zxid: i64,
    /// When the last reply was sent, on a monotonic ms clock (`lresp`; ZooKeeper uses nanoTime/10^6).
    pub last_response_ms: i64,
    /// Latency of the last request in ms (`llat`).
    pub last_latency_ms: u64,
    /// Fastest request on this connection in ms, 0 if none (`minlat`).
    pub min_latency_ms: u64,
    /// Mean latency in whole ms, truncated, 0 if none (`avglat`).
    pub avg_latency_ms: u64,
    /// Slowest request in ms (`maxlat`).
    pub max_latency_ms: u64,
}

/// The data watches one session holds.
///
/// Data watches are those set by `getData` and `exists` (and `addWatch`); ZooKeeper's wchs,
/// wchc and wchp list only these, not child watches, though `zk_watch_count` counts both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionWatches {
    /// The session.
    pub session_id: i64,
    /// Watched paths, each once.
    pub paths: Vec<String>,
}

/// One open session, for `dump`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// The session.
    pub session_id: i64,
    /// Negotiated timeout in ms (printed on a follower).
    pub timeout_ms: u32,
    /// When it expires unless its client is heard from, in ms since the Unix epoch (printed standalone and on the leader, grouped by equal values).
    pub expires_at_ms: i64,
}

/// The ephemeral znodes one session owns, for `dump`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionEphemerals {
    /// The owning session.
    pub session_id: i64,
    /// The ephemeral paths.
    pub paths: Vec<String>,
}

/// ZooKeeper's short operation name for `cons`' `lop`, from a request's op code.
///
/// These are the names ZooKeeper's FinalRequestProcessor records, not `Request.op2String`;
/// unknown codes give `NA`, the value before any request.
pub fn last_op_name(op_code: i32) -> &'static str {
    match op_code {
        11 => "PING",
        -10 => "SESS",
        14 => "MULT",
        22 => "MLTR",
        1 | 15 | 19 | 21 => "CREA",
        2 | 20 => "DELE",
        5 => "SETD",
        16 => "RECO",
        7 => "SETA",
        -11 => "CLOS",
        9 => "SYNC",
        13 => "CHEC",
        3 => "EXIS",
        4 => "GETD",
        101 => "SETW",
        105 => "STW2",
        106 => "ADDW",
        6 => "GETA",
        8 | 12 => "GETC",
        104 => "GETACN",
        17 => "CHKW",
        18 => "REMW",
        107 => "HOMI",
        103 => "GETE",
        _ => "NA",
    }
}

/// Open and maximum file descriptors of this process, from `/proc/self`; `None` where not readable.
pub fn fd_counts() -> (Option<u64>, Option<u64>) {
    // Less one for the descriptor reading the directory, as the JVM counts.
    let open = std::fs::read_dir("/proc/self/fd")
        .ok()
        .map(|dir| (dir.count() as u64).saturating_sub(1));
    let max = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|s| parse_max_open_files(&s));
    (open, max)
}

/// The soft limit from the `Max open files` line of `/proc/self/limits`.
fn parse_max_open_files(limits: &str) -> Option<u64> {
    let rest = limits
        .lines()
        .find_map(|l| l.strip_prefix("Max open files"))?;
    rest.split_whitespace().next()?.parse().ok()
}

impl EnvInfo {
    /// Reads this process's environment the way Java fills the properties `envi` prints.
    ///
    /// The JVM's heap figures become the process's memory: `os.memory.total` what it holds
    /// (resident), `os.memory.max` what it may use (its cgroup's limit, else the machine's
    /// memory), `os.memory.free` the difference.
    pub fn from_process() -> EnvInfo {
        let read = |p: &str| {
            std::fs::read_to_string(p)
                .map(|s| s.trim().to_string())
                .unwrap_or_else(|_| "<NA>".to_string())
        };
        let var = |k: &str| std::env::var(k).unwrap_or_else(|_| "<NA>".to_string());
        let (max, total) = (memory_limit_mb(), resident_mb());
        EnvInfo {
            host_name: read("/proc/sys/kernel/hostname"),
            tmp_dir: std::env::temp_dir().display().to_string(),
            os_name: java_os_name(std::env::consts::OS),
            os_arch: java_os_arch(std::env::consts::ARCH).to_string(),
            os_version: read("/proc/sys/kernel/osrelease"),
            user_name: var("USER"),
            user_home: var("HOME"),
            user_dir: std::env::current_dir()
                .map(|d| d.display().to_string())
                .unwrap_or_else(|_| "<NA>".to_string()),
            memory_free_mb: max.zip(total).map(|(m, t)| m.saturating_sub(t)),
            memory_max_mb: max,
            memory_total_mb: total,
            runtime: Runtime::from_process(),
        }
    }
}

impl Runtime {
    /// This process's answers.
    pub fn from_process() -> Runtime {
        let exe = std::env::current_exe().ok();
        Runtime {
            version: Some(env!("CARGO_PKG_VERSION").to_string()),
            vendor: Some("zk-node (Rust)".to_string()),
            home: exe
                .as_ref()
                .and_then(|e| e.parent())
                .map(|d| d.display().to_string()),
            class_path: exe.map(|e| e.display().to_string()),
            library_path: std::env::var("LD_LIBRARY_PATH").ok(),
        }
    }
}

const MIB: u64 = 1024 * 1024;

/// Resident memory of this process, MiB.
fn resident_mb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    kib_field(&status, "VmRSS:").map(|k| k * 1024 / MIB)
}

/// The memory this process may use, MiB: its cgroup's limit, else the machine's memory.
fn memory_limit_mb() -> Option<u64> {
    let cgroup = std::fs::read_to_string("/sys/fs/cgroup/memory.max")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok());
    match cgroup {
        Some(bytes) => Some(bytes / MIB),
        None => {
            let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
            kib_field(&meminfo, "MemTotal:").map(|k| k * 1024 / MIB)
        }
    }
}

/// The number of kB after `key` in a `/proc` status-style file.
fn kib_field(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(key))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn java_os_name(os: &str) -> String {
    match os {
        "linux" => "Linux".to_string(),
        "macos" => "Mac OS X".to_string(),
        "freebsd" => "FreeBSD".to_string(),
        other => other.to_string(),
    }
}

fn java_os_arch(arch: &str) -> &str {
    match arch {
        "x86_64" => "amd64",
        "x86" => "x86",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_open_files_is_the_soft_limit() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max cpu time              unlimited            unlimited            seconds   \n\
                      Max open files            20000                524288               files     \n";
        assert_eq!(parse_max_open_files(limits), Some(20000));
        assert_eq!(
            parse_max_open_files("Max open files  unlimited unlimited files"),
            None
        );
        assert_eq!(parse_max_open_files(""), None);
    }

    #[test]
    fn fd_counts_read_this_process() {
        let (open, max) = fd_counts();
        if std::path::Path::new("/proc/self/fd").exists() {
            assert!(open.unwrap_or(0) > 0);
            assert!(max.unwrap_or(0) > 0);
        }
    }

    #[test]
    fn last_op_names_follow_zookeeper() {
        assert_eq!(last_op_name(11), "PING");
        assert_eq!(last_op_name(12), "GETC");
        assert_eq!(last_op_name(15), "CREA");
        assert_eq!(last_op_name(-11), "CLOS");
        assert_eq!(last_op_name(99), "NA");
    }

    #[test]
    fn env_from_process_fills_java_spellings() {
        let env = EnvInfo::from_process();
        if cfg!(all(target_os = "linux", target_arch = "x86_64")) {
            assert_eq!(env.os_name, "Linux");
            assert_eq!(env.os_arch, "amd64");
        }
        assert!(!env.tmp_dir.is_empty());
        assert_eq!(
            env.runtime.version.as_deref(),
            Some(env!("CARGO_PKG_VERSION"))
        );
        assert!(env.runtime.class_path.is_some());
        if std::path::Path::new("/proc/self/status").exists() {
            assert!(env.memory_total_mb.is_some());
            assert!(env.memory_max_mb >= env.memory_total_mb);
        }
    }
}
