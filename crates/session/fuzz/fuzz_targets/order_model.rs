//! A simulated node driving the session-order core (`zk_session::order`) as the node's
//! connection driver (`crates/node/src/connection/pipeline.rs`) does, with every rule of the
//! core checked at once: replies leave in request order, a read sees exactly the session's
//! writes sent before it, writes are proposed in arrival order, events and replies leave in
//! zxid order, a sync gate holds what is behind it, attachments keep their bounds, and the
//! connection closes exactly when and why it must (nothing after a close).
//!
//! One model, three users: the fuzz target `order` (its choices are the fuzzer's bytes), the
//! stable replay of that target's kept corpus (`crates/session/tests/fuzz_corpus.rs`) and the
//! seeded simulation (`crates/session/tests/order_interleavings.rs`), which include this file.
//!
//! Only what a driver can do is simulated: the core's contract (its module docs) is kept, so
//! a failed check is a bug of the core, never of its input. In particular the model never
//! - takes a request while the core is not [`Order::accepting`] (the driver stops reading);
//! - queues a sync gate without the sync read right behind it (`pipeline.rs` queues both at
//!   once), or passes a gate it did not queue;
//! - feeds an outcome for no proposed write, or one without the answers of the reads
//!   attached to it (the core closes on those as contract breaches: its unit tests cover
//!   them, and here a close for them would be reported as a bug);
//! - reports a read it was not handed, or at a zxid other than the state it ran on, or polls
//!   without feeding the pushes waiting first;
//! - pushes events out of apply order.

use std::collections::HashMap;
use std::collections::VecDeque;

use zk_session::order::Carry;
use zk_session::order::Close;
use zk_session::order::Order;
use zk_session::order::Step;
use zk_session::order::MAX_ATTACHED_BYTES;
use zk_session::order::MAX_ATTACHED_READS;

/// Where the simulation's choices come from.
pub trait Choices {
    /// A choice in `0..n` (`n` is at most 256).
    fn below(&mut self, n: u64) -> u64;
}

/// A tiny deterministic generator (xorshift), so a failing seed can be replayed.
pub struct Rng(u64);

impl Rng {
    /// The generator of seed `seed` (any value: zero is mapped away).
    pub fn seeded(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
}

impl Choices for Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// The fuzzer's bytes as choices, one byte each; once they run out a generator seeded from
/// them takes over, so every input plays its session to the end (the fuzzer steers the
/// start, where the interesting interleavings are, and each input stays deterministic).
pub struct Bytes<'a> {
    data: &'a [u8],
    rest: Rng,
}

impl<'a> Bytes<'a> {
    /// Choices from `data`.
    pub fn new(data: &'a [u8]) -> Self {
        // FNV-1a: any stable hash will do, so two inputs differing anywhere go on differently.
        let seed = data.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        Bytes {
            data,
            rest: Rng::seeded(seed),
        }
    }
}

impl Choices for Bytes<'_> {
    fn below(&mut self, n: u64) -> u64 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                u64::from(b) % n
            }
            None => self.rest.below(n),
        }
    }
}

/// What the simulation's requests, replies and events are: numbers.
pub struct S;

impl Carry for S {
    /// (request number, its cost if it may be attached)
    type Read = (usize, Option<usize>);
    type Proposal = usize;
    type WriteMeta = usize;
    type Outcome = ();
    /// (request number, the zxid a read showed and the own writes it saw; `None` for a
    /// ready answer)
    type Answer = (usize, Option<(i64, Vec<usize>)>);
    /// (the zxid of the change that fired it, its number in push order)
    type Event = (i64, usize);

    fn attach_cost(read: &(usize, Option<usize>)) -> Option<usize> {
        read.1
    }
}

/// An answer the simulation hands the core: (zxid shown, (request, (zxid, writes seen))).
type SimAnswer = (i64, (usize, Option<(i64, Vec<usize>)>));

/// An entry of the simulated log.
enum Entry {
    /// Another session's change: it may fire a watch of this connection.
    Other,
    /// This session's write (its request number).
    Own(usize),
    /// The leader expires this session.
    Expire,
}

