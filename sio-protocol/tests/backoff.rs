//! `Backoff` against the real socket.io-client `backo2`.
//!
//! The expected tables were produced by running the JavaScript implementation under Node with a
//! stubbed `Math.random` (socket.io-client 4.8, `build/cjs/contrib/backo2.js`):
//!
//! ```text
//! node -e '
//! const { Backoff } = require("./tests/node_modules/socket.io-client/build/cjs/contrib/backo2.js");
//! for (const r of DRAWS) {
//!   Math.random = () => r;
//!   const b = new Backoff({ min: MIN, max: MAX, jitter: JITTER });
//!   console.log(r, [...Array(N)].map(() => b.duration()));
//! }'
//! ```

use std::time::Duration;

use sio_protocol::Backoff;

/// `new Backoff({ min: 1000, max: 5000, jitter: 0.5 })` (the Manager defaults), 6 calls per draw.
const DEFAULTS: &[(f64, [u64; 6])] = &[
    (0.0000, [1000, 2000, 4000, 5000, 5000, 5000]),
    (0.0500, [975, 1950, 3900, 5000, 5000, 5000]),
    (0.1000, [1050, 2100, 4200, 5000, 5000, 5000]),
    (0.1500, [1075, 2150, 4300, 5000, 5000, 5000]),
    (0.2500, [875, 1750, 3500, 5000, 5000, 5000]),
    (0.3333, [1166, 2333, 4666, 5000, 5000, 5000]),
    (0.5000, [1250, 2500, 5000, 5000, 5000, 5000]),
    (0.5500, [1275, 2550, 5000, 5000, 5000, 5000]),
    (0.7000, [1350, 2700, 5000, 5000, 5000, 5000]),
    (0.8000, [600, 1200, 2400, 4800, 5000, 5000]),
    (0.9500, [1475, 2950, 5000, 5000, 5000, 5000]),
    (0.9999, [1499, 2999, 5000, 5000, 5000, 5000]),
];

/// `new Backoff({ min: 300, max: 10000, jitter: 1 })`, 8 calls per draw.
const FULL_JITTER: &[(f64, [u64; 8])] = &[
    (0.0000, [300, 600, 1200, 2400, 4800, 9600, 10000, 10000]),
    (0.0500, [285, 570, 1140, 2280, 4560, 9120, 10000, 10000]),
    (0.1000, [330, 660, 1320, 2640, 5280, 10000, 10000, 10000]),
    (0.1500, [345, 690, 1380, 2760, 5520, 10000, 10000, 10000]),
    (0.2500, [225, 450, 900, 1800, 3600, 7200, 10000, 10000]),
    (0.3333, [399, 799, 1599, 3199, 6399, 10000, 10000, 10000]),
    (0.5000, [450, 900, 1800, 3600, 7200, 10000, 10000, 10000]),
    (0.5500, [465, 930, 1860, 3720, 7440, 10000, 10000, 10000]),
    (0.7000, [510, 1020, 2040, 4080, 8160, 10000, 10000, 10000]),
    (0.8000, [60, 120, 240, 480, 960, 1920, 3840, 7680]),
    (0.9500, [585, 1170, 2340, 4680, 9360, 10000, 10000, 10000]),
    (0.9999, [599, 1199, 2399, 4799, 9599, 10000, 10000, 10000]),
];

/// `new Backoff({ min: 1500, max: 60000, jitter: 0.25 })`, 8 calls per draw.
const QUARTER_JITTER: &[(f64, [u64; 8])] = &[
    (
        0.0000,
        [1500, 3000, 6000, 12000, 24000, 48000, 60000, 60000],
    ),
    (
        0.0500,
        [1482, 2963, 5925, 11850, 23700, 47400, 60000, 60000],
    ),
    (
        0.1000,
        [1537, 3075, 6150, 12300, 24600, 49200, 60000, 60000],
    ),
    (
        0.1500,
        [1556, 3112, 6225, 12450, 24900, 49800, 60000, 60000],
    ),
    (
        0.2500,
        [1407, 2813, 5625, 11250, 22500, 45000, 60000, 60000],
    ),
    (
        0.3333,
        [1624, 3249, 6499, 12999, 25999, 51999, 60000, 60000],
    ),
    (
        0.5000,
        [1687, 3375, 6750, 13500, 27000, 54000, 60000, 60000],
    ),
    (
        0.5500,
        [1706, 3412, 6825, 13650, 27300, 54600, 60000, 60000],
    ),
    (
        0.7000,
        [1762, 3525, 7050, 14100, 28200, 56400, 60000, 60000],
    ),
    (0.8000, [1200, 2400, 4800, 9600, 19200, 38400, 60000, 60000]),
    (
        0.9500,
        [1856, 3712, 7425, 14850, 29700, 59400, 60000, 60000],
    ),
    (
        0.9999,
        [1874, 3749, 7499, 14999, 29999, 59998, 60000, 60000],
    ),
];

fn run(backoff: &mut Backoff, draws: impl IntoIterator<Item = f64>) -> Vec<u64> {
    draws
        .into_iter()
        .map(|r| u64::try_from(backoff.duration(r).as_millis()).expect("fits"))
        .collect()
}

