//! One test per rule of the session order (the module docs), named by the rule, in the style
//! of raft-rs's paper tests: plain inputs, the steps handed back compared as text.

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

/// Every rule at once, over many random interleavings of a session's requests with the
/// applying of its writes and of other sessions' changes (which fire this connection's
/// watches), driven as the driver does: a seeded run of a simulated node.
#[test]
fn random_interleavings_keep_every_rule() {
    let (mut attached, mut early) = (0, 0);
    for seed in 1..=3000 {
        let (a, e) = simulate(seed);
        attached += a;
        early += e;
    }
    // Attachments were exercised, and so was the race of one with its write's apply.
    assert!(attached > 500, "{attached} attachments");
    assert!(
        early > 50,
        "{early} of {attached} attached after the write was applied"
    );
}

/// What the simulation's requests, replies and events are: numbers.
struct S;

impl Carry for S {
    /// (request number, its cost if it may be attached)
    type Read = (usize, Option<usize>);
    type Proposal = usize;
    type WriteMeta = usize;
    type Outcome = ();
    /// (request number, the zxid a read showed and the own writes it saw; `None` for a
    /// ready answer)
    type Answer = (usize, Option<(i64, Vec<usize>)>);
    type Event = i64;

    fn attach_cost(read: &(usize, Option<usize>)) -> Option<usize> {
        read.1
    }
}

/// A tiny deterministic generator (xorshift), so a failing seed can be replayed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// An answer the simulation hands the core: (zxid shown, (request, (zxid, writes seen))).
type SimAnswer = (i64, (usize, Option<(i64, Vec<usize>)>));

/// What the simulated node pushes to the connection, in apply order.
enum Sim {
    Event(i64),
    /// A write applied at a zxid, with the answers of the reads attached to it.
    Applied(i64, usize, Vec<SimAnswer>),
}

/// The simulated node: its log, this session's writes applied, the reads attached to its
/// waiting writes, and the channel to the connection.
#[derive(Default)]
struct Node {
    /// Proposed and not yet applied (Some(request) for this session's writes).
    log: VecDeque<Option<usize>>,
    zxid: i64,
    /// This session's writes applied so far.
    applied: Vec<usize>,
    /// Reads attached to a waiting write, by write.
    attached: std::collections::HashMap<usize, Vec<usize>>,
    /// Answers of reads attached to a write applied already (the driver ran them at once),
    /// by write: fed with its outcome, after the ones the node ran.
    early: std::collections::HashMap<usize, Vec<SimAnswer>>,
    channel: VecDeque<Sim>,
}

impl Node {
    /// A read answered on the state as it is now.
    fn answer(&self, r: usize) -> SimAnswer {
        (self.zxid, (r, Some((self.zxid, self.applied.clone()))))
    }
}

/// What went out on the simulated socket.
#[derive(Debug)]
enum Sent {
    Event(i64),
    /// (request number, zxid shown; `None` for a ready answer's, which only claims one)
    Reply(usize, Option<i64>),
}

