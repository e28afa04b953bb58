//! Ephemeral nodes against their sessions' lives: gone soon after a close, gone within
//! timeout + tick (+ slack) after the session stops being heard, never gone while the
//! session lives, and a session expired only after a full timeout unheard while a quorum
//! could hear it (S9.5): the time a quorum was away does not count, and its return gives
//! every session a fresh full timeout.

use serde::{Deserialize, Serialize};

use crate::faults::{self, FaultWindow};
use crate::report::CheckResult;
use crate::Nanos;

/// One session that owned one ephemeral node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// The client (one session per client).
    pub client: u32,
    /// The session id the server gave.
    pub session_id: i64,
    /// The negotiated timeout.
    pub timeout: Nanos,
    /// Its ephemeral node.
    pub path: String,
    /// When the create of the ephemeral was acknowledged.
    pub created: Nanos,
    /// How the session ended.
    pub fate: Fate,
    /// Every state change its handle reported, in order.
    pub states: Vec<StateChange>,
}

/// How a session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Fate {
    /// `close()` was acknowledged at `at`.
    Closed {
        /// When close returned.
        at: Nanos,
    },
    /// Its client was cut off from every server at `since` and never came back.
    Silent {
        /// When the cut began.
        since: Nanos,
    },
    /// `close()` was asked at `since` and failed (ConnectionLoss): the session either closed
    /// then or went unheard from then on, so only the silent deadline applies.
    Abandoned {
        /// When close was asked.
        since: Nanos,
    },
    /// Its client kept it alive until `until` (after the final reads).
    Alive {
        /// When the run stopped watching it.
        until: Nanos,
    },
}

/// A state change of a session's handle, as its client saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateChange {
    /// When.
    pub at: Nanos,
    /// To what.
    pub state: ConnState,
}

/// The handle states that matter here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConnState {
    /// Handshake done (the server heard the session at that moment).
    Connected,
    /// Connection lost, looking for a server.
    Disconnected,
    /// A server said the session expired.
    Expired,
    /// Closed by the client.
    Closed,
}

/// One `exists` of an ephemeral by an observer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observation {
    /// The ephemeral's path.
    pub path: String,
    /// When asked.
    pub invoke: Nanos,
    /// When answered.
    pub complete: Nanos,
    /// Whether it was there.
    pub present: bool,
}

/// The time allowances of the ephemeral checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bounds {
    /// The servers' tick (expiry is checked once per tick).
    pub tick: Nanos,
    /// Extra time allowed for proposing and applying an expiry or a close.
    pub slack: Nanos,
    /// How long an election takes after a fault is repaired (added to a deadline a fault
    /// overlaps, on top of the fresh full timeout a new leader gives).
    pub recovery: Nanos,
    /// How far behind the leader an observer's server may answer.
    pub read_lag: Nanos,
}

/// When `s`'s ephemeral must be gone by (as an observer reading within `read_lag` sees it),
/// for sessions that ended; `None` for one still alive.
pub fn due(s: &SessionRecord, faults: &[FaultWindow], b: Bounds) -> Option<Nanos> {
    let unheard = s.timeout + b.tick + b.slack + b.read_lag;
    match s.fate {
        Fate::Closed { at } => Some(faults::deadline(
            at,
            b.slack + b.read_lag,
            b.recovery,
            faults,
        )),
        Fate::Silent { since } | Fate::Abandoned { since } => {
            Some(faults::deadline(since, unheard, b.recovery, faults))
        }
        Fate::Alive { .. } => None,
    }
}

