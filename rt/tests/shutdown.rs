//! Dropping a runtime unwinds every suspended coroutine on its own worker:
//! destructors run, joiners see "cancelled", nothing leaks.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

struct CountOnDrop(Arc<AtomicUsize>, std::thread::ThreadId);

impl Drop for CountOnDrop {
    fn drop(&mut self) {
        // Unwound on the thread the coroutine ran on.
        assert_eq!(std::thread::current().id(), self.1);
        self.0.fetch_add(1, SeqCst);
    }
}

fn guard(count: &Arc<AtomicUsize>) -> CountOnDrop {
    CountOnDrop(count.clone(), std::thread::current().id())
}

#[test]
fn shutdown_unwinds_parked_and_yielding_coroutines_and_runs_destructors() {
    for _ in 0..20 {
        let dropped = Arc::new(AtomicUsize::new(0));
        let rt = rt::Builder::new().workers(2).build().unwrap();
        let started = Arc::new(AtomicUsize::new(0));
        let d = dropped.clone();
        let outside = rt.block_on(move || {
            let mut keep = None;
            for i in 0..100 {
                let (d1, s1) = (d.clone(), started.clone());
                // Suspended in yield_now forever.
                let spinner = rt::spawn(move || {
                    let _g = guard(&d1);
                    s1.fetch_add(1, SeqCst);
                    loop {
                        rt::yield_now();
                    }
                });
                let (d2, s2) = (d.clone(), started.clone());
                // Parked forever in join.
                let waiter = rt::spawn(move || {
                    let _g = guard(&d2);
                    s2.fetch_add(1, SeqCst);
                    spinner.join().map(|_: ()| ())
                });
                if i == 0 {
                    keep = Some(waiter);
                }
            }
            while started.load(SeqCst) < 200 {
                rt::yield_now();
            }
            keep.unwrap()
        });
        // A plain thread joins a coroutine that will be cancelled.
        let joiner = std::thread::spawn(move || outside.join());
        drop(rt);
        assert_eq!(dropped.load(SeqCst), 200);
        // Either the waiter was cancelled in its join, or its join
        // completed first (the spinner's cancellation) and the wake-up that
        // completed it is honoured: the waiter's own cancellation then had
        // no park point left to be delivered at.
        let err = match joiner.join().unwrap() {
            Err(err) => err,
            Ok(joined) => joined.unwrap_err(),
        };
        assert!(err.is_cancelled());
        assert!(!err.is_panic());
    }
}

/// Counts drops; may be dropped on any thread.
struct Token(Arc<AtomicUsize>);

