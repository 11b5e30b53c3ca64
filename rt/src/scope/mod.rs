//! Structured spawning: coroutines that may borrow from the caller, all
//! joined before [`scope`] returns (like `std::thread::scope`).

mod state;

use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use crate::join::{JoinError, RawJoinHandle};
use crate::scheduler::result::run_to_completion;
use crate::scheduler::task::{Coroutine, Task, WaitReason, WaitSite};
use crate::scheduler::Shared;
use crate::unwind::resume_unwind;

pub use self::state::ScopeState;
#[cfg(loom)]
pub use self::state::ScopedChild;

/// The state of a scope whose coroutines are tasks.
type TaskScope = ScopeState<Arc<Task>>;

/// A scope to spawn borrowing coroutines in; see [`scope`].
///
/// ```
/// let mut total = 0;
/// rt::run(|| rt::scope(|s| {
///     s.spawn(|| total += 1);
/// }));
/// assert_eq!(total, 1);
/// ```
pub struct Scope<'scope, 'env: 'scope> {
    /// Shared with the scope's coroutines.
    state: Arc<TaskScope>,
    /// The runtime the coroutines run on.
    shared: Arc<Shared>,
    /// Invariance over 'scope, as in `std::thread::Scope`.
    scope: PhantomData<&'scope mut &'scope ()>,
    /// Invariance over 'env.
    env: PhantomData<&'env mut &'env ()>,
}

/// Run `f` with a [`Scope`]; every coroutine it spawns is joined before
/// `scope` returns, so they may borrow anything that outlives the call.
///
/// If a spawned coroutine panics and its handle was not joined, `scope`
/// panics after all of them finished. Works in a coroutine (the caller
/// parks) and on a plain thread (it spawns on the default runtime).
///
/// ```
/// let mut counts = [0_u32; 4];
/// rt::run(|| {
///     rt::scope(|s| {
///         for (i, slot) in counts.iter_mut().enumerate() {
///             s.spawn(move || *slot = i as u32 * 10);
///         }
///     });
/// });
/// assert_eq!(counts, [0, 10, 20, 30]);
/// ```
#[track_caller]
pub fn scope<'env, F, T>(f: F) -> T
where
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> T,
{
    let scope = Scope {
        state: Arc::new(TaskScope::default()),
        shared: crate::runtime::ambient(),
        scope: PhantomData,
        env: PhantomData,
    };
    let site = WaitSite::here(WaitReason::Scope);
    // Every unwind out of `f` is caught, so the wait below always runs
    // (a teardown's too: `park` does not switch then, it spins until the
    // coroutines are torn down, which their workers do children first).
    let result = catch_unwind(AssertUnwindSafe(|| f(&scope)));
    if result.is_err() {
        // Caught, and re-raised after the wait.
        crate::unwind::unwind_caught();
    }
    let interrupted = result
        .as_ref()
        .is_err_and(|payload| crate::unwind::unwinding::is_interruption_in_flight(&**payload));
    scope.state.wait_all(site, interrupted);
    if result.is_ok() {
        // The wait was not interruptible; its end is. An interruption that
        // arrived during it (and was passed on to the children) is
        // delivered here.
        crate::unwind::checkpoint();
    }
    match result {
        Err(payload) => resume_unwind(payload),
        Ok(_) if scope.state.has_unjoined_panic() => {
            panic!("a scoped coroutine panicked")
        }
        Ok(value) => value,
    }
}

impl<'scope> Scope<'scope, '_> {
    /// Spawn a coroutine that may borrow from outside the scope.
    ///
    /// Panics if no stack can be allocated or the runtime is shutting down.
    ///
    /// ```
    /// let data = [1, 2, 3];
    /// let sum = rt::run(|| rt::scope(|s| {
    ///     let h = s.spawn(|| data.iter().sum::<i32>());
    ///     h.join().unwrap()
    /// }));
    /// assert_eq!(sum, 6);
    /// ```
    #[track_caller]
    pub fn spawn<F, T>(&'scope self, f: F) -> ScopedJoinHandle<'scope, T>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        let state = self.state.clone();
        let slot = self.state.reserve();
        let owner_depth = crate::scheduler::task::current_task().map_or(0, |t| t.scope_depth());
        let body = move || {
            // First, before it can park (teardown sorts by it) or open a
            // scope of its own (whose children read it).
            if let Some(me) = crate::scheduler::task::current_task() {
                me.set_scope_depth(owner_depth);
            }
            // Counted finished only after the result is stored (or the body
            // unwound), so the scope never ends while the body still runs.
            struct Finished(Arc<TaskScope>, usize);
            impl Drop for Finished {
                fn drop(&mut self) {
                    self.0.finished_one(self.1);
                }
            }
            let finished = Finished(state, slot);
            if run_to_completion(f).is_some() {
                finished.0.note_unjoined_panic();
            }
        };
        // SAFETY: `scope` waits for `running` to drop to zero before it
        // returns — it catches every unwind out of its body first, and the
        // wait itself is uninterruptible — so the borrows of `f` outlive it.
        match unsafe {
            self.shared
                .spawn(None, std::panic::Location::caller(), body)
        } {
            Ok(task) => {
                self.state.spawned(slot, task.clone());
                ScopedJoinHandle {
                    raw: RawJoinHandle::new(task),
                    scope: &self.state,
                    result: PhantomData,
                }
            }
            Err(err) => {
                // The body was dropped unrun: it never counts itself finished.
                self.state.unreserve(slot);
                panic!("rt::Scope::spawn: {err}")
            }
        }
    }
}

