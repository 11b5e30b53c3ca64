//! Runtime::metrics counts exactly, and assert_no_leaks catches coroutines
//! left behind.

use std::time::Duration;

#[test]
fn metrics_count_spawns_parks_and_live_coroutines() {
    let rt = rt::Builder::new().workers(2).build().unwrap();
    let (release, wait) = rt::chan::bounded::<()>(0);
    let handles: Vec<_> = (0..10)
        .map(|_| {
            let wait = wait.clone();
            rt.spawn(move || wait.recv().is_err())
        })
        .collect();
    // All ten park in recv.
    while rt.metrics().parks < 10 {
        std::thread::yield_now();
    }
    let m = rt.metrics();
    assert_eq!(m.spawned, 10);
    assert_eq!(m.live_coroutines, 10);
    assert_eq!(m.workers.len(), 2);
    assert_eq!(m.workers.iter().map(|w| w.spawned).sum::<u64>(), 0); // spawned from outside
    drop(release);
    for h in handles {
        assert!(h.join().unwrap());
    }
    rt.assert_no_leaks(Duration::from_secs(10));
    rt.block_on(|| {
        let hs: Vec<_> = (0..1000).map(|_| rt::spawn(|| ())).collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
    });
    rt.assert_no_leaks(Duration::from_secs(10));
    let m = rt.metrics();
    assert_eq!(m.spawned, 10 + 1 + 1000);
    assert_eq!(m.workers.iter().map(|w| w.finished).sum::<u64>(), 1011);
}

#[test]
fn assert_no_leaks_names_the_count() {
    let rt = rt::Builder::new().workers(1).build().unwrap();
    let (_keep, wait) = rt::chan::bounded::<()>(0);
    for _ in 0..3 {
        let wait = wait.clone();
        drop(rt.spawn(move || wait.recv()));
    }
    let err =
        std::panic::catch_unwind(|| rt.assert_no_leaks(Duration::from_millis(20))).unwrap_err();
    let message = err.downcast_ref::<String>().unwrap();
    assert!(
        message.starts_with("rt: 3 coroutine(s) still alive"),
        "{message}"
    );
}
