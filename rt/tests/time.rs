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