/// Checks each session's ephemeral against the observations.
pub fn check(
    sessions: &[SessionRecord],
    observations: &[Observation],
    faults: &[FaultWindow],
    b: Bounds,
) -> CheckResult {
    let mut r = CheckResult::new("ephemerals follow their sessions");
    r.checked = sessions.len();
    for s in sessions {
        let seen: Vec<&Observation> = observations.iter().filter(|o| o.path == s.path).collect();
        let expired_at = s
            .states
            .iter()
            .find(|c| c.state == ConnState::Expired)
            .map(|c| c.at);
        let last_present = seen
            .iter()
            .filter(|o| o.present)
            .max_by_key(|o| o.invoke)
            .copied();
        let last_absent = seen
            .iter()
            .filter(|o| !o.present)
            .max_by_key(|o| o.invoke)
            .copied();
        let ends_absent = match (last_present, last_absent) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(p), Some(a)) => a.invoke > p.complete,
        };

        // Expiry must follow a full timeout unheard while a quorum could hear the session
        // (S6.2, S9.5). The moment it expired is known only within bounds: after the last
        // observation that still saw its ephemeral, and by the first that saw it gone or
        // the client being told Expired, whichever came first.
        let gone_seen = seen.iter().filter(|o| !o.present).map(|o| o.complete).min();
        let expired_by = match (expired_at, gone_seen) {
            (Some(e), Some(g)) => Some(e.min(g)),
            (Some(e), None) => Some(e),
            // Never told Expired: the checks by fate below judge the ephemeral's end.
            (None, _) => None,
        };
        if let Some(by) = expired_by {
            let after = seen
                .iter()
                .filter(|o| o.present && o.invoke <= by)
                .map(|o| o.invoke)
                .max()
                .unwrap_or(s.created);
            if !could_have_expired(s, after, by, faults, b) {
                r.violations.push(format!(
                    "session {:#x} (client {}): expired by {} ms though it was never unheard for \
                     its {} ms timeout while a quorum could hear it (last handshake {} ms)",
                    s.session_id,
                    s.client,
                    by / 1_000_000,
                    s.timeout / 1_000_000,
                    last_connected(s, by).unwrap_or(s.created) / 1_000_000,
                ));
            }
        }

        match s.fate {
            Fate::Closed { .. } => {
                let due = due(s, faults, b).unwrap_or(Nanos::MAX);
                late(&mut r, s, &seen, due, "closed");
                if !ends_absent {
                    r.violations.push(format!(
                        "{}: still there at the end after its session closed",
                        s.path
                    ));
                }
            }
            Fate::Abandoned { .. } => {
                let due = due(s, faults, b).unwrap_or(Nanos::MAX);
                late(&mut r, s, &seen, due, "was abandoned (close failed)");
                if !ends_absent {
                    r.violations.push(format!(
                        "{}: still there at the end after its session was abandoned",
                        s.path
                    ));
                }
            }
            Fate::Silent { since } => {
                let due = due(s, faults, b).unwrap_or(Nanos::MAX);
                late(&mut r, s, &seen, due, "went silent");
                // The node that accepted its last handshake before the cut heard it then, so
                // the leader cannot expire it before a full timeout later, unless a fault in
                // that time kept the node's word from the leader.
                let handshake = s
                    .states
                    .iter()
                    .filter(|c| c.state == ConnState::Connected && c.at <= since)
                    .map(|c| c.at)
                    .max()
                    .filter(|&c| !faults::any_during(c, c + s.timeout, faults));
                if let Some(c) = handshake {
                    let earliest = (c + s.timeout).saturating_sub(b.tick);
                    if let Some(o) = seen.iter().find(|o| !o.present && o.complete < earliest) {
                        r.violations.push(format!(
                            "{}: gone {} ms after its session's last handshake (timeout {} ms, no fault \
                             since), {} ms after it went silent",
                            s.path,
                            o.complete.saturating_sub(c) / 1_000_000,
                            s.timeout / 1_000_000,
                            o.complete.saturating_sub(since) / 1_000_000,
                        ));
                    }
                }
                if !ends_absent {
                    r.violations.push(format!(
                        "{}: still there at the end after its session went silent",
                        s.path
                    ));
                }
            }
            Fate::Alive { until } => match expired_at {
                None => {
                    if let Some(o) = seen.iter().find(|o| !o.present && o.complete <= until) {
                        r.violations.push(format!(
                            "{}: gone at {} ms while its session {:#x} lived (its client was never told Expired)",
                            s.path,
                            o.complete / 1_000_000,
                            s.session_id
                        ));
                    }
                    if !seen.iter().any(|o| o.present && o.invoke >= s.created) {
                        r.violations.push(format!(
                            "{}: never seen present while its session lived",
                            s.path
                        ));
                    }
                }
                Some(_) => {
                    if !ends_absent {
                        r.violations.push(format!(
                            "{}: still there at the end after its session expired",
                            s.path
                        ));
                    }
                }
            },
        }
    }
    r
}

