//! Proposals made on the leader itself, without waiting: a caller's place in the log order is
//! fixed when it calls [`Submitter::submit`], and it moves on at once.
//!
//! One task takes everything queued since its last round and proposes it together (one
//! barrier round trip through Raft's core for the lot), so a busy leader pays per batch, not
//! per request, and a connection with many writes in flight never waits for one to be in the
//! log before handing over the next. Only a refusal comes back, through the callback; success
//! shows in the apply hook like every other entry.

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::cluster::ProposeError;
use crate::command::Command;
use crate::grpc::submit::Proposer;
use crate::types::NodeId;
use crate::types::ZkRaft;

/// Most commands proposed per round (the rest wait for the next one).
const MAX_ROUND: usize = 512;

/// Called, once, if a submitted command did not make it into the leader's log.
pub type OnRefused = Box<dyn FnOnce(ProposeError) + Send + 'static>;

/// Queues commands for this node's Raft in call order. Cheap to clone.
#[derive(Clone)]
pub struct Submitter {
    tx: mpsc::UnboundedSender<(Command, OnRefused)>,
}

impl std::fmt::Debug for Submitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Submitter").finish_non_exhaustive()
    }
}

impl Submitter {
    /// A submitter for `raft` (this node is `me`) and the task that proposes its queue; the
    /// task ends once every clone is dropped and the queue is drained.
    pub fn spawn(raft: ZkRaft, me: NodeId) -> (Self, Vec<JoinHandle<()>>) {
        let (proposer, keeper) = Proposer::spawn(raft, me);
        let (submitter, task) = Self::spawn_on(proposer);
        (submitter, vec![task, keeper])
    }

    /// A submitter proposing through an existing proposer.
    pub(crate) fn spawn_on(proposer: Proposer) -> (Self, JoinHandle<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Submitter { tx }, tokio::spawn(run(proposer, rx)))
    }

    /// Queues `cmd` after everything submitted before; `on_refused` runs if it is refused
    /// (this node no longer leads, Raft stopped).
    pub fn submit(&self, cmd: Command, on_refused: OnRefused) {
        if let Err(mpsc::error::SendError((_, on_refused))) = self.tx.send((cmd, on_refused)) {
            on_refused(ProposeError::Stopped(
                "the submitter has stopped".to_string(),
            ));
        }
    }
}

async fn run(proposer: Proposer, mut rx: mpsc::UnboundedReceiver<(Command, OnRefused)>) {
    let mut cmds = Vec::new();
    let mut callbacks = Vec::new();
    while let Some((cmd, cb)) = rx.recv().await {
        cmds.push(cmd);
        callbacks.push(cb);
        while cmds.len() < MAX_ROUND {
            match rx.try_recv() {
                Ok((cmd, cb)) => {
                    cmds.push(cmd);
                    callbacks.push(cb);
                }
                Err(_) => break,
            }
        }
        let submitted = proposer.submit(std::mem::take(&mut cmds)).await;
        let why = submitted
            .refused
            .unwrap_or_else(|| ProposeError::Stopped("proposal dropped".to_string()));
        for cb in callbacks.drain(..).skip(submitted.accepted) {
            cb(why.clone());
        }
    }
}
