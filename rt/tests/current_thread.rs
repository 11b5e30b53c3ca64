//! A current-thread runtime (`Builder::current_thread`): no threads of its
//! own; the thread that built it runs every coroutine inside `block_on`,
//! and unwinds what is left when it drops the runtime.
//!
//! Every runtime in this file is a current-thread one, so no thread named
//! `rt-...` may ever exist in this process.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn current_thread() -> rt::Runtime {
    rt::Builder::new().current_thread().build().unwrap()
}

/// Names of this process's threads that rt would have started.
fn rt_threads() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| name.starts_with("rt-"))
        .collect()
}

#[test]
fn every_coroutine_runs_on_the_building_thread_and_no_thread_is_started() {
    let rt = current_thread();
    let caller = std::thread::current().id();
    let ids = rt.block_on(|| {
        let handles: Vec<_> = (0..100)
            .map(|_| {
                rt::spawn(|| {
                    rt::yield_now();
                    rt::sleep(Duration::from_millis(1));
                    std::thread::current().id()
                })
            })
            .collect();
        assert_eq!(rt_threads(), Vec::<String>::new());
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .collect::<Vec<_>>()
    });
    assert!(ids.iter().all(|&id| id == caller));
    assert_eq!(rt_threads(), Vec::<String>::new());
}

#[test]
fn a_coroutine_parked_in_one_block_on_resumes_in_the_next() {
    let rt = current_thread();
    let (tx, rx) = rt::chan::bounded::<u32>(0);
    let waiting = rt.block_on(|| {
        let waiting = rt::spawn(move || rx.recv().unwrap() * 2);
        rt::yield_now(); // it starts and parks in `recv`
        waiting
    });
    // Nothing runs between the calls; the value is handed over in the next.
    let doubled = rt.block_on(move || {
        tx.send(21).unwrap();
        waiting.join().unwrap()
    });
    assert_eq!(doubled, 42);
}

#[test]
fn coroutines_spawned_from_other_threads_run_at_the_next_block_on() {
    let rt = current_thread();
    let rt_ref = &rt;
    let handles: Vec<_> = std::thread::scope(|s| {
        (0..4)
            .map(|i| s.spawn(move || rt_ref.spawn(move || i * 10)))
            .map(|t| t.join().unwrap())
            .collect()
    });
    // Joined from another thread, while this one drives the runtime.
    let total = std::thread::scope(|s| {
        let joiner = s.spawn(|| handles.into_iter().map(|h| h.join().unwrap()).sum::<i32>());
        rt.block_on(|| {
            while !joiner.is_finished() {
                rt::sleep(Duration::from_millis(1));
            }
        });
        joiner.join().unwrap()
    });
    assert_eq!(total, 60);
}

#[test]
fn block_on_from_another_thread_panics_without_running_anything() {
    let rt = current_thread();
    let ran = AtomicUsize::new(0);
    let err = std::thread::scope(|s| {
        s.spawn(|| rt.block_on(|| ran.fetch_add(1, SeqCst)))
            .join()
            .unwrap_err()
    });
    let message = err.downcast_ref::<String>().unwrap();
    assert!(
        message.contains("only on the thread that built it"),
        "{message}"
    );
    assert_eq!(ran.load(SeqCst), 0);
    assert_eq!(rt.block_on(|| ran.fetch_add(1, SeqCst)), 0); // still usable
}

#[test]
fn block_on_inside_one_of_its_coroutines_panics() {
    let rt = current_thread();
    let message = rt.block_on(|| {
        let err = std::panic::catch_unwind(|| rt.block_on(|| 1)).unwrap_err();
        err.downcast_ref::<String>().unwrap().clone()
    });
    assert!(message.contains("from inside a coroutine"), "{message}");
}

