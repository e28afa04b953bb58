//! The tail of the log, in memory: the last entries appended, so that replication and apply
//! need not read back from disk and decode what was encoded a moment ago. It also always
//! holds every entry not yet written to a segment file (see `wal`): those are read from here.
//!
//! openraft reads every committed entry back through the log reader: the leader once per
//! follower to replicate it and once more to apply it, a follower once to apply it. With
//! entries read from sled each of those was a postcard decode allocating every command
//! again; it was the largest source of `malloc` in the leader's profile under the set load.
//! Entries are cheap to clone (a batch's commands sit behind an `Arc`), so the tail keeps
//! clones. It is bounded by entries and by encoded bytes, beyond which it keeps only what is
//! not written yet (a sync's worth); a range it does not hold is read from the segment files.

use std::collections::VecDeque;

/// The last appended entries with contiguous indexes `first..first + len`.
pub(crate) struct RecentEntries<E> {
    first: u64,
    entries: VecDeque<(E, usize)>,
    bytes: usize,
    max_entries: usize,
    max_bytes: usize,
    /// Entries from this index on are never dropped (not in a file yet).
    keep_from: u64,
}

impl<E: Clone> RecentEntries<E> {
    /// An empty tail that keeps at most `max_entries` entries and `max_bytes` encoded bytes.
    pub(crate) fn new(max_entries: usize, max_bytes: usize) -> Self {
        RecentEntries {
            first: 0,
            entries: VecDeque::new(),
            bytes: 0,
            max_entries,
            max_bytes,
            // Until told what is written, it drops by its bounds only.
            keep_from: u64::MAX,
        }
    }

    /// One past the last index held (meaningless when empty).
    fn end(&self) -> u64 {
        self.first + self.entries.len() as u64
    }

    /// Entries appended at `first`, `first + 1`, ...; each with its encoded size. A run that
    /// does not continue the tail replaces it (the log was truncated or this is the first).
    pub(crate) fn append(&mut self, first: u64, run: impl IntoIterator<Item = (E, usize)>) {
        if self.entries.is_empty() || first != self.end() {
            self.entries.clear();
            self.bytes = 0;
            self.first = first;
        }
        for (entry, size) in run {
            self.bytes += size;
            self.entries.push_back((entry, size));
        }
        self.evict();
    }

    /// Entries from `index` on may be dropped once over the bounds (they are in files now).
    pub(crate) fn written_upto(&mut self, index: u64) {
        self.keep_from = index;
        self.evict();
    }

    /// The first index held, if any.
    pub(crate) fn first(&self) -> Option<u64> {
        (!self.entries.is_empty()).then_some(self.first)
    }

    fn evict(&mut self) {
        while self.first < self.keep_from
            && (self.entries.len() > self.max_entries
                || (self.bytes > self.max_bytes && self.entries.len() > 1))
        {
            if let Some((_, size)) = self.entries.pop_front() {
                self.bytes -= size;
                self.first += 1;
            }
        }
    }

    /// Forgets the entries at `index` and after (the log is truncated there).
    pub(crate) fn truncate_from(&mut self, index: u64) {
        while !self.entries.is_empty() && self.end() > index {
            if let Some((_, size)) = self.entries.pop_back() {
                self.bytes -= size;
            }
        }
    }

    /// Forgets the entries up to and including `index` (purged from the log).
    pub(crate) fn purge_through(&mut self, index: u64) {
        while !self.entries.is_empty() && self.first <= index {
            if let Some((_, size)) = self.entries.pop_front() {
                self.bytes -= size;
                self.first += 1;
            }
        }
    }

