//! The one monotonic clock every record of a run is stamped with.

use std::time::{Duration, Instant};

use zk_history::Nanos;

/// Nanoseconds since the run started.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    start: Instant,
}

impl Clock {
    /// A clock starting now.
    pub fn start() -> Clock {
        Clock {
            start: Instant::now(),
        }
    }

    /// Now, in nanoseconds since the start.
    pub fn now(&self) -> Nanos {
        self.start.elapsed().as_nanos() as Nanos
    }

    /// The instant a run time stands for.
    pub fn instant(&self, at: Nanos) -> Instant {
        self.start + Duration::from_nanos(at)
    }
}
