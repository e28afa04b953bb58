//! The workspace's own zk-node as real processes: the binary ([`binary`]), one process
//! ([`Process`]), a node on its own ([`Single`]) and an ensemble ([`Ensemble`], its peer
//! links optionally through [`LinkProxy`]s). Every node gets free loopback ports (client,
//! peer, admin: parallel tests never share one), `--tick-ms 200` so sessions expire fast,
//! and its stderr in a log file that failure messages quote.
//!
//! [`LinkProxy`]: crate::proxy::LinkProxy

mod binary;
mod ensemble;
mod process;
mod single;

use std::net::SocketAddr;
use std::time::Duration;

pub use binary::binary;
pub use binary::profile_dir;
pub use ensemble::Ensemble;
pub use ensemble::Member;
pub use process::Process;
pub use single::Single;

/// How long any single wait of the kit (a node starting, a leader, an exit) may take.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// The tick every node of the kit runs with (sessions of 2 to 20 ticks).
pub const TICK_MS: u64 = 200;

/// The log filter every node of the kit runs with (`--log-level`; a test's own flag, after
/// it, wins).
const LOG_LEVEL: &str = "info,openraft=warn,zk_node=debug";

/// The command line: each default flag with its value, unless `extra` gives that flag itself
/// (zk-node refuses a flag given twice), then `extra`.
fn command_line(defaults: &[(&str, String)], extra: &[String]) -> Vec<String> {
    let mut args = Vec::with_capacity(defaults.len() * 2 + extra.len());
    for (flag, value) in defaults {
        if !extra.iter().any(|e| e == flag) {
            args.push((*flag).to_string());
            args.push(value.clone());
        }
    }
    args.extend(extra.iter().cloned());
    args
}

/// A free port on 127.0.0.1.
fn free_loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], zk_chaos::ports::free_port()))
}

/// The `Mode:` line of `srvr` at `addr` (None if nothing answers, or it does not serve).
pub fn mode(addr: impl std::net::ToSocketAddrs) -> Option<String> {
    crate::four_letter(addr, "srvr")?
        .lines()
        .find_map(|l| l.strip_prefix("Mode: "))
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_flag_the_test_gives_replaces_the_default() {
        let defaults = [
            ("--tick-ms", "200".to_string()),
            ("--log-level", "info".to_string()),
        ];
        let extra = ["--log-level".to_string(), "warn".to_string()];
        assert_eq!(
            super::command_line(&defaults, &extra),
            ["--tick-ms", "200", "--log-level", "warn"]
        );
    }
}
