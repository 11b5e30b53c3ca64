//! The rules of docs/defer.md, one by one, modelled on Go's test/recover.go and
//! test/defer*.go. Every test body runs twice: in a coroutine and on a plain
//! thread (the defer chain is per coroutine, or per thread outside one).

use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

/// Run `body` in a coroutine and on a plain thread.
fn both(body: fn()) {
    let rt = rt::Builder::new().workers(1).build().unwrap();
    rt.block_on(body);
    std::thread::spawn(body).join().unwrap();
}

type Log = RefCell<Vec<String>>;

fn push(log: &Log, s: impl Into<String>) {
    log.borrow_mut().push(s.into());
}

#[test]
fn rule1_defers_run_lifo_exactly_once_on_normal_return() {
    both(|| {
        let log = Log::default();
        let r = rt::frame(|f| {
            for i in 0..5 {
                let log = &log;
                f.defer(move || push(log, format!("d{i}")));
            }
            push(&log, "body");
            42
        });
        assert_eq!(r.unwrap(), 42);
        assert_eq!(*log.borrow(), ["body", "d4", "d3", "d2", "d1", "d0"]);
    });
}

#[test]
fn rule1_defers_run_on_question_mark_return() {
    fn parse(log: &Log, input: &str) -> Result<u32, std::num::ParseIntError> {
        rt::frame(|f| {
            f.defer(move || push(log, "closed"));
            let n: u32 = input.parse()?;
            push(log, "parsed");
            Ok(n)
        })
        .unwrap()
    }
    both(|| {
        let log = Log::default();
        assert!(parse(&log, "x").is_err());
        assert_eq!(*log.borrow(), ["closed"]);
        assert_eq!(parse(&log, "7").unwrap(), 7);
        assert_eq!(*log.borrow(), ["closed", "parsed", "closed"]);
    });
}

#[test]
fn rule2_deferred_closures_see_values_captured_at_defer_time() {
    both(|| {
        let log = Log::default();
        rt::frame(|f| {
            let mut x = 1;
            let log = &log;
            f.defer(move || push(log, format!("x={x}")));
            x += 10;
            f.defer(move || push(log, format!("x={x}")));
            x += 100;
            push(log, format!("end x={x}"));
        })
        .unwrap();
        assert_eq!(*log.borrow(), ["end x=111", "x=11", "x=1"]);
    });
}

#[test]
fn rule4_a_panicking_frame_runs_its_defers_then_continues_the_panic() {
    both(|| {
        let log = Log::default();
        let caught = catch_unwind(AssertUnwindSafe(|| {
            rt::frame(|f| {
                let log = &log;
                f.defer(move || push(log, "a"));
                f.defer(move || push(log, "b"));
                panic!("boom");
            })
        }));
        assert_eq!(*log.borrow(), ["b", "a"]);
        assert_eq!(
            caught.unwrap_err().downcast_ref::<&str>(),
            Some(&"boom"),
            "payload kept"
        );
    });
}

#[test]
fn rule4_deferred_closures_may_block_and_park() {
    let rt = rt::Builder::new().workers(2).build().unwrap();
    let total = rt.block_on(|| {
        let r = rt::frame(|f| {
            f.defer(|| {
                // Parks this coroutine until the other finishes.
                let v = rt::spawn(|| 5).join().unwrap();
                assert_eq!(v, 5);
                assert!(rt::recover().is_some());
            });
            panic!("then wait in a defer");
        });
        r.unwrap_err().panic().message().map(str::len)
    });
    assert_eq!(total, Some("then wait in a defer".len()));
}

#[test]
fn rule5_recover_returns_the_panic_once() {
    // Go test1 / test2.
    both(|| {
        let r = rt::frame(|f| {
            f.defer(|| {
                let p = rt::recover().expect("first recover gets it");
                assert_eq!(p.message(), Some("seven"));
                assert!(rt::recover().is_none(), "second recover gets nothing");
            });
            panic!("seven");
        });
        assert_eq!(r.unwrap_err().panic().message(), Some("seven"));
    });
}

#[test]
fn rule5_recover_is_none_when_not_panicking() {
    both(|| {
        assert!(rt::recover().is_none());
        let r = rt::frame(|f| {
            f.defer(|| assert!(rt::recover().is_none()));
            assert!(rt::recover().is_none());
            1
        });
        assert_eq!(r.unwrap(), 1);
    });
}

#[test]
fn rule5_a_nested_frame_in_a_deferred_closure_cannot_recover_the_outer_panic() {
    // Go test3-like: recover in a function called from a deferred call's
    // own new frame sees that frame's (absent) panic.
    both(|| {
        let r = rt::frame(|f| {
            f.defer(|| {
                let inner = rt::frame(|_| rt::recover().is_none()).unwrap();
                assert!(inner, "nested frame has its own panic state");
                assert!(rt::recover().is_some(), "the deferred closure itself can");
            });
            panic!("outer");
        });
        assert!(r.is_err());
    });
}

