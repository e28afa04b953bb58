//! Mutual TLS on the peer port (ZooKeeper's `sslQuorum`): both ends present a certificate of
//! the cluster's CA, and a certificate speaks only as the member it names
//! ([`member_cert`]). A connection without one never reaches the `Peer` service: the
//! handshake ([`accept`]) refuses it, so no RPC of any kind is served to it. The dialing
//! side ([`connect`]) checks the member it reached the same way.
//!
//! The rustls configurations come from the caller (zk-node loads them from its PEM files)
//! and can be replaced while running: new connections use the new ones.

pub(crate) mod accept;
pub(crate) mod connect;
pub(crate) mod member_cert;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::PoisonError;
use std::sync::RwLock;

use rustls::ClientConfig;
use rustls::ServerConfig;
use tonic::Request;
use tonic::Status;

use self::member_cert::MemberCert;
use crate::grpc::identity::Identity;
use crate::grpc::pb;
use crate::types::NodeId;

/// The ALPN protocol both ends agree on (gRPC is HTTP/2).
const ALPN_H2: &[u8] = b"h2";

/// The peer link's TLS configurations, as of the last [`PeerTls::replace`].
///
/// The server configuration must ask for client certificates (zk-node's requires one); a
/// connection that arrives without one is refused all the same.
#[derive(Clone)]
pub struct PeerTls {
    configs: Arc<RwLock<(Arc<ServerConfig>, Arc<ClientConfig>)>>,
}

impl std::fmt::Debug for PeerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PeerTls")
    }
}

impl PeerTls {
    /// The configurations accepted peers and dialed peers are handshaken with.
    pub fn new(server: &ServerConfig, client: &ClientConfig) -> PeerTls {
        PeerTls {
            configs: Arc::new(RwLock::new(with_alpn(server, client))),
        }
    }

    /// New connections use these from now on (reloaded certificates); open ones keep theirs.
    pub fn replace(&self, server: &ServerConfig, client: &ClientConfig) {
        *self.configs.write().unwrap_or_else(PoisonError::into_inner) = with_alpn(server, client);
    }

    pub(crate) fn server(&self) -> Arc<ServerConfig> {
        self.configs
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .0
            .clone()
    }

    pub(crate) fn client(&self) -> Arc<ClientConfig> {
        self.configs
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .1
            .clone()
    }
}

fn with_alpn(
    server: &ServerConfig,
    client: &ClientConfig,
) -> (Arc<ServerConfig>, Arc<ClientConfig>) {
    let mut server = server.clone();
    server.alpn_protocols = vec![ALPN_H2.to_vec()];
    let mut client = client.clone();
    client.alpn_protocols = vec![ALPN_H2.to_vec()];
    (Arc::new(server), Arc::new(client))
}

/// What the peer server needs for TLS: the configurations and whose host each member id is.
#[derive(Debug, Clone)]
pub(crate) struct ServerTls {
    pub(crate) tls: PeerTls,
    /// Every member's peer address (`host:port`), for [`MemberCert::admits`].
    pub(crate) members: MemberList,
}

/// Every member's peer address (`host:port`), as a certificate is checked against it: the
/// peers this node started with, each overridden and joined by the members of Raft's
/// membership as it changes (`cluster::address_book` follows it). So a member added by
/// reconfig is admitted as soon as its membership entry reaches this node, with no restart;
/// a start-up peer that left stays admitted (it holds the cluster's certificate, and Raft no
/// longer replicates to or counts it).
#[derive(Debug, Clone)]
pub(crate) struct MemberList {
    founding: Arc<BTreeMap<NodeId, String>>,
    now: Arc<RwLock<Arc<BTreeMap<NodeId, String>>>>,
}

impl MemberList {
    /// The list of the start-up `peers`.
    pub(crate) fn new(peers: BTreeMap<NodeId, String>) -> MemberList {
        let founding = Arc::new(peers);
        MemberList {
            now: Arc::new(RwLock::new(founding.clone())),
            founding,
        }
    }

