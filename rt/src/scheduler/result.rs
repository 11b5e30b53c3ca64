//! The task's result: the one-shot [`JoinCell`] a coroutine's result waits
//! in for its joiner, the type-erased value in it, the harness every
//! coroutine runs in (catch, classify, complete), and [`JoinError`]. The
//! public handle over it is `join.rs`'s `JoinHandle` (and the scope's).

use std::fmt;
use std::mem::{align_of, size_of, MaybeUninit};
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::task::{self, park, GiveUpGuard, Task, Unparker, WaitReason, WaitSite};
use crate::loom::cell::UnsafeCell;
use crate::loom::sync::atomic::{AtomicU8, Ordering::AcqRel, Ordering::Acquire};
use crate::panic::Panic;
use crate::unwind::unwinding::{classify, Caught};
use crate::unwind::{resume_unwind, ExitSignal};

/// No result yet, nobody waiting.
const EMPTY: u8 = 0;
/// No result yet; `waiter` holds the joiner's unparker.
const WAITING: u8 = 1;
/// The result is in `value`.
const COMPLETE: u8 = 2;
/// The handle was dropped before the result came: nobody will read it.
const DETACHED: u8 = 3;

/// A one-shot slot for a coroutine's result and the one joiner waiting on it.
///
/// The completer writes the value, then swaps the state to `COMPLETE`; if it
/// was `WAITING` it wakes the joiner. The joiner publishes its unparker,
/// then moves `EMPTY → WAITING`; if that fails the value is already there.
/// Whichever side moves second sees the other's write.
///
/// A handle that goes away without the result — dropped, or its joiner
/// interrupted while waiting — *detaches*: `EMPTY` or `WAITING → DETACHED`,
/// after which the completer gets its result back and disposes of it
/// (drops a value, reports a panic), or, if the result came first, the
/// handle takes it and disposes of it. Either way exactly one side does.
pub struct JoinCell<T> {
    /// EMPTY / WAITING / COMPLETE / DETACHED.
    state: AtomicU8,
    /// The result, written once by the completer.
    value: UnsafeCell<Option<Result<T, JoinError>>>,
    /// Who to wake on completion; written by the joiner before `WAITING`.
    waiter: UnsafeCell<Option<Unparker>>,
}

// SAFETY: `value` and `waiter` are each written by one side and read by the
// other only after the state word's AcqRel hand-off described above.
unsafe impl<T: Send> Send for JoinCell<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for JoinCell<T> {}

impl<T> Default for JoinCell<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> JoinCell<T> {
    /// An empty cell.
    pub fn new() -> JoinCell<T> {
        JoinCell {
            state: AtomicU8::new(EMPTY),
            value: UnsafeCell::new(None),
            waiter: UnsafeCell::new(None),
        }
    }

    /// Store the result and wake the joiner. Returns the result back if the
    /// handle was dropped (detached) before it came.
    pub fn complete(&self, result: Result<T, JoinError>) -> Option<Result<T, JoinError>> {
        // SAFETY: only the completer writes `value`, and nobody reads it
        // before seeing COMPLETE, which is stored after this write.
        self.value.with_mut(|v| unsafe { *v = Some(result) });
        match self.state.swap(COMPLETE, AcqRel) {
            // SAFETY: WAITING was stored (Release) after the joiner wrote
            // `waiter`, and the joiner never touches it again.
            WAITING => self
                .waiter
                .with_mut(|w| unsafe { (*w).take() })
                .expect("waiter")
                .unpark(),
            // SAFETY: a detached handle never reads `value`.
            DETACHED => return self.value.with_mut(|v| unsafe { (*v).take() }),
            _ => {}
        }
        None
    }

    /// Whether the result is ready.
    pub fn is_complete(&self) -> bool {
        self.state.load(Acquire) == COMPLETE
    }

    /// Block (park) until the result is ready, then take it. If the wait
    /// is interrupted, the caller's handle must [`detach`](Self::detach).
    #[track_caller]
    pub fn wait(&self) -> Result<T, JoinError> {
        if self.register() {
            /// A joiner that shutdown abandons while it waits here never
            /// reads the result: detach, so the completer disposes of it.
            /// A result already there is leaked, not dropped: its
            /// destructor is user code, and this runs on the worker
            /// outside any coroutine (like an abandoned coroutine's locals).
            unsafe fn give_up_abandoned<T>(cell: *const ()) {
                // SAFETY: `cell` is this cell, kept alive by the frozen
                // joiner's handle (its memory is never freed).
                std::mem::forget(unsafe { &*cell.cast::<JoinCell<T>>() }.detach());
            }
            let task = task::current_task().map_or(std::ptr::null(), |t| t as *const Task);
            // SAFETY: the cell outlives the hook; detaching is thread-safe.
            let _abandon = unsafe {
                GiveUpGuard::install(task, (self as *const Self).cast(), give_up_abandoned::<T>)
            };
            let site = WaitSite::here(WaitReason::Join);
            while !self.is_complete() {
                park(site);
            }
        }
        self.take()
    }

