//! The order of one session's requests, replies and events, as a pure core: no tokio, no
//! sockets, no state lock, no clock. A connection's driver (the node's
//! `crates/node/src/connection/pipeline.rs`) feeds it what happened (a request read, a
//! write's applied outcome, a watch event pushed, a sync gate passed, the session ended) and
//! performs the [`Step`]s it hands back (propose a write, run a read now, send an event or a
//! reply, close), in the shape of the client crate's `machine::Core`. It lives in this crate,
//! not the node's, because it is the session's own rule and pure: the fuzz target `order`
//! (`crates/session/fuzz`) drives it directly.
//!
//! The rules (each has a unit test of its name in `tests.rs`):
//! - **Replies leave in request order.**
//! - **A read runs when every request before it is answered**: it sees exactly the session's
//!   writes sent before it (they were applied here: their outcomes came in) ...
//! - ... **and none sent after it: a write behind an unanswered read is held**, not proposed,
//!   until that read has run. Writes with no unanswered read ahead of them are proposed at
//!   once, in arrival order, so a run of writes is pipelined through the log.
//! - **A read behind a write is attached, within bounds, so the next write goes at once**:
//!   when the reads between the session's last proposed write W and a held write are all
//!   cheap single-path reads ([`Carry::attach_cost`]), they are handed to W
//!   ([`Step::Attach`]): the node runs them right after W is applied, before any later
//!   change, exactly the state they must see, and their answers come back with W's outcome
//!   ([`Order::applied`]); the held write is proposed at once. At most
//!   [`MAX_ATTACHED_READS`] reads and [`MAX_ATTACHED_BYTES`] of estimated reply bytes are
//!   attached to one write (they run inside apply, under the state's write lock, where every
//!   other reader of the node waits); past that, the write is held as above.
//! - **A write's outcome arrives in proposal order** (a session's writes enter the log in the
//!   order they were proposed), on the same stream as the watch events, in apply order.
//! - **Events and replies leave in zxid order**: before a reply showing the state at zxid Z,
//!   every event pushed so far with a zxid at or below Z goes out, and none above it (a watch
//!   set by that very reply must not fire before the reply reaches the client). While the
//!   front waits on something outside (a write not applied yet, a sync gate, nothing queued),
//!   every pushed event goes out: whatever is answered next shows a later state.
//! - **A sync gate** holds everything behind it until it passes; a failed gate closes.
//! - **The session ending** closes at once (an expired session's connection just closes, the
//!   client learns "expired" when it reconnects), unless the connection is draining after a
//!   closeSession: that gets its answer first. A pushed close closes at once; so does a write
//!   that failed (its fate is unknown: the client gets ConnectionLoss).
//! - **Draining** (after a closeSession, a failed auth, an unknown opcode): no request is
//!   taken any more, and the connection closes once everything queued is answered.
//!
//! What the driver must do for these to hold: feed every push waiting on its channel before
//! each [`Order::poll`], and run a [`Step::Run`] read on the applied state, then feed the
//! pushes waiting, then [`Order::answered`] with the zxid the read saw (every event of a
//! change up to that zxid is on the channel by then); have [`Step::Attach`] reads run right
//! after their write is applied, before the next change, and feed their answers with that
//! write's outcome.

#[cfg(test)]
mod tests;

use std::collections::VecDeque;

/// Reads attached to one write at most ([`Step::Attach`]). They run inside apply, under the
/// state's write lock, where every other reader and the next apply wait: each is one path
/// lookup, an ACL check and a copy bounded by [`MAX_ATTACHED_BYTES`] in all, so 16 of them
/// add about what 16 reads on the connection would take, once per write (not timed on its
/// own; the mixed benchmark's server CPU per operation went down, not up). 16 covers the runs
/// of reads between two writes of a client that pipelines 16 requests (as zk-bench does by
/// default); a longer run holds its write (one commit round more for it), as does a run with
/// more than 64 KiB to copy.
pub const MAX_ATTACHED_READS: usize = 16;

/// Estimated reply bytes attached to one write at most: what the attached reads copy under
/// the write lock (a getData's data, the names of a getChildren) stays a small memcpy; a read
/// of a large znode is not attached (its write is held instead).
pub const MAX_ATTACHED_BYTES: usize = 64 << 10;

/// The types a connection's requests carry through the core (the driver's own; the tests
/// use strings).
pub trait Carry {
    /// A local request: run when its turn comes.
    type Read;
    /// What is proposed for a write.
    type Proposal;
    /// What the reply to a write needs besides its outcome (its xid, kind, arrival).
    type WriteMeta;
    /// A write's applied outcome.
    type Outcome;
    /// A reply, ready to send.
    type Answer;
    /// A watch event.
    type Event;

