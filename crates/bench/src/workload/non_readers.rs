//! `non-readers`: issue 18's slow readers. `--clients` raw connections to the first server
//! each do a real handshake (a ConnectRequest for a new session of `--session-timeout-ms`,
//! its ConnectResponse read), then write `--requests` getData frames of one `--value-size`
//! znode and never read again, nor ping: their sessions expire after the negotiated timeout.
//! Meanwhile `--readers` ordinary sessions (zk-client, `--in-flight` each) getData a 100-byte
//! znode; their latency over the whole window is the report's latency. The figures:
//!
//! - each watched server's RSS (`--watch-pids`) just before the silent connections open, the
//!   largest sampled (every 20 ms) until the window closes, and at the end, `--duration` after
//!   the last of them was closed;
//! - for each silent connection, the time from its last write until the server closed it, and
//!   that minus the negotiated session timeout: how long the connection outlived its session.
//!
//! A close is seen without reading: `poll` for a hang-up, an error (an RST: a server that
//! closes a socket holding unread requests resets it) or a FIN on the client's socket, and,
//! when the server is on this machine, the server's end of the connection leaving ESTABLISHED
//! in `/proc/net/tcp{,6}` (a server that had read every request sends its FIN behind the
//! replies it could not send, which a client that does not read never gets).
//!
//! On IPv4 loopback every silent connection has a source address of its own (127.77.x.y,
//! any 127/8 address is local on Linux), so a per-IP connection limit (ZooKeeper's
//! maxClientCnxns, 60 by default) does not refuse them or the readers.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use zk_client::{Client, CreateOptions};
use zk_wire::{ConnectRequest, ConnectResponse, FrameDecoder, GetDataRequest, Record, Request};

use crate::clients::settle_after_error;
use crate::procstat::{rss_kib, tcp_states, CpuSnapshot, TCP_ESTABLISHED};
use crate::report::{round1, PidRss, Report, RssPhases};
use crate::stats::{error_name, median, Tally};
use crate::window::Window;

use super::timed::{self, read_rss};
use super::{ensure_under_root, Bench};

/// The readers' znode's size.
const SMALL_VALUE: usize = 100;

/// How often the RSS is sampled and the sockets' states are looked at.
const SAMPLE_EVERY: Duration = Duration::from_millis(20);

/// A silent connection the server has not closed by twice its session timeout and this much
/// after its writing started is given up on (counted as not closed).
const CLOSE_SLACK: Duration = Duration::from_secs(10);

/// Source address of silent connection `i` to `target`: on IPv4 loopback 127.77.a.b, one per
/// connection (a per-IP limit counts each apart); elsewhere the system's choice (`None`).
pub fn source_addr(target: &SocketAddr, i: usize) -> Option<IpAddr> {
    match target.ip() {
        IpAddr::V4(v4) if v4.is_loopback() => {
            let hi = u8::try_from(i / 250).ok()?;
            let lo = u8::try_from(i % 250 + 1).ok()?;
            Some(IpAddr::V4(Ipv4Addr::new(127, 77, hi, lo)))
        }
        _ => None,
    }
}

/// `requests` getData frames of `path` (xids 1, 2, ...), back to back.
pub fn encode_requests(path: &str, requests: usize) -> Vec<u8> {
    let get = Request::GetData(GetDataRequest {
        path: path.to_string(),
        watch: false,
    });
    let mut out = Vec::new();
    for xid in 1..=requests {
        let xid = i32::try_from(xid).unwrap_or(i32::MAX);
        zk_wire::write_frame(&mut out, |o| get.encode_with_header(xid, o));
    }
    out
}

/// What happened to one silent connection, in µs of the run's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// When it started writing its requests.
    pub start_us: u64,
    /// When its last write took bytes (`None`: none did).
    pub last_write_us: Option<u64>,
    /// When the server was seen closing it (`None`: not by the deadline).
    pub closed_us: Option<u64>,
    /// The session timeout the server negotiated, ms.
    pub timeout_ms: i32,
}

