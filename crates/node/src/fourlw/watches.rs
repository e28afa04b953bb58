//! `wchs`, `wchc`, `wchp` (ZooKeeper's WatchCommand over the data-watch manager only).

use std::collections::BTreeMap;
use std::collections::HashSet;
use std::fmt::Write;

use super::format::hex;
use super::stats::ServerStats;
use super::stats::SessionWatches;

fn watching(s: &ServerStats) -> impl Iterator<Item = &SessionWatches> {
    s.watches.iter().filter(|w| !w.paths.is_empty())
}

/// `wchs`.
pub(crate) fn wchs(s: &ServerStats) -> String {
    let sessions = watching(s).count();
    let paths: HashSet<&str> = watching(s)
        .flat_map(|w| w.paths.iter().map(String::as_str))
        .collect();
    let total: usize = watching(s).map(|w| w.paths.len()).sum();
    format!(
        "{sessions} connections watching {} paths\nTotal watches:{total}\n",
        paths.len()
    )
}

/// `wchc`: sessions in the order given, each with its paths.
pub(crate) fn wchc(s: &ServerStats) -> String {
    let mut out = String::new();
    for w in watching(s) {
        let _ = writeln!(out, "0x{}", hex(w.session_id));
        for p in &w.paths {
            let _ = writeln!(out, "\t{p}");
        }
    }
    out.push('\n');
    out
}

/// `wchp`: paths sorted (ZooKeeper's order is a hash map's), each with its sessions.
pub(crate) fn wchp(s: &ServerStats) -> String {
    let mut by_path: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for w in watching(s) {
        for p in &w.paths {
            by_path.entry(p.as_str()).or_default().push(w.session_id);
        }
    }
    let mut out = String::new();
    for (path, sessions) in by_path {
        let _ = writeln!(out, "{path}");
        for id in sessions {
            let _ = writeln!(out, "\t0x{}", hex(id));
        }
    }
    out.push('\n');
    out
}
