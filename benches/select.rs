//! select (issue 15): the cost of a select on one worker, `select!` against
//! the run-time [`rt::chan::Select`] (and tokio, and Go in `benches/go`).
//! The bar: `rt_dynamic` within 1.5 × `rt_macro` for the same arms.
//!
//! Three groups, one function per peer; one criterion iteration is one
//! select (or one round trip), so with `Throughput::Elements(1)` criterion
//! reports time per select. Every function runs `iter_custom`: the clock
//! runs inside the runtime under test (one runtime per peer, built once
//! and reused for every batch), around the whole batch of iterations; the
//! channels (and the `Select`) are set up once per batch, before the clock
//! starts.
//!
//! - `select_ready_of_4`: 4 channels of capacity 1. Each iteration sends
//!   one value into channel `i % 4` and then selects over the 4 receive
//!   arms: exactly one is ready, so the select never waits. The time is a
//!   buffered send plus a select.
//!   - `rt_macro`: `rt::select!` with four `recv(..)` arms.
//!   - `rt_dynamic`: an `rt::chan::Select` with four `recv` cases, built once
//!     per batch and reused; `select()` returns `Selected::Recv`.
//!   - `tokio`: current-thread runtime, `tokio::sync::mpsc::channel(1)`,
//!     `send(..).await` then `tokio::select!` over four `rx.recv()`
//!     branches (its default: branches polled from a random start).
//! - `select_default_of_2`: a select over 2 empty channels of capacity 1
//!   with a default arm; every iteration takes the default. tokio's select
//!   has no default arm, so it has no peer here.
//!   - `rt_macro`: `rt::select!{ recv(a) .., recv(b) .., default => .. }`.
//!   - `rt_dynamic`: `Select::try_select()` returning `None`.
//! - `select_pingpong`: two coroutines bounce a `u64`: a driver sends `i`
//!   on `ping` and waits for `i + 1` on `pong` with plain send / recv; the
//!   echo side waits in a select over `ping` and a second channel on which
//!   nothing is ever sent (its sender kept alive), and answers on `pong`.
//!   One iteration is one round trip (two hand-offs, one select). The
//!   driver is the timing coroutine itself; the echo is spawned per batch
//!   and returns when `ping` closes.
//!   - `rt_macro` / `rt_dynamic`: rendezvous channels
//!     (`rt::chan::bounded(0)`), the echo's select written with `select!` or
//!     a `Select` built once per batch.
//!   - `tokio`: current-thread runtime, `mpsc::channel(1)` (tokio has no
//!     rendezvous channel; capacity 1 is the closest, as in chan_pingpong),
//!     `tokio::select!` over `ping_rx.recv()` and the idle `recv()`.
//!   - Go: unbuffered channels on GOMAXPROCS 1 (`BenchmarkSelectPingPong`).
//!
//! Go peers: `BenchmarkSelectReadyOf4`, `BenchmarkSelectDefaultOf2` and
//! `BenchmarkSelectPingPong` in `benches/go/bench_test.go` (GOMAXPROCS 1,
//! ns/op = one select / one round trip).
//!
//! `cargo bench -p rt-benches --bench select`; Go: `benches/go`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use rt::chan::{Select, Selected};

/// Channels in `select_ready_of_4`.
const READY_ARMS: u64 = 4;

// ---- select_ready_of_4 ----

fn rt_ready_macro(runtime: &rt::Runtime, iters: u64) -> Duration {
    runtime.block_on(|| {
        let (tx0, rx0) = rt::chan::bounded::<u64>(1);
        let (tx1, rx1) = rt::chan::bounded::<u64>(1);
        let (tx2, rx2) = rt::chan::bounded::<u64>(1);
        let (tx3, rx3) = rt::chan::bounded::<u64>(1);
        let senders = [&tx0, &tx1, &tx2, &tx3];
        let mut sum = 0u64;
        let start = Instant::now();
        for i in 0..iters {
            senders[(i % READY_ARMS) as usize].send(i).unwrap();
            rt::select! {
                recv(rx0) -> v => sum += v.unwrap(),
                recv(rx1) -> v => sum += v.unwrap(),
                recv(rx2) -> v => sum += v.unwrap(),
                recv(rx3) -> v => sum += v.unwrap(),
            }
        }
        let elapsed = start.elapsed();
        assert_eq!(sum, iters * iters.saturating_sub(1) / 2);
        elapsed
    })
}

