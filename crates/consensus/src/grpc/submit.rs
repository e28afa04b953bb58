//! Putting commands into the leader's log in a given order, knowing which ones made it.
//!
//! Commands go in as few entries as the limits allow ([`MAX_BATCH_COMMANDS`],
//! [`MAX_BATCH_BYTES`]): a [`Batch`] per entry, in order.
//!
//! `client_write_ff` only queues a command for Raft's core; whether the core appended it or
//! refused it (not leader) shows up on its responder. The core handles its API messages in
//! order, so after one more round trip through it (`with_raft_state`, a barrier) every
//! command queued before has been appended or refused: a refused responder is ready by then,
//! an appended one stays pending until the entry is applied.

use std::time::Duration;

use openraft::error::ClientWriteError;
use openraft::raft::ClientWriteResult;
use tokio::sync::mpsc;
use tokio::sync::oneshot;
use tokio::sync::oneshot::error::TryRecvError;
use tokio::task::JoinHandle;

use crate::cluster::ProposeError;
use crate::command::Batch;
use crate::command::Command;
use crate::types::NodeId;
use crate::types::TypeConfig;
use crate::types::ZkRaft;

/// What `client_write_ff` returns (openraft's default responder over tokio).
type Responder = oneshot::Receiver<ClientWriteResult<TypeConfig>>;

/// Most commands in one entry.
pub(crate) const MAX_BATCH_COMMANDS: usize = 256;
/// Most encoded command bytes in one entry (a larger command still goes, alone): with
/// openraft's 300 entries per AppendEntries, a message stays well under the gRPC limit.
pub(crate) const MAX_BATCH_BYTES: usize = 128 << 10;

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

    /// The index of the last entry in this node's log.
    pub(crate) fn last_log_index(&self) -> Option<u64> {
        self.raft.metrics().borrow().last_log_index
    }

    /// Waits until this node has applied the entry at `index`, or `bound` has passed.
    pub(crate) async fn wait_applied(&self, index: u64, bound: Duration) {
        let mut metrics = self.raft.metrics();
        let applied = metrics.wait_for(|m| m.last_applied.is_some_and(|l| l.index >= index));
        let _ = tokio::time::timeout(bound, applied).await;
    }

    /// Queues `cmd` without waiting to learn whether it was appended.
    pub(crate) async fn fire_and_forget(&self, cmd: Command) -> Result<(), ProposeError> {
        let rx = self
            .raft
            .client_write_ff(Batch::from(cmd))
            .await
            .map_err(|f| ProposeError::Stopped(f.to_string()))?;
        let _ = self.keep.send(rx);
        Ok(())
    }

    /// Appends `cmds` to this leader's log in order; stops at the first refusal.
    pub(crate) async fn submit(&self, cmds: Vec<Command>) -> Submitted {
        let batches = split(cmds);
        let mut pending = Vec::with_capacity(batches.len());
        let mut refused = None;
        for batch in batches {
            let n = batch.0.len();
            match self.raft.client_write_ff(batch).await {
                Ok(rx) => pending.push((n, rx)),
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
        for (n, mut rx) in pending.by_ref() {
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
            accepted += n;
        }
        // Behind a refusal: not reported as accepted, but kept like the others.
        for (_, rx) in pending {
            let _ = self.keep.send(rx);
        }
        Submitted { accepted, refused }
    }
}

/// Cuts `cmds` into batches within the limits, keeping their order.
fn split(cmds: Vec<Command>) -> Vec<Batch> {
    let mut batches = Vec::new();
    let mut current = Vec::new();
    let mut bytes = 0;
    for cmd in cmds {
        // Only a size estimate: a command that cannot be encoded fails later, on its own.
        let size = postcard::experimental::serialized_size(&cmd).unwrap_or(0);
        let full = current.len() >= MAX_BATCH_COMMANDS || bytes + size > MAX_BATCH_BYTES;
        if full && !current.is_empty() {
            batches.push(Batch(std::mem::take(&mut current).into()));
            bytes = 0;
        }
        bytes += size;
        current.push(cmd);
    }
    if !current.is_empty() {
        batches.push(Batch(current.into()));
    }
    batches
}

#[cfg(test)]
mod tests {
    use zk_store::Txn;

    use super::*;
    use crate::command::CommandOp;

    fn cmd(bytes: usize) -> Command {
        Command {
            time_ms: 0,
            origin: None,
            op: CommandOp::Write {
                session_id: 1,
                owner: None,
                auth: Vec::new(),
                txn: Txn::SetData {
                    path: "/a".to_string(),
                    data: Some(vec![7; bytes]),
                    version: -1,
                },
            },
        }
    }

    #[test]
    fn batches_keep_order_and_limits() {
        let cmds: Vec<Command> = (0..600).map(|i| cmd(i % 7)).collect();
        let batches = split(cmds.clone());
        assert_eq!(
            batches.iter().map(|b| b.0.len()).collect::<Vec<_>>(),
            vec![256, 256, 88]
        );
        let flat: Vec<Command> = batches.into_iter().flat_map(|b| b.0.to_vec()).collect();
        assert_eq!(flat, cmds);
    }

    #[test]
    fn large_commands_split_by_bytes_and_a_huge_one_goes_alone() {
        let cmds = vec![cmd(50_000), cmd(50_000), cmd(50_000), cmd(1 << 20), cmd(10)];
        let sizes: Vec<usize> = split(cmds).iter().map(|b| b.0.len()).collect();
        assert_eq!(sizes, vec![2, 1, 1, 1]);
    }

    #[test]
    fn nothing_in_nothing_out() {
        assert!(split(Vec::new()).is_empty());
    }
}
