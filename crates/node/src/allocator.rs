//! The `zk-node` binary's allocator: mimalloc, set to give memory back as it frees it.
//!
//! Why: glibc's `malloc`/`free` and their helpers (`_int_malloc`, `malloc_consolidate`,
//! `unlink_chunk`, ...) were 14-20 % of every member's CPU under writes (`bench/profile.sh
//! set`, docs/performance.md). mimalloc as set here, against glibc, `bench/ab.sh --fill 300000
//! --rounds 3 --seconds 6` (alternating, 2026-12-07): set +7 %, create 32 × 16 +22 %, create
//! 8 × 1 +2 %, mixed +1 %; server CPU per set 38.7 → 35.3 µs, per create 61.5 → 47.8 µs. Its
//! defaults doubled the RSS after compare.sh's 100k fill (64 → 117-160 MiB), which the RSS
//! target (≤ 0.25× ZooKeeper's) does not allow. Measured causes: transparent huge pages above
//! all (mimalloc asks for them on its arenas; with THP off alone: 72-88 MiB), then freed pages
//! purged only after a delay. So mimalloc is built without THP (`no_thp`: no `MADV_HUGEPAGE`,
//! and THP off for the process) and purges at once (below): 67-71 MiB against glibc's 63-68.
//!
//! Only the binary sets this: the library leaves the allocator to whoever embeds it.

use std::os::raw::c_long;

use libmimalloc_sys::mi_option_set;
use libmimalloc_sys::mi_option_t;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

// Option ids in `mi_option_e` of the mimalloc (v3) that libmimalloc-sys =0.1.49 builds
// (c_src/mimalloc/v3/include/mimalloc.h); the crate's own constants follow an older list.
/// `mi_option_arena_eager_commit`: 0 commits arena memory as it is used.
const ARENA_EAGER_COMMIT: mi_option_t = 4;
/// `mi_option_purge_decommits`: 1 decommits purged memory (the RSS falls).
const PURGE_DECOMMITS: mi_option_t = 5;
/// `mi_option_purge_delay`: 0 purges freed pages at once (default: after 10 ms, arenas 10×).
const PURGE_DELAY: mi_option_t = 15;

/// Sets the options; call first thing in `main`, before any other thread exists
/// (`mi_option_set` is not thread-safe). An option the operator set in the environment
/// (`MIMALLOC_PURGE_DELAY`, ...) is left as set.
pub(crate) fn configure() {
    let options: [(mi_option_t, &str, c_long); 3] = [
        (ARENA_EAGER_COMMIT, "MIMALLOC_ARENA_EAGER_COMMIT", 0),
        (PURGE_DECOMMITS, "MIMALLOC_PURGE_DECOMMITS", 1),
        (PURGE_DELAY, "MIMALLOC_PURGE_DELAY", 0),
    ];
    for (option, env, value) in options {
        if std::env::var_os(env).is_some() {
            continue;
        }
        // SAFETY: plain setters of mimalloc's option table, called before other threads
        // start; the ids are those of the pinned release (above).
        unsafe { mi_option_set(option, value) };
    }
}
