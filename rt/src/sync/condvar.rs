//! [`Condvar`]: wait for a condition under a [`Mutex`](super::Mutex).

use std::fmt;
use std::sync::{LockResult, PoisonError};
use std::time::{Duration, Instant};

use super::mutex::MutexGuard;
use crate::scheduler::task::WaitReason;
use crate::scheduler::waiter::{wait_until, WaitList, WaitSite, Waiter};

/// A condition variable for [`Mutex`](super::Mutex): `wait` parks the
/// coroutine (or thread) until notified. As with any condition variable,
/// wake-ups may be spurious: wait in a loop, or use [`wait_while`](Self::wait_while).
///
/// ```
/// use std::sync::Arc;
/// let pair = Arc::new((rt::sync::Mutex::new(false), rt::sync::Condvar::new()));
/// rt::run(|| {
///     let p = pair.clone();
///     let waiter = rt::spawn(move || {
///         let (ready, cv) = &*p;
///         let guard = cv.wait_while(ready.lock().unwrap(), |ready| !*ready).unwrap();
///         assert!(*guard);
///     });
///     let (ready, cv) = &*pair;
///     *ready.lock().unwrap() = true;
///     cv.notify_one();
///     waiter.join().unwrap();
/// });
/// ```
#[derive(Default)]
pub struct Condvar {
    /// Parked waiters, oldest first.
    waiters: parking_lot::Mutex<WaitList>,
}

impl Condvar {
    /// A condition variable with no waiters.
    ///
    /// ```
    /// let cv = rt::sync::Condvar::new();
    /// cv.notify_all(); // nobody waits: nothing happens
    /// let m = rt::sync::Mutex::new(());
    /// let zero = std::time::Duration::ZERO;
    /// let (_guard, result) = cv.wait_timeout(m.lock().unwrap(), zero).unwrap();
    /// assert!(result.timed_out()); // the earlier notify was not remembered
    /// ```
    pub fn new() -> Condvar {
        Condvar::default()
    }

