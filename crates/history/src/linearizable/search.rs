//! The exhaustive search: Wing & Gong's algorithm with Lowe's improvements (as in Porcupine).
//!
//! Operations with a known result contribute a call and a return event to a doubly linked
//! list sorted by time; at equal times calls come first, so such operations count as
//! concurrent. The operations that may be linearized next are the calls before the first
//! return. Linearizing one *lifts* its two events out of the list (undone by *unlift* when
//! backtracking, dancing-links style); a stack remembers how to resume; a cache of
//! (set of linearized operations, state) prunes configurations already shown to fail. The
//! set is a bitset fingerprinted by XOR-ing two 64-bit keys per operation (Zobrist hashing),
//! so it is updated in O(1) per step; a false cache hit needs a 128-bit collision.
//!
//! Operations with an unknown outcome have no return event: they never have to be placed,
//! and one never placed is linearized at +infinity, where any outcome is acceptable. They
//! sit outside the list, available once invoked before the first pending return.
//!
//! Register-specific reductions keep the branching small; each keeps the search exact, by an
//! exchange argument (some solution, if any exists, starts with a child that is tried):
//! - A pending read that matches the state, or a pending BadVersion that fails in it, changes
//!   nothing, so placing it right now is as good as anywhere later: it is the only child.
//! - An unknown-outcome set that would not apply in the current state is never placed there:
//!   leaving it for later (or +infinity) allows strictly more.
//! - Versions never decrease, so a configuration whose version is already past the version a
//!   pending read needs (or a pending acknowledged write starts from) is dead. Hence unknown-
//!   outcome sets are only tried where the acknowledged versions leave a gap.
//! - A read of a state whose version no acknowledged write got ("needy") can only be served
//!   by an unknown-outcome set writing its value: a configuration that has used up the
//!   candidates for some pending needy read is dead.
//! - Unknown-outcome sets with the same effect are interchangeable once invoked, so only the
//!   earliest of each kind is tried; values no needy read returns are merged into one, and a
//!   write whose result no read can observe is tried once, preferring a CAS (which can never
//!   apply later) over an unconditional write (which could).

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::hash::{BuildHasherDefault, Hasher};

use super::prepared::{Kind, Op, Outcome, Prepared};
use super::Verdict;

/// Stands for every value no read can tell apart.
const UNREAD: u32 = 0;
const NONE: u32 = u32::MAX;
/// Prefix operations shown in an explanation; older ones are summarised by count.
const SHOWN_PREFIX: usize = 8;
/// Pending operations listed at the point of failure.
const SHOWN_PENDING: usize = 8;

type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// The register as the search sees it: values replaced by small ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct State {
    value: u32,
    version: i32,
}

/// Where the search resumes among a configuration's children.
#[derive(Clone, Copy, Debug)]
enum Cursor {
    /// Nothing tried yet.
    Start,
    /// Scanning the list for an acknowledged write, from this entry on.
    Listed(u32),
    /// Trying unknown-outcome sets: the `idx`th candidate; `horizon` is the first pending
    /// return time.
    Unknown { horizon: u64, idx: usize },
    /// No children left.
    Done,
}

struct Frame {
    op: u32,
    before: State,
    /// How the parent continues if this child fails.
    resume: Cursor,
    /// The child was the parent's only option, so its failure is the parent's.
    forced: bool,
}

struct Child {
    op: u32,
    state: State,
    resume: Cursor,
    forced: bool,
}

/// Why a configuration is dead without looking further.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Doom {
    None,
    /// The version is past one a pending operation needs.
    Overtaken,
    /// A pending needy read has no unknown-outcome write left that could serve it.
    Unserved,
}

/// Why the deepest dead end got stuck.
enum Blocked {
    /// No pending operation fits the state.
    Stuck {
        /// Acknowledged operations invoked but not linearized, earliest return first.
        pending: Vec<u32>,
        unknown_available: usize,
        /// The pending operation whose version no unknown-outcome write may overtake, if
        /// that is what kept them out.
        pinned_by: Option<u32>,
    },
    /// This pending operation needs a version the register has left.
    Overtaken(u32),
    /// This pending read needs a write with unknown outcome, and none is left.
    Unserved(u32),
}

/// The deepest configuration at which the search got stuck.
struct DeadEnd {
    prefix: Vec<u32>,
    blocked: Blocked,
}

/// Decides `h` by search, at most `budget` steps.
pub(super) fn search(h: &Prepared<'_>, budget: u64) -> Verdict {
    let mut s = Search::new(h);
    s.run(budget)
}

struct Search<'h, 'a> {
    h: &'h Prepared<'a>,
    /// Per operation, the value it reads or writes as an id (see [`UNREAD`]).
    value_id: Vec<u32>,
    initial: State,

    // The event list; entry 0 is the sentinel of a circular list.
    next: Vec<u32>,
    prev: Vec<u32>,
    entry_op: Vec<u32>,
    entry_is_return: Vec<bool>,
    entry_time: Vec<u64>,
    call_entry: Vec<u32>,
    return_entry: Vec<u32>,
    acknowledged_left: usize,

