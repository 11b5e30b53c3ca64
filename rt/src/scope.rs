//! Structured spawning: coroutines that may borrow from the caller, all
//! joined before [`scope`] returns (like `std::thread::scope`).

use std::marker::PhantomData;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::join::{run_to_completion, wait_typed, JoinError};
use crate::scheduler::task::WaitReason;
use crate::scheduler::task::{park, Coroutine, Task, Unparker, WaitSite};
use crate::scheduler::Shared;

/// What a scope and its coroutines share.
struct ScopeState {
    /// Coroutines spawned in the scope that have not finished.
    running: AtomicUsize,
    /// A coroutine panicked and its handle was dropped without joining.
    unjoined_panic: AtomicBool,
    /// The scope's owner, waiting for `running` to reach zero.
    waiter: Mutex<Option<Unparker>>,
}

impl ScopeState {
    fn finished_one(&self) {
        if self.running.fetch_sub(1, Ordering::AcqRel) == 1 {
            if let Some(waiter) = self.waiter.lock().take() {
                waiter.unpark();
            }
        }
    }

    /// Park until every coroutine of the scope has finished.
    fn wait_all(&self, site: WaitSite) {
        loop {
            let mut waiter = self.waiter.lock();
            if self.running.load(Ordering::Acquire) == 0 {
                return;
            }
            *waiter = Some(Unparker::current());
            drop(waiter);
            park(site);
        }
    }
}

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
    state: Arc<ScopeState>,
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
        state: Arc::new(ScopeState {
            running: AtomicUsize::new(0),
            unjoined_panic: AtomicBool::new(false),
            waiter: Mutex::new(None),
        }),
        shared: crate::runtime::ambient(),
        scope: PhantomData,
        env: PhantomData,
    };
    // Wait even if the caller is torn down meanwhile: the coroutines still
    // borrow from this frame (park does not switch during a teardown).
    struct WaitAll<'a>(&'a ScopeState, WaitSite);
    impl Drop for WaitAll<'_> {
        fn drop(&mut self) {
            self.0.wait_all(self.1);
        }
    }
    let wait = WaitAll(&scope.state, WaitSite::here(WaitReason::Scope));
    let result = catch_unwind(AssertUnwindSafe(|| f(&scope)));
    drop(wait);
    match result {
        Err(payload) => resume_unwind(payload),
        Ok(_) if scope.state.unjoined_panic.load(Ordering::Acquire) => {
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
        let body = move || {
            // Counted finished only after the result is stored (or the body
            // unwound), so the scope never ends while the body still runs.
            struct Finished(Arc<ScopeState>);
            impl Drop for Finished {
                fn drop(&mut self) {
                    self.0.finished_one();
                }
            }
            let finished = Finished(state);
            if run_to_completion(f).is_some() {
                finished.0.unjoined_panic.store(true, Ordering::Release);
            }
        };
        self.state.running.fetch_add(1, Ordering::AcqRel);
        // SAFETY: `scope` waits for `running` to drop to zero before it
        // returns, even while unwinding, so the borrows of `f` outlive it.
        match unsafe {
            self.shared
                .spawn(None, std::panic::Location::caller(), body)
        } {
            Ok(task) => ScopedJoinHandle {
                task,
                scope: &self.state,
                result: PhantomData,
            },
            Err(err) => panic!("rt::Scope::spawn: {err}"),
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
    /// The coroutine; its result arrives in `task.result`.
    task: Arc<Task>,
    /// Told about panics nobody joined.
    scope: &'scope ScopeState,
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
        self.task.cancel();
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
        let this = std::mem::ManuallyDrop::new(self);
        // SAFETY: we own `this.task` and never use or drop `this` again
        // (joined: nothing is left for Drop to report).
        let task = unsafe { std::ptr::read(&this.task) };
        // SAFETY: the task's body returns a `T` (see `Scope::spawn`).
        unsafe { wait_typed(&task) }
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
        self.task.result.is_complete()
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
        Coroutine(self.task.clone())
    }
}

impl<T> Drop for ScopedJoinHandle<'_, T> {
    fn drop(&mut self) {
        if let Some(Err(err)) = self.task.result.detach() {
            if err.is_panic() {
                self.scope.unjoined_panic.store(true, Ordering::Release);
            }
        }
    }
}
