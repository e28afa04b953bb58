//! The handle applications hold: `connect`, the state, and one async method per ZooKeeper call.
//! Methods only build requests and read replies; the session lives in the task (`io.rs`)
//! driving the state machine (`machine`).

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::seq::SliceRandom;
use tokio::sync::{mpsc, oneshot, watch};
use zk_wire::{
    Acl, AddWatchMode, AddWatchRequest, AuthPacket, ClientInfo, DeleteRequest, ExistsRequest,
    GetAclRequest, GetAllChildrenNumberRequest, GetChildrenRequest, GetDataRequest,
    GetEphemeralsRequest, ReconfigRequest, RemoveWatchesRequest, Request, Response, SetAclRequest,
    SetDataRequest, Stat, SyncRequest, WatcherType,
};

use crate::chroot::Chroot;
use crate::connect_string::ConnectString;
use crate::error::{Error, Result};
use crate::io::{self, Command, Reports, Watcher};
use crate::machine::{Config, Core, Submit};
use crate::multi::{self, Multi, MultiRead, OpResult, ReadResult};
use crate::ops::{check_path, create_request, version, CreateOptions};
use crate::path::validate_path;
use crate::state::{SessionInfo, State, WatchedEvent};
use crate::tls::TlsOptions;

/// Settings of a handle; `Default` gives a 10 s session timeout.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// The requested session timeout; the server's negotiated value is the one used (S4.1).
    pub session_timeout: Duration,
    /// First back-off after a full round of servers failed (doubles per round).
    pub backoff_initial: Duration,
    /// The largest back-off between rounds.
    pub backoff_max: Duration,
    /// The largest frame accepted from a server (jute.maxbuffer).
    pub max_frame: usize,
    /// Resume this session (id, password) instead of creating one.
    pub session: Option<(i64, Vec<u8>)>,
    /// Try servers in a random order (S2.2); off only for tests that need a fixed order.
    pub shuffle: bool,
    /// Connect with TLS (to servers' secure client ports).
    pub tls: Option<TlsOptions>,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            session_timeout: Duration::from_secs(10),
            backoff_initial: Duration::from_millis(100),
            backoff_max: Duration::from_secs(1),
            max_frame: zk_wire::DEFAULT_MAX_FRAME,
            session: None,
            shuffle: true,
            tls: None,
        }
    }
}

impl ConnectOptions {
    /// Defaults.
    pub fn new() -> ConnectOptions {
        ConnectOptions::default()
    }

    /// Sets the requested session timeout.
    pub fn session_timeout(mut self, t: Duration) -> ConnectOptions {
        self.session_timeout = t;
        self
    }

    /// Resumes an existing session.
    pub fn resume(mut self, id: i64, password: Vec<u8>) -> ConnectOptions {
        self.session = Some((id, password));
        self
    }

    /// Sets the back-off between failed rounds (first, cap).
    pub fn backoff(mut self, initial: Duration, max: Duration) -> ConnectOptions {
        self.backoff_initial = initial;
        self.backoff_max = max;
        self
    }

    /// Connects with TLS: every server of the connect string must be a secure client port
    /// (ZooKeeper's `zookeeper.client.secure=true`).
    pub fn tls(mut self, tls: TlsOptions) -> ConnectOptions {
        self.tls = Some(tls);
        self
    }

    /// Tries the servers in the order written instead of a random one.
    pub fn in_order(mut self) -> ConnectOptions {
        self.shuffle = false;
        self
    }
}

/// A stream of watch events: the default watcher's (connection states and node events of
/// watches set without their own watcher), or one watch's own. Unbounded, so a slow reader
/// never stalls the connection (S7.2).
#[derive(Debug)]
pub struct WatchStream(mpsc::UnboundedReceiver<WatchedEvent>);

impl WatchStream {
    /// The next event; `None` once no more can come (a one-shot watch fired, the watch was
    /// removed, or the handle is CLOSED and its final event was read).
    pub async fn recv(&mut self) -> Option<WatchedEvent> {
        self.0.recv().await
    }

