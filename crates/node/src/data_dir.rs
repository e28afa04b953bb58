//! The data directory is this member's alone: it holds the Raft log, the snapshots and the
//! cluster secret session passwords are derived from. It is created with mode 0700, and
//! zk-node's `main` sets a umask of 077 so nothing the process creates in it (sled's and the
//! log's files included, which this crate does not open itself) is readable by others.

use std::fs::DirBuilder;
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// The permission bits of a new data dir.
pub(crate) const MODE: u32 = 0o700;

/// Creates `dir` (and missing parents) with mode 0700. An existing dir keeps its mode (an
/// operator may have chosen it); if other users can enter it, that is logged.
pub(crate) fn create(dir: &Path) -> io::Result<()> {
    DirBuilder::new().recursive(true).mode(MODE).create(dir)?;
    let mode = std::fs::metadata(dir)?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        tracing::warn!(
            dir = %dir.display(),
            mode = format!("{mode:o}"),
            "the data dir is open to other users; `chmod 700` it (new data dirs are 0700)"
        );
    }
    Ok(())
}

/// Keeps every file and directory this process creates from group and others (umask 077).
/// Call first thing in `main`, before any thread starts.
pub fn restrict_umask() {
    // SAFETY: umask only swaps the process's file-creation mask; it cannot fail and touches
    // no memory of ours.
    unsafe {
        libc::umask(0o077);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_dir_and_its_parents_are_0700() {
        let base = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let dir = base.path().join("a/b");
        create(&dir).unwrap_or_else(|e| panic!("{e}"));
        for d in [base.path().join("a"), dir.clone()] {
            let mode = std::fs::metadata(&d)
                .unwrap_or_else(|e| panic!("{e}"))
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, MODE, "{}", d.display());
        }
        // Again on an existing dir: fine, and its mode is left as it is.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o750))
            .unwrap_or_else(|e| panic!("{e}"));
        create(&dir).unwrap_or_else(|e| panic!("{e}"));
        let mode = std::fs::metadata(&dir)
            .unwrap_or_else(|e| panic!("{e}"))
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o750);
    }
}