/// When `s`'s handle last connected at or before `t` (the server heard it then).
fn last_connected(s: &SessionRecord, t: Nanos) -> Option<Nanos> {
    s.states
        .iter()
        .filter(|c| c.state == ConnState::Connected && c.at <= t)
        .map(|c| c.at)
        .max()
}

/// Whether `s` could rightly have expired at some moment of `[from, to]`: a moment outside
/// every window without a quorum, a full timeout (less a tick and the slack) after both its
/// last handshake and the end of the last such window before it (whoever leads then gives
/// every session a fresh full timeout, S9.5). The moments worth trying are `to` and the
/// last instant before each such window that begins within the interval.
fn could_have_expired(
    s: &SessionRecord,
    from: Nanos,
    to: Nanos,
    faults: &[FaultWindow],
    b: Bounds,
) -> bool {
    let lost: Vec<&FaultWindow> = faults.iter().filter(|f| f.quorum_lost).collect();
    let mut moments = vec![to];
    moments.extend(
        lost.iter()
            .filter(|w| w.start > from && w.start <= to)
            .map(|w| w.start - 1),
    );
    moments.into_iter().any(|t| {
        if lost.iter().any(|w| w.start <= t && t <= w.end) {
            return false;
        }
        let heard = last_connected(s, t).unwrap_or(s.created);
        let back = lost
            .iter()
            .filter(|w| w.end < t)
            .map(|w| w.end)
            .max()
            .unwrap_or(0);
        t + b.tick + b.slack >= heard.max(back) + s.timeout
    })
}

