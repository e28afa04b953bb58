//! One test per rule of the session order (the module docs), named by the rule, in the style
//! of raft-rs's paper tests: plain inputs, the steps handed back compared as text. Every rule
//! at once, over random interleavings driven as the node drives the core, is checked by the
//! model in `crates/session/fuzz/fuzz_targets/order_model.rs`: seeded in
//! `crates/session/tests/order_interleavings.rs`, and by the fuzz target `order`.

use super::*;

/// Strings for every payload: a write `w1` (proposed as `w1`, replied to with its meta `w1`
/// and outcome), answers and events by name. A read `r1` is one that may not be attached to
/// a write (a sync, say), so it shows the rules that hold for every read; a read `g1` is a
/// cheap one (a getData of a small znode: 100 bytes) and `big1` a getData of 40 KiB, both of
/// which may be attached.
struct T;

impl Carry for T {
    type Read = &'static str;
    type Proposal = &'static str;
    type WriteMeta = &'static str;
    type Outcome = &'static str;
    type Answer = &'static str;
    type Event = &'static str;

    fn attach_cost(read: &&'static str) -> Option<usize> {
        if read.starts_with("big") {
            Some(40 << 10)
        } else if read.starts_with('g') {
            Some(100)
        } else {
            None
        }
    }
}

type O = Order<T>;

fn show(step: Step<T>) -> String {
    match step {
        Step::Propose(w) => format!("propose {w}"),
        Step::Run(r) => format!("run {r}"),
        Step::Attach(reads) => format!("attach {}", reads.join(" ")),
        Step::Event(e) => format!("event {e}"),
        Step::Reply(a) => format!("reply {a}"),
        Step::Written {
            meta,
            zxid,
            outcome,
        } => format!("written {meta}@{zxid} {outcome}"),
        Step::Close(c) => format!("close {c:?}"),
    }
}

/// Every step due now, as text.
fn steps(o: &mut O) -> Vec<String> {
    std::iter::from_fn(|| o.poll()).map(show).collect()
}

/// Drives the core the way the driver does: every `run rN` is answered at once as `aN`,
/// showing the state at `zxid`.
fn run_reads_at(o: &mut O, zxid: i64) -> Vec<String> {
    let mut all = Vec::new();
    while let Some(step) = o.poll() {
        if let Step::Run(r) = step {
            all.push(format!("run {r}"));
            o.answered(zxid, answer_of(r));
        } else {
            all.push(show(step));
        }
    }
    all
}

fn answer_of(read: &str) -> &'static str {
    match read {
        "r1" => "a1",
        "r2" => "a2",
        "r3" => "a3",
        "r4" => "a4",
        "g1" => "a1",
        "g2" => "a2",
        _ => "a?",
    }
}

#[test]
fn replies_leave_in_request_order() {
    let mut o = O::default();
    o.write("w1", "w1");
    o.read("r1");
    o.ready(0, "fail1");
    o.write("w2", "w2");
    assert_eq!(steps(&mut o), ["propose w1"]);
    // w1's outcome arrives: its reply, then the read, the ready answer and the next write,
    // in the order they were sent.
    o.applied(5, "ok", vec![]);
    assert_eq!(
        run_reads_at(&mut o, 5),
        [
            "written w1@5 ok",
            "run r1",
            "reply a1",
            "reply fail1",
            "propose w2"
        ]
    );
    o.applied(6, "ok", vec![]);
    assert_eq!(steps(&mut o), ["written w2@6 ok"]);
    assert_eq!(o.outstanding(), 0);
}

#[test]
fn answer_known_at_once_still_waits_its_turn() {
    let mut o = O::default();
    o.write("w1", "w1");
    o.ready(0, "fail1");
    assert_eq!(
        steps(&mut o),
        ["propose w1"],
        "the error answer waits for w1"
    );
    o.applied(5, "ok", vec![]);
    assert_eq!(steps(&mut o), ["written w1@5 ok", "reply fail1"]);
}

#[test]
fn read_with_nothing_ahead_runs_at_once() {
    let mut o = O::default();
    o.read("r1");
    assert_eq!(run_reads_at(&mut o, 3), ["run r1", "reply a1"]);
}

