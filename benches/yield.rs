//! yield (BENCHMARKS.md): two tasks ping-pong through `yield_now`
//! 1,000,000 times each on one worker. Criterion reports time per yield
//! (Throughput::Elements = 2,000,000 yields per run).
//!
//! `cargo bench -p rt-benches --bench yield`; Go: `benches/go`.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use rt_benches::YIELDS;

fn rt_run(runtime: &rt::Runtime, iters: u64) -> Duration {
    runtime.block_on(|| {
        let start = Instant::now();
        for _ in 0..iters {
            let tasks: Vec<_> = (0..2)
                .map(|_| {
                    rt::spawn(|| {
                        for _ in 0..YIELDS {
                            rt::yield_now();
                        }
                    })
                })
                .collect();
            for task in tasks {
                task.join().unwrap();
            }
        }
        start.elapsed()
    })
}

fn tokio_run(runtime: &tokio::runtime::Runtime, iters: u64) -> Duration {
    runtime.block_on(async {
        let start = Instant::now();
        for _ in 0..iters {
            let tasks: Vec<_> = (0..2)
                .map(|_| {
                    tokio::spawn(async {
                        for _ in 0..YIELDS {
                            tokio::task::yield_now().await;
                        }
                    })
                })
                .collect();
            for task in tasks {
                task.await.unwrap();
            }
        }
        start.elapsed()
    })
}

fn may_run(iters: u64) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        let tasks: Vec<_> = (0..2)
            .map(|_| {
                // SAFETY: the closure uses no thread-local storage (may's contract).
                unsafe {
                    may::coroutine::spawn(|| {
                        for _ in 0..YIELDS {
                            may::coroutine::yield_now();
                        }
                    })
                }
            })
            .collect();
        for task in tasks {
            task.join().unwrap();
        }
    }
    start.elapsed()
}

fn yield_pingpong(c: &mut Criterion) {
    let rt_runtime = rt::Builder::new().workers(1).build().unwrap();
    // One worker: tokio's current-thread runtime. The spawner waits in
    // join while the two tasks run, for every peer.
    let tokio_runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    // may's configuration is global and read when its scheduler starts on
    // the first spawn, below.
    may::config().set_workers(1);

    let mut group = c.benchmark_group("yield");
    group.throughput(Throughput::Elements(2 * YIELDS as u64));
    // One iteration is 2,000,000 yields (~0.1 s): flat sampling runs 10 of
    // them per sample instead of linear sampling's 55.
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("rt", |b| b.iter_custom(|n| rt_run(&rt_runtime, n)));
    group.bench_function("tokio", |b| b.iter_custom(|n| tokio_run(&tokio_runtime, n)));
    group.bench_function("may", |b| b.iter_custom(may_run));
    group.finish();
}

criterion_group!(benches, yield_pingpong);
criterion_main!(benches);
