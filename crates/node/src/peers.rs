//! The `--peers` list: every member of the ensemble as `id=host:port`, this node included;
//! an observer (ZooKeeper's non-voting member) as `id=host:port:observer`.

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// Ensemble members by id; the address is each member's peer port (`host:port`, host names
/// allowed, e.g. docker service names), and which of them are observers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peers(BTreeMap<u64, String>, BTreeSet<u64>);

/// Why a `--peers` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeersError {
    /// Nothing listed.
    #[error("no members listed (expected id=host:port,...)")]
    Empty,
    /// An entry without `=`.
    #[error("`{0}` is not id=host:port")]
    NoEquals(String),
    /// The id is not a positive integer.
    #[error("`{0}`: the id must be a positive integer")]
    BadId(String),
    /// The same id twice.
    #[error("id {0} is listed twice")]
    Duplicate(u64),
    /// The address has no port, or a bad one.
    #[error("`{0}`: the address must be host:port with a port of 1..65535, optionally followed by :observer")]
    BadAddress(String),
    /// Every member is an observer.
    #[error("every member is an observer: at least one must be a participant (a voter)")]
    NoParticipant,
}

impl Peers {
    /// The members with their peer addresses (`host:port`), observers included.
    pub fn members(&self) -> &BTreeMap<u64, String> {
        &self.0
    }

    /// The members that are observers.
    pub fn observers(&self) -> &BTreeSet<u64> {
        &self.1
    }

    /// The address of member `id`.
    pub fn get(&self, id: u64) -> Option<&str> {
        self.0.get(&id).map(String::as_str)
    }

    /// The port of member `id`'s address.
    pub fn port_of(&self, id: u64) -> Option<u16> {
        self.get(id).and_then(|a| split_port(a).map(|(_, p)| p))
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True if there are none (never, for a parsed list).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// `host:port` → (host, port); IPv6 literals in brackets keep them.
fn split_port(addr: &str) -> Option<(&str, u16)> {
    let (host, port) = addr.rsplit_once(':')?;
    let port: u16 = port.parse().ok().filter(|&p| p != 0)?;
    if host.is_empty() || (host.contains(':') && !(host.starts_with('[') && host.ends_with(']'))) {
        return None;
    }
    Some((host, port))
}

impl FromStr for Peers {
    type Err = PeersError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut out = BTreeMap::new();
        let mut observers = BTreeSet::new();
        for entry in s.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (id, addr) = entry
                .split_once('=')
                .ok_or_else(|| PeersError::NoEquals(entry.to_string()))?;
            let id: u64 = id
                .trim()
                .parse()
                .ok()
                .filter(|&i| i != 0)
                .ok_or_else(|| PeersError::BadId(entry.to_string()))?;
            let addr = addr.trim();
            // ZooKeeper's server types; a participant needs no mark.
            let addr = if let Some(a) = addr.strip_suffix(":observer") {
                observers.insert(id);
                a
            } else {
                addr.strip_suffix(":participant").unwrap_or(addr)
            };
            if split_port(addr).is_none() {
                return Err(PeersError::BadAddress(entry.to_string()));
            }
            if out.insert(id, addr.to_string()).is_some() {
                return Err(PeersError::Duplicate(id));
            }
        }
        if out.is_empty() {
            return Err(PeersError::Empty);
        }
        if observers.len() == out.len() {
            return Err(PeersError::NoParticipant);
        }
        Ok(Peers(out, observers))
    }
}

impl fmt::Display for Peers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (id, addr) in &self.0 {
            if !first {
                f.write_str(",")?;
            }
            first = false;
            write!(f, "{id}={addr}")?;
            if self.1.contains(id) {
                f.write_str(":observer")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_issue_example() {
        let p: Peers = "1=127.0.0.1:2888,2=127.0.0.1:2889,3=127.0.0.1:2890"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.len(), 3);
        assert_eq!(p.get(2), Some("127.0.0.1:2889"));
        assert_eq!(p.port_of(3), Some(2890));
        assert_eq!(
            p.to_string(),
            "1=127.0.0.1:2888,2=127.0.0.1:2889,3=127.0.0.1:2890"
        );
    }

    #[test]
    fn host_names_and_ipv6() {
        let p: Peers = " 1 = zk1:2888 , 2=[::1]:2889 "
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.get(1), Some("zk1:2888"));
        assert_eq!(p.port_of(2), Some(2889));
    }

    #[test]
    fn observers_are_marked() {
        let p: Peers = "1=a:1,2=b:2:participant,3=c:3,4=[::1]:4:observer"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.get(4), Some("[::1]:4"));
        assert_eq!(p.get(2), Some("b:2"));
        assert_eq!(p.observers(), &BTreeSet::from([4]));
        assert_eq!(p.to_string(), "1=a:1,2=b:2,3=c:3,4=[::1]:4:observer");
        assert_eq!(p.to_string().parse::<Peers>().ok(), Some(p));
        assert_eq!(
            "1=a:1:observer".parse::<Peers>(),
            Err(PeersError::NoParticipant)
        );
        assert!("1=a:1:voter".parse::<Peers>().is_err());
    }

    #[test]
    fn bad_lists_name_the_problem() {
        let cases = [
            ("", PeersError::Empty),
            (
                "1:127.0.0.1:2888",
                PeersError::NoEquals("1:127.0.0.1:2888".into()),
            ),
            ("x=h:1", PeersError::BadId("x=h:1".into())),
            ("0=h:1", PeersError::BadId("0=h:1".into())),
            ("1=h:1,1=g:2", PeersError::Duplicate(1)),
            ("1=h", PeersError::BadAddress("1=h".into())),
            ("1=h:0", PeersError::BadAddress("1=h:0".into())),
            ("1=h:70000", PeersError::BadAddress("1=h:70000".into())),
            ("1=::1:5", PeersError::BadAddress("1=::1:5".into())),
        ];
        for (text, want) in cases {
            assert_eq!(text.parse::<Peers>(), Err(want), "{text:?}");
        }
    }
}
