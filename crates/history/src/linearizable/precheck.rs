//! Cheap, sound tests for the violations chaos runs usually find, with explanations in their
//! own terms ("stale read", "two writes both got version 7") rather than a search trace.
//!
//! Every test here only rejects histories that no linearization could explain, so a history
//! passing them still goes to the search, and a history failing them would fail it too.
//! They rely on two facts of the model: each successful write raises the version by exactly
//! one, and nothing ever lowers it.

use std::collections::HashMap;

use super::prepared::{Kind, Op, Outcome, Prepared};

/// The first violation found, explained, or `None` if the history needs the full search.
pub(super) fn find_violation(h: &Prepared<'_>) -> Option<String> {
    impossible_results(h)
        .or_else(|| duplicate_versions(h))
        .or_else(|| unexplained_reads(h))
        .or_else(|| missing_versions(h))
        .or_else(|| versions_going_back(h))
}

/// Answers no state could produce, whatever the order.
fn impossible_results(h: &Prepared<'_>) -> Option<String> {
    let initial = h.initial;
    for (i, op) in h.ops.iter().enumerate() {
        let why = match op.kind {
            Kind::Set {
                expected: None,
                outcome: Outcome::BadVersion,
                ..
            } => "an unconditional setData (version -1) cannot fail with BadVersion".to_string(),
            Kind::Set {
                expected: Some(e),
                outcome: Outcome::Written(v),
                ..
            } if e.checked_add(1) != Some(v) => format!(
                "a setData expecting version {e} can only succeed by producing version {}, \
                 not {v}",
                i64::from(e) + 1
            ),
            Kind::Set {
                outcome: Outcome::Written(v),
                ..
            } if v <= initial.version => format!(
                "a successful write cannot produce version {v}: the register starts at \
                 version {} and versions only grow",
                initial.version
            ),
            Kind::Read { version, .. } if version < initial.version => format!(
                "a read cannot return version {version}: the register starts at version {} \
                 and versions only grow",
                initial.version
            ),
            _ => continue,
        };
        return Some(format!("impossible result: {}: {why}", h.describe(i)));
    }
    None
}

/// Each successful write produces a version no other write produces.
fn duplicate_versions(h: &Prepared<'_>) -> Option<String> {
    let mut by_version: HashMap<i32, usize> = HashMap::new();
    for (i, op) in h.ops.iter().enumerate() {
        if let Kind::Set {
            outcome: Outcome::Written(v),
            ..
        } = op.kind
        {
            if let Some(&first) = by_version.get(&v) {
                return Some(format!(
                    "two writes both got version {v}: {} and {}; each successful setData \
                     raises the version by one, so at most one of them can have produced it",
                    h.describe(first),
                    h.describe(i)
                ));
            }
            by_version.insert(v, i);
        }
    }
    None
}

/// Every read must return the initial state or a state some write could have produced before
/// the read completed.
fn unexplained_reads(h: &Prepared<'_>) -> Option<String> {
    let mut acked_by_version: HashMap<i32, usize> = HashMap::new();
    let mut acked_by_value: HashMap<u64, usize> = HashMap::new();
    let mut unknown_by_value: HashMap<u64, Vec<usize>> = HashMap::new();
    for (i, op) in h.ops.iter().enumerate() {
        if let Kind::Set { value, outcome, .. } = op.kind {
            match outcome {
                Outcome::Written(v) => {
                    acked_by_version.insert(v, i);
                    acked_by_value.entry(value).or_insert(i);
                }
                Outcome::Unknown => unknown_by_value.entry(value).or_default().push(i),
                Outcome::BadVersion => {}
            }
        }
    }
    let initial = h.initial;
    for (r, read) in h.ops.iter().enumerate() {
        let Kind::Read { value, version } = read.kind else {
            continue;
        };
        if value == initial.value && version == initial.version {
            continue;
        }
        let read_done = read.complete.unwrap_or(u64::MAX);
        let never_written = value != initial.value
            && !acked_by_value.contains_key(&value)
            && !unknown_by_value.contains_key(&value);
        if never_written {
            return Some(format!(
                "read of a value never written: {} returned {value}, which is neither the \
                 initial value {} nor written by any operation",
                h.describe(r),
                initial.value
            ));
        }
        if let Some(&w) = acked_by_version.get(&version) {
            let writer = &h.ops[w];
            let Kind::Set { value: wrote, .. } = writer.kind else {
                continue;
            };
            if wrote != value {
                return Some(format!(
                    "read of a state no write produced: {}, but version {version} was \
                     produced by {}, which wrote {wrote}",
                    h.describe(r),
                    h.describe(w)
                ));
            }
            if writer.invoke > read_done {
                return Some(future_read(h, r, w));
            }
            continue;
        }
        // Only a write with unknown outcome can have produced a version no acknowledged
        // write got, and only a version above the initial one.
        let producers: Vec<usize> = unknown_by_value
            .get(&value)
            .map(|ws| {
                ws.iter()
                    .copied()
                    .filter(|&w| version > initial.version && could_produce(&h.ops[w], version))
                    .collect()
            })
            .unwrap_or_default();
        if producers.iter().any(|&w| h.ops[w].invoke <= read_done) {
            continue;
        }
        if let Some(&w) = producers.first() {
            return Some(future_read(h, r, w));
        }
        let mut hint = format!("the initial state is {initial}");
        if let Some(&w) = acked_by_value.get(&value) {
            hint.push_str(&format!("; {value} was written by {}", h.describe(w)));
        }
        return Some(format!(
            "read of a state no write produced: {}, but no acknowledged write produced \
             version {version} and no write with unknown outcome could have written {value} \
             as version {version} ({hint})",
            h.describe(r)
        ));
    }
    None
}

