//! The node's settings: command-line flags, each also readable from a `ZK_NODE_*` environment
//! variable (for containers), and a ZooKeeper zoo.cfg (`--config`) under them, resolved into
//! checked [`Settings`].
//!
//! A flag or variable that is given wins over the file; the file wins over a flag's default.
//! Keys the file leaves out take ZooKeeper's defaults where they differ from zk-node's
//! (tickTime 3000, only `srvr` among the four-letter words), so a zoo.cfg means here what it
//! means to ZooKeeper.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::net::SocketAddr;
use std::net::ToSocketAddrs;
use std::num::NonZeroU32;
use std::num::NonZeroUsize;
use std::path::Path;
use std::path::PathBuf;
use std::time::Duration;

use clap::parser::ValueSource;
use clap::ArgMatches;
use clap::CommandFactory;
use clap::FromArgMatches;
use clap::Parser;
use zk_session::TimeoutBounds;

use crate::auth::SuperDigest;
use crate::fourlw::AllowList;
use crate::peers::Peers;
use crate::zoocfg;
use crate::zoocfg::ZooCfg;

pub use crate::tls::settings::ClientAuth;
pub use crate::tls::settings::TlsSettings;
pub use crate::zoocfg::Note;
pub use crate::zoocfg::NoteLevel;
pub use crate::zoocfg::ZooCfgError;

/// ZooKeeper's tickTime when zoo.cfg has none (`ZooKeeperServer.DEFAULT_TICK_TIME`).
const ZOOKEEPER_TICK_MS: u32 = 3000;

/// `zk-node`: a ZooKeeper-compatible coordination service replicated with Raft.
///
/// With no peers it serves a one-node ensemble. Every flag can also be set with the
/// environment variable named in its help; a flag given on the command line wins.
#[derive(Debug, Clone, Parser)]
#[command(name = "zk-node", version, about, long_about = None)]
pub struct Config {
    /// Read ZooKeeper's zoo.cfg (its own keys: tickTime, dataDir, clientPort, server.N, ...;
    /// see docs/operations.md). Flags and variables that are given win over the file.
    #[arg(long, env = "ZK_NODE_CONFIG", value_name = "ZOO_CFG")]
    pub config: Option<PathBuf>,

    /// This node's id in the ensemble (must be one of --peers) [default: 1, or the `myid`
    /// file in the data dir with --config].
    #[arg(long, env = "ZK_NODE_ID", default_value_t = 1)]
    pub id: u64,

    /// Every member's peer address, this node included: `1=host:port,2=host:port,3=host:port`
    /// (host names allowed); `4=host:port:observer` makes member 4 an observer (a
    /// non-voting member, docs/membership.md). An entry may be ZooKeeper's whole server
    /// spec, `1=host:port:electionPort:participant;clientPort`: /zookeeper/config then
    /// shows its election port and client address, and this node's own entry says where it
    /// listens for clients unless --client-addr is given. Without it the node serves a
    /// one-node ensemble.
    #[arg(long, env = "ZK_NODE_PEERS")]
    pub peers: Option<Peers>,

    /// Where to listen for peers [default: this node's own address in --peers (its host
    /// name resolved at start), or 0.0.0.0 with --quorum-listen-on-all-ips].
    #[arg(long, env = "ZK_NODE_PEER_LISTEN")]
    pub peer_listen: Option<SocketAddr>,