    /// The addresses as of now.
    pub(crate) fn current(&self) -> Arc<BTreeMap<NodeId, String>> {
        self.now
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Follows a membership: its members at their peer addresses, over the start-up peers.
    pub(crate) fn follow(&self, members: impl IntoIterator<Item = (NodeId, String)>) {
        let mut next = (*self.founding).clone();
        next.extend(members);
        let next = Arc::new(next);
        if *self.current() != *next {
            tracing::info!(members = ?next, "peer certificates: members followed");
            *self.now.write().unwrap_or_else(PoisonError::into_inner) = next;
        }
    }
}

/// What an accepted TLS connection carries into every request on it.
#[derive(Debug, Clone)]
pub(crate) struct PeerConnectInfo {
    /// The names of the certificate the peer presented.
    pub(crate) cert: Arc<MemberCert>,
}

/// Who may speak on the peer port: every request's caller is checked against this node
/// ([`Identity`]) and, with TLS, against the certificate of the connection it came on.
#[derive(Debug, Clone)]
pub(crate) struct Gate {
    identity: Identity,
    members: Option<MemberList>,
}

impl Gate {
    pub(crate) fn new(identity: Identity, tls: Option<&ServerTls>) -> Gate {
        Gate {
            identity,
            members: tls.map(|t| t.members.clone()),
        }
    }

    /// This node's id.
    pub(crate) fn id(&self) -> NodeId {
        self.identity.id
    }

    /// The ensemble's id (what a joining node learns from a probe).
    pub(crate) fn ensemble(&self) -> u64 {
        self.identity.cluster
    }

    /// The check for the callers of `req` (the certificate is taken from its connection).
    pub(crate) fn admit<T>(&self, req: &Request<T>) -> Admit {
        Admit {
            identity: self.identity,
            tls: self.members.as_ref().map(|members| {
                let cert = req
                    .extensions()
                    .get::<PeerConnectInfo>()
                    .map(|i| i.cert.clone());
                (cert, members.current())
            }),
        }
    }
}

/// With TLS, what a request is checked against: the certificate of its connection (none:
/// a plain connection got through, which is refused) and the members' addresses.
type CertAndMembers = (Option<Arc<MemberCert>>, Arc<BTreeMap<NodeId, String>>);

/// The caller check for one request (and, for a stream, each item on it).
#[derive(Debug, Clone)]
pub(crate) struct Admit {
    identity: Identity,
    tls: Option<CertAndMembers>,
}

impl Admit {
    /// Checks a caller record; returns the sender's id.
    pub(crate) fn check(&self, caller: Option<&pb::Caller>) -> Result<NodeId, Status> {
        // Loud, as a refused certificate is: a member of another ensemble (an old member
        // back after a forced recovery, a data dir copied between ensembles) keeps knocking.
        // Throttled per claimed sender (a forger or an old member retries fast).
        let from = self.identity.check(caller).inspect_err(|refused| {
            let source = caller.map_or("a caller without a record".to_string(), |c| {
                format!("node {}", c.from)
            });
            crate::grpc::refusal_log::warn(&source, &refused.message());
        })?;
        self.check_cert(from)
    }

    /// As [`Admit::check`], but of the ensemble id only that the request is meant for this
    /// node: a probe from a node that is joining and does not know the ensemble's id yet.
    pub(crate) fn check_target(&self, caller: Option<&pb::Caller>) -> Result<NodeId, Status> {
        let from = self.identity.check_target(caller)?;
        match &self.tls {
            // A node that is not a member yet (one joining before its reconfig) may ask with
            // any certificate of the cluster's CA, which the handshake checked: a probe
            // tells only whether the ensemble is formed, and its id. Every other RPC needs
            // a member's certificate.
            Some((Some(_), members)) if !members.contains_key(&from) => Ok(from),
            _ => self.check_cert(from),
        }
    }

    /// With TLS, that the connection's certificate is member `from`'s.
    fn check_cert(&self, from: NodeId) -> Result<NodeId, Status> {
        let Some((cert, members)) = &self.tls else {
            return Ok(from);
        };
        let Some(cert) = cert else {
            return Err(Status::unauthenticated(
                "sslQuorum: the connection has no member certificate",
            ));
        };
        let Some(addr) = members.get(&from) else {
            return Err(Status::permission_denied(format!(
                "sslQuorum: node {from} is not a member"
            )));
        };
        cert.admits(from, addr).map_err(|reason| {
            crate::grpc::refusal_log::warn(&format!("node {from}"), &reason);
            Status::permission_denied(format!("sslQuorum: node {from} refused: {reason}"))
        })?;
        Ok(from)
    }
}

#[cfg(test)]
mod tests;
