//! Unwinding: the payloads rt raises itself (exit, cancellation, timeout,
//! teardown) and what a caught payload is (`is_forced`, `panicking()`), a
//! coroutine's unwinding state (`unwinding.rs`: its defer chain and the
//! panic it handles), the timeout deadline (`deadline.rs`), and — this
//! file — when an interruption may be delivered (`docs/interruption.md`).
//!
//! Cancellation, an `rt::timeout` deadline and runtime shutdown are
//! *requests*. They are raised as an unwind only at an interruptible park
//! point: a park (or yield) where
//!
//! 1. the coroutine (or thread) is not unwinding already — a second unwind
//!    started inside a destructor would abort the process — and
//! 2. it is not inside an [`uninterruptible`] region — the waits that
//!    safety depends on (a scope waiting for its children) and cleanup that
//!    must finish.
//!
//! A request that arrives elsewhere stays pending, and the next
//! interruptible park point delivers it. The mask is a counter in the
//! coroutine's task (or the thread's, outside coroutines).
//!
//! *Is it unwinding?* `std::thread::panicking()` answers for the thread,
//! and std keeps one panic count per thread: a coroutine suspended in a
//! destructor mid-unwind leaves its worker's count raised while the
//! worker runs other coroutines. So each worker thread counts its
//! coroutines suspended mid-unwind; while there are none, the thread's
//! answer is the coroutine's. While there are some, each coroutine's own
//! answer comes from a flag rt keeps: set where an unwind starts (the
//! panic hook, rt's own raises) and cleared where rt catches one.

mod arena;
pub(crate) mod deadline;
pub(crate) mod unwinding;

use std::any::Any;
use std::cell::Cell;

use crate::scheduler::task;

/// The unwind payload of [`rt::exit`](crate::exit).
pub(crate) struct ExitSignal;

/// The unwind payload of a cancellation (`JoinHandle::cancel`).
pub(crate) struct CancelSignal;

/// The unwind payload that cuts short a wait in cleanup that runs while
/// shutdown tears the coroutine down (see `Task::at_teardown_point`).
pub(crate) struct TeardownSignal;

/// Whether `payload` is an interruption from outside: a cancellation, an
/// `rt::timeout` running out, or shutdown's teardown (not `exit`, which
/// the coroutine raises itself, and not a panic).
pub(crate) fn is_interruption(payload: &(dyn Any + Send)) -> bool {
    payload.is::<CancelSignal>()
        || payload.is::<deadline::TimeoutSignal>()
        || payload.is::<TeardownSignal>()
        || crate::coroutine::is_forced_unwind(payload)
}

/// Whether `payload` is a forced unwind: an exit or an interruption —
/// never a panic, never recoverable.
pub(crate) fn is_forced(payload: &(dyn Any + Send)) -> bool {
    payload.is::<ExitSignal>() || is_interruption(payload)
}

/// Whether the caller is unwinding because of a *panic* — not an
/// `rt::exit`, a cancellation, an `rt::timeout` or a shutdown teardown,
/// which unwind too (`std::thread::panicking()` is true for all of them)
/// but are not failures: locks must not be poisoned by them.
pub(crate) fn panicking() -> bool {
    std::thread::panicking()
        && !with_mask(|mask| mask.forced_in_flight.get())
        && !task::current_task().is_some_and(|t| t.is_unwinding())
}

/// An `exit` or an interruption is about to unwind the caller: nothing
/// may recover it, and it poisons no lock.
pub(crate) fn begin_forced_unwind() {
    with_mask(Mask::begin_forced_unwind);
}

/// The caller's forced unwind was caught (it may be raised again).
pub(crate) fn end_forced_unwind() {
    with_mask(|mask| mask.forced_in_flight.set(false));
}

/// Whether a forced unwind of the caller is in flight.
pub(crate) fn forced_in_flight() -> bool {
    with_mask(|mask| mask.forced_in_flight.get())
}

