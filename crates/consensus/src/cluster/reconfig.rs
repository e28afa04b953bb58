//! Carrying out a `reconfig` on the leader that logged it, as Raft membership changes.
//!
//! Every member applies the request (`CommandOp::Reconfig`) and judges it the same way (see
//! `state`); one that passes reaches this task on every member, and only the leader of the
//! term that logged it acts: each joining server is added as a learner and must catch up, a
//! quorum of the new voters must be caught up (ZooKeeper's `isQuorumSynced`, else
//! NewConfigNoQuorum rather than a change that could never commit), then
//! `change_membership` goes through joint consensus to the new voters.
//!
//! ZooKeeper's leader answers NewConfigNoQuorum at once when the new voters connected to it
//! and synced are no quorum: its joining servers are connected as non-voting followers
//! before the reconfig. Here a joining server is dialed only once it is added as a learner,
//! so the leader first gives the new voters a short while (the peer RPC timeout) to answer
//! it; if no quorum of them does (a joining server that is not running, or cannot be
//! reached), the answer is NewConfigNoQuorum then, not after the whole reconfig timeout. A
//! quorum that answers is then given that timeout to catch up, as before. Observers are Raft
//! learners marked as such in their record (`membership`): added as learners and never
//! promoted, they do not take part in the quorum check or the joint consensus. The answer is a
//! `CommandOp::ReconfigDone` with the request's origin, which writes `/zookeeper/config` at
//! its own zxid (the new version) on every member. One change at a time: a request that
//! arrives while one is carried out is answered ReconfigInProgress.

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use openraft::async_runtime::WatchReceiver;
use openraft::error::ChangeMembershipError;
use openraft::error::ClientWriteError;
use openraft::error::RaftError;
use openraft::metrics::SerdeInstant;
use openraft::BasicNode;
use openraft::ChangeMembers;
use openraft::Instant as _;
use tokio::sync::mpsc;
use tokio::sync::Mutex;
use tokio::task::JoinHandle;
use zk_wire::ErrorCode;

use crate::command::now_ms;
use crate::command::Command;
use crate::command::CommandOp;
use crate::grpc::submit::Proposer;
use crate::membership;
use crate::state_machine::ReconfigIntent;
use crate::types::NodeId;
use crate::types::TypeConfig;
use crate::types::ZkRaft;

/// Runs the reconfig intents this member applies; acts on those it logged as leader.
pub(crate) fn spawn_reconfigurer(
    raft: ZkRaft,
    proposer: Proposer,
    id: NodeId,
    mut intents: mpsc::UnboundedReceiver<ReconfigIntent>,
    timeout: Duration,
    connect_within: Duration,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let busy = Arc::new(Mutex::new(()));
        while let Some(intent) = intents.recv().await {
            if !logged_by_me(&raft, id, &intent) {
                continue;
            }
            // One change at a time: the guard lives as long as the change.
            let Ok(guard) = busy.clone().try_lock_owned() else {
                answer(&proposer, &intent, Some(ErrorCode::ReconfigInProgress)).await;
                continue;
            };
            let raft = raft.clone();
            let proposer = proposer.clone();
            tokio::spawn(async move {
                let bounds = Bounds {
                    timeout,
                    connect_within,
                };
                let result = carry_out(&raft, id, &intent.members, bounds).await;
                match result {
                    Ok(()) => answer(&proposer, &intent, None).await,
                    Err(Some(code)) => answer(&proposer, &intent, Some(code)).await,
                    // Leadership lost: the next leader knows nothing of it; the request's
                    // node fails it as it fails every write at a leader change.
                    Err(None) => {}
                }
                drop(guard);
            });
        }
    })
}

/// True if this member leads the term whose leader logged the intent.
fn logged_by_me(raft: &ZkRaft, id: NodeId, intent: &ReconfigIntent) -> bool {
    let leader = intent.log_id.committed_leader_id();
    if leader.node_id != id {
        return false;
    }
    let m = raft.metrics().borrow_watched().clone();
    m.current_leader == Some(id) && m.current_term == leader.term
}

