//! A follower's end of forwarding: ONE ordered stream to the current leader carries every
//! client write this node accepts, so writes keep the order in which they were handed over.
//!
//! [`Forwarder::send`] queues a command synchronously (its place in the order is fixed right
//! there) with a callback that runs when the leader acknowledged the command as in its log,
//! or with the reason it never will be. When the stream breaks, the leader changes,
//! or the leader stops acknowledging, every command not yet acknowledged is failed back;
//! nothing is ever re-sent, to this leader or the next, because that could reorder it.

use std::collections::VecDeque;
use std::sync::Mutex;

use tokio::sync::mpsc;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_stream::wrappers::UnboundedReceiverStream;

use crate::cluster::ProposeError;
use crate::cluster::RaftTiming;
use crate::cluster::Role;
use crate::command::Command;
use crate::grpc::channels::Channels;
use crate::grpc::channels::PeerChannel;
use crate::grpc::identity::Identity;
use crate::grpc::pb;
use crate::grpc::wire;
use crate::types::NodeId;

/// What to run once the leader took the command into its log (or with why it did not).
pub(crate) type OnDone = Box<dyn FnOnce(Result<(), ProposeError>) + Send + 'static>;

/// An [`OnDone`] that is sure to run: dropped unfinished (its stream's task aborted), it
/// runs with a link error, as a dropped oneshot sender would tell its receiver.
struct Done {
    f: Option<OnDone>,
    leader: NodeId,
}

impl Done {
    fn finish(mut self, res: Result<(), ProposeError>) {
        if let Some(f) = self.f.take() {
            f(res);
        }
    }
}

impl Drop for Done {
    fn drop(&mut self) {
        if let Some(f) = self.f.take() {
            f(Err(link_error(self.leader, "forwarding stream dropped")));
        }
    }
}

/// A command waiting for its turn on the stream.
struct Queued {
    command: Vec<u8>,
    done: Done,
}

/// A command sent and not yet acknowledged.
struct InFlight {
    seq: u64,
    done: Done,
    sent: Instant,
}

/// The open stream to one leader.
struct Link {
    leader: NodeId,
    queue: mpsc::UnboundedSender<Queued>,
    task: JoinHandle<()>,
}

/// This node's forwarding to the leader: at most one open stream at a time.
pub(crate) struct Forwarder {
    identity: Identity,
    channels: Channels,
    role: watch::Receiver<Role>,
    timing: RaftTiming,
    link: Mutex<Option<Link>>,
}

impl Forwarder {
    pub(crate) fn new(
        identity: Identity,
        channels: Channels,
        role: watch::Receiver<Role>,
        timing: RaftTiming,
    ) -> Self {
        Forwarder {
            identity,
            channels,
            role,
            timing,
            link: Mutex::new(None),
        }
    }

    /// Queues `cmd` for `leader`, after everything queued before; opens a stream to it first
    /// if the current one goes elsewhere or has ended. `done` runs once, with the outcome
    /// (at once if it cannot even be queued).
    pub(crate) fn send(&self, leader: NodeId, cmd: &Command, done: OnDone) {
        let done = Done {
            f: Some(done),
            leader,
        };
        if let Err((e, done)) = self.try_send(leader, cmd, done) {
            done.finish(Err(e));
        }
    }

    fn try_send(
        &self,
        leader: NodeId,
        cmd: &Command,
        done: Done,
    ) -> Result<(), (ProposeError, Done)> {
        let command = match wire::encode(cmd) {
            Ok(c) => c,
            Err(e) => return Err((ProposeError::Encode(e.to_string()), done)),
        };
        let mut link = self.link.lock().unwrap_or_else(|p| p.into_inner());
        let usable = link
            .as_ref()
            .is_some_and(|l| l.leader == leader && !l.queue.is_closed());
        if !usable {
            if let Some(old) = link.take() {
                // Its unacknowledged commands fail (their senders drop): never re-sent.
                old.task.abort();
            }
            match self.open(leader) {
                Ok(l) => *link = Some(l),
                Err(e) => return Err((e, done)),
            }
        }
        let Some(l) = link.as_ref() else {
            return Err((link_error(leader, "no stream"), done));
        };
        l.queue
            .send(Queued { command, done })
            .map_err(|mpsc::error::SendError(q)| {
                (link_error(leader, "forwarding stream closed"), q.done)
            })
    }

    fn open(&self, leader: NodeId) -> Result<Link, ProposeError> {
        let ch = self
            .channels
            .get(leader)
            .ok_or_else(|| link_error(leader, "not a known member"))?;
        let (queue, rx) = mpsc::unbounded_channel();
        tracing::debug!(leader, "opening the forwarding stream");
        let task = tokio::spawn(run_link(
            leader,
            ch,
            self.identity,
            rx,
            self.role.clone(),
            self.timing,
        ));
        Ok(Link {
            leader,
            queue,
            task,
        })
    }

    /// Ends the open stream (its unacknowledged commands fail).
    pub(crate) fn close(&self) {
        if let Some(old) = self.link.lock().unwrap_or_else(|p| p.into_inner()).take() {
            old.task.abort();
        }
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.close();
    }
}

