//! Two-worker workloads whose cost is decided by cross-worker hand-offs,
//! each printed as one line, for many fresh processes in a row (placement
//! and spinning are decided per process): `pingpong` (the two coroutines
//! busy 3 ms first, so that they start on different workers), `fresh`
//! (the same pair, placed by the runtime), `together`
//! and `apart` (4 stages over `bounded(16)`, 300,000 items, started
//! together or each busy 3 ms first), `hub` and `hub-work` (64 clients
//! send requests to one hub coroutine and wait for its reply on a channel
//! of their own, 200,000 requests; with ~1.5 µs of client work per request
//! in `hub-work`), `pool` (a producer, 8 pool coroutines doing ~1.5 µs
//! of work per job over one `bounded(64)` channel, a collector; 200,000
//! jobs), `mpmc` (4 producers and 4 consumers on one `bounded(128)`
//! channel, 1,000,000 items, no work), `idle` and `ticker` (CPU of an idle
//! runtime, and of one with a 1 ms ticker, over 3 s). `tokio-pingpong`,
//! `tokio-together` and `tokio-apart` are the same on tokio's multi-thread
//! runtime with 2 workers (`mpsc::channel(1)` for the rendezvous,
//! `channel(16)` for the stages), and `tokio-hub`, `tokio-hub-work`,
//! `tokio-ticker` (`tokio::time::interval`); Go's
//! are `BenchmarkPipeline4*`, `BenchmarkChanPingPong2`, `BenchmarkHub*`,
//! `BenchmarkPool` and `BenchmarkMPMC` in `benches/go` (tokio has no MPMC
//! channel: no tokio peer for those two).
//!
//! `cargo bench -p rt-benches --bench two_workers --no-run`, then run the
//! executable with one of the names above (`RT_WORKERS=n`: rt on n
//! workers instead of 2).

use std::time::{Duration, Instant};

/// User + system CPU seconds of this process so far.
fn cpu_secs() -> f64 {
    // SAFETY: an all-zero rusage is a valid value of the plain C struct.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid, writable rusage.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(u.ru_utime) + t(u.ru_stime)
}

