//! Who judges a session (S9.5-S9.7), against a three-node zk-node ensemble (`--tick-ms
//! 200`): each case in its own process under nextest, on its own free ports, repeating its
//! scenario `ZK_JUDGED_REPS` times (50 by default).

mod common;

use common::judged;
use common::zk_node::ZkNodes;
use common::{case, init_tracing, run_case};

fn ensemble(name: &str) {
    init_tracing();
    run_case(&mut ZkNodes::ensemble(), case(judged::cases(), name));
}

#[test]
fn s9_6_resume_on_a_member_restarted_a_moment_ago() {
    ensemble("s9_6_resume_on_a_member_restarted_a_moment_ago");
}

#[test]
fn s9_6_resume_before_the_member_applied_the_session() {
    ensemble("s9_6_resume_before_the_member_applied_the_session");
}

#[test]
fn s9_5_quorum_lost_longer_than_the_timeout_then_back() {
    ensemble("s9_5_quorum_lost_longer_than_the_timeout_then_back");
}

#[test]
fn s9_7_handshake_during_shutdown_is_closed() {
    ensemble("s9_7_handshake_during_shutdown_is_closed");
}