/// What the simulated node pushes to the connection, in the order the real node's channel
/// carries them (`hub::Push`).
enum Sim {
    /// A watch fired at a zxid: (zxid, event number).
    Event(i64, usize),
    /// A write applied at a zxid, with the answers of the reads attached to it.
    Applied(i64, usize, Vec<SimAnswer>),
    /// The session ended, after this many events were pushed.
    SessionEnded(usize),
    /// Stop serving (the session moved, shutdown, quorum lost), after this many events.
    Close(usize),
    /// The leader changed with this session's writes waiting: their fate is unknown.
    Failed,
}

/// The simulated node: its log, this session's writes applied, the reads attached to its
/// waiting writes, and the channel to the connection.
#[derive(Default)]
struct Node {
    /// Proposed and not yet applied.
    log: VecDeque<Entry>,
    zxid: i64,
    /// This session's writes applied so far.
    applied: Vec<usize>,
    /// Reads attached to a waiting write, by write.
    attached: HashMap<usize, Vec<usize>>,
    /// Answers of reads attached to a write applied already (the driver ran them at once),
    /// by write: fed with its outcome, after the ones the node ran.
    early: HashMap<usize, Vec<SimAnswer>>,
    channel: VecDeque<Sim>,
    /// Events pushed so far (numbered from 0).
    events: usize,
    /// The session's closeSession write, if it sent one.
    close_write: Option<usize>,
    /// The session ended (closed or expired); pushed once.
    ended: bool,
}

impl Node {
    /// A read answered on the state as it is now.
    fn answer(&self, r: usize) -> SimAnswer {
        (self.zxid, (r, Some((self.zxid, self.applied.clone()))))
    }

    fn push_event(&mut self) {
        self.channel.push_back(Sim::Event(self.zxid, self.events));
        self.events += 1;
    }

    fn end_session(&mut self) {
        if !self.ended {
            self.ended = true;
            self.channel.push_back(Sim::SessionEnded(self.events));
        }
    }

    /// Applies the log's next entry: it may fire a watch of this connection (an event
    /// pushed); this session's write has the reads attached to it run on the state right
    /// after it, and its outcome pushed after that event, with their answers; a closeSession
    /// ends the session before its outcome is pushed, as the hub does.
    fn apply_next(&mut self, c: &mut impl Choices) {
        let Some(entry) = self.log.pop_front() else {
            return;
        };
        self.zxid += 1;
        if c.below(2) == 0 {
            self.push_event();
        }
        match entry {
            Entry::Other => {}
            Entry::Expire => self.end_session(),
            Entry::Own(w) => {
                self.applied.push(w);
                if self.close_write == Some(w) {
                    self.end_session();
                }
                let reads = self.attached.remove(&w).unwrap_or_default();
                let answers = reads.into_iter().map(|r| self.answer(r)).collect();
                self.channel.push_back(Sim::Applied(self.zxid, w, answers));
            }
        }
    }
}

/// What went out on the simulated socket.
#[derive(Debug)]
enum Sent {
    Event(i64),
    /// (request number, zxid shown; `None` for a ready answer's, which only claims one)
    Reply(usize, Option<i64>),
}

/// What the driver fed the core besides requests, for judging a close.
#[derive(Default)]
struct Fed {
    /// Events pushed before the session's end, once it was fed.
    ended: Option<usize>,
    /// Events pushed before the first told-to-close, once one was fed.
    told: Option<usize>,
    /// A write or a gate failed.
    failed: bool,
    /// Outcomes fed.
    outcomes: usize,
}

/// Feeds the simulated channel to the core, as the driver's `pull` (a write's outcome with
/// the answers of the reads attached to it, those the driver ran at once last).
fn feed(o: &mut Order<S>, node: &mut Node, fed: &mut Fed) {
    while let Some(p) = node.channel.pop_front() {
        match p {
            Sim::Event(z, k) => o.event(z, (z, k)),
            Sim::Applied(z, w, mut answers) => {
                answers.extend(node.early.remove(&w).unwrap_or_default());
                fed.outcomes += 1;
                o.applied(z, (), answers);
            }
            Sim::SessionEnded(before) => {
                fed.ended.get_or_insert(before);
                o.session_ended();
            }
            Sim::Close(before) => {
                fed.told.get_or_insert(before);
                o.told_to_close();
            }
            Sim::Failed => {
                fed.failed = true;
                o.failed("leader changed".into());
            }
        }
    }
}

