//! Several real `zk-node` processes forming one ensemble on loopback: the shared test kit's,
//! with the waits and flags the membership tests share.

use std::path::Path;
use std::time::Duration;
use std::time::Instant;

pub use zk_testkit::zk_node::Ensemble as Cluster;
pub use zk_testkit::zk_node::Member;

/// How long a wait on an ensemble's processes may take (elections, catching up, a reconfig).
pub const CLUSTER_DEADLINE: Duration = Duration::from_secs(30);

/// Waits (bounded) until member `id`'s log contains `needle`.
pub fn wait_log(c: &Cluster, id: u64, needle: &str) {
    let deadline = Instant::now() + CLUSTER_DEADLINE;
    while !c.log_of(id).contains(needle) {
        assert!(
            Instant::now() < deadline,
            "member {id} never logged {needle:?}\n{}",
            c.logs()
        );
        std::thread::sleep(Duration::from_millis(20)); // polling another process's log
    }
}

/// Waits until member `id`'s `srvr` shows `mode` (None: it does not serve).
pub fn wait_mode(c: &Cluster, id: u64, mode: Option<&str>) {
    let deadline = Instant::now() + CLUSTER_DEADLINE;
    while c.mode(id).as_deref() != mode {
        assert!(
            Instant::now() < deadline,
            "member {id} never in mode {mode:?} (now {:?})\n{}",
            c.mode(id),
            c.logs()
        );
        std::thread::sleep(Duration::from_millis(20)); // polling another process
    }
}

/// The sslQuorum flags with `key_store` and the trust store `ca`.
pub fn tls_flags(key_store: &Path, ca: &Path) -> Vec<String> {
    vec![
        "--ssl-quorum".into(),
        "--ssl-quorum-keystore".into(),
        key_store.display().to_string(),
        "--ssl-quorum-truststore".into(),
        ca.display().to_string(),
    ]
}

/// Member `id`'s own flags from its next start on (see `Cluster::set_member_flags`).
pub fn set_flags(c: &mut Cluster, id: u64, flags: &[String]) {
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    c.set_member_flags(id, &flags);
}

/// What a joining node logs once its peer port is open and it waits to be added.
pub const JOINING: &str = "joining: not a member yet";

/// Starts member `id` (its id outside `--peers`: a joining node) and waits until it is up
/// and waiting to be added, as an operator waits before `reconfig -add` (ZooKeeper's leader
/// counts a joining server only once it is connected; so does zk-node's, after a short
/// wait for it to answer).
pub fn start_joining(c: &mut Cluster, id: u64) {
    c.start_member(id);
    wait_log(c, id, JOINING);
}
