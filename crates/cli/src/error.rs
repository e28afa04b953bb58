//! The two ways a command fails: its line is wrong ([`ParseError`], nothing was sent, exit 2)
//! or ZooKeeper (or the connection) refused it ([`CliError`], exit 1). Each knows its
//! KeeperException code name for one-shot stderr and its zkCli-style message for the shell.

use std::time::Duration;

use zk_client::Error as ZkError;

/// Exit status: the command succeeded.
pub const EXIT_OK: i32 = 0;
/// Exit status: the server or the connection refused the command.
pub const EXIT_FAILED: i32 = 1;
/// Exit status: the command line is wrong (unknown command, bad flag, missing argument).
pub const EXIT_USAGE: i32 = 2;
/// Exit status: `-w` was given and no event arrived within `--wait-ms`.
pub const EXIT_WAIT_TIMEOUT: i32 = 3;
/// Exit status: Ctrl-C (SIGINT) stopped the command; the session was closed first.
pub const EXIT_INTERRUPTED: i32 = 130;

/// A command line that is not a valid command; nothing was sent to a server.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// A quote was not closed, or text follows a closing quote.
    #[error("{0}")]
    Quote(String),
    /// The first word names no command.
    #[error("unknown command {0:?}")]
    UnknownCommand(String),
    /// Wrong flags or arguments for `command` (`reason` says which).
    #[error("{command}: {reason}")]
    Usage {
        /// The command's name.
        command: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A path argument ZooKeeper would refuse (checked with the client's own rules).
    #[error("{command}: {reason}")]
    BadPath {
        /// The command's name.
        command: &'static str,
        /// Why the path is invalid.
        reason: String,
    },
    /// An ACL argument that is not `scheme:id:perms[,...]`.
    #[error("{command}: {reason}")]
    InvalidAcl {
        /// The command's name.
        command: &'static str,
        /// Why the ACL is invalid.
        reason: String,
    },
}

impl ParseError {
    /// The KeeperException code name that fits best, for one-shot stderr.
    pub fn name(&self) -> &'static str {
        match self {
            ParseError::InvalidAcl { .. } => "InvalidACL",
            _ => "BadArguments",
        }
    }

    /// The command whose usage should be shown, if one was recognised.
    pub fn command(&self) -> Option<&'static str> {
        match self {
            ParseError::Usage { command, .. }
            | ParseError::BadPath { command, .. }
            | ParseError::InvalidAcl { command, .. } => Some(command),
            ParseError::Quote(_) | ParseError::UnknownCommand(_) => None,
        }
    }
}

/// A command that was sent and failed, or could not be sent.
/// Said after a connect timeout over TLS, where the cause is most often the certificates.
const TLS_HINT: &str = " over TLS (is it a secure client port, does --tls-ca hold the CA that \
                        signed its certificate, and does it want a client certificate?)";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CliError {
    /// ZooKeeper (or the client library) refused an operation on `path`.
    #[error("{}", keeper_message(.error, .path.as_deref()))]
    Keeper {
        /// The client's error.
        error: ZkError,
        /// The node the failing operation was about, if any.
        path: Option<String>,
    },
    /// No server accepted a session within the connect timeout.
    #[error(
        "no connection to {server} within {} ms{}",
        .timeout.as_millis(),
        if *.tls { TLS_HINT } else { "" }
    )]
    ConnectTimeout {
        /// The connect string.
        server: String,
        /// How long was waited.
        timeout: Duration,
        /// TLS was asked for (a failed handshake looks the same as no server from here).
        tls: bool,
    },
    /// The shell has no live session (closed, expired or auth failed).
    #[error("Not connected ({0}); `connect host:port` opens a new session")]
    NotConnected(&'static str),
    /// `-w` was given and no event came within `--wait-ms`.
    #[error("no watch event within {} ms", .0.as_millis())]
    WaitTimeout(Duration),
    /// Ctrl-C stopped the command before its reply came.
    #[error("interrupted: the request may or may not have been applied")]
    Interrupted,
    /// The server refused a reconfig (or its answer was lost).
    #[error("{}", reconfig_message(.error))]
    Reconfig {
        /// The client's error.
        error: ZkError,
    },
    /// A file a command reads (reconfig's -file) could not be read or is malformed; nothing
    /// was sent.
    #[error("{path}: {reason}")]
    BadFile {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

impl CliError {
    /// An error of the operation on `path`.
    pub fn at(path: &str) -> impl FnOnce(ZkError) -> CliError + '_ {
        move |error| CliError::Keeper {
            error,
            path: Some(path.to_string()),
        }
    }

    /// The KeeperException code name (`NoNode`, `BadVersion`, `ConnectionLoss`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            CliError::Keeper { error, .. } | CliError::Reconfig { error } => code_name(error),
            CliError::BadFile { .. } => "BadArguments",
            CliError::ConnectTimeout { .. } => "ConnectionLoss",
            CliError::NotConnected(_) => "SessionExpired",
            CliError::WaitTimeout(_) => "WaitTimeout",
            CliError::Interrupted => "Interrupted",
        }
    }

    /// The process exit status for this error in one-shot mode.
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::WaitTimeout(_) => EXIT_WAIT_TIMEOUT,
            CliError::Interrupted => EXIT_INTERRUPTED,
            CliError::BadFile { .. } => EXIT_USAGE,
            _ => EXIT_FAILED,
        }
    }

    /// One line for one-shot stderr: the code name first, so scripts can match on it
    /// (`NoNode: /a/b`).
    pub fn oneshot_line(&self) -> String {
        match self {
            CliError::Keeper { error, path } => {
                let mut s = format!("{}:", self.name());
                if let Some(p) = path {
                    s += &format!(" {p}");
                }
                if let Some(detail) = client_detail(error) {
                    s += &format!(" ({detail})");
                }
                s
            }
            other => format!("{}: {other}", other.name()),
        }
    }
}

