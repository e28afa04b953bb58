//! The node's settings: command-line flags, each also readable from a `ZK_NODE_*` environment
//! variable (for containers), resolved into checked [`Settings`].

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use zk_session::TimeoutBounds;

use crate::fourlw::AllowList;
use crate::peers::Peers;

/// `zk-node`: a ZooKeeper-compatible coordination service replicated with Raft.
///
/// With no peers it serves a one-node ensemble. Every flag can also be set with the
/// environment variable named in its help; a flag given on the command line wins.
#[derive(Debug, Clone, Parser)]
#[command(name = "zk-node", version, about, long_about = None)]
pub struct Config {
    /// This node's id in the ensemble (must be one of --peers).
    #[arg(long, env = "ZK_NODE_ID", default_value_t = 1)]
    pub id: u64,

    /// Every member's peer address, this node included: `1=host:port,2=host:port,3=host:port`
    /// (host names allowed). Without it the node serves a one-node ensemble.
    #[arg(long, env = "ZK_NODE_PEERS")]
    pub peers: Option<Peers>,

    /// Where to listen for peers [default: 0.0.0.0 and this node's port in --peers].
    #[arg(long, env = "ZK_NODE_PEER_LISTEN")]
    pub peer_listen: Option<SocketAddr>,

    /// Connect to some members at another address than their --peers entry, e.g.
    /// `2=127.0.0.1:7002` (a proxy or NAT in between; tests route links through a
    /// fault-injecting proxy). --peers stays the list every member must agree on.
    #[arg(long, env = "ZK_NODE_PEER_DIAL")]
    pub peer_dial: Option<Peers>,

    /// Address the ZooKeeper client port listens on.
    #[arg(long, env = "ZK_NODE_CLIENT_ADDR", default_value = "127.0.0.1:2181")]
    pub client_addr: SocketAddr,

    /// Directory holding the Raft log, vote and snapshots (created if missing).
    #[arg(long, env = "ZK_NODE_DATA_DIR", default_value = "./zk-data")]
    pub data_dir: PathBuf,

    /// The basic time unit in ms (ZooKeeper's tickTime): session expiry is checked once per
    /// tick, and the session-timeout bounds default to 2 and 20 ticks.
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

    /// Take a state snapshot (and purge the Raft log before it) at most every this many
    /// entries; in an ensemble each member at its own point between half and all of it, so
    /// members do not all pause for a snapshot at once.
    #[arg(long, env = "ZK_NODE_SNAPSHOT_EVERY", default_value_t = 10_000)]
    pub snapshot_every: u64,

    /// In an ensemble, how many Raft log entries before each snapshot are kept, so a member a
    /// little behind catches up from the log instead of a whole snapshot.
    #[arg(long, env = "ZK_NODE_LOG_KEEP", default_value_t = 1000)]
    pub log_keep: u64,

    /// Log filter: a level (error, warn, info, debug, trace) or tracing directives such as
    /// `info,zk_node=debug` (the default keeps openraft's own chatter at warn).
    #[arg(long, env = "ZK_NODE_LOG_LEVEL", default_value = "info,openraft=warn")]
    pub log_level: String,

    /// Four-letter words answered on the client port: a comma-separated list (ruok, srvr,
    /// stat, mntr, conf, envi, cons, wchs, isro, …) or `*` for all of them.
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

    /// Do not serve: ask the node at this client address `ruok` and exit 0 if it answers
    /// `imok`, 1 otherwise (a container healthcheck; needs `ruok` in that node's --4lw).
    #[arg(long, value_name = "ADDR")]
    pub health_check: Option<SocketAddr>,
}

/// Why the flags do not make a working configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The session-timeout bounds are inconsistent.
    #[error("session timeout bounds: {0}")]
    Timeouts(#[from] zk_session::TimeoutError),
    /// A value that must be positive is zero.
    #[error("--{0} must be greater than 0")]
    Zero(&'static str),
    /// --id is not one of the --peers.
    #[error("--id {id} is not a member of --peers {peers}")]
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
    pub listen: SocketAddr,
    /// Members dialed at another address than their --peers entry.
    pub dial: BTreeMap<u64, String>,
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
    /// Snapshot interval in entries.
    pub snapshot_every: u64,
    /// Log entries kept before a snapshot (ensemble).
    pub log_keep: u64,
    /// Enabled four-letter words.
    pub four_letter_words: AllowList,
    /// Container/TTL cleaner interval.
    pub container_check: Duration,
    /// TTL nodes allowed.
    pub ttl_nodes: bool,
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
                let Some(port) = peers.port_of(self.id) else {
                    return Err(ConfigError::NotAMember {
                        id: self.id,
                        peers: peers.to_string(),
                    });
                };
                let listen = self
                    .peer_listen
                    .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], port)));
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
                Some(Ensemble {
                    peers: peers.clone(),
                    listen,
                    dial,
                })
            }
        };
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
            data_dir: self.data_dir.clone(),
            tick: Duration::from_millis(u64::from(tick)),
            timeouts,
            max_frame_bytes: self.max_frame_bytes,
            max_connections_per_ip: self.max_connections_per_ip,
            snapshot_every: self.snapshot_every,
            log_keep: self.log_keep,
            four_letter_words: self.four_letter_words.clone(),
            container_check: Duration::from_millis(self.container_check_ms),
            ttl_nodes: self.ttl_nodes,
        })
    }
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

    /// A typo in a flag is refused by name, never ignored.
    #[test]
    fn flag_typo_is_an_error() {
        let err = parse(&["--tick-msec", "10"]).err();
        let msg = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(msg.contains("--tick-msec"), "{msg}");
    }

    /// --peers: the listen address defaults to all interfaces on this node's port; an id
    /// outside the list is refused by name.
    #[test]
    fn peers_and_listen() {
        let c = parse(&["--id", "2", "--peers", "1=a:2888,2=b:2889,3=c:2890"]).ok();
        let e = c.and_then(|c| c.settings().ok()).and_then(|s| s.ensemble);
        assert_eq!(
            e.map(|e| e.listen.to_string()),
            Some("0.0.0.0:2889".to_string())
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