impl Outcome {
    /// ms from the last write (or the start, if nothing was written) until the close.
    pub fn close_after_last_write_ms(&self) -> Option<f64> {
        let from = self.last_write_us.unwrap_or(self.start_us);
        self.closed_us.map(|c| (c as f64 - from as f64) / 1000.0)
    }

    /// That minus the session timeout: how long the connection outlived its session.
    pub fn close_after_timeout_ms(&self) -> Option<f64> {
        self.close_after_last_write_ms()
            .map(|ms| ms - f64::from(self.timeout_ms))
    }
}

/// The close figures over the connections: (median, max) after the last write and after the
/// timeout, in ms (rounded to 0.1), over those that were closed.
pub fn close_figures(outcomes: &[Outcome]) -> ([Option<f64>; 2], [Option<f64>; 2]) {
    let after_write: Vec<f64> = outcomes
        .iter()
        .filter_map(Outcome::close_after_last_write_ms)
        .collect();
    let after_timeout: Vec<f64> = outcomes
        .iter()
        .filter_map(Outcome::close_after_timeout_ms)
        .collect();
    let fig = |v: &[f64]| {
        [
            median(v).map(round1),
            v.iter().copied().reduce(f64::max).map(round1),
        ]
    };
    (fig(&after_write), fig(&after_timeout))
}

/// Each watched pid's baseline, peak and after; pids without a baseline reading are left out.
/// The peak is at least the baseline and the after reading.
pub fn rss_phases(baseline: &[PidRss], peaks: &[PidRss], after: &[PidRss]) -> Vec<RssPhases> {
    baseline
        .iter()
        .map(|b| {
            let find = |v: &[PidRss]| v.iter().find(|r| r.pid == b.pid).map(|r| r.rss_kib);
            let after_kib = find(after);
            let peak_kib = b
                .rss_kib
                .max(find(peaks).unwrap_or(0))
                .max(after_kib.unwrap_or(0));
            RssPhases {
                pid: b.pid,
                baseline_kib: b.rss_kib,
                peak_kib,
                after_kib,
            }
        })
        .collect()
}

/// How a close was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    /// POLLHUP or POLLERR on the client's socket (an RST).
    Reset,
    /// POLLRDHUP: the server's FIN reached the client.
    Fin,
    /// The server's end left ESTABLISHED in /proc/net/tcp.
    ServerSocket,
}

impl Seen {
    fn name(self) -> &'static str {
        match self {
            Seen::Reset => "reset",
            Seen::Fin => "fin",
            Seen::ServerSocket => "server-socket",
        }
    }
}

/// One silent connection after its handshake.
struct Silent {
    stream: Arc<TcpStream>,
    /// The server's end as (local, remote) in /proc/net/tcp.
    server_end: (SocketAddr, SocketAddr),
    timeout_ms: i32,
}

/// Connects (from `source` if given), asks for a new session and reads the answer.
async fn open(
    target: SocketAddr,
    source: Option<IpAddr>,
    timeout_ms: i32,
) -> anyhow::Result<Silent> {
    let socket = if target.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    if let Some(ip) = source {
        socket
            .bind(SocketAddr::new(ip, 0))
            .with_context(|| format!("binding to {ip}"))?;
    }
    let mut stream = socket
        .connect(target)
        .await
        .with_context(|| format!("connecting to {target}"))?;
    stream.set_nodelay(true)?;
    let mut hello = Vec::new();
    zk_wire::encode_frame(
        &ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0,
            time_out: timeout_ms,
            session_id: 0,
            passwd: vec![0; 16],
            read_only: Some(false),
        },
        &mut hello,
    );
    stream.write_all(&hello).await.context("ConnectRequest")?;
    let mut prefix = [0u8; 4];
    stream
        .read_exact(&mut prefix)
        .await
        .context("the server closed the handshake without an answer")?;
    let len = FrameDecoder::default()
        .body_len(&prefix)
        .map_err(|e| anyhow!("ConnectResponse: {e}"))?
        .context("ConnectResponse length")?;
    let mut body = vec![0u8; len];
    stream
        .read_exact(&mut body)
        .await
        .context("ConnectResponse body")?;
    let resp = ConnectResponse::from_bytes(&body).map_err(|e| anyhow!("ConnectResponse: {e}"))?;
    if resp.time_out <= 0 || resp.session_id == 0 {
        bail!("the server refused the session (timeout {})", resp.time_out);
    }
    let server_end = (stream.peer_addr()?, stream.local_addr()?);
    Ok(Silent {
        stream: Arc::new(stream),
        server_end,
        timeout_ms: resp.time_out,
    })
}

