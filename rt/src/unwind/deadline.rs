//! The deadline of the innermost `rt::timeout` scope of a coroutine (kept
//! in its task) or of a plain thread, and the signal that ends the scope:
//! the timeout's half of the interruption rules.

use std::any::Any;
use std::cell::Cell;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

use super::{resume_unwind, Mask};
use crate::scheduler::{self, task};

/// The innermost [`timeout`](crate::timeout) of a coroutine (kept in its task) or of a
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

/// The unwind payload of a [`timeout`](crate::timeout) that ran out; only the scope with
/// this id catches it. Like a cancellation, nothing can `recover` it.
pub(crate) struct TimeoutSignal(u32);

impl Deadline {
    /// At a park point: unwind if the innermost scope has run out and
    /// `mask` allows an interruption here (else it stays pending).
    #[inline]
    pub(crate) fn check(&self, mask: &Mask) {
        if self.expired() && mask.allows_delivery() {
            self.fired.set(true);
            mask.begin_forced_unwind();
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

/// One `rt::timeout` scope, entered: what the enclosing scope was, to
/// restore it when this one ends.
pub(crate) struct Scope {
    /// The scope's deadline state (the caller's own, see `current_deadline`).
    deadline: *const Deadline,
    /// This scope's id: its signal carries it.
    id: u32,
    /// The enclosing scope's deadline, id and fired flag.
    saved: (Option<Instant>, u32, bool),
    /// The timer that wakes the coroutine at this scope's deadline; a
    /// scope left earlier cancels it when dropped.
    _timer: Option<scheduler::Timer>,
}

impl Scope {
    /// Enter a scope ending at `at`; it applies if it ends before the
    /// enclosing one (or that one already fired).
    pub(crate) fn enter(at: Instant) -> Scope {
        static NEXT_ID: AtomicU32 = AtomicU32::new(1);
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let deadline = current_deadline();
        // SAFETY: the caller's own deadline state (see `current_deadline`).
        let d = unsafe { &*deadline };
        let saved = (d.at.get(), d.id.get(), d.fired.get());
        let mut timer = None;
        if saved.2 || saved.0.is_none_or(|outer| at < outer) {
            d.at.set(Some(at));
            d.id.set(id);
            d.fired.set(false);
            timer = scheduler::wake_at(at);
        }
        Scope {
            deadline,
            id,
            saved,
            _timer: timer,
        }
    }

    /// Whether `payload` is this scope's own signal.
    pub(crate) fn raised(&self, payload: &(dyn Any + Send)) -> bool {
        payload
            .downcast_ref::<TimeoutSignal>()
            .is_some_and(|s| s.0 == self.id)
    }

    /// Leave the scope, restoring the enclosing one, given what unwound out
    /// of it (if anything); returns whether that was this scope's signal.
    /// If the enclosing scope's own signal is what unwinds, it stays fired.
    pub(crate) fn leave(&self, unwound: Option<&(dyn Any + Send)>) -> bool {
        let fired_for = unwound.and_then(|p| p.downcast_ref::<TimeoutSignal>().map(|s| s.0));
        // SAFETY: as in `enter`: the same caller's state (a coroutine's
        // lives in its task, and a coroutine never changes threads).
        let d = unsafe { &*self.deadline };
        let (at, id, fired) = self.saved;
        d.at.set(at);
        d.id.set(id);
        d.fired
            .set(fired || (at.is_some() && fired_for == Some(id)));
        fired_for == Some(self.id)
    }
}
