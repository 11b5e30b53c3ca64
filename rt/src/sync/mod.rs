//! Coroutine-aware synchronization: blocking parks the coroutine, not its
//! worker thread, and every type also works from a plain thread.
//!
//! All of them are built on one wait queue (`scheduler/waiter.rs`): state and
//! waiters under a short `parking_lot` lock that is never held across a
//! park, FIFO wake-ups, and cancellation-safe waits (a coroutine cancelled
//! while waiting leaves the queue, and passes on a wake-up it was given).

mod barrier;
mod condvar;
mod mutex;
mod once;
mod rwlock;
mod semaphore;
mod waitgroup;

pub use self::barrier::{Barrier, BarrierWaitResult};
pub use self::condvar::{Condvar, WaitTimeoutResult};
#[cfg(loom)]
pub use self::mutex::RawMutex;
pub use self::mutex::{Mutex, MutexGuard};
pub use self::once::Once;
pub use self::rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};
pub use self::semaphore::{OwnedSemaphorePermit, Semaphore, SemaphorePermit};
pub use self::waitgroup::WaitGroup;

/// `Ok(value)`, or `Err(PoisonError)` holding it if a holder panicked: the
/// std convention both locks follow.
fn poison_result<T>(poisoned: bool, value: T) -> std::sync::LockResult<T> {
    if poisoned {
        Err(std::sync::PoisonError::new(value))
    } else {
        Ok(value)
    }
}
