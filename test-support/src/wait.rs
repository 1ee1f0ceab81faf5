//! Waiting for a condition, with a bound.
//!
//! Prefer an event: a channel, a `Notify`, a join handle, a response. [`until`] (and
//! [`first`]) is for the conditions the code under test offers no event for (a session count, a gauge, a heap size):
//! it checks the condition every [`POLL`] and panics when it is still false after the bound.
//! That is an event wait in the sense of the `sleeps` test (it ends as soon as the condition
//! holds and fails loudly when it never does), not a wall-clock sleep: it is the one polling
//! loop, marked `poll:`.
//!
//! On tokio's paused clock the checks advance the virtual clock by [`POLL`] each, so the
//! bound is virtual too: use it there only for conditions that in-process tasks make true.

use std::future::Future;
use std::time::Duration;

/// Generous bound for anything that should happen "now" on a loaded machine.
pub const WAIT: Duration = Duration::from_secs(10);

/// How often [`first`] and [`until`] check its condition.
pub const POLL: Duration = Duration::from_millis(5);

/// Waits until `cond` is true, for at most [`WAIT`]; panics otherwise.
#[track_caller]
pub fn until(cond: impl FnMut() -> bool) -> impl Future<Output = ()> {
    until_within(WAIT, cond)
}

/// Waits until `cond` is true, for at most `limit`; panics otherwise.
#[track_caller]
pub fn until_within(limit: Duration, cond: impl FnMut() -> bool) -> impl Future<Output = ()> {
    let caller = std::panic::Location::caller();
    async move {
        assert!(
            holds_within(limit, cond).await,
            "condition not true within {limit:?} ({caller})"
        );
    }
}

/// Whether `cond` becomes true within `limit` (it is checked every [`POLL`]).
pub async fn holds_within(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    first(limit, async || cond().then_some(())).await.is_some()
}

/// The first `Some` that `check` returns, called every [`POLL`], or `None` after `limit`.
/// For conditions read through I/O (a scrape of an HTTP endpoint, a Redis query) or that
/// yield a value.
pub async fn first<T>(limit: Duration, mut check: impl AsyncFnMut() -> Option<T>) -> Option<T> {
    tokio::time::timeout(limit, async {
        loop {
            if let Some(value) = check().await {
                return value;
            }
            tokio::time::sleep(POLL).await; // poll: no event to wait on (module docs)
        }
    })
    .await
    .ok()
}

/// The first `Some` that `check` returns, called every [`POLL`] on this thread, or `None`
/// after `limit`: [`first`] for synchronous code (a child process, a Redis server's state).
pub fn blocking_first<T>(limit: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(value) = check() {
            return Some(value);
        }
        if std::time::Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(POLL); // poll: no event to wait on (module docs)
    }
}

/// Waits on this thread until `cond` is true, for at most `limit`; panics naming `what`
/// otherwise.
#[track_caller]
pub fn blocking_until(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    assert!(
        blocking_first(limit, || cond().then_some(())).is_some(),
        "not within {limit:?}: {what}"
    );
}

/// The next value of `rx`; panics (naming `what`) when the channel closes or nothing comes
/// within `limit`.
pub async fn recv<T>(
    limit: Duration,
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<T>,
    what: &str,
) -> T {
    match tokio::time::timeout(limit, rx.recv()).await {
        Ok(Some(v)) => v,
        _ => panic!("{what}: nothing within {limit:?}"),
    }
}
