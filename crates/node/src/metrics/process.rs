//! The process's CPU time, memory and start time from `/proc` (Linux), for the `process_*`
//! metrics Prometheus clients export; each is `None` where it cannot be read.

/// What `/proc/self` says.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Process {
    /// User plus system CPU time, seconds.
    pub cpu_seconds: Option<f64>,
    /// Resident memory, bytes.
    pub resident_bytes: Option<u64>,
    /// Virtual memory, bytes.
    pub virtual_bytes: Option<u64>,
    /// When the process started, seconds since the Unix epoch.
    pub start_time_seconds: Option<f64>,
}

/// Linux reports `/proc/<pid>/stat` times in clock ticks of a fixed 100 Hz (USER_HZ).
const TICKS_PER_SECOND: f64 = 100.0;

/// Reads this process.
pub fn read() -> Process {
    let stat = std::fs::read_to_string("/proc/self/stat").ok();
    let status = std::fs::read_to_string("/proc/self/status").ok();
    let boot = std::fs::read_to_string("/proc/stat").ok();
    parse(stat.as_deref(), status.as_deref(), boot.as_deref())
}

fn parse(stat: Option<&str>, status: Option<&str>, proc_stat: Option<&str>) -> Process {
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat
        .and_then(|s| s.rsplit_once(')'))
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // `state` is field 3 of stat(5), so field N is fields[N - 3].
    let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<u64>().ok());
    let cpu_seconds = match (field(14), field(15)) {
        (Some(u), Some(s)) => Some((u + s) as f64 / TICKS_PER_SECOND),
        _ => None,
    };
    let kib = |key: &str| {
        status?
            .lines()
            .find_map(|l| l.strip_prefix(key))?
            .split_whitespace()
            .next()?
            .parse::<u64>()
            .ok()
            .map(|k| k * 1024)
    };
    let boot_time = proc_stat.and_then(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("btime "))?
            .trim()
            .parse::<u64>()
            .ok()
    });
    let start_time_seconds = match (boot_time, field(22)) {
        (Some(b), Some(t)) => Some(b as f64 + t as f64 / TICKS_PER_SECOND),
        _ => None,
    };
    Process {
        cpu_seconds,
        resident_bytes: kib("VmRSS:"),
        virtual_bytes: kib("VmSize:"),
        start_time_seconds,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_files() {
        let stat = "4242 (zk node) S 1 4242 4242 0 -1 4194560 900 0 0 0 250 50 0 0 20 0 \
                    12 0 1000 123456 789 18446744073709551615";
        let status = "Name:\tzk-node\nVmSize:\t  2048 kB\nVmRSS:\t    1024 kB\n";
        let p = parse(
            Some(stat),
            Some(status),
            Some("cpu 1 2 3\nbtime 1700000000\n"),
        );
        assert_eq!(p.cpu_seconds, Some(3.0));
        assert_eq!(p.resident_bytes, Some(1024 * 1024));
        assert_eq!(p.virtual_bytes, Some(2048 * 1024));
        assert_eq!(p.start_time_seconds, Some(1_700_000_010.0));
        assert_eq!(parse(None, None, None), Process::default());
    }

    #[test]
    fn reads_this_process() {
        if std::path::Path::new("/proc/self/stat").exists() {
            let p = read();
            assert!(p.resident_bytes.unwrap_or(0) > 0);
            assert!(p.start_time_seconds.unwrap_or(0.0) > 1e9);
        }
    }
}