fn rt_ready_dynamic(runtime: &rt::Runtime, iters: u64) -> Duration {
    runtime.block_on(|| {
        let channels: Vec<_> = (0..READY_ARMS)
            .map(|_| rt::chan::bounded::<u64>(1))
            .collect();
        let mut select = Select::new();
        for (_, rx) in &channels {
            select.recv(rx);
        }
        let mut sum = 0u64;
        let start = Instant::now();
        for i in 0..iters {
            let k = (i % READY_ARMS) as usize;
            channels[k].0.send(i).unwrap();
            match select.select() {
                Selected::Recv { index, result } => {
                    debug_assert_eq!(index, k);
                    sum += result.unwrap();
                }
                Selected::Send { .. } => unreachable!("no send cases"),
            }
        }
        let elapsed = start.elapsed();
        assert_eq!(sum, iters * iters.saturating_sub(1) / 2);
        elapsed
    })
}

fn tokio_ready(runtime: &tokio::runtime::Runtime, iters: u64) -> Duration {
    use tokio::sync::mpsc::channel;
    runtime.block_on(async {
        let (tx0, mut rx0) = channel::<u64>(1);
        let (tx1, mut rx1) = channel::<u64>(1);
        let (tx2, mut rx2) = channel::<u64>(1);
        let (tx3, mut rx3) = channel::<u64>(1);
        let senders = [&tx0, &tx1, &tx2, &tx3];
        let mut sum = 0u64;
        let start = Instant::now();
        for i in 0..iters {
            senders[(i % READY_ARMS) as usize].send(i).await.unwrap();
            tokio::select! {
                v = rx0.recv() => sum += v.unwrap(),
                v = rx1.recv() => sum += v.unwrap(),
                v = rx2.recv() => sum += v.unwrap(),
                v = rx3.recv() => sum += v.unwrap(),
            }
        }
        let elapsed = start.elapsed();
        assert_eq!(sum, iters * iters.saturating_sub(1) / 2);
        elapsed
    })
}

// ---- select_default_of_2 ----

fn rt_default_macro(runtime: &rt::Runtime, iters: u64) -> Duration {
    runtime.block_on(|| {
        // The senders stay alive: a closed channel would be ready.
        let (_tx_a, rx_a) = rt::chan::bounded::<u64>(1);
        let (_tx_b, rx_b) = rt::chan::bounded::<u64>(1);
        let mut defaults = 0u64;
        let start = Instant::now();
        for _ in 0..iters {
            rt::select! {
                recv(rx_a) -> _ => unreachable!("empty"),
                recv(rx_b) -> _ => unreachable!("empty"),
                default => defaults += 1,
            }
        }
        let elapsed = start.elapsed();
        assert_eq!(black_box(defaults), iters);
        elapsed
    })
}

fn rt_default_dynamic(runtime: &rt::Runtime, iters: u64) -> Duration {
    runtime.block_on(|| {
        let (_tx_a, rx_a) = rt::chan::bounded::<u64>(1);
        let (_tx_b, rx_b) = rt::chan::bounded::<u64>(1);
        let mut select = Select::new();
        select.recv(&rx_a);
        select.recv(&rx_b);
        let mut defaults = 0u64;
        let start = Instant::now();
        for _ in 0..iters {
            match select.try_select() {
                None => defaults += 1,
                Some(_) => unreachable!("empty"),
            }
        }
        let elapsed = start.elapsed();
        assert_eq!(black_box(defaults), iters);
        elapsed
    })
}

// ---- select_pingpong ----

/// The driver side of `select_pingpong` on rt, timed: `iters` round trips,
/// then `ping` closes and the echo is joined.
fn rt_drive(
    ping_tx: rt::chan::Sender<u64>,
    pong_rx: rt::chan::Receiver<u64>,
    echo: rt::JoinHandle<()>,
    iters: u64,
) -> Duration {
    let start = Instant::now();
    for i in 0..iters {
        ping_tx.send(i).unwrap();
        assert_eq!(pong_rx.recv().unwrap(), i + 1);
    }
    let elapsed = start.elapsed();
    drop(ping_tx);
    echo.join().unwrap();
    elapsed
}