    // Unknown-outcome sets grouped by effect (expected version, value id); members are in
    // invocation order and a class's linearized members are always a prefix of it.
    class_of: Vec<u32>,
    class_members: Vec<Vec<u32>>,
    class_next: Vec<usize>,
    class_value: Vec<u32>,
    unconditional_classes: Vec<u32>,
    unconditional_by_value: FxMap<u32, u32>,
    cas_classes: FxMap<i32, Vec<u32>>,
    cas_by_key: FxMap<(i32, u32), u32>,
    /// Unknown candidates of the configuration being expanded (recomputed, never stale:
    /// they depend only on the configuration).
    candidates: Vec<u32>,

    // Needy reads: per (value id, version) slot, how many are pending; per value id, how
    // many slots have some pending and how many unknown-outcome writes of it are left.
    needy_slot: Vec<u32>,
    slot_of_pair: FxMap<(u32, i32), u32>,
    slot_value: Vec<u32>,
    slot_pending: Vec<u32>,
    slots_pending: Vec<u32>,
    unknown_left: Vec<u32>,
    needy_values_at: FxMap<i32, Vec<u32>>,

    // Multiset of versions required by pending acknowledged operations, for the
    // versions-never-decrease test: distinct versions ascending, a count each, the lowest
    // non-zero one.
    req_slot: Vec<u32>,
    req_version: Vec<i32>,
    req_count: Vec<u32>,
    req_low: usize,

    linearized: Vec<u64>,
    zobrist: Vec<(u64, u64)>,
    fingerprint: (u64, u64),
    seen: HashSet<(u64, u64, State), BuildHasherDefault<FxHasher>>,

    dead_end: Option<DeadEnd>,
}

impl<'h, 'a> Search<'h, 'a> {
    fn new(h: &'h Prepared<'a>) -> Self {
        let n = h.ops.len();
        let initial_pair = (h.initial.value, h.initial.version);

        // Values some read returns get ids; a read whose version no acknowledged write with
        // its value got (and which is not the initial state) is needy.
        let mut ids: FxMap<u64, u32> = FxMap::default();
        let mut acked_pairs: HashSet<(u64, i32)> = HashSet::new();
        for op in &h.ops {
            match op.kind {
                Kind::Read { value, .. } => {
                    let next_id = ids.len() as u32 + 1;
                    ids.entry(value).or_insert(next_id);
                }
                Kind::Set {
                    value,
                    outcome: Outcome::Written(v),
                    ..
                } => {
                    acked_pairs.insert((value, v));
                }
                Kind::Set { .. } => {}
            }
        }
        let id_of = |v: u64| ids.get(&v).copied().unwrap_or(UNREAD);
        let values = ids.len() + 1;
        let mut slot_of_pair: FxMap<(u32, i32), u32> = FxMap::default();
        let mut slot_value = Vec::new();
        let mut needy_values_at: FxMap<i32, Vec<u32>> = FxMap::default();
        let mut needy_slot = vec![NONE; n];
        let mut needy_value = vec![false; values];
        for (i, op) in h.ops.iter().enumerate() {
            if let Kind::Read { value, version } = op.kind {
                if (value, version) == initial_pair || acked_pairs.contains(&(value, version)) {
                    continue;
                }
                let id = id_of(value);
                let slot = *slot_of_pair.entry((id, version)).or_insert_with(|| {
                    slot_value.push(id);
                    needy_values_at.entry(version).or_default().push(id);
                    slot_value.len() as u32 - 1
                });
                needy_slot[i] = slot;
                needy_value[id as usize] = true;
            }
        }
        // An unknown-outcome write matters by its value only if some needy read returns it.
        let value_id: Vec<u32> = h
            .ops
            .iter()
            .map(|op| match op.kind {
                Kind::Read { value, .. } => id_of(value),
                Kind::Set { value, .. } if op.is_unknown() => {
                    let id = id_of(value);
                    if needy_value[id as usize] {
                        id
                    } else {
                        UNREAD
                    }
                }
                Kind::Set { value, .. } => id_of(value),
            })
            .collect();
        let initial = State {
            value: id_of(h.initial.value),
            version: h.initial.version,
        };

        // Events sorted by time, calls before returns at equal times.
        let mut events: Vec<(u64, bool, u32)> = Vec::new();
        for (i, op) in h.ops.iter().enumerate() {
            if let Some(complete) = op.complete {
                events.push((op.invoke, false, i as u32));
                events.push((complete, true, i as u32));
            }
        }
        events.sort_unstable();
        let entries = events.len() + 1;
        let mut s = Search {
            h,
            value_id,
            initial,
            next: (0..entries as u32)
                .map(|e| (e + 1) % entries as u32)
                .collect(),
            prev: (0..entries as u32)
                .map(|e| (e + entries as u32 - 1) % entries as u32)
                .collect(),
            entry_op: vec![NONE; entries],
            entry_is_return: vec![false; entries],
            entry_time: vec![0; entries],
            call_entry: vec![NONE; n],
            return_entry: vec![NONE; n],
            acknowledged_left: events.len() / 2,
            class_of: vec![NONE; n],
            class_members: Vec::new(),
            class_next: Vec::new(),
            class_value: Vec::new(),
            unconditional_classes: Vec::new(),
            unconditional_by_value: FxMap::default(),
            cas_classes: FxMap::default(),
            cas_by_key: FxMap::default(),
            candidates: Vec::new(),
            needy_slot,
            slot_of_pair,
            slot_pending: vec![0; slot_value.len()],
            slot_value,
            slots_pending: vec![0; values],
            unknown_left: vec![0; values],
            needy_values_at,
            req_slot: vec![NONE; n],
            req_version: Vec::new(),
            req_count: Vec::new(),
            req_low: 0,
            linearized: vec![0; n.div_ceil(64)],
            zobrist: (0..n as u64)
                .map(|i| (mix(i.wrapping_mul(2)), mix(i.wrapping_mul(2) | 1)))
                .collect(),
            fingerprint: (0, 0),
            seen: HashSet::default(),
            dead_end: None,
        };
        for (k, &(time, is_return, op)) in events.iter().enumerate() {
            let e = k + 1;
            s.entry_op[e] = op;
            s.entry_is_return[e] = is_return;
            s.entry_time[e] = time;
            if is_return {
                s.return_entry[op as usize] = e as u32;
            } else {
                s.call_entry[op as usize] = e as u32;
            }
        }
        for i in 0..n {
            let slot = s.needy_slot[i];
            if slot != NONE {
                let slot = slot as usize;
                if s.slot_pending[slot] == 0 {
                    s.slots_pending[s.slot_value[slot] as usize] += 1;
                }
                s.slot_pending[slot] += 1;
            }
        }

        let mut unknown: Vec<u32> = (0..n as u32)
            .filter(|&i| h.ops[i as usize].is_unknown())
            .collect();
        unknown.sort_by_key(|&i| (h.ops[i as usize].invoke, i));
        let mut class_ids: FxMap<(Option<i32>, u32), u32> = FxMap::default();
        for i in unknown {
            let Kind::Set { expected, .. } = h.ops[i as usize].kind else {
                continue;
            };
            let value = s.value_id[i as usize];
            s.unknown_left[value as usize] += 1;
            let next_class = s.class_members.len() as u32;
            let class = *class_ids.entry((expected, value)).or_insert(next_class);
            if class == next_class {
                s.class_members.push(Vec::new());
                s.class_next.push(0);
                s.class_value.push(value);
                match expected {
                    None => {
                        s.unconditional_classes.push(class);
                        s.unconditional_by_value.insert(value, class);
                    }
                    Some(e) => {
                        s.cas_classes.entry(e).or_default().push(class);
                        s.cas_by_key.insert((e, value), class);
                    }
                }
            }
            s.class_of[i as usize] = class;
            s.class_members[class as usize].push(i);
        }

        let mut reqs: Vec<i32> = h.ops.iter().filter_map(Op::required_version).collect();
        reqs.sort_unstable();
        reqs.dedup();
        s.req_count = vec![0; reqs.len()];
        for (i, op) in h.ops.iter().enumerate() {
            if let Some(v) = op.required_version() {
                if let Ok(slot) = reqs.binary_search(&v) {
                    s.req_slot[i] = slot as u32;
                    s.req_count[slot] += 1;
                }
            }
        }
        s.req_version = reqs;
        s
    }