/// Records a violation if `path` was seen present when asked after `due`.
fn late(r: &mut CheckResult, s: &SessionRecord, seen: &[&Observation], due: Nanos, what: &str) {
    if let Some(o) = seen.iter().find(|o| o.present && o.invoke > due) {
        r.violations.push(format!(
            "{}: still there at {} ms, its session {:#x} {what} and the deadline was {} ms",
            s.path,
            o.invoke / 1_000_000,
            s.session_id,
            due / 1_000_000
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Nanos = 1_000_000;

    fn bounds() -> Bounds {
        Bounds {
            tick: 200 * MS,
            slack: 500 * MS,
            recovery: 2_000 * MS,
            read_lag: 500 * MS,
        }
    }

    fn session(fate: Fate, states: &[(Nanos, ConnState)]) -> SessionRecord {
        SessionRecord {
            client: 7,
            session_id: 0x1234,
            timeout: 4_000 * MS,
            path: "/e/7".into(),
            created: 100 * MS,
            fate,
            states: states
                .iter()
                .map(|&(at, state)| StateChange { at, state })
                .collect(),
        }
    }

    fn obs(at_ms: Nanos, present: bool) -> Observation {
        Observation {
            path: "/e/7".into(),
            invoke: at_ms * MS,
            complete: at_ms * MS + MS,
            present,
        }
    }

    fn connected_at_0() -> Vec<(Nanos, ConnState)> {
        vec![(0, ConnState::Connected)]
    }

    #[test]
    fn a_silent_session_gone_in_time_passes() {
        let s = session(Fate::Silent { since: 1_000 * MS }, &connected_at_0());
        // Cut at 1 s, 4 s timeout: gone by 5.2 s (+ slack and read lag).
        let o = [
            obs(200, true),
            obs(4_500, true),
            obs(5_300, false),
            obs(6_000, false),
        ];
        let r = check(&[s], &o, &[], bounds());
        assert!(r.passed(), "{r:?}");
    }

    #[test]
    fn a_silent_session_outliving_its_timeout_fails() {
        let s = session(Fate::Silent { since: 1_000 * MS }, &connected_at_0());
        let o = [obs(200, true), obs(6_300, true), obs(7_000, false)];
        let r = check(&[s], &o, &[], bounds());
        assert_eq!(r.violations.len(), 1, "{r:?}");
        assert!(r.violations[0].contains("went silent"));
    }

    #[test]
    fn a_fault_during_the_silence_extends_the_deadline() {
        let s = session(Fate::Silent { since: 1_000 * MS }, &connected_at_0());
        let o = [obs(200, true), obs(6_300, true), obs(12_000, false)];
        let f = [FaultWindow {
            kind: "kill -9 leader".into(),
            start: 2_000 * MS,
            end: 3_000 * MS,
            quorum_lost: false,
        }];
        // Due at 3 s + 2 s recovery + 4 s timeout + tick + slack + lag = 10.2 s.
        assert!(check(std::slice::from_ref(&s), &o, &f, bounds()).passed());
        let o = [obs(200, true), obs(10_300, true), obs(12_000, false)];
        assert!(!check(&[s], &o, &f, bounds()).passed());
    }

    #[test]
    fn a_silent_session_expired_before_a_timeout_after_its_handshake_fails() {
        let states = [
            (0, ConnState::Connected),
            (500 * MS, ConnState::Disconnected),
            (900 * MS, ConnState::Connected),
        ];
        let s = session(Fate::Silent { since: 1_000 * MS }, &states);
        // Handshake at 0.9 s, 4 s timeout: not before 4.9 s (a tick of margin: 4.7 s).
        let o = [obs(200, true), obs(4_500, false)];
        let r = check(std::slice::from_ref(&s), &o, &[], bounds());
        assert!(
            r.violations
                .iter()
                .any(|v| v.contains("after its session's last handshake")),
            "{r:?}"
        );
        let o = [obs(200, true), obs(4_800, false)];
        assert!(check(std::slice::from_ref(&s), &o, &[], bounds()).passed());
        // A fault after the handshake may have kept the node's word from the leader.
        let f = [FaultWindow {
            kind: "isolate member 2".into(),
            start: 2_000 * MS,
            end: 3_000 * MS,
            quorum_lost: false,
        }];
        let o = [obs(200, true), obs(4_500, false)];
        assert!(check(&[s], &o, &f, bounds()).passed());
    }

    #[test]
    fn an_ephemeral_never_deleted_fails() {
        let s = session(Fate::Silent { since: 1_000 * MS }, &connected_at_0());
        let r = check(&[s], &[obs(200, true)], &[], bounds());
        assert!(
            r.violations.iter().any(|v| v.contains("at the end")),
            "{r:?}"
        );
        let s = session(Fate::Closed { at: 1_000 * MS }, &connected_at_0());
        let r = check(&[s], &[obs(200, true), obs(1_200, true)], &[], bounds());
        assert!(
            r.violations.iter().any(|v| v.contains("at the end")),
            "{r:?}"
        );
    }

    #[test]
    fn a_closed_session_lingering_fails() {
        let s = session(Fate::Closed { at: 1_000 * MS }, &connected_at_0());
        let ok = [obs(200, true), obs(1_200, true), obs(1_400, false)];
        assert!(check(std::slice::from_ref(&s), &ok, &[], bounds()).passed());
        let bad = [obs(200, true), obs(2_500, true), obs(2_600, false)];
        let r = check(&[s], &bad, &[], bounds());
        assert!(r.violations.iter().any(|v| v.contains("closed")), "{r:?}");
    }

    #[test]
    fn an_ephemeral_gone_while_its_session_lives_fails() {
        let s = session(Fate::Alive { until: 9_000 * MS }, &connected_at_0());
        let ok = [obs(200, true), obs(8_000, true)];
        assert!(check(std::slice::from_ref(&s), &ok, &[], bounds()).passed());
        let bad = [obs(200, true), obs(3_000, false), obs(8_000, true)];
        let r = check(&[s], &bad, &[], bounds());
        assert!(
            r.violations.iter().any(|v| v.contains("while its session")),
            "{r:?}"
        );
    }

    #[test]
    fn an_expiry_after_a_full_timeout_unheard_passes_and_earlier_fails() {
        let states = [
            (0, ConnState::Connected),
            (1_000 * MS, ConnState::Disconnected),
            (6_000 * MS, ConnState::Expired),
        ];
        let s = session(Fate::Alive { until: 9_000 * MS }, &states);
        let o = [obs(200, true), obs(7_000, false), obs(8_000, false)];
        assert!(check(&[s], &o, &[], bounds()).passed());

        let states = [
            (0, ConnState::Connected),
            (1_000 * MS, ConnState::Disconnected),
            (1_500 * MS, ConnState::Connected),
            (3_000 * MS, ConnState::Disconnected),
            (4_000 * MS, ConnState::Expired),
        ];
        let s = session(Fate::Alive { until: 9_000 * MS }, &states);
        let r = check(&[s], &o, &[], bounds());
        assert!(
            r.violations
                .iter()
                .any(|v| v.contains("never unheard for its 4000 ms timeout")),
            "{r:?}"
        );
    }

    fn quorum_away(start_ms: Nanos, end_ms: Nanos) -> FaultWindow {
        FaultWindow {
            kind: "pause members 2, 3 (quorum lost)".into(),
            start: start_ms * MS,
            end: end_ms * MS,
            quorum_lost: true,
        }
    }

    /// S9.5: a session whose client kept trying through a quorum outage longer than its
    /// timeout, expired as the quorum came back (the leader left alone had judged it), fails
    /// the run; expired a full timeout after the quorum's return, unheard since, it passes.
    #[test]
    fn s9_5_an_expiry_for_silence_while_no_quorum_could_hear_fails() {
        let f = [quorum_away(1_000, 7_000)];
        let states = [
            (0, ConnState::Connected),
            (1_500 * MS, ConnState::Disconnected),
            (7_200 * MS, ConnState::Expired),
        ];
        let s = session(Fate::Alive { until: 9_000 * MS }, &states);
        let o = [obs(200, true), obs(7_100, false), obs(8_000, false)];
        let r = check(&[s], &o, &f, bounds());
        assert!(
            r.violations
                .iter()
                .any(|v| v.contains("while a quorum could hear it")),
            "{r:?}"
        );

        let states = [
            (0, ConnState::Connected),
            (1_500 * MS, ConnState::Disconnected),
            (11_500 * MS, ConnState::Expired),
        ];
        let s = session(Fate::Alive { until: 13_000 * MS }, &states);
        let o = [obs(200, true), obs(10_000, true), obs(11_400, false)];
        let r = check(&[s], &o, &f, bounds());
        assert!(r.passed(), "{r:?}");
    }

    /// An expiry seen during the outage may still have happened just before it began, when
    /// the session had been unheard for a full timeout already: that passes; one that
    /// cannot have happened before the outage fails.
    #[test]
    fn s9_5_an_expiry_just_before_the_quorum_went_passes() {
        let states = [
            (0, ConnState::Connected),
            (500 * MS, ConnState::Disconnected),
            (8_000 * MS, ConnState::Expired),
        ];
        let s = session(Fate::Alive { until: 9_000 * MS }, &states);
        // Last seen present at 4 s, gone by 7.5 s; the quorum was away from 5 s to 7 s: it
        // may have expired at 4.9 s, 4.9 s after its last handshake with a 4 s timeout.
        let o = [obs(200, true), obs(4_000, true), obs(7_400, false)];
        let f = [quorum_away(5_000, 7_000)];
        assert!(check(std::slice::from_ref(&s), &o, &f, bounds()).passed());
        // Last seen present at 5.5 s: no moment outside the outage is left for the expiry.
        let f = [quorum_away(3_000, 7_000)];
        let o = [obs(200, true), obs(2_500, true), obs(7_400, false)];
        let r = check(&[s], &o, &f, bounds());
        assert!(
            r.violations
                .iter()
                .any(|v| v.contains("while a quorum could hear it")),
            "{r:?}"
        );
    }
}
