//! Why a member could not start, and why a proposal could not be handed to a leader.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use openraft::error::Fatal;
use openraft::error::InitializeError;
use openraft::error::RaftError;

use crate::cluster::config::RaftTiming;
use crate::error::MetaError;
use crate::error::OpenError;
use crate::types::NodeId;
use crate::types::TypeConfig;

/// Why the data dir, its state or Raft could not be opened (or stopped).
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The data dir cannot be opened.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// The data dir belongs to another node or ensemble.
    #[error(transparent)]
    Meta(#[from] MetaError),
    /// Reading the stored state failed.
    #[error("raft storage: {0}")]
    Storage(#[from] std::io::Error),
    /// openraft stopped.
    #[error("raft stopped: {0}")]
    Fatal(#[from] Fatal<TypeConfig>),
    /// The first membership could not be initialized.
    #[error("initialize: {0}")]
    Initialize(#[from] Box<RaftError<TypeConfig, InitializeError<TypeConfig>>>),
    /// The Raft tasks did not end cleanly at shutdown.
    #[error("raft shutdown: {0}")]
    Shutdown(String),
}

/// Why `start_cluster` failed.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// Opening the data dir, its recorded peers, its state or Raft itself failed (the data
    /// dir made with other `--peers` is `Start(StartError::Meta(MetaError::Mismatch))`).
    #[error(transparent)]
    Start(#[from] StartError),
    /// This node's id is not in its own peer list.
    #[error("node {0} is not in its peer list {1:?}")]
    NotAMember(NodeId, BTreeMap<NodeId, String>),
    /// A dial address names this node or a node that is not in the peer list.
    #[error("a dial address is given for node {0}, which is not another member")]
    NotAPeer(NodeId),
    /// An observer that is not in the peer list.
    #[error("node {0} is listed as an observer but is not in the peer list")]
    ObserverNotAPeer(NodeId),
    /// Every member of the peer list is an observer: nobody could lead.
    #[error("every member is an observer: an ensemble needs voting members (participants)")]
    NoVoters,
    /// A founding member's record is not its peer address with an election port and a
    /// client address (`ClusterConfig::records`).
    #[error(
        "the membership record `{1}` given for node {0} is not its peer address with an \
         election port and client address (host:peerPort[:electionPort][;clientHost:clientPort])"
    )]
    BadRecord(NodeId, String),
    /// A peer address is not `host:port`.
    #[error("peer address `{0}` is not host:port with a port of 1..65535")]
    BadAddress(String),
    /// The timers cannot work (heartbeat < election_min < election_max is required).
    #[error("raft timing needs 0 < heartbeat < election_min < election_max: {0:?}")]
    Timing(RaftTiming),
    /// openraft refused the derived config.
    #[error("raft config: {0}")]
    Config(openraft::ConfigError),
    /// A forced recovery (`ClusterConfig::force_recovery`) could not be done.
    #[error(transparent)]
    Recovery(#[from] crate::cluster::RecoveryError),
    /// The peer port cannot be bound.
    #[error("cannot listen for peers on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// Why a command (or a read-index request) could not be handed to a leader. The command was
/// not applied, or its fate is unknown (it may still be committed if the leader took it just
/// before the failure): treat it like ZooKeeper's connection loss.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProposeError {
    /// No leader is known (an election is under way, or this node is cut off).
    #[error("no leader is known")]
    NoLeader,
    /// The node asked is not (or no longer) the leader.
    #[error("node {node} is not the leader (leader: {leader:?}): {reason}")]
    NotLeader {
        /// The node that refused.
        node: NodeId,
        /// The leader it knows of, if any.
        leader: Option<NodeId>,
        /// What it said.
        reason: String,
    },
    /// The connection or forwarding stream to the leader failed before it accepted.
    #[error("link to leader {leader} failed: {reason}")]
    Link {
        /// The leader.
        leader: NodeId,
        /// What happened.
        reason: String,
    },
    /// The command cannot be encoded (never for a well-formed command).
    #[error("cannot encode the command: {0}")]
    Encode(String),
    /// Raft has stopped on this node (or on the leader).
    #[error("raft stopped: {0}")]
    Stopped(String),
}
