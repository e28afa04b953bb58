//! `sync path`: waits until the connected server has caught up with the leader.

use zk_client::Client;

use super::{exact, flags, path};
use crate::error::{CliError, ParseError};

/// `sync`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sync {
    /// The node (servers do not require it to exist).
    pub path: String,
}

impl Sync {
    /// Parses the arguments after `sync`.
    pub fn parse(words: &[String]) -> Result<Sync, ParseError> {
        let f = flags("sync", words, "", "")?;
        let [p] = exact::<1>("sync", f.args)?;
        Ok(Sync {
            path: path("sync", p, false)?,
        })
    }

    /// Syncs and says so, as zkCli does.
    pub async fn run(&self, zk: &Client, out: &mut String) -> Result<(), CliError> {
        zk.sync(&self.path)
            .await
            .map_err(CliError::at(&self.path))?;
        out.push_str("Sync is OK\n");
        Ok(())
    }
}
