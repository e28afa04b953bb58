//! Session timeout negotiation (S4.2): the requested timeout clamped to [min, max].

use std::num::NonZeroU32;

/// Why a timeout configuration was refused at startup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TimeoutError {
    /// A zero tick would make every deadline "now" and the tracker spin.
    #[error("tickTime must be greater than 0 ms")]
    ZeroTick,
    /// A zero minimum would let a client ask for a session that expires at once.
    #[error("minSessionTimeout must be greater than 0 ms")]
    ZeroMin,
    /// The same check ZooKeeper makes on its configuration.
    #[error("minSessionTimeout ({min} ms) must not be larger than maxSessionTimeout ({max} ms)")]
    MinAboveMax {
        /// The configured or derived minimum.
        min: u64,
        /// The configured or derived maximum.
        max: u64,
    },
    /// The wire carries the negotiated timeout as a signed 32-bit int.
    #[error("maxSessionTimeout ({0} ms) does not fit the protocol's 32-bit timeout")]
    TooLarge(u64),
}

/// The configured tick and session-timeout bounds of a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeoutBounds {
    tick_ms: NonZeroU32,
    min_ms: u32,
    max_ms: u32,
}

impl TimeoutBounds {
    /// ZooKeeper's default tickTime.
    pub const DEFAULT_TICK_MS: u32 = 2000;
    /// Default minimum in ticks (S4.2).
    pub const DEFAULT_MIN_TICKS: u32 = 2;
    /// Default maximum in ticks (S4.2).
    pub const DEFAULT_MAX_TICKS: u32 = 20;

    /// Bounds derived from the tick alone: 2 and 20 ticks (S4.2).
    pub fn from_tick(tick_ms: u32) -> Result<Self, TimeoutError> {
        Self::new(tick_ms, None, None)
    }

    /// Bounds with optional operator overrides; `None` means the tick-derived default,
    /// like ZooKeeper's `-1` for minSessionTimeout / maxSessionTimeout.
    pub fn new(
        tick_ms: u32,
        min_ms: Option<u32>,
        max_ms: Option<u32>,
    ) -> Result<Self, TimeoutError> {
        let tick = NonZeroU32::new(tick_ms).ok_or(TimeoutError::ZeroTick)?;
        // Computed in u64 so a large tick cannot overflow before we report it.
        let min = min_ms.map_or(
            u64::from(tick_ms) * u64::from(Self::DEFAULT_MIN_TICKS),
            u64::from,
        );
        let max = max_ms.map_or(
            u64::from(tick_ms) * u64::from(Self::DEFAULT_MAX_TICKS),
            u64::from,
        );
        if min == 0 {
            return Err(TimeoutError::ZeroMin);
        }
        if min > max {
            return Err(TimeoutError::MinAboveMax { min, max });
        }
        let max_ms = u32::try_from(max)
            .ok()
            .filter(|&m| i32::try_from(m).is_ok())
            .ok_or(TimeoutError::TooLarge(max))?;
        // min <= max <= i32::MAX, so this cannot fail.
        let min_ms = min as u32;
        Ok(TimeoutBounds {
            tick_ms: tick,
            min_ms,
            max_ms,
        })
    }

    /// The tick: the expiry tracker's bucket width.
    pub fn tick_ms(&self) -> NonZeroU32 {
        self.tick_ms
    }

    /// The smallest timeout a session gets.
    pub fn min_ms(&self) -> u32 {
        self.min_ms
    }

    /// The largest timeout a session gets (also the secret-rotation window).
    pub fn max_ms(&self) -> u32 {
        self.max_ms
    }

    /// The timeout the server will enforce for a client that asked for `requested_ms`
    /// (the ConnectRequest's signed `timeOut`). Like ZooKeeper, zero and negative requests are
    /// simply below the minimum and get it. The result is always <= i32::MAX.
    pub fn negotiate(&self, requested_ms: i32) -> u32 {
        let requested = u32::try_from(requested_ms).unwrap_or(0);
        requested.clamp(self.min_ms, self.max_ms)
    }
}

impl Default for TimeoutBounds {
    /// tickTime 2000 ms: sessions of 4 s to 40 s.
    fn default() -> Self {
        TimeoutBounds {
            // Checked at compile time: the default tick is a non-zero constant.
            tick_ms: const {
                match NonZeroU32::new(Self::DEFAULT_TICK_MS) {
                    Some(t) => t,
                    None => panic!("default tick is zero"),
                }
            },
            min_ms: Self::DEFAULT_TICK_MS * Self::DEFAULT_MIN_TICKS,
            max_ms: Self::DEFAULT_TICK_MS * Self::DEFAULT_MAX_TICKS,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_measurements() {
        // R1 (tick 2000): 1000 -> 4000, 3999 -> 4000, 10000 -> 10000, 100000 -> 40000.
        let b = TimeoutBounds::from_tick(2000).unwrap();
        assert_eq!(b, TimeoutBounds::default());
        assert_eq!(b.negotiate(1000), 4000);
        assert_eq!(b.negotiate(3999), 4000);
        assert_eq!(b.negotiate(10000), 10000);
        assert_eq!(b.negotiate(100000), 40000);
        assert_eq!(b.negotiate(4000), 4000);
        assert_eq!(b.negotiate(40000), 40000);
        assert_eq!(b.negotiate(40001), 40000);
    }

    #[test]
    fn zero_and_negative_get_the_minimum() {
        // S4.2, matching ZooKeeperServer.processConnectRequest (plain `< min` comparison).
        let b = TimeoutBounds::default();
        assert_eq!(b.negotiate(0), 4000);
        assert_eq!(b.negotiate(-1), 4000);
        assert_eq!(b.negotiate(i32::MIN), 4000);
        assert_eq!(b.negotiate(i32::MAX), 40000);
    }

    #[test]
    fn bounds_are_configurable() {
        // S4.2: both bounds configurable.
        let b = TimeoutBounds::new(500, Some(300), Some(60_000)).unwrap();
        assert_eq!(b.tick_ms().get(), 500);
        assert_eq!(b.negotiate(100), 300);
        assert_eq!(b.negotiate(50_000), 50_000);
        assert_eq!(b.negotiate(70_000), 60_000);
        let only_min = TimeoutBounds::new(1000, Some(5000), None).unwrap();
        assert_eq!((only_min.min_ms(), only_min.max_ms()), (5000, 20_000));
        let equal = TimeoutBounds::new(1000, Some(7000), Some(7000)).unwrap();
        assert_eq!(equal.negotiate(1), 7000);
    }

    #[test]
    fn invalid_configurations_are_errors() {
        assert_eq!(TimeoutBounds::from_tick(0), Err(TimeoutError::ZeroTick));
        assert_eq!(
            TimeoutBounds::new(2000, Some(50_000), None),
            Err(TimeoutError::MinAboveMax {
                min: 50_000,
                max: 40_000
            })
        );
        assert_eq!(
            TimeoutBounds::new(2000, Some(0), None),
            Err(TimeoutError::ZeroMin)
        );
        assert_eq!(
            TimeoutBounds::from_tick(u32::MAX),
            Err(TimeoutError::TooLarge(u64::from(u32::MAX) * 20))
        );
        assert!(matches!(
            TimeoutBounds::from_tick(1 << 30),
            Err(TimeoutError::TooLarge(_))
        ));
        assert!(matches!(
            TimeoutBounds::new(1000, None, Some(u32::MAX)),
            Err(TimeoutError::TooLarge(_))
        ));
        let msg = TimeoutBounds::new(2000, Some(50_000), None)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("must not be larger"), "{msg}");
    }
}
