//! The running server: binds the client port, starts this node's ensemble member (a
//! one-node ensemble is an ensemble of one: the same start and shutdown), wires the apply
//! hook, and runs the accept loop, the expiry loop, the cleaner, the quorum check and the
//! activity reports until shut down.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::task::JoinSet;
use zk_consensus::start_cluster;
use zk_consensus::ApplyHook;
use zk_consensus::ClusterConfig;
use zk_consensus::ClusterError;
use zk_consensus::ClusterNode;
use zk_consensus::Role;
use zk_consensus::StartError;
use zk_session::MonotonicClock;
use zk_store::TreeConfig;

use crate::backend::Backend;
use crate::config::Settings;
use crate::connection;
use crate::expiry::Expiry;
use crate::hub::Hub;
use crate::limit::PerIpLimit;
use crate::node::Node;
use crate::tls::Tls;

/// The membership address of a node with no peers. Nothing listens on it; it is recorded in
/// the data dir, so it must not change with the client port.
const STANDALONE_PEER_ADDR: &str = "standalone";

/// How long shutdown waits for connections to close before dropping them.
const CONNECTION_DRAIN: Duration = Duration::from_secs(5);

/// Why the server could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The client port cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The ensemble member could not start (bad peers, the peer port, a data dir made with
    /// other --peers, ...).
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    /// The data directory cannot be created.
    #[error("cannot create data dir {dir}: {source}")]
    DataDir {
        /// The directory.
        dir: String,
        /// Why.
        source: std::io::Error,
    },
    /// Raft did not start (or stop).
    #[error(transparent)]
    Raft(#[from] StartError),
    /// The secure client port's certificate files do not make a TLS configuration.
    // The cause is part of the message, not a `source`, so it is printed once.
    #[error("secure client port: {0}")]
    Tls(crate::tls::config::TlsError),
    /// The peer link's certificate files (sslQuorum) do not make a TLS configuration.
    #[error("sslQuorum: {0}")]
    QuorumTls(crate::tls::config::TlsError),
    /// This member's own host in --peers, where the peer port listens, does not resolve.
    #[error(
        "cannot resolve this member's peer address {listen} to listen on: {source} (give \
         --peer-listen, or --quorum-listen-on-all-ips / quorumListenOnAllIPs=true)"
    )]
    PeerHost {
        /// The host and port.
        listen: String,
        /// Why.
        source: std::io::Error,
    },
}

