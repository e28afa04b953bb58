//! Recovery from a lost quorum: restart one surviving member as an ensemble of one from its
//! own data (ClickHouse Keeper's `--force-recovery`), after which the operator adds the
//! others back by reconfig.
//!
//! Raft cannot do this through itself: changing the membership needs a quorum of the old
//! one, which is what was lost. So it is done to the stored log before Raft starts, the way
//! a member would have received the change from a leader:
//!
//! 1. the data dir gets a new ensemble id, so the old members (which may still hold a
//!    majority of the old membership between them, if they were only unreachable) and this
//!    member refuse each other's RPCs instead of forming two ensembles that both accept
//!    writes; the old members are wiped and join the recovered ensemble as new nodes;
//! 2. the vote moves to a new term, one past every term this member has seen, voting for
//!    itself (uncommitted: it still has to win its election, which as the only voter it does);
//! 3. a membership entry with this member as the only voter is appended in that term after
//!    the last entry it holds, and synced.
//!
//! openraft then starts with that entry as the effective membership, elects this member,
//! and its first commit covers every entry the member holds, including those the old
//! ensemble never committed. What the lost members had acknowledged and this one had not
//! received is gone: that is the price, and why the node layer asks for a confirmation.
//!
//! Idempotent where it matters: a member that is already the only voter of its last
//! membership is left alone, so a restart that still carries the flag changes nothing.

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::io;

use openraft::impls::leader_id_adv::LeaderId;
use openraft::storage::RaftLogReader;
use openraft::storage::RaftLogStorage;
use openraft::storage::RaftLogStorageExt;
use openraft::storage::RaftStateMachine;
use openraft::vote::RaftLeaderId;
use openraft::EntryPayload;
use openraft::Membership;

use crate::cluster::stored_membership::stored_membership;
use crate::cluster_meta::ClusterMetaStore;
use crate::grpc::identity::fingerprint;
use crate::log_store::LogStore;
use crate::state_machine::ZkStateMachine;
use crate::types::Entry;
use crate::types::LogId;
use crate::types::NodeId;
use crate::types::TypeConfig;
use crate::types::Vote;

/// What a forced recovery did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Recovery {
    /// This member already is the only voter of its last membership: nothing changed.
    AlreadyAlone,
    /// The membership entry was appended at `index` in `term`; the ensemble id is new.
    Forced {
        /// The new term.
        term: u64,
        /// The index of the appended membership entry.
        index: u64,
        /// The voters (and learners) of the membership left behind.
        previous: BTreeSet<NodeId>,
        /// The ensemble's new id.
        ensemble: u64,
    },
}

/// Why a forced recovery could not be done; the data dir is unchanged, except possibly for
/// its ensemble id (changed first, see the module's comment).
#[derive(Debug, thiserror::Error)]
pub enum RecoveryError {
    /// This data dir has never been part of an ensemble: there is nothing to recover.
    #[error("force recovery: this data dir has never been part of an ensemble (no membership in its log or snapshot); start it normally")]
    NeverFormed,
    /// This node is not in the last membership its data dir holds.
    #[error("force recovery: node {id} is not a member of the last membership its data dir holds ({members:?}); only a member that was a voter can be recovered")]
    NotAMember {
        /// This node.
        id: NodeId,
        /// The members it found.
        members: BTreeSet<NodeId>,
    },
    /// Reading or writing the log, the vote or the metadata failed.
    #[error("force recovery: {0}")]
    Storage(#[from] io::Error),
}

/// Makes `id` the only voter of the log in `log_store`, as the module describes.
pub(crate) async fn force_alone(
    log_store: &mut LogStore<TypeConfig>,
    sm: &mut ZkStateMachine,
    meta: &ClusterMetaStore,
    id: NodeId,
    ensemble: u64,
) -> Result<Recovery, RecoveryError> {
    let Some(membership) = stored_membership(log_store, sm).await? else {
        return Err(RecoveryError::NeverFormed);
    };
    let Some(last) = log_store
        .get_log_state()
        .await?
        .last_log_id
        .or(sm.applied_state().await?.0)
    else {
        return Err(RecoveryError::NeverFormed);
    };
    let voters: BTreeSet<NodeId> = membership.voter_ids().collect();
    let everyone: BTreeSet<NodeId> = membership.nodes().map(|(n, _)| *n).collect();
    let Some(own) = membership
        .get_node(&id)
        .cloned()
        .filter(|_| voters.contains(&id))
    else {
        return Err(RecoveryError::NotAMember {
            id,
            members: everyone,
        });
    };
    if everyone.len() == 1 {
        return Ok(Recovery::AlreadyAlone);
    }

    let vote = log_store.get_log_reader().await.read_vote().await?;
    let seen = vote
        .as_ref()
        .map_or(0, |v: &Vote| v.leader_id().term)
        .max(last.leader_id.term);
    let term = seen + 1;
    let index = last.index + 1;

    // 1. The new ensemble id first: a crash after it and before the log leaves a member that
    //    refuses its old peers and recovers again at the next start, never one that rejoined
    //    them with a forced membership.
    let recovered = fingerprint(&BTreeMap::from([(
        id,
        format!("force-recovery of ensemble {ensemble:016x} in term {term}"),
    )]));
    meta.put_ensemble(recovered)
        .map_err(|e| io::Error::other(e.to_string()))?;

    // 2. The vote: one past every term seen, for itself, not yet granted by anyone.
    log_store.save_vote(&Vote::new(term, id)).await?;

    // 3. The membership entry, synced before Raft sees it.
    let alone = Membership::new(vec![BTreeSet::from([id])], BTreeMap::from([(id, own)]))
        .map_err(|e| io::Error::other(e.to_string()))?;
    let entry = Entry {
        log_id: LogId::new(LeaderId::new(term, id), index),
        payload: EntryPayload::Membership(alone),
    };
    log_store
        .blocking_append([entry])
        .await
        .map_err(|e| io::Error::other(e.to_string()))?;
    Ok(Recovery::Forced {
        term,
        index,
        previous: everyone,
        ensemble: recovered,
    })
}

#[cfg(test)]
mod tests {
    use openraft::type_config::alias::EntryPayloadOf;
    use zk_store::TreeConfig;

