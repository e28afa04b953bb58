//! Leader changes the run did not inject (an election after a stall of an overloaded
//! machine, say) restart session clocks just as injected faults do: a new leader gives every
//! session a fresh full timeout (S9.3). A watcher polls every member's `srvr` and records each
//! spell without a single agreed leader as a window, so the checks allow for it too.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use zk_history::FaultWindow;

use crate::clock::Clock;
use crate::ensemble::Ensemble;

/// Polls until `stop`, adding to `windows` every spell from the first poll that saw the
/// leader gone or changed to the first that saw one leader again (a spell still open when
/// it stops is added too).
pub fn watch(
    ensemble: Arc<dyn Ensemble>,
    clock: Clock,
    stop: Arc<AtomicBool>,
    windows: Arc<Mutex<Vec<FaultWindow>>>,
) {
    let push = |w: FaultWindow| windows.lock().unwrap_or_else(|p| p.into_inner()).push(w);
    let mut leader: Option<usize> = None;
    let mut lost_at: Option<u64> = None;
    while !stop.load(Ordering::SeqCst) {
        let now = clock.now();
        let seen = ensemble.leader();
        match (seen, lost_at) {
            (Some(l), None) if leader.is_none_or(|old| old == l) => leader = Some(l),
            (Some(l), None) => {
                // Changed between two polls: a spell too short to see, but a change.
                push(window(leader, l, now, now));
                leader = Some(l);
            }
            (Some(l), Some(start)) => {
                push(window(leader, l, start, now));
                leader = Some(l);
                lost_at = None;
            }
            (None, None) => lost_at = Some(now),
            (None, Some(_)) => {}
        }
        // Polling other processes: there is no event to wait on.
        std::thread::sleep(Duration::from_millis(100));
    }
    if let Some(start) = lost_at {
        push(FaultWindow {
            kind: "no leader when the run ended".into(),
            start,
            end: clock.now(),
            quorum_lost: true,
        });
    }
}

fn window(old: Option<usize>, new: usize, start: u64, end: u64) -> FaultWindow {
    let kind = match old {
        Some(o) if o == new => format!("leader {} lost and regained (observed)", new + 1),
        Some(o) => format!("leader changed {} -> {} (observed)", o + 1, new + 1),
        None => format!("leader {} elected (observed)", new + 1),
    };
    // No member served as the one leader meanwhile: nobody could hear sessions, and the
    // leader after it gives each a fresh full timeout.
    FaultWindow {
        kind,
        start,
        end,
        quorum_lost: true,
    }
}
