//! Feeds arbitrary bytes to every decoder a server or client runs on untrusted input (see
//! `check.rs`, shared with the stable replay of the kept corpus).

#![no_main]

use libfuzzer_sys::fuzz_target;

mod check;

fuzz_target!(|data: &[u8]| check::check(data));