#[test]
fn defaults_match_js() {
    for (r, expected) in DEFAULTS {
        let mut b = Backoff::default();
        assert_eq!(run(&mut b, [*r; 6]), expected, "random = {r}");
        assert_eq!(b.attempts(), 6);
    }
}

#[test]
fn custom_settings_match_js() {
    for (r, expected) in FULL_JITTER {
        let mut b = Backoff::new();
        b.set_min(Duration::from_millis(300))
            .set_max(Duration::from_secs(10))
            .set_jitter(1.0);
        assert_eq!(run(&mut b, [*r; 8]), expected, "random = {r}");
    }
    for (r, expected) in QUARTER_JITTER {
        let mut b = Backoff::new();
        b.set_min(Duration::from_millis(1500))
            .set_max(Duration::from_secs(60))
            .set_jitter(0.25);
        assert_eq!(run(&mut b, [*r; 8]), expected, "random = {r}");
    }
}

#[test]
fn a_varying_draw_sequence_matches_js() {
    // `new Backoff({ min: 300, max: 100000, jitter: 0.5 })` with `Math.random` returning these
    // draws in turn, one per `duration()`.
    let draws = [
        0.12, 0.87, 0.33, 0.61, 0.04, 0.99, 0.5, 0.2719, 0.3142, 0.7072,
    ];
    let mut b = Backoff::default();
    b.set_min(Duration::from_millis(300))
        .set_max(Duration::from_secs(100));
    assert_eq!(
        run(&mut b, draws),
        [
            318, 339, 1398, 1668, 4704, 14352, 24000, 33180, 88865, 100000
        ]
    );
}

#[test]
fn nominal_without_jitter() {
    let mut b = Backoff::default();
    b.set_jitter(0.0);
    assert_eq!(b.jitter(), 0.0);
    assert_eq!(run(&mut b, [0.77; 6]), [1000, 2000, 4000, 5000, 5000, 5000]);
}

#[test]
fn jitter_bounds() {
    // Attempt k lies in [0.5, 1.5] * 1000 * 2^k before the 5000 cap.
    let mut draw = 0.0;
    for _ in 0..500 {
        let mut b = Backoff::default();
        for k in 0..8u32 {
            draw = (draw + 0.618_033_988_749_895) % 1.0;
            let nominal = 1000.0 * 2f64.powi(k as i32);
            let ms = b.duration(draw).as_millis() as f64;
            assert!(ms <= 5000.0, "{ms}");
            assert!(ms >= (0.5 * nominal).min(5000.0), "{k} {ms}");
            assert!(ms <= 1.5 * nominal, "{k} {ms}");
        }
    }
}

#[test]
fn reset_starts_over() {
    let mut b = Backoff::default();
    b.set_jitter(0.0);
    let _ = run(&mut b, [0.0; 4]);
    assert_eq!(b.attempts(), 4);
    b.reset();
    assert_eq!(b.attempts(), 0);
    assert_eq!(b.duration(0.0), Duration::from_millis(1000));
}

#[test]
fn no_panic_at_attempt_ten_thousand() {
    for r in [0.0, 0.05, 0.5, 0.8, 0.9999] {
        let mut b = Backoff::default();
        for _ in 0..10_000 {
            let d = b.duration(r);
            assert!(d <= Duration::from_secs(5));
        }
        assert_eq!(b.attempts(), 10_000);
        // JavaScript gives 0 here half of the time (Infinity - Infinity); we stay at the cap.
        assert!(b.duration(r) >= Duration::from_millis(2500), "{r}");
    }
    let mut b = Backoff::default();
    b.set_jitter(0.0);
    for _ in 0..10_000 {
        let _ = b.duration(0.0);
    }
    assert_eq!(b.duration(0.0), Duration::from_secs(5));
}

#[test]
fn reconnection_attempts_limit() {
    let mut b = Backoff::default();
    assert_eq!(b.reconnection_attempts(), None);
    b.set_jitter(0.0).set_reconnection_attempts(Some(2));
    assert!(!b.is_exhausted());
    assert_eq!(b.next_delay(0.0), Some(Duration::from_millis(1000)));
    assert_eq!(b.attempts(), 1); // `reconnect_attempt(1)`
    assert_eq!(b.next_delay(0.0), Some(Duration::from_millis(2000)));
    assert!(b.is_exhausted());
    assert_eq!(b.next_delay(0.0), None); // `reconnect_failed`, and the backoff is reset
    assert_eq!(b.attempts(), 0);

    b.set_reconnection_attempts(Some(0));
    assert_eq!(b.next_delay(0.0), None);

    b.set_reconnection_attempts(None);
    for _ in 0..100 {
        assert!(b.next_delay(0.3).is_some());
    }
}

#[test]
fn setters_and_getters() {
    let mut b = Backoff::default();
    assert_eq!(b.min(), Duration::from_secs(1));
    assert_eq!(b.max(), Duration::from_secs(5));
    assert_eq!(b.jitter(), 0.5);
    b.set_jitter(1.5);
    assert_eq!(b.jitter(), 0.0, "only 0 < jitter <= 1 is used");
    b.set_jitter(-0.5);
    assert_eq!(b.jitter(), 0.0);
    b.set_factor(3.0).set_min(Duration::from_millis(100));
    assert_eq!(run(&mut b, [0.0; 4]), [100, 300, 900, 2700]);
}
