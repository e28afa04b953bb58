//! A running member of an ensemble and what the node layer does with it: propose commands,
//! report session activity, learn the role, find the commit point for `sync`, shut down.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use openraft::async_runtime::WatchReceiver;
use openraft::ReadPolicy;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::cluster::ProposeError;
use crate::cluster::RaftTiming;
use crate::cluster::Role;
use crate::cluster::Standing;
use crate::cluster::StartError;
use crate::command::Command;
use crate::grpc::activity::ActivityHandler;
use crate::grpc::activity::ActivitySlot;
use crate::grpc::activity::Touch;
use crate::grpc::channels::Channels;
use crate::grpc::forward_out::Forwarder;
use crate::grpc::identity::Identity;
use crate::grpc::pb;
use crate::grpc::server::ServerHandle;
use crate::grpc::submit::Proposer;
use crate::log_store::AcceptedIndex;
use crate::metrics::ConsensusMetrics;
use crate::state_machine::SharedState;
use crate::storage::Released;
use crate::submitter::OnRefused;
use crate::submitter::Submitter;
use crate::types::NodeId;
use crate::types::ZkRaft;

/// Background tasks of a node, aborted when it is dropped or shut down.
pub(crate) struct Tasks(pub(crate) Vec<JoinHandle<()>>);

impl Drop for Tasks {
    fn drop(&mut self) {
        for t in &self.0 {
            t.abort();
        }
    }
}

/// A running member of an ensemble. Call [`ClusterNode::shutdown`] to stop it cleanly;
/// dropping it stops its network and tasks without waiting for the data dir's release.
pub struct ClusterNode {
    /// The Raft instance (metrics, `wait`, and `client_write` when this node leads).
    pub raft: ZkRaft,
    /// The applied state, for local reads.
    pub state: SharedState,
    pub(crate) accepted: AcceptedIndex,
    pub(crate) id: NodeId,
    pub(crate) identity: Identity,
    pub(crate) channels: Channels,
    pub(crate) timing: RaftTiming,
    pub(crate) role: watch::Receiver<Role>,
    pub(crate) forwarder: Forwarder,
    pub(crate) proposer: Proposer,
    pub(crate) submitter: Submitter,
    pub(crate) activity: ActivitySlot,
    /// The peer server; none for a lone member (nobody to serve).
    pub(crate) server: Option<ServerHandle>,
    pub(crate) tasks: Tasks,
    pub(crate) released: Released,
    pub(crate) metrics: Arc<ConsensusMetrics>,
}

