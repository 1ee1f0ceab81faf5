//! Reconnection delays, computed exactly as socket.io-client computes them.
//!
//! The formula is `backo2` as vendored in socket.io-client (`lib/contrib/backo2.ts`), driven by
//! the reconnection loop of `Manager.reconnect` (`lib/manager.ts`).

use std::time::Duration;

/// Reconnection backoff: socket.io-client's `backo2` plus the `reconnectionAttempts` limit.
///
/// Each call to [`duration`](Self::duration) returns the next delay and counts one attempt:
///
/// ```text
/// ms = min * factor^attempts;  attempts += 1
/// if jitter: dev = floor(r * jitter * ms); ms = (floor(r * 10) & 1) == 0 ? ms - dev : ms + dev
/// delay = min(ms, max) | 0          // jitter is applied before the cap
/// ```
///
/// `r` is a random draw in `[0, 1)` supplied by the caller, so tests can replay exact sequences:
/// any RNG works (`rand::random::<f64>()`, `fastrand::f64()`, a fixed value...). Without jitter the
/// delays are 1000, 2000, 4000, 5000, 5000... ms with the defaults.
///
/// Defaults (the socket.io-client `Manager` options): `reconnectionDelay` 1000 ms,
/// `reconnectionDelayMax` 5000 ms, factor 2, `randomizationFactor` 0.5, `reconnectionAttempts`
/// unlimited.
///
/// ```
/// use std::time::Duration;
/// use sio_protocol::Backoff;
///
/// let mut backoff = Backoff::default();
/// backoff.set_jitter(0.0).set_reconnection_attempts(Some(3));
/// let mut delays = Vec::new();
/// while let Some(delay) = backoff.next_delay(0.3) {
///     delays.push(delay.as_millis());
/// }
/// assert_eq!(delays, [1000, 2000, 4000]); // then `reconnect_failed`
/// assert_eq!(backoff.attempts(), 0); // reset on giving up, as the JS Manager does
/// ```
///
/// Deliberate differences from the JavaScript arithmetic, all outside its normal range: once
/// `factor^attempts` overflows a double (after ~1024 attempts with factor 2) JavaScript computes
/// `Infinity - Infinity = NaN` and `NaN | 0 = 0`, a zero delay half of the time; here the delay
/// saturates at `max`. A cap above `i32::MAX` ms is not wrapped by `| 0`. Jitter is only used when
/// `0 < jitter <= 1`, for the setter too (JS validates in the constructor only), so a delay never
/// goes negative.
#[derive(Debug, Clone, PartialEq)]
pub struct Backoff {
    /// Milliseconds.
    min: f64,
    /// Milliseconds.
    max: f64,
    factor: f64,
    jitter: f64,
    attempts: u32,
    reconnection_attempts: Option<u32>,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            min: 1000.0,
            max: 5000.0,
            factor: 2.0,
            jitter: 0.5,
            attempts: 0,
            reconnection_attempts: None,
        }
    }
}

fn millis(d: Duration) -> f64 {
    // Whole milliseconds, as the JS options are; `as` saturates.
    d.as_millis() as f64
}

impl Backoff {
    /// A backoff with the socket.io-client defaults (see the type docs).
    pub fn new() -> Self {
        Self::default()
    }

    /// The next delay, computed from `random`, a draw in `[0, 1)` from any RNG; counts one attempt.
    ///
    /// `random` is clamped into `[0, 1)` (NaN counts as 0). It is only used when jitter is on.
    pub fn duration(&mut self, random: f64) -> Duration {
        let r = if random.is_nan() {
            0.0
        } else {
            random.clamp(0.0, 1.0 - f64::EPSILON)
        };
        let mut ms = self.min * self.factor.powf(f64::from(self.attempts));
        self.attempts = self.attempts.saturating_add(1);
        if ms.is_nan() {
            ms = 0.0;
        } else if ms.is_infinite() {
            // JS would go on with Infinity (and end with NaN | 0 = 0): saturate instead.
            ms = if ms > 0.0 { f64::MAX } else { 0.0 };
        }
        if self.jitter != 0.0 {
            let deviation = (r * self.jitter * ms).floor();
            // `floor(r * 10)` is in 0..=9: the cast is exact.
            ms = if ((r * 10.0).floor() as u8) & 1 == 0 {
                ms - deviation
            } else {
                ms + deviation
            };
        }
        let capped = ms.min(self.max);
        if capped.is_nan() || capped <= 0.0 {
            return Duration::ZERO;
        }
        // `| 0` truncates toward zero; `as` saturates instead of wrapping.
        Duration::from_millis(capped.trunc() as u64)
    }

