//! [`RwLock`]: many readers or one writer; waiting parks the coroutine.

use std::cell::UnsafeCell;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{LockResult, TryLockError, TryLockResult};

use super::poison_result;
use crate::scheduler::task::WaitReason;

use crate::scheduler::waiter::{wait, WaitList, WaitSite, Waiter};

/// Who holds the lock and who waits.
#[derive(Default)]
struct State {
    /// Readers holding it.
    readers: usize,
    /// Whether a writer holds it.
    writer: bool,
    /// Writers waiting: new readers queue behind them, so writers do not
    /// starve under a stream of readers.
    writers_waiting: usize,
    /// Parked readers.
    read_waiters: WaitList,
    /// Parked writers.
    write_waiters: WaitList,
}

/// A reader-writer lock whose waiting parks the coroutine (or blocks the
/// thread). Writers are preferred: once one waits, new readers wait too.
/// Poisoning follows std: a writer that panics poisons the lock.
///
/// ```
/// let lock = rt::sync::RwLock::new(5);
/// rt::run(|| {
///     {
///         let (a, b) = (lock.read().unwrap(), lock.read().unwrap());
///         assert_eq!(*a + *b, 10);
///     }
///     *lock.write().unwrap() += 1;
/// });
/// assert_eq!(*lock.read().unwrap(), 6);
/// ```
pub struct RwLock<T: ?Sized> {
    /// Holders and waiters.
    state: parking_lot::Mutex<State>,
    /// Set when a writer panicked.
    poisoned: AtomicBool,
    /// The protected value.
    data: UnsafeCell<T>,
}

// SAFETY: the lock hands out shared access to readers (T: Sync) or
// exclusive access to one writer (T: Send), as std's RwLock.
unsafe impl<T: ?Sized + Send> Send for RwLock<T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLock<T> {}

impl<T> RwLock<T> {
    /// A new, unlocked lock.
    ///
    /// ```
    /// let lock = rt::sync::RwLock::new("v");
    /// assert_eq!(*lock.read().unwrap(), "v");
    /// assert!(!lock.is_poisoned());
    /// ```
    pub fn new(value: T) -> RwLock<T> {
        RwLock {
            state: parking_lot::Mutex::new(State::default()),
            poisoned: AtomicBool::new(false),
            data: UnsafeCell::new(value),
        }
    }

    /// The value, consuming the lock.
    ///
    /// ```
    /// let lock = rt::sync::RwLock::new(vec![1]);
    /// lock.write().unwrap().push(2);
    /// assert_eq!(lock.into_inner().unwrap(), [1, 2]);
    /// ```
    pub fn into_inner(self) -> LockResult<T> {
        let poisoned = self.poisoned.load(SeqCst);
        let value = self.data.into_inner();
        poison_result(poisoned, value)
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Park until no writer holds or waits for the lock, then share it.
    ///
    /// ```
    /// let lock = rt::sync::RwLock::new(10);
    /// let total = rt::run(|| {
    ///     rt::scope(|s| {
    ///         let readers: Vec<_> = (0..4).map(|_| s.spawn(|| *lock.read().unwrap())).collect();
    ///         readers.into_iter().map(|h| h.join().unwrap()).sum::<i32>()
    ///     })
    /// });
    /// assert_eq!(total, 40);
    /// ```
    #[track_caller]
    pub fn read(&self) -> LockResult<RwLockReadGuard<'_, T>> {
        loop {
            let waiter = {
                let mut state = self.state.lock();
                if !state.writer && state.writers_waiting == 0 {
                    state.readers += 1;
                    break;
                }
                let waiter = Waiter::current();
                state.read_waiters.push(waiter.clone());
                waiter
            };
            wait(&waiter, WaitSite::here(WaitReason::RwLockRead), || {
                self.state.lock().read_waiters.remove(&waiter);
            });
        }
        let guard = RwLockReadGuard { lock: self };
        poison_result(self.poisoned.load(SeqCst), guard)
    }