impl Drop for Token {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

#[test]
fn unstarted_coroutines_are_dropped_and_report_cancelled() {
    let rt = rt::Builder::new().workers(1).build().unwrap();
    let dropped = Arc::new(AtomicUsize::new(0));
    let d = dropped.clone();
    let handles = rt.block_on(move || {
        // The block_on coroutine keeps the only worker busy: the spawned
        // ones never start. It returns their handles and the runtime drops.
        (0..10)
            .map(|_| {
                let token = Token(d.clone());
                rt::spawn(move || {
                    let _t = token;
                })
            })
            .collect::<Vec<_>>()
    });
    // They may have started after block_on returned; either way each
    // closure was dropped exactly once by the time the runtime is gone.
    drop(rt);
    assert_eq!(dropped.load(SeqCst), 10);
    for h in handles {
        match h.join() {
            Ok(()) => {}
            Err(e) => assert!(e.is_cancelled()),
        }
    }
}

#[test]
fn runtimes_can_be_created_and_dropped_repeatedly() {
    for i in 0..50 {
        let rt = rt::Builder::new().workers(1 + i % 3).build().unwrap();
        assert_eq!(
            rt.block_on(move || rt::spawn(move || i * 2).join().unwrap()),
            i * 2
        );
    }
}

#[test]
fn shutdown_cancels_first_so_deferred_cleanup_may_still_wait() {
    let log = Arc::new(parking_lot::Mutex::new(Vec::<String>::new()));
    let rt = rt::Builder::new().workers(2).build().unwrap();
    let l = log.clone();
    rt.block_on(move || {
        let lb = l.clone();
        let b = rt::spawn(move || {
            rt::frame(|f| {
                let lb = lb.clone();
                f.defer(move || lb.lock().push("b cleaned up".into()));
                loop {
                    rt::yield_now();
                }
            })
        });
        let la = l.clone();
        let started = Arc::new(AtomicUsize::new(0));
        let s = started.clone();
        drop(rt::spawn(move || {
            rt::frame(|f| {
                let la = la.clone();
                // Cleanup that waits for another coroutine: during shutdown
                // this parks for real, because shutdown cancels first.
                f.defer(move || {
                    let outcome = match b.join() {
                        Err(e) if e.is_cancelled() => "cancelled",
                        _ => "something else",
                    };
                    la.lock().push(format!("a joined b: {outcome}"));
                });
                s.store(1, SeqCst);
                loop {
                    rt::yield_now();
                }
            })
        }));
        while started.load(SeqCst) == 0 {
            rt::yield_now();
        }
    });
    drop(rt);
    assert_eq!(*log.lock(), ["b cleaned up", "a joined b: cancelled"]);
}

/// Two coroutines whose cleanups wait for each other: cancellation cannot
/// finish them, so shutdown tears them down. `in_drop` picks where the
/// waiting cleanup runs: a `Frame::defer` closure (after the catch), or a
/// `defer!` body (a destructor, during the unwind).
fn wait_forever_in_cleanup(in_drop: bool) -> usize {
    type Slot = Arc<parking_lot::Mutex<Option<rt::JoinHandle<()>>>>;
    let dropped = Arc::new(AtomicUsize::new(0));
    let rt = rt::Builder::new().workers(2).build().unwrap();
    let d = dropped.clone();
    rt.block_on(move || {
        let slot_a: Slot = Default::default();
        let slot_b: Slot = Default::default();
        let started = Arc::new(AtomicUsize::new(0));
        let spawn_waiter = |mine: Slot, theirs: Slot| {
            let d = d.clone();
            let s = started.clone();
            let handle = rt::spawn(move || {
                let _count = Token(d);
                let wait_for_other = move || {
                    let other = theirs.lock().take();
                    if let Some(other) = other {
                        let _ = other.join();
                    }
                };
                s.fetch_add(1, SeqCst);
                if in_drop {
                    rt::defer! { wait_for_other(); }
                    loop {
                        rt::yield_now();
                    }
                } else {
                    let _ = rt::frame(|f| {
                        f.defer(wait_for_other);
                        loop {
                            rt::yield_now();
                        }
                    });
                }
            });
            *mine.lock() = Some(handle);
        };
        spawn_waiter(slot_a.clone(), slot_b.clone());
        spawn_waiter(slot_b.clone(), slot_a.clone());
        while started.load(SeqCst) < 2 {
            rt::yield_now();
        }
    });
    drop(rt); // returns: the test finishing is the first assertion
    dropped.load(SeqCst)
}

#[test]
fn cleanup_that_waits_forever_is_torn_down_and_drop_returns() {
    assert_eq!(
        wait_forever_in_cleanup(false),
        2,
        "both unwound, destructors ran"
    );
}

#[test]
fn a_destructor_blocked_during_unwind_is_leaked_at_shutdown_not_aborted() {
    // Unwinding it from inside a destructor would abort; it is leaked.
    assert_eq!(wait_forever_in_cleanup(true), 0);
}

/// Run `setup` on a fresh runtime of `workers` workers — it spawns the
/// coroutines under test and returns once they are where the test wants
/// them — then drop the runtime, which must return (within 30 s).
fn drop_runtime_after(workers: usize, setup: impl FnOnce() + Send + 'static) {
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = rt::Builder::new().workers(workers).build().unwrap();
        rt.block_on(setup);
        drop(rt);
        done_tx.send(()).unwrap();
    });
    done_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("dropping the runtime returned");
}