/// How far one connection's writing got: bytes the kernel took, and when it last took some
/// (µs of the run's clock, 0 for never). Shared so the figures survive aborting the writer.
#[derive(Default)]
struct Progress {
    sent: AtomicUsize,
    last_write_us: AtomicU64,
}

/// Writes `frames` as the socket takes them until all are sent, the socket fails (the server
/// reset it) or `stop_us` passes.
async fn pipeline(
    window: Arc<Window>,
    stream: Arc<TcpStream>,
    frames: Arc<Vec<u8>>,
    progress: Arc<Progress>,
    stop: tokio::time::Instant,
) {
    let mut off = 0;
    while off < frames.len() {
        match tokio::time::timeout_at(stop, stream.writable()).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) | Err(_) => return,
        }
        match stream.try_write(&frames[off..]) {
            Ok(0) => return,
            Ok(n) => {
                off += n;
                progress.sent.store(off, Ordering::Relaxed);
                progress
                    .last_write_us
                    .store(window.now_us().max(1), Ordering::Relaxed);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => return,
        }
    }
}

/// Watches the connections until each was closed or its deadline passed: `poll` on the
/// client's sockets for a hang-up, an error or a FIN (never for data: the replies stay
/// unread), and the server's ends in /proc/net/tcp for those found there at the start.
fn watch_closes(
    window: &Window,
    streams: &[Arc<TcpStream>],
    server_ends: &[Option<(SocketAddr, SocketAddr)>],
    deadline_us: &[u64],
) -> Vec<Option<(u64, Seen)>> {
    let n = streams.len();
    let mut closed: Vec<Option<(u64, Seen)>> = vec![None; n];
    let mut given_up = vec![false; n];
    let timeout_ms = i32::try_from(SAMPLE_EVERY.as_millis()).unwrap_or(20);
    loop {
        let now = window.now_us();
        for i in 0..n {
            if closed[i].is_none() && now > deadline_us[i] {
                given_up[i] = true;
            }
        }
        let open: Vec<usize> = (0..n)
            .filter(|&i| closed[i].is_none() && !given_up[i])
            .collect();
        if open.is_empty() {
            return closed;
        }
        let mut fds: Vec<libc::pollfd> = open
            .iter()
            .map(|&i| libc::pollfd {
                fd: streams[i].as_raw_fd(),
                events: libc::POLLRDHUP,
                revents: 0,
            })
            .collect();
        let nfds = libc::nfds_t::try_from(fds.len()).unwrap_or(0);
        // SAFETY: `fds` is a valid array of `nfds` pollfd; every fd belongs to a stream in
        // `streams`, which the caller holds for the whole call, so none is closed or reused.
        let ready = unsafe { libc::poll(fds.as_mut_ptr(), nfds, timeout_ms) };
        let t = window.now_us();
        if ready > 0 {
            for (k, pfd) in fds.iter().enumerate() {
                let seen = if pfd.revents & (libc::POLLERR | libc::POLLHUP) != 0 {
                    Some(Seen::Reset)
                } else if pfd.revents & libc::POLLRDHUP != 0 {
                    Some(Seen::Fin)
                } else {
                    None
                };
                if let Some(seen) = seen {
                    closed[open[k]] = Some((t, seen));
                }
            }
        }
        if open
            .iter()
            .any(|&i| closed[i].is_none() && server_ends[i].is_some())
        {
            let states = tcp_states();
            for &i in &open {
                if let (None, Some(end)) = (closed[i], server_ends[i]) {
                    if states.get(&end) != Some(&TCP_ESTABLISHED) {
                        closed[i] = Some((t, Seen::ServerSocket));
                    }
                }
            }
        }
    }
}

/// What the silent connections did.
struct Silents {
    opened: usize,
    sent_all: usize,
    outcomes: Vec<Outcome>,
    seen: BTreeMap<String, usize>,
    sources: String,
}

