//! addAuth: ZooKeeper's stock authentication providers, `digest` and `ip`, and `x509` on the
//! secure port (the client certificate's id, which the connection has from its TLS
//! handshake on; see `tls`). Any other scheme fails, and ZooKeeper then closes the
//! connection (R8). A digest equal to the configured superDigest also gets the `super` id,
//! which every ACL check lets through.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use base64::Engine;
use sha1::Digest;
use sha1::Sha1;
use zk_wire::Id;

/// What an addAuth packet did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthResult {
    /// Add these ids to the connection.
    Added(Vec<Id>),
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

/// ZooKeeper's `DigestAuthenticationProvider.superDigest`: `user:base64(sha1(user:password))`,
/// the form `digest_id` (and ZooKeeper's `generateDigest`) gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuperDigest(String);

impl SuperDigest {
    /// The `user:hash` text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for SuperDigest {
    type Err = String;

    /// Refuses what could never match a digest: no user, or a hash that is not the base64
    /// of a SHA-1 (ZooKeeper itself takes any text, and then nobody is ever super).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let ok = s.split_once(':').is_some_and(|(user, hash)| {
            !user.is_empty()
                && base64::engine::general_purpose::STANDARD
                    .decode(hash)
                    .is_ok_and(|h| h.len() == 20)
        });
        if ok {
            Ok(SuperDigest(s.to_string()))
        } else {
            Err("expected user:base64(sha1(user:password)), the form \
                 DigestAuthenticationProvider.generateDigest prints"
                .to_string())
        }
    }
}

impl fmt::Display for SuperDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The ids a client certificate with the subject `subject` gives (X509AuthenticationProvider):
/// its `x509` id, and before it `super` if it is the configured superuser.
pub fn x509_ids(subject: &str, super_user: Option<&str>) -> Vec<Id> {
    let mut ids = Vec::with_capacity(2);
    if super_user == Some(subject) {
        ids.push(Id {
            scheme: "super".to_string(),
            id: subject.to_string(),
        });
    }
    ids.push(Id {
        scheme: crate::tls::X509_SCHEME.to_string(),
        id: subject.to_string(),
    });
    ids
}

/// The id ZooKeeper gives the superuser: any ACL check passes.
pub fn super_id() -> Id {
    Id {
        scheme: "super".to_string(),
        id: String::new(),
    }
}

/// Handles one addAuth packet from a client at `peer`; `super_digest` is the configured
/// superDigest, if any; `x509` the ids the connection's client certificate gave (none
/// without one; see [`x509_ids`]).
pub fn authenticate(
    scheme: &str,
    data: &[u8],
    peer: IpAddr,
    super_digest: Option<&SuperDigest>,
    x509: &[Id],
) -> AuthResult {
    match scheme {
        "digest" => {
            // Java decodes the bytes as UTF-8, replacing bad sequences; so do we.
            let text = String::from_utf8_lossy(data);
            let digest = digest_id(&text);
            // As DigestAuthenticationProvider.handleAuthentication: the superuser keeps its
            // digest id too, so `auth` ACLs it sets name it.
            let mut ids = Vec::with_capacity(2);
            if super_digest.is_some_and(|s| s.as_str() == digest) {
                ids.push(super_id());
            }
            ids.push(Id {
                scheme: "digest".to_string(),
                id: digest,
            });
            AuthResult::Added(ids)
        }
        "ip" => AuthResult::Added(vec![ip_id(peer)]),
        // X509AuthenticationProvider: the certificate is the credential, the data is not
        // read; without a certificate (plain port, none given) it fails.
        "x509" if x509.is_empty() => AuthResult::Failed,
        "x509" => AuthResult::Added(x509.to_vec()),
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
        assert_eq!(
            authenticate("nosuch", b"x", peer, None, &[]),
            AuthResult::Failed
        );
        assert_eq!(
            authenticate("world", b"anyone", peer, None, &[]),
            AuthResult::Failed
        );
        assert!(matches!(
            authenticate("digest", b"u:p", peer, None, &[]),
            AuthResult::Added(_)
        ));
        assert_eq!(
            authenticate("ip", b"", peer, None, &[]),
            AuthResult::Added(vec![Id {
                scheme: "ip".into(),
                id: "127.0.0.1".into()
            }])
        );
    }

    /// addAuth x509 adds the certificate's id, and fails on a connection without one.
    #[test]
    fn x509_needs_a_certificate() {
        let peer: IpAddr = [127, 0, 0, 1].into();
        assert_eq!(
            authenticate("x509", b"", peer, None, &[]),
            AuthResult::Failed
        );
        let ids = x509_ids("CN=client,O=Example", None);
        assert_eq!(
            ids,
            vec![Id {
                scheme: "x509".into(),
                id: "CN=client,O=Example".into(),
            }]
        );
        assert_eq!(
            authenticate("x509", b"ignored", peer, None, &ids),
            AuthResult::Added(ids.clone())
        );
        // The configured superuser's certificate also gives `super`.
        let admin = x509_ids("CN=admin", Some("CN=admin"));
        assert_eq!(admin.len(), 2);
        assert_eq!(admin[0].scheme, "super");
        assert_eq!(x509_ids("CN=other", Some("CN=admin")).len(), 1);
    }

    /// Bytes that are not UTF-8 are still an id, never a panic.
    #[test]
    fn digest_of_bad_utf8() {
        let peer: IpAddr = [127, 0, 0, 1].into();
        assert!(matches!(
            authenticate("digest", &[0xff, 0xfe, b':', 0x80], peer, None, &[]),
            AuthResult::Added(_)
        ));
    }

    /// The superDigest's own password adds `super` beside the digest id; another password
    /// for the same user adds only its digest id.
    #[test]
    fn super_digest_grants_super() {
        let peer: IpAddr = [127, 0, 0, 1].into();
        let sd: SuperDigest = "super:D/InIHSb7yEEbrWz8b9l71RjZJU="
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        let digest = |id: &str| Id {
            scheme: "digest".into(),
            id: id.into(),
        };
        assert_eq!(
            authenticate("digest", b"super:test", peer, Some(&sd), &[]),
            AuthResult::Added(vec![
                super_id(),
                digest("super:D/InIHSb7yEEbrWz8b9l71RjZJU=")
            ])
        );
        let AuthResult::Added(wrong) = authenticate("digest", b"super:wrong", peer, Some(&sd), &[])
        else {
            panic!("digest auth always adds an id")
        };
        assert_eq!(wrong.len(), 1);
        assert_eq!(wrong[0].scheme, "digest");
        assert_eq!(
            authenticate("digest", b"super:test", peer, None, &[]),
            AuthResult::Added(vec![digest("super:D/InIHSb7yEEbrWz8b9l71RjZJU=")])
        );
    }

    /// A superDigest that could never match is refused at start.
    #[test]
    fn super_digest_form() {
        for bad in [
            "",
            "super",
            ":D/InIHSb7yEEbrWz8b9l71RjZJU=",
            "super:test",
            "super:AAAA",
        ] {
            assert!(bad.parse::<SuperDigest>().is_err(), "{bad:?}");
        }
        assert!("u:D/InIHSb7yEEbrWz8b9l71RjZJU="
            .parse::<SuperDigest>()
            .is_ok());
    }
}
