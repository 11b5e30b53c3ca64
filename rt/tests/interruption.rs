//! Interruptions (cancellation, `rt::timeout`, `rt::exit`, shutdown) never
//! break safety: they are delivered only at interruptible park points, never
//! while a coroutine unwinds or inside the waits that safety depends on.
//! See `docs/interruption.md`. Each test here reproduces a bug found in
//! 1916dbd and states the rule that fixes it.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Records whether the scope it watches had already returned when a
/// scoped child touched the caller's stack.
struct Canary {
    /// Set right after `scope` returns (or unwinds out).
    ended: AtomicBool,
    /// The scoped child has started.
    started: AtomicBool,
    /// Touches of the caller's stack after the scope ended.
    late: AtomicUsize,
    /// Touches while the scope was alive.
    in_time: AtomicUsize,
}

impl Canary {
    fn new() -> Canary {
        Canary {
            ended: AtomicBool::new(false),
            started: AtomicBool::new(false),
            late: AtomicUsize::new(0),
            in_time: AtomicUsize::new(0),
        }
    }

    fn touch(&self) {
        if self.ended.load(SeqCst) {
            self.late.fetch_add(1, SeqCst);
        } else {
            self.in_time.fetch_add(1, SeqCst);
        }
    }

    /// Wait (without an interruption point on a plain thread; with
    /// `yield_now` in a coroutine) until the child has started.
    fn wait_started(&self) {
        while !self.started.load(SeqCst) {
            rt::yield_now();
        }
    }
}

/// A scope whose child borrows from the owner's stack and waits for an
/// hour: it ends only by being cancelled with its owner. With `park`, the
/// owner makes sure the child runs (in an uninterruptible region, so the
/// owner's deadline cannot pass before it) and then parks in the scope's
/// body; without, it goes straight to the scope's wait.
fn scope_owner(canary: &'static Canary, park: bool) {
    let on_stack = [1_u64, 2, 3];
    struct Ended(&'static Canary);
    impl Drop for Ended {
        fn drop(&mut self) {
            self.0.ended.store(true, SeqCst);
        }
    }
    let _ended = Ended(canary);
    rt::scope(|s| {
        rt::uninterruptible(|| {
            s.spawn(|| {
                // Runs whether the child returns or unwinds (it is
                // cancelled with its owner): the borrow must still be valid.
                rt::defer! {
                    canary.touch();
                    assert_eq!(on_stack.iter().sum::<u64>(), 6);
                }
                canary.started.store(true, SeqCst);
                rt::sleep(Duration::from_secs(3600));
            });
            if park {
                canary.wait_started();
            }
        });
        if park {
            rt::sleep(Duration::from_secs(3600));
        }
    });
}

#[test]
fn cancelling_a_scope_owner_never_ends_the_scope_before_its_children() {
    for park in [false, true] {
        for _ in 0..10 {
            let canary: &'static Canary = Box::leak(Box::new(Canary::new()));
            let err = rt::run(move || {
                let owner = rt::spawn(move || scope_owner(canary, park));
                canary.wait_started();
                owner.cancel();
                owner.join().unwrap_err()
            });
            assert!(err.is_cancelled(), "{err}");
            assert_eq!(canary.late.load(SeqCst), 0, "a child outlived its scope");
            assert_eq!(canary.in_time.load(SeqCst), 1);
        }
    }
}

#[test]
fn a_timeout_around_a_scope_waits_for_its_children_and_cancels_them() {
    for _ in 0..10 {
        let canary: &'static Canary = Box::leak(Box::new(Canary::new()));
        // Children that would sleep for an hour: cancelled with the
        // scope's owner, so the timeout still ends promptly.
        let result =
            rt::run(move || rt::timeout(Duration::from_millis(2), || scope_owner(canary, true)));
        assert!(result.is_err(), "the deadline passed");
        assert_eq!(canary.late.load(SeqCst), 0, "a child outlived its scope");
        assert_eq!(canary.in_time.load(SeqCst), 1);
    }
}

#[test]
fn a_scope_on_a_plain_thread_waits_for_its_children_under_a_timeout() {
    let canary: &'static Canary = Box::leak(Box::new(Canary::new()));
    let result = rt::timeout(Duration::from_millis(2), || scope_owner(canary, true));
    assert!(result.is_err());
    assert_eq!(canary.late.load(SeqCst), 0, "a child outlived its scope");
    assert_eq!(canary.in_time.load(SeqCst), 1);
}

/// A result that borrows the scope's caller and says where it was dropped.
struct Borrowed<'a>(&'a Canary);

