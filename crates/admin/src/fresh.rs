//! A new directory written whole or not at all: the target must be missing or empty; the
//! content is written into a temporary sibling (`.NAME.TAG-PID`), which is renamed into
//! place only once complete (and removed on failure), so no half-written directory is ever
//! presented under the target's name.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// A temporary sibling of `target` being filled.
#[derive(Debug)]
pub struct Staging {
    /// Where to write.
    pub tmp: PathBuf,
    target: PathBuf,
    parent: PathBuf,
}

/// Checks that `target` is missing or an empty directory, and makes its temporary sibling
/// (`tag` names the command in its name: `.NAME.TAG-PID`).
pub fn begin(target: &Path, tag: &str) -> Result<Staging> {
    if target.exists() {
        let empty = std::fs::read_dir(target)
            .with_context(|| {
                format!(
                    "{} exists and is not a readable directory",
                    target.display()
                )
            })?
            .next()
            .is_none();
        if !empty {
            bail!(
                "{} is not empty: {tag} writes only into a new (or empty) directory",
                target.display()
            );
        }
    }
    let parent = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).with_context(|| format!("creating {}", parent.display()))?;
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "data".into());
    let tmp = parent.join(format!(".{name}.{tag}-{}", std::process::id()));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).with_context(|| format!("removing {}", tmp.display()))?;
    }
    Ok(Staging {
        tmp,
        target: target.to_path_buf(),
        parent,
    })
}

impl Staging {
    /// Removes the temporary directory (after a failure).
    pub fn abandon(self) {
        let _ = std::fs::remove_dir_all(&self.tmp);
    }

    /// Renames the finished temporary directory to the target (replacing an empty one) and
    /// syncs the parent, so the rename is durable.
    pub fn commit(self) -> Result<()> {
        let target = self.target.clone();
        if target.exists() {
            if let Err(e) = std::fs::remove_dir(&target) {
                self.abandon();
                return Err(e).with_context(|| format!("replacing {}", target.display()));
            }
        }
        if let Err(e) = std::fs::rename(&self.tmp, &target) {
            let msg = format!("renaming {} to {}", self.tmp.display(), target.display());
            self.abandon();
            return Err(e).context(msg);
        }
        std::fs::File::open(&self.parent)
            .and_then(|d| d.sync_all())
            .with_context(|| format!("syncing {}", self.parent.display()))
    }
}

/// Writes `bytes` to `path` and syncs it.
pub fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut f =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("writing {}", path.display()))
}

/// Syncs a directory (its new entries durable).
pub fn sync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("syncing {}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_empty_refused_failure_leaves_nothing_commit_renames() {
        let scratch = tempfile::tempdir().unwrap();
        let full = scratch.path().join("full");
        std::fs::create_dir(&full).unwrap();
        std::fs::write(full.join("x"), b"x").unwrap();
        let e = begin(&full, "export").unwrap_err();
        assert!(e.to_string().contains("is not empty"), "{e}");

        let target = scratch.path().join("new");
        let s = begin(&target, "export").unwrap();
        std::fs::create_dir(&s.tmp).unwrap();
        std::fs::write(s.tmp.join("f"), b"half").unwrap();
        s.abandon();
        assert_eq!(std::fs::read_dir(scratch.path()).unwrap().count(), 1);

        std::fs::create_dir(&target).unwrap();
        let s = begin(&target, "export").unwrap();
        std::fs::create_dir(&s.tmp).unwrap();
        write_synced(&s.tmp.join("f"), b"whole").unwrap();
        s.commit().unwrap();
        assert_eq!(std::fs::read(target.join("f")).unwrap(), b"whole");
        assert_eq!(std::fs::read_dir(scratch.path()).unwrap().count(), 2);
    }
}