/// Whether interruptions may be delivered to one coroutine (or thread).
#[derive(Debug, Default)]
pub(crate) struct Mask {
    /// How deep it is in [`uninterruptible`] regions.
    depth: Cell<u32>,
    /// Unwinds of its own in flight, as far as rt saw them start and not
    /// yet caught: a count, because a destructor running during an unwind
    /// may start and catch one of its own (consulted only while another
    /// coroutine of the same thread is suspended mid-unwind; see the module
    /// doc). Unwinds rt does not see start (a user's
    /// `std::panic::resume_unwind`) are not counted; catches rt does not
    /// see (a user's `catch_unwind`) leave it too high, which only holds
    /// interruptions back.
    unwinding: Cell<u32>,
    /// It is suspended mid-unwind, counted in [`SUSPENDED_UNWINDING`].
    suspended_unwinding: Cell<bool>,
    /// An `exit` or an interruption is unwinding it: nothing may recover
    /// it, and it poisons no lock.
    forced_in_flight: Cell<bool>,
}

impl Mask {
    /// Whether its own unwind is in flight.
    pub(crate) fn is_unwinding(&self) -> bool {
        std::thread::panicking() && (suspended_unwinding() == 0 || self.unwinding.get() > 0)
    }

    /// Whether an interruption may be raised here and now.
    pub(crate) fn allows_delivery(&self) -> bool {
        self.depth.get() == 0 && !self.is_unwinding()
    }

    /// About to suspend (park or yield): count it if it suspends
    /// mid-unwind. Returns whether it suspends at an interruptible point
    /// (then [`resumed`](Self::resumed) need not be called).
    #[inline]
    pub(crate) fn suspending(&self) -> bool {
        if !std::thread::panicking() {
            return self.depth.get() == 0;
        }
        self.suspending_while_panicking()
    }

    #[cold]
    fn suspending_while_panicking(&self) -> bool {
        let unwinding = self.is_unwinding();
        if unwinding {
            add_suspended_unwinding(1);
            self.suspended_unwinding.set(true);
        }
        self.depth.get() == 0 && !unwinding
    }

    /// An unwind of its own starts that rt did not raise itself
    /// (corosensei's teardown).
    pub(crate) fn unwind_starts(&self) {
        self.unwinding.set(self.unwinding.get().saturating_add(1));
    }

    /// rt caught one of its unwinds.
    fn unwind_caught(&self) {
        self.unwinding.set(self.unwinding.get().saturating_sub(1));
    }

    /// An `exit` or an interruption is about to unwind it.
    pub(crate) fn begin_forced_unwind(&self) {
        self.forced_in_flight.set(true);
    }

    /// Resumed after [`suspending`](Self::suspending).
    pub(crate) fn resumed(&self) {
        if self.suspended_unwinding.replace(false) {
            add_suspended_unwinding(-1);
        }
    }
}

thread_local! {
    /// The mask of code running outside any coroutine.
    static THREAD_MASK: Mask = Mask::default();
    /// How many coroutines of this (worker) thread are suspended mid-unwind.
    static SUSPENDED_UNWINDING: Cell<u32> = const { Cell::new(0) };
}

/// Read through a call that is never inlined: the thread-local's address
/// must not be cached across a coroutine switch (see docs/scheduler.md).
#[inline(never)]
fn suspended_unwinding() -> u32 {
    SUSPENDED_UNWINDING.with(Cell::get)
}

#[inline(never)]
fn add_suspended_unwinding(delta: i32) {
    SUSPENDED_UNWINDING.with(|n| n.set(n.get().wrapping_add_signed(delta)));
}

/// Run `f`, which resumes coroutines on the calling thread, while that
/// thread itself may be mid-unwind (a current-thread runtime driven or
/// dropped by a destructor during a panic): the thread then counts as one
/// suspended unwind, so each coroutine's own state says whether it is
/// unwinding, not the thread's panic count (see [`Mask::is_unwinding`]).
pub(crate) fn beside_thread_unwind<R>(f: impl FnOnce() -> R) -> R {
    struct Uncount(bool);
    impl Drop for Uncount {
        fn drop(&mut self) {
            if self.0 {
                add_suspended_unwinding(-1);
            }
        }
    }
    let mid_unwind = std::thread::panicking();
    if mid_unwind {
        add_suspended_unwinding(1);
    }
    let _uncount = Uncount(mid_unwind);
    f()
}

/// An unwind of the caller starts (the panic hook saw a panic).
pub(crate) fn unwind_starts() {
    with_mask(Mask::unwind_starts);
}

/// rt caught the caller's unwind.
pub(crate) fn unwind_caught() {
    with_mask(Mask::unwind_caught);
}

/// Start (or continue) unwinding with `payload`: rt's `resume_unwind`,
/// which keeps the caller's unwinding flag right.
pub(crate) fn resume_unwind(payload: Box<dyn Any + Send>) -> ! {
    unwind_starts();
    std::panic::resume_unwind(payload)
}

