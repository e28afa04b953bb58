//! Re-registering watches on reconnect: SetWatches (101) when only one-shot watches exist, as
//! ZooKeeper's client does for older servers, SetWatches2 (105) when persistent ones exist;
//! split into batches whose encoding stays under a limit (ZooKeeper's client: 128 KiB) so no
//! batch exceeds the server's frame limit.

use zk_wire::{Request, SetWatches, SetWatches2};

use crate::watches::WatchLists;

/// ZooKeeper's `SET_WATCHES_MAX_LENGTH`.
pub const DEFAULT_BATCH_BYTES: usize = 128 * 1024;

/// relativeZxid plus five vector counts.
const FIXED: usize = 8 + 5 * 4;

/// The SetWatches/SetWatches2 requests re-registering `lists` (server paths), each encoding to
/// at most `limit` bytes unless a single path alone is bigger.
pub fn batches(lists: &WatchLists, relative_zxid: i64, limit: usize) -> Vec<Request> {
    let kinds = [
        &lists.data,
        &lists.exist,
        &lists.child,
        &lists.persistent,
        &lists.persistent_recursive,
    ];
    let mut out = Vec::new();
    let mut cur: [Vec<String>; 5] = Default::default();
    let mut size = FIXED;
    for (k, paths) in kinds.into_iter().enumerate() {
        for p in paths {
            let cost = 4 + p.len();
            if size + cost > limit && cur.iter().any(|v| !v.is_empty()) {
                out.push(make(&mut cur, relative_zxid));
                size = FIXED;
            }
            cur[k].push(p.clone());
            size += cost;
        }
    }
    if cur.iter().any(|v| !v.is_empty()) {
        out.push(make(&mut cur, relative_zxid));
    }
    out
}

fn make(cur: &mut [Vec<String>; 5], relative_zxid: i64) -> Request {
    let [data, exist, child, persistent, recursive] = std::mem::take(cur);
    if persistent.is_empty() && recursive.is_empty() {
        Request::SetWatches(SetWatches {
            relative_zxid,
            data_watches: data,
            exist_watches: exist,
            child_watches: child,
        })
    } else {
        Request::SetWatches2(SetWatches2 {
            relative_zxid,
            data_watches: data,
            exist_watches: exist,
            child_watches: child,
            persistent_watches: persistent,
            persistent_recursive_watches: recursive,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SetWatches batching: every batch encodes under the limit, nothing is lost or repeated,
    /// and SetWatches2 is used only for batches with persistent watches.
    #[test]
    fn batches_stay_under_the_limit_and_cover_every_watch() {
        let many = |pre: &str, n: usize| -> Vec<String> {
            (0..n).map(|i| format!("/{pre}/{i:0100}")).collect()
        };
        let lists = WatchLists {
            data: many("d", 900),
            exist: many("e", 300),
            child: many("c", 900),
            persistent: many("p", 10),
            persistent_recursive: many("r", 10),
        };
        let reqs = batches(&lists, 42, 16 * 1024);
        assert!(reqs.len() > 10, "{}", reqs.len());
        let mut seen = WatchLists::default();
        for r in &reqs {
            assert!(r.to_bytes().len() <= 16 * 1024, "{}", r.to_bytes().len());
            match r {
                Request::SetWatches(s) => {
                    assert_eq!(s.relative_zxid, 42);
                    seen.data.extend(s.data_watches.clone());
                    seen.exist.extend(s.exist_watches.clone());
                    seen.child.extend(s.child_watches.clone());
                }
                Request::SetWatches2(s) => {
                    assert!(
                        !s.persistent_watches.is_empty()
                            || !s.persistent_recursive_watches.is_empty()
                    );
                    seen.data.extend(s.data_watches.clone());
                    seen.exist.extend(s.exist_watches.clone());
                    seen.child.extend(s.child_watches.clone());
                    seen.persistent.extend(s.persistent_watches.clone());
                    seen.persistent_recursive
                        .extend(s.persistent_recursive_watches.clone());
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(seen, lists);
        assert!(batches(&WatchLists::default(), 0, 1000).is_empty());
    }
}
