//! What a ConnectRequest's session fields ask for (sessions.md S3, S4), decided before
//! anything is proposed: the pure part of the node's handshake (`connection/handshake.rs`),
//! which then waits for the log to say whether a claimed session lives. Fuzzed with the
//! frame and ConnectRequest decoders in front of it (`crates/session/fuzz`, target
//! `handshake`).

use crate::id::SessionId;
use crate::password::ClusterSecret;
use crate::password::PASSWORD_LEN;
use crate::timeout::TimeoutBounds;
use subtle::ConstantTimeEq;

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
    admit_with(session_id, passwd, time_out, secret, bounds, false)
}

/// [`admit`], where `imported` says that the session came from Apache ZooKeeper
/// (`zk-admin import-zookeeper`): its password is then the one ZooKeeper derived from its id
/// (`ZooKeeperServer.generatePasswd`), which its client still holds, and no other.
pub fn admit_with(
    session_id: i64,
    passwd: &[u8],
    time_out: i32,
    secret: Option<&ClusterSecret>,
    bounds: &TimeoutBounds,
    imported: bool,
) -> Admission {
    let Ok(session) = SessionId::from_raw(session_id) else {
        return Admission::Create {
            timeout_ms: bounds.negotiate(time_out),
        };
    };
    if imported {
        let password = zk_format::password::zookeeper_password(session_id);
        let ok = passwd.len() == PASSWORD_LEN && bool::from(password.ct_eq(passwd));
        return if ok {
            Admission::Claim { session, password }
        } else {
            Admission::Invalid
        };
    }
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

    #[test]
    fn an_imported_session_takes_zookeepers_password_only() {
        let b = TimeoutBounds::default();
        let s = secret();
        let raw = 0x0100_0a2b_3c4d_0000_i64;
        let id = SessionId::from_raw(raw).expect("not zero");
        // generatePasswd's bytes for this id, printed by Java 17.
        let zk: [u8; PASSWORD_LEN] = [
            0xa9, 0x26, 0x40, 0xf4, 0x82, 0x7d, 0x6d, 0xa0, 0x2f, 0x08, 0x3a, 0xc5, 0x9b, 0xfe,
            0x05, 0x00,
        ];
        assert_eq!(
            admit_with(raw, &zk, 0, Some(&s), &b, true),
            Admission::Claim {
                session: id,
                password: zk
            }
        );
        // Without the secret too: ZooKeeper's password needs none.
        assert!(matches!(
            admit_with(raw, &zk, 0, None, &b, true),
            Admission::Claim { .. }
        ));
        let mut bad = zk;
        bad[0] ^= 1;
        assert_eq!(
            admit_with(raw, &bad, 0, Some(&s), &b, true),
            Admission::Invalid
        );
        assert_eq!(
            admit_with(raw, &s.password(id), 0, Some(&s), &b, true),
            Admission::Invalid
        );
        // Not imported: ZooKeeper's password is just a wrong one.
        assert_eq!(
            admit_with(raw, &zk, 0, Some(&s), &b, false),
            Admission::Invalid
        );
    }
}