    fn run(&mut self, budget: u64) -> Verdict {
        let mut stack: Vec<Frame> = Vec::new();
        let mut state = self.initial;
        let mut cursor = if self.doom(None, state) == Doom::None {
            Cursor::Start
        } else {
            Cursor::Done
        };
        let mut steps = 0u64;
        loop {
            if self.acknowledged_left == 0 {
                return Verdict::Linearizable;
            }
            if steps >= budget {
                return Verdict::Inconclusive { explored: steps };
            }
            steps += 1;
            if let Some(child) = self.next_child(state, &mut cursor) {
                self.lift(child.op);
                let doom = self.doom(Some(child.op), child.state);
                if doom != Doom::None {
                    // Worth reporting: the child is a prefix that cannot be continued.
                    self.note_dead_end(&stack, Some(child.op), child.state);
                }
                let fresh = doom == Doom::None
                    && self
                        .seen
                        .insert((self.fingerprint.0, self.fingerprint.1, child.state));
                if fresh {
                    stack.push(Frame {
                        op: child.op,
                        before: state,
                        resume: child.resume,
                        forced: child.forced,
                    });
                    state = child.state;
                    cursor = Cursor::Start;
                } else {
                    self.unlift(child.op);
                    cursor = child.resume;
                }
                continue;
            }
            self.note_dead_end(&stack, None, state);
            loop {
                let Some(frame) = stack.pop() else {
                    return Verdict::NotLinearizable {
                        explanation: self.explain(),
                    };
                };
                self.unlift(frame.op);
                state = frame.before;
                if !frame.forced {
                    cursor = frame.resume;
                    break;
                }
            }
        }
    }

