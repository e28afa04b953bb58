//! One client connection, one task: the four-letter word or handshake, then the request
//! pipeline: a driver (`pipeline.rs`: framing, socket I/O, stats, auth, memory bounds) around
//! the pure core that orders the session's requests, replies and events
//! (`zk_session::order`).
//!
//! Order rules (the client depends on them; `zk_session::order` states them and tests each):
//! - replies leave in request order; a local read is answered from the state right after the
//!   session's last write before it and before its next one (FIFO client order): it runs on
//!   the connection's task once every request before it is answered, and a later write is
//!   not proposed before it has run; or, a few cheap ones between two writes, it is attached
//!   to the earlier write and run by the apply hook right after it, so the later write is
//!   proposed at once;
//! - watch events and replies leave in zxid order: an event precedes the reply that shows its
//!   change, and an event fired after a reply's state follows that reply (a watch set by a
//!   read never fires before the read's answer reaches the client);
//! - a bad frame (over the limit, negative length, undecodable) closes the connection at
//!   once: nothing of it is applied, and the node and its other clients carry on.

mod handshake;
mod pipeline;

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncRead;
use tokio::io::AsyncReadExt;
use tokio::io::AsyncWrite;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::sync::watch;
use zk_wire::encode_frame;
use zk_wire::ConnectRequest;
use zk_wire::DecodeError;
use zk_wire::FrameDecoder;
use zk_wire::Id;
use zk_wire::Record;

use crate::fourlw::Word;
use crate::hub::ConnStats;
use crate::node::Node;
use crate::tls::Tls;

pub use self::handshake::Handshake;
use self::pipeline::Pipeline;

/// Why a connection ended early.
#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    /// The socket failed.
    #[error("i/o: {0}")]
    Io(#[from] io::Error),
    /// The client sent a frame we refuse (over the limit, negative length, malformed).
    #[error("bad packet: {0}")]
    Packet(#[from] DecodeError),
    /// Nothing usable arrived before the handshake deadline.
    #[error("no handshake within {0:?}")]
    HandshakeTimeout(Duration),
    /// The handshake was refused without an answer.
    #[error("session request refused: {0}")]
    Refused(String),
    /// A write could not be committed.
    #[error("{0}")]
    WriteFailed(String),
}

/// Serves one accepted connection of the plain client port until it ends; never panics on
/// what the client sends.
pub async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    node: Arc<Node>,
    shutdown: watch::Receiver<bool>,
) {
    let stats = Arc::new(ConnStats::new(peer, false));
    node.stats.tls.plain_connection(peer.ip());
    let _ = stream.set_nodelay(true);
    // The socket's own halves: no lock between reading and writing.
    let (rd, wr) = stream.into_split();
    let ends = Ends {
        rd,
        wr,
        buffered: false,
    };
    let ended = run(ends, peer, &node, shutdown, stats, Vec::new()).await;
    log_end(peer, ended);
}

/// Serves one accepted connection of the secure client port: the TLS handshake (bounded
/// like a first frame, and ended by a shutdown), then the same as [`serve`], with the ids
/// of the client's certificate, if it gave one, among the connection's ids (`x509`, and
/// `super` for the configured x509 superuser).
pub async fn serve_tls(
    stream: TcpStream,
    peer: SocketAddr,
    node: Arc<Node>,
    tls: Tls,
    shutdown: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let mut stop = shutdown.clone();
    let handshake = node.stats.tls.handshake();
    let accepted = tokio::select! {
        () = crate::shutdown::stopped(&mut stop) => return,
        a = tokio::time::timeout(FIRST_FRAME_WITHIN, tls.accept(stream)) => a,
    };
    drop(handshake);
    let (stream, subject) = match accepted {
        Ok(Ok(accepted)) => accepted,
        Ok(Err(e)) => {
            // A plain-text client, a client that does not trust this server's certificate,
            // one without a certificate the policy needs, garbage: closed, nothing else.
            node.stats.auth_failed.fetch_add(1, Ordering::Relaxed);
            node.stats
                .tls
                .unsuccessful_handshakes
                .fetch_add(1, Ordering::Relaxed);
            tracing::info!(%peer, "TLS handshake failed, closing: {e}");
            return;
        }
        Err(_) => {
            // ZooKeeper's handshake timeout fails the handshake the same way.
            node.stats
                .tls
                .unsuccessful_handshakes
                .fetch_add(1, Ordering::Relaxed);
            tracing::info!(%peer, "no TLS handshake within {FIRST_FRAME_WITHIN:?}, closing");
            return;
        }
    };
    let super_user = node.settings.x509_super_user.as_deref();
    let certified = match &subject {
        Some(subject) => {
            tracing::info!(%peer, id = %subject, "authenticated id for scheme x509");
            crate::auth::x509_ids(subject, super_user)
        }
        None => Vec::new(),
    };
    let stats = Arc::new(ConnStats::new(peer, true));
    let (rd, wr) = tokio::io::split(stream);
    let ends = Ends {
        rd,
        wr,
        buffered: true,
    };
    let ended = run(ends, peer, &node, shutdown, stats, certified).await;
    log_end(peer, ended);
}

