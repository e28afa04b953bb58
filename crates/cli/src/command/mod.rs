//! The commands: a line (or argv) becomes a typed [`Command`] by pure parsing, and a
//! [`ZkCommand`] runs against a [`Client`], writing its zkCli-style output into a `String`
//! so callers print it in one piece (watch events never land in the middle of it).

mod acl;
mod auth;
mod create;
mod delete;
mod ephemerals;
mod get;
mod ls;
mod reconfig;
mod set;
mod stat;
mod sync;
mod tree;

use zk_client::{validate_path, Client};

use crate::error::{CliError, ParseError};
use crate::flags::Flags;
use crate::words;

pub use self::acl::{GetAcl, SetAcl};
pub use self::auth::{AddAuth, WhoAmI};
pub use self::create::Create;
pub use self::delete::{Delete, DeleteAll};
pub use self::ephemerals::{GetAllChildrenNumber, GetEphemerals};
pub use self::get::Get;
pub use self::ls::Ls;
pub(crate) use self::reconfig::refusal as reconfig_refusal;
pub use self::reconfig::{dynamic_config_members, Members, Reconfig};
pub use self::set::Set;
pub use self::stat::StatCmd;
pub use self::sync::Sync;

/// One command's name, synopsis and explanation (for usage errors, `help` and `--help`).
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    /// The word that starts the command.
    pub name: &'static str,
    /// zkCli's synopsis line.
    pub usage: &'static str,
    /// What it does and what its flags mean.
    pub about: &'static str,
}

/// Every command, in zkCli's (alphabetical) order.
pub const SPECS: &[Spec] = &[
    Spec {
        name: "addauth",
        usage: "addauth scheme auth",
        about: "add an identity to the session, e.g. `addauth digest user:password`",
    },
    Spec {
        name: "close",
        usage: "close",
        about: "close the session (its ephemeral nodes go); shell only",
    },
    Spec {
        name: "config",
        usage: "config [-s] [-w]",
        about: "print the ensemble's membership (/zookeeper/config, ZooKeeper's format); -s \
                also its stat, -w leave a watch on it",
    },
    Spec {
        name: "connect",
        usage: "connect [host:port[,host:port...][/chroot]]",
        about: "close the session and open a new one to these servers (default: the same \
                ones); shell only",
    },
    Spec {
        name: "create",
        usage: "create [-s] [-e] [-c] [-t ttl] path [data] [acl]",
        about: "create a node; -s sequential (prints the name made), -e ephemeral, \
                -c container, -t ttl persistent with a time-to-live in ms (with -s: \
                sequential with ttl); acl is scheme:id:perms[,...] (default world:anyone:cdrwa)",
    },
    Spec {
        name: "delete",
        usage: "delete [-v version] path",
        about: "delete a node without children; -v only if its data version is this",
    },
    Spec {
        name: "deleteall",
        usage: "deleteall path",
        about: "delete a node and everything under it, deepest nodes first",
    },
    Spec {
        name: "get",
        usage: "get [-s] [-w] path",
        about: "print a node's data; -s also its stat, -w leave a data watch",
    },
    Spec {
        name: "getAcl",
        usage: "getAcl [-s] path",
        about: "print a node's ACL; -s also its stat",
    },
    Spec {
        name: "getAllChildrenNumber",
        usage: "getAllChildrenNumber path",
        about: "print how many nodes are under a node (all levels)",
    },
    Spec {
        name: "getEphemerals",
        usage: "getEphemerals [path]",
        about: "list this session's ephemeral nodes under path (default /)",
    },
    Spec {
        name: "help",
        usage: "help",
        about: "list the commands",
    },
    Spec {
        name: "history",
        usage: "history",
        about: "list the last 10 commands of this shell session, numbered; shell only",
    },
    Spec {
        name: "ls",
        usage: "ls [-s] [-w] [-R] path",
        about: "list a node's children; -s also its stat, -w leave a child watch, \
                -R every node under it, one path per line",
    },
    Spec {
        name: "quit",
        usage: "quit",
        about: "close the session and leave",
    },
    Spec {
        name: "reconfig",
        usage: "reconfig [-s] [-v version] [-file path | -members servers] [-add servers] \
                [-remove ids]",
        about: "change the ensemble's membership (as the superuser, on a server with reconfig \
                enabled) and print the committed configuration: -add servers (server.N=host:\
                peerPort:electionPort[:participant];[clientHost:]clientPort, comma-separated), \
                -remove ids, or the whole new membership with -members or a dynamic config \
                -file; -v only if the config's version (hex, as `config` prints it) is this, \
                -s also print its stat",
    },
    Spec {
        name: "set",
        usage: "set [-s] [-v version] path data",
        about: "set a node's data; -s print the new stat, -v only if its data version is this",
    },
    Spec {
        name: "setAcl",
        usage: "setAcl [-s] [-v version] [-R] path acl",
        about: "replace a node's ACL; -s print the new stat, -v only if its ACL version is \
                this, -R the nodes under it too",
    },
    Spec {
        name: "stat",
        usage: "stat [-w] path",
        about: "print a node's stat; -w leave a watch (fires on change or delete)",
    },
    Spec {
        name: "sync",
        usage: "sync path",
        about: "wait until the connected server has caught up with the leader",
    },
    Spec {
        name: "whoami",
        usage: "whoami",
        about: "print the identities of this session",
    },
];

