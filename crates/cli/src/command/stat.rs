//! `stat [-w] path`: the stat lines; `-w` leaves an exists watch.

use zk_client::{Client, Error as ZkError};

use super::{exact, flags, path};
use crate::error::{CliError, ParseError};
use crate::output;

/// `stat`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatCmd {
    /// The node.
    pub path: String,
    /// `-w`: leave a watch.
    pub watch: bool,
}

impl StatCmd {
    /// Parses the arguments after `stat`.
    pub fn parse(words: &[String]) -> Result<StatCmd, ParseError> {
        let f = flags("stat", words, "w", "")?;
        let watch = f.has('w');
        let [p] = exact::<1>("stat", f.args)?;
        Ok(StatCmd {
            path: path("stat", p, false)?,
            watch,
        })
    }

    /// Reads the stat. A missing node is NoNode, as in zkCli (with `-w` the watch stays
    /// and fires when the node is created).
    pub async fn run(&self, zk: &Client, out: &mut String) -> Result<(), CliError> {
        let found = if self.watch {
            zk.exists_watch_default(&self.path).await
        } else {
            zk.exists(&self.path).await
        }
        .map_err(CliError::at(&self.path))?;
        let stat = found.ok_or_else(|| CliError::at(&self.path)(ZkError::NoNode))?;
        out.push_str(&output::stat(&stat));
        Ok(())
    }
}
