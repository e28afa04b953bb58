//! Opening and closing sessions with the settings from the command line, shared by the shell
//! and one-shot mode.

use std::time::Duration;

use zk_client::{Client, ConnectOptions, ConnectString, State, TlsOptions, WatchStream};

use crate::error::CliError;

/// The most a close may take: a dead server must not keep the shell or a script waiting.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(3);

/// Connection settings from the command line.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The connect string, `host:port[,host:port...][/chroot]`.
    pub server: String,
    /// How long to wait for the first connection.
    pub connect_timeout: Duration,
    /// The session timeout asked for (the server may grant another).
    pub session_timeout: Duration,
    /// TLS to the servers' secure client ports, if asked for.
    pub tls: Option<TlsOptions>,
    /// Identities added to every session opened (`--auth scheme:credentials`), as
    /// `addauth` would.
    pub auth: Vec<(String, String)>,
}

/// Parses `--auth`'s `scheme:credentials` (e.g. `digest:super:secret`).
pub fn parse_auth(s: &str) -> Result<(String, String), String> {
    match s.split_once(':') {
        Some((scheme, auth)) if !scheme.is_empty() => Ok((scheme.to_string(), auth.to_string())),
        _ => Err(format!(
            "--auth takes scheme:credentials (e.g. digest:user:password), not {s:?}"
        )),
    }
}

/// Adds the `--auth` identities to `zk`. One sent while not connected yet goes with the
/// next connect (the client keeps it), so only a refusal is an error.
pub async fn add_auths(zk: &Client, s: &Settings) -> Result<(), CliError> {
    for (scheme, auth) in &s.auth {
        match zk.add_auth(scheme, auth.as_bytes()).await {
            Ok(()) | Err(zk_client::Error::ConnectionLoss) => {}
            Err(error) => return Err(CliError::Keeper { error, path: None }),
        }
    }
    Ok(())
}

/// Checks a connect string without connecting; the reason if it is malformed.
pub fn check_server(server: &str) -> Result<(), String> {
    ConnectString::parse(server)
        .map(|_| ())
        .map_err(|e| match e {
            zk_client::Error::InvalidConnectString(m) => format!("invalid connect string: {m}"),
            other => other.to_string(),
        })
}

/// Starts a session to `server` (the client keeps trying in the background); the handle and
/// its default watcher. Must run inside the tokio runtime.
pub fn open(server: &str, s: &Settings) -> Result<(Client, WatchStream), CliError> {
    let mut options = ConnectOptions::new().session_timeout(s.session_timeout);
    if let Some(tls) = &s.tls {
        options = options.tls(tls.clone());
    }
    zk_client::connect(server, options).map_err(|error| CliError::Keeper { error, path: None })
}

/// Waits up to the connect timeout for CONNECTED.
pub async fn wait_connected(zk: &Client, s: &Settings) -> Result<(), CliError> {
    match zk.wait_connected(s.connect_timeout).await {
        Ok(()) => Ok(()),
        Err(zk_client::Error::ConnectionLoss) => Err(CliError::ConnectTimeout {
            server: s.server.clone(),
            timeout: s.connect_timeout,
            tls: s.tls.is_some(),
        }),
        Err(error) => Err(CliError::Keeper { error, path: None }),
    }
}

/// Closes the session (its ephemerals go at once), bounded by [`CLOSE_TIMEOUT`]; a server
/// that does not answer in time lets the session expire on its own.
pub async fn close(zk: &Client) {
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, zk.close()).await;
}

/// Why a handle can take no more commands, or `None` if it still can.
pub fn dead_reason(state: State) -> Option<&'static str> {
    match state {
        State::Closed(zk_client::CloseReason::SessionExpired) => Some("session expired"),
        State::Closed(zk_client::CloseReason::AuthFailed) => Some("authentication failed"),
        State::Closed(zk_client::CloseReason::Closed) => Some("session closed"),
        State::Connecting | State::Connected => None,
    }
}
