//! [`Once`]: run an initialization exactly once.

use std::fmt;

use crate::scheduler::task::WaitReason;
use crate::scheduler::waiter::{wait, WaitList, WaitSite, Waiter};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Nobody ran it yet.
    New,
    /// A caller is running it; others wait.
    Running,
    /// It completed.
    Done,
    /// It panicked; later calls panic too (as std's `Once`).
    Poisoned,
}

/// Runs a closure once; concurrent callers park until it has run.
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// let once = Arc::new(rt::sync::Once::new());
/// let runs = Arc::new(AtomicUsize::new(0));
/// rt::run(|| {
///     let handles: Vec<_> = (0..8).map(|_| {
///         let (once, runs) = (once.clone(), runs.clone());
///         rt::spawn(move || once.call_once(|| { runs.fetch_add(1, Ordering::SeqCst); }))
///     }).collect();
///     handles.into_iter().for_each(|h| h.join().unwrap());
/// });
/// assert_eq!(runs.load(Ordering::SeqCst), 1);
/// assert!(once.is_completed());
/// ```
pub struct Once {
    /// Phase and parked callers.
    state: parking_lot::Mutex<(Phase, WaitList)>,
}

impl Default for Once {
    fn default() -> Self {
        Once::new()
    }
}

impl Once {
    /// A `Once` that has not run.
    ///
    /// ```
    /// static INIT: rt::sync::Once = rt::sync::Once::new(); // const: fits a static
    /// assert!(!INIT.is_completed());
    /// INIT.call_once(|| {});
    /// assert!(INIT.is_completed());
    /// ```
    pub const fn new() -> Once {
        Once {
            state: parking_lot::const_mutex((Phase::New, WaitList::new())),
        }
    }

    /// Run `f` if nobody has; otherwise park until the one running it is
    /// done. Panics if a previous `f` panicked.
    ///
    /// ```
    /// let once = rt::sync::Once::new();
    /// let mut runs = 0;
    /// once.call_once(|| runs += 1);
    /// once.call_once(|| runs += 1); // already done: not run
    /// assert_eq!(runs, 1);
    /// ```
    #[track_caller]
    pub fn call_once(&self, f: impl FnOnce()) {
        loop {
            let waiter = {
                let mut state = self.state.lock();
                match state.0 {
                    Phase::Done => return,
                    Phase::Poisoned => panic!("Once instance has previously been poisoned"),
                    Phase::New => {
                        state.0 = Phase::Running;
                        None
                    }
                    Phase::Running => {
                        let waiter = Waiter::current();
                        state.1.push(waiter.clone());
                        Some(waiter)
                    }
                }
            };
            let Some(waiter) = waiter else {
                return self.run(f);
            };
            wait(&waiter, WaitSite::here(WaitReason::Once), || {
                self.state.lock().1.remove(&waiter);
            });
        }
    }

    fn run(&self, f: impl FnOnce()) {
        /// Publishes the outcome, also when `f` unwinds: a panic poisons
        /// the Once (as std's); a cancellation, timeout or `rt::exit` only
        /// abandons this attempt, and the next caller (or a waiter) runs
        /// its `f`.
        struct Finish<'a>(&'a Once, bool);
        impl Drop for Finish<'_> {
            fn drop(&mut self) {
                let phase = if self.1 {
                    Phase::Done
                } else if crate::unwind::panicking() {
                    Phase::Poisoned
                } else {
                    Phase::New
                };
                let mut state = self.0.state.lock();
                state.0 = phase;
                state.1.notify_all();
            }
        }
        let mut finish = Finish(self, false);
        f();
        finish.1 = true;
    }

    /// Whether `call_once` has completed.
    ///
    /// ```
    /// let once = rt::sync::Once::new();
    /// let init = || once.call_once(|| panic!("init failed"));
    /// let r = rt::run(|| rt::scope(|s| s.spawn(init).join()));
    /// assert!(r.unwrap_err().is_panic());
    /// assert!(!once.is_completed()); // poisoned: a later call_once panics
    /// ```
    pub fn is_completed(&self) -> bool {
        self.state.lock().0 == Phase::Done
    }
}

impl fmt::Debug for Once {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Once")
            .field("phase", &self.state.lock().0)
            .finish()
    }
}
