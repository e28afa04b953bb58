//! What a node does on becoming leader: commit the cluster secret if the ensemble has none.

use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use zk_session::ClusterSecret;
use zk_session::SECRET_LEN;

use crate::cluster::Role;
use crate::command::now_ms;
use crate::command::Command;
use crate::command::CommandOp;
use crate::grpc::submit::Proposer;
use crate::state_machine::SharedState;

/// On every new leadership of this node, proposes `SetSecret` if none is applied yet.
///
/// If the entry is refused (the lease of a new leader not yet acknowledged, or lost), it is
/// proposed again a lease later while this node leads; if it is lost with this leadership,
/// the next leader proposes again; if two get committed, applying the second is a no-op (the
/// secret is set once), so a leader that has not applied an earlier one yet may safely
/// propose another.
pub(crate) fn spawn_leader_duties(
    proposer: Proposer,
    state: SharedState,
    mut role: watch::Receiver<Role>,
    operator_secret: Option<ClusterSecret>,
    lease: Duration,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        // Once per term: the role also changes within a term (the leader field settles).
        let mut proposed_in = None;
        loop {
            let mut retry = false;
            let r = *role.borrow_and_update();
            if r.is_leader && proposed_in != Some(r.term) && state.read().secret.is_none() {
                proposed_in = Some(r.term);
                let secret = operator_secret.clone().unwrap_or_else(|| {
                    ClusterSecret::from_bytes(rand::random::<[u8; SECRET_LEN]>())
                });
                let cmd = Command {
                    time_ms: now_ms(),
                    origin: None,
                    op: CommandOp::SetSecret { secret },
                };
                match proposer.submit(vec![cmd]).await.refused {
                    None => tracing::info!(term = r.term, "proposed the cluster secret"),
                    Some(e) => {
                        tracing::warn!("cannot propose the cluster secret: {e}");
                        proposed_in = None;
                        retry = true;
                    }
                }
            }
            let changed = if retry {
                // Refused: look again after a lease, or when the role changes.
                match tokio::time::timeout(lease, role.changed()).await {
                    Ok(changed) => changed,
                    Err(_elapsed) => Ok(()),
                }
            } else {
                role.changed().await
            };
            if changed.is_err() {
                return;
            }
        }
    })
}