/// Opens the silent connections, lets them write, and waits until the server closed each
/// (or its deadline passed); then closes what is left.
async fn silent_phase(
    bench: &Bench,
    target: SocketAddr,
    frames: Arc<Vec<u8>>,
) -> anyhow::Result<Silents> {
    let opts = &bench.opts;
    let window = bench.window.clone();
    let timeout_ms = i32::try_from(opts.session_timeout_ms).unwrap_or(i32::MAX);
    let wait = Duration::from_secs_f64(opts.connect_timeout);
    let mut opening = Vec::with_capacity(opts.clients);
    for i in 0..opts.clients {
        let src = source_addr(&target, i);
        opening.push(tokio::spawn(async move {
            match tokio::time::timeout(wait, open(target, src, timeout_ms)).await {
                Ok(r) => r,
                Err(_) => Err(anyhow!("no ConnectResponse within {wait:?}")),
            }
        }));
    }
    let mut conns = Vec::with_capacity(opts.clients);
    let mut first_failure = None;
    for o in opening {
        match o.await {
            Ok(Ok(c)) => conns.push(c),
            Ok(Err(e)) => {
                first_failure.get_or_insert_with(|| format!("{e:#}"));
            }
            Err(e) => {
                first_failure.get_or_insert_with(|| e.to_string());
            }
        }
    }
    if let Some(f) = &first_failure {
        if conns.is_empty() {
            bail!("no silent connection to {target} was set up: {f}");
        }
        if !opts.quiet {
            eprintln!(
                "zk-bench: {} of {} silent connections were not set up: {f}",
                opts.clients - conns.len(),
                opts.clients
            );
        }
    }
    let sources = match (
        source_addr(&target, 0),
        source_addr(&target, opts.clients - 1),
    ) {
        (Some(a), Some(b)) => format!("{a}-{b}"),
        _ => "default".to_string(),
    };
    // The server's ends that can be watched: on this machine, and established now.
    let states = tcp_states();
    let server_ends: Vec<Option<(SocketAddr, SocketAddr)>> = conns
        .iter()
        .map(|c| (states.get(&c.server_end) == Some(&TCP_ESTABLISHED)).then_some(c.server_end))
        .collect();

    let start_us = window.now_us();
    let mut writers = Vec::with_capacity(conns.len());
    let mut progress = Vec::with_capacity(conns.len());
    let mut deadline_us = Vec::with_capacity(conns.len());
    for c in &conns {
        let limit =
            Duration::from_millis(u64::try_from(c.timeout_ms).unwrap_or(0)) * 2 + CLOSE_SLACK;
        let p = Arc::new(Progress::default());
        progress.push(p.clone());
        deadline_us.push(start_us + u64::try_from(limit.as_micros()).unwrap_or(u64::MAX / 2));
        writers.push(tokio::spawn(pipeline(
            window.clone(),
            c.stream.clone(),
            frames.clone(),
            p,
            tokio::time::Instant::now() + limit,
        )));
    }
    let streams: Vec<Arc<TcpStream>> = conns.iter().map(|c| c.stream.clone()).collect();
    let w = window.clone();
    let closes =
        tokio::task::spawn_blocking(move || watch_closes(&w, &streams, &server_ends, &deadline_us))
            .await
            .context("the close watcher failed")?;
    for wr in &writers {
        wr.abort();
    }
    for wr in writers {
        let _ = wr.await;
    }
    let mut seen = BTreeMap::new();
    let mut outcomes = Vec::with_capacity(conns.len());
    let mut sent_all = 0;
    for (i, c) in conns.iter().enumerate() {
        let p = &progress[i];
        if p.sent.load(Ordering::Relaxed) == frames.len() {
            sent_all += 1;
        }
        let last = p.last_write_us.load(Ordering::Relaxed);
        if let Some((_, how)) = closes[i] {
            *seen.entry(how.name().to_string()).or_insert(0) += 1;
        }
        outcomes.push(Outcome {
            start_us,
            last_write_us: (last > 0).then_some(last),
            closed_us: closes[i].map(|(t, _)| t),
            timeout_ms: c.timeout_ms,
        });
    }
    // Dropping the streams closes what the server left open.
    drop(conns);
    Ok(Silents {
        opened: outcomes.len(),
        sent_all,
        outcomes,
        seen,
        sources,
    })
}