#[test]
fn dropping_the_runtime_unwinds_parked_coroutines_on_the_building_thread() {
    let rt = current_thread();
    let unwound = Arc::new(AtomicUsize::new(0));
    let (_tx, rx) = rt::chan::bounded::<()>(0);
    let caller = std::thread::current().id();
    let started = Arc::new(AtomicUsize::new(0));
    let handles = rt.block_on(|| {
        let handles: Vec<_> = (0..50)
            .map(|_| {
                let (unwound, rx, started) = (unwound.clone(), rx.clone(), started.clone());
                rt::spawn(move || {
                    rt::defer! {
                        assert_eq!(std::thread::current().id(), caller);
                        unwound.fetch_add(1, SeqCst);
                    }
                    started.fetch_add(1, SeqCst);
                    let _ = rx.recv(); // parked for good
                })
            })
            .collect();
        while started.load(SeqCst) < 50 {
            rt::yield_now();
        }
        handles
    });
    // Spawned but never started: dropped unrun.
    let unstarted = rt.spawn(|| unreachable!());
    assert_eq!(unwound.load(SeqCst), 0);
    drop(rt);
    assert_eq!(unwound.load(SeqCst), 50);
    for handle in handles {
        assert!(handle.join().unwrap_err().is_cancelled());
    }
    assert!(unstarted.join().unwrap_err().is_cancelled());
}

/// Drop a current-thread runtime on another thread while one of its
/// coroutines waits on a channel (woken just before the drop if `wake`,
/// so that its only owner is the worker's inbox, which the drop empties).
/// Returns how many times the coroutine's deferred closure ran.
fn drop_elsewhere_with_a_waiting_coroutine(wake: bool) -> usize {
    let rt = current_thread();
    let unwound = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = rt::chan::bounded::<()>(1);
    let u = unwound.clone();
    rt.block_on(move || {
        let (started_tx, started) = rt::chan::bounded::<()>(1);
        rt::spawn(move || {
            rt::defer! { u.fetch_add(1, SeqCst); }
            started_tx.send(()).unwrap();
            let _ = rx.recv();
        });
        started.recv().unwrap();
    });
    std::thread::spawn(move || {
        if wake {
            tx.send(()).unwrap(); // into the inbox: nothing runs it
        }
        drop(rt);
    })
    .join()
    .unwrap();
    unwound.load(SeqCst)
}

/// Nothing may run a started coroutine's stack on another thread: it is
/// leaked, parked or woken, never unwound there.
#[test]
fn dropped_on_another_thread_its_started_coroutines_are_abandoned() {
    assert_eq!(drop_elsewhere_with_a_waiting_coroutine(false), 0);
    assert_eq!(drop_elsewhere_with_a_waiting_coroutine(true), 0);
}

#[test]
fn timers_sockets_scopes_and_the_blocking_pool_work() {
    let rt = current_thread();
    rt.block_on(|| {
        let start = Instant::now();
        rt::sleep(Duration::from_millis(20));
        assert!(start.elapsed() >= Duration::from_millis(20));
        assert_eq!(rt::blocking(|| 6 * 7), 42);
        let timed_out = rt::timeout(Duration::from_millis(5), || rt::sleep(Duration::MAX));
        assert!(timed_out.is_err());

        let listener = rt::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = rt::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut buf = [0; 5];
            conn.read_exact(&mut buf).unwrap();
            conn.write_all(&buf).unwrap();
        });
        let mut conn = rt::net::TcpStream::connect(addr).unwrap();
        conn.write_all(b"hello").unwrap();
        let mut echoed = [0; 5];
        conn.read_exact(&mut echoed).unwrap();
        assert_eq!(&echoed, b"hello");
        server.join().unwrap();

        let mut words = vec![1, 2, 3];
        rt::scope(|s| {
            for w in &mut words {
                s.spawn(move || *w *= 10);
            }
        });
        assert_eq!(words, [10, 20, 30]);
    });
}

#[test]
fn build_refuses_a_current_thread_runtime_with_more_workers() {
    let err = rt::Builder::new()
        .current_thread()
        .workers(2)
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("one worker"), "{err}");
    let rt = rt::Builder::new()
        .current_thread()
        .workers(1)
        .build()
        .unwrap();
    assert_eq!(rt.block_on(|| 1), 1);
}

