//! Which member a peer certificate may speak as (the rule docs/operations.md states).
//!
//! A certificate the cluster's CA signed is accepted as member `N` when
//! - it names member `N`'s peer host from the membership in its subject alternative names: a
//!   DNS name (case-insensitive; `*.` in the first label stands for exactly one label) for a
//!   host name, an IP address for an IP (ZooKeeper's hostname verification on the quorum
//!   port; the subject's CN is not read, as for any current TLS client), and
//! - if it names member ids at all (URI names `zk-raft:server.<id>`, ZooKeeper's
//!   `server.<id>`), one of them is `N`. Members that share a host (one machine, or tests
//!   on loopback) need these to tell them apart.
//!
//! A member dialing a peer checks the same: rustls verifies the host it dials, and the
//! member ids are checked after the handshake.

use std::net::IpAddr;

use crate::types::NodeId;

/// The scheme and prefix of the URI names that carry a member id.
pub(crate) const ID_PREFIX: &str = "zk-raft:server.";

/// What a certificate names, as far as the rule reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct MemberCert {
    /// DNS names, lower-cased.
    dns: Vec<String>,
    ips: Vec<IpAddr>,
    /// Member ids from `zk-raft:server.<id>` URI names.
    ids: Vec<NodeId>,
}

impl MemberCert {
    /// Reads the subject alternative names of the DER certificate `der`. A certificate
    /// that cannot be parsed, or with a `zk-raft:server.` name that is not an id, is an
    /// error (never silently a certificate without ids).
    pub(crate) fn parse(der: &[u8]) -> Result<MemberCert, String> {
        use x509_parser::extensions::GeneralName;
        let (_, cert) = x509_parser::parse_x509_certificate(der)
            .map_err(|e| format!("the certificate cannot be read: {e}"))?;
        let mut out = MemberCert::default();
        let san = cert
            .subject_alternative_name()
            .map_err(|e| format!("the certificate's subject alternative names: {e}"))?;
        for name in san.iter().flat_map(|s| s.value.general_names.iter()) {
            match name {
                GeneralName::DNSName(d) => out.dns.push(d.to_ascii_lowercase()),
                GeneralName::IPAddress(b) => {
                    if let Some(ip) = ip_of(b) {
                        out.ips.push(ip);
                    }
                }
                GeneralName::URI(u) => {
                    if let Some(id) = u.strip_prefix(ID_PREFIX) {
                        let id = id
                            .parse()
                            .map_err(|_| format!("{u:?} does not name a member id"))?;
                        out.ids.push(id);
                    }
                }
                _ => {}
            }
        }
        Ok(out)
    }

    /// Whether this certificate may speak as member `id`, whose peer address in the
    /// membership is `addr` (`host:port`); the reason when it may not.
    pub(crate) fn admits(&self, id: NodeId, addr: &str) -> Result<(), String> {
        self.names_id(id)?;
        let host = host_of(addr);
        let named = match host.parse::<IpAddr>() {
            Ok(ip) => self.ips.contains(&ip),
            Err(_) => {
                let host = host.to_ascii_lowercase();
                self.dns.iter().any(|d| dns_matches(d, &host))
            }
        };
        if named {
            Ok(())
        } else {
            Err(format!(
                "the certificate does not name member {id}'s host {host} (its names: {})",
                self.names()
            ))
        }
    }

    /// Whether the member ids this certificate names (if any) include `id`.
    pub(crate) fn names_id(&self, id: NodeId) -> Result<(), String> {
        if self.ids.is_empty() || self.ids.contains(&id) {
            Ok(())
        } else {
            Err(format!(
                "the certificate is member {:?}'s, not member {id}'s",
                self.ids
            ))
        }
    }

    fn names(&self) -> String {
        let names: Vec<String> = self
            .dns
            .iter()
            .cloned()
            .chain(self.ips.iter().map(IpAddr::to_string))
            .chain(self.ids.iter().map(|id| format!("{ID_PREFIX}{id}")))
            .collect();
        if names.is_empty() {
            "none".into()
        } else {
            names.join(", ")
        }
    }
}

fn ip_of(b: &[u8]) -> Option<IpAddr> {
    match b.len() {
        4 => <[u8; 4]>::try_from(b).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(b).ok().map(IpAddr::from),
        _ => None,
    }
}

/// The host of `host:port` or `[v6]:port` (the whole string if it has no port).
pub(crate) fn host_of(addr: &str) -> &str {
    if let Some(rest) = addr.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match addr.rsplit_once(':') {
        Some((host, _)) => host,
        None => addr,
    }
}

