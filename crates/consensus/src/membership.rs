//! The ensemble's membership in ZooKeeper's terms: each member's address record as Raft's
//! membership stores it, `/zookeeper/config`'s text (`QuorumMaj.toString`), and the target
//! membership a `reconfig` request asks for. Pure: no I/O, no clock, so every replica that
//! applies the same log renders the same text and judges a request the same way.
//!
//! A member's record is the string openraft keeps as its node (`BasicNode::addr`):
//! `host:peerPort[:electionPort][:observer][;clientHost:clientPort]`. A founding member has
//! what its `--peers` entry (or zoo.cfg's `server.N` line) gave, `host:peerPort` alone where
//! that is all it gave (what every ensemble recorded before the election port and client
//! address were kept), so old logs and snapshots read unchanged; a member added by
//! `reconfig` keeps the election port and client address the operator gave.
//! `/zookeeper/config` shows them back as ZooKeeper does: the client address where the
//! server's spec had one, none where only a `clientPort` gave it.
//!
//! Observers (ZooKeeper's non-voting members) are Raft learners whose record ends its server
//! part with `:observer`: the mark is what tells a member that stays a learner (it serves
//! clients) from a joining server a reconfig is catching up (it serves nothing yet), and it
//! lives in Raft's membership, so logs and snapshots keep it. A record without it is a
//! participant, as every record written before observers existed is.

use std::collections::BTreeMap;

use openraft::BasicNode;
use openraft::Membership;
use zk_wire::ErrorCode;

use crate::types::NodeId;

/// One member's addresses, parsed from its membership record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberAddr {
    /// Host name or address (IPv6 literals keep their brackets).
    pub host: String,
    /// The peer (Raft) port: ZooKeeper's quorum port.
    pub peer_port: u16,
    /// ZooKeeper's election port, when the operator gave one (Raft elects over the peer port).
    pub election_port: Option<u16>,
    /// The client address `host:port`, when known.
    pub client: Option<String>,
    /// A non-voting member (ZooKeeper's `:observer`).
    pub observer: bool,
}

/// The mark an observer's record carries at the end of its server part.
const OBSERVER: &str = ":observer";

fn port(s: &str) -> Option<u16> {
    s.parse::<u16>().ok().filter(|&p| p != 0)
}

/// `host:port` with IPv6 literals in brackets; `None` if it is not that.
fn split_host_port(s: &str) -> Option<(&str, u16)> {
    let (host, p) = s.rsplit_once(':')?;
    let p = port(p)?;
    let bracketed = host.starts_with('[') && host.ends_with(']');
    (!host.is_empty() && (bracketed || !host.contains(':'))).then_some((host, p))
}

impl MemberAddr {
    /// Parses a membership record; `None` for anything else (a lone member's name).
    pub fn parse(record: &str) -> Option<MemberAddr> {
        let (server, client) = match record.split_once(';') {
            Some((s, c)) => (s, Some(c)),
            None => (record, None),
        };
        let client = match client {
            Some(c) => Some(split_host_port(c).map(|_| c.to_string())?),
            None => None,
        };
        let (server, observer) = match server.strip_suffix(OBSERVER) {
            Some(s) => (s, true),
            None => (server, false),
        };
        let (rest, last) = server.rsplit_once(':')?;
        let last = port(last)?;
        // host:peer:election, where `rest` is still `host:peer`.
        if let Some((host, peer_port)) = split_host_port(rest) {
            return Some(MemberAddr {
                host: host.to_string(),
                peer_port,
                election_port: Some(last),
                client,
                observer,
            });
        }
        let bracketed = rest.starts_with('[') && rest.ends_with(']');
        (!rest.is_empty() && (bracketed || !rest.contains(':'))).then(|| MemberAddr {
            host: rest.to_string(),
            peer_port: last,
            election_port: None,
            client,
            observer,
        })
    }