    /// Listen for peers on every interface (0.0.0.0) and this node's port in --peers, instead
    /// of its own address there (ZooKeeper's quorumListenOnAllIPs).
    #[arg(
        long,
        env = "ZK_NODE_QUORUM_LISTEN_ON_ALL_IPS",
        default_value_t = false
    )]
    pub quorum_listen_on_all_ips: bool,

    /// Mutual TLS between members (ZooKeeper's sslQuorum): every member presents the
    /// certificate of --ssl-quorum-keystore and refuses a peer whose certificate the
    /// --ssl-quorum-truststore CAs did not sign or that does not name the member it claims
    /// to be (docs/operations.md); plain-text peers are refused.
    #[arg(long, env = "ZK_NODE_SSL_QUORUM", default_value_t = false)]
    pub ssl_quorum: bool,

    /// This member's private key and certificate chain for the peer link, in one PEM file
    /// (ZooKeeper's ssl.quorum.keyStore.location with type PEM).
    #[arg(long, env = "ZK_NODE_SSL_QUORUM_KEYSTORE", value_name = "PEM")]
    pub ssl_quorum_keystore: Option<PathBuf>,

    /// ssl.quorum.keyStore.password: the password of an encrypted key.
    #[arg(
        long,
        env = "ZK_NODE_SSL_QUORUM_KEYSTORE_PASSWORD",
        value_name = "PASSWORD"
    )]
    pub ssl_quorum_keystore_password: Option<String>,

    /// The CA certificates (PEM) every member's certificate must chain to (ZooKeeper's
    /// ssl.quorum.trustStore.location).
    #[arg(long, env = "ZK_NODE_SSL_QUORUM_TRUSTSTORE", value_name = "PEM")]
    pub ssl_quorum_truststore: Option<PathBuf>,

    /// Connect to some members at another address than their --peers entry, e.g.
    /// `2=127.0.0.1:7002` (a proxy or NAT in between; tests route links through a
    /// fault-injecting proxy). --peers stays the list every member must agree on.
    #[arg(long, env = "ZK_NODE_PEER_DIAL")]
    pub peer_dial: Option<Peers>,

    /// Address the ZooKeeper client port listens on.
    #[arg(long, env = "ZK_NODE_CLIENT_ADDR", default_value = "127.0.0.1:2181")]
    pub client_addr: SocketAddr,

    /// Also serve clients over TLS on this address (ZooKeeper's secureClientPort and
    /// secureClientPortAddress); needs --ssl-keystore.
    #[arg(long, env = "ZK_NODE_SECURE_CLIENT_ADDR", value_name = "ADDR")]
    pub secure_client_addr: Option<SocketAddr>,

    /// The secure port's private key and certificate chain, both in this one PEM file
    /// (ZooKeeper's ssl.keyStore.location with ssl.keyStore.type=PEM).
    #[arg(long, env = "ZK_NODE_SSL_KEYSTORE", value_name = "PEM")]
    pub ssl_keystore: Option<PathBuf>,

    /// ssl.keyStore.password: the password of an encrypted key (`ENCRYPTED PRIVATE KEY`,
    /// PKCS#8 with PBES2: `openssl pkcs8 -topk8 -v2 aes-256-cbc`); an unencrypted key needs
    /// none.
    #[arg(long, env = "ZK_NODE_SSL_KEYSTORE_PASSWORD", value_name = "PASSWORD")]
    pub ssl_keystore_password: Option<String>,

    /// The CA certificates (PEM) client certificates must chain to (ZooKeeper's
    /// ssl.trustStore.location); needed unless --ssl-client-auth none.
    #[arg(long, env = "ZK_NODE_SSL_TRUSTSTORE", value_name = "PEM")]
    pub ssl_truststore: Option<PathBuf>,

    /// Client certificates on the secure port (ZooKeeper's ssl.clientAuth): `need` refuses a
    /// client without a trusted one, `want` asks for one, `none` never asks. A client's
    /// certificate gives it the `x509` id of its subject.
    #[arg(long, env = "ZK_NODE_SSL_CLIENT_AUTH", default_value_t = ClientAuth::Need, value_parser = parse_client_auth)]
    pub ssl_client_auth: ClientAuth,

    /// The x509 id (a client certificate's subject, e.g. `CN=admin,O=Example`) that is the
    /// superuser, passing every ACL check (ZooKeeper's
    /// zookeeper.X509AuthenticationProvider.superUser).
    #[arg(long, env = "ZK_NODE_X509_SUPER_USER", value_name = "SUBJECT")]
    pub x509_super_user: Option<String>,

    /// How often the key store and trust store are checked for changes, in ms; a changed
    /// file is loaded again and new secure connections use it.
    #[arg(long, env = "ZK_NODE_SSL_RELOAD_MS", default_value_t = 5000)]
    pub ssl_reload_ms: u64,

    /// Directory holding the Raft log, vote and snapshots (created if missing).
    #[arg(long, env = "ZK_NODE_DATA_DIR", default_value = "./zk-data")]
    pub data_dir: PathBuf,

    /// The basic time unit in ms (ZooKeeper's tickTime): session expiry is checked once per
    /// tick, and the session-timeout bounds default to 2 and 20 ticks [with --config: the
    /// file's tickTime, else ZooKeeper's 3000].
    #[arg(long, env = "ZK_NODE_TICK_MS", default_value_t = NonZeroU32::new(2000).unwrap_or(NonZeroU32::MIN))]
    pub tick_ms: NonZeroU32,

    /// Smallest session timeout granted, in ms [default: 2 × tick-ms].
    #[arg(long, env = "ZK_NODE_MIN_SESSION_TIMEOUT_MS")]
    pub min_session_timeout_ms: Option<u32>,

    /// Largest session timeout granted, in ms [default: 20 × tick-ms].
    #[arg(long, env = "ZK_NODE_MAX_SESSION_TIMEOUT_MS")]
    pub max_session_timeout_ms: Option<u32>,

    /// Largest client packet accepted, in bytes after the length prefix (ZooKeeper's
    /// jute.maxbuffer); a bigger one closes that connection and writes nothing.
    #[arg(long, env = "ZK_NODE_MAX_FRAME_BYTES", default_value_t = zk_wire::DEFAULT_MAX_FRAME)]
    pub max_frame_bytes: usize,

    /// Most concurrent client connections from one IP address (ZooKeeper's maxClientCnxns);
    /// 0 means no limit.
    #[arg(long, env = "ZK_NODE_MAX_CONNECTIONS_PER_IP", default_value_t = 60)]
    pub max_connections_per_ip: u32,

    /// Requests taken from all clients and not yet answered past which connections stop
    /// reading more (each keeps one in flight), as ZooKeeper's globalOutstandingLimit;
    /// 0 means no limit. Each connection is also held to 256 requests and 1 MiB of unsent
    /// replies of its own.
    #[arg(long, env = "ZK_NODE_GLOBAL_OUTSTANDING_LIMIT", default_value_t = 1000)]
    pub global_outstanding_limit: u64,

    /// Take a state snapshot (and purge the Raft log before it) every this many applied
    /// commands (zoo.cfg's snapCount, ZooKeeper's default); in an ensemble each member at its
    /// own point between half and all of it, so members do not all snapshot at once.
    #[arg(long, env = "ZK_NODE_SNAPSHOT_EVERY", default_value_t = 100_000)]
    pub snapshot_every: u64,

    /// Threads of the async runtime that serves clients, peers and Raft [default: half the
    /// cores this process may run on, at least one]. The node's other work runs on threads of
    /// its own (the Raft log's sync thread, snapshot encoding), and a runtime with fewer
    /// workers hands fewer tasks between threads: three members on two cores served 11-22 %
    /// more writes with one worker each than with two (docs/performance.md, "Runtime workers").
    #[arg(long, env = "ZK_NODE_WORKER_THREADS")]
    pub worker_threads: Option<NonZeroUsize>,

    /// In an ensemble, how many Raft log entries before each snapshot are kept, so a member a
    /// little behind catches up from the log instead of a whole snapshot.
    #[arg(long, env = "ZK_NODE_LOG_KEEP", default_value_t = 1000)]
    pub log_keep: u64,

    /// A sync of the Raft log slower than this many ms is counted
    /// (`fsync_threshold_exceed_count`) and logged as a warning (zoo.cfg's
    /// fsync.warningthresholdms, ZooKeeper's default).
    #[arg(
        long,
        env = "ZK_NODE_FSYNC_WARNING_THRESHOLD_MS",
        default_value_t = 1000
    )]
    pub fsync_warning_threshold_ms: u64,

    /// Log filter: a level (error, warn, info, debug, trace) or tracing directives such as
    /// `info,zk_node=debug` (the default keeps openraft's own chatter at warn).
    #[arg(long, env = "ZK_NODE_LOG_LEVEL", default_value = "info,openraft=warn")]
    pub log_level: String,

    /// Four-letter words answered on the client port: a comma-separated list (ruok, srvr,
    /// stat, mntr, conf, envi, cons, wchs, isro, …) or `*` for all of them [with --config:
    /// the file's 4lw.commands.whitelist, else ZooKeeper's default, srvr only].
    #[arg(long = "4lw", env = "ZK_NODE_4LW", default_value = "*")]
    pub four_letter_words: AllowList,

    /// How often the container/TTL cleaner looks for empty containers and expired TTL
    /// nodes, in ms (ZooKeeper's znode.container.checkIntervalMs).
    #[arg(long, env = "ZK_NODE_CONTAINER_CHECK_MS", default_value_t = 60_000)]
    pub container_check_ms: u64,

    /// Allow TTL nodes (createTTL, ZooKeeper's zookeeper.extendedTypesEnabled); off by
    /// default as in ZooKeeper.
    #[arg(long, env = "ZK_NODE_TTL_NODES", default_value_t = false)]
    pub ttl_nodes: bool,

    /// The superuser's digest (ZooKeeper's DigestAuthenticationProvider.superDigest),
    /// `user:base64(sha1(user:password))`: a client that authenticates with `addauth digest
    /// user:password` matching it passes every ACL check.
    #[arg(long, env = "ZK_NODE_SUPER_DIGEST", value_name = "USER:HASH")]
    pub super_digest: Option<SuperDigest>,

    /// Log line format: `text` for people, `json` for one JSON object per line (timestamp,
    /// level, target, message, fields).
    #[arg(long, env = "ZK_NODE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Serve the admin HTTP API (ZooKeeper's AdminServer: `/commands`, `/commands/<name>`)
    /// and `/metrics` for Prometheus (ZooKeeper's admin.enableServer).
    #[arg(long, env = "ZK_NODE_ADMIN_ENABLE", default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub admin_enable: bool,

    /// Address the admin HTTP server listens on (ZooKeeper's admin.serverAddress) [with
    /// --config: the file's admin.serverAddress, else ZooKeeper's 0.0.0.0].
    #[arg(long, env = "ZK_NODE_ADMIN_ADDR", default_value = "127.0.0.1")]
    pub admin_addr: IpAddr,

    /// Port of the admin HTTP server (ZooKeeper's admin.serverPort). If it cannot be bound
    /// the node serves without it and logs a warning, as ZooKeeper does.
    #[arg(long, env = "ZK_NODE_ADMIN_PORT", default_value_t = 8080)]
    pub admin_port: u16,

    /// The admin `snapshot` command (an online backup) answers at most once per this many
    /// ms; sooner is 429 (ZooKeeper's zookeeper.admin.rateLimiterIntervalInMS).
    #[arg(
        long,
        env = "ZK_NODE_ADMIN_RATE_LIMITER_INTERVAL_MS",
        default_value_t = 300_000
    )]
    pub admin_rate_limiter_interval_ms: u64,

    /// Also serve `/metrics` on this address, as ZooKeeper's PrometheusMetricsProvider does
    /// on its own port [with --config: metricsProvider.httpHost:httpPort when the file sets
    /// metricsProvider.className to the PrometheusMetricsProvider].
    #[arg(long, env = "ZK_NODE_METRICS_ADDR", value_name = "ADDR")]
    pub metrics_addr: Option<SocketAddr>,

    /// Restart this member as the only voter of a new ensemble made from its own data, when
    /// the ensemble lost its quorum for good (ClickHouse Keeper's --force-recovery). What the
    /// lost members had acknowledged and this one had not is lost, so it is refused without
    /// --accept-data-loss. Afterwards wipe the other members and add them back by reconfig;
    /// give this flag for one start only (docs/membership.md, "Recovery from a lost quorum").
    #[arg(long, default_value_t = false)]
    pub force_recovery: bool,

    /// Confirms --force-recovery: acknowledged writes this member did not receive are lost.
    #[arg(long, default_value_t = false)]
    pub accept_data_loss: bool,

    /// Let clients change the membership with `reconfig` (ZooKeeper's reconfigEnabled; off
    /// by default as there). Only the superuser may, unless the superuser gave others WRITE
    /// on /zookeeper/config.
    #[arg(long, env = "ZK_NODE_RECONFIG_ENABLED", default_value_t = false, action = clap::ArgAction::Set, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub reconfig_enabled: bool,

    /// initLimit from zoo.cfg, shown by `conf` (not used: see docs/operations.md).
    #[arg(skip)]
    pub init_limit: Option<u32>,

    /// syncLimit from zoo.cfg, shown by `conf` (not used).
    #[arg(skip)]
    pub sync_limit: Option<u32>,

    /// Each member's election port from its zoo.cfg `server.N` line, shown by `conf`.
    #[arg(skip)]
    pub election_ports: BTreeMap<u64, u16>,

    /// Do not serve: ask the node at this client address `ruok` and exit 0 if it answers
    /// `imok`, 1 otherwise (a container healthcheck; needs `ruok` in that node's --4lw).
    #[arg(long, value_name = "ADDR")]
    pub health_check: Option<SocketAddr>,
}

