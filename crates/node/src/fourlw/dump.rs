//! `dump` (ZooKeeper's DumpCommand).
//!
//! The session part follows ZooKeeper's session trackers: expiry buckets on a standalone
//! server or leader (which own expiry), a plain list with timeouts on a follower. The
//! connection part prints nothing after its heading, as ZooKeeper does with the Netty
//! connection factory (only the NIO one lists connections there).

use std::collections::BTreeMap;
use std::fmt::Write;

use super::format::hex;
use super::format::java_date_utc;
use super::stats::Mode;
use super::stats::ServerStats;

/// `dump`.
pub(crate) fn dump(s: &ServerStats) -> String {
    let mut out = String::from("SessionTracker dump:\n");
    match s.mode {
        Mode::Follower | Mode::Observer => {
            let _ = writeln!(out, "Global Sessions({}):", s.sessions.len());
            let mut sessions: Vec<_> = s.sessions.iter().collect();
            sessions.sort_by_key(|x| x.session_id);
            for x in sessions {
                let _ = writeln!(out, "0x{}\t{}ms", hex(x.session_id), x.timeout_ms);
            }
        }
        Mode::Standalone | Mode::Leader => {
            let mut buckets: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
            for x in &s.sessions {
                buckets
                    .entry(x.expires_at_ms)
                    .or_default()
                    .push(x.session_id);
            }
            let _ = writeln!(
                out,
                "Session Sets ({})/({}):",
                buckets.len(),
                s.sessions.len()
            );
            for (at, ids) in buckets {
                let _ = writeln!(out, "{} expire at {}:", ids.len(), java_date_utc(at));
                for id in ids {
                    let _ = writeln!(out, "\t0x{}", hex(id));
                }
            }
        }
    }
    out.push_str("ephemeral nodes dump:\n");
    let _ = writeln!(out, "Sessions with Ephemerals ({}):", s.ephemerals.len());
    for e in &s.ephemerals {
        let _ = writeln!(out, "0x{}:", hex(e.session_id));
        for p in &e.paths {
            let _ = writeln!(out, "\t{p}");
        }
    }
    out.push_str("Connections dump:\n");
    out
}