/// A coroutine body whose cleanup (a `Frame::defer` closure) waits on
/// `never` for good: cancelled at shutdown, it can only be torn down.
/// Counts itself in `started` once it is in place.
fn cleanup_waits_forever(never: rt::chan::Receiver<()>, started: &AtomicUsize) {
    let _ = rt::frame(|f| {
        f.defer(move || {
            let _ = never.recv();
        });
        started.fetch_add(1, SeqCst);
        rt::sleep(Duration::from_secs(3600));
    });
}

/// Yield until `count` reaches `at_least`.
fn wait_for(count: &AtomicUsize, at_least: usize) {
    while count.load(SeqCst) < at_least {
        rt::yield_now();
    }
}

/// Waits in its destructor on a channel nothing sends on.
struct BlocksInDrop(rt::chan::Receiver<()>);

impl Drop for BlocksInDrop {
    fn drop(&mut self) {
        let _ = self.0.recv();
    }
}

#[test]
fn teardown_unwinds_scoped_children_before_their_owner() {
    // An owner whose cleanup (inside the scope's body) waits forever, and
    // a child on the same worker whose cleanup waits forever too: both are
    // torn down. Unwinding the owner first would leave it waiting, without
    // switching, for a child its own worker has yet to tear down. (The
    // child is made to take a registry slot below its owner's, so that the
    // registry's own order would pick the owner first.)
    let (_never_tx, never) = rt::chan::bounded::<()>(0);
    drop_runtime_after(1, move || {
        let started = Arc::new(AtomicUsize::new(0));
        let s = started.clone();
        let (free_tx, free_rx) = rt::chan::bounded::<()>(0);
        let filler = rt::spawn(move || {
            let _ = free_rx.recv();
        });
        rt::yield_now(); // the filler takes a slot
        let (go_tx, go_rx) = rt::chan::bounded::<()>(0);
        drop(rt::spawn(move || {
            go_rx.recv().unwrap(); // started: the owner has its slot
            rt::scope(|scope| {
                let (s2, never2) = (s.clone(), never.clone());
                scope.spawn(move || cleanup_waits_forever(never2, &s2));
                cleanup_waits_forever(never, &s);
            });
        }));
        rt::yield_now(); // the owner takes a slot
        free_tx.send(()).unwrap();
        filler.join().unwrap(); // its slot is free for the child
        go_tx.send(()).unwrap();
        wait_for(&started, 2);
    });
}

#[test]
fn teardown_does_not_wait_for_an_abandoned_scoped_child() {
    // The child blocks in a destructor mid-unwind (it is abandoned, never
    // unwound); its owner's cleanup inside the scope waits forever (it is
    // torn down). The owner's scope must not wait for the abandoned child.
    let (_never_tx, never) = rt::chan::bounded::<()>(0);
    drop_runtime_after(2, move || {
        let started = Arc::new(AtomicUsize::new(0));
        let s = started.clone();
        drop(rt::spawn(move || {
            rt::scope(|scope| {
                let (s2, never2) = (s.clone(), never.clone());
                scope.spawn(move || {
                    let _guard = BlocksInDrop(never2);
                    s2.fetch_add(1, SeqCst);
                    panic!("blocks in a destructor while unwinding");
                });
                cleanup_waits_forever(never, &s);
            });
        }));
        wait_for(&started, 2);
    });
}

#[test]
fn teardown_cuts_short_every_remaining_cleanup_that_waits() {
    // Cancelled, the coroutine's first deferred closure waits forever;
    // torn down, the unwind leaves it — and the next deferred closure
    // waits forever too. Teardown must not wait for it.
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    let (_never_tx, never) = rt::chan::bounded::<()>(0);
    drop_runtime_after(1, move || {
        let started = Arc::new(AtomicUsize::new(0));
        let s = started.clone();
        drop(rt::spawn(move || {
            let _ = rt::frame(|f| {
                for _ in 0..2 {
                    let (never, r) = (never.clone(), r.clone());
                    f.defer(move || {
                        r.fetch_add(1, SeqCst);
                        let _ = never.recv();
                    });
                }
                s.fetch_add(1, SeqCst);
                rt::sleep(Duration::from_secs(3600));
            });
        }));
        wait_for(&started, 1);
    });
    assert_eq!(ran.load(SeqCst), 2, "both deferred closures started");
}