/// A running server.
pub struct Server {
    node: Arc<Node>,
    local_addr: SocketAddr,
    secure_addr: Option<SocketAddr>,
    shutdown: watch::Sender<bool>,
    accept: JoinHandle<()>,
    secure_accept: Option<JoinHandle<()>>,
    background: JoinSet<()>,
    /// This node's member of the ensemble (owned here so shutdown can stop it).
    member: Arc<ClusterNode>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Binds the client port, opens the data dir and starts serving as a member of the
    /// ensemble `--peers` names (of one, without it).
    pub async fn start(settings: Settings) -> Result<Server, ServerError> {
        let (listener, local_addr) = bind(settings.client_addr).await?;
        // The certificates are checked before anything else starts: a bad file stops the
        // start with what is wrong with it.
        let secure = match &settings.secure_client {
            None => None,
            Some((addr, tls)) => {
                let (tls, reloader) = Tls::load(tls).map_err(ServerError::Tls)?;
                let (listener, addr) = bind(*addr).await?;
                Some((listener, addr, tls, reloader))
            }
        };
        crate::data_dir::create(&settings.data_dir).map_err(|source| ServerError::DataDir {
            dir: settings.data_dir.display().to_string(),
            source,
        })?;

        let id = settings.id;
        let expiry = Arc::new(Expiry::new(
            settings.timeouts.tick_ms(),
            Arc::new(MonotonicClock::new()),
        ));
        let hub = Arc::new(Hub::new(id, expiry.clone()));
        let hook_hub = hub.clone();
        let hook: ApplyHook = Arc::new(move |ev, st| hook_hub.on_apply(ev, st));
        let tree_config = TreeConfig {
            ttl_enabled: settings.ttl_nodes,
        };

        // Without --peers this node is an ensemble of one, its address only a name recorded
        // in the data dir (it must not change with the client port).
        let (peers, listen, dial) = match &settings.ensemble {
            Some(e) => {
                let listen = e.listen.resolve().map_err(|source| ServerError::PeerHost {
                    listen: e.listen.to_string(),
                    source,
                })?;
                (e.peers.members().clone(), Some(listen), e.dial.clone())
            }
            None => (
                BTreeMap::from([(id, STANDALONE_PEER_ADDR.to_string())]),
                None,
                BTreeMap::new(),
            ),
        };
        // The peer link's certificates, checked before the member starts like the secure
        // port's.
        let peer_tls = match settings.ensemble.as_ref().and_then(|e| e.tls.as_ref()) {
            None => None,
            Some(tls) => Some(crate::tls::quorum::load(tls).map_err(ServerError::QuorumTls)?),
        };
        let mut config = match listen {
            // Not one of --peers: it joins the ensemble they form, at the address it is given.
            Some(listen) if !peers.contains_key(&id) => ClusterConfig::joining(id, peers, listen)?,
            _ => ClusterConfig::new(id, peers)?,
        };
        if let Some(listen) = listen {
            config.listen = listen;
        }
        config.dial = dial;
        config.observers = settings
            .ensemble
            .as_ref()
            .map(|e| e.peers.observers().clone())
            .unwrap_or_default();
        config.records = settings
            .ensemble
            .as_ref()
            .map(|e| e.peers.records())
            .unwrap_or_default();
        config.reconfig_enabled = settings.reconfig_enabled;
        config.force_recovery = settings.ensemble.as_ref().is_some_and(|e| e.force_recovery);
        config.peer_tls = peer_tls.as_ref().map(|(tls, _)| tls.clone());
        config.snapshot_every = settings.snapshot_every;
        config.keep_log = settings.log_keep;
        config.fsync_warning_threshold = settings.fsync_warning_threshold;
        config.tree_config = tree_config;
        // Installed before Raft starts: entries a leader replicates right away must fire
        // their watches and complete their requests too.
        config.apply_hook = Some(hook);
        let member = Arc::new(start_cluster(&settings.data_dir, config).await?);
        let state = member.state.clone();
        // Restored sessions are judged once the expiry loop sees this node lead: each gets a
        // fresh full timeout then (nobody could reach it while the node was down).
        let sessions = state.read().sessions.len();
        let zxid = format!("0x{:x}", state.applied_zxid());
        tracing::info!(sessions, zxid, "state loaded");

        let backend = Backend::new(member.clone());
        let node = Arc::new(Node::new(id, settings, backend, state, hub, expiry));
        // Weak: the member must not keep the node (and so itself) alive.
        let weak = Arc::downgrade(&node);
        member.set_activity_handler(Arc::new(move |_from, ids| {
            if let Some(node) = weak.upgrade() {
                node.on_reported_activity(ids);
            }
        }));
        let (shutdown, shutdown_rx) = watch::channel(false);
        let mut background = JoinSet::new();
        background.spawn(crate::tasks::expiry::run(
            crate::tasks::expiry::Handle::of(&node),
            shutdown_rx.clone(),
        ));
        background.spawn(crate::tasks::cleaner::run(
            crate::tasks::cleaner::Handle::of(&node),
            shutdown_rx.clone(),
        ));
        background.spawn(crate::tasks::serving::run(
            crate::tasks::serving::Handle::of(&node),
            shutdown_rx.clone(),
        ));
        background.spawn(crate::tasks::activity::run(
            crate::tasks::activity::Handle::of(&node),
            shutdown_rx.clone(),
        ));
        background.spawn(crate::tasks::raft_counts::run(
            crate::tasks::raft_counts::Handle::of(&node),
            shutdown_rx.clone(),
        ));
        start_admin_http(&node, &mut background, &shutdown_rx).await;
        background.spawn(fail_writes_on_leader_change(
            node.clone(),
            member.role(),
            shutdown_rx.clone(),
        ));
        if let Some((_, reloader)) = peer_tls {
            background.spawn(Tls::watch(reloader, shutdown_rx.clone()));
        }
        let (secure_accept, secure_addr) = match secure {
            None => (None, None),
            Some((listener, addr, tls, reloader)) => {
                background.spawn(Tls::watch(reloader, shutdown_rx.clone()));
                let accept = accept_loop(listener, Some(tls), node.clone(), shutdown_rx.clone());
                tracing::info!(%addr, "serving ZooKeeper clients over TLS");
                (Some(tokio::spawn(accept)), Some(addr))
            }
        };
        let accept = tokio::spawn(accept_loop(listener, None, node.clone(), shutdown_rx));
        match member.peer_addr() {
            Some(peer) => tracing::info!(
                addr = %local_addr,
                %peer,
                "serving ZooKeeper clients (ensemble member)"
            ),
            None => tracing::info!(addr = %local_addr, "serving ZooKeeper clients (standalone)"),
        }
        Ok(Server {
            node,
            local_addr,
            secure_addr,
            shutdown,
            accept,
            secure_accept,
            background,
            member,
        })
    }

    /// The bound client address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The bound secure (TLS) client address, if one is served.
    pub fn secure_addr(&self) -> Option<SocketAddr> {
        self.secure_addr
    }

