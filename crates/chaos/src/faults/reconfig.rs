//! The membership faults: the membership changes while the workload runs, as an operator
//! changes it (docs/membership.md). A member to be removed is taken out by `reconfig`, then
//! stopped and its data deleted; a member to be added is started afresh as a node joining
//! the current members and put in by `reconfig`. `reconfig` removes one member and adds it
//! back; `resize` (five members) shrinks to three, replaces one of the three by one of the
//! removed (its own id and address) in one change, and grows back to five. The fault ends
//! when every member serves again. On some seeds the leader is killed -9 in the middle of
//! one of the changes and restarted after a hold, so a change is cut off by a leader failure
//! and finished by the next leader. Observers (members after the voters) are never
//! removed or added: they stay members throughout, following every change, and the admin
//! session may be served by them as by any member that stays.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;

use super::{blocking, Kind, MidKill, Planned};
use crate::ensemble::Ensemble;
use crate::membership::{carry_out, Change};

/// How long the ensemble has to serve whole again after the last change.
const SERVE_AGAIN: Duration = Duration::from_secs(60);

/// What the fault did.
pub(super) struct Outcome {
    /// What happened, for the fault line and the window.
    pub what: String,
    /// A leader was killed while a change left too few voters for a quorum without it.
    pub quorum_lost: bool,
    /// Why it failed, if it did.
    pub error: Option<String>,
}

/// One membership change: members added (started as joining nodes first) and removed
/// (retired once the change is made), in one reconfig.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Step {
    add: Vec<usize>,
    remove: Vec<usize>,
}

/// The changes of fault `kind` hitting `member` of `size` voters (members `0..size`; any
/// observers after them are left alone); an error where it cannot be made.
fn steps(kind: Kind, member: usize, size: usize) -> Result<Vec<Step>, String> {
    match kind {
        Kind::Resize if size != 5 => Err(format!("resize needs five voters, not {size}")),
        Kind::Resize => {
            // Rotated by the seed's member, so different runs move different members.
            let m = |k: usize| (member + k) % size;
            Ok(vec![
                Step {
                    add: vec![],
                    remove: vec![m(3), m(4)],
                },
                Step {
                    add: vec![m(3)],
                    remove: vec![m(2)],
                },
                Step {
                    add: vec![m(2), m(4)],
                    remove: vec![],
                },
            ])
        }
        _ => Ok(vec![
            Step {
                add: vec![],
                remove: vec![member],
            },
            Step {
                add: vec![member],
                remove: vec![],
            },
        ]),
    }
}

fn ids(members: &[usize]) -> String {
    members
        .iter()
        .map(|j| (j + 1).to_string())
        .collect::<Vec<_>>()
        .join(",")
}

fn describe(step: &Step) -> String {
    match (step.add.is_empty(), step.remove.is_empty()) {
        (false, false) => format!("add {} and remove {}", ids(&step.add), ids(&step.remove)),
        (false, true) => format!("add {}", ids(&step.add)),
        _ => format!("remove {}", ids(&step.remove)),
    }
}

/// Carries out membership fault `p` on `ensemble`; members restarted after a mid-change
/// kill are announced on `restarted` first.
pub(super) async fn fault(
    ensemble: Arc<dyn Ensemble>,
    p: &Planned,
    restarted: Option<&UnboundedSender<usize>>,
) -> Outcome {
    let size = ensemble.size();
    let voters = ensemble.voters();
    let plan = steps(p.kind, p.member, voters);
    let mut what = format!("{}:", p.kind.name());
    let mut quorum_lost = false;
    let result = async {
        let plan = plan?;
        let superuser = ensemble
            .superuser()
            .ok_or("this ensemble was not started for membership changes")?;
        let mut current: BTreeSet<usize> = (0..size).collect();
        for (n, step) in plan.iter().enumerate() {
            if n > 0 {
                tokio::time::sleep(p.hold).await;
            }
            what += &format!(" {};", describe(step));
            let before: Vec<usize> = current.iter().copied().collect();
            for &i in &step.add {
                let (e, members) = (ensemble.clone(), before.clone());
                blocking(move || e.start_joining(i, &members)).await?;
            }
            let mut specs = Vec::new();
            for &i in &step.add {
                let e = ensemble.clone();
                specs.push(blocking(move || e.server_spec(i)).await?);
            }
            current.retain(|i| !step.remove.contains(i));
            current.extend(&step.add);
            let after: Vec<usize> = current.iter().copied().collect();
            // The admin session lives on members in both configurations: one removed stops
            // serving, one added serves only once it is in.
            let servers = before
                .iter()
                .filter(|i| after.contains(i))
                .map(|&j| ensemble.client_addr(j))
                .collect::<Vec<_>>()
                .join(",");
            let change = Change {
                joining: (!specs.is_empty()).then(|| specs.join(",")),
                leaving: (!step.remove.is_empty()).then(|| ids(&step.remove)),
                want: after.iter().map(|&j| j as u64 + 1).collect(),
            };
            let kill = p.mid_kill.filter(|k| k.step % plan.len() == n);
            let done =
                change_with_kill(&ensemble, &servers, &superuser, &change, kill, restarted).await?;
            if let Some(note) = done.note {
                what += &format!(" {note};");
            }
            // Joint consensus needs both configurations' majorities: two voters lose theirs
            // with one dead.
            let voting = |m: &[usize]| m.iter().filter(|&&i| i < voters).count();
            quorum_lost |= done.killed && voting(&before).min(voting(&after)) <= 2;
            for &i in &step.remove {
                let e = ensemble.clone();
                blocking(move || e.retire(i)).await?;
            }
        }
        let e = ensemble.clone();
        blocking(move || e.wait_all_serving(SERVE_AGAIN)).await?;
        Ok::<(), String>(())
    }
    .await;
    Outcome {
        what: what.trim_end_matches(';').to_string(),
        quorum_lost,
        error: result.err(),
    }
}