/// The two halves of a connection's stream.
pub(crate) struct Ends<R, W> {
    pub(crate) rd: R,
    pub(crate) wr: W,
    /// The writer buffers what it took (TLS records): it must be flushed once everything is
    /// written, or the last replies wait in it. A socket's own half writes through.
    pub(crate) buffered: bool,
}

fn log_end(peer: SocketAddr, ended: Result<(), ConnError>) {
    match ended {
        Ok(()) => tracing::debug!(%peer, "connection closed"),
        Err(ConnError::Io(e)) if is_disconnect(&e) => {
            tracing::debug!(%peer, "client went away: {e}")
        }
        Err(e) => tracing::info!(%peer, "closing connection: {e}"),
    }
}

fn is_disconnect(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionAborted
    )
}

/// Reads until `buf` holds at least `n` bytes; EOF before that is an error.
async fn fill<R: AsyncRead + Unpin>(rd: &mut R, buf: &mut Vec<u8>, n: usize) -> io::Result<()> {
    while buf.len() < n {
        buf.reserve(n - buf.len());
        if rd.read_buf(buf).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
    }
    Ok(())
}

/// Writes `bytes` and closes the writing side (a TLS close_notify included), within
/// [`FIRST_FRAME_WITHIN`]: a client that does not read must not hold the connection open.
async fn answer_and_close<W: AsyncWrite + Unpin>(
    wr: &mut W,
    bytes: &[u8],
) -> Result<(), ConnError> {
    let done = tokio::time::timeout(FIRST_FRAME_WITHIN, async {
        wr.write_all(bytes).await?;
        wr.shutdown().await
    })
    .await;
    match done {
        Ok(r) => Ok(r?),
        Err(_) => Ok(()),
    }
}

