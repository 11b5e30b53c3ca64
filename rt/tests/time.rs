//! Timers: a sleep never ends early, many sleeps run concurrently on few
//! workers, and an idle worker wakes for its next timer without polling.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[test]
fn sleeps_never_end_early() {
    let rt = rt::Builder::new().workers(2).build().unwrap();
    let early = rt.block_on(|| {
        let hs: Vec<_> = (0..2_000_u64)
            .map(|i| {
                rt::spawn(move || {
                    let want = Duration::from_micros(500 + (i * 7919) % 20_000);
                    let start = Instant::now();
                    rt::sleep(want);
                    start.elapsed() < want
                })
            })
            .collect();
        hs.into_iter()
            .filter(|_| true)
            .map(|h| h.join().unwrap())
            .filter(|&early| early)
            .count()
    });
    assert_eq!(early, 0);
}

/// A worker that never runs out of work reads the clock for its timers
/// only when the coarse clock says one may be due: sleeps both nearer and
/// farther than that margin (50 ms) must still end, and never early, while
/// a coroutine beside them keeps the worker busy — on a runtime with a
/// monitor thread keeping the coarse clock and on a current-thread one,
/// whose worker keeps it itself.
#[test]
fn sleeps_end_on_time_beside_a_coroutine_that_never_parks() {
    fn check(rt: &rt::Runtime) {
        let early = rt.block_on(|| {
            let done = Arc::new(AtomicUsize::new(0));
            let sleepers: Vec<_> = [1_u64, 20, 60, 130]
                .into_iter()
                .map(|ms| {
                    let done = done.clone();
                    rt::spawn(move || {
                        let want = Duration::from_millis(ms);
                        let start = Instant::now();
                        rt::sleep(want);
                        done.fetch_add(1, SeqCst);
                        start.elapsed() < want
                    })
                })
                .collect();
            let busy = rt::spawn(move || {
                while done.load(SeqCst) < 4 {
                    rt::yield_now();
                }
            });
            let joined = sleepers.into_iter().map(|h| h.join().unwrap());
            let early = joined.filter(|&early| early).count();
            busy.join().unwrap();
            early
        });
        assert_eq!(early, 0);
    }
    check(&rt::Builder::new().workers(1).build().unwrap());
    check(&rt::Builder::new().current_thread().build().unwrap());
}

#[test]
fn a_hundred_thousand_concurrent_sleeps_all_wake() {
    const N: usize = 100_000;
    let rt = rt::Builder::new().workers(2).build().unwrap();
    let woke = Arc::new(AtomicUsize::new(0));
    let w = woke.clone();
    let elapsed = rt.block_on(move || {
        let start = Instant::now();
        let hs: Vec<_> = (0..N)
            .map(|i| {
                let w = w.clone();
                rt::spawn(move || {
                    rt::sleep(Duration::from_millis(50 + (i % 50) as u64));
                    w.fetch_add(1, SeqCst);
                })
            })
            .collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
        start.elapsed()
    });
    assert_eq!(woke.load(SeqCst), N);
    assert!(
        elapsed >= Duration::from_millis(99),
        "the longest sleep is 99 ms"
    );
}

#[test]
fn an_idle_worker_wakes_for_its_timer() {
    // One worker, one sleeping coroutine, nothing else to do: the worker
    // must park with a timeout, not forever.
    let rt = rt::Builder::new().workers(1).build().unwrap();
    let start = Instant::now();
    rt.block_on(|| rt::sleep(Duration::from_millis(30)));
    assert!(start.elapsed() >= Duration::from_millis(30));
}

#[test]
fn sleep_on_a_plain_thread_is_a_thread_sleep() {
    let start = Instant::now();
    rt::sleep(Duration::from_millis(10));
    assert!(start.elapsed() >= Duration::from_millis(10));
}

#[test]
fn a_cancelled_sleeper_unwinds_at_once() {
    let rt = rt::Builder::new().workers(1).build().unwrap();
    let start = Instant::now();
    rt.block_on(|| {
        let sleeper = rt::spawn(|| rt::sleep(Duration::from_secs(3600)));
        rt::yield_now(); // it starts and parks in its sleep
        sleeper.cancel();
        assert!(sleeper.join().unwrap_err().is_cancelled());
    });
    drop(rt); // its stale timer must not hold up shutdown either
    assert!(start.elapsed() < Duration::from_secs(60));
}