#[test]
fn a_panic_in_block_on_continues_in_the_caller_and_the_runtime_stays_usable() {
    let rt = current_thread();
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(|| panic!("boom"));
    }))
    .unwrap_err();
    assert_eq!(err.downcast_ref::<&str>(), Some(&"boom"));
    assert_eq!(rt.block_on(|| rt::spawn(|| 5).join().unwrap()), 5);
}

#[test]
fn driven_or_dropped_during_a_panic_it_still_interrupts_and_unwinds_its_coroutines() {
    // Rust's panic count is per thread, and this runtime's coroutines run
    // on the panicking thread: they must still be told apart from it.
    struct DuringUnwind {
        rt: Option<rt::Runtime>,
        unwound: Arc<AtomicUsize>,
        timed_out: Arc<AtomicUsize>,
    }
    impl Drop for DuringUnwind {
        fn drop(&mut self) {
            assert!(std::thread::panicking());
            let rt = self.rt.take().unwrap();
            let interrupted = rt.block_on(|| {
                rt::timeout(Duration::from_millis(20), || {
                    rt::sleep(Duration::from_secs(60))
                })
                .is_err()
            });
            if interrupted {
                self.timed_out.fetch_add(1, SeqCst);
            }
            drop(rt); // cancels the parked coroutines: their defers run
            assert_eq!(self.unwound.load(SeqCst), 10);
        }
    }
    let (unwound, timed_out) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let rt = current_thread();
    let (_tx, rx) = rt::chan::bounded::<()>(0);
    rt.block_on(|| {
        let (started_tx, started) = rt::chan::bounded::<()>(10);
        for _ in 0..10 {
            let (unwound, rx, started_tx) = (unwound.clone(), rx.clone(), started_tx.clone());
            rt::spawn(move || {
                rt::defer! { unwound.fetch_add(1, SeqCst); }
                started_tx.send(()).unwrap();
                let _ = rx.recv();
            });
        }
        (0..10).for_each(|_| started.recv().unwrap());
    });
    let guard = DuringUnwind {
        rt: Some(rt),
        unwound: unwound.clone(),
        timed_out: timed_out.clone(),
    };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        let _guard = guard;
        panic!("the owner thread unwinds");
    }));
    assert!(result.is_err());
    assert_eq!(timed_out.load(SeqCst), 1, "rt::timeout was not delivered");
    assert_eq!(unwound.load(SeqCst), 10);
}

#[test]
fn joining_outside_block_on_on_the_building_thread_panics_instead_of_hanging() {
    let rt = current_thread();
    let finished = rt.block_on(|| {
        let h = rt::spawn(|| 1);
        while !h.is_finished() {
            rt::yield_now();
        }
        h
    });
    assert_eq!(finished.join().unwrap(), 1); // finished: no wait needed
    let pending = rt.spawn(|| 7);
    let err =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| pending.join())).unwrap_err();
    let message = err.downcast_ref::<&str>().copied().unwrap_or_default();
    assert!(message.contains("join it inside block_on"), "{message:?}");
    // From another thread the join waits for the next block_on.
    let pending = rt.spawn(|| 8);
    std::thread::scope(|s| {
        let joiner = s.spawn(move || pending.join().unwrap());
        rt.block_on(|| {
            while !joiner.is_finished() {
                rt::sleep(Duration::from_millis(1));
            }
        });
        assert_eq!(joiner.join().unwrap(), 8);
    });
}

#[test]
fn a_coroutine_of_another_runtime_on_the_building_thread_may_wait_for_one_of_ours() {
    // Its wait only parks it: this thread can drive our runtime meanwhile.
    let (ours, theirs) = (current_thread(), current_thread());
    let pending = ours.spawn(|| 7);
    let joiner = theirs.block_on(|| {
        let (started_tx, started) = rt::chan::bounded::<()>(1);
        let joiner = rt::spawn(move || {
            started_tx.send(()).unwrap();
            pending.join().unwrap() // parks: `ours` is not running
        });
        started.recv().unwrap();
        rt::yield_now();
        joiner
    });
    ours.block_on(|| ()); // runs `pending`
    assert_eq!(theirs.block_on(|| joiner.join().unwrap()), 7);
}