    /// Become the joiner to wake on completion. Returns `false` if the
    /// result is already there (then nothing was registered).
    pub fn register(&self) -> bool {
        if self.is_complete() {
            return false;
        }
        // SAFETY: before WAITING is published the completer does not
        // touch `waiter`.
        self.waiter
            .with_mut(|w| unsafe { *w = Some(Unparker::current()) });
        self.state
            .compare_exchange(EMPTY, WAITING, AcqRel, Acquire)
            .is_ok()
    }

    /// Take the result, which must be complete.
    fn take(&self) -> Result<T, JoinError> {
        // SAFETY: COMPLETE was observed with Acquire; the completer is done.
        self.value
            .with_mut(|v| unsafe { (*v).take() })
            .expect("joined twice")
    }

    /// The handle goes away without the result (dropped, or its joiner
    /// gave up waiting). Returns the result if it had already come and was
    /// never read; otherwise the completer will get it back.
    pub fn detach(&self) -> Option<Result<T, JoinError>> {
        let mut seen = self.state.load(Acquire);
        loop {
            match seen {
                EMPTY | WAITING => {
                    match self.state.compare_exchange(seen, DETACHED, AcqRel, Acquire) {
                        Ok(_) => {
                            if seen == WAITING {
                                // SAFETY: the completer touches `waiter` only
                                // after swapping WAITING away, which our CAS
                                // did first; we (the joiner) wrote it.
                                drop(self.waiter.with_mut(|w| unsafe { (*w).take() }));
                            }
                            return None;
                        }
                        Err(now) => seen = now,
                    }
                }
                // SAFETY: COMPLETE observed with Acquire; taken at most once.
                COMPLETE => return self.value.with_mut(|v| unsafe { (*v).take() }),
                _ => return None,
            }
        }
    }
}

/// A coroutine's return value with its type erased, so that it can live in
/// the (untyped) task until the typed [`JoinHandle`] takes it. Values of up
/// to three words are stored inline; larger ones are boxed.
pub(crate) struct Erased {
    /// The value itself (inline) or a `Box<T>` pointer.
    slot: MaybeUninit<[usize; 3]>,
    /// Drops the value in `slot`; `None` once taken.
    drop: Option<unsafe fn(*mut [usize; 3])>,
}

// SAFETY: only built from `T: Send` values (see `Erased::new`).
unsafe impl Send for Erased {}

impl Erased {
    /// Whether `T` fits in the inline slot.
    const fn inline<T>() -> bool {
        size_of::<T>() <= size_of::<[usize; 3]>() && align_of::<T>() <= align_of::<[usize; 3]>()
    }

    /// Erase `value`.
    pub(crate) fn new<T: Send>(value: T) -> Erased {
        let mut slot = MaybeUninit::<[usize; 3]>::uninit();
        let drop: unsafe fn(*mut [usize; 3]) = if Self::inline::<T>() {
            // SAFETY: `T` fits the slot's size and alignment (checked above).
            unsafe { slot.as_mut_ptr().cast::<T>().write(value) };
            |slot| {
                // SAFETY: the fn is called once, on a slot holding a `T`.
                unsafe { slot.cast::<T>().drop_in_place() }
            }
        } else {
            // SAFETY: a pointer fits the slot.
            unsafe {
                slot.as_mut_ptr()
                    .cast::<*mut T>()
                    .write(Box::into_raw(Box::new(value)))
            };
            |slot| {
                // SAFETY: the fn is called once, on a slot holding a Box<T>.
                unsafe { drop(Box::from_raw(slot.cast::<*mut T>().read())) }
            }
        };
        Erased {
            slot,
            drop: Some(drop),
        }
    }

