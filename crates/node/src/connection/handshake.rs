//! The session handshake (sessions.md S3–S4): a new session through Raft, or a resumed one
//! checked against the HMAC password and decided in log order.
//!
//! Who judges a session (S9.6): never this member's own applied table alone, which may be
//! behind the ensemble (a member restarted a moment ago, or one that has not yet applied a
//! session created through another member a millisecond earlier). A handshake waits until
//! the member serves, which it does only once caught up with the ensemble's commit point
//! (`serving`); a resume with a verified password is then always proposed as a claim, and
//! the claim's applied outcome, the same on every member, says whether the session lives.
//! Only the password check answers at once, so a forged id or a wrong password learns
//! nothing, in constant time.
//!
//! A session request that no leader took (none known, the link to it broken, the leader gone
//! mid-way) is proposed again as soon as this member follows a new leader, within the
//! handshake's bound: right after a leader dies its clients reconnect to the others before
//! they have elected one, and an answer a moment later keeps them out of their reconnect
//! back-off (measured: write gaps after kill -9 of the leader of ~365 ms in 8 of 12 kills,
//! docs/performance.md, "Reconnecting during an election"). Proposing twice is safe: a claim
//! claims the session again, and a session created by a first proposal whose answer was lost
//! is one the client never learns of and expires unused (as with ZooKeeper, when a client
//! gives up on a connect its server has committed).

use std::time::Duration;

use tokio::sync::oneshot;
use tokio::sync::watch;
use tokio::time::Instant;
use zk_consensus::CommandOp;
use zk_consensus::Origin;
use zk_consensus::Outcome;
use zk_session::Admission;
use zk_session::Owner;
use zk_session::SessionId;
use zk_session::PASSWORD_LEN;
use zk_wire::ConnectRequest;
use zk_wire::ConnectResponse;

use crate::hub::Done;
use crate::node::Node;

/// How long a handshake waits for this node to apply the client's lastZxidSeen.
const CATCH_UP_WAIT: Duration = Duration::from_millis(500);

/// What to do with a connection after its ConnectRequest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handshake {
    /// Send `response` and serve the session.
    Serve {
        /// The session.
        session: SessionId,
        /// Its timeout (ms).
        timeout_ms: u32,
        /// This connection's owner token: its writes carry it, and a later resume elsewhere
        /// makes them SessionMoved.
        owner: Owner,
        /// The answer.
        response: ConnectResponse,
    },
    /// Send `response` (ZooKeeper's "session expired" answer, R2), then close.
    Reject(ConnectResponse),
    /// Close without an answer; the client will try another server.
    Refuse(String),
}

/// The answer to a wrong password or an unknown/expired session: timeOut 0, sessionId 0 and
/// 16 zero bytes (R2). Clients read it as "session expired".
pub fn invalid_session() -> ConnectResponse {
    ConnectResponse {
        protocol_version: 0,
        time_out: 0,
        session_id: 0,
        passwd: vec![0; PASSWORD_LEN],
        read_only: Some(false),
    }
}

fn serve(session: SessionId, timeout_ms: u32, owner: Owner, passwd: Vec<u8>) -> Handshake {
    Handshake::Serve {
        session,
        timeout_ms,
        owner,
        response: ConnectResponse {
            protocol_version: 0,
            time_out: i32::try_from(timeout_ms).unwrap_or(i32::MAX),
            session_id: session.get(),
            passwd,
            read_only: Some(false),
        },
    }
}

/// How long a handshake may take to be decided (S9.7): a tick, at least one second.
/// ZooKeeper's client gives each server its session timeout divided by the number of
/// servers to connect (1.33 s for a 4 s session and three servers), and its leader closes a
/// ConnectRequest after about 1.5 s when it has just lost its quorum (R11): past this bound
/// the client is better served trying the next server than waiting here.
pub fn bound(tick: Duration) -> Duration {
    tick.max(Duration::from_secs(1))
}

/// Decides a ConnectRequest: [`decide`] within [`bound`]; past it the connection is closed
/// without an answer and the client tries the next server.
pub async fn handshake(node: &Node, req: &ConnectRequest) -> Handshake {
    let bound = bound(node.settings.tick);
    match tokio::time::timeout(bound, decide(node, req, bound)).await {
        Ok(h) => h,
        Err(_) => Handshake::Refuse(format!("not decided within {bound:?}")),
    }
}