/// Samples the RSS of `pids` until `stop`; the largest reading of each.
async fn sample_rss(pids: Vec<u32>, stop: Arc<AtomicBool>) -> Vec<PidRss> {
    let mut peaks: Vec<PidRss> = pids.iter().map(|&pid| PidRss { pid, rss_kib: 0 }).collect();
    loop {
        for p in &mut peaks {
            if let Some(r) = rss_kib(p.pid) {
                p.rss_kib = p.rss_kib.max(r);
            }
        }
        if stop.load(Ordering::Relaxed) {
            return peaks;
        }
        tokio::time::sleep(SAMPLE_EVERY).await;
    }
}

/// A reader's tallies: the whole window, and each second of it (by completion, from the
/// window's start), so "p99 under 10 ms throughout" can be read second by second.
#[derive(Default)]
struct ReaderTally {
    all: Tally,
    seconds: BTreeMap<u64, Tally>,
}

/// One reader loop: getData of `path` until the window closes; only requests inside the
/// window count (as in every timed workload).
async fn read_loop(window: Arc<Window>, client: Client, path: String) -> ReaderTally {
    let mut t = ReaderTally::default();
    while !window.stopped() {
        let t0 = window.now_us();
        let r = client.get_data(&path).await;
        let t1 = window.now_us();
        let counts = window.counts(t0, t1);
        match r {
            Ok(_) => {
                window.done.fetch_add(1, Ordering::Relaxed);
                if let (true, Some(start)) = (counts, window.start_us()) {
                    t.all.record(t1 - t0);
                    t.seconds
                        .entry((t1 - start) / 1_000_000)
                        .or_default()
                        .record(t1 - t0);
                }
            }
            Err(e) => {
                window.failed.fetch_add(1, Ordering::Relaxed);
                if counts {
                    t.all.error(&error_name(&e));
                }
                if !settle_after_error(&client, &e, Duration::from_secs(1)).await {
                    break;
                }
            }
        }
    }
    t
}

/// The second of the window (from its start) whose p99 was the highest, and that p99 (µs).
pub fn worst_second_p99(seconds: &BTreeMap<u64, Tally>) -> Option<(u64, u64)> {
    seconds
        .iter()
        .filter(|(_, t)| t.ops() > 0)
        .map(|(&s, t)| (s, t.summary().p99_us))
        .max_by_key(|&(s, p99)| (p99, std::cmp::Reverse(s)))
}

/// Runs the workload.
pub async fn run(bench: &Bench) -> anyhow::Result<Report> {
    let readers = bench.connect(bench.opts.readers).await?;
    let result = with_znodes(bench, &readers).await;
    crate::clients::close_all(&readers).await;
    result
}

/// Creates the two znodes, measures, deletes them.
async fn with_znodes(bench: &Bench, readers: &[Client]) -> anyhow::Result<Report> {
    // Reader 0 is on the first server (client i starts at server i mod n, or the first), so
    // that server has both znodes when the silent connections ask for them.
    let setup = readers.first().context("no reader session")?;
    let base = bench.run_path("non-readers");
    ensure_under_root(bench, setup, &base).await?;
    let big = format!("{base}/big");
    let small = format!("{base}/small");
    let small_value = [b's'; SMALL_VALUE];
    for (path, value) in [(&big, bench.value.as_slice()), (&small, &small_value[..])] {
        setup
            .create(path, value, &CreateOptions::persistent())
            .await
            .map_err(|e| anyhow!("creating {path}: {e}"))?;
    }
    let result = measure(bench, readers, &big, &small).await;
    // Best effort, bounded: a server may have died under the load.
    for path in [&big, &small, &base] {
        let _ = tokio::time::timeout(Duration::from_secs(5), setup.delete(path, None)).await;
    }
    result
}