#[test]
fn rule5_a_helper_called_by_the_deferred_closure_may_recover() {
    fn helper() -> Option<String> {
        rt::recover().and_then(|p| p.message().map(str::to_owned))
    }
    both(|| {
        let r = rt::frame(|f| {
            f.defer(|| assert_eq!(helper().as_deref(), Some("helped")));
            panic!("helped");
        });
        assert!(r.is_err());
    });
}

#[test]
fn rule6_earlier_defers_run_after_a_recover() {
    // Go test7.
    both(|| {
        let log = Log::default();
        let r = rt::frame(|f| {
            let log = &log;
            f.defer(move || push(log, "earlier defer ran"));
            f.defer(move || {
                assert!(rt::recover().is_some());
                push(log, "recovered");
            });
            panic!("7");
        });
        assert!(r.is_err());
        assert_eq!(*log.borrow(), ["recovered", "earlier defer ran"]);
    });
}

#[test]
fn rule6_an_unrecovered_panic_continues_to_the_enclosing_frame() {
    both(|| {
        let log = Log::default();
        let outer = rt::frame(|f| {
            let log = &log;
            f.defer(move || {
                let p = rt::recover().expect("reached the outer frame");
                push(log, format!("outer recovered {}", p.message().unwrap()));
            });
            let _ = rt::frame(|g| {
                g.defer(move || push(log, "inner defer"));
                panic!("deep");
            });
            unreachable!();
        });
        assert!(outer.is_err());
        assert_eq!(*log.borrow(), ["inner defer", "outer recovered deep"]);
    });
}

#[test]
fn rule6_location_survives_the_trip_through_enclosing_frames() {
    both(|| {
        let line = line!() + 3;
        let r = rt::frame(|f| {
            f.defer(|| assert_eq!(rt::recover().unwrap().location().unwrap().line(), line));
            let _ = rt::frame(|_| panic!("here"));
        });
        assert!(r.is_err());
    });
}

#[test]
fn rule7_a_panic_in_a_deferred_closure_replaces_the_current_one() {
    both(|| {
        let log = Log::default();
        let r = rt::frame(|f| {
            let log = &log;
            f.defer(move || {
                let p = rt::recover().expect("the replacement is recoverable");
                push(log, format!("got {}", p.message().unwrap()));
                let prev = p.previous().expect("the replaced panic is kept");
                push(
                    log,
                    format!(
                        "prev {} recovered={}",
                        prev.message().unwrap(),
                        prev.was_recovered()
                    ),
                );
            });
            f.defer(move || push(log, "still runs"));
            f.defer(|| panic!("second"));
            panic!("first");
        });
        assert_eq!(r.unwrap_err().panic().message(), Some("second"));
        assert_eq!(
            *log.borrow(),
            ["still runs", "got second", "prev first recovered=false"]
        );
    });
}

#[test]
fn rule7_re_panic_after_recover_chains_a_recovered_panic() {
    both(|| {
        let r = rt::frame(|f| {
            f.defer(|| {
                let p = rt::recover().unwrap();
                assert_eq!(p.message(), Some("second (after recovering first)"));
                let prev = p.previous().unwrap();
                assert_eq!(prev.message(), Some("first"));
                assert!(prev.was_recovered());
            });
            f.defer(|| {
                let first = rt::recover().unwrap();
                panic!("second (after recovering {})", first.message().unwrap());
            });
            panic!("first");
        });
        assert!(r.is_err());
    });
}

#[test]
fn rule8_exit_runs_every_defer_of_every_frame_and_cannot_be_recovered() {
    let rt = rt::Builder::new().workers(1).build().unwrap();
    let log = Arc::new(parking_lot::Mutex::new(Vec::new()));
    let l = log.clone();
    let err = rt.block_on(move || {
        rt::spawn(move || {
            let l2 = l.clone();
            let _ = rt::frame(|outer| {
                let l = l2.clone();
                outer.defer(move || {
                    assert!(rt::recover().is_none(), "exit is not a panic");
                    l.lock().push("outer");
                });
                let _ = rt::frame(|inner| {
                    let l = l2.clone();
                    inner.defer(move || l.lock().push("inner"));
                    rt::exit();
                });
                l2.lock().push("unreachable");
            });
            l.lock().push("unreachable too");
        })
        .join()
        .unwrap_err()
    });
    assert!(err.is_exited() && !err.is_panic() && !err.is_cancelled());
    assert_eq!(*log.lock(), ["inner", "outer"]);
}

#[test]
fn rule8_cancel_unwinds_a_parked_coroutine_running_its_defers() {
    let rt = rt::Builder::new().workers(2).build().unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    let started = Arc::new(AtomicUsize::new(0));
    let s = started.clone();
    rt.block_on(move || {
        let parked = rt::spawn(move || {
            s.store(1, SeqCst);
            rt::frame(|f| {
                let r1 = r.clone();
                f.defer(move || {
                    assert!(rt::recover().is_none(), "cancellation is not a panic");
                    // A cancelled coroutine may still block in its cleanup.
                    assert_eq!(rt::spawn(|| 1).join().unwrap(), 1);
                    r1.fetch_add(1, SeqCst);
                });
                let r2 = r.clone();
                rt::defer! { r2.fetch_add(10, SeqCst); }
                loop {
                    rt::yield_now();
                }
            })
        });
        while started.load(SeqCst) == 0 {
            rt::yield_now();
        }
        parked.cancel();
        assert!(parked.join().unwrap_err().is_cancelled());
    });
    assert_eq!(ran.load(SeqCst), 11);
}

