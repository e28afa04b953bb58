//! Drives the session-order core with the fuzzer's bytes as the choices of a simulated node
//! and driver (see `order_model.rs`, shared with the stable replay of the kept corpus and
//! the seeded simulation): every rule is checked on every input.

#![no_main]

use libfuzzer_sys::fuzz_target;

mod order_model;

fuzz_target!(|data: &[u8]| {
    order_model::simulate(&mut order_model::Bytes::new(data), "this input");
});