    /// Take the value back out.
    ///
    /// # Safety
    ///
    /// `T` must be the type this was created from.
    pub(crate) unsafe fn take<T>(mut self) -> T {
        self.drop = None;
        let slot = self.slot.as_mut_ptr();
        if Self::inline::<T>() {
            // SAFETY: the slot holds a `T` (caller's contract); `drop` is
            // cleared so it is not dropped again.
            unsafe { slot.cast::<T>().read() }
        } else {
            // SAFETY: as above, for the boxed representation.
            unsafe { *Box::from_raw(slot.cast::<*mut T>().read()) }
        }
    }
}

impl Drop for Erased {
    fn drop(&mut self) {
        if let Some(drop) = self.drop {
            // SAFETY: `drop` matches the slot's contents, which are still
            // there (`take` clears `drop`).
            unsafe { drop(self.slot.as_mut_ptr()) }
        }
    }
}

/// Where a coroutine's result waits for its joiner (part of every task).
pub(crate) type TaskResult = JoinCell<Erased>;

/// Deliver the running coroutine's result. Returns the panic if it was one
/// and the coroutine's handle is already gone: nobody else will see it. A
/// value nobody will read is dropped here, on the coroutine; a panic from
/// its destructor is returned the same way.
fn complete_current(result: Result<Erased, JoinError>) -> Option<Panic> {
    let task = task::current_task().expect("completing outside a coroutine");
    match task.result.complete(result) {
        Some(Err(JoinError(Repr::Panicked(panic)))) => Some(panic),
        Some(unread) => match catch_unwind(AssertUnwindSafe(|| drop(unread))) {
            Ok(()) => None,
            Err(payload) => match classify(payload) {
                Caught::Panic(panic) => Some(panic),
                Caught::Forced(payload) => resume_unwind(payload),
            },
        },
        None => None,
    }
}

/// Complete a task that will never run (cancelled before it started, or
/// torn down): its joiner sees [`JoinError::is_cancelled`].
pub(crate) fn complete_cancelled(result: &TaskResult) {
    drop(result.complete(Err(JoinError(Repr::Cancelled))));
}

/// Wait for `task`'s result, typed.
///
/// # Safety
///
/// `T` must be the return type of the task's body.
#[track_caller]
pub(crate) unsafe fn wait_typed<T>(task: &Task) -> Result<T, JoinError> {
    // SAFETY: forwarded to our caller.
    task.result.wait().map(|value| unsafe { value.take::<T>() })
}

/// The root of every coroutine: run `f`, catch what escapes, complete.
/// Returns a panic that nobody will observe (the handle was dropped), for
/// the caller to report.
///
/// A forced unwind (the runtime tearing a suspended coroutine down) is
/// completed as "cancelled" and passed on, never reported as a panic.
pub(crate) fn run_to_completion<T: Send>(f: impl FnOnce() -> T) -> Option<Panic> {
    let task = task::current_task().expect("inside a coroutine");
    // Coroutine-local values die with the coroutine, on its own thread,
    // however it ends (before its result is published).
    struct ClearLocals<'a>(&'a Task);
    impl Drop for ClearLocals<'_> {
        fn drop(&mut self) {
            self.0.locals.clear();
        }
    }
    match catch_unwind(AssertUnwindSafe(|| {
        let _clear = ClearLocals(task);
        // Cancelled before it ever ran: run nothing.
        task.check_interrupts();
        f()
    })) {
        Ok(value) => complete_current(Ok(Erased::new(value))),
        Err(payload) => match classify(payload) {
            Caught::Panic(panic) => complete_current(Err(JoinError(Repr::Panicked(panic)))),
            Caught::Forced(payload) if payload.is::<ExitSignal>() => {
                complete_current(Err(JoinError(Repr::Exited)))
            }
            Caught::Forced(payload) => {
                complete_cancelled(&task.result);
                if crate::coroutine::is_forced_unwind(&*payload) {
                    // corosensei's teardown must reach its own root.
                    resume_unwind(payload);
                }
                None
            }
        },
    }
}

/// Print a panic nobody will observe, naming the coroutine it escaped from.
pub(crate) fn report_unobserved(panic: &Panic) {
    let who = task::current().map_or_else(|| "a coroutine".to_owned(), |c| c.0.describe());
    eprint!("{}", panic.report(&who));
}

/// Why a coroutine produced no value: it panicked, was cancelled, or
/// ended itself with [`rt::exit`](crate::exit).
///
/// ```
/// let err = rt::run(|| rt::spawn(|| -> u8 { panic!("no") }).join().unwrap_err());
/// assert!(err.is_panic() && !err.is_cancelled());
/// println!("{err}"); // coroutine panicked: no
/// ```
pub struct JoinError(pub(crate) Repr);

