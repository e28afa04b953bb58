//! Walking a subtree (for `ls -R`, `deleteall`, `setAcl -R`): preorder, children sorted,
//! nodes that vanish during the walk skipped; only a missing root is an error.

use zk_client::{Client, Error as ZkError};

use super::join;
use crate::error::CliError;

/// A preorder walk that lists each node's children only when the walk moves past it, so a
/// caller printing as it goes shows every node it reached before a failure (as zkCli does).
pub struct Walk<'a> {
    zk: &'a Client,
    root: String,
    watch: bool,
    started: bool,
    pending: Option<String>,
    stack: Vec<String>,
}

impl<'a> Walk<'a> {
    /// A walk of `root`'s subtree; `watch` leaves a child watch (reported to the default
    /// watcher) on every node listed.
    pub fn new(zk: &'a Client, root: &str, watch: bool) -> Walk<'a> {
        Walk {
            zk,
            root: root.to_string(),
            watch,
            started: false,
            pending: None,
            stack: Vec::new(),
        }
    }

    /// The next node, parents before their children; `None` when done.
    pub async fn next(&mut self) -> Result<Option<String>, CliError> {
        if !self.started {
            self.started = true;
            // The root is listed before it is yielded: a missing root yields nothing.
            let root = self.root.clone();
            self.expand(&root).await?;
            return Ok(Some(root));
        }
        if let Some(p) = self.pending.take() {
            self.expand(&p).await?;
        }
        let next = self.stack.pop();
        self.pending.clone_from(&next);
        Ok(next)
    }

    async fn expand(&mut self, node: &str) -> Result<(), CliError> {
        let listed = if self.watch {
            self.zk.get_children_watch_default(node).await
        } else {
            self.zk.get_children(node).await
        };
        let mut children = match listed {
            Ok(c) => c,
            // Deleted by someone else since its parent was listed: not part of the tree now.
            Err(ZkError::NoNode) if node != self.root => return Ok(()),
            Err(e) => return Err(CliError::at(node)(e)),
        };
        children.sort();
        self.stack
            .extend(children.iter().rev().map(|c| join(node, c)));
        Ok(())
    }
}

/// `root` and every node under it, each parent before its children.
pub async fn preorder(zk: &Client, root: &str) -> Result<Vec<String>, CliError> {
    let mut walk = Walk::new(zk, root, false);
    let mut out = Vec::new();
    while let Some(p) = walk.next().await? {
        out.push(p);
    }
    Ok(out)
}
