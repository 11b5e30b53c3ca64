//! The channel lock: a test-and-set spin lock.
//!
//! Critical sections are a few dozen instructions (queue pushes, one CAS,
//! a value move), never a park and never a wake-up (those happen after
//! unlocking), so waiting means spinning briefly. Compared with
//! `parking_lot::Mutex` it saves an atomic read-modify-write per critical
//! section: unlocking is a plain release store. A waiter that spins for
//! long (the holder's thread was preempted) yields its thread.
//!
//! `loom-tests/tests/spin_lock.rs` checks this very lock: under loom its
//! flag is a loom atomic, its value a loom cell (each guard holds a tracked
//! access, so a second holder or a missing happens-before is caught), and
//! its spinning tells the model scheduler what it waits for. (The channel
//! models use loom's blocking Mutex instead: with this lock, a three-thread
//! channel model runs past 10,000 scheduling branches in one execution.)

use std::ops::{Deref, DerefMut};

use crate::loom::sync::atomic::{AtomicBool, Ordering};

#[cfg(loom)]
use loom::cell::UnsafeCell;
#[cfg(not(loom))]
use std::cell::UnsafeCell;

/// A value behind a spin lock.
pub struct SpinLock<T> {
    /// Held: set by the acquiring CAS, cleared by the releasing store.
    locked: AtomicBool,
    /// What it protects.
    value: UnsafeCell<T>,
}

// SAFETY: the lock gives one thread at a time access to `value`.
unsafe impl<T: Send> Sync for SpinLock<T> {}
// SAFETY: moving the lock moves the value.
unsafe impl<T: Send> Send for SpinLock<T> {}

impl<T> SpinLock<T> {
    /// An unlocked lock around `value`.
    #[cfg(not(loom))]
    pub const fn new(value: T) -> SpinLock<T> {
        SpinLock {
            locked: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    /// An unlocked lock around `value`.
    #[cfg(loom)]
    pub fn new(value: T) -> SpinLock<T> {
        SpinLock {
            locked: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    /// Spin until the lock is ours.
    #[inline]
    pub fn lock(&self) -> SpinGuard<'_, T> {
        if self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_contended();
        }
        SpinGuard {
            lock: self,
            #[cfg(loom)]
            access: std::mem::ManuallyDrop::new(self.value.get_mut()),
        }
    }

    #[cold]
    fn lock_contended(&self) {
        let mut spins = 0u32;
        loop {
            // Wait until it looks free before trying again (no cache-line
            // ping-pong while it is held). Under loom the spin hint tells
            // the model this thread waits for the flag to change (it is not
            // scheduled again until it does), and a lost race yields.
            while self.locked.load(Ordering::Relaxed) {
                crate::loom::thread::spin(&mut spins, 100);
            }
            if self
                .locked
                .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return;
            }
            #[cfg(loom)]
            crate::loom::thread::yield_now();
        }
    }
}

/// Access to the locked value; unlocks on drop.
pub struct SpinGuard<'a, T> {
    /// The lock held.
    lock: &'a SpinLock<T>,
    /// Under loom: the tracked exclusive access, released before unlocking.
    #[cfg(loom)]
    access: std::mem::ManuallyDrop<loom::cell::MutPtr<T>>,
}

impl<T> Deref for SpinGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock.
        #[cfg(not(loom))]
        unsafe {
            &*self.lock.value.get()
        }
        // SAFETY: the guard holds the lock (loom checks it).
        #[cfg(loom)]
        unsafe {
            loom::cell::MutPtr::deref(&self.access)
        }
    }
}

impl<T> DerefMut for SpinGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock.
        #[cfg(not(loom))]
        unsafe {
            &mut *self.lock.value.get()
        }
        // SAFETY: the guard holds the lock (loom checks it).
        #[cfg(loom)]
        unsafe {
            loom::cell::MutPtr::deref(&self.access)
        }
    }
}

impl<T> Drop for SpinGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // Under loom the tracked access must end before the lock is free.
        #[cfg(loom)]
        // SAFETY: `access` is dropped once, here, and never used again.
        unsafe {
            std::mem::ManuallyDrop::drop(&mut self.access)
        };
        self.lock.locked.store(false, Ordering::Release);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::SpinLock;
    use std::sync::Arc;

    #[test]
    fn excludes() {
        let lock = Arc::new(SpinLock::new(0u64));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let lock = lock.clone();
                std::thread::spawn(move || {
                    for _ in 0..100_000 {
                        *lock.lock() += 1;
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(*lock.lock(), 400_000);
    }
}