async fn measure(
    bench: &Bench,
    readers: &[Client],
    big: &str,
    small: &str,
) -> anyhow::Result<Report> {
    let opts = &bench.opts;
    let window = bench.window.clone();
    let pids = opts.watch_pids.clone();
    let first = bench.servers.first().context("no server")?.clone();
    let target = tokio::net::lookup_host(&first)
        .await
        .with_context(|| format!("resolving {first}"))?
        .next()
        .with_context(|| format!("{first} resolves to no address"))?;
    let frames = Arc::new(encode_requests(big, opts.requests));
    window.warm_up();
    let mut tasks = Vec::with_capacity(readers.len() * opts.in_flight);
    for c in readers {
        for _ in 0..opts.in_flight {
            tasks.push(tokio::spawn(read_loop(
                window.clone(),
                c.clone(),
                small.to_string(),
            )));
        }
    }
    tokio::time::sleep(opts.warmup_duration()).await;
    let baseline = read_rss(&pids);
    let cpu0 = CpuSnapshot::take(&pids);
    window.open();
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = tokio::spawn(sample_rss(pids.clone(), stop.clone()));
    let silents = silent_phase(bench, target, frames).await;
    if silents.is_ok() {
        tokio::time::sleep(opts.measure_duration()).await;
    }
    let after = read_rss(&pids);
    window.close();
    let cpu1 = CpuSnapshot::take(&pids);
    stop.store(true, Ordering::Relaxed);
    let peaks = sampler.await.unwrap_or_default();
    // Bounded like timed::join_all: a loop stuck on a dead server is aborted and counted.
    let deadline = tokio::time::Instant::now() + opts.session_timeout() + Duration::from_secs(5);
    let mut tallies = Vec::with_capacity(tasks.len());
    let mut seconds: BTreeMap<u64, Tally> = BTreeMap::new();
    let mut unfinished = 0;
    for mut t in tasks {
        match tokio::time::timeout_at(deadline, &mut t).await {
            Ok(Ok(rt)) => {
                for (s, tally) in &rt.seconds {
                    seconds.entry(*s).or_default().merge(tally);
                }
                tallies.push(rt.all);
            }
            Ok(Err(_)) => unfinished += 1,
            Err(_) => {
                t.abort();
                unfinished += 1;
            }
        }
    }
    let silents = silents?;

    let measured = timed::Measured {
        tally: Tally::merged(tallies.iter()),
        measured_s: window.measured_secs(),
        cpu: cpu0.until(&cpu1),
        rss: after.clone(),
        unfinished,
    };
    let mut r = measured.report(bench);
    r.readers = Some(opts.readers);
    if let Some((s, p99)) = worst_second_p99(&seconds) {
        r.worst_second = Some(s);
        r.worst_second_p99_us = Some(p99);
    }
    r.requests = Some(opts.requests);
    r.non_reader_server = Some(first);
    r.non_reader_sources = Some(silents.sources);
    r.non_readers_connected = Some(silents.opened);
    r.non_readers_sent_all = Some(silents.sent_all);
    r.non_readers_closed = Some(
        silents
            .outcomes
            .iter()
            .filter(|o| o.closed_us.is_some())
            .count(),
    );
    r.close_seen_by = Some(silents.seen);
    r.negotiated_timeout_ms = silents
        .outcomes
        .iter()
        .map(|o| i64::from(o.timeout_ms))
        .max();
    let ([w_med, w_max], [t_med, t_max]) = close_figures(&silents.outcomes);
    r.close_after_last_write_ms_median = w_med;
    r.close_after_last_write_ms_max = w_max;
    r.close_after_timeout_ms_median = t_med;
    r.close_after_timeout_ms_max = t_max;
    r.rss_phases = rss_phases(&baseline, &peaks, &after);
    r.rss_growth_kib_max = r.rss_phases.iter().map(RssPhases::growth_kib).max();
    r.rss_peak_kib_max = r.rss_phases.iter().map(|p| p.peak_kib).max();
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_sources_are_distinct_and_others_left_to_the_system() {
        let lo: SocketAddr = "127.0.0.1:2181".parse().expect("addr");
        let ips: std::collections::HashSet<_> =
            (0..1000).filter_map(|i| source_addr(&lo, i)).collect();
        assert_eq!(ips.len(), 1000);
        assert_eq!(source_addr(&lo, 0), Some("127.77.0.1".parse().expect("ip")));
        assert_eq!(
            source_addr(&lo, 250),
            Some("127.77.1.1".parse().expect("ip"))
        );
        assert!(ips.iter().all(|ip| ip.is_loopback()));
        let remote: SocketAddr = "10.0.0.5:2181".parse().expect("addr");
        assert_eq!(source_addr(&remote, 3), None);
        let v6: SocketAddr = "[::1]:2181".parse().expect("addr");
        assert_eq!(source_addr(&v6, 3), None);
    }

    #[test]
    fn requests_are_getdata_frames_with_rising_xids() {
        let bytes = encode_requests("/b", 3);
        let d = FrameDecoder::default();
        let mut rest = &bytes[..];
        for want in 1..=3 {
            let f = d.decode(rest).expect("frame").expect("whole");
            let (h, req) = Request::decode_frame(f.body).expect("request");
            assert_eq!(h.xid, want);
            assert_eq!(
                req,
                Request::GetData(GetDataRequest {
                    path: "/b".into(),
                    watch: false
                })
            );
            rest = &rest[f.consumed..];
        }
        assert!(rest.is_empty());
    }

    #[test]
    fn close_delays_count_from_the_last_write_and_past_the_timeout() {
        let o = |last: Option<u64>, closed: Option<u64>| Outcome {
            start_us: 1_000_000,
            last_write_us: last,
            closed_us: closed,
            timeout_ms: 4000,
        };
        let outcomes = [
            // Closed 5.5 s after its last write: 1.5 s past a 4 s session.
            o(Some(1_100_000), Some(6_600_000)),
            // Nothing written: from the start. 4.2 s after, 0.2 s past.
            o(None, Some(5_200_000)),
            // Closed 6.0 s after: 2 s past.
            o(Some(1_000_000), Some(7_000_000)),
            // Never closed: left out.
            o(Some(1_000_000), None),
        ];
        assert_eq!(outcomes[1].close_after_timeout_ms(), Some(200.0));
        assert_eq!(outcomes[3].close_after_last_write_ms(), None);
        let ([w_med, w_max], [t_med, t_max]) = close_figures(&outcomes);
        assert_eq!((w_med, w_max), (Some(5500.0), Some(6000.0)));
        assert_eq!((t_med, t_max), (Some(1500.0), Some(2000.0)));
        assert_eq!(close_figures(&[]), ([None, None], [None, None]));
    }

    #[test]
    fn the_worst_second_is_the_one_with_the_highest_p99() {
        let mut seconds = BTreeMap::new();
        for (s, lat) in [(0u64, 100u64), (1, 9000), (2, 200), (3, 9000)] {
            let t: &mut Tally = seconds.entry(s).or_default();
            for _ in 0..200 {
                t.record(lat / 2);
            }
            for _ in 0..10 {
                t.record(lat);
            }
        }
        seconds.insert(4, Tally::new());
        let (s, p99) = worst_second_p99(&seconds).expect("some second");
        assert_eq!(s, 1, "the first of two equal seconds");
        assert!((8990..=9010).contains(&p99), "{p99}");
        assert_eq!(worst_second_p99(&BTreeMap::new()), None);
    }

    #[test]
    fn rss_phases_take_the_peak_over_every_reading() {
        let r = |pid, kib| PidRss { pid, rss_kib: kib };
        let phases = rss_phases(
            &[r(1, 100_000), r(2, 50_000)],
            &[r(1, 130_000), r(2, 0), r(3, 999_999)],
            &[r(1, 105_000)],
        );
        assert_eq!(
            phases,
            vec![
                RssPhases {
                    pid: 1,
                    baseline_kib: 100_000,
                    peak_kib: 130_000,
                    after_kib: Some(105_000)
                },
                RssPhases {
                    pid: 2,
                    baseline_kib: 50_000,
                    peak_kib: 50_000,
                    after_kib: None
                },
            ],
            "pid 3 had no baseline; pid 2 was gone at the end"
        );
        assert_eq!(phases[0].growth_kib(), 30_000);
        assert_eq!(phases[1].growth_kib(), 0);
    }
}