    /// Parses a server spec as `--peers` and zoo.cfg's `server.N=` lines give a founding
    /// member: `host:peerPort[:electionPort][:participant|:observer][;[clientHost:]clientPort]`,
    /// the election port and client address optional (ZooKeeper's static config may leave
    /// the client address to `clientPort`). A bare client port listens on every interface,
    /// as ZooKeeper reads it (it then shows `0.0.0.0:port`).
    pub fn from_server_spec(spec: &str) -> Result<MemberAddr, &'static str> {
        let spec = spec.trim();
        let (server, client) = match spec.split_once(';') {
            Some((s, c)) => (s.trim(), Some(c.trim())),
            None => (spec, None),
        };
        let mut server = server;
        let mut observer = false;
        if let Some(rest) = server.strip_suffix(":participant") {
            server = rest;
        } else if let Some(rest) = server.strip_suffix(OBSERVER) {
            server = rest;
            observer = true;
        }
        let (host, peer_port, election_port) = match split_host_port(server) {
            Some((host, peer)) => (host, peer, None),
            None => {
                let (host_peer, election) = server
                    .rsplit_once(':')
                    .ok_or("each server needs host:peerPort")?;
                let election = port(election).ok_or("bad election port")?;
                let (host, peer) =
                    split_host_port(host_peer).ok_or("each server needs host:peerPort")?;
                (host, peer, Some(election))
            }
        };
        let client = match client {
            None => None,
            Some("") => return Err("empty client address after ';'"),
            Some(c) => match split_host_port(c) {
                Some(_) => Some(c.to_string()),
                None => Some(format!("0.0.0.0:{}", port(c).ok_or("bad client port")?)),
            },
        };
        Ok(MemberAddr {
            host: host.to_string(),
            peer_port,
            election_port,
            client,
            observer,
        })
    }

    /// Parses a ZooKeeper server spec as `reconfig` gives a joining server:
    /// `host:peerPort:electionPort[:participant|:observer][;[clientHost:]clientPort]`.
    /// ZooKeeper asks a joining server for all three ports.
    pub fn from_zk_spec(spec: &str) -> Result<MemberAddr, &'static str> {
        let m = MemberAddr::from_server_spec(spec)?;
        if m.election_port.is_none() {
            return Err("each server needs host:peerPort:electionPort");
        }
        if m.client.is_none() {
            return Err(
                "Wrong format of server string - each server should have at least 3 ports specified",
            );
        }
        Ok(m)
    }

    /// The record Raft's membership keeps for this member.
    pub fn record(&self) -> String {
        let mut s = format!("{}:{}", self.host, self.peer_port);
        if let Some(e) = self.election_port {
            s.push_str(&format!(":{e}"));
        }
        if self.observer {
            s.push_str(OBSERVER);
        }
        if let Some(c) = &self.client {
            s.push(';');
            s.push_str(c);
        }
        s
    }

    /// Where peers connect to this member: `host:peerPort`.
    pub fn dial(&self) -> String {
        format!("{}:{}", self.host, self.peer_port)
    }

    /// The election port ZooKeeper's format shows: the one given, else the peer port (Raft
    /// elects over the peer port).
    pub fn shown_election_port(&self) -> u16 {
        self.election_port.unwrap_or(self.peer_port)
    }

    /// `server.N=…` as ZooKeeper's `QuorumServer.toString` prints it (`:participant` or
    /// `:observer`).
    pub fn zk_line(&self, id: NodeId) -> String {
        let kind = if self.observer {
            "observer"
        } else {
            "participant"
        };
        let mut s = format!(
            "server.{id}={}:{}:{}:{kind}",
            self.host,
            self.peer_port,
            self.shown_election_port()
        );
        if let Some(c) = &self.client {
            s.push(';');
            s.push_str(c);
        }
        s
    }
}

/// Where to connect to the member with this record (`host:peerPort`); the record itself if
/// it does not parse (dialing it then fails with a clear address error).
pub fn dial_addr(record: &str) -> String {
    MemberAddr::parse(record).map_or_else(|| record.to_string(), |m| m.dial())
}

/// True if this record marks an observer.
pub fn is_observer(record: &str) -> bool {
    MemberAddr::parse(record).is_some_and(|m| m.observer)
}