/// Proposes the answer (and, on success, the new `/zookeeper/config`).
async fn answer(proposer: &Proposer, intent: &ReconfigIntent, error: Option<ErrorCode>) {
    let cmd = Command {
        time_ms: now_ms(),
        origin: intent.origin,
        op: CommandOp::ReconfigDone { error },
    };
    if let Some(e) = proposer.submit(vec![cmd]).await.refused {
        tracing::warn!("cannot log the end of a reconfig: {e}");
    }
}

/// How long a change may take.
#[derive(Debug, Clone, Copy)]
struct Bounds {
    /// The whole change (`ClusterConfig::reconfig_timeout`).
    timeout: Duration,
    /// A quorum of the new voters answering the leader (the peer RPC timeout).
    connect_within: Duration,
}

/// The membership change itself (to `members`: participants, and observers by their
/// records' mark); `Err(None)` if leadership was lost on the way.
async fn carry_out(
    raft: &ZkRaft,
    id: NodeId,
    members: &BTreeMap<NodeId, String>,
    bounds: Bounds,
) -> Result<(), Option<ErrorCode>> {
    let began = tokio::time::Instant::now();
    let deadline = began + bounds.timeout;
    // Who answers a heartbeat sent from now on is connected: one sent before may have been
    // answered by a member killed since (ZooKeeper sees that at once, its follower's socket
    // closing; a heartbeat interval is the price here). A joining server is counted once it
    // answers as a learner.
    let since = SerdeInstant::new(openraft::TokioInstant::now());
    let membership = raft
        .metrics()
        .borrow_watched()
        .membership_config
        .membership()
        .clone();
    if membership.get_joint_config().len() > 1 {
        return Err(Some(ErrorCode::ReconfigInProgress));
    }
    let voters = membership::participants(members);
    let current_voters: BTreeSet<NodeId> = membership.voter_ids().collect();
    let records = Records::plan(&membership, &current_voters, members);
    // New addresses, and members about to become observers, get their record first; an
    // observer about to vote keeps its mark (it goes on serving) until it does.
    if !records.before.is_empty() {
        tracing::info!(records = ?records.before, "reconfig: new member records");
        within(
            deadline,
            raft.change_membership(ChangeMembers::SetNodes(records.before.clone()), true),
        )
        .await?;
    }
    let mut added = BTreeSet::new();
    for (&v, rec) in members {
        if membership.get_node(&v).is_none() {
            tracing::info!(id = v, addr = %rec, "reconfig: adding a learner");
            within(
                deadline,
                raft.add_learner(v, BasicNode::new(rec.clone()), false),
            )
            .await?;
            added.insert(v);
        }
    }
    if voters != current_voters {
        let connect_by = deadline.min(began + bounds.connect_within);
        if let Err(e) = quorum_connected(raft, id, &voters, since, connect_by).await {
            tracing::warn!("reconfig refused: {e}");
            remove_learners(raft, &added).await;
            return Err(Some(ErrorCode::NewConfigNoQuorum));
        }
        if let Err(e) = quorum_synced(raft, id, &voters, deadline).await {
            tracing::warn!("reconfig refused: {e}");
            remove_learners(raft, &added).await;
            return Err(Some(ErrorCode::NewConfigNoQuorum));
        }
        // A voter that stays as an observer must stay a learner; the others leave at once.
        let retain = current_voters
            .iter()
            .any(|v| !voters.contains(v) && members.contains_key(v));
        tracing::info!(voters = ?voters, "reconfig: changing the voters (joint consensus)");
        change_voters(raft, id, &voters, retain, deadline).await?;
    }
    // Observers removed, and voters kept as learners that are not members any more.
    let gone: BTreeSet<NodeId> = raft
        .metrics()
        .borrow_watched()
        .membership_config
        .membership()
        .nodes()
        .map(|(n, _)| *n)
        .filter(|n| !members.contains_key(n))
        .collect();
    if !gone.is_empty() {
        tracing::info!(?gone, "reconfig: removing members that are not voters");
        within(
            deadline,
            raft.change_membership(ChangeMembers::RemoveNodes(gone), false),
        )
        .await?;
    }
    if !records.after.is_empty() {
        within(
            deadline,
            raft.change_membership(ChangeMembers::SetNodes(records.after.clone()), false),
        )
        .await?;
    }
    tracing::info!(members = ?members.keys().collect::<Vec<_>>(), "reconfig committed");
    Ok(())
}

