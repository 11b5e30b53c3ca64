//! timer churn (issue #4): 100,000 tasks each sleep 1 ms once, 2 workers;
//! every task's timer is registered, fires and wakes it. Reported per timer
//! (the 1 ms itself is included once per iteration, 10 ns per timer).
//!
//! `cargo bench -p rt-benches --bench timers`

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};

const TASKS: usize = 100_000;
const WORKERS: usize = 2;
const NAP: Duration = Duration::from_millis(1);

fn timer_churn(c: &mut Criterion) {
    let mut group = c.benchmark_group("timer_churn");
    group.throughput(Throughput::Elements(TASKS as u64));
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(5));

    let runtime = rt::Builder::new().workers(WORKERS).build().unwrap();
    group.bench_function("rt", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(|| {
                let start = Instant::now();
                for _ in 0..iters {
                    let hs: Vec<_> = (0..TASKS).map(|_| rt::spawn(|| rt::sleep(NAP))).collect();
                    hs.into_iter().for_each(|h| h.join().unwrap());
                }
                start.elapsed()
            })
        })
    });

    let tokio_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .enable_time()
        .build()
        .unwrap();
    group.bench_function("tokio", |b| {
        b.iter_custom(|iters| {
            tokio_rt.block_on(async {
                tokio::spawn(async move {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let hs: Vec<_> = (0..TASKS)
                            .map(|_| tokio::spawn(tokio::time::sleep(NAP)))
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
    group.finish();
}

criterion_group!(benches, timer_churn);
criterion_main!(benches);