    /// What answering `read` inside apply would cost, in estimated reply bytes, if it may be
    /// attached to a write at all (a cheap single-path read: getData, exists, getChildren);
    /// `None` for a read that must not run inside apply (a sync, a multi-path read, ...).
    fn attach_cost(read: &Self::Read) -> Option<usize>;
}

/// Why the connection closes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Close {
    /// Draining, and everything queued has been answered.
    Drained,
    /// The session expired or was closed (not by this connection's closeSession).
    SessionEnded,
    /// Told to stop: the session moved, the node shuts down or lost its quorum.
    Told,
    /// A write or a sync failed: what happened to it is unknown.
    Failed(String),
}

/// What the driver must do, in this order.
pub enum Step<K: Carry> {
    /// Propose this write now; its outcome comes back through [`Order::applied`].
    Propose(K::Proposal),
    /// Run this local request now, on the state as it is, then feed the pushes waiting and
    /// report [`Order::answered`].
    Run(K::Read),
    /// Hand these reads, in order, to the write proposed last (its outcome not fed yet): run
    /// them on the state right after it is applied, before any later change, and pass their
    /// answers with its outcome to [`Order::applied`]. If it was applied already, run them
    /// now: the state then holds it and none of the session's later writes (the next one is
    /// proposed only by a later step).
    Attach(Vec<K::Read>),
    /// Send this watch event.
    Event(K::Event),
    /// Send this reply.
    Reply(K::Answer),
    /// Send the reply to a write applied at `zxid`.
    Written {
        /// What the reply needs.
        meta: K::WriteMeta,
        /// The write's zxid (the reply header's).
        zxid: i64,
        /// What applying it did.
        outcome: K::Outcome,
    },
    /// Close the connection, after sending what the steps before asked for. Nothing follows.
    Close(Close),
}

/// One request (or sync gate) waiting for its turn.
enum Slot<K: Carry> {
    /// A local request waiting for everything before it to be answered.
    Read(K::Read),
    /// Handed to the driver by [`Step::Run`]; its answer comes through [`Order::answered`].
    Running,
    /// Handed to the proposed write before it by [`Step::Attach`]; its answer comes with that
    /// write's outcome. `cost` counts against [`MAX_ATTACHED_BYTES`].
    Attached { cost: usize },
    /// A write not proposed yet: a read before it is unanswered and must not see it.
    Held(K::Proposal, K::WriteMeta),
    /// A proposed write, waiting for its outcome.
    Proposed(K::WriteMeta),
    /// A write applied at `zxid`, its reply due in turn.
    Applied {
        meta: K::WriteMeta,
        zxid: i64,
        outcome: K::Outcome,
    },
    /// An answer known, sent in turn; it shows the state at `zxid`.
    Ready { zxid: i64, answer: K::Answer },
    /// A sync gate not passed yet (not a request: it is never answered).
    Gate,
}

/// Something pushed to the connection besides its writes' outcomes, kept in push order.
enum Pushed<E> {
    Event { zxid: i64, event: E },
    SessionEnded,
    Close,
}

/// See the module docs.
pub struct Order<K: Carry> {
    queue: VecDeque<Slot<K>>,
    /// Pushes not handed out yet, in push order.
    inbox: VecDeque<Pushed<K::Event>>,
    /// Steps not handed out yet.
    out: VecDeque<Step<K>>,
    /// Requests in `queue` (every slot but gates).
    requests: usize,
    /// Answer what is queued, then close.
    draining: bool,
    /// A [`Step::Close`] was emitted: nothing more happens.
    closed: bool,
}

impl<K: Carry> Default for Order<K> {
    fn default() -> Self {
        Order {
            queue: VecDeque::new(),
            inbox: VecDeque::new(),
            out: VecDeque::new(),
            requests: 0,
            draining: false,
            closed: false,
        }
    }
}

impl<K: Carry> Order<K> {
    /// Requests taken and not answered yet (the connection's in-flight count).
    pub fn outstanding(&self) -> usize {
        self.requests
    }

    /// True while the connection may take another request: it is not draining or closed.
    pub fn accepting(&self) -> bool {
        !self.draining && !self.closed
    }

    /// A local request arrived.
    pub fn read(&mut self, read: K::Read) {
        self.push(Slot::Read(read));
    }

    /// A write arrived (closeSession included: follow it with [`Order::drain`]).
    pub fn write(&mut self, proposal: K::Proposal, meta: K::WriteMeta) {
        self.push(Slot::Held(proposal, meta));
    }