/// Owns the right to join a coroutine spawned in a [`Scope`].
///
/// ```
/// let greeting = String::from("hi");
/// rt::run(|| rt::scope(|s| {
///     let h = s.spawn(|| greeting.len());
///     println!("{:?}", h.coroutine().id());
///     assert_eq!(h.join().unwrap(), 2);
/// }));
/// ```
pub struct ScopedJoinHandle<'scope, T> {
    /// The coroutine.
    raw: RawJoinHandle,
    /// Told about panics nobody joined.
    scope: &'scope TaskScope,
    /// The result type (the task stores it erased).
    result: PhantomData<fn() -> T>,
}

impl<T> ScopedJoinHandle<'_, T> {
    /// Ask the coroutine to unwind at its next park point (see
    /// [`JoinHandle::cancel`](crate::JoinHandle::cancel)); the scope still
    /// waits for it to finish unwinding.
    ///
    /// ```
    /// let (_tx, rx) = rt::chan::bounded::<u32>(0);
    /// let cancelled = rt::run(|| rt::scope(|s| {
    ///     let waiting = s.spawn(|| rx.recv());
    ///     waiting.cancel();
    ///     waiting.join().unwrap_err().is_cancelled()
    /// }));
    /// assert!(cancelled);
    /// ```
    pub fn cancel(&self) {
        self.raw.cancel();
    }

    /// Wait for the coroutine and take its result.
    ///
    /// ```
    /// let v = vec![1, 2, 3];
    /// let total = rt::run(|| rt::scope(|s| s.spawn(|| v.iter().sum::<i32>()).join().unwrap()));
    /// assert_eq!(total, 6);
    /// ```
    #[track_caller]
    pub fn join(self) -> Result<T, JoinError> {
        // If the wait is interrupted, `self` is dropped on the way out and
        // detaches: the borrowed result is then dropped by the coroutine
        // (before the scope can end) or, if it came first, by the Drop.
        // SAFETY: the task's body returns a `T` (see `Scope::spawn`).
        let result = unsafe { self.raw.wait::<T>() };
        let this = std::mem::ManuallyDrop::new(self);
        // SAFETY: we own `this.raw` and never use or drop `this` again.
        unsafe { std::ptr::read(&this.raw) }.joined();
        result
    }

    /// Whether the coroutine has finished.
    ///
    /// ```
    /// rt::run(|| {
    ///     rt::scope(|s| {
    ///         let h = s.spawn(|| 1);
    ///         while !h.is_finished() {
    ///             rt::yield_now();
    ///         }
    ///         assert_eq!(h.join().unwrap(), 1); // does not block
    ///     })
    /// });
    /// ```
    pub fn is_finished(&self) -> bool {
        self.raw.is_finished()
    }

    /// The coroutine's identity.
    ///
    /// ```
    /// rt::run(|| {
    ///     rt::scope(|s| {
    ///         let h = s.spawn(|| rt::current().unwrap().id());
    ///         let id = h.coroutine().id();
    ///         assert_eq!(h.join().unwrap(), id);
    ///     })
    /// });
    /// ```
    pub fn coroutine(&self) -> Coroutine {
        self.raw.coroutine()
    }
}

impl<T> Drop for ScopedJoinHandle<'_, T> {
    fn drop(&mut self) {
        if let Some(err) = self.raw.detach() {
            // Noted before the panic is dropped: its payload's own Drop may
            // panic in turn.
            if err.is_panic() {
                self.scope.note_unjoined_panic();
            }
        }
    }
}