fn parse_client_auth(s: &str) -> Result<ClientAuth, String> {
    s.parse()
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// tracing's human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Why the flags do not make a working configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The zoo.cfg (or its dynamicConfigFile, or myid) could not be read.
    // The cause is part of the message, not a `source`, so it is printed once.
    #[error("{path}: {error}")]
    ReadFile {
        /// The file.
        path: String,
        /// Why.
        error: std::io::Error,
    },
    /// A line of zoo.cfg has a value zk-node cannot use.
    #[error("{path}: {error}")]
    ZooCfg {
        /// The file.
        path: String,
        /// The line, key, value and reason.
        error: zoocfg::ZooCfgError,
    },
    /// The zoo.cfg as a whole does not make a configuration (no dataDir, no myid, ...).
    #[error("{path}: {reason}")]
    ZooCfgFile {
        /// The file.
        path: String,
        /// Why (ZooKeeper's wording where it has one).
        reason: String,
    },
    /// The secure port's settings do not go together.
    #[error("{0}")]
    Tls(String),
    /// The session-timeout bounds are inconsistent.
    #[error("session timeout bounds: {0}")]
    Timeouts(#[from] zk_session::TimeoutError),
    /// A value that must be positive is zero.
    #[error("--{0} must be greater than 0")]
    Zero(&'static str),
    /// --id is not one of the --peers, and no --peer-listen says where a joining node listens.
    #[error(
        "--id {id} is not a member of --peers {peers} (a node joining them needs --peer-listen)"
    )]
    NotAMember {
        /// The id given.
        id: u64,
        /// The members.
        peers: String,
    },
    /// --peer-dial names this node or a node outside --peers.
    #[error("--peer-dial {id}=...: node {id} is not another member of --peers {peers}")]
    DialNotAPeer {
        /// The id given.
        id: u64,
        /// The members.
        peers: String,
    },
    /// This member's own --peers entry gives a client address it does not listen on (or
    /// one that does not resolve).
    #[error("--peers {id}=...;{listed}: {why}")]
    PeersClientAddr {
        /// This node's id.
        id: u64,
        /// The client address its entry gives.
        listed: String,
        /// Why it is refused.
        why: String,
    },
    /// --force-recovery without its confirmation, or where there is nothing to recover.
    #[error("{0}")]
    ForceRecovery(&'static str),
    /// The frame limit cannot hold a ConnectRequest, or is beyond what a length prefix says.
    #[error("--max-frame-bytes must be between 64 and {max}, got {got}")]
    FrameLimit {
        /// The value given.
        got: usize,
        /// The largest allowed.
        max: usize,
    },
}

/// The ensemble this node belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ensemble {
    /// Every member, this node included.
    pub peers: Peers,
    /// Where this node listens for peers.
    pub listen: PeerListen,
    /// Members dialed at another address than their --peers entry.
    pub dial: BTreeMap<u64, String>,
    /// The peer link's certificates with sslQuorum; `None`: plain text.
    pub tls: Option<TlsSettings>,
    /// Restart as the only voter from this member's own data (--force-recovery, confirmed).
    pub force_recovery: bool,
}

/// Where the peer port listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerListen {
    /// This address.
    At(SocketAddr),
    /// This member's own host name in --peers, resolved when the server starts (as
    /// ZooKeeper resolves its own `server.N` address).
    OwnHost {
        /// The host name.
        host: String,
        /// The port.
        port: u16,
    },
}

impl PeerListen {
    /// The address to bind.
    pub fn resolve(&self) -> std::io::Result<SocketAddr> {
        match self {
            PeerListen::At(addr) => Ok(*addr),
            PeerListen::OwnHost { host, port } => (host.as_str(), *port)
                .to_socket_addrs()?
                .next()
                .ok_or_else(|| {
                    std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        format!("{host} resolves to no address"),
                    )
                }),
        }
    }
}

impl std::fmt::Display for PeerListen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PeerListen::At(addr) => write!(f, "{addr}"),
            PeerListen::OwnHost { host, port } => write!(f, "{host}:{port}"),
        }
    }
}

/// Checked settings the server runs with.
#[derive(Debug, Clone)]
pub struct Settings {
    /// This node's id.
    pub id: u64,
    /// The ensemble, when --peers was given.
    pub ensemble: Option<Ensemble>,
    /// The client port's address.
    pub client_addr: SocketAddr,
    /// The secure (TLS) client port's address and its certificates, if it is served.
    pub secure_client: Option<(SocketAddr, TlsSettings)>,
    /// The data directory.
    pub data_dir: PathBuf,
    /// tickTime.
    pub tick: Duration,
    /// Session-timeout negotiation bounds.
    pub timeouts: TimeoutBounds,
    /// Largest accepted packet body.
    pub max_frame_bytes: usize,
    /// maxClientCnxns (0 = none).
    pub max_connections_per_ip: u32,
    /// globalOutstandingLimit (0 = none).
    pub global_outstanding_limit: u64,
    /// Snapshot interval in applied commands.
    pub snapshot_every: u64,
    /// Worker threads of the async runtime.
    pub worker_threads: NonZeroUsize,
    /// Log entries kept before a snapshot (ensemble).
    pub log_keep: u64,
    /// Log syncs slower than this are counted and logged.
    pub fsync_warning_threshold: Duration,
    /// Enabled four-letter words.
    pub four_letter_words: AllowList,
    /// Container/TTL cleaner interval.
    pub container_check: Duration,
    /// TTL nodes allowed.
    pub ttl_nodes: bool,
    /// The superuser's digest, if any.
    pub super_digest: Option<SuperDigest>,
    /// The x509 id that is the superuser, if any.
    pub x509_super_user: Option<String>,
    /// Where the admin HTTP server listens; `None` when disabled.
    pub admin_addr: Option<SocketAddr>,
    /// The least time between two admin `snapshot` answers.
    pub admin_snapshot_interval: Duration,
    /// A second listener for `/metrics` only (ZooKeeper's Prometheus provider port).
    pub metrics_addr: Option<SocketAddr>,
    /// What `conf` shows of zoo.cfg's ensemble keys.
    pub quorum_conf: QuorumKeys,
    /// Clients may send `reconfig` (ZooKeeper's reconfigEnabled).
    pub reconfig_enabled: bool,
}

/// Half the cores this process may run on (its CPU affinity), at least one: see
/// `--worker-threads`.
pub fn default_worker_threads() -> NonZeroUsize {
    let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    NonZeroUsize::new(cores / 2).unwrap_or(NonZeroUsize::MIN)
}

/// zoo.cfg's ensemble keys that zk-node accepts without acting on them, kept so `conf` can
/// show an operator the file they gave.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuorumKeys {
    /// initLimit, if given.
    pub init_limit: Option<u32>,
    /// syncLimit, if given.
    pub sync_limit: Option<u32>,
    /// The second port of each `server.N` line (ZooKeeper's election port).
    pub election_ports: BTreeMap<u64, u16>,
}

impl Config {
    /// Checks the flags and fills in the defaults that depend on other flags.
    pub fn settings(&self) -> Result<Settings, ConfigError> {
        let tick = self.tick_ms.get();
        let timeouts = TimeoutBounds::new(
            tick,
            self.min_session_timeout_ms,
            self.max_session_timeout_ms,
        )?;
        if self.snapshot_every == 0 {
            return Err(ConfigError::Zero("snapshot-every"));
        }
        if self.container_check_ms == 0 {
            return Err(ConfigError::Zero("container-check-ms"));
        }
        let ensemble = match &self.peers {
            None => None,
            Some(peers) => {
                // A node outside --peers joins the ensemble they form: it must be told where
                // to listen for them.
                let listen = match (peers.port_of(self.id), self.peer_listen) {
                    (_, Some(addr)) => PeerListen::At(addr),
                    (Some(port), None) if self.quorum_listen_on_all_ips => {
                        PeerListen::At(SocketAddr::from(([0, 0, 0, 0], port)))
                    }
                    (Some(port), None) => {
                        // ZooKeeper's default: only the address the other members dial.
                        let own = peers.get(self.id).unwrap_or_default();
                        let host = own
                            .rsplit_once(':')
                            .map_or(own, |(h, _)| h)
                            .trim_matches(['[', ']']);
                        match host.parse::<IpAddr>() {
                            Ok(ip) => PeerListen::At(SocketAddr::new(ip, port)),
                            Err(_) => PeerListen::OwnHost {
                                host: host.to_string(),
                                port,
                            },
                        }
                    }
                    (None, None) => {
                        return Err(ConfigError::NotAMember {
                            id: self.id,
                            peers: peers.to_string(),
                        })
                    }
                };
                let dial = self
                    .peer_dial
                    .as_ref()
                    .map(|d| d.members().clone())
                    .unwrap_or_default();
                if let Some(&id) = dial
                    .keys()
                    .find(|&&id| id == self.id || peers.get(id).is_none())
                {
                    return Err(ConfigError::DialNotAPeer {
                        id,
                        peers: peers.to_string(),
                    });
                }
                if let Some(listed) = peers.client_of(self.id) {
                    check_client_addr(self.id, listed, self.client_addr)?;
                }
                Some(Ensemble {
                    peers: peers.clone(),
                    listen,
                    dial,
                    tls: self.quorum_tls()?,
                    force_recovery: self.force_recovery,
                })
            }
        };
        self.check_force_recovery()?;
        let secure_client = self.secure_client()?;
        let max_frame = i32::MAX as usize;
        if !(64..=max_frame).contains(&self.max_frame_bytes) {
            return Err(ConfigError::FrameLimit {
                got: self.max_frame_bytes,
                max: max_frame,
            });
        }
        Ok(Settings {
            id: self.id,
            ensemble,
            client_addr: self.client_addr,
            secure_client,
            data_dir: self.data_dir.clone(),
            tick: Duration::from_millis(u64::from(tick)),
            timeouts,
            max_frame_bytes: self.max_frame_bytes,
            max_connections_per_ip: self.max_connections_per_ip,
            global_outstanding_limit: self.global_outstanding_limit,
            snapshot_every: self.snapshot_every,
            worker_threads: self.worker_threads.unwrap_or_else(default_worker_threads),
            log_keep: self.log_keep,
            fsync_warning_threshold: Duration::from_millis(self.fsync_warning_threshold_ms),
            four_letter_words: self.four_letter_words.clone(),
            container_check: Duration::from_millis(self.container_check_ms),
            admin_snapshot_interval: Duration::from_millis(self.admin_rate_limiter_interval_ms),
            ttl_nodes: self.ttl_nodes,
            super_digest: self.super_digest.clone(),
            x509_super_user: self.x509_super_user.clone(),
            admin_addr: self
                .admin_enable
                .then(|| SocketAddr::new(self.admin_addr, self.admin_port)),
            metrics_addr: self.metrics_addr,
            quorum_conf: QuorumKeys {
                init_limit: self.init_limit,
                sync_limit: self.sync_limit,
                election_ports: self.election_ports.clone(),
            },
            reconfig_enabled: self.reconfig_enabled,
        })
    }

