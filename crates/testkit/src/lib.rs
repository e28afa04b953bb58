//! zk-testkit: the process-level test harnesses shared by every crate's tests. It owns
//! starting real servers (Apache ZooKeeper 3.8 from Debian's package, in [`zookeeper`]; the
//! workspace's own zk-node binary, found or built by [`zk_node`]) on their ports, waiting
//! until they serve, driving them (kill, restart, signals) and reporting their logs when a
//! test fails; each crate keeps only its thin glue.
//!
//! What it must never do:
//! - be a dependency of non-test code: it is a dev-dependency only (`publish = false`), and
//!   it panics with a message where a test should fail;
//! - sleep as synchronisation: every wait polls a condition (a port, a `srvr` mode, a
//!   process's exit) under a deadline, and a sleep is only the pause between two polls;
//! - leave processes behind: everything it starts is killed and reaped on Drop.

pub mod zk_node;
pub mod zookeeper;
