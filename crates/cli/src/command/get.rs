//! `get [-s] [-w] path`: the data as text (invalid UTF-8 replaced), `-s` adds the stat.

use zk_client::Client;

use super::{exact, flags, path};
use crate::error::{CliError, ParseError};
use crate::output;

/// `get`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Get {
    /// The node.
    pub path: String,
    /// `-s`: print the stat too.
    pub stat: bool,
    /// `-w`: leave a data watch.
    pub watch: bool,
}

impl Get {
    /// Parses the arguments after `get`.
    pub fn parse(words: &[String]) -> Result<Get, ParseError> {
        let f = flags("get", words, "sw", "")?;
        let (stat, watch) = (f.has('s'), f.has('w'));
        let [p] = exact::<1>("get", f.args)?;
        Ok(Get {
            path: path("get", p, false)?,
            stat,
            watch,
        })
    }

    /// Reads.
    pub async fn run(&self, zk: &Client, out: &mut String) -> Result<(), CliError> {
        let (data, stat) = if self.watch {
            zk.get_data_watch_default(&self.path).await
        } else {
            zk.get_data(&self.path).await
        }
        .map_err(CliError::at(&self.path))?;
        out.push_str(&String::from_utf8_lossy(&data));
        out.push('\n');
        if self.stat {
            out.push_str(&output::stat(&stat));
        }
        Ok(())
    }
}