#[test]
fn read_behind_own_write_waits_for_its_zxid() {
    let mut o = O::default();
    o.write("w1", "w1");
    o.read("r1");
    assert_eq!(steps(&mut o), ["propose w1"], "no run before w1 is applied");
    assert_eq!(steps(&mut o), Vec::<String>::new());
    o.applied(7, "ok", vec![]);
    assert_eq!(
        run_reads_at(&mut o, 7),
        ["written w1@7 ok", "run r1", "reply a1"]
    );
}

#[test]
fn writes_in_a_row_are_proposed_at_once() {
    let mut o = O::default();
    o.write("w1", "w1");
    o.write("w2", "w2");
    o.write("w3", "w3");
    assert_eq!(steps(&mut o), ["propose w1", "propose w2", "propose w3"]);
    // One arriving while those are still in the log goes too.
    o.write("w4", "w4");
    assert_eq!(steps(&mut o), ["propose w4"]);
}

/// The hold now applies to the reads that may not be attached (here `r1`, a sync, say) and
/// to those past the attachment bounds (see the tests below); a cheap read is attached
/// instead.
#[test]
fn write_behind_an_unanswered_read_is_held_until_the_read_ran() {
    let mut o = O::default();
    o.write("w1", "w1");
    o.read("r1");
    o.write("w2", "w2");
    // r1 must show w1 and not w2: w2 is not proposed before r1 has run.
    assert_eq!(steps(&mut o), ["propose w1"]);
    o.applied(5, "ok", vec![]);
    assert_eq!(steps(&mut o), ["written w1@5 ok", "run r1"]);
    assert_eq!(steps(&mut o), Vec::<String>::new(), "w2 held while r1 runs");
    o.answered(5, "a1");
    assert_eq!(steps(&mut o), ["reply a1", "propose w2"]);
}

/// The old behaviour, bounded: a cheap read between two writes rides on the first one (the
/// node answers it right after that write is applied, before any later change), so the
/// second write is proposed at once instead of waiting one more commit round.
#[test]
fn read_behind_a_write_is_attached_so_the_next_write_goes_at_once() {
    let mut o = O::default();
    o.write("w1", "w1");
    o.read("g1");
    assert_eq!(steps(&mut o), ["propose w1"], "nothing held: g1 just waits");
    o.write("w2", "w2");
    assert_eq!(steps(&mut o), ["attach g1", "propose w2"]);
    // g1's answer comes with w1's outcome and shows w1's state; it is sent after w1's
    // reply and before w2's.
    o.applied(5, "ok", vec![(5, "a1")]);
    assert_eq!(steps(&mut o), ["written w1@5 ok", "reply a1"]);
    o.applied(6, "ok", vec![]);
    assert_eq!(steps(&mut o), ["written w2@6 ok"]);
    assert_eq!(o.outstanding(), 0);
}

/// Reads with no write held behind them are not attached: nothing would gain, and they run
/// on the connection outside the write lock.
#[test]
fn reads_are_attached_only_to_free_a_held_write() {
    let mut o = O::default();
    o.write("w1", "w1");
    o.read("g1");
    o.read("g2");
    assert_eq!(steps(&mut o), ["propose w1"]);
    o.applied(5, "ok", vec![]);
    assert_eq!(
        run_reads_at(&mut o, 5),
        [
            "written w1@5 ok",
            "run g1",
            "reply a1",
            "run g2",
            "reply a2"
        ]
    );
}

/// The bound on reads: up to MAX_ATTACHED_READS ride on one write; one more and the write
/// behind them is held until they ran (today's hold), so apply never runs more than that.
#[test]
fn attachments_are_bounded_then_the_next_write_is_held() {
    let mut o = O::default();
    o.write("w1", "w1");
    for _ in 0..MAX_ATTACHED_READS {
        o.read("g1");
    }
    o.write("w2", "w2");
    let s = steps(&mut o);
    assert_eq!(s.len(), 3, "{s:?}");
    assert_eq!(s[1].matches("g1").count(), MAX_ATTACHED_READS);
    assert_eq!(s[2], "propose w2");

    let mut o = O::default();
    o.write("w1", "w1");
    for _ in 0..=MAX_ATTACHED_READS {
        o.read("g1");
    }
    o.write("w2", "w2");
    assert_eq!(steps(&mut o), ["propose w1"], "one read too many: w2 held");
}