    /// --force-recovery goes only with its confirmation, and only for a member of an ensemble.
    fn check_force_recovery(&self) -> Result<(), ConfigError> {
        match (self.force_recovery, self.accept_data_loss) {
            (false, false) => Ok(()),
            (false, true) => Err(ConfigError::ForceRecovery(
                "--accept-data-loss confirms --force-recovery and means nothing without it",
            )),
            (true, false) => Err(ConfigError::ForceRecovery(
                "--force-recovery makes this member the only voter of a new ensemble from its \
                 own data: acknowledged writes it did not receive are lost, and the other \
                 members must be wiped and added back by reconfig. Give --accept-data-loss as \
                 well to confirm (docs/membership.md, \"Recovery from a lost quorum\")",
            )),
            (true, true) if self.peers.is_none() => Err(ConfigError::ForceRecovery(
                "--force-recovery is for a member of an ensemble (--peers or zoo.cfg's server.N \
                 lines, as it was started before); a one-node server has no quorum to lose",
            )),
            (true, true) => Ok(()),
        }
    }

    /// The peer link's certificates with sslQuorum (checked when the server starts, where
    /// they are loaded).
    fn quorum_tls(&self) -> Result<Option<TlsSettings>, ConfigError> {
        if !self.ssl_quorum {
            return Ok(None);
        }
        let (Some(key_store), Some(trust_store)) = (
            self.ssl_quorum_keystore.clone(),
            self.ssl_quorum_truststore.clone(),
        ) else {
            return Err(ConfigError::Tls(
                "--ssl-quorum (sslQuorum) needs --ssl-quorum-keystore \
                 (ssl.quorum.keyStore.location: a PEM file with this member's key and \
                 certificate) and --ssl-quorum-truststore (ssl.quorum.trustStore.location: \
                 the CA certificates of the members)"
                    .into(),
            ));
        };
        if self.ssl_reload_ms == 0 {
            return Err(ConfigError::Zero("ssl-reload-ms"));
        }
        Ok(Some(TlsSettings {
            key_store,
            key_store_password: self.ssl_quorum_keystore_password.clone(),
            trust_store: Some(trust_store),
            client_auth: ClientAuth::Need,
            reload_every: Duration::from_millis(self.ssl_reload_ms),
        }))
    }

    /// The secure port, if one was asked for, with its files (checked when the server
    /// starts, where they are loaded).
    fn secure_client(&self) -> Result<Option<(SocketAddr, TlsSettings)>, ConfigError> {
        let Some(addr) = self.secure_client_addr else {
            return Ok(None);
        };
        let Some(key_store) = self.ssl_keystore.clone() else {
            return Err(ConfigError::Tls(
                "--secure-client-addr (secureClientPort) needs --ssl-keystore \
                 (ssl.keyStore.location): a PEM file with the server's key and certificate"
                    .into(),
            ));
        };
        if self.ssl_client_auth != ClientAuth::None && self.ssl_truststore.is_none() {
            return Err(ConfigError::Tls(format!(
                "--ssl-client-auth {} (ssl.clientAuth) checks client certificates against \
                 --ssl-truststore (ssl.trustStore.location), which is not set; give the CA \
                 file, or --ssl-client-auth none",
                self.ssl_client_auth
            )));
        }
        if self.ssl_reload_ms == 0 {
            return Err(ConfigError::Zero("ssl-reload-ms"));
        }
        Ok(Some((
            addr,
            TlsSettings {
                key_store,
                key_store_password: self.ssl_keystore_password.clone(),
                trust_store: self.ssl_truststore.clone(),
                client_auth: self.ssl_client_auth,
                reload_every: Duration::from_millis(self.ssl_reload_ms),
            },
        )))
    }