fn main() {
    let what = std::env::args().nth(1).unwrap_or_default();
    let workers = std::env::var("RT_WORKERS").map_or(2, |w| w.parse().unwrap());
    let rt = rt::Builder::new().workers(workers).build().unwrap();
    match what.as_str() {
        "pingpong" | "fresh" => {
            const N: u64 = 200_000;
            // `pingpong` forces the pair apart; `fresh` leaves placement
            // to the runtime (BENCHMARKS.md's pingpong_fresh).
            let apart = what == "pingpong";
            let ns = rt.block_on(|| {
                let (tx1, rx1) = rt::chan::bounded::<u64>(0);
                let (tx2, rx2) = rt::chan::bounded::<u64>(0);
                let echo = rt::spawn(move || {
                    // Busy first, so that the other worker steals the driver.
                    if apart {
                        busy_3ms();
                    }
                    for v in rx1.iter() {
                        tx2.send(v + 1).unwrap();
                    }
                });
                let driver = rt::spawn(move || {
                    if apart {
                        busy_3ms();
                    }
                    let start = Instant::now();
                    for i in 0..N {
                        tx1.send(i).unwrap();
                        assert_eq!(rx2.recv().unwrap(), i + 1);
                    }
                    start.elapsed().as_nanos() as f64 / N as f64
                });
                let ns = driver.join().unwrap();
                echo.join().unwrap();
                ns
            });
            let m = rt.metrics();
            let homes: Vec<u64> = m.workers.iter().map(|w| w.finished).collect();
            println!(
                "{what}2w {ns:.0} ns/rt cpu {:.2}s steals {} finished per worker {homes:?}",
                cpu_secs(),
                m.steals
            );
        }
        "together" | "apart" => {
            const N: u64 = 300_000;
            let apart = what == "apart";
            let ns = rt.block_on(move || {
                let (tx0, mut rx) = rt::chan::bounded::<u64>(16);
                let mut stages = Vec::new();
                for _ in 0..3 {
                    let (tx, next_rx) = rt::chan::bounded::<u64>(16);
                    let input = rx;
                    stages.push(rt::spawn(move || {
                        if apart {
                            let t = Instant::now();
                            while t.elapsed() < Duration::from_millis(3) {}
                        }
                        for v in input.iter() {
                            tx.send(v + 1).unwrap();
                        }
                    }));
                    rx = next_rx;
                }
                let sink = rt::spawn(move || rx.iter().count() as u64);
                let start = Instant::now();
                let producer = rt::spawn(move || {
                    if apart {
                        let t = Instant::now();
                        while t.elapsed() < Duration::from_millis(3) {}
                    }
                    for i in 0..N {
                        tx0.send(i).unwrap();
                    }
                });
                producer.join().unwrap();
                stages.into_iter().for_each(|s| s.join().unwrap());
                assert_eq!(sink.join().unwrap(), N);
                start.elapsed().as_nanos() as f64 / N as f64
            });
            println!("pipeline-{what} {ns:.0} ns/item cpu {:.2}s", cpu_secs());
        }
        "hub" | "hub-work" => {
            let work = what == "hub-work";
            let ns = rt.block_on(move || {
                let (requests, hub_rx) = rt::chan::bounded::<usize>(HUB_CLIENTS);
                let mut replies = Vec::new();
                let mut clients = Vec::new();
                for client in 0..HUB_CLIENTS {
                    let (reply_tx, reply_rx) = rt::chan::bounded::<u64>(1);
                    replies.push(reply_tx);
                    let requests = requests.clone();
                    clients.push(rt::spawn(move || {
                        for _ in 0..HUB_REQUESTS / HUB_CLIENTS {
                            if work {
                                client_work();
                            }
                            requests.send(client).unwrap();
                            reply_rx.recv().unwrap();
                        }
                    }));
                }
                drop(requests);
                let start = Instant::now();
                let hub = rt::spawn(move || {
                    let mut served = 0u64;
                    for client in hub_rx.iter() {
                        served += 1;
                        replies[client].send(served).unwrap();
                    }
                    served
                });
                clients.into_iter().for_each(|c| c.join().unwrap());
                assert_eq!(hub.join().unwrap(), HUB_REQUESTS as u64);
                start.elapsed().as_nanos() as f64 / HUB_REQUESTS as f64
            });
            let homes: Vec<u64> = rt.metrics().workers.iter().map(|w| w.finished).collect();
            println!(
                "{what} {ns:.0} ns/request cpu {:.2}s finished per worker {homes:?}",
                cpu_secs()
            );
        }
        "pool" => {
            // A producer feeds jobs to POOL_WORKERS coroutines over one
            // bounded channel; they do ~1.5 µs of work each and send the
            // result to a collector over another.
            let ns = rt.block_on(move || {
                let (jobs, jobs_rx) = rt::chan::bounded::<u64>(64);
                let (results, results_rx) = rt::chan::bounded::<u64>(64);
                let start = Instant::now();
                let pool: Vec<_> = (0..POOL_WORKERS)
                    .map(|_| {
                        let (jobs_rx, results) = (jobs_rx.clone(), results.clone());
                        rt::spawn(move || {
                            for job in jobs_rx.iter() {
                                client_work();
                                results.send(job * 2).unwrap();
                            }
                        })
                    })
                    .collect();
                drop((jobs_rx, results));
                let collector = rt::spawn(move || results_rx.iter().sum::<u64>());
                for job in 0..POOL_JOBS {
                    jobs.send(job).unwrap();
                }
                drop(jobs);
                pool.into_iter().for_each(|w| w.join().unwrap());
                assert_eq!(collector.join().unwrap(), POOL_JOBS * (POOL_JOBS - 1));
                start.elapsed().as_nanos() as f64 / POOL_JOBS as f64
            });
            println!("pool {ns:.0} ns/job cpu {:.2}s", cpu_secs());
        }
        "mpmc" => {
            // MPMC_SIDES producers and as many consumers on one channel.
            let ns = rt.block_on(move || {
                let (tx, rx) = rt::chan::bounded::<u64>(128);
                let start = Instant::now();
                let per = MPMC_ITEMS / MPMC_SIDES as u64;
                let producers: Vec<_> = (0..MPMC_SIDES)
                    .map(|_| {
                        let tx = tx.clone();
                        rt::spawn(move || (0..per).for_each(|i| tx.send(i).unwrap()))
                    })
                    .collect();
                drop(tx);
                let consumers: Vec<_> = (0..MPMC_SIDES)
                    .map(|_| {
                        let rx = rx.clone();
                        rt::spawn(move || rx.iter().count() as u64)
                    })
                    .collect();
                producers.into_iter().for_each(|p| p.join().unwrap());
                let got: u64 = consumers.into_iter().map(|c| c.join().unwrap()).sum();
                assert_eq!(got, per * MPMC_SIDES as u64);
                start.elapsed().as_nanos() as f64 / got as f64
            });
            let m = rt.metrics();
            let per_worker: Vec<_> = (m.workers.iter())
                .map(|w| (w.finished, w.remote_wakes))
                .collect();
            println!(
                "mpmc {ns:.0} ns/item cpu {:.2}s (finished, remote wakes) per worker {per_worker:?}",
                cpu_secs()
            );
        }
        "idle" => {
            let c0 = cpu_secs();
            std::thread::sleep(Duration::from_secs(3));
            println!("idle cpu {:.2}% of a core", (cpu_secs() - c0) / 3.0 * 100.0);
        }
        "ticker" => {
            let c0 = cpu_secs();
            rt.block_on(|| {
                let ticker = rt::Ticker::new(Duration::from_millis(1));
                let end = Instant::now() + Duration::from_secs(3);
                while Instant::now() < end {
                    ticker.tick();
                }
            });
            println!(
                "ticker cpu {:.2}% of a core",
                (cpu_secs() - c0) / 3.0 * 100.0
            );
        }
        "tokio-ticker" => {
            let c0 = cpu_secs();
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_time()
                .build()
                .unwrap();
            runtime.block_on(async {
                let mut interval = tokio::time::interval(Duration::from_millis(1));
                let end = Instant::now() + Duration::from_secs(3);
                while Instant::now() < end {
                    interval.tick().await;
                }
            });
            println!(
                "tokio-ticker cpu {:.2}% of a core",
                (cpu_secs() - c0) / 3.0 * 100.0
            );
        }
        "tokio-pingpong" => tokio_pingpong(),
        "tokio-hub" | "tokio-hub-work" => tokio_hub(what == "tokio-hub-work"),
        "tokio-together" | "tokio-apart" => tokio_pipeline(what == "tokio-apart"),
        _ => panic!(
            "pingpong | fresh | together | apart | hub | hub-work | pool | mpmc | idle | ticker | tokio-pingpong | tokio-together | tokio-apart | tokio-hub | tokio-hub-work | tokio-ticker"
        ),
    }
}

