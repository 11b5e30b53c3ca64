//! [`Semaphore`]: a counted set of permits, handed out in FIFO order.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::scheduler::task::WaitReason;
use crate::scheduler::waiter::{wait_until, WaitList, WaitSite, Waiter};

/// Permits and who waits for one. A released permit goes straight to the
/// longest waiter (fair: a stream of `try_acquire`s cannot starve it).
#[derive(Default)]
struct State {
    /// Permits not held by anyone.
    available: usize,
    /// Parked acquirers, oldest first; a notified one owns a permit.
    waiters: WaitList,
}

/// Limits how many coroutines do something at once.
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// let sem = Arc::new(rt::sync::Semaphore::new(2));
/// let (now, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
/// rt::run(|| {
///     let handles: Vec<_> = (0..10).map(|_| {
///         let (sem, now, peak) = (sem.clone(), now.clone(), peak.clone());
///         rt::spawn(move || {
///             let _permit = sem.acquire();
///             let n = now.fetch_add(1, Ordering::SeqCst) + 1;
///             peak.fetch_max(n, Ordering::SeqCst);
///             rt::yield_now();
///             now.fetch_sub(1, Ordering::SeqCst);
///         })
///     }).collect();
///     handles.into_iter().for_each(|h| h.join().unwrap());
/// });
/// assert!(peak.load(Ordering::SeqCst) <= 2);
/// ```
pub struct Semaphore {
    /// Permits and waiters.
    state: parking_lot::Mutex<State>,
}

impl Semaphore {
    /// A semaphore with `permits` permits.
    ///
    /// ```
    /// let sem = rt::sync::Semaphore::new(3);
    /// assert_eq!(sem.available_permits(), 3);
    /// ```
    pub fn new(permits: usize) -> Semaphore {
        Semaphore {
            state: parking_lot::Mutex::new(State {
                available: permits,
                waiters: WaitList::default(),
            }),
        }
    }

    /// Park until a permit is free and take it; it returns when the guard drops.
    ///
    /// ```
    /// let sem = rt::sync::Semaphore::new(1);
    /// rt::run(|| {
    ///     let permit = sem.acquire();
    ///     assert_eq!(sem.available_permits(), 0);
    ///     drop(permit);
    ///     assert_eq!(sem.available_permits(), 1);
    /// });
    /// ```
    #[track_caller]
    pub fn acquire(&self) -> SemaphorePermit<'_> {
        self.acquire_until(None)
            .expect("a wait without a deadline ends with a permit")
    }

    /// Like [`acquire`](Self::acquire), but give up after `timeout`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let sem = rt::sync::Semaphore::new(0);
    /// rt::run(|| assert!(sem.acquire_timeout(Duration::from_millis(5)).is_none()));
    /// ```
    #[track_caller]
    pub fn acquire_timeout(&self, timeout: Duration) -> Option<SemaphorePermit<'_>> {
        // `Duration::MAX` (past `Instant`'s range): no deadline.
        self.acquire_until(crate::time::deadline_after(timeout))
    }

    /// The one wait behind [`acquire`](Self::acquire) and
    /// [`acquire_timeout`](Self::acquire_timeout): until a permit is
    /// granted, or until `deadline` if there is one.
    #[track_caller]
    fn acquire_until(&self, deadline: Option<Instant>) -> Option<SemaphorePermit<'_>> {
        let waiter = {
            let mut state = self.state.lock();
            if state.available > 0 && state.waiters.is_empty() {
                state.available -= 1;
                return Some(SemaphorePermit { semaphore: self });
            }
            let waiter = Waiter::current();
            state.waiters.push(waiter.clone());
            waiter
        };
        let granted = wait_until(
            &waiter,
            deadline,
            WaitSite::here(WaitReason::Semaphore),
            || {
                let mut state = self.state.lock();
                if !state.waiters.remove(&waiter) {
                    // We were handed a permit we will not use: hand it on.
                    Self::release_locked(&mut state);
                }
            },
        );
        // `then`, not `then_some`: a permit built and dropped on a timeout
        // would release one that was never taken.
        granted.then(|| SemaphorePermit { semaphore: self })
    }

    /// Take a permit if one is free and nobody waits for one.
    ///
    /// ```
    /// let sem = rt::sync::Semaphore::new(1);
    /// let permit = sem.try_acquire().expect("one permit is free");
    /// assert!(sem.try_acquire().is_none());
    /// drop(permit);
    /// assert!(sem.try_acquire().is_some());
    /// ```
    pub fn try_acquire(&self) -> Option<SemaphorePermit<'_>> {
        let mut state = self.state.lock();
        if state.available > 0 && state.waiters.is_empty() {
            state.available -= 1;
            Some(SemaphorePermit { semaphore: self })
        } else {
            None
        }
    }

    /// Add `n` permits.
    ///
    /// ```
    /// let sem = rt::sync::Semaphore::new(0);
    /// rt::run(|| {
    ///     rt::scope(|s| {
    ///         let waiter = s.spawn(|| drop(sem.acquire()));
    ///         sem.add_permits(2); // one goes to the waiter if it waits already
    ///         waiter.join().unwrap();
    ///     })
    /// });
    /// assert_eq!(sem.available_permits(), 2);
    /// ```
    ///
    /// # Panics
    ///
    /// If the number of available permits would exceed `usize::MAX`.
    pub fn add_permits(&self, n: usize) {
        let mut state = self.state.lock();
        // Waiters first (each notified one owns a permit), then the rest.
        let mut left = n;
        while left > 0 && state.waiters.notify_one() {
            left -= 1;
        }
        state.available = state
            .available
            .checked_add(left)
            .expect("rt::sync::Semaphore::add_permits: more than usize::MAX permits");
    }

    /// Permits free right now.
    ///
    /// ```
    /// let sem = rt::sync::Semaphore::new(2);
    /// let _permit = sem.acquire();
    /// assert_eq!(sem.available_permits(), 1);
    /// ```
    pub fn available_permits(&self) -> usize {
        self.state.lock().available
    }

    fn release_locked(state: &mut State) {
        if !state.waiters.notify_one() {
            state.available += 1;
        }
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.lock();
        f.debug_struct("Semaphore")
            .field("available", &state.available)
            .field("waiters", &state.waiters.len())
            .finish()
    }
}

