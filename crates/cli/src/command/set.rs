//! `set [-s] [-v version] path data`: replaces the data (UTF-8 bytes of the argument).

use zk_client::Client;

use super::{exact, flags, path, version};
use crate::error::{CliError, ParseError};
use crate::output;

/// `set`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Set {
    /// The node.
    pub path: String,
    /// The new data.
    pub data: String,
    /// `-v`: only if the data version is this.
    pub version: Option<i32>,
    /// `-s`: print the new stat.
    pub stat: bool,
}

impl Set {
    /// Parses the arguments after `set`.
    pub fn parse(words: &[String]) -> Result<Set, ParseError> {
        let f = flags("set", words, "s", "v")?;
        let version = version("set", &f)?;
        let stat = f.has('s');
        let [p, data] = exact::<2>("set", f.args)?;
        Ok(Set {
            path: path("set", p, false)?,
            data,
            version,
            stat,
        })
    }

    /// Writes.
    pub async fn run(&self, zk: &Client, out: &mut String) -> Result<(), CliError> {
        let stat = zk
            .set_data(&self.path, self.data.as_bytes(), self.version)
            .await
            .map_err(CliError::at(&self.path))?;
        if self.stat {
            out.push_str(&output::stat(&stat));
        }
        Ok(())
    }
}
