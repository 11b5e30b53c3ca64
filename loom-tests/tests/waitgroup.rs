//! `WaitGroup`: the last `done` (an atomic decrement, no lock) racing a
//! `wait` (a lock-free check, then a re-check under the waiters' lock)
//! never strands the waiter, and the waiter sees every finished worker's
//! writes.
#![cfg(loom)]

use loom::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use loom::sync::Arc;
use loom::thread;
use rt::sync::WaitGroup;

/// `workers` threads each write, then call `done`; `waiters` threads (the
/// model's main thread included) wait and must see every write.
fn model(workers: usize, waiters: usize) {
    loom::model(move || {
        let wg = Arc::new(WaitGroup::new());
        let written = Arc::new(AtomicUsize::new(0));
        wg.add(workers);
        let threads: Vec<_> = (0..workers)
            .map(|_| {
                let (wg, written) = (wg.clone(), written.clone());
                thread::spawn(move || {
                    // Relaxed: only `done`/`wait` may order it.
                    written.fetch_add(1, Relaxed);
                    wg.done();
                })
            })
            .chain((1..waiters).map(|_| {
                let (wg, written) = (wg.clone(), written.clone());
                thread::spawn(move || {
                    wg.wait();
                    assert_eq!(written.load(Relaxed), workers);
                })
            }))
            .collect();
        wg.wait(); // a lost notification deadlocks: loom reports it
        assert_eq!(written.load(Relaxed), workers);
        for t in threads {
            t.join().unwrap();
        }
    });
}

#[test]
fn last_done_racing_wait_is_never_lost() {
    model(1, 1);
}

#[test]
fn two_workers_and_two_waiters() {
    model(2, 2);
}