/// `record` with its observer mark set to `observer` (unchanged if it does not parse).
pub fn with_observer(record: &str, observer: bool) -> String {
    match MemberAddr::parse(record) {
        Some(mut m) => {
            m.observer = observer;
            m.record()
        }
        None => record.to_string(),
    }
}

/// The members of a uniform membership with their records, as `/zookeeper/config` lists
/// them: every voter (a participant, whatever its record says: a member becoming an
/// observer is marked before it stops voting) and every learner marked observer; a learner
/// without the mark is a joining server still catching up, not a member yet. `None` while
/// the membership is joint (a change under way).
pub fn uniform_members(m: &Membership<NodeId, BasicNode>) -> Option<BTreeMap<NodeId, String>> {
    if m.get_joint_config().len() > 1 {
        return None;
    }
    let voters: std::collections::BTreeSet<NodeId> = m.voter_ids().collect();
    Some(
        m.nodes()
            .filter_map(|(id, node)| {
                if voters.contains(id) {
                    Some((*id, with_observer(&node.addr, false)))
                } else {
                    is_observer(&node.addr).then(|| (*id, node.addr.clone()))
                }
            })
            .collect(),
    )
}

/// The ids of the participants (voters) among `members`.
pub fn participants(members: &BTreeMap<NodeId, String>) -> std::collections::BTreeSet<NodeId> {
    members
        .iter()
        .filter(|(_, record)| !is_observer(record))
        .map(|(id, _)| *id)
        .collect()
}

/// `/zookeeper/config`'s text for these members at this version (ZooKeeper's
/// `QuorumMaj.toString`: one `server.N=` line each, participants and observers alike in id
/// order as its map of all members iterates, then `version=` in hex, no final newline);
/// `None` without voters (nothing applied yet) or if a record is not an address (a lone
/// member's name: nothing to show, as ZooKeeper's standalone server shows none).
pub fn render(members: &BTreeMap<NodeId, String>, version: i64) -> Option<String> {
    if members.is_empty() {
        return None;
    }
    let mut out = String::new();
    for (id, record) in members {
        let m = MemberAddr::parse(record)?;
        out.push_str(&m.zk_line(*id));
        out.push('\n');
    }
    out.push_str(&format!("version={version:x}"));
    Some(out)
}

/// The `server.N=` lines of `/zookeeper/config` without the version line, to compare two
/// texts for a change of members.
pub fn members_part(text: &str) -> &str {
    match text.rfind("version=") {
        Some(i) => &text[..i],
        None => text,
    }
}

/// What a `reconfig` request asks for (ZooKeeper's `ReconfigRequest` without the version).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReconfigSpec {
    /// `server.N=spec` entries to add (or to give new addresses), comma-separated.
    pub joining: Option<String>,
    /// Ids to remove, comma-separated.
    pub leaving: Option<String>,
    /// The whole new membership (non-incremental), comma- or newline-separated.
    pub new_members: Option<String>,
}

/// The membership `spec` asks for (participants and observers, id -> record), from the
/// current members, as ZooKeeper's PrepRequestProcessor computes it; BadArguments (with why)
/// for what it refuses.
pub fn target(
    current: &BTreeMap<NodeId, String>,
    spec: &ReconfigSpec,
) -> Result<BTreeMap<NodeId, String>, (ErrorCode, String)> {
    let bad = |why: String| (ErrorCode::BadArguments, why);
    let mut next = BTreeMap::new();
    if let Some(members) = &spec.new_members {
        for line in members.replace(',', "\n").lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (key, value) = line
                .split_once('=')
                .ok_or_else(|| bad(format!("not key=value: {line}")))?;
            let key = key.trim();
            if key == "version" {
                continue;
            }
            let (id, m) = server_entry(key, value).map_err(bad)?;
            next.insert(id, m.record());
        }
    } else {
        next = current.clone();
        if let Some(leaving) = &spec.leaving {
            for id in leaving.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                let id: NodeId = id
                    .parse()
                    .map_err(|_| bad(format!("not a server id: {id}")))?;
                next.remove(&id);
            }
        }
        if let Some(joining) = &spec.joining {
            for joiner in joining.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                let (key, value) = joiner
                    .split_once('=')
                    .ok_or_else(|| bad("Wrong format of server string".to_string()))?;
                let (id, m) = server_entry(key.trim(), value).map_err(bad)?;
                next.insert(id, m.record());
            }
        }
    }
    // ZooKeeper with standaloneEnabled (its default) refuses a config of fewer than 2 voters;
    // observers do not count.
    if participants(&next).len() < 2 {
        return Err(bad(
            "Reconfig failed - new configuration must include at least 2 followers".to_string(),
        ));
    }
    // Two members at one peer address would be one process counted twice.
    let mut seen = BTreeMap::new();
    for (id, record) in &next {
        if let Some(other) = seen.insert(dial_addr(record), *id) {
            return Err(bad(format!(
                "servers {other} and {id} have the same address {}",
                dial_addr(record)
            )));
        }
    }
    Ok(next)
}

