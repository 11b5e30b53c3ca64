//! [`WaitGroup`]: wait for a collection of coroutines to finish (Go's
//! `sync.WaitGroup`).

use std::fmt;

use super::waiter::{wait, WaitList, WaitSite, Waiter};
use crate::scheduler::task::WaitReason;

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
#[derive(Default)]
pub struct WaitGroup {
    /// Outstanding count and parked waiters.
    inner: parking_lot::Mutex<(usize, WaitList)>,
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
        WaitGroup::default()
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
        let mut inner = self.inner.lock();
        inner.0 = inner.0.checked_add(n).expect("WaitGroup count overflow");
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
        let mut inner = self.inner.lock();
        assert!(inner.0 > 0, "WaitGroup::done called more times than add");
        inner.0 -= 1;
        if inner.0 == 0 {
            inner.1.notify_all();
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
        self.inner.lock().0
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
        loop {
            let waiter = {
                let mut inner = self.inner.lock();
                if inner.0 == 0 {
                    return;
                }
                let waiter = Waiter::current();
                inner.1.push(waiter.clone());
                waiter
            };
            wait(&waiter, WaitSite::here(WaitReason::WaitGroup), |_| {
                self.inner.lock().1.remove(&waiter);
            });
        }
    }
}

impl fmt::Debug for WaitGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitGroup")
            .field("count", &self.count())
            .finish()
    }
}
