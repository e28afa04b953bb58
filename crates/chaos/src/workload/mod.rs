//! The recorded workload: clients that do one operation at a time and write down what they
//! asked, when, and what they got.

pub mod creates;
pub mod ephemerals;
pub mod registers;
pub mod resumes;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::watch;
use zk_client::{connect, Client, ConnectOptions, Error};
use zk_history::ephemeral::{Observation, SessionRecord};
use zk_history::history::RegisterRecord;
use zk_history::sequential::CreateOp;

use crate::clock::Clock;

/// Where every client writes what it saw.
pub struct Recorder {
    /// The run's clock.
    pub clock: Clock,
    /// Register path → its operations.
    pub registers: Mutex<BTreeMap<String, Vec<RegisterRecord>>>,
    /// Sequential creates.
    pub creates: Mutex<Vec<CreateOp>>,
    /// Sessions owning ephemerals (filled when each one's fate is settled).
    pub sessions: Mutex<Vec<SessionRecord>>,
    /// Observers' exists calls.
    pub observations: Mutex<Vec<Observation>>,
    /// Answers the workload never expects (e.g. NoNode on a register): each fails the run.
    pub anomalies: Mutex<Vec<String>>,
    /// Clients that connect to observers only: whatever they completed, an observer served
    /// (forwarding writes to the leader).
    pub via_observers: Mutex<BTreeSet<u32>>,
}

impl Recorder {
    /// An empty record on `clock`.
    pub fn new(clock: Clock) -> Recorder {
        Recorder {
            clock,
            registers: Mutex::new(BTreeMap::new()),
            creates: Mutex::new(Vec::new()),
            sessions: Mutex::new(Vec::new()),
            observations: Mutex::new(Vec::new()),
            anomalies: Mutex::new(Vec::new()),
            via_observers: Mutex::new(BTreeSet::new()),
        }
    }
}

/// A record lock; records are only appended to, so a poisoned one is still whole.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// What every workload client needs.
#[derive(Clone)]
pub struct Ctx {
    /// The record.
    pub rec: Arc<Recorder>,
    /// The ensemble's connect string.
    pub servers: String,
    /// The run's root znode.
    pub root: String,
    /// Turns true when the workload must stop.
    pub stop: watch::Receiver<bool>,
    /// The session timeout of workload clients.
    pub session_timeout: Duration,
    /// The longest a single call may take before it is recorded as indeterminate.
    pub call_timeout: Duration,
}

impl Ctx {
    /// This context for client `id` connecting to `servers` instead of every member: with
    /// `observers` (the connect string names only observers) the client is recorded as one
    /// whose operations observers served.
    pub fn connecting_to(&self, id: u32, servers: String, observers: bool) -> Ctx {
        if observers {
            lock(&self.rec.via_observers).insert(id);
        }
        Ctx {
            servers,
            ..self.clone()
        }
    }

    /// Whether the run asked the workload to stop.
    pub fn stopping(&self) -> bool {
        *self.stop.borrow()
    }

    /// A connected client (a fresh session), or `None` if the run stops first.
    pub async fn session(&self) -> Option<Client> {
        while !self.stopping() {
            match try_session(&self.servers, self.session_timeout).await {
                Ok(Some(client)) => return Some(client),
                Ok(None) => {}
                Err(e) => {
                    self.anomaly(format!("cannot connect to {}: {e}", self.servers));
                    return None;
                }
            }
        }
        None
    }

    /// Waits (bounded by the session timeout, and by the run's stop) until `zk` is connected
    /// or closed: calls on a disconnected handle fail at once, and a client looping on them
    /// would only spin.
    pub async fn wait_usable(&self, zk: &Client) {
        let mut states = zk.state_watch();
        let mut stop = self.stop.clone();
        let usable = states.wait_for(|s| s.is_connected() || s.is_closed());
        tokio::select! {
            _ = tokio::time::timeout(self.session_timeout, usable) => {}
            _ = stop.wait_for(|s| *s) => {}
        }
    }

    /// Records an answer the workload never expects.
    pub fn anomaly(&self, what: String) {
        tracing::warn!("{what}");
        lock(&self.rec.anomalies).push(what);
    }

    /// Runs one call bounded by the call timeout; a timeout counts as ConnectionLoss (the
    /// call may or may not have been applied).
    pub async fn call<T>(
        &self,
        f: impl std::future::Future<Output = zk_client::Result<T>>,
    ) -> zk_client::Result<T> {
        match tokio::time::timeout(self.call_timeout, f).await {
            Ok(r) => r,
            Err(_) => Err(Error::ConnectionLoss),
        }
    }
}

/// One attempt at a connected session: `Ok(None)` if no server answered within `timeout`;
/// `Err` if the connect string can never work (retrying it would only spin).
pub async fn try_session(servers: &str, timeout: Duration) -> zk_client::Result<Option<Client>> {
    let (client, _events) = connect(servers, ConnectOptions::new().session_timeout(timeout))?;
    if client.wait_connected(timeout).await.is_ok() {
        return Ok(Some(client));
    }
    let _ = client.close().await;
    Ok(None)
}

/// Whether an error leaves a write's outcome unknown: only a server's definite refusal
/// says it was not applied.
pub fn indeterminate(e: &Error) -> bool {
    matches!(
        e,
        Error::ConnectionLoss
            | Error::SessionExpired
            | Error::Closed
            | Error::Protocol(_)
            | Error::OperationTimeout
            | Error::RequestTimeout
            | Error::SystemError
            | Error::Unknown(_)
    )
}

/// Whether a definite refusal is one a failover can cause: SessionMoved (nothing applied)
/// when the session was claimed by a newer, or a stale, handshake elsewhere; the connection
/// is then closed and the client reconnects.
pub fn failover_refusal(e: &Error) -> bool {
    matches!(e, Error::SessionMoved)
}

/// An error's name (`NoNode`, `BadVersion`, ...).
pub fn error_name(e: &Error) -> String {
    let debug = format!("{e:?}");
    debug
        .split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or_default()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_connect_string_that_cannot_work_is_an_error_not_a_retry() {
        let r = try_session("127.0.0.1:2181,:x", Duration::from_secs(1)).await;
        assert!(matches!(r, Err(Error::InvalidConnectString(_))), "{r:?}");
    }
}
