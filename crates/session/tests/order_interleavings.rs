//! Every rule of the session order (`zk_session::order`) at once, over many random
//! interleavings of a session's requests with the applying of its writes, other sessions'
//! changes (which fire this connection's watches), sync gates, the session's end and the
//! node telling it to stop, driven as the node's driver does: seeded runs of the model the
//! fuzz target `order` runs (`fuzz/fuzz_targets/order_model.rs`).

// Its input decoder for the fuzzer's bytes is not used here.
#[allow(dead_code)]
#[path = "../fuzz/fuzz_targets/order_model.rs"]
mod order_model;

use order_model::Closed;

#[test]
fn random_interleavings_keep_every_rule() {
    let (mut attached, mut early, mut gates) = (0, 0, 0);
    let mut closes = std::collections::HashMap::new();
    for seed in 1..=3000 {
        let mut rng = order_model::Rng::seeded(seed);
        let ran = order_model::simulate(&mut rng, &format!("seed {seed}"));
        attached += ran.attaches;
        early += ran.early;
        gates += ran.gates;
        *closes.entry(ran.closed).or_insert(0) += 1;
    }
    // Attachments were exercised, and so was the race of one with its write's apply; and
    // every way of closing, and running to the end without one.
    assert!(attached > 500, "{attached} attachments");
    assert!(
        early > 50,
        "{early} of {attached} attached after the write was applied"
    );
    assert!(gates > 500, "{gates} sync gates");
    for how in [
        None,
        Some(Closed::Drained),
        Some(Closed::SessionEnded),
        Some(Closed::Told),
        Some(Closed::Failed),
    ] {
        assert!(closes.get(&how).copied().unwrap_or(0) > 30, "{closes:?}");
    }
}
