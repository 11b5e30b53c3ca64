//! Time: sleeping that parks the coroutine, not the worker; deadlines for
//! whole blocks of blocking code ([`timeout`]); periodic ticks ([`Ticker`]).
//!
//! Timers live on the worker that runs the coroutine (see
//! `scheduler/timers.rs`); an idle worker sleeps exactly until its next
//! deadline. Outside a coroutine the same calls park the thread.

use std::cell::Cell;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::interrupt::resume_unwind;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::chan::{self, Receiver, TrySendError};
use crate::join::JoinHandle;
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
        task::park_until(deadline, timer, site);
    }
}

/// The innermost [`timeout`] of a coroutine (kept in its task) or of a
/// plain thread.
#[derive(Default)]
pub(crate) struct Deadline {
    /// When the innermost active scope runs out.
    at: Cell<Option<Instant>>,
    /// Which scope that is.
    id: Cell<u32>,
    /// Its signal is already unwinding (cleanup may park normally).
    fired: Cell<bool>,
}

/// The unwind payload of a [`timeout`] that ran out; only the scope with
/// this id catches it. Like a cancellation, nothing can `recover` it.
pub(crate) struct TimeoutSignal(u32);

impl Deadline {
    /// At a park point: unwind if the innermost scope has run out and
    /// `mask` allows an interruption here (else it stays pending).
    #[inline]
    pub(crate) fn check(&self, mask: &crate::interrupt::Mask) {
        if self.expired() && mask.allows_delivery() {
            self.fired.set(true);
            crate::defer::begin_forced_unwind();
            resume_unwind(Box::new(TimeoutSignal(self.id.get())));
        }
    }

    /// Make the innermost scope run out now (a test harness's injected
    /// timeout); nothing happens outside any scope.
    pub(crate) fn expire_now(&self) {
        if self.at.get().is_some() && !self.fired.get() {
            self.at.set(Some(Instant::now()));
        }
    }

    /// Whether the innermost scope has run out and its signal has not
    /// been raised yet.
    pub(crate) fn expired(&self) -> bool {
        self.pending().is_some_and(|at| Instant::now() >= at)
    }

    /// The instant a park must end by, if a scope is active.
    pub(crate) fn pending(&self) -> Option<Instant> {
        self.at.get().filter(|_| !self.fired.get())
    }
}

thread_local! {
    /// The timeout scope of code running outside any coroutine.
    static THREAD_DEADLINE: Deadline = Deadline::default();
}

/// Run `f` with the timeout scope of a plain thread.
pub(crate) fn with_thread_deadline<R>(f: impl FnOnce(&Deadline) -> R) -> R {
    THREAD_DEADLINE.with(f)
}

/// When the innermost `rt::timeout` of the calling plain thread runs out,
/// if it has one and its signal was not raised yet (`None` in a coroutine,
/// whose timeouts wake it with a timer).
pub(crate) fn thread_deadline() -> Option<Instant> {
    if task::in_coroutine() {
        return None;
    }
    with_thread_deadline(Deadline::pending)
}