/// Run `f` with the caller's mask (its coroutine's or its thread's).
pub(crate) fn with_mask<R>(f: impl FnOnce(&Mask) -> R) -> R {
    match task::current_task() {
        Some(task) => f(&task.mask),
        None => THREAD_MASK.with(f),
    }
}

/// Run `f` so that no cancellation, [`timeout`](crate::timeout) deadline or
/// runtime shutdown interrupts it (pthread's cancel state, Haskell's
/// `mask`): a request that arrives meanwhile stays pending and is delivered
/// at the first park point after `f` returns. `f` still parks and blocks
/// normally; regions nest.
///
/// Use it for cleanup that must finish — flushing a buffer, handing a
/// value back, waiting for helpers that borrow the caller's stack — not to
/// make a coroutine deaf to cancellation: a cancelled coroutine that keeps
/// waiting here keeps its runtime's shutdown waiting too (and at shutdown
/// a coroutine that still waits inside a region is abandoned, not unwound).
///
/// `rt::exit()` and panics inside `f` unwind as usual: the region only
/// holds back requests that come from outside.
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
/// use std::time::Duration;
/// static FLUSHED: AtomicBool = AtomicBool::new(false);
/// let r = rt::run(|| {
///     rt::timeout(Duration::from_millis(1), || {
///         rt::uninterruptible(|| {
///             rt::sleep(Duration::from_millis(5)); // the deadline passes here
///             FLUSHED.store(true, SeqCst); // …and the flush still finishes
///         });
///         rt::sleep(Duration::from_secs(60)); // interrupted here
///     })
/// });
/// assert!(r.is_err());
/// assert!(FLUSHED.load(SeqCst));
/// ```
pub fn uninterruptible<R>(f: impl FnOnce() -> R) -> R {
    struct Unmask;
    impl Drop for Unmask {
        fn drop(&mut self) {
            with_mask(|mask| mask.depth.set(mask.depth.get() - 1));
        }
    }
    with_mask(|mask| mask.depth.set(mask.depth.get() + 1));
    let _unmask = Unmask;
    f()
}

/// Whether the caller has an interruption waiting to be delivered: its
/// coroutine was cancelled, or its innermost `rt::timeout` ran out.
pub(crate) fn pending() -> bool {
    match task::current_task() {
        Some(task) => task.interrupt_pending(),
        None => deadline::with_thread_deadline(|deadline| deadline.expired()),
    }
}

/// An interruptible point that does not park: deliver a pending
/// interruption now, if it may be delivered here. For blocking calls whose
/// own wait could not be interrupted (a scope's wait for its children).
pub(crate) fn checkpoint() {
    match task::current_task() {
        Some(task) => task.check_interrupts(),
        None => deadline::with_thread_deadline(|deadline| with_mask(|mask| deadline.check(mask))),
    }
}

/// What [`inject`] makes due.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Injected {
    /// A cancellation, as from `JoinHandle::cancel`.
    Cancel,
    /// The innermost `rt::timeout` runs out (nothing if there is none).
    Timeout,
}

/// For interruption-injection tests: make an interruption of `kind` due
/// at the calling coroutine's `checks`-th interruption check from now
/// (a park checks once, before it switches out; `yield_now` before and
/// after). From then on it is an ordinary pending request, delivered by
/// the rules of this module. No effect outside coroutines.
///
/// ```
/// let err = rt::run(|| {
///     rt::spawn(|| {
///         rt::__inject_interrupt(3, rt::__Injected::Cancel);
///         rt::yield_now(); // checks 1 and 2
///         rt::yield_now(); // check 3: cancelled here
///         unreachable!();
///     })
///     .join()
///     .unwrap_err()
/// });
/// assert!(err.is_cancelled());
/// ```
#[doc(hidden)]
pub fn inject(checks: u32, kind: Injected) {
    if let Some(task) = task::current_task() {
        task.inject(checks, kind);
    }
}

/// For interruption-injection tests: whether the calling coroutine's
/// injected interruption is still counting down (it never became due).
///
/// ```
/// rt::run(|| {
///     rt::__inject_interrupt(100, rt::__Injected::Cancel);
///     assert!(rt::__injection_pending());
/// });
/// ```
#[doc(hidden)]
pub fn injection_pending() -> bool {
    task::current_task().is_some_and(|task| task.injection_pending())
}