/// The bound on bytes: two reads of 40 KiB exceed MAX_ATTACHED_BYTES together, so the
/// write behind them is held; one alone rides on its write.
#[test]
fn attached_bytes_are_bounded_then_the_next_write_is_held() {
    let mut o = O::default();
    o.write("w1", "w1");
    o.read("big1");
    o.write("w2", "w2");
    assert_eq!(steps(&mut o), ["propose w1", "attach big1", "propose w2"]);

    let mut o = O::default();
    o.write("w1", "w1");
    o.read("big1");
    o.read("big2");
    o.write("w2", "w2");
    assert_eq!(steps(&mut o), ["propose w1"]);
    o.applied(5, "ok", vec![]);
    assert_eq!(
        run_reads_at(&mut o, 5),
        [
            "written w1@5 ok",
            "run big1",
            "reply a?",
            "run big2",
            "reply a?",
            "propose w2"
        ]
    );
}

/// A read that may not run inside apply (a sync, a multi-path read) is never attached, even
/// among cheap ones: the whole run between the writes is then left to the connection.
#[test]
fn a_read_that_may_not_be_attached_holds_the_next_write() {
    let mut o = O::default();
    o.write("w1", "w1");
    o.read("g1");
    o.read("r2");
    o.write("w2", "w2");
    assert_eq!(steps(&mut o), ["propose w1"]);
}

/// Each write takes the reads right behind it: a chain of write, read, write, read, write
/// proposes every write at once, and each read's answer comes with the write before it.
#[test]
fn each_write_takes_the_reads_right_behind_it() {
    let mut o = O::default();
    o.write("w1", "w1");
    o.read("g1");
    o.write("w2", "w2");
    o.read("g2");
    o.write("w3", "w3");
    assert_eq!(
        steps(&mut o),
        [
            "propose w1",
            "attach g1",
            "propose w2",
            "attach g2",
            "propose w3"
        ]
    );
    o.applied(5, "ok", vec![(5, "a1")]);
    o.applied(6, "ok", vec![(6, "a2")]);
    o.applied(7, "ok", vec![]);
    assert_eq!(
        steps(&mut o),
        [
            "written w1@5 ok",
            "reply a1",
            "written w2@6 ok",
            "reply a2",
            "written w3@7 ok"
        ]
    );
}

/// Attached reads' answers come with their write's outcome: an outcome without them (or with
/// answers to reads never attached) means the driver broke the contract, and the connection
/// closes rather than answer out of order.
#[test]
fn an_outcome_without_its_attached_answers_closes() {
    let mut o = O::default();
    o.write("w1", "w1");
    o.read("g1");
    o.write("w2", "w2");
    assert_eq!(steps(&mut o), ["propose w1", "attach g1", "propose w2"]);
    o.applied(5, "ok", vec![]);
    let s = steps(&mut o);
    assert!(
        s.last().is_some_and(|l| l.starts_with("close Failed")),
        "{s:?}"
    );

    let mut o = O::default();
    o.write("w1", "w1");
    assert_eq!(steps(&mut o), ["propose w1"]);
    o.applied(5, "ok", vec![(5, "a1")]);
    let s = steps(&mut o);
    assert!(
        s.last().is_some_and(|l| l.starts_with("close Failed")),
        "{s:?}"
    );
}

/// A watch event of a change after the attaching write but before the attached read's
/// answer is sent goes after that answer (the read showed the state at the write's zxid);
/// one fired by the write itself goes before.
#[test]
fn attached_answer_keeps_events_in_zxid_order() {
    let mut o = O::default();
    o.write("w1", "w1");
    o.read("g1");
    o.write("w2", "w2");
    assert_eq!(steps(&mut o), ["propose w1", "attach g1", "propose w2"]);
    o.event(5, "e5");
    o.applied(5, "ok", vec![(5, "a1")]);
    o.event(6, "e6");
    assert_eq!(
        steps(&mut o),
        ["event e5", "written w1@5 ok", "reply a1", "event e6"]
    );
}

