//! [`WaitGroup`]: wait for a collection of coroutines to finish (Go's
//! `sync.WaitGroup`).

use std::fmt;

use crate::loom::sync::atomic::{AtomicUsize, Ordering};
use crate::loom::sync::Mutex;
use crate::scheduler::task::WaitReason;
use crate::scheduler::waiter::{wait, WaitList, WaitSite, Waiter};

/// Counts outstanding work; [`wait`](Self::wait) parks until it reaches
/// zero. Like Go's `sync.WaitGroup`: `add` before starting the work,
/// `done` when it finishes.
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// let finished = Arc::new(AtomicUsize::new(0));
/// rt::run(|| {
///     let wg = Arc::new(rt::sync::WaitGroup::new());
///     for _ in 0..10 {
///         wg.add(1);
///         let (wg, finished) = (wg.clone(), finished.clone());
///         rt::go!(move || {
///             finished.fetch_add(1, Ordering::SeqCst);
///             wg.done();
///         });
///     }
///     wg.wait();
/// });
/// assert_eq!(finished.load(Ordering::SeqCst), 10);
/// ```
pub struct WaitGroup {
    /// Outstanding work. Changed without the lock, so that `done` (called
    /// by every finishing worker, often from many threads at once) is one
    /// atomic operation, as in Go.
    count: AtomicUsize,
    /// Parked waiters. `done` takes this lock after bringing the count to
    /// zero, and `wait` re-checks the count under it before queueing, so
    /// a waiter either sees zero or is queued before the notification.
    waiters: Mutex<WaitList>,
}

impl WaitGroup {
    /// A wait group with a count of zero.
    ///
    /// ```
    /// let wg = rt::sync::WaitGroup::new();
    /// assert_eq!(wg.count(), 0);
    /// wg.wait(); // zero: returns at once
    /// ```
    pub fn new() -> WaitGroup {
        WaitGroup {
            count: AtomicUsize::new(0),
            waiters: Mutex::new(WaitList::new()),
        }
    }

    /// Add `n` to the count.
    ///
    /// ```
    /// let wg = rt::sync::WaitGroup::new();
    /// wg.add(2);
    /// wg.add(1);
    /// assert_eq!(wg.count(), 3);
    /// ```
    pub fn add(&self, n: usize) {
        let before = self.count.fetch_add(n, Ordering::Relaxed);
        if before.checked_add(n).is_none() {
            self.count.fetch_sub(n, Ordering::Relaxed);
            panic!("WaitGroup count overflow");
        }
    }

    /// Subtract one; wakes the waiters when the count reaches zero.
    ///
    /// Panics if the count is already zero (as Go's "negative WaitGroup
    /// counter").
    ///
    /// ```
    /// let wg = rt::sync::WaitGroup::new();
    /// wg.add(2);
    /// wg.done();
    /// assert_eq!(wg.count(), 1);
    /// wg.done();
    /// wg.wait(); // count is zero: returns at once
    /// ```
    pub fn done(&self) {
        // Release: a waiter that sees zero sees everything done before.
        match self.count.fetch_sub(1, Ordering::AcqRel) {
            1 => self.waiters.lock().notify_all(),
            0 => {
                self.count.fetch_add(1, Ordering::Relaxed);
                panic!("WaitGroup::done called more times than add");
            }
            _ => {}
        }
    }

    /// The current count.
    ///
    /// ```
    /// let wg = rt::sync::WaitGroup::new();
    /// wg.add(2);
    /// wg.done();
    /// assert_eq!(wg.count(), 1);
    /// ```
    pub fn count(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }

    /// Park until the count is zero (at once if it is).
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    /// let (wg, finished) = (rt::sync::WaitGroup::new(), AtomicUsize::new(0));
    /// rt::run(|| {
    ///     rt::scope(|s| {
    ///         for _ in 0..3 {
    ///             wg.add(1);
    ///             s.spawn(|| {
    ///                 finished.fetch_add(1, SeqCst);
    ///                 wg.done();
    ///             });
    ///         }
    ///         wg.wait();
    ///         assert_eq!(finished.load(SeqCst), 3); // before the scope joins them
    ///     })
    /// });
    /// ```
    #[track_caller]
    pub fn wait(&self) {
        while self.count.load(Ordering::Acquire) != 0 {
            let waiter = {
                let mut waiters = self.waiters.lock();
                // `done` locks after reaching zero: see zero, or be queued
                // before it notifies.
                if self.count.load(Ordering::Acquire) == 0 {
                    return;
                }
                let waiter = Waiter::current();
                waiters.push(waiter.clone());
                waiter
            };
            wait(&waiter, WaitSite::here(WaitReason::WaitGroup), || {
                self.waiters.lock().remove(&waiter);
            });
        }
    }
}

impl Default for WaitGroup {
    fn default() -> WaitGroup {
        WaitGroup::new()
    }
}

impl fmt::Debug for WaitGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitGroup")
            .field("count", &self.count())
            .finish()
    }
}
