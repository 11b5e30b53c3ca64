//! Systematic interruption injection: every body of a small corpus of
//! realistic coroutines is run once per interruption check point k, with a
//! cancellation (and, separately, an `rt::timeout` running out) made due
//! at its k-th check, until k passes its last check. Each run must keep
//! the promises of docs/interruption.md:
//!
//! - no borrow outlives its scope (a canary records when the scope ended),
//! - every deferred closure runs exactly once,
//! - no value is lost or duplicated (every value is counted when it is
//!   made, received, and dropped),
//! - no abort (the test process survives) and no hang (each run is bounded).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use rt::__Injected as Injected;

/// What one run counts.
#[derive(Default)]
struct Probe {
    /// Deferred closures registered (`Frame::defer` and `defer!`).
    deferred: AtomicUsize,
    /// Deferred closures that ran.
    ran: AtomicUsize,
    /// Values made.
    made: AtomicUsize,
    /// Values dropped (leaked otherwise).
    dropped: AtomicUsize,
    /// Values dropped twice (a duplicate).
    double_drops: AtomicUsize,
    /// Borrows used after their scope ended.
    late_borrows: AtomicUsize,
    /// Values a rendezvous send reported delivered.
    handed_over: AtomicUsize,
    /// Values a receiver got from the rendezvous channel.
    taken: AtomicUsize,
}

impl Probe {
    fn defer(&self) -> Deferred<'_> {
        self.deferred.fetch_add(1, SeqCst);
        Deferred(self)
    }

    fn value(self: &Arc<Self>, n: u64) -> Value {
        self.made.fetch_add(1, SeqCst);
        Value {
            probe: self.clone(),
            n,
            alive: AtomicBool::new(true),
        }
    }
}

/// Counts itself as run when it runs (as a `defer!` body does).
struct Deferred<'a>(&'a Probe);

impl Deferred<'_> {
    fn run(self) {
        self.0.ran.fetch_add(1, SeqCst);
    }
}

/// A counted value sent around.
struct Value {
    probe: Arc<Probe>,
    n: u64,
    alive: AtomicBool,
}

impl Drop for Value {
    fn drop(&mut self) {
        if !self.alive.swap(false, SeqCst) {
            self.probe.double_drops.fetch_add(1, SeqCst);
        }
        self.probe.dropped.fetch_add(1, SeqCst);
    }
}

/// Borrowed by scoped children: touching it after the scope ended counts.
struct Canary<'a> {
    probe: &'a Probe,
    ended: AtomicBool,
}

impl Canary<'_> {
    fn touch(&self) {
        if self.ended.load(SeqCst) {
            self.probe.late_borrows.fetch_add(1, SeqCst);
        }
    }
}

/// A scope whose children borrow the caller's stack and park; the owner
/// parks too.
fn scope_with_borrowing_children(probe: &Arc<Probe>) {
    let canary = Canary {
        probe,
        ended: AtomicBool::new(false),
    };
    let local = [1_u64, 2, 3];
    {
        let d = probe.defer();
        rt::defer! { d.run(); canary.ended.store(true, SeqCst); }
        rt::scope(|s| {
            for i in 0..3 {
                let (canary, local) = (&canary, &local);
                s.spawn(move || {
                    let d = probe.defer();
                    rt::defer! { d.run(); canary.touch(); assert_eq!(local.iter().sum::<u64>(), 6); }
                    for _ in 0..=i {
                        rt::yield_now();
                        rt::sleep(Duration::from_micros(200));
                    }
                });
            }
            rt::sleep(Duration::from_micros(300));
            let h = s.spawn(|| {
                rt::sleep(Duration::from_micros(500));
                canary.touch();
            });
            let _ = h.join();
        });
    }
}

/// Joins under a timeout, with results that are counted values.
fn join_under_timeout(probe: &Arc<Probe>) {
    let p = probe.clone();
    let h = rt::spawn(move || {
        rt::sleep(Duration::from_millis(1));
        p.value(1)
    });
    let _ = rt::timeout(Duration::from_micros(300), || h.join());
    let p = probe.clone();
    let h = rt::spawn(move || {
        rt::yield_now();
        p.value(2)
    });
    if let Ok(v) = h.join() {
        assert_eq!(v.n, 2);
    }
    let canary = Canary {
        probe,
        ended: AtomicBool::new(false),
    };
    struct Borrowing<'a, 'b>(&'a Canary<'b>);
    impl Drop for Borrowing<'_, '_> {
        fn drop(&mut self) {
            self.0.touch();
        }
    }
    rt::scope(|s| {
        let h = s.spawn(|| {
            rt::sleep(Duration::from_micros(400));
            Borrowing(&canary)
        });
        let _ = rt::timeout(Duration::from_micros(100), || h.join());
    });
    canary.ended.store(true, SeqCst);
}

