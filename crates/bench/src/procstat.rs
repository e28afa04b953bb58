//! CPU time and RSS of processes from `/proc` (Linux): utime+stime of `/proc/PID/stat` and
//! VmRSS of `/proc/PID/status`. A process that is gone (or a system without `/proc`) reads as
//! `None` and is left out of the sums. Also the TCP sockets' states of `/proc/net/tcp{,6}`,
//! which `non-readers` reads to see a local server close a connection whose client does not
//! read (a FIN queued behind unsent replies never reaches such a client).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

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

/// `st` of an established socket in `/proc/net/tcp`.
pub const TCP_ESTABLISHED: u8 = 0x01;

/// Every TCP socket of this network namespace: (local, remote) to its state (`st`, e.g.
/// [`TCP_ESTABLISHED`]). IPv4-mapped IPv6 addresses (a JVM's sockets) read as IPv4. Empty
/// without `/proc`.
pub fn tcp_states() -> HashMap<(SocketAddr, SocketAddr), u8> {
    let mut out = HashMap::new();
    for file in ["/proc/net/tcp", "/proc/net/tcp6"] {
        if let Ok(text) = std::fs::read_to_string(file) {
            out.extend(parse_tcp_table(&text));
        }
    }
    out
}

/// The rows of a `/proc/net/tcp` or `/proc/net/tcp6` table; lines that do not parse are
/// skipped.
pub fn parse_tcp_table(text: &str) -> Vec<((SocketAddr, SocketAddr), u8)> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let mut f = line.split_whitespace().skip(1);
            let local = parse_tcp_addr(f.next()?)?;
            let remote = parse_tcp_addr(f.next()?)?;
            let st = u8::from_str_radix(f.next()?, 16).ok()?;
            Some(((local, remote), st))
        })
        .collect()
}

/// `0100007F:5983` (IPv4) or 32 hex digits and a port (IPv6): the kernel prints each 32-bit
/// word of the address as it lies in memory, so the word's native-endian bytes are the
/// address's bytes in network order.
fn parse_tcp_addr(s: &str) -> Option<SocketAddr> {
    let (addr, port) = s.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let word = |i: usize| -> Option<[u8; 4]> {
        let w = u32::from_str_radix(addr.get(i * 8..i * 8 + 8)?, 16).ok()?;
        Some(w.to_ne_bytes())
    };
    let ip = match addr.len() {
        8 => IpAddr::V4(Ipv4Addr::from(word(0)?)),
        32 => {
            let mut b = [0u8; 16];
            for i in 0..4 {
                b[i * 4..i * 4 + 4].copy_from_slice(&word(i)?);
            }
            let v6 = Ipv6Addr::from(b);
            match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => IpAddr::V6(v6),
            }
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_endian = "little")]
    fn tcp_tables_read_v4_and_v4_mapped_v6() {
        let v4 = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
                  0: 0100007F:5923 0100007F:A1B2 01 00000000:00000000 00:00000000 00000000  1000        0 1 1\n\
                  1: 0100007F:5923 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 2 1\n";
        let rows = parse_tcp_table(v4);
        let a = |s: &str| s.parse::<SocketAddr>().expect("addr");
        assert_eq!(
            rows[0],
            (
                (a("127.0.0.1:22819"), a("127.0.0.1:41394")),
                TCP_ESTABLISHED
            )
        );
        assert_eq!(rows[1].1, 0x0A, "listen");
        let v6 = "  sl  local_address                         remote_address                        st\n\
                  0: 0000000000000000FFFF00000100007F:5523 0000000000000000FFFF0000014D7F7F:9C40 04 0\n\
                  1: 00000000000000000000000001000000:0050 00000000000000000000000000000000:0000 0A 0\n";
        let rows = parse_tcp_table(v6);
        assert_eq!(
            rows[0],
            ((a("127.0.0.1:21795"), a("127.127.77.1:40000")), 0x04),
            "a JVM's v4-mapped socket reads as IPv4"
        );
        assert_eq!(rows[1].0 .0, a("[::1]:80"));
        assert!(parse_tcp_table("header\n0: garbage\n").is_empty());
    }

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
