//! The fuzzer's kept corpus (`fuzz/corpus/request_decode`, minimized after each run and
//! committed), replayed on the stable toolchain with the fuzzer's own checks
//! (`fuzz/fuzz_targets/check.rs`): every input that ever found new code still decodes without
//! a panic, and round-trips where it decodes.

use std::path::Path;

#[path = "../fuzz/fuzz_targets/check.rs"]
mod check;

#[test]
fn the_kept_fuzz_corpus_replays_without_a_failure() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/request_decode");
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("the corpus is kept in the repository at {dir:?}: {e}"));
    let mut n = 0;
    for entry in entries {
        let path = entry.expect("a corpus entry").path();
        let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        let ok = std::panic::catch_unwind(|| check::check(&data));
        assert!(ok.is_ok(), "{path:?} fails the fuzzer's checks");
        n += 1;
    }
    assert!(
        n >= 100,
        "only {n} inputs in {dir:?}: the minimized corpus is gone?"
    );
}
