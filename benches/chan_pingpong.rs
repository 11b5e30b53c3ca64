//! chan_pingpong (BENCHMARKS.md): two tasks bounce a `u64` over a pair of
//! rendezvous channels, 500,000 round trips per run. One group per worker
//! count, `chan_pingpong_1w` and `chan_pingpong_2w`, one function per peer;
//! `Throughput::Elements` = 500,000 makes criterion report time per round
//! trip.
//!
//! One run: an echo task answers every `v` received on `ping` with `v + 1` on
//! `pong` until `ping` closes; a driver task sends 0..500,000 on `ping` and
//! checks each reply. Both are tasks of the runtime under test, spawned per
//! run; the clock runs inside that runtime, from before the two spawns to
//! after both are joined.
//!
//! Channels and workers per peer:
//!
//! - rt: `rt::chan::bounded(0)` (rendezvous); `Builder::workers(n)`.
//! - tokio: `tokio::sync::mpsc::channel(1)`. tokio has no rendezvous
//!   channel; capacity 1 is the closest (a send completes without waiting
//!   for the receiver to take the value). 1 worker: the current-thread
//!   runtime; 2 workers: the multi-thread runtime with 2 worker threads.
//! - may: `may::sync::mpsc::channel()`. may 0.3.51 has no bounded channel at
//!   all (its mpsc, mpmc and spsc channels are all unbounded), so this is
//!   the closest: in a ping-pong at most one value is in flight per channel,
//!   but a send never waits for the receiver. `may::config().set_workers(n)`.
//! - std: `std::sync::mpsc::sync_channel(0)` (rendezvous) between two OS
//!   threads. In `chan_pingpong_2w` only: OS threads have no worker count,
//!   the kernel runs them on every core (2 on the reference machine). Slow:
//!   every hand-off is a futex wake-up, 10-60 us per round trip on the
//!   reference VM, so one run takes 5-30 s and the function several
//!   minutes; `benches/peers.sh` leaves it out.
//! - Go: unbuffered channels on GOMAXPROCS 1 and 2 (`benches/go`).
//!
//! may's worker count is global and fixed when its scheduler starts (the
//! first spawn), so one process runs may with one count only. The first may
//! function to run sets it; a may function that needs the other count (both
//! groups in one `cargo bench`) runs each `iter_custom` batch in a child
//! process of this executable instead (environment `CHAN_PINGPONG_MAY=
//! workers,iters`), which prints the elapsed nanoseconds measured the same
//! way. `benches/peers.sh` runs every function in its own process, so there
//! may always runs in-process.
//!
//! `cargo bench -p rt-benches --bench chan_pingpong`; Go: `benches/go`.

use std::env;
use std::process::{Command, Stdio};
use std::sync::{mpsc, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, SamplingMode, Throughput};
use rt_benches::PINGPONG_ROUND_TRIPS;

const ROUND_TRIPS: u64 = PINGPONG_ROUND_TRIPS as u64;

/// Set in a child process that runs the may workload (see the module docs).
const MAY_CHILD_ENV: &str = "CHAN_PINGPONG_MAY";

fn rt_run(runtime: &rt::Runtime, iters: u64) -> Duration {
    runtime.block_on(|| {
        let start = Instant::now();
        for _ in 0..iters {
            let (ping_tx, ping_rx) = rt::chan::bounded::<u64>(0);
            let (pong_tx, pong_rx) = rt::chan::bounded::<u64>(0);
            let echo = rt::spawn(move || {
                while let Ok(v) = ping_rx.recv() {
                    pong_tx.send(v + 1).unwrap();
                }
            });
            // Dropping `ping_tx` at the end closes `ping`: the echo task's
            // recv fails and it returns.
            let driver = rt::spawn(move || {
                for i in 0..ROUND_TRIPS {
                    ping_tx.send(i).unwrap();
                    assert_eq!(pong_rx.recv().unwrap(), i + 1);
                }
            });
            driver.join().unwrap();
            echo.join().unwrap();
        }
        start.elapsed()
    })
}

fn bench_rt(group: &mut BenchmarkGroup<'_, WallTime>, workers: usize) {
    let runtime = rt::Builder::new().workers(workers).build().unwrap();
    group.bench_function("rt", |b| b.iter_custom(|n| rt_run(&runtime, n)));
}

fn tokio_run(runtime: &tokio::runtime::Runtime, iters: u64) -> Duration {
    runtime.block_on(async move {
        // Time inside a spawned task: on the multi-thread runtime `block_on`
        // polls on this thread, outside the workers.
        tokio::spawn(async move {
            let start = Instant::now();
            for _ in 0..iters {
                let (ping_tx, mut ping_rx) = tokio::sync::mpsc::channel::<u64>(1);
                let (pong_tx, mut pong_rx) = tokio::sync::mpsc::channel::<u64>(1);
                let echo = tokio::spawn(async move {
                    while let Some(v) = ping_rx.recv().await {
                        pong_tx.send(v + 1).await.unwrap();
                    }
                });
                let driver = tokio::spawn(async move {
                    for i in 0..ROUND_TRIPS {
                        ping_tx.send(i).await.unwrap();
                        assert_eq!(pong_rx.recv().await, Some(i + 1));
                    }
                });
                driver.await.unwrap();
                echo.await.unwrap();
            }
            start.elapsed()
        })
        .await
        .unwrap()
    })
}

