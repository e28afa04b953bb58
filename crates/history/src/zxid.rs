//! No client sees the state go back in time: once a client has seen zxid Z, every read it
//! makes reflects every write with a zxid up to Z (S3.4: it is never served by a server
//! that is behind it, failover included).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::report::CheckResult;
use crate::Nanos;

/// One successful read of a register, with what its client had seen before asking.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZxidRead {
    /// The client.
    pub client: u32,
    /// The register's path.
    pub register: String,
    /// When it was asked.
    pub invoke: Nanos,
    /// The highest zxid the client had seen when it asked.
    pub seen_before: i64,
    /// The mzxid of the state it read.
    pub mzxid: i64,
}

/// Checks every read against the zxids of the acknowledged writes to its register
/// (`writes`: register → zxids).
pub fn check(reads: &[ZxidRead], writes: &BTreeMap<String, Vec<i64>>) -> CheckResult {
    let mut r = CheckResult::new("no client goes back in time");
    r.checked = reads.len();
    let sorted: BTreeMap<&str, Vec<i64>> = writes
        .iter()
        .map(|(k, v)| {
            let mut v = v.clone();
            v.sort_unstable();
            (k.as_str(), v)
        })
        .collect();
    for read in reads {
        let Some(zxids) = sorted.get(read.register.as_str()) else {
            continue;
        };
        // The first write newer than what was read: if the client had already seen its
        // zxid, the read missed a write it must reflect.
        let i = zxids.partition_point(|&z| z <= read.mzxid);
        if let Some(&missed) = zxids.get(i) {
            if missed <= read.seen_before {
                r.violations.push(format!(
                    "client {} had seen zxid {:#x}, then read {} at mzxid {:#x} ({} ms), missing the write at {missed:#x}",
                    read.client,
                    read.seen_before,
                    read.register,
                    read.mzxid,
                    read.invoke / 1_000_000
                ));
            }
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(seen_before: i64, mzxid: i64) -> ZxidRead {
        ZxidRead {
            client: 1,
            register: "/r".into(),
            invoke: 0,
            seen_before,
            mzxid,
        }
    }

    #[test]
    fn reads_reflecting_every_write_seen_pass() {
        let w = BTreeMap::from([("/r".to_string(), vec![30, 10, 20])]);
        // Saw 25: must reflect the write at 20 (reads 20, or the newer 30).
        let r = check(&[read(25, 20), read(25, 30), read(5, 0), read(0, 10)], &w);
        assert!(r.passed(), "{r:?}");
        assert_eq!(r.checked, 4);
    }

    #[test]
    fn a_read_older_than_a_zxid_seen_fails() {
        let w = BTreeMap::from([("/r".to_string(), vec![10, 20, 30])]);
        let r = check(&[read(25, 10)], &w);
        assert_eq!(r.violations.len(), 1, "{r:?}");
        assert!(r.violations[0].contains("missing the write at 0x14"));
    }
}