    /// The next child of the configuration at `state` after `cursor`, advancing `cursor`.
    fn next_child(&mut self, state: State, cursor: &mut Cursor) -> Option<Child> {
        loop {
            match *cursor {
                Cursor::Start => {
                    let mut e = self.next[0];
                    while e != 0 && !self.entry_is_return[e as usize] {
                        let op = self.entry_op[e as usize];
                        if self.changes_nothing(op, state) {
                            *cursor = Cursor::Done;
                            return Some(Child {
                                op,
                                state,
                                resume: Cursor::Done,
                                forced: true,
                            });
                        }
                        e = self.next[e as usize];
                    }
                    *cursor = Cursor::Listed(self.next[0]);
                }
                Cursor::Listed(mut e) => {
                    while e != 0 && !self.entry_is_return[e as usize] {
                        let op = self.entry_op[e as usize];
                        let after = self.next[e as usize];
                        if let Some(next) = self.write_step(op, state) {
                            *cursor = Cursor::Listed(after);
                            return Some(Child {
                                op,
                                state: next,
                                resume: *cursor,
                                forced: false,
                            });
                        }
                        e = after;
                    }
                    let horizon = if e == 0 {
                        u64::MAX
                    } else {
                        self.entry_time[e as usize]
                    };
                    // Every unknown-outcome set that applies raises the version.
                    *cursor = if i64::from(state.version) < self.lowest_required() {
                        Cursor::Unknown { horizon, idx: 0 }
                    } else {
                        Cursor::Done
                    };
                }
                Cursor::Unknown { horizon, idx } => {
                    let Some(version) = state.version.checked_add(1) else {
                        *cursor = Cursor::Done;
                        continue;
                    };
                    self.unknown_candidates(state.version, horizon);
                    let Some(&op) = self.candidates.get(idx) else {
                        *cursor = Cursor::Done;
                        continue;
                    };
                    *cursor = Cursor::Unknown {
                        horizon,
                        idx: idx + 1,
                    };
                    return Some(Child {
                        op,
                        state: State {
                            value: self.value_id[op as usize],
                            version,
                        },
                        resume: *cursor,
                        forced: false,
                    });
                }
                Cursor::Done => return None,
            }
        }
    }

    /// Fills `candidates` with the unknown-outcome sets worth trying at `version`: one per
    /// distinct useful effect (see the module comment for why the others are redundant).
    fn unknown_candidates(&mut self, version: i32, horizon: u64) {
        let mut out = std::mem::take(&mut self.candidates);
        out.clear();
        let produced = i64::from(version) + 1;
        let needy_next: &[u32] = i32::try_from(produced)
            .ok()
            .and_then(|v| self.needy_values_at.get(&v))
            .map_or(&[], Vec::as_slice);
        let mut unobserved_tried = false;
        if let Some(classes) = self.cas_classes.get(&version) {
            for &class in classes {
                let Some(op) = self.available(class, horizon) else {
                    continue;
                };
                let value = self.class_value[class as usize];
                if value != UNREAD && needy_next.contains(&value) {
                    out.push(op);
                } else if !unobserved_tried {
                    out.push(op);
                    unobserved_tried = true;
                }
            }
        }
        for &value in needy_next {
            let cas_covers = self
                .cas_by_key
                .get(&(version, value))
                .is_some_and(|&c| self.available(c, horizon).is_some());
            if cas_covers {
                continue;
            }
            if let Some(&class) = self.unconditional_by_value.get(&value) {
                out.extend(self.available(class, horizon));
            }
        }
        if !unobserved_tried {
            let unread = self
                .unconditional_by_value
                .get(&UNREAD)
                .and_then(|&c| self.available(c, horizon));
            match unread {
                Some(op) => out.push(op),
                None => {
                    // Rare: only writes of values some needy read returns (at other
                    // versions) remain; each may still be the one applied here.
                    for &class in &self.unconditional_classes {
                        let value = self.class_value[class as usize];
                        if value != UNREAD && !needy_next.contains(&value) {
                            out.extend(self.available(class, horizon));
                        }
                    }
                }
            }
        }
        self.candidates = out;
    }

    /// The class's earliest unlinearized member, if it was invoked by `horizon`.
    fn available(&self, class: u32, horizon: u64) -> Option<u32> {
        let class = class as usize;
        let &op = self.class_members[class].get(self.class_next[class])?;
        (self.h.ops[op as usize].invoke <= horizon).then_some(op)
    }

    /// Whether acknowledged operation `op` can take effect in `state` without changing it.
    fn changes_nothing(&self, op: u32, state: State) -> bool {
        match self.h.ops[op as usize].kind {
            Kind::Read { version, .. } => {
                version == state.version && self.value_id[op as usize] == state.value
            }
            Kind::Set {
                expected,
                outcome: Outcome::BadVersion,
                ..
            } => expected.is_some_and(|e| e != state.version),
            Kind::Set { .. } => false,
        }
    }

    /// The state after acknowledged write `op`, if it can succeed in `state`.
    fn write_step(&self, op: u32, state: State) -> Option<State> {
        match self.h.ops[op as usize].kind {
            Kind::Set {
                expected,
                outcome: Outcome::Written(v),
                ..
            } if expected.is_none_or(|e| e == state.version)
                && state.version.checked_add(1) == Some(v) =>
            {
                Some(State {
                    value: self.value_id[op as usize],
                    version: v,
                })
            }
            _ => None,
        }
    }