fn link_error(leader: NodeId, reason: impl Into<String>) -> ProposeError {
    ProposeError::Link {
        leader,
        reason: reason.into(),
    }
}

/// Runs one stream until it ends, then fails everything it still holds.
async fn run_link(
    leader: NodeId,
    ch: PeerChannel,
    identity: Identity,
    mut queue: mpsc::UnboundedReceiver<Queued>,
    role: watch::Receiver<Role>,
    timing: RaftTiming,
) {
    let mut in_flight = VecDeque::new();
    let why = pump(
        leader,
        &ch,
        identity,
        &mut queue,
        &mut in_flight,
        role,
        timing,
    )
    .await;
    tracing::debug!(leader, unacknowledged = in_flight.len(), %why, "forwarding stream ended");
    for f in in_flight {
        f.done.finish(Err(why.clone()));
    }
    queue.close();
    while let Ok(q) = queue.try_recv() {
        q.done.finish(Err(why.clone()));
    }
}

/// Sends queued commands and matches acknowledgements; returns why the stream ended.
async fn pump(
    leader: NodeId,
    ch: &PeerChannel,
    identity: Identity,
    queue: &mut mpsc::UnboundedReceiver<Queued>,
    in_flight: &mut VecDeque<InFlight>,
    mut role: watch::Receiver<Role>,
    timing: RaftTiming,
) -> ProposeError {
    // Unbounded so that sending never waits while acknowledgements pile up (a bounded pipe
    // both ways could deadlock); what is queued here is bounded by the callers' own waits.
    let (out, out_rx) = mpsc::unbounded_channel();
    let mut client = ch.client();
    let opening = client.forward(UnboundedReceiverStream::new(out_rx));
    let mut acks = match tokio::time::timeout(timing.rpc_timeout, opening).await {
        Err(_) => return link_error(leader, "timed out opening the forwarding stream"),
        Ok(Err(status)) => {
            return link_error(leader, format!("{}: {}", status.code(), status.message()))
        }
        Ok(Ok(response)) => response.into_inner(),
    };
    let mut caller = Some(identity.caller(leader));
    let mut seq = 0u64;
    let mut watchdog = tokio::time::interval(timing.rpc_timeout / 4);
    loop {
        tokio::select! {
            changed = role.changed() => {
                if changed.is_err() {
                    return ProposeError::Stopped("raft stopped".to_string());
                }
                let now = role.borrow().leader;
                if now != Some(leader) {
                    return link_error(leader, format!("leader changed to {now:?}"));
                }
            }
            ack = acks.message() => match ack {
                Ok(Some(ack)) => {
                    while in_flight.front().is_some_and(|f| f.seq <= ack.accepted_through) {
                        if let Some(f) = in_flight.pop_front() {
                            f.done.finish(Ok(()));
                        }
                    }
                    if let Some(r) = ack.refused {
                        return ProposeError::NotLeader {
                            node: leader,
                            leader: (r.leader_hint != 0).then_some(r.leader_hint),
                            reason: r.reason,
                        };
                    }
                }
                Ok(None) => return link_error(leader, "the leader ended the stream"),
                Err(status) => {
                    return link_error(leader, format!("{}: {}", status.code(), status.message()))
                }
            },
            queued = queue.recv() => {
                let Some(q) = queued else {
                    return link_error(leader, "forwarder closed");
                };
                seq += 1;
                let item = pb::ForwardItem { caller: caller.take(), seq, command: q.command };
                if out.send(item).is_err() {
                    q.done.finish(Err(link_error(leader, "forwarding stream closed")));
                    return link_error(leader, "forwarding stream closed");
                }
                in_flight.push_back(InFlight { seq, done: q.done, sent: Instant::now() });
            }
            _ = watchdog.tick() => {
                if in_flight.front().is_some_and(|f| f.sent.elapsed() > timing.rpc_timeout) {
                    return link_error(leader, format!("no acknowledgement within {:?}", timing.rpc_timeout));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::Mutex;

    use super::*;

    type Seen = Arc<Mutex<Vec<Result<(), ProposeError>>>>;

    fn done(seen: &Seen) -> Done {
        let sink = seen.clone();
        Done {
            f: Some(Box::new(move |res| sink.lock().expect("lock").push(res))),
            leader: 3,
        }
    }

    #[test]
    fn a_finished_callback_runs_once_with_its_outcome() {
        let seen = Seen::default();
        done(&seen).finish(Ok(()));
        assert_eq!(*seen.lock().expect("lock"), vec![Ok(())]);
    }

    /// A stream task aborted with commands still queued drops their callbacks: each must
    /// still hear that its command is not in the log (the connection waiting on it would
    /// otherwise wait forever).
    #[test]
    fn a_callback_dropped_unfinished_runs_with_a_link_error() {
        let seen = Seen::default();
        drop(done(&seen));
        assert_eq!(
            *seen.lock().expect("lock"),
            vec![Err(link_error(3, "forwarding stream dropped"))]
        );
    }
}
