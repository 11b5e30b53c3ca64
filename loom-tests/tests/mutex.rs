//! The coroutine mutex's hand-off: an unlock racing a contended lock never
//! strands a waiter (the waiter enqueues, then retries; the unlocker
//! releases, then checks for waiters), and exclusion holds.
#![cfg(loom)]

use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::thread;
use rt::model::RawMutex;

struct Shared {
    lock: RawMutex,
    value: UnsafeCell<usize>,
}

// SAFETY: (test) `value` is only touched with `lock` held.
unsafe impl Sync for Shared {}

#[test]
fn contended_lock_and_unlock_lose_no_wakeup() {
    loom::model(|| {
        let shared = Arc::new(Shared {
            lock: RawMutex::new(),
            value: UnsafeCell::new(0),
        });
        let others: Vec<_> = (0..2)
            .map(|_| {
                let shared = shared.clone();
                thread::spawn(move || {
                    shared.lock.lock();
                    // loom flags concurrent access if exclusion fails.
                    // SAFETY: the lock is held.
                    shared.value.with_mut(|v| unsafe { *v += 1 });
                    shared.lock.unlock();
                })
            })
            .collect();
        for t in others {
            t.join().unwrap(); // a stranded waiter deadlocks: loom reports it
        }
        shared.lock.lock();
        // SAFETY: the lock is held.
        assert_eq!(shared.value.with(|v| unsafe { *v }), 2);
        shared.lock.unlock();
    });
}