    /// Park until nobody holds the lock, then take it exclusively.
    ///
    /// ```
    /// let lock = rt::sync::RwLock::new(0);
    /// rt::run(|| {
    ///     rt::scope(|s| {
    ///         for _ in 0..10 {
    ///             s.spawn(|| *lock.write().unwrap() += 1);
    ///         }
    ///     })
    /// });
    /// assert_eq!(lock.into_inner().unwrap(), 10);
    /// ```
    #[track_caller]
    pub fn write(&self) -> LockResult<RwLockWriteGuard<'_, T>> {
        let mut counted = false;
        loop {
            let waiter = {
                let mut state = self.state.lock();
                if !state.writer && state.readers == 0 {
                    state.writer = true;
                    if counted {
                        state.writers_waiting -= 1;
                    }
                    break;
                }
                if !counted {
                    state.writers_waiting += 1;
                    counted = true;
                }
                let waiter = Waiter::current();
                state.write_waiters.push(waiter.clone());
                waiter
            };
            wait(&waiter, WaitSite::here(WaitReason::RwLockWrite), || {
                let mut state = self.state.lock();
                let notified = !state.write_waiters.remove(&waiter);
                state.writers_waiting -= 1;
                if notified || state.writers_waiting == 0 {
                    Self::wake_next(&mut state);
                }
            });
        }
        let guard = RwLockWriteGuard {
            lock: self,
            panicking: crate::unwind::panicking(),
        };
        poison_result(self.poisoned.load(SeqCst), guard)
    }

    /// After a release: a waiting writer if the lock is free, else readers.
    fn wake_next(state: &mut State) {
        if state.writer {
            return;
        }
        if state.writers_waiting > 0 {
            if state.readers == 0 {
                state.write_waiters.notify_one();
            }
        } else {
            state.read_waiters.notify_all();
        }
    }

    /// Whether a writer panicked.
    ///
    /// ```
    /// let lock = rt::sync::RwLock::new(0);
    /// let _ = rt::run(|| {
    ///     rt::scope(|s| {
    ///         s.spawn(|| {
    ///             let _writer = lock.write().unwrap();
    ///             panic!("while writing");
    ///         })
    ///         .join()
    ///     })
    /// });
    /// assert!(lock.is_poisoned());
    /// assert!(lock.read().is_err());
    /// ```
    pub fn is_poisoned(&self) -> bool {
        self.poisoned.load(SeqCst)
    }

    /// Share the lock if that can be done without waiting.
    ///
    /// ```
    /// let lock = rt::sync::RwLock::new(1);
    /// let reader = lock.try_read().unwrap();
    /// assert_eq!(*reader, 1);
    /// assert!(lock.try_write().is_err()); // a reader holds it
    /// ```
    pub fn try_read(&self) -> TryLockResult<RwLockReadGuard<'_, T>> {
        {
            let mut state = self.state.lock();
            if state.writer || state.writers_waiting > 0 {
                return Err(TryLockError::WouldBlock);
            }
            state.readers += 1;
        }
        poison_result(self.poisoned.load(SeqCst), RwLockReadGuard { lock: self })
            .map_err(TryLockError::Poisoned)
    }

    /// Take the lock exclusively if that can be done without waiting.
    ///
    /// ```
    /// let lock = rt::sync::RwLock::new(1);
    /// *lock.try_write().unwrap() += 1;
    /// assert_eq!(*lock.read().unwrap(), 2);
    /// ```
    pub fn try_write(&self) -> TryLockResult<RwLockWriteGuard<'_, T>> {
        {
            let mut state = self.state.lock();
            if state.writer || state.readers > 0 {
                return Err(TryLockError::WouldBlock);
            }
            state.writer = true;
        }
        let guard = RwLockWriteGuard {
            lock: self,
            panicking: crate::unwind::panicking(),
        };
        poison_result(self.poisoned.load(SeqCst), guard).map_err(TryLockError::Poisoned)
    }

    /// Forget that a writer panicked.
    ///
    /// ```
    /// let lock = rt::sync::RwLock::new(0);
    /// let _ = rt::run(|| rt::scope(|s| s.spawn(|| {
    ///     let _w = lock.write().unwrap();
    ///     panic!("poison it");
    /// }).join()));
    /// assert!(lock.is_poisoned());
    /// lock.clear_poison();
    /// assert!(!lock.is_poisoned());
    /// ```
    pub fn clear_poison(&self) {
        self.poisoned.store(false, SeqCst);
    }

    /// The value, through exclusive access (no locking needed).
    ///
    /// ```
    /// let mut lock = rt::sync::RwLock::new(1);
    /// *lock.get_mut().unwrap() += 1;
    /// assert_eq!(lock.into_inner().unwrap(), 2);
    /// ```
    pub fn get_mut(&mut self) -> LockResult<&mut T> {
        let poisoned = self.is_poisoned();
        poison_result(poisoned, self.data.get_mut())
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RwLock")
            .field("poisoned", &self.is_poisoned())
            .finish_non_exhaustive()
    }
}

/// Shared access to an [`RwLock`]'s value; released when dropped.
///
/// ```
/// let lock = rt::sync::RwLock::new(1);
/// let (a, b) = (lock.read().unwrap(), lock.read().unwrap()); // shared
/// assert_eq!(*a + *b, 2);
/// ```
pub struct RwLockReadGuard<'a, T: ?Sized> {
    /// The read-locked lock.
    lock: &'a RwLock<T>,
}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: a reader holds the lock: no writer exists.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for RwLockReadGuard<'_, T> {
    fn drop(&mut self) {
        let mut state = self.lock.state.lock();
        state.readers -= 1;
        if state.readers == 0 {
            RwLock::<T>::wake_next(&mut state);
        }
    }
}

/// Exclusive access to an [`RwLock`]'s value; released when dropped.
///
/// ```
/// let lock = rt::sync::RwLock::new(1);
/// *lock.write().unwrap() += 1;
/// assert_eq!(*lock.read().unwrap(), 2);
/// ```
pub struct RwLockWriteGuard<'a, T: ?Sized> {
    /// The write-locked lock.
    lock: &'a RwLock<T>,
    /// Whether the thread was panicking when it was taken (no poisoning then).
    panicking: bool,
}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the writer holds the lock exclusively.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the writer holds the lock exclusively.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for RwLockWriteGuard<'_, T> {
    fn drop(&mut self) {
        if !self.panicking && crate::unwind::panicking() {
            self.lock.poisoned.store(true, SeqCst);
        }
        let mut state = self.lock.state.lock();
        state.writer = false;
        RwLock::<T>::wake_next(&mut state);
    }
}