    /// Stops accepting, closes client connections, stops Raft (its log is flushed on every
    /// append, so nothing acknowledged is lost) and releases the data dir.
    pub async fn shutdown(mut self) -> Result<(), ServerError> {
        tracing::info!("shutting down");
        self.shutdown.send_replace(true);
        if let Err(e) = self.accept.await {
            tracing::warn!("accept loop ended badly: {e}");
        }
        if let Some(Err(e)) = match self.secure_accept {
            Some(accept) => Some(accept.await),
            None => None,
        } {
            tracing::warn!("secure accept loop ended badly: {e}");
        }
        while self.background.join_next().await.is_some() {}
        self.node.hub.fail_all("node shutting down");
        drop(self.node);
        match Arc::try_unwrap(self.member) {
            Ok(member) => member.shutdown(Duration::from_secs(10)).await?,
            // Only a task that outlived the drain holds it; the process ends anyway and
            // everything acknowledged is on disk.
            Err(_) => tracing::warn!("ensemble member still referenced; not waiting for Raft"),
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// The admin HTTP server and the Prometheus provider's port, where configured and bindable.
async fn start_admin_http(
    node: &Arc<Node>,
    background: &mut JoinSet<()>,
    shutdown: &watch::Receiver<bool>,
) {
    use crate::admin_http::Routes;
    let listeners = [
        (node.settings.admin_addr, Routes::Admin, "admin HTTP API"),
        (
            node.settings.metrics_addr,
            Routes::MetricsOnly,
            "Prometheus metrics",
        ),
    ];
    for (addr, routes, what) in listeners {
        let Some(addr) = addr else { continue };
        if let Some(l) = crate::admin_http::bind(addr, what).await {
            background.spawn(crate::admin_http::serve(
                l,
                node.clone(),
                routes,
                shutdown.clone(),
            ));
        }
    }
}

/// Binds a client port; the listener and the address it is bound to.
async fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), ServerError> {
    let bind_error = |source| ServerError::Bind { addr, source };
    let listener = TcpListener::bind(addr).await.map_err(bind_error)?;
    let local = listener.local_addr().map_err(bind_error)?;
    Ok((listener, local))
}

/// Accepts the clients of one client port: the plain one, or the secure one with `tls`.
/// maxClientCnxns counts each port's connections on its own.
async fn accept_loop(
    listener: TcpListener,
    tls: Option<Tls>,
    node: Arc<Node>,
    shutdown: watch::Receiver<bool>,
) {
    let limit = PerIpLimit::new(node.settings.max_connections_per_ip);
    let mut conns = JoinSet::new();
    let mut stop = shutdown.clone();
    let mut backoff = Duration::from_millis(1);
    loop {
        tokio::select! {
            () = crate::shutdown::stopped(&mut stop) => break,
            // Reap finished connections so the set does not grow.
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    backoff = Duration::from_millis(1);
                    let Some(permit) = limit.admit(peer.ip()) else {
                        tracing::warn!(
                            "Too many connections from {} - max is {}",
                            peer.ip(),
                            node.settings.max_connections_per_ip
                        );
                        drop(stream);
                        continue;
                    };
                    let node = node.clone();
                    let shutdown = shutdown.clone();
                    let tls = tls.clone();
                    conns.spawn(async move {
                        match tls {
                            None => connection::serve(stream, peer, node, shutdown).await,
                            Some(tls) => {
                                connection::serve_tls(stream, peer, node, tls, shutdown).await
                            }
                        }
                        drop(permit);
                    });
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!("accept failed: {e}; retrying in {backoff:?}");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                }
            }
        }
    }
    drop(listener);
    node.hub.close_all();
    let drained = tokio::time::timeout(CONNECTION_DRAIN, async {
        while conns.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!("connections still open after {CONNECTION_DRAIN:?}; dropping them");
        conns.shutdown().await;
    }
}

/// Fails every waiting write when the leader or term changes: the old leader may have taken
/// a forwarded write into its log and died before committing it, so its fate is unknown
/// (the client gets ConnectionLoss, S8.1) and it must not be left waiting forever.
async fn fail_writes_on_leader_change(
    node: Arc<Node>,
    mut role: watch::Receiver<Role>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut last = {
        let r = role.borrow_and_update();
        (r.leader, r.term)
    };
    // The first view: nothing waited on a leader before it.
    node.led.send_replace(last);
    loop {
        tokio::select! {
            () = crate::shutdown::stopped(&mut shutdown) => return,
            changed = role.changed() => {
                if changed.is_err() {
                    return;
                }
            }
        }
        let now = {
            let r = role.borrow_and_update();
            (r.leader, r.term)
        };
        if now != last {
            tracing::info!(leader = ?now.0, term = now.1, "leader changed");
            node.hub
                .fail_all("the leader changed; the write's fate is unknown");
            node.led.send_replace(now);
            last = now;
        }
    }
}
