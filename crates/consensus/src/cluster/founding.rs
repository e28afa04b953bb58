//! Observers named in the founding `--peers` (ZooKeeper lets the static config list them).
//!
//! openraft forms an ensemble from voters only (`initialize` makes every node it is given a
//! voter), so the founding members initialize with the participants, and the first leader
//! then adds each founding observer as a learner marked observer. It does so only while the
//! membership is still the one the ensemble was formed with (the entry at log index 0):
//! once any membership change has been made (these additions, or a reconfig), `--peers` is
//! only the bootstrap list it always is, and a later leader started with an old list does
//! not bring back an observer a reconfig removed. Once they are added it writes
//! `/zookeeper/config` again (a `SyncConfig`), as the leader's config duty does at a
//! leader change.

use std::collections::BTreeMap;
use std::time::Duration;

use openraft::async_runtime::WatchReceiver;
use openraft::BasicNode;
use openraft::ServerState;
use tokio::task::JoinHandle;

use crate::command::now_ms;
use crate::command::Command;
use crate::command::CommandOp;
use crate::grpc::submit::Proposer;
use crate::membership;
use crate::types::NodeId;
use crate::types::ZkRaft;

/// How long one addition may take before the next change of the metrics tries again.
const ADD_TIMEOUT: Duration = Duration::from_secs(5);

/// While this member leads the founding membership, adds the `observers` (id -> founding
/// record) it lacks; ends once the membership has moved on from the founding one.
pub(crate) fn spawn_founding_observers(
    raft: ZkRaft,
    proposer: Proposer,
    observers: BTreeMap<NodeId, String>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        if observers.is_empty() {
            return;
        }
        let mut metrics = raft.metrics();
        let mut tried_term = None;
        loop {
            let plan = {
                let m = metrics.borrow_watched();
                match m.membership_config.log_id().as_ref().map(|l| l.index) {
                    // Not formed yet: wait for it.
                    None => None,
                    Some(0) => {
                        let membership = m.membership_config.membership();
                        let missing: Vec<(NodeId, String)> = observers
                            .iter()
                            .filter(|(o, _)| membership.get_node(o).is_none())
                            .map(|(o, addr)| (*o, addr.clone()))
                            .collect();
                        // Led, and the founding membership committed (applied): until then
                        // openraft refuses a change as one already under way.
                        let leading = m.state == ServerState::Leader && m.last_applied.is_some();
                        (leading && !missing.is_empty() && tried_term != Some(m.current_term))
                            .then(|| (m.current_term, missing))
                    }
                    Some(_) => return,
                }
            };
            if let Some((term, missing)) = plan {
                tried_term = Some(term);
                let mut added = false;
                let mut failed = false;
                for (o, addr) in missing {
                    let record = membership::with_observer(&addr, true);
                    let add = raft.add_learner(o, BasicNode::new(record.clone()), false);
                    match tokio::time::timeout(ADD_TIMEOUT, add).await {
                        Ok(Ok(_)) => {
                            tracing::info!(id = o, %record, "founding observer added");
                            added = true;
                        }
                        Ok(Err(e)) => {
                            tracing::warn!(id = o, "founding observer not added: {e}");
                            failed = true;
                        }
                        Err(_) => {
                            tracing::warn!(id = o, "founding observer not added in time");
                            failed = true;
                        }
                    }
                }
                if failed {
                    // Tried again at the next change while this member still leads.
                    tried_term = None;
                }
                if added {
                    let cmd = Command {
                        time_ms: now_ms(),
                        origin: None,
                        op: CommandOp::SyncConfig,
                    };
                    if let Some(e) = proposer.submit(vec![cmd]).await.refused {
                        tracing::warn!("cannot write the config with the observers: {e}");
                    }
                }
            }
            if metrics.changed().await.is_err() {
                return;
            }
        }
    })
}
