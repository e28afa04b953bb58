//! `reconfig [-s] [-v version] [-file path | -members servers] [-add servers] [-remove ids]`:
//! changes the ensemble's membership as zkCli.sh's `reconfig` does (incremental with
//! -add/-remove, the whole new membership with -members or a dynamic config -file), then
//! prints the committed configuration.

use zk_client::{Client, Error as ZkError};

use super::usage_error;
use crate::error::{CliError, ParseError};
use crate::output;

/// Where a non-incremental reconfig's new membership comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Members {
    /// `-members server.1=...,server.2=...`
    Listed(String),
    /// `-file path`: a dynamic config file (`server.N=...` lines), read when run.
    File(String),
}

/// `reconfig`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reconfig {
    /// `-add`: servers joining (comma-separated `server.N=...`).
    pub add: Option<String>,
    /// `-remove`: ids leaving (comma-separated).
    pub remove: Option<String>,
    /// `-members` or `-file`: the whole new membership.
    pub members: Option<Members>,
    /// `-v`: the config version (hex, as `config` prints it) the change is for.
    pub version: Option<i64>,
    /// `-s`: print the new config's stat too.
    pub stat: bool,
}

const COMMAND: &str = "reconfig";

impl Reconfig {
    /// Parses the arguments after `reconfig`. Its options are words (`-add`), not letters,
    /// so they are read here rather than by [`crate::flags::Flags`].
    pub fn parse(words: &[String]) -> Result<Reconfig, ParseError> {
        let mut add: Vec<String> = Vec::new();
        let mut remove: Vec<String> = Vec::new();
        let mut members = None;
        let mut version = None;
        let mut stat = false;
        let mut words = words.iter();
        while let Some(w) = words.next() {
            let mut value = |flag: &str| {
                words
                    .next()
                    .cloned()
                    .ok_or_else(|| usage_error(COMMAND, format!("{flag} needs a value")))
            };
            match w.as_str() {
                "-s" => stat = true,
                "-v" => version = Some(hex_version(&value("-v")?)?),
                "-add" => add.push(value("-add")?),
                "-remove" => remove.push(value("-remove")?),
                "-members" | "-file" if members.is_some() => {
                    return Err(usage_error(
                        COMMAND,
                        "give -members or -file once, not both",
                    ))
                }
                "-members" => members = Some(Members::Listed(value("-members")?)),
                "-file" => members = Some(Members::File(value("-file")?)),
                other if other.starts_with('-') => {
                    return Err(usage_error(
                        COMMAND,
                        format!("unknown option {other} (-s, -v, -add, -remove, -members, -file)"),
                    ))
                }
                other => {
                    return Err(usage_error(
                        COMMAND,
                        format!("unexpected argument {other:?}: servers go after -add or -members"),
                    ))
                }
            }
        }
        let join = |v: Vec<String>| (!v.is_empty()).then(|| v.join(","));
        let (add, remove) = (join(add), join(remove));
        if members.is_some() && (add.is_some() || remove.is_some()) {
            return Err(usage_error(
                COMMAND,
                "-members or -file cannot be used together with -add or -remove (mixing \
                 incremental and non-incremental modes is not allowed)",
            ));
        }
        if members.is_none() && add.is_none() && remove.is_none() {
            return Err(usage_error(
                COMMAND,
                "say what changes: -add, -remove, -members or -file",
            ));
        }
        Ok(Reconfig {
            add,
            remove,
            members,
            version,
            stat,
        })
    }

    /// Asks for the change and prints the committed configuration as zkCli does.
    pub async fn run(&self, zk: &Client, out: &mut String) -> Result<(), CliError> {
        let members = match &self.members {
            None => None,
            Some(Members::Listed(m)) => Some(m.clone()),
            Some(Members::File(path)) => {
                let text = std::fs::read_to_string(path).map_err(|e| CliError::BadFile {
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
                Some(
                    dynamic_config_members(&text).map_err(|reason| CliError::BadFile {
                        path: path.clone(),
                        reason,
                    })?,
                )
            }
        };
        let (data, stat) = zk
            .reconfig(
                self.add.as_deref(),
                self.remove.as_deref(),
                members.as_deref(),
                self.version,
            )
            .await
            .map_err(|error| CliError::Reconfig { error })?;
        out.push_str("Committed new configuration:\n");
        out.push_str(&String::from_utf8_lossy(&data));
        out.push('\n');
        if self.stat {
            out.push_str(&output::stat(&stat));
        }
        Ok(())
    }
}

/// `-v`'s value: hexadecimal as `/zookeeper/config`'s `version=` line shows it (zkCli parses
/// it base 16); a `0x` prefix is allowed.
fn hex_version(v: &str) -> Result<i64, ParseError> {
    let digits = v
        .strip_prefix("0x")
        .or_else(|| v.strip_prefix("0X"))
        .unwrap_or(v);
    i64::from_str_radix(digits, 16).map_err(|_| {
        usage_error(
            COMMAND,
            format!("-v takes the config version in hex, as `config` prints it, not {v:?}"),
        )
    })
}

/// The `server.N=...` lines of a dynamic config file (ZooKeeper's `zoo.cfg.dynamic`),
/// comma-joined as reconfig's newMembers; `version=` and comments are skipped.
pub fn dynamic_config_members(text: &str) -> Result<String, String> {
    let mut servers = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(format!("line {}: not key=value: {line:?}", n + 1));
        };
        let (key, value) = (key.trim(), value.trim());
        if key == "version" {
            continue;
        }
        if key
            .strip_prefix("server.")
            .is_none_or(|id| id.parse::<u64>().is_err())
        {
            return Err(format!(
                "line {}: {key:?} is not a server.N key (only server lines and version= \
                 belong in a dynamic config file)",
                n + 1
            ));
        }
        servers.push(format!("{key}={value}"));
    }
    if servers.is_empty() {
        return Err("no server.N= lines".into());
    }
    Ok(servers.join(","))
}

/// What a refused reconfig means, in words an operator acts on.
pub(crate) fn refusal(error: &ZkError) -> Option<&'static str> {
    Some(match error {
        ZkError::ReconfigDisabled => {
            "reconfig is disabled on this server (ZooKeeper's reconfigEnabled=true, zk-node's \
             --reconfig-enabled turn it on)"
        }
        ZkError::NoAuth => {
            "Insufficient permission : /zookeeper/config (reconfig needs the superuser, or \
             WRITE on /zookeeper/config: `addauth digest user:password` first, or --auth)"
        }
        ZkError::BadVersion => {
            "version No is not valid : /zookeeper/config (the configuration changed since the \
             -v version; `config` shows the current one)"
        }
        ZkError::NewConfigNoQuorum => {
            "no quorum of the new configuration is connected and caught up with the leader \
             (are the joining servers running and able to reach the members?); nothing changed"
        }
        ZkError::ReconfigInProgress => "another reconfig is in progress: try again once it is done",
        ZkError::Unimplemented => "a standalone server cannot be reconfigured",
        ZkError::ConnectionLoss => {
            "connection lost: the reconfig may or may not have been applied (`config` shows \
             the outcome)"
        }
        _ => return None,
    })
}
