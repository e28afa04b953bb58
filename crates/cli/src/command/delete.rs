//! `delete [-v version] path` and `deleteall path` (the subtree, deepest nodes first).

use zk_client::{Client, Error as ZkError};

use super::{exact, flags, path, tree, version};
use crate::error::{CliError, ParseError};

/// `delete`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delete {
    /// The node.
    pub path: String,
    /// `-v`: only if the data version is this.
    pub version: Option<i32>,
}

impl Delete {
    /// Parses the arguments after `delete`.
    pub fn parse(words: &[String]) -> Result<Delete, ParseError> {
        let f = flags("delete", words, "", "v")?;
        let version = version("delete", &f)?;
        let [p] = exact::<1>("delete", f.args)?;
        Ok(Delete {
            path: path("delete", p, false)?,
            version,
        })
    }

    /// Deletes.
    pub async fn run(&self, zk: &Client) -> Result<(), CliError> {
        zk.delete(&self.path, self.version)
            .await
            .map_err(CliError::at(&self.path))
    }
}

/// `deleteall`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteAll {
    /// The root of the subtree.
    pub path: String,
}

impl DeleteAll {
    /// Parses the arguments after `deleteall`.
    pub fn parse(words: &[String]) -> Result<DeleteAll, ParseError> {
        let f = flags("deleteall", words, "", "")?;
        let [p] = exact::<1>("deleteall", f.args)?;
        Ok(DeleteAll {
            path: path("deleteall", p, false)?,
        })
    }

    /// Deletes every node of the subtree, each after all of its descendants. Not atomic: a
    /// node created meanwhile under one being deleted makes it NotEmpty (and stops here).
    pub async fn run(&self, zk: &Client) -> Result<(), CliError> {
        let nodes = tree::preorder(zk, &self.path).await?;
        for node in nodes.iter().rev() {
            match zk.delete(node, None).await {
                Ok(()) => {}
                // Someone else deleted it first: the goal holds.
                Err(ZkError::NoNode) if node != &self.path => {}
                Err(e) => return Err(CliError::at(node)(e)),
            }
        }
        Ok(())
    }
}
