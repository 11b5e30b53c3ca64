//! [`Mutex`]: mutual exclusion that parks the coroutine, not the thread.

use std::cell::UnsafeCell;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::{LockResult, TryLockError, TryLockResult};

use super::poison_result;
use crate::scheduler::task::WaitReason;

use crate::loom::sync::atomic::{
    AtomicBool, AtomicU8, Ordering::Acquire, Ordering::Relaxed, Ordering::Release, Ordering::SeqCst,
};

/// Failed checks of the lock before a contended locker parks.
const SPIN_LIMIT: u32 = if cfg!(loom) { 1 } else { 100 };

use crate::scheduler::waiter::{wait, WaitList, WaitSite, Waiter};

/// Set while someone holds the lock.
const LOCKED: u8 = 1;
/// Set while the wait list may be non-empty: unlock must take the slow path.
const PARKED: u8 = 2;

/// The lock without data: one state byte plus who waits.
///
/// Uncontended, `lock` and `unlock` are one CAS each. A contended locker
/// spins briefly, then, under the wait-list lock, either takes the lock (if
/// it was released meanwhile) or sets `PARKED` in the same CAS that checks
/// `LOCKED` is still set — so an unlocker's fast-path CAS (`LOCKED → 0`)
/// fails and it goes to the slow path, which wakes the oldest waiter under
/// the same wait-list lock. No wake-up can fall between "saw it locked" and
/// "parked". A woken waiter competes again (no hand-off), as in Go; FIFO
/// waking keeps it from starving in practice.
pub struct RawMutex {
    /// LOCKED | PARKED.
    state: AtomicU8,
    /// Parked lockers, oldest first.
    waiters: crate::loom::sync::Mutex<WaitList>,
}

impl Default for RawMutex {
    fn default() -> Self {
        Self::new()
    }
}

impl RawMutex {
    /// An unlocked lock.
    pub fn new() -> RawMutex {
        RawMutex {
            state: AtomicU8::new(0),
            waiters: crate::loom::sync::Mutex::new(WaitList::default()),
        }
    }

    /// Take the lock if it is free.
    pub fn try_lock(&self) -> bool {
        let mut state = self.state.load(Relaxed);
        while state & LOCKED == 0 {
            match self
                .state
                .compare_exchange_weak(state, state | LOCKED, Acquire, Relaxed)
            {
                Ok(_) => return true,
                Err(actual) => state = actual,
            }
        }
        false
    }

    /// Take the lock, parking until it is free.
    #[track_caller]
    pub fn lock(&self) {
        if self
            .state
            .compare_exchange(0, LOCKED, Acquire, Relaxed)
            .is_err()
        {
            self.lock_contended();
        }
    }

    #[cold]
    #[track_caller]
    fn lock_contended(&self) {
        // Critical sections are usually short and the holder usually runs
        // on another worker: spin briefly before paying for a park (a
        // switch, a queue, a wake-up), as parking_lot does.
        for _ in 0..SPIN_LIMIT {
            std::hint::spin_loop();
            if self.state.load(Relaxed) & LOCKED == 0 && self.try_lock() {
                return;
            }
        }
        loop {
            let waiter = {
                let mut waiters = self.waiters.lock();
                // Take the lock if it was released, else mark that we park.
                let mut state = self.state.load(Relaxed);
                loop {
                    if state & LOCKED == 0 {
                        match self.state.compare_exchange_weak(
                            state,
                            state | LOCKED,
                            Acquire,
                            Relaxed,
                        ) {
                            Ok(_) => return,
                            Err(actual) => state = actual,
                        }
                    } else {
                        match self.state.compare_exchange_weak(
                            state,
                            state | PARKED,
                            Relaxed,
                            Relaxed,
                        ) {
                            Ok(_) => break,
                            Err(actual) => state = actual,
                        }
                    }
                }
                let waiter = Waiter::current();
                waiters.push(waiter.clone());
                waiter
            };
            wait(&waiter, WaitSite::here(WaitReason::Mutex), || {
                let mut waiters = self.waiters.lock();
                if !waiters.remove(&waiter) {
                    // Woken for an unlock we will not use: pass it on.
                    waiters.notify_one();
                }
                if waiters.is_empty() {
                    self.state.fetch_and(!PARKED, Relaxed);
                }
            });
            if self.try_lock() {
                return;
            }
        }
    }

