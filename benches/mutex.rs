//! mutex under contention (issue #4): 8 tasks on 2 workers each take a
//! mutex, increment a counter, release it, 10,000 times. Time per lock.
//!
//! - `rt`: `rt::sync::Mutex` in rt coroutines.
//! - `parking_lot_in_rt`: `parking_lot::Mutex` in rt coroutines (blocks the
//!   worker while waiting: fine for tiny critical sections, which is why it
//!   is the bar to meet).
//! - `tokio`: `tokio::sync::Mutex` in tokio tasks.
//! - `parking_lot_threads`: `parking_lot::Mutex` in 8 OS threads.
//!
//! `cargo bench -p rt-benches --bench mutex`

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const TASKS: usize = 8;
const LOCKS: usize = 10_000;
const WORKERS: usize = 2;

fn mutex_contention(c: &mut Criterion) {
    let mut group = c.benchmark_group("mutex_contention");
    group.throughput(Throughput::Elements((TASKS * LOCKS) as u64));
    group.sample_size(20);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(4));

    let runtime = rt::Builder::new().workers(WORKERS).build().unwrap();
    group.bench_function("rt", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(|| {
                let start = Instant::now();
                for _ in 0..iters {
                    let m = Arc::new(rt::sync::Mutex::new(0_u64));
                    let hs: Vec<_> = (0..TASKS)
                        .map(|_| {
                            let m = m.clone();
                            rt::spawn(move || {
                                for _ in 0..LOCKS {
                                    *m.lock().unwrap() += 1;
                                }
                            })
                        })
                        .collect();
                    hs.into_iter().for_each(|h| h.join().unwrap());
                }
                start.elapsed()
            })
        })
    });
    group.bench_function("parking_lot_in_rt", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(|| {
                let start = Instant::now();
                for _ in 0..iters {
                    let m = Arc::new(parking_lot::Mutex::new(0_u64));
                    let hs: Vec<_> = (0..TASKS)
                        .map(|_| {
                            let m = m.clone();
                            rt::spawn(move || {
                                for _ in 0..LOCKS {
                                    *m.lock() += 1;
                                }
                            })
                        })
                        .collect();
                    hs.into_iter().for_each(|h| h.join().unwrap());
                }
                start.elapsed()
            })
        })
    });
    let tokio_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .build()
        .unwrap();
    group.bench_function("tokio", |b| {
        b.iter_custom(|iters| {
            tokio_rt.block_on(async {
                tokio::spawn(async move {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let m = Arc::new(tokio::sync::Mutex::new(0_u64));
                        let hs: Vec<_> = (0..TASKS)
                            .map(|_| {
                                let m = m.clone();
                                tokio::spawn(async move {
                                    for _ in 0..LOCKS {
                                        *m.lock().await += 1;
                                    }
                                })
                            })
                            .collect();
                        for h in hs {
                            h.await.unwrap();
                        }
                    }
                    start.elapsed()
                })
                .await
                .unwrap()
            })
        })
    });
    group.bench_function("parking_lot_threads", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                let m = Arc::new(parking_lot::Mutex::new(0_u64));
                let hs: Vec<_> = (0..TASKS)
                    .map(|_| {
                        let m = m.clone();
                        std::thread::spawn(move || {
                            for _ in 0..LOCKS {
                                *m.lock() += 1;
                            }
                        })
                    })
                    .collect();
                hs.into_iter().for_each(|h| h.join().unwrap());
            }
            start.elapsed()
        })
    });
    group.finish();
}

criterion_group!(benches, mutex_contention);
criterion_main!(benches);
