//! Instruction counts of the hottest paths, for `valgrind --tool=callgrind`
//! (which counts instructions, not seconds: the same on a busy or an idle
//! machine, so two builds can be compared exactly). One worker, `N` rounds
//! (default 100,000) of one workload:
//!
//! - `pingpong`: a rendezvous-channel round trip between two coroutines,
//! - `yield`: two coroutines yielding to each other,
//! - `spawn`: spawn and join, in batches of 1,000,
//! - `select_ready`: a `select!` over four receive arms, one of them ready
//!   (a value buffered just before; the send is counted too),
//! - `select_default`: a `select!` over two empty channels with `default`,
//! - `select_pingpong`: `pingpong` where the echo side waits in a `select!`
//!   over its channel and a second, idle one,
//! - `defer_macro` / `scopeguard`: inside a coroutine, a block with one
//!   `rt::defer!` (counted in the coroutine's defer chain) / one
//!   `scopeguard::defer!` that increments a counter.
//!
//! `cargo bench -p rt-benches --bench switch_instructions --no-run`, then
//! `valgrind --tool=callgrind target/release/deps/switch_instructions-* pingpong`
//! and divide the total by N. Without valgrind it prints ns per round.

use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    let what = args.next().unwrap_or_else(|| "pingpong".into());
    let n: u64 = args.next().map_or(100_000, |s| s.parse().expect("N"));
    let runtime = rt::Builder::new().workers(1).build().expect("runtime");
    let start = Instant::now();
    runtime.block_on(|| match what.as_str() {
        "pingpong" => {
            let (tx1, rx1) = rt::chan::bounded::<u64>(0);
            let (tx2, rx2) = rt::chan::bounded::<u64>(0);
            let echo = rt::spawn(move || {
                for v in rx1.iter() {
                    tx2.send(v + 1).unwrap();
                }
            });
            for i in 0..n {
                tx1.send(i).unwrap();
                assert_eq!(rx2.recv().unwrap(), i + 1);
            }
            drop(tx1);
            echo.join().unwrap();
        }
        "yield" => {
            let other = rt::spawn(move || (0..n).for_each(|_| rt::yield_now()));
            (0..n).for_each(|_| rt::yield_now());
            other.join().unwrap();
        }
        "spawn" => {
            for _ in 0..n / 1000 {
                let handles: Vec<_> = (0..1000).map(|_| rt::spawn(|| ())).collect();
                handles.into_iter().for_each(|h| h.join().unwrap());
            }
        }
        "select_ready" => {
            let chans: Vec<_> = (0..4).map(|_| rt::chan::bounded::<u64>(1)).collect();
            let [(_, a), (_, b), (tx, c), (_, d)] = &chans[..] else {
                unreachable!()
            };
            let mut sum = 0;
            for i in 0..n {
                tx.send(i).unwrap();
                rt::select! {
                    recv(a) -> v => sum += v.unwrap(),
                    recv(b) -> v => sum += v.unwrap(),
                    recv(c) -> v => sum += v.unwrap(),
                    recv(d) -> v => sum += v.unwrap(),
                }
            }
            assert_eq!(sum, n * (n - 1) / 2);
        }
        "select_default" => {
            let (_tx1, rx1) = rt::chan::bounded::<u64>(1);
            let (_tx2, rx2) = rt::chan::bounded::<u64>(1);
            let mut defaults = 0;
            for _ in 0..n {
                rt::select! {
                    recv(rx1) -> _ => unreachable!(),
                    recv(rx2) -> _ => unreachable!(),
                    default => defaults += 1,
                }
            }
            assert_eq!(defaults, n);
        }
        "select_pingpong" => {
            let (tx1, rx1) = rt::chan::bounded::<u64>(0);
            let (tx2, rx2) = rt::chan::bounded::<u64>(0);
            let (_idle_tx, idle_rx) = rt::chan::bounded::<u64>(0);
            let echo = rt::spawn(move || loop {
                rt::select! {
                    recv(rx1) -> v => match v {
                        Ok(v) => tx2.send(v + 1).unwrap(),
                        Err(_) => break,
                    },
                    recv(idle_rx) -> _ => unreachable!(),
                }
            });
            for i in 0..n {
                tx1.send(i).unwrap();
                assert_eq!(rx2.recv().unwrap(), i + 1);
            }
            drop(tx1);
            echo.join().unwrap();
        }
        "defer_macro" => {
            let count = std::cell::Cell::new(0u64);
            for _ in 0..n {
                let count = std::hint::black_box(&count);
                rt::defer! { count.set(count.get() + 1) }
            }
            assert_eq!(count.get(), n);
        }
        "scopeguard" => {
            let count = std::cell::Cell::new(0u64);
            for _ in 0..n {
                let count = std::hint::black_box(&count);
                scopeguard::defer! { count.set(count.get() + 1) }
            }
            assert_eq!(count.get(), n);
        }
        other => panic!(
            "unknown workload {other}: pingpong, yield, spawn, select_ready, select_default, select_pingpong, defer_macro or scopeguard"
        ),
    });
    let ns = start.elapsed().as_nanos() as f64 / n as f64;
    println!("switch_instructions/{what}: {n} rounds, {ns:.1} ns per round");
}