/// ZooKeeper's Java client names for the codes (`KeeperException.Code` in CamelCase, as its
/// exception classes spell them); client-only errors map to the code the client reports.
pub fn code_name(error: &ZkError) -> &'static str {
    match error.code().name() {
        "InvalidAcl" => "InvalidACL",
        "ApiError" => "APIError",
        other => other,
    }
}

/// The client library's own reason, for errors that carry one.
fn client_detail(error: &ZkError) -> Option<String> {
    match error {
        ZkError::BadArguments(m) | ZkError::Protocol(m) | ZkError::InvalidConnectString(m) => {
            Some(m.clone())
        }
        ZkError::MultiFailed { error, .. } => client_detail(error),
        _ => None,
    }
}

/// A refused reconfig in words an operator acts on; zkCli's wording for the rest.
fn reconfig_message(error: &ZkError) -> String {
    crate::command::reconfig_refusal(error)
        .map(str::to_string)
        .unwrap_or_else(|| keeper_message(error, None))
}

/// zkCli's wording for the common codes, `KeeperErrorCode = Name for path` for the rest.
fn keeper_message(error: &ZkError, path: Option<&str>) -> String {
    let p = path.unwrap_or("");
    let fixed = match error {
        ZkError::NoNode => Some("Node does not exist: "),
        ZkError::NodeExists => Some("Node already exists: "),
        ZkError::BadVersion => Some("version No is not valid : "),
        ZkError::NotEmpty => Some("Node not empty: "),
        ZkError::NoAuth => Some("Insufficient permission : "),
        ZkError::InvalidAcl => Some("Acl is not valid : "),
        _ => None,
    };
    if let Some(prefix) = fixed {
        return format!("{prefix}{p}");
    }
    let mut s = format!("KeeperErrorCode = {}", code_name(error));
    if let Some(path) = path {
        s += &format!(" for {path}");
    }
    if let Some(detail) = client_detail(error) {
        s += &format!(": {detail}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_keeper_exception_codes() {
        let at = |e: ZkError| CliError::at("/a/b")(e);
        assert_eq!(at(ZkError::NoNode).oneshot_line(), "NoNode: /a/b");
        assert_eq!(at(ZkError::NodeExists).name(), "NodeExists");
        assert_eq!(at(ZkError::BadVersion).name(), "BadVersion");
        assert_eq!(at(ZkError::NotEmpty).name(), "NotEmpty");
        assert_eq!(at(ZkError::NoAuth).name(), "NoAuth");
        assert_eq!(at(ZkError::InvalidAcl).name(), "InvalidACL");
        assert_eq!(at(ZkError::ApiError).name(), "APIError");
        assert_eq!(at(ZkError::ConnectionLoss).name(), "ConnectionLoss");
        assert_eq!(at(ZkError::SessionExpired).name(), "SessionExpired");
        assert_eq!(at(ZkError::Closed).name(), "SessionExpired");
        let timeout = CliError::ConnectTimeout {
            server: "h:1".into(),
            timeout: Duration::from_millis(500),
            tls: false,
        };
        assert_eq!(
            timeout.oneshot_line(),
            "ConnectionLoss: no connection to h:1 within 500 ms"
        );
        assert_eq!(timeout.exit_code(), EXIT_FAILED);
        assert_eq!(
            CliError::WaitTimeout(Duration::from_secs(1)).exit_code(),
            EXIT_WAIT_TIMEOUT
        );
    }

    #[test]
    fn shell_messages_follow_zkcli() {
        let at = |e: ZkError| CliError::at("/x")(e).to_string();
        assert_eq!(at(ZkError::NoNode), "Node does not exist: /x");
        assert_eq!(at(ZkError::NodeExists), "Node already exists: /x");
        assert_eq!(at(ZkError::BadVersion), "version No is not valid : /x");
        assert_eq!(at(ZkError::NotEmpty), "Node not empty: /x");
        assert_eq!(at(ZkError::NoAuth), "Insufficient permission : /x");
        assert_eq!(
            at(ZkError::Unimplemented),
            "KeeperErrorCode = Unimplemented for /x"
        );
        assert_eq!(
            at(ZkError::BadArguments("bad".into())),
            "KeeperErrorCode = BadArguments for /x: bad"
        );
    }

    #[test]
    fn parse_errors_name_their_command() {
        let e = ParseError::Usage {
            command: "get",
            reason: "missing path".into(),
        };
        assert_eq!(e.command(), Some("get"));
        assert_eq!(e.name(), "BadArguments");
        assert_eq!(e.to_string(), "get: missing path");
        let acl = ParseError::InvalidAcl {
            command: "setAcl",
            reason: "x".into(),
        };
        assert_eq!(acl.name(), "InvalidACL");
        assert_eq!(ParseError::UnknownCommand("foo".into()).command(), None);
    }
}