fn rt_pingpong_macro(runtime: &rt::Runtime, iters: u64) -> Duration {
    runtime.block_on(|| {
        let (ping_tx, ping_rx) = rt::chan::bounded::<u64>(0);
        let (pong_tx, pong_rx) = rt::chan::bounded::<u64>(0);
        // Kept alive until the echo is joined: nothing is ever sent on it.
        let (_idle_tx, idle_rx) = rt::chan::bounded::<u64>(0);
        let echo = rt::spawn(move || loop {
            rt::select! {
                recv(ping_rx) -> v => match v {
                    Ok(v) => pong_tx.send(v + 1).unwrap(),
                    Err(_) => break, // `ping` closed: done
                },
                recv(idle_rx) -> _ => unreachable!("idle channel"),
            }
        });
        rt_drive(ping_tx, pong_rx, echo, iters)
    })
}

fn rt_pingpong_dynamic(runtime: &rt::Runtime, iters: u64) -> Duration {
    runtime.block_on(|| {
        let (ping_tx, ping_rx) = rt::chan::bounded::<u64>(0);
        let (pong_tx, pong_rx) = rt::chan::bounded::<u64>(0);
        let (_idle_tx, idle_rx) = rt::chan::bounded::<u64>(0);
        let echo = rt::spawn(move || {
            let mut select = Select::new();
            let ping = select.recv(&ping_rx);
            select.recv(&idle_rx);
            loop {
                match select.select() {
                    Selected::Recv { index, result } if index == ping => match result {
                        Ok(v) => pong_tx.send(v + 1).unwrap(),
                        Err(_) => break,
                    },
                    _ => unreachable!("idle channel"),
                }
            }
        });
        rt_drive(ping_tx, pong_rx, echo, iters)
    })
}

fn tokio_pingpong(runtime: &tokio::runtime::Runtime, iters: u64) -> Duration {
    use tokio::sync::mpsc::channel;
    runtime.block_on(async {
        let (ping_tx, mut ping_rx) = channel::<u64>(1);
        let (pong_tx, mut pong_rx) = channel::<u64>(1);
        let (idle_tx, mut idle_rx) = channel::<u64>(1);
        let echo = tokio::spawn(async move {
            loop {
                tokio::select! {
                    v = ping_rx.recv() => match v {
                        Some(v) => pong_tx.send(v + 1).await.unwrap(),
                        None => break,
                    },
                    _ = idle_rx.recv() => unreachable!("idle channel"),
                }
            }
        });
        let start = Instant::now();
        for i in 0..iters {
            ping_tx.send(i).await.unwrap();
            assert_eq!(pong_rx.recv().await, Some(i + 1));
        }
        let elapsed = start.elapsed();
        drop(ping_tx);
        echo.await.unwrap();
        drop(idle_tx);
        elapsed
    })
}

// ---- groups ----

/// The settings every group shares: one select per iteration, ~3 s.
fn configure(group: &mut BenchmarkGroup<'_, WallTime>) {
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(1));
}

fn select(c: &mut Criterion) {
    // One worker each: rt with `workers(1)`, tokio's current-thread runtime.
    // rt's stuck-worker report is off: a batch of selects that never wait
    // runs for seconds without parking, by design, and each report would
    // interrupt the worker (a signal and a line on stderr).
    let rt_runtime = rt::Builder::new().workers(1).monitor(None).build().unwrap();
    let tokio_runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();

    let mut group = c.benchmark_group("select_ready_of_4");
    configure(&mut group);
    group.bench_function("rt_macro", |b| {
        b.iter_custom(|n| rt_ready_macro(&rt_runtime, n))
    });
    group.bench_function("rt_dynamic", |b| {
        b.iter_custom(|n| rt_ready_dynamic(&rt_runtime, n))
    });
    group.bench_function("tokio", |b| {
        b.iter_custom(|n| tokio_ready(&tokio_runtime, n))
    });
    group.finish();

    let mut group = c.benchmark_group("select_default_of_2");
    configure(&mut group);
    group.bench_function("rt_macro", |b| {
        b.iter_custom(|n| rt_default_macro(&rt_runtime, n))
    });
    group.bench_function("rt_dynamic", |b| {
        b.iter_custom(|n| rt_default_dynamic(&rt_runtime, n))
    });
    group.finish();

    let mut group = c.benchmark_group("select_pingpong");
    configure(&mut group);
    group.bench_function("rt_macro", |b| {
        b.iter_custom(|n| rt_pingpong_macro(&rt_runtime, n))
    });
    group.bench_function("rt_dynamic", |b| {
        b.iter_custom(|n| rt_pingpong_dynamic(&rt_runtime, n))
    });
    group.bench_function("tokio", |b| {
        b.iter_custom(|n| tokio_pingpong(&tokio_runtime, n))
    });
    group.finish();
}

criterion_group!(benches, select);
criterion_main!(benches);
