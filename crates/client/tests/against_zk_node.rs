//! The S-line suite against real zk-node processes (`--tick-ms 200`): a one-node ensemble,
//! or three nodes where the case kills a member. Each case runs in its own process under
//! nextest, with its own servers on free ports.

mod common;

use common::suite;
use common::zk_node::ZkNodes;
use common::{case, init_tracing, run_case};

fn single(name: &str) {
    init_tracing();
    run_case(&mut ZkNodes::single(), case(suite::cases(), name));
}

fn ensemble(name: &str) {
    init_tracing();
    run_case(&mut ZkNodes::ensemble(), case(suite::cases(), name));
}

#[test]
fn s1_s4_states_and_negotiated_timeout() {
    single("s1_s4_states_and_negotiated_timeout");
}

#[test]
fn s2_4_malformed_connect_string_refused() {
    single("s2_4_malformed_connect_string_refused");
}

#[test]
fn r_protocol_edges_answered_as_zookeeper_does() {
    single("r_protocol_edges_answered_as_zookeeper_does");
}

#[test]
fn s2_3_chroot_in_and_out() {
    single("s2_3_chroot_in_and_out");
}

#[test]
fn s2_2_s3_3_s6_1_failover_keeps_the_session() {
    ensemble("s2_2_s3_3_s6_1_failover_keeps_the_session");
}

#[test]
fn s3_4_behind_server_is_skipped() {
    single("s3_4_behind_server_is_skipped");
}

#[test]
fn s5_1_s5_2_idle_session_kept_alive_by_pings() {
    single("s5_1_s5_2_idle_session_kept_alive_by_pings");
}

#[test]
fn s5_3_silent_server_dropped_and_next_tried() {
    single("s5_3_silent_server_dropped_and_next_tried");
}

#[test]
fn s6_2_s6_3_s6_4_expiry_learned_only_on_reconnect() {
    single("s6_2_s6_3_s6_4_expiry_learned_only_on_reconnect");
}

#[test]
fn s8_1_s6_5_pending_ops_get_connection_loss() {
    single("s8_1_s6_5_pending_ops_get_connection_loss");
}

#[test]
fn s7_1_s7_2_default_watcher_in_order_slow_consumer() {
    single("s7_1_s7_2_default_watcher_in_order_slow_consumer");
}

#[test]
fn s1_4_s6_3_close_is_final_and_ephemerals_go() {
    single("s1_4_s6_3_close_is_final_and_ephemerals_go");
}

#[test]
fn pipelined_requests_keep_order() {
    single("pipelined_requests_keep_order");
}

/// A pipelined getData sees exactly the session's writes sent before it (zk-node holds a
/// write back while a read ahead of it waits for an earlier write).
#[test]
fn pipelined_reads_see_exactly_the_writes_before_them() {
    single("pipelined_reads_see_exactly_the_writes_before_them");
}

#[test]
fn api_every_call() {
    single("api_every_call");
}

#[test]
fn watches_every_kind() {
    single("watches_every_kind");
}

#[test]
fn r8_s1_4_auth_failed_closes() {
    single("r8_s1_4_auth_failed_closes");
}

/// Every case has a test here.
#[test]
fn every_case_is_run() {
    let src = include_str!("against_zk_node.rs");
    for (name, _) in suite::cases() {
        assert!(src.contains(&format!("fn {name}()")), "{name} has no test");
    }
}
