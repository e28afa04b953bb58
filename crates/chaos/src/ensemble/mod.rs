//! What a chaos run needs of an ensemble: its client addresses and the faults it can suffer.

mod docker;
mod processes;

pub use docker::Docker;
pub use processes::{Processes, ProcessesConfig};

use std::time::{Duration, Instant};

use thiserror::Error;

use crate::fourlw;

/// A fault could not be injected or repaired.
#[derive(Debug, Error)]
pub enum EnsembleError {
    /// A command (kill, docker) failed.
    #[error("{what}: {detail}")]
    Command {
        /// What was being done.
        what: String,
        /// What went wrong.
        detail: String,
    },
    /// An I/O error (spawning, proxies, data dirs).
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        source: std::io::Error,
    },
    /// The ensemble did not get to the asked state in time.
    #[error("{0}")]
    Timeout(String),
}

fn unsupported(i: usize, what: &str) -> EnsembleError {
    EnsembleError::Command {
        what: format!("member {}: {what}", i + 1),
        detail: "this ensemble cannot change its membership".into(),
    }
}

/// A three-or-more member ensemble whose members can be killed, paused and cut off.
/// Members are numbered from 0. Every method blocks (call them off the async runtime).
pub trait Ensemble: Send + Sync + 'static {
    /// How many members.
    fn size(&self) -> usize;
    /// Member `i`'s client address, as `host:port` reachable from here.
    fn client_addr(&self, i: usize) -> String;
    /// kill -9 member `i` (its disk stays).
    fn kill(&self, i: usize) -> Result<(), EnsembleError>;
    /// Starts member `i` again after a kill.
    fn restart(&self, i: usize) -> Result<(), EnsembleError>;
    /// Freezes member `i` (SIGSTOP, docker pause): a long GC pause.
    fn pause(&self, i: usize) -> Result<(), EnsembleError>;
    /// Ends a pause.
    fn resume(&self, i: usize) -> Result<(), EnsembleError>;
    /// Cuts member `i` off from every other member.
    fn isolate(&self, i: usize) -> Result<(), EnsembleError>;
    /// Heals an isolation.
    fn rejoin(&self, i: usize) -> Result<(), EnsembleError>;
    /// A few lines about member `i` for a failure report (e.g. the tail of its log).
    fn describe(&self, i: usize) -> String;

    /// The digest credentials (`user:password`) of a superuser that may `reconfig`, if this
    /// ensemble was started with reconfig enabled and can retire and re-add members
    /// ([`Ensemble::retire`], [`Ensemble::start_joining`]); `None` where it cannot.
    fn superuser(&self) -> Option<String> {
        None
    }

    /// Member `i` as reconfig names a joining server
    /// (`server.N=host:peerPort:electionPort:participant;clientHost:clientPort`).
    fn server_spec(&self, i: usize) -> Result<String, EnsembleError> {
        Err(unsupported(i, "naming it for reconfig"))
    }

    /// kill -9 member `i` and delete its data dir: it was removed from the ensemble, and
    /// comes back only as a new node joining it (docs/membership.md: a removed member is
    /// stopped; a node to be added starts with an empty data dir and the current members).
    fn retire(&self, i: usize) -> Result<(), EnsembleError> {
        Err(unsupported(i, "retiring it"))
    }

    /// Starts retired member `i` afresh (empty data dir, same id and addresses) as a node
    /// joining the current `members` (its `--peers`): it serves nothing until a reconfig
    /// adds it.
    fn start_joining(&self, i: usize, members: &[usize]) -> Result<(), EnsembleError> {
        let _ = members;
        Err(unsupported(i, "starting it as a joining node"))
    }

    /// The connect string naming every member.
    fn connect_string(&self) -> String {
        (0..self.size())
            .map(|i| self.client_addr(i))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// What member `i` says its mode is (`leader`, `follower`), `None` if it does not serve.
    fn mode(&self, i: usize) -> Option<String> {
        fourlw::mode(&self.client_addr(i))
    }

    /// How many of the members vote: members `0..voters()` are participants, the rest
    /// (the ids after theirs) are observers, which serve clients but never vote nor lead.
    fn voters(&self) -> usize {
        self.size()
    }

    /// Whether member `i` is an observer.
    fn is_observer(&self, i: usize) -> bool {
        i >= self.voters()
    }

    /// The voter that says it leads, if exactly one does. Observers are not asked: they
    /// never lead (an observer claiming to would show in [`Ensemble::wait_all_serving`]).
    fn leader(&self) -> Option<usize> {
        let leaders: Vec<usize> = (0..self.voters())
            .filter(|&i| self.mode(i).as_deref() == Some("leader"))
            .collect();
        (leaders.len() == 1).then(|| leaders[0])
    }

    /// Waits until one voter leads, every other voter follows and every observer
    /// observes, i.e. all serve; returns the leader.
    fn wait_all_serving(&self, timeout: Duration) -> Result<usize, EnsembleError> {
        let deadline = Instant::now() + timeout;
        loop {
            let modes: Vec<Option<String>> = (0..self.size()).map(|i| self.mode(i)).collect();
            if let Some(l) = all_serving(&modes, self.voters()) {
                return Ok(l);
            }
            if Instant::now() >= deadline {
                let logs: Vec<String> = (0..self.size()).map(|i| self.describe(i)).collect();
                return Err(EnsembleError::Timeout(format!(
                    "members did not all serve within {timeout:?}: modes {modes:?}\n{}",
                    logs.join("\n")
                )));
            }
            // Polling other processes' state: there is no event to wait on.
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The leader if `modes` (each member's `srvr` mode, `None` where it does not serve) show
/// the ensemble whole: exactly one of the first `voters` leads, the other voters follow, and
/// every member after them observes.
fn all_serving(modes: &[Option<String>], voters: usize) -> Option<usize> {
    let mut leader = None;
    for (i, mode) in modes.iter().enumerate() {
        match (i < voters, mode.as_deref()) {
            (true, Some("leader")) if leader.is_none() => leader = Some(i),
            (true, Some("follower")) | (false, Some("observer")) => {}
            _ => return None,
        }
    }
    leader
}

#[cfg(test)]
mod tests {
    use super::*;

    fn modes(m: &[Option<&str>]) -> Vec<Option<String>> {
        m.iter().map(|m| m.map(str::to_string)).collect()
    }

    #[test]
    fn whole_means_one_leader_followers_and_observers_observing() {
        let l = Some("leader");
        let f = Some("follower");
        let o = Some("observer");
        assert_eq!(all_serving(&modes(&[f, l, f]), 3), Some(1));
        assert_eq!(all_serving(&modes(&[f, l, f, o]), 3), Some(1));
        assert_eq!(all_serving(&modes(&[l, f, f, o, o]), 3), Some(0));
        // An observer not serving, or serving as something else, is not whole.
        assert_eq!(all_serving(&modes(&[f, l, f, None]), 3), None);
        assert_eq!(all_serving(&modes(&[f, l, f, f]), 3), None);
        // An observer that leads, even alone, is never taken for the leader.
        assert_eq!(all_serving(&modes(&[f, f, f, l]), 3), None);
        assert_eq!(all_serving(&modes(&[f, l, f, l]), 3), None);
        // A voter that observes, two leaders, none.
        assert_eq!(all_serving(&modes(&[o, l, f, o]), 3), None);
        assert_eq!(all_serving(&modes(&[l, l, f]), 3), None);
        assert_eq!(all_serving(&modes(&[f, f, f]), 3), None);
    }
}