/// How long a refused step of the change of voters waits before it is asked again.
const STEP_RETRY: Duration = Duration::from_millis(50);

/// The change of voters through joint consensus, asked again while this member still leads
/// the term it began in. openraft refuses a step with ForwardToLeader and no leader when the
/// leader's lease has lapsed (`LeaseExpired`: no quorum heard from lately, as when a member
/// of the new configuration was just killed), though the node goes on leading; taking that
/// as lost leadership left the joint membership behind, with every later reconfig answered
/// ReconfigInProgress until another leader took over (zk-chaos's `resize` fault: seeds 14,
/// 16 and 19 of 8-20). Asking again finishes it: from a joint membership, the same target
/// is the second step.
async fn change_voters(
    raft: &ZkRaft,
    id: NodeId,
    voters: &BTreeSet<NodeId>,
    retain: bool,
    deadline: tokio::time::Instant,
) -> Result<(), Option<ErrorCode>> {
    let term = raft.metrics().borrow_watched().current_term;
    loop {
        let step = raft.change_membership(ChangeMembers::ReplaceAllVoters(voters.clone()), retain);
        match within(deadline, step).await {
            Err(None) if still_leads(raft, id, term) => {
                tracing::info!(
                    "reconfig: a step of the change was refused while this member still \
                     leads (its lease lapsed); asking again"
                );
                // A retry pace against a lease that comes back with the next round of
                // heartbeats, bounded by the reconfig's deadline in `within`.
                tokio::time::sleep(STEP_RETRY).await;
            }
            other => return other.map(|_| ()),
        }
    }
}

/// True while this member leads term `term`.
fn still_leads(raft: &ZkRaft, id: NodeId, term: u64) -> bool {
    let m = raft.metrics().borrow_watched().clone();
    m.current_leader == Some(id) && m.current_term == term
}

/// The record changes of existing members, in two steps around the change of voters.
#[derive(Debug, Default, PartialEq, Eq)]
struct Records {
    /// Set before the voters change: new addresses and new observer marks.
    before: BTreeMap<NodeId, BasicNode>,
    /// Set after: the final record of an observer that became a participant.
    after: BTreeMap<NodeId, BasicNode>,
}

impl Records {
    fn plan(
        membership: &openraft::Membership<NodeId, BasicNode>,
        current_voters: &BTreeSet<NodeId>,
        members: &BTreeMap<NodeId, String>,
    ) -> Records {
        let mut r = Records::default();
        for (v, rec) in members {
            let Some(node) = membership.get_node(v) else {
                continue;
            };
            let was_observer = !current_voters.contains(v) && membership::is_observer(&node.addr);
            let first = if was_observer {
                membership::with_observer(rec, true)
            } else {
                rec.clone()
            };
            if first != node.addr {
                r.before.insert(*v, BasicNode::new(first.clone()));
            }
            if &first != rec {
                r.after.insert(*v, BasicNode::new(rec.clone()));
            }
        }
        r
    }
}