/// The synopsis of command `name`.
pub fn usage(name: &str) -> Option<&'static str> {
    SPECS.iter().find(|s| s.name == name).map(|s| s.usage)
}

/// zkCli's command list, one synopsis per line.
pub fn usage_list() -> String {
    SPECS.iter().map(|s| format!("\t{}\n", s.usage)).collect()
}

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// A command sent to ZooKeeper.
    Zk(ZkCommand),
    /// A command about the shell or its session.
    Local(LocalCommand),
}

/// Commands that talk to ZooKeeper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZkCommand {
    /// `ls`
    Ls(Ls),
    /// `get`
    Get(Get),
    /// `set`
    Set(Set),
    /// `create`
    Create(Create),
    /// `delete`
    Delete(Delete),
    /// `deleteall`
    DeleteAll(DeleteAll),
    /// `stat`
    Stat(StatCmd),
    /// `sync`
    Sync(Sync),
    /// `addauth`
    AddAuth(AddAuth),
    /// `whoami`
    WhoAmI(WhoAmI),
    /// `getAcl`
    GetAcl(GetAcl),
    /// `setAcl`
    SetAcl(SetAcl),
    /// `getEphemerals`
    GetEphemerals(GetEphemerals),
    /// `getAllChildrenNumber`
    GetAllChildrenNumber(GetAllChildrenNumber),
    /// `reconfig`
    Reconfig(Reconfig),
}

/// Commands the shell handles itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalCommand {
    /// `connect [host:port[/chroot]]` (`None`: the current servers again)
    Connect(Option<String>),
    /// `close`
    Close,
    /// `history`
    History,
    /// `help`
    Help,
    /// `quit`
    Quit,
}

impl Command {
    /// Parses a shell line; `None` for a blank one.
    pub fn parse_line(line: &str) -> Result<Option<Command>, ParseError> {
        let words = words::split(line)?;
        if words.is_empty() {
            return Ok(None);
        }
        Command::parse(&words).map(Some)
    }

    /// Parses words (a command name first), e.g. one-shot mode's arguments.
    pub fn parse(words: &[String]) -> Result<Command, ParseError> {
        let Some((name, rest)) = words.split_first() else {
            return Err(ParseError::UnknownCommand(String::new()));
        };
        let zk = |c: ZkCommand| Ok(Command::Zk(c));
        match name.as_str() {
            "ls" => zk(ZkCommand::Ls(Ls::parse(rest)?)),
            "get" => zk(ZkCommand::Get(Get::parse(rest)?)),
            "set" => zk(ZkCommand::Set(Set::parse(rest)?)),
            "create" => zk(ZkCommand::Create(Create::parse(rest)?)),
            "delete" => zk(ZkCommand::Delete(Delete::parse(rest)?)),
            "deleteall" => zk(ZkCommand::DeleteAll(DeleteAll::parse(rest)?)),
            "stat" => zk(ZkCommand::Stat(StatCmd::parse(rest)?)),
            "sync" => zk(ZkCommand::Sync(Sync::parse(rest)?)),
            // zkCli's `config` is getData of /zookeeper/config, printed as `get` prints.
            "config" => {
                let f = flags("config", rest, "sw", "")?;
                let (stat, watch) = (f.has('s'), f.has('w'));
                exact::<0>("config", f.args)?;
                zk(ZkCommand::Get(Get {
                    path: "/zookeeper/config".into(),
                    stat,
                    watch,
                }))
            }
            "reconfig" => zk(ZkCommand::Reconfig(Reconfig::parse(rest)?)),
            "addauth" => zk(ZkCommand::AddAuth(AddAuth::parse(rest)?)),
            "whoami" => zk(ZkCommand::WhoAmI(WhoAmI::parse(rest)?)),
            "getAcl" => zk(ZkCommand::GetAcl(GetAcl::parse(rest)?)),
            "setAcl" => zk(ZkCommand::SetAcl(SetAcl::parse(rest)?)),
            "getEphemerals" => zk(ZkCommand::GetEphemerals(GetEphemerals::parse(rest)?)),
            "getAllChildrenNumber" => zk(ZkCommand::GetAllChildrenNumber(
                GetAllChildrenNumber::parse(rest)?,
            )),
            "connect" => {
                let f = flags("connect", rest, "", "")?;
                between("connect", &f.args, 0, 1)?;
                let server = f.args.into_iter().next();
                Ok(Command::Local(LocalCommand::Connect(server)))
            }
            "close" => no_args("close", rest, LocalCommand::Close),
            "history" => no_args("history", rest, LocalCommand::History),
            "help" => no_args("help", rest, LocalCommand::Help),
            "quit" | "exit" => no_args("quit", rest, LocalCommand::Quit),
            other => Err(ParseError::UnknownCommand(other.to_string())),
        }
    }
}

