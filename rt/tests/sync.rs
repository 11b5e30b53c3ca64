//! rt::sync: blocking parks the coroutine, not the worker; exact counts
//! under contention; plain threads and coroutines mixed; cancellation
//! while waiting never loses a wake-up.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

use rt::sync::{Barrier, Condvar, Mutex, Once, RwLock, Semaphore, WaitGroup};

fn runtime(workers: usize) -> rt::Runtime {
    rt::Builder::new().workers(workers).build().unwrap()
}

#[test]
fn mutex_counts_exactly_under_contention_from_coroutines_and_threads() {
    let rt = runtime(2);
    let m = Arc::new(Mutex::new(0_u64));
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let m = m.clone();
            std::thread::spawn(move || {
                for _ in 0..2_000 {
                    *m.lock().unwrap() += 1;
                }
            })
        })
        .collect();
    let mm = m.clone();
    rt.block_on(move || {
        let hs: Vec<_> = (0..200)
            .map(|_| {
                let m = mm.clone();
                rt::spawn(move || {
                    for i in 0..100 {
                        let mut g = m.lock().unwrap();
                        if i % 10 == 0 {
                            rt::yield_now(); // hold it across a switch
                        }
                        *g += 1;
                    }
                })
            })
            .collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
    });
    threads.into_iter().for_each(|t| t.join().unwrap());
    assert_eq!(*m.lock().unwrap(), 200 * 100 + 2 * 2_000);
}

#[test]
fn a_parked_lock_waiter_does_not_block_its_worker() {
    // One worker: if lock() blocked the thread, the holder could never run
    // again to release it.
    let rt = runtime(1);
    let order = rt.block_on(|| {
        let m = Arc::new(Mutex::new(Vec::new()));
        let guard = m.lock().unwrap();
        let m2 = m.clone();
        let waiter = rt::spawn(move || m2.lock().unwrap().push("waiter"));
        rt::yield_now(); // the waiter runs and parks on the lock
        drop(guard);
        waiter.join().unwrap();
        m.lock().unwrap().push("main");
        Arc::try_unwrap(m).unwrap().into_inner().unwrap()
    });
    assert_eq!(order, ["waiter", "main"]);
}

#[test]
fn mutex_poisoning_follows_std() {
    let m = Arc::new(Mutex::new(1));
    let m2 = m.clone();
    let r = rt::run(move || {
        rt::spawn(move || {
            let _g = m2.lock().unwrap();
            panic!("while holding");
        })
        .join()
    });
    assert!(r.is_err());
    assert!(m.is_poisoned());
    let value = *m.lock().unwrap_err().into_inner();
    assert_eq!(value, 1);
    m.clear_poison();
    assert!(m.lock().is_ok());
}

#[test]
fn condvar_wakes_waiters_and_loses_no_notification() {
    let rt = runtime(2);
    for _ in 0..20 {
        let total = rt.block_on(|| {
            let state = Arc::new((Mutex::new((0_u32, 0_u32)), Condvar::new()));
            let consumers: Vec<_> = (0..4)
                .map(|_| {
                    let state = state.clone();
                    rt::spawn(move || {
                        let (m, cv) = &*state;
                        let mut taken = 0;
                        loop {
                            let mut g = cv
                                .wait_while(m.lock().unwrap(), |(items, done)| {
                                    *items == 0 && *done == 0
                                })
                                .unwrap();
                            if g.0 > 0 {
                                g.0 -= 1;
                                taken += 1;
                            } else {
                                return taken;
                            }
                        }
                    })
                })
                .collect();
            let (m, cv) = &*state;
            for _ in 0..1_000 {
                m.lock().unwrap().0 += 1;
                cv.notify_one();
            }
            loop {
                let mut g = m.lock().unwrap();
                if g.0 == 0 {
                    g.1 = 1;
                    break;
                }
                drop(g);
                rt::yield_now();
            }
            cv.notify_all();
            consumers
                .into_iter()
                .map(|c| c.join().unwrap())
                .sum::<u32>()
        });
        assert_eq!(total, 1_000);
    }
}

