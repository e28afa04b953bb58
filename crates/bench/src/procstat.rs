//! CPU time and RSS of processes from `/proc` (Linux): utime+stime of `/proc/PID/stat` and
//! VmRSS of `/proc/PID/status`. A process that is gone (or a system without `/proc`) reads as
//! `None` and is left out of the sums.

use serde::{Deserialize, Serialize};

/// CPU seconds of the watched servers and of this process at one instant.
#[derive(Debug, Clone, Default)]
pub struct CpuSnapshot {
    /// Per watched pid, in the order given.
    pub servers: Vec<(u32, Option<f64>)>,
    /// This process.
    pub me: Option<f64>,
}

/// CPU used between two snapshots.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CpuUsage {
    /// Seconds of CPU of the watched servers (those alive at both snapshots), summed.
    pub server_cpu_s: Option<f64>,
    /// Seconds of CPU of zk-bench itself.
    pub bench_cpu_s: Option<f64>,
}

impl CpuSnapshot {
    /// Reads now.
    pub fn take(pids: &[u32]) -> CpuSnapshot {
        CpuSnapshot {
            servers: pids.iter().map(|&p| (p, cpu_seconds(p))).collect(),
            me: cpu_seconds(std::process::id()),
        }
    }

    /// What was used from `self` to `later`.
    pub fn until(&self, later: &CpuSnapshot) -> CpuUsage {
        let mut sum = None::<f64>;
        for (pid, before) in &self.servers {
            let after = later
                .servers
                .iter()
                .find(|(p, _)| p == pid)
                .and_then(|(_, a)| *a);
            if let (Some(b), Some(a)) = (before, after) {
                *sum.get_or_insert(0.0) += (a - b).max(0.0);
            }
        }
        let bench = match (self.me, later.me) {
            (Some(b), Some(a)) => Some((a - b).max(0.0)),
            _ => None,
        };
        CpuUsage {
            server_cpu_s: sum,
            bench_cpu_s: bench,
        }
    }
}

/// Clock ticks per second for /proc times.
fn ticks_per_second() -> f64 {
    // SAFETY: sysconf has no preconditions; it returns -1 for an unknown name.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// utime+stime of `pid` in seconds.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat_ticks(&text).map(|t| t as f64 / ticks_per_second())
}

/// utime (field 14) + stime (field 15) in ticks from a `/proc/PID/stat` line; the command
/// name (field 2) is in parentheses and may hold spaces, so fields are counted after the last
/// `)`.
pub fn parse_stat_ticks(text: &str) -> Option<u64> {
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state): utime is field 14 → index 11, stime → 12.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// VmRSS of `pid` in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_vmrss_kib(&text)
}

/// The `VmRSS:` line of `/proc/PID/status`, in KiB.
pub fn parse_vmrss_kib(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_command_name() {
        let line = "1234 (java (x) y) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 40 0 \
                    100 1000 200 18446744073709551615";
        assert_eq!(parse_stat_ticks(line), Some(325));
        assert_eq!(parse_stat_ticks("garbage"), None);
    }

    #[test]
    fn vmrss_is_read_in_kib() {
        let status = "Name:\tzk-node\nVmPeak:\t  9000 kB\nVmRSS:\t   51234 kB\nThreads:\t9\n";
        assert_eq!(parse_vmrss_kib(status), Some(51234));
        assert_eq!(parse_vmrss_kib("Name: x\n"), None);
    }

    #[test]
    fn this_process_has_cpu_time_and_rss() {
        let me = std::process::id();
        assert!(cpu_seconds(me).is_some());
        assert!(rss_kib(me).unwrap_or(0) > 0);
        let a = CpuSnapshot::take(&[me, u32::MAX]);
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = x.wrapping_add(i * i);
        }
        assert!(x > 0);
        let b = CpuSnapshot::take(&[me, u32::MAX]);
        let u = a.until(&b);
        assert!(
            u.server_cpu_s.is_some(),
            "the live pid is summed, the dead one skipped"
        );
        assert!(u.bench_cpu_s.is_some());
    }
}
