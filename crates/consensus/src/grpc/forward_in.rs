//! The leader's end of a forwarding stream: a follower's client writes go into the log
//! strictly in stream order, and are acknowledged cumulatively once they are in it.
//!
//! Whatever has arrived is taken as one batch and joins the leader's own [`Submitter`] queue,
//! so a busy stream costs a share of one round through Raft's core (and of one flush), not
//! one per command or per stream. At the first refusal (this node is no
//! longer leader, or an item is malformed) the stream ends: no later item is ever taken, so
//! the follower's order holds even across a refusal.

use openraft::async_runtime::WatchReceiver;
use tokio::sync::mpsc;
use tokio::sync::watch;
use tonic::Status;
use tonic::Streaming;

use crate::cluster::ProposeError;
use crate::command::Command;
use crate::grpc::pb;
use crate::grpc::tls::Admit;
use crate::submitter::Submitter;
use crate::types::ZkRaft;

/// Items read ahead of the one being proposed.
const READ_AHEAD: usize = 1024;
/// Most commands proposed per barrier.
const MAX_BATCH: usize = 512;

/// What ends a stream early.
enum Stop {
    /// Tell the follower why (it fails the refused item and everything after it).
    Refuse(pb::Refusal),
    /// The request is not acceptable at all (bad caller): end with this status.
    Status(Status),
}

/// Serves one follower's forwarding stream until it ends, fails, is refused or `stop` fires.
pub(crate) async fn serve(
    raft: ZkRaft,
    submitter: Submitter,
    identity: Admit,
    mut items: Streaming<pb::ForwardItem>,
    acks: mpsc::Sender<Result<pb::ForwardAck, Status>>,
    mut stop: watch::Receiver<bool>,
) {
    // Read on a task of its own, so a batch is everything that has arrived so far.
    let (tx, mut rx) = mpsc::channel(READ_AHEAD);
    let reader = tokio::spawn(async move {
        loop {
            match items.message().await {
                Ok(Some(item)) => {
                    if tx.send(item).await.is_err() {
                        return;
                    }
                }
                Ok(None) => return,
                Err(status) => {
                    tracing::debug!(%status, "forwarding stream failed");
                    return;
                }
            }
        }
    });

    let mut through = 0u64;
    let mut from = None;
    loop {
        let first = tokio::select! {
            _ = stop.wait_for(|&s| s) => break,
            item = rx.recv() => item,
        };
        let Some(first) = first else { break };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(item) => batch.push(item),
                Err(_) => break,
            }
        }

        let (cmds, bad) = decode_batch(&identity, &mut from, through, batch);
        let submitted = submitter.submit_group(cmds).await;
        through += submitted.accepted as u64;
        let stop_now = submitted
            .refused
            .map(|e| Stop::Refuse(refusal(&raft, &e)))
            .or(bad);
        let msg = match stop_now {
            None => Ok(pb::ForwardAck {
                accepted_through: through,
                refused: None,
            }),
            Some(Stop::Refuse(r)) => {
                tracing::debug!(from, through, reason = %r.reason, "forwarded write refused");
                Ok(pb::ForwardAck {
                    accepted_through: through,
                    refused: Some(r),
                })
            }
            Some(Stop::Status(s)) => Err(s),
        };
        let last = !matches!(msg, Ok(pb::ForwardAck { refused: None, .. }));
        if acks.send(msg).await.is_err() || last {
            break;
        }
    }
    reader.abort();
}

/// Checks the caller (on the first item) and the sequence, and decodes, in order; stops at
/// the first bad item (everything before it is still proposed).
fn decode_batch(
    identity: &Admit,
    from: &mut Option<u64>,
    through: u64,
    batch: Vec<pb::ForwardItem>,
) -> (Vec<Command>, Option<Stop>) {
    let mut cmds = Vec::with_capacity(batch.len());
    for item in batch {
        if from.is_none() {
            match identity.check(item.caller.as_ref()) {
                Ok(f) => *from = Some(f),
                Err(s) => return (cmds, Some(Stop::Status(s))),
            }
        }
        let expected = through + cmds.len() as u64 + 1;
        if item.seq != expected {
            let reason = format!("item {} arrived where {expected} was due", item.seq);
            return (cmds, Some(Stop::Refuse(plain_refusal(reason))));
        }
        match postcard::from_bytes::<Command>(&item.command) {
            Ok(cmd) => cmds.push(cmd),
            Err(e) => {
                let reason = format!("undecodable command: {e}");
                return (cmds, Some(Stop::Refuse(plain_refusal(reason))));
            }
        }
    }
    (cmds, None)
}

fn plain_refusal(reason: String) -> pb::Refusal {
    pb::Refusal {
        reason,
        leader_hint: 0,
    }
}

fn refusal(raft: &ZkRaft, e: &ProposeError) -> pb::Refusal {
    let leader = match e {
        ProposeError::NotLeader { leader, .. } => *leader,
        _ => raft.metrics().borrow_watched().current_leader,
    };
    pb::Refusal {
        reason: e.to_string(),
        leader_hint: leader.unwrap_or(0),
    }
}