    /// Parses `args` (the program name first) and the `ZK_NODE_*` variables, then reads the
    /// `--config` file if there is one; returns the configuration and what the file's keys
    /// do that the operator should hear about (to log once logging is set up).
    pub fn load_from<I, T>(args: I) -> Result<(Config, Vec<Note>), LoadError>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let matches = Config::command().try_get_matches_from(args)?;
        let mut config = Config::from_arg_matches(&matches)?;
        if config.health_check.is_some() {
            // A healthcheck runs beside a server with the same variables; it needs no file.
            return Ok((config, Vec::new()));
        }
        let notes = config.apply_file(&|id| given(&matches, id))?;
        if !given(&matches, "client_addr") {
            config.client_addr_from_peers()?;
        }
        Ok((config, notes))
    }

    /// Listen for clients where this member's own `--peers` entry says (`;[host:]port`), as
    /// ZooKeeper listens where its own `server.N` line says; for when --client-addr is not
    /// given.
    fn client_addr_from_peers(&mut self) -> Result<(), ConfigError> {
        let listed = self.peers.as_ref().and_then(|p| p.client_of(self.id));
        if let Some(listed) = listed {
            self.client_addr = resolve_listed(self.id, listed)?;
        }
        Ok(())
    }

    /// Reads the `--config` file, if any, into the settings its flags left at their
    /// defaults; `given(id)` tells whether the flag with that clap id was given.
    pub fn apply_file(&mut self, given: &dyn Fn(&str) -> bool) -> Result<Vec<Note>, ConfigError> {
        let Some(path) = self.config.clone() else {
            return Ok(Vec::new());
        };
        let mut zoo = zoocfg::parse(&read(&path)?).map_err(|error| ConfigError::ZooCfg {
            path: path.display().to_string(),
            error,
        })?;
        if let Some(dynamic) = zoo.dynamic_config_file.clone() {
            // ZooKeeper keeps the server.N lines there once dynamicConfigFile is set.
            zoo.servers =
                zoocfg::parse_dynamic(&read(&dynamic)?).map_err(|error| ConfigError::ZooCfg {
                    path: dynamic.display().to_string(),
                    error,
                })?;
        }
        let mut notes = std::mem::take(&mut zoo.notes);
        self.merge(&zoo, &path, given, &mut notes)?;
        Ok(notes)
    }

    /// The file's values into every setting whose flag was not given.
    fn merge(
        &mut self,
        zoo: &ZooCfg,
        path: &Path,
        given: &dyn Fn(&str) -> bool,
        notes: &mut Vec<Note>,
    ) -> Result<(), ConfigError> {
        if !given("data_dir") {
            self.data_dir = zoo
                .data_dir
                .clone()
                .ok_or_else(|| file_error(path, "dataDir is not set".into()))?;
        }
        if !given("tick_ms") {
            self.tick_ms = zoo
                .tick_time_ms
                .unwrap_or(NonZeroU32::new(ZOOKEEPER_TICK_MS).unwrap_or(NonZeroU32::MIN));
        }
        if !given("min_session_timeout_ms") {
            self.min_session_timeout_ms = zoo.min_session_timeout_ms;
        }
        if !given("max_session_timeout_ms") {
            self.max_session_timeout_ms = zoo.max_session_timeout_ms;
        }
        if !given("max_frame_bytes") {
            if let Some(n) = zoo.jute_max_buffer {
                self.max_frame_bytes = n;
            }
        }
        if !given("max_connections_per_ip") {
            if let Some(n) = zoo.max_client_cnxns {
                self.max_connections_per_ip = n;
            }
        }
        if !given("global_outstanding_limit") {
            if let Some(n) = zoo.global_outstanding_limit {
                self.global_outstanding_limit = n;
            }
        }
        if !given("four_letter_words") {
            // ZooKeeper 3.8 answers only srvr unless 4lw.commands.whitelist says more.
            self.four_letter_words = zoo.four_letter_words.clone().unwrap_or(AllowList::none());
        }
        if !given("snapshot_every") {
            // snapCount counts transactions, as --snapshot-every counts commands; both
            // default to 100000.
            if let Some(n) = zoo.snap_count {
                self.snapshot_every = n;
            }
        }
        if !given("reconfig_enabled") {
            if let Some(on) = zoo.reconfig_enabled {
                self.reconfig_enabled = on;
            }
        }
        if !given("fsync_warning_threshold_ms") {
            if let Some(ms) = zoo.fsync_warning_threshold_ms {
                self.fsync_warning_threshold_ms = ms;
            }
        }
        if !given("super_digest") && zoo.super_digest.is_some() {
            self.super_digest = zoo.super_digest.clone();
        }
        self.merge_admin(zoo, path, given)?;
        self.init_limit = zoo.init_limit;
        self.sync_limit = zoo.sync_limit;
        self.election_ports = zoo
            .servers
            .iter()
            .map(|(id, s)| (*id, s.election_port))
            .collect();
        self.merge_members(zoo, path, given, notes)?;
        if !given("client_addr") {
            self.client_addr = client_addr(zoo, zoo.servers.get(&self.id), self.id, path)?;
        }
        self.merge_ssl(zoo, path, given)
    }

    /// secureClientPort and the `ssl.*` keys, where their flags were not given.
    fn merge_ssl(
        &mut self,
        zoo: &ZooCfg,
        path: &Path,
        given: &dyn Fn(&str) -> bool,
    ) -> Result<(), ConfigError> {
        if !given("secure_client_addr") {
            if let Some(port) = zoo.secure_client_port {
                // ZooKeeper's secure port listens on all interfaces unless told otherwise.
                let host = zoo.secure_client_port_address.clone();
                let host = host.unwrap_or_else(|| "0.0.0.0".into());
                self.secure_client_addr = Some(resolve(&(host, port), path)?);
            }
        }
        let ssl = &zoo.ssl;
        if !given("ssl_keystore") && ssl.key_store.is_some() {
            self.ssl_keystore = ssl.key_store.clone();
        }
        if !given("ssl_keystore_password") {
            if let Some(p) = &ssl.key_store_password {
                self.ssl_keystore_password = Some(p.clone());
            } else if let Some(file) = &ssl.key_store_password_path {
                // ZooKeeper reads the whole file as the password.
                let text = read(file)?;
                self.ssl_keystore_password = Some(text.trim_end_matches(['\r', '\n']).into());
            }
        }
        if !given("ssl_truststore") && ssl.trust_store.is_some() {
            self.ssl_truststore = ssl.trust_store.clone();
        }
        if !given("ssl_client_auth") {
            self.ssl_client_auth = ssl.client_auth.unwrap_or_default();
        }
        if !given("ssl_quorum") && zoo.ssl_quorum {
            self.ssl_quorum = true;
        }
        let q = &zoo.quorum_ssl;
        if !given("ssl_quorum_keystore") && q.key_store.is_some() {
            self.ssl_quorum_keystore = q.key_store.clone();
        }
        if !given("ssl_quorum_keystore_password") {
            if let Some(p) = &q.key_store_password {
                self.ssl_quorum_keystore_password = Some(p.clone());
            } else if let Some(file) = &q.key_store_password_path {
                let text = read(file)?;
                self.ssl_quorum_keystore_password =
                    Some(text.trim_end_matches(['\r', '\n']).into());
            }
        }
        if !given("ssl_quorum_truststore") && q.trust_store.is_some() {
            self.ssl_quorum_truststore = q.trust_store.clone();
        }
        if !given("x509_super_user") && zoo.x509_super_user.is_some() {
            self.x509_super_user = zoo.x509_super_user.clone();
        }
        Ok(())
    }

    /// admin.* and the Prometheus provider's address, where their flags were not given.
    fn merge_admin(
        &mut self,
        zoo: &ZooCfg,
        path: &Path,
        given: &dyn Fn(&str) -> bool,
    ) -> Result<(), ConfigError> {
        if !given("admin_enable") {
            self.admin_enable = zoo.admin.enable_server.unwrap_or(true);
        }
        if !given("admin_port") {
            self.admin_port = zoo.admin.server_port.unwrap_or(self.admin_port);
        }
        if !given("admin_addr") {
            // ZooKeeper's AdminServer listens on all interfaces unless told otherwise.
            let host = zoo.admin.server_address.clone();
            let host = host.unwrap_or_else(|| "0.0.0.0".into());
            self.admin_addr = resolve(&(host, self.admin_port), path)?.ip();
        }
        if !given("metrics_addr") {
            if let Some((host, port)) = &zoo.prometheus {
                self.metrics_addr = Some(resolve(&(host.clone(), *port), path)?);
            }
        }
        Ok(())
    }

    /// The id (`myid`), the members (`server.N`) and where to listen for them.
    fn merge_members(
        &mut self,
        zoo: &ZooCfg,
        path: &Path,
        given: &dyn Fn(&str) -> bool,
        notes: &mut Vec<Note>,
    ) -> Result<(), ConfigError> {
        // QuorumPeerConfig: one participant with standaloneEnabled is a standalone server.
        let servers = &zoo.servers;
        let ensemble = servers.len() > 1 || (servers.len() == 1 && !zoo.standalone_enabled);
        if servers.len() == 1 && zoo.standalone_enabled {
            notes.push(Note {
                level: NoteLevel::Warn,
                line: 0,
                key: "server.N".into(),
                text: "Invalid configuration, only one server specified (ignoring)".into(),
            });
        }
        if !given("id") {
            match read_myid(&self.data_dir)? {
                Some(id) => self.id = id,
                None if ensemble && !given("peers") => {
                    return Err(file_error(
                        path,
                        format!(
                            "myid file is missing (expected {}, or give --id)",
                            self.data_dir.join("myid").display()
                        ),
                    ))
                }
                None => {}
            }
        }
        // ZooKeeper listens on its own server.N address unless quorumListenOnAllIPs.
        if !given("quorum_listen_on_all_ips") && zoo.quorum_listen_on_all_ips {
            self.quorum_listen_on_all_ips = true;
        }
        if given("peers") {
            if !servers.is_empty() {
                notes.push(Note {
                    level: NoteLevel::Info,
                    line: 0,
                    key: "server.N".into(),
                    text: "not used: --peers was given".into(),
                });
            }
            return Ok(());
        }
        if !ensemble {
            return Ok(());
        }
        // Each line whole: its election port and client address are what /zookeeper/config
        // shows for the member, as ZooKeeper shows them.
        let list = servers
            .iter()
            .map(|(id, s)| {
                let kind = if s.observer { ":observer" } else { "" };
                let client = s
                    .client
                    .as_ref()
                    .map(|(host, port)| format!(";{host}:{port}"))
                    .unwrap_or_default();
                format!("{id}={}:{}{kind}{client}", s.peer_addr(), s.election_port)
            })
            .collect::<Vec<_>>()
            .join(",");
        let peers = list
            .parse()
            .map_err(|e| file_error(path, format!("server.N: {e}")))?;
        self.peers = Some(peers);
        let Some(own) = servers.get(&self.id) else {
            return Err(file_error(
                path,
                format!("myid {} is not one of the server.N lines", self.id),
            ));
        };
        // ZooKeeper's QuorumPeerConfig.setupPeerType: the server list decides.
        if let Some(observer) = zoo.peer_type_observer.filter(|&o| o != own.observer) {
            let name = |o: bool| if o { "OBSERVER" } else { "PARTICIPANT" };
            notes.push(Note {
                level: NoteLevel::Warn,
                line: 0,
                key: "peerType".into(),
                text: format!(
                    "Peer type from servers list ({}) doesn't match peerType ({}). \
                     Defaulting to servers list.",
                    name(own.observer),
                    name(observer)
                ),
            });
        }
        Ok(())
    }
}

/// A client address from `--peers` (`host:port`, the host a name or an address).
fn resolve_listed(id: u64, listed: &str) -> Result<SocketAddr, ConfigError> {
    let bad = |why: String| ConfigError::PeersClientAddr {
        id,
        listed: listed.to_string(),
        why,
    };
    if let Ok(addr) = listed.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let (host, port) = listed
        .rsplit_once(':')
        .ok_or_else(|| bad("not host:port".into()))?;
    let port: u16 = port.parse().map_err(|_| bad("bad port".into()))?;
    (host.trim_matches(['[', ']']), port)
        .to_socket_addrs()
        .map_err(|e| bad(e.to_string()))?
        .next()
        .ok_or_else(|| bad("resolves to no address".into()))
}

/// The client address this member's `--peers` entry gives must be where it listens
/// (ZooKeeper's `setupClientPort` check between clientPort and the server's own line: any
/// interface agrees with the same port).
fn check_client_addr(id: u64, listed: &str, listening: SocketAddr) -> Result<(), ConfigError> {
    let addr = resolve_listed(id, listed)?;
    let agrees = if listening.ip().is_unspecified() || addr.ip().is_unspecified() {
        listening.port() == addr.port()
    } else {
        listening == addr
    };
    if agrees {
        Ok(())
    } else {
        Err(ConfigError::PeersClientAddr {
            id,
            listed: listed.to_string(),
            why: format!("this node listens for clients on {listening} (--client-addr)"),
        })
    }
}