#[test]
fn rule8_cancel_before_start_runs_nothing() {
    let rt = rt::Builder::new().workers(1).build().unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    rt.block_on(move || {
        let h = rt::spawn(move || r.fetch_add(1, SeqCst));
        h.cancel(); // the only worker is busy here: h has not started
        assert!(h.join().unwrap_err().is_cancelled());
    });
    assert_eq!(ran.load(SeqCst), 0);
}

#[test]
fn rule10_defer_macro_runs_on_block_exit_and_unwinding() {
    both(|| {
        let log = Log::default();
        {
            rt::defer! { push(&log, "first"); }
            rt::defer! { push(&log, "second"); }
            push(&log, "body");
        }
        let _ = catch_unwind(AssertUnwindSafe(|| {
            rt::defer! { push(&log, "unwound"); }
            panic!("x");
        }));
        assert_eq!(*log.borrow(), ["body", "second", "first", "unwound"]);
    });
}

#[test]
fn rule10_recover_in_defer_macro_stops_the_panic_at_the_enclosing_frame() {
    both(|| {
        let log = Log::default();
        let r = rt::frame(|f| {
            let log = &log;
            f.defer(move || push(log, "frame defer runs after"));
            {
                rt::defer! {
                    let p = rt::recover().expect("recover works in defer!");
                    push(log, format!("recovered {}", p.message().unwrap()));
                }
                panic!("in block");
            }
        });
        assert_eq!(r.unwrap_err().panic().message(), Some("in block"));
        assert_eq!(
            *log.borrow(),
            ["recovered in block", "frame defer runs after"]
        );
    });
}

#[test]
fn runtime_error_panics_are_recoverable() {
    both(|| {
        let r = rt::frame(|f| {
            f.defer(|| {
                let p = rt::recover().unwrap();
                assert!(p.message().unwrap().contains("index out of bounds"), "{p}");
            });
            let v = [1, 2, 3];
            v[std::hint::black_box(10)]
        });
        assert!(r.is_err());
        let r = rt::frame(|f| {
            f.defer(|| {
                assert!(rt::recover()
                    .unwrap()
                    .message()
                    .unwrap()
                    .contains("divide by zero"));
            });
            1 / std::hint::black_box(0)
        });
        assert!(r.is_err());
    });
}

#[test]
#[should_panic(expected = "Frame::defer on a frame that is not the innermost")]
fn deferring_on_an_outer_frame_from_an_inner_one_is_refused() {
    let _ = rt::frame(|outer| {
        let _ = rt::frame(|_inner| outer.defer(|| ()));
    });
}

/// What coroutine `i` of the stress test does: how many counted defers it
/// registers, and whether it returns (0), recovers (1) or panics through (2);
/// plus whether it yields before panicking.
fn plan(i: u64) -> (usize, u64, bool) {
    let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    ((next() % 4) as usize, next() % 3, next() % 2 == 0)
}

/// 100,000 coroutines, each a random mix of frames that return, panic and
/// recover, or panic through; every deferred closure is counted exactly.
#[test]
fn stress_random_panics_and_recovers_with_exact_defer_counts() {
    const N: u64 = 100_000;
    let rt = rt::Builder::new().workers(2).build().unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    let outcomes = rt.block_on(move || {
        let handles: Vec<_> = (0..N)
            .map(|i| {
                let r = r.clone();
                rt::spawn(move || {
                    let (defers, action, yields) = plan(i);
                    rt::frame(|f| {
                        for _ in 0..defers {
                            let r = r.clone();
                            f.defer(move || {
                                r.fetch_add(1, SeqCst);
                            });
                        }
                        if action > 0 {
                            f.defer(move || {
                                if action == 1 {
                                    assert!(rt::recover().is_some());
                                }
                            });
                            if yields {
                                rt::yield_now();
                            }
                            panic!("job {i}");
                        }
                    })
                    .is_err()
                })
            })
            .collect();
        let mut outcomes = [0_u64; 3];
        for (i, h) in handles.into_iter().enumerate() {
            let (_, action, _) = plan(i as u64);
            match h.join() {
                Ok(false) => outcomes[0] += 1,
                Ok(true) => outcomes[1] += 1,
                Err(e) => {
                    assert_eq!(e.into_panic().message(), Some(format!("job {i}").as_str()));
                    outcomes[2] += 1;
                }
            }
            assert!(action <= 2);
        }
        outcomes
    });
    let expected: [u64; 3] = (0..N).fold([0; 3], |mut acc, i| {
        acc[plan(i).1 as usize] += 1;
        acc
    });
    assert_eq!(outcomes, expected, "returned / recovered / panicked");
    let expected_defers: usize = (0..N).map(|i| plan(i).0).sum();
    assert_eq!(ran.load(SeqCst), expected_defers);
}
