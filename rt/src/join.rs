//! Joining a coroutine: [`JoinHandle`]. The result cell underneath and
//! [`JoinError`] are the task's (`scheduler/result.rs`).

use std::fmt;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::sync::Arc;

pub use crate::scheduler::result::JoinError;
use crate::scheduler::result::{wait_typed, Repr};
use crate::scheduler::task::{Coroutine, Task};

/// Owns the right to join a coroutine. Dropping it detaches the coroutine:
/// it keeps running, and a panic of a detached coroutine is printed.
///
/// ```
/// let sum = rt::run(|| {
///     let handles: Vec<_> = (1..=10).map(|i| rt::spawn(move || i * i)).collect();
///     handles.into_iter().map(|h| h.join().unwrap()).sum::<i32>()
/// });
/// assert_eq!(sum, 385);
/// ```
pub struct JoinHandle<T> {
    /// The coroutine.
    raw: RawJoinHandle,
    /// The result type (the task stores it erased).
    result: PhantomData<fn() -> T>,
}

/// What [`JoinHandle`] and `ScopedJoinHandle` share: the joined coroutine's
/// task, whose result cell its result arrives in. The public handles add
/// the result type, and what dropping them means.
pub(crate) struct RawJoinHandle(Arc<Task>);

impl RawJoinHandle {
    /// A handle for `task`.
    pub(crate) fn new(task: Arc<Task>) -> RawJoinHandle {
        RawJoinHandle(task)
    }

    /// Wait for the result. The public handle stays alive meanwhile: if
    /// the wait is interrupted (cancel, timeout) it is dropped on the way
    /// out and detaches, and the coroutine disposes of its result.
    ///
    /// # Safety
    ///
    /// `T` must be the return type of the task's body.
    #[track_caller]
    pub(crate) unsafe fn wait<T>(&self) -> Result<T, JoinError> {
        crate::scheduler::Shared::assert_may_wait_for(&self.0);
        // SAFETY: forwarded to our caller.
        unsafe { wait_typed(&self.0) }
    }

    /// After the wait: give the task's memory back for reuse (joined:
    /// nothing is left to detach or report).
    pub(crate) fn joined(self) {
        crate::scheduler::recycle(self.0);
    }

    /// Give up the result: the coroutine disposes of it. Returns the
    /// error it ended with, if it already had (and nobody read it).
    pub(crate) fn detach(&self) -> Option<JoinError> {
        match self.0.result.detach() {
            Some(Err(err)) => Some(err),
            _ => None,
        }
    }

    pub(crate) fn is_finished(&self) -> bool {
        self.0.result.is_complete()
    }

    pub(crate) fn cancel(&self) {
        self.0.cancel();
    }

    pub(crate) fn coroutine(&self) -> Coroutine {
        Coroutine(self.0.clone())
    }

    /// Who it is, for a report.
    pub(crate) fn describe(&self) -> String {
        self.0.describe()
    }
}

impl<T> JoinHandle<T> {
    /// A handle for `task`, whose body returns a `T`.
    ///
    /// # Safety
    ///
    /// `T` must be the return type of the task's body.
    pub(crate) unsafe fn new(task: Arc<Task>) -> JoinHandle<T> {
        JoinHandle {
            raw: RawJoinHandle::new(task),
            result: PhantomData,
        }
    }

    /// Wait for the coroutine to finish and take its result.
    ///
    /// From a coroutine this parks only the coroutine; from a plain thread
    /// it blocks the thread. A panic of the coroutine comes back as
    /// `Err(JoinError)` with [`JoinError::is_panic`]; a coroutine dropped by
    /// runtime shutdown before it finished gives [`JoinError::is_cancelled`].
    ///
    /// ```
    /// let handle = rt::run(|| rt::spawn(|| panic!("boom")));
    /// let err = handle.join().unwrap_err();
    /// assert!(err.is_panic());
    /// assert_eq!(err.into_panic().message(), Some("boom"));
    /// ```
    #[track_caller]
    pub fn join(self) -> Result<T, JoinError> {
        // SAFETY: `T` is the body's return type (see `new`).
        let result = unsafe { self.raw.wait::<T>() };
        let this = ManuallyDrop::new(self);
        // SAFETY: we own `this.raw` and never use or drop `this` again.
        unsafe { std::ptr::read(&this.raw) }.joined();
        result
    }

    /// Whether the coroutine has finished (a `join` would not block).
    ///
    /// ```
    /// let h = rt::run(|| {
    ///     let h = rt::spawn(|| ());
    ///     while !h.is_finished() {
    ///         rt::yield_now();
    ///     }
    ///     h
    /// });
    /// assert!(h.is_finished());
    /// ```
    pub fn is_finished(&self) -> bool {
        self.raw.is_finished()
    }

    /// Cancel the coroutine: it unwinds at its next park point (a blocking
    /// call such as `join`, or `yield_now`) — at once if it is parked now
    /// (unless what it waits for arrives at the same moment: that wait
    /// completes, and the cancellation comes at its next park point),
    /// before running at all if it has not started. Every deferred closure
    /// and destructor runs; `recover` cannot stop it; `join` then reports
    /// [`JoinError::is_cancelled`]. A coroutine that never parks again, or
    /// has already finished, is not affected.
    ///
    /// ```
    /// rt::run(|| {
    ///     let spinner = rt::spawn(|| loop {
    ///         rt::yield_now();
    ///     });
    ///     spinner.cancel();
    ///     assert!(spinner.join().unwrap_err().is_cancelled());
    /// });
    /// ```
    pub fn cancel(&self) {
        self.raw.cancel();
    }

    /// The coroutine's identity.
    ///
    /// ```
    /// rt::run(|| {
    ///     let builder = rt::CoroutineBuilder::new().name("job");
    ///     let h = builder.spawn(|| rt::current().unwrap().id()).unwrap();
    ///     assert_eq!(h.coroutine().name(), Some("job"));
    ///     let id = h.coroutine().id();
    ///     assert_eq!(h.join().unwrap(), id); // the coroutine's own view agrees
    /// });
    /// ```
    pub fn coroutine(&self) -> Coroutine {
        self.raw.coroutine()
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        if let Some(JoinError(Repr::Panicked(panic))) = self.raw.detach() {
            eprint!("{}", panic.report(&self.raw.describe()));
        }
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("coroutine", &self.coroutine())
            .field("finished", &self.is_finished())
            .finish()
    }
}
