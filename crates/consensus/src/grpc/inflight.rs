//! One AppendEntries with entries kept running per target, past openraft's timeout for it.
//!
//! Why: openraft 0.9 gives an AppendEntries one heartbeat interval, then resends the same
//! range. A payload whose transfer, decoding and flush take longer than that (a value near
//! 1 MiB in an unoptimized build) would be cancelled and resent forever. So the RPC runs on
//! a task of its own, bounded by the longer RPC timeout; a resend from the same leader and
//! `prev_log_id` that covers it waits for that RPC instead of starting over, and is told
//! `PartialSuccess` for the part the running RPC carries, so openraft sends only the rest.

use std::future::Future;
use std::time::Duration;

use openraft::error::NetworkError;
use openraft::error::RPCError;
use openraft::error::RaftError;
use openraft::raft::AppendEntriesRequest;
use openraft::raft::AppendEntriesResponse;
use openraft::BasicNode;
use openraft::LogId;
use openraft::Vote;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::types::NodeId;
use crate::types::TypeConfig;

/// A finished RPC's answer is handed to a resend only this soon after it arrived: later,
/// the target may have restarted (even with an empty disk) and must be asked again.
const FRESH: Duration = Duration::from_secs(1);

/// The outcome of one AppendEntries RPC.
pub(crate) type AppendResult =
    Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>>;

/// What an AppendEntries request carries: the leader's vote and the log range after
/// `prev` up to `last` (`last == prev`: a heartbeat).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Span {
    vote: Vote<NodeId>,
    prev: Option<LogId<NodeId>>,
    last: Option<LogId<NodeId>>,
}

impl Span {
    pub(crate) fn of(rpc: &AppendEntriesRequest<TypeConfig>) -> Self {
        Span {
            vote: rpc.vote,
            prev: rpc.prev_log_id,
            last: rpc.entries.last().map(|e| e.log_id).or(rpc.prev_log_id),
        }
    }

    pub(crate) fn has_entries(&self) -> bool {
        self.last != self.prev
    }
}

/// A running (or just answered) AppendEntries RPC.
#[derive(Clone)]
pub(crate) struct InFlight {
    span: Span,
    result: watch::Receiver<Option<(AppendResult, Instant)>>,
}

impl InFlight {
    /// Runs `rpc` on a task of its own.
    pub(crate) fn spawn(
        span: Span,
        rpc: impl Future<Output = AppendResult> + Send + 'static,
    ) -> Self {
        let (tx, result) = watch::channel(None);
        tokio::spawn(async move {
            let r = rpc.await;
            tx.send_replace(Some((r, Instant::now())));
        });
        InFlight { span, result }
    }

    /// Whether a request for `span` may wait for this RPC instead of being sent: same
    /// leader and start, this RPC's range a prefix of it (by log matching, the same
    /// entries), and this RPC still running or freshly successful.
    pub(crate) fn covers(&self, span: &Span) -> bool {
        let usable = match &*self.result.borrow() {
            None => true,
            Some((Ok(_), at)) => at.elapsed() < FRESH,
            Some((Err(_), _)) => false,
        };
        usable
            && self.span.has_entries()
            && self.span.vote == span.vote
            && self.span.prev == span.prev
            && self.span.last <= span.last
    }

    /// Where the RPC's range starts (matched on the target).
    pub(crate) fn prev(&self) -> Option<LogId<NodeId>> {
        self.span.prev
    }

    /// Waits for the RPC's outcome.
    pub(crate) async fn wait(&self) -> AppendResult {
        let mut rx = self.result.clone();
        let outcome = match rx.wait_for(Option::is_some).await {
            Ok(r) => match &*r {
                Some((res, _)) => clone_result(res),
                None => Err(ended()),
            },
            Err(_) => Err(ended()),
        };
        outcome
    }

    /// The answer to a request for `span` (covered by this RPC) given this RPC's response:
    /// what lies beyond this RPC's range was not sent, so full success is partial there.
    pub(crate) fn answer_for(
        &self,
        span: &Span,
        resp: AppendEntriesResponse<NodeId>,
    ) -> AppendEntriesResponse<NodeId> {
        match resp {
            AppendEntriesResponse::Success if self.span.last < span.last => {
                AppendEntriesResponse::PartialSuccess(self.span.last)
            }
            other => other,
        }
    }
}

fn ended() -> RPCError<NodeId, BasicNode, RaftError<NodeId>> {
    let e = std::io::Error::other("append task ended without an answer");
    RPCError::Network(NetworkError::new(&e))
}

/// openraft's response type is not `Clone`; every variant is plain data.
fn clone_result(r: &AppendResult) -> AppendResult {
    match r {
        Ok(AppendEntriesResponse::Success) => Ok(AppendEntriesResponse::Success),
        Ok(AppendEntriesResponse::PartialSuccess(l)) => {
            Ok(AppendEntriesResponse::PartialSuccess(*l))
        }
        Ok(AppendEntriesResponse::Conflict) => Ok(AppendEntriesResponse::Conflict),
        Ok(AppendEntriesResponse::HigherVote(v)) => Ok(AppendEntriesResponse::HigherVote(*v)),
        Err(e) => Err(e.clone()),
    }
}

#[cfg(test)]
mod tests {
    use openraft::CommittedLeaderId;

    use super::*;

    fn log_id(index: u64) -> Option<LogId<NodeId>> {
        Some(LogId::new(CommittedLeaderId::new(1, 1), index))
    }

    fn span(prev: u64, last: u64) -> Span {
        Span {
            vote: Vote::new_committed(1, 1),
            prev: log_id(prev),
            last: log_id(last),
        }
    }

    #[tokio::test]
    async fn a_resend_waits_for_the_running_rpc_and_gets_partial_success() {
        let (go, wait) = tokio::sync::oneshot::channel::<()>();
        let running = InFlight::spawn(span(5, 8), async move {
            let _ = wait.await;
            Ok(AppendEntriesResponse::Success)
        });
        assert!(running.covers(&span(5, 8)));
        assert!(running.covers(&span(5, 10)), "a longer resend");
        assert!(!running.covers(&span(5, 7)), "a shorter one is not covered");
        assert!(!running.covers(&span(6, 10)), "another start");
        assert!(!running.covers(&span(5, 5)), "a heartbeat runs on its own");
        let mut other_leader = span(5, 10);
        other_leader.vote = Vote::new_committed(2, 2);
        assert!(!running.covers(&other_leader));

        let _ = go.send(());
        let resp = running.wait().await.unwrap();
        assert_eq!(
            running.answer_for(&span(5, 10), resp),
            AppendEntriesResponse::PartialSuccess(log_id(8))
        );
        let resp = running.wait().await.unwrap();
        assert_eq!(
            running.answer_for(&span(5, 8), resp),
            AppendEntriesResponse::Success
        );
    }

    #[tokio::test]
    async fn a_failed_rpc_is_not_waited_for() {
        let failed = InFlight::spawn(span(1, 3), async { Err(ended()) });
        assert!(failed.wait().await.is_err());
        assert!(!failed.covers(&span(1, 3)));
    }
}
