//! Go's Goexit/panic interplay, ported from Go's own test programs
//! (runtime/crash_test.go, which runs runtime/testdata/testprog/deadlock.go;
//! runtime/defer_test.go). A Go function is an `rt::frame`; `runtime.Goexit`
//! is `rt::exit`; the Go program's expected crash or deadlock is what
//! `join` reports. Each runs on 1, 2 and 4 workers.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

/// Run `body` in a coroutine on runtimes of 1, 2 and 4 workers; return
/// what each join reported.
fn on_each_runtime<T: Send + 'static>(
    body: impl Fn() -> T + Send + Sync + 'static,
    check: impl Fn(Result<T, rt::JoinError>),
) {
    let body = Arc::new(body);
    for workers in [1, 2, 4] {
        let runtime = rt::Builder::new().workers(workers).build().unwrap();
        let body = body.clone();
        let joined = runtime.block_on(move || rt::spawn(move || body()).join());
        check(joined);
    }
}

/// What the deferred `recover` calls of a test returned: an assertion
/// inside a deferred closure is itself a panic that the exit might
/// swallow, so the tests count instead.
static RECOVERED: AtomicUsize = AtomicUsize::new(0);
static NOT_RECOVERED: AtomicUsize = AtomicUsize::new(0);

/// Go's `if recover() == nil { panic("bad recover") }`, counted.
fn recover_expecting(message: &str) {
    match rt::recover() {
        Some(p) if p.message() == Some(message) => RECOVERED.fetch_add(1, SeqCst),
        _ => NOT_RECOVERED.fetch_add(1, SeqCst),
    };
}

/// Serializes the tests that count recovers.
static COUNTING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Run a counting test; returns (recovered, not recovered).
fn counting(test: impl FnOnce()) -> (usize, usize) {
    let _one_at_a_time = COUNTING.lock().unwrap_or_else(|e| e.into_inner());
    RECOVERED.store(0, SeqCst);
    NOT_RECOVERED.store(0, SeqCst);
    test();
    (RECOVERED.load(SeqCst), NOT_RECOVERED.load(SeqCst))
}

fn panic_message(e: rt::JoinError) -> String {
    assert!(e.is_panic(), "expected a panic, got {e:?}");
    e.into_panic().message().unwrap_or_default().to_owned()
}

/// testprog PanicAfterGoexit (crash_test.go TestPanicAfterGoexit, "an
/// uncaught panic should still work after goexit"): the coroutine dies of
/// the panic; join reports it, not the exit.
#[test]
fn panic_after_goexit_is_a_real_panic() {
    on_each_runtime(
        || {
            let _ = rt::frame(|f| {
                f.defer(|| panic!("hello"));
                rt::exit();
            });
            unreachable!("exit never returns");
        },
        |joined: Result<(), _>| assert_eq!(panic_message(joined.unwrap_err()), "hello"),
    );
}

/// testprog RecoveredPanicAfterGoexit (TestRecoveredPanicAfterGoexit):
/// the deferred call recovers its own panic in a nested function; the
/// Goexit then carries on (Go: "no goroutines (main called
/// runtime.Goexit)").
#[test]
fn recovered_panic_after_goexit_lets_the_exit_carry_on() {
    let counts = counting(|| {
        on_each_runtime(
            || {
                let _ = rt::frame(|f| {
                    f.defer(|| {
                        let r = rt::frame(|inner| {
                            inner.defer(|| recover_expecting("hello"));
                            panic!("hello");
                        });
                        assert!(r.is_err());
                    });
                    rt::exit();
                });
                unreachable!("the exit carries on past the frame");
            },
            |joined: Result<(), _>| assert!(joined.unwrap_err().is_exited()),
        )
    });
    assert_eq!(counts, (3, 0));
}