/// The id in `data_dir/myid`, or `None` if there is no such file.
fn read_myid(data_dir: &Path) -> Result<Option<u64>, ConfigError> {
    let myid = data_dir.join("myid");
    match std::fs::read_to_string(&myid) {
        Ok(text) => zoocfg::parse_myid(&text)
            .map(Some)
            .map_err(|reason| file_error(&myid, reason)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(ConfigError::ReadFile {
            path: myid.display().to_string(),
            error,
        }),
    }
}

/// The client address: this member's `server.N` client part, else clientPortAddress and
/// clientPort (ZooKeeper's `setupClientPort`, its consistency check included).
fn client_addr(
    zoo: &ZooCfg,
    own: Option<&zoocfg::ServerLine>,
    id: u64,
    path: &Path,
) -> Result<SocketAddr, ConfigError> {
    let from_line = own.and_then(|s| s.client.clone());
    let from_keys = zoo.client_port.map(|port| {
        let host = zoo.client_port_address.clone();
        (host.unwrap_or_else(|| "0.0.0.0".into()), port)
    });
    match (from_line, from_keys) {
        (Some(line), Some(keys)) => {
            let line_addr = resolve(&line, path)?;
            let keys_addr = resolve(&keys, path)?;
            let agrees = if keys_addr.ip().is_unspecified() {
                keys_addr.port() == line_addr.port()
            } else {
                keys_addr == line_addr
            };
            if agrees {
                Ok(line_addr)
            } else {
                Err(file_error(
                    path,
                    format!(
                        "client address for this server (id = {id}) in static config file is \
                         {keys_addr} is different from client address found in dynamic file: \
                         {line_addr}"
                    ),
                ))
            }
        }
        (Some(addr), None) | (None, Some(addr)) => resolve(&addr, path),
        (None, None) if zoo.secure_client_port.is_some() => Err(file_error(
            path,
            "only secureClientPort is set: zk-node also needs the plain clientPort (bind it \
             to 127.0.0.1 with clientPortAddress to keep it local)"
                .into(),
        )),
        (None, None) => Err(file_error(path, "clientPort is not set".into())),
    }
}

fn file_error(path: &Path, reason: String) -> ConfigError {
    ConfigError::ZooCfgFile {
        path: path.display().to_string(),
        reason,
    }
}

/// True if the flag with clap id `id` was given on the command line or in its variable.
fn given(matches: &ArgMatches, id: &str) -> bool {
    matches!(
        matches.value_source(id),
        Some(ValueSource::CommandLine | ValueSource::EnvVariable)
    )
}

fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|error| ConfigError::ReadFile {
        path: path.display().to_string(),
        error,
    })
}

/// A client address from zoo.cfg: `(host, port)`, host a name or an address.
fn resolve((host, port): &(String, u16), path: &Path) -> Result<SocketAddr, ConfigError> {
    let bare = host.trim_matches(['[', ']']);
    let found = (bare, *port).to_socket_addrs().map(|mut a| a.next());
    match found {
        Ok(Some(addr)) => Ok(addr),
        Ok(None) => Err(file_error(
            path,
            format!("client address {host}:{port} resolves to nothing"),
        )),
        Err(e) => Err(file_error(
            path,
            format!("client address {host}:{port}: {e}"),
        )),
    }
}

