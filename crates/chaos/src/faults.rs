//! Seeded, bounded fault schedules and their injection.
//!
//! A schedule is pure (seed in, plan out); the injector carries it out on an [`Ensemble`],
//! one fault at a time (calm, fault held, repaired), and records each as a [`FaultWindow`].
//! Every kind asked for comes once, in a seeded order, before any comes again, so a run long
//! enough for one round has injected them all.
//!
//! With observers (members after the voters, which never vote nor lead), a fault that is
//! about the quorum hits voters only: `kill-leader` kills the leader, `quorum-loss` pauses
//! every voter but the leader (observers keep running: they must not make up a quorum), and
//! `reconfig`/`resize` change the voters. `kill`, `pause` and `partition` of one member hit
//! any member, observers included; `restart-all` kills every member.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use tokio::sync::watch;
use zk_history::FaultWindow;

use crate::clock::Clock;
use crate::ensemble::{Ensemble, EnsembleError};

mod reconfig;

/// The kinds of fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// kill -9 a random member, restart it after the hold.
    Kill,
    /// kill -9 whichever member leads now.
    KillLeader,
    /// SIGSTOP / docker pause a random member (a long GC pause).
    Pause,
    /// Cut a random member off from the others (a network partition).
    Partition,
    /// kill -9 every member, then start them all.
    RestartAll,
    /// SIGSTOP / docker pause every voter but the leader (or but one, with no leader seen)
    /// for longer than the sessions' timeout: the quorum is away, the leader is left alone
    /// (S9.5: no session may expire for that, and none may when the quorum is back).
    QuorumLoss,
    /// Remove a random member by `reconfig` (as the superuser), stop it and delete its data,
    /// then start it afresh as a joining node and `reconfig` it back in; on some seeds the
    /// leader is killed -9 in the middle of one of the two changes (docs/chaos.md).
    Reconfig,
    /// On five members: shrink to three (two removed by one reconfig and wiped), replace one
    /// of the three by one of the removed at its own address and id (added and removed in one
    /// change), grow back to five; members chosen by the seed, the leader sometimes killed
    /// -9 in the middle of one of the changes.
    Resize,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 6] = [
        Kind::Kill,
        Kind::KillLeader,
        Kind::Pause,
        Kind::Partition,
        Kind::RestartAll,
        Kind::QuorumLoss,
    ];

    /// Kinds run only when asked for by name: they need an ensemble started for them
    /// ([`crate::Ensemble::superuser`]), which the docker backend is not.
    pub const OPTIONAL: [Kind; 2] = [Kind::Reconfig, Kind::Resize];

    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Kill => "kill",
            Kind::KillLeader => "kill-leader",
            Kind::Pause => "pause",
            Kind::Partition => "partition",
            Kind::RestartAll => "restart-all",
            Kind::QuorumLoss => "quorum-loss",
            Kind::Reconfig => "reconfig",
            Kind::Resize => "resize",
        }
    }

    /// How long the fault is held (before the repair), from `rng`; a quorum loss lasts
    /// longer than `session_timeout`.
    fn hold(self, rng: &mut StdRng, session_timeout: Duration) -> Duration {
        let ms = match self {
            Kind::Kill | Kind::KillLeader => rng.random_range(500..4_000),
            Kind::Pause => rng.random_range(500..5_000),
            Kind::Partition => rng.random_range(500..5_000),
            Kind::RestartAll => rng.random_range(100..2_000),
            // How long the removed members stay out (between two changes).
            Kind::Reconfig | Kind::Resize => rng.random_range(1_000..4_000),
            Kind::QuorumLoss => {
                let floor = u64::try_from(session_timeout.as_millis()).unwrap_or(u64::MAX);
                floor.saturating_add(rng.random_range(500..3_000))
            }
        };
        Duration::from_millis(ms)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Kind {
    type Err = String;

    fn from_str(s: &str) -> Result<Kind, String> {
        Kind::ALL
            .into_iter()
            .chain(Kind::OPTIONAL)
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Kind::ALL
                    .iter()
                    .chain(&Kind::OPTIONAL)
                    .map(|k| k.name())
                    .collect();
                format!("unknown fault kind {s:?} (known: {})", names.join(", "))
            })
    }
}

