//! How to run a member of an ensemble: identity, peers, timers, snapshots.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::net::SocketAddr;
use std::time::Duration;

use openraft::Config;
use openraft::SnapshotPolicy;
use zk_session::ClusterSecret;
use zk_store::TreeConfig;

use crate::cluster::ClusterError;
use crate::membership::MemberAddr;
use crate::state_machine::ApplyHook;
use crate::types::NodeId;

/// Raft's timers and the network's timeouts.
///
/// openraft (0.9 and 0.10) lets a follower campaign only after `election_max` (its leader lease) *plus*
/// its own random election timeout in `election_min..election_max` have passed without a
/// heartbeat. Our election driver (`cluster::prevote`) keeps that rule; with the defaults a
/// follower stands 260–320 ms after the dead leader's last heartbeat (see docs/consensus.md:
/// 30 ms / 80–120 ms was tried and saw elections during snapshots of a large tree).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RaftTiming {
    /// Leader heartbeat interval; also the deadline of one heartbeat (replication streams
    /// have none).
    pub heartbeat: Duration,
    /// Lower bound of the random election timeout; also the timeout of a RequestVote RPC.
    pub election_min: Duration,
    /// Upper bound (exclusive) of the random election timeout, and the leader lease.
    pub election_max: Duration,
    /// Timeout of the other peer RPCs (forwarding acknowledgements, activity reports, read
    /// index), of opening a connection or a replication stream, and how long a write waits
    /// for a leader's lapsed lease to come back.
    pub rpc_timeout: Duration,
    /// A snapshot transfer fails when no chunk was taken for this long, or no answer came
    /// this long after the last chunk (the receiver installs it first).
    pub snapshot_timeout: Duration,
    /// Longest wait between retries to an unreachable peer (the back-off doubles up to it).
    pub max_backoff: Duration,
}

impl Default for RaftTiming {
    fn default() -> Self {
        RaftTiming {
            heartbeat: Duration::from_millis(40),
            election_min: Duration::from_millis(100),
            election_max: Duration::from_millis(160),
            rpc_timeout: Duration::from_secs(2),
            snapshot_timeout: Duration::from_secs(10),
            max_backoff: Duration::from_millis(500),
        }
    }
}