/// Runs one seeded simulation; returns how many batches of reads were attached, and how
/// many of them after their write was applied already.
fn simulate(seed: u64) -> (usize, usize) {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let n = 1 + rng.below(40) as usize;
    // Request i is a read (0), a write (1) or an answer known at once (2).
    let kinds: Vec<u64> = (0..n).map(|_| rng.below(3)).collect();
    // A read may not be attached (None), or is a small or a large (40 KiB) one.
    let costs: Vec<Option<usize>> = (0..n)
        .map(|_| match rng.below(4) {
            0 => None,
            3 => Some(40 << 10),
            _ => Some(100),
        })
        .collect();
    let mut o: Order<S> = Order::default();
    let mut node = Node::default();
    let (mut attaches, mut early) = (0, 0);
    let mut proposed: Vec<usize> = Vec::new();
    let mut sent: Vec<Sent> = Vec::new();
    // A read handed out by `Step::Run` and not reported yet: (request, zxid, writes seen).
    let mut running: Option<(usize, i64, Vec<usize>)> = None;
    let mut next = 0;
    let mut guard = 0;
    loop {
        guard += 1;
        assert!(guard < 100_000, "seed {seed}: no progress");
        let done =
            next == n && o.outstanding() == 0 && node.log.is_empty() && node.channel.is_empty();
        if done {
            break;
        }
        match rng.below(5) {
            // A request arrives.
            0 if next < n => {
                match kinds[next] {
                    0 => o.read((next, costs[next])),
                    1 => o.write(next, next),
                    _ => o.ready(node.zxid, (next, None)),
                }
                next += 1;
            }
            // Another session's change: it may fire a watch of this connection.
            1 if rng.below(3) == 0 => node.log.push_back(None),
            // The next entry is applied here.
            2 if !node.log.is_empty() => apply_next(&mut rng, &mut node),
            // A read run earlier is reported now.
            3 if running.is_some() => {
                if let Some((r, at, saw)) = running.take() {
                    feed(&mut o, &mut node);
                    o.answered(at, (r, Some((at, saw))));
                }
            }
            // The driver's turn: feed the channel, carry out the steps.
            _ => loop {
                feed(&mut o, &mut node);
                let Some(step) = o.poll() else { break };
                match step {
                    Step::Propose(w) => {
                        proposed.push(w);
                        node.log.push_back(Some(w));
                    }
                    Step::Attach(reads) => {
                        attaches += 1;
                        // The bounds hold.
                        assert!(reads.len() <= MAX_ATTACHED_READS, "seed {seed}");
                        let bytes: usize = reads.iter().filter_map(|r| r.1).sum();
                        assert!(bytes <= MAX_ATTACHED_BYTES, "seed {seed}");
                        assert!(reads.iter().all(|r| r.1.is_some()), "seed {seed}");
                        // Apply may have gone on since the poll, even past the write.
                        while !node.log.is_empty() && rng.below(3) == 0 {
                            apply_next(&mut rng, &mut node);
                        }
                        let w = *proposed.last().expect("attached to no write");
                        if node.applied.contains(&w) {
                            early += 1;
                            let answers: Vec<SimAnswer> =
                                reads.iter().map(|r| node.answer(r.0)).collect();
                            node.early.entry(w).or_default().extend(answers);
                        } else {
                            let a = node.attached.entry(w).or_default();
                            a.extend(reads.iter().map(|r| r.0));
                        }
                    }
                    Step::Run((r, _)) => {
                        let saw = node.applied.clone();
                        running = Some((r, node.zxid, saw));
                        // A driver may report the answer at once (as pipeline.rs does) or
                        // after polling again in between; either way apply goes on once
                        // the read let go of the lock, and the driver feeds the channel
                        // before it reports.
                        if rng.below(2) == 0 {
                            break;
                        }
                        while !node.log.is_empty() && rng.below(2) == 0 {
                            apply_next(&mut rng, &mut node);
                        }
                        if let Some((r, at, saw)) = running.take() {
                            feed(&mut o, &mut node);
                            o.answered(at, (r, Some((at, saw))));
                        }
                    }
                    Step::Event(z) => sent.push(Sent::Event(z)),
                    Step::Reply((i, None)) => sent.push(Sent::Reply(i, None)),
                    Step::Reply((i, Some((at, saw)))) => {
                        // FIFO: a read sees exactly the session's writes sent before it.
                        let before: Vec<usize> = (0..i).filter(|&j| kinds[j] == 1).collect();
                        assert_eq!(saw, before, "seed {seed}: read {i} saw other writes");
                        sent.push(Sent::Reply(i, Some(at)));
                    }
                    Step::Written { meta, zxid: z, .. } => sent.push(Sent::Reply(meta, Some(z))),
                    Step::Close(c) => panic!("seed {seed}: closed: {c:?}"),
                }
            },
        }
    }
    // Writes were proposed in request order.
    let writes: Vec<usize> = (0..n).filter(|&i| kinds[i] == 1).collect();
    assert_eq!(proposed, writes, "seed {seed}");
    // Replies left in request order, every request answered once.
    let replies: Vec<usize> = sent
        .iter()
        .filter_map(|s| match s {
            Sent::Reply(i, _) => Some(*i),
            Sent::Event(_) => None,
        })
        .collect();
    assert_eq!(replies, (0..n).collect::<Vec<_>>(), "seed {seed}");
    // Events and replies in zxid order: an event at or before a reply's zxid goes first,
    // one after it goes after.
    for (a, s) in sent.iter().enumerate() {
        let Sent::Event(z) = s else { continue };
        for (b, r) in sent.iter().enumerate() {
            let Sent::Reply(i, Some(at)) = r else {
                continue;
            };
            assert_eq!(
                z <= at,
                a < b,
                "seed {seed}: event {z} and the reply to {i} at {at}: {sent:?}"
            );
        }
    }
    (attaches, early)
}

/// Applies the log's next entry: it may fire a watch of this connection (an event pushed),
/// and if it is this session's write, the reads attached to it run on the state right after
/// it and its outcome is pushed after that event, with their answers.
fn apply_next(rng: &mut Rng, node: &mut Node) {
    let Some(own) = node.log.pop_front() else {
        return;
    };
    node.zxid += 1;
    if rng.below(2) == 0 {
        node.channel.push_back(Sim::Event(node.zxid));
    }
    if let Some(w) = own {
        node.applied.push(w);
        let reads = node.attached.remove(&w).unwrap_or_default();
        let answers = reads.into_iter().map(|r| node.answer(r)).collect();
        node.channel.push_back(Sim::Applied(node.zxid, w, answers));
    }
}

/// Feeds the simulated channel to the core, as the driver's `pull` (a write's outcome with
/// the answers of the reads attached to it, those the driver ran at once last).
fn feed(o: &mut Order<S>, node: &mut Node) {
    while let Some(p) = node.channel.pop_front() {
        match p {
            Sim::Event(z) => o.event(z, z),
            Sim::Applied(z, w, mut answers) => {
                answers.extend(node.early.remove(&w).unwrap_or_default());
                o.applied(z, (), answers);
            }
        }
    }
}