/// A producer and a consumer over channels, with `select!` and timeouts.
fn channels_and_select(probe: &Arc<Probe>) {
    let (tx, rx) = rt::chan::bounded::<Value>(1);
    let (tx0, rx0) = rt::chan::bounded::<Value>(0);
    let p = probe.clone();
    let producer = rt::spawn(move || {
        for n in 0..6 {
            let v = p.value(n);
            let sent = if n % 2 == 0 {
                tx.send(v).is_ok()
            } else {
                let sent = tx0.send(v).is_ok();
                if sent {
                    p.handed_over.fetch_add(1, SeqCst);
                }
                sent
            };
            if !sent {
                break;
            }
        }
    });
    let d = probe.defer();
    rt::defer! { d.run(); }
    let mut got = 0;
    while got < 6 {
        rt::select! {
            recv(rx) -> v => match v { Ok(_) => got += 1, Err(_) => break },
            recv(rx0) -> v => match v {
                Ok(_) => {
                    probe.taken.fetch_add(1, SeqCst);
                    got += 1
                }
                Err(_) => break,
            },
            timeout(Duration::from_millis(50)) => break,
        }
    }
    drop((rx, rx0));
    let _ = producer.join();
}

/// Mutex and condvar waits, with a waker coroutine.
fn mutex_and_condvar(probe: &Arc<Probe>) {
    let pair = Arc::new((rt::sync::Mutex::new(0_u32), rt::sync::Condvar::new()));
    let p2 = pair.clone();
    let waker = rt::spawn(move || {
        for _ in 0..3 {
            rt::sleep(Duration::from_micros(200));
            *p2.0.lock().unwrap_or_else(|e| e.into_inner()) += 1;
            p2.1.notify_all();
        }
    });
    {
        let d = probe.defer();
        rt::defer! { d.run(); }
        let mut n = pair.0.lock().unwrap_or_else(|e| e.into_inner());
        while *n < 3 {
            let (g, timed_out) = pair
                .1
                .wait_timeout(n, Duration::from_millis(50))
                .unwrap_or_else(|e| e.into_inner());
            n = g;
            if timed_out.timed_out() {
                break;
            }
        }
    }
    let _ = waker.join();
}

/// Nested frames whose deferred closures park, nested timeouts, and
/// `rt::blocking`.
fn frames_timeouts_blocking(probe: &Arc<Probe>) {
    let outer = rt::frame(|f| {
        let d = probe.defer();
        f.defer(move || {
            d.run(); // counted when it starts: a park inside may be interrupted
            rt::sleep(Duration::from_micros(100)); // cleanup that parks
        });
        let inner = rt::frame(|f| {
            let d = probe.defer();
            f.defer(move || {
                d.run();
                rt::yield_now();
            });
            rt::timeout(Duration::from_micros(200), || {
                rt::timeout(Duration::from_millis(5), || {
                    rt::sleep(Duration::from_millis(1))
                })
            })
        });
        let _ = inner;
        rt::blocking(|| std::thread::sleep(Duration::from_micros(200)))
    });
    let _ = outer;
}

/// A panic whose unwind parks in a destructor, recovered by a frame, and a
/// `defer!` recover whose panic a plain `catch_unwind` catches first.
fn panics_that_park(probe: &Arc<Probe>) {
    let r = rt::frame(|f| {
        let d = probe.defer();
        f.defer(move || {
            let _ = rt::recover();
            d.run();
        });
        let d = probe.defer();
        rt::defer! {
            d.run();
            rt::sleep(Duration::from_micros(100)); // parks mid-unwind
        }
        panic!("injected test panic");
    });
    assert!(r.is_err() || !std::thread::panicking());
    let _ = rt::frame(|_| {
        let _ = std::panic::catch_unwind(|| {
            rt::defer! { let _ = rt::recover(); }
            panic!("caught by a plain catch_unwind");
        });
        rt::yield_now();
    });
}