/// An ensemble's shape: members `0..voters` vote, the `observers` after them do not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Members {
    /// Voting members.
    pub voters: usize,
    /// Observers, numbered after the voters.
    pub observers: usize,
}

impl Members {
    /// `voters` members, no observer.
    pub fn voters(voters: usize) -> Members {
        Members {
            voters,
            observers: 0,
        }
    }

    /// How many members fault `kind` may pick its member from (members `0..n`): every
    /// member for a one-member fault that is not about the quorum, the voters otherwise
    /// (a kill-leader's or quorum-loss's member is the one it falls back on when no leader
    /// is seen; a reconfig's is a voter it removes).
    pub fn targets(self, kind: Kind) -> usize {
        match kind {
            Kind::Kill | Kind::Pause | Kind::Partition => self.voters + self.observers,
            Kind::KillLeader
            | Kind::RestartAll
            | Kind::QuorumLoss
            | Kind::Reconfig
            | Kind::Resize => self.voters,
        }
    }
}

impl From<usize> for Members {
    fn from(voters: usize) -> Members {
        Members::voters(voters)
    }
}

/// One planned fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Planned {
    /// Calm before it.
    pub calm: Duration,
    /// The fault.
    pub kind: Kind,
    /// The member it hits (ignored by KillLeader, which picks the leader when it strikes,
    /// and by RestartAll).
    pub member: usize,
    /// How long it is held.
    pub hold: Duration,
    /// A reconfig fault's leader kill in the middle of a change, if it has one.
    pub mid_kill: Option<MidKill>,
}

/// kill -9 of the leader in the middle of one of a reconfig fault's two changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MidKill {
    /// In which of the fault's changes (counted from 0, modulo their number).
    pub step: usize,
    /// How long after the change was first asked for.
    pub after: Duration,
    /// How long the killed leader stays down.
    pub hold: Duration,
}

/// The faults for a run of `duration` on `members` (a number of voters, or [`Members`] with
/// observers), from `seed`; empty `kinds` means no faults. `session_timeout` is the longest
/// session timeout of the run (a quorum loss outlasts it). Without observers a schedule is
/// what it was before observers existed.
pub fn schedule(
    seed: u64,
    duration: Duration,
    members: impl Into<Members>,
    kinds: &[Kind],
    session_timeout: Duration,
) -> Vec<Planned> {
    let members = members.into();
    let mut rng = StdRng::seed_from_u64(seed ^ 0xFA17_5EED);
    let mut plan = Vec::new();
    if kinds.is_empty() || members.voters == 0 {
        return plan;
    }
    let mut round: Vec<Kind> = Vec::new();
    let mut elapsed = Duration::ZERO;
    loop {
        if round.is_empty() {
            round = kinds.to_vec();
            round.shuffle(&mut rng);
        }
        let kind = round.pop().unwrap_or(Kind::Kill);
        let calm = Duration::from_millis(rng.random_range(1_000..3_000));
        let hold = kind.hold(&mut rng, session_timeout);
        let member = rng.random_range(0..members.targets(kind));
        // Drawn only for a reconfig, so schedules without one stay as they were.
        let membership = matches!(kind, Kind::Reconfig | Kind::Resize);
        let mid_kill = (membership && rng.random_bool(0.5)).then(|| MidKill {
            step: rng.random_range(0..6),
            after: Duration::from_millis(rng.random_range(0..300)),
            hold: Duration::from_millis(rng.random_range(500..2_500)),
        });
        let held = hold + mid_kill.map_or(Duration::ZERO, |k| k.hold);
        if elapsed + calm + held > duration {
            return plan;
        }
        elapsed += calm + held;
        plan.push(Planned {
            calm,
            kind,
            member,
            hold,
            mid_kill,
        });
    }
}