/// What a run exercised.
#[derive(Debug, Default, Clone, Copy)]
pub struct Ran {
    /// Requests the connection took.
    pub requests: usize,
    /// Batches of reads attached to a write.
    pub attaches: usize,
    /// ... of which after their write was applied already.
    pub early: usize,
    /// Sync gates queued.
    pub gates: usize,
    /// How the connection closed, if it did.
    pub closed: Option<Closed>,
}

/// [`Close`] without its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Closed {
    /// [`Close::Drained`]
    Drained,
    /// [`Close::SessionEnded`]
    SessionEnded,
    /// [`Close::Told`]
    Told,
    /// [`Close::Failed`]
    Failed,
}

/// A request as the driver classified it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A local request, with its cost if it may be attached.
    Read,
    /// A write.
    Write,
    /// An answer known at once (an error before the log, an auth packet).
    Ready,
}

/// Runs one session on a simulated node with every choice taken from `c`, checking every
/// rule; panics on a broken one (`what` names the run in the message).
pub fn simulate(c: &mut impl Choices, what: &str) -> Ran {
    let n = 1 + c.below(40) as usize;
    let mut o: Order<S> = Order::default();
    let mut node = Node::default();
    let mut fed = Fed::default();
    let mut ran = Ran::default();
    let mut kinds: Vec<Kind> = Vec::new();
    // Gates queued before each request arrived (a sync's own gate included).
    let mut gates_before: Vec<usize> = Vec::new();
    // Gates queued, and passed, so far; the driver's queue of gates waiting.
    let (mut gates_queued, mut gates_passed, mut gates_waiting) = (0, 0, 0);
    let mut draining = false;
    let mut proposed: Vec<usize> = Vec::new();
    let mut sent: Vec<Sent> = Vec::new();
    let mut sent_events = 0;
    let mut replies = 0;
    // A read handed out by `Step::Run` and not reported yet: (request, zxid, writes seen).
    let mut running: Option<(usize, i64, Vec<usize>)> = None;
    let mut guard = 0;
    loop {
        guard += 1;
        assert!(guard < 100_000, "{what}: no progress");
        if ran.closed.is_some() {
            break;
        }
        let arrivals_over = kinds.len() == n || !o.accepting();
        let done = arrivals_over
            && o.outstanding() == 0
            && node.log.is_empty()
            && node.channel.is_empty()
            && running.is_none()
            && gates_waiting == 0;
        if done {
            break;
        }
        match c.below(6) {
            // A request arrives (the driver reads only while the core accepts).
            0 if kinds.len() < n && o.accepting() => {
                let i = kinds.len();
                match c.below(128) {
                    // A read: one that may not be attached (a multiRead, a sync on a lone
                    // voter, ...), a small getData or a 40 KiB one.
                    0..=41 => {
                        let cost = match c.below(4) {
                            0 => None,
                            3 => Some(40 << 10),
                            _ => Some(100),
                        };
                        kinds.push(Kind::Read);
                        gates_before.push(gates_queued);
                        o.read((i, cost));
                    }
                    42..=83 => {
                        kinds.push(Kind::Write);
                        gates_before.push(gates_queued);
                        o.write(i, i);
                    }
                    84..=111 => {
                        kinds.push(Kind::Ready);
                        gates_before.push(gates_queued);
                        o.ready(node.zxid, (i, None));
                    }
                    // A sync in an ensemble: its gate, then the sync itself, which may not be
                    // attached.
                    112..=125 => {
                        gates_queued += 1;
                        gates_waiting += 1;
                        ran.gates += 1;
                        o.gate();
                        kinds.push(Kind::Read);
                        gates_before.push(gates_queued);
                        o.read((i, None));
                    }
                    // closeSession: a write, and no request after it.
                    126 => {
                        kinds.push(Kind::Write);
                        gates_before.push(gates_queued);
                        node.close_write = Some(i);
                        o.write(i, i);
                        o.drain();
                        draining = true;
                    }
                    // A failed auth (zxid 0) or an unknown opcode (zxid -1): answered in its
                    // turn, then the connection closes.
                    _ => {
                        kinds.push(Kind::Ready);
                        gates_before.push(gates_queued);
                        let zxid = if c.below(2) == 0 { 0 } else { -1 };
                        o.ready(zxid, (i, None));
                        o.drain();
                        draining = true;
                    }
                }
                ran.requests += 1;
            }
            // Something else happens on the node.
            1 => match c.below(256) {
                // Another session's change: it may fire a watch of this connection.
                0..=84 => node.log.push_back(Entry::Other),
                // The leader expires the session.
                85 => node.log.push_back(Entry::Expire),
                // The session is claimed elsewhere, the node shuts down or loses its quorum.
                86 => node.channel.push_back(Sim::Close(node.events)),
                // The leader changes while a write of this session waits.
                87 if node.log.iter().any(|e| matches!(e, Entry::Own(_))) => {
                    node.channel.push_back(Sim::Failed)
                }
                _ => {}
            },
            // The next entry is applied here.
            2 if !node.log.is_empty() => node.apply_next(c),
            // A read run earlier is reported now.
            3 if running.is_some() => {
                if let Some((r, at, saw)) = running.take() {
                    feed(&mut o, &mut node, &mut fed);
                    o.answered(at, (r, Some((at, saw))));
                }
            }
            // The oldest gate's catch-up is done (rarely: failed).
            4 if gates_waiting > 0 => {
                gates_waiting -= 1;
                if c.below(16) == 0 {
                    fed.failed = true;
                    o.gate_failed("not caught up".into());
                } else {
                    gates_passed += 1;
                    o.gate_passed();
                }
            }
            // The driver's turn: feed the channel, carry out the steps.
            _ => loop {
                feed(&mut o, &mut node, &mut fed);
                let Some(step) = o.poll() else {
                    // Every reply handed out is counted, and the core knows whether a write
                    // waits (the driver's attach cost depends on it).
                    if ran.closed.is_none() {
                        assert_eq!(o.outstanding(), kinds.len() - replies, "{what}");
                        let writes = kinds.iter().filter(|k| **k == Kind::Write).count();
                        assert_eq!(o.write_waiting(), writes > fed.outcomes, "{what}");
                    }
                    break;
                };
                assert!(
                    ran.closed.is_none(),
                    "{what}: a step after the close: {sent:?}"
                );
                // Nothing behind a sync gate is handed out before the gate passed.
                let gate_ok = |i: usize| gates_before[i] <= gates_passed;
                match step {
                    Step::Propose(w) => {
                        assert_eq!(kinds[w], Kind::Write, "{what}");
                        assert!(gate_ok(w), "{what}: write {w} proposed before its gate");
                        proposed.push(w);
                        node.log.push_back(Entry::Own(w));
                    }
                    Step::Attach(reads) => {
                        ran.attaches += 1;
                        // The bounds hold.
                        assert!(!reads.is_empty(), "{what}");
                        assert!(reads.len() <= MAX_ATTACHED_READS, "{what}");
                        let bytes: usize = reads.iter().filter_map(|r| r.1).sum();
                        assert!(bytes <= MAX_ATTACHED_BYTES, "{what}");
                        assert!(reads.iter().all(|r| r.1.is_some()), "{what}");
                        assert!(reads.iter().all(|r| gate_ok(r.0)), "{what}: behind a gate");
                        // Apply may have gone on since the poll, even past the write.
                        while !node.log.is_empty() && c.below(3) == 0 {
                            node.apply_next(c);
                        }
                        let Some(&w) = proposed.last() else {
                            panic!("{what}: reads attached to no write");
                        };
                        if node.applied.contains(&w) {
                            ran.early += 1;
                            let answers: Vec<SimAnswer> =
                                reads.iter().map(|r| node.answer(r.0)).collect();
                            node.early.entry(w).or_default().extend(answers);
                        } else {
                            let a = node.attached.entry(w).or_default();
                            a.extend(reads.iter().map(|r| r.0));
                        }
                    }
                    Step::Run((r, _)) => {
                        assert_eq!(kinds[r], Kind::Read, "{what}");
                        assert!(gate_ok(r), "{what}: read {r} ran before its gate passed");
                        assert!(running.is_none(), "{what}: two reads run at once");
                        let saw = node.applied.clone();
                        running = Some((r, node.zxid, saw));
                        // A driver may report the answer at once (as pipeline.rs does) or
                        // after polling again in between; either way apply goes on once
                        // the read let go of the lock, and the driver feeds the channel
                        // before it reports.
                        if c.below(2) == 0 {
                            break;
                        }
                        while !node.log.is_empty() && c.below(2) == 0 {
                            node.apply_next(c);
                        }
                        if let Some((r, at, saw)) = running.take() {
                            feed(&mut o, &mut node, &mut fed);
                            o.answered(at, (r, Some((at, saw))));
                        }
                    }
                    Step::Event((z, k)) => {
                        // Events go out in push order, none twice.
                        assert_eq!(k, sent_events, "{what}: event out of push order");
                        sent_events += 1;
                        sent.push(Sent::Event(z));
                    }
                    Step::Reply((i, answer)) => {
                        assert!(gate_ok(i), "{what}: reply {i} before its gate passed");
                        replies += 1;
                        match answer {
                            None => {
                                assert_eq!(kinds[i], Kind::Ready, "{what}");
                                sent.push(Sent::Reply(i, None));
                            }
                            Some((at, saw)) => {
                                // FIFO: a read sees exactly the session's writes sent before it.
                                let before: Vec<usize> =
                                    (0..i).filter(|&j| kinds[j] == Kind::Write).collect();
                                assert_eq!(saw, before, "{what}: read {i} saw other writes");
                                sent.push(Sent::Reply(i, Some(at)));
                            }
                        }
                    }
                    Step::Written { meta, zxid, .. } => {
                        replies += 1;
                        sent.push(Sent::Reply(meta, Some(zxid)));
                    }
                    Step::Close(why) => {
                        let closed = match why {
                            // Asked for, and everything taken was answered.
                            Close::Drained => {
                                assert!(draining, "{what}: drained without a drain");
                                assert_eq!(replies, kinds.len(), "{what}: drained early");
                                Closed::Drained
                            }
                            // At the session's end, after exactly the events pushed before it
                            // (a draining connection answers its closeSession first).
                            Close::SessionEnded => {
                                assert!(!draining, "{what}: a draining connection cut short");
                                assert_eq!(fed.ended, Some(sent_events), "{what}: {sent:?}");
                                Closed::SessionEnded
                            }
                            Close::Told => {
                                assert_eq!(fed.told, Some(sent_events), "{what}: {sent:?}");
                                Closed::Told
                            }
                            Close::Failed(why) => {
                                assert!(fed.failed, "{what}: closed for no failure: {why}");
                                Closed::Failed
                            }
                        };
                        ran.closed = Some(closed);
                    }
                }
            },
        }
    }
    // Nothing follows a close, whatever is fed.
    if ran.closed.is_some() {
        feed(&mut o, &mut node, &mut fed);
        assert!(o.poll().is_none(), "{what}: a step after the close");
        assert!(!o.accepting(), "{what}: accepting after the close");
    }
    let answered_all = matches!(ran.closed, None | Some(Closed::Drained));
    // Writes were proposed in request order (all of them unless the connection was cut).
    let writes: Vec<usize> = (0..kinds.len())
        .filter(|&i| kinds[i] == Kind::Write)
        .collect();
    assert!(writes.starts_with(&proposed), "{what}: {proposed:?}");
    if answered_all {
        assert_eq!(proposed, writes, "{what}");
    }
    // Replies left in request order, each request answered once (all of them unless cut).
    let order: Vec<usize> = sent
        .iter()
        .filter_map(|s| match s {
            Sent::Reply(i, _) => Some(*i),
            Sent::Event(_) => None,
        })
        .collect();
    let taken: Vec<usize> = (0..kinds.len()).collect();
    assert!(taken.starts_with(&order), "{what}: {order:?}");
    if answered_all {
        assert_eq!(order, taken, "{what}");
    }
    // Every event pushed went out unless the connection closed first.
    if ran.closed.is_none() {
        assert_eq!(sent_events, node.events, "{what}: events left behind");
    }
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
                "{what}: event {z} and the reply to {i} at {at}: {sent:?}"
            );
        }
    }
    ran
}