/// The worker pool's coroutines, and its jobs.
const POOL_WORKERS: usize = 8;
const POOL_JOBS: u64 = 200_000;
/// Producers (and consumers) of the MPMC workload, and items in all.
const MPMC_SIDES: usize = 4;
const MPMC_ITEMS: u64 = 1_000_000;

/// Clients of the hub workloads, and requests in all.
const HUB_CLIENTS: usize = 64;
const HUB_REQUESTS: usize = 200_000;

/// About 1.5 µs of a client's own work per request (`hub-work`): a busy
/// wait on the clock, the same for every peer.
fn client_work() {
    let t = Instant::now();
    while t.elapsed() < Duration::from_nanos(1500) {}
}

fn tokio_hub(work: bool) {
    let ns = tokio_runtime().block_on(async move {
        let (requests, mut hub_rx) = tokio::sync::mpsc::channel::<usize>(HUB_CLIENTS);
        let mut replies = Vec::new();
        let mut clients = Vec::new();
        for client in 0..HUB_CLIENTS {
            let (reply_tx, mut reply_rx) = tokio::sync::mpsc::channel::<u64>(1);
            replies.push(reply_tx);
            let requests = requests.clone();
            clients.push(tokio::spawn(async move {
                for _ in 0..HUB_REQUESTS / HUB_CLIENTS {
                    if work {
                        client_work();
                    }
                    requests.send(client).await.unwrap();
                    reply_rx.recv().await.unwrap();
                }
            }));
        }
        drop(requests);
        let start = Instant::now();
        let hub = tokio::spawn(async move {
            let mut served = 0u64;
            while let Some(client) = hub_rx.recv().await {
                served += 1;
                replies[client].send(served).await.unwrap();
            }
            served
        });
        for client in clients {
            client.await.unwrap();
        }
        assert_eq!(hub.await.unwrap(), HUB_REQUESTS as u64);
        start.elapsed().as_nanos() as f64 / HUB_REQUESTS as f64
    });
    let what = if work { "tokio-hub-work" } else { "tokio-hub" };
    println!("{what} {ns:.0} ns/request cpu {:.2}s", cpu_secs());
}

fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap()
}

/// Busy for 3 ms, as the rt stages are when started apart.
fn busy_3ms() {
    let t = Instant::now();
    while t.elapsed() < Duration::from_millis(3) {}
}

fn tokio_pingpong() {
    const N: u64 = 200_000;
    let ns = tokio_runtime().block_on(async {
        let (tx1, mut rx1) = tokio::sync::mpsc::channel::<u64>(1);
        let (tx2, mut rx2) = tokio::sync::mpsc::channel::<u64>(1);
        let echo = tokio::spawn(async move {
            busy_3ms();
            while let Some(v) = rx1.recv().await {
                tx2.send(v + 1).await.unwrap();
            }
        });
        let driver = tokio::spawn(async move {
            busy_3ms();
            let start = Instant::now();
            for i in 0..N {
                tx1.send(i).await.unwrap();
                assert_eq!(rx2.recv().await, Some(i + 1));
            }
            start.elapsed().as_nanos() as f64 / N as f64
        });
        let ns = driver.await.unwrap();
        echo.await.unwrap();
        ns
    });
    println!("tokio-pingpong2w {ns:.0} ns/rt cpu {:.2}s", cpu_secs());
}

fn tokio_pipeline(apart: bool) {
    const N: u64 = 300_000;
    let ns = tokio_runtime().block_on(async move {
        let (tx0, mut rx) = tokio::sync::mpsc::channel::<u64>(16);
        let mut stages = Vec::new();
        for _ in 0..3 {
            let (tx, next_rx) = tokio::sync::mpsc::channel::<u64>(16);
            let mut input = rx;
            stages.push(tokio::spawn(async move {
                if apart {
                    busy_3ms();
                }
                while let Some(v) = input.recv().await {
                    tx.send(v + 1).await.unwrap();
                }
            }));
            rx = next_rx;
        }
        let sink = tokio::spawn(async move {
            let mut n = 0u64;
            while rx.recv().await.is_some() {
                n += 1;
            }
            n
        });
        let start = Instant::now();
        let producer = tokio::spawn(async move {
            if apart {
                busy_3ms();
            }
            for i in 0..N {
                tx0.send(i).await.unwrap();
            }
        });
        producer.await.unwrap();
        for stage in stages {
            stage.await.unwrap();
        }
        assert_eq!(sink.await.unwrap(), N);
        start.elapsed().as_nanos() as f64 / N as f64
    });
    let what = if apart { "apart" } else { "together" };
    println!(
        "tokio-pipeline-{what} {ns:.0} ns/item cpu {:.2}s",
        cpu_secs()
    );
}