    /// The lowest version a pending acknowledged operation needs, or +infinity.
    fn lowest_required(&self) -> i64 {
        self.req_version
            .get(self.req_low)
            .map_or(i64::MAX, |&v| i64::from(v))
    }

    /// Whether the configuration reached by lifting `last` into `state` is dead already.
    fn doom(&self, last: Option<u32>, state: State) -> Doom {
        if i64::from(state.version) > self.lowest_required() {
            return Doom::Overtaken;
        }
        let Some(op) = last else {
            return Doom::None;
        };
        let value = self.value_id[op as usize];
        if !self.h.ops[op as usize].is_unknown() || value == UNREAD {
            return Doom::None;
        }
        // Needy reads of this value at other versions each need a write of it still left.
        let here = self
            .slot_of_pair
            .get(&(value, state.version))
            .is_some_and(|&slot| self.slot_pending[slot as usize] > 0);
        let elsewhere = self.slots_pending[value as usize] - u32::from(here);
        if self.unknown_left[value as usize] < elsewhere {
            Doom::Unserved
        } else {
            Doom::None
        }
    }

    fn lift(&mut self, op: u32) {
        let i = op as usize;
        self.toggle(i);
        if self.h.ops[i].is_unknown() {
            let class = self.class_of[i] as usize;
            self.class_next[class] += 1;
            self.unknown_left[self.value_id[i] as usize] -= 1;
            return;
        }
        for e in [self.call_entry[i], self.return_entry[i]] {
            let (p, n) = (self.prev[e as usize], self.next[e as usize]);
            self.next[p as usize] = n;
            self.prev[n as usize] = p;
        }
        self.acknowledged_left -= 1;
        let slot = self.req_slot[i];
        if slot != NONE {
            let slot = slot as usize;
            self.req_count[slot] -= 1;
            while self.req_count.get(self.req_low) == Some(&0) {
                self.req_low += 1;
            }
        }
        let slot = self.needy_slot[i];
        if slot != NONE {
            let slot = slot as usize;
            self.slot_pending[slot] -= 1;
            if self.slot_pending[slot] == 0 {
                self.slots_pending[self.slot_value[slot] as usize] -= 1;
            }
        }
    }

    fn unlift(&mut self, op: u32) {
        let i = op as usize;
        self.toggle(i);
        if self.h.ops[i].is_unknown() {
            let class = self.class_of[i] as usize;
            self.class_next[class] -= 1;
            self.unknown_left[self.value_id[i] as usize] += 1;
            return;
        }
        for e in [self.return_entry[i], self.call_entry[i]] {
            let (p, n) = (self.prev[e as usize], self.next[e as usize]);
            self.next[p as usize] = e;
            self.prev[n as usize] = e;
        }
        self.acknowledged_left += 1;
        let slot = self.req_slot[i];
        if slot != NONE {
            let slot = slot as usize;
            self.req_count[slot] += 1;
            self.req_low = self.req_low.min(slot);
        }
        let slot = self.needy_slot[i];
        if slot != NONE {
            let slot = slot as usize;
            if self.slot_pending[slot] == 0 {
                self.slots_pending[self.slot_value[slot] as usize] += 1;
            }
            self.slot_pending[slot] += 1;
        }
    }

    fn toggle(&mut self, i: usize) {
        self.linearized[i / 64] ^= 1 << (i % 64);
        let (a, b) = self.zobrist[i];
        self.fingerprint.0 ^= a;
        self.fingerprint.1 ^= b;
    }

    fn is_linearized(&self, i: usize) -> bool {
        self.linearized[i / 64] & (1 << (i % 64)) != 0
    }

    /// Remembers the configuration if it is the deepest failure so far: the explanation
    /// reports the longest prefix the search could linearize. `last` is a child rejected
    /// as dead on arrival (still lifted), `state` the state it leads to.
    fn note_dead_end(&mut self, stack: &[Frame], last: Option<u32>, state: State) {
        let depth = stack.len() + usize::from(last.is_some());
        if self
            .dead_end
            .as_ref()
            .is_some_and(|d| d.prefix.len() >= depth)
        {
            return;
        }
        let ops = &self.h.ops;
        let pending_ops = |f: &dyn Fn(usize, &Op) -> bool| {
            (0..ops.len() as u32)
                .filter(|&i| !self.is_linearized(i as usize) && f(i as usize, &ops[i as usize]))
                .min_by_key(|&i| (ops[i as usize].complete, i))
        };
        let lowest = self.lowest_required();
        let blocked = match self.doom(last, state) {
            Doom::Overtaken => {
                pending_ops(&|_, op| op.required_version().map(i64::from) == Some(lowest))
                    .map(Blocked::Overtaken)
            }
            Doom::Unserved => {
                let value = last.map_or(UNREAD, |op| self.value_id[op as usize]);
                pending_ops(&|i, op| {
                    let slot = self.needy_slot[i];
                    slot != NONE
                        && self.slot_value[slot as usize] == value
                        && op.required_version() != Some(state.version)
                })
                .map(Blocked::Unserved)
            }
            Doom::None => None,
        };
        let blocked = blocked.unwrap_or_else(|| {
            let horizon = self.horizon();
            let mut pending: Vec<u32> = (0..ops.len() as u32)
                .filter(|&i| {
                    let op = &ops[i as usize];
                    !op.is_unknown() && !self.is_linearized(i as usize) && op.invoke <= horizon
                })
                .collect();
            pending.sort_by_key(|&i| (ops[i as usize].complete, i));
            pending.truncate(SHOWN_PENDING);
            let unknown_available = (0..ops.len())
                .filter(|&i| {
                    ops[i].is_unknown() && !self.is_linearized(i) && ops[i].invoke <= horizon
                })
                .count();
            let pinned_by = if unknown_available > 0 && i64::from(state.version) >= lowest {
                pending_ops(&|_, op| op.required_version().map(i64::from) == Some(lowest))
            } else {
                None
            };
            Blocked::Stuck {
                pending,
                unknown_available,
                pinned_by,
            }
        });
        self.dead_end = Some(DeadEnd {
            prefix: stack.iter().map(|f| f.op).chain(last).collect(),
            blocked,
        });
    }

