//! openraft builds runtime statistics for every `Raft` (`RuntimeStats`: a dozen histograms of
//! the `base2histogram` crate). base2histogram 0.2.3 built the lookup tables of all sixteen
//! bucket widths at the first histogram, about 26 MiB that stayed resident in every node (a
//! third of its RSS after the 100k-znode fill); the workspace patches in a copy that builds
//! each width on its first use (vendor/base2histogram/PATCHED.md). This checks that the first
//! histograms cost kilobytes, so a dependency update that brings the old tables back fails
//! here rather than in the RSS figure of bench/compare.sh.
//!
//! One #[test] only: the counters are process-wide, so tests must not run concurrently here.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

// The crate openraft uses (one copy in the build); openraft re-exports it only under its
// `runtime-stats` feature.
use base2histogram::Histogram;

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Relaxed) + layout.size();
            PEAK.fetch_max(now, Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Relaxed);
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// What openraft's runtime statistics may cost, tables included: its histograms of the
/// default width are a few KiB each; the old tables were 26 MiB.
const BOUND: usize = 1 << 20;

#[test]
fn the_first_raft_histograms_cost_kilobytes_not_the_tables_of_every_width() {
    let base = CURRENT.load(Relaxed);
    PEAK.store(base, Relaxed);
    // As many as `RuntimeStats::new` makes (nine, plus six per log stage), kept alive: the
    // tables they build are static and stay either way.
    let mut histograms: Vec<Histogram> = (0..15).map(|_| Histogram::new()).collect();
    for (i, h) in histograms.iter_mut().enumerate() {
        h.record(1 << i);
    }
    let grown = CURRENT.load(Relaxed) - base;
    let peak = PEAK.load(Relaxed) - base;
    assert!(
        peak <= BOUND,
        "15 openraft histograms took {peak} bytes at their peak ({grown} still held); \
         base2histogram builds the tables of every width again: is the [patch.crates-io] \
         copy in vendor/base2histogram still in use?"
    );
    assert!(
        histograms.iter().all(|h| h.total() == 1),
        "every histogram holds the one value recorded"
    );
}