    /// The next event if one is already there.
    pub fn try_recv(&mut self) -> Option<WatchedEvent> {
        self.0.try_recv().ok()
    }

    /// The next event within `timeout`; `None` on timeout or end of stream.
    pub async fn recv_timeout(&mut self, timeout: Duration) -> Option<WatchedEvent> {
        tokio::time::timeout(timeout, self.0.recv())
            .await
            .ok()
            .flatten()
    }
}

struct Shared {
    commands: mpsc::UnboundedSender<Command>,
    state: watch::Receiver<State>,
    session: watch::Receiver<SessionInfo>,
    last_zxid: Arc<AtomicI64>,
    next_watch: AtomicU64,
    chroot: Chroot,
}

/// A ZooKeeper client handle. Cheap to clone (clones share the session); when the last clone
/// is dropped the session is closed.
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("state", &self.state())
            .field("session_id", &format_args!("{:#x}", self.session().id))
            .finish()
    }
}

/// Creates a handle (S1.1): parses the connect string (a malformed one is refused here with
/// the reason, S2.4) and starts looking for a server in the background. The handle starts in
/// CONNECTING (S1.2); the stream is the default watcher. Must be called inside a tokio runtime.
pub fn connect(connect_string: &str, options: ConnectOptions) -> Result<(Client, WatchStream)> {
    let parsed = ConnectString::parse(connect_string)?;
    if tokio::runtime::Handle::try_current().is_err() {
        return Err(Error::BadArguments(
            "connect must be called inside a tokio runtime".into(),
        ));
    }
    if options.session_timeout.is_zero() {
        return Err(Error::BadArguments("session timeout must be > 0".into()));
    }
    let mut servers = parsed.servers;
    if options.shuffle {
        servers.shuffle(&mut rand::rng());
    }
    let chroot = Chroot::new(parsed.chroot);
    let cfg = Config {
        servers,
        chroot: chroot.clone(),
        session_timeout: options.session_timeout,
        backoff_initial: options.backoff_initial,
        backoff_max: options.backoff_max,
        max_frame: options.max_frame,
        set_watches_batch: crate::machine::DEFAULT_BATCH_BYTES,
        session: options.session,
    };
    let (default_tx, default_rx) = mpsc::unbounded_channel();
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let (state_tx, state_rx) = watch::channel(State::Connecting);
    let (session_tx, session_rx) = watch::channel(SessionInfo::default());
    let core = Core::new(cfg, Watcher::Default);
    let last_zxid = Arc::new(AtomicI64::new(0));
    tokio::spawn(io::run(
        core,
        cmd_rx,
        Reports {
            default: default_tx,
            state: state_tx,
            session: session_tx,
            last_zxid: last_zxid.clone(),
        },
        options.tls,
    ));
    let client = Client {
        shared: Arc::new(Shared {
            commands: cmd_tx,
            state: state_rx,
            session: session_rx,
            last_zxid,
            next_watch: AtomicU64::new(1),
            chroot,
        }),
    };
    Ok((client, WatchStream(default_rx)))
}

fn unexpected(r: Response) -> Error {
    Error::Protocol(format!("unexpected reply {:?}", r.opcode()))
}

impl Client {
    /// The current state (S1).
    pub fn state(&self) -> State {
        *self.shared.state.borrow()
    }

    /// A receiver that sees every state change.
    pub fn state_watch(&self) -> watch::Receiver<State> {
        self.shared.state.clone()
    }

    /// The session as last granted (id, password, negotiated timeout).
    pub fn session(&self) -> SessionInfo {
        self.shared.session.borrow().clone()
    }

    /// The highest zxid seen in any reply of this session (what the next handshake sends as
    /// lastZxidSeen, S3.4); at least the zxid of every reply whose call has returned.
    pub fn last_zxid(&self) -> i64 {
        self.shared.last_zxid.load(Ordering::Acquire)
    }

    /// The chroot of the connect string, if any.
    pub fn chroot(&self) -> Option<&str> {
        self.shared.chroot.prefix()
    }