    /// The next reconnection delay, or `None` when the attempts are used up (`reconnect_failed`).
    ///
    /// This is `Manager.reconnect`: when `attempts >= reconnection_attempts` the backoff is reset
    /// and `None` is returned; otherwise it is [`duration`](Self::duration). After `Some`,
    /// [`attempts`](Self::attempts) is the number to report in `reconnect_attempt` (1 on the first
    /// try). Call [`reset`](Self::reset) when a reconnection succeeds.
    pub fn next_delay(&mut self, random: f64) -> Option<Duration> {
        if self.is_exhausted() {
            self.reset();
            return None;
        }
        Some(self.duration(random))
    }

    /// Whether `attempts >= reconnection_attempts`: the client should give up.
    pub fn is_exhausted(&self) -> bool {
        self.reconnection_attempts
            .is_some_and(|limit| self.attempts >= limit)
    }

    /// Forgets the attempts made so far (after a successful connection, or before a new series).
    pub fn reset(&mut self) {
        self.attempts = 0;
    }

    /// How many delays were computed since the last reset.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The first delay (`reconnectionDelay`, default 1 s), in whole milliseconds.
    pub fn set_min(&mut self, min: Duration) -> &mut Self {
        self.min = millis(min);
        self
    }

    /// The cap (`reconnectionDelayMax`, default 5 s), in whole milliseconds.
    pub fn set_max(&mut self, max: Duration) -> &mut Self {
        self.max = millis(max);
        self
    }

    /// The growth factor (default 2).
    pub fn set_factor(&mut self, factor: f64) -> &mut Self {
        self.factor = factor;
        self
    }

    /// The jitter (`randomizationFactor`, default 0.5); only `0 < jitter <= 1` turns it on.
    pub fn set_jitter(&mut self, jitter: f64) -> &mut Self {
        self.jitter = if jitter > 0.0 && jitter <= 1.0 {
            jitter
        } else {
            0.0
        };
        self
    }

    /// The number of attempts before giving up (`reconnectionAttempts`); `None` (the default) is
    /// unlimited.
    pub fn set_reconnection_attempts(&mut self, attempts: Option<u32>) -> &mut Self {
        self.reconnection_attempts = attempts;
        self
    }

    /// The first delay.
    pub fn min(&self) -> Duration {
        Duration::from_millis(self.min as u64)
    }

    /// The cap.
    pub fn max(&self) -> Duration {
        Duration::from_millis(self.max as u64)
    }

    /// The jitter in use (0 when off).
    pub fn jitter(&self) -> f64 {
        self.jitter
    }

    /// The attempt limit (`None`: unlimited).
    pub fn reconnection_attempts(&self) -> Option<u32> {
        self.reconnection_attempts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nominal_without_jitter() {
        let mut b = Backoff::new();
        b.set_jitter(0.0);
        let d: Vec<u128> = (0..6).map(|_| b.duration(0.9).as_millis()).collect();
        assert_eq!(d, [1000, 2000, 4000, 5000, 5000, 5000]);
    }

    #[test]
    fn odd_inputs_do_not_panic() {
        let mut b = Backoff::new();
        b.set_factor(f64::INFINITY).set_min(Duration::ZERO);
        for r in [f64::NAN, -1.0, 2.0, 0.5, f64::INFINITY] {
            let _ = b.duration(r);
        }
        b.set_factor(-3.0).set_min(Duration::from_secs(1));
        for _ in 0..2000 {
            assert!(b.duration(0.42) <= Duration::from_secs(5));
        }
    }
}