    /// A request answered at once (an error before the log, an auth packet), showing the
    /// state at `zxid`; still sent in its turn.
    pub fn ready(&mut self, zxid: i64, answer: K::Answer) {
        self.push(Slot::Ready { zxid, answer });
    }

    /// A sync gate: what arrives after it waits until [`Order::gate_passed`].
    pub fn gate(&mut self) {
        if !self.closed {
            self.queue.push_back(Slot::Gate);
        }
    }

    /// Take no more requests; close once everything queued is answered.
    pub fn drain(&mut self) {
        self.draining = true;
    }

    /// The oldest gate passed (gates pass in order).
    pub fn gate_passed(&mut self) {
        if let Some(i) = self.queue.iter().position(|s| matches!(s, Slot::Gate)) {
            self.queue.remove(i);
        }
    }

    /// A gate failed (this node could not catch up): close.
    pub fn gate_failed(&mut self, why: String) {
        self.close(Close::Failed(why));
    }

    /// The read handed out by [`Step::Run`] was answered, showing the state at `zxid`.
    pub fn answered(&mut self, zxid: i64, answer: K::Answer) {
        if let Some(slot) = self.queue.iter_mut().find(|s| matches!(s, Slot::Running)) {
            *slot = Slot::Ready { zxid, answer };
        }
    }

    /// The oldest proposed write was applied here at `zxid`; `answers` are those of the reads
    /// attached to it ([`Step::Attach`]), in order, each with the zxid of the state it showed.
    pub fn applied(&mut self, zxid: i64, outcome: K::Outcome, answers: Vec<(i64, K::Answer)>) {
        let at = self
            .queue
            .iter()
            .position(|s| matches!(s, Slot::Proposed(_)));
        let Some(slot) = at.and_then(|i| self.queue.get_mut(i)) else {
            self.close(Close::Failed(format!(
                "an outcome at zxid {zxid} for no write"
            )));
            return;
        };
        let Slot::Proposed(meta) = std::mem::replace(slot, Slot::Gate) else {
            return;
        };
        *slot = Slot::Applied {
            meta,
            zxid,
            outcome,
        };
        // Its attached reads follow it in the queue.
        let mut answers = answers.into_iter();
        let after = at.map_or(self.queue.len(), |i| i + 1);
        for slot in self.queue.range_mut(after..) {
            if !matches!(slot, Slot::Attached { .. }) {
                break;
            }
            let Some((zxid, answer)) = answers.next() else {
                self.close(Close::Failed(format!(
                    "the write at zxid {zxid} came without its attached reads' answers"
                )));
                return;
            };
            *slot = Slot::Ready { zxid, answer };
        }
        if answers.next().is_some() {
            self.close(Close::Failed(format!(
                "the write at zxid {zxid} came with answers to no attached read"
            )));
        }
    }

    /// True while a write of this connection waits ahead (proposed, or held): a read
    /// arriving now may be attached to one ([`Carry::attach_cost`] need only be known then).
    pub fn write_waiting(&self) -> bool {
        self.queue
            .iter()
            .any(|s| matches!(s, Slot::Proposed(_) | Slot::Held(..)))
    }

    /// A proposed write will not be applied (Raft refused it, or the leader changed and its
    /// fate is unknown): close.
    pub fn failed(&mut self, why: String) {
        self.close(Close::Failed(why));
    }

    /// A watch fired for this connection at the change with `zxid`.
    pub fn event(&mut self, zxid: i64, event: K::Event) {
        self.inbox.push_back(Pushed::Event { zxid, event });
    }

    /// The session was closed or expired.
    pub fn session_ended(&mut self) {
        self.inbox.push_back(Pushed::SessionEnded);
    }

    /// This connection must stop serving.
    pub fn told_to_close(&mut self) {
        self.inbox.push_back(Pushed::Close);
    }

    /// The next step, if any.
    pub fn poll(&mut self) -> Option<Step<K>> {
        if self.out.is_empty() {
            self.advance();
        }
        self.out.pop_front()
    }

    fn push(&mut self, slot: Slot<K>) {
        if self.closed {
            return;
        }
        self.requests += 1;
        self.queue.push_back(slot);
    }

    fn close(&mut self, why: Close) {
        if !self.closed {
            self.closed = true;
            self.out.push_back(Step::Close(why));
        }
    }