/// Decides a ConnectRequest (unbounded: [`handshake`] bounds it).
async fn decide(node: &Node, req: &ConnectRequest, bound: Duration) -> Handshake {
    let deadline = Instant::now() + bound;
    // S9.4, S9.6: a member cut off from the quorum, or not yet caught up with it since it
    // started or rejoined, must not take sessions. One that is about to (it started a moment
    // ago) is worth waiting for; else the client moves on.
    if !node.serving.wait(bound).await {
        return Handshake::Refuse("not serving: no quorum, or not caught up with it".to_string());
    }
    // S3.4: a server behind the client's view must not serve it (it would show the past).
    // A follower only a few entries behind catches up within a heartbeat or two, so it waits
    // that long first instead of sending the client round the ensemble (ZooKeeper refuses at
    // once).
    if req.last_zxid_seen > node.state.applied_zxid() {
        let caught_up =
            tokio::time::timeout(CATCH_UP_WAIT, node.state.wait_applied(req.last_zxid_seen)).await;
        if !matches!(caught_up, Ok(Ok(_))) {
            return Handshake::Refuse(format!(
                "client has seen zxid 0x{:x}, this node has applied only 0x{:x}",
                req.last_zxid_seen,
                node.state.applied_zxid()
            ));
        }
    }
    // The pure part (zk_session::admit, fuzzed there): the password is checked, in constant
    // time, before anything about the session is revealed (S3.2); a forged id and a wrong
    // password get the same answer.
    let admission = {
        let st = node.state.read();
        zk_session::admit_with(
            req.session_id,
            &req.passwd,
            req.time_out,
            st.secret.as_ref(),
            &node.settings.timeouts,
            st.zookeeper_sessions.contains(&req.session_id),
        )
    };
    match admission {
        Admission::Create { timeout_ms } => create(node, timeout_ms, deadline).await,
        Admission::Claim { session, password } => resume(node, session, password, deadline).await,
        // Serving means caught up with the ensemble, and the secret is the first thing an
        // ensemble commits: without one no session was ever created.
        Admission::Invalid => Handshake::Reject(invalid_session()),
    }
}

/// Proposes `op` and waits for its outcome; if no leader took it, waits for this member to
/// follow a new leader and proposes it again, until `deadline`. The origin is the last
/// proposal's.
async fn propose_led(
    node: &Node,
    op: CommandOp,
    deadline: Instant,
) -> (Origin, Result<Done, oneshot::error::RecvError>) {
    // Not Raft's own view of the role: `led` moves on only once the writes waiting on the
    // previous leader were failed, so a proposal made after it is not failed for that change
    // (found by the test of this: the retry, made on seeing the new leader, was failed by
    // the lagging failing of the writes made before it).
    let mut led = node.led.subscribe();
    loop {
        let seen = *led.borrow_and_update();
        let proposal = node.propose(op.clone());
        let done = proposal.done.await;
        if matches!(done, Ok(Err(_))) && new_leader(&mut led, seen, deadline).await {
            continue;
        }
        return (proposal.origin, done);
    }
}

/// Waits until `led` names a leader other than `seen` (another member, or the same in a
/// later term); false at `deadline` or once the node is gone.
async fn new_leader(
    led: &mut watch::Receiver<(Option<u64>, u64)>,
    seen: (Option<u64>, u64),
    deadline: Instant,
) -> bool {
    loop {
        let now = *led.borrow_and_update();
        if now.0.is_some() && now != seen {
            return true;
        }
        match tokio::time::timeout_at(deadline, led.changed()).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) | Err(_) => return false,
        }
    }
}

