//! The membership a data dir holds, read before Raft starts: the newest membership entry in
//! its log (committed or not: openraft follows the newest it holds), else the one its
//! applied state (the snapshot) carries. Read from storage because openraft's metrics cannot
//! say it yet at that point: its core task publishes them some time after `Raft::new`
//! (reading them there missed the membership now and then; `ensemble.rs`'s restart test
//! caught it).

use std::io;

use openraft::storage::RaftLogReader;
use openraft::storage::RaftLogStorage;
use openraft::storage::RaftStateMachine;
use openraft::BasicNode;
use openraft::EntryPayload;
use openraft::Membership;

use crate::log_store::LogStore;
use crate::state_machine::ZkStateMachine;
use crate::types::NodeId;
use crate::types::TypeConfig;

/// The membership `log_store` and `sm` hold; `None` for a data dir never part of an ensemble.
pub(crate) async fn stored_membership(
    log_store: &mut LogStore<TypeConfig>,
    sm: &mut ZkStateMachine,
) -> io::Result<Option<Membership<NodeId, BasicNode>>> {
    let (applied, applied_membership) = sm.applied_state().await?;
    let mut membership = applied_membership
        .log_id()
        .is_some()
        .then(|| applied_membership.membership().clone());
    let last = log_store.get_log_state().await?.last_log_id;
    let from = applied.as_ref().map_or(0, |a| a.index + 1);
    if let Some(last) = last.filter(|l| l.index >= from) {
        let mut reader = log_store.get_log_reader().await;
        for entry in reader.try_get_log_entries(from..=last.index).await? {
            if let EntryPayload::Membership(m) = entry.payload {
                membership = Some(m);
            }
        }
    }
    Ok(membership)
}