    /// Waits until CONNECTED. Fails with the CLOSED reason's error, or ConnectionLoss if
    /// `timeout` passes first.
    pub async fn wait_connected(&self, timeout: Duration) -> Result<()> {
        let mut rx = self.shared.state.clone();
        let waited = tokio::time::timeout(timeout, async {
            loop {
                let s = *rx.borrow_and_update();
                match s {
                    State::Connected => return Ok(()),
                    State::Closed(r) => return Err(r.error()),
                    State::Connecting => {}
                }
                if rx.changed().await.is_err() {
                    return Err(self.closed_error());
                }
            }
        })
        .await;
        waited.unwrap_or(Err(Error::ConnectionLoss))
    }

    fn closed_error(&self) -> Error {
        match self.state() {
            State::Closed(r) => r.error(),
            _ => Error::Closed,
        }
    }

    async fn call(&self, request: Request, watcher: Option<Watcher>) -> Result<Response> {
        if let State::Closed(r) = self.state() {
            return Err(r.error());
        }
        let (tag, rx) = oneshot::channel();
        let sub = Submit {
            request,
            watcher,
            tag,
        };
        if self.shared.commands.send(Command::Submit(sub)).is_err() {
            return Err(self.closed_error());
        }
        rx.await.unwrap_or_else(|_| Err(self.closed_error()))
    }

    fn own_watcher(&self) -> (Watcher, WatchStream) {
        let (tx, rx) = mpsc::unbounded_channel();
        let id = self.shared.next_watch.fetch_add(1, Ordering::Relaxed);
        (Watcher::Own(id, tx), WatchStream(rx))
    }

    fn default_watcher(&self) -> Watcher {
        Watcher::Default
    }

    /// Creates a node; the actual path (chroot stripped, sequence suffix included) and its stat.
    pub async fn create(
        &self,
        path: &str,
        data: &[u8],
        options: &CreateOptions,
    ) -> Result<(String, Stat)> {
        match self
            .call(create_request(path, data, options)?, None)
            .await?
        {
            Response::Create2(r) | Response::CreateContainer(r) | Response::CreateTtl(r) => {
                Ok((r.path, r.stat))
            }
            Response::Create(r) => Ok((r.path, Stat::default())),
            other => Err(unexpected(other)),
        }
    }

    /// Deletes a node (`version`: `None` for any).
    pub async fn delete(&self, path: &str, version_: Option<i32>) -> Result<()> {
        check_path(path)?;
        let req = Request::Delete(DeleteRequest {
            path: path.into(),
            version: version(version_),
        });
        self.call(req, None).await.map(|_| ())
    }

