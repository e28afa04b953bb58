//! The network of a one-node cluster: there are no peers, so every RPC is `Unreachable`.
//!
//! A one-voter cluster never sends an RPC (it commits on its own vote and log); if its
//! membership ever named another node, replication to it would fail visibly instead of
//! pretending to succeed. Ensembles use the gRPC network (`grpc/`) instead.

use std::io;

use openraft::error::InstallSnapshotError;
use openraft::error::RPCError;
use openraft::error::RaftError;
use openraft::error::Unreachable;
use openraft::network::RPCOption;
use openraft::network::RaftNetwork;
use openraft::network::RaftNetworkFactory;
use openraft::raft::AppendEntriesRequest;
use openraft::raft::AppendEntriesResponse;
use openraft::raft::InstallSnapshotRequest;
use openraft::raft::InstallSnapshotResponse;
use openraft::raft::VoteRequest;
use openraft::raft::VoteResponse;
use openraft::BasicNode;

use crate::types::NodeId;
use crate::types::TypeConfig;

/// Network factory of a one-node cluster: connections to any peer are unreachable.
#[derive(Debug, Clone, Copy, Default)]
pub struct OneNodeNetwork;

/// A "connection" to a peer of a one-node cluster; every RPC fails with `Unreachable`.
#[derive(Debug, Clone)]
pub struct UnreachablePeer {
    target: NodeId,
    addr: String,
}

impl UnreachablePeer {
    fn unreachable<E: std::error::Error>(&self) -> RPCError<NodeId, BasicNode, E> {
        let e = io::Error::new(
            io::ErrorKind::NotConnected,
            format!(
                "node {} ({}) is not reachable: this node runs without a network",
                self.target, self.addr
            ),
        );
        RPCError::Unreachable(Unreachable::new(&e))
    }
}

impl RaftNetworkFactory<TypeConfig> for OneNodeNetwork {
    type Network = UnreachablePeer;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> Self::Network {
        UnreachablePeer {
            target,
            addr: node.addr.clone(),
        }
    }
}

impl RaftNetwork<TypeConfig> for UnreachablePeer {
    async fn append_entries(
        &mut self,
        _rpc: AppendEntriesRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        Err(self.unreachable())
    }

    async fn install_snapshot(
        &mut self,
        _rpc: InstallSnapshotRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, BasicNode, RaftError<NodeId, InstallSnapshotError>>,
    > {
        Err(self.unreachable())
    }

    async fn vote(
        &mut self,
        _rpc: VoteRequest<NodeId>,
        _option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        Err(self.unreachable())
    }
}
