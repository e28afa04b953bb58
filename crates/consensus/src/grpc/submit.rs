//! Putting commands into the leader's log in a given order, knowing which ones made it.
//!
//! `client_write_ff` only queues a command for Raft's core; whether the core appended it or
//! refused it (not leader) shows up on its responder. The core handles its API messages in
//! order, so after one more round trip through it (`with_raft_state`, a barrier) every
//! command queued before has been appended or refused: a refused responder is ready by then,
//! an appended one stays pending until the entry is applied.

use openraft::error::ClientWriteError;
use openraft::raft::ClientWriteResult;
use tokio::sync::mpsc;
use tokio::sync::oneshot;
use tokio::sync::oneshot::error::TryRecvError;
use tokio::task::JoinHandle;

use crate::cluster::ProposeError;
use crate::command::Command;
use crate::types::NodeId;
use crate::types::TypeConfig;
use crate::types::ZkRaft;

/// What `client_write_ff` returns (openraft's default responder over tokio).
type Responder = oneshot::Receiver<ClientWriteResult<TypeConfig>>;

/// The outcome of [`Proposer::submit`]: the first `accepted` commands are in the log, in
/// order; the rest are not known to be (the reason is `refused`).
#[derive(Debug)]
pub(crate) struct Submitted {
    pub(crate) accepted: usize,
    pub(crate) refused: Option<ProposeError>,
}

/// Proposes on this node's Raft. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Proposer {
    raft: ZkRaft,
    me: NodeId,
    /// Responders are kept until Raft answers them. Nobody reads the answer (the outcome
    /// reaches every node through the apply hook), but openraft logs a warning for every
    /// answer sent to a dropped responder.
    keep: mpsc::UnboundedSender<Responder>,
}

impl Proposer {
    /// A proposer, and the task that holds responders until they are answered (in log
    /// order, the order Raft answers them); it ends when every proposer is gone.
    pub(crate) fn spawn(raft: ZkRaft, me: NodeId) -> (Self, JoinHandle<()>) {
        let (keep, mut held) = mpsc::unbounded_channel::<Responder>();
        let task = tokio::spawn(async move {
            while let Some(rx) = held.recv().await {
                let _ = rx.await;
            }
        });
        (Proposer { raft, me, keep }, task)
    }

    /// The Raft this proposes on.
    pub(crate) fn raft(&self) -> &ZkRaft {
        &self.raft
    }

    /// Queues `cmd` without waiting to learn whether it was appended.
    pub(crate) async fn fire_and_forget(&self, cmd: Command) -> Result<(), ProposeError> {
        let rx = self
            .raft
            .client_write_ff(cmd)
            .await
            .map_err(|f| ProposeError::Stopped(f.to_string()))?;
        let _ = self.keep.send(rx);
        Ok(())
    }

    /// Appends `cmds` to this leader's log in order; stops at the first refusal.
    pub(crate) async fn submit(&self, cmds: Vec<Command>) -> Submitted {
        let mut pending = Vec::with_capacity(cmds.len());
        let mut refused = None;
        for cmd in cmds {
            match self.raft.client_write_ff(cmd).await {
                Ok(rx) => pending.push(rx),
                Err(fatal) => {
                    refused = Some(ProposeError::Stopped(fatal.to_string()));
                    break;
                }
            }
        }
        if let Err(fatal) = self.raft.with_raft_state(|_| ()).await {
            return Submitted {
                accepted: 0,
                refused: Some(ProposeError::Stopped(fatal.to_string())),
            };
        }
        let mut accepted = 0;
        let mut pending = pending.into_iter();
        for mut rx in pending.by_ref() {
            let failure = match rx.try_recv() {
                // Waiting to be applied: it is in the log.
                Err(TryRecvError::Empty) => {
                    let _ = self.keep.send(rx);
                    None
                }
                // Already applied.
                Ok(Ok(_)) => None,
                Ok(Err(ClientWriteError::ForwardToLeader(f))) => Some(ProposeError::NotLeader {
                    node: self.me,
                    leader: f.leader_id,
                    reason: "not the leader".to_string(),
                }),
                Ok(Err(other)) => Some(ProposeError::NotLeader {
                    node: self.me,
                    leader: None,
                    reason: other.to_string(),
                }),
                Err(TryRecvError::Closed) => Some(ProposeError::Stopped(
                    "raft dropped the proposal".to_string(),
                )),
            };
            if let Some(e) = failure {
                refused = Some(e);
                break;
            }
            accepted += 1;
        }
        // Behind a refusal: not reported as accepted, but kept like the others.
        for rx in pending {
            let _ = self.keep.send(rx);
        }
        Submitted { accepted, refused }
    }
}
