//! Sequential creates: none acknowledged is lost, none applied twice, none refused yet
//! present, names unique, and numbers increasing in real-time order under each parent.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::report::CheckResult;
use crate::Nanos;

/// One `create -s parent/prefix` as its client saw it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateOp {
    /// The client that asked.
    pub client: u32,
    /// The parent it created under.
    pub parent: String,
    /// The data written: unique per operation, so the final tree maps children back to it.
    pub token: String,
    /// When it was asked.
    pub invoke: Nanos,
    /// When it was answered (`None`: never, or ConnectionLoss).
    pub complete: Option<Nanos>,
    /// What came back.
    pub result: CreateResult,
}

/// The outcome of one create.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CreateResult {
    /// Acknowledged with this child name (without the parent).
    Created {
        /// e.g. `item-0000000042`.
        name: String,
    },
    /// Indeterminate: it may or may not have been applied.
    Unknown,
    /// Refused by the server with this error name: it must not have been applied.
    Failed {
        /// e.g. `NoNode`.
        error: String,
    },
}

/// One child found under a parent after the run (read once every fault was repaired).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinalChild {
    /// The child's name.
    pub name: String,
    /// Its data (a create's token).
    pub data: String,
}

/// The sequence number ZooKeeper appends: the last ten digits of the name.
pub fn sequence_of(name: &str) -> Option<i64> {
    let digits = name.len().checked_sub(10).map(|i| &name[i..])?;
    if digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.parse().ok()
    } else {
        None
    }
}