/// What the injector did.
#[derive(Debug, Default)]
pub struct Injected {
    /// Every fault, from injection to repair.
    pub windows: Vec<FaultWindow>,
    /// Faults that could not be injected or repaired (the run fails on these).
    pub errors: Vec<String>,
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, EnsembleError> + Send + 'static,
) -> Result<T, String> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(e) => Err(format!("fault task failed: {e}")),
    }
}

/// Carries out `plan` (stopping early when `stop` turns true, or before a fault whose calm
/// would end after `until` on `clock`: injecting and repairing take real time the plan does
/// not count, docker's most of all), repairing each fault before the next; prints one line
/// per fault. Each member about to be started again is sent on `restarted` first.
pub async fn inject(
    ensemble: Arc<dyn Ensemble>,
    plan: Vec<Planned>,
    clock: Clock,
    until: zk_history::Nanos,
    mut stop: watch::Receiver<bool>,
    restarted: Option<tokio::sync::mpsc::UnboundedSender<usize>>,
) -> Injected {
    let mut out = Injected::default();
    let voters = ensemble.voters();
    let name = |i: usize| {
        if i >= voters {
            format!("member {} (an observer)", i + 1)
        } else {
            format!("member {}", i + 1)
        }
    };
    for p in plan {
        if clock.now()
            + p.calm.as_nanos() as zk_history::Nanos
            + (p.hold.as_nanos() as zk_history::Nanos)
            > until
        {
            break;
        }
        let calm = tokio::time::sleep(p.calm);
        tokio::select! {
            _ = calm => {}
            _ = stop.wait_for(|s| *s) => break,
        }
        if matches!(p.kind, Kind::Reconfig | Kind::Resize) {
            let start = clock.now();
            let done = reconfig::fault(ensemble.clone(), &p, restarted.as_ref()).await;
            let end = clock.now();
            println!(
                "fault {:>8.3}s {}, repaired after {:.3}s{}",
                secs(start),
                done.what,
                secs(end - start),
                done.error
                    .as_ref()
                    .map(|e| format!(": FAILED: {e}"))
                    .unwrap_or_default()
            );
            if let Some(err) = done.error {
                out.errors.push(format!("{}: {err}", done.what));
            }
            out.windows.push(FaultWindow {
                kind: done.what,
                start,
                end,
                quorum_lost: done.quorum_lost,
            });
            continue;
        }
        let e = ensemble.clone();
        let (member, what) = match p.kind {
            Kind::KillLeader => match blocking(move || Ok(e.leader())).await {
                Ok(Some(l)) => (l, format!("kill -9 member {} (the leader)", l + 1)),
                _ => (
                    p.member,
                    format!("kill -9 member {} (no single leader seen)", p.member + 1),
                ),
            },
            Kind::Kill => (p.member, format!("kill -9 {}", name(p.member))),
            Kind::Pause => (p.member, format!("pause {}", name(p.member))),
            Kind::Partition => (p.member, format!("isolate {}", name(p.member))),
            Kind::RestartAll => (0, "kill -9 every member".to_string()),
            Kind::QuorumLoss => match blocking(move || Ok(e.leader())).await {
                Ok(Some(l)) => (l, format!("pause every voter but {} (the leader)", l + 1)),
                _ => (
                    p.member,
                    format!("pause every voter but {} (no leader seen)", p.member + 1),
                ),
            },
            // Carried out above, by `reconfig::fault`.
            Kind::Reconfig | Kind::Resize => continue,
        };
        let start = clock.now();
        let e = ensemble.clone();
        let kind = p.kind;
        let injected = blocking(move || match kind {
            Kind::Kill | Kind::KillLeader => e.kill(member),
            Kind::Pause => e.pause(member),
            Kind::Partition => e.isolate(member),
            Kind::RestartAll => (0..e.size()).try_for_each(|i| e.kill(i)),
            // Voters only: observers running on must not make up a quorum.
            Kind::QuorumLoss => (0..e.voters())
                .filter(|&i| i != member)
                .try_for_each(|i| e.pause(i)),
            Kind::Reconfig | Kind::Resize => Ok(()),
        })
        .await;
        if let Err(err) = injected {
            out.errors.push(format!("{what}: {err}"));
            println!("fault {:>8.3}s {what}: FAILED: {err}", secs(start));
            continue;
        }
        // The hold is not cut short by `stop`: a fault always gets its repair.
        tokio::time::sleep(p.hold).await;
        let e = ensemble.clone();
        // Members about to start again are announced first, so a session can be resumed on
        // each the moment its port opens (S9.6).
        let restarting: Vec<usize> = match kind {
            Kind::Kill | Kind::KillLeader => vec![member],
            Kind::RestartAll => (0..ensemble.size()).collect(),
            _ => Vec::new(),
        };
        if let Some(tx) = &restarted {
            for &i in &restarting {
                let _ = tx.send(i);
            }
        }
        let repaired = blocking(move || match kind {
            Kind::Kill | Kind::KillLeader => e.restart(member),
            Kind::Pause => e.resume(member),
            Kind::Partition => e.rejoin(member),
            Kind::RestartAll => (0..e.size()).try_for_each(|i| e.restart(i)),
            Kind::QuorumLoss => (0..e.voters())
                .filter(|&i| i != member)
                .try_for_each(|i| e.resume(i)),
            Kind::Reconfig | Kind::Resize => Ok(()),
        })
        .await;
        let end = clock.now();
        println!(
            "fault {:>8.3}s {what}, repaired after {:.3}s{}",
            secs(start),
            secs(end - start),
            repaired
                .as_ref()
                .err()
                .map(|e| format!(": REPAIR FAILED: {e}"))
                .unwrap_or_default()
        );
        if let Err(err) = repaired {
            out.errors.push(format!("repairing {what}: {err}"));
        }
        out.windows.push(FaultWindow {
            kind: what,
            start,
            end,
            quorum_lost: matches!(kind, Kind::RestartAll | Kind::QuorumLoss),
        });
    }
    out
}