impl Drop for Borrowed<'_> {
    fn drop(&mut self) {
        self.0.touch();
    }
}

#[test]
fn an_abandoned_scoped_join_drops_the_borrowed_result_inside_the_scope() {
    for _ in 0..10 {
        let canary = Canary::new();
        rt::run(|| {
            rt::scope(|s| {
                let (go, wait) = rt::chan::bounded::<()>(0);
                let canary = &canary;
                let h = s.spawn(move || {
                    let _ = wait.recv();
                    Borrowed(canary)
                });
                // The join gives up while the child still waits: the child
                // drops its borrowed result itself, before the scope ends.
                assert!(rt::timeout(Duration::from_millis(1), || h.join()).is_err());
                go.send(()).unwrap();
            });
            canary.ended.store(true, SeqCst);
        });
        assert_eq!(
            canary.late.load(SeqCst),
            0,
            "result dropped after its scope"
        );
        assert_eq!(
            canary.in_time.load(SeqCst),
            1,
            "result dropped exactly once"
        );
    }
}

#[test]
fn an_abandoned_join_detaches_so_the_result_is_dropped_by_the_coroutine() {
    let dropped = Arc::new(AtomicUsize::new(0));
    struct Counted(Arc<AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, SeqCst);
        }
    }
    let (d, d2) = (dropped.clone(), dropped.clone());
    rt::run(move || {
        let (tx, rx) = rt::chan::bounded::<()>(0);
        let h = rt::spawn(move || {
            let _ = rx.recv();
            Counted(d)
        });
        assert!(rt::timeout(Duration::from_millis(1), || h.join()).is_err());
        tx.send(()).unwrap();
        // The coroutine completes into a detached cell and drops its value.
        while d2.load(SeqCst) == 0 {
            rt::yield_now();
        }
    });
    assert_eq!(dropped.load(SeqCst), 1);
}

rt::local! {
    static FIRST: TouchSecond = TouchSecond;
    static SECOND: DropSite = DropSite;
}

static SECOND_DROPS: Mutex<Vec<std::thread::ThreadId>> = Mutex::new(Vec::new());

struct TouchSecond;
impl Drop for TouchSecond {
    fn drop(&mut self) {
        // A destructor that uses another key while the table is destroyed.
        SECOND.with(|_| ());
    }
}

struct DropSite;
impl Drop for DropSite {
    fn drop(&mut self) {
        SECOND_DROPS
            .lock()
            .unwrap()
            .push(std::thread::current().id());
    }
}

#[test]
fn a_local_recreated_during_destruction_is_dropped_on_the_coroutines_thread() {
    let rt = rt::Builder::new().workers(1).build().unwrap();
    let h = rt.block_on(|| {
        rt::spawn(|| {
            FIRST.with(|_| ());
            std::thread::current().id()
        })
    });
    // Joined from this plain thread: the task's last reference may go here.
    let coroutine_thread = h.join().unwrap();
    let drops = SECOND_DROPS.lock().unwrap().clone();
    assert_eq!(drops, [coroutine_thread], "dropped once, on its own thread");
    drop(rt);
}

#[test]
fn a_recover_whose_panic_was_caught_elsewhere_cannot_swallow_exit() {
    let err = rt::run(|| {
        rt::spawn(|| {
            let _ = rt::frame(|_f| {
                let _ = catch_unwind(|| {
                    rt::defer! { let _ = rt::recover(); }
                    panic!("caught by a plain catch_unwind");
                });
                rt::exit();
            });
            "ran on after exit"
        })
        .join()
        .unwrap_err()
    });
    assert!(err.is_exited(), "{err}");
}

#[test]
fn a_recover_whose_panic_was_caught_elsewhere_cannot_swallow_cancel_or_timeout() {
    let reached = Arc::new(AtomicUsize::new(0));
    let r = reached.clone();
    let (err, timed_out) = rt::run(move || {
        let h = rt::spawn(move || {
            let _ = rt::frame(|_f| {
                let _ = catch_unwind(|| {
                    rt::defer! { let _ = rt::recover(); }
                    panic!("caught by a plain catch_unwind");
                });
                r.fetch_add(1, SeqCst);
                rt::sleep(Duration::from_secs(60));
            });
            "ran on after cancel"
        });
        wait_for(&reached, 1);
        h.cancel();
        let err = h.join().unwrap_err();
        let timed_out = rt::timeout(Duration::from_millis(1), || {
            rt::frame(|_f| {
                let _ = catch_unwind(|| {
                    rt::defer! { let _ = rt::recover(); }
                    panic!("caught by a plain catch_unwind");
                });
                rt::sleep(Duration::from_secs(60));
            })
            .is_ok()
        });
        (err, timed_out)
    });
    assert!(err.is_cancelled(), "{err}");
    assert!(timed_out.is_err(), "the timeout was swallowed");
}