/// testprog RecoverBeforePanicAfterGoexit (TestRecoverBeforePanicAfterGoexit):
/// Goexit runs the #2 defer; its panic is caught by the #1 defer; the
/// Goexit resumes (execution does not resume in the caller).
#[test]
fn recover_before_panic_after_goexit_resumes_the_exit() {
    let counts = counting(|| {
        on_each_runtime(
            || {
                let _ = rt::frame(|f| {
                    f.defer(|| recover_expecting("hello"));
                    f.defer(|| panic!("hello"));
                    rt::exit();
                });
                unreachable!("the exit carries on past the frame");
            },
            |joined: Result<(), _>| assert!(joined.unwrap_err().is_exited()),
        )
    });
    assert_eq!(counts, (3, 0));
}

/// testprog RecoverBeforePanicAfterGoexit2 (the same with two more defers
/// below, which all run).
#[test]
fn recover_before_panic_after_goexit_with_more_defers_runs_them_all() {
    static RAN: AtomicUsize = AtomicUsize::new(0);
    RAN.store(0, SeqCst);
    let counts = counting(|| {
        on_each_runtime(
            || {
                let _ = rt::frame(|f| {
                    for _ in 0..2 {
                        f.defer(|| {
                            RAN.fetch_add(1, SeqCst);
                        });
                    }
                    f.defer(|| recover_expecting("hello"));
                    f.defer(|| panic!("hello"));
                    rt::exit();
                });
                unreachable!("the exit carries on past the frame");
            },
            |joined: Result<(), _>| assert!(joined.unwrap_err().is_exited()),
        )
    });
    assert_eq!(counts, (3, 0));
    assert_eq!(RAN.load(SeqCst), 3 * 2);
}

/// testprog GoexitInPanic (TestGoexitInPanic, issue 8774): Goexit in a
/// deferred call while panicking ends the goroutine; the panic is
/// abandoned, not reported, and cannot be recovered afterwards.
#[test]
fn goexit_in_panic_abandons_the_panic() {
    let counts = counting(|| {
        on_each_runtime(
            || {
                let _ = rt::frame(|f| {
                    f.defer(|| recover_expecting("hello"));
                    f.defer(|| rt::exit());
                    panic!("hello");
                });
                unreachable!("the exit carries on past the frame");
            },
            |joined: Result<(), _>| assert!(joined.unwrap_err().is_exited()),
        )
    });
    assert_eq!(counts, (0, 3), "Goexit is on top: recover returns None");
}

/// runtime/panic.go `recovery`: "Don't allow jumping past a pending
/// Goexit". A panic raised during a Goexit and recovered by an *enclosing*
/// function's defer resumes the Goexit: nothing after either frame runs,
/// and the enclosing frame's earlier defers still run.
#[test]
fn panic_after_goexit_recovered_by_an_enclosing_frame_resumes_the_exit() {
    static LOG: std::sync::Mutex<Vec<&str>> = std::sync::Mutex::new(Vec::new());
    LOG.lock().unwrap().clear();
    on_each_runtime(
        || {
            let _ = rt::frame(|outer| {
                outer.defer(|| LOG.lock().unwrap().push("outer first defer"));
                outer.defer(|| {
                    let p = rt::recover().expect("the panic reaches the outer frame");
                    assert_eq!(p.message(), Some("hello"));
                    LOG.lock().unwrap().push("outer recovered");
                });
                let _ = rt::frame(|inner| {
                    inner.defer(|| panic!("hello"));
                    rt::exit();
                });
                LOG.lock().unwrap().push("after inner frame");
            });
            LOG.lock().unwrap().push("after outer frame");
        },
        |joined: Result<(), _>| assert!(joined.unwrap_err().is_exited()),
    );
    let log = LOG.lock().unwrap();
    assert_eq!(
        *log,
        ["outer recovered", "outer first defer"].repeat(3),
        "the exit resumed after each recovery"
    );
}