    /// Hands out what is due: the front's answers in turn, each after the events up to the
    /// state it shows; the front read to run; the writes no unanswered read is ahead of.
    fn advance(&mut self) {
        loop {
            if self.closed {
                return;
            }
            let zxid = match self.queue.front() {
                Some(Slot::Ready { zxid, .. } | Slot::Applied { zxid, .. }) => *zxid,
                Some(Slot::Read(_)) => {
                    if let Some(Slot::Read(read)) = self
                        .queue
                        .front_mut()
                        .map(|s| std::mem::replace(s, Slot::Running))
                    {
                        self.out.push_back(Step::Run(read));
                    }
                    break;
                }
                _ => break,
            };
            self.send_pushes(zxid);
            if self.closed {
                return;
            }
            self.requests = self.requests.saturating_sub(1);
            match self.queue.pop_front() {
                Some(Slot::Ready { answer, .. }) => self.out.push_back(Step::Reply(answer)),
                Some(Slot::Applied {
                    meta,
                    zxid,
                    outcome,
                }) => self.out.push_back(Step::Written {
                    meta,
                    zxid,
                    outcome,
                }),
                _ => {}
            }
        }
        self.propose_held();
        // The front waits on something outside (or nothing is queued): whatever is answered
        // next shows a state later than every event pushed so far. A running read is the
        // exception: its answer may show an earlier state than a push fed since it ran.
        if !matches!(self.queue.front(), Some(Slot::Running)) {
            self.send_pushes(i64::MAX);
        }
        if self.draining && self.queue.is_empty() {
            self.close(Close::Drained);
        }
    }

    /// Proposes, in order, the held writes no unanswered read is ahead of, attaching the
    /// reads ahead of a held write to the write before them when they may be.
    fn propose_held(&mut self) {
        // The proposed write the slots walked last are (or may be) attached to, with the
        // reads and the cost attached to it so far.
        let mut anchor: Option<(usize, usize)> = None;
        let mut i = 0;
        while i < self.queue.len() {
            match &self.queue[i] {
                Slot::Read(_) => {
                    let Some(end) = self.attachable(i, anchor) else {
                        return;
                    };
                    let (mut n, mut bytes) = anchor.unwrap_or_default();
                    let mut reads = Vec::with_capacity(end - i);
                    for slot in self.queue.range_mut(i..end) {
                        if let Slot::Read(read) = std::mem::replace(slot, Slot::Gate) {
                            let cost = K::attach_cost(&read).unwrap_or_default();
                            n += 1;
                            bytes = bytes.saturating_add(cost);
                            *slot = Slot::Attached { cost };
                            reads.push(read);
                        }
                    }
                    self.out.push_back(Step::Attach(reads));
                    anchor = Some((n, bytes));
                    i = end;
                    continue;
                }
                Slot::Running => return,
                Slot::Held(..) => {
                    if let Slot::Held(proposal, meta) =
                        std::mem::replace(&mut self.queue[i], Slot::Gate)
                    {
                        self.queue[i] = Slot::Proposed(meta);
                        self.out.push_back(Step::Propose(proposal));
                    }
                    anchor = Some((0, 0));
                }
                Slot::Proposed(_) => anchor = Some((0, 0)),
                Slot::Attached { cost } => {
                    anchor = anchor.map(|(n, bytes)| (n + 1, bytes.saturating_add(*cost)));
                }
                Slot::Applied { .. } | Slot::Ready { .. } | Slot::Gate => anchor = None,
            }
            i += 1;
        }
    }

    /// Where the run of reads starting at `i` ends, if it may be attached to the proposed
    /// write before it (`anchor`: what that write has attached already): a held write follows
    /// the run (attaching only frees a write; reads with nothing held behind them run on the
    /// connection), every read of it may be attached, and the bounds hold with it.
    fn attachable(&self, i: usize, anchor: Option<(usize, usize)>) -> Option<usize> {
        let (mut n, mut bytes) = anchor?;
        let mut end = i;
        for slot in self.queue.range(i..) {
            let Slot::Read(read) = slot else { break };
            n += 1;
            bytes = bytes.saturating_add(K::attach_cost(read)?);
            end += 1;
        }
        let held_next = matches!(self.queue.get(end), Some(Slot::Held(..)));
        (held_next && n <= MAX_ATTACHED_READS && bytes <= MAX_ATTACHED_BYTES).then_some(end)
    }

    /// Hands out the pushes in order up to the first event fired after `zxid`.
    fn send_pushes(&mut self, zxid: i64) {
        while let Some(p) = self.inbox.front() {
            if matches!(p, Pushed::Event { zxid: z, .. } if *z > zxid) {
                return;
            }
            match self.inbox.pop_front() {
                Some(Pushed::Event { event, .. }) => self.out.push_back(Step::Event(event)),
                Some(Pushed::SessionEnded) if !self.draining => self.close(Close::SessionEnded),
                Some(Pushed::SessionEnded) | None => {}
                Some(Pushed::Close) => self.close(Close::Told),
            }
            if self.closed {
                return;
            }
        }
    }
}