async fn create(node: &Node, timeout_ms: u32, deadline: Instant) -> Handshake {
    let (origin, done) = propose_led(node, CommandOp::CreateSession { timeout_ms }, deadline).await;
    let owner = origin.owner();
    match done {
        Ok(Ok((
            _,
            Outcome::SessionCreated {
                session_id,
                timeout_ms,
            },
        ))) => {
            let st = node.state.read();
            match &st.secret {
                Some(secret) => serve(
                    session_id,
                    timeout_ms,
                    owner,
                    secret.password(session_id).to_vec(),
                ),
                None => Handshake::Refuse("no cluster secret yet".to_string()),
            }
        }
        Ok(Ok((zxid, other))) => {
            Handshake::Refuse(format!("session not created at 0x{zxid:x}: {other:?}"))
        }
        Ok(Err(e)) => Handshake::Refuse(e.to_string()),
        Err(_) => Handshake::Refuse("node shutting down".to_string()),
    }
}

/// Claims `session`, whose `password` the client proved ([`zk_session::admit`]).
async fn resume(
    node: &Node,
    session: SessionId,
    password: [u8; PASSWORD_LEN],
    deadline: Instant,
) -> Handshake {
    // S9.6: whether the session lives is decided in log order, not by this member's table
    // (which may not have applied its creation yet). The resume is replicated: every node
    // then stops serving the session on any other connection, whose writes fail with
    // SessionMoved, and the claim's outcome answers for a session that has ended.
    let claim = CommandOp::ClaimSession {
        session_id: session.get(),
    };
    let (_, done) = propose_led(node, claim, deadline).await;
    match done {
        Ok(Ok((_, Outcome::SessionClaimed { owner, .. }))) => {
            // The replicated timeout, not this request's: it is the one the leader's expiry
            // tracker enforces.
            match node.state.read().sessions.get(session) {
                Some(timeout_ms) => serve(session, timeout_ms, owner, password.to_vec()),
                // Expired between the claim and now.
                None => Handshake::Reject(invalid_session()),
            }
        }
        // Expired meanwhile (the claim found no session).
        Ok(Ok((_, Outcome::Rejected(_)))) => Handshake::Reject(invalid_session()),
        Ok(Ok((zxid, other))) => {
            Handshake::Refuse(format!("session not resumed at 0x{zxid:x}: {other:?}"))
        }
        Ok(Err(e)) => Handshake::Refuse(e.to_string()),
        Err(_) => Handshake::Refuse("node shutting down".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The wait for a new leader: not for the leader already seen, not for "no leader" (an
    /// election under way), yes for another member or the same one in a later term; no at
    /// the deadline, and no once the node is gone.
    #[tokio::test(start_paused = true)]
    async fn a_new_leader_is_another_member_or_a_later_term() {
        let seen = (Some(1), 2);
        let (tx, mut led) = watch::channel(seen);
        let deadline = Instant::now() + Duration::from_secs(1);
        let waiter = tokio::spawn(async move {
            let found = new_leader(&mut led, seen, deadline).await;
            (found, Instant::now())
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        tx.send_replace((None, 3));
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(
            !waiter.is_finished(),
            "an election under way is no new leader"
        );
        tx.send_replace((Some(2), 3));
        let (found, at) = waiter.await.expect("waiter");
        assert!(found);
        assert!(at < deadline);

        // The same member in a later term is a new leader too.
        let (_tx, mut led) = watch::channel((Some(1), 3));
        assert!(new_leader(&mut led, seen, deadline).await);

        // Nothing changes: no, at the deadline and not before.
        let (_tx, mut led) = watch::channel(seen);
        let start = Instant::now();
        let deadline = start + Duration::from_millis(700);
        assert!(!new_leader(&mut led, seen, deadline).await);
        assert_eq!(start.elapsed(), Duration::from_millis(700));

        // The node is gone (the sender dropped): no, at once.
        let (tx, mut led) = watch::channel(seen);
        drop(tx);
        let start = Instant::now();
        assert!(!new_leader(&mut led, seen, start + Duration::from_secs(5)).await);
        assert_eq!(start.elapsed(), Duration::ZERO);
    }

    /// R2: exactly timeOut 0, sessionId 0, 16 zero bytes (37 bytes with the readOnly flag).
    #[test]
    fn invalid_session_answer_is_zookeepers() {
        use zk_wire::Record;
        let r = invalid_session();
        assert_eq!((r.time_out, r.session_id), (0, 0));
        assert_eq!(r.passwd, vec![0u8; 16]);
        assert_eq!(r.to_bytes().len(), 37);
    }
}