#[test]
fn held_writes_are_proposed_in_arrival_order() {
    let mut o = O::default();
    o.write("w1", "w1");
    o.read("r1");
    o.write("w2", "w2");
    o.write("w3", "w3");
    o.read("r2");
    o.write("w4", "w4");
    assert_eq!(steps(&mut o), ["propose w1"]);
    o.applied(5, "ok", vec![]);
    // w2 and w3 go as soon as r1 ran; w4 waits for r2, which waits for w2 and w3.
    assert_eq!(
        run_reads_at(&mut o, 5),
        [
            "written w1@5 ok",
            "run r1",
            "reply a1",
            "propose w2",
            "propose w3"
        ]
    );
    o.applied(6, "ok", vec![]);
    o.applied(7, "ok", vec![]);
    assert_eq!(
        run_reads_at(&mut o, 7),
        [
            "written w2@6 ok",
            "written w3@7 ok",
            "run r2",
            "reply a2",
            "propose w4"
        ]
    );
}

#[test]
fn outcomes_answer_the_writes_in_proposal_order() {
    let mut o = O::default();
    o.write("w1", "w1");
    o.write("w2", "w2");
    assert_eq!(steps(&mut o).len(), 2);
    o.applied(5, "first", vec![]);
    o.applied(6, "second", vec![]);
    assert_eq!(steps(&mut o), ["written w1@5 first", "written w2@6 second"]);
}

#[test]
fn an_outcome_for_no_write_closes() {
    let mut o = O::default();
    o.applied(5, "stray", vec![]);
    let s = steps(&mut o);
    assert_eq!(s.len(), 1);
    assert!(s[0].starts_with("close Failed"), "{s:?}");
}

#[test]
fn event_precedes_reply_showing_its_zxid() {
    let mut o = O::default();
    o.write("w1", "w1");
    assert_eq!(steps(&mut o), ["propose w1"]);
    // w1 fired a watch of this connection: the event was pushed before w1's outcome.
    o.event(5, "e5");
    o.applied(5, "ok", vec![]);
    assert_eq!(steps(&mut o), ["event e5", "written w1@5 ok"]);
}

#[test]
fn event_fired_after_a_replys_state_follows_that_reply() {
    let mut o = O::default();
    o.write("w1", "w1");
    o.read("r1");
    assert_eq!(steps(&mut o), ["propose w1"]);
    o.applied(5, "ok", vec![]);
    // Another session's change at 6 fired a watch here before this connection got round to
    // w1's reply, and the read r1 (which may have set that watch) shows the state at 6.
    o.event(6, "e6");
    assert_eq!(steps(&mut o), ["written w1@5 ok", "run r1"]);
    o.event(7, "e7");
    o.answered(6, "a1");
    assert_eq!(steps(&mut o), ["event e6", "reply a1", "event e7"]);
}

#[test]
fn events_wait_while_a_read_runs() {
    let mut o = O::default();
    o.read("r1");
    assert_eq!(steps(&mut o), ["run r1"]);
    // Fed after the read saw the state at 4: it may be of a later change.
    o.event(9, "e9");
    assert_eq!(steps(&mut o), Vec::<String>::new());
    o.answered(4, "a1");
    assert_eq!(steps(&mut o), ["reply a1", "event e9"]);
}

#[test]
fn events_go_out_while_the_front_waits_on_a_write() {
    let mut o = O::default();
    o.write("w1", "w1");
    o.read("r1");
    assert_eq!(steps(&mut o), ["propose w1"]);
    // Pushed before w1's outcome, so of a change before w1: no need to wait for w1.
    o.event(3, "e3");
    assert_eq!(steps(&mut o), ["event e3"]);
}

#[test]
fn events_go_out_when_nothing_is_queued() {
    let mut o = O::default();
    o.event(3, "e3");
    o.event(4, "e4");
    assert_eq!(steps(&mut o), ["event e3", "event e4"]);
}

