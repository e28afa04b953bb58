//! What a ConnectRequest's session fields ask for (sessions.md S3, S4), decided before
//! anything is proposed: the pure part of the node's handshake (`connection/handshake.rs`),
//! which then waits for the log to say whether a claimed session lives. Fuzzed with the
//! frame and ConnectRequest decoders in front of it (`crates/session/fuzz`, target
//! `handshake`).

use crate::id::SessionId;
use crate::password::ClusterSecret;
use crate::password::PASSWORD_LEN;
use crate::timeout::TimeoutBounds;

/// What to do with a ConnectRequest's session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Session id 0: create a session with this negotiated timeout (S4.2).
    Create {
        /// The request's timeout clamped to the server's bounds.
        timeout_ms: u32,
    },
    /// A session id with its password (S3.2): claim the session. Whether it still lives is
    /// decided by the claim's place in the log, never here (S9.6).
    Claim {
        /// The session.
        session: SessionId,
        /// Its password, for the answer.
        password: [u8; PASSWORD_LEN],
    },
    /// A wrong password, a forged id, or no cluster secret yet (so no session was ever
    /// created): ZooKeeper's "session expired" answer at once, the same for every case so
    /// that a client learns nothing about the id.
    Invalid,
}

/// Decides what a ConnectRequest with `session_id`, `passwd` and `time_out` asks for, under
/// the ensemble's `secret` (`None` before the first one is committed) and the server's
/// timeout `bounds`. The password is compared in constant time.
pub fn admit(
    session_id: i64,
    passwd: &[u8],
    time_out: i32,
    secret: Option<&ClusterSecret>,
    bounds: &TimeoutBounds,
) -> Admission {
    let Ok(session) = SessionId::from_raw(session_id) else {
        return Admission::Create {
            timeout_ms: bounds.negotiate(time_out),
        };
    };
    match secret {
        Some(secret) if secret.verify(session, passwd) => Admission::Claim {
            session,
            password: secret.password(session),
        },
        _ => Admission::Invalid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> ClusterSecret {
        ClusterSecret::from_bytes([7; 32])
    }

    #[test]
    fn session_id_zero_creates_with_the_negotiated_timeout() {
        let b = TimeoutBounds::default();
        let a = admit(0, &[0; 16], 1, Some(&secret()), &b);
        assert_eq!(a, Admission::Create { timeout_ms: 4000 });
        // No secret is needed to create: the first session of an ensemble commits it.
        let a = admit(0, &[], 100_000, None, &b);
        assert_eq!(a, Admission::Create { timeout_ms: 40000 });
    }

    #[test]
    fn only_the_sessions_own_password_claims_it() {
        let b = TimeoutBounds::default();
        let s = secret();
        let id = SessionId::from_raw(42).expect("not zero");
        let good = s.password(id);
        assert_eq!(
            admit(42, &good, 0, Some(&s), &b),
            Admission::Claim {
                session: id,
                password: good
            }
        );
        let mut bad = good;
        bad[15] ^= 1;
        assert_eq!(admit(42, &bad, 0, Some(&s), &b), Admission::Invalid);
        assert_eq!(admit(43, &good, 0, Some(&s), &b), Admission::Invalid);
        assert_eq!(admit(42, &good[..15], 0, Some(&s), &b), Admission::Invalid);
        assert_eq!(admit(42, &good, 0, None, &b), Admission::Invalid);
    }
}