#[test]
fn waitgroup_waits_for_exactly_all() {
    let rt = runtime(2);
    let done = Arc::new(AtomicUsize::new(0));
    let d = done.clone();
    rt.block_on(move || {
        let wg = Arc::new(WaitGroup::new());
        for _ in 0..1_000 {
            wg.add(1);
            let (wg, d) = (wg.clone(), d.clone());
            drop(rt::spawn(move || {
                rt::yield_now();
                d.fetch_add(1, SeqCst);
                wg.done();
            }));
        }
        wg.wait();
        assert_eq!(d.load(SeqCst), 1_000);
        assert_eq!(wg.count(), 0);
        wg.wait(); // zero: returns at once
    });
    assert_eq!(done.load(SeqCst), 1_000);
}

#[test]
#[should_panic(expected = "WaitGroup::done called more times than add")]
fn waitgroup_done_below_zero_panics() {
    WaitGroup::new().done();
}

#[test]
fn waitgroup_a_done_below_zero_leaves_the_count_at_zero() {
    let wg = WaitGroup::new();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| wg.done()));
    assert!(caught.is_err());
    assert_eq!(wg.count(), 0);
    wg.add(1);
    assert_eq!(wg.count(), 1);
}

/// Waiters (coroutines and a plain thread) racing the last `done` never
/// miss it and always see every finished worker's write.
#[test]
fn waitgroup_waiters_racing_the_last_done_see_all_work() {
    const ROUNDS: usize = 300;
    const WORKERS: usize = 40;
    let rt = runtime(4);
    rt.block_on(|| {
        for _ in 0..ROUNDS {
            let wg = Arc::new(WaitGroup::new());
            let finished = Arc::new(AtomicUsize::new(0));
            wg.add(WORKERS);
            let waiters: Vec<_> = (0..3)
                .map(|_| {
                    let (wg, finished) = (wg.clone(), finished.clone());
                    rt::spawn(move || {
                        wg.wait();
                        finished.load(SeqCst)
                    })
                })
                .collect();
            let thread = {
                let (wg, finished) = (wg.clone(), finished.clone());
                std::thread::spawn(move || {
                    wg.wait();
                    finished.load(SeqCst)
                })
            };
            for _ in 0..WORKERS {
                let (wg, finished) = (wg.clone(), finished.clone());
                rt::go!(move || {
                    finished.fetch_add(1, SeqCst);
                    wg.done();
                });
            }
            for waiter in waiters {
                assert_eq!(waiter.join().unwrap(), WORKERS);
            }
            assert_eq!(thread.join().unwrap(), WORKERS);
        }
    });
}