/// The caller's timeout scope: its coroutine's or its thread's.
fn current_deadline() -> *const Deadline {
    match task::current_task() {
        Some(task) => &task.deadline,
        None => THREAD_DEADLINE.with(|d| d as *const Deadline),
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
    static NEXT_ID: AtomicU32 = AtomicU32::new(1);
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    // SAFETY: the scope outlives this call: a coroutine's lives in its
    // task, a thread's until the thread exits; only this thread touches it.
    let scope = unsafe { &*current_deadline() };
    let saved = (scope.at.get(), scope.id.get(), scope.fired.get());
    let ours = saved.2 || saved.0.is_none_or(|outer| deadline < outer);
    if ours {
        scope.at.set(Some(deadline));
        scope.id.set(id);
        scope.fired.set(false);
        scheduler::wake_at(deadline);
    }
    let result = catch_unwind(AssertUnwindSafe(f));
    let fired_for = match &result {
        Err(payload) => {
            // Caught (re-raised below unless it is ours).
            crate::interrupt::unwind_caught();
            payload.downcast_ref::<TimeoutSignal>().map(|s| s.0)
        }
        Ok(_) => None,
    };
    // Leave the scope as it was; if the outer scope's own signal is what
    // unwinds, it stays fired.
    scope.at.set(saved.0);
    scope.id.set(saved.1);
    scope
        .fired
        .set(saved.2 || (saved.0.is_some() && fired_for == Some(saved.1)));
    match result {
        Ok(value) => Ok(value),
        Err(_) if fired_for == Some(id) => {
            crate::defer::end_forced_unwind();
            Err(Elapsed(()))
        }
        Err(payload) => {
            // A panic that interrupted this scope's own signal (raised by a
            // deferred closure while the signal ran them) ends the scope
            // as a panic: the signal cannot carry on past it.
            let ours = |signal: &(dyn std::any::Any + Send)| {
                signal
                    .downcast_ref::<TimeoutSignal>()
                    .is_some_and(|s| s.0 == id)
            };
            crate::defer::forget_suspended(&*payload, ours);
            resume_unwind(payload)
        }
    }
}

/// Ticks at a fixed period, like Go's `time.Ticker`: receive them with
/// [`Ticker::tick`], or use [`Ticker::receiver`] in [`select!`](crate::select).
/// A slow receiver misses ticks rather than getting a burst of stale ones
/// (one tick is buffered). Dropping the ticker stops it.
///
/// ```
/// use std::time::{Duration, Instant};
/// rt::run(|| {
///     let start = Instant::now();
///     let ticker = rt::Ticker::new(Duration::from_millis(5));
///     for n in 1..=3 {
///         ticker.tick();
///         assert!(start.elapsed() >= Duration::from_millis(5 * n));
///     }
/// });
/// ```
pub struct Ticker {
    /// The ticks.
    receiver: Receiver<Instant>,
    /// The coroutine that sends them; cancelled on drop.
    feeder: JoinHandle<()>,
    /// Time between ticks.
    period: Duration,
}

impl Ticker {
    /// Tick every `period`, the first tick one period from now.
    ///
    /// # Panics
    ///
    /// If `period` is zero (as Go's `NewTicker` does).
    ///
    /// ```
    /// let ticker = rt::Ticker::new(std::time::Duration::from_millis(1));
    /// assert_eq!(ticker.period(), std::time::Duration::from_millis(1));
    /// ```
    pub fn new(period: Duration) -> Ticker {
        assert!(
            !period.is_zero(),
            "rt::Ticker::new: the period must be non-zero"
        );
        let (sender, receiver) = chan::bounded(1);
        let start = Instant::now();
        let feeder = crate::runtime::spawn(move || {
            // A tick past what `Instant` can represent never comes.
            let tick_site = task::WaitSite::here(WaitReason::Ticker);
            let Some(mut next) = start.checked_add(period) else {
                sleep_forever(tick_site);
            };
            loop {
                sleep_until(next);
                let now = Instant::now();
                if let Err(TrySendError::Closed(_)) = sender.try_send(now) {
                    return;
                }
                // Skip ticks that are already late.
                let missed = now.duration_since(next).as_nanos() / period.as_nanos();
                let skip = u32::try_from(missed).unwrap_or(u32::MAX - 1) + 1;
                match period.checked_mul(skip).and_then(|d| next.checked_add(d)) {
                    Some(later) => next = later,
                    None => sleep_forever(tick_site),
                }
            }
        });
        Ticker {
            receiver,
            feeder,
            period,
        }
    }

    /// Wait for the next tick; returns when it was sent.
    ///
    /// ```
    /// let ticker = rt::Ticker::new(std::time::Duration::from_millis(1));
    /// let first = ticker.tick();
    /// assert!(ticker.tick() > first);
    /// ```
    #[track_caller]
    pub fn tick(&self) -> Instant {
        self.receiver
            .recv_for(WaitReason::Ticker)
            .expect("a ticker's channel stays open while the ticker lives")
    }

    /// The ticks as a channel, for `select!`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let ticker = rt::Ticker::new(Duration::from_millis(1));
    /// let (_tx, never) = rt::chan::bounded::<()>(0);
    /// let ticked = rt::select! {
    ///     recv(ticker.receiver()) -> _ => true,
    ///     recv(never) -> _ => false,
    /// };
    /// assert!(ticked);
    /// ```
    pub fn receiver(&self) -> &Receiver<Instant> {
        &self.receiver
    }

    /// The period it was created with.
    ///
    /// ```
    /// use std::time::Duration;
    /// assert_eq!(rt::Ticker::new(Duration::from_secs(1)).period(), Duration::from_secs(1));
    /// ```
    pub fn period(&self) -> Duration {
        self.period
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.feeder.cancel();
    }
}

impl fmt::Debug for Ticker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ticker")
            .field("period", &self.period)
            .finish()
    }
}