async fn run<R, W>(
    ends: Ends<R, W>,
    peer: SocketAddr,
    node: &Arc<Node>,
    shutdown: watch::Receiver<bool>,
    stats: Arc<ConnStats>,
    certified: Vec<Id>,
) -> Result<(), ConnError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let Ends {
        mut rd,
        mut wr,
        buffered,
    } = ends;
    let mut inbuf = Vec::with_capacity(4096);
    // S9.7: a connection that has not finished its handshake is closed when the node shuts
    // down, as every established one is (a member took 5 s to stop while a ConnectRequest
    // waited on a write that could not commit).
    let mut stop = shutdown.clone();
    let opened = tokio::select! {
        () = crate::shutdown::stopped(&mut stop) => return Ok(()),
        opened = open(&mut rd, &mut inbuf, node, peer) => opened?,
    };
    let (connect, decoder) = match opened {
        Opened::Word(text) => return answer_and_close(&mut wr, text.as_bytes()).await,
        Opened::Connect(connect, decoder) => (connect, decoder),
    };
    node.stats.received.fetch_add(1, Ordering::Relaxed);
    node.stats
        .connection_requests
        .fetch_add(1, Ordering::Relaxed);

    let decided = tokio::select! {
        () = crate::shutdown::stopped(&mut stop) => return Ok(()),
        decided = handshake::handshake(node, &connect) => decided,
    };
    let (session, timeout_ms, owner, response) = match decided {
        Handshake::Serve {
            session,
            timeout_ms,
            owner,
            response,
        } => (session, timeout_ms, owner, response),
        Handshake::Reject(response) => {
            node.stats.auth_failed.fetch_add(1, Ordering::Relaxed);
            tracing::info!(%peer, session = format!("0x{:x}", connect.session_id), "invalid session or password");
            let mut out = Vec::new();
            encode_frame(&response, &mut out);
            return answer_and_close(&mut wr, &out).await;
        }
        Handshake::Refuse(why) => return Err(ConnError::Refused(why)),
    };

    let (tx, pushes) = mpsc::unbounded_channel();
    stats
        .session_id
        .store(session.get() as u64, Ordering::Relaxed);
    stats
        .timeout_ms
        .store(u64::from(timeout_ms), Ordering::Relaxed);
    stats
        .established_ms
        .store(zk_consensus::now_ms(), Ordering::Relaxed);
    // Registered before the answer goes out, so nothing pushed for the session is missed.
    let conn = node.hub.register(session, owner, tx, stats.clone());
    tracing::debug!(%peer, session = format!("0x{:x}", session.get()), timeout_ms, "session established");
    let mut out = Vec::new();
    encode_frame(&response, &mut out);
    node.stats.sent.fetch_add(1, Ordering::Relaxed);
    let mut pipeline = Pipeline::new(
        node, conn, session, owner, timeout_ms, peer, stats, decoder, out, pushes, certified,
    );
    let ends = Ends { rd, wr, buffered };
    let result = pipeline.run(ends, inbuf, shutdown).await;
    node.hub.unregister(conn);
    result
}

/// What a connection opened with.
enum Opened {
    /// A four-letter word, answered with this text.
    Word(String),
    /// A ConnectRequest; anything pipelined after it stays in the input buffer.
    Connect(ConnectRequest, FrameDecoder),
}

/// How long a new connection may take to send its first frame (a four-letter word or a
/// whole ConnectRequest): ZooKeeper's `zookeeper.nio.sessionlessCnxnTimeout`, 10 s. It was
/// the largest session timeout (40 s by default), long enough for idle sockets to pile up.
const FIRST_FRAME_WITHIN: Duration = Duration::from_secs(10);

/// The first byte of a TLS handshake record.
const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// Reads the first frame: a four-letter word or a ConnectRequest, within
/// [`FIRST_FRAME_WITHIN`].
async fn open<R: AsyncRead + Unpin>(
    rd: &mut R,
    inbuf: &mut Vec<u8>,
    node: &Arc<Node>,
    peer: SocketAddr,
) -> Result<Opened, ConnError> {
    let deadline = FIRST_FRAME_WITHIN;
    // The first four bytes are either a four-letter word or a ConnectRequest's length.
    tokio::time::timeout(deadline, fill(rd, inbuf, 4))
        .await
        .map_err(|_| ConnError::HandshakeTimeout(deadline))??;
    let first: [u8; 4] = [inbuf[0], inbuf[1], inbuf[2], inbuf[3]];
    if let Some(word) = Word::parse(first) {
        return Ok(Opened::Word(crate::admin::answer(word, node, peer)));
    }
    // A TLS record header (handshake, TLS 1.x) would read as a length of some 370 MB.
    if first[0] == TLS_HANDSHAKE_RECORD && first[1] == 3 {
        return Err(ConnError::Refused(
            "a TLS handshake on the plain client port: TLS clients connect to the secure \
             client port (secureClientPort, --secure-client-addr)"
                .to_string(),
        ));
    }
    let decoder = FrameDecoder::new(node.settings.max_frame_bytes);
    let len = decoder.body_len(inbuf)?.unwrap_or(0);
    tokio::time::timeout(deadline, fill(rd, inbuf, 4 + len))
        .await
        .map_err(|_| ConnError::HandshakeTimeout(deadline))??;
    let connect = ConnectRequest::from_bytes(&inbuf[4..4 + len])?;
    // Anything the client pipelined after its ConnectRequest stays for the pipeline.
    inbuf.drain(..4 + len);
    Ok(Opened::Connect(connect, decoder))
}
