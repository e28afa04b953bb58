//! The `--peers` list: every member of the ensemble as `id=host:port`, this node included;
//! an observer (ZooKeeper's non-voting member) as `id=host:port:observer`. An entry may be
//! a whole ZooKeeper server spec, as zoo.cfg's `server.N` lines give it:
//! `id=host:peerPort[:electionPort][:participant|:observer][;[clientHost:]clientPort]`; the
//! election port and client address are then what `/zookeeper/config` shows for the member
//! (zk-node elects over the peer port and binds no election port).

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use zk_consensus::membership::MemberAddr;

/// Ensemble members by id; the address is each member's peer port (`host:port`, host names
/// allowed, e.g. docker service names), which of them are observers, and each one's spec as
/// given (its election port and client address, if any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peers(
    BTreeMap<u64, String>,
    BTreeSet<u64>,
    BTreeMap<u64, MemberAddr>,
);

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
    #[error(
        "`{0}`: the address must be host:port with a port of 1..65535, optionally followed by \
         :electionPort, :observer and ;clientPort or ;clientHost:clientPort"
    )]
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

    /// The membership records the ensemble is formed with, where an entry gave more than
    /// the address (an election port or a client address): `host:peerPort[:electionPort]
    /// [;clientHost:clientPort]`, without the observer mark.
    pub fn records(&self) -> BTreeMap<u64, String> {
        self.2
            .iter()
            .filter(|(_, m)| m.election_port.is_some() || m.client.is_some())
            .map(|(id, m)| {
                let mut m = m.clone();
                m.observer = false;
                (*id, m.record())
            })
            .collect()
    }

    /// The client address (`host:port`) member `id`'s entry gave, if any.
    pub fn client_of(&self, id: u64) -> Option<&str> {
        self.2.get(&id).and_then(|m| m.client.as_deref())
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
        let mut specs = BTreeMap::new();
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
            let spec = MemberAddr::from_server_spec(addr)
                .map_err(|_| PeersError::BadAddress(entry.to_string()))?;
            let addr = spec.dial();
            if split_port(&addr).is_none() {
                return Err(PeersError::BadAddress(entry.to_string()));
            }
            if spec.observer {
                observers.insert(id);
            }
            if out.insert(id, addr).is_some() {
                return Err(PeersError::Duplicate(id));
            }
            specs.insert(id, spec);
        }
        if out.is_empty() {
            return Err(PeersError::Empty);
        }
        if observers.len() == out.len() {
            return Err(PeersError::NoParticipant);
        }
        Ok(Peers(out, observers, specs))
    }
}

impl fmt::Display for Peers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (id, spec) in &self.2 {
            if !first {
                f.write_str(",")?;
            }
            first = false;
            write!(f, "{id}={}", spec.record())?;
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

    /// Whole ZooKeeper server specs: the election port and client address are kept for the
    /// membership records (a bare client port is every interface's), the address is still
    /// the peer address; entries with the address alone give no record.
    #[test]
    fn zookeeper_server_specs() {
        let p: Peers = "1=zk1:2888:3888:participant;2181,2=zk2:2888:3888;10.0.0.2:2181,\
                        3=zk3:2888,4=zk4:2888:3888:observer;2181"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.get(1), Some("zk1:2888"));
        assert_eq!(p.get(4), Some("zk4:2888"));
        assert_eq!(p.observers(), &BTreeSet::from([4]));
        assert_eq!(p.client_of(1), Some("0.0.0.0:2181"));
        assert_eq!(p.client_of(2), Some("10.0.0.2:2181"));
        assert_eq!(p.client_of(3), None);
        let records = p.records();
        assert_eq!(
            records.get(&1).map(String::as_str),
            Some("zk1:2888:3888;0.0.0.0:2181")
        );
        assert_eq!(
            records.get(&4).map(String::as_str),
            Some("zk4:2888:3888;0.0.0.0:2181"),
            "no observer mark: --peers' observers say that"
        );
        assert!(!records.contains_key(&3));
        assert_eq!(p.to_string().parse::<Peers>().ok(), Some(p));
        assert!("1=h:1:2;".parse::<Peers>().is_err());
        assert!("1=h:1:2;h:0".parse::<Peers>().is_err());
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