type Body = fn(&Arc<Probe>);

const CORPUS: &[(&str, Body)] = &[
    (
        "scope_with_borrowing_children",
        scope_with_borrowing_children,
    ),
    ("join_under_timeout", join_under_timeout),
    ("channels_and_select", channels_and_select),
    ("mutex_and_condvar", mutex_and_condvar),
    ("frames_timeouts_blocking", frames_timeouts_blocking),
    ("panics_that_park", panics_that_park),
];

/// Run `body` with an interruption of `kind` due at check `k` (0: none).
/// Returns whether the interruption became due (false: the body finished
/// first, so there is no later check point to try).
fn run_once(rt: &rt::Runtime, name: &str, body: Body, kind: Injected, k: u32) -> bool {
    let probe = Arc::new(Probe::default());
    let p = probe.clone();
    let delivered = rt.block_on(move || {
        let h = rt::spawn(move || {
            if k > 0 {
                rt::__inject_interrupt(k, kind);
            }
            // A last park point: a request held back (mid-unwind, in an
            // uninterruptible wait) and still pending is delivered there.
            let body = || {
                body(&p);
                rt::yield_now();
            };
            match kind {
                // A timeout needs a scope to run out: a far one around it all.
                Injected::Timeout => {
                    let _ = rt::timeout(Duration::from_secs(3600), body);
                }
                Injected::Cancel => body(),
            }
            rt::__injection_pending()
        });
        // Bounded: a hang fails here instead of stalling the suite.
        match rt::timeout(Duration::from_secs(20), || h.join()) {
            Ok(Ok(pending)) => {
                // A due cancellation is always delivered by the last park
                // point: returning normally means something swallowed it.
                assert!(
                    k == 0 || pending || kind != Injected::Cancel,
                    "{name} k={k}: the cancellation was swallowed"
                );
                k > 0 && !pending
            }
            Ok(Err(err)) if err.is_cancelled() => true,
            Ok(Err(err)) => panic!("{name} k={k} {kind:?}: {err}"),
            Err(_) => panic!("{name} k={k} {kind:?}: hung"),
        }
    });
    // Wait until detached helpers (producers, wakers) have finished and
    // dropped what they hold: the counts below are final only then (a
    // fixed pause was too short under valgrind). Bounded, like the join.
    rt.assert_no_leaks(Duration::from_secs(20));
    let what = format!("{name} k={k} {kind:?}");
    assert_eq!(
        probe.late_borrows.load(SeqCst),
        0,
        "{what}: a borrow outlived its scope"
    );
    assert_eq!(
        probe.double_drops.load(SeqCst),
        0,
        "{what}: a value was duplicated"
    );
    assert_eq!(
        probe.taken.load(SeqCst),
        probe.handed_over.load(SeqCst),
        "{what}: a rendezvous send succeeded but its value never reached the receiver"
    );
    assert_eq!(
        probe.ran.load(SeqCst),
        probe.deferred.load(SeqCst),
        "{what}: deferred closures ran {} of {}",
        probe.ran.load(SeqCst),
        probe.deferred.load(SeqCst)
    );
    assert_eq!(
        probe.dropped.load(SeqCst),
        probe.made.load(SeqCst),
        "{what}: values leaked (made {}, dropped {})",
        probe.made.load(SeqCst),
        probe.dropped.load(SeqCst)
    );
    delivered
}

/// Every body, every check point, on one worker and on two (where the
/// helpers of a body run on the other worker), a few times each: the
/// interleavings differ from run to run.
fn inject_everywhere(kind: Injected) {
    for workers in [1, 2] {
        let rt = rt::Builder::new().workers(workers).build().unwrap();
        for &(name, body) in CORPUS {
            for _round in 0..3 {
                assert!(
                    !run_once(&rt, name, body, kind, 0),
                    "{name}: interrupted without injection"
                );
                let mut k = 1;
                while run_once(&rt, name, body, kind, k) {
                    k += 1;
                    assert!(k < 500, "{name}: more check points than expected");
                }
                assert!(k > 1, "{name}: never interrupted");
            }
        }
    }
}

#[test]
fn a_cancel_at_every_check_point_keeps_every_promise() {
    inject_everywhere(Injected::Cancel);
}

#[test]
fn a_timeout_at_every_check_point_keeps_every_promise() {
    inject_everywhere(Injected::Timeout);
}
