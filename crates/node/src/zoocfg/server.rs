//! `server.N=host:port:port[:participant|observer][;[clientHost:]clientPort]`, as
//! ZooKeeper's `QuorumPeer.QuorumServer` reads it.
//!
//! zk-node uses the first port (ZooKeeper's quorum port) for all peer traffic: Raft, forwarded
//! writes and session activity. The second (the election port) is checked as ZooKeeper checks
//! it and otherwise unused: Raft elects over the same connection.

/// A parsed `server.N` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerLine {
    /// The host, as written (an IPv6 literal keeps its brackets, so `host:port` stays
    /// unambiguous).
    pub host: String,
    /// The first port: where members reach this one.
    pub peer_port: u16,
    /// The second port: accepted, unused.
    pub election_port: u16,
    /// `observer` was given.
    pub observer: bool,
    /// The client address after `;`: `(host, port)`, host `0.0.0.0` when only a port is given.
    pub client: Option<(String, u16)>,
}

/// ZooKeeper's own wording for a line it cannot read.
const WRONG_FORMAT: &str = "does not have the form server_config or server_config;client_config \
     where server_config is host:port:port or host:port:port:type and client_config is port \
     or host:port";

impl ServerLine {
    /// Parses the value of `server.{id}`; the error is the reason, the caller adds key and line.
    pub(crate) fn parse(value: &str) -> Result<ServerLine, String> {
        let parts: Vec<&str> = value.split(';').collect();
        if parts.len() > 2 {
            return Err(format!("{value} {WRONG_FORMAT}"));
        }
        if parts[0].contains('|') {
            return Err(
                "several addresses per server (ZooKeeper's multiAddress) are not supported"
                    .to_string(),
            );
        }
        let server = host_and_ports(parts[0])?;
        if !(3..=4).contains(&server.len()) {
            return Err(format!("{value} {WRONG_FORMAT}"));
        }
        let host = bracket(&server[0]);
        if host.is_empty() {
            return Err(format!("{value}: the host is empty"));
        }
        let peer_port = port(&server[0], &server[1])?;
        let election_port = port(&server[0], &server[2])?;
        if peer_port == election_port {
            // ZooKeeper's text (it calls the quorum port the client port here).
            return Err(
                "Client and election port must be different! Please update the \
                        configuration file on this server."
                    .to_string(),
            );
        }
        let observer = match server.get(3).map(|t| t.trim().to_ascii_lowercase()) {
            None => false,
            Some(t) if t == "participant" => false,
            Some(t) if t == "observer" => true,
            Some(_) => return Err(format!("Unrecognised peertype: {}", server[3])),
        };
        let client = match parts.get(1) {
            None => None,
            Some(client) => {
                let c = host_and_ports(client)?;
                match c.as_slice() {
                    [p] => Some(("0.0.0.0".to_string(), port("0.0.0.0", p)?)),
                    [h, p] => Some((bracket(h), port(h, p)?)),
                    _ => return Err(format!("{value} {WRONG_FORMAT}")),
                }
            }
        };
        Ok(ServerLine {
            host,
            peer_port,
            election_port,
            observer,
            client,
        })
    }

    /// `host:peer_port`, the address other members dial.
    pub fn peer_addr(&self) -> String {
        format!("{}:{}", self.host, self.peer_port)
    }
}

/// `ConfigUtils.getHostAndPort`: `[v6]:a:b` or `host:a:b`, split on the colons.
fn host_and_ports(s: &str) -> Result<Vec<String>, String> {
    let s = s.trim();
    if let Some(rest) = s.strip_prefix('[') {
        let Some(close) = rest.find(']') else {
            return Err(format!("{s} starts with '[' but has no matching ']:'"));
        };
        let host = &rest[..close];
        let after = &rest[close + 1..];
        let Some(ports) = after.strip_prefix(':').filter(|p| !p.is_empty()) else {
            return Err(format!("{s} doesn't have a port after colon"));
        };
        let mut out = vec![host.to_string()];
        out.extend(ports.split(':').map(str::to_string));
        return Ok(out);
    }
    Ok(s.split(':').map(str::to_string).collect())
}

/// An IPv6 literal goes back into brackets so `host:port` can be split again.
fn bracket(host: &str) -> String {
    let host = host.trim();
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

fn port(host: &str, text: &str) -> Result<u16, String> {
    text.trim()
        .parse::<u16>()
        .ok()
        .filter(|&p| p != 0)
        .ok_or_else(|| format!("Address unresolved: {host}:{text} (a port is 1..65535)"))
}
