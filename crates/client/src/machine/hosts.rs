//! Which server to try next (S2.2): the list in the (already shuffled) order, round-robin,
//! with a back-off after every full round that found no server, doubling up to a cap.

use std::time::Duration;

/// The next step of the search for a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Try the server at this index.
    Try(usize),
    /// A full round failed: wait this long before the next round.
    Wait(Duration),
}

/// Round-robin over `n` servers with back-off between failed rounds.
#[derive(Debug, Clone)]
pub struct HostCycle {
    n: usize,
    next: usize,
    tried: usize,
    failed_rounds: u32,
    initial: Duration,
    max: Duration,
}

impl HostCycle {
    /// A cycle over `n` (≥ 1) servers starting at index 0.
    pub fn new(n: usize, initial: Duration, max: Duration) -> HostCycle {
        HostCycle {
            n: n.max(1),
            next: 0,
            tried: 0,
            failed_rounds: 0,
            initial,
            max,
        }
    }

    /// The next server, or the back-off once every server of the round has been tried.
    pub fn next_step(&mut self) -> Next {
        if self.tried >= self.n {
            let factor = 1u32
                .checked_shl(self.failed_rounds.min(20))
                .unwrap_or(u32::MAX);
            let wait = self.initial.saturating_mul(factor).min(self.max);
            self.failed_rounds = self.failed_rounds.saturating_add(1);
            self.tried = 0;
            return Next::Wait(wait);
        }
        let i = self.next;
        self.next = (i + 1) % self.n;
        self.tried += 1;
        Next::Try(i)
    }

    /// A server accepted the session: the next round starts after it, with no back-off.
    pub fn connected(&mut self) {
        self.tried = 0;
        self.failed_rounds = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// S2.2: round-robin, back-off only after a full round, doubling to the cap.
    #[test]
    fn s2_2_round_robin_with_backoff_between_rounds() {
        let mut c = HostCycle::new(3, 100 * MS, 350 * MS);
        let got: Vec<Next> = (0..12).map(|_| c.next_step()).collect();
        use Next::*;
        assert_eq!(
            got,
            vec![
                Try(0),
                Try(1),
                Try(2),
                Wait(100 * MS),
                Try(0),
                Try(1),
                Try(2),
                Wait(200 * MS),
                Try(0),
                Try(1),
                Try(2),
                Wait(350 * MS)
            ]
        );
        c.next_step();
        c.connected();
        // After connecting to 0, a drop moves on to 1 and a full round (1, 2, 0) comes first.
        assert_eq!(
            (0..4).map(|_| c.next_step()).collect::<Vec<_>>(),
            vec![Try(1), Try(2), Try(0), Wait(100 * MS)]
        );
    }
}