    async fn exists_with(&self, path: &str, w: Option<Watcher>) -> Result<Option<Stat>> {
        check_path(path)?;
        let req = Request::Exists(ExistsRequest {
            path: path.into(),
            watch: w.is_some(),
        });
        match self.call(req, w).await {
            Ok(Response::Exists(r)) => Ok(Some(r.stat)),
            Ok(other) => Err(unexpected(other)),
            Err(Error::NoNode) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The node's stat, or `None` if it does not exist.
    pub async fn exists(&self, path: &str) -> Result<Option<Stat>> {
        self.exists_with(path, None).await
    }

    /// Like [`Client::exists`], leaving a one-shot watch (fires on create, change or delete)
    /// with its own stream.
    pub async fn exists_watch(&self, path: &str) -> Result<(Option<Stat>, WatchStream)> {
        let (w, s) = self.own_watcher();
        Ok((self.exists_with(path, Some(w)).await?, s))
    }

    /// Like [`Client::exists`], leaving a one-shot watch reported to the default watcher.
    pub async fn exists_watch_default(&self, path: &str) -> Result<Option<Stat>> {
        self.exists_with(path, Some(self.default_watcher())).await
    }

    async fn get_data_with(&self, path: &str, w: Option<Watcher>) -> Result<(Vec<u8>, Stat)> {
        check_path(path)?;
        let req = Request::GetData(GetDataRequest {
            path: path.into(),
            watch: w.is_some(),
        });
        match self.call(req, w).await? {
            Response::GetData(r) => Ok((r.data.unwrap_or_default(), r.stat)),
            other => Err(unexpected(other)),
        }
    }

    /// The node's data (a null value reads as empty) and stat.
    pub async fn get_data(&self, path: &str) -> Result<(Vec<u8>, Stat)> {
        self.get_data_with(path, None).await
    }

    /// Like [`Client::get_data`], leaving a one-shot data watch with its own stream.
    pub async fn get_data_watch(&self, path: &str) -> Result<(Vec<u8>, Stat, WatchStream)> {
        let (w, s) = self.own_watcher();
        let (d, st) = self.get_data_with(path, Some(w)).await?;
        Ok((d, st, s))
    }

    /// Like [`Client::get_data`], leaving a one-shot data watch reported to the default watcher.
    pub async fn get_data_watch_default(&self, path: &str) -> Result<(Vec<u8>, Stat)> {
        self.get_data_with(path, Some(self.default_watcher())).await
    }

    /// Sets the node's data (`version`: `None` for any); its new stat.
    pub async fn set_data(&self, path: &str, data: &[u8], version_: Option<i32>) -> Result<Stat> {
        check_path(path)?;
        let req = Request::SetData(SetDataRequest {
            path: path.into(),
            data: Some(data.to_vec()),
            version: version(version_),
        });
        match self.call(req, None).await? {
            Response::SetData(r) => Ok(r.stat),
            other => Err(unexpected(other)),
        }
    }

    async fn children_with(
        &self,
        path: &str,
        with_stat: bool,
        w: Option<Watcher>,
    ) -> Result<(Vec<String>, Option<Stat>)> {
        check_path(path)?;
        let body = GetChildrenRequest {
            path: path.into(),
            watch: w.is_some(),
        };
        let req = if with_stat {
            Request::GetChildren2(body)
        } else {
            Request::GetChildren(body)
        };
        match self.call(req, w).await? {
            Response::GetChildren(r) => Ok((r.children, None)),
            Response::GetChildren2(r) => Ok((r.children, Some(r.stat))),
            other => Err(unexpected(other)),
        }
    }

    /// The node's child names.
    pub async fn get_children(&self, path: &str) -> Result<Vec<String>> {
        Ok(self.children_with(path, false, None).await?.0)
    }

    /// Like [`Client::get_children`], leaving a one-shot child watch with its own stream.
    pub async fn get_children_watch(&self, path: &str) -> Result<(Vec<String>, WatchStream)> {
        let (w, s) = self.own_watcher();
        Ok((self.children_with(path, false, Some(w)).await?.0, s))
    }

    /// Like [`Client::get_children`], leaving a one-shot child watch reported to the default
    /// watcher.
    pub async fn get_children_watch_default(&self, path: &str) -> Result<Vec<String>> {
        let w = self.default_watcher();
        Ok(self.children_with(path, false, Some(w)).await?.0)
    }

    /// The node's child names and its stat (getChildren2).
    pub async fn get_children_with_stat(&self, path: &str) -> Result<(Vec<String>, Stat)> {
        let (c, s) = self.children_with(path, true, None).await?;
        Ok((c, s.unwrap_or_default()))
    }

    /// Like [`Client::get_children_with_stat`], leaving a one-shot child watch reported to
    /// the default watcher.
    pub async fn get_children_with_stat_watch_default(
        &self,
        path: &str,
    ) -> Result<(Vec<String>, Stat)> {
        let w = self.default_watcher();
        let (c, s) = self.children_with(path, true, Some(w)).await?;
        Ok((c, s.unwrap_or_default()))
    }

    /// The number of all descendants of the node.
    pub async fn get_all_children_number(&self, path: &str) -> Result<i32> {
        check_path(path)?;
        let req = Request::GetAllChildrenNumber(GetAllChildrenNumberRequest { path: path.into() });
        match self.call(req, None).await? {
            Response::GetAllChildrenNumber(r) => Ok(r.total_number),
            other => Err(unexpected(other)),
        }
    }

    /// This session's ephemeral nodes under `prefix` (`/` for all), chroot stripped.
    pub async fn get_ephemerals(&self, prefix: &str) -> Result<Vec<String>> {
        check_path(prefix)?;
        let req = Request::GetEphemerals(GetEphemeralsRequest {
            prefix_path: prefix.into(),
        });
        match self.call(req, None).await? {
            Response::GetEphemerals(r) => Ok(r.ephemerals),
            other => Err(unexpected(other)),
        }
    }

    /// The node's ACL and stat.
    pub async fn get_acl(&self, path: &str) -> Result<(Vec<Acl>, Stat)> {
        check_path(path)?;
        let req = Request::GetAcl(GetAclRequest { path: path.into() });
        match self.call(req, None).await? {
            Response::GetAcl(r) => Ok((r.acl, r.stat)),
            other => Err(unexpected(other)),
        }
    }

    /// Replaces the node's ACL (`version`: the ACL version, `None` for any); its new stat.
    pub async fn set_acl(&self, path: &str, acl: &[Acl], version_: Option<i32>) -> Result<Stat> {
        check_path(path)?;
        if acl.is_empty() {
            return Err(Error::BadArguments("ACL must not be empty".into()));
        }
        let req = Request::SetAcl(SetAclRequest {
            path: path.into(),
            acl: acl.to_vec(),
            version: version(version_),
        });
        match self.call(req, None).await? {
            Response::SetAcl(r) => Ok(r.stat),
            other => Err(unexpected(other)),
        }
    }

    /// Applies the ops atomically; one result per op, or `MultiFailed` naming the failing op
    /// (nothing applied).
    pub async fn multi(&self, ops: Multi) -> Result<Vec<OpResult>> {
        if let Some(e) = ops.error {
            return Err(e);
        }
        match self
            .call(Request::Multi(multi::request(ops.ops)), None)
            .await?
        {
            Response::Multi(r) => multi::op_results(r),
            other => Err(unexpected(other)),
        }
    }

    /// Runs the reads in one round trip; each has its own result (not atomic).
    pub async fn multi_read(&self, ops: MultiRead) -> Result<Vec<ReadResult>> {
        if let Some(e) = ops.error {
            return Err(e);
        }
        let req = Request::MultiRead(multi::request(ops.ops));
        match self.call(req, None).await? {
            Response::MultiRead(r) | Response::Multi(r) => Ok(multi::read_results(r)),
            other => Err(unexpected(other)),
        }
    }

    /// Fails with BadVersion unless the node's data version is `version` (NoNode if it does
    /// not exist). Sent as a one-op multi: ZooKeeper 3.8 has no standalone check and drops
    /// the connection on one.
    pub async fn check(&self, path: &str, version_: i32) -> Result<()> {
        match self.multi(Multi::new().check(path, version_)).await {
            Ok(_) => Ok(()),
            Err(Error::MultiFailed { error, .. }) => Err(*error),
            Err(e) => Err(e),
        }
    }

    /// Waits until the connected server has caught up with the leader (for later reads).
    pub async fn sync(&self, path: &str) -> Result<()> {
        check_path(path)?;
        let req = Request::Sync(SyncRequest { path: path.into() });
        self.call(req, None).await.map(|_| ())
    }

    /// Adds an identity to the connection (e.g. `digest`, `user:password`); it is sent again
    /// after every reconnect. A refused one is AuthFailed and CLOSES the handle (R8). Called
    /// while not connected it fails with ConnectionLoss but is still sent on the next connect.
    pub async fn add_auth(&self, scheme: &str, auth: &[u8]) -> Result<()> {
        if scheme.is_empty() {
            return Err(Error::BadArguments("empty auth scheme".into()));
        }
        let req = Request::Auth(AuthPacket {
            auth_type: 0,
            scheme: scheme.into(),
            auth: auth.to_vec(),
        });
        self.call(req, None).await.map(|_| ())
    }

    /// Changes the ensemble's membership (ZooKeeper's reconfig, opcode 16): `joining` servers
    /// (`server.N=host:peerPort:electionPort[:participant];[clientHost:]clientPort`, comma
    /// separated) and `leaving` ids (comma separated) for an incremental change, or
    /// `new_members` for the whole new membership; `version` is the config version the change
    /// is for (`None`: any). Answers `/zookeeper/config`'s new data and stat. The outcome of
    /// one that fails with ConnectionLoss is unknown: read `/zookeeper/config` to learn it.
    pub async fn reconfig(
        &self,
        joining: Option<&str>,
        leaving: Option<&str>,
        new_members: Option<&str>,
        version: Option<i64>,
    ) -> Result<(Vec<u8>, Stat)> {
        let req = Request::Reconfig(ReconfigRequest {
            joining_servers: joining.map(str::to_string),
            leaving_servers: leaving.map(str::to_string),
            new_members: new_members.map(str::to_string),
            cur_config_id: version.unwrap_or(-1),
        });
        match self.call(req, None).await? {
            Response::Reconfig(r) => Ok((r.data.unwrap_or_default(), r.stat)),
            other => Err(unexpected(other)),
        }
    }

    /// The identities of this connection.
    pub async fn whoami(&self) -> Result<Vec<ClientInfo>> {
        match self.call(Request::WhoAmI, None).await? {
            Response::WhoAmI(r) => Ok(r.client_info),
            other => Err(unexpected(other)),
        }
    }

    async fn add_watch_with(&self, path: &str, mode: AddWatchMode, w: Watcher) -> Result<()> {
        validate_path(path, false)?;
        let req = Request::AddWatch(AddWatchRequest {
            path: path.into(),
            mode: mode.code(),
        });
        match self.call(req, Some(w)).await? {
            Response::AddWatch(r) if r.err == 0 => Ok(()),
            Response::AddWatch(r) => Err(Error::from_code(r.err)),
            other => Err(unexpected(other)),
        }
    }

    /// Leaves a persistent (or persistent-recursive) watch with its own stream; it stays until
    /// removed with [`Client::remove_watches`] and is re-registered after reconnects.
    pub async fn add_watch(&self, path: &str, mode: AddWatchMode) -> Result<WatchStream> {
        let (w, s) = self.own_watcher();
        self.add_watch_with(path, mode, w).await?;
        Ok(s)
    }

    /// Like [`Client::add_watch`], reporting to the default watcher.
    pub async fn add_watch_default(&self, path: &str, mode: AddWatchMode) -> Result<()> {
        self.add_watch_with(path, mode, self.default_watcher())
            .await
    }

    /// Removes this client's watches of `kind` on `path`, on the server and here; each removed
    /// watcher gets a DataWatchRemoved/ChildWatchRemoved/PersistentWatchRemoved event.
    /// NoWatcher (without asking the server) if there is none. ZooKeeper 3.8 servers know
    /// only Children, Data and Any.
    pub async fn remove_watches(&self, path: &str, kind: WatcherType) -> Result<()> {
        check_path(path)?;
        let req = Request::RemoveWatches(RemoveWatchesRequest {
            path: path.into(),
            watcher_type: kind.code(),
        });
        self.call(req, None).await.map(|_| ())
    }

    /// Closes the session (its ephemerals go at once) and the handle: CLOSED, final (S1.4).
    ///
    /// The handle is CLOSED whatever happens. `Ok` means the ensemble acknowledged the
    /// close (or there was never a session, or the handle was already closed);
    /// `ConnectionLoss` means it could not be told (not connected, or the connection went
    /// before the reply), so the session and its ephemerals live on until it expires.
    pub async fn close(&self) -> Result<()> {
        if self.state().is_closed() {
            return Ok(());
        }
        let (tag, rx) = oneshot::channel();
        if self.shared.commands.send(Command::Close(tag)).is_err() {
            return Ok(());
        }
        match rx.await {
            Ok(result) => result.map(|_| ()),
            // The task ended without answering: it only does so once CLOSED.
            Err(_) => Ok(()),
        }
    }
}