impl ZkCommand {
    /// Whether the command leaves a watch (then one-shot mode waits for its event).
    pub fn sets_watch(&self) -> bool {
        match self {
            ZkCommand::Ls(c) => c.watch,
            ZkCommand::Get(c) => c.watch,
            ZkCommand::Stat(c) => c.watch,
            _ => false,
        }
    }

    /// Runs the command, appending its output to `out`.
    pub async fn run(&self, zk: &Client, out: &mut String) -> Result<(), CliError> {
        match self {
            ZkCommand::Ls(c) => c.run(zk, out).await,
            ZkCommand::Get(c) => c.run(zk, out).await,
            ZkCommand::Set(c) => c.run(zk, out).await,
            ZkCommand::Create(c) => c.run(zk, out).await,
            ZkCommand::Delete(c) => c.run(zk).await,
            ZkCommand::DeleteAll(c) => c.run(zk).await,
            ZkCommand::Stat(c) => c.run(zk, out).await,
            ZkCommand::Sync(c) => c.run(zk, out).await,
            ZkCommand::AddAuth(c) => c.run(zk).await,
            ZkCommand::WhoAmI(c) => c.run(zk, out).await,
            ZkCommand::GetAcl(c) => c.run(zk, out).await,
            ZkCommand::SetAcl(c) => c.run(zk, out).await,
            ZkCommand::GetEphemerals(c) => c.run(zk, out).await,
            ZkCommand::GetAllChildrenNumber(c) => c.run(zk, out).await,
            ZkCommand::Reconfig(c) => c.run(zk, out).await,
        }
    }
}

fn no_args(command: &'static str, rest: &[String], c: LocalCommand) -> Result<Command, ParseError> {
    let f = flags(command, rest, "", "")?;
    exact::<0>(command, f.args)?;
    Ok(Command::Local(c))
}

/// A usage error of `command`.
pub(crate) fn usage_error(command: &'static str, reason: impl Into<String>) -> ParseError {
    ParseError::Usage {
        command,
        reason: reason.into(),
    }
}

/// The flags of `command`'s arguments.
pub(crate) fn flags(
    command: &'static str,
    words: &[String],
    switches: &str,
    valued: &str,
) -> Result<Flags, ParseError> {
    Flags::parse(words, switches, valued).map_err(|r| usage_error(command, r))
}

/// Exactly `N` plain arguments.
pub(crate) fn exact<const N: usize>(
    command: &'static str,
    args: Vec<String>,
) -> Result<[String; N], ParseError> {
    let n = args.len();
    args.try_into()
        .map_err(|_| usage_error(command, arg_count(N, N, n)))
}

/// Between `min` and `max` plain arguments.
pub(crate) fn between(
    command: &'static str,
    args: &[String],
    min: usize,
    max: usize,
) -> Result<(), ParseError> {
    if (min..=max).contains(&args.len()) {
        Ok(())
    } else {
        Err(usage_error(command, arg_count(min, max, args.len())))
    }
}

fn arg_count(min: usize, max: usize, got: usize) -> String {
    let want = match (min, max) {
        (0, 0) => "no arguments".to_string(),
        (a, b) if a == b => format!("{a} argument{}", if a == 1 { "" } else { "s" }),
        (a, b) => format!("{a} to {b} arguments"),
    };
    if got < min {
        format!("missing arguments: takes {want}, got {got}")
    } else {
        format!("too many arguments: takes {want}, got {got}")
    }
}

/// A node path checked with ZooKeeper's rules (`sequential`: may end in `/`).
pub(crate) fn path(
    command: &'static str,
    p: String,
    sequential: bool,
) -> Result<String, ParseError> {
    match validate_path(&p, sequential) {
        Ok(()) => Ok(p),
        Err(zk_client::Error::BadArguments(reason)) => Err(ParseError::BadPath { command, reason }),
        Err(e) => Err(ParseError::BadPath {
            command,
            reason: e.to_string(),
        }),
    }
}

/// The `-v version` flag: a 32-bit integer (-1 means any version, as in ZooKeeper).
pub(crate) fn version(command: &'static str, f: &Flags) -> Result<Option<i32>, ParseError> {
    match f.value('v') {
        None => Ok(None),
        Some(v) => v.parse::<i32>().map(Some).map_err(|_| {
            usage_error(
                command,
                format!("version must be a 32-bit integer, not {v:?}"),
            )
        }),
    }
}

/// An ACL argument.
pub(crate) fn acl_arg(
    command: &'static str,
    spec: &str,
) -> Result<Vec<zk_client::Acl>, ParseError> {
    crate::acl::parse(spec).map_err(|reason| ParseError::InvalidAcl { command, reason })
}

/// `child` under `parent` (which may be `/`).
pub(crate) fn join(parent: &str, child: &str) -> String {
    if parent == "/" {
        format!("/{child}")
    } else {
        format!("{parent}/{child}")
    }
}

#[cfg(test)]
mod tests;