fn bench_tokio(group: &mut BenchmarkGroup<'_, WallTime>, workers: usize) {
    let runtime = if workers == 1 {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .build()
            .unwrap()
    };
    group.bench_function("tokio", |b| b.iter_custom(|n| tokio_run(&runtime, n)));
}

/// One run of the may workload, called from a may coroutine.
fn may_pingpong() {
    let (ping_tx, ping_rx) = may::sync::mpsc::channel::<u64>();
    let (pong_tx, pong_rx) = may::sync::mpsc::channel::<u64>();
    // SAFETY: may 0.3 makes spawn unsafe; the coroutines touch no
    // thread-locals and stay far within may's default stack.
    let echo = unsafe {
        may::coroutine::spawn(move || {
            while let Ok(v) = ping_rx.recv() {
                pong_tx.send(v + 1).unwrap();
            }
        })
    };
    // SAFETY: as above.
    let driver = unsafe {
        may::coroutine::spawn(move || {
            for i in 0..ROUND_TRIPS {
                ping_tx.send(i).unwrap();
                assert_eq!(pong_rx.recv().unwrap(), i + 1);
            }
        })
    };
    driver.join().unwrap();
    echo.join().unwrap();
}

/// `iters` runs timed inside a may coroutine; may's workers must be set.
fn may_run(iters: u64) -> Duration {
    // SAFETY: see `may_pingpong`.
    let timer = unsafe {
        may::coroutine::spawn(move || {
            let start = Instant::now();
            for _ in 0..iters {
                may_pingpong();
            }
            start.elapsed()
        })
    };
    timer.join().unwrap()
}

/// `may_run` on `workers` workers: in this process if may's scheduler runs
/// (or will start) with that count, else in a child process.
fn may_measure(workers: usize, iters: u64) -> Duration {
    static MAY_WORKERS: OnceLock<usize> = OnceLock::new();
    let configured = *MAY_WORKERS.get_or_init(|| {
        // Read when may's scheduler starts, on the first spawn in `may_run`.
        may::config().set_workers(workers);
        workers
    });
    if configured == workers {
        return may_run(iters);
    }
    let out = Command::new(env::current_exe().unwrap())
        .env(MAY_CHILD_ENV, format!("{workers},{iters}"))
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "may child process failed: {}",
        out.status
    );
    let ns = String::from_utf8(out.stdout).unwrap();
    Duration::from_nanos(ns.trim().parse().unwrap())
}

/// The child process side of `may_measure`: `spec` is `workers,iters`.
fn may_child(spec: &str) {
    let (workers, iters) = spec
        .split_once(',')
        .unwrap_or_else(|| panic!("{MAY_CHILD_ENV}={spec}: expected workers,iters"));
    may::config().set_workers(workers.parse().unwrap());
    println!("{}", may_run(iters.parse().unwrap()).as_nanos());
}

fn bench_may(group: &mut BenchmarkGroup<'_, WallTime>, workers: usize) {
    group.bench_function("may", |b| b.iter_custom(|n| may_measure(workers, n)));
}

fn std_run(iters: u64) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        let (ping_tx, ping_rx) = mpsc::sync_channel::<u64>(0);
        let (pong_tx, pong_rx) = mpsc::sync_channel::<u64>(0);
        let echo = thread::spawn(move || {
            while let Ok(v) = ping_rx.recv() {
                pong_tx.send(v + 1).unwrap();
            }
        });
        let driver = thread::spawn(move || {
            for i in 0..ROUND_TRIPS {
                ping_tx.send(i).unwrap();
                assert_eq!(pong_rx.recv().unwrap(), i + 1);
            }
        });
        driver.join().unwrap();
        echo.join().unwrap();
    }
    start.elapsed()
}

fn bench_std(group: &mut BenchmarkGroup<'_, WallTime>) {
    group.bench_function("std", |b| b.iter_custom(std_run));
}

fn chan_pingpong(c: &mut Criterion, workers: usize) {
    let mut group = c.benchmark_group(format!("chan_pingpong_{workers}w"));
    // One iteration is 500,000 round trips (tens to hundreds of
    // milliseconds): flat sampling runs 10 of them per sample instead of
    // linear sampling's 55.
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .throughput(Throughput::Elements(ROUND_TRIPS));
    // Each runtime is built just before its function runs and dropped after,
    // so no other peer's idle workers share the cores.
    bench_rt(&mut group, workers);
    bench_may(&mut group, workers);
    bench_tokio(&mut group, workers);
    if workers > 1 {
        bench_std(&mut group);
    }
    group.finish();
}

fn chan_pingpong_1w(c: &mut Criterion) {
    chan_pingpong(c, 1);
}

fn chan_pingpong_2w(c: &mut Criterion) {
    chan_pingpong(c, 2);
}

// `criterion_main!` written out, so that a may child process (see the module
// docs) runs its workload instead of criterion.
fn main() {
    if let Ok(spec) = env::var(MAY_CHILD_ENV) {
        may_child(&spec);
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    chan_pingpong_1w(&mut c);
    chan_pingpong_2w(&mut c);
    c.final_summary();
}