    use super::*;
    use crate::storage::SledStorage;

    fn members(ids: &[NodeId]) -> EntryPayloadOf<TypeConfig> {
        let nodes: BTreeMap<NodeId, openraft::BasicNode> = ids
            .iter()
            .map(|&i| {
                (
                    i,
                    openraft::BasicNode::new(format!("127.0.0.1:{}", 2880 + i)),
                )
            })
            .collect();
        EntryPayload::Membership(
            Membership::new(vec![ids.iter().copied().collect()], nodes).unwrap(),
        )
    }

    fn entry(term: u64, leader: NodeId, index: u64, payload: EntryPayloadOf<TypeConfig>) -> Entry {
        Entry {
            log_id: LogId::new(LeaderId::new(term, leader), index),
            payload,
        }
    }

    /// A data dir of a three-member ensemble whose log ends at index 4 in term 3.
    async fn three_members(dir: &std::path::Path) {
        let storage = SledStorage::open(dir).unwrap();
        let mut log = storage.log_store::<TypeConfig>().unwrap();
        log.blocking_append([
            entry(0, 0, 0, members(&[1, 2, 3])),
            entry(1, 1, 1, EntryPayload::Blank),
            entry(3, 2, 2, EntryPayload::Blank),
            entry(3, 2, 3, EntryPayload::Blank),
            entry(3, 2, 4, EntryPayload::Blank),
        ])
        .await
        .unwrap();
        log.save_vote(&Vote::new_committed(3, 2)).await.unwrap();
        storage.cluster_meta().put_ensemble(0xfeed).unwrap();
    }

    async fn recover(dir: &std::path::Path, id: NodeId) -> Result<Recovery, RecoveryError> {
        let storage = SledStorage::open(dir).unwrap();
        let mut log = storage.log_store::<TypeConfig>().unwrap();
        let (mut sm, _) = ZkStateMachine::open(&storage, TreeConfig::default()).unwrap();
        let meta = storage.cluster_meta();
        let ensemble = meta.ensemble().unwrap().unwrap_or(0);
        force_alone(&mut log, &mut sm, &meta, id, ensemble).await
    }

    #[tokio::test]
    async fn the_survivor_becomes_the_only_voter_in_a_new_term_and_ensemble() {
        let dir = tempfile::tempdir().unwrap();
        three_members(dir.path()).await;
        let done = recover(dir.path(), 3).await.unwrap();
        let Recovery::Forced {
            term,
            index,
            previous,
            ensemble,
        } = done
        else {
            panic!("{done:?}")
        };
        assert_eq!((term, index), (4, 5));
        assert_eq!(previous, BTreeSet::from([1, 2, 3]));
        assert_ne!(ensemble, 0xfeed);

        // What a restart (and openraft) reads back: the vote, the entry, the ensemble id.
        let storage = SledStorage::open(dir.path()).unwrap();
        assert_eq!(storage.cluster_meta().ensemble().unwrap(), Some(ensemble));
        let mut log = storage.log_store::<TypeConfig>().unwrap();
        let mut reader = log.get_log_reader().await;
        assert_eq!(reader.read_vote().await.unwrap(), Some(Vote::new(4, 3)));
        let last = reader.try_get_log_entries(5..6).await.unwrap();
        assert_eq!(last.len(), 1);
        assert_eq!(last[0].log_id, LogId::new(LeaderId::new(4, 3), 5));
        let EntryPayload::Membership(m) = &last[0].payload else {
            panic!("{:?}", last[0].payload)
        };
        assert_eq!(m.voter_ids().collect::<Vec<_>>(), vec![3]);
        assert_eq!(
            m.get_node(&3).map(|n| n.addr.as_str()),
            Some("127.0.0.1:2883"),
            "its own address record is kept"
        );
        drop(reader);
        drop(log);
        drop(storage);

        // Once alone, again is nothing.
        assert_eq!(
            recover(dir.path(), 3).await.unwrap(),
            Recovery::AlreadyAlone
        );
    }

    #[tokio::test]
    async fn only_a_voter_of_a_formed_ensemble_can_be_recovered() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            recover(dir.path(), 1).await,
            Err(RecoveryError::NeverFormed)
        ));
        let dir = tempfile::tempdir().unwrap();
        three_members(dir.path()).await;
        let err = recover(dir.path(), 9).await.unwrap_err();
        assert!(err.to_string().contains("node 9 is not a member"), "{err}");
        // Refused before anything was written.
        let storage = SledStorage::open(dir.path()).unwrap();
        assert_eq!(storage.cluster_meta().ensemble().unwrap(), Some(0xfeed));
    }
}
