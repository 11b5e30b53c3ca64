//! `spawn_join`: spawn empty tasks, keep every join handle, then join them
//! all. Two variants, one `BenchmarkGroup` each, one function per peer:
//!
//! - `spawn_join_200k`: 200,000 tasks spawned before the first join, so all
//!   are alive at once. One iteration = 200,000 tasks.
//! - `spawn_join_batch_1k`: spawn 1,000, join them, repeat. One iteration =
//!   one batch of 1,000 tasks; batches are independent, so the per-task time
//!   matches Go's `BenchmarkSpawnJoinBatch1000` (200 batches per op).
//!
//! Every peer gets 2 workers. Tasks are spawned from inside a task of the
//! runtime under test (rt `block_on`, a may coroutine, a tokio task) and the
//! clock runs there. `Throughput::Elements` makes criterion report per task.

use std::sync::Once;
use std::thread;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use rt_benches::{SPAWN_BATCH, SPAWN_TASKS};

const WORKERS: usize = 2;

fn rt_spawn_join(n: usize) {
    let handles: Vec<_> = (0..n).map(|_| rt::spawn(|| {})).collect();
    for h in handles {
        h.join().unwrap();
    }
}

fn bench_rt(group: &mut BenchmarkGroup<'_, WallTime>, n: usize) {
    let runtime = rt::Builder::new().workers(WORKERS).build().unwrap();
    group.bench_function("rt", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(|| {
                let start = Instant::now();
                for _ in 0..iters {
                    rt_spawn_join(n);
                }
                start.elapsed()
            })
        })
    });
}

fn bench_tokio(group: &mut BenchmarkGroup<'_, WallTime>, n: usize) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .build()
        .unwrap();
    group.bench_function("tokio", |b| {
        b.iter_custom(|iters| {
            // Run inside a spawned task: `block_on` itself polls on this
            // thread, which would be a third worker.
            runtime.block_on(async move {
                tokio::spawn(async move {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let handles: Vec<_> = (0..n).map(|_| tokio::spawn(async {})).collect();
                        for h in handles {
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
}

/// may's configuration is global and read when its scheduler starts, so set
/// it before the first spawn.
fn may_init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        may::config().set_workers(WORKERS);
    });
}

fn may_spawn_join(n: usize) {
    let handles: Vec<_> = (0..n)
        .map(|_| {
            // SAFETY: may 0.3 makes spawn unsafe; the coroutines touch no
            // thread-locals and stay far within may's default 32 KiB stack.
            unsafe { may::coroutine::spawn(|| {}) }
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

fn bench_may(group: &mut BenchmarkGroup<'_, WallTime>, n: usize) {
    may_init();
    group.bench_function("may", |b| {
        b.iter_custom(|iters| {
            // SAFETY: see `may_spawn_join`.
            let timer = unsafe {
                may::coroutine::spawn(move || {
                    let start = Instant::now();
                    for _ in 0..iters {
                        may_spawn_join(n);
                    }
                    start.elapsed()
                })
            };
            timer.join().unwrap()
        })
    });
}

/// std has no workers to set: every task is an OS thread, spawned and joined
/// from the benchmark thread.
fn bench_std(group: &mut BenchmarkGroup<'_, WallTime>, n: usize) {
    group.bench_function("std", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                let handles: Vec<_> = (0..n).map(|_| thread::spawn(|| {})).collect();
                for h in handles {
                    h.join().unwrap();
                }
            }
            start.elapsed()
        })
    });
}

fn spawn_join_200k(c: &mut Criterion) {
    let mut group = c.benchmark_group("spawn_join_200k");
    // One iteration takes tens of milliseconds: flat sampling keeps the run
    // to a few seconds per peer.
    group
        .sampling_mode(criterion::SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .throughput(Throughput::Elements(SPAWN_TASKS as u64));
    bench_rt(&mut group, SPAWN_TASKS);
    bench_tokio(&mut group, SPAWN_TASKS);
    // No may: each may coroutine stack is its own mmap, and with the default
    // vm.max_map_count (65530) spawning fails with ENOMEM at ~65,000 live
    // coroutines (may 0.3.51 panics "failed to alloc sys stack" in a worker
    // and the process then hangs), so 200,000 alive at once cannot run.
    // No std: 200,000 OS threads at once is not a sensible workload.
    group.finish();
}

fn spawn_join_batch_1k(c: &mut Criterion) {
    let mut group = c.benchmark_group("spawn_join_batch_1k");
    // std needs ~20 ms per batch; 20 samples keep it within a few seconds.
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .throughput(Throughput::Elements(SPAWN_BATCH as u64));
    bench_rt(&mut group, SPAWN_BATCH);
    bench_may(&mut group, SPAWN_BATCH);
    bench_tokio(&mut group, SPAWN_BATCH);
    bench_std(&mut group, SPAWN_BATCH);
    group.finish();
}

criterion_group!(benches, spawn_join_200k, spawn_join_batch_1k);
criterion_main!(benches);