    /// Unlock `guard`'s mutex, park until notified, lock it again.
    ///
    /// ```
    /// let (m, cv) = (rt::sync::Mutex::new(0), rt::sync::Condvar::new());
    /// rt::run(|| {
    ///     rt::scope(|s| {
    ///         s.spawn(|| {
    ///             *m.lock().unwrap() = 1;
    ///             cv.notify_one();
    ///         });
    ///         let mut n = m.lock().unwrap();
    ///         while *n == 0 {
    ///             n = cv.wait(n).unwrap();
    ///         }
    ///         assert_eq!(*n, 1);
    ///     })
    /// });
    /// ```
    #[track_caller]
    pub fn wait<'a, T: ?Sized>(&self, guard: MutexGuard<'a, T>) -> LockResult<MutexGuard<'a, T>> {
        match self.wait_until(guard, None) {
            Ok((guard, _)) => Ok(guard),
            Err(poisoned) => Err(PoisonError::new(poisoned.into_inner().0)),
        }
    }

    /// Like [`wait`](Self::wait), but give up after `timeout`. The result
    /// says whether it timed out; the mutex is locked again either way.
    ///
    /// ```
    /// use std::time::Duration;
    /// let m = rt::sync::Mutex::new(());
    /// let cv = rt::sync::Condvar::new();
    /// rt::run(|| {
    ///     let (_guard, timed_out) = cv.wait_timeout(m.lock().unwrap(), Duration::from_millis(10)).unwrap();
    ///     assert!(timed_out.timed_out()); // nobody notified
    /// });
    /// ```
    #[track_caller]
    pub fn wait_timeout<'a, T: ?Sized>(
        &self,
        guard: MutexGuard<'a, T>,
        timeout: Duration,
    ) -> LockResult<(MutexGuard<'a, T>, WaitTimeoutResult)> {
        // `Duration::MAX` (past `Instant`'s range): no deadline.
        self.wait_until(guard, crate::time::deadline_after(timeout))
    }

    /// The one wait behind [`wait`](Self::wait) and
    /// [`wait_timeout`](Self::wait_timeout): until notified, or until
    /// `deadline` if there is one.
    #[track_caller]
    fn wait_until<'a, T: ?Sized>(
        &self,
        guard: MutexGuard<'a, T>,
        deadline: Option<Instant>,
    ) -> LockResult<(MutexGuard<'a, T>, WaitTimeoutResult)> {
        let mutex = MutexGuard::mutex(&guard);
        let waiter = Waiter::current();
        // Enqueue before unlocking: a notify after the unlock finds us.
        self.waiters.lock().push(waiter.clone());
        drop(guard);
        let notified = wait_until(
            &waiter,
            deadline,
            WaitSite::here(WaitReason::Condvar),
            || {
                let mut waiters = self.waiters.lock();
                if !waiters.remove(&waiter) {
                    // A notify_one meant for us must not be lost.
                    waiters.notify_one();
                }
            },
        );
        let result = WaitTimeoutResult(!notified);
        drop(waiter); // before relocking: a contended lock reuses it
        match mutex.lock() {
            Ok(guard) => Ok((guard, result)),
            Err(poisoned) => Err(PoisonError::new((poisoned.into_inner(), result))),
        }
    }

    /// Wait until `condition` is false, re-checking after every wake-up.
    ///
    /// ```
    /// let (m, cv) = (rt::sync::Mutex::new(Vec::new()), rt::sync::Condvar::new());
    /// let len = rt::run(|| {
    ///     rt::scope(|s| {
    ///         for i in 0..3 {
    ///             let (m, cv) = (&m, &cv);
    ///             s.spawn(move || {
    ///                 m.lock().unwrap().push(i);
    ///                 cv.notify_all();
    ///             });
    ///         }
    ///         let items = cv.wait_while(m.lock().unwrap(), |items| items.len() < 3).unwrap();
    ///         items.len()
    ///     })
    /// });
    /// assert_eq!(len, 3);
    /// ```
    #[track_caller]
    pub fn wait_while<'a, T: ?Sized>(
        &self,
        mut guard: MutexGuard<'a, T>,
        mut condition: impl FnMut(&mut T) -> bool,
    ) -> LockResult<MutexGuard<'a, T>> {
        while condition(&mut *guard) {
            guard = self.wait(guard)?;
        }
        Ok(guard)
    }

    /// Wake the longest-waiting waiter, if any.
    ///
    /// ```
    /// let (ready, cv) = (rt::sync::Mutex::new(false), rt::sync::Condvar::new());
    /// rt::run(|| {
    ///     rt::scope(|s| {
    ///         let waiter = s.spawn(|| *cv.wait_while(ready.lock().unwrap(), |r| !*r).unwrap());
    ///         *ready.lock().unwrap() = true;
    ///         cv.notify_one();
    ///         assert!(waiter.join().unwrap());
    ///     })
    /// });
    /// ```
    pub fn notify_one(&self) {
        self.waiters.lock().notify_one();
    }

    /// Wake every waiter.
    ///
    /// ```
    /// let (go, cv) = (rt::sync::Mutex::new(false), rt::sync::Condvar::new());
    /// let woken = rt::run(|| {
    ///     rt::scope(|s| {
    ///         let waiters: Vec<_> = (0..3)
    ///             .map(|_| s.spawn(|| *cv.wait_while(go.lock().unwrap(), |go| !*go).unwrap()))
    ///             .collect();
    ///         *go.lock().unwrap() = true;
    ///         cv.notify_all();
    ///         waiters.into_iter().map(|h| h.join().unwrap()).filter(|&w| w).count()
    ///     })
    /// });
    /// assert_eq!(woken, 3);
    /// ```
    pub fn notify_all(&self) {
        self.waiters.lock().notify_all();
    }
}

impl fmt::Debug for Condvar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condvar")
            .field("waiters", &self.waiters.lock().len())
            .finish()
    }
}

/// Whether a [`Condvar::wait_timeout`] timed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
///
/// ```
/// use std::time::Duration;
/// let (m, cv) = (rt::sync::Mutex::new(()), rt::sync::Condvar::new());
/// let (_g, result) = cv.wait_timeout(m.lock().unwrap(), Duration::from_millis(1)).unwrap();
/// assert!(result.timed_out());
/// ```
pub struct WaitTimeoutResult(bool);

impl WaitTimeoutResult {
    /// The wait ended because the timeout elapsed (not a notification).
    ///
    /// ```
    /// use std::time::Duration;
    /// let (m, cv) = (rt::sync::Mutex::new(()), rt::sync::Condvar::new());
    /// rt::run(|| {
    ///     rt::scope(|s| {
    ///         let guard = m.lock().unwrap();
    ///         // Can lock only once we wait, so its notify finds us waiting.
    ///         s.spawn(|| {
    ///             drop(m.lock());
    ///             cv.notify_one();
    ///         });
    ///         let (_guard, result) = cv.wait_timeout(guard, Duration::from_secs(60)).unwrap();
    ///         assert!(!result.timed_out()); // notified
    ///     })
    /// });
    /// ```
    pub fn timed_out(&self) -> bool {
        self.0
    }
}