/// Why the command line, the environment or the zoo.cfg was refused.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A flag (or `--help`, `--version`): clap's own message and exit code.
    #[error(transparent)]
    Flags(#[from] clap::Error),
    /// The zoo.cfg.
    #[error(transparent)]
    File(#[from] ConfigError),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Config, clap::Error> {
        Config::try_parse_from(std::iter::once("zk-node").chain(args.iter().copied()))
    }

    /// The defaults are the issue's: 127.0.0.1:2181, ./zk-data, tick 2000, 2 and 20 ticks.
    #[test]
    fn defaults() {
        let s = parse(&[]).map(|c| c.settings()).ok();
        let s = s.and_then(Result::ok);
        let Some(s) = s else {
            panic!("defaults must parse")
        };
        assert_eq!(s.client_addr.to_string(), "127.0.0.1:2181");
        assert_eq!(s.data_dir, PathBuf::from("./zk-data"));
        assert_eq!(s.tick, Duration::from_millis(2000));
        assert_eq!(s.timeouts.min_ms(), 4000);
        assert_eq!(s.timeouts.max_ms(), 40000);
        assert_eq!(s.max_frame_bytes, 1_048_575);
        assert_eq!(s.max_connections_per_ip, 60);
        assert_eq!(s.global_outstanding_limit, 1000, "ZooKeeper's default");
    }

    /// The runtime's workers: half the cores by default (at least one), or as given; zero is
    /// refused, not taken as "none".
    #[test]
    fn worker_threads_default_to_half_the_cores() {
        let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
        let workers = |args: &[&str]| {
            parse(args)
                .map_err(|e| e.to_string())
                .and_then(|c| c.settings().map_err(|e| e.to_string()))
                .map(|s| s.worker_threads.get())
        };
        assert_eq!(workers(&[]), Ok((cores / 2).max(1)));
        assert_eq!(workers(&["--worker-threads", "3"]), Ok(3));
        assert!(workers(&["--worker-threads", "0"]).is_err());
    }

    /// Session bounds follow the tick unless set.
    #[test]
    fn bounds_follow_the_tick() {
        let c = parse(&["--tick-ms", "200"]).ok();
        let s = c.and_then(|c| c.settings().ok());
        assert_eq!(
            s.map(|s| (s.timeouts.min_ms(), s.timeouts.max_ms())),
            Some((400, 4000))
        );
    }

    /// A client address in this member's own --peers entry is where it listens unless
    /// --client-addr is given, which must then agree with it (any interface agrees with the
    /// same port, as ZooKeeper checks clientPort against its own server.N line).
    #[test]
    fn own_client_address_in_peers() {
        let peers = "1=127.0.0.1:2888:3888;127.0.0.1:2999,2=127.0.0.1:2889:3889;2998";
        let load = |extra: &[&str]| {
            let mut args = vec!["zk-node", "--id", "1", "--peers", peers];
            args.extend_from_slice(extra);
            Config::load_from(args)
                .map_err(|e| e.to_string())
                .and_then(|(c, _)| c.settings().map_err(|e| e.to_string()))
                .map(|s| s.client_addr.to_string())
        };
        assert_eq!(load(&[]), Ok("127.0.0.1:2999".to_string()));
        assert_eq!(
            load(&["--client-addr", "0.0.0.0:2999"]),
            Ok("0.0.0.0:2999".to_string())
        );
        let refused = load(&["--client-addr", "127.0.0.1:3000"]);
        assert!(
            refused
                .as_ref()
                .is_err_and(|e| e.contains("127.0.0.1:2999") && e.contains("--client-addr")),
            "{refused:?}"
        );
        // A member whose entry has no client address listens where --client-addr says.
        let plain = Config::load_from(["zk-node", "--id", "2", "--peers", "1=a:1,2=b:2"]);
        let s = plain.ok().and_then(|(c, _)| c.settings().ok());
        assert_eq!(
            s.map(|s| s.client_addr.to_string()),
            Some("127.0.0.1:2181".into())
        );
    }

    /// --force-recovery needs --accept-data-loss (and the confirmation needs the flag), and
    /// only a member of an ensemble has a quorum to lose.
    #[test]
    fn force_recovery_needs_its_confirmation_and_an_ensemble() {
        let peers = ["--id", "1", "--peers", "1=127.0.0.1:2888,2=127.0.0.1:2889"];
        let err = |args: &[&str]| match parse(args).map(|c| c.settings()) {
            Ok(Err(e)) => e.to_string(),
            other => panic!("{args:?} should be refused: {other:?}"),
        };
        let with = |extra: &[&'static str]| -> Vec<&'static str> { [&peers[..], extra].concat() };
        assert!(err(&with(&["--force-recovery"])).contains("--accept-data-loss"));
        assert!(err(&with(&["--accept-data-loss"])).contains("confirms --force-recovery"));
        assert!(
            err(&["--force-recovery", "--accept-data-loss"]).contains("a member of an ensemble")
        );
        let s = parse(&with(&["--force-recovery", "--accept-data-loss"]))
            .ok()
            .and_then(|c| c.settings().ok());
        assert_eq!(
            s.and_then(|s| s.ensemble).map(|e| e.force_recovery),
            Some(true)
        );
        let s = parse(&peers).ok().and_then(|c| c.settings().ok());
        assert_eq!(
            s.and_then(|s| s.ensemble).map(|e| e.force_recovery),
            Some(false)
        );
    }

    /// A typo in a flag is refused by name, never ignored.
    #[test]
    fn flag_typo_is_an_error() {
        let err = parse(&["--tick-msec", "10"]).err();
        let msg = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(msg.contains("--tick-msec"), "{msg}");
    }

    /// --peers: the listen address defaults to this node's own address there (a host name
    /// resolved at start), all interfaces with --quorum-listen-on-all-ips; an id outside
    /// the list is refused by name.
    #[test]
    fn peers_and_listen() {
        let listen = |args: &[&str]| {
            let c = parse(args).ok();
            let e = c.and_then(|c| c.settings().ok()).and_then(|s| s.ensemble);
            e.map(|e| e.listen)
        };
        let peers = "1=10.0.0.1:2888,2=10.0.0.2:2889,3=[::1]:2890";
        assert_eq!(
            listen(&["--id", "2", "--peers", peers]),
            Some(PeerListen::At(
                "10.0.0.2:2889".parse().unwrap_or_else(|e| panic!("{e}"))
            ))
        );
        assert_eq!(
            listen(&["--id", "3", "--peers", peers]).map(|l| l.to_string()),
            Some("[::1]:2890".to_string())
        );
        assert_eq!(
            listen(&["--id", "2", "--peers", peers, "--quorum-listen-on-all-ips"])
                .map(|l| l.to_string()),
            Some("0.0.0.0:2889".to_string())
        );
        let by_name = listen(&["--id", "2", "--peers", "1=a:2888,2=localhost:2889"]);
        assert_eq!(
            by_name,
            Some(PeerListen::OwnHost {
                host: "localhost".into(),
                port: 2889
            })
        );
        let resolved = by_name.map(|l| l.resolve().map(|a| (a.ip().is_loopback(), a.port())));
        assert!(
            matches!(resolved, Some(Ok((true, 2889)))),
            "localhost is resolved: {resolved:?}"
        );
        let c = parse(&["--id", "4", "--peers", "1=a:2888,2=b:2889"]).ok();
        let err = c.and_then(|c| c.settings().err()).map(|e| e.to_string());
        assert!(err.unwrap_or_default().contains("--id 4"));
        let c = parse(&["--peers", "1=a:2888", "--peer-listen", "127.0.0.1:7000"]).ok();
        let e = c.and_then(|c| c.settings().ok()).and_then(|s| s.ensemble);
        assert_eq!(
            e.map(|e| e.listen.to_string()),
            Some("127.0.0.1:7000".to_string())
        );
        assert!(parse(&["--peers", "1=a"]).is_err());
    }

    /// --peer-dial: other members only; it changes where this node connects, not the peers.
    #[test]
    fn peer_dial_names_other_members() {
        let peers = ["--id", "1", "--peers", "1=a:2888,2=b:2889,3=c:2890"];
        let with = |dial: &str| {
            let mut args = peers.to_vec();
            args.extend(["--peer-dial", dial]);
            parse(&args).ok().map(|c| c.settings())
        };
        let e = with("2=127.0.0.1:7002").and_then(|s| s.ok()?.ensemble);
        assert_eq!(
            e.as_ref().and_then(|e| e.dial.get(&2).cloned()),
            Some("127.0.0.1:7002".to_string())
        );
        assert_eq!(
            e.map(|e| e.peers.get(2).map(str::to_string)),
            Some(Some("b:2889".into()))
        );
        for bad in ["1=127.0.0.1:7001", "4=127.0.0.1:7004"] {
            let err = with(bad).and_then(|s| s.err()).map(|e| e.to_string());
            assert!(err.unwrap_or_default().contains("--peer-dial"), "{bad}");
        }
    }

    /// Writes `text` as zoo.cfg in a fresh dir (with `myid` if given) and loads it with
    /// `args`; `{dir}` in the text is that dir.
    fn with_file(
        text: &str,
        myid: Option<&str>,
        args: &[&str],
    ) -> (tempfile::TempDir, Result<(Config, Vec<Note>), LoadError>) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let d = dir.path().display().to_string();
        let cfg = dir.path().join("zoo.cfg");
        std::fs::write(&cfg, text.replace("{dir}", &d)).unwrap_or_else(|e| panic!("{e}"));
        if let Some(id) = myid {
            std::fs::write(dir.path().join("myid"), id).unwrap_or_else(|e| panic!("{e}"));
        }
        let cfg = cfg.display().to_string();
        let mut all = vec!["zk-node", "--config", cfg.as_str()];
        all.extend_from_slice(args);
        let loaded = Config::load_from(all);
        (dir, loaded)
    }

    const ENSEMBLE: &str = "tickTime=500\ninitLimit=10\nsyncLimit=5\ndataDir={dir}\n\
        clientPort=2181\nserver.1=127.0.0.1:2888:3888\nserver.2=127.0.0.1:2889:3889\n\
        server.3=127.0.0.1:2890:3890;127.0.0.1:2183\n";

    /// An Apache ZooKeeper three-node file: members from server.N (first port), the id from
    /// myid, the client port on all interfaces, or the server.N client address when given.
    #[test]
    fn zoo_cfg_ensemble() {
        let (dir, loaded) = with_file(ENSEMBLE, Some("2\n"), &[]);
        let (c, _) = loaded.unwrap_or_else(|e| panic!("{e}"));
        let s = c.settings().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.id, 2);
        assert_eq!(s.data_dir, dir.path());
        assert_eq!(s.tick, Duration::from_millis(500));
        assert_eq!(s.client_addr.to_string(), "0.0.0.0:2181");
        let e = s.ensemble.unwrap_or_else(|| panic!("an ensemble"));
        assert_eq!(
            e.peers.members().values().cloned().collect::<Vec<_>>(),
            vec!["127.0.0.1:2888", "127.0.0.1:2889", "127.0.0.1:2890"]
        );
        // Each line whole for the membership records: its election port, and its client
        // address where it has one.
        assert_eq!(
            e.peers.records().into_values().collect::<Vec<_>>(),
            vec![
                "127.0.0.1:2888:3888",
                "127.0.0.1:2889:3889",
                "127.0.0.1:2890:3890;127.0.0.1:2183"
            ]
        );
        assert_eq!(e.listen.to_string(), "127.0.0.1:2889");
        assert_eq!(
            s.snapshot_every, 100_000,
            "no snapCount: ZooKeeper's default"
        );
        // ZooKeeper's default allow-list: srvr only.
        assert_eq!(s.four_letter_words, AllowList::none());
        let (_dir, loaded) = with_file(&ENSEMBLE.replace("clientPort=2181\n", ""), Some("3"), &[]);
        let s = loaded.ok().and_then(|(c, _)| c.settings().ok());
        assert_eq!(
            s.map(|s| s.client_addr.to_string()),
            Some("127.0.0.1:2183".into())
        );
    }

    /// `server.N=...:observer` lines make observers in --peers; `peerType` that disagrees
    /// with this server's own line is a warning and the line decides, as in ZooKeeper.
    #[test]
    fn zoo_cfg_observers() {
        let text =
            format!("{ENSEMBLE}server.4=127.0.0.1:2891:3891:observer;2181\npeerType=observer\n");
        let (_dir, loaded) = with_file(&text, Some("4"), &[]);
        let (c, notes) = loaded.unwrap_or_else(|e| panic!("{e}"));
        let e = c.settings().ok().and_then(|s| s.ensemble);
        let e = e.unwrap_or_else(|| panic!("an ensemble"));
        assert_eq!(
            e.peers.observers().iter().copied().collect::<Vec<_>>(),
            vec![4]
        );
        assert_eq!(e.peers.get(4), Some("127.0.0.1:2891"));
        assert!(!notes.iter().any(|n| n.key == "peerType"), "{notes:?}");
        let (_dir, loaded) = with_file(&text, Some("2"), &[]);
        let (_, notes) = loaded.unwrap_or_else(|e| panic!("{e}"));
        let warned = notes.iter().find(|n| n.key == "peerType");
        assert!(
            warned.is_some_and(|n| n.text.contains("Defaulting to servers list")),
            "{notes:?}"
        );
    }

    /// Flags and variables that are given win over the file.
    #[test]
    fn flags_win_over_the_file() {
        let (_dir, loaded) = with_file(
            ENSEMBLE,
            Some("2"),
            &[
                "--id",
                "1",
                "--tick-ms",
                "300",
                "--client-addr",
                "127.0.0.1:7000",
                "--4lw",
                "*",
            ],
        );
        let s = loaded.ok().and_then(|(c, _)| c.settings().ok());
        let Some(s) = s else { panic!("loads") };
        assert_eq!(s.id, 1);
        assert_eq!(s.tick, Duration::from_millis(300));
        assert_eq!(s.client_addr.to_string(), "127.0.0.1:7000");
        assert_eq!(s.four_letter_words, AllowList::all());
        let (_dir, loaded) = with_file(&format!("{ENSEMBLE}snapCount=500\n"), Some("2"), &[]);
        let s = loaded.ok().and_then(|(c, _)| c.settings().ok());
        assert_eq!(s.map(|s| s.snapshot_every), Some(500));
        let text = format!("{ENSEMBLE}snapCount=500\n");
        let (_dir, loaded) = with_file(&text, Some("2"), &["--snapshot-every", "70"]);
        let s = loaded.ok().and_then(|(c, _)| c.settings().ok());
        assert_eq!(s.map(|s| s.snapshot_every), Some(70));
        let text = format!("{ENSEMBLE}fsync.warningthresholdms=20\n");
        let (_dir, loaded) = with_file(&text, Some("2"), &[]);
        let s = loaded.ok().and_then(|(c, _)| c.settings().ok());
        assert_eq!(
            s.map(|s| s.fsync_warning_threshold),
            Some(Duration::from_millis(20))
        );
        let (_dir, loaded) = with_file(ENSEMBLE, Some("2"), &[]);
        let s = loaded.ok().and_then(|(c, _)| c.settings().ok());
        assert_eq!(
            s.map(|s| s.fsync_warning_threshold),
            Some(Duration::from_secs(1)),
            "ZooKeeper's default"
        );
        let (_dir, loaded) = with_file(ENSEMBLE, None, &["--peers", "1=h:1,2=h:2", "--id", "2"]);
        let s = loaded.ok().and_then(|(c, _)| c.settings().ok());
        let peers = s.and_then(|s| s.ensemble).map(|e| e.peers.to_string());
        assert_eq!(peers.as_deref(), Some("1=h:1,2=h:2"));
    }

    /// What makes a file unusable as a whole, or its myid.
    #[test]
    fn zoo_cfg_file_errors() {
        let msg = |text: &str, myid: Option<&str>| {
            let (_dir, loaded) = with_file(text, myid, &[]);
            loaded.err().map(|e| e.to_string()).unwrap_or_default()
        };
        assert!(msg(ENSEMBLE, None).contains("myid file is missing"));
        assert!(msg(ENSEMBLE, Some("x")).contains("serverid x is not a number"));
        assert!(msg(ENSEMBLE, Some("4")).contains("myid 4 is not one of the server.N"));
        assert!(msg("clientPort=2181\n", None).contains("dataDir is not set"));
        assert!(msg("dataDir={dir}\n", None).contains("clientPort is not set"));
        assert!(msg("dataDir={dir}\nsecureClientPort=2281\n", None).contains("plain clientPort"));
        let clash = "dataDir={dir}\nclientPort=2181\nclientPortAddress=127.0.0.1\n\
            server.1=127.0.0.1:2888:3888;127.0.0.1:2182\nserver.2=127.0.0.1:2889:3889\n";
        assert!(msg(clash, Some("1")).contains(
            "client address for this server (id = 1) in static config file is 127.0.0.1:2181 \
             is different from client address found in dynamic file: 127.0.0.1:2182"
        ));
        // clientPort on all interfaces must at least agree on the port.
        assert!(msg(ENSEMBLE, Some("3")).contains("is different from client address"));
        let bad = msg("dataDir={dir}\nclientPort=2181\ntickTime=fast\n", None);
        assert!(
            bad.contains("zoo.cfg: line 3: tickTime=fast: not a number"),
            "{bad}"
        );
    }

    /// One server line with standaloneEnabled (ZooKeeper's default) is a one-node server;
    /// without it, a one-member ensemble.
    #[test]
    fn zoo_cfg_single_server() {
        let one = "dataDir={dir}\nclientPort=2181\nserver.1=127.0.0.1:2888:3888\n";
        let (_dir, loaded) = with_file(one, None, &[]);
        let Ok((c, notes)) = loaded else {
            panic!("loads")
        };
        assert!(c.peers.is_none());
        assert!(notes.iter().any(|n| n.text.contains("only one server")));
        let text = format!("{one}standaloneEnabled=false\n");
        let (_dir, loaded) = with_file(&text, Some("1"), &[]);
        let peers = loaded.ok().and_then(|(c, _)| c.peers).map(|p| p.len());
        assert_eq!(peers, Some(1));
    }

    /// The dynamic file holds the members when dynamicConfigFile is set.
    #[test]
    fn zoo_cfg_dynamic_file() {
        let text = "dataDir={dir}\ndynamicConfigFile={dir}/zoo.cfg.dynamic\n";
        let (dir, _) = with_file(text, None, &[]);
        std::fs::write(
            dir.path().join("zoo.cfg.dynamic"),
            "server.1=127.0.0.1:2888:3888;2181\nserver.2=127.0.0.1:2889:3889;2182\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.path().join("myid"), "2").unwrap_or_else(|e| panic!("{e}"));
        let cfg = dir.path().join("zoo.cfg").display().to_string();
        let loaded = Config::load_from(["zk-node", "--config", cfg.as_str()]);
        let s = loaded.ok().and_then(|(c, _)| c.settings().ok());
        let Some(s) = s else { panic!("loads") };
        assert_eq!(s.client_addr.to_string(), "0.0.0.0:2182");
        assert_eq!(s.ensemble.map(|e| e.peers.len()), Some(2));
    }

    /// The admin server: 127.0.0.1:8080 by flag defaults; with a zoo.cfg, ZooKeeper's
    /// 0.0.0.0 unless the file says; off with admin.enableServer=false; flags win; the
    /// Prometheus provider's keys open a second /metrics listener.
    #[test]
    fn admin_server_settings() {
        let s = parse(&[]).ok().and_then(|c| c.settings().ok());
        assert_eq!(
            s.and_then(|s| s.admin_addr).map(|a| a.to_string()),
            Some("127.0.0.1:8080".into())
        );
        let s = parse(&["--admin-enable", "false"])
            .ok()
            .and_then(|c| c.settings().ok());
        assert_eq!(s.map(|s| s.admin_addr), Some(None));
        let base = "dataDir={dir}\nclientPort=2181\n";
        let admin = |text: &str, args: &[&str]| {
            let (_dir, loaded) = with_file(text, None, args);
            let s = loaded.ok().and_then(|(c, _)| c.settings().ok());
            s.map(|s| (s.admin_addr.map(|a| a.to_string()), s.metrics_addr))
        };
        assert_eq!(admin(base, &[]), Some((Some("0.0.0.0:8080".into()), None)));
        let file = format!("{base}admin.serverAddress=127.0.0.1\nadmin.serverPort=9090\n");
        assert_eq!(
            admin(&file, &[]),
            Some((Some("127.0.0.1:9090".into()), None))
        );
        assert_eq!(
            admin(&file, &["--admin-port", "9191"]),
            Some((Some("127.0.0.1:9191".into()), None))
        );
        let off = format!("{base}admin.enableServer=false\n");
        assert_eq!(admin(&off, &[]), Some((None, None)));
        let prom = format!(
            "{base}metricsProvider.className=\
             org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider\n\
             metricsProvider.httpHost=127.0.0.1\n"
        );
        let m = admin(&prom, &[])
            .and_then(|(_, m)| m)
            .map(|a| a.to_string());
        assert_eq!(m.as_deref(), Some("127.0.0.1:7000"));
    }

    /// The secure port: its flags, and zoo.cfg's secureClientPort and ssl.* keys (flags
    /// win); the key store is needed, and a trust store unless clientAuth is none.
    #[test]
    fn secure_client_port_settings() {
        let secure = |args: &[&str]| {
            parse(args)
                .map_err(|e| e.to_string())
                .and_then(|c| c.settings().map_err(|e| e.to_string()))
                .map(|s| s.secure_client)
        };
        assert!(matches!(secure(&[]), Ok(None)));
        let addr = ["--secure-client-addr", "127.0.0.1:2281"];
        let e = secure(&addr).err().unwrap_or_default();
        assert!(e.contains("needs --ssl-keystore"), "{e}");
        let with_key = [&addr[..], &["--ssl-keystore", "/k.pem"]].concat();
        let e = secure(&with_key).err().unwrap_or_default();
        assert!(e.contains("--ssl-truststore"), "{e}");
        let none = [&with_key[..], &["--ssl-client-auth", "none"]].concat();
        let Ok(Some((a, tls))) = secure(&none) else {
            panic!("a secure port")
        };
        assert_eq!(a.to_string(), "127.0.0.1:2281");
        assert_eq!(tls.client_auth, ClientAuth::None);
        assert_eq!(tls.reload_every, Duration::from_secs(5));
        assert!(parse(&["--ssl-client-auth", "sometimes"]).is_err());

        let file = "dataDir={dir}\nclientPort=2181\nsecureClientPort=2281\n\
            secureClientPortAddress=127.0.0.1\nssl.keyStore.location=/k.pem\n\
            ssl.keyStore.type=PEM\nssl.trustStore.location=/ca.pem\n\
            ssl.keyStore.passwordPath={dir}/pw\n";
        let (dir, _) = with_file(file, None, &[]);
        std::fs::write(dir.path().join("pw"), "s3cret\n").unwrap_or_else(|e| panic!("{e}"));
        let cfg = dir.path().join("zoo.cfg").display().to_string();
        let loaded = Config::load_from(["zk-node", "--config", cfg.as_str()]);
        let s = loaded.ok().and_then(|(c, _)| c.settings().ok());
        let Some(Some((a, tls))) = s.map(|s| s.secure_client) else {
            panic!("a secure port from the file")
        };
        assert_eq!(a.to_string(), "127.0.0.1:2281");
        assert_eq!(tls.key_store, PathBuf::from("/k.pem"));
        assert_eq!(tls.trust_store, Some(PathBuf::from("/ca.pem")));
        assert_eq!(tls.client_auth, ClientAuth::Need, "ZooKeeper's default");
        assert_eq!(tls.key_store_password.as_deref(), Some("s3cret"));
        let loaded = Config::load_from([
            "zk-node",
            "--config",
            cfg.as_str(),
            "--ssl-client-auth",
            "want",
            "--secure-client-addr",
            "127.0.0.1:3281",
        ]);
        let s = loaded.ok().and_then(|(c, _)| c.settings().ok());
        let secure = s.and_then(|s| s.secure_client);
        assert_eq!(
            secure.map(|(a, t)| (a.to_string(), t.client_auth)),
            Some(("127.0.0.1:3281".to_string(), ClientAuth::Want))
        );
    }

    /// --super-digest is checked like the zoo.cfg key.
    #[test]
    fn super_digest_flag() {
        let c = parse(&["--super-digest", "super:D/InIHSb7yEEbrWz8b9l71RjZJU="]).ok();
        let s = c
            .and_then(|c| c.settings().ok())
            .and_then(|s| s.super_digest);
        assert_eq!(
            s.map(|s| s.to_string()).as_deref(),
            Some("super:D/InIHSb7yEEbrWz8b9l71RjZJU=")
        );
        assert!(parse(&["--super-digest", "super:test"]).is_err());
    }

    /// Bad values get errors that name the problem.
    #[test]
    fn bad_values_are_errors() {
        assert!(parse(&["--tick-ms", "0"]).is_err());
        assert!(parse(&["--client-addr", "localhost"]).is_err());
        let bad_bounds = parse(&[
            "--min-session-timeout-ms",
            "9000",
            "--max-session-timeout-ms",
            "5000",
        ])
        .ok()
        .map(|c| c.settings().is_err());
        assert_eq!(bad_bounds, Some(true));
        let tiny = parse(&["--max-frame-bytes", "3"])
            .ok()
            .map(|c| c.settings().err().map(|e| e.to_string()));
        let msg = tiny.flatten().unwrap_or_default();
        assert!(msg.contains("--max-frame-bytes"), "{msg}");
    }
}
