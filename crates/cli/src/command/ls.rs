//! `ls [-s] [-w] [-R] path`: children as `[a, b]` (sorted), `-s` adds the stat, `-R` prints
//! every path of the subtree instead (zkCli ignores -s then, and so does this).

use zk_client::Client;

use super::{exact, flags, path, tree};
use crate::error::{CliError, ParseError};
use crate::output;

/// `ls`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ls {
    /// The node.
    pub path: String,
    /// `-s`: print the stat too.
    pub stat: bool,
    /// `-w`: leave a child watch.
    pub watch: bool,
    /// `-R`: the whole subtree.
    pub recursive: bool,
}

impl Ls {
    /// Parses the arguments after `ls`.
    pub fn parse(words: &[String]) -> Result<Ls, ParseError> {
        let f = flags("ls", words, "swR", "")?;
        let (stat, watch, recursive) = (f.has('s'), f.has('w'), f.has('R'));
        let [p] = exact::<1>("ls", f.args)?;
        Ok(Ls {
            path: path("ls", p, false)?,
            stat,
            watch,
            recursive,
        })
    }

    /// Lists.
    pub async fn run(&self, zk: &Client, out: &mut String) -> Result<(), CliError> {
        if self.recursive {
            let mut walk = tree::Walk::new(zk, &self.path, self.watch);
            while let Some(p) = walk.next().await? {
                out.push_str(&p);
                out.push('\n');
            }
            return Ok(());
        }
        let at = CliError::at(&self.path);
        let (mut children, stat) = match (self.stat, self.watch) {
            (true, true) => zk.get_children_with_stat_watch_default(&self.path).await,
            (true, false) => zk.get_children_with_stat(&self.path).await,
            (false, true) => zk
                .get_children_watch_default(&self.path)
                .await
                .map(|c| (c, Default::default())),
            (false, false) => zk
                .get_children(&self.path)
                .await
                .map(|c| (c, Default::default())),
        }
        .map_err(at)?;
        children.sort();
        out.push_str(&output::list(&children));
        if self.stat {
            out.push_str(&output::stat(&stat));
        }
        Ok(())
    }
}