impl std::fmt::Debug for ClusterNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterNode")
            .field("id", &self.id)
            .field("role", &*self.role.borrow())
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl ClusterNode {
    /// This node's id.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The address the peer server is bound to (useful with port 0); none for a lone
    /// member, which serves no peers.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.server.as_ref().map(ServerHandle::local_addr)
    }

    /// True while this member leads (as last published on [`ClusterNode::role`]: no lock,
    /// no allocation, for the request path).
    pub fn is_leader(&self) -> bool {
        let r = self.role.borrow();
        r.is_leader && r.leader == Some(self.id)
    }

    /// What this member's storage measures for monitoring (log syncs, snapshots, start-up,
    /// snapshots sent).
    pub fn metrics(&self) -> &Arc<ConsensusMetrics> {
        &self.metrics
    }

    /// The index of the last entry this member's log holds, flushed or not (one atomic
    /// load, for the request path): see [`AcceptedIndex`].
    pub fn accepted_index(&self) -> u64 {
        self.accepted.get()
    }

    /// How this member stands in Raft now (role, leader, quorum, log and applied indexes).
    pub fn standing(&self) -> Standing {
        Standing::from_metrics(&self.raft.metrics().borrow_watched())
    }

    /// Follows the standing as it changes.
    pub fn watch_standing(&self) -> crate::cluster::StandingWatch {
        crate::cluster::StandingWatch(self.raft.metrics())
    }

    /// Follows role, leader, vote and membership changes only.
    pub fn watch_roles(&self) -> crate::cluster::RoleChanges {
        crate::cluster::RoleChanges {
            changes: self.raft.server_metrics(),
            metrics: self.raft.metrics(),
        }
    }

    /// How long ago this member last heard from the leader it follows; on the leader, since
    /// it became leader; `None` if it follows none or Raft has stopped.
    pub async fn leader_heard_ago(&self) -> Option<Duration> {
        crate::cluster::prevote::leader_heard_ago(&self.raft).await
    }

    /// Who leads, as this node knows it; changes are published as they happen.
    pub fn role(&self) -> watch::Receiver<Role> {
        self.role.clone()
    }

    /// Hands a command accepted by this node to the leader's log, without waiting.
    ///
    /// On the leader it is queued for its own log; on a follower, on the ONE ordered
    /// forwarding stream to the leader. Either way commands enter the log in the order their
    /// `submit` calls were made, and this returns at once. Its outcome then arrives, on every
    /// node, through the apply hook (by [`Origin`](crate::Origin)). `on_refused`
    /// runs instead if it was not handed to a leader (none known, link broken, refused) or its
    /// fate is unknown. Taken into a leader's log, it can still be lost if that leader fails
    /// before committing it, so a node fails waiting requests when the leader changes.
    pub fn submit(&self, cmd: Command, on_refused: OnRefused) {
        let leader = self.role.borrow().leader;
        match leader {
            None => on_refused(ProposeError::NoLeader),
            Some(l) if l == self.id => self.submitter.submit(cmd, on_refused),
            Some(l) => self.forwarder.send(
                l,
                &cmd,
                Box::new(move |res| {
                    if let Err(e) = res {
                        on_refused(e);
                    }
                }),
            ),
        }
    }

    /// [`ClusterNode::submit`], waiting until the leader has taken the command into its log.
    ///
    /// `Err`: not handed to a leader (none known, link broken, refused), or fate unknown.
    pub async fn propose(&self, cmd: Command) -> Result<(), ProposeError> {
        let leader = self.role.borrow().leader;
        match leader {
            None => Err(ProposeError::NoLeader),
            Some(l) if l == self.id => {
                let submitted = self.proposer.submit(vec![cmd]).await;
                match submitted.refused {
                    Some(e) if submitted.accepted == 0 => Err(e),
                    _ => Ok(()),
                }
            }
            Some(l) => {
                let (tx, rx) = tokio::sync::oneshot::channel();
                self.forwarder.send(
                    l,
                    &cmd,
                    Box::new(move |res| {
                        let _ = tx.send(res);
                    }),
                );
                rx.await.unwrap_or_else(|_| {
                    Err(ProposeError::Link {
                        leader: l,
                        reason: "forwarding stream dropped".to_string(),
                    })
                })
            }
        }
    }

    /// Sends the sessions touched here (with how long ago) to the leader, not as a Raft
    /// entry; on the leader itself, hands them to the activity handler directly. True if
    /// the leader got them; false if there is no leader, the call failed, or the receiver
    /// was not the leader (the caller keeps them for the next report).
    pub async fn report_activity(&self, touches: &[Touch]) -> bool {
        let leader = self.role.borrow().leader;
        let Some(leader) = leader else {
            tracing::debug!(n = touches.len(), "activity not reported: no leader");
            return false;
        };
        if leader == self.id {
            self.activity.deliver(self.id, touches);
            return true;
        }
        let Some(ch) = self.channels.get(leader) else {
            return false;
        };
        let mut req = tonic::Request::new(pb::ActivityReport {
            caller: Some(self.identity.caller(leader)),
            sessions: touches.iter().map(|t| t.0).collect(),
            ages_ms: touches.iter().map(|t| t.1).collect(),
        });
        req.set_timeout(self.timing.rpc_timeout);
        let mut client = ch.client();
        let call = client.report_activity(req);
        match tokio::time::timeout(self.timing.rpc_timeout, call).await {
            Ok(Ok(reply)) if reply.get_ref().leader => true,
            Ok(Ok(_)) => {
                tracing::debug!(leader, "activity report reached a node no longer leading");
                false
            }
            Ok(Err(status)) => {
                tracing::debug!(leader, %status, "activity report failed");
                false
            }
            Err(_) => {
                tracing::debug!(leader, "activity report timed out");
                false
            }
        }
    }

    /// Installs (or replaces) the handler of activity reports, called on this node while it
    /// leads with `(reporting node, session ids)`; also called for reports that arrive while
    /// it does not lead (a report racing an election), which the handler may ignore.
    pub fn set_activity_handler(&self, f: ActivityHandler) {
        self.activity.set(f);
    }

    /// The log index this node must have applied before answering a `sync`: the leader's
    /// read index (its commit point, with its leadership confirmed by a quorum).
    pub async fn sync_point(&self) -> Result<u64, ProposeError> {
        let leader = self.role.borrow().leader;
        let Some(leader) = leader else {
            return Err(ProposeError::NoLeader);
        };
        if leader == self.id {
            return match self.raft.get_read_log_id(ReadPolicy::ReadIndex).await {
                Ok((read, _)) => Ok(read.index()),
                Err(e) => Err(ProposeError::NotLeader {
                    node: self.id,
                    leader: e.forward_to_leader().and_then(|f| f.leader_id),
                    reason: e.to_string(),
                }),
            };
        }
        let ch = self
            .channels
            .get(leader)
            .ok_or_else(|| ProposeError::Link {
                leader,
                reason: "not in this node's --peers".to_string(),
            })?;
        let mut req = tonic::Request::new(pb::ReadIndexRequest {
            caller: Some(self.identity.caller(leader)),
        });
        req.set_timeout(self.timing.rpc_timeout);
        let mut client = ch.client();
        let call = client.read_index(req);
        match tokio::time::timeout(self.timing.rpc_timeout, call).await {
            Ok(Ok(reply)) => Ok(reply.into_inner().index),
            Ok(Err(status)) if status.code() == tonic::Code::FailedPrecondition => {
                Err(ProposeError::NotLeader {
                    node: leader,
                    leader: None,
                    reason: status.message().to_string(),
                })
            }
            Ok(Err(status)) => Err(ProposeError::Link {
                leader,
                reason: format!("{}: {}", status.code(), status.message()),
            }),
            Err(_) => Err(ProposeError::Link {
                leader,
                reason: format!("no read index within {:?}", self.timing.rpc_timeout),
            }),
        }
    }

    /// Waits up to `timeout` until a leader is known; returns it.
    pub async fn wait_for_leader(&self, timeout: Duration) -> Option<NodeId> {
        let mut role = self.role.clone();
        let found = tokio::time::timeout(timeout, role.wait_for(|r| r.leader.is_some())).await;
        match found {
            Ok(Ok(r)) => r.leader,
            _ => None,
        }
    }

    /// Stops the network and Raft and waits (up to `timeout` for each step) until the data
    /// dir is released, so it can be opened again at once.
    pub async fn shutdown(self, timeout: Duration) -> Result<(), StartError> {
        drop(self.tasks);
        self.forwarder.close();
        if let Some(server) = self.server {
            server.stop(timeout).await;
        }
        let joined = self.raft.shutdown().await;
        drop(self.raft);
        tokio::time::timeout(timeout, self.released.wait())
            .await
            .map_err(|_| {
                StartError::Shutdown(format!("data dir still in use after {timeout:?}"))
            })?;
        joined.map_err(|e| StartError::Shutdown(e.to_string()))
    }
}
