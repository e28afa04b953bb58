//! Feeds arbitrary bytes to the server's first-frame path: the frame decoder with the
//! connect size limit, the ConnectRequest decoder, the password check and the timeout
//! negotiation (see `handshake_check.rs`, shared with the stable replay of the kept corpus).

#![no_main]

use libfuzzer_sys::fuzz_target;

mod handshake_check;

fuzz_target!(|data: &[u8]| handshake_check::check(data));
