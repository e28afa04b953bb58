//! Seeded, bounded fault schedules and their injection.
//!
//! A schedule is pure (seed in, plan out); the injector carries it out on an [`Ensemble`],
//! one fault at a time (calm, fault held, repaired), and records each as a [`FaultWindow`].
//! Every kind asked for comes once, in a seeded order, before any comes again, so a run long
//! enough for one round has injected them all.

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
    /// SIGSTOP / docker pause every member but the leader (or but one, with no leader seen)
    /// for longer than the sessions' timeout: the quorum is away, the leader is left alone
    /// (S9.5: no session may expire for that, and none may when the quorum is back).
    QuorumLoss,
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

    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Kill => "kill",
            Kind::KillLeader => "kill-leader",
            Kind::Pause => "pause",
            Kind::Partition => "partition",
            Kind::RestartAll => "restart-all",
            Kind::QuorumLoss => "quorum-loss",
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
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
                format!("unknown fault kind {s:?} (known: {})", names.join(", "))
            })
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
}

/// The faults for a run of `duration` on `size` members, from `seed`; empty `kinds` means
/// no faults. `session_timeout` is the longest session timeout of the run (a quorum loss
/// outlasts it).
pub fn schedule(
    seed: u64,
    duration: Duration,
    size: usize,
    kinds: &[Kind],
    session_timeout: Duration,
) -> Vec<Planned> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0xFA17_5EED);
    let mut plan = Vec::new();
    if kinds.is_empty() || size == 0 {
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
        let member = rng.random_range(0..size);
        if elapsed + calm + hold > duration {
            return plan;
        }
        elapsed += calm + hold;
        plan.push(Planned {
            calm,
            kind,
            member,
            hold,
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
        let e = ensemble.clone();
        let (member, what) = match p.kind {
            Kind::KillLeader => match blocking(move || Ok(e.leader())).await {
                Ok(Some(l)) => (l, format!("kill -9 member {} (the leader)", l + 1)),
                _ => (
                    p.member,
                    format!("kill -9 member {} (no single leader seen)", p.member + 1),
                ),
            },
            Kind::Kill => (p.member, format!("kill -9 member {}", p.member + 1)),
            Kind::Pause => (p.member, format!("pause member {}", p.member + 1)),
            Kind::Partition => (p.member, format!("isolate member {}", p.member + 1)),
            Kind::RestartAll => (0, "kill -9 every member".to_string()),
            Kind::QuorumLoss => match blocking(move || Ok(e.leader())).await {
                Ok(Some(l)) => (l, format!("pause every member but {} (the leader)", l + 1)),
                _ => (
                    p.member,
                    format!("pause every member but {} (no leader seen)", p.member + 1),
                ),
            },
        };
        let start = clock.now();
        let e = ensemble.clone();
        let kind = p.kind;
        let injected = blocking(move || match kind {
            Kind::Kill | Kind::KillLeader => e.kill(member),
            Kind::Pause => e.pause(member),
            Kind::Partition => e.isolate(member),
            Kind::RestartAll => (0..e.size()).try_for_each(|i| e.kill(i)),
            Kind::QuorumLoss => (0..e.size())
                .filter(|&i| i != member)
                .try_for_each(|i| e.pause(i)),
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
            Kind::QuorumLoss => (0..e.size())
                .filter(|&i| i != member)
                .try_for_each(|i| e.resume(i)),
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

    #[test]
    fn kinds_parse_by_name() {
        for k in Kind::ALL {
            assert_eq!(k.name().parse::<Kind>(), Ok(k));
        }
        let err = "kil".parse::<Kind>().unwrap_err();
        assert!(err.contains("unknown fault kind \"kil\""), "{err}");
    }
}