#[test]
fn shutdown_does_not_wait_for_sleepers() {
    let rt = rt::Builder::new().workers(2).build().unwrap();
    let start = Instant::now();
    rt.block_on(|| {
        for _ in 0..100 {
            drop(rt::spawn(|| rt::sleep(Duration::from_secs(3600))));
        }
        rt::yield_now();
    });
    drop(rt);
    assert!(start.elapsed() < Duration::from_secs(60));
}

fn runtime() -> rt::Runtime {
    rt::Builder::new().workers(2).build().unwrap()
}

#[test]
fn timeout_abandons_a_blocked_receive_runs_its_defers_and_is_not_early() {
    runtime().block_on(|| {
        let (tx, rx) = rt::chan::bounded::<u32>(0);
        let cleaned = Arc::new(AtomicUsize::new(0));
        let start = Instant::now();
        let result = {
            let cleaned = cleaned.clone();
            rt::timeout(Duration::from_millis(20), || {
                rt::defer! { cleaned.fetch_add(1, SeqCst); }
                rx.recv()
            })
        };
        let _elapsed: rt::Elapsed = result.unwrap_err();
        assert!(start.elapsed() >= Duration::from_millis(20));
        assert_eq!(cleaned.load(SeqCst), 1);
        // The abandoned receive left the channel: a new one gets the value.
        let sender = rt::spawn(move || tx.send(5));
        assert_eq!(rx.recv(), Ok(5));
        assert_eq!(sender.join().unwrap(), Ok(()));
    });
}

#[test]
fn timeout_returns_the_value_when_in_time_and_passes_panics_through() {
    runtime().block_on(|| {
        assert_eq!(rt::timeout(Duration::from_secs(10), || 7), Ok(7));
        let joined =
            rt::spawn(|| rt::timeout(Duration::from_secs(10), || panic!("inner boom"))).join();
        assert_eq!(
            joined.unwrap_err().into_panic().message(),
            Some("inner boom")
        );
        // After an in-time timeout, nothing fires later.
        assert_eq!(rt::timeout(Duration::from_millis(1), || ()), Ok(()));
        rt::sleep(Duration::from_millis(5));
    });
}

#[test]
fn nested_timeouts_each_catch_their_own() {
    runtime().block_on(|| {
        // Inner runs out first: the outer continues.
        let mut after_inner = false;
        let outer = rt::timeout(Duration::from_secs(10), || {
            let inner = rt::timeout(Duration::from_millis(5), || {
                rt::sleep(Duration::from_secs(60))
            });
            assert!(inner.is_err());
            after_inner = true;
            1
        });
        assert_eq!(outer, Ok(1));
        assert!(after_inner);

        // Outer runs out first: the inner passes it through.
        let mut reached = false;
        let outer = rt::timeout(Duration::from_millis(5), || {
            let _ = rt::timeout(Duration::from_secs(10), || {
                rt::sleep(Duration::from_secs(60))
            });
            reached = true;
        });
        assert!(outer.is_err());
        assert!(!reached);
    });
}

#[test]
fn a_timeout_cannot_be_recovered_and_cleanup_may_park() {
    runtime().block_on(|| {
        let recovered = Arc::new(AtomicUsize::new(0));
        let r = {
            let recovered = recovered.clone();
            rt::timeout(Duration::from_millis(5), move || {
                rt::frame(|f| {
                    f.defer(move || {
                        if rt::recover().is_some() {
                            recovered.fetch_add(1, SeqCst);
                        }
                        rt::sleep(Duration::from_millis(2)); // cleanup parks normally
                    });
                    rt::sleep(Duration::from_secs(60));
                })
            })
        };
        assert!(r.is_err());
        assert_eq!(recovered.load(SeqCst), 0);
    });
}

#[test]
fn timeout_works_on_a_plain_thread() {
    let (_tx, rx) = rt::chan::bounded::<u32>(0);
    let start = Instant::now();
    assert!(rt::timeout(Duration::from_millis(10), || rx.recv()).is_err());
    assert!(start.elapsed() >= Duration::from_millis(10));
    let lock = rt::sync::Mutex::new(());
    let _held = lock.lock().unwrap();
    let start = Instant::now();
    assert!(rt::timeout(Duration::from_millis(10), || rt::sleep(
        Duration::from_secs(60)
    ))
    .is_err());
    assert!(start.elapsed() >= Duration::from_millis(10));
}