    /// The time of the first pending return: operations invoked by then could be placed now.
    fn horizon(&self) -> u64 {
        let mut e = self.next[0];
        while e != 0 && !self.entry_is_return[e as usize] {
            e = self.next[e as usize];
        }
        if e == 0 {
            u64::MAX
        } else {
            self.entry_time[e as usize]
        }
    }

    fn explain(&self) -> String {
        let h = self.h;
        let Some(dead) = &self.dead_end else {
            return "not linearizable (no configuration was explored)".to_string();
        };
        let mut out = String::new();
        let acknowledged = h.ops.iter().filter(|op| !op.is_unknown()).count();
        let _ = write!(
            out,
            "no linearization exists. Longest linearizable prefix found: {} operation(s), \
             {} of the {acknowledged} acknowledged ones, from the initial state {}",
            dead.prefix.len(),
            dead.prefix
                .iter()
                .filter(|&&i| !h.ops[i as usize].is_unknown())
                .count(),
            h.initial
        );
        // Replay with the real values: the search state only keeps ids.
        let mut real = h.initial;
        let shown_from = dead.prefix.len().saturating_sub(SHOWN_PREFIX);
        if shown_from > 0 {
            let _ = write!(out, "\n  ... {shown_from} earlier operation(s)");
        }
        for (k, &i) in dead.prefix.iter().enumerate() {
            let src = &h.source[h.ops[i as usize].input];
            real = real.apply(src.call, src.result).unwrap_or(real);
            if k >= shown_from {
                let note = if h.ops[i as usize].is_unknown() {
                    " (takes effect here)"
                } else {
                    ""
                };
                let _ = write!(out, "\n  {}{note}  => {real}", h.describe(i as usize));
            }
        }
        let describe = |op: u32| h.describe(op as usize);
        let needs = |op: u32| needs(&h.ops[op as usize]);
        match &dead.blocked {
            Blocked::Overtaken(op) => {
                let _ = write!(
                    out,
                    "\nThen the register is at {real}, but {} still {}: versions never go \
                     back, so this order cannot be completed",
                    describe(*op),
                    needs(*op)
                );
            }
            Blocked::Unserved(op) => {
                let _ = write!(
                    out,
                    "\nThen {} still {}, but no write with unknown outcome that could produce \
                     it is left: its writes of that value are used above",
                    describe(*op),
                    needs(*op)
                );
            }
            Blocked::Stuck {
                pending,
                unknown_available,
                pinned_by,
            } => {
                let _ = write!(
                    out,
                    "\nThen, in state {real}, none of these could be linearized next \
                     (earliest completion first):"
                );
                for &op in pending {
                    let _ = write!(out, "\n  {}: {}", describe(op), needs(op));
                }
                if pending.is_empty() {
                    let _ = write!(out, "\n  (none invoked)");
                }
                match (unknown_available, pinned_by) {
                    (0, _) => {}
                    (k, Some(p)) => {
                        let _ = write!(
                            out,
                            "\n  nor any of the {k} invoked write(s) with unknown outcome: \
                             applying one raises the version past what {} still {}",
                            describe(*p),
                            needs(*p)
                        );
                    }
                    (k, None) => {
                        let _ = write!(
                            out,
                            "\n  and applying those of the {k} invoked write(s) with unknown \
                             outcome that could apply here did not help"
                        );
                    }
                }
            }
        }
        out
    }
}

/// What an acknowledged operation requires of the state it takes effect in.
fn needs(op: &Op) -> String {
    match op.kind {
        Kind::Read { value, version } => {
            format!("needs state (value {value}, version {version})")
        }
        Kind::Set {
            outcome: Outcome::Written(v),
            ..
        } => format!("needs version {}", i64::from(v) - 1),
        Kind::Set {
            expected: Some(e),
            outcome: Outcome::BadVersion,
            ..
        } => format!("needs a version other than {e}"),
        Kind::Set { .. } => "can never succeed".to_string(),
    }
}

/// SplitMix64's finaliser: independent-looking keys for the set fingerprint.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FxHash: the keys are small integers or already random-looking, so a one-multiply hash
/// suffices.
#[derive(Default)]
struct FxHasher(u64);