#[test]
fn sync_gate_holds_everything_behind_it() {
    let mut o = O::default();
    o.gate();
    o.read("r1");
    o.write("w1", "w1");
    assert_eq!(
        steps(&mut o),
        Vec::<String>::new(),
        "nothing before the gate passes"
    );
    assert_eq!(o.outstanding(), 2, "a gate is not a request");
    o.gate_passed();
    assert_eq!(
        run_reads_at(&mut o, 9),
        ["run r1", "reply a1", "propose w1"]
    );
}

#[test]
fn sync_gate_behind_a_write_passes_in_its_place() {
    let mut o = O::default();
    o.write("w1", "w1");
    o.gate();
    o.read("r1");
    assert_eq!(steps(&mut o), ["propose w1"]);
    // The gate passes before w1 is applied: r1 still waits for w1.
    o.gate_passed();
    assert_eq!(steps(&mut o), Vec::<String>::new());
    o.applied(5, "ok", vec![]);
    assert_eq!(
        run_reads_at(&mut o, 5),
        ["written w1@5 ok", "run r1", "reply a1"]
    );
}

#[test]
fn failed_sync_gate_closes() {
    let mut o = O::default();
    o.gate();
    o.read("r1");
    o.gate_failed("not caught up".into());
    assert_eq!(steps(&mut o), ["close Failed(\"not caught up\")"]);
    assert!(!o.accepting());
}

#[test]
fn failed_write_closes_at_once() {
    let mut o = O::default();
    o.write("w1", "w1");
    o.write("w2", "w2");
    assert_eq!(steps(&mut o).len(), 2);
    o.failed("leader changed".into());
    o.applied(5, "ok", vec![]);
    assert_eq!(steps(&mut o), ["close Failed(\"leader changed\")"]);
    assert_eq!(
        o.outstanding(),
        2,
        "never answered: the driver gives them back"
    );
}

#[test]
fn session_end_closes_at_once() {
    let mut o = O::default();
    o.event(3, "e3");
    o.session_ended();
    o.event(4, "e4");
    // Events pushed before the end still go out, in order; nothing after it.
    assert_eq!(steps(&mut o), ["event e3", "close SessionEnded"]);
    o.read("r1");
    assert_eq!(steps(&mut o), Vec::<String>::new(), "closed: nothing more");
}

#[test]
fn queued_close_session_is_answered_then_the_connection_closes() {
    let mut o = O::default();
    o.read("r1");
    o.write("close", "close");
    o.drain();
    assert!(!o.accepting(), "no request is taken after a closeSession");
    assert_eq!(
        run_reads_at(&mut o, 3),
        ["run r1", "reply a1", "propose close"]
    );
    // Applying the close ends the session (pushed before the write's outcome).
    o.session_ended();
    o.applied(4, "closed", vec![]);
    assert_eq!(steps(&mut o), ["written close@4 closed", "close Drained"]);
}

#[test]
fn draining_closes_once_everything_queued_is_answered() {
    let mut o = O::default();
    o.write("w1", "w1");
    o.ready(0, "auth failed");
    o.drain();
    assert_eq!(steps(&mut o), ["propose w1"]);
    o.applied(5, "ok", vec![]);
    assert_eq!(
        steps(&mut o),
        ["written w1@5 ok", "reply auth failed", "close Drained"]
    );
}

#[test]
fn pushed_close_closes_even_while_draining() {
    let mut o = O::default();
    o.write("close", "close");
    o.drain();
    assert_eq!(steps(&mut o), ["propose close"]);
    o.told_to_close();
    assert_eq!(steps(&mut o), ["close Told"]);
}

#[test]
fn outstanding_counts_requests_until_their_reply_is_handed_out() {
    let mut o = O::default();
    o.write("w1", "w1");
    o.read("r1");
    o.ready(0, "x");
    assert_eq!(o.outstanding(), 3);
    steps(&mut o);
    o.applied(5, "ok", vec![]);
    assert_eq!(o.poll().map(show).as_deref(), Some("written w1@5 ok"));
    assert_eq!(o.outstanding(), 2);
    run_reads_at(&mut o, 5);
    assert_eq!(o.outstanding(), 0);
}
