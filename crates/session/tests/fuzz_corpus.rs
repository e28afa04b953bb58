//! The fuzzers' kept corpora (`fuzz/corpus/order` and `fuzz/corpus/handshake`, minimized
//! after each run and committed), replayed on the stable toolchain with the fuzzers' own
//! checks (`fuzz/fuzz_targets/order_model.rs`, `fuzz/fuzz_targets/handshake_check.rs`):
//! every input that ever found new code still keeps every rule.

use std::path::Path;

#[path = "../fuzz/fuzz_targets/handshake_check.rs"]
mod handshake_check;
#[path = "../fuzz/fuzz_targets/order_model.rs"]
mod order_model;

/// Runs `check` on every input kept for `target`; returns how many there were.
fn replay(target: &str, check: impl Fn(&[u8]) + std::panic::RefUnwindSafe) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("the corpus is kept in the repository at {dir:?}: {e}"));
    let mut n = 0;
    for entry in entries {
        let path = entry.expect("a corpus entry").path();
        let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        let ok = std::panic::catch_unwind(|| check(&data));
        assert!(ok.is_ok(), "{path:?} fails the fuzzer's checks");
        n += 1;
    }
    n
}

#[test]
fn the_kept_order_corpus_replays_without_a_failure() {
    let n = replay("order", |data| {
        order_model::simulate(&mut order_model::Bytes::new(data), "a kept input");
    });
    assert!(n >= 100, "only {n} inputs: the minimized corpus is gone?");
}

#[test]
fn the_kept_handshake_corpus_replays_without_a_failure() {
    let n = replay("handshake", handshake_check::check);
    assert!(n >= 20, "only {n} inputs: the minimized corpus is gone?");
}