/// Whether a set with unknown outcome, if applied, could have produced `version`.
fn could_produce(op: &Op, version: i32) -> bool {
    match op.kind {
        Kind::Set {
            expected: Some(e), ..
        } => e.checked_add(1) == Some(version),
        _ => true,
    }
}

fn future_read(h: &Prepared<'_>, read: usize, write: usize) -> String {
    format!(
        "read from the future: {} observed the write {}, which was invoked only after the \
         read had completed",
        h.describe(read),
        h.describe(write)
    )
}

/// If version `v` was ever observed, versions above the initial one up to `v` were each
/// produced by exactly one write; those no acknowledged write got need writes with unknown
/// outcome, and there must be enough of them.
fn missing_versions(h: &Prepared<'_>) -> Option<String> {
    let initial = i64::from(h.initial.version);
    let (top_op, top) = h
        .ops
        .iter()
        .enumerate()
        .filter_map(|(i, op)| op.observed_version().map(|v| (i, i64::from(v))))
        .max_by_key(|&(_, v)| v)?;
    let mut acked: Vec<i64> = Vec::new();
    let mut unknown = 0i64;
    for op in &h.ops {
        if let Kind::Set { outcome, .. } = op.kind {
            match outcome {
                // Duplicates were rejected earlier, so these are distinct.
                Outcome::Written(v) if i64::from(v) > initial => acked.push(i64::from(v)),
                Outcome::Unknown => unknown += 1,
                _ => {}
            }
        }
    }
    let missing = top - initial - acked.len() as i64;
    if missing <= unknown {
        return None;
    }
    acked.sort_unstable();
    let first_missing = (initial + 1..=top)
        .find(|v| acked.binary_search(v).is_err())
        .unwrap_or(top);
    Some(format!(
        "missing writes: {} saw version {top}, so {} successful writes happened after the \
         initial version {initial}, but only {} were acknowledged and {unknown} have unknown \
         outcome (no acknowledged write got version {first_missing})",
        h.describe(top_op),
        top - initial,
        acked.len()
    ))
}

/// Versions never decrease, so an operation must not see an older version than one already
/// seen or produced by an operation that completed before it was invoked. This catches stale
/// reads, lost acknowledged writes and new-old inversions.
fn versions_going_back(h: &Prepared<'_>) -> Option<String> {
    // Operations that pin a version, by completion time, with a running maximum.
    let mut done: Vec<(u64, i32, usize)> = h
        .ops
        .iter()
        .enumerate()
        .filter_map(|(i, op)| Some((op.complete?, op.observed_version()?, i)))
        .collect();
    done.sort_unstable();
    let mut best: Vec<(i32, usize)> = Vec::with_capacity(done.len());
    for &(_, v, i) in &done {
        let prev = best.last().copied();
        best.push(match prev {
            Some((pv, pi)) if pv >= v => (pv, pi),
            _ => (v, i),
        });
    }
    let mut later: Vec<usize> = (0..h.ops.len())
        .filter(|&i| h.ops[i].observed_version().is_some() && !h.ops[i].is_unknown())
        .collect();
    later.sort_by_key(|&i| (h.ops[i].invoke, i));
    for b in later {
        let op = &h.ops[b];
        let before = done.partition_point(|&(c, _, _)| c < op.invoke);
        let Some(&(seen, a)) = before.checked_sub(1).and_then(|k| best.get(k)) else {
            continue;
        };
        let what = match op.kind {
            Kind::Read { version, .. } if version < seen => {
                let kind = match h.ops[a].kind {
                    Kind::Read { .. } => "new-old inversion",
                    Kind::Set { .. } => "stale read",
                };
                format!(
                    "{kind}: {} saw version {version}, but {} had already {} version {seen} \
                     before the read was invoked, and versions never go back",
                    h.describe(b),
                    h.describe(a),
                    verb(&h.ops[a])
                )
            }
            Kind::Set {
                outcome: Outcome::Written(v),
                ..
            } if v <= seen => format!(
                "version went back: {} got version {v}, but {} had already {} version {seen} \
                 before this write was invoked, and each write raises the version",
                h.describe(b),
                h.describe(a),
                verb(&h.ops[a])
            ),
            _ => continue,
        };
        return Some(what);
    }
    None
}

fn verb(op: &Op) -> &'static str {
    match op.kind {
        Kind::Read { .. } => "read",
        Kind::Set { .. } => "produced",
    }
}