    /// Clones of the entries `lo..hi` (`hi` `None`: through the last held), if all of them
    /// are held; `None` sends the caller to sled.
    pub(crate) fn get(&self, lo: u64, hi: Option<u64>) -> Option<Vec<E>> {
        if self.entries.is_empty() {
            return None;
        }
        let hi = hi.unwrap_or_else(|| self.end());
        if lo < self.first || hi > self.end() || lo > hi {
            return None;
        }
        let from = usize::try_from(lo - self.first).ok()?;
        let to = usize::try_from(hi - self.first).ok()?;
        Some(
            self.entries
                .range(from..to)
                .map(|(e, _)| e.clone())
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(range: std::ops::Range<u64>) -> Vec<(u64, usize)> {
        range.map(|i| (i, 10)).collect()
    }

    #[test]
    fn holds_what_was_appended_and_sends_anything_else_to_sled() {
        let mut r = RecentEntries::new(100, 1 << 20);
        assert_eq!(r.get(0, None), None, "empty");
        r.append(5, run(5..10));
        assert_eq!(r.get(5, Some(10)), Some(vec![5, 6, 7, 8, 9]));
        assert_eq!(r.get(7, None), Some(vec![7, 8, 9]));
        assert_eq!(r.get(8, Some(8)), Some(vec![]));
        assert_eq!(r.get(4, Some(6)), None, "starts before the tail");
        assert_eq!(r.get(9, Some(11)), None, "ends after it");
        r.append(10, run(10..12));
        assert_eq!(r.get(9, None), Some(vec![9, 10, 11]));
    }

    #[test]
    fn bounded_by_entries_and_by_bytes() {
        let mut r = RecentEntries::new(3, 1 << 20);
        r.append(1, run(1..6));
        assert_eq!(r.get(3, None), Some(vec![3, 4, 5]));
        assert_eq!(r.get(2, None), None);

        let mut r = RecentEntries::new(100, 25);
        r.append(1, run(1..6));
        assert_eq!(
            r.get(4, None),
            Some(vec![4, 5]),
            "two of 10 bytes fit in 25"
        );
        // One entry larger than the bound is still held (the last one always is).
        r.append(6, vec![(6, 1000)]);
        assert_eq!(r.get(6, None), Some(vec![6]));
        assert_eq!(r.get(5, None), None);
    }

    #[test]
    fn truncation_and_purge_forget_exactly_their_part() {
        let mut r = RecentEntries::new(100, 1 << 20);
        r.append(1, run(1..10));
        r.truncate_from(7);
        assert_eq!(r.get(5, None), Some(vec![5, 6]));
        assert_eq!(r.get(5, Some(8)), None, "7 is gone");
        r.purge_through(3);
        assert_eq!(r.get(4, None), Some(vec![4, 5, 6]));
        assert_eq!(r.get(3, None), None);
        r.purge_through(100);
        assert_eq!(r.get(6, None), None, "all purged");
    }

    /// What is not written yet stays, whatever the bounds; it goes once it is written.
    #[test]
    fn unwritten_entries_stay_until_written() {
        let mut r = RecentEntries::new(2, 1 << 20);
        r.written_upto(3);
        r.append(1, run(1..8));
        assert_eq!(r.get(3, None), Some(vec![3, 4, 5, 6, 7]), "3.. not written");
        assert_eq!(r.get(2, None), None, "1 and 2 went");
        r.written_upto(8);
        assert_eq!(r.get(6, None), Some(vec![6, 7]));
        assert_eq!(r.get(5, None), None);
        assert_eq!(r.first(), Some(6));
    }

    /// After a truncation the next append continues from the cut; one that does not fit
    /// the tail (a gap) replaces it.
    #[test]
    fn a_run_that_does_not_continue_the_tail_replaces_it() {
        let mut r = RecentEntries::new(100, 1 << 20);
        r.append(1, run(1..5));
        r.truncate_from(3);
        r.append(3, vec![(30, 10), (40, 10)]);
        assert_eq!(r.get(1, None), Some(vec![1, 2, 30, 40]));
        r.append(9, run(9..11));
        assert_eq!(r.get(9, None), Some(vec![9, 10]));
        assert_eq!(r.get(1, Some(3)), None);
    }
}