impl Hasher for FxHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.add(u64::from(b));
        }
    }

    fn write_u32(&mut self, x: u32) {
        self.add(u64::from(x));
    }

    fn write_i32(&mut self, x: i32) {
        self.add(u64::from(x as u32));
    }

    fn write_u64(&mut self, x: u64) {
        self.add(x);
    }
}

impl FxHasher {
    fn add(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(5) ^ x).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::prepared::Prepared;
    use super::super::synth::{linearizable_history, SynthParams};
    use super::super::{
        check_register, RegisterCall, RegisterOp, RegisterResult, RegisterState, Verdict,
    };
    use super::search;

    const INITIAL: RegisterState = RegisterState {
        value: 0,
        version: 0,
    };

    /// The search alone, without the pre-check in front of it.
    fn search_only(initial: RegisterState, ops: &[RegisterOp], budget: u64) -> Verdict {
        match Prepared::prepare(initial, ops) {
            Ok(h) => search(&h, budget),
            Err(reason) => Verdict::Malformed { reason },
        }
    }

    fn op(
        invoke: u64,
        complete: Option<u64>,
        call: RegisterCall,
        result: RegisterResult,
    ) -> RegisterOp {
        RegisterOp {
            client: 1,
            invoke,
            complete,
            call,
            result,
        }
    }

    fn read(invoke: u64, complete: u64, value: u64, version: i32) -> RegisterOp {
        op(
            invoke,
            Some(complete),
            RegisterCall::Read,
            RegisterResult::Read { value, version },
        )
    }

    fn write(invoke: u64, complete: u64, value: u64, version: i32) -> RegisterOp {
        op(
            invoke,
            Some(complete),
            RegisterCall::Write { value },
            RegisterResult::Written { version },
        )
    }

    #[test]
    fn search_alone_rejects_what_the_precheck_rejects() {
        // Each of these is caught by the pre-check in check_register; the search must agree.
        let cases: [&[RegisterOp]; 5] = [
            // Stale read.
            &[write(0, 10, 5, 1), read(20, 30, 0, 0)],
            // New-old inversion.
            &[write(0, 100, 5, 1), read(10, 20, 5, 1), read(30, 40, 0, 0)],
            // Two writes with one version.
            &[write(0, 10, 5, 1), write(0, 10, 6, 1)],
            // A value never written.
            &[read(0, 10, 42, 1)],
            // A version no write produced.
            &[write(0, 10, 5, 1), write(20, 30, 6, 3)],
        ];
        for ops in cases {
            let verdict = search_only(INITIAL, ops, 1_000);
            assert!(
                matches!(verdict, Verdict::NotLinearizable { .. }),
                "{verdict:?} for {ops:?}"
            );
        }
    }

    #[test]
    fn explanation_lists_the_prefix_and_the_stuck_operations() {
        // The write must come first (real time), and then the stale read can never go.
        let ops = [write(0, 10, 5, 1), read(20, 30, 5, 1), read(40, 50, 0, 0)];
        let Verdict::NotLinearizable { explanation } = search_only(INITIAL, &ops, 1_000) else {
            panic!("expected a violation");
        };
        assert!(explanation.contains("1 operation(s)"), "{explanation}");
        assert!(
            explanation.contains("[op #2, client 1, invoked 40 ns, completed 50 ns: getData")
                && explanation.contains("still needs state (value 0, version 0)")
                && explanation.contains("register is at (value 5, version 1)"),
            "{explanation}"
        );
        // Stuck without a version overtaken: the BadVersion needs the version to have moved.
        let bad = RegisterOp {
            call: RegisterCall::Cas {
                expected_version: 0,
                value: 9,
            },
            result: RegisterResult::BadVersion,
            ..read(0, 10, 0, 0)
        };
        let Verdict::NotLinearizable { explanation } = search_only(INITIAL, &[bad], 1_000) else {
            panic!("expected a violation");
        };
        assert!(
            explanation.contains("0 operation(s)")
                && explanation.contains("in state (value 0, version 0), none of these")
                && explanation.contains("needs a version other than 0"),
            "{explanation}"
        );
    }

    #[test]
    fn lost_writes_of_unread_values_do_not_multiply_the_search() {
        // 200 lost writes nobody reads and a read at version 100: one class of interchangeable
        // writes, so the search is linear rather than a choice among 200 at each step.
        let mut ops: Vec<RegisterOp> = (0..200)
            .map(|i| {
                op(
                    i,
                    None,
                    RegisterCall::Write { value: 1_000 + i },
                    RegisterResult::Unknown,
                )
            })
            .collect();
        ops.push(write(500, 510, 7, 101));
        ops.push(read(600, 610, 7, 101));
        assert_eq!(search_only(INITIAL, &ops, 1_000), Verdict::Linearizable);
    }