#[test]
fn a_recover_in_a_defer_guard_still_stops_its_own_panic() {
    let r = rt::frame(|_f| {
        rt::defer! { assert!(rt::recover().is_some()); }
        panic!("stopped");
    });
    assert_eq!(r.unwrap_err().panic().message(), Some("stopped"));
    // And nothing is left set for the next frame.
    let r = catch_unwind(|| rt::frame(|_f| -> u32 { std::panic::resume_unwind(Box::new(7_u32)) }));
    assert!(r.is_err(), "not recovered");
}

/// Parks in its destructor: a panic's unwind waits here. Counts 1 when
/// its wait begins and 1 more when it ends.
struct WaitsInDrop(rt::chan::Receiver<()>, Arc<AtomicUsize>);

impl Drop for WaitsInDrop {
    fn drop(&mut self) {
        self.1.fetch_add(1, SeqCst);
        let _ = self.0.recv();
        self.1.fetch_add(1, SeqCst);
    }
}

/// Yield until `count` reaches `at_least`.
fn wait_for(count: &AtomicUsize, at_least: usize) {
    while count.load(SeqCst) < at_least {
        rt::yield_now();
    }
}

#[test]
fn cancelling_a_coroutine_parked_in_a_destructor_during_a_panic_does_not_abort() {
    let waited = Arc::new(AtomicUsize::new(0));
    let w = waited.clone();
    let err = rt::run(move || {
        let (tx, rx) = rt::chan::bounded::<()>(0);
        let entered = w.clone();
        let h = rt::spawn(move || {
            let _guard = WaitsInDrop(rx, w);
            panic!("unwinding");
        });
        wait_for(&entered, 1);
        h.cancel(); // pending: delivered never (the coroutine is unwinding)
        rt::yield_now(); // the cancel's wake-up reaches the destructor's wait
        tx.send(()).unwrap();
        h.join().unwrap_err()
    });
    assert_eq!(err.panic().and_then(|p| p.message()), Some("unwinding"));
    assert_eq!(waited.load(SeqCst), 2, "the destructor finished its wait");
}

#[test]
fn dropping_a_runtime_with_a_coroutine_parked_in_a_destructor_during_a_panic_does_not_abort() {
    let waited = Arc::new(AtomicUsize::new(0));
    let rt = rt::Builder::new().workers(2).build().unwrap();
    let (tx, rx) = rt::chan::bounded::<()>(0);
    let (w, entered) = (waited.clone(), waited.clone());
    let h = rt.block_on(move || {
        let h = rt::spawn(move || {
            let _guard = WaitsInDrop(rx, w);
            panic!("unwinding");
        });
        wait_for(&entered, 1);
        h
    });
    drop(rt); // must return, not abort
    assert!(h.join().unwrap_err().is_cancelled());
    assert_eq!(waited.load(SeqCst), 1, "its wait began and never ended");
    drop(tx);
}

#[test]
fn uninterruptible_defers_a_cancel_to_the_next_interruptible_park_point() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let l = log.clone();
    let in_region = Arc::new(AtomicUsize::new(0));
    let r = in_region.clone();
    let err = rt::run(move || {
        let (tx, rx) = rt::chan::bounded::<()>(0);
        let h = rt::spawn(move || {
            rt::uninterruptible(|| {
                r.fetch_add(1, SeqCst);
                rx.recv().unwrap(); // the cancel arrives here
                l.lock().unwrap().push("cleanup finished");
            });
            l.lock().unwrap().push("after the region");
            rt::yield_now(); // the pending cancel is delivered here
            l.lock().unwrap().push("never");
        });
        wait_for(&in_region, 1);
        h.cancel();
        rt::yield_now(); // the cancel's wake-up reaches the region's wait
        tx.send(()).unwrap();
        h.join().unwrap_err()
    });
    assert!(err.is_cancelled());
    assert_eq!(
        *log.lock().unwrap(),
        ["cleanup finished", "after the region"]
    );
}

#[test]
fn uninterruptible_defers_a_timeout_too() {
    let finished = AtomicBool::new(false);
    let r = rt::run(|| {
        rt::timeout(Duration::from_millis(1), || {
            rt::uninterruptible(|| rt::sleep(Duration::from_millis(10)));
            finished.store(true, SeqCst);
            rt::yield_now();
        })
    });
    assert!(r.is_err());
    assert!(finished.load(SeqCst));
}

