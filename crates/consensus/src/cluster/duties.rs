//! What a node does on becoming leader: commit the cluster secret if the ensemble has none,
//! and bring `/zookeeper/config` in line with Raft's membership.

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

/// On every new leadership of this node, once it has applied everything logged before it
/// led, proposes `SyncConfig` if `/zookeeper/config` shows other members than Raft's
/// membership: the first config of a new ensemble, an ensemble from before membership was
/// kept there, or a reconfig whose leader failed before it wrote the config. Applying it
/// writes nothing when the config is right by then.
pub(crate) fn spawn_config_sync(
    raft: crate::types::ZkRaft,
    proposer: Proposer,
    state: SharedState,
    mut role: watch::Receiver<Role>,
    logged: crate::log_store::AcceptedIndex,
    lease: Duration,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut done_in = None;
        let mut applied = state.subscribe_applied();
        loop {
            let r = *role.borrow_and_update();
            if r.is_leader && done_in != Some(r.term) {
                // Everything in the log when it took over, and at least its first entry
                // past the initial membership (index 0), so that membership is applied (an
                // applied index of 0 also means "nothing applied").
                let goal = logged.get().max(1);
                let caught_up = tokio::select! {
                    seen = applied.wait_for(|p| p.index >= goal) => seen.is_ok(),
                    changed = role.changed() => {
                        if changed.is_err() {
                            return;
                        }
                        false
                    }
                };
                if caught_up && role.borrow().term == r.term && role.borrow().is_leader {
                    done_in = Some(r.term);
                    finish_joint(&raft, &state).await;
                    if state.read().config_stale() {
                        let cmd = Command {
                            time_ms: now_ms(),
                            origin: None,
                            op: CommandOp::SyncConfig,
                        };
                        if let Some(e) = proposer.submit(vec![cmd]).await.refused {
                            tracing::warn!("cannot propose the config: {e}");
                            done_in = None;
                            let _ = tokio::time::timeout(lease, role.changed()).await;
                        }
                    }
                }
                continue;
            }
            if role.changed().await.is_err() {
                return;
            }
        }
    })
}

/// A reconfig whose leader failed between its joint entry and the final one leaves the joint
/// membership behind (every commit then needs both majorities, and no reconfig is accepted):
/// the next leader finishes it to the new voters, as the change meant.
async fn finish_joint(raft: &crate::types::ZkRaft, state: &SharedState) {
    let goal = {
        let st = state.read();
        let joint = st.last_membership.membership().get_joint_config();
        if joint.len() < 2 {
            return;
        }
        joint.last().cloned().unwrap_or_default()
    };
    tracing::info!(voters = ?goal, "finishing a membership change left joint by a failed leader");
    let call = raft.change_membership(openraft::ChangeMembers::ReplaceAllVoters(goal), false);
    match tokio::time::timeout(Duration::from_secs(10), call).await {
        Ok(Ok(_)) => tracing::info!("membership change finished"),
        Ok(Err(e)) => tracing::warn!("cannot finish the membership change: {e}"),
        Err(_) => tracing::warn!("finishing the membership change timed out"),
    }
}
