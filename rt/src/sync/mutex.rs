//! [`Mutex`]: mutual exclusion that parks the coroutine, not the thread.

use std::cell::UnsafeCell;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::{LockResult, PoisonError, TryLockError, TryLockResult};

use crate::loom::sync::atomic::{fence, AtomicBool, Ordering::SeqCst};

use super::waiter::{wait, WaitList, Waiter};

/// The lock without data: the state word plus who waits.
///
/// Locking is a CAS on `locked`. A contended locker enqueues itself, sets
/// `has_waiters`, and only then retries the CAS; an unlocker clears
/// `locked` and only then reads `has_waiters`. A `SeqCst` fence sits
/// between the store and the load on both sides, so either the retry sees
/// the lock free or the unlocker sees the waiter (the store-then-load pair
/// of the idle-worker protocol; loom found the interleaving that loses the
/// waiter without the fences). A woken waiter
/// competes again (no hand-off), as in Go: it may lose to a newcomer, which
/// keeps throughput up; FIFO waking keeps it from starving in practice.
pub struct RawMutex {
    /// Whether someone holds the lock.
    locked: AtomicBool,
    /// Whether `waiters` may be non-empty (read by unlockers without the lock).
    has_waiters: AtomicBool,
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
            locked: AtomicBool::new(false),
            has_waiters: AtomicBool::new(false),
            waiters: crate::loom::sync::Mutex::new(WaitList::default()),
        }
    }

    /// Take the lock if it is free.
    pub fn try_lock(&self) -> bool {
        self.locked
            .compare_exchange(false, true, SeqCst, SeqCst)
            .is_ok()
    }

    /// Take the lock, parking until it is free.
    pub fn lock(&self) {
        if !self.try_lock() {
            self.lock_contended();
        }
    }

    #[cold]
    fn lock_contended(&self) {
        loop {
            let waiter = Waiter::current();
            {
                let mut waiters = self.waiters.lock();
                waiters.push(waiter.clone());
                self.has_waiters.store(true, SeqCst);
                // Store-then-load against `unlock`: see the type's docs.
                fence(SeqCst);
                if self.try_lock() {
                    waiters.remove(&waiter);
                    if waiters.is_empty() {
                        self.has_waiters.store(false, SeqCst);
                    }
                    return;
                }
            }
            wait(&waiter, |notified| {
                let mut waiters = self.waiters.lock();
                if !waiters.remove(&waiter) && notified {
                    // Woken for an unlock we will not use: pass it on.
                    waiters.notify_one();
                }
                if waiters.is_empty() {
                    self.has_waiters.store(false, SeqCst);
                }
            });
            if self.try_lock() {
                return;
            }
        }
    }

    /// Release the lock (the caller holds it).
    pub fn unlock(&self) {
        self.locked.store(false, SeqCst);
        // Store-then-load against `lock_contended`: see the type's docs.
        fence(SeqCst);
        if self.has_waiters.load(SeqCst) {
            let mut waiters = self.waiters.lock();
            waiters.notify_one();
            if waiters.is_empty() {
                self.has_waiters.store(false, SeqCst);
            }
        }
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
    pub fn new(value: T) -> Mutex<T> {
        Mutex {
            raw: RawMutex::new(),
            poisoned: AtomicBool::new(false),
            data: UnsafeCell::new(value),
        }
    }

    /// The value, consuming the mutex.
    pub fn into_inner(self) -> LockResult<T> {
        let poisoned = self.poisoned.load(SeqCst);
        let value = self.data.into_inner();
        if poisoned {
            Err(PoisonError::new(value))
        } else {
            Ok(value)
        }
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Wait for the lock and take it.
    pub fn lock(&self) -> LockResult<MutexGuard<'_, T>> {
        self.raw.lock();
        self.guard()
    }

    /// Take the lock if it is free.
    pub fn try_lock(&self) -> TryLockResult<MutexGuard<'_, T>> {
        if !self.raw.try_lock() {
            return Err(TryLockError::WouldBlock);
        }
        self.guard().map_err(TryLockError::Poisoned)
    }

    fn guard(&self) -> LockResult<MutexGuard<'_, T>> {
        let guard = MutexGuard {
            mutex: self,
            panicking: std::thread::panicking(),
        };
        if self.poisoned.load(SeqCst) {
            Err(PoisonError::new(guard))
        } else {
            Ok(guard)
        }
    }

    /// Whether a holder panicked.
    pub fn is_poisoned(&self) -> bool {
        self.poisoned.load(SeqCst)
    }

    /// Clear the poisoned flag.
    pub fn clear_poison(&self) {
        self.poisoned.store(false, SeqCst);
    }

    /// The value, through exclusive access (no locking needed).
    pub fn get_mut(&mut self) -> LockResult<&mut T> {
        let poisoned = self.is_poisoned();
        let value = self.data.get_mut();
        if poisoned {
            Err(PoisonError::new(value))
        } else {
            Ok(value)
        }
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
        if !self.panicking && std::thread::panicking() {
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