pub(crate) enum Repr {
    /// The coroutine panicked and nothing recovered it.
    Panicked(Panic),
    /// The coroutine called `rt::exit`.
    Exited,
    /// The coroutine was unwound (runtime shutdown) or never started.
    Cancelled,
}

impl JoinError {
    /// The coroutine panicked.
    ///
    /// ```
    /// let err = rt::run(|| rt::spawn(|| panic!("bad input")).join().unwrap_err());
    /// assert!(err.is_panic());
    /// assert!(!err.is_cancelled() && !err.is_exited());
    /// assert_eq!(err.to_string(), "coroutine panicked: bad input");
    /// ```
    pub fn is_panic(&self) -> bool {
        matches!(self.0, Repr::Panicked(_))
    }

    /// The coroutine was cancelled: by [`JoinHandle::cancel`](crate::JoinHandle::cancel), or by
    /// runtime shutdown before it finished. Its deferred closures and
    /// destructors ran.
    ///
    /// ```
    /// let err = rt::run(|| {
    ///     let h = rt::spawn(|| loop {
    ///         rt::yield_now();
    ///     });
    ///     h.cancel();
    ///     h.join().unwrap_err()
    /// });
    /// assert!(err.is_cancelled() && !err.is_panic());
    /// assert_eq!(err.to_string(), "coroutine was cancelled");
    /// ```
    pub fn is_cancelled(&self) -> bool {
        matches!(self.0, Repr::Cancelled)
    }

    /// The coroutine ended itself with [`rt::exit`](crate::exit) (its
    /// deferred closures ran).
    ///
    /// ```
    /// let err = rt::run(|| rt::spawn(|| -> u8 { rt::exit() }).join().unwrap_err());
    /// assert!(err.is_exited() && !err.is_panic() && !err.is_cancelled());
    /// assert_eq!(err.to_string(), "coroutine exited");
    /// ```
    pub fn is_exited(&self) -> bool {
        matches!(self.0, Repr::Exited)
    }

    /// The panic. Panics if the coroutine was cancelled or exited instead; see
    /// [`try_into_panic`](Self::try_into_panic).
    ///
    /// ```
    /// let err = rt::run(|| rt::spawn(|| panic!("lost {}", 42)).join().unwrap_err());
    /// let panic = err.into_panic();
    /// assert_eq!(panic.message(), Some("lost 42"));
    /// ```
    pub fn into_panic(self) -> Panic {
        self.try_into_panic()
            .expect("JoinError::into_panic on a cancelled or exited coroutine")
    }

    /// The panic, or the error back if the coroutine was cancelled or exited.
    ///
    /// ```
    /// let err = rt::run(|| rt::spawn(|| panic!("p")).join().unwrap_err());
    /// assert_eq!(err.try_into_panic().unwrap().message(), Some("p"));
    /// let err = rt::run(|| rt::spawn(|| -> u8 { rt::exit() }).join().unwrap_err());
    /// let err = err.try_into_panic().unwrap_err(); // not a panic: the error comes back
    /// assert!(err.is_exited());
    /// ```
    pub fn try_into_panic(self) -> Result<Panic, JoinError> {
        match self.0 {
            Repr::Panicked(panic) => Ok(panic),
            Repr::Cancelled | Repr::Exited => Err(self),
        }
    }

    /// The panic, if it was one (without consuming the error).
    ///
    /// ```
    /// let err = rt::run(|| rt::spawn(|| panic!("peek")).join().unwrap_err());
    /// assert_eq!(err.panic().unwrap().message(), Some("peek"));
    /// assert!(err.is_panic()); // the error is still there
    /// let err = rt::run(|| rt::spawn(|| -> u8 { rt::exit() }).join().unwrap_err());
    /// assert!(err.panic().is_none());
    /// ```
    pub fn panic(&self) -> Option<&Panic> {
        match &self.0 {
            Repr::Panicked(panic) => Some(panic),
            Repr::Cancelled | Repr::Exited => None,
        }
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::Panicked(panic) => write!(f, "coroutine panicked: {panic}"),
            Repr::Cancelled => f.write_str("coroutine was cancelled"),
            Repr::Exited => f.write_str("coroutine exited"),
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::Panicked(panic) => f.debug_tuple("JoinError::Panicked").field(panic).finish(),
            Repr::Cancelled => f.write_str("JoinError::Cancelled"),
            Repr::Exited => f.write_str("JoinError::Exited"),
        }
    }
}

impl std::error::Error for JoinError {}
