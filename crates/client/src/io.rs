//! The thin tokio layer: one task per handle carries out what the state machine asks
//! (connect, write, drop, deliver, complete) and feeds it what happens (connected, bytes,
//! EOF, time). It holds no session logic. Writes go through a per-connection writer task and
//! events through unbounded channels, so neither a slow socket nor a slow event consumer
//! stalls reading (S7.2). With TLS (`tls.rs`) the handshake is part of connecting.

use std::fmt;
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf};
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_rustls::client::TlsStream;
use tracing::debug;
use zk_wire::Response;

use crate::connect_string::HostPort;
use crate::error::Result;
use crate::machine::{ConnId, Core, Output, Submit};
use crate::state::{SessionInfo, State, WatchedEvent};
use crate::tls::TlsOptions;

/// Completes one request.
pub(crate) type Tag = oneshot::Sender<Result<Response>>;

/// Where a watch's events go: the default watcher, or a channel of its own. Equal by identity
/// so the registry can deliver each event once per watcher.
#[derive(Clone)]
pub(crate) enum Watcher {
    Default,
    Own(u64, mpsc::UnboundedSender<WatchedEvent>),
}

impl Watcher {
    fn id(&self) -> Option<u64> {
        match self {
            Watcher::Default => None,
            Watcher::Own(id, _) => Some(*id),
        }
    }

    fn deliver(&self, ev: WatchedEvent, default: &mpsc::UnboundedSender<WatchedEvent>) {
        let tx = match self {
            Watcher::Default => default,
            Watcher::Own(_, tx) => tx,
        };
        // A receiver that is gone no longer wants events.
        let _ = tx.send(ev);
    }
}

impl PartialEq for Watcher {
    fn eq(&self, other: &Self) -> bool {
        self.id() == other.id()
    }
}

impl Eq for Watcher {}

impl Hash for Watcher {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id().hash(state)
    }
}

impl fmt::Debug for Watcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.id() {
            None => f.write_str("Watcher::Default"),
            Some(id) => write!(f, "Watcher::Own({id})"),
        }
    }
}

/// What a handle asks of its task.
pub(crate) enum Command {
    Submit(Submit<Tag, Watcher>),
    Close(Tag),
}

/// The channels the task reports through.
pub(crate) struct Reports {
    /// The default watcher; dropped when the task ends, which ends its stream.
    pub default: mpsc::UnboundedSender<WatchedEvent>,
    pub state: watch::Sender<State>,
    pub session: watch::Sender<SessionInfo>,
    /// The highest zxid seen in a reply, stored before the step's completions go out so a
    /// caller woken by a reply reads at least that reply's zxid.
    pub last_zxid: Arc<AtomicI64>,
}

/// A connection's reading side: the socket's own half, or TLS's (which shares the stream
/// with the writer task through tokio's split).
enum Reader {
    Plain(OwnedReadHalf),
    Tls(ReadHalf<TlsStream<TcpStream>>),
}

/// A connected stream.
enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

struct Conn {
    id: ConnId,
    rd: Reader,
    wr: mpsc::UnboundedSender<Vec<u8>>,
    writer: JoinHandle<()>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        // A dropped connection may be stuck writing to a dead peer; nothing it still holds
        // matters once the core has given the connection up.
        self.writer.abort();
    }
}

type ConnectFuture = Pin<Box<dyn Future<Output = io::Result<Stream>> + Send>>;

enum Wake {
    Command(Option<Command>),
    Read(io::Result<usize>),
    Connected(io::Result<Stream>),
    Tick,
}

fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// Runs a handle's session until CLOSED.
pub(crate) async fn run(
    mut core: Core<Tag, Watcher>,
    mut commands: mpsc::UnboundedReceiver<Command>,
    reports: Reports,
    tls: Option<TlsOptions>,
) {
    let mut conn: Option<Conn> = None;
    let mut connecting: Option<(ConnId, ConnectFuture)> = None;
    let mut buf = vec![0u8; 64 * 1024];
    let mut commands_open = true;
    core.start(now());
    loop {
        // Completions go out after the step's state is published, so a caller woken by one
        // (e.g. `close`) already sees the state that step produced.
        let mut completed = Vec::new();
        while let Some(out) = core.poll_output() {
            match out {
                Output::Connect { conn: id, server } => {
                    connecting = Some((id, Box::pin(connect_to(server, tls.clone()))));
                }
                Output::Send { conn: id, bytes } => {
                    if let Some(c) = conn.as_ref().filter(|c| c.id == id) {
                        let _ = c.wr.send(bytes);
                    }
                }
                Output::Disconnect { conn: id } => {
                    if conn.as_ref().is_some_and(|c| c.id == id) {
                        conn = None;
                    }
                    if connecting.as_ref().is_some_and(|(c, _)| *c == id) {
                        connecting = None;
                    }
                }
                Output::State(s) => {
                    reports.state.send_replace(s);
                }
                Output::Session(s) => {
                    reports.session.send_replace(s);
                }
                Output::Event { watcher, event } => watcher.deliver(event, &reports.default),
                Output::Complete { tag, result } => completed.push((tag, result)),
            }
        }
        reports.last_zxid.store(core.last_zxid(), Ordering::Release);
        for (tag, result) in completed {
            let _ = tag.send(result);
        }
        if core.state().is_closed() {
            break;
        }
        let deadline = core.next_deadline().map(tokio::time::Instant::from_std);
        let wake = tokio::select! {
            c = commands.recv(), if commands_open => Wake::Command(c),
            r = read(conn.as_mut(), &mut buf) => Wake::Read(r),
            r = connect(connecting.as_mut()) => Wake::Connected(r),
            _ = sleep(deadline) => Wake::Tick,
        };
        match wake {
            Wake::Command(Some(Command::Submit(s))) => core.submit(s, now()),
            Wake::Command(Some(Command::Close(tag))) => core.close(Some(tag), now()),
            Wake::Command(None) => {
                // Every handle is gone: nobody can use the session any more.
                commands_open = false;
                core.close(None, now());
            }
            Wake::Read(r) => {
                let Some(id) = conn.as_ref().map(|c| c.id) else {
                    continue;
                };
                match r {
                    Ok(0) => core.disconnected(id, now()),
                    Ok(n) => core.data(id, &buf[..n], now()),
                    Err(e) => {
                        debug!(%e, "read failed");
                        core.disconnected(id, now());
                    }
                }
            }
            Wake::Connected(r) => {
                let Some((id, _)) = connecting.take() else {
                    continue;
                };
                match r {
                    Ok(stream) => {
                        let (tx, rx) = mpsc::unbounded_channel();
                        let (rd, writer) = match stream {
                            Stream::Plain(s) => {
                                let (rd, wr) = s.into_split();
                                (Reader::Plain(rd), tokio::spawn(write_loop(wr, rx)))
                            }
                            Stream::Tls(s) => {
                                let (rd, wr) = tokio::io::split(*s);
                                (Reader::Tls(rd), tokio::spawn(write_loop(wr, rx)))
                            }
                        };
                        conn = Some(Conn {
                            id,
                            rd,
                            wr: tx,
                            writer,
                        });
                        core.connected(id, now());
                    }
                    Err(e) => {
                        debug!(%e, "connect failed");
                        core.connect_failed(id, now());
                    }
                }
            }
            Wake::Tick => core.tick(now()),
        }
    }
    // Deliver what the final transition produced (Closed events, failed requests), the
    // state first.
    let mut completed = Vec::new();
    while let Some(out) = core.poll_output() {
        match out {
            Output::Event { watcher, event } => watcher.deliver(event, &reports.default),
            Output::Complete { tag, result } => completed.push((tag, result)),
            Output::State(s) => {
                reports.state.send_replace(s);
            }
            _ => {}
        }
    }
    for (tag, result) in completed {
        let _ = tag.send(result);
    }
    // Calls racing with the close still get the final answer.
    commands.close();
    while let Ok(cmd) = commands.try_recv() {
        let err = core.state();
        let tag = match cmd {
            Command::Submit(s) => s.tag,
            Command::Close(t) => t,
        };
        let _ = tag.send(match err {
            State::Closed(r) => Err(r.error()),
            _ => Err(crate::Error::Closed),
        });
    }
}

async fn read(conn: Option<&mut Conn>, buf: &mut [u8]) -> io::Result<usize> {
    match conn.map(|c| &mut c.rd) {
        Some(Reader::Plain(rd)) => rd.read(buf).await,
        Some(Reader::Tls(rd)) => rd.read(buf).await,
        None => std::future::pending().await,
    }
}

async fn connect(c: Option<&mut (ConnId, ConnectFuture)>) -> io::Result<Stream> {
    match c {
        Some((_, fut)) => fut.as_mut().await,
        None => std::future::pending().await,
    }
}

async fn sleep(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Resolves `server` and tries its addresses in turn (a name may resolve to ::1 and
/// 127.0.0.1 with the server listening on one of them only); with `tls`, the handshake
/// follows (a server whose certificate is not trusted is a failed connect).
async fn connect_to(server: HostPort, tls: Option<TlsOptions>) -> io::Result<Stream> {
    let addrs = tokio::net::lookup_host((server.host.as_str(), server.port)).await?;
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
    let mut connected = None;
    for a in addrs {
        match TcpStream::connect(a).await {
            Ok(s) => {
                connected = Some(s);
                break;
            }
            Err(e) => last = e,
        }
    }
    let Some(tcp) = connected else {
        return Err(last);
    };
    let _ = tcp.set_nodelay(true);
    match tls {
        None => Ok(Stream::Plain(tcp)),
        Some(tls) => match tls.connect(&server.host, tcp).await {
            Ok(s) => Ok(Stream::Tls(Box::new(s))),
            Err(e) => {
                // Said once per failed server, where the application's logs can show why a
                // handle never connects (an untrusted certificate, a plain port).
                tracing::warn!(server = %server, "TLS handshake failed: {e}");
                Err(e)
            }
        },
    }
}

/// Writes frames in order, coalescing whatever is queued into one write, then flushes (a TLS
/// writer holds records until flushed).
async fn write_loop<W: AsyncWrite + Unpin>(mut wr: W, mut rx: mpsc::UnboundedReceiver<Vec<u8>>) {
    while let Some(mut buf) = rx.recv().await {
        while buf.len() < 64 * 1024 {
            match rx.try_recv() {
                Ok(more) => buf.extend_from_slice(&more),
                Err(_) => break,
            }
        }
        if wr.write_all(&buf).await.is_err() || wr.flush().await.is_err() {
            return;
        }
    }
    let _ = wr.shutdown().await;
}