/// How to run one member of an ensemble.
#[derive(Clone)]
pub struct ClusterConfig {
    /// This node's id; a key of `peers`, unless the node joins a formed ensemble.
    pub node_id: NodeId,
    /// The members to start from (`host:port`, host names allowed): on a first start the
    /// ensemble is formed with them (every founding member needs the same list), or, if one
    /// of them says the ensemble is formed, they are whom this node asks. Afterwards the
    /// membership is Raft's, changed by reconfig.
    pub peers: BTreeMap<NodeId, String>,
    /// The members of `peers` that are observers (ZooKeeper's `:observer`): the ensemble is
    /// formed with the others as voters, and its first leader adds these as non-voting
    /// members. An observer never forms the ensemble itself. Every founding member needs the
    /// same set.
    pub observers: std::collections::BTreeSet<NodeId>,
    /// What founding members' membership records say beyond their `peers` address: the
    /// election port and client address their `--peers` entry or `server.N` line gave
    /// (`host:peerPort[:electionPort][;clientHost:clientPort]`, no observer mark: that is
    /// `observers`), so `/zookeeper/config` shows them as ZooKeeper does and its lines can be
    /// given back to `reconfig`. A member not here is formed with its `peers` address alone.
    /// Like `peers`, every founding member needs the same records: they are part of the
    /// ensemble's id, so members given different ones refuse each other.
    pub records: BTreeMap<NodeId, String>,
    /// Where this node's peer gRPC server listens.
    pub listen: SocketAddr,
    /// Members to dial at another address than their `peers` entry (a proxy or NAT in
    /// between). It changes only where this node connects, never the identity every member
    /// checks, so tests can route one link through a fault-injecting proxy.
    pub dial: BTreeMap<NodeId, String>,
    /// Take a snapshot every this many applied commands, as ZooKeeper's `snapCount` counts
    /// transactions (the log before it is then purged); each member at its own point between
    /// half and all of it (see [`staggered_snapshot_threshold`]).
    pub snapshot_every: u64,
    /// How many entries before a snapshot to keep in the log, so a follower slightly behind
    /// catches up from the log instead of a whole snapshot.
    pub keep_log: u64,
    /// Tree options (equal on every replica).
    pub tree_config: TreeConfig,
    /// An operator-supplied cluster secret, committed by the first leader if the ensemble has
    /// none yet; a random one is generated when `None`.
    pub secret: Option<ClusterSecret>,
    /// Raft's timers and the network's timeouts.
    pub timing: RaftTiming,
    /// How long `start_cluster` waits to see a leader before returning the node anyway (an
    /// ensemble whose other members start later is not an error); zero: do not wait.
    pub start_timeout: Duration,
    /// A sync of the Raft log slower than this is counted and logged as a warning
    /// (ZooKeeper's `fsync.warningthresholdms`, default 1000 ms).
    pub fsync_warning_threshold: Duration,
    /// An apply hook installed before Raft starts, so it sees every entry from the first
    /// (a hook set later with `SharedState::set_apply_hook` misses whatever a leader
    /// replicated to this node in between).
    pub apply_hook: Option<ApplyHook>,
    /// Mutual TLS with the other members (ZooKeeper's sslQuorum); `None`: plain text.
    pub peer_tls: Option<crate::PeerTls>,
    /// How long a reconfig may take on the leader: its joining members catching up, a
    /// quorum of the new voters caught up, and the change committed; past it the request
    /// is answered NewConfigNoQuorum.
    pub reconfig_timeout: Duration,
    /// Clients may change the membership with `reconfig` (ZooKeeper's `reconfigEnabled`),
    /// judged as ZooKeeper judges it: by the leader that logs the request, whatever the
    /// setting of the member the client is connected to.
    pub reconfig_enabled: bool,
    /// Restart this member as the only voter of its ensemble from its own data, for an
    /// ensemble that lost its quorum for good (see `cluster::recovery`): what the lost
    /// members had acknowledged and this one had not received is lost. The caller asks the
    /// operator for a confirmation first.
    pub force_recovery: bool,
}

impl std::fmt::Debug for ClusterConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterConfig")
            .field("node_id", &self.node_id)
            .field("peers", &self.peers)
            .field("observers", &self.observers)
            .field("records", &self.records)
            .field("listen", &self.listen)
            .field("dial", &self.dial)
            .field("snapshot_every", &self.snapshot_every)
            .field("keep_log", &self.keep_log)
            .field("tree_config", &self.tree_config)
            .field("secret", &self.secret)
            .field("timing", &self.timing)
            .field("start_timeout", &self.start_timeout)
            .field("fsync_warning_threshold", &self.fsync_warning_threshold)
            .field("apply_hook", &self.apply_hook.as_ref().map(|_| "<set>"))
            .field("peer_tls", &self.peer_tls.is_some())
            .field("reconfig_timeout", &self.reconfig_timeout)
            .field("reconfig_enabled", &self.reconfig_enabled)
            .field("force_recovery", &self.force_recovery)
            .finish()
    }
}