/// Runs a membership call before `deadline`, mapping its failure onto the reconfig's answer.
async fn within<T>(
    deadline: tokio::time::Instant,
    call: impl std::future::Future<
        Output = Result<
            T,
            RaftError<crate::types::TypeConfig, ClientWriteError<crate::types::TypeConfig>>,
        >,
    >,
) -> Result<T, Option<ErrorCode>> {
    match tokio::time::timeout_at(deadline, call).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(RaftError::APIError(
            ClientWriteError::ForwardToLeader(_) | ClientWriteError::LogEntryDiscarded(_),
        ))) => Err(None),
        Ok(Err(RaftError::APIError(ClientWriteError::ChangeMembershipError(
            ChangeMembershipError::InProgress(_),
        )))) => Err(Some(ErrorCode::ReconfigInProgress)),
        Ok(Err(e)) => {
            tracing::warn!("reconfig failed: {e}");
            Err(Some(ErrorCode::NewConfigNoQuorum))
        }
        Err(_) => {
            tracing::warn!("reconfig: no quorum of the new configuration in time");
            Err(Some(ErrorCode::NewConfigNoQuorum))
        }
    }
}

/// The members of `voters` the leader knows to be connected: itself, and each that answered
/// a heartbeat (or replication) the leader sent at or after `since`, when the change began
/// (`acked`: openraft's heartbeat metrics, the sending time of each member's last answered
/// one).
fn connected<I: Ord>(
    voters: &BTreeSet<NodeId>,
    me: NodeId,
    acked: &BTreeMap<NodeId, Option<I>>,
    since: &I,
) -> BTreeSet<NodeId> {
    voters
        .iter()
        .copied()
        .filter(|v| *v == me || acked.get(v).is_some_and(|t| t.as_ref() >= Some(since)))
        .collect()
}

/// Waits until the voters `pick` finds in the metrics are a majority of `voters`; Err with
/// why if this node stops leading, Raft stops, or `by` passes (`why` words that, from the
/// last voters picked).
async fn majority_of(
    raft: &ZkRaft,
    id: NodeId,
    voters: &BTreeSet<NodeId>,
    by: tokio::time::Instant,
    pick: impl Fn(&openraft::RaftMetrics<TypeConfig>) -> BTreeSet<NodeId>,
    why: impl FnOnce(&BTreeSet<NodeId>) -> String,
) -> Result<(), String> {
    let mut metrics = raft.metrics();
    loop {
        let picked = {
            let m = metrics.borrow_watched();
            if m.current_leader != Some(id) {
                return Err("no longer the leader".to_string());
            }
            pick(&m)
        };
        if picked.len() * 2 > voters.len() {
            return Ok(());
        }
        match tokio::time::timeout_at(by, metrics.changed()).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return Err("raft stopped".to_string()),
            Err(_) => return Err(why(&picked)),
        }
    }
}

/// Waits until a majority of `voters` is connected to this leader (see [`connected`]), up to
/// `by`; Err with why if not by then. A member that is not running never answers, so a
/// change that counts on it is refused after this short wait rather than the whole timeout.
async fn quorum_connected(
    raft: &ZkRaft,
    id: NodeId,
    voters: &BTreeSet<NodeId>,
    since: SerdeInstant<openraft::TokioInstant>,
    by: tokio::time::Instant,
) -> Result<(), String> {
    let pick = |m: &openraft::RaftMetrics<TypeConfig>| {
        connected(voters, id, &m.heartbeat.clone().unwrap_or_default(), &since)
    };
    let why = |up: &BTreeSet<NodeId>| {
        format!(
            "only {up:?} of the new voters {voters:?} answer the leader: no quorum of the new \
             configuration is connected"
        )
    };
    majority_of(raft, id, voters, by, pick, why).await
}

