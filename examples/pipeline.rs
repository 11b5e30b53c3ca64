//! A pipeline with a worker pool, Go style: a producer feeds jobs into a
//! bounded channel, workers process them and send results on, a collector
//! gathers them — with `select!` for a quit signal and progress ticks, and
//! `rt::timeout` bounding a slow stage. No `async` anywhere.
//!
//! Run: `cargo run --release --example pipeline`

use std::time::{Duration, Instant};

/// Pretend work: count the primes below `n`.
fn primes_below(n: u64) -> u64 {
    (2..n)
        .filter(|&k| (2..).take_while(|d| d * d <= k).all(|d| k % d != 0))
        .count() as u64
}

fn main() {
    let runtime = rt::Builder::new().build().expect("start the runtime");
    runtime.block_on(|| {
        let start = Instant::now();
        let (jobs_tx, jobs_rx) = rt::chan::bounded::<u64>(64);
        let (results_tx, results_rx) = rt::chan::bounded::<(u64, u64)>(64);
        let (quit_tx, quit_rx) = rt::chan::bounded::<()>(0);

        // Stage 1: the producer stops early if asked to quit.
        let producer = rt::spawn(move || {
            let mut sent = 0;
            for n in (1_000..).step_by(7) {
                rt::select! {
                    send(jobs_tx, n) -> r => { r.expect("workers are alive"); sent += 1; }
                    recv(quit_rx) -> _ => break,
                }
            }
            sent // dropping jobs_tx closes the jobs channel
        });

        // Stage 2: eight workers share the jobs channel (mpmc).
        let workers: Vec<_> = (0..8)
            .map(|_| {
                let (jobs, results) = (jobs_rx.clone(), results_tx.clone());
                rt::spawn(move || {
                    for n in &jobs {
                        if results.send((n, primes_below(n))).is_err() {
                            break;
                        }
                    }
                })
            })
            .collect();
        drop((jobs_rx, results_tx));

        // Stage 3: collect 2,000 results, printing progress every 20 ms.
        let ticker = rt::Ticker::new(Duration::from_millis(20));
        let mut collected = Vec::new();
        while collected.len() < 2_000 {
            rt::select! {
                recv(results_rx) -> r => collected.push(r.expect("workers send until told to stop")),
                recv(ticker.receiver()) -> _ => println!("  … {} results so far", collected.len()),
            }
        }
        quit_tx.send(()).expect("the producer listens for quit");
        let sent = producer.join().unwrap();
        // Results still in flight are drained; then the workers finish.
        let drained = results_rx.iter().count();
        workers.into_iter().for_each(|w| w.join().unwrap());
        println!(
            "{sent} jobs produced, {} results collected (+{drained} drained) by 8 workers in {:?}",
            collected.len(),
            start.elapsed()
        );

        // A stage that takes too long is abandoned at its next park point;
        // its deferred cleanup runs.
        let (_never_tx, never_rx) = rt::chan::bounded::<u64>(0);
        let slow = rt::timeout(Duration::from_millis(50), || {
            rt::defer! { println!("  slow stage cleaned up"); }
            never_rx.recv()
        });
        match slow {
            Ok(_) => println!("slow stage: finished"),
            Err(elapsed) => println!("slow stage: {elapsed}"),
        }
    });
}
