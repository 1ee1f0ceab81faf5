//! The runner shared by the differential tests: batches of generated cases, a fixed seed, and
//! the counts each test prints.

use std::cell::Cell;
use std::fmt::Debug;
use std::time::Instant;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestRunner};

/// proptest cases per test; each case is a batch of items (`BATCH_SIZES`) sent in one round trip.
pub(crate) const CASES: u32 = 64;
/// The seed of the generated cases, unless `PROPTEST_RNG_SEED` is set.
pub(crate) const SEED: u64 = 0x5105_2026_1125;
/// Items per proptest case: 50 on average; a failing batch shrinks to the failing item.
pub(crate) const BATCH_SIZES: std::ops::RangeInclusive<usize> = 1..=99;

/// What one test compared, printed at its end.
#[derive(Default)]
pub(crate) struct Counts {
    pub(crate) compared: Cell<usize>,
    /// JavaScript accepted, Rust rejected (allowed: Rust is stricter in documented cases).
    pub(crate) rust_stricter: Cell<usize>,
    /// Both rejected.
    pub(crate) both_rejected: Cell<usize>,
    /// The JavaScript result cannot be represented in Rust (a lone surrogate).
    pub(crate) unrepresentable: Cell<usize>,
}

/// Counts one more case in `cell`.
pub(crate) fn add(cell: &Cell<usize>) {
    cell.set(cell.get() + 1);
}

/// Runs `check` on `CASES` batches drawn from `strategy` and prints the counts.
pub(crate) fn run<T: Debug + Clone>(
    name: &str,
    strategy: impl Strategy<Value = Vec<T>>,
    check: impl Fn(&Counts, Vec<T>) -> Result<(), TestCaseError>,
) {
    let start = Instant::now();
    let counts = Counts::default();
    let mut config = Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    };
    // A fixed seed, so that every run of the test command checks the same cases (a failure is
    // reproducible, and CI never depends on luck); `PROPTEST_RNG_SEED=<n>` explores others.
    if std::env::var_os("PROPTEST_RNG_SEED").is_none() {
        config.rng_seed = RngSeed::Fixed(SEED);
    }
    let mut runner = TestRunner::new(config);
    if let Err(e) = runner.run(&strategy, |batch| check(&counts, batch)) {
        panic!("{name}: {e}");
    }
    eprintln!(
        "{name}: {} cases compared ({} both rejected, {} rejected by Rust only, {} unrepresentable) in {:.2?}",
        counts.compared.get(),
        counts.both_rejected.get(),
        counts.rust_stricter.get(),
        counts.unrepresentable.get(),
        start.elapsed()
    );
}