/// How one change went.
struct Done {
    /// What happened besides the change (a leader killed in its middle).
    note: Option<String>,
    /// A leader was killed.
    killed: bool,
}

/// Carries out `c`; with `kill`, kills the leader `kill.after` into it (unless it is done
/// by then) and restarts it after `kill.hold` while the change goes on.
async fn change_with_kill(
    ensemble: &Arc<dyn Ensemble>,
    servers: &str,
    superuser: &str,
    c: &Change,
    kill: Option<MidKill>,
    restarted: Option<&UnboundedSender<usize>>,
) -> Result<Done, String> {
    let work = carry_out(servers, superuser, c);
    let Some(k) = kill else {
        work.await?;
        return Ok(Done {
            note: None,
            killed: false,
        });
    };
    tokio::pin!(work);
    tokio::select! {
        done = &mut work => {
            done?;
            return Ok(Done {
                note: Some("(done before the leader kill was due)".into()),
                killed: false,
            });
        }
        _ = tokio::time::sleep(k.after) => {}
    }
    let e = ensemble.clone();
    let Some(leader) = blocking(move || Ok(e.leader())).await? else {
        work.await?;
        return Ok(Done {
            note: Some("(no single leader seen to kill)".into()),
            killed: false,
        });
    };
    let e = ensemble.clone();
    blocking(move || e.kill(leader)).await?;
    let note = format!(
        "leader {} killed -9 {:.3}s into it, restarted after {:.3}s",
        leader + 1,
        k.after.as_secs_f64(),
        k.hold.as_secs_f64()
    );
    let e = ensemble.clone();
    let back = async move {
        tokio::time::sleep(k.hold).await;
        if let Some(tx) = restarted {
            let _ = tx.send(leader);
        }
        blocking(move || e.restart(leader)).await
    };
    let (done, back) = tokio::join!(work, back);
    back.map_err(|e| format!("restarting the killed leader: {e}"))?;
    done?;
    Ok(Done {
        note: Some(note),
        killed: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each plan ends where it began (every member in), never asks for fewer than three
    /// voters, and `resize` passes through three, replacing a member by another id.
    #[test]
    fn plans_end_whole_and_keep_three_voters() {
        for (kind, size) in [(Kind::Reconfig, 3), (Kind::Reconfig, 5), (Kind::Resize, 5)] {
            for member in 0..size {
                let plan = steps(kind, member, size).expect("a plan");
                let mut current: BTreeSet<usize> = (0..size).collect();
                let mut smallest = size;
                for s in &plan {
                    assert!(s.add.iter().all(|i| !current.contains(i)), "{plan:?}");
                    assert!(s.remove.iter().all(|i| current.contains(i)), "{plan:?}");
                    current.retain(|i| !s.remove.contains(i));
                    current.extend(&s.add);
                    smallest = smallest.min(current.len());
                }
                assert_eq!(current.len(), size, "{kind:?} {member}: {plan:?}");
                assert!(smallest >= 2, "{plan:?}");
                if kind == Kind::Resize {
                    assert_eq!(smallest, 3, "{plan:?}");
                    assert!(plan
                        .iter()
                        .any(|s| !s.add.is_empty() && !s.remove.is_empty()));
                }
            }
        }
        assert!(steps(Kind::Resize, 0, 3).is_err());
    }
}