/// A DNS name of a certificate against a host (both lower-case): equal, or `*.rest` where
/// the host is one label followed by `.rest`.
fn dns_matches(pattern: &str, host: &str) -> bool {
    let pattern = pattern.trim_end_matches('.');
    let host = host.trim_end_matches('.');
    match pattern.strip_prefix("*.") {
        Some(rest) => host
            .split_once('.')
            .is_some_and(|(label, h)| !label.is_empty() && h == rest),
        None => pattern == host,
    }
}

#[cfg(test)]
mod tests {
    use rcgen::CertificateParams;
    use rcgen::KeyPair;
    use rcgen::SanType;

    use super::*;

    fn cert(sans: Vec<SanType>) -> MemberCert {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::default();
        p.subject_alt_names = sans;
        let der = p.self_signed(&key).unwrap().der().to_vec();
        MemberCert::parse(&der).unwrap()
    }

    fn dns(s: &str) -> SanType {
        SanType::DnsName(s.try_into().unwrap())
    }

    fn uri(s: &str) -> SanType {
        SanType::URI(s.try_into().unwrap())
    }

    fn ip(s: &str) -> SanType {
        SanType::IpAddress(s.parse().unwrap())
    }

    #[test]
    fn the_host_must_be_named() {
        let c = cert(vec![dns("zk1.example.com"), ip("10.0.0.1")]);
        assert!(c.admits(1, "zk1.example.com:2888").is_ok());
        assert!(
            c.admits(1, "ZK1.Example.com:2888").is_ok(),
            "case-insensitive"
        );
        assert!(c.admits(1, "10.0.0.1:2888").is_ok());
        let e = c.admits(2, "zk2.example.com:2888").unwrap_err();
        assert!(e.contains("zk2.example.com"), "{e}");
        assert!(c.admits(2, "10.0.0.2:2888").is_err());
        // A DNS name never stands for an IP, nor an IP for a name.
        assert!(cert(vec![dns("10.0.0.1")]).admits(1, "10.0.0.1:1").is_err());
    }

    #[test]
    fn a_wildcard_covers_one_label() {
        let c = cert(vec![dns("*.zk-hs.ns.svc")]);
        assert!(c.admits(1, "zk-0.zk-hs.ns.svc:2888").is_ok());
        assert!(c.admits(1, "a.zk-0.zk-hs.ns.svc:2888").is_err());
        assert!(c.admits(1, "zk-hs.ns.svc:2888").is_err());
    }

    #[test]
    fn named_ids_must_include_the_claimed_one() {
        let c = cert(vec![ip("127.0.0.1"), uri("zk-raft:server.3")]);
        assert!(c.admits(3, "127.0.0.1:7000").is_ok());
        let e = c.admits(2, "127.0.0.1:7001").unwrap_err();
        assert!(e.contains("not member 2"), "{e}");
        assert!(c.names_id(3).is_ok() && c.names_id(1).is_err());
        // Without ids, the host alone decides.
        let shared = cert(vec![ip("127.0.0.1")]);
        assert!(shared.admits(1, "127.0.0.1:7000").is_ok());
        assert!(shared.names_id(9).is_ok());
        // Two ids: either one.
        let two = cert(vec![
            ip("::1"),
            uri("zk-raft:server.1"),
            uri("zk-raft:server.2"),
        ]);
        assert!(two.admits(2, "[::1]:7000").is_ok());
        assert!(two.admits(3, "[::1]:7000").is_err());
        // Other URIs are not ids.
        let other = cert(vec![ip("127.0.0.1"), uri("spiffe://example/zk")]);
        assert!(other.admits(7, "127.0.0.1:1").is_ok());
    }

    #[test]
    fn a_bad_id_name_or_garbage_is_an_error() {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::default();
        p.subject_alt_names = vec![uri("zk-raft:server.x")];
        let der = p.self_signed(&key).unwrap().der().to_vec();
        assert!(MemberCert::parse(&der).is_err());
        assert!(MemberCert::parse(b"not a certificate").is_err());
    }

    #[test]
    fn a_certificate_without_names_admits_nobody() {
        let c = cert(vec![]);
        let e = c.admits(1, "127.0.0.1:1").unwrap_err();
        assert!(e.contains("names: none"), "{e}");
    }

    #[test]
    fn hosts_of_addresses() {
        assert_eq!(host_of("a:1"), "a");
        assert_eq!(host_of("[::1]:2888"), "::1");
        assert_eq!(host_of("10.0.0.1:2888"), "10.0.0.1");
        assert_eq!(host_of("bare"), "bare");
    }
}