/// The same rules for a cancellation (rt's other forced unwind): a panic
/// raised by a deferred closure while the cancellation runs them is
/// reported as the panic; recovered, the cancellation carries on.
#[test]
fn panic_during_cancellation_is_a_real_panic_and_recovering_it_resumes_the_cancel() {
    for recover_it in [false, true] {
        let counts = counting(|| {
            on_each_runtime(
                move || {
                    let (started_tx, started_rx) = rt::chan::bounded::<()>(1);
                    let victim = rt::spawn(move || {
                        let _ = rt::frame(|f| {
                            if recover_it {
                                f.defer(|| recover_expecting("during cancel"));
                            }
                            f.defer(|| panic!("during cancel"));
                            started_tx.send(()).unwrap();
                            rt::sleep(Duration::from_secs(600));
                        });
                        unreachable!("nothing after the frame runs");
                    });
                    started_rx.recv().unwrap();
                    victim.cancel();
                    victim.join()
                },
                move |joined| {
                    let joined: Result<(), rt::JoinError> = joined.unwrap();
                    let e = joined.unwrap_err();
                    if recover_it {
                        assert!(e.is_cancelled(), "the cancellation carries on: {e:?}");
                    } else {
                        assert_eq!(panic_message(e), "during cancel");
                    }
                },
            )
        });
        assert_eq!(counts, (if recover_it { 3 } else { 0 }, 0));
    }
}

/// An `rt::timeout` whose signal was interrupted by a panic ends as that
/// panic; an enclosing frame that recovers it returns normally (the
/// timeout's signal does not carry on past its own scope).
#[test]
fn panic_during_a_timeout_unwind_ends_the_timeout_as_a_panic() {
    on_each_runtime(
        || {
            let r = rt::frame(|outer| {
                outer.defer(|| assert!(rt::recover().is_some(), "bad recover"));
                let _ = rt::timeout(Duration::from_millis(1), || {
                    rt::frame(|f| {
                        f.defer(|| panic!("during timeout"));
                        rt::sleep(Duration::from_secs(600));
                    })
                });
                unreachable!("the panic left the timeout");
            });
            assert_eq!(
                r.unwrap_err().panic().message(),
                Some("during timeout"),
                "recovered, and the frame returned"
            );
            "returned normally"
        },
        |joined| assert_eq!(joined.unwrap(), "returned normally"),
    );
}

/// The exit a panic interrupted belongs to that panic alone. When a catch
/// outside rt swallows the panic, the exit goes with it: a later, unrelated
/// panic (whose payload may sit at the same address) recovered by a frame
/// returns normally.
#[test]
fn an_exit_swallowed_with_its_panic_by_a_foreign_catch_does_not_come_back() {
    on_each_runtime(
        || {
            let caught = std::panic::catch_unwind(|| {
                let _ = rt::frame(|f| {
                    f.defer(|| panic!("P"));
                    rt::exit();
                });
            });
            assert!(caught.is_err());
            drop(caught);
            let r = rt::frame(|f| {
                f.defer(|| drop(rt::recover()));
                panic!("Q");
            });
            assert_eq!(r.unwrap_err().panic().message(), Some("Q"));
            "finished normally"
        },
        |joined| assert_eq!(joined.unwrap(), "finished normally"),
    );
}

/// A scope whose body unwinds with a panic raised on top of a cancellation
/// passes the cancellation on to its children (it is still in flight
/// under the panic), so the scope ends; the coroutine dies of the panic.
#[test]
fn a_panic_on_top_of_a_cancellation_still_cancels_the_scope_children() {
    on_each_runtime(
        || {
            let (_keep, rx) = rt::chan::bounded::<()>(0);
            let (started_tx, started) = rt::chan::bounded::<()>(1);
            let victim = rt::spawn(move || {
                rt::scope(|s| {
                    s.spawn(|| {
                        let _ = rx.recv();
                    });
                    let _ = rt::frame(|f| {
                        f.defer(|| panic!("during cancellation"));
                        started_tx.send(()).unwrap();
                        rt::sleep(Duration::from_secs(600));
                    });
                });
            });
            started.recv().unwrap();
            victim.cancel();
            rt::timeout(Duration::from_secs(20), || victim.join()).expect("the scope ended")
        },
        |joined| {
            let e = joined.unwrap().unwrap_err();
            assert_eq!(panic_message(e), "during cancellation");
        },
    );
}