impl ClusterConfig {
    /// Defaults for member `node_id` of `peers`: listens on `0.0.0.0:<its own port>`,
    /// a snapshot every 10 000 entries keeping 1 000 before it, default timing, a generated
    /// secret, up to 3 s to see a leader at start.
    ///
    /// A lone member (a one-node ensemble) binds no peer port, so its address is only a
    /// name recorded in its membership (zk-node's is `standalone` without `--peers`).
    pub fn new(node_id: NodeId, peers: BTreeMap<NodeId, String>) -> Result<Self, ClusterError> {
        let own = peers
            .get(&node_id)
            .ok_or_else(|| ClusterError::NotAMember(node_id, peers.clone()))?;
        let port = match port_of(own) {
            Some(port) => port,
            None if peers.len() == 1 => 0,
            None => return Err(ClusterError::BadAddress(own.clone())),
        };
        Ok(ClusterConfig {
            node_id,
            listen: SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)),
            dial: BTreeMap::new(),
            peers,
            observers: std::collections::BTreeSet::new(),
            records: BTreeMap::new(),
            snapshot_every: 100_000,
            keep_log: 1_000,
            tree_config: TreeConfig::default(),
            secret: None,
            timing: RaftTiming::default(),
            start_timeout: Duration::from_secs(3),
            fsync_warning_threshold: crate::metrics::DEFAULT_FSYNC_WARNING_THRESHOLD,
            apply_hook: None,
            peer_tls: None,
            reconfig_timeout: Duration::from_secs(10),
            reconfig_enabled: false,
            force_recovery: false,
        })
    }

    /// Defaults for node `node_id` joining the ensemble whose members include `peers` (it is
    /// not one of them): it listens for peers on `listen` and waits to be added by reconfig.
    pub fn joining(
        node_id: NodeId,
        peers: BTreeMap<NodeId, String>,
        listen: SocketAddr,
    ) -> Result<Self, ClusterError> {
        let (&first, _) = peers
            .iter()
            .next()
            .ok_or_else(|| ClusterError::NotAMember(node_id, peers.clone()))?;
        let mut c = ClusterConfig::new(first, peers)?;
        c.node_id = node_id;
        c.listen = listen;
        c.validate()?;
        Ok(c)
    }

    /// Checks what openraft would otherwise reject later or silently misbehave on.
    pub(crate) fn validate(&self) -> Result<(), ClusterError> {
        if self.peers.is_empty() {
            return Err(ClusterError::NotAMember(self.node_id, self.peers.clone()));
        }
        // A node outside `peers` joins an ensemble formed by them.
        let alone = self.peers.len() == 1 && self.peers.contains_key(&self.node_id);
        if let Some(bad) = self.peers.values().find(|a| !alone && port_of(a).is_none()) {
            return Err(ClusterError::BadAddress(bad.clone()));
        }
        if let Some(bad) = self.dial.values().find(|a| port_of(a).is_none()) {
            return Err(ClusterError::BadAddress(bad.clone()));
        }
        if let Some(&stranger) = self
            .dial
            .keys()
            .find(|&&id| id == self.node_id || !self.peers.contains_key(&id))
        {
            return Err(ClusterError::NotAPeer(stranger));
        }
        if let Some(&stranger) = self
            .observers
            .iter()
            .find(|id| !self.peers.contains_key(id))
        {
            return Err(ClusterError::ObserverNotAPeer(stranger));
        }
        for (&id, record) in &self.records {
            let fits = self.peers.get(&id).is_some_and(|addr| {
                MemberAddr::parse(record).is_some_and(|m| !m.observer && &m.dial() == addr)
            });
            if !fits {
                return Err(ClusterError::BadRecord(id, record.clone()));
            }
        }
        // The voters form the ensemble; one of them must be there to lead.
        if self.peers.keys().all(|id| self.observers.contains(id)) {
            return Err(ClusterError::NoVoters);
        }
        let t = &self.timing;
        if t.heartbeat.is_zero()
            || t.heartbeat >= t.election_min
            || t.election_min >= t.election_max
        {
            return Err(ClusterError::Timing(*t));
        }
        Ok(())
    }

    /// Every founding member's membership record (without the observer mark): its entry in
    /// `records`, else its `peers` address. Also what the ensemble's id is computed from, so
    /// a list with nothing more than addresses gives the id it always gave.
    pub(crate) fn founding_records(&self) -> BTreeMap<NodeId, String> {
        self.peers
            .iter()
            .map(|(id, addr)| (*id, self.records.get(id).unwrap_or(addr).clone()))
            .collect()
    }

    /// openraft's config for these settings.
    pub(crate) fn raft_config(&self) -> Result<Config, ClusterError> {
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let t = &self.timing;
        Config {
            cluster_name: "zk-raft".to_string(),
            heartbeat_interval: ms(t.heartbeat),
            election_timeout_min: ms(t.election_min),
            election_timeout_max: ms(t.election_max),
            install_snapshot_timeout: ms(t.snapshot_timeout),
            // Counted in commands by `cluster::snapshots`, not in entries by openraft.
            snapshot_policy: SnapshotPolicy::Never,
            max_in_snapshot_log_to_keep: self.keep_log,
            purge_batch_size: 1,
            // Elections start only after a pre-vote round (cluster::prevote).
            enable_elect: false,
            // The leader hands an entry to replication as soon as its own append is
            // submitted (readable), not once it is flushed: its fsync runs alongside the
            // followers'. A commit still needs a majority of flushed copies, the leader's
            // own counting only once flushed.
            broadcast_submitted_on_append: Some(true),
            // A follower whose disk was lost comes back with an empty log; without this the
            // leader treats that as a bug (a panic) instead of sending it a snapshot.
            allow_log_reversion: Some(true),
            // A restarted leader must win an election again. openraft 0.10 otherwise lets one
            // whose saved vote is its own committed one lead again at once, and says that is
            // unsafe where the state machine is not durable on apply and the committed id may
            // not be persisted: both hold here (the state is in memory, rebuilt from snapshot
            // and log; the committed id rides on the next sync). Found by zk-chaos (seed 44,
            // kill -9 of every member): a member restored as leader of its old term with a
            // stale state served it for 2 s while another was elected, and acknowledged writes
            // and ephemerals came out wrong.
            enable_leader_restore: Some(false),
            ..Config::default()
        }
        .validate()
        .map_err(ClusterError::Config)
    }
}