/// A permit of a [`Semaphore`]; released when dropped.
#[must_use = "the permit is released when dropped"]
///
/// ```
/// let sem = rt::sync::Semaphore::new(1);
/// let permit = sem.acquire();
/// assert!(sem.try_acquire().is_none());
/// drop(permit);
/// assert_eq!(sem.available_permits(), 1);
/// ```
pub struct SemaphorePermit<'a> {
    /// Where the permit goes back to.
    semaphore: &'a Semaphore,
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        Semaphore::release_locked(&mut self.semaphore.state.lock());
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SemaphorePermit")
    }
}

/// Shared-ownership convenience: `Arc<Semaphore>` permits that are `'static`.
impl Semaphore {
    /// Like [`acquire`](Self::acquire), for a semaphore in an `Arc`; the
    /// permit can move into another coroutine.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let sem = Arc::new(rt::sync::Semaphore::new(1));
    /// let permit = sem.clone().acquire_owned();
    /// assert_eq!(sem.available_permits(), 0);
    /// rt::spawn(move || drop(permit)).join().unwrap(); // released in a coroutine
    /// assert_eq!(sem.available_permits(), 1);
    /// ```
    #[track_caller]
    pub fn acquire_owned(self: Arc<Self>) -> OwnedSemaphorePermit {
        std::mem::forget(self.acquire());
        OwnedSemaphorePermit { semaphore: self }
    }
}

/// A permit that owns a reference to its [`Semaphore`].
#[must_use = "the permit is released when dropped"]
///
/// ```
/// use std::sync::Arc;
/// let sem = Arc::new(rt::sync::Semaphore::new(1));
/// let permit = sem.clone().acquire_owned();
/// rt::run(move || rt::spawn(move || drop(permit)).join().unwrap()); // moved into a coroutine
/// assert_eq!(sem.available_permits(), 1);
/// ```
pub struct OwnedSemaphorePermit {
    /// Where the permit goes back to.
    semaphore: Arc<Semaphore>,
}

impl Drop for OwnedSemaphorePermit {
    fn drop(&mut self) {
        Semaphore::release_locked(&mut self.semaphore.state.lock());
    }
}

impl fmt::Debug for OwnedSemaphorePermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OwnedSemaphorePermit")
    }
}
