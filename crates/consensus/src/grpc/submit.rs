//! Putting commands into the leader's log in a given order, knowing which ones made it.
//!
//! Commands go in as few entries as the limits allow ([`MAX_BATCH_COMMANDS`],
//! [`MAX_BATCH_BYTES`]): a [`Batch`] per entry, in order, all of a round in one message to
//! Raft's core, which takes or refuses the message whole.
//!
//! The message only queues the entries; whether the core appended them or refused them (not
//! leader) shows up on their responders. The core handles its API messages in order, so after
//! one more round trip through it (`with_raft_state`, a barrier) the round has been appended
//! or refused: a refused responder is ready by then, an appended one stays pending until the
//! entry is applied.
//!
//! openraft 0.10's leader refuses writes while its lease is not valid: no quorum acknowledged
//! it within the last `election_max` (and none yet right after it was elected). Such a round
//! is not lost: it waits for the lease (Raft's metrics show each acknowledgement) and is
//! offered again; nothing of it was taken, so the order holds. It waits while this node
//! leads, up to the RPC timeout: a lease lapses for a moment whenever heartbeats are late (a
//! busy machine: the client suite under a parallel test run lost writes to it when the wait
//! was one lease long), while a leader that really lost its quorum is deposed by the others
//! and then refuses at once.

use std::time::Duration;

use futures_util::FutureExt;
use futures_util::StreamExt;
use openraft::async_runtime::WatchReceiver;
use openraft::base::BoxStream;
use openraft::error::ClientWriteError;
use openraft::error::Fatal;
use openraft::error::ForwardReason;
use openraft::raft::WriteResult;
use openraft::Instant as _;
use openraft::ServerState;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use zk_wire::ErrorCode;

use crate::cluster::ProposeError;
use crate::command::Batch;
use crate::command::Command;
use crate::command::CommandOp;
use crate::types::NodeId;
use crate::types::TypeConfig;
use crate::types::ZkRaft;

/// The answers to a round's entries, in order (openraft's `client_write_many`).
type Answers = BoxStream<'static, Result<WriteResult<TypeConfig>, Fatal<TypeConfig>>>;

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

/// What one offer of a round to Raft's core came to.
enum Offer {
    /// Every entry is in the log.
    Taken,
    /// None is, and none will be.
    Refused(ProposeError),
    /// None is: the leader's lease is not valid (yet).
    NotWritable,
}

/// Proposes on this node's Raft. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Proposer {
    raft: ZkRaft,
    me: NodeId,
    /// How long a round waits for this leader to become writable (its lease valid again).
    writable_wait: Duration,
    /// The leader lease: an acknowledgement this recent makes the leader writable.
    lease: Duration,
    /// This member's `reconfigEnabled`: what a `reconfig` it logs as leader is judged by.
    reconfig_enabled: bool,
    /// Answers are kept until Raft gives them. Nobody reads them (the outcome reaches every
    /// node through the apply hook), but openraft logs a warning for every answer sent to a
    /// dropped receiver.
    keep: mpsc::UnboundedSender<Answers>,
}

impl Proposer {
    /// A proposer, and the task that holds answers until they are given (in log order, the
    /// order Raft gives them); it ends when every proposer is gone.
    pub(crate) fn spawn(
        raft: ZkRaft,
        me: NodeId,
        lease: Duration,
        writable_wait: Duration,
        reconfig_enabled: bool,
    ) -> (Self, JoinHandle<()>) {
        let (keep, mut held) = mpsc::unbounded_channel::<Answers>();
        let task = tokio::spawn(async move {
            while let Some(mut answers) = held.recv().await {
                while answers.next().await.is_some() {}
            }
        });
        (
            Proposer {
                raft,
                me,
                writable_wait,
                lease,
                reconfig_enabled,
                keep,
            },
            task,
        )
    }

    /// The index of the last entry in this node's log.
    pub(crate) fn last_log_index(&self) -> Option<u64> {
        self.raft.metrics().borrow_watched().last_log_index
    }

    /// Waits until this node has applied the entry at `index`, or `bound` has passed.
    pub(crate) async fn wait_applied(&self, index: u64, bound: Duration) {
        let mut metrics = self.raft.metrics();
        let applied = async move {
            loop {
                let done = metrics
                    .borrow_and_update()
                    .last_applied
                    .as_ref()
                    .is_some_and(|l| l.index >= index);
                if done || metrics.changed().await.is_err() {
                    return;
                }
            }
        };
        let _ = tokio::time::timeout(bound, applied).await;
    }

