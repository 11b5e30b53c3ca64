//! Time: sleeping that parks the coroutine, not the worker; deadlines for
//! whole blocks of blocking code ([`timeout`]). Periodic ticks and `after`
//! live in `ticker.rs`, above the runtime.
//!
//! Timers live on the worker that runs the coroutine (see
//! `scheduler/timers.rs`); an idle worker sleeps exactly until its next
//! deadline. Outside a coroutine the same calls park the thread.

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::unwind::{deadline, resume_unwind};
use std::time::{Duration, Instant};

use crate::scheduler::task::WaitReason;
use crate::scheduler::{self, task};

/// Park the calling coroutine for at least `duration` (Go's `time.Sleep`).
/// Other coroutines run on its worker meanwhile. On a plain thread it
/// parks the thread. A duration too long for `Instant` (`Duration::MAX`)
/// sleeps until the coroutine is cancelled.
///
/// ```
/// use std::time::{Duration, Instant};
/// rt::run(|| {
///     let start = Instant::now();
///     let sleepers: Vec<_> = (0..1000).map(|_| rt::spawn(|| rt::sleep(Duration::from_millis(20)))).collect();
///     sleepers.into_iter().for_each(|s| s.join().unwrap());
///     // 1,000 coroutines slept concurrently (one after another would take 20 s).
///     assert!(start.elapsed() >= Duration::from_millis(20));
/// });
/// ```
#[track_caller]
pub fn sleep(duration: Duration) {
    match deadline_after(duration) {
        Some(deadline) => sleep_until(deadline),
        None => sleep_forever(task::WaitSite::here(WaitReason::Sleep)),
    }
}

/// When `duration` from now is, or `None` if that is past what `Instant`
/// can represent: every timed call in rt reads `Duration::MAX` (or any
/// such duration) as "no deadline", as std does.
pub(crate) fn deadline_after(duration: Duration) -> Option<Instant> {
    Instant::now().checked_add(duration)
}

/// Park for good (a sleep with no deadline); only an interruption ends it.
pub(crate) fn sleep_forever(site: task::WaitSite) -> ! {
    loop {
        task::park(site);
    }
}

/// Park the calling coroutine until `deadline` (at least). Never returns
/// early: a wake-up before the deadline parks again. A cancellation (or an
/// enclosing [`timeout`] running out) unwinds from here, as from any park
/// point.
///
/// ```
/// use std::time::{Duration, Instant};
/// let deadline = Instant::now() + Duration::from_millis(5);
/// rt::run(|| rt::sleep_until(deadline));
/// assert!(Instant::now() >= deadline);
/// ```
#[track_caller]
pub fn sleep_until(deadline: Instant) {
    let timer = scheduler::wake_at(deadline);
    let site = task::WaitSite::here(WaitReason::Sleep);
    while Instant::now() < deadline {
        task::park_until(deadline, timer.is_some(), site);
    }
}

/// The error of [`timeout`]: the time ran out before the closure finished.
///
/// ```
/// use std::time::Duration;
/// let err = rt::timeout(Duration::ZERO, || rt::sleep(Duration::from_secs(60))).unwrap_err();
/// assert_eq!(err.to_string(), "deadline has elapsed");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed(());

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl std::error::Error for Elapsed {}

/// Run `f` in place, but give up once `duration` has passed: the next time
/// `f` parks after that (a channel operation, a lock, a sleep, a join,
/// `yield_now`…), it unwinds out of `f` — deferred closures and destructors
/// run, as for a cancellation — and `timeout` returns `Err(Elapsed)`.
///
/// Like Go's `context.WithTimeout` and tokio's `timeout`, it bounds
/// blocking, not computation: code that never parks is not interrupted.
/// `f` may borrow; it runs on the caller's coroutine (or thread). Timeouts
/// nest: the earliest deadline applies, and each `timeout` catches only
/// its own. A panic in `f` passes through unchanged.
///
/// ```
/// use std::time::Duration;
/// rt::run(|| {
///     let (_tx, rx) = rt::chan::bounded::<u32>(0);
///     let result = rt::timeout(Duration::from_millis(10), || rx.recv());
///     assert!(result.is_err()); // nobody sent: the receive was abandoned
///
///     let quick = rt::timeout(Duration::from_secs(10), || 6 * 7);
///     assert_eq!(quick, Ok(42));
/// });
/// ```
pub fn timeout<T>(duration: Duration, f: impl FnOnce() -> T) -> Result<T, Elapsed> {
    match deadline_after(duration) {
        Some(deadline) => timeout_at(deadline, f),
        None => Ok(f()), // no deadline (`Duration::MAX`)
    }
}

/// [`timeout`] with an absolute deadline.
///
/// ```
/// use std::time::{Duration, Instant};
/// let deadline = Instant::now() + Duration::from_millis(5);
/// let r = rt::run(|| rt::timeout_at(deadline, || rt::sleep(Duration::from_secs(60))));
/// assert!(r.is_err());
/// assert!(Instant::now() >= deadline);
/// ```
pub fn timeout_at<T>(deadline: Instant, f: impl FnOnce() -> T) -> Result<T, Elapsed> {
    let scope = deadline::Scope::enter(deadline);
    let result = catch_unwind(AssertUnwindSafe(f));
    if result.is_err() {
        // Caught (re-raised below unless it is ours).
        crate::unwind::unwind_caught();
    }
    let ours = scope.leave(result.as_ref().err().map(|payload| &**payload));
    match result {
        Ok(value) => Ok(value),
        Err(_) if ours => {
            crate::unwind::end_forced_unwind();
            Err(Elapsed(()))
        }
        Err(payload) => {
            // A panic that interrupted this scope's own signal (raised by a
            // deferred closure while the signal ran them) ends the scope
            // as a panic: the signal cannot carry on past it.
            crate::unwind::unwinding::forget_suspended(&*payload, |signal| scope.raised(signal));
            resume_unwind(payload)
        }
    }
}