/// `server.N` and its spec.
fn server_entry(key: &str, value: &str) -> Result<(NodeId, MemberAddr), String> {
    let id = key
        .strip_prefix("server.")
        .and_then(|n| n.parse::<NodeId>().ok())
        .filter(|&n| n != 0)
        .ok_or_else(|| format!("not server.N: {key}"))?;
    let m = MemberAddr::from_zk_spec(value).map_err(str::to_string)?;
    Ok((id, m))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn three() -> BTreeMap<NodeId, String> {
        (1..=3)
            .map(|i| (i, format!("127.0.0.1:{}", 2887 + i)))
            .collect()
    }

    #[test]
    fn records_old_and_new_parse() {
        let old = MemberAddr::parse("zk1:2888").unwrap();
        assert_eq!((old.host.as_str(), old.peer_port), ("zk1", 2888));
        assert_eq!((old.election_port, old.client.as_deref()), (None, None));
        let new = MemberAddr::parse("[::1]:2888:3888;127.0.0.1:2181").unwrap();
        assert_eq!(new.host, "[::1]");
        assert_eq!(new.election_port, Some(3888));
        assert_eq!(new.client.as_deref(), Some("127.0.0.1:2181"));
        assert_eq!(new.record(), "[::1]:2888:3888;127.0.0.1:2181");
        assert_eq!(new.dial(), "[::1]:2888");
        assert_eq!(MemberAddr::parse("standalone"), None);
        assert_eq!(MemberAddr::parse("h:1;nope"), None);
        assert_eq!(dial_addr("h:1:2;c:3"), "h:1");
    }

    /// `--peers` entries and `server.N` lines: the election port and client address are
    /// optional (a founding member's spec), a bare client port is every interface's.
    #[test]
    fn founding_specs_with_and_without_client_addresses() {
        let plain = MemberAddr::from_server_spec("zk1:2888").unwrap();
        assert_eq!(plain.record(), "zk1:2888");
        assert_eq!(plain.zk_line(1), "server.1=zk1:2888:2888:participant");
        let full = MemberAddr::from_server_spec("zk1:2888:3888:participant;2181").unwrap();
        assert_eq!(full.record(), "zk1:2888:3888;0.0.0.0:2181");
        assert_eq!(
            full.zk_line(1),
            "server.1=zk1:2888:3888:participant;0.0.0.0:2181"
        );
        let no_client = MemberAddr::from_server_spec("[::1]:2888:3888").unwrap();
        assert_eq!(no_client.zk_line(2), "server.2=[::1]:2888:3888:participant");
        let obs = MemberAddr::from_server_spec("h:1:2:observer;127.0.0.1:3").unwrap();
        assert_eq!(obs.record(), "h:1:2:observer;127.0.0.1:3");
        let peer_only = MemberAddr::from_server_spec("h:1;h:3").unwrap();
        assert_eq!(
            (peer_only.election_port, peer_only.client.as_deref()),
            (None, Some("h:3"))
        );
        for bad in [
            "h",
            "h:0",
            "h:1:x",
            "::1:5",
            "h:1;",
            "h:1;h:0",
            "h:1:2:voter",
        ] {
            assert!(MemberAddr::from_server_spec(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn zk_specs_as_reconfig_gives_them() {
        let m = MemberAddr::from_zk_spec("10.0.0.4:2888:3888:participant;2181").unwrap();
        assert_eq!(m.record(), "10.0.0.4:2888:3888;0.0.0.0:2181");
        let m = MemberAddr::from_zk_spec("h:1:2;h:3").unwrap();
        assert_eq!(m.zk_line(4), "server.4=h:1:2:participant;h:3");
        assert!(MemberAddr::from_zk_spec("h:1:2").is_err(), "no client port");
        assert!(
            MemberAddr::from_zk_spec("h:1;h:3").is_err(),
            "no election port"
        );
        let o = MemberAddr::from_zk_spec("h:1:2:observer;3").unwrap();
        assert!(o.observer);
        assert_eq!(o.record(), "h:1:2:observer;0.0.0.0:3");
        assert_eq!(o.zk_line(5), "server.5=h:1:2:observer;0.0.0.0:3");
        assert!(MemberAddr::from_zk_spec("h:1:2:voter;3").is_err());
    }

    /// An observer's record keeps its mark through a parse; a record from before observers
    /// existed (no mark) reads as a participant.
    #[test]
    fn observer_records_and_old_records() {
        let o = MemberAddr::parse("zk4:2888:3888:observer;127.0.0.1:2181").unwrap();
        assert!(o.observer);
        assert_eq!((o.peer_port, o.election_port), (2888, Some(3888)));
        assert_eq!(o.record(), "zk4:2888:3888:observer;127.0.0.1:2181");
        assert_eq!(o.dial(), "zk4:2888");
        let bare = MemberAddr::parse("zk4:2888:observer").unwrap();
        assert!(bare.observer && bare.election_port.is_none());
        assert_eq!(bare.record(), "zk4:2888:observer");
        assert_eq!(dial_addr("[::1]:2888:observer"), "[::1]:2888");
        for old in ["zk1:2888", "zk1:2888:3888;h:1"] {
            assert!(!is_observer(old), "{old}");
        }
        assert_eq!(with_observer("zk1:2888", true), "zk1:2888:observer");
        assert_eq!(
            with_observer("zk1:2888:1:observer;h:2", false),
            "zk1:2888:1;h:2"
        );
    }

    /// Raft's membership: voters are participants (a stale mark on a voter does not make it
    /// an observer), learners marked observer are observers, other learners (joining
    /// servers being caught up) are not members yet; a joint membership has none to show.
    #[test]
    fn members_of_a_membership() {
        let nodes: BTreeMap<NodeId, BasicNode> = [
            (1, "a:1"),
            (2, "b:1"),
            (3, "c:1:observer"),
            (4, "d:1:observer"),
            (5, "e:1"),
        ]
        .into_iter()
        .map(|(id, r)| (id, BasicNode::new(r)))
        .collect();
        let m = Membership::new(vec![[1, 2, 3].into()], nodes.clone()).unwrap();
        let members = uniform_members(&m).unwrap();
        assert_eq!(
            members.keys().copied().collect::<Vec<_>>(),
            vec![1, 2, 3, 4]
        );
        assert_eq!(members[&3], "c:1", "a voter is a participant");
        assert_eq!(members[&4], "d:1:observer");
        assert_eq!(participants(&members), [1, 2, 3].into());
        let joint = Membership::new(vec![[1, 2, 3].into(), [1, 2].into()], nodes).unwrap();
        assert_eq!(uniform_members(&joint), None);
    }

    /// ZooKeeper's `QuorumMaj.toString`: lines by id, the version in hex, no final newline.
    #[test]
    fn config_text_as_zookeeper_prints_it() {
        let mut v = three();
        v.insert(4, "h4:2891:3891;127.0.0.1:2184".into());
        assert_eq!(
            render(&v, 0x1_0000_0002).unwrap(),
            "server.1=127.0.0.1:2888:2888:participant\n\
             server.2=127.0.0.1:2889:2889:participant\n\
             server.3=127.0.0.1:2890:2890:participant\n\
             server.4=h4:2891:3891:participant;127.0.0.1:2184\n\
             version=100000002"
        );
        // ZooKeeper lists all members in one map by id: an observer among the participants.
        let mut with_observer = three();
        with_observer.insert(2, "h2:2889:3889:observer;127.0.0.1:2182".into());
        assert_eq!(
            render(&with_observer, 0x10).unwrap(),
            "server.1=127.0.0.1:2888:2888:participant\n\
             server.2=h2:2889:3889:observer;127.0.0.1:2182\n\
             server.3=127.0.0.1:2890:2890:participant\n\
             version=10"
        );
        let lone = BTreeMap::from([(1, "standalone".to_string())]);
        assert_eq!(render(&lone, 1), None);
        assert_eq!(render(&BTreeMap::new(), 1), None);
        assert_eq!(members_part("server.1=a\nversion=5"), "server.1=a\n");
    }

    #[test]
    fn incremental_and_bulk_targets() {
        let spec = ReconfigSpec {
            joining: Some("server.4=h:1:2;3, server.5=h:4:5;6".into()),
            leaving: Some("1".into()),
            new_members: None,
        };
        let t = target(&three(), &spec).unwrap();
        assert_eq!(t.keys().copied().collect::<Vec<_>>(), vec![2, 3, 4, 5]);
        assert_eq!(t[&4], "h:1:2;0.0.0.0:3");
        let bulk = ReconfigSpec {
            joining: None,
            leaving: None,
            new_members: Some("server.7=a:1:2;3\nserver.8=b:1:2;3,version=5".into()),
        };
        let t = target(&three(), &bulk).unwrap();
        assert_eq!(t.keys().copied().collect::<Vec<_>>(), vec![7, 8]);
    }

    /// Observers join and leave like participants but do not count towards the two voters
    /// a configuration needs.
    #[test]
    fn observers_in_targets() {
        let add = ReconfigSpec {
            joining: Some("server.4=h:1:2:observer;3".into()),
            leaving: None,
            new_members: None,
        };
        let t = target(&three(), &add).unwrap();
        assert_eq!(t[&4], "h:1:2:observer;0.0.0.0:3");
        assert_eq!(participants(&t), [1, 2, 3].into());
        let remove = ReconfigSpec {
            joining: None,
            leaving: Some("4".into()),
            new_members: None,
        };
        assert_eq!(target(&t, &remove).unwrap(), three());
        // Two voters and two observers: fine; one voter and three observers: refused.
        let demote = ReconfigSpec {
            joining: Some("server.3=127.0.0.1:2890:2890:observer;9".into()),
            leaving: None,
            new_members: None,
        };
        let t2 = target(&t, &demote).unwrap();
        assert_eq!(participants(&t2), [1, 2].into());
        let too_few = ReconfigSpec {
            joining: Some("server.2=127.0.0.1:2889:2889:observer;9".into()),
            leaving: None,
            new_members: None,
        };
        let e = target(&t2, &too_few).unwrap_err();
        assert_eq!(e.0, ErrorCode::BadArguments, "{}", e.1);
        let bulk = ReconfigSpec {
            joining: None,
            leaving: None,
            new_members: Some("server.1=a:1:2;3,server.2=b:1:2:observer;3".into()),
        };
        assert_eq!(
            target(&three(), &bulk).unwrap_err().0,
            ErrorCode::BadArguments
        );
    }

    #[test]
    fn bad_requests_are_bad_arguments() {
        let cases = [
            (Some("server.4=h:1"), None, None),
            (Some("server.x=h:1:2;3"), None, None),
            (Some("h:1:2;3"), None, None),
            (None, Some("one"), None),
            (None, Some("1,2"), None),
            (None, None, Some("server.1=a:1:2;3")),
            (None, None, Some("tickTime=5")),
            (Some("server.4=127.0.0.1:2888:9;3"), None, None),
        ];
        for (joining, leaving, new_members) in cases {
            let spec = ReconfigSpec {
                joining: joining.map(str::to_string),
                leaving: leaving.map(str::to_string),
                new_members: new_members.map(str::to_string),
            };
            let e = target(&three(), &spec).unwrap_err();
            assert_eq!(e.0, ErrorCode::BadArguments, "{spec:?}: {}", e.1);
        }
    }
}
