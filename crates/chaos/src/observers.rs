//! Which workload clients go through observers, and how much of the record observers served.
//!
//! With observers in the ensemble, a third of the register and create clients (and every
//! other ephemeral owner, see [`crate::workload::ephemerals`]) connect to one observer only:
//! everything such a client completed, an observer served (its reads, its sessions, its
//! ephemerals; its writes forwarded to the leader). The others connect to every member,
//! observers included, so they land on an observer now and then too (not counted here). The
//! share is counted from the record, so a run whose observers served nothing shows it.

use std::collections::BTreeSet;
use std::fmt;

use zk_history::history::Outcome;
use zk_history::sequential::CreateResult;
use zk_history::History;

/// The observer client `c` connects to only, if it is pinned to one: clients 0, 3, 6, ...
/// with observers, spread over them in turn.
pub fn pinned(c: u32, observers: &[String]) -> Option<&String> {
    if observers.is_empty() || !c.is_multiple_of(3) {
        return None;
    }
    observers.get((c / 3) as usize % observers.len())
}

/// What the clients pinned to observers did, out of the whole record.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ObserverShare {
    /// Register calls completed (answered) by pinned clients.
    pub register_calls: usize,
    /// Register calls completed by any client (the final reads included).
    pub register_calls_all: usize,
    /// Of the pinned clients' calls: reads answered.
    pub reads: usize,
    /// Of the pinned clients' calls: writes acknowledged (compare-and-set or not).
    pub writes: usize,
    /// Of the pinned clients' calls: compare-and-sets refused for their version.
    pub bad_versions: usize,
    /// Sequential creates acknowledged to pinned clients.
    pub creates: usize,
    /// Sequential creates acknowledged to any client.
    pub creates_all: usize,
    /// Ephemeral-owning sessions of pinned owners.
    pub sessions: usize,
    /// Ephemeral-owning sessions of all owners.
    pub sessions_all: usize,
}

impl ObserverShare {
    /// Counts `history`'s operations by the clients in `via_observers`.
    pub fn of(history: &History, via_observers: &BTreeSet<u32>) -> ObserverShare {
        let mut share = ObserverShare::default();
        for op in history.registers.iter().flat_map(|r| &r.ops) {
            if op.complete.is_none() {
                continue;
            }
            share.register_calls_all += 1;
            if !via_observers.contains(&op.client) {
                continue;
            }
            share.register_calls += 1;
            match op.outcome {
                Outcome::Read { .. } => share.reads += 1,
                Outcome::Written { .. } => share.writes += 1,
                Outcome::BadVersion => share.bad_versions += 1,
                Outcome::Unknown => {}
            }
        }
        for c in &history.creates {
            if matches!(c.result, CreateResult::Created { .. }) {
                share.creates_all += 1;
                if via_observers.contains(&c.client) {
                    share.creates += 1;
                }
            }
        }
        share.sessions_all = history.sessions.len();
        share.sessions = history
            .sessions
            .iter()
            .filter(|s| via_observers.contains(&s.client))
            .count();
        share
    }

    /// The pinned clients' part of the completed register calls, in percent.
    pub fn register_percent(&self) -> f64 {
        percent(self.register_calls, self.register_calls_all)
    }
}

fn percent(part: usize, all: usize) -> f64 {
    if all == 0 {
        0.0
    } else {
        part as f64 * 100.0 / all as f64
    }
}

impl fmt::Display for ObserverShare {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "served by observers (clients connected to observers only): {} of {} register \
             calls ({:.0} %: {} reads, {} writes acknowledged, {} refused for their version), \
             {} of {} acknowledged creates, {} of {} ephemeral-owning sessions",
            self.register_calls,
            self.register_calls_all,
            self.register_percent(),
            self.reads,
            self.writes,
            self.bad_versions,
            self.creates,
            self.creates_all,
            self.sessions,
            self.sessions_all
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zk_history::ephemeral::{Fate, SessionRecord};
    use zk_history::history::{Call, RegisterHistory, RegisterRecord};
    use zk_history::sequential::CreateOp;

    #[test]
    fn a_third_of_the_clients_are_pinned_spread_over_the_observers() {
        assert_eq!(pinned(0, &[]), None);
        let one = vec!["o4".to_string()];
        let pinned_one: Vec<u32> = (0..6).filter(|&c| pinned(c, &one).is_some()).collect();
        assert_eq!(pinned_one, vec![0, 3]);
        let two = vec!["o4".to_string(), "o5".to_string()];
        assert_eq!(pinned(0, &two).map(String::as_str), Some("o4"));
        assert_eq!(pinned(3, &two).map(String::as_str), Some("o5"));
        assert_eq!(pinned(6, &two).map(String::as_str), Some("o4"));
        assert_eq!(pinned(1, &two), None);
    }

    fn reg(client: u32, outcome: Outcome, complete: Option<u64>) -> RegisterRecord {
        RegisterRecord {
            client,
            invoke: 1,
            complete,
            call: Call::Read,
            outcome,
            mzxid: None,
            seen_before: 0,
            synced: true,
        }
    }

    fn create(client: u32, result: CreateResult) -> CreateOp {
        CreateOp {
            client,
            parent: "/p".into(),
            token: format!("c{client}"),
            invoke: 1,
            complete: Some(2),
            result,
        }
    }

    fn session(client: u32) -> SessionRecord {
        SessionRecord {
            client,
            session_id: i64::from(client),
            timeout: 1,
            path: format!("/e/s{client}"),
            created: 1,
            fate: Fate::Alive { until: 2 },
            states: Vec::new(),
        }
    }

    /// Only answered calls count, and only the pinned clients' count as the observers'.
    #[test]
    fn the_share_counts_what_pinned_clients_completed() {
        let read = Outcome::Read {
            value: 0,
            version: 0,
        };
        let history = History {
            registers: vec![RegisterHistory {
                path: "/r0".into(),
                initial: (0, 0),
                ops: vec![
                    reg(0, read, Some(2)),
                    reg(0, Outcome::Written { version: 1 }, Some(2)),
                    reg(0, Outcome::BadVersion, Some(2)),
                    reg(0, Outcome::Unknown, None),
                    reg(1, read, Some(2)),
                    reg(2, Outcome::Written { version: 2 }, Some(2)),
                ],
            }],
            creates: vec![
                create(100, CreateResult::Created { name: "i-1".into() }),
                create(100, CreateResult::Unknown),
                create(101, CreateResult::Created { name: "i-2".into() }),
            ],
            finals: Default::default(),
            sessions: vec![session(10_002), session(10_001)],
            observations: Vec::new(),
            faults: Vec::new(),
        };
        let via: BTreeSet<u32> = [0, 100, 10_002].into_iter().collect();
        let share = ObserverShare::of(&history, &via);
        assert_eq!(
            share,
            ObserverShare {
                register_calls: 3,
                register_calls_all: 5,
                reads: 1,
                writes: 1,
                bad_versions: 1,
                creates: 1,
                creates_all: 2,
                sessions: 1,
                sessions_all: 2,
            }
        );
        assert!((share.register_percent() - 60.0).abs() < 1e-9);
        assert_eq!(
            ObserverShare::of(&history, &BTreeSet::new()).register_calls,
            0
        );
    }
}
