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
    /// The coroutine; its result arrives in `task.result`.
    task: Arc<Task>,
    /// The result type (the task stores it erased).
    result: PhantomData<fn() -> T>,
}

impl<T> JoinHandle<T> {
    /// A handle for `task`, whose body returns a `T`.
    ///
    /// # Safety
    ///
    /// `T` must be the return type of the task's body.
    pub(crate) unsafe fn new(task: Arc<Task>) -> JoinHandle<T> {
        JoinHandle {
            task,
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
        // If the wait is interrupted (cancel, timeout), `self` is dropped
        // on the way out and detaches: the coroutine disposes of its result.
        // SAFETY: `T` is the body's return type (see `new`).
        let result = unsafe { wait_typed(&self.task) };
        let this = ManuallyDrop::new(self);
        // SAFETY: we own `this.task` and never use or drop `this` again
        // (joined: nothing is left for Drop to detach or report).
        let task = unsafe { std::ptr::read(&this.task) };
        crate::scheduler::recycle(task);
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
        self.task.result.is_complete()
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
        self.task.cancel();
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
        Coroutine(self.task.clone())
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        if let Some(Err(JoinError(Repr::Panicked(panic)))) = self.task.result.detach() {
            eprint!("{}", panic.report(&self.task.describe()));
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
