//! A standalone Apache ZooKeeper 3.8 on a free loopback port, TTL nodes enabled, started by
//! `zk_testkit::zookeeper`; this file is the cli tests' glue: their skip variable and
//! options.

use zk_testkit::zookeeper::Options;
pub use zk_testkit::zookeeper::ZooKeeper;

/// The env var that skips the Apache ZooKeeper runs (with a printed message).
pub const SKIP_VAR: &str = "ZK_CLIENT_SKIP_ZOOKEEPER";

fn options() -> Options {
    Options::standalone(SKIP_VAR).extended_types()
}

/// Whether to skip (only when asked to): a missing install is a failure.
pub fn skip() -> bool {
    options().skip()
}

/// Starts it and waits until it serves.
pub fn start() -> ZooKeeper {
    options().start()
}