fn secs(n: u64) -> f64 {
    n as f64 / 1e9
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schedule_is_a_function_of_its_seed() {
        let t = Duration::from_secs(4);
        let a = schedule(7, Duration::from_secs(60), 3, &Kind::ALL, t);
        let b = schedule(7, Duration::from_secs(60), 3, &Kind::ALL, t);
        let c = schedule(8, Duration::from_secs(60), 3, &Kind::ALL, t);
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn a_schedule_fits_its_duration_and_members() {
        for seed in 0..50 {
            let d = Duration::from_secs(40);
            let plan = schedule(seed, d, 3, &Kind::ALL, Duration::from_secs(4));
            let total: Duration = plan.iter().map(|p| p.calm + p.hold).sum();
            assert!(total <= d, "seed {seed}: {total:?}");
            assert!(plan.iter().all(|p| p.member < 3));
        }
        let none = schedule(1, Duration::from_secs(60), 3, &[], Duration::from_secs(4));
        assert!(none.is_empty());
    }

    #[test]
    fn every_kind_comes_before_any_repeats() {
        for seed in 0..50 {
            let plan = schedule(
                seed,
                Duration::from_secs(600),
                3,
                &Kind::ALL,
                Duration::ZERO,
            );
            let first: std::collections::BTreeSet<Kind> =
                plan.iter().take(Kind::ALL.len()).map(|p| p.kind).collect();
            assert_eq!(first.len(), Kind::ALL.len(), "seed {seed}");
        }
    }

    /// A quorum loss outlasts the sessions' timeout (S9.5 is about exactly that).
    #[test]
    fn a_quorum_loss_outlasts_the_session_timeout() {
        let t = Duration::from_secs(4);
        for seed in 0..50 {
            let plan = schedule(seed, Duration::from_secs(120), 3, &[Kind::QuorumLoss], t);
            assert!(!plan.is_empty(), "seed {seed}");
            assert!(plan.iter().all(|p| p.hold > t), "seed {seed}: {plan:?}");
        }
    }

    /// Only a reconfig draws a mid-change leader kill (so adding the kind left the other
    /// kinds' schedules as they were), and some reconfigs have one, in either change.
    #[test]
    fn only_a_reconfig_has_a_leader_kill_in_its_middle() {
        let t = Duration::from_secs(4);
        let d = Duration::from_secs(600);
        for seed in 0..20 {
            assert!(schedule(seed, d, 3, &Kind::ALL, t)
                .iter()
                .all(|p| p.mid_kill.is_none()));
        }
        let plans: Vec<Planned> = (0..20)
            .flat_map(|seed| schedule(seed, d, 3, &[Kind::Reconfig, Kind::KillLeader], t))
            .collect();
        let kills: Vec<MidKill> = plans.iter().filter_map(|p| p.mid_kill).collect();
        assert!(plans
            .iter()
            .all(|p| p.mid_kill.is_none() || p.kind == Kind::Reconfig));
        assert!(kills.iter().any(|k| k.step % 2 == 0));
        assert!(kills.iter().any(|k| k.step % 2 == 1));
        assert!(plans
            .iter()
            .any(|p| p.kind == Kind::Reconfig && p.mid_kill.is_none()));
    }

    /// Seed 1's first faults on three members, as the schedule drew them before observers
    /// (computed on 5263c4e).
    const PINNED_SEED_1: [(Kind, usize); 6] = [
        (Kind::RestartAll, 2),
        (Kind::Kill, 2),
        (Kind::Pause, 2),
        (Kind::Partition, 0),
        (Kind::KillLeader, 1),
        (Kind::QuorumLoss, 0),
    ];

    /// Faults about the quorum pick voters only; a kill, pause or partition of one member
    /// may hit an observer.
    #[test]
    fn only_one_member_faults_hit_observers() {
        let m = Members {
            voters: 3,
            observers: 1,
        };
        for k in [Kind::Kill, Kind::Pause, Kind::Partition] {
            assert_eq!(m.targets(k), 4, "{k}");
        }
        for k in [
            Kind::KillLeader,
            Kind::RestartAll,
            Kind::QuorumLoss,
            Kind::Reconfig,
            Kind::Resize,
        ] {
            assert_eq!(m.targets(k), 3, "{k}");
        }
        let all: Vec<Kind> = Kind::ALL.into_iter().chain(Kind::OPTIONAL).collect();
        let plans: Vec<Planned> = (0..30)
            .flat_map(|seed| schedule(seed, Duration::from_secs(300), m, &all, Duration::ZERO))
            .collect();
        for p in &plans {
            assert!(p.member < m.targets(p.kind), "{p:?}");
        }
        assert!(plans.iter().any(|p| p.kind == Kind::Kill && p.member == 3));
        assert!(plans.iter().any(|p| p.kind == Kind::Pause && p.member == 3));
    }

    /// Without observers a schedule is the one it was before they existed (a seed names
    /// the same plan as in earlier runs' reports).
    #[test]
    fn no_observers_leaves_schedules_as_they_were() {
        let t = Duration::from_secs(4);
        let d = Duration::from_secs(120);
        for seed in 0..20 {
            assert_eq!(
                schedule(seed, d, 3, &Kind::ALL, t),
                schedule(seed, d, Members::voters(3), &Kind::ALL, t)
            );
        }
        // Pinned: seed 1's first faults on three members, as drawn before observers.
        let first: Vec<(Kind, usize)> = schedule(1, d, 3, &Kind::ALL, t)
            .iter()
            .take(6)
            .map(|p| (p.kind, p.member))
            .collect();
        assert_eq!(first, PINNED_SEED_1.to_vec());
    }

    #[test]
    fn kinds_parse_by_name() {
        assert_eq!("reconfig".parse::<Kind>(), Ok(Kind::Reconfig));
        assert_eq!("resize".parse::<Kind>(), Ok(Kind::Resize));
        for k in Kind::ALL {
            assert_eq!(k.name().parse::<Kind>(), Ok(k));
        }
        let err = "kil".parse::<Kind>().unwrap_err();
        assert!(err.contains("unknown fault kind \"kil\""), "{err}");
    }
}
