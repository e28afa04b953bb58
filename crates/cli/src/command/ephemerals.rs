//! `getEphemerals [path]` and `getAllChildrenNumber path`.

use zk_client::Client;

use super::{between, exact, flags, path};
use crate::error::{CliError, ParseError};
use crate::output;

/// `getEphemerals`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetEphemerals {
    /// The prefix (default `/`: all of this session's ephemerals).
    pub path: String,
}

impl GetEphemerals {
    /// Parses the arguments after `getEphemerals`.
    pub fn parse(words: &[String]) -> Result<GetEphemerals, ParseError> {
        let f = flags("getEphemerals", words, "", "")?;
        between("getEphemerals", &f.args, 0, 1)?;
        let p = f.args.into_iter().next().unwrap_or_else(|| "/".into());
        Ok(GetEphemerals {
            path: path("getEphemerals", p, false)?,
        })
    }

    /// Lists them as `[/a, /b]`.
    pub async fn run(&self, zk: &Client, out: &mut String) -> Result<(), CliError> {
        let mut found = zk
            .get_ephemerals(&self.path)
            .await
            .map_err(CliError::at(&self.path))?;
        found.sort();
        out.push_str(&output::list(&found));
        Ok(())
    }
}

/// `getAllChildrenNumber`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetAllChildrenNumber {
    /// The node.
    pub path: String,
}

impl GetAllChildrenNumber {
    /// Parses the arguments after `getAllChildrenNumber`.
    pub fn parse(words: &[String]) -> Result<GetAllChildrenNumber, ParseError> {
        let f = flags("getAllChildrenNumber", words, "", "")?;
        let [p] = exact::<1>("getAllChildrenNumber", f.args)?;
        Ok(GetAllChildrenNumber {
            path: path("getAllChildrenNumber", p, false)?,
        })
    }

    /// Prints the count.
    pub async fn run(&self, zk: &Client, out: &mut String) -> Result<(), CliError> {
        let n = zk
            .get_all_children_number(&self.path)
            .await
            .map_err(CliError::at(&self.path))?;
        out.push_str(&format!("{n}\n"));
        Ok(())
    }
}