/// The port of `host:port` (IPv6 literals in brackets); `None` if missing or 0.
fn port_of(addr: &str) -> Option<u16> {
    let (host, port) = addr.rsplit_once(':')?;
    let port: u16 = port.parse().ok().filter(|&p| p != 0)?;
    let bracketed = host.starts_with('[') && host.ends_with(']');
    (!host.is_empty() && (bracketed || !host.contains(':'))).then_some(port)
}

/// How many entries member `id` lets pass between snapshots: somewhere in
/// `[every / 2, every]`, spread by the golden ratio so members 1, 2, 3 take 69 %, 88 % and
/// 57 % of it.
///
/// Why: encoding a snapshot holds the state lock (apply waits) for a time that grows with the
/// tree, ~260 ms for 500k znodes. With one threshold for all, every member reached it at the
/// same log index and all paused at once: no write was answered anywhere meanwhile
/// (`bench/compare.sh`'s failover runs saw 1 s write gaps). Staggered, the pauses rarely
/// overlap, and clients of the other members go on. ZooKeeper randomises its `snapCount`
/// the same way for the same reason.
pub fn staggered_snapshot_threshold(every: u64, id: NodeId) -> u64 {
    const SCALE: u64 = 1_000_000;
    // frac(id × 0.618034): well spread for any run of consecutive ids.
    let frac = id.wrapping_mul(618_034) % SCALE;
    let spread = every / 2;
    let cut = (u128::from(spread) * u128::from(frac) / u128::from(SCALE)) as u64;
    (every - cut).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peers() -> BTreeMap<NodeId, String> {
        BTreeMap::from([
            (1, "zk1:2888".to_string()),
            (2, "10.0.0.2:2888".to_string()),
            (3, "[::1]:2890".to_string()),
        ])
    }

    #[test]
    fn members_snapshot_at_distinct_points_within_half_and_all() {
        let every = 10_000;
        let t: Vec<u64> = (1..=5)
            .map(|id| staggered_snapshot_threshold(every, id))
            .collect();
        assert_eq!(t, vec![6910, 8820, 5730, 7640, 9550]);
        assert!(t.iter().all(|x| (every / 2..=every).contains(x)), "{t:?}");
        assert_eq!(staggered_snapshot_threshold(1, 1), 1);
        assert!(staggered_snapshot_threshold(u64::MAX, 3) >= u64::MAX / 2);
    }

    #[test]
    fn new_listens_on_the_own_port_of_every_interface() {
        let c = ClusterConfig::new(3, peers()).unwrap();
        assert_eq!(c.listen, "0.0.0.0:2890".parse().unwrap());
        c.validate().unwrap();
        c.raft_config().unwrap();
    }

    /// A one-node ensemble binds no peer port: its address need not be one.
    #[test]
    fn a_lone_member_needs_no_peer_address() {
        let alone = BTreeMap::from([(1, "standalone".to_string())]);
        let c = ClusterConfig::new(1, alone.clone()).unwrap();
        c.validate().unwrap();
        let mut two = alone;
        two.insert(2, "zk2:2888".to_string());
        assert!(matches!(
            ClusterConfig::new(1, two),
            Err(ClusterError::BadAddress(a)) if a == "standalone"
        ));
    }

    /// A node outside its peers joins them: it listens where it is told.
    #[test]
    fn a_joining_node_listens_where_told() {
        let listen: SocketAddr = "127.0.0.1:7004".parse().unwrap();
        let c = ClusterConfig::joining(4, peers(), listen).unwrap();
        assert_eq!((c.node_id, c.listen), (4, listen));
        assert!(ClusterConfig::joining(4, BTreeMap::new(), listen).is_err());
    }

    #[test]
    fn a_node_outside_its_peers_is_refused() {
        let err = ClusterConfig::new(4, peers()).unwrap_err();
        assert!(err.to_string().contains("node 4"), "{err}");
    }

    #[test]
    fn bad_addresses_and_timers_are_refused() {
        for bad in ["zk1", "zk1:0", "::1:80", ":80", "zk1:http"] {
            assert_eq!(port_of(bad), None, "{bad}");
        }
        let mut c = ClusterConfig::new(1, peers()).unwrap();
        c.peers.insert(2, "nope".to_string());
        assert!(matches!(c.validate(), Err(ClusterError::BadAddress(_))));
        let mut c = ClusterConfig::new(1, peers()).unwrap();
        c.timing.election_min = c.timing.election_max;
        assert!(matches!(c.validate(), Err(ClusterError::Timing(_))));
    }

    /// A founding record adds an election port and client address to its member's peer
    /// address; one for another address, an observer mark or a stranger is refused.
    #[test]
    fn founding_records_extend_the_peer_addresses() {
        let mut c = ClusterConfig::new(1, peers()).unwrap();
        c.records
            .insert(1, "zk1:2888:3888;0.0.0.0:2181".to_string());
        c.validate().unwrap();
        let founding = c.founding_records();
        assert_eq!(founding[&1], "zk1:2888:3888;0.0.0.0:2181");
        assert_eq!(founding[&2], "10.0.0.2:2888");
        assert_eq!(
            ClusterConfig::new(1, peers()).unwrap().founding_records(),
            peers(),
            "addresses alone: the list as it was"
        );
        for (id, bad) in [
            (1, "zk1:2889:3888;0.0.0.0:2181"),
            (1, "zk1:2888:3888:observer"),
            (4, "zk4:2888"),
            (2, "nonsense"),
        ] {
            let mut c = ClusterConfig::new(1, peers()).unwrap();
            c.records.insert(id, bad.to_string());
            assert!(
                matches!(c.validate(), Err(ClusterError::BadRecord(n, _)) if n == id),
                "{bad}"
            );
        }
    }

    #[test]
    fn dial_addresses_must_be_other_members_with_a_port() {
        let mut c = ClusterConfig::new(1, peers()).unwrap();
        c.dial.insert(2, "127.0.0.1:7002".to_string());
        c.validate().unwrap();
        for (id, addr) in [(1, "127.0.0.1:7001"), (4, "127.0.0.1:7004")] {
            let mut c = ClusterConfig::new(1, peers()).unwrap();
            c.dial.insert(id, addr.to_string());
            assert!(matches!(c.validate(), Err(ClusterError::NotAPeer(n)) if n == id));
        }
        let mut c = ClusterConfig::new(1, peers()).unwrap();
        c.dial.insert(3, "proxy".to_string());
        assert!(matches!(c.validate(), Err(ClusterError::BadAddress(_))));
    }
}
