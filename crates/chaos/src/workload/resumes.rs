//! Live sessions resumed on members the moment they start again (S9.6, R10): a member
//! restarted a moment ago must never answer a live session "expired", though its own
//! applied state may not have caught up with the session yet. For each member the fault
//! injector is about to start, up to two owners that are still alive are resumed on it by a
//! bare ConnectRequest (a fresh handle, lastZxidSeen 0) sent as soon as its client port
//! opens. A resume moves the session: its owner's handle is then told SessionMoved and
//! resumes it again, through its proxies.
//!
//! An "expired" answer is recorded as the owner's handle being told Expired, so the
//! ephemeral checker judges it like any expiry: a session that lives on (its ephemeral there
//! to the end), or that was never unheard for a timeout, fails the run.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use zk_history::ephemeral::{ConnState, StateChange};
use zk_wire::{encode_frame, ConnectRequest, ConnectResponse, Record};

use super::ephemerals::Owners;
use super::{lock, Ctx};

/// How the resumes on restarted members went.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Served by the member that had just started.
    pub resumed: u32,
    /// Closed without an answer (not caught up yet, or no quorum): the client moves on.
    pub refused: u32,
    /// Answered "expired" (recorded for the checker), of sessions whose client could reach
    /// every member.
    pub expired: u32,
    /// Answered "expired" (recorded for the checker), of sessions whose client could reach
    /// observers only: one of those unheard for its timeout while its observer was down
    /// expired rightly, so these are the checker's to judge and no failure by themselves.
    pub expired_via_observers: u32,
    /// The port did not open, or the answer was not a ConnectResponse.
    pub failed: u32,
}

/// What a ConnectRequest got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Resumed,
    Expired,
    Closed,
}

/// Resumes live owners' sessions on each member sent on `restarted`, until the run stops.
pub async fn prober(
    ctx: Ctx,
    owners: Owners,
    addrs: Vec<String>,
    mut restarted: mpsc::UnboundedReceiver<usize>,
    tally: Arc<Mutex<Tally>>,
) {
    let mut stop = ctx.stop.clone();
    loop {
        let member = tokio::select! {
            m = restarted.recv() => match m {
                Some(m) => m,
                None => return,
            },
            _ = stop.wait_for(|s| *s) => return,
        };
        let Some(addr) = addrs.get(member).cloned() else {
            continue;
        };
        let sessions: Vec<(usize, i64, Vec<u8>, bool)> = lock(&owners)
            .iter()
            .enumerate()
            .filter(|(_, o)| o.fate.is_none())
            // A handle told its session expired (an owner on observers only, unheard while
            // they were down) has nothing left to resume.
            .filter_map(|(i, o)| o.handle.as_ref().map(|h| (i, o.client, h)))
            .filter(|(_, _, h)| !h.state().is_closed())
            .map(|(i, client, h)| (i, client, h.session()))
            .filter(|(_, _, s)| s.id != 0)
            .take(2)
            .map(|(i, client, s)| {
                let via_observers = lock(&ctx.rec.via_observers).contains(&client);
                (i, s.id, s.password, via_observers)
            })
            .collect();
        for (index, id, password, via_observers) in sessions {
            let a = addr.clone();
            let timeout = ctx.session_timeout;
            let answer = tokio::task::spawn_blocking(move || {
                resume_as_port_opens(&a, id, password, timeout)
            })
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r);
            let mut t = lock(&tally);
            match answer {
                Ok(Answer::Resumed) => t.resumed += 1,
                Ok(Answer::Closed) => t.refused += 1,
                Ok(Answer::Expired) => {
                    let whose = if via_observers {
                        t.expired_via_observers += 1;
                        " (its client reaches observers only)"
                    } else {
                        t.expired += 1;
                        ""
                    };
                    println!(
                        "resume: member {} answered session {id:#x}{whose} \"expired\" as it \
                         started",
                        member + 1
                    );
                    let all = lock(&owners);
                    if let Some(o) = all.get(index) {
                        lock(&o.states).push(StateChange {
                            at: ctx.rec.clock.now(),
                            state: ConnState::Expired,
                        });
                    }
                }
                Err(e) => {
                    t.failed += 1;
                    println!("resume: on member {}: {e}", member + 1);
                }
            }
        }
    }
}

/// Connects to `addr` the moment its port opens (within 30 s) and resumes session `id`.
fn resume_as_port_opens(
    addr: &str,
    id: i64,
    password: Vec<u8>,
    timeout: Duration,
) -> Result<Answer, String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let target: SocketAddr = addr
        .to_socket_addrs()
        .map_err(|e| format!("{addr}: {e}"))?
        .next()
        .ok_or_else(|| format!("{addr}: no address"))?;
    let mut stream = loop {
        match TcpStream::connect_timeout(&target, Duration::from_millis(200)) {
            Ok(s) => break s,
            Err(_) if Instant::now() < deadline => std::thread::yield_now(),
            Err(e) => return Err(format!("{addr} did not open: {e}")),
        }
    };
    let _ = stream.set_nodelay(true);
    let req = ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 0,
        time_out: i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX),
        session_id: id,
        passwd: password,
        read_only: Some(false),
    };
    let mut out = Vec::new();
    encode_frame(&req, &mut out);
    if stream.write_all(&out).is_err() {
        return Ok(Answer::Closed);
    }
    // S9.7 bounds a handshake; a member that never answers nor closes is a failure here.
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let mut len = [0u8; 4];
    match stream.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
            return Err(format!("{addr}: no answer and no close within 10 s"));
        }
        Err(_) => return Ok(Answer::Closed),
    }
    let n = usize::try_from(i32::from_be_bytes(len))
        .ok()
        .filter(|&n| n < 1024)
        .ok_or_else(|| format!("{addr}: bad ConnectResponse length"))?;
    let mut body = vec![0u8; n];
    if stream.read_exact(&mut body).is_err() {
        return Ok(Answer::Closed);
    }
    let resp = ConnectResponse::from_bytes(&body).map_err(|e| format!("{addr}: {e}"))?;
    Ok(if resp.session_id == 0 || resp.time_out <= 0 {
        Answer::Expired
    } else if resp.session_id == id {
        Answer::Resumed
    } else {
        return Err(format!(
            "{addr}: answered another session {:#x}",
            resp.session_id
        ));
    })
}
