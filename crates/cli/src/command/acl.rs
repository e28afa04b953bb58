//! `getAcl [-s] path` and `setAcl [-s] [-v version] [-R] path acl`.

use zk_client::{Acl, Client};

use super::{acl_arg, exact, flags, path, tree, version};
use crate::error::{CliError, ParseError};
use crate::output;

/// `getAcl`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetAcl {
    /// The node.
    pub path: String,
    /// `-s`: print the stat too.
    pub stat: bool,
}

impl GetAcl {
    /// Parses the arguments after `getAcl`.
    pub fn parse(words: &[String]) -> Result<GetAcl, ParseError> {
        let f = flags("getAcl", words, "s", "")?;
        let stat = f.has('s');
        let [p] = exact::<1>("getAcl", f.args)?;
        Ok(GetAcl {
            path: path("getAcl", p, false)?,
            stat,
        })
    }

    /// Reads the ACL.
    pub async fn run(&self, zk: &Client, out: &mut String) -> Result<(), CliError> {
        let (acl, stat) = zk
            .get_acl(&self.path)
            .await
            .map_err(CliError::at(&self.path))?;
        out.push_str(&output::acl(&acl));
        if self.stat {
            out.push_str(&output::stat(&stat));
        }
        Ok(())
    }
}

/// `setAcl`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetAcl {
    /// The node.
    pub path: String,
    /// The new ACL.
    pub acl: Vec<Acl>,
    /// `-v`: only if the ACL version is this (every node's, with -R, as in zkCli).
    pub version: Option<i32>,
    /// `-s`: print the node's new stat.
    pub stat: bool,
    /// `-R`: the nodes under it too.
    pub recursive: bool,
}

impl SetAcl {
    /// Parses the arguments after `setAcl`.
    pub fn parse(words: &[String]) -> Result<SetAcl, ParseError> {
        let f = flags("setAcl", words, "sR", "v")?;
        let version = version("setAcl", &f)?;
        let (stat, recursive) = (f.has('s'), f.has('R'));
        let [p, spec] = exact::<2>("setAcl", f.args)?;
        Ok(SetAcl {
            path: path("setAcl", p, false)?,
            acl: acl_arg("setAcl", &spec)?,
            version,
            stat,
            recursive,
        })
    }

    /// Replaces the ACL (of the whole subtree with -R, parents first).
    pub async fn run(&self, zk: &Client, out: &mut String) -> Result<(), CliError> {
        let nodes = if self.recursive {
            tree::preorder(zk, &self.path).await?
        } else {
            vec![self.path.clone()]
        };
        let mut first = None;
        for node in &nodes {
            let stat = zk
                .set_acl(node, &self.acl, self.version)
                .await
                .map_err(CliError::at(node))?;
            first.get_or_insert(stat);
        }
        if let (true, Some(stat)) = (self.stat, first) {
            out.push_str(&output::stat(&stat));
        }
        Ok(())
    }
}