/// Sends on drop (during its coroutine's teardown).
struct SendOnDrop(rt::chan::Sender<u32>);

impl Drop for SendOnDrop {
    fn drop(&mut self) {
        let _ = self.0.try_send(7);
    }
}

#[test]
fn an_abandoned_coroutine_woken_during_teardown_keeps_its_memory() {
    // A is abandoned inside an uninterruptible select over two channels;
    // T, torn down after it, completes A's select from a destructor (which
    // wakes A into a queue that teardown then drops). A's memory must
    // survive: the select's entry in its other channel still points into
    // A's stack, and a send on that channel after the runtime is gone must
    // find it aborted (and time out), not write into freed memory.
    let (tx1, rx1) = rt::chan::bounded::<u32>(0);
    let (tx2, rx2) = rt::chan::bounded::<u32>(0);
    let (_never_tx, never) = rt::chan::bounded::<()>(0);
    drop_runtime_after(1, move || {
        let started = Arc::new(AtomicUsize::new(0));
        let (sa, st) = (started.clone(), started.clone());
        drop(rt::spawn(move || {
            sa.fetch_add(1, SeqCst);
            rt::uninterruptible(|| {
                let _ = rt::select! {
                    recv(rx1) -> v => v,
                    recv(rx2) -> v => v,
                };
                rt::sleep(Duration::from_secs(3600));
            });
        }));
        drop(rt::spawn(move || {
            let _guard = SendOnDrop(tx1);
            cleanup_waits_forever(never, &st);
        }));
        wait_for(&started, 2);
    });
    assert!(matches!(
        tx2.send_timeout(1, Duration::from_millis(20)),
        Err(rt::chan::SendTimeoutError::Timeout(1))
    ));
}

#[test]
fn a_frame_recovered_inside_a_destructor_during_teardown_does_not_abort() {
    // P blocks in a destructor mid-unwind (abandoned: its worker's panic
    // count stays raised). T is torn down; its guard's destructor runs a
    // frame whose panic it recovers, then yields. Teardown must not take
    // that yield for an interruptible point (it is still inside T's
    // unwind): raising there would abort.
    struct RecoverThenYield;
    impl Drop for RecoverThenYield {
        fn drop(&mut self) {
            let r = rt::frame(|f| {
                f.defer(|| drop(rt::recover()));
                panic!("recovered inside a destructor");
            });
            assert!(r.is_err());
            rt::yield_now();
        }
    }
    let (_never_tx, never) = rt::chan::bounded::<()>(0);
    drop_runtime_after(1, move || {
        let started = Arc::new(AtomicUsize::new(0));
        let (st, sp, n2) = (started.clone(), started.clone(), never.clone());
        drop(rt::spawn(move || {
            let _guard = RecoverThenYield;
            cleanup_waits_forever(never, &st);
        }));
        drop(rt::spawn(move || {
            let _guard = BlocksInDrop(n2);
            sp.fetch_add(1, SeqCst);
            panic!("blocks in a destructor while unwinding");
        }));
        wait_for(&started, 2);
    });
}

#[test]
fn a_destructor_that_waits_forever_during_teardown_does_not_hang_the_drop() {
    // The coroutine's cleanup is torn down; on the way out a destructor
    // starts waiting for something nothing will ever send. It can neither
    // be unwound (it runs inside the teardown's unwind) nor switch out.
    // Once nothing else is left to tear down, dropping the runtime returns
    // (with a message) instead of hanging; the worker keeps waiting.
    let (never_tx, never) = rt::chan::bounded::<()>(0);
    drop_runtime_after(2, move || {
        let started = Arc::new(AtomicUsize::new(0));
        let s = started.clone();
        drop(rt::spawn(move || {
            let _guard = BlocksInDrop(never.clone());
            cleanup_waits_forever(never, &s);
        }));
        wait_for(&started, 1);
    });
    drop(never_tx); // the lingering worker's wait ends: it finishes too
}