#[test]
fn ticker_ticks_are_never_early_and_dropping_stops_it() {
    runtime().block_on(|| {
        let period = Duration::from_millis(3);
        let start = Instant::now();
        let ticker = rt::Ticker::new(period);
        for n in 1..=10u32 {
            let at = ticker.tick();
            assert!(at >= start + period * n, "tick {n} early");
        }
        drop(ticker);
    });
    // The runtime drops without waiting for a ticker's feeder.
}

#[test]
fn a_slow_receiver_misses_ticks_instead_of_bursting() {
    runtime().block_on(|| {
        let ticker = rt::Ticker::new(Duration::from_millis(1));
        rt::sleep(Duration::from_millis(30));
        // At most one tick was buffered while we slept.
        assert!(ticker.receiver().try_recv().is_ok());
        assert!(ticker.receiver().try_recv().is_err());
    });
}

#[test]
fn after_fires_once_and_not_early_and_works_in_select() {
    runtime().block_on(|| {
        let start = Instant::now();
        let timer = rt::after(Duration::from_millis(10));
        let (_tx, never) = rt::chan::bounded::<()>(0);
        let fired = rt::select! {
            recv(never) -> _ => None,
            recv(timer) -> at => Some(at.unwrap()),
        };
        assert!(fired.unwrap() >= start + Duration::from_millis(10));
        // Exactly one value: afterwards the sender is gone.
        assert!(timer.recv().is_err());
    });
}

/// A timed wait that ends before its deadline cancels its timer: the
/// timer neither wakes the coroutine later (a spurious wake-up is a park
/// more) nor stays pending. 2,000 `timeout`s and 2,000 selects with a
/// timeout arm, each parked until a peer answers, then a sleep past all
/// their deadlines: the sleep parks once, not once per stale timer.
#[test]
fn timed_waits_that_end_early_leave_no_timer_behind() {
    let rt = Arc::new(rt::Builder::new().workers(1).build().unwrap());
    let handle = rt.clone();
    let parks = rt.block_on(move || {
        let (ask, asked) = rt::chan::bounded::<u32>(1);
        let (answer, answers) = rt::chan::bounded::<u32>(1);
        let peer = rt::spawn(move || {
            for i in asked {
                rt::yield_now();
                answer.send(i).unwrap();
            }
        });
        for i in 0..2_000 {
            ask.send(i).unwrap();
            let got = rt::timeout(Duration::from_millis(20), || answers.recv().unwrap());
            assert_eq!(got, Ok(i));
            ask.send(i).unwrap();
            let got = rt::select! {
                recv(answers) -> v => v.unwrap(),
                timeout(Duration::from_millis(20)) => unreachable!("the peer answers"),
            };
            assert_eq!(got, i);
        }
        drop(ask);
        peer.join().unwrap();
        let before = handle.metrics().parks;
        rt::sleep(Duration::from_millis(60));
        handle.metrics().parks - before
    });
    assert!(parks <= 3, "the sleep parked {parks} times");
}

/// The same for I/O: 2,000 request/response round trips over a socket
/// with a read timeout, each read parking for readiness, then an idle
/// sleep past every read's deadline.
#[test]
fn reads_with_a_timeout_leave_no_timer_behind() {
    use std::io::{Read, Write};
    let rt = Arc::new(rt::Builder::new().workers(1).build().unwrap());
    let handle = rt.clone();
    let parks = rt.block_on(move || {
        let listener = rt::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let echo = rt::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut byte = [0u8; 1];
            while conn.read(&mut byte).unwrap() == 1 {
                conn.write_all(&byte).unwrap();
            }
        });
        let mut conn = rt::net::TcpStream::connect(addr).unwrap();
        conn.set_read_timeout(Some(Duration::from_millis(40)))
            .unwrap();
        let mut byte = [0u8; 1];
        for i in 0..2_000u32 {
            conn.write_all(&[i as u8]).unwrap();
            conn.read_exact(&mut byte).unwrap();
            assert_eq!(byte[0], i as u8);
        }
        drop(conn);
        echo.join().unwrap();
        let before = handle.metrics().parks;
        rt::sleep(Duration::from_millis(80));
        handle.metrics().parks - before
    });
    assert!(parks <= 3, "the sleep parked {parks} times");
}
