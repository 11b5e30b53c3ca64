//! Hundreds of thousands of coroutines alive at once, within the default
//! `vm.max_map_count`, and heavy cross-worker wake traffic without a lost
//! wakeup.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

/// Kernel mappings of this process (each line of /proc/self/maps is one).
fn mappings() -> usize {
    std::fs::read_to_string("/proc/self/maps").map_or(0, |maps| maps.lines().count())
}

#[test]
fn two_hundred_thousand_coroutines_alive_at_once() {
    const N: usize = 200_000;
    let rt = rt::Builder::new().workers(2).build().unwrap();
    let before = mappings();
    let (alive_peak, maps_peak, sum) = rt.block_on(|| {
        let alive = Arc::new(AtomicUsize::new(0));
        let release = Arc::new(AtomicBool::new(false));
        let handles: Vec<_> = (0..N)
            .map(|i| {
                let (alive, release) = (alive.clone(), release.clone());
                rt::spawn(move || {
                    alive.fetch_add(1, SeqCst);
                    while !release.load(SeqCst) {
                        rt::yield_now();
                    }
                    i as u64
                })
            })
            .collect();
        while alive.load(SeqCst) < N {
            rt::yield_now();
        }
        // Every one of them is started and suspended right now.
        let peak = alive.load(SeqCst);
        let maps = mappings();
        release.store(true, SeqCst);
        let sum: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
        (peak, maps, sum)
    });
    assert_eq!(alive_peak, N);
    assert_eq!(sum, (N as u64 - 1) * N as u64 / 2);
    // Slab stacks: far fewer mappings than coroutines (one mmap+mprotect per
    // stack would need 2 * 200,000 > vm.max_map_count = 65,530).
    // (Other tests run in this process too, so bound the total.)
    assert!(maps_peak < 20_000, "{maps_peak} mappings, {before} before");
}

#[test]
fn cross_worker_join_chains_never_lose_a_wakeup() {
    // Each coroutine joins its predecessor: every join parks and is woken
    // by a coroutine that may run on the other worker.
    let rt = rt::Builder::new().workers(4).build().unwrap();
    for round in 0..20 {
        let last = rt.block_on(move || {
            let mut prev = rt::spawn(move || round);
            for _ in 0..2_000 {
                let before = prev;
                prev = rt::spawn(move || before.join().unwrap() + 1);
            }
            prev.join().unwrap()
        });
        assert_eq!(last, round + 2_000);
    }
}

#[test]
fn many_plain_threads_join_coroutines_concurrently() {
    let rt = rt::Builder::new().workers(2).build().unwrap();
    let handles: Vec<_> = (0..8)
        .map(|t| {
            let hs: Vec<_> = (0..500).map(|i| rt.spawn(move || t * 1000 + i)).collect();
            std::thread::spawn(move || hs.into_iter().map(|h| h.join().unwrap()).sum::<usize>())
        })
        .collect();
    let total: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    let expected: usize = (0..8)
        .map(|t| (0..500).map(|i| t * 1000 + i).sum::<usize>())
        .sum();
    assert_eq!(total, expected);
}
