//! Apache ZooKeeper 3.8 as a three-node ensemble with zk-anchor.sh's settings, started by
//! `zk_testkit::zookeeper` (client ports 21811-21813, tickTime 2000 or another tick for
//! cases that need short sessions); this file is the client suite's glue: its skip variable
//! and the [`Servers`] the S-line cases drive.

use std::time::Duration;

use zk_testkit::zookeeper::Options;
pub use zk_testkit::zookeeper::ZooKeeper;

use super::Servers;

/// The env var that skips the Apache ZooKeeper runs (with a printed message).
pub const SKIP_VAR: &str = "ZK_CLIENT_SKIP_ZOOKEEPER";

fn options() -> Options {
    Options::ensemble(SKIP_VAR)
}

/// Whether the tests must be skipped (only when asked to): a missing install is a failure.
pub fn skip() -> bool {
    options().skip()
}

/// Starts the ensemble (tickTime 2000) and waits for a leader.
pub fn start3() -> ZooKeeper {
    options().start()
}

/// Starts the ensemble with this tickTime and waits for a leader.
pub fn start3_with_tick(tick_ms: u64) -> ZooKeeper {
    options().tick_ms(tick_ms).start()
}

impl Servers for ZooKeeper {
    fn name(&self) -> &'static str {
        "zookeeper"
    }

    fn addrs(&self) -> Vec<String> {
        ZooKeeper::addrs(self)
    }

    fn leader(&self) -> usize {
        ZooKeeper::leader(self)
    }

    fn kill(&mut self, i: usize) {
        ZooKeeper::kill(self, i);
    }

    fn restart(&mut self, i: usize) {
        ZooKeeper::restart(self, i);
    }

    fn start_member(&mut self, i: usize) {
        ZooKeeper::start_member(self, i);
    }

    fn await_ready(&mut self) {
        ZooKeeper::await_ready(self);
    }

    fn send_signal(&self, i: usize, sig: &str) {
        self.signal(i, sig);
    }

    fn wait_exit(&mut self, i: usize, bound: Duration) -> bool {
        ZooKeeper::wait_exit(self, i, bound)
    }

    /// No: measured here (`judged_cases_against_apache_zookeeper_3_8` with this always
    /// true), ZooKeeper 3.8 expires every session whose timeout passed while its leader and
    /// a follower were stopped, the moment they run again: its session tracker judges by the
    /// clock as soon as the leader's thread runs, and the follower that woke with it makes
    /// the quorum that commits the closes.
    fn keeps_sessions_through_a_leader_pause(&self) -> bool {
        false
    }

    fn min_timeout(&self) -> Duration {
        Duration::from_millis(2 * self.tick_ms())
    }

    fn max_timeout(&self) -> Duration {
        Duration::from_millis(20 * self.tick_ms())
    }

    fn test_timeout(&self) -> Duration {
        Duration::from_millis((2 * self.tick_ms()).max(2000))
    }
}