    /// Release the lock (the caller holds it).
    pub fn unlock(&self) {
        if self
            .state
            .compare_exchange(LOCKED, 0, Release, Relaxed)
            .is_err()
        {
            self.unlock_contended();
        }
    }

    #[cold]
    fn unlock_contended(&self) {
        let mut waiters = self.waiters.lock();
        waiters.notify_one();
        // LOCKED is still set, so nobody else changes the state while we
        // hold the wait-list lock: release and keep PARKED iff waiters remain.
        let rest = if waiters.is_empty() { 0 } else { PARKED };
        self.state.store(rest, Release);
    }
}

/// A mutual-exclusion lock whose `lock` parks the calling coroutine (or
/// blocks the calling thread) instead of its worker thread.
///
/// Poisoning follows `std::sync::Mutex`: a guard dropped while its holder
/// panics marks the mutex poisoned, and later `lock`s return the guard
/// inside `Err(PoisonError)`.
///
/// ```
/// use std::sync::Arc;
/// let counter = Arc::new(rt::sync::Mutex::new(0));
/// rt::run(|| {
///     let handles: Vec<_> = (0..100)
///         .map(|_| {
///             let counter = counter.clone();
///             rt::spawn(move || {
///                 let mut n = counter.lock().unwrap();
///                 rt::yield_now(); // other coroutines run; they wait for the lock
///                 *n += 1;
///             })
///         })
///         .collect();
///     handles.into_iter().for_each(|h| h.join().unwrap());
/// });
/// assert_eq!(*counter.lock().unwrap(), 100);
/// ```
pub struct Mutex<T: ?Sized> {
    /// The lock.
    raw: RawMutex,
    /// Set when a holder panicked.
    poisoned: AtomicBool,
    /// The protected value.
    data: UnsafeCell<T>,
}

// SAFETY: the lock grants exclusive access to `data` to one holder at a
// time, as std's Mutex does.
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}

impl<T> Mutex<T> {
    /// A new, unlocked mutex.
    ///
    /// ```
    /// let m = rt::sync::Mutex::new(5);
    /// assert_eq!(*m.lock().unwrap(), 5);
    /// assert!(!m.is_poisoned());
    /// ```
    pub fn new(value: T) -> Mutex<T> {
        Mutex {
            raw: RawMutex::new(),
            poisoned: AtomicBool::new(false),
            data: UnsafeCell::new(value),
        }
    }

    /// The value, consuming the mutex.
    ///
    /// ```
    /// let m = rt::sync::Mutex::new(String::from("x"));
    /// assert_eq!(m.into_inner().unwrap(), "x");
    /// ```
    pub fn into_inner(self) -> LockResult<T> {
        let poisoned = self.poisoned.load(SeqCst);
        let value = self.data.into_inner();
        poison_result(poisoned, value)
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Wait for the lock and take it.
    ///
    /// ```
    /// let m = rt::sync::Mutex::new(Vec::new());
    /// rt::run(|| {
    ///     rt::scope(|s| {
    ///         for i in 0..3 {
    ///             let m = &m;
    ///             s.spawn(move || m.lock().unwrap().push(i));
    ///         }
    ///     })
    /// });
    /// let mut v = m.into_inner().unwrap();
    /// v.sort();
    /// assert_eq!(v, [0, 1, 2]);
    /// ```
    #[track_caller]
    pub fn lock(&self) -> LockResult<MutexGuard<'_, T>> {
        self.raw.lock();
        self.guard()
    }

