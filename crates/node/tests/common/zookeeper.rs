//! Apache ZooKeeper 3.8 as a three-node ensemble with its AdminServer on, for comparing
//! answers, started by `zk_testkit::zookeeper` (zk-anchor.sh's client ports 21811-21813, the
//! admin servers on free loopback ports); this file is the node tests' glue: their skip
//! variable and options.

use zk_testkit::zookeeper::Options;
pub use zk_testkit::zookeeper::ZooKeeper;

/// The env var that skips the Apache ZooKeeper runs (with a printed message).
pub const SKIP_VAR: &str = "ZK_NODE_SKIP_ZOOKEEPER";

fn options() -> Options {
    Options::ensemble(SKIP_VAR).admin_server()
}

/// Whether to skip (only when asked to): a missing install is a failure.
pub fn skip() -> bool {
    options().skip()
}

/// Starts the ensemble and waits (bounded) for one leader, two followers and their admin
/// servers.
pub fn start3() -> ZooKeeper {
    options().start()
}