    /// Appends `cmds` to this leader's log in order: all of them, or none.
    pub(crate) async fn submit(&self, mut cmds: Vec<Command>) -> Submitted {
        if !self.reconfig_enabled {
            cmds.iter_mut().for_each(refuse_reconfig);
        }
        let n = cmds.len();
        let batches = split(cmds);
        let deadline = tokio::time::Instant::now() + self.writable_wait;
        loop {
            match self.offer(batches.clone()).await {
                Offer::Taken => {
                    return Submitted {
                        accepted: n,
                        refused: None,
                    }
                }
                Offer::Refused(why) => {
                    return Submitted {
                        accepted: 0,
                        refused: Some(why),
                    }
                }
                Offer::NotWritable => {
                    if !self.wait_writable(deadline).await {
                        return Submitted {
                            accepted: 0,
                            refused: Some(ProposeError::NotLeader {
                                node: self.me,
                                leader: None,
                                reason: "no quorum has acknowledged this leader lately".to_string(),
                            }),
                        };
                    }
                }
            }
        }
    }

    /// Offers the round to Raft's core once, and learns whether it was taken.
    async fn offer(&self, batches: Vec<Batch>) -> Offer {
        let stopped = |f: Fatal<TypeConfig>| Offer::Refused(ProposeError::Stopped(f.to_string()));
        let mut answers = match self.raft.client_write_many(batches).await {
            Ok(answers) => answers,
            Err(fatal) => return stopped(fatal),
        };
        if let Err(fatal) = self.raft.with_raft_state(|_| ()).await {
            return stopped(fatal);
        }
        // The first answer tells for the whole round (one message, taken or refused whole).
        match answers.next().now_or_never() {
            // Waiting to be applied: in the log.
            None | Some(Some(Ok(Ok(_)))) => {
                let _ = self.keep.send(answers);
                Offer::Taken
            }
            Some(None) => Offer::Refused(ProposeError::Stopped(
                "raft dropped the proposal".to_string(),
            )),
            Some(Some(Err(fatal))) => stopped(fatal),
            Some(Some(Ok(Err(ClientWriteError::ForwardToLeader(f))))) => {
                if f.reason == ForwardReason::LeaseExpired {
                    Offer::NotWritable
                } else {
                    Offer::Refused(ProposeError::NotLeader {
                        node: self.me,
                        leader: f.leader_id,
                        reason: "not the leader".to_string(),
                    })
                }
            }
            Some(Some(Ok(Err(other)))) => Offer::Refused(ProposeError::NotLeader {
                node: self.me,
                leader: None,
                reason: other.to_string(),
            }),
        }
    }

    /// Waits until this leader's lease is valid again (a quorum acknowledged it within the
    /// lease), up to `deadline`; false if it is not by then, or it no longer leads.
    async fn wait_writable(&self, deadline: tokio::time::Instant) -> bool {
        let mut metrics = self.raft.metrics();
        let lease = self.lease;
        let writable = async move {
            loop {
                let (leading, acked) = {
                    let m = metrics.borrow_and_update();
                    let acked = m
                        .last_quorum_acked
                        .as_ref()
                        .is_some_and(|at| at.elapsed() < lease);
                    (m.state == ServerState::Leader, acked)
                };
                if !leading {
                    return false;
                }
                if acked {
                    return true;
                }
                if metrics.changed().await.is_err() {
                    return false;
                }
            }
        };
        tokio::time::timeout_at(deadline, writable)
            .await
            .unwrap_or(false)
    }
}

/// ZooKeeper's `reconfigEnabled` is the leader's: its PrepRequestProcessor, which runs on the
/// leader only, refuses a `reconfig` with ReconfigDisabled before any other check, whatever
/// the server the client is connected to says (followers forward it unjudged; measured with
/// Debian's 3.8.0: enabled on a follower and off on the leader is ReconfigDisabled, the other
/// way round the change is made). Every command a leader logs passes here, its own clients'
/// and the forwarded ones, so a leader with it off logs the request's answer in its place:
/// the end of a reconfig with ReconfigDisabled (same origin), which every member applies as
/// that refusal and the requesting member answers with.
fn refuse_reconfig(cmd: &mut Command) {
    if matches!(cmd.op, CommandOp::Reconfig { .. }) {
        tracing::warn!("reconfig requested but reconfigEnabled is off on this leader");
        cmd.op = CommandOp::ReconfigDone {
            error: Some(ErrorCode::ReconfigDisabled),
        };
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

    /// A leader with reconfigEnabled off logs a reconfig's refusal in its place (same
    /// origin, so the requesting member answers it ReconfigDisabled); nothing else changes.
    #[test]
    fn a_reconfig_is_refused_by_the_leaders_setting() {
        let origin = Some(crate::command::Origin { node_id: 2, seq: 7 });
        let mut reconfig = Command {
            time_ms: 5,
            origin,
            op: CommandOp::Reconfig {
                session_id: 1,
                owner: None,
                auth: Vec::new(),
                spec: crate::membership::ReconfigSpec {
                    joining: None,
                    leaving: Some("3".to_string()),
                    new_members: None,
                },
                cur_config_id: -1,
            },
        };
        refuse_reconfig(&mut reconfig);
        assert_eq!(
            reconfig,
            Command {
                time_ms: 5,
                origin,
                op: CommandOp::ReconfigDone {
                    error: Some(ErrorCode::ReconfigDisabled)
                },
            }
        );
        let mut write = cmd(3);
        refuse_reconfig(&mut write);
        assert_eq!(write, cmd(3));
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