#[test]
fn a_pending_interrupt_is_delivered_once_the_unwind_is_over() {
    // A cancel that arrives while a panic unwinds through a parking
    // destructor is delivered at the first park point after the catch.
    let reached = Arc::new(AtomicUsize::new(0));
    let r = reached.clone();
    let counted = Arc::new(AtomicUsize::new(0));
    let entered = counted.clone();
    let err = rt::run(move || {
        let (tx, rx) = rt::chan::bounded::<()>(0);
        let h = rt::spawn(move || {
            let caught = catch_unwind(AssertUnwindSafe(|| {
                let _guard = WaitsInDrop(rx, counted);
                panic!("unwinding");
            }));
            assert!(caught.is_err());
            r.fetch_add(1, SeqCst);
            rt::yield_now(); // delivered here
            r.fetch_add(1, SeqCst);
        });
        wait_for(&entered, 1);
        h.cancel();
        rt::yield_now();
        tx.send(()).unwrap();
        h.join().unwrap_err()
    });
    assert!(err.is_cancelled());
    assert_eq!(reached.load(SeqCst), 1);
}

#[test]
fn a_coroutine_suspended_mid_unwind_does_not_make_its_neighbours_uninterruptible() {
    // std counts panics per thread: while one coroutine waits in a
    // destructor mid-unwind, its worker's count stays raised. The other
    // coroutines of that worker must still be cancellable and time out.
    let rt = rt::Builder::new().workers(1).build().unwrap();
    let (tx, rx) = rt::chan::bounded::<()>(0);
    let (spinner_err, timed_out) = rt.block_on(move || {
        let counted = Arc::new(AtomicUsize::new(0));
        let entered = counted.clone();
        let stuck = rt::spawn(move || {
            let _guard = WaitsInDrop(rx, counted);
            panic!("waits in a destructor");
        });
        wait_for(&entered, 1);
        let spinner = rt::spawn(|| loop {
            rt::yield_now();
        });
        rt::yield_now();
        spinner.cancel();
        let spinner_err = spinner.join().unwrap_err();
        let timed_out = rt::timeout(Duration::from_millis(1), || {
            rt::sleep(Duration::from_secs(60))
        });
        tx.send(()).unwrap();
        assert!(stuck.join().unwrap_err().is_panic());
        (spinner_err, timed_out)
    });
    assert!(spinner_err.is_cancelled());
    assert!(timed_out.is_err());
}

/// Waits in its destructor for a lock, while a panic unwinds.
struct LocksInDrop(Arc<rt::sync::Mutex<u32>>, Arc<AtomicUsize>);

impl Drop for LocksInDrop {
    fn drop(&mut self) {
        self.1.fetch_add(1, SeqCst);
        *self.0.lock().unwrap() += 1;
    }
}

#[test]
fn an_abandoned_coroutine_leaves_every_wait_queue_so_nothing_is_handed_to_it() {
    let rt = rt::Builder::new().workers(2).build().unwrap();
    let (tx, rx) = rt::chan::bounded::<()>(0);
    let lock = Arc::new(rt::sync::Mutex::new(0_u32));
    let entered = Arc::new(AtomicUsize::new(0));
    let held = lock.lock().unwrap(); // this thread holds the lock
    let (l, e1, e2) = (lock.clone(), entered.clone(), entered.clone());
    rt.block_on(move || {
        // Both block in a destructor while a panic unwinds: shutdown can
        // neither unwind them (that would abort) nor let them run.
        drop(rt::spawn(move || {
            let _guard = WaitsInDrop(rx, e1);
            panic!("receives in a destructor");
        }));
        drop(rt::spawn(move || {
            let _guard = LocksInDrop(l, e2);
            panic!("locks in a destructor");
        }));
        wait_for(&entered, 2);
    });
    drop(rt); // abandons both
              // The receiver left the channel: a rendezvous send finds nobody and
              // gets its value back, instead of handing it to a coroutine that will
              // never run.
    match tx.send_timeout((), Duration::from_millis(20)) {
        Err(rt::chan::SendTimeoutError::Timeout(())) => {}
        other => panic!("the value went to an abandoned receiver: {other:?}"),
    }
    // The locker left the mutex's queue: unlocking does not hand the lock
    // to it, so it is free afterwards.
    drop(held);
    let relocked = lock.try_lock();
    assert!(relocked.is_ok(), "the lock went to an abandoned waiter");
}
