//! addAuth: ZooKeeper's stock authentication providers, `digest` and `ip`. Any other scheme
//! fails, and ZooKeeper then closes the connection (R8).

use std::net::IpAddr;

use base64::Engine;
use sha1::Digest;
use sha1::Sha1;
use zk_wire::Id;

/// What an addAuth packet did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthResult {
    /// Add this id to the connection.
    Added(Id),
    /// Unknown scheme (or bad data): answer AuthFailed and close.
    Failed,
}

/// The `digest` id of `user:password`: `user:base64(sha1(user:password))`
/// (`DigestAuthenticationProvider.generateDigest`).
pub fn digest_id(user_password: &str) -> String {
    let user = user_password.split(':').next().unwrap_or_default();
    let hash = Sha1::digest(user_password.as_bytes());
    format!(
        "{user}:{}",
        base64::engine::general_purpose::STANDARD.encode(hash)
    )
}

/// The id every connection has from the start: its client address (`ip` scheme).
pub fn ip_id(addr: IpAddr) -> Id {
    let addr = match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    Id {
        scheme: "ip".to_string(),
        id: addr.to_string(),
    }
}

/// Handles one addAuth packet from a client at `peer`.
pub fn authenticate(scheme: &str, data: &[u8], peer: IpAddr) -> AuthResult {
    match scheme {
        "digest" => {
            // Java decodes the bytes as UTF-8, replacing bad sequences; so do we.
            let text = String::from_utf8_lossy(data);
            AuthResult::Added(Id {
                scheme: "digest".to_string(),
                id: digest_id(&text),
            })
        }
        "ip" => AuthResult::Added(ip_id(peer)),
        _ => AuthResult::Failed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The digest ZooKeeper's own tool prints for `super:test`
    /// (`DigestAuthenticationProvider super:test` → `super:D/InIHSb7yEEbrWz8b9l71RjZJU=`).
    #[test]
    fn digest_matches_zookeeper() {
        assert_eq!(
            digest_id("super:test"),
            "super:D/InIHSb7yEEbrWz8b9l71RjZJU="
        );
    }

    /// R8: an unknown scheme fails; digest and ip are accepted.
    #[test]
    fn schemes() {
        let peer: IpAddr = [127, 0, 0, 1].into();
        assert_eq!(authenticate("nosuch", b"x", peer), AuthResult::Failed);
        assert_eq!(authenticate("world", b"anyone", peer), AuthResult::Failed);
        assert!(matches!(
            authenticate("digest", b"u:p", peer),
            AuthResult::Added(_)
        ));
        assert_eq!(
            authenticate("ip", b"", peer),
            AuthResult::Added(Id {
                scheme: "ip".into(),
                id: "127.0.0.1".into()
            })
        );
    }

    /// Bytes that are not UTF-8 are still an id, never a panic.
    #[test]
    fn digest_of_bad_utf8() {
        let peer: IpAddr = [127, 0, 0, 1].into();
        assert!(matches!(
            authenticate("digest", &[0xff, 0xfe, b':', 0x80], peer),
            AuthResult::Added(_)
        ));
    }
}
