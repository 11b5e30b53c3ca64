//! spawn_join (BENCHMARKS.md): spawn empty tasks, all alive at once, then
//! join them all; and the same in batches of 1,000. Two workers for every
//! peer. Criterion reports time per task (Throughput::Elements).
//!
//! `cargo bench -p rt-benches --bench spawn_join`; Go: `benches/go`.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use rt_benches::{SPAWN_BATCH, SPAWN_TASKS};

const WORKERS: usize = 2;

/// Time `iters` runs of "spawn `total` tasks in batches of `batch`, each
/// batch spawned completely before any of it is joined".
fn rt_run(runtime: &rt::Runtime, iters: u64, total: usize, batch: usize) -> Duration {
    runtime.block_on(|| {
        let start = Instant::now();
        for _ in 0..iters {
            for _ in 0..total / batch {
                let handles: Vec<_> = (0..batch).map(|_| rt::spawn(|| ())).collect();
                for handle in handles {
                    handle.join().unwrap();
                }
            }
        }
        start.elapsed()
    })
}

fn tokio_run(
    runtime: &tokio::runtime::Runtime,
    iters: u64,
    total: usize,
    batch: usize,
) -> Duration {
    runtime.block_on(async {
        let start = Instant::now();
        for _ in 0..iters {
            for _ in 0..total / batch {
                let handles: Vec<_> = (0..batch).map(|_| tokio::spawn(async {})).collect();
                for handle in handles {
                    handle.await.unwrap();
                }
            }
        }
        start.elapsed()
    })
}

fn may_run(iters: u64, total: usize, batch: usize) -> Duration {
    // Like the others, spawn and join from inside the runtime.
    // SAFETY: the closure uses no thread-local storage (may's contract).
    let timer = unsafe { may::coroutine::spawn(move || may_batches(iters, total, batch)) };
    timer.join().unwrap()
}

fn may_batches(iters: u64, total: usize, batch: usize) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        for _ in 0..total / batch {
            // SAFETY: the closure uses no thread-local storage.
            let handles: Vec<_> = (0..batch)
                .map(|_| unsafe { may::coroutine::spawn(|| ()) })
                .collect();
            for handle in handles {
                handle.join().unwrap();
            }
        }
    }
    start.elapsed()
}

fn std_run(iters: u64, total: usize, batch: usize) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        for _ in 0..total / batch {
            let handles: Vec<_> = (0..batch).map(|_| std::thread::spawn(|| ())).collect();
            for handle in handles {
                handle.join().unwrap();
            }
        }
    }
    start.elapsed()
}

fn configure(group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>, total: usize) {
    group.throughput(Throughput::Elements(total as u64));
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(5));
}

fn spawn_join(c: &mut Criterion) {
    let rt_runtime = rt::Builder::new().workers(WORKERS).build().unwrap();
    let tokio_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .build()
        .unwrap();
    may::config().set_workers(WORKERS);

    let mut group = c.benchmark_group("spawn_join_200k");
    configure(&mut group, SPAWN_TASKS);
    group.bench_function("rt", |b| {
        b.iter_custom(|n| rt_run(&rt_runtime, n, SPAWN_TASKS, SPAWN_TASKS))
    });
    group.bench_function("tokio", |b| {
        b.iter_custom(|n| tokio_run(&tokio_runtime, n, SPAWN_TASKS, SPAWN_TASKS))
    });
    // may maps each stack separately (mmap + guard page = 2 mappings), so
    // 200,000 live coroutines exceed vm.max_map_count (65,530): it cannot
    // run this variant with default kernel settings. std: 200,000 OS
    // threads at once is not a sensible configuration either.
    group.finish();

    let mut group = c.benchmark_group("spawn_join_batch_1k");
    configure(&mut group, SPAWN_TASKS);
    group.bench_function("rt", |b| {
        b.iter_custom(|n| rt_run(&rt_runtime, n, SPAWN_TASKS, SPAWN_BATCH))
    });
    group.bench_function("tokio", |b| {
        b.iter_custom(|n| tokio_run(&tokio_runtime, n, SPAWN_TASKS, SPAWN_BATCH))
    });
    group.bench_function("may", |b| {
        b.iter_custom(|n| may_run(n, SPAWN_TASKS, SPAWN_BATCH))
    });
    group.bench_function("std", |b| {
        b.iter_custom(|n| std_run(n, SPAWN_TASKS, SPAWN_BATCH))
    });
    group.finish();
}

criterion_group!(benches, spawn_join);
criterion_main!(benches);
