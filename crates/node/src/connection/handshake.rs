//! The session handshake (sessions.md S3–S4): a new session through Raft, or a resumed one
//! checked against the HMAC password and the replicated session table.

use std::time::Duration;

use zk_consensus::CommandOp;
use zk_consensus::Outcome;
use zk_session::Owner;
use zk_session::SessionId;
use zk_session::PASSWORD_LEN;
use zk_wire::ConnectRequest;
use zk_wire::ConnectResponse;

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

/// Decides a ConnectRequest.
pub async fn handshake(node: &Node, req: &ConnectRequest) -> Handshake {
    // S9.4: cut off from the quorum, this node must not take sessions; the client moves on.
    if !node.serving.get() {
        return Handshake::Refuse("not serving: no quorum".to_string());
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
    if req.session_id == 0 {
        return create(node, req).await;
    }
    resume(node, req).await
}

async fn create(node: &Node, req: &ConnectRequest) -> Handshake {
    let timeout_ms = node.settings.timeouts.negotiate(req.time_out);
    let proposal = node.propose(CommandOp::CreateSession { timeout_ms });
    let owner = proposal.origin.owner();
    match proposal.done.await {
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

async fn resume(node: &Node, req: &ConnectRequest) -> Handshake {
    let Ok(session) = SessionId::from_raw(req.session_id) else {
        return Handshake::Reject(invalid_session());
    };
    let passwd = {
        let st = node.state.read();
        let Some(secret) = &st.secret else {
            return Handshake::Reject(invalid_session());
        };
        // S3.2: the password is checked (in constant time) before anything about the
        // session is revealed; a forged id and a wrong password get the same answer.
        if !secret.verify(session, &req.passwd) || !st.sessions.contains(session) {
            return Handshake::Reject(invalid_session());
        }
        secret.password(session).to_vec()
    };
    // The resume is replicated: every node then stops serving the session on any other
    // connection, and that connection's writes fail with SessionMoved.
    let proposal = node.propose(CommandOp::ClaimSession {
        session_id: session.get(),
    });
    match proposal.done.await {
        Ok(Ok((_, Outcome::SessionClaimed { owner, .. }))) => {
            // The replicated timeout, not this request's: it is the one the leader's expiry
            // tracker enforces.
            match node.state.read().sessions.get(session) {
                Some(timeout_ms) => serve(session, timeout_ms, owner, passwd),
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