#[test]
fn semaphore_bounds_concurrency_and_is_fifo_fair() {
    let rt = runtime(2);
    let (now, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (n2, p2) = (now.clone(), peak.clone());
    rt.block_on(move || {
        let sem = Arc::new(Semaphore::new(3));
        let hs: Vec<_> = (0..300)
            .map(|_| {
                let (sem, now, peak) = (sem.clone(), n2.clone(), p2.clone());
                rt::spawn(move || {
                    let _p = sem.acquire();
                    let n = now.fetch_add(1, SeqCst) + 1;
                    peak.fetch_max(n, SeqCst);
                    rt::yield_now();
                    now.fetch_sub(1, SeqCst);
                })
            })
            .collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
        assert_eq!(sem.available_permits(), 3);
        let owned = sem.clone().acquire_owned();
        assert_eq!(sem.available_permits(), 2);
        drop(owned);
        assert!(sem.try_acquire().is_some());
    });
    assert_eq!(peak.load(SeqCst), 3);
}

#[test]
fn a_waiter_cancelled_after_the_hand_off_keeps_its_permit_and_unwinds_later() {
    let rt = runtime(1);
    rt.block_on(|| {
        let sem = Arc::new(Semaphore::new(0));
        let s1 = sem.clone();
        let first = rt::spawn(move || {
            let _permit = s1.acquire(); // completed by the hand-off: kept
            rt::yield_now(); // the cancellation is delivered here
            unreachable!("cancelled at the yield");
        });
        let s2 = sem.clone();
        let second = rt::spawn(move || drop(s2.acquire()));
        rt::yield_now(); // both park, first in line
        sem.add_permits(1); // handed to `first`...
        first.cancel(); // ...which is cancelled before it runs again
        assert!(first.join().unwrap_err().is_cancelled());
        second.join().unwrap(); // released by the unwind, on to `second`
        assert_eq!(sem.available_permits(), 1);
    });
}

#[test]
fn cancelling_a_parked_waiter_removes_it_from_the_queue() {
    let rt = runtime(1);
    rt.block_on(|| {
        let sem = Arc::new(Semaphore::new(0));
        let s1 = sem.clone();
        let first = rt::spawn(move || drop(s1.acquire()));
        let s2 = sem.clone();
        let second = rt::spawn(move || drop(s2.acquire()));
        rt::yield_now(); // both park, first in line
        first.cancel();
        assert!(first.join().unwrap_err().is_cancelled());
        sem.add_permits(1); // nobody is left in line before `second`
        second.join().unwrap();
        assert_eq!(sem.available_permits(), 1);
    });
}

#[test]
fn barrier_releases_rounds_with_one_leader_each() {
    let rt = runtime(2);
    let leaders = rt.block_on(|| {
        let barrier = Arc::new(Barrier::new(5));
        let hs: Vec<_> = (0..5)
            .map(|_| {
                let b = barrier.clone();
                rt::spawn(move || (0..10).filter(|_| b.wait().is_leader()).count())
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum::<usize>()
    });
    assert_eq!(leaders, 10, "one leader per round");
}

#[test]
fn once_runs_once_and_poisons_after_a_panic() {
    let rt = runtime(2);
    let runs = Arc::new(AtomicUsize::new(0));
    let r = runs.clone();
    rt.block_on(move || {
        let once = Arc::new(Once::new());
        let hs: Vec<_> = (0..50)
            .map(|_| {
                let (once, r) = (once.clone(), r.clone());
                rt::spawn(move || {
                    once.call_once(|| {
                        rt::yield_now(); // others arrive and park meanwhile
                        r.fetch_add(1, SeqCst);
                    })
                })
            })
            .collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
        let bad = Arc::new(Once::new());
        let b = bad.clone();
        assert!(rt::spawn(move || b.call_once(|| panic!("init failed")))
            .join()
            .is_err());
        let b = bad.clone();
        let again = rt::spawn(move || b.call_once(|| ())).join().unwrap_err();
        assert!(again.into_panic().message().unwrap().contains("poisoned"));
    });
    assert_eq!(runs.load(SeqCst), 1);
}

#[test]
fn rwlock_readers_share_writers_exclude_and_do_not_starve() {
    let rt = runtime(2);
    let value = rt.block_on(|| {
        let lock = Arc::new(RwLock::new(0_u64));
        let readers_inside = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..100)
            .map(|i| {
                let (lock, inside) = (lock.clone(), readers_inside.clone());
                rt::spawn(move || {
                    if i % 10 == 0 {
                        let mut w = lock.write().unwrap();
                        assert_eq!(inside.load(SeqCst), 0, "no reader while writing");
                        rt::yield_now();
                        *w += 1;
                    } else {
                        for _ in 0..5 {
                            let r = lock.read().unwrap();
                            inside.fetch_add(1, SeqCst);
                            rt::yield_now();
                            let _ = *r;
                            inside.fetch_sub(1, SeqCst);
                        }
                    }
                })
            })
            .collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
        let v = *lock.read().unwrap();
        v
    });
    assert_eq!(value, 10);
}

#[test]
fn timeouts_expire_or_succeed_in_coroutines_and_threads() {
    use std::time::{Duration, Instant};
    fn check() {
        let m = Mutex::new(0);
        let cv = Condvar::new();
        let start = Instant::now();
        let (guard, result) = cv
            .wait_timeout(m.lock().unwrap(), Duration::from_millis(20))
            .unwrap();
        assert!(result.timed_out());
        assert!(start.elapsed() >= Duration::from_millis(20));
        drop(guard);

        let sem = Semaphore::new(0);
        let start = Instant::now();
        assert!(sem.acquire_timeout(Duration::from_millis(20)).is_none());
        assert!(start.elapsed() >= Duration::from_millis(20));
        // A timeout takes nothing and gives nothing back.
        assert_eq!(sem.available_permits(), 0);
        sem.add_permits(1);
        assert!(sem.acquire_timeout(Duration::from_millis(20)).is_some());
    }
    rt::run(check);
    std::thread::spawn(check).join().unwrap();

    // Notified before the timeout: not timed out, and promptly.
    let rt = runtime(2);
    rt.block_on(|| {
        let pair = Arc::new((Mutex::new(false), Condvar::new()));
        let p = pair.clone();
        let notifier = rt::spawn(move || {
            rt::sleep(Duration::from_millis(5));
            *p.0.lock().unwrap() = true;
            p.1.notify_all();
        });
        let (m, cv) = &*pair;
        let mut guard = m.lock().unwrap();
        let start = Instant::now();
        while !*guard {
            let (g, result) = cv.wait_timeout(guard, Duration::from_secs(30)).unwrap();
            guard = g;
            assert!(!result.timed_out());
        }
        assert!(start.elapsed() < Duration::from_secs(30));
        drop(guard);
        notifier.join().unwrap();

        // A permit released while an acquirer waits with a timeout reaches it.
        let sem = Arc::new(Semaphore::new(0));
        let s = sem.clone();
        let giver = rt::spawn(move || {
            rt::sleep(Duration::from_millis(5));
            s.add_permits(1);
        });
        assert!(sem.acquire_timeout(Duration::from_secs(30)).is_some());
        giver.join().unwrap();
    });
}

/// Cancellation, `rt::timeout` and `rt::exit` unwind through lock guards
/// without poisoning them (nothing panicked); a cancelled `Once`
/// initializer leaves the `Once` to be run again, not poisoned.
#[test]
fn forced_unwinds_do_not_poison() {
    use std::sync::Arc;
    use std::time::Duration;
    rt::Builder::new().workers(2).build().unwrap().block_on(|| {
        let mutex = Arc::new(rt::sync::Mutex::new(0));
        let rwlock = Arc::new(rt::sync::RwLock::new(0));
        // Timeout while holding both.
        let r = rt::timeout(Duration::from_millis(5), || {
            let _m = mutex.lock().unwrap();
            let _w = rwlock.write().unwrap();
            rt::sleep(Duration::from_secs(60));
        });
        assert!(r.is_err());
        assert!(!mutex.is_poisoned() && !rwlock.is_poisoned());
        // Cancellation while holding.
        let (m, w) = (mutex.clone(), rwlock.clone());
        let holder = rt::spawn(move || {
            let _m = m.lock().unwrap();
            let _w = w.write().unwrap();
            rt::sleep(Duration::from_secs(60));
        });
        rt::sleep(Duration::from_millis(5));
        holder.cancel();
        assert!(holder.join().unwrap_err().is_cancelled());
        // rt::exit while holding.
        let (m, w) = (mutex.clone(), rwlock.clone());
        let exiting = rt::spawn(move || {
            let _m = m.lock().unwrap();
            let _w = w.write().unwrap();
            rt::exit();
        });
        assert!(exiting.join().unwrap_err().is_exited());
        assert!(mutex.lock().is_ok() && rwlock.read().is_ok());
        // A real panic still poisons.
        let m = mutex.clone();
        let _ = rt::spawn(move || {
            let _m = m.lock().unwrap();
            panic!("while holding");
        })
        .join();
        assert!(mutex.is_poisoned());
        // A Once whose initializer times out runs again later.
        let once = rt::sync::Once::new();
        let r = rt::timeout(Duration::from_millis(5), || {
            once.call_once(|| rt::sleep(Duration::from_secs(60)))
        });
        assert!(r.is_err());
        assert!(!once.is_completed());
        let mut ran = false;
        once.call_once(|| ran = true);
        assert!(ran && once.is_completed());
    });
}

#[test]
fn semaphore_add_permits_hands_off_then_refuses_overflow() {
    let sem = rt::sync::Semaphore::new(0);
    sem.add_permits(3);
    assert_eq!(sem.available_permits(), 3);
    let full = rt::sync::Semaphore::new(usize::MAX);
    let err =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| full.add_permits(1))).unwrap_err();
    let message = err
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    assert!(
        message.contains("more than usize::MAX permits"),
        "{message}"
    );
}

#[test]
fn rwlock_try_read_and_try_write_never_wait() {
    let lock = rt::sync::RwLock::new(5);
    {
        let r1 = lock.try_read().unwrap();
        let r2 = lock.try_read().unwrap();
        assert_eq!(*r1 + *r2, 10);
        assert!(matches!(
            lock.try_write(),
            Err(std::sync::TryLockError::WouldBlock)
        ));
    }
    {
        let mut w = lock.try_write().unwrap();
        *w = 6;
        assert!(matches!(
            lock.try_read(),
            Err(std::sync::TryLockError::WouldBlock)
        ));
    }
    assert_eq!(*lock.read().unwrap(), 6);
}