    /// Tiny histories that stress the unknown-outcome reductions: a few shared values, many
    /// lost replies, overlapping intervals; a sequential execution with at most one result
    /// then corrupted, so about half are linearizable.
    fn tiny_history() -> impl Strategy<Value = Vec<RegisterOp>> {
        let step = (
            0u8..3,
            1u64..4,
            -1i32..2,
            prop::bool::weighted(0.4),
            any::<bool>(),
            0u64..250,
            0u64..250,
        );
        (
            prop::collection::vec(step, 1..9),
            any::<prop::sample::Index>(),
            prop::option::of(0i32..5),
        )
            .prop_map(|(steps, pick, corrupt)| {
                let mut s = INITIAL;
                let mut ops = Vec::new();
                for (i, (kind, value, delta, lost, applied, before, after)) in
                    steps.into_iter().enumerate()
                {
                    let at = 100 * (i as u64 + 1);
                    let call = match kind {
                        0 => RegisterCall::Read,
                        1 => RegisterCall::Write { value },
                        _ => RegisterCall::Cas {
                            expected_version: (s.version + delta).max(0),
                            value,
                        },
                    };
                    let answer = match call {
                        RegisterCall::Read => RegisterResult::Read {
                            value: s.value,
                            version: s.version,
                        },
                        _ => {
                            let ok = RegisterResult::Written {
                                version: s.version + 1,
                            };
                            s.apply(call, ok).map_or(RegisterResult::BadVersion, |_| ok)
                        }
                    };
                    let result = if lost {
                        RegisterResult::Unknown
                    } else {
                        answer
                    };
                    if !lost || applied {
                        s = s.apply(call, answer).unwrap_or(s);
                    }
                    ops.push(op(
                        at.saturating_sub(before),
                        (!lost).then_some(at + after),
                        call,
                        result,
                    ));
                }
                if let Some(version) = corrupt {
                    let k = pick.index(ops.len());
                    ops[k].result = match ops[k].result {
                        RegisterResult::Read { value, .. } => {
                            RegisterResult::Read { value, version }
                        }
                        RegisterResult::Written { .. } if version == 0 => {
                            RegisterResult::BadVersion
                        }
                        RegisterResult::Written { .. } | RegisterResult::BadVersion => {
                            RegisterResult::Written { version }
                        }
                        RegisterResult::Unknown => RegisterResult::Unknown,
                    };
                }
                ops
            })
    }

    /// Every order of the operations, checked against the model (a lost one may be left out).
    fn brute_force(ops: &[RegisterOp]) -> bool {
        fn go(s: RegisterState, ops: &[RegisterOp], used: &mut [bool]) -> bool {
            let done = (0..ops.len()).all(|i| used[i] || ops[i].complete.is_none());
            done || (0..ops.len()).any(|i| {
                let blocked = (0..ops.len())
                    .any(|j| !used[j] && ops[j].complete.is_some_and(|c| c < ops[i].invoke));
                if used[i] || blocked {
                    return false;
                }
                let Some(next) = s.apply(ops[i].call, ops[i].result) else {
                    return false;
                };
                used[i] = true;
                let found = go(next, ops, used);
                used[i] = false;
                found
            })
        }
        go(INITIAL, ops, &mut vec![false; ops.len()])
    }

    fn kind(v: &Verdict) -> u8 {
        match v {
            Verdict::Linearizable => 0,
            Verdict::NotLinearizable { .. } => 1,
            Verdict::Inconclusive { .. } => 2,
            Verdict::Malformed { .. } => 3,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]

        /// The search alone is exact, and the pre-check only rejects what it rejects.
        #[test]
        fn search_alone_and_full_check_agree_with_brute_force(ops in tiny_history()) {
            let expected = if brute_force(&ops) { 0 } else { 1 };
            let alone = search_only(INITIAL, &ops, 1_000_000);
            prop_assert_eq!(kind(&alone), expected, "search alone: {:?} for {:#?}", alone, ops);
            let full = check_register(INITIAL, &ops, 1_000_000);
            prop_assert_eq!(kind(&full), expected, "full check: {:?} for {:#?}", full, ops);
        }

    }

    proptest! {
        // Each case checks a 300-operation history twice; fewer cases keep the suite quick.
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// At chaos scale, after corrupting one operation's result, the pre-check still only
        /// shortcuts the search.
        #[test]
        fn corrupted_mid_size_histories_agree(
            seed in any::<u64>(),
            pick in any::<prop::sample::Index>(),
            shift in -2i32..3,
            lost in 0u32..15,
        ) {
            let (initial, mut ops) = linearizable_history(&SynthParams {
                ops: 300,
                clients: 8,
                unknown_percent: lost,
                read_percent: 50,
                cas_percent: 25,
                seed,
            });
            let k = pick.index(ops.len());
            ops[k].result = match ops[k].result {
                RegisterResult::Read { value, version } => RegisterResult::Read { value, version: version + shift },
                RegisterResult::Written { version } => RegisterResult::Written { version: version + shift },
                RegisterResult::BadVersion => RegisterResult::Written { version: 1 + shift.abs() },
                RegisterResult::Unknown => RegisterResult::Unknown,
            };
            let alone = search_only(initial, &ops, 2_000_000);
            prop_assume!(!matches!(alone, Verdict::Inconclusive { .. }));
            let full = check_register(initial, &ops, 2_000_000);
            prop_assert_eq!(kind(&full), kind(&alone), "{:?} vs {:?}", full, alone);
        }
    }
}