    /// Take the lock if it is free.
    ///
    /// ```
    /// let m = rt::sync::Mutex::new(0);
    /// let held = m.lock().unwrap();
    /// assert!(m.try_lock().is_err()); // WouldBlock
    /// drop(held);
    /// assert!(m.try_lock().is_ok());
    /// ```
    pub fn try_lock(&self) -> TryLockResult<MutexGuard<'_, T>> {
        if !self.raw.try_lock() {
            return Err(TryLockError::WouldBlock);
        }
        self.guard().map_err(TryLockError::Poisoned)
    }

    fn guard(&self) -> LockResult<MutexGuard<'_, T>> {
        let guard = MutexGuard {
            mutex: self,
            panicking: crate::unwind::panicking(),
        };
        poison_result(self.poisoned.load(SeqCst), guard)
    }

    /// Whether a holder panicked.
    ///
    /// ```
    /// let m = rt::sync::Mutex::new(0);
    /// let _ = rt::run(|| {
    ///     rt::scope(|s| {
    ///         s.spawn(|| {
    ///             let _guard = m.lock().unwrap();
    ///             panic!("while holding the lock");
    ///         })
    ///         .join()
    ///     })
    /// });
    /// assert!(m.is_poisoned());
    /// assert!(m.lock().is_err()); // the guard comes inside a PoisonError
    /// ```
    pub fn is_poisoned(&self) -> bool {
        self.poisoned.load(SeqCst)
    }

    /// Clear the poisoned flag.
    ///
    /// ```
    /// let m = rt::sync::Mutex::new(0);
    /// let _ = rt::run(|| {
    ///     rt::scope(|s| {
    ///         s.spawn(|| {
    ///             let _guard = m.lock().unwrap();
    ///             panic!("while holding the lock");
    ///         })
    ///         .join()
    ///     })
    /// });
    /// m.clear_poison();
    /// assert!(!m.is_poisoned());
    /// assert_eq!(*m.lock().unwrap(), 0);
    /// ```
    pub fn clear_poison(&self) {
        self.poisoned.store(false, SeqCst);
    }

    /// The value, through exclusive access (no locking needed).
    ///
    /// ```
    /// let mut m = rt::sync::Mutex::new(1);
    /// *m.get_mut().unwrap() += 1; // `&mut` access: no locking
    /// assert_eq!(m.into_inner().unwrap(), 2);
    /// ```
    pub fn get_mut(&mut self) -> LockResult<&mut T> {
        let poisoned = self.is_poisoned();
        let value = self.data.get_mut();
        poison_result(poisoned, value)
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Mutex");
        match self.try_lock() {
            Ok(guard) => d.field("data", &&*guard),
            Err(TryLockError::Poisoned(e)) => d.field("data", &&*e.into_inner()),
            Err(TryLockError::WouldBlock) => d.field("data", &format_args!("<locked>")),
        };
        d.field("poisoned", &self.is_poisoned())
            .finish_non_exhaustive()
    }
}

/// Holds a [`Mutex`] locked; unlocks when dropped.
///
/// ```
/// let m = rt::sync::Mutex::new(vec![1]);
/// {
///     let mut guard = m.lock().unwrap();
///     guard.push(2);
/// } // unlocked here
/// assert_eq!(*m.lock().unwrap(), [1, 2]);
/// ```
pub struct MutexGuard<'a, T: ?Sized> {
    /// The locked mutex.
    mutex: &'a Mutex<T>,
    /// Whether the thread was already panicking when the lock was taken
    /// (then dropping the guard does not poison, as in std).
    panicking: bool,
}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    pub(crate) fn mutex(guard: &Self) -> &'a Mutex<T> {
        guard.mutex
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock.
        unsafe { &*self.mutex.data.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock.
        unsafe { &mut *self.mutex.data.get() }
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        if !self.panicking && crate::unwind::panicking() {
            self.mutex.poisoned.store(true, SeqCst);
        }
        self.mutex.raw.unlock();
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