/// Checks every create against the final children of each parent.
pub fn check(creates: &[CreateOp], finals: &BTreeMap<String, Vec<FinalChild>>) -> CheckResult {
    let mut r = CheckResult::new("sequential creates");
    r.checked = creates.len();
    let by_token: BTreeMap<(&str, &str), &CreateOp> = creates
        .iter()
        .map(|c| ((c.parent.as_str(), c.token.as_str()), c))
        .collect();
    if by_token.len() != creates.len() {
        r.violations
            .push("malformed history: two creates share a token under one parent".into());
    }

    // What is there after the run, against what was asked.
    for (parent, children) in finals {
        let mut tokens_seen: BTreeMap<&str, &str> = BTreeMap::new();
        for child in children {
            if let Some(first) = tokens_seen.insert(&child.data, &child.name) {
                r.violations.push(format!(
                    "{parent}: one create applied twice: {first} and {} both hold token {}",
                    child.name, child.data
                ));
            }
            match by_token.get(&(parent.as_str(), child.data.as_str())) {
                None => r.violations.push(format!(
                    "{parent}/{}: present with data {:?} that no create wrote",
                    child.name, child.data
                )),
                Some(c) => match &c.result {
                    CreateResult::Failed { error } => r.violations.push(format!(
                        "{parent}/{}: present, but its create (client {}, token {}) was refused with {error}",
                        child.name, c.client, c.token
                    )),
                    CreateResult::Created { name } if *name != child.name => {
                        r.violations.push(format!(
                            "{parent}: the create acknowledged as {name} (token {}) is stored as {}",
                            c.token, child.name
                        ))
                    }
                    _ => {}
                },
            }
        }
    }

    // A parent whose final children could not be read: said once, its creates unjudged
    // (rather than every one of them reported lost).
    let unread: std::collections::BTreeSet<&str> = creates
        .iter()
        .map(|c| c.parent.as_str())
        .filter(|p| !finals.contains_key(*p))
        .collect();
    for p in &unread {
        r.violations.push(format!(
            "{p}: no final read of its children, its creates are unchecked"
        ));
    }

    // Acknowledged creates: present, unique, ordered.
    let mut acked: BTreeMap<&str, Vec<(&CreateOp, &str, i64)>> = BTreeMap::new();
    for c in creates
        .iter()
        .filter(|c| !unread.contains(c.parent.as_str()))
    {
        let CreateResult::Created { name } = &c.result else {
            continue;
        };
        let Some(seq) = sequence_of(name) else {
            r.violations.push(format!(
                "{}: acknowledged name {name} has no sequence number",
                c.parent
            ));
            continue;
        };
        let present = finals
            .get(&c.parent)
            .is_some_and(|ch| ch.iter().any(|f| f.name == *name));
        if !present {
            r.violations.push(format!(
                "{}/{name}: acknowledged to client {} at {} ms, missing after the run (lost)",
                c.parent,
                c.client,
                c.complete.unwrap_or(0) / 1_000_000
            ));
        }
        acked.entry(&c.parent).or_default().push((c, name, seq));
    }
    for (parent, mut list) in acked {
        list.sort_by_key(|&(_, _, seq)| seq);
        for pair in list.windows(2) {
            if pair[0].2 == pair[1].2 {
                r.violations.push(format!(
                    "{parent}: sequence {} acknowledged twice ({} to client {}, {} to client {})",
                    pair[0].2, pair[0].1, pair[0].0.client, pair[1].1, pair[1].0.client
                ));
            }
        }
        // Real-time order: a create answered before another was asked got the smaller
        // number. Sorting by completion lets one pass compare each create with the
        // largest number among those completed before it was invoked.
        let mut by_complete: Vec<_> = list
            .iter()
            .filter_map(|&(c, n, s)| c.complete.map(|t| (t, c, n, s)))
            .collect();
        by_complete.sort_by_key(|&(t, ..)| t);
        let mut by_invoke: Vec<_> = list.iter().map(|&(c, n, s)| (c.invoke, c, n, s)).collect();
        by_invoke.sort_by_key(|&(t, ..)| t);
        let mut done = 0;
        let mut highest: Option<(i64, &str)> = None;
        for &(invoke, c, name, seq) in &by_invoke {
            while done < by_complete.len() && by_complete[done].0 < invoke {
                let (_, _, n, s) = by_complete[done];
                if highest.is_none_or(|(h, _)| s > h) {
                    highest = Some((s, n));
                }
                done += 1;
            }
            if let Some((h, hname)) = highest {
                if seq <= h {
                    r.violations.push(format!(
                        "{parent}: {name} (client {}) was asked after {hname} was acknowledged, \
                         yet got a number not above it",
                        c.client
                    ));
                }
            }
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(
        client: u32,
        token: &str,
        invoke: Nanos,
        complete: Option<Nanos>,
        result: CreateResult,
    ) -> CreateOp {
        CreateOp {
            client,
            parent: "/q".into(),
            token: token.into(),
            invoke,
            complete,
            result,
        }
    }

    fn created(n: i64) -> CreateResult {
        CreateResult::Created {
            name: format!("item-{n:010}"),
        }
    }

    fn finals(children: &[(i64, &str)]) -> BTreeMap<String, Vec<FinalChild>> {
        let list = children
            .iter()
            .map(|&(n, t)| FinalChild {
                name: format!("item-{n:010}"),
                data: t.into(),
            })
            .collect();
        BTreeMap::from([("/q".to_string(), list)])
    }

    #[test]
    fn a_clean_history_passes() {
        let ops = [
            op(1, "a", 0, Some(10), created(0)),
            op(2, "b", 5, Some(12), created(1)),
            op(1, "c", 20, None, CreateResult::Unknown),
            op(2, "d", 21, Some(30), created(3)),
            op(
                2,
                "e",
                31,
                Some(32),
                CreateResult::Failed {
                    error: "NoNode".into(),
                },
            ),
        ];
        // "c" was applied (as 2) though its client never heard: allowed.
        let r = check(&ops, &finals(&[(0, "a"), (1, "b"), (2, "c"), (3, "d")]));
        assert!(r.passed(), "{r:?}");
        assert_eq!(r.checked, 5);
        // Concurrent creates may take numbers in either order.
        let ops = [
            op(1, "a", 0, Some(10), created(1)),
            op(2, "b", 5, Some(12), created(0)),
        ];
        assert!(check(&ops, &finals(&[(0, "b"), (1, "a")])).passed());
    }

    #[test]
    fn a_parent_never_read_back_is_one_problem_not_every_create_lost() {
        let ops = [
            op(1, "a", 0, Some(10), created(0)),
            op(1, "b", 11, Some(20), created(1)),
        ];
        let r = check(&ops, &BTreeMap::new());
        assert_eq!(r.violations.len(), 1, "{r:?}");
        assert!(r.violations[0].contains("no final read"));
    }

    #[test]
    fn a_lost_acknowledged_create_fails() {
        let ops = [
            op(1, "a", 0, Some(10), created(0)),
            op(1, "b", 11, Some(20), created(1)),
        ];
        let r = check(&ops, &finals(&[(1, "b")]));
        assert_eq!(r.violations.len(), 1, "{r:?}");
        assert!(r.violations[0].contains("lost"));
    }

    #[test]
    fn a_number_given_twice_fails() {
        let ops = [
            op(1, "a", 0, Some(10), created(4)),
            op(2, "b", 0, Some(10), created(4)),
        ];
        let r = check(&ops, &finals(&[(4, "a")]));
        assert!(
            r.violations
                .iter()
                .any(|v| v.contains("acknowledged twice")),
            "{r:?}"
        );
    }

    #[test]
    fn numbers_going_down_in_real_time_fail() {
        let ops = [
            op(1, "a", 0, Some(10), created(5)),
            op(2, "b", 11, Some(20), created(3)),
        ];
        let r = check(&ops, &finals(&[(3, "b"), (5, "a")]));
        assert_eq!(r.violations.len(), 1, "{r:?}");
        assert!(r.violations[0].contains("not above"));
    }

    #[test]
    fn refused_yet_present_and_phantoms_and_doubles_fail() {
        let ops = [
            op(
                1,
                "a",
                0,
                Some(10),
                CreateResult::Failed {
                    error: "NodeExists".into(),
                },
            ),
            op(1, "b", 11, None, CreateResult::Unknown),
        ];
        let r = check(&ops, &finals(&[(0, "a"), (1, "b"), (2, "b"), (3, "zzz")]));
        assert!(r.violations.iter().any(|v| v.contains("refused")), "{r:?}");
        assert!(
            r.violations.iter().any(|v| v.contains("applied twice")),
            "{r:?}"
        );
        assert!(
            r.violations.iter().any(|v| v.contains("no create wrote")),
            "{r:?}"
        );
        assert_eq!(r.violations.len(), 3);
    }

    #[test]
    fn an_acknowledged_name_stored_under_another_fails() {
        let ops = [op(1, "a", 0, Some(10), created(0))];
        let r = check(&ops, &finals(&[(0, "x"), (1, "a")]));
        assert!(
            r.violations.iter().any(|v| v.contains("is stored as")),
            "{r:?}"
        );
    }

    #[test]
    fn sequence_numbers_parse() {
        assert_eq!(sequence_of("item-0000000042"), Some(42));
        assert_eq!(sequence_of("0000000000"), Some(0));
        assert_eq!(sequence_of("item-42"), None);
        assert_eq!(sequence_of("item-00000000x2"), None);
    }
}
