//! A follower's open line to its leader (the `Follow` stream), so that it learns at once
//! when the leader's process is gone.
//!
//! Heartbeats alone tell a follower only that it has heard nothing for a while, and Raft must
//! wait out the leader lease plus a random election timeout before anyone stands. But a
//! killed process has its connections closed by the kernel: the follower's `Follow` stream
//! ends within a millisecond. The election driver (`prevote`) then stands as soon as the
//! lease itself has run out, without the random part. Nothing here decides anything by
//! itself: a follower whose link broke while the leader still sends heartbeats keeps hearing
//! it, its lease never runs out, and it never stands (a partition without resets, or a
//! machine that vanished, is noticed by the heartbeats as before).

use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic::Request;

use crate::cluster::Role;
use crate::grpc::channels::Channels;
use crate::grpc::identity::Identity;
use crate::grpc::pb;
use crate::types::NodeId;

/// Wait before opening the line again after it broke or could not be opened (a dead
/// leader's port refuses at once; this keeps the attempts cheap).
const RETRY: Duration = Duration::from_millis(50);

/// The line to this leader, in this term, broke and has not been opened again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LinkLoss {
    /// The leader it was open to.
    pub(crate) leader: NodeId,
    /// The term it led in.
    pub(crate) term: u64,
}

/// Keeps a `Follow` stream open to whichever leader `role` names (none while this node leads
/// or follows nobody) and publishes a [`LinkLoss`] while the one to the current leader is
/// down. `open_timeout` bounds opening the stream and getting the leader's first notice.
pub(crate) fn spawn_leader_link(
    mut role: watch::Receiver<Role>,
    channels: Channels,
    identity: Identity,
    open_timeout: Duration,
) -> (watch::Receiver<Option<LinkLoss>>, JoinHandle<()>) {
    let (tx, rx) = watch::channel(None);
    let task = tokio::spawn(async move {
        loop {
            let r = *role.borrow_and_update();
            let leader = r.leader.filter(|&l| !r.is_leader && l != identity.id);
            let Some((leader, ch)) = leader.and_then(|l| channels.get(l).map(|c| (l, c))) else {
                tx.send_replace(None);
                if role.changed().await.is_err() {
                    return;
                }
                continue;
            };
            let loss = LinkLoss {
                leader,
                term: r.term,
            };
            let mut client = ch.client();
            let req = Request::new(pb::FollowRequest {
                caller: Some(identity.caller(leader)),
                term: r.term,
            });
            let follow = async {
                // Open it and see the leader's first notice, within the deadline...
                let opened = tokio::time::timeout(open_timeout, async {
                    let mut stream = client.follow(req).await.ok()?.into_inner();
                    stream.message().await.ok().flatten().map(|_| stream)
                })
                .await;
                let Ok(Some(mut stream)) = opened else {
                    return;
                };
                tx.send_replace(None);
                // ...then it stays silent until the leader steps down or its process ends.
                while let Ok(Some(_)) = stream.message().await {}
            };
            tokio::select! {
                _ = follow => {
                    tracing::debug!(leader, term = r.term, "line to the leader is down");
                    tx.send_replace(Some(loss));
                }
                changed = role.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    continue;
                }
            }
            // Try again after a pause, or at once if the role changes meanwhile.
            tokio::select! {
                _ = tokio::time::sleep(RETRY) => {}
                changed = role.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
            }
        }
    });
    (rx, task)
}
