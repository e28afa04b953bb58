//! One test per rule of the session order (the module docs), named by the rule, in the style
//! of raft-rs's paper tests: plain inputs, the steps handed back compared as text.

use super::*;

/// Strings for every payload: a read `r1`, a write `w1` (proposed as `w1`, replied to with
/// its meta `w1` and outcome), answers and events by name.
struct T;

impl Carry for T {
    type Read = &'static str;
    type Proposal = &'static str;
    type WriteMeta = &'static str;
    type Outcome = &'static str;
    type Answer = &'static str;
    type Event = &'static str;
}

type O = Order<T>;

fn show(step: Step<T>) -> String {
    match step {
        Step::Propose(w) => format!("propose {w}"),
        Step::Run(r) => format!("run {r}"),
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
    o.applied(5, "ok");
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
    o.applied(6, "ok");
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
    o.applied(5, "ok");
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
    o.applied(7, "ok");
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

#[test]
fn write_behind_an_unanswered_read_is_held_until_the_read_ran() {
    let mut o = O::default();
    o.write("w1", "w1");
    o.read("r1");
    o.write("w2", "w2");
    // r1 must show w1 and not w2: w2 is not proposed before r1 has run.
    assert_eq!(steps(&mut o), ["propose w1"]);
    o.applied(5, "ok");
    assert_eq!(steps(&mut o), ["written w1@5 ok", "run r1"]);
    assert_eq!(steps(&mut o), Vec::<String>::new(), "w2 held while r1 runs");
    o.answered(5, "a1");
    assert_eq!(steps(&mut o), ["reply a1", "propose w2"]);
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
    o.applied(5, "ok");
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
    o.applied(6, "ok");
    o.applied(7, "ok");
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
    o.applied(5, "first");
    o.applied(6, "second");
    assert_eq!(steps(&mut o), ["written w1@5 first", "written w2@6 second"]);
}

#[test]
fn an_outcome_for_no_write_closes() {
    let mut o = O::default();
    o.applied(5, "stray");
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
    o.applied(5, "ok");
    assert_eq!(steps(&mut o), ["event e5", "written w1@5 ok"]);
}

#[test]
fn event_fired_after_a_replys_state_follows_that_reply() {
    let mut o = O::default();
    o.write("w1", "w1");
    o.read("r1");
    assert_eq!(steps(&mut o), ["propose w1"]);
    o.applied(5, "ok");
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
    o.applied(5, "ok");
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
    o.applied(5, "ok");
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
    o.applied(4, "closed");
    assert_eq!(steps(&mut o), ["written close@4 closed", "close Drained"]);
}

#[test]
fn draining_closes_once_everything_queued_is_answered() {
    let mut o = O::default();
    o.write("w1", "w1");
    o.ready(0, "auth failed");
    o.drain();
    assert_eq!(steps(&mut o), ["propose w1"]);
    o.applied(5, "ok");
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
    o.applied(5, "ok");
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
    for seed in 1..=3000 {
        simulate(seed);
    }
}

/// What the simulation's requests, replies and events are: numbers.
struct S;

impl Carry for S {
    /// (request number, ...)
    type Read = usize;
    type Proposal = usize;
    type WriteMeta = usize;
    type Outcome = ();
    /// (request number, the zxid a read showed and the own writes it saw; `None` for a
    /// ready answer)
    type Answer = (usize, Option<(i64, Vec<usize>)>);
    type Event = i64;
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

/// What the simulated node pushes to the connection, in apply order.
enum Sim {
    Event(i64),
    Applied(i64),
}

/// What went out on the simulated socket.
#[derive(Debug)]
enum Sent {
    Event(i64),
    /// (request number, zxid shown; `None` for a ready answer's, which only claims one)
    Reply(usize, Option<i64>),
}

fn simulate(seed: u64) {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let n = 1 + rng.below(40) as usize;
    // Request i is a read (0), a write (1) or an answer known at once (2).
    let kinds: Vec<u64> = (0..n).map(|_| rng.below(3)).collect();
    let mut o: Order<S> = Order::default();
    // The log: proposed and not yet applied (Some(request) for this session's writes).
    let mut log: VecDeque<Option<usize>> = VecDeque::new();
    let mut zxid = 0_i64;
    // This session's writes applied so far, and at which zxid.
    let mut applied: Vec<(usize, i64)> = Vec::new();
    let mut channel: VecDeque<Sim> = VecDeque::new();
    let mut proposed: Vec<usize> = Vec::new();
    let mut sent: Vec<Sent> = Vec::new();
    // A read handed out by `Step::Run` and not reported yet: (request, zxid, writes seen).
    let mut running: Option<(usize, i64, Vec<usize>)> = None;
    let mut next = 0;
    let mut guard = 0;
    loop {
        guard += 1;
        assert!(guard < 100_000, "seed {seed}: no progress");
        let done = next == n && o.outstanding() == 0 && log.is_empty() && channel.is_empty();
        if done {
            break;
        }
        match rng.below(5) {
            // A request arrives.
            0 if next < n => {
                match kinds[next] {
                    0 => o.read(next),
                    1 => o.write(next, next),
                    _ => o.ready(zxid, (next, None)),
                }
                next += 1;
            }
            // Another session's change: it may fire a watch of this connection.
            1 if rng.below(3) == 0 => log.push_back(None),
            // The next entry is applied here.
            2 if !log.is_empty() => {
                apply_next(&mut rng, &mut log, &mut zxid, &mut applied, &mut channel);
            }
            // A read run earlier is reported now.
            3 if running.is_some() => {
                if let Some((r, at, saw)) = running.take() {
                    feed(&mut o, &mut channel);
                    o.answered(at, (r, Some((at, saw))));
                }
            }
            // The driver's turn: feed the channel, carry out the steps.
            _ => loop {
                feed(&mut o, &mut channel);
                let Some(step) = o.poll() else { break };
                match step {
                    Step::Propose(w) => {
                        proposed.push(w);
                        log.push_back(Some(w));
                    }
                    Step::Run(r) => {
                        let saw = applied.iter().map(|&(w, _)| w).collect();
                        running = Some((r, zxid, saw));
                        // A driver may report the answer at once (as pipeline.rs does) or
                        // after polling again in between; either way apply goes on once
                        // the read let go of the lock, and the driver feeds the channel
                        // before it reports.
                        if rng.below(2) == 0 {
                            break;
                        }
                        while !log.is_empty() && rng.below(2) == 0 {
                            apply_next(&mut rng, &mut log, &mut zxid, &mut applied, &mut channel);
                        }
                        if let Some((r, at, saw)) = running.take() {
                            feed(&mut o, &mut channel);
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
}

/// Applies the log's next entry: it may fire a watch of this connection (an event pushed),
/// and if it is this session's write, its outcome is pushed after that.
fn apply_next(
    rng: &mut Rng,
    log: &mut VecDeque<Option<usize>>,
    zxid: &mut i64,
    applied: &mut Vec<(usize, i64)>,
    channel: &mut VecDeque<Sim>,
) {
    let Some(own) = log.pop_front() else {
        return;
    };
    *zxid += 1;
    if rng.below(2) == 0 {
        channel.push_back(Sim::Event(*zxid));
    }
    if let Some(w) = own {
        applied.push((w, *zxid));
        channel.push_back(Sim::Applied(*zxid));
    }
}

/// Feeds the simulated channel to the core, as the driver's `pull`.
fn feed(o: &mut Order<S>, channel: &mut VecDeque<Sim>) {
    while let Some(p) = channel.pop_front() {
        match p {
            Sim::Event(z) => o.event(z, z),
            Sim::Applied(z) => o.applied(z, ()),
        }
    }
}
