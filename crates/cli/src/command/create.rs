//! `create [-s] [-e] [-c] [-t ttl] path [data] [acl]`: the mode from the flags with zkCli's
//! rules (-c alone, -t not with -e or -c, -t with -s is sequential-with-TTL).

use std::time::Duration;

use zk_client::{Acl, Client, CreateMode, CreateOptions};

use super::{acl_arg, between, flags, path, usage_error};
use crate::error::{CliError, ParseError};

/// `create`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Create {
    /// The node (with `-s`, the prefix of the name made).
    pub path: String,
    /// The data (empty if not given).
    pub data: String,
    /// The ACL (`world:anyone:cdrwa` if not given).
    pub acl: Vec<Acl>,
    /// From -s, -e, -c and -t.
    pub mode: CreateMode,
    /// `-t`: time-to-live for the TTL modes.
    pub ttl: Option<Duration>,
}

impl Create {
    /// Parses the arguments after `create`.
    pub fn parse(words: &[String]) -> Result<Create, ParseError> {
        let f = flags("create", words, "sec", "t")?;
        let (seq, eph, container) = (f.has('s'), f.has('e'), f.has('c'));
        let ttl = match f.value('t') {
            None => None,
            Some(t) => match t.parse::<u64>() {
                Ok(ms) if ms > 0 => Some(Duration::from_millis(ms)),
                _ => {
                    return Err(usage_error(
                        "create",
                        format!("-t needs a time-to-live in ms > 0, not {t:?}"),
                    ))
                }
            },
        };
        if container && (seq || eph) {
            return Err(usage_error(
                "create",
                "-c cannot be combined with -s or -e: containers cannot be ephemeral or sequential",
            ));
        }
        if ttl.is_some() && eph {
            return Err(usage_error(
                "create",
                "TTLs cannot be used with ephemeral nodes (-t with -e)",
            ));
        }
        if ttl.is_some() && container {
            return Err(usage_error(
                "create",
                "TTLs cannot be used with container nodes (-t with -c)",
            ));
        }
        let mode = match (seq, eph, container, ttl.is_some()) {
            (_, _, true, _) => CreateMode::Container,
            (true, _, _, true) => CreateMode::PersistentSequentialWithTtl,
            (false, _, _, true) => CreateMode::PersistentWithTtl,
            (true, true, _, _) => CreateMode::EphemeralSequential,
            (false, true, _, _) => CreateMode::Ephemeral,
            (true, false, _, _) => CreateMode::PersistentSequential,
            (false, false, _, _) => CreateMode::Persistent,
        };
        between("create", &f.args, 1, 3)?;
        let mut args = f.args.into_iter();
        let p = path("create", args.next().unwrap_or_default(), seq)?;
        let data = args.next().unwrap_or_default();
        let acl = match args.next() {
            Some(spec) => acl_arg("create", &spec)?,
            None => Acl::open_unsafe(),
        };
        Ok(Create {
            path: p,
            data,
            acl,
            mode,
            ttl,
        })
    }

    /// Creates and prints the name made.
    pub async fn run(&self, zk: &Client, out: &mut String) -> Result<(), CliError> {
        let mut opts = CreateOptions::new(self.mode).with_acl(self.acl.clone());
        if let Some(t) = self.ttl {
            opts = opts.with_ttl(t);
        }
        let (made, _) = zk
            .create(&self.path, self.data.as_bytes(), &opts)
            .await
            .map_err(CliError::at(&self.path))?;
        out.push_str(&format!("Created {made}\n"));
        Ok(())
    }
}
