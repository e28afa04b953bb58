//! The real `zk-node` binary for process-level tests: the one in this test's own target dir
//! (`<target>/<profile>/zk-node`, next to `deps/` where the test executable is), built there
//! on first use. Tests of the node crate itself have `CARGO_BIN_EXE_zk-node` instead; other
//! crates' tests cannot, and a binary from another target dir would be another build.

use std::path::PathBuf;
use std::process::Command;

/// `<target>/<profile>` of the running test executable (`<target>/<profile>/deps/<test>`).
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent()
        .and_then(|d| d.parent())
        .expect("the test executable is in <target>/<profile>/deps")
        .to_path_buf()
}

/// The zk-node binary next to this test's (`<target>/<profile>/zk-node`), built on first use
/// into the same target dir and profile.
pub fn binary() -> PathBuf {
    let profile_dir = profile_dir();
    let bin = profile_dir.join("zk-node");
    if !bin.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "-p", "zk-node", "--bin", "zk-node"]);
        if profile_dir.ends_with("release") {
            cmd.arg("--release");
        }
        if let Some(target) = profile_dir.parent() {
            cmd.env("CARGO_TARGET_DIR", target);
        }
        let ok = cmd.status().is_ok_and(|s| s.success());
        assert!(
            ok && bin.exists(),
            "could not build zk-node at {}",
            bin.display()
        );
    }
    bin
}