/// Waits until a majority of `voters` holds the leader's log as it was when the wait began
/// (the leader counts itself); Err with why once `deadline` passes.
async fn quorum_synced(
    raft: &ZkRaft,
    id: NodeId,
    voters: &BTreeSet<NodeId>,
    deadline: tokio::time::Instant,
) -> Result<(), String> {
    let target = raft.metrics().borrow_watched().last_log_index.unwrap_or(0);
    let pick = |m: &openraft::RaftMetrics<TypeConfig>| {
        let replication = m.replication.clone().unwrap_or_default();
        voters
            .iter()
            .copied()
            .filter(|v| {
                *v == id
                    || replication
                        .get(v)
                        .and_then(|l| l.as_ref())
                        .is_some_and(|l| l.index >= target)
            })
            .collect()
    };
    let why = |synced: &BTreeSet<NodeId>| {
        format!("only {synced:?} of {voters:?} caught up with index {target}")
    };
    majority_of(raft, id, voters, deadline, pick, why).await
}

/// Takes back the learners a refused change added.
async fn remove_learners(raft: &ZkRaft, added: &BTreeSet<NodeId>) {
    if added.is_empty() {
        return;
    }
    let call = raft.change_membership(ChangeMembers::RemoveNodes(added.clone()), false);
    match tokio::time::timeout(Duration::from_secs(5), call).await {
        Ok(Ok(_)) => tracing::info!(?added, "reconfig: learners removed again"),
        Ok(Err(e)) => tracing::warn!(?added, "reconfig: learners not removed: {e}"),
        Err(_) => tracing::warn!(?added, "reconfig: learners not removed in time"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn membership(
        voters: &[NodeId],
        nodes: &[(NodeId, &str)],
    ) -> openraft::Membership<NodeId, BasicNode> {
        let nodes: BTreeMap<NodeId, BasicNode> = nodes
            .iter()
            .map(|(id, r)| (*id, BasicNode::new(*r)))
            .collect();
        openraft::Membership::new(vec![voters.iter().copied().collect()], nodes)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Connected: the leader itself, and members that answered a heartbeat sent since `since`
    /// (an older answer, or none, as from a server that is not running, does not count).
    #[test]
    fn connected_voters_answered_since_the_change_began() {
        let voters: BTreeSet<NodeId> = [1, 2, 3, 4, 5].into();
        let acked: BTreeMap<NodeId, Option<u32>> =
            [(2, Some(10)), (3, Some(9)), (4, None), (6, Some(20))].into();
        assert_eq!(connected(&voters, 1, &acked, &10), [1, 2].into());
        assert_eq!(connected(&voters, 1, &acked, &5), [1, 2, 3].into());
        assert_eq!(
            connected(
                &[1, 4].into(),
                1,
                &BTreeMap::<NodeId, Option<u32>>::new(),
                &0
            ),
            [1].into()
        );
    }

    /// A voter turning observer is marked before it stops voting; an observer turning
    /// participant keeps its mark (and serves) until it votes, then gets its record; a new
    /// address is set first; unchanged members are left alone.
    #[test]
    fn records_change_around_the_vote() {
        let m = membership(
            &[1, 2, 3],
            &[(1, "a:1"), (2, "b:1"), (3, "c:1"), (4, "d:1:observer")],
        );
        let voters: BTreeSet<NodeId> = [1, 2, 3].into();
        let target: BTreeMap<NodeId, String> = [
            (1, "a:1"),
            (2, "b:9"),
            (3, "c:1:observer"),
            (4, "d:1:2;h:3"),
        ]
        .into_iter()
        .map(|(id, r)| (id, r.to_string()))
        .collect();
        let r = Records::plan(&m, &voters, &target);
        let addrs = |b: &BTreeMap<NodeId, BasicNode>| {
            b.iter()
                .map(|(id, n)| (*id, n.addr.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            addrs(&r.before),
            vec![
                (2, "b:9".to_string()),
                (3, "c:1:observer".to_string()),
                (4, "d:1:2:observer;h:3".to_string())
            ]
        );
        assert_eq!(addrs(&r.after), vec![(4, "d:1:2;h:3".to_string())]);
    }
}
