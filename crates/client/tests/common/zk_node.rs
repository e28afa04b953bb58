//! Real `zk-node` processes (one node, or a three-node ensemble) behind [`Servers`]: the
//! shared test kit's ensemble (`zk_testkit::zk_node`, `--tick-ms 200` so sessions expire
//! quickly), killed on drop.

use std::time::{Duration, Instant};

use zk_testkit::zk_node::{Ensemble, TICK_MS};

use super::{four_letter, mode, Servers, DEADLINE};

/// One zk-node (an ensemble of one), or three forming an ensemble.
pub struct ZkNodes {
    e: Ensemble,
}

impl ZkNodes {
    /// A one-node ensemble.
    pub fn single() -> ZkNodes {
        ZkNodes::start(1)
    }

    /// A three-node ensemble with a leader.
    pub fn ensemble() -> ZkNodes {
        ZkNodes::start(3)
    }

    fn start(n: u64) -> ZkNodes {
        let mut e = Ensemble::new(n, &["--log-level", "info,openraft=warn"]);
        for id in 1..=n {
            e.start_member(id);
        }
        e.wait_leader();
        ZkNodes { e }
    }

    /// The tail of every member's log.
    pub fn logs(&self) -> String {
        self.e.logs()
    }
}

/// Member index `i`'s id.
fn id(i: usize) -> u64 {
    i as u64 + 1
}

impl Servers for ZkNodes {
    fn name(&self) -> &'static str {
        "zk-node"
    }

    fn addrs(&self) -> Vec<String> {
        self.e
            .members
            .iter()
            .map(|m| m.client.to_string())
            .collect()
    }

    /// The first running member that says it leads (others may be stopped or paused).
    fn leader(&self) -> usize {
        let deadline = Instant::now() + DEADLINE;
        loop {
            for (i, m) in self.e.members.iter().enumerate() {
                if m.running()
                    && matches!(
                        mode(&m.client.to_string()).as_deref(),
                        Some("leader") | Some("standalone")
                    )
                {
                    return i;
                }
            }
            assert!(Instant::now() < deadline, "no leader\n{}", self.logs());
            std::thread::sleep(Duration::from_millis(50)); // polling processes
        }
    }

    fn kill(&mut self, i: usize) {
        self.e.kill9(id(i));
    }

    fn restart(&mut self, i: usize) {
        if !self.e.members[i].running() {
            self.e.start_member(id(i));
        }
        self.e.wait_leader();
        let _ = four_letter(self.e.members[i].client, "ruok");
    }

    fn start_member(&mut self, i: usize) {
        if !self.e.members[i].running() {
            self.e.start_member(id(i));
        }
    }

    fn await_ready(&mut self) {
        self.e.wait_leader();
    }

    fn send_signal(&self, i: usize, sig: &str) {
        let _ = self.e.try_signal(id(i), sig);
    }

    fn wait_exit(&mut self, i: usize, bound: Duration) -> bool {
        !self.e.members[i].running() || self.e.wait_exit_within(id(i), bound).is_some()
    }

    fn min_timeout(&self) -> Duration {
        Duration::from_millis(2 * TICK_MS)
    }

    fn max_timeout(&self) -> Duration {
        Duration::from_millis(20 * TICK_MS)
    }

    fn test_timeout(&self) -> Duration {
        Duration::from_millis(2000)
    }
}
